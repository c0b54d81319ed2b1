/* bench_fanout: failovers fanned out through the executor onto the
 * simulator, on the real clock: C workers, every job T ms long, every call
 * L ms.
 *
 *   bench_fanout [collections [concurrency [job_ms [latency_ms [sites [groups]]]]]]
 *                                               defaults 1000 100 500 1 4 5
 *
 * Every round decides every collection at once, in plan order, and runs
 * the decisions and results through a loop shaped like the service's
 * (service.c): decisions in turns of 256, each turn one journal batch;
 * results in bursts, each burst one batch; with the journal, the intents
 * group-committed (written into the burst's batch, the calls let go once
 * it commits) and every outcome appended to the outcome log, the sinks
 * woken after each commit.
 *
 * The baseline, one site and one plan group, in three rounds: the executor
 * and the simulator alone; with the journal; with the simulator's state
 * file (provider.sim.state_file). Then the world: the collections spread
 * over SITES sites round robin (site k's replicate to site k+1) and over
 * GROUPS plan groups (consecutive blocks of the config), the executor
 * holding each site's group back until that site's earlier groups are
 * done; in three rounds: the executor alone; with the journal; with the
 * journal and the sinks, attached as the service attaches them (notify and
 * its outbox on the journal file, the jsonl plugin and the webhook plugin
 * posting to an HTTP receiver in this process).
 *
 * Prints per round the time from the first decision to the last run's end,
 * the ideal (the plan's waves with no overhead, times T; bench/README.md),
 * and their ratio; for the state file round its counters; for the sinks
 * round, per sink, the delay from the last outcome journaled to its
 * delivery and the outbox's throughput. The journal, the state file and
 * the jsonl file are made in a new folder beside this program (the build
 * tree: a real disk, where /tmp may be memory). Exits 0 whatever the
 * figures. */
#include "bench_sinks.h"

#include "act/executor.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"
#include "config/config.h"
#include "journal/announce.h"
#include "journal/journal.h"
#include "journal/outcome.h"
#include "notify/notify.h"
#include "provider/sim.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define S_DECISIONS_PER_TURN 256 /* as the service's loop (service.c) */
#define S_RESULTS_PER_TURN 1024  /* as the service's loop (service.c) */
#define S_RESULT_WAIT_MS 10000   /* no result for this long: the round failed */
#define S_DELIVERY_WAIT_MS 120000
#define S_MAX_SITES 26 /* named A..Z */
#define S_MAX_GROUPS 1000

/* --- the world ------------------------------------------------------------------------------ */

typedef struct {
    sg_config_t cfg;
    sg_site_cfg_t *sites;        /* owned, with their names */
    sg_collection_cfg_t *colls;  /* owned, with their names and paths */
    size_t n;
    int n_sites;  /* sites that own collections */
    int n_groups; /* plan groups 0 .. n_groups - 1 */
} s_world_t;

/* `sites` sites named A, B, ... (and B as the replica of a lone A). */
static int s_world_sites(s_world_t *w, int sites)
{
    int n = sites < 2 ? 2 : sites;
    w->sites = calloc((size_t)n, sizeof *w->sites);
    if (!w->sites)
        return SG_ENOMEM;
    w->cfg.sites = w->sites;
    w->cfg.n_sites = (size_t)n;
    for (int i = 0; i < n; i++)
        if (!(w->sites[i].name = sg_strdupf("%c", 'A' + i)))
            return SG_ENOMEM;
    return SG_OK;
}

/* Collection i: at site i mod sites, replicating to the next site, in
 * group i x groups / n: the config is in plan order. */
