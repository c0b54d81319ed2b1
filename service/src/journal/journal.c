/* journal: SQLite in WAL mode, synchronous FULL, one transaction per write. */
#include "journal/journal.h"
#include "base/err.h"
#include "journal/journal_int.h"
#include "base/log.h"
#include "journal/outcome.h"
#include "platform/platform.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MOD "journal"
#define S_SCHEMA_VERSION 4
#define S_BUSY_TIMEOUT_MS 5000

static const char *s_schema =
    "CREATE TABLE IF NOT EXISTS runs ("
    "  run_id INTEGER PRIMARY KEY,"
    "  collection TEXT NOT NULL,"
    "  cim_path TEXT NOT NULL,"
    "  decided_ms INTEGER NOT NULL,"
    "  intent_ms INTEGER,"
    "  job_path TEXT,"
    "  ended_ms INTEGER,"
    "  failed_over INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS runs_by_collection ON runs (collection, run_id);"
    "CREATE TABLE IF NOT EXISTS outcomes ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  dedup_key TEXT NOT NULL UNIQUE,"
    "  run_id INTEGER,"
    "  collection TEXT,"
    "  kind TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  json TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time_ms INTEGER NOT NULL,"
    "  who TEXT NOT NULL,"
    "  role TEXT NOT NULL,"
    "  command TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  result TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS drills ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  started_ms INTEGER NOT NULL,"
    "  ended_ms INTEGER,"
    "  result TEXT,"
    "  report TEXT);"
    "CREATE INDEX IF NOT EXISTS drills_open ON drills (started_ms) WHERE ended_ms IS NULL;"
    /* a drill's history at start (sg_journal_drill_last); retention.c uses it too */
    "CREATE INDEX IF NOT EXISTS drills_by_name ON drills (name, ended_ms);"
    "CREATE TABLE IF NOT EXISTS opstate ("
    "  key TEXT PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  json TEXT NOT NULL);";

enum {
    S_DECIDED,
    S_INTENT,
    S_RUN_STATE,
    S_OUTCOME,
    S_JOB,
    S_ENDED,
    S_RUNS,
    S_COUNT,
    S_N_STMTS
};

static const char *s_sql[S_N_STMTS] = {
    [S_DECIDED] = "INSERT INTO runs (run_id, collection, cim_path, decided_ms, point, origin) "
                  "VALUES (?,?,?,?,?,?)",
    [S_INTENT] = "UPDATE runs SET intent_ms = coalesce(intent_ms, ?) WHERE run_id = ?",
    [S_RUN_STATE] = "SELECT ended_ms FROM runs WHERE run_id = ?",
    [S_OUTCOME] = "INSERT OR IGNORE INTO outcomes (dedup_key, run_id, collection, kind, time_ms, "
                  "json) VALUES (?,?,?,?,?,?)",
    [S_JOB] = "UPDATE runs SET job_path = ? WHERE run_id = ?",
    [S_ENDED] = "UPDATE runs SET ended_ms = ?, failed_over = ? WHERE run_id = ? AND ended_ms IS "
                "NULL",
    /* The latest run of each collection, read through runs_by_collection
     * one collection at a time (the collections in turn, then each one's
     * largest run id): the cost grows with the collections, not with the
     * runs the journal keeps. */
    [S_RUNS] = "WITH RECURSIVE c(name) AS (SELECT min(collection) FROM runs UNION ALL "
               "SELECT (SELECT min(collection) FROM runs WHERE collection > c.name) FROM c "
               "WHERE c.name IS NOT NULL) "
               "SELECT r.run_id, r.collection, r.cim_path, r.decided_ms, r.intent_ms, r.job_path, "
               "r.ended_ms, r.failed_over, r.point, r.origin FROM c JOIN runs r ON r.run_id = "
               "(SELECT max(run_id) FROM runs WHERE collection = c.name) ORDER BY r.run_id",
    [S_COUNT] = "SELECT count(*) FROM outcomes",
};

struct sg_journal {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[S_N_STMTS];
    bool batch; /* a batch transaction is open */
};

static int s_fail(sg_journal_t *j, const char *what)
{
    sg_error(S_MOD, "%s: %s: %s", j->path, what, sqlite3_errmsg(j->db));
    return SG_EIO;
}

static int s_exec(sg_journal_t *j, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(j->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sg_error(S_MOD, "%s: %s: %s", j->path, sql, msg ? msg : "error");
        sqlite3_free(msg);
        return SG_EIO;
    }
    return SG_OK;
}

sqlite3 *sg_journal_sqlite(sg_journal_t *j) { return j->db; }

int sg_journal_exec(sg_journal_t *j, const char *sql) { return s_exec(j, sql); }

int sg_journal_fail(sg_journal_t *j, const char *what) { return s_fail(j, what); }

