/* bench_journal: what the journal costs a start, and what retention keeps
 * of it, on a real file in the build tree (bench/bench_journal.d).
 *
 *   bench_journal [outcomes [open_runs]]   defaults 1000000 100
 *
 * Replay: the reads a start makes (the journal opened, the largest run id,
 * the operator state, the drills cut short, recovery's plan from the runs,
 * and for each of two sinks its own connection, cursor, pending count, the
 * log after its cursor and its first pending window), timed on a journal
 * with OUTCOMES outcome rows delivered by both sinks and OPEN_RUNS open runs
 * against the same start with an empty log and the same runs (design
 * target: under 1 s). Then one retention pass removes those rows, timed
 * with its longest step (the longest the file's write lock is held).
 *
 * A year: 365 daily drills of 50 collections and 20 failovers of them,
 * journaled day by day on a fake clock and delivered by two sinks, once
 * without retention and once with a pass each day (30 days): the file's
 * size at the end, and with retention at day 60 against day 365.
 *
 * Prints "name key=value" lines; exits 0 whatever the figures. */
#include "act/recovery.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"
#include "config/config.h"
#include "journal/journal.h"
#include "journal/journal_int.h"
#include "journal/outcome.h"
#include "journal/retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_DAY (24LL * 3600 * 1000)
#define S_WALL0 1767225600000LL /* 2026-01-01T00:00:00Z */
#define S_CHUNK 10000
#define S_REPEAT 3
#define S_YEAR_COLLECTIONS 50
#define S_YEAR_FAILOVERS 20

static const char *const s_sinks[2] = {"pager", "mail"};
/* The outcomes of one failover run, in order. */
static const sg_outcome_kind_t s_run_kinds[4] = {SG_OUTCOME_DECISION, SG_OUTCOME_JOB_STARTED,
                                                 SG_OUTCOME_PROGRESS, SG_OUTCOME_SUCCEEDED};

static double s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void s_remove(const char *path)
{
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char *p = sg_strdupf("%s%s", path, suffix[i]);
        if (p)
            unlink(p);
        free(p);
    }
}

static int64_t s_file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* A config of `n` collections c000.. at site A, replicating to B. */
static sg_config_t *s_config(size_t n)
{
    size_t cap = 256 + n * 96;
    char *yaml = malloc(cap);
    if (!yaml)
        return NULL;
    size_t len = (size_t)snprintf(yaml, cap,
                                  "sites:\n  - name: A\n  - name: B\nobservers:\n  - id: a1\n"
                                  "    site: A\n  - id: b1\n    site: B\ncollections:\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(yaml + len, cap - len,
                                "  - name: c%03zu\n    cim_path: 'X.CollectionID=\"%03zu\"'\n"
                                "    site: A\n    replica_site: B\n",
                                i, i);
    sg_config_t *cfg = NULL;
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    if (sg_config_load_string("bench.yaml", yaml, len, &cfg, &errs) != SG_OK)
        fprintf(stderr, "bench config: %s\n", errs.n ? errs.items[0] : "out of memory");
    sg_config_errors_fini(&errs);
    free(yaml);
    return cfg;
}

/* Appends one outcome; `extra` (may be NULL) is spliced into its JSON as
 * more keys (a drill's report). */
static int s_outcome(sg_journal_t *j, sg_outcome_kind_t kind, uint64_t run_id, const char *coll,
                     int64_t time_ms, const char *key, const char *extra)
{
    sg_outcome_t *o = sg_outcome_new(kind, time_ms);
    int rc = o ? SG_OK : SG_ENOMEM;
    if (rc == SG_OK) {
        o->run_id = run_id;
        rc = sg_outcome_set(o, &o->collection, coll) || sg_outcome_set(o, &o->site, "A") ||
                     sg_outcome_setf(o, &o->message, "%s of %s: a message of a usual length",
                                     sg_outcome_kind_name(kind), coll ? coll : "site A") ||
                     sg_outcome_set(o, &o->dedup_key, key) || sg_outcome_finish(o, 0)
                 ? SG_ENOMEM
                 : SG_OK;
    }
    if (rc == SG_OK && extra) {
        char *json = sg_strdupf("%.*s,%s}", (int)strlen(o->json) - 1, o->json, extra);
        rc = json ? SG_OK : SG_ENOMEM;
        if (json) {
            free((char *)o->json);
            o->json = json;
        }
    }
    rc = rc ? rc : sg_journal_outcome(j, o, NULL);
    sg_outcome_free(&o);
    return rc;
}

