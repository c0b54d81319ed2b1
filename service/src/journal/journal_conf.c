/* journal_conf: the journal section of the config file (see journal_conf.h). */
#include "journal/journal_conf.h"

#include "base/str.h"

#include <stdlib.h>
#include <string.h>

/* A retention of a few milliseconds (a bare number is milliseconds) would
 * remove each notice as soon as it is delivered: refused. */
static void s_check(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj, const sg_cfg_read_t *read)
{
    const sg_journal_cfg_t *j = obj;
    sg_cfg_node_t *value = sg_cfg_value_of(ctx, node, "retention");
    if (value && sg_cfg_read_ok(read, "retention") && j->retention_ms > 0 &&
        j->retention_ms < SG_JOURNAL_MIN_RETENTION_MS)
        sg_cfg_err(ctx, value,
                   "'retention' must be 0 (keep everything) or at least 1h, not '%s'",
                   sg_cfg_text(value));
}

static const sg_cfg_key_t s_journal_keys[] = {
    {.name = "path", .set = sg_cfg_set_str, .offset = offsetof(sg_journal_cfg_t, path)},
    {.name = "retention", .set = sg_cfg_set_duration,
     .offset = offsetof(sg_journal_cfg_t, retention_ms), .min = 0},
    {.name = "max_size", .set = sg_cfg_set_bytes, .offset = offsetof(sg_journal_cfg_t, max_size)},
};
const sg_cfg_map_t sg_journal_conf_map = {.where = "in journal", .keys = s_journal_keys,
                                          .n_keys = SG_CFG_COUNT(s_journal_keys),
                                          .size = sizeof(sg_journal_cfg_t), .check = s_check};

void sg_journal_conf_defaults(sg_journal_cfg_t *j)
{
    j->retention_ms = SG_JOURNAL_DEFAULT_RETENTION_MS;
}

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