/* Resets a statement for its next use and returns it. */
static sqlite3_stmt *s_stmt(sg_journal_t *j, int which)
{
    sqlite3_stmt *st = j->st[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

/* Runs a statement that returns no rows. */
static int s_step_done(sg_journal_t *j, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SG_OK : s_fail(j, what);
}

/* Schema migrations, in the open transaction: migration i takes a journal
 * of version i to i + 1. A new file is made at version 1 by s_schema and
 * migrated like an old one. */
static const char *const s_migrations[S_SCHEMA_VERSION] = {
    [1] = "ALTER TABLE runs ADD COLUMN point TEXT", /* 2: a run's own recovery point */
    [2] = "ALTER TABLE runs ADD COLUMN epoch INTEGER", /* 3: the leader's epoch of the intent */
    [3] = "ALTER TABLE runs ADD COLUMN origin TEXT",   /* 4: who decided the run */
};

static int s_migrate(sg_journal_t *j, int version)
{
    for (int v = version; v < S_SCHEMA_VERSION; v++) {
        if (s_exec(j, s_migrations[v]) != SG_OK)
            return SG_EIO;
        sg_info(S_MOD, "%s: schema version %d -> %d", j->path, v, v + 1);
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", S_SCHEMA_VERSION);
    return s_exec(j, sql);
}

static int s_check_version(sg_journal_t *j)
{
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(j->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return s_fail(j, "reading the schema version");
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version == 0) /* a new file: s_schema made version 1 */
        version = 1;
    if (version < S_SCHEMA_VERSION)
        return s_migrate(j, version);
    if (version != S_SCHEMA_VERSION) {
        sg_error(S_MOD, "%s has schema version %d; this build reads %d", j->path, version,
                 S_SCHEMA_VERSION);
        return SG_EINVAL;
    }
    return SG_OK;
}

/* Creates the file private to this user before SQLite opens it: SQLite
 * gives its -wal and -shm files the database file's mode. An existing file
 * keeps its mode; one open to others is reported (once a process: every
 * sink opens its own connection), not changed. ":memory:" (SQLite's
 * in-memory database, for tests and fuzzing) has no file. */
static int s_create_private(const char *path)
{
    static atomic_flag warned = ATOMIC_FLAG_INIT;
    bool open_to_others = false;
    if (strcmp(path, ":memory:") == 0)
        return SG_OK; /* SQLite's in-memory database: no file */
    if (sg_platform_file_private(path, &open_to_others) != SG_OK) {
        sg_error(S_MOD, "cannot create %s: %s", path, strerror(errno));
        return SG_EIO;
    }
    if (open_to_others && !atomic_flag_test_and_set(&warned))
        sg_warn(S_MOD, "%s is open to other users; make it private to siteguard's user "
                       "(chmod 600 it and its -wal and -shm files)", path);
    return SG_OK;
}

sg_journal_t *sg_journal_open(const char *path)
{
    sg_journal_t *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path))) {
        sg_error(S_MOD, "cannot open %s: out of memory", path);
        free(j);
        return NULL;
    }
    if (s_create_private(path) != SG_OK)
        goto fail;
    if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        s_fail(j, "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(j->db, S_BUSY_TIMEOUT_MS);
    if (s_exec(j, "PRAGMA journal_mode = WAL") != SG_OK ||
        s_exec(j, "PRAGMA synchronous = FULL") != SG_OK ||
        s_exec(j, "BEGIN IMMEDIATE") != SG_OK)
        goto fail;
    if (s_exec(j, s_schema) != SG_OK || s_check_version(j) != SG_OK) {
        s_exec(j, "ROLLBACK");
        goto fail;
    }
    if (s_exec(j, "COMMIT") != SG_OK)
        goto fail;
    for (int i = 0; i < S_N_STMTS; i++) {
        if (sqlite3_prepare_v2(j->db, s_sql[i], -1, &j->st[i], NULL) != SQLITE_OK) {
            s_fail(j, "preparing a statement");
            goto fail;
        }
    }
    sg_info(S_MOD, "journal %s open", path);
    return j;
fail:
    sg_journal_close(&j);
    return NULL;
}

void sg_journal_close(sg_journal_t **jp)
{
    if (!jp || !*jp)
        return;
    sg_journal_t *j = *jp;
    for (int i = 0; i < S_N_STMTS; i++)
        sqlite3_finalize(j->st[i]);
    if (j->db)
        sqlite3_close(j->db);
    free(j->path);
    free(j);
    *jp = NULL;
}

static void s_bind_text_or_null(sqlite3_stmt *st, int i, const char *text);

int sg_journal_decided(sg_journal_t *j, uint64_t run_id, const char *collection,
                       const char *cim_path, int64_t now_ms)
{
    return sg_journal_decided_point(j, run_id, collection, cim_path, NULL, now_ms);
}

int sg_journal_decided_point(sg_journal_t *j, uint64_t run_id, const char *collection,
                             const char *cim_path, const char *point, int64_t now_ms)
{
    return sg_journal_decided_run(j, run_id, collection, cim_path, point, NULL, now_ms);
}

int sg_journal_decided_run(sg_journal_t *j, uint64_t run_id, const char *collection,
                           const char *cim_path, const char *point, const char *origin,
                           int64_t now_ms)
{
    sqlite3_stmt *st = s_stmt(j, S_DECIDED);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)run_id);
    sqlite3_bind_text(st, 2, collection, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, cim_path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_ms);
    s_bind_text_or_null(st, 5, point);
    s_bind_text_or_null(st, 6, origin);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT)
        return SG_ESTATE;
    return rc == SQLITE_DONE ? SG_OK : s_fail(j, "recording a decision");
}

/* 1 when the run is open, 0 when it has ended, SG_ENOTFOUND or SG_EIO. */
static int s_run_open(sg_journal_t *j, uint64_t run_id)
{
    sqlite3_stmt *st = s_stmt(j, S_RUN_STATE);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)run_id);
    int rc = sqlite3_step(st);
    int out = rc == SQLITE_ROW ? sqlite3_column_type(st, 0) == SQLITE_NULL
              : rc == SQLITE_DONE ? SG_ENOTFOUND
                                  : s_fail(j, "reading a run");
    sqlite3_reset(st);
    return out;
}

int sg_journal_abandon(sg_journal_t *j, uint64_t run_id, int64_t now_ms)
{
    int open = s_run_open(j, run_id);
    if (open <= 0)
        return open < 0 ? open : SG_ESTATE;
    char *err = NULL;
    char *sql = sqlite3_mprintf("UPDATE runs SET ended_ms = %lld, failed_over = -1 WHERE run_id = "
                                "%lld AND intent_ms IS NULL AND ended_ms IS NULL",
                                (long long)now_ms, (long long)run_id);
    if (!sql)
        return SG_ENOMEM;
    int rc = sqlite3_exec(j->db, sql, NULL, NULL, &err);
    sqlite3_free(sql);
    sqlite3_free(err);
    if (rc != SQLITE_OK)
        return s_fail(j, "abandoning a run");
    return sqlite3_changes(j->db) == 1 ? SG_OK : SG_ESTATE;
}

