/* bench_outbox: how fast the outbox hands a failover storm's outcomes to
 * local sinks, as figures measured in one run.
 *
 *   bench_outbox [outcomes]      (default 20000; a multiple of 4 is used)
 *
 * The outcomes are a storm's: for each of outcomes / 4 collections of site
 * A, decision, job_started, progress and succeeded, built before any timing
 * starts. Every journal is a file on disk in a new directory beside this
 * program in the build tree (not /tmp, which may be memory), removed at the
 * end. The sinks are the jsonl plugin (a file in that directory) and the
 * webhook plugin posting to an HTTP/1.1 receiver on 127.0.0.1 in this
 * process (it answers 200 at once and keeps the connection).
 *
 * (1) journal_append: the outcomes appended to a journal in bursts of 64,
 *     one synchronous commit per burst, as the loop thread journals a burst
 *     of results; no sink.
 * (2) file_write: each outcome's JSON written as one line to a file and
 *     flushed, as the jsonl plugin writes it, without the outbox.
 * (3) outbox_backlog: the outcomes are in the journal before notify opens
 *     (the sinks were registered first); from open to the last delivery
 *     recorded, per sink.
 * (4) outbox_storm: notify runs while the outcomes are appended as in (1),
 *     the sinks woken after each burst; per sink the rate from the first
 *     append to the last delivery recorded, and lag_ms, from the last
 *     outcome journaled to its delivery recorded.
 * A delivery counts once the outbox has marked it delivered (the line or
 * the POST came first). It reports, it does not assert: the exit status
 * is 0 whatever the figures. */
#include "bench_sinks.h"

#include "base/err.h"
#include "base/log.h"
#include "base/str.h"
#include "journal/journal.h"
#include "journal/outcome.h"
#include "notify/notify.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_OUTCOMES 20000
#define BURST 64
#define WAIT_MS 120000
#define TARGET_RATE 20000.0
#define TARGET_LAG_MS 2000
#define WALL0 INT64_C(1795626000000)

/* --- the outcomes -------------------------------------------------------------------------- */

static sg_outcome_t *s_make(sg_outcome_kind_t kind, size_t c, int64_t t)
{
    sg_outcome_t *o = sg_outcome_new(kind, t);
    if (!o)
        return NULL;
    o->run_id = c + 1;
    o->attempt = 1;
    char coll[32], path[96];
    snprintf(coll, sizeof coll, "c%05zu", c);
    snprintf(path, sizeof path, "Msvm_VirtualSystemCollection.CollectionID=\"%05zu\"", c);
    int rc = sg_outcome_set(o, &o->site, "A") | sg_outcome_set(o, &o->replica_site, "B") |
             sg_outcome_set(o, &o->collection, coll) | sg_outcome_set(o, &o->cim_path, path) |
             sg_outcome_set(o, &o->message, "site A lost: 2 of 3 observers report it "
                                            "unreachable for 5 s; replica healthy, lag 2 s");
    if (kind != SG_OUTCOME_DECISION) {
        char job[96];
        snprintf(job, sizeof job, "Msvm_ConcreteJob.InstanceID=\"J%05zu\"", c);
        rc |= sg_outcome_set(o, &o->job_path, job);
        o->percent = kind == SG_OUTCOME_PROGRESS ? 50 : kind == SG_OUTCOME_SUCCEEDED ? 100 : 0;
    }
    if (rc != SG_OK || sg_outcome_finish(o, 0) != SG_OK)
        sg_outcome_free(&o);
    return o;
}

static sg_outcome_t **s_storm(size_t n)
{
    static const sg_outcome_kind_t kinds[4] = {SG_OUTCOME_DECISION, SG_OUTCOME_JOB_STARTED,
                                               SG_OUTCOME_PROGRESS, SG_OUTCOME_SUCCEEDED};
    sg_outcome_t **all = calloc(n, sizeof *all);
    for (size_t i = 0; all && i < n; i++) {
        if (!(all[i] = s_make(kinds[i % 4], i / 4, WALL0 + (int64_t)i))) {
            for (size_t k = 0; k < i; k++)
                sg_outcome_free(&all[k]);
            free(all);
            return NULL;
        }
    }
    return all;
}

/* --- the phases ----------------------------------------------------------------------------- */

