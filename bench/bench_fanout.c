/* bench_fanout: 1,000 collections failed over through the executor and the
 * simulator, with job time T and concurrency C, on the real clock.
 *
 *   bench_fanout [collections [concurrency [job_ms]]]   defaults 1000 100 500
 *
 * Two rounds: without a journal, and with the journal wired as the service
 * wires it (decision, intent before each call, every outcome and job path).
 * Prints per round the measured time from the first submit to the last run's
 * end, the ideal ceil(collections / C) x T, and their ratio (design target:
 * ratio <= 1.05). Exits 0 whatever the figures. */
#include "base/clock.h"
#include "config/config.h"
#include "base/err.h"
#include "act/executor.h"
#include "journal/journal.h"
#include "base/log.h"
#include "journal/outcome.h"
#include "provider/sim.h"
#include "base/str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

typedef struct {
    sg_config_t cfg;
    sg_site_cfg_t sites[2];
    sg_collection_cfg_t *colls;
    size_t n;
} s_world_t;

static int s_world_init(s_world_t *w, size_t n, int concurrency, int64_t job_ms)
{
    memset(w, 0, sizeof *w);
    w->n = n;
    w->colls = calloc(n, sizeof *w->colls);
    if (!w->colls)
        return SG_ENOMEM;
    w->sites[0].name = "A";
    w->sites[1].name = "B";
    for (size_t i = 0; i < n; i++) {
        w->colls[i].name = sg_strdupf("c%04zu", i);
        w->colls[i].cim_path = sg_strdupf("Msvm_VirtualSystemCollection.InstanceID=\"%04zu\"", i);
        if (!w->colls[i].name || !w->colls[i].cim_path)
            return SG_ENOMEM;
        w->colls[i].site = 0;
        w->colls[i].replica_site = 1;
    }
    sg_config_t *c = &w->cfg;
    c->sites = w->sites;
    c->n_sites = 2;
    c->collections = w->colls;
    c->n_collections = n;
    c->provider.kind = "sim";
    c->provider.workers = concurrency;
    c->provider.job_timeout_ms = 600000;
    c->provider.poll_initial_ms = 20;
    c->provider.poll_max_ms = 1000;
    c->provider.max_attempts = 3;
    c->provider.sim.call_latency_ms = 1;
    c->provider.sim.job_duration_ms = job_ms;
    return SG_OK;
}

static void s_world_fini(s_world_t *w)
{
    for (size_t i = 0; w->colls && i < w->n; i++) {
        free(w->colls[i].name);
        free(w->colls[i].cim_path);
    }
    free(w->colls);
}

typedef struct {
    sg_journal_t *j;
    const sg_clock_t *clock;
} s_hook_t;

/* The proof hook, as the service's without the engine: the intent is
 * committed before each call. */
static int s_intent(void *user, uint64_t run_id, int collection, char **why)
{
    s_hook_t *h = user;
    (void)collection;
    (void)why;
    return sg_journal_intent(h->j, run_id, sg_clock_wall(h->clock));
}

/* One round; returns the measured milliseconds, or -1. */
static int64_t s_round(s_world_t *w, const char *journal_path, int *failed)
{
    const sg_clock_t *clock = sg_clock_system();
    void *zctx = zmq_ctx_new();
    sg_provider_t *sim = sg_sim_new(&w->cfg, clock);
    sg_executor_t *x = sim ? sg_executor_new(zctx, &w->cfg, sim, clock) : NULL;
    s_hook_t hook = {.clock = clock};
    int64_t took = -1;
    *failed = 0;
    if (!x)
        goto done;
    if (journal_path) {
        unlink(journal_path);
        if (!(hook.j = sg_journal_open(journal_path)))
            goto done;
        sg_executor_set_proof_hook(x, s_intent, &hook);
    }
    int64_t t0 = sg_clock_mono(clock);
    if (hook.j) /* as the service does: a burst of decisions, one commit */
        sg_journal_batch_begin(hook.j);
    for (size_t i = 0; i < w->n; i++) {
        uint64_t run_id = i + 1;
        if (hook.j && sg_journal_decided(hook.j, run_id, w->colls[i].name, w->colls[i].cim_path,
                                         sg_clock_wall(clock)) != SG_OK)
            goto done;
        if (sg_executor_submit(x, run_id, (int)i) != SG_OK)
            goto done;
    }
    if (hook.j)
        sg_journal_batch_end(hook.j);
    size_t ended = 0;
    while (ended < w->n) {
        sg_exec_result_t r;
        if (sg_executor_recv(x, &r, 10000) != 1)
            goto done;
        if (hook.j) /* as the service does: the results waiting now, one commit */
            sg_journal_batch_begin(hook.j);
        do {
            if (hook.j) {
                const char *job =
                    r.outcome->kind == SG_OUTCOME_JOB_STARTED ? r.outcome->job_path : NULL;
                sg_journal_run_step(hook.j, r.run_id, job, r.ended, r.failed_over,
                                    sg_clock_wall(clock), r.outcome, NULL);
            }
            if (r.ended) {
                ended++;
                *failed += !r.failed_over;
            }
            sg_outcome_free(&r.outcome);
        } while (sg_executor_recv(x, &r, 0) == 1);
        if (hook.j)
            sg_journal_batch_end(hook.j);
    }
    took = sg_clock_mono(clock) - t0;
done:
    sg_executor_destroy(&x);
    sg_provider_destroy(&sim);
    sg_journal_close(&hook.j);
    zmq_ctx_term(zctx);
    if (journal_path) {
        char *wal = sg_strdupf("%s-wal", journal_path), *shm = sg_strdupf("%s-shm", journal_path);
        unlink(journal_path);
        if (wal)
            unlink(wal);
        if (shm)
            unlink(shm);
        free(wal);
        free(shm);
    }
    return took;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000;
    int c = argc > 2 ? atoi(argv[2]) : 100;
    int64_t t = argc > 3 ? atol(argv[3]) : 500;
    if (n == 0 || c <= 0 || c > 256 || t <= 0) {
        fprintf(stderr, "usage: bench_fanout [collections [concurrency 1..256 [job_ms]]]\n");
        return 2;
    }
    sg_log_set_level(SG_LOG_ERROR);
    s_world_t w;
    if (s_world_init(&w, n, c, t) != SG_OK) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    char path[] = "/tmp/bench_fanout.XXXXXX";
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        return 1;
    }
    char *journal = sg_strdupf("%s/journal.db", path);
    int64_t ideal = (int64_t)((n + (size_t)c - 1) / (size_t)c) * t;
    for (int round = 0; round < 2; round++) {
        int failed = 0;
        int64_t took = s_round(&w, round ? journal : NULL, &failed);
        printf("fanout collections=%zu concurrency=%d job_ms=%lld journal=%s measured_ms=%lld "
               "ideal_ms=%lld failed=%d ratio=%.3f\n",
               n, c, (long long)t, round ? "yes" : "no", (long long)took, (long long)ideal, failed,
               took > 0 ? (double)took / (double)ideal : -1.0);
        fflush(stdout);
    }
    rmdir(path);
    free(journal);
    s_world_fini(&w);
    return 0;
}