int sg_journal_max_run_id(sg_journal_t *j, uint64_t *out)
{
    sqlite3_stmt *st = NULL;
    *out = 0;
    if (sqlite3_prepare_v2(j->db, "SELECT max(run_id) FROM runs", -1, &st, NULL) != SQLITE_OK)
        return s_fail(j, "reading the largest run id");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(st, 0); /* NULL (no runs) reads as 0 */
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? SG_OK : s_fail(j, "reading the largest run id");
}

int sg_journal_opstate_put(sg_journal_t *j, const char *json, int64_t now_ms)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(j->db,
                           "INSERT OR REPLACE INTO opstate (key, time_ms, json) VALUES "
                           "('engine', ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return s_fail(j, "saving the operator state");
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_text(st, 2, json, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SG_OK : s_fail(j, "saving the operator state");
}

int sg_journal_opstate_get(sg_journal_t *j, char **json)
{
    sqlite3_stmt *st = NULL;
    *json = NULL;
    if (sqlite3_prepare_v2(j->db, "SELECT json FROM opstate WHERE key = 'engine'", -1, &st,
                           NULL) != SQLITE_OK)
        return s_fail(j, "reading the operator state");
    int rc = sqlite3_step(st), out = SG_ENOTFOUND;
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        *json = t ? strdup((const char *)t) : NULL;
        out = *json ? SG_OK : SG_ENOMEM;
    } else if (rc != SQLITE_DONE) {
        out = s_fail(j, "reading the operator state");
    }
    sqlite3_finalize(st);
    return out;
}

int sg_journal_batch_begin(sg_journal_t *j)
{
    if (j->batch)
        return SG_ESTATE;
    int rc = s_exec(j, "BEGIN IMMEDIATE");
    j->batch = rc == SG_OK;
    return rc;
}

int sg_journal_batch_end(sg_journal_t *j)
{
    if (!j->batch)
        return SG_OK;
    j->batch = false;
    return s_exec(j, "COMMIT");
}

static int s_intent(sg_journal_t *j, uint64_t run_id, int64_t now_ms)
{
    int open = s_run_open(j, run_id);
    if (open < 0)
        return open;
    if (!open)
        return SG_ESTATE;
    sqlite3_stmt *st = s_stmt(j, S_INTENT);
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)run_id);
    return s_step_done(j, st, "committing an intent");
}

/* An intent is committed on its own, after whatever a batch holds, before
 * the call it announces can be made; the batch then goes on. */
int sg_journal_intent(sg_journal_t *j, uint64_t run_id, int64_t now_ms)
{
    if (!j->batch)
        return s_intent(j, run_id, now_ms);
    int rc = sg_journal_batch_end(j);
    if (rc == SG_OK)
        rc = s_intent(j, run_id, now_ms);
    int again = sg_journal_batch_begin(j);
    return rc != SG_OK ? rc : again;
}

static int s_epoch(sg_journal_t *j, uint64_t run_id, uint64_t epoch)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(j->db, "UPDATE runs SET epoch = ? WHERE run_id = ? AND intent_ms IS NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return s_fail(j, "recording the epoch of an intent");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)epoch);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SG_OK : s_fail(j, "recording the epoch of an intent");
}

/* The epoch and the intent in one commit of their own (a batch commits first). */
int sg_journal_intent_epoch(sg_journal_t *j, uint64_t run_id, uint64_t epoch, int64_t now_ms)
{
    bool in_batch = j->batch;
    int rc = in_batch ? sg_journal_batch_end(j) : SG_OK;
    rc = rc ? rc : sg_journal_batch_begin(j);
    rc = rc ? rc : s_epoch(j, run_id, epoch);
    rc = rc ? rc : s_intent(j, run_id, now_ms);
    if (rc != SG_OK && j->batch) {
        s_exec(j, "ROLLBACK");
        j->batch = false;
    }
    int end = sg_journal_batch_end(j);
    rc = rc ? rc : end;
    int again = in_batch ? sg_journal_batch_begin(j) : SG_OK;
    return rc != SG_OK ? rc : again;
}

int sg_journal_intent_batched(sg_journal_t *j, uint64_t run_id, uint64_t epoch, int64_t now_ms)
{
    if (!j->batch)
        return SG_ESTATE;
    int rc = s_exec(j, "SAVEPOINT intent");
    if (rc != SG_OK)
        return rc;
    rc = epoch ? s_epoch(j, run_id, epoch) : SG_OK;
    rc = rc ? rc : s_intent(j, run_id, now_ms);
    if (rc != SG_OK && s_exec(j, "ROLLBACK TO intent") != SG_OK)
        rc = SG_EIO;
    int released = s_exec(j, "RELEASE intent");
    return rc != SG_OK ? rc : released;
}

static void s_bind_text_or_null(sqlite3_stmt *st, int i, const char *text)
{
    if (text)
        sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Appends the outcome inside the caller's transaction (or its own). */
static int s_append(sg_journal_t *j, const sg_outcome_t *o, bool *added)
{
    if (!o->dedup_key || !o->json)
        return SG_EINVAL;
    sqlite3_stmt *st = s_stmt(j, S_OUTCOME);
    sqlite3_bind_text(st, 1, o->dedup_key, -1, SQLITE_STATIC);
    if (o->run_id)
        sqlite3_bind_int64(st, 2, (sqlite3_int64)o->run_id);
    else
        sqlite3_bind_null(st, 2);
    s_bind_text_or_null(st, 3, o->collection);
    sqlite3_bind_text(st, 4, sg_outcome_kind_name(o->kind), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, o->time_ms);
    sqlite3_bind_text(st, 6, o->json, -1, SQLITE_STATIC);
    int rc = s_step_done(j, st, "appending an outcome");
    if (rc == SG_OK && added)
        *added = sqlite3_changes(j->db) > 0;
    return rc;
}

int sg_journal_outcome(sg_journal_t *j, const sg_outcome_t *o, bool *added)
{
    if (added)
        *added = false;
    return s_append(j, o, added);
}

static int s_set_job(sg_journal_t *j, uint64_t run_id, const char *job_path)
{
    sqlite3_stmt *st = s_stmt(j, S_JOB);
    sqlite3_bind_text(st, 1, job_path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)run_id);
    return s_step_done(j, st, "recording a job");
}

