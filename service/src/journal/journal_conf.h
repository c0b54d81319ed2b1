/* journal_conf: the `journal` section of the config file (where the SQLite
 * journal is; by default siteguard-journal.db beside the config file).
 *
 * Ownership: the path belongs to the sg_journal_cfg_t (in the end the
 * config) and is freed by sg_journal_conf_fini. After loading it is
 * immutable and may be read from any thread. */
#ifndef SG_JOURNAL_CONF_H
#define SG_JOURNAL_CONF_H

#include "config/walk.h"

typedef struct {
    char *path; /* SQLite file; default siteguard-journal.db beside the config file */
} sg_journal_cfg_t;

/* The `journal` mapping (read with sg_cfg_set_map). */
extern const sg_cfg_map_t sg_journal_conf_map;

/* Without journal.path, the journal is siteguard-journal.db beside the
 * config file (the working directory for a config given as a string); run
 * once the file is read. */
void sg_journal_conf_resolve(sg_cfg_t *ctx, sg_journal_cfg_t *j);
void sg_journal_conf_fini(sg_journal_cfg_t *j);

#endif
