/* Retention: what the journal no longer needs removed after
 * journal.retention, in bounded steps, and nothing else; the max_size
 * warning. On real SQLite files in a temporary directory; time is given to
 * the functions (the wall clock's "now") or a fake clock.
 *
 * The world: "old" rows are stamped at WALL0, "recent" ones two days later;
 * a pass runs 31 days after WALL0 with the default retention of 30 days, so
 * the cutoff falls between the two. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "journal/journal.h"
#include "journal/journal_int.h"
#include "journal/outcome.h"
#include "journal/retention.h"

#include "sg_fixture.h"
#include "sg_sqlplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WALL0 1800000000000LL
#define DAY (24LL * 3600 * 1000)
#define OLD WALL0
#define RECENT (WALL0 + 2 * DAY)
#define NOW (WALL0 + 31 * DAY)
#define RETENTION SG_JOURNAL_DEFAULT_RETENTION_MS

typedef struct {
    sg_fixture_dir_t tmp;
    sg_journal_t *j;
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    sg_log_set_level(SG_LOG_ERROR);
    sg_fixture_dir_new(&f->tmp, "test_retention.");
    f->j = sg_journal_open(f->tmp.journal);
    assert_non_null(f->j);
    assert_int_equal(sg_retention_prepare(f->j), SG_OK);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    sg_journal_close(&f->j);
    sg_fixture_dir_remove(&f->tmp);
    free(f);
    return 0;
}

/* ---- what the journal holds --------------------------------------------------- */

/* Appends an outcome of run `run_id` (0: none) stamped `time_ms`; its seq. */
static uint64_t s_log(s_fix_t *f, uint64_t run_id, int64_t time_ms)
{
    static unsigned n;
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_PROGRESS, time_ms);
    assert_non_null(o);
    o->run_id = run_id;
    assert_int_equal(sg_outcome_setf(o, &o->dedup_key, "test/%u", ++n), 0);
    assert_int_equal(sg_outcome_set(o, &o->message, "m"), 0);
    assert_int_equal(sg_outcome_finish(o, 0), 0);
    bool added = false;
    assert_int_equal(sg_journal_outcome(f->j, o, &added), SG_OK);
    assert_true(added);
    sg_outcome_free(&o);
    return (uint64_t)sqlite3_last_insert_rowid(sg_journal_sqlite(f->j));
}

/* A sink known to the outbox from now on (it starts at the end of the log). */
static void s_sink(s_fix_t *f, const char *sink)
{
    uint64_t cursor = 0;
    int64_t failures = 0;
    assert_int_equal(sg_journal_outbox_sink(f->j, sink, &cursor, &failures, NULL), SG_OK);
}

/* The sink routes seqs[0..n) to itself and its cursor moves to `cursor`. */
static void s_route(s_fix_t *f, const char *sink, const uint64_t *seqs, size_t n,
                    uint64_t cursor)
{
    assert_int_equal(sg_journal_outbox_queue(f->j, sink, seqs, NULL, n, cursor), SG_OK);
}

static void s_delivered(s_fix_t *f, const char *sink, const uint64_t *seqs, size_t n)
{
    assert_int_equal(sg_journal_outbox_delivered(f->j, sink, seqs, n, RECENT), SG_OK);
}

/* How many rows `sql` (a count) finds. */
static long s_count(s_fix_t *f, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(sg_journal_sqlite(f->j), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static bool s_has_outcome(s_fix_t *f, uint64_t seq)
{
    char *json = NULL;
    int rc = sg_journal_outbox_json(f->j, seq, &json);
    free(json);
    assert_true(rc == SG_OK || rc == SG_ENOTFOUND);
    return rc == SG_OK;
}

static sg_retention_removed_t s_pass(s_fix_t *f)
{
    sg_retention_removed_t removed = {0};
    assert_int_equal(sg_retention_run(f->j, NOW, RETENTION, SG_RETENTION_BATCH, &removed), SG_OK);
    return removed;
}

/* A run decided at OLD; `ended_ms` 0 leaves it open (with an intent). */
static void s_run(s_fix_t *f, uint64_t run_id, const char *coll, int64_t ended_ms, bool over)
{
    assert_int_equal(sg_journal_decided(f->j, run_id, coll, "X", OLD), SG_OK);
    assert_int_equal(sg_journal_intent(f->j, run_id, OLD), SG_OK);
    if (ended_ms)
        assert_int_equal(
            sg_journal_run_step(f->j, run_id, NULL, true, over, ended_ms, NULL, NULL), SG_OK);
}

static bool s_has_run(s_fix_t *f, uint64_t run_id)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE run_id = %llu",
             (unsigned long long)run_id);
    return s_count(f, sql) == 1;
}