static int s_world_collections(s_world_t *w)
{
    w->colls = calloc(w->n, sizeof *w->colls);
    if (!w->colls)
        return SG_ENOMEM;
    w->cfg.collections = w->colls;
    w->cfg.n_collections = w->n;
    for (size_t i = 0; i < w->n; i++) {
        sg_collection_cfg_t *c = &w->colls[i];
        c->name = sg_strdupf("c%04zu", i);
        c->cim_path = sg_strdupf("Msvm_VirtualSystemCollection.CollectionID=\"%04zu\"", i);
        if (!c->name || !c->cim_path)
            return SG_ENOMEM;
        c->site = (int)(i % (size_t)w->n_sites);
        c->replica_site = (c->site + 1) % (int)w->cfg.n_sites;
        c->group = (int)(i * (size_t)w->n_groups / w->n);
    }
    return SG_OK;
}

static void s_world_fini(s_world_t *w)
{
    for (size_t i = 0; w->colls && i < w->n; i++) {
        free(w->colls[i].name);
        free(w->colls[i].cim_path);
    }
    for (size_t i = 0; w->sites && i < w->cfg.n_sites; i++)
        free(w->sites[i].name);
    free(w->colls);
    free(w->sites);
    memset(w, 0, sizeof *w);
}

/* Every field the caller's s_world_fini frees is set or NULL, even on
 * failure. */
static int s_world_init(s_world_t *w, size_t n, int sites, int groups, int concurrency,
                        int64_t job_ms, int64_t latency_ms)
{
    memset(w, 0, sizeof *w);
    w->n = n;
    w->n_sites = sites;
    w->n_groups = groups;
    int rc = s_world_sites(w, sites);
    rc = rc ? rc : s_world_collections(w);
    sg_config_t *c = &w->cfg;
    c->provider.kind = "sim";
    c->provider.workers = concurrency;
    c->provider.job_timeout_ms = 600000;
    c->provider.poll_initial_ms = 20;
    c->provider.poll_max_ms = 1000;
    c->provider.max_attempts = 3;
    c->provider.sim.call_latency_ms = latency_ms;
    c->provider.sim.job_duration_ms = job_ms;
    return rc;
}

/* --- the ideal ------------------------------------------------------------------------------ */

/* The index of (site, group) in the ideal's per-cell counts. */
static size_t s_cell(const s_world_t *w, int site, int group)
{
    return (size_t)site * (size_t)w->n_groups + (size_t)group;
}

/* Whether a collection of an earlier group than `group` of `site` is not
 * done; left[s_cell] counts those not done. */
static bool s_earlier_left(const s_world_t *w, const size_t *left, int site, int group)
{
    for (int g = 0; g < group; g++)
        if (left[s_cell(w, site, g)] > 0)
            return true;
    return false;
}

/* One wave: the queue passed once in plan order, a collection started
 * when no collection of an earlier group of its site is left and fewer
 * than `cap` started; they all end together. Returns how many started. */
static size_t s_wave(const s_world_t *w, size_t cap, size_t *left, bool *started, size_t *wave)
{
    size_t k = 0;
    for (size_t i = 0; i < w->n && k < cap; i++) {
        const sg_collection_cfg_t *c = &w->colls[i];
        if (!started[i] && !s_earlier_left(w, left, c->site, c->group)) {
            started[i] = true;
            wave[k++] = i;
        }
    }
    for (size_t j = 0; j < k; j++)
        left[s_cell(w, w->colls[wave[j]].site, w->colls[wave[j]].group)]--;
    return k;
}

/* The waves the executor's plan rule needs with no overhead: every call
 * instant, every job exactly job_ms, the queue passed once per wave (see
 * bench/README.md). 0 when out of memory. */
static size_t s_ideal_waves(const s_world_t *w, size_t cap)
{
    size_t *left = calloc(s_cell(w, w->n_sites, 0), sizeof *left); /* every cell */
    bool *started = calloc(w->n, sizeof *started);
    size_t *wave = calloc(cap, sizeof *wave);
    size_t waves = 0, done = 0;
    for (size_t i = 0; left && i < w->n; i++)
        left[s_cell(w, w->colls[i].site, w->colls[i].group)]++;
    while (left && started && wave && done < w->n) {
        size_t k = s_wave(w, cap, left, started, wave);
        if (k == 0) { /* cannot happen: the first collection not started may start */
            waves = 0;
            break;
        }
        done += k;
        waves++;
    }
    free(left);
    free(started);
    free(wave);
    return waves;
}

