/* bench_fanout: 1,000 collections failed over through the executor and the
 * simulator, with job time T, concurrency C and call latency L, on the real
 * clock.
 *
 *   bench_fanout [collections [concurrency [job_ms [latency_ms]]]]
 *                                               defaults 1000 100 500 1
 *
 * Three rounds: the executor and the simulator alone; with the journal wired
 * as the service wires it (decision, intent before each call, every outcome
 * and job path); with the simulator's state file (provider.sim.state_file).
 * Prints per round the measured time from the first submit to the last run's
 * end, the ideal ceil(collections / C) x T, and their ratio (design target:
 * ratio <= 1.05); for the state file round its counters, and the ratio of
 * its time to the first round's. The journal and the state file are made in
 * a new folder beside this program (the build tree: a real disk, where /tmp
 * may be memory). Exits 0 whatever the figures. */
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

static int s_world_init(s_world_t *w, size_t n, int concurrency, int64_t job_ms,
                        int64_t latency_ms)
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
    c->provider.sim.call_latency_ms = latency_ms;
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

/* Removes a file and its companions named with `suffixes` (NULL-ended). */
static void s_remove(const char *path, const char *const *suffixes)
{
    unlink(path);
    for (; *suffixes; suffixes++) {
        char *p = sg_strdupf("%s%s", path, *suffixes);
        if (p)
            unlink(p);
        free(p);
    }
}

static const char *const s_journal_files[] = {"-wal", "-shm", NULL};
static const char *const s_state_files[] = {".lock", ".tmp", NULL};

/* One round, with the journal and the state file when their paths are
 * given; returns the measured milliseconds, or -1. *stats gets the state
 * file's counters. */
static int64_t s_round(s_world_t *w, const char *journal_path, char *state_path, int *failed,
                       sg_simfile_stats_t *stats)
{
    const sg_clock_t *clock = sg_clock_system();
    void *zctx = zmq_ctx_new();
    w->cfg.provider.sim.state_file = state_path;
    if (state_path)
        s_remove(state_path, s_state_files);
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
    if (sim && sg_sim_file_stats(sim, stats) != SG_OK)
        memset(stats, 0, sizeof *stats);
    sg_provider_destroy(&sim);
    sg_journal_close(&hook.j);
    zmq_ctx_term(zctx);
    w->cfg.provider.sim.state_file = NULL;
    if (journal_path)
        s_remove(journal_path, s_journal_files);
    if (state_path)
        s_remove(state_path, s_state_files);
    return took;
}

/* A new folder beside the program at argv0 (caller frees), or NULL. */
static char *s_scratch_dir(const char *argv0)
{
    const char *slash = strrchr(argv0, '/');
    char *dir = slash ? sg_strdupf("%.*s/bench_fanout.XXXXXX", (int)(slash - argv0), argv0)
                      : sg_strdupf("bench_fanout.XXXXXX");
    if (dir && !mkdtemp(dir)) {
        perror("mkdtemp");
        free(dir);
        return NULL;
    }
    return dir;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000;
    int c = argc > 2 ? atoi(argv[2]) : 100;
    int64_t t = argc > 3 ? atol(argv[3]) : 500;
    int64_t lat = argc > 4 ? atol(argv[4]) : 1;
    if (n == 0 || c <= 0 || c > 256 || t <= 0 || lat < 0) {
        fprintf(stderr, "usage: bench_fanout [collections [concurrency 1..256 [job_ms "
                        "[latency_ms]]]]\n");
        return 2;
    }
    sg_log_set_level(SG_LOG_ERROR);
    s_world_t w;
    char *dir = s_scratch_dir(argv[0]);
    if (!dir || s_world_init(&w, n, c, t, lat) != SG_OK) {
        fprintf(stderr, "cannot set up the benchmark\n");
        return 1;
    }
    char *journal = sg_strdupf("%s/journal.db", dir), *state = sg_strdupf("%s/sim-state.json", dir);
    int64_t ideal = (int64_t)((n + (size_t)c - 1) / (size_t)c) * t, took[3];
    for (int round = 0; round < 3; round++) {
        int failed = 0;
        sg_simfile_stats_t st;
        took[round] = s_round(&w, round == 1 ? journal : NULL, round == 2 ? state : NULL, &failed,
                              &st);
        printf("fanout collections=%zu concurrency=%d job_ms=%lld latency_ms=%lld journal=%s "
               "state_file=%s measured_ms=%lld ideal_ms=%lld failed=%d ratio=%.3f\n",
               n, c, (long long)t, (long long)lat, round == 1 ? "yes" : "no",
               round == 2 ? "yes" : "no", (long long)took[round], (long long)ideal, failed,
               took[round] > 0 ? (double)took[round] / (double)ideal : -1.0);
        if (round == 2)
            printf("fanout_state_file snapshots=%llu lines=%llu bytes_per_line=%.0f syncs=%llu "
                   "lines_per_sync=%.1f\n",
                   (unsigned long long)st.snapshots, (unsigned long long)st.lines,
                   st.lines ? (double)st.bytes_appended / (double)st.lines : 0.0,
                   (unsigned long long)st.syncs,
                   st.syncs ? (double)st.lines / (double)st.syncs : 0.0);
        fflush(stdout);
    }
    printf("fanout_state_file_vs_memory ratio=%.3f\n",
           took[0] > 0 && took[2] > 0 ? (double)took[2] / (double)took[0] : -1.0);
    rmdir(dir);
    free(dir);
    free(journal);
    free(state);
    s_world_fini(&w);
    return 0;
}