/* ---- outcomes and the outbox ----------------------------------------------------- */

static void test_delivered_outcomes_older_than_the_retention_go_with_their_outbox_rows(
    void **state)
{
    s_fix_t *f = *state;
    s_sink(f, "pager");
    s_sink(f, "mail");
    uint64_t seqs[6] = {s_log(f, 0, OLD),    s_log(f, 0, OLD),    s_log(f, 0, OLD),
                        s_log(f, 0, RECENT), s_log(f, 0, RECENT), s_log(f, 0, OLD)};
    s_route(f, "pager", seqs, 6, seqs[5]);
    s_route(f, "mail", seqs, 6, seqs[5]);
    s_delivered(f, "pager", seqs, 6);
    s_delivered(f, "mail", seqs, 6);

    sg_retention_removed_t removed = s_pass(f);

    assert_int_equal(removed.outcomes, 3);
    assert_int_equal(removed.outbox, 6); /* two sinks each */
    for (int i = 0; i < 3; i++)
        assert_false(s_has_outcome(f, seqs[i]));
    assert_true(s_has_outcome(f, seqs[3]));
    assert_true(s_has_outcome(f, seqs[4]));
    /* stamped old but logged after recent ones: the pass ended at the first
     * recent one, so it stays a while longer (never shorter) */
    assert_true(s_has_outcome(f, seqs[5]));
    assert_int_equal(sg_journal_outbox_count(f->j, "pager", SG_OUTBOX_DELIVERED), 3);
    assert_int_equal(sg_journal_outbox_count(f->j, "mail", SG_OUTBOX_DELIVERED), 3);
    removed = s_pass(f); /* nothing more to do */
    assert_int_equal(removed.outcomes + removed.outbox + removed.runs + removed.drills, 0);
}

static void test_an_outcome_a_sink_still_has_to_deliver_or_route_stays_whatever_its_age(
    void **state)
{
    s_fix_t *f = *state;
    s_sink(f, "pager");
    s_sink(f, "mail");
    uint64_t pending = s_log(f, 0, OLD), dead = s_log(f, 0, OLD), unrouted = s_log(f, 0, OLD);
    uint64_t both[2] = {pending, dead};
    s_route(f, "pager", both, 2, unrouted); /* unrouted: passed over by both */
    s_route(f, "mail", both, 2, unrouted);
    s_delivered(f, "mail", both, 2);
    assert_int_equal(sg_journal_outbox_dead(f->j, "pager", &dead, 1, "gone", RECENT, NULL),
                     SG_OK);

    s_pass(f);
    assert_true(s_has_outcome(f, pending)); /* pager has it pending */
    assert_false(s_has_outcome(f, dead));   /* delivered or dead-lettered everywhere */
    assert_false(s_has_outcome(f, unrouted));
    assert_int_equal(sg_journal_outbox_count(f->j, "pager", SG_OUTBOX_PENDING), 1);
    assert_int_equal(sg_journal_outbox_count(f->j, "mail", SG_OUTBOX_DELIVERED), 1);

    s_sink(f, "late"); /* starts at the end of the log, and routes nothing yet */
    uint64_t next = s_log(f, 0, OLD);
    s_route(f, "pager", &next, 1, next);
    s_route(f, "mail", &next, 1, next);
    s_delivered(f, "pager", &next, 1);
    s_delivered(f, "mail", &next, 1);
    s_pass(f);
    assert_true(s_has_outcome(f, next)); /* "late" has not routed it */
    s_route(f, "late", NULL, 0, next);
    s_delivered(f, "pager", &pending, 1);
    s_pass(f);
    assert_false(s_has_outcome(f, next));
    assert_false(s_has_outcome(f, pending));
    assert_int_equal(s_count(f, "SELECT count(*) FROM outbox"), 0);
}

/* ---- runs, drills, the audit trail ---------------------------------------------------- */