static size_t s_ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* Waves no schedule can do without: ceil(collections / cap) (each worker
 * runs one job at a time), nor a site's groups one after the other, each
 * ceil(its collections there / cap). */
static size_t s_bound_waves(const s_world_t *w, size_t cap)
{
    size_t bound = s_ceil_div(w->n, cap);
    size_t *count = calloc(s_cell(w, w->n_sites, 0), sizeof *count);
    if (!count)
        return 0;
    for (size_t i = 0; i < w->n; i++)
        count[s_cell(w, w->colls[i].site, w->colls[i].group)]++;
    for (int s = 0; s < w->n_sites; s++) {
        size_t chain = 0;
        for (int g = 0; g < w->n_groups; g++)
            chain += s_ceil_div(count[s_cell(w, s, g)], cap);
        bound = chain > bound ? chain : bound;
    }
    free(count);
    return bound;
}

/* A world's waves: the ideal (the plan's in lockstep) and the bound. */
typedef struct {
    size_t ideal, bound;
} s_waves_t;

static s_waves_t s_waves(const s_world_t *w, size_t cap)
{
    return (s_waves_t){s_ideal_waves(w, cap), s_bound_waves(w, cap)};
}

/* --- the loop, as the service's ------------------------------------------------------------ */

typedef struct {
    const s_world_t *w;
    const sg_clock_t *clock;
    sg_executor_t *x;
    sg_journal_t *j;      /* NULL: no journal */
    sg_notify_t *notify;  /* NULL: no sinks */
    bool batching;        /* a journal batch is open */
    bool wake;            /* the open batch added outcomes: wake the sinks once it commits */
    uint64_t outcomes;    /* outcomes added to the outcome log */
    size_t decided;       /* collections decided and submitted, in plan order */
    size_t ended;         /* runs ended */
    int failed;           /* runs ended without the collection failed over */
} s_loop_t;

/* The proof hook, as the service's without the engine (service.c,
 * s_proof): inside the loop's batch, the intent is written into it and
 * the answer waits for its commit (group commit); outside, the intent is
 * committed on its own. */
static int s_proof(void *user, uint64_t run_id, int collection, char **why)
{
    s_loop_t *l = user;
    (void)collection;
    (void)why;
    int64_t wall = sg_clock_wall(l->clock);
    if (!l->batching)
        return sg_journal_intent(l->j, run_id, wall);
    int rc = sg_journal_intent_batched(l->j, run_id, 0, wall);
    return rc == SG_OK ? SG_EXEC_DEFERRED : rc;
}

static void s_batch_begin(s_loop_t *l)
{
    l->batching = l->j && sg_journal_batch_begin(l->j) == SG_OK;
    l->wake = false;
}

/* Commits the batch, then wakes the sinks when it added outcomes. */
static int s_batch_end(s_loop_t *l)
{
    int rc = l->batching ? sg_journal_batch_end(l->j) : SG_OK;
    l->batching = false;
    if (rc == SG_OK && l->wake)
        sg_notify_wake(l->notify);
    l->wake = false;
    return rc;
}

/* Counts an outcome the journal took. */
static void s_added(s_loop_t *l, int rc, bool added)
{
    if (rc == SG_OK && added) {
        l->outcomes++;
        l->wake = true;
    }
}

/* The outcome announcing the decision of collection i (the service's
 * s_handle_decision), appended to the outcome log. */