/* Each sink routes what the log has after its cursor and delivers it. */
static int s_deliver_all(sg_journal_t *j, int64_t now_ms)
{
    for (size_t k = 0; k < 2; k++) {
        uint64_t cursor = 0;
        int64_t failures = 0;
        int rc = sg_journal_outbox_sink(j, s_sinks[k], &cursor, &failures, NULL);
        for (size_t n = 1; rc == SG_OK && n > 0;) {
            sg_journal_logged_t *logged = NULL;
            uint64_t seqs[S_CHUNK];
            rc = sg_journal_outbox_after(j, cursor, S_CHUNK, &logged, &n);
            for (size_t i = 0; rc == SG_OK && i < n; i++)
                seqs[i] = logged[i].seq;
            sg_journal_logged_free(logged, n);
            if (rc != SG_OK || n == 0)
                break;
            cursor = seqs[n - 1];
            rc = sg_journal_outbox_queue(j, s_sinks[k], seqs, NULL, n, cursor);
            rc = rc ? rc : sg_journal_outbox_delivered(j, s_sinks[k], seqs, n, now_ms);
        }
        if (rc != SG_OK)
            return rc;
    }
    return SG_OK;
}

/* ---- replay ------------------------------------------------------------------- */

/* A journal of `outcomes` delivered outcomes and `open_runs` open runs (a
 * job each) of the config's collections. */
static int s_fill(const char *path, const sg_config_t *cfg, size_t outcomes, size_t open_runs)
{
    s_remove(path);
    sg_journal_t *j = sg_journal_open(path);
    int rc = j ? sg_journal_outbox_init(j, true) : SG_EIO;
    for (size_t k = 0; rc == SG_OK && k < 2; k++) {
        uint64_t cursor;
        int64_t failures;
        rc = sg_journal_outbox_sink(j, s_sinks[k], &cursor, &failures, NULL);
    }
    for (size_t i = 0; rc == SG_OK && i < outcomes; i++) {
        char key[32];
        snprintf(key, sizeof key, "bench/%zu", i);
        if (i % S_CHUNK == 0)
            rc = sg_journal_batch_begin(j);
        const char *coll = cfg->collections[i % cfg->n_collections].name;
        rc = rc ? rc : s_outcome(j, s_run_kinds[i % 4], i / 4 + 1000000, coll,
                                 S_WALL0 + (int64_t)i, key, NULL);
        if (rc == SG_OK && (i % S_CHUNK == S_CHUNK - 1 || i == outcomes - 1))
            rc = sg_journal_batch_end(j);
    }
    rc = rc ? rc : s_deliver_all(j, S_WALL0);
    for (size_t i = 0; rc == SG_OK && i < open_runs; i++) {
        const sg_collection_cfg_t *c = &cfg->collections[i % cfg->n_collections];
        rc = sg_journal_decided(j, i + 1, c->name, c->cim_path, S_WALL0);
        rc = rc ? rc : sg_journal_intent(j, i + 1, S_WALL0);
        rc = rc ? rc : sg_journal_run_step(j, i + 1, "Msvm_ConcreteJob.InstanceID=\"j\"", false,
                                           false, S_WALL0, NULL, NULL);
    }
    sg_journal_close(&j);
    return rc;
}

typedef struct {
    double open_ms, runs_ms, sinks_ms, pending_ms, total_ms;
} s_replay_t;

/* One sink's start on its own connection: cursor, pending count, the log
 * after its cursor (timed into *sinks_ms) and its first pending window
 * (*pending_ms). */
