/* journal: SQLite in WAL mode, synchronous FULL, one transaction per write. */
#include "journal.h"
#include "err.h"
#include "log.h"
#include "outcome.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define S_MOD "journal"
#define S_SCHEMA_VERSION 1
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
    [S_DECIDED] = "INSERT INTO runs (run_id, collection, cim_path, decided_ms) VALUES (?,?,?,?)",
    [S_INTENT] = "UPDATE runs SET intent_ms = coalesce(intent_ms, ?) WHERE run_id = ?",
    [S_RUN_STATE] = "SELECT ended_ms FROM runs WHERE run_id = ?",
    [S_OUTCOME] = "INSERT OR IGNORE INTO outcomes (dedup_key, run_id, collection, kind, time_ms, "
                  "json) VALUES (?,?,?,?,?,?)",
    [S_JOB] = "UPDATE runs SET job_path = ? WHERE run_id = ?",
    [S_ENDED] = "UPDATE runs SET ended_ms = ?, failed_over = ? WHERE run_id = ? AND ended_ms IS "
                "NULL",
    [S_RUNS] = "SELECT run_id, collection, cim_path, decided_ms, intent_ms, job_path, ended_ms, "
               "failed_over FROM runs WHERE run_id IN (SELECT max(run_id) FROM runs GROUP BY "
               "collection) ORDER BY run_id",
    [S_COUNT] = "SELECT count(*) FROM outcomes",
};

struct sg_journal {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[S_N_STMTS];
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

static int s_check_version(sg_journal_t *j)
{
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(j->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return s_fail(j, "reading the schema version");
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version == 0)
        return s_exec(j, "PRAGMA user_version = 1");
    if (version != S_SCHEMA_VERSION) {
        sg_error(S_MOD, "%s has schema version %d; this build reads %d", j->path, version,
                 S_SCHEMA_VERSION);
        return SG_EINVAL;
    }
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

int sg_journal_decided(sg_journal_t *j, uint64_t run_id, const char *collection,
                       const char *cim_path, int64_t now_ms)
{
    sqlite3_stmt *st = s_stmt(j, S_DECIDED);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)run_id);
    sqlite3_bind_text(st, 2, collection, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, cim_path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_ms);
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

int sg_journal_intent(sg_journal_t *j, uint64_t run_id, int64_t now_ms)
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

static int s_set_ended(sg_journal_t *j, uint64_t run_id, bool failed_over, int64_t now_ms)
{
    sqlite3_stmt *st = s_stmt(j, S_ENDED);
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int(st, 2, failed_over ? 1 : 0);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)run_id);
    return s_step_done(j, st, "ending a run");
}

int sg_journal_run_step(sg_journal_t *j, uint64_t run_id, const char *job_path, bool ended,
                        bool failed_over, int64_t now_ms, const sg_outcome_t *o, bool *added)
{
    if (added)
        *added = false;
    int rc = s_exec(j, "BEGIN IMMEDIATE");
    if (rc != SG_OK)
        return rc;
    int open = s_run_open(j, run_id);
    if (open < 0) {
        rc = open;
        goto fail;
    }
    if ((o && (rc = s_append(j, o, added)) != SG_OK) ||
        (job_path && (rc = s_set_job(j, run_id, job_path)) != SG_OK) ||
        (ended && (rc = s_set_ended(j, run_id, failed_over, now_ms)) != SG_OK))
        goto fail;
    return s_exec(j, "COMMIT");
fail:
    s_exec(j, "ROLLBACK");
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
    r->failed_over = sqlite3_column_int(st, 7) != 0;
    return oom ? SG_ENOMEM : SG_OK;
}

int sg_journal_runs(sg_journal_t *j, sg_journal_run_t **out, size_t *n)
{
    sg_journal_run_t *runs = NULL;
    size_t len = 0, cap = 0;
    int rc = SG_OK, step;
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = s_stmt(j, S_RUNS);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            sg_journal_run_t *p = realloc(runs, ncap * sizeof *p);
            if (!p) {
                rc = SG_ENOMEM;
                goto fail;
            }
            runs = p;
            cap = ncap;
        }
        memset(&runs[len], 0, sizeof runs[len]);
        rc = s_read_run(st, &runs[len++]);
        if (rc != SG_OK)
            goto fail;
    }
    if (step != SQLITE_DONE) {
        rc = s_fail(j, "reading runs");
        goto fail;
    }
    sqlite3_reset(st);
    *out = runs;
    *n = len;
    return SG_OK;
fail:
    sqlite3_reset(st);
    sg_journal_runs_free(runs, len);
    return rc;
}

void sg_journal_runs_free(sg_journal_run_t *runs, size_t n)
{
    for (size_t i = 0; runs && i < n; i++) {
        free(runs[i].collection);
        free(runs[i].cim_path);
        free(runs[i].job_path);
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