static int s_announce(s_loop_t *l, size_t i, uint64_t run_id)
{
    const sg_collection_cfg_t *c = &l->w->colls[i];
    sg_decision_t d = {.kind = SG_DECISION_FAILOVER,
                       .site = c->site,
                       .collection = (int)i,
                       .target_site = c->replica_site,
                       .observer = -1,
                       .run_id = run_id,
                       .at = {sg_clock_mono(l->clock), sg_clock_wall(l->clock)},
                       .reason = "site lost: 2 of 3 sites see it down for 5 s (quorum 2); "
                                 "replica healthy, lag 2 s; policy mode is auto"};
    sg_outcome_t *o = sg_announce_decision(&l->w->cfg, &d);
    if (!o)
        return SG_ENOMEM;
    bool added = false;
    int rc = sg_journal_outcome(l->j, o, &added);
    s_added(l, rc, added);
    sg_outcome_free(&o);
    return rc;
}

/* Collection i decided: journaled, submitted, announced (service.c,
 * s_start_run and s_handle_decision). */
static int s_decide_one(s_loop_t *l, size_t i)
{
    const sg_collection_cfg_t *c = &l->w->colls[i];
    uint64_t run_id = i + 1;
    int rc = l->j ? sg_journal_decided_run(l->j, run_id, c->name, c->cim_path, NULL, NULL,
                                           sg_clock_wall(l->clock))
                  : SG_OK;
    rc = rc ? rc : sg_executor_submit(l->x, run_id, (int)i);
    return rc || !l->j ? rc : s_announce(l, i, run_id);
}

/* One turn's decisions: the next S_DECISIONS_PER_TURN in plan order, in
 * one batch (service.c, s_drain_decisions). */
static int s_decide(s_loop_t *l)
{
    size_t end = l->decided + S_DECISIONS_PER_TURN;
    end = end < l->w->n ? end : l->w->n;
    int rc = SG_OK;
    s_batch_begin(l);
    for (; rc == SG_OK && l->decided < end; l->decided++)
        rc = s_decide_one(l, l->decided);
    int end_rc = s_batch_end(l);
    return rc ? rc : end_rc;
}

/* A run's step, journaled with its outcome (service.c, s_post_step);
 * frees the outcome. */
static int s_result(s_loop_t *l, sg_exec_result_t *r)
{
    int rc = SG_OK;
    if (l->j) {
        bool added = false;
        rc = sg_journal_run_step(l->j, r->run_id, r->outcome->job_path, r->ended, r->failed_over,
                                 sg_clock_wall(l->clock), r->outcome, &added);
        s_added(l, rc, added);
    }
    if (r->ended) {
        l->ended++;
        l->failed += !r->failed_over;
    }
    sg_outcome_free(&r->outcome);
    return rc;
}

/* The results waiting, up to S_RESULTS_PER_TURN, in one batch; then the
 * proofs deferred into it answered (service.c, s_handle_results). */
static int s_results(s_loop_t *l)
{
    sg_exec_result_t r;
    int rc = SG_OK, got = 0;
    s_batch_begin(l);
    for (int i = 0; rc == SG_OK && i < S_RESULTS_PER_TURN; i++) {
        if ((got = sg_executor_recv(l->x, &r, 0)) != 1)
            break;
        rc = s_result(l, &r);
    }
    int end_rc = s_batch_end(l);
    sg_executor_release_proofs(l->x, end_rc, NULL, NULL);
    return rc ? rc : got < 0 ? got : end_rc;
}

/* Turns until every run has ended: the results waiting, then the next
 * decisions. 0, or the first error (SG_ETIMEOUT: no result came in
 * S_RESULT_WAIT_MS). */
static int s_loop(s_loop_t *l)
{
    while (l->ended < l->w->n) {
        int wait_ms = l->decided < l->w->n ? 0 : S_RESULT_WAIT_MS;
        zmq_pollitem_t it = {.socket = sg_executor_socket(l->x), .events = ZMQ_POLLIN};
        int n = zmq_poll(&it, 1, wait_ms);
        if (n < 0 && zmq_errno() != EINTR)
            return SG_EIO;
        if (n == 0 && wait_ms > 0)
            return SG_ETIMEOUT;
        int rc = n > 0 ? s_results(l) : SG_OK;
        rc = rc || l->decided == l->w->n ? rc : s_decide(l);
        if (rc != SG_OK)
            return rc;
    }
    return SG_OK;
}

