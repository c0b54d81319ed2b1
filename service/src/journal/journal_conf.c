/* journal_conf: the journal section of the config file (see journal_conf.h). */
#include "journal/journal_conf.h"

#include "base/str.h"

#include <stdlib.h>
#include <string.h>

static const sg_cfg_key_t s_journal_keys[] = {
    {.name = "path", .set = sg_cfg_set_str, .offset = offsetof(sg_journal_cfg_t, path)},
};
const sg_cfg_map_t sg_journal_conf_map = {.where = "in journal", .keys = s_journal_keys,
                                          .n_keys = SG_CFG_COUNT(s_journal_keys),
                                          .size = sizeof(sg_journal_cfg_t)};

void sg_journal_conf_resolve(sg_cfg_t *ctx, sg_journal_cfg_t *j)
{
    const char *cfg_path = sg_cfg_path(ctx);
    if (j->path || !cfg_path)
        return;
    const char *slash = strrchr(cfg_path, '/');
    int dir_len = slash ? (int)(slash - cfg_path) : 0;
    j->path = slash ? sg_strdupf("%.*s/siteguard-journal.db", dir_len > 0 ? dir_len : 1,
                                 dir_len > 0 ? cfg_path : "/")
                    : sg_strdupf("siteguard-journal.db");
    if (!j->path)
        sg_cfg_oom(ctx);
}

void sg_journal_conf_fini(sg_journal_cfg_t *j)
{
    free(j->path);
}
