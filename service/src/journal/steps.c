#include "journal/steps.h"

#include "base/err.h"
#include "journal/journal_int.h"

#include <stdlib.h>
#include <string.h>

#define S_COLS "step_id, collection, action, who, epoch, intent_ms, job_path, ended_ms, ok, detail"

int sg_steps_init(sg_journal_t *j)
{
    return sg_journal_exec(j, "CREATE TABLE IF NOT EXISTS steps ("
                              "  step_id INTEGER PRIMARY KEY AUTOINCREMENT,"
                              "  collection TEXT NOT NULL,"
                              "  action TEXT NOT NULL,"
                              "  who TEXT NOT NULL,"
                              "  epoch INTEGER NOT NULL DEFAULT 0,"
                              "  intent_ms INTEGER NOT NULL,"
                              "  job_path TEXT,"
                              "  ended_ms INTEGER,"
                              "  ok INTEGER,"
                              "  detail TEXT);"
                              "CREATE INDEX IF NOT EXISTS steps_by_collection "
                              "  ON steps (collection, step_id);");
}

static sqlite3_stmt *s_prepare(sg_journal_t *j, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(sg_journal_sqlite(j), sql, -1, &st, NULL) != SQLITE_OK) {
        sg_journal_fail(j, "preparing a step statement");
        return NULL;
    }
    return st;
}

/* Steps a write; SG_ENOTFOUND when it changed no row. */
static int s_write(sg_journal_t *j, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? SG_OK : sg_journal_fail(j, what);
    if (rc == SG_OK && sqlite3_changes(sg_journal_sqlite(j)) == 0)
        rc = SG_ENOTFOUND;
    sqlite3_finalize(st);
    return rc;
}

int sg_steps_intent(sg_journal_t *j, const char *collection, const char *action, const char *who,
                    uint64_t epoch, int64_t now_ms, uint64_t *id)
{
    sqlite3_stmt *st = s_prepare(j, "INSERT INTO steps (collection, action, who, epoch, "
                                    "intent_ms) VALUES (?,?,?,?,?)");
    if (!st)
        return SG_EIO;
    sqlite3_bind_text(st, 1, collection, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, action, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, who ? who : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)epoch);
    sqlite3_bind_int64(st, 5, now_ms);
    int rc = s_write(j, st, "journaling a step's intent");
    if (rc == SG_OK)
        *id = (uint64_t)sqlite3_last_insert_rowid(sg_journal_sqlite(j));
    return rc;
}

int sg_steps_job(sg_journal_t *j, uint64_t id, const char *job_path)
{
    sqlite3_stmt *st =
        s_prepare(j, "UPDATE steps SET job_path = ? WHERE step_id = ? AND ended_ms IS NULL");
    if (!st)
        return SG_EIO;
    sqlite3_bind_text(st, 1, job_path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
    return s_write(j, st, "journaling a step's job");
}

int sg_steps_end(sg_journal_t *j, uint64_t id, bool ok, const char *detail, int64_t now_ms)
{
    sqlite3_stmt *st = s_prepare(j, "UPDATE steps SET ended_ms = ?, ok = ?, detail = ? "
                                    "WHERE step_id = ? AND ended_ms IS NULL");
    if (!st)
        return SG_EIO;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int(st, 2, ok ? 1 : 0);
    sqlite3_bind_text(st, 3, detail ? detail : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)id);
    return s_write(j, st, "journaling a step's end");
}

static char *s_text(sqlite3_stmt *st, int i, bool *oom)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t)
        return NULL;
    char *copy = strdup((const char *)t);
    *oom |= !copy;
    return copy;
}

static int s_read(sqlite3_stmt *st, sg_step_rec_t *r)
{
    bool oom = false;
    *r = (sg_step_rec_t){.id = (uint64_t)sqlite3_column_int64(st, 0),
                         .collection = s_text(st, 1, &oom),
                         .action = s_text(st, 2, &oom),
                         .who = s_text(st, 3, &oom),
                         .epoch = (uint64_t)sqlite3_column_int64(st, 4),
                         .intent_ms = sqlite3_column_int64(st, 5),
                         .job_path = s_text(st, 6, &oom),
                         .ended_ms = sqlite3_column_int64(st, 7),
                         .ok = sqlite3_column_int(st, 8) > 0,
                         .detail = s_text(st, 9, &oom)};
    if (oom)
        sg_step_rec_fini(r);
    return oom ? SG_ENOMEM : SG_OK;
}

/* Reads every row of `st` (finalized here). */
static int s_collect(sg_journal_t *j, sqlite3_stmt *st, sg_step_rec_t **out, size_t *n)
{
    size_t cap = 0;
    int rc = SG_OK, step;
    *out = NULL;
    *n = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            sg_step_rec_t *grown = realloc(*out, cap * sizeof *grown);
            if (!grown) {
                rc = SG_ENOMEM;
                break;
            }
            *out = grown;
        }
        if ((rc = s_read(st, &(*out)[*n])) != SG_OK)
            break;
        (*n)++;
    }
    if (rc == SG_OK && step != SQLITE_DONE)
        rc = sg_journal_fail(j, "reading steps");
    sqlite3_finalize(st);
    if (rc != SG_OK) {
        sg_steps_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int sg_steps_open(sg_journal_t *j, sg_step_rec_t **out, size_t *n)
{
    sqlite3_stmt *st =
        s_prepare(j, "SELECT " S_COLS " FROM steps WHERE ended_ms IS NULL ORDER BY step_id");
    if (!st) {
        *out = NULL;
        *n = 0;
        return SG_EIO;
    }
    return s_collect(j, st, out, n);
}

int sg_steps_list(sg_journal_t *j, size_t limit, sg_step_rec_t **out, size_t *n)
{
    sqlite3_stmt *st = s_prepare(j, "SELECT * FROM (SELECT " S_COLS " FROM steps ORDER BY "
                                    "step_id DESC LIMIT ?) ORDER BY step_id");
    if (!st) {
        *out = NULL;
        *n = 0;
        return SG_EIO;
    }
    sqlite3_bind_int64(st, 1, limit ? (sqlite3_int64)limit : -1);
    return s_collect(j, st, out, n);
}

int sg_steps_last_ok(sg_journal_t *j, const char *collection, sg_step_rec_t *out)
{
    sqlite3_stmt *st = s_prepare(j, "SELECT " S_COLS " FROM steps WHERE collection = ? AND "
                                    "ok = 1 ORDER BY step_id DESC LIMIT 1");
    if (!st)
        return SG_EIO;
    sqlite3_bind_text(st, 1, collection, -1, SQLITE_TRANSIENT);
    sg_step_rec_t *recs = NULL;
    size_t n = 0;
    int rc = s_collect(j, st, &recs, &n);
    if (rc == SG_OK && n == 0)
        rc = SG_ENOTFOUND;
    if (rc == SG_OK) {
        *out = recs[0];
        free(recs);
        return SG_OK;
    }
    sg_steps_free(recs, n);
    return rc;
}

void sg_step_rec_fini(sg_step_rec_t *r)
{
    free(r->collection);
    free(r->action);
    free(r->who);
    free(r->job_path);
    free(r->detail);
    memset(r, 0, sizeof *r);
}

void sg_steps_free(sg_step_rec_t *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sg_step_rec_fini(&recs[i]);
    free(recs);
}