static int s_sink_start(const char *path, const char *sink, double *sinks_ms, double *pending_ms)
{
    double t0 = s_now_ms();
    sg_journal_t *j = sg_journal_open(path);
    uint64_t cursor = 0;
    int64_t failures = 0;
    int rc = j ? sg_journal_outbox_init(j, true) : SG_EIO;
    rc = rc ? rc : sg_journal_outbox_sink(j, sink, &cursor, &failures, NULL);
    rc = rc ? rc : (sg_journal_outbox_count(j, sink, SG_OUTBOX_PENDING) < 0 ? SG_EIO : SG_OK);
    sg_journal_logged_t *logged = NULL;
    size_t n = 0;
    rc = rc ? rc : sg_journal_outbox_after(j, cursor, 100, &logged, &n);
    sg_journal_logged_free(logged, n);
    double t1 = s_now_ms();
    sg_outbox_row_t *rows = NULL;
    rc = rc ? rc : sg_journal_outbox_pending(j, sink, 100, &rows, &n);
    sg_outbox_rows_free(rows, rc == SG_OK ? n : 0);
    *sinks_ms += t1 - t0;
    *pending_ms += s_now_ms() - t1;
    sg_journal_close(&j);
    return rc;
}

/* The reads of one start, timed. */
static int s_replay_once(const char *path, const sg_config_t *cfg, s_replay_t *out)
{
    memset(out, 0, sizeof *out);
    double t0 = s_now_ms();
    sg_journal_t *j = sg_journal_open(path);
    uint64_t max = 0;
    char *opstate = NULL, **ids = NULL;
    size_t n_ids = 0;
    int rc = j ? sg_journal_max_run_id(j, &max) : SG_EIO;
    int orc = rc ? rc : sg_journal_opstate_get(j, &opstate);
    rc = orc == SG_ENOTFOUND ? SG_OK : orc;
    rc = rc ? rc : sg_journal_drills_open(j, &ids, &n_ids);
    free(opstate);
    for (size_t i = 0; i < n_ids; i++)
        free(ids[i]);
    free(ids);
    double t1 = s_now_ms();
    sg_recovery_plan_t plan;
    rc = rc ? rc : sg_recovery_plan_journal(&plan, cfg, j, SG_RECOVERY_RESTART);
    if (rc == SG_OK)
        sg_recovery_plan_fini(&plan);
    double t2 = s_now_ms();
    for (size_t k = 0; rc == SG_OK && k < 2; k++)
        rc = s_sink_start(path, s_sinks[k], &out->sinks_ms, &out->pending_ms);
    out->open_ms = t1 - t0;
    out->runs_ms = t2 - t1;
    out->total_ms = s_now_ms() - t0;
    sg_journal_close(&j);
    return rc;
}

