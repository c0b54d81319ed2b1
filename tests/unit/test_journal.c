/* The journal: runs, intents, jobs, the outcome log, replay, and durability
 * across a SIGKILL, on real SQLite files in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "journal/journal.h"
#include "base/log.h"
#include "journal/journal_int.h"
#include "journal/outcome.h"

#include "sg_fixture.h"
#include "sg_sqlplan.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A temporary directory, and the path of a journal in it (fx->journal). */
typedef sg_fixture_dir_t fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    sg_log_set_level(SG_LOG_ERROR);
    sg_fixture_dir_new(fx, "test_journal.");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    sg_fixture_dir_remove(fx);
    free(fx);
    return 0;
}

static sg_journal_t *s_open(fx_t *fx)
{
    sg_journal_t *j = sg_journal_open(fx->journal);
    assert_non_null(j);
    return j;
}

/* The runs the journal replays, which are `n` (free with sg_journal_runs_free). */
static sg_journal_run_t *s_runs(sg_journal_t *j, size_t n)
{
    sg_journal_run_t *runs = NULL;
    size_t got = 0;
    assert_int_equal(sg_journal_runs(j, &runs, &got), SG_OK);
    assert_int_equal(got, n);
    return runs;
}

static sg_outcome_t *s_outcome(sg_outcome_kind_t kind, uint64_t run_id, const char *coll,
                               const char *job)
{
    sg_outcome_t *o = sg_outcome_new(kind, 1790000000000LL);
    assert_non_null(o);
    o->run_id = run_id;
    assert_int_equal(sg_outcome_set(o, &o->collection, coll), 0);
    assert_int_equal(sg_outcome_set(o, &o->site, "A"), 0);
    assert_int_equal(sg_outcome_set(o, &o->job_path, job), 0);
    assert_int_equal(sg_outcome_set(o, &o->message, "m"), 0);
    assert_int_equal(sg_outcome_finish(o, 0), 0);
    return o;
}

static void test_a_decision_then_its_intent_and_job_and_end_replay_in_order(void **state)
{
    fx_t *fx = *state;
    sg_journal_t *j = s_open(fx);
    assert_int_equal(sg_journal_decided(j, 10, "c1", "p1", 1000), SG_OK);
    assert_int_equal(sg_journal_decided(j, 11, "c2", "p2", 1001), SG_OK);
    assert_int_equal(sg_journal_decided(j, 12, "c3", "p3", 1002), SG_OK);
    assert_int_equal(sg_journal_decided(j, 10, "c1", "p1", 1003), SG_ESTATE);
    assert_int_equal(sg_journal_intent(j, 10, 2000), SG_OK);
    assert_int_equal(sg_journal_intent(j, 10, 2500), SG_OK); /* keeps the first time */
    assert_int_equal(sg_journal_intent(j, 11, 2001), SG_OK);
    assert_int_equal(sg_journal_intent(j, 99, 2001), SG_ENOTFOUND);
    sg_outcome_t *o = s_outcome(SG_OUTCOME_JOB_STARTED, 10, "c1", "job-1");
    bool added = false;
    assert_int_equal(sg_journal_run_step(j, 10, "job-1", false, false, 3000, o, &added), SG_OK);
    assert_true(added);
    sg_outcome_free(&o);
    o = s_outcome(SG_OUTCOME_SUCCEEDED, 11, "c2", NULL);
    assert_int_equal(sg_journal_run_step(j, 11, NULL, true, true, 3001, o, &added), SG_OK);
    sg_outcome_free(&o);
    assert_int_equal(sg_journal_intent(j, 11, 4000), SG_ESTATE); /* ended */
    sg_journal_close(&j);
    assert_null(j);

    j = s_open(fx);
    sg_journal_run_t *runs = s_runs(j, 3);
    assert_int_equal(runs[0].run_id, 10);
    assert_string_equal(runs[0].collection, "c1");
    assert_string_equal(runs[0].cim_path, "p1");
    assert_int_equal(runs[0].intent_ms, 2000);
    assert_string_equal(runs[0].job_path, "job-1");
    assert_int_equal(runs[0].ended_ms, 0);
    assert_int_equal(runs[1].run_id, 11);
    assert_int_equal(runs[1].ended_ms, 3001);
    assert_true(runs[1].failed_over);
    assert_null(runs[1].job_path);
    assert_int_equal(runs[2].intent_ms, 0);
    assert_int_equal(sg_journal_outcome_count(j), 2);
    sg_journal_runs_free(runs, 3);
    sg_journal_close(&j);
}