static void test_open_runs_their_outcomes_and_the_latest_run_of_each_collection_stay(
    void **state)
{
    s_fix_t *f = *state;
    s_run(f, 1, "c0", OLD, true);
    s_run(f, 2, "c0", OLD + 1, true); /* the latest of c0 */
    assert_int_equal(sg_journal_decided(f->j, 3, "c1", "X", OLD), SG_OK);
    assert_int_equal(sg_journal_abandon(f->j, 3, OLD), SG_OK);
    s_run(f, 4, "c1", 0, false); /* open */
    assert_int_equal(sg_journal_decided(f->j, 5, "c2", "X", OLD), SG_OK);
    assert_int_equal(sg_journal_run_cancelled(f->j, 5, OLD, NULL, NULL), SG_OK);
    s_run(f, 6, "c2", RECENT, false);
    s_run(f, 7, "c3", RECENT, true);
    s_run(f, 8, "c3", RECENT, true);
    uint64_t of_ended = s_log(f, 1, OLD), of_open = s_log(f, 4, OLD);

    sg_retention_removed_t removed = s_pass(f);

    assert_int_equal(removed.runs, 3);
    assert_false(s_has_run(f, 1)); /* ended, superseded */
    assert_false(s_has_run(f, 3)); /* abandoned, superseded */
    assert_false(s_has_run(f, 5)); /* cancelled, superseded */
    assert_true(s_has_run(f, 7));  /* superseded, within the retention */
    assert_false(s_has_outcome(f, of_ended));
    assert_true(s_has_outcome(f, of_open));
    sg_journal_run_t *runs = NULL;
    size_t n = 0;
    assert_int_equal(sg_journal_runs(f->j, &runs, &n), SG_OK); /* what recovery reads */
    assert_int_equal(n, 4);
    const uint64_t latest[4] = {2, 4, 6, 8};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(runs[i].run_id, latest[i]);
    assert_int_equal(runs[1].ended_ms, 0);
    sg_journal_runs_free(runs, n);
    uint64_t max = 0;
    assert_int_equal(sg_journal_max_run_id(f->j, &max), SG_OK);
    assert_int_equal(max, 8); /* run ids go on from it */
}

static void test_drills_not_ended_the_latest_of_each_name_and_the_audit_trail_stay(void **state)
{
    s_fix_t *f = *state;
    assert_int_equal(sg_journal_drill_begin(f->j, "w1", "weekly", OLD), SG_OK);
    assert_int_equal(sg_journal_drill_end(f->j, "w1", OLD + 10, "passed", "{\"n\":1}"), SG_OK);
    assert_int_equal(sg_journal_drill_begin(f->j, "w2", "weekly", OLD + 20), SG_OK);
    assert_int_equal(sg_journal_drill_end(f->j, "w2", OLD + 30, "passed", "{\"n\":2}"), SG_OK);
    assert_int_equal(sg_journal_drill_begin(f->j, "m1", "monthly", OLD), SG_OK); /* cut short */
    assert_int_equal(sg_journal_drill_begin(f->j, "d1", "daily", OLD), SG_OK);
    assert_int_equal(sg_journal_drill_end(f->j, "d1", OLD + 10, "failed", "{\"n\":3}"), SG_OK);
    assert_int_equal(sg_journal_drill_begin(f->j, "d2", "daily", RECENT), SG_OK);
    assert_int_equal(sg_journal_drill_end(f->j, "d2", RECENT + 10, "passed", "{\"n\":4}"), SG_OK);
    sg_journal_audit_t a = {.time_ms = OLD, .who = "op", .role = "admin", .command = "pause",
                            .target = "A", .reason = "r", .result = "ok"};
    assert_int_equal(sg_journal_audit(f->j, &a), SG_OK);
    assert_int_equal(sg_journal_opstate_put(f->j, "{\"version\":1}", OLD), SG_OK);

    sg_retention_removed_t removed = s_pass(f);

    assert_int_equal(removed.drills, 2);
    char *report = NULL;
    assert_int_equal(sg_journal_drill_report(f->j, "w1", &report), SG_ENOTFOUND);
    assert_int_equal(sg_journal_drill_report(f->j, "d1", &report), SG_ENOTFOUND);
    assert_int_equal(sg_journal_drill_report(f->j, "w2", &report), SG_OK);
    assert_string_equal(report, "{\"n\":2}");
    free(report);
    assert_int_equal(sg_journal_drill_report(f->j, NULL, &report), SG_OK);
    assert_string_equal(report, "{\"n\":4}");
    free(report);
    char **ids = NULL;
    size_t n = 0;
    assert_int_equal(sg_journal_drills_open(f->j, &ids, &n), SG_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "m1");
    free(ids[0]);
    free(ids);
    sg_journal_audit_t *entries = NULL;
    assert_int_equal(sg_journal_audit_list(f->j, 0, &entries, &n), SG_OK);
    assert_int_equal(n, 1);
    sg_journal_audit_free(entries, n);
    char *opstate = NULL;
    assert_int_equal(sg_journal_opstate_get(f->j, &opstate), SG_OK);
    free(opstate);
}

/* ---- steps ---------------------------------------------------------------------------- */