/* The best of S_REPEAT starts (the file in the page cache). */
static int s_replay(const char *path, const sg_config_t *cfg, s_replay_t *best)
{
    for (int i = 0; i < S_REPEAT; i++) {
        s_replay_t r;
        int rc = s_replay_once(path, cfg, &r);
        if (rc != SG_OK)
            return rc;
        if (i == 0 || r.total_ms < best->total_ms)
            *best = r;
    }
    return SG_OK;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One retention pass over everything filled, as the thread runs it
 * (without its pauses); prints its figures. */
static int s_trim_all(const char *path, size_t outcomes)
{
    sg_journal_t *j = sg_journal_open(path);
    size_t cap = outcomes / SG_RETENTION_BATCH + 16, steps = 0;
    double *took = calloc(cap, sizeof *took);
    int rc = !took ? SG_ENOMEM : j ? sg_retention_prepare(j) : SG_EIO;
    sg_retention_pass_t p;
    sg_retention_pass_begin(&p, S_WALL0 + 400 * S_DAY, SG_JOURNAL_DEFAULT_RETENTION_MS);
    double t0 = s_now_ms();
    int more = rc == SG_OK;
    while (more == 1 && steps < cap) {
        double s0 = s_now_ms();
        more = sg_retention_step(j, &p, SG_RETENTION_BATCH);
        took[steps++] = s_now_ms() - s0;
    }
    double total = s_now_ms() - t0;
    if (rc == SG_OK && steps > 0) {
        qsort(took, steps, sizeof *took, s_cmp_double);
        printf("retention_pass outcomes=%zu removed=%llu outbox_removed=%llu steps=%zu "
               "total_s=%.2f rows_per_s=%.0f median_step_ms=%.2f longest_step_ms=%.2f\n",
               outcomes, (unsigned long long)p.removed.outcomes,
               (unsigned long long)p.removed.outbox, steps, total / 1000.0,
               total > 0 ? (double)p.removed.outcomes * 1000.0 / total : 0.0, took[steps / 2],
               took[steps - 1]);
    }
    free(took);
    sg_journal_close(&j);
    return more < 0 ? more : rc;
}

static void s_print_replay(const char *what, size_t outcomes, size_t open_runs,
                           const s_replay_t *r)
{
    printf("replay journal=%s outcomes=%zu open_runs=%zu open_ms=%.3f runs_ms=%.3f "
           "sinks_ms=%.3f pending_ms=%.3f total_ms=%.3f\n",
           what, outcomes, open_runs, r->open_ms, r->runs_ms, r->sinks_ms, r->pending_ms,
           r->total_ms);
    fflush(stdout);
}

static int s_bench_replay(const char *dir, size_t outcomes, size_t open_runs)
{
    sg_config_t *cfg = s_config(open_runs);
    char *path = sg_strdupf("%s/replay.db", dir);
    s_replay_t empty, full;
    int rc = cfg && path ? SG_OK : SG_ENOMEM;
    rc = rc ? rc : s_fill(path, cfg, 0, open_runs);
    rc = rc ? rc : s_replay(path, cfg, &empty);
    if (rc == SG_OK)
        s_print_replay("empty", 0, open_runs, &empty);
    double t0 = s_now_ms();
    rc = rc ? rc : s_fill(path, cfg, outcomes, open_runs);
    if (rc == SG_OK)
        printf("fill outcomes=%zu sinks=2 took_s=%.1f file_bytes=%lld\n", outcomes,
               (s_now_ms() - t0) / 1000.0, (long long)s_file_bytes(path));
    rc = rc ? rc : s_replay(path, cfg, &full);
    if (rc == SG_OK) {
        s_print_replay("full", outcomes, open_runs, &full);
        printf("replay_full_vs_empty ratio=%.2f\n", full.total_ms / empty.total_ms);
        printf("replay_full_under_1s value=%s\n", full.total_ms < 1000.0 ? "yes" : "no");
        printf("replay_full_without_pending_window_ms value=%.3f\n",
               full.total_ms - full.pending_ms);
        fflush(stdout);
    }
    rc = rc ? rc : s_trim_all(path, outcomes);
    if (path)
        s_remove(path);
    free(path);
    sg_config_destroy(&cfg);
    return rc;
}

/* ---- a year ---------------------------------------------------------------------- */

typedef struct {
    sg_journal_t *j;
    const sg_config_t *cfg;
    char *report; /* a drill report of every collection, as the outcome's "report" */
    uint64_t run_id;
    int failovers;
} s_year_t;

/* A drill report like drill.c's: per collection about 300 bytes. */
static char *s_report(const sg_config_t *cfg)
{
    size_t cap = 512 + cfg->n_collections * 400, len = 0;
    char *text = malloc(cap);
    if (!text)
        return NULL;
    len += (size_t)snprintf(text, cap,
                            "\"report\":{\"drill\":\"nightly\",\"trigger\":\"schedule\","
                            "\"result\":\"passed\",\"objectives_met\":true,"
                            "\"cleanup_verified\":true,\"collections\":[");
    for (size_t i = 0; i < cfg->n_collections; i++)
        len += (size_t)snprintf(
            text + len, cap - len,
            "%s{\"collection\":\"%s\",\"site\":\"A\",\"replica_site\":\"B\",\"result\":"
            "\"passed\",\"recovery_point\":\"latest\",\"recovery_point_ms\":1767225600000,"
            "\"rto_ms\":41234,\"rpo_ms\":300000,\"rto_met\":true,\"rpo_met\":true,\"cleanup\":"
            "\"verified\",\"steps\":[\"test\",\"job\",\"revert\",\"verify\"]}",
            i ? "," : "", cfg->collections[i].name);
    snprintf(text + len, cap - len, "],\"skipped\":[]}");
    return text;
}

static int s_drill(s_year_t *y, int day, int64_t t)
{
    char id[32], key[48];
    snprintf(id, sizeof id, "nightly-%03d", day);
    snprintf(key, sizeof key, "drill/%s/report", id);
    const char *rep = strchr(y->report, ':') + 1; /* the report's object */
    int rc = sg_journal_drill_begin(y->j, id, "nightly", t);
    rc = rc ? rc : sg_journal_drill_end(y->j, id, t + 1200000, "passed", rep);
    return rc ? rc
              : s_outcome(y->j, SG_OUTCOME_DRILL_REPORT, 0, NULL, t + 1200000, key, y->report);
}

/* One collection failed over: its run and its four outcomes. */
static int s_failover_one(s_year_t *y, const sg_collection_cfg_t *c, int64_t t)
{
    uint64_t id = ++y->run_id;
    int rc = sg_journal_decided(y->j, id, c->name, c->cim_path, t);
    rc = rc ? rc : sg_journal_intent(y->j, id, t);
    for (size_t k = 0; rc == SG_OK && k < 4; k++) {
        char key[64];
        snprintf(key, sizeof key, "%llu/%s/%s", (unsigned long long)id, c->name,
                 sg_outcome_kind_name(s_run_kinds[k]));
        rc = s_outcome(y->j, s_run_kinds[k], id, c->name, t + (int64_t)k * 30000, key, NULL);
    }
    return rc ? rc
              : sg_journal_run_step(y->j, id, "Msvm_ConcreteJob.InstanceID=\"j\"", true, true,
                                    t + 120000, NULL, NULL);
}

/* Site A lost: every collection failed over, an operator's approval in the
 * audit trail, the site back later. */
static int s_failover(s_year_t *y, int64_t t)
{
    char key[48];
    snprintf(key, sizeof key, "0/A/site_lost/%d", y->failovers);
    int rc = s_outcome(y->j, SG_OUTCOME_SITE_LOST, 0, NULL, t, key, NULL);
    sg_journal_audit_t a = {.time_ms = t, .who = "uid 1000", .role = "operator",
                            .command = "approve", .target = "A", .reason = "site A is down",
                            .result = "ok"};
    rc = rc ? rc : sg_journal_audit(y->j, &a);
    rc = rc ? rc : sg_journal_batch_begin(y->j);
    for (size_t i = 0; rc == SG_OK && i < y->cfg->n_collections; i++)
        rc = s_failover_one(y, &y->cfg->collections[i], t);
    int end = sg_journal_batch_end(y->j);
    snprintf(key, sizeof key, "0/A/site_recovered/%d", y->failovers++);
    rc = rc ? rc : end;
    return rc ? rc : s_outcome(y->j, SG_OUTCOME_SITE_RECOVERED, 0, NULL, t + S_DAY / 2, key, NULL);
}

static long s_rows(sg_journal_t *j, const char *table)
{
    char *sql = sg_strdupf("SELECT count(*) FROM %s", table);
    sqlite3_stmt *st = NULL;
    long n = -1;
    if (sql && sqlite3_prepare_v2(sg_journal_sqlite(j), sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    free(sql);
    return n;
}

/* The file's size after a checkpoint into it. */
static int64_t s_settled_bytes(s_year_t *y, const char *path)
{
    if (sg_journal_exec(y->j, "PRAGMA wal_checkpoint(TRUNCATE)") != SG_OK)
        return -1;
    return s_file_bytes(path);
}

/* A year, day by day; with `retention_ms` > 0 a pass at the end of each
 * day. *day60 gets the size after day 60. */
static int s_year(s_year_t *y, const char *path, int64_t retention_ms, int64_t *day60)
{
    int rc = SG_OK;
    int every = 365 / S_YEAR_FAILOVERS;
    for (int day = 0; rc == SG_OK && day < 365; day++) {
        int64_t t = S_WALL0 + day * S_DAY;
        rc = s_drill(y, day, t + 2 * 3600000LL);
        if (rc == SG_OK && day % every == every / 2 && y->failovers < S_YEAR_FAILOVERS)
            rc = s_failover(y, t + 14 * 3600000LL);
        rc = rc ? rc : s_deliver_all(y->j, t + 20 * 3600000LL);
        if (rc == SG_OK && retention_ms > 0)
            rc = sg_retention_run(y->j, t + S_DAY, retention_ms, SG_RETENTION_BATCH, NULL);
        if (rc == SG_OK && day == 59)
            *day60 = s_settled_bytes(y, path);
    }
    return rc;
}

static int s_year_round(const char *dir, const sg_config_t *cfg, int64_t retention_ms,
                        int64_t *bytes, int64_t *day60)
{
    char *path = sg_strdupf("%s/year.db", dir);
    s_year_t y = {.cfg = cfg, .report = s_report(cfg)};
    int rc = path && y.report ? SG_OK : SG_ENOMEM;
    if (rc == SG_OK) {
        s_remove(path);
        y.j = sg_journal_open(path);
        rc = y.j ? sg_retention_prepare(y.j) : SG_EIO;
    }
    rc = rc ? rc : s_year(&y, path, retention_ms, day60);
    int64_t free_bytes = 0, db_bytes = 0;
    if (rc == SG_OK) {
        *bytes = s_settled_bytes(&y, path);
        rc = sg_retention_size(y.j, &db_bytes, &free_bytes);
    }
    if (rc == SG_OK)
        printf("year retention_h=%lld days=365 drills=365 failovers=%d collections=%zu "
               "file_bytes=%lld free_bytes=%lld outcomes=%ld outbox=%ld runs=%ld drills_kept=%ld "
               "audit=%ld\n",
               (long long)(retention_ms / 3600000), y.failovers, cfg->n_collections,
               (long long)*bytes, (long long)free_bytes, s_rows(y.j, "outcomes"),
               s_rows(y.j, "outbox"), s_rows(y.j, "runs"), s_rows(y.j, "drills"),
               s_rows(y.j, "audit"));
    fflush(stdout);
    sg_journal_close(&y.j);
    if (path)
        s_remove(path);
    free(path);
    free(y.report);
    return rc;
}

static int s_bench_year(const char *dir)
{
    sg_config_t *cfg = s_config(S_YEAR_COLLECTIONS);
    int64_t off = 0, on = 0, day60_off = 0, day60_on = 0;
    int rc = cfg ? SG_OK : SG_ENOMEM;
    rc = rc ? rc : s_year_round(dir, cfg, 0, &off, &day60_off);
    rc = rc ? rc : s_year_round(dir, cfg, SG_JOURNAL_DEFAULT_RETENTION_MS, &on, &day60_on);
    if (rc == SG_OK) {
        printf("year_with_vs_without_retention ratio=%.3f\n", (double)on / (double)off);
        printf("year_with_retention_day365_vs_day60 ratio=%.3f\n", (double)on / (double)day60_on);
        printf("year_without_retention_day365_vs_day60 ratio=%.3f\n",
               (double)off / (double)day60_off);
    }
    sg_config_destroy(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    long outcomes = argc > 1 ? atol(argv[1]) : 1000000;
    long open_runs = argc > 2 ? atol(argv[2]) : 100;
    if (outcomes < 1 || open_runs < 1 || open_runs > 10000) {
        fprintf(stderr, "usage: bench_journal [outcomes >= 1 [open_runs 1..10000]]\n");
        return 2;
    }
    sg_log_set_level(SG_LOG_ERROR);
    const char *dir = SG_BENCH_DIR "/bench_journal.d"; /* the build tree: a real disk */
    if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0) {
        perror(dir);
        return 1;
    }
    int rc = s_bench_replay(dir, (size_t)outcomes, (size_t)open_runs);
    if (rc == SG_OK)
        rc = s_bench_year(dir);
    if (rc != SG_OK)
        fprintf(stderr, "bench_journal: %s\n", sg_err_str(rc));
    rmdir(dir);
    return 0;
}