static void test_only_the_latest_run_of_a_collection_is_replayed(void **state)
{
    fx_t *fx = *state;
    sg_journal_t *j = s_open(fx);
    assert_int_equal(sg_journal_decided(j, 1, "c1", "p1", 1), SG_OK);
    assert_int_equal(sg_journal_run_step(j, 1, NULL, true, false, 2, NULL, NULL), SG_OK);
    assert_int_equal(sg_journal_decided(j, 5, "c1", "p1", 3), SG_OK);
    sg_journal_run_t *runs = s_runs(j, 1);
    assert_int_equal(runs[0].run_id, 5);
    assert_int_equal(runs[0].ended_ms, 0);
    sg_journal_runs_free(runs, 1);
    assert_int_equal(sg_journal_run_step(j, 77, NULL, true, false, 2, NULL, NULL), SG_ENOTFOUND);
    sg_journal_close(&j);
}

static void test_an_outcome_is_logged_once_per_dedup_key(void **state)
{
    fx_t *fx = *state;
    sg_journal_t *j = s_open(fx);
    sg_outcome_t *o = s_outcome(SG_OUTCOME_SITE_LOST, 0, NULL, NULL);
    assert_int_equal(sg_outcome_set(o, &o->dedup_key, "A/site_lost/1"), 0);
    bool added = false;
    assert_int_equal(sg_journal_outcome(j, o, &added), SG_OK);
    assert_true(added);
    assert_int_equal(sg_journal_outcome(j, o, &added), SG_OK);
    assert_false(added);
    assert_int_equal(sg_journal_outcome_count(j), 1);
    sg_outcome_free(&o);
    sg_journal_close(&j);
}

static void test_the_journal_is_in_wal_mode_with_a_growing_outcome_sequence(void **state)
{
    fx_t *fx = *state;
    sg_journal_t *j = s_open(fx);
    for (int i = 0; i < 3; i++) {
        sg_outcome_t *o = s_outcome(SG_OUTCOME_PROGRESS, 7, "c1", "job");
        char key[32];
        snprintf(key, sizeof key, "7/c1/progress/%d", i);
        assert_int_equal(sg_outcome_set(o, &o->dedup_key, key), 0);
        assert_int_equal(sg_journal_outcome(j, o, NULL), SG_OK);
        sg_outcome_free(&o);
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(fx->journal, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, dedup_key, kind FROM outcomes ORDER BY seq",
                                        -1, &st, NULL),
                     SQLITE_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), i + 1);
        assert_string_equal((const char *)sqlite3_column_text(st, 2), "progress");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    sg_journal_close(&j);
}

/* In a child process that is killed as soon as this returns 0: no close, no
 * checkpoint. */
static int s_child_decide_and_intend(const char *path)
{
    sg_journal_t *j = sg_journal_open(path);
    if (!j || sg_journal_decided(j, 3, "c1", "p1", 1) != SG_OK ||
        sg_journal_intent(j, 3, 1234) != SG_OK)
        return -1;
    return 0;
}

static const sg_test_child_t s_children[] = {
    {"decide_and_intend", s_child_decide_and_intend},
};

