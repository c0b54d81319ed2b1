/* The SQL statements a connection runs, caught with sqlite3_trace_v2, and
 * SQLite's query plan for each: for tests that a read goes through an index
 * instead of walking a whole table. Portable like sg_testutil.h; everything
 * is static inline: a test program includes it once, after cmocka.h. */
#ifndef SG_SQLPLAN_H
#define SG_SQLPLAN_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SG_SQLPLAN_MAX 64

/* The distinct statements caught, in the order first run. */
typedef struct {
    sqlite3 *db;
    char *sql[SG_SQLPLAN_MAX];
    size_t n;
} sg_sqlplan_t;

static inline int sg_sqlplan_on_stmt(unsigned type, void *ctx, void *p, void *x)
{
    sg_sqlplan_t *t = ctx;
    const char *sql = sqlite3_sql((sqlite3_stmt *)p);
    (void)type;
    (void)x;
    for (size_t i = 0; sql && i < t->n; i++)
        if (strcmp(t->sql[i], sql) == 0)
            return 0;
    if (sql && t->n < SG_SQLPLAN_MAX)
        t->sql[t->n++] = strdup(sql);
    return 0;
}

/* Catches the statements `db` runs from now on. */
static inline void sg_sqlplan_begin(sg_sqlplan_t *t, sqlite3 *db)
{
    memset(t, 0, sizeof *t);
    t->db = db;
    assert_int_equal(sqlite3_trace_v2(db, SQLITE_TRACE_STMT, sg_sqlplan_on_stmt, t), SQLITE_OK);
}

/* Stops catching; the statements caught stay in *t until sg_sqlplan_fini. */
static inline void sg_sqlplan_end(sg_sqlplan_t *t)
{
    assert_int_equal(sqlite3_trace_v2(t->db, 0, NULL, NULL), SQLITE_OK);
}

static inline void sg_sqlplan_fini(sg_sqlplan_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->sql[i]);
    t->n = 0;
}

/* True when a plan step walks all of `table` ("SCAN table" or "SCAN table
 * USING ... INDEX ..."), unless the step is one of `allowed` (NULL-ended;
 * a scan of a partial index, for one). */
static inline bool sg_sqlplan_scans(const char *detail, const char *table,
                                    const char *const *allowed)
{
    size_t len = strlen(table);
    if (strncmp(detail, "SCAN ", 5) != 0 || strncmp(detail + 5, table, len) != 0 ||
        (detail[5 + len] != '\0' && detail[5 + len] != ' '))
        return false;
    for (size_t i = 0; allowed && allowed[i]; i++)
        if (strcmp(detail, allowed[i]) == 0)
            return false;
    return true;
}

/* Fails the test when the plan of a statement caught walks one of `tables`
 * (NULL-ended; aliases count as tables) other than as `allowed` says.
 * Returns how many statements had a plan. */
static inline size_t sg_sqlplan_expect_no_scan(const sg_sqlplan_t *t, const char *const *tables,
                                               const char *const *allowed)
{
    size_t planned = 0;
    for (size_t i = 0; i < t->n; i++) {
        char *eqp = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", t->sql[i]);
        sqlite3_stmt *st = NULL;
        assert_non_null(eqp);
        assert_int_equal(sqlite3_prepare_v2(t->db, eqp, -1, &st, NULL), SQLITE_OK);
        sqlite3_free(eqp);
        bool any = false;
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(st, 3);
            any = true;
            for (size_t k = 0; detail && tables[k]; k++)
                if (sg_sqlplan_scans(detail, tables[k], allowed))
                    fail_msg("'%s' walks %s: %s", t->sql[i], tables[k], detail);
        }
        sqlite3_finalize(st);
        planned += any;
    }
    return planned;
}

/* Whether the plan of the caught statement whose text holds `sql_part`
 * names `index` (false when no statement holds it). */
static inline bool sg_sqlplan_uses(const sg_sqlplan_t *t, const char *sql_part,
                                   const char *index)
{
    bool uses = false;
    for (size_t i = 0; i < t->n && !uses; i++) {
        if (!strstr(t->sql[i], sql_part))
            continue;
        char *eqp = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", t->sql[i]);
        sqlite3_stmt *st = NULL;
        assert_non_null(eqp);
        assert_int_equal(sqlite3_prepare_v2(t->db, eqp, -1, &st, NULL), SQLITE_OK);
        sqlite3_free(eqp);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(st, 3);
            uses = uses || (detail && strstr(detail, index));
        }
        sqlite3_finalize(st);
    }
    return uses;
}

#endif