static void test_each_step_removes_at_most_a_batch_in_its_own_transaction(void **state)
{
    s_fix_t *f = *state;
    assert_int_equal(sg_journal_batch_begin(f->j), SG_OK);
    for (int i = 0; i < 1200; i++)
        s_log(f, 0, OLD);
    assert_int_equal(sg_journal_batch_end(f->j), SG_OK);
    s_run(f, 1, "c0", OLD, true);
    s_run(f, 2, "c0", OLD, true);

    sg_retention_pass_t p;
    sg_retention_pass_begin(&p, NOW, RETENTION);
    const long left[] = {700, 200, 0};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(sg_retention_step(f->j, &p, 500), 1);
        assert_int_equal(sg_journal_outcome_count(f->j), left[i]); /* committed */
        assert_true(sqlite3_get_autocommit(sg_journal_sqlite(f->j)));
    }
    assert_int_equal(p.removed.runs, 0);
    assert_int_equal(sg_retention_step(f->j, &p, 500), 1); /* the runs */
    assert_int_equal(p.removed.runs, 1);
    assert_int_equal(sg_retention_step(f->j, &p, 500), 0); /* the drills: over */
    assert_int_equal(p.removed.outcomes, 1200);
    assert_int_equal(sg_retention_step(f->j, &p, 500), 0);
}

static void test_a_step_looks_at_a_bounded_window_past_what_must_stay(void **state)
{
    s_fix_t *f = *state;
    s_run(f, 1, "c0", 0, false); /* open: its outcomes stay */
    assert_int_equal(sg_journal_batch_begin(f->j), SG_OK);
    for (int i = 0; i < 100; i++)
        s_log(f, 1, OLD);
    uint64_t first_free = s_log(f, 0, OLD);
    for (int i = 0; i < 9; i++)
        s_log(f, 0, OLD);
    assert_int_equal(sg_journal_batch_end(f->j), SG_OK);

    sg_retention_pass_t p;
    sg_retention_pass_begin(&p, NOW, RETENTION);
    assert_int_equal(sg_retention_step(f->j, &p, 10), 1); /* looks at 40: removes none */
    assert_int_equal(p.removed.outcomes, 0);
    assert_int_equal(p.after, 40);
    assert_int_equal(sg_retention_step(f->j, &p, 10), 1);
    assert_int_equal(sg_retention_step(f->j, &p, 10), 1); /* 81 .. 110: ten removed */
    assert_int_equal(p.removed.outcomes, 10);
    assert_false(s_has_outcome(f, first_free));
    assert_int_equal(sg_journal_outcome_count(f->j), 100);
}

/* ---- a restart after retention ----------------------------------------------------------- */

static void test_a_reopened_journal_after_retention_replays_and_delivers_as_before(void **state)
{
    s_fix_t *f = *state;
    s_sink(f, "pager");
    s_run(f, 1, "c0", OLD, true);
    s_run(f, 2, "c0", OLD, true);
    s_run(f, 3, "c1", 0, false);
    uint64_t seqs[3] = {s_log(f, 1, OLD), s_log(f, 3, OLD), s_log(f, 0, RECENT)};
    s_route(f, "pager", seqs, 3, seqs[2]);
    s_delivered(f, "pager", seqs, 1);
    s_pass(f);
    sg_journal_close(&f->j);
    f->j = sg_journal_open(f->tmp.journal);
    assert_non_null(f->j);

    sg_journal_run_t *runs = NULL;
    size_t n = 0;
    assert_int_equal(sg_journal_runs(f->j, &runs, &n), SG_OK);
    assert_int_equal(n, 2);
    assert_int_equal(runs[0].run_id, 2);
    assert_true(runs[0].failed_over);
    assert_int_equal(runs[1].run_id, 3);
    assert_int_equal(runs[1].ended_ms, 0);
    assert_non_null(runs[1].collection);
    sg_journal_runs_free(runs, n);
    uint64_t cursor = 0, max = 0;
    int64_t failures = 0;
    assert_int_equal(sg_journal_outbox_sink(f->j, "pager", &cursor, &failures, NULL), SG_OK);
    assert_int_equal(cursor, seqs[2]);
    sg_outbox_row_t *rows = NULL;
    assert_int_equal(sg_journal_outbox_pending(f->j, "pager", 10, &rows, &n), SG_OK);
    assert_int_equal(n, 2); /* the open run's and the recent one, still to deliver */
    assert_int_equal(rows[0].seq, seqs[1]);
    assert_int_equal(rows[1].seq, seqs[2]);
    sg_outbox_rows_free(rows, n);
    assert_int_equal(sg_journal_max_run_id(f->j, &max), SG_OK);
    assert_int_equal(max, 3);
    uint64_t next = s_log(f, 0, NOW);
    assert_true(next > seqs[2]); /* seqs are never reused */
}

