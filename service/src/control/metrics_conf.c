/* metrics_conf: the metrics section of the config file (see metrics_conf.h). */
#include "control/metrics_conf.h"

#include <stdlib.h>
#include <string.h>

/* "off", or HOST:PORT with a port in 1..65535. */
static void s_set_listen(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    sg_cfg_set_str(ctx, key, value, obj);
    char **field = sg_cfg_field(key, obj);
    if (!*field || strcmp(*field, "off") == 0)
        return;
    const char *colon = strrchr(*field, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == *field || !end || *end || port < 1 || port > 65535)
        sg_cfg_err(ctx, value, "'%s' must be HOST:PORT (e.g. 127.0.0.1:9464) or off", key->name);
}

static const sg_cfg_key_t s_metrics_keys[] = {
    {.name = "listen", .set = s_set_listen, .offset = offsetof(sg_metrics_cfg_t, listen)},
};
const sg_cfg_map_t sg_metrics_conf_map = {.where = "in metrics", .keys = s_metrics_keys,
                                          .n_keys = SG_CFG_COUNT(s_metrics_keys),
                                          .size = sizeof(sg_metrics_cfg_t)};

void sg_metrics_conf_fini(sg_metrics_cfg_t *m)
{
    free(m->listen);
}
