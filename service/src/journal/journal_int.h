/* journal_int: what the journal's own modules (retention.c) and the tests
 * use of a journal beyond journal.h: its SQLite connection and the helpers
 * that report SQLite's errors the journal's way.
 *
 * Nothing outside journal/ includes this header, except the unit tests and
 * the journal benchmark. journal.h's thread rules cover it: a journal and
 * its connection are used by one thread. */
#ifndef SG_JOURNAL_INT_H
#define SG_JOURNAL_INT_H

#include "journal/journal.h"

#include <sqlite3.h>

/* The journal's connection, borrowed: it lives until sg_journal_close. */
sqlite3 *sg_journal_sqlite(sg_journal_t *j);
/* Runs `sql` (statements without rows). 0, or SG_EIO logged with the file. */
int sg_journal_exec(sg_journal_t *j, const char *sql);
/* Logs SQLite's last error on the journal's connection while doing `what`;
 * returns SG_EIO. */
int sg_journal_fail(sg_journal_t *j, const char *what);

#endif