/* ---- the queries ---------------------------------------------------------------------------- */

static void test_a_pass_reads_the_outcome_log_and_the_outbox_through_indexes(void **state)
{
    s_fix_t *f = *state;
    s_sink(f, "pager");
    s_run(f, 1, "c0", OLD, true);
    s_run(f, 2, "c0", OLD, true);
    uint64_t seqs[3] = {s_log(f, 1, OLD), s_log(f, 0, OLD), s_log(f, 0, RECENT)};
    s_route(f, "pager", seqs, 3, seqs[2]);
    s_delivered(f, "pager", seqs, 2);
    assert_int_equal(sg_journal_drill_begin(f->j, "w1", "weekly", OLD), SG_OK);

    sg_sqlplan_t plan;
    sg_sqlplan_begin(&plan, sg_journal_sqlite(f->j));
    sg_retention_removed_t removed = s_pass(f);
    sg_sqlplan_end(&plan);

    assert_int_equal(removed.outcomes, 2);
    static const char *const big[] = {"outcomes", "o", "outbox", "b", NULL};
    assert_true(sg_sqlplan_expect_no_scan(&plan, big, NULL) >= 5);
    sg_sqlplan_fini(&plan);
}

/* ---- the size ---------------------------------------------------------------------------------- */

static void test_the_max_size_warning_is_said_at_most_once_an_hour(void **state)
{
    s_fix_t *f = *state;
    int64_t bytes = 0, free_bytes = -1;
    assert_int_equal(sg_retention_size(f->j, &bytes, &free_bytes), SG_OK);
    assert_true(bytes > 0);
    assert_true(free_bytes >= 0 && free_bytes < bytes);
    sg_clock_t clock;
    sg_clock_fake_state_t cs;
    sg_clock_fake_init(&clock, &cs, 1000, WALL0);
    sg_retention_watch_t w = {.max_bytes = bytes - 1};
    const char *path = f->tmp.journal;

    assert_true(sg_retention_watch(&w, path, bytes, 0, sg_clock_mono(&clock)));
    sg_clock_fake_advance(&clock, 59 * 60 * 1000);
    assert_false(sg_retention_watch(&w, path, bytes, 0, sg_clock_mono(&clock)));
    sg_clock_fake_advance(&clock, 60 * 1000);
    assert_true(sg_retention_watch(&w, path, bytes, 0, sg_clock_mono(&clock)));
    sg_clock_fake_advance(&clock, 3 * 3600 * 1000);
    assert_false(sg_retention_watch(&w, path, bytes - 1, 0, sg_clock_mono(&clock))); /* under */
    w.max_bytes = 0; /* no maximum */
    assert_false(sg_retention_watch(&w, path, INT64_MAX, 0, sg_clock_mono(&clock)));
}

static void test_the_thread_measures_the_journal_when_it_starts_and_stops_at_once(void **state)
{
    s_fix_t *f = *state;
    sg_clock_t clock;
    sg_clock_fake_state_t cs;
    sg_clock_fake_init(&clock, &cs, 1000, NOW);
    sg_journal_cfg_t cfg = {.path = f->tmp.journal, .retention_ms = RETENTION, .max_size = 1};
    assert_int_equal(sg_retention_bytes(NULL), 0);

    sg_retention_t *r = sg_retention_start(&cfg, &clock);
    assert_non_null(r);
    assert_true(sg_retention_bytes(r) > 0);
    sg_retention_stop(&r);
    assert_null(r);
    sg_retention_stop(&r);

    cfg.path = "/nonexistent-dir/journal.db";
    assert_null(sg_retention_start(&cfg, &clock));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
        T(test_delivered_outcomes_older_than_the_retention_go_with_their_outbox_rows),
        T(test_an_outcome_a_sink_still_has_to_deliver_or_route_stays_whatever_its_age),
        T(test_open_runs_their_outcomes_and_the_latest_run_of_each_collection_stay),
        T(test_drills_not_ended_the_latest_of_each_name_and_the_audit_trail_stay),
        T(test_each_step_removes_at_most_a_batch_in_its_own_transaction),
        T(test_a_step_looks_at_a_bounded_window_past_what_must_stay),
        T(test_a_reopened_journal_after_retention_replays_and_delivers_as_before),
        T(test_a_pass_reads_the_outcome_log_and_the_outbox_through_indexes),
        T(test_the_max_size_warning_is_said_at_most_once_an_hour),
        T(test_the_thread_measures_the_journal_when_it_starts_and_stops_at_once),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
