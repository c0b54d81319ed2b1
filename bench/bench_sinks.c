/* bench_sinks: the benchmarks' sinks and their HTTP receiver; see bench_sinks.h. */
#include "bench_sinks.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/str.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const char *const sg_bench_sink_names[SG_BENCH_N_SINKS] = {"jsonl", "webhook"};

/* --- an HTTP receiver on 127.0.0.1 -------------------------------------------------------- */

/* Answers every whole request on one connection with 200 until it closes. */
static void *s_connection(void *arg)
{
    intptr_t fd = (intptr_t)arg;
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    char buf[65536];
    size_t have = 0;
    bool continued = false; /* the request in hand was told 100 Continue */
    for (;;) {
        ssize_t got = recv((int)fd, buf + have, sizeof buf - 1 - have, 0);
        if (got <= 0)
            break;
        have += (size_t)got;
        buf[have] = '\0';
        char *end;
        while ((end = strstr(buf, "\r\n\r\n"))) {
            const char *cl = strstr(buf, "\r\nContent-Length: ");
            size_t body = cl && cl < end ? (size_t)strtoul(cl + 18, NULL, 10) : 0;
            size_t whole = (size_t)(end + 4 - buf) + body;
            if (have < whole && !continued && strstr(buf, "\r\nExpect: 100-continue")) {
                send((int)fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, 0);
                continued = true;
            }
            if (have < whole)
                break;
            send((int)fd, ok, sizeof ok - 1, 0);
            continued = false;
            memmove(buf, buf + whole, have - whole);
            have -= whole;
            buf[have] = '\0';
        }
    }
    close((int)fd);
    return NULL;
}

static void *s_accept(void *arg)
{
    sg_bench_receiver_t *rx = arg;
    for (;;) {
        int c = accept(rx->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        pthread_t t;
        if (pthread_create(&t, NULL, s_connection, (void *)(intptr_t)c) == 0)
            pthread_detach(t);
        else
            close(c);
    }
}

int sg_bench_receiver_start(sg_bench_receiver_t *rx)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    rx->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (rx->fd < 0 || bind(rx->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(rx->fd, (struct sockaddr *)&a, &len) != 0 || listen(rx->fd, 16) != 0)
        goto fail;
    rx->port = ntohs(a.sin_port);
    if (pthread_create(&rx->thread, NULL, s_accept, rx) != 0)
        goto fail;
    return SG_OK;
fail:
    if (rx->fd >= 0)
        close(rx->fd);
    rx->fd = -1;
    return SG_EIO;
}

void sg_bench_receiver_stop(sg_bench_receiver_t *rx)
{
    shutdown(rx->fd, SHUT_RDWR);
    pthread_join(rx->thread, NULL);
    close(rx->fd);
    rx->fd = -1;
}

/* --- the sinks ----------------------------------------------------------------------------- */

void sg_bench_sinks_init(sg_bench_sinks_t *k, const char *dir, const char *name, int port)
{
    memset(k, 0, sizeof *k);
    snprintf(k->jsonl_path, sizeof k->jsonl_path, "%s/%s.jsonl", dir, name);
    snprintf(k->url, sizeof k->url, "http://127.0.0.1:%d/hook", port);
    k->cfg.path = "bench";
    k->cfg.plugin_dir = SG_BENCH_PLUGIN_DIR;
    k->cfg.sinks = k->sinks;
    k->cfg.n_sinks = port ? SG_BENCH_N_SINKS : 1;
    k->opts[SG_BENCH_JSONL][0] = (sg_kv_t){.key = "path", .value = k->jsonl_path};
    k->opts[SG_BENCH_WEBHOOK][0] = (sg_kv_t){.key = "url", .value = k->url};
    k->opts[SG_BENCH_WEBHOOK][1] = (sg_kv_t){.key = "timeout", .value = "5s"};
    for (int i = 0; i < SG_BENCH_N_SINKS; i++) {
        k->sinks[i].name = (char *)sg_bench_sink_names[i];
        k->sinks[i].plugin = (char *)sg_bench_sink_names[i];
        k->sinks[i].options = k->opts[i];
        k->sinks[i].n_options = i == SG_BENCH_WEBHOOK ? 2 : 1;
        k->sinks[i].mark = (sg_mark_t){"bench", 1, 1};
    }
}

size_t sg_bench_sinks_count(const sg_bench_sinks_t *k) { return k->cfg.n_sinks; }

sg_notify_t *sg_bench_sinks_open(const sg_bench_sinks_t *k, const char *journal)
{
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    sg_notify_t *n = sg_notify_open(&k->cfg, sg_clock_system(), journal, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.items[i]);
    sg_config_errors_fini(&errs);
    return n;
}

void sg_bench_wait_delivered(sg_notify_t *n, size_t n_sinks, uint64_t want, int64_t wait_ms,
                             double *done_ms)
{
    double deadline = sg_bench_now_ms() + (double)wait_ms;
    for (size_t i = 0; i < n_sinks; i++)
        done_ms[i] = -1;
    for (size_t left = n_sinks; left > 0 && sg_bench_now_ms() < deadline;) {
        for (size_t i = 0; i < n_sinks; i++) {
            sg_notify_stats_t st;
            if (done_ms[i] < 0 && sg_notify_sink_stats(n, sg_bench_sink_names[i], &st) == SG_OK &&
                st.delivered >= want) {
                done_ms[i] = sg_bench_now_ms();
                left--;
            }
        }
        sg_clock_sleep(sg_clock_system(), 1);
    }
}

/* --- small things -------------------------------------------------------------------------- */

double sg_bench_now_ms(void) { return (double)sg_clock_mono_us(sg_clock_system()) / 1000.0; }

void sg_bench_remove(const char *path, const char *const *suffixes)
{
    unlink(path);
    for (; *suffixes; suffixes++) {
        char *p = sg_strdupf("%s%s", path, *suffixes);
        if (p)
            unlink(p);
        free(p);
    }
}

void sg_bench_remove_journal(const char *path)
{
    static const char *const suffixes[] = {"-wal", "-shm", NULL};
    sg_bench_remove(path, suffixes);
}