/* --- a round -------------------------------------------------------------------------------- */

/* Where a round's files go (owned by main). */
typedef struct {
    char *dir;
    char *journal;
    char *state;
    int port; /* the HTTP receiver's */
} s_paths_t;

/* What a round attaches (sinks: the jsonl and webhook sinks, on the journal). */
typedef struct {
    bool journal, state_file, sinks;
} s_with_t;

/* A round's figures. */
typedef struct {
    double took_ms;        /* first decision to the last run's end; -1: the round failed */
    int failed;            /* runs ended without their collection failed over */
    uint64_t outcomes;     /* added to the outcome log */
    sg_simfile_stats_t st; /* the state file's counters */
    size_t n_sinks;        /* with sinks; per sink: */
    uint64_t behind[SG_BENCH_N_SINKS]; /* outcomes not delivered yet when the last run ended */
    double delay_ms[SG_BENCH_N_SINKS]; /* the last run's end to all delivered; -1: never */
    double rate[SG_BENCH_N_SINKS];     /* outcomes/s, first decision to all delivered */
} s_figures_t;

static const char *const s_state_files[] = {".lock", ".tmp", NULL};

/* Per sink: how far behind it was at the end, and when it had everything. */
static void s_sink_figures(s_loop_t *l, size_t n_sinks, double t0, double end, s_figures_t *f)
{
    double done[SG_BENCH_N_SINKS];
    f->n_sinks = n_sinks;
    for (size_t i = 0; i < n_sinks; i++) {
        sg_notify_stats_t st;
        uint64_t delivered =
            sg_notify_sink_stats(l->notify, sg_bench_sink_names[i], &st) == SG_OK ? st.delivered : 0;
        f->behind[i] = l->outcomes > delivered ? l->outcomes - delivered : 0;
    }
    sg_bench_wait_delivered(l->notify, n_sinks, l->outcomes, S_DELIVERY_WAIT_MS, done);
    for (size_t i = 0; i < n_sinks; i++) {
        f->delay_ms[i] = done[i] < 0 ? -1 : done[i] - end;
        f->rate[i] = done[i] > t0 ? (double)l->outcomes / ((done[i] - t0) / 1000.0) : 0;
    }
}

/* Runs the loop and takes the figures. */
static void s_measure(s_loop_t *l, const sg_bench_sinks_t *k, s_figures_t *f)
{
    double t0 = sg_bench_now_ms();
    int rc = s_loop(l);
    double end = sg_bench_now_ms();
    if (rc != SG_OK)
        fprintf(stderr, "bench_fanout: the round stopped: %s\n", sg_err_str(rc));
    f->took_ms = rc == SG_OK ? end - t0 : -1;
    f->failed = l->failed;
    f->outcomes = l->outcomes;
    if (rc == SG_OK && l->notify)
        s_sink_figures(l, sg_bench_sinks_count(k), t0, end, f);
}

/* Opens the journal and, with `k` (not NULL), notify on it with those
 * sinks, as the service does (the journal first); 0 or SG_EIO. */
static int s_open_journal(s_loop_t *l, const char *path, const sg_bench_sinks_t *k)
{
    sg_bench_remove_journal(path);
    if (!(l->j = sg_journal_open(path)))
        return SG_EIO;
    if (k && !(l->notify = sg_bench_sinks_open(k, path)))
        return SG_EIO;
    sg_executor_set_proof_hook(l->x, s_proof, l);
    return SG_OK;
}