/* result: 1 failed over, 0 failed, -1 not carried out (abandoned, cancelled) */
static int s_set_ended(sg_journal_t *j, uint64_t run_id, int result, int64_t now_ms)
{
    sqlite3_stmt *st = s_stmt(j, S_ENDED);
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int(st, 2, result);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)run_id);
    return s_step_done(j, st, "ending a run");
}

static int s_run_step(sg_journal_t *j, uint64_t run_id, const char *job_path, bool ended,
                      int result, int64_t now_ms, const sg_outcome_t *o, bool *added);

int sg_journal_run_step(sg_journal_t *j, uint64_t run_id, const char *job_path, bool ended,
                        bool failed_over, int64_t now_ms, const sg_outcome_t *o, bool *added)
{
    return s_run_step(j, run_id, job_path, ended, failed_over ? 1 : 0, now_ms, o, added);
}

int sg_journal_run_cancelled(sg_journal_t *j, uint64_t run_id, int64_t now_ms,
                             const sg_outcome_t *o, bool *added)
{
    return s_run_step(j, run_id, NULL, true, -1, now_ms, o, added);
}

static int s_run_step(sg_journal_t *j, uint64_t run_id, const char *job_path, bool ended,
                      int result, int64_t now_ms, const sg_outcome_t *o, bool *added)
{
    if (added)
        *added = false;
    /* in a batch, a savepoint keeps the step whole; else its own transaction */
    int rc = s_exec(j, j->batch ? "SAVEPOINT step" : "BEGIN IMMEDIATE");
    if (rc != SG_OK)
        return rc;
    int open = s_run_open(j, run_id);
    if (open < 0) {
        rc = open;
        goto fail;
    }
    if ((o && (rc = s_append(j, o, added)) != SG_OK) ||
        (job_path && (rc = s_set_job(j, run_id, job_path)) != SG_OK) ||
        (ended && (rc = s_set_ended(j, run_id, result, now_ms)) != SG_OK))
        goto fail;
    return s_exec(j, j->batch ? "RELEASE step" : "COMMIT");
fail:
    if (j->batch) {
        s_exec(j, "ROLLBACK TO step");
        s_exec(j, "RELEASE step");
    } else {
        s_exec(j, "ROLLBACK");
    }
    if (added)
        *added = false;
    return rc;
}

static char *s_col_text(sqlite3_stmt *st, int i, bool *oom)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t)
        return NULL;
    char *copy = strdup((const char *)t);
    if (!copy)
        *oom = true;
    return copy;
}

static int s_read_run(sqlite3_stmt *st, sg_journal_run_t *r)
{
    bool oom = false;
    r->run_id = (uint64_t)sqlite3_column_int64(st, 0);
    r->collection = s_col_text(st, 1, &oom);
    r->cim_path = s_col_text(st, 2, &oom);
    r->decided_ms = sqlite3_column_int64(st, 3);
    r->intent_ms = sqlite3_column_int64(st, 4); /* NULL reads as 0 */
    r->job_path = s_col_text(st, 5, &oom);
    r->ended_ms = sqlite3_column_int64(st, 6);
    r->failed_over = sqlite3_column_int(st, 7) > 0;
    r->abandoned = sqlite3_column_int(st, 7) < 0;
    r->point = s_col_text(st, 8, &oom);
    r->origin = s_col_text(st, 9, &oom);
    return oom ? SG_ENOMEM : SG_OK;
}

/* Steps `st` to its end, reading each row with `read` into a new element
 * (of `size` bytes, zeroed first) of a growing array. Returns 0 with the
 * array in *out and its length in *n, or an error; either way *out and *n
 * say what was read, for the caller to keep or free. */
typedef int (*s_row_fn)(sqlite3_stmt *st, void *elem);

static int s_collect(sg_journal_t *j, sqlite3_stmt *st, size_t size, s_row_fn read, void **out,
                     size_t *n, const char *what)
{
    char *list = NULL;
    size_t cap = 0;
    int rc = SG_OK, step;
    *out = NULL;
    *n = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char *grown = realloc(list, ncap * size);
            if (!grown)
                return SG_ENOMEM; /* *out still holds what was read */
            *out = list = grown;
            cap = ncap;
        }
        char *elem = list + *n * size;
        memset(elem, 0, size);
        (*n)++;
        if ((rc = read(st, elem)) != SG_OK)
            return rc;
    }
    return step == SQLITE_DONE ? SG_OK : s_fail(j, what);
}

static int s_read_run_row(sqlite3_stmt *st, void *elem) { return s_read_run(st, elem); }

int sg_journal_runs(sg_journal_t *j, sg_journal_run_t **out, size_t *n)
{
    sqlite3_stmt *st = s_stmt(j, S_RUNS);
    void *list = NULL;
    int rc = s_collect(j, st, sizeof **out, s_read_run_row, &list, n, "reading runs");
    sqlite3_reset(st);
    if (rc != SG_OK) {
        sg_journal_runs_free(list, *n);
        *n = 0;
        list = NULL;
    }
    *out = list;
    return rc;
}

void sg_journal_runs_free(sg_journal_run_t *runs, size_t n)
{
    for (size_t i = 0; runs && i < n; i++) {
        free(runs[i].collection);
        free(runs[i].cim_path);
        free(runs[i].job_path);
        free(runs[i].point);
        free(runs[i].origin);
    }
    free(runs);
}

long sg_journal_outcome_count(sg_journal_t *j)
{
    sqlite3_stmt *st = s_stmt(j, S_COUNT);
    long n = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0)
                                            : (long)s_fail(j, "counting outcomes");
    sqlite3_reset(st);
    return n;
}

/* ---- the audit trail ------------------------------------------------------ */