/* Appends the outcomes in bursts of BURST, each one transaction; wakes
 * `n` after each. *last_ms: when the last burst was committed. */
static int s_append(sg_journal_t *j, sg_outcome_t **all, size_t count, sg_notify_t *n,
                    double *last_ms)
{
    for (size_t i = 0; i < count; i += BURST) {
        int rc = sg_journal_batch_begin(j);
        for (size_t k = i; rc == SG_OK && k < count && k < i + BURST; k++)
            rc = sg_journal_outcome(j, all[k], NULL);
        int end = sg_journal_batch_end(j);
        if (rc != SG_OK || end != SG_OK)
            return rc != SG_OK ? rc : end;
        sg_notify_wake(n);
    }
    *last_ms = sg_bench_now_ms();
    return SG_OK;
}

static char *s_path(const char *dir, const char *file)
{
    return sg_strdupf("%s/%s", dir, file);
}

static double s_rate(size_t count, double ms)
{
    return ms > 0 ? (double)count / (ms / 1000.0) : 0.0;
}

static double s_journal_append(const char *dir, sg_outcome_t **all, size_t count)
{
    char *path = s_path(dir, "append.db");
    sg_journal_t *j = path ? sg_journal_open(path) : NULL;
    double t0 = sg_bench_now_ms(), t1 = 0, rate = 0;
    if (j && s_append(j, all, count, NULL, &t1) == SG_OK)
        rate = s_rate(count, t1 - t0);
    sg_journal_close(&j);
    if (path)
        sg_bench_remove_journal(path);
    free(path);
    printf("journal_append outcomes=%zu burst=%d rate=%.0f\n", count, BURST, rate);
    return rate;
}

static double s_file_write(const char *dir, sg_outcome_t **all, size_t count)
{
    char *path = s_path(dir, "direct.jsonl");
    FILE *f = path ? fopen(path, "a") : NULL;
    double t0 = sg_bench_now_ms(), rate = 0;
    bool ok = f != NULL;
    for (size_t i = 0; ok && i < count; i++)
        ok = fputs(all[i]->json, f) != EOF && fputc('\n', f) != EOF && fflush(f) == 0;
    if (ok)
        rate = s_rate(count, sg_bench_now_ms() - t0);
    if (f)
        fclose(f);
    if (path)
        unlink(path);
    free(path);
    printf("file_write outcomes=%zu rate=%.0f\n", count, rate);
    return rate;
}

/* One round's figures, per sink. */
typedef struct {
    const char *with; /* the sinks attached: "jsonl" or "jsonl+webhook" */
    size_t n_sinks;
    double backlog[SG_BENCH_N_SINKS]; /* outcomes/s */
    double storm[SG_BENCH_N_SINKS];   /* outcomes/s */
    double lag[SG_BENCH_N_SINKS];     /* ms; -1: not all delivered */
} s_round_t;

static void s_backlog(const char *dir, int port, sg_outcome_t **all, size_t count, s_round_t *r)
{
    sg_bench_sinks_t k;
    sg_bench_sinks_init(&k, dir, "backlog", port);
    char *path = s_path(dir, "backlog.db");
    sg_notify_t *n = path ? sg_bench_sinks_open(&k, path) : NULL; /* registers the sinks */
    sg_notify_destroy(&n);
    sg_journal_t *j = path ? sg_journal_open(path) : NULL;
    double last = 0, done[SG_BENCH_N_SINKS] = {-1, -1};
    int rc = j ? s_append(j, all, count, NULL, &last) : SG_EIO;
    sg_journal_close(&j);
    double t0 = sg_bench_now_ms();
    n = rc == SG_OK ? sg_bench_sinks_open(&k, path) : NULL;
    if (n) {
        sg_notify_wake(n);
        sg_bench_wait_delivered(n, r->n_sinks, count, WAIT_MS, done);
    }
    sg_notify_destroy(&n);
    for (size_t i = 0; i < r->n_sinks; i++) {
        r->backlog[i] = done[i] < 0 ? 0 : s_rate(count, done[i] - t0);
        printf("outbox_backlog sinks=%s sink=%s outcomes=%zu delivered=%s rate=%.0f\n", r->with,
               sg_bench_sink_names[i], count, done[i] < 0 ? "no" : "yes", r->backlog[i]);
    }
    unlink(k.jsonl_path);
    if (path)
        sg_bench_remove_journal(path);
    free(path);
}