static void test_an_intent_survives_a_sigkill_right_after_it_returns(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(sg_test_run_killed("decide_and_intend", fx->journal), SG_TEST_CHILD_KILLED);
    sg_journal_t *j = s_open(fx);
    sg_journal_run_t *runs = s_runs(j, 1);
    assert_int_equal(runs[0].intent_ms, 1234);
    sg_journal_runs_free(runs, 1);
    sg_journal_close(&j);
}

static void test_a_journal_of_another_schema_version_is_refused(void **state)
{
    fx_t *fx = *state;
    sg_journal_t *j = s_open(fx);
    sg_journal_close(&j);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(fx->journal, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(sg_journal_open(fx->journal));
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/j.db", fx->dir);
    assert_null(sg_journal_open(bad));
}

static void test_a_runs_own_recovery_point_is_replayed_after_a_reopen(void **state)
{
    fx_t *fx = *state;
    sg_journal_t *j = s_open(fx);
    assert_int_equal(sg_journal_decided_point(j, 1, "c1", "p1", "app", 100), SG_OK);
    assert_int_equal(sg_journal_decided(j, 2, "c2", "p2", 100), SG_OK);
    assert_int_equal(sg_journal_intent(j, 1, 200), SG_OK);
    sg_journal_close(&j);
    j = s_open(fx);
    sg_journal_run_t *runs = s_runs(j, 2);
    assert_string_equal(runs[0].point, "app");
    assert_int_equal(runs[0].intent_ms, 200);
    assert_null(runs[1].point); /* the collection's configured point */
    sg_journal_runs_free(runs, 2);
    sg_journal_close(&j);
}

/* A journal as a build of schema version 1 left it, with one open run. */
static void s_make_version_1_journal(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE runs (run_id INTEGER PRIMARY KEY, collection TEXT NOT NULL,"
                     " cim_path TEXT NOT NULL, decided_ms INTEGER NOT NULL, intent_ms INTEGER,"
                     " job_path TEXT, ended_ms INTEGER, failed_over INTEGER NOT NULL DEFAULT 0);"
                     "CREATE INDEX runs_by_collection ON runs (collection, run_id);"
                     "CREATE TABLE outcomes (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                     " dedup_key TEXT NOT NULL UNIQUE, run_id INTEGER, collection TEXT,"
                     " kind TEXT NOT NULL, time_ms INTEGER NOT NULL, json TEXT NOT NULL);"
                     "INSERT INTO runs (run_id, collection, cim_path, decided_ms, intent_ms)"
                     " VALUES (7, 'c1', 'p1', 100, 150);"
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
}

static int s_user_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void test_a_version_1_journal_is_migrated_and_keeps_its_runs(void **state)
{
    fx_t *fx = *state;
    s_make_version_1_journal(fx->journal);
    sg_journal_t *j = s_open(fx);
    sg_journal_run_t *runs = s_runs(j, 1);
    assert_int_equal(runs[0].run_id, 7);
    assert_int_equal(runs[0].intent_ms, 150);
    assert_null(runs[0].point); /* a run of version 1: the configured point */
    assert_null(runs[0].origin); /* and the engine's */
    sg_journal_runs_free(runs, 1);
    assert_int_equal(sg_journal_decided_point(j, 8, "c2", "p2", "c2:crash-1", 300), SG_OK);
    sg_journal_close(&j);
    assert_int_equal(s_user_version(fx->journal), 4); /* 2: point, 3: epoch, 4: origin */
    j = s_open(fx); /* a second open migrates nothing */
    runs = s_runs(j, 2);
    assert_string_equal(runs[1].point, "c2:crash-1");
    sg_journal_runs_free(runs, 2);
    sg_journal_close(&j);
}

static void test_a_run_never_started_can_be_abandoned_and_only_such_a_run(void **state)
{
    fx_t *fx = *state;
    sg_journal_t *j = s_open(fx);
    assert_int_equal(sg_journal_decided(j, 1, "c1", "p1", 100), 0);
    assert_int_equal(sg_journal_decided(j, 2, "c2", "p2", 100), 0);
    assert_int_equal(sg_journal_intent(j, 2, 110), 0);
    assert_int_equal(sg_journal_abandon(j, 1, 120), 0);
    assert_int_equal(sg_journal_abandon(j, 2, 120), SG_ESTATE); /* it may have been called */
    assert_int_equal(sg_journal_abandon(j, 1, 130), SG_ESTATE); /* already ended */
    assert_int_equal(sg_journal_abandon(j, 9, 130), SG_ENOTFOUND);
    assert_int_equal(sg_journal_intent(j, 1, 140), SG_ESTATE);  /* never started afterwards */
    sg_journal_run_t *runs = s_runs(j, 2);
    assert_int_equal(runs[0].run_id, 1);
    assert_true(runs[0].abandoned);
    assert_false(runs[0].failed_over);
    assert_int_equal(runs[0].ended_ms, 120);
    assert_false(runs[1].abandoned);
    assert_int_equal(runs[1].ended_ms, 0);
    sg_journal_runs_free(runs, 2);
    sg_journal_close(&j);
}

/* --- the alert outbox --- */

static uint64_t s_log(sg_journal_t *j, uint64_t run_id)
{
    sg_outcome_t *o = s_outcome(SG_OUTCOME_JOB_STARTED, run_id, "c", NULL);
    bool added = false;
    assert_int_equal(sg_journal_outcome(j, o, &added), SG_OK);
    assert_true(added);
    sg_outcome_free(&o);
    return (uint64_t)sg_journal_outcome_count(j);
}

/* A journal with the outbox and the sink "pager" in it; its cursor in *cursor. */
static sg_journal_t *s_open_with_sink(fx_t *fx, bool relaxed, uint64_t *cursor)
{
    sg_journal_t *j = s_open(fx);
    int64_t failures = 0;
    assert_int_equal(sg_journal_outbox_init(j, relaxed), SG_OK);
    assert_int_equal(sg_journal_outbox_sink(j, "pager", cursor, &failures, NULL), SG_OK);
    return j;
}

static void test_a_new_outbox_sink_starts_at_the_end_of_the_outcome_log(void **state)
{
    fx_t *fx = *state;
    sg_journal_t *j = s_open(fx);
    assert_int_equal(sg_journal_outbox_init(j, true), SG_OK);
    s_log(j, 1);
    uint64_t last = s_log(j, 2);
    uint64_t cursor = 0;
    int64_t failures = -1;
    bool created = false;
    assert_int_equal(sg_journal_outbox_sink(j, "pager", &cursor, &failures, &created), SG_OK);
    assert_true(created);
    assert_int_equal(cursor, last);
    assert_int_equal(failures, 0);
    sg_journal_logged_t *logged = NULL;
    size_t n = 9;
    assert_int_equal(sg_journal_outbox_after(j, cursor, 10, &logged, &n), SG_OK);
    assert_int_equal(n, 0);
    sg_journal_logged_free(logged, n);
    uint64_t next = s_log(j, 3);
    assert_int_equal(sg_journal_outbox_after(j, cursor, 10, &logged, &n), SG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(logged[0].seq, next);
    assert_string_equal(logged[0].kind, "job_started");
    assert_non_null(strstr(logged[0].json, "\"3/c/job_started\""));
    sg_journal_logged_free(logged, n);
    assert_int_equal(sg_journal_outbox_sink(j, "pager", &cursor, &failures, &created), SG_OK);
    assert_false(created); /* known now: its cursor stays */
    assert_int_equal(cursor, last);
    sg_journal_close(&j);
}

static void test_outbox_reads_a_batch_of_outcomes_and_none_for_a_seq_not_logged(void **state)
{
    fx_t *fx = *state;
    sg_journal_t *j = s_open(fx);
    assert_int_equal(sg_journal_outbox_init(j, true), SG_OK);
    uint64_t seqs[3] = {s_log(j, 1), 0, s_log(j, 2)};
    seqs[1] = seqs[2] + 100; /* not in the log */
    char *jsons[3] = {(char *)"unset", (char *)"unset", (char *)"unset"};
    assert_int_equal(sg_journal_outbox_jsons(j, seqs, 3, jsons), SG_OK);
    assert_non_null(strstr(jsons[0], "\"run_id\":1"));
    assert_null(jsons[1]);
    assert_non_null(strstr(jsons[2], "\"run_id\":2"));
    char *one = NULL;
    assert_int_equal(sg_journal_outbox_json(j, seqs[2], &one), SG_OK);
    assert_string_equal(jsons[2], one); /* the same text as one at a time */
    free(one);
    free(jsons[0]);
    free(jsons[2]);
    assert_int_equal(sg_journal_outbox_jsons(j, seqs, 0, jsons), SG_OK); /* an empty batch */
    sg_journal_close(&j);
}

static void test_outbox_rows_move_from_pending_to_delivered_or_dead_and_to_the_fallback(void **state)
{
    fx_t *fx = *state;
    uint64_t cursor = 0;
    int64_t failures = 0;
    sg_journal_t *j = s_open_with_sink(fx, false, &cursor);
    uint64_t seqs[3] = {s_log(j, 1), s_log(j, 2), s_log(j, 3)};
    const char *sites[3] = {"A", NULL, "A"};
    assert_int_equal(sg_journal_outbox_queue(j, "pager", seqs, sites, 3, seqs[2]), SG_OK);
    assert_int_equal(sg_journal_outbox_queue(j, "pager", seqs, sites, 1, seqs[2]), SG_OK);
    assert_int_equal(sg_journal_outbox_count(j, "pager", SG_OUTBOX_PENDING), 3); /* once each */
    assert_int_equal(sg_journal_outbox_failed(j, "pager", seqs, 1, "HTTP 500", &failures), SG_OK);
    assert_int_equal(failures, 1);
    assert_int_equal(sg_journal_outbox_seal(j, "pager", &seqs[1], 2, "A/decision/group/1-2"),
                     SG_OK);
    sg_outbox_row_t *rows = NULL;
    size_t n = 0;
    assert_int_equal(sg_journal_outbox_pending(j, "pager", 10, &rows, &n), SG_OK);
    assert_int_equal(n, 3);
    assert_int_equal(rows[0].attempts, 1);
    assert_int_equal(rows[0].base, 0);
    assert_string_equal(rows[0].site, "A");
    assert_null(rows[1].site);
    assert_null(rows[0].grp);
    assert_string_equal(rows[2].grp, "A/decision/group/1-2");
    sg_outbox_rows_free(rows, n);
    assert_int_equal(sg_journal_outbox_delivered(j, "pager", &seqs[1], 2, 5), SG_OK);
    assert_int_equal(sg_journal_outbox_dead(j, "pager", seqs, 1, "gone", 6, "mail"), SG_OK);
    assert_int_equal(sg_journal_outbox_count(j, "pager", SG_OUTBOX_DELIVERED), 2);
    assert_int_equal(sg_journal_outbox_count(j, "pager", SG_OUTBOX_DEAD), 1);
    assert_int_equal(sg_journal_outbox_count(j, "pager", SG_OUTBOX_PENDING), 0);
    assert_int_equal(sg_journal_outbox_count(j, "mail", SG_OUTBOX_PENDING), 1);
    assert_int_equal(sg_journal_outbox_pending(j, "mail", 10, &rows, &n), SG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].seq, seqs[0]);
    assert_string_equal(rows[0].site, "A");
    sg_outbox_rows_free(rows, n);
    sg_journal_close(&j);
    j = s_open(fx); /* all of it is in the file */
    assert_int_equal(sg_journal_outbox_sink(j, "pager", &cursor, &failures, NULL), SG_OK);
    assert_int_equal(failures, 1);
    assert_int_equal(cursor, seqs[2]);
    assert_int_equal(sg_journal_outbox_count(j, "pager", SG_OUTBOX_DELIVERED), 2);
    sg_journal_close(&j);
}

/* What a start reads (the runs recovery replays, the largest run id, the
 * operator state, the drills cut short, each sink's cursor, its pending
 * count and the log after its cursor) goes through indexes: none of it walks
 * the runs, the outcome log, the outbox or the drills. */
static void test_a_start_reads_the_journal_through_indexes_only(void **state)
{
    fx_t *fx = *state;
    uint64_t cursor = 0;
    int64_t failures = 0;
    sg_journal_t *j = s_open_with_sink(fx, true, &cursor);
    for (uint64_t id = 1; id <= 4; id++) {
        char coll[8];
        snprintf(coll, sizeof coll, "c%llu", (unsigned long long)(id % 2));
        assert_int_equal(sg_journal_decided(j, id, coll, "p", 100), SG_OK);
    }
    uint64_t seqs[2] = {s_log(j, 1), s_log(j, 2)};
    assert_int_equal(sg_journal_outbox_queue(j, "pager", seqs, NULL, 2, seqs[1]), SG_OK);
    assert_int_equal(sg_journal_outbox_delivered(j, "pager", seqs, 1, 5), SG_OK);
    assert_int_equal(sg_journal_drill_begin(j, "d1", "weekly", 100), SG_OK);
    assert_int_equal(sg_journal_opstate_put(j, "{}", 100), SG_OK);
    sg_journal_close(&j);
    j = s_open(fx);

    sg_sqlplan_t plan;
    sg_sqlplan_begin(&plan, sg_journal_sqlite(j));
    uint64_t max = 0;
    assert_int_equal(sg_journal_max_run_id(j, &max), SG_OK);
    char *opstate = NULL;
    assert_int_equal(sg_journal_opstate_get(j, &opstate), SG_OK);
    free(opstate);
    sg_journal_run_t *runs = s_runs(j, 2);
    assert_int_equal(runs[0].run_id, 3);
    assert_int_equal(runs[1].run_id, 4);
    sg_journal_runs_free(runs, 2);
    char **ids = NULL;
    size_t n = 0;
    assert_int_equal(sg_journal_drills_open(j, &ids, &n), SG_OK);
    assert_int_equal(n, 1);
    free(ids[0]);
    free(ids);
    int64_t ended = 0; /* a drill's history, for the metrics */
    assert_int_equal(sg_journal_drill_last(j, "weekly", NULL, &ended, NULL), SG_ENOTFOUND);
    assert_int_equal(sg_journal_drill_last(j, "weekly", "passed", &ended, NULL), SG_ENOTFOUND);
    assert_int_equal(sg_journal_outbox_sink(j, "pager", &cursor, &failures, NULL), SG_OK);
    assert_int_equal(sg_journal_outbox_count(j, "pager", SG_OUTBOX_PENDING), 1);
    sg_journal_logged_t *logged = NULL;
    assert_int_equal(sg_journal_outbox_after(j, cursor, 10, &logged, &n), SG_OK);
    sg_journal_logged_free(logged, n);
    sg_outbox_row_t *pending = NULL; /* what a sink reads before each delivery */
    assert_int_equal(sg_journal_outbox_pending(j, "pager", 10, &pending, &n), SG_OK);
    assert_int_equal(n, 1);
    sg_outbox_rows_free(pending, n);
    sg_sqlplan_end(&plan);

    static const char *const tables[] = {"runs", "r", "outcomes", "outbox", "b", "drills", NULL};
    static const char *const partial[] = {"SCAN drills USING INDEX drills_open", NULL};
    assert_true(sg_sqlplan_expect_no_scan(&plan, tables, partial) >= 9);
    assert_true(sg_sqlplan_uses(&plan, "FROM drills WHERE name", "drills_by_name"));
    /* the pending rows by state, not every row the sink ever had */
    assert_true(sg_sqlplan_uses(&plan, "b.state = 0", "outbox_by_state"));
    sg_sqlplan_fini(&plan);
    sg_journal_close(&j);
}

/* A drill's history: its latest ended run and result, and its latest run
 * with a given result; runs not ended and other drills' runs do not count. */
static void test_a_drills_latest_run_and_latest_pass_are_found_by_name(void **state)
{
    fx_t *fx = *state;
    sg_journal_t *j = s_open(fx);
    int64_t ended = 0;
    char *result = NULL;
    assert_int_equal(sg_journal_drill_last(j, "weekly", NULL, &ended, &result), SG_ENOTFOUND);
    assert_true(ended == -1);
    assert_null(result);
    assert_int_equal(sg_journal_drill_begin(j, "w1", "weekly", 100), SG_OK);
    assert_int_equal(sg_journal_drill_end(j, "w1", 200, "passed", "{}"), SG_OK);
    assert_int_equal(sg_journal_drill_begin(j, "w2", "weekly", 300), SG_OK);
    assert_int_equal(sg_journal_drill_end(j, "w2", 400, "failed", "{}"), SG_OK);
    assert_int_equal(sg_journal_drill_begin(j, "w3", "weekly", 500), SG_OK); /* not ended */
    assert_int_equal(sg_journal_drill_begin(j, "o1", "other", 600), SG_OK);
    assert_int_equal(sg_journal_drill_end(j, "o1", 700, "passed", "{}"), SG_OK);
    assert_int_equal(sg_journal_drill_last(j, "weekly", NULL, &ended, &result), SG_OK);
    assert_true(ended == 400);
    assert_string_equal(result, "failed");
    free(result);
    assert_int_equal(sg_journal_drill_last(j, "weekly", "passed", &ended, NULL), SG_OK);
    assert_true(ended == 200);
    assert_int_equal(sg_journal_drill_last(j, "weekly", "preempted", &ended, NULL), SG_ENOTFOUND);
    assert_int_equal(sg_journal_drill_last(j, "other", NULL, &ended, NULL), SG_OK);
    assert_true(ended == 700);
    sg_journal_close(&j);
}

/* What another connection (another process after a crash) can see. */
static long s_visible(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long v = -1;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void test_a_batch_commits_once_but_an_intent_inside_it_at_once(void **state)
{
    fx_t *fx = *state;
    sg_journal_t *j = s_open(fx);
    assert_int_equal(sg_journal_decided(j, 1, "c1", "p1", 100), 0);
    assert_int_equal(sg_journal_decided(j, 2, "c2", "p2", 100), 0);
    assert_int_equal(sg_journal_batch_begin(j), 0);
    assert_int_equal(sg_journal_batch_begin(j), SG_ESTATE);
    sg_outcome_t *o = s_outcome(SG_OUTCOME_JOB_STARTED, 1, "c1", "job-1");
    assert_int_equal(sg_journal_run_step(j, 1, "job-1", false, false, 110, o, NULL), 0);
    sg_outcome_free(&o);
    /* not yet committed: another connection does not see the step */
    assert_int_equal(s_visible(fx->journal, "SELECT count(*) FROM runs WHERE job_path IS NOT NULL"), 0);
    /* an intent commits what came before and itself, and the batch goes on */
    assert_int_equal(sg_journal_intent(j, 2, 120), 0);
    assert_int_equal(s_visible(fx->journal, "SELECT count(*) FROM runs WHERE intent_ms = 120"), 1);
    assert_int_equal(s_visible(fx->journal, "SELECT count(*) FROM runs WHERE job_path IS NOT NULL"), 1);
    o = s_outcome(SG_OUTCOME_SUCCEEDED, 1, "c1", NULL);
    assert_int_equal(sg_journal_run_step(j, 1, NULL, true, true, 130, o, NULL), 0);
    sg_outcome_free(&o);
    /* a failing step inside the batch leaves no trace and the batch goes on */
    o = s_outcome(SG_OUTCOME_SUCCEEDED, 9, "c9", NULL);
    assert_int_equal(sg_journal_run_step(j, 9, NULL, true, true, 130, o, NULL), SG_ENOTFOUND);
    sg_outcome_free(&o);
    assert_int_equal(s_visible(fx->journal, "SELECT count(*) FROM runs WHERE ended_ms = 130"), 0);
    assert_int_equal(sg_journal_batch_end(j), 0);
    assert_int_equal(s_visible(fx->journal, "SELECT count(*) FROM runs WHERE ended_ms = 130"), 1);
    assert_int_equal(s_visible(fx->journal, "SELECT count(*) FROM outcomes WHERE collection = 'c9'"), 0);
    assert_int_equal(sg_journal_batch_end(j), 0); /* no batch: nothing to do */
    sg_journal_close(&j);
}

#ifndef _WIN32
#include <sys/stat.h>

static void assert_mode(const char *dir, const char *name, unsigned want)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("%s is missing", path);
    if ((st.st_mode & 0777) != want)
        fail_msg("%s has mode %03o, not %03o", path, (unsigned)(st.st_mode & 0777), want);
}

static void test_a_new_journal_and_its_wal_and_shm_are_0600_under_umask_022(void **state)
{
    fx_t *fx = *state;
    mode_t old = umask(022);
    sg_journal_t *j = sg_journal_open(fx->journal);
    umask(old);
    assert_non_null(j);
    assert_int_equal(sg_journal_decided(j, 1, "c1", "p1", 100), 0);
    /* while it is open in WAL mode, the -wal and -shm files exist */
    assert_mode(fx->dir, "journal.db", 0600);
    assert_mode(fx->dir, "journal.db-wal", 0600);
    assert_mode(fx->dir, "journal.db-shm", 0600);
    sg_journal_close(&j);
}

/* ":memory:" is SQLite's in-memory database: no file of that name is made
 * (in the working directory or anywhere). */
static void test_an_in_memory_journal_makes_no_file(void **state)
{
    fx_t *fx = *state;
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(fx->dir), 0);
    sg_journal_t *j = sg_journal_open(":memory:");
    assert_non_null(j);
    assert_int_equal(sg_journal_decided(j, 1, "c1", "p1", 100), 0);
    sg_journal_close(&j);
    int made = access(":memory:", F_OK);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(made, -1);
}
#endif

int main(int argc, char **argv)
{
    sg_test_children(argc, argv, s_children, sizeof s_children / sizeof s_children[0]);
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_a_decision_then_its_intent_and_job_and_end_replay_in_order),
        T(test_only_the_latest_run_of_a_collection_is_replayed),
        T(test_an_outcome_is_logged_once_per_dedup_key),
        T(test_the_journal_is_in_wal_mode_with_a_growing_outcome_sequence),
        T(test_an_intent_survives_a_sigkill_right_after_it_returns),
        T(test_a_journal_of_another_schema_version_is_refused),
        T(test_a_run_never_started_can_be_abandoned_and_only_such_a_run),
        T(test_a_runs_own_recovery_point_is_replayed_after_a_reopen),
        T(test_a_version_1_journal_is_migrated_and_keeps_its_runs),
        T(test_a_batch_commits_once_but_an_intent_inside_it_at_once),
        T(test_a_new_outbox_sink_starts_at_the_end_of_the_outcome_log),
        T(test_outbox_rows_move_from_pending_to_delivered_or_dead_and_to_the_fallback),
        T(test_a_start_reads_the_journal_through_indexes_only),
        T(test_a_drills_latest_run_and_latest_pass_are_found_by_name),
        T(test_outbox_reads_a_batch_of_outcomes_and_none_for_a_seq_not_logged),
#ifndef _WIN32
        T(test_a_new_journal_and_its_wal_and_shm_are_0600_under_umask_022),
        T(test_an_in_memory_journal_makes_no_file),
#endif
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