int sg_journal_audit(sg_journal_t *j, const sg_journal_audit_t *a)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(j->db, "INSERT INTO audit (time_ms, who, role, command, target, "
                                  "reason, result) VALUES (?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return s_fail(j, "preparing an audit entry");
    const char *text[] = {a->who, a->role, a->command, a->target, a->reason, a->result};
    sqlite3_bind_int64(st, 1, a->time_ms);
    for (int i = 0; i < 6; i++)
        sqlite3_bind_text(st, i + 2, text[i] ? text[i] : "", -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_DONE ? SG_OK : s_fail(j, "writing an audit entry");
    sqlite3_finalize(st);
    return rc;
}

static int s_read_audit(sqlite3_stmt *st, sg_journal_audit_t *a)
{
    bool oom = false;
    a->seq = (uint64_t)sqlite3_column_int64(st, 0);
    a->time_ms = sqlite3_column_int64(st, 1);
    char **text[] = {&a->who, &a->role, &a->command, &a->target, &a->reason, &a->result};
    for (int i = 0; i < 6; i++)
        *text[i] = s_col_text(st, i + 2, &oom);
    return oom ? SG_ENOMEM : SG_OK;
}

static int s_read_audit_row(sqlite3_stmt *st, void *elem) { return s_read_audit(st, elem); }

int sg_journal_audit_list(sg_journal_t *j, size_t limit, sg_journal_audit_t **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(j->db, "SELECT * FROM (SELECT seq, time_ms, who, role, command, "
                                  "target, reason, result FROM audit ORDER BY seq DESC LIMIT ?) "
                                  "ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return s_fail(j, "preparing the audit list");
    sqlite3_bind_int64(st, 1, limit ? (sqlite3_int64)limit : -1);
    void *list = NULL;
    int rc = s_collect(j, st, sizeof **out, s_read_audit_row, &list, n, "reading the audit trail");
    sqlite3_finalize(st);
    if (rc != SG_OK) {
        sg_journal_audit_free(list, *n);
        *n = 0;
        list = NULL;
    }
    *out = list;
    return rc;
}

void sg_journal_audit_free(sg_journal_audit_t *entries, size_t n)
{
    for (size_t i = 0; entries && i < n; i++) {
        free(entries[i].who);
        free(entries[i].role);
        free(entries[i].command);
        free(entries[i].target);
        free(entries[i].reason);
        free(entries[i].result);
    }
    free(entries);
}

/* --- The alert outbox ------------------------------------------------------------------------
 * Statements are prepared per call: the outbox is used by the sink workers,
 * a few statements per delivery, so preparing costs nothing that matters and
 * keeps these functions apart from the loop thread's prepared set. */

static const char *s_outbox_schema =
    "CREATE TABLE IF NOT EXISTS outbox_sinks ("
    "  sink TEXT PRIMARY KEY,"
    "  cursor INTEGER NOT NULL,"
    "  failures INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS outbox ("
    "  sink TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0,"
    "  site TEXT,"
    "  base INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  grp TEXT,"
    "  done_ms INTEGER,"
    "  error TEXT,"
    "  PRIMARY KEY (sink, seq)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS outbox_by_state ON outbox (sink, state, seq);";

static sqlite3_stmt *s_ob_prepare(sg_journal_t *j, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) != SQLITE_OK) {
        s_fail(j, "preparing an outbox statement");
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Runs `sql` (no rows) directly, so these transactions do not depend on how
 * the loop thread's writes are committed. */
static int s_ob_exec(sg_journal_t *j, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(j->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sg_error(S_MOD, "%s: outbox: %s: %s", j->path, sql, msg ? msg : "error");
        sqlite3_free(msg);
        return SG_EIO;
    }
    return SG_OK;
}

static int s_ob_end(sg_journal_t *j, int rc)
{
    if (rc == SG_OK)
        rc = s_ob_exec(j, "COMMIT");
    if (rc != SG_OK && !sqlite3_get_autocommit(j->db))
        s_ob_exec(j, "ROLLBACK");
    return rc;
}

int sg_journal_outbox_init(sg_journal_t *j, bool relaxed)
{
    int rc = s_ob_exec(j, s_outbox_schema);
    if (rc == SG_OK && relaxed)
        rc = s_ob_exec(j, "PRAGMA synchronous = NORMAL");
    return rc;
}

/* The sink's row; SG_ENOTFOUND when it has none. */
static int s_ob_read_sink(sg_journal_t *j, const char *sink, uint64_t *cursor, int64_t *failures)
{
    sqlite3_stmt *st = s_ob_prepare(j, "SELECT cursor, failures FROM outbox_sinks WHERE sink = ?");
    if (!st)
        return SG_EIO;
    sqlite3_bind_text(st, 1, sink, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW ? SG_OK : step == SQLITE_DONE ? SG_ENOTFOUND
                                                               : s_fail(j, "reading a sink");
    if (rc == SG_OK) {
        *cursor = (uint64_t)sqlite3_column_int64(st, 0);
        *failures = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return rc;
}

int sg_journal_outbox_sink(sg_journal_t *j, const char *sink, uint64_t *cursor,
                           int64_t *failures, bool *created)
{
    if (created)
        *created = false;
    int rc = s_ob_exec(j, "BEGIN IMMEDIATE");
    if (rc != SG_OK)
        return rc;
    rc = s_ob_read_sink(j, sink, cursor, failures);
    if (rc == SG_ENOTFOUND) {
        sqlite3_stmt *st = s_ob_prepare(j, "INSERT INTO outbox_sinks (sink, cursor, failures) "
                                           "SELECT ?, coalesce(max(seq), 0), 0 FROM outcomes");
        rc = st ? SG_OK : SG_EIO;
        if (st) {
            sqlite3_bind_text(st, 1, sink, -1, SQLITE_STATIC);
            rc = sqlite3_step(st) == SQLITE_DONE ? SG_OK : s_fail(j, "adding a sink");
            sqlite3_finalize(st);
        }
        rc = rc ? rc : s_ob_read_sink(j, sink, cursor, failures);
        if (rc == SG_OK && created)
            *created = true;
    }
    return s_ob_end(j, rc);
}

static int s_read_logged_row(sqlite3_stmt *st, void *elem)
{
    sg_journal_logged_t *r = elem;
    bool oom = false;
    r->seq = (uint64_t)sqlite3_column_int64(st, 0);
    r->kind = s_col_text(st, 1, &oom);
    r->time_ms = sqlite3_column_int64(st, 2);
    r->json = s_col_text(st, 3, &oom);
    return oom || !r->kind || !r->json ? SG_ENOMEM : SG_OK;
}

int sg_journal_outbox_after(sg_journal_t *j, uint64_t cursor, size_t limit,
                            sg_journal_logged_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = s_ob_prepare(
        j, "SELECT seq, kind, time_ms, json FROM outcomes WHERE seq > ? ORDER BY seq LIMIT ?");
    if (!st)
        return SG_EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)cursor);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    void *rows = NULL;
    int rc = s_collect(j, st, sizeof **out, s_read_logged_row, &rows, n, "reading the outcome log");
    sqlite3_finalize(st);
    if (rc != SG_OK) {
        sg_journal_logged_free(rows, *n);
        *n = 0;
        return rc;
    }
    *out = rows;
    return SG_OK;
}

void sg_journal_logged_free(sg_journal_logged_t *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].kind);
        free(rows[i].json);
    }
    free(rows);
}