static void s_storm_round(const char *dir, int port, sg_outcome_t **all, size_t count,
                          s_round_t *r)
{
    sg_bench_sinks_t k;
    sg_bench_sinks_init(&k, dir, "storm", port);
    char *path = s_path(dir, "storm.db");
    sg_notify_t *n = path ? sg_bench_sinks_open(&k, path) : NULL;
    sg_journal_t *j = n ? sg_journal_open(path) : NULL;
    double t0 = sg_bench_now_ms(), last = 0, done[SG_BENCH_N_SINKS] = {-1, -1};
    if (j && s_append(j, all, count, n, &last) == SG_OK)
        sg_bench_wait_delivered(n, r->n_sinks, count, WAIT_MS, done);
    sg_journal_close(&j);
    sg_notify_destroy(&n);
    for (size_t i = 0; i < r->n_sinks; i++) {
        r->storm[i] = done[i] < 0 ? 0 : s_rate(count, done[i] - t0);
        r->lag[i] = done[i] < 0 ? -1 : done[i] - last;
        printf("outbox_storm sinks=%s sink=%s outcomes=%zu append_ms=%.0f delivered=%s rate=%.0f "
               "lag_ms=%.0f\n",
               r->with, sg_bench_sink_names[i], count, last - t0, done[i] < 0 ? "no" : "yes",
               r->storm[i], r->lag[i]);
    }
    unlink(k.jsonl_path);
    if (path)
        sg_bench_remove_journal(path);
    free(path);
}

static void s_ratios(const s_round_t *r, double file, double append)
{
    for (size_t i = 0; i < r->n_sinks; i++) {
        printf("outbox_backlog_vs_file_write sinks=%s sink=%s ratio=%.3f\n", r->with,
               sg_bench_sink_names[i], file > 0 ? r->backlog[i] / file : 0);
        printf("outbox_storm_vs_journal_append sinks=%s sink=%s ratio=%.3f\n", r->with,
               sg_bench_sink_names[i], append > 0 ? r->storm[i] / append : 0);
    }
    printf("jsonl_over_20k_per_s sinks=%s value=%s\n", r->with,
           r->backlog[SG_BENCH_JSONL] >= TARGET_RATE ? "yes" : "no");
    printf("jsonl_lag_under_2s sinks=%s value=%s\n", r->with,
           r->lag[SG_BENCH_JSONL] >= 0 && r->lag[SG_BENCH_JSONL] <= TARGET_LAG_MS ? "yes" : "no");
}

int main(int argc, char **argv)
{
    size_t count = argc > 1 ? (size_t)atol(argv[1]) / 4 * 4 : DEFAULT_OUTCOMES;
    if (count == 0) {
        fprintf(stderr, "usage: bench_outbox [outcomes >= 4]\n");
        return 2;
    }
    sg_log_set_level(SG_LOG_WARN);
    char dir[] = SG_BENCH_DIR "/outbox.XXXXXX";
    sg_outcome_t **all = s_storm(count);
    sg_bench_receiver_t rx;
    if (!all || !mkdtemp(dir) || sg_bench_receiver_start(&rx) != SG_OK) {
        fprintf(stderr, "bench_outbox: cannot set up (memory, %s, or a socket)\n", dir);
        return 1;
    }
    double append = s_journal_append(dir, all, count);
    double file = s_file_write(dir, all, count);
    s_round_t rounds[2] = {{.with = "jsonl", .n_sinks = 1},
                           {.with = "jsonl+webhook", .n_sinks = SG_BENCH_N_SINKS}};
    for (int i = 0; i < 2; i++) {
        s_backlog(dir, i ? rx.port : 0, all, count, &rounds[i]);
        s_storm_round(dir, i ? rx.port : 0, all, count, &rounds[i]);
    }
    for (int i = 0; i < 2; i++)
        s_ratios(&rounds[i], file, append);
    sg_bench_receiver_stop(&rx);
    rmdir(dir);
    for (size_t i = 0; i < count; i++)
        sg_outcome_free(&all[i]);
    free(all);
    return 0;
}
