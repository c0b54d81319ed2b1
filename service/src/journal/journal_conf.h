/* journal_conf: the `journal` section of the config file: where the SQLite
 * journal is (by default siteguard-journal.db beside the config file), how
 * long what it no longer needs is kept (retention.h) and the size above
 * which it warns.
 *
 * Ownership: the path belongs to the sg_journal_cfg_t (in the end the
 * config) and is freed by sg_journal_conf_fini. After loading it is
 * immutable and may be read from any thread. */
#ifndef SG_JOURNAL_CONF_H
#define SG_JOURNAL_CONF_H

#include "config/walk.h"

#include <stdint.h>

/* journal.retention when the file does not say: 30 days. */
#define SG_JOURNAL_DEFAULT_RETENTION_MS (30LL * 24 * 3600 * 1000)
/* The shortest retention other than 0: an hour. */
#define SG_JOURNAL_MIN_RETENTION_MS (3600LL * 1000)

typedef struct {
    char *path; /* SQLite file; default siteguard-journal.db beside the config file */
    /* journal.retention: delivered outcomes, ended runs and ended drills
     * older than this are removed (retention.h says what stays); 0: nothing
     * is removed. Default SG_JOURNAL_DEFAULT_RETENTION_MS; otherwise at least
     * SG_JOURNAL_MIN_RETENTION_MS. */
    int64_t retention_ms;
    /* journal.max_size in bytes: above it a warning in the log (at most
     * hourly) and nothing else; 0 (the default): no warning. */
    int64_t max_size;
} sg_journal_cfg_t;

/* The `journal` mapping (read with sg_cfg_set_map). */
extern const sg_cfg_map_t sg_journal_conf_map;

/* The defaults of the keys that have one, before the file is read. */
void sg_journal_conf_defaults(sg_journal_cfg_t *j);
/* Without journal.path, the journal is siteguard-journal.db beside the
 * config file (the working directory for a config given as a string); run
 * once the file is read. */
void sg_journal_conf_resolve(sg_cfg_t *ctx, sg_journal_cfg_t *j);
void sg_journal_conf_fini(sg_journal_cfg_t *j);

#endif