/* Steps a one-row statement over every seq, rebinding seq at `seq_param`. */
static int s_ob_each_seq(sg_journal_t *j, sqlite3_stmt *st, int seq_param, const uint64_t *seqs,
                         size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, seq_param, (sqlite3_int64)seqs[i]);
        if (sqlite3_step(st) != SQLITE_DONE)
            return s_fail(j, what);
    }
    return SG_OK;
}

int sg_journal_outbox_queue(sg_journal_t *j, const char *sink, const uint64_t *seqs,
                            const char *const *sites, size_t n, uint64_t cursor)
{
    int rc = s_ob_exec(j, "BEGIN IMMEDIATE");
    if (rc != SG_OK)
        return rc;
    sqlite3_stmt *ins = s_ob_prepare(
        j, "INSERT OR IGNORE INTO outbox (sink, seq, state, site, base) VALUES (?1, ?2, 0, ?3, "
           "(SELECT failures FROM outbox_sinks WHERE sink = ?1))");
    sqlite3_stmt *cur = s_ob_prepare(j, "UPDATE outbox_sinks SET cursor = max(cursor, ?) "
                                        "WHERE sink = ?");
    if (!ins || !cur)
        rc = SG_EIO;
    for (size_t i = 0; rc == SG_OK && i < n; i++) {
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, sink, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, (sqlite3_int64)seqs[i]);
        s_bind_text_or_null(ins, 3, sites ? sites[i] : NULL);
        if (sqlite3_step(ins) != SQLITE_DONE)
            rc = s_fail(j, "queueing an outcome for a sink");
    }
    if (rc == SG_OK) {
        sqlite3_bind_int64(cur, 1, (sqlite3_int64)cursor);
        sqlite3_bind_text(cur, 2, sink, -1, SQLITE_STATIC);
        if (sqlite3_step(cur) != SQLITE_DONE)
            rc = s_fail(j, "moving a sink's cursor");
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(cur);
    return s_ob_end(j, rc);
}

static int s_ob_read_row(sqlite3_stmt *st, sg_outbox_row_t *r)
{
    bool oom = false;
    r->seq = (uint64_t)sqlite3_column_int64(st, 0);
    r->kind = s_col_text(st, 1, &oom);
    r->time_ms = sqlite3_column_int64(st, 2);
    r->site = s_col_text(st, 3, &oom);
    r->base = sqlite3_column_int64(st, 4);
    r->attempts = sqlite3_column_int(st, 5);
    r->grp = s_col_text(st, 6, &oom);
    return oom || !r->kind ? SG_ENOMEM : SG_OK;
}

static int s_ob_read_row_elem(sqlite3_stmt *st, void *elem) { return s_ob_read_row(st, elem); }

int sg_journal_outbox_pending(sg_journal_t *j, const char *sink, size_t limit,
                              sg_outbox_row_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = s_ob_prepare(
        /* by (sink, state, seq): without statistics SQLite would walk every
           row the sink ever had, delivered ones included */
        j, "SELECT b.seq, o.kind, o.time_ms, b.site, b.base, b.attempts, b.grp FROM outbox b "
           "INDEXED BY outbox_by_state JOIN outcomes o ON o.seq = b.seq WHERE b.sink = ? AND "
           "b.state = 0 ORDER BY b.seq LIMIT ?");
    if (!st)
        return SG_EIO;
    sqlite3_bind_text(st, 1, sink, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    void *rows = NULL;
    int rc = s_collect(j, st, sizeof **out, s_ob_read_row_elem, &rows, n,
                       "reading a sink's pending outcomes");
    sqlite3_finalize(st);
    if (rc != SG_OK) {
        sg_outbox_rows_free(rows, *n);
        *n = 0;
        return rc;
    }
    *out = rows;
    return SG_OK;
}

void sg_outbox_rows_free(sg_outbox_row_t *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].kind);
        free(rows[i].site);
        free(rows[i].grp);
    }
    free(rows);
}

int sg_journal_outbox_json(sg_journal_t *j, uint64_t seq, char **json)
{
    *json = NULL;
    sqlite3_stmt *st = s_ob_prepare(j, "SELECT json FROM outcomes WHERE seq = ?");
    if (!st)
        return SG_EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    int step = sqlite3_step(st), rc = SG_OK;
    bool oom = false;
    if (step == SQLITE_ROW) {
        *json = s_col_text(st, 0, &oom);
        rc = oom || !*json ? SG_ENOMEM : SG_OK;
    } else {
        rc = step == SQLITE_DONE ? SG_ENOTFOUND : s_fail(j, "reading an outcome");
    }
    sqlite3_finalize(st);
    return rc;
}

/* Reads jsons[i] for each seqs[i] with one prepared statement; NULL where
 * the log has no such outcome. */