/* One round on world `w` (its state file set for the round). */
static void s_round(s_world_t *w, const s_paths_t *p, s_with_t with, s_figures_t *f)
{
    memset(f, 0, sizeof *f);
    f->took_ms = -1;
    const sg_clock_t *clock = sg_clock_system();
    void *zctx = zmq_ctx_new();
    w->cfg.provider.sim.state_file = with.state_file ? p->state : NULL;
    if (with.state_file)
        sg_bench_remove(p->state, s_state_files);
    sg_provider_t *sim = zctx ? sg_sim_new(&w->cfg, clock) : NULL;
    sg_bench_sinks_t k;
    sg_bench_sinks_init(&k, p->dir, "fanout", with.sinks ? p->port : 0);
    s_loop_t l = {.w = w, .clock = clock};
    l.x = sim ? sg_executor_new(zctx, &w->cfg, sim, clock) : NULL;
    if (l.x && (!with.journal || s_open_journal(&l, p->journal, with.sinks ? &k : NULL) == SG_OK))
        s_measure(&l, &k, f);
    sg_executor_destroy(&l.x);
    if (sim && sg_sim_file_stats(sim, &f->st) != SG_OK)
        memset(&f->st, 0, sizeof f->st);
    sg_provider_destroy(&sim);
    sg_notify_destroy(&l.notify);
    sg_journal_close(&l.j);
    if (zctx)
        zmq_ctx_term(zctx);
    w->cfg.provider.sim.state_file = NULL;
    if (with.journal)
        sg_bench_remove_journal(p->journal);
    if (with.sinks)
        unlink(k.jsonl_path);
    if (with.state_file)
        sg_bench_remove(p->state, s_state_files);
}

/* --- the report ----------------------------------------------------------------------------- */

typedef struct {
    size_t n;
    int c;
    int64_t t, lat;
} s_args_t;

static void s_print_round(const s_args_t *a, const s_world_t *w, s_with_t with, s_waves_t waves,
                          const s_figures_t *f)
{
    long long ideal = (long long)waves.ideal * a->t, bound = (long long)waves.bound * a->t;
    printf("fanout sites=%d groups=%d collections=%zu concurrency=%d job_ms=%lld latency_ms=%lld "
           "journal=%s state_file=%s sinks=%s measured_ms=%.0f ideal_ms=%lld waves=%zu "
           "bound_ms=%lld failed=%d ratio=%.3f\n",
           w->n_sites, w->n_groups, a->n, a->c, (long long)a->t, (long long)a->lat,
           with.journal ? "yes" : "no", with.state_file ? "yes" : "no",
           with.sinks ? "jsonl+webhook" : "no", f->took_ms, ideal, waves.ideal, bound, f->failed,
           f->took_ms > 0 && ideal > 0 ? f->took_ms / (double)ideal : -1.0);
}

static void s_print_state_file(const sg_simfile_stats_t *st)
{
    printf("fanout_state_file snapshots=%llu lines=%llu bytes_per_line=%.0f syncs=%llu "
           "lines_per_sync=%.1f\n",
           (unsigned long long)st->snapshots, (unsigned long long)st->lines,
           st->lines ? (double)st->bytes_appended / (double)st->lines : 0.0,
           (unsigned long long)st->syncs, st->syncs ? (double)st->lines / (double)st->syncs : 0.0);
}

static void s_print_sinks(const s_figures_t *f)
{
    for (size_t i = 0; i < f->n_sinks; i++)
        printf("fanout_sink sink=%s outcomes=%llu behind_at_end=%llu delivered=%s delay_ms=%.0f "
               "rate=%.0f\n",
               sg_bench_sink_names[i], (unsigned long long)f->outcomes,
               (unsigned long long)f->behind[i], f->delay_ms[i] < 0 ? "no" : "yes",
               f->delay_ms[i], f->rate[i]);
}

static void s_print_ratio(const char *name, const s_figures_t *num, const s_figures_t *den)
{
    printf("%s ratio=%.3f\n", name,
           num->took_ms > 0 && den->took_ms > 0 ? num->took_ms / den->took_ms : -1.0);
}

/* --- the rounds ----------------------------------------------------------------------------- */

/* Three rounds on one world, and the ratio of the third's time to the
 * `den`-th's. */
typedef struct {
    s_with_t with[3];
    const char *ratio;
    int den;
} s_rounds_t;

/* The baseline: one site, one group. */
static const s_rounds_t s_baseline_rounds = {
    {{0}, {.journal = true}, {.state_file = true}}, "fanout_state_file_vs_memory", 0};
/* The world: several sites and groups; the last round with the sinks. */
static const s_rounds_t s_world_rounds = {
    {{0}, {.journal = true}, {.journal = true, .sinks = true}}, "fanout_sinks_vs_journal", 1};

static void s_run_rounds(const s_args_t *a, s_world_t *w, const s_paths_t *p,
                         const s_rounds_t *r)
{
    s_figures_t f[3];
    s_waves_t waves = s_waves(w, (size_t)a->c);
    for (int i = 0; i < 3; i++) {
        s_round(w, p, r->with[i], &f[i]);
        s_print_round(a, w, r->with[i], waves, &f[i]);
        if (r->with[i].state_file)
            s_print_state_file(&f[i].st);
        if (r->with[i].sinks)
            s_print_sinks(&f[i]);
        fflush(stdout);
    }
    s_print_ratio(r->ratio, &f[2], &f[r->den]);
}

/* --- main ----------------------------------------------------------------------------------- */

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

/* Builds a world and runs `rounds` on it. */
static int s_on_world(const s_args_t *a, int sites, int groups, const s_paths_t *p,
                      const s_rounds_t *rounds)
{
    s_world_t w;
    int rc = s_world_init(&w, a->n, sites, groups, a->c, a->t, a->lat);
    if (rc == SG_OK)
        s_run_rounds(a, &w, p, rounds);
    s_world_fini(&w);
    return rc;
}

int main(int argc, char **argv)
{
    s_args_t a = {argc > 1 ? (size_t)atol(argv[1]) : 1000, argc > 2 ? atoi(argv[2]) : 100,
                  argc > 3 ? atol(argv[3]) : 500, argc > 4 ? atol(argv[4]) : 1};
    int sites = argc > 5 ? atoi(argv[5]) : 4, groups = argc > 6 ? atoi(argv[6]) : 5;
    if (a.n == 0 || a.c <= 0 || a.c > 256 || a.t <= 0 || a.lat < 0 || sites < 1 ||
        sites > S_MAX_SITES || groups < 1 || groups > S_MAX_GROUPS) {
        fprintf(stderr, "usage: bench_fanout [collections [concurrency 1..256 [job_ms "
                        "[latency_ms [sites 1..26 [groups 1..1000]]]]]]\n");
        return 2;
    }
    sg_log_set_level(SG_LOG_ERROR);
    s_paths_t p = {.dir = s_scratch_dir(argv[0])};
    sg_bench_receiver_t rx = {.fd = -1};
    p.journal = p.dir ? sg_strdupf("%s/journal.db", p.dir) : NULL;
    p.state = p.dir ? sg_strdupf("%s/sim-state.json", p.dir) : NULL;
    int rc = !p.dir ? SG_EIO : !p.journal || !p.state ? SG_ENOMEM : SG_OK;
    rc = rc ? rc : sg_bench_receiver_start(&rx);
    p.port = rx.port;
    rc = rc ? rc : s_on_world(&a, 1, 1, &p, &s_baseline_rounds);
    rc = rc ? rc : s_on_world(&a, sites, groups, &p, &s_world_rounds);
    if (rc != SG_OK)
        fprintf(stderr, "bench_fanout: cannot set up the benchmark: %s\n", sg_err_str(rc));
    if (rx.fd >= 0)
        sg_bench_receiver_stop(&rx);
    if (p.dir)
        rmdir(p.dir);
    free(p.dir);
    free(p.journal);
    free(p.state);
    return rc == SG_OK ? 0 : 1;
}