static int s_ob_read_jsons(sg_journal_t *j, sqlite3_stmt *st, const uint64_t *seqs, size_t n,
                           char **jsons)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)seqs[i]);
        int step = sqlite3_step(st);
        bool oom = false;
        if (step == SQLITE_ROW)
            jsons[i] = s_col_text(st, 0, &oom);
        if (oom)
            return SG_ENOMEM;
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            return s_fail(j, "reading outcomes");
    }
    return SG_OK;
}

int sg_journal_outbox_jsons(sg_journal_t *j, const uint64_t *seqs, size_t n, char **jsons)
{
    memset(jsons, 0, n * sizeof *jsons);
    int rc = s_ob_exec(j, "BEGIN");
    if (rc != SG_OK)
        return rc;
    sqlite3_stmt *st = s_ob_prepare(j, "SELECT json FROM outcomes WHERE seq = ?");
    rc = st ? s_ob_read_jsons(j, st, seqs, n, jsons) : SG_EIO;
    sqlite3_finalize(st);
    rc = s_ob_end(j, rc);
    for (size_t i = 0; rc != SG_OK && i < n; i++) {
        free(jsons[i]);
        jsons[i] = NULL;
    }
    return rc;
}

/* One transaction running `sql` for each seq; ?1 sink, ?2 seq, ?3 text and
 * ?4 integer when the statement uses them. */
static int s_ob_rows_update(sg_journal_t *j, const char *sql, const char *sink,
                            const uint64_t *seqs, size_t n, const char *text, int64_t number,
                            const char *what)
{
    int rc = s_ob_exec(j, "BEGIN IMMEDIATE");
    if (rc != SG_OK)
        return rc;
    sqlite3_stmt *st = s_ob_prepare(j, sql);
    if (!st) {
        rc = SG_EIO;
    } else {
        sqlite3_bind_text(st, 1, sink, -1, SQLITE_STATIC);
        s_bind_text_or_null(st, 3, text);
        sqlite3_bind_int64(st, 4, number);
        rc = s_ob_each_seq(j, st, 2, seqs, n, what);
    }
    sqlite3_finalize(st);
    return s_ob_end(j, rc);
}

int sg_journal_outbox_seal(sg_journal_t *j, const char *sink, const uint64_t *seqs, size_t n,
                           const char *grp)
{
    return s_ob_rows_update(j, "UPDATE outbox SET grp = ?3 WHERE sink = ?1 AND seq = ?2 AND "
                               "state = 0",
                            sink, seqs, n, grp, 0, "sealing a group");
}

int sg_journal_outbox_delivered(sg_journal_t *j, const char *sink, const uint64_t *seqs,
                                size_t n, int64_t now_ms)
{
    return s_ob_rows_update(j, "UPDATE outbox SET state = 1, done_ms = ?4 WHERE sink = ?1 AND seq = "
                               "?2 AND state = 0",
                            sink, seqs, n, NULL, now_ms, "marking a delivery");
}

int sg_journal_outbox_failed(sg_journal_t *j, const char *sink, const uint64_t *seqs, size_t n,
                             const char *error, int64_t *failures)
{
    int rc = s_ob_exec(j, "BEGIN IMMEDIATE");
    if (rc != SG_OK)
        return rc;
    sqlite3_stmt *st = s_ob_prepare(j, "UPDATE outbox SET attempts = attempts + 1, error = ?3 "
                                       "WHERE sink = ?1 AND seq = ?2");
    sqlite3_stmt *up = s_ob_prepare(j, "UPDATE outbox_sinks SET failures = failures + 1 "
                                       "WHERE sink = ?");
    if (!st || !up) {
        rc = SG_EIO;
    } else {
        sqlite3_bind_text(st, 1, sink, -1, SQLITE_STATIC);
        s_bind_text_or_null(st, 3, error);
        rc = s_ob_each_seq(j, st, 2, seqs, n, "recording a failed delivery");
        sqlite3_bind_text(up, 1, sink, -1, SQLITE_STATIC);
        if (rc == SG_OK && sqlite3_step(up) != SQLITE_DONE)
            rc = s_fail(j, "counting a sink's failure");
    }
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    uint64_t cursor = 0;
    if (rc == SG_OK)
        rc = s_ob_read_sink(j, sink, &cursor, failures);
    return s_ob_end(j, rc);
}

int sg_journal_outbox_dead(sg_journal_t *j, const char *sink, const uint64_t *seqs, size_t n,
                           const char *error, int64_t now_ms, const char *fallback)
{
    int rc = s_ob_exec(j, "BEGIN IMMEDIATE");
    if (rc != SG_OK)
        return rc;
    sqlite3_stmt *st = s_ob_prepare(j, "UPDATE outbox SET state = 2, done_ms = ?4, error = ?3 "
                                       "WHERE sink = ?1 AND seq = ?2 AND state = 0");
    sqlite3_stmt *fb = !fallback ? NULL : s_ob_prepare(
        j, "INSERT OR IGNORE INTO outbox (sink, seq, state, site, base) SELECT ?3, seq, 0, site, "
           "coalesce((SELECT failures FROM outbox_sinks WHERE sink = ?3), 0) FROM outbox WHERE "
           "sink = ?1 AND seq = ?2");
    if (!st || (fallback && !fb)) {
        rc = SG_EIO;
    } else {
        sqlite3_bind_text(st, 1, sink, -1, SQLITE_STATIC);
        s_bind_text_or_null(st, 3, error);
        sqlite3_bind_int64(st, 4, now_ms);
        rc = s_ob_each_seq(j, st, 2, seqs, n, "dead-lettering");
        if (rc == SG_OK && fb) {
            sqlite3_bind_text(fb, 1, sink, -1, SQLITE_STATIC);
            sqlite3_bind_text(fb, 3, fallback, -1, SQLITE_STATIC);
            rc = s_ob_each_seq(j, fb, 2, seqs, n, "handing a dead letter to the fallback");
        }
    }
    sqlite3_finalize(st);
    sqlite3_finalize(fb);
    return s_ob_end(j, rc);
}

long sg_journal_outbox_count(sg_journal_t *j, const char *sink, int state)
{
    sqlite3_stmt *st = s_ob_prepare(j, "SELECT count(*) FROM outbox WHERE sink = ? AND state = ?");
    if (!st)
        return SG_EIO;
    sqlite3_bind_text(st, 1, sink, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, state);
    long n = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0)
                                            : (long)s_fail(j, "counting outbox rows");
    sqlite3_finalize(st);
    return n;
}

/* ---- drills ------------------------------------------------------------------ */

int sg_journal_drill_begin(sg_journal_t *j, const char *id, const char *name, int64_t started_ms)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(j->db, "INSERT INTO drills (id, name, started_ms) VALUES (?,?,?)", -1,
                           &st, NULL) != SQLITE_OK)
        return s_fail(j, "preparing a drill row");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, started_ms);
    int step = sqlite3_step(st);
    int rc = step == SQLITE_DONE         ? SG_OK
             : (step & 0xff) == SQLITE_CONSTRAINT ? SG_ESTATE
                                         : s_fail(j, "writing a drill row");
    sqlite3_finalize(st);
    return rc;
}

int sg_journal_drill_end(sg_journal_t *j, const char *id, int64_t ended_ms, const char *result,
                         const char *report)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(j->db, "UPDATE drills SET ended_ms = ?, result = ?, report = ? "
                                  "WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return s_fail(j, "preparing a drill end");
    sqlite3_bind_int64(st, 1, ended_ms);
    sqlite3_bind_text(st, 2, result, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, report, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_DONE ? SG_OK : s_fail(j, "writing a drill end");
    if (rc == SG_OK && sqlite3_changes(j->db) == 0)
        rc = SG_ENOTFOUND;
    sqlite3_finalize(st);
    return rc;
}

int sg_journal_drill_report(sg_journal_t *j, const char *id, char **report)
{
    sqlite3_stmt *st = NULL;
    *report = NULL;
    const char *sql = id ? "SELECT report FROM drills WHERE id = ? AND report IS NOT NULL"
                         : "SELECT report FROM drills WHERE report IS NOT NULL "
                           "ORDER BY ended_ms DESC, rowid DESC LIMIT 1";
    if (sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) != SQLITE_OK)
        return s_fail(j, "preparing a drill report query");
    if (id)
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st), rc = SG_OK;
    bool oom = false;
    if (step == SQLITE_ROW) {
        *report = s_col_text(st, 0, &oom);
        rc = oom ? SG_ENOMEM : SG_OK;
    } else {
        rc = step == SQLITE_DONE ? SG_ENOTFOUND : s_fail(j, "reading a drill report");
    }
    sqlite3_finalize(st);
    return rc;
}

int sg_journal_drill_last(sg_journal_t *j, const char *name, const char *result,
                          int64_t *ended_ms, char **result_out)
{
    sqlite3_stmt *st = NULL;
    *ended_ms = -1;
    if (result_out)
        *result_out = NULL;
    if (sqlite3_prepare_v2(j->db, "SELECT ended_ms, result FROM drills WHERE name = ?1 AND "
                                  "ended_ms IS NOT NULL AND (?2 IS NULL OR result = ?2) "
                                  "ORDER BY ended_ms DESC, rowid DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return s_fail(j, "preparing a drill history query");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if (result)
        sqlite3_bind_text(st, 2, result, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st), rc = SG_OK;
    if (step == SQLITE_ROW) {
        bool oom = false;
        *ended_ms = sqlite3_column_int64(st, 0);
        if (result_out)
            *result_out = s_col_text(st, 1, &oom);
        rc = oom ? SG_ENOMEM : SG_OK;
    } else {
        rc = step == SQLITE_DONE ? SG_ENOTFOUND : s_fail(j, "reading a drill history");
    }
    sqlite3_finalize(st);
    return rc;
}

/* Reads column 0 of every row of `st` (finalized here) as text into a new
 * array: *out (free each and the array) holds *n. 0, SG_ENOMEM or SG_EIO
 * (logged as reading `what`); on error nothing is returned. */
static int s_text_rows(sg_journal_t *j, sqlite3_stmt *st, char ***out, size_t *n,
                       const char *what)
{
    char **list = NULL;
    size_t len = 0;
    int rc = SG_OK, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        bool oom = false;
        char **grown = realloc(list, (len + 1) * sizeof *grown);
        if (!grown) {
            rc = SG_ENOMEM;
            break;
        }
        list = grown;
        list[len] = s_col_text(st, 0, &oom);
        if (oom || !list[len]) {
            rc = SG_ENOMEM;
            break;
        }
        len++;
    }
    if (rc == SG_OK && step != SQLITE_DONE)
        rc = s_fail(j, what);
    sqlite3_finalize(st);
    if (rc != SG_OK) {
        for (size_t i = 0; i < len; i++)
            free(list[i]);
        free(list);
        return rc;
    }
    *out = list;
    *n = len;
    return SG_OK;
}

int sg_journal_drill_reports(sg_journal_t *j, const char *name, size_t limit, char ***reports,
                             size_t *n)
{
    sqlite3_stmt *st = NULL;
    *reports = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(j->db, "SELECT report FROM drills WHERE report IS NOT NULL AND "
                                  "(?1 IS NULL OR name = ?1) ORDER BY ended_ms DESC, rowid DESC "
                                  "LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return s_fail(j, "preparing a drill history query");
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
    int rc = s_text_rows(j, st, reports, n, "reading the drill history");
    char **list = *reports;
    for (size_t i = 0; rc == SG_OK && i < *n / 2; i++) { /* newest first: oldest first here */
        char *t = list[i];
        list[i] = list[*n - 1 - i];
        list[*n - 1 - i] = t;
    }
    return rc;
}

int sg_journal_drills_open(sg_journal_t *j, char ***ids, size_t *n)
{
    sqlite3_stmt *st = NULL;
    *ids = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(j->db, "SELECT id FROM drills WHERE ended_ms IS NULL ORDER BY "
                                  "started_ms, rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return s_fail(j, "preparing the open drills query");
    return s_text_rows(j, st, ids, n, "reading the open drills");
}
