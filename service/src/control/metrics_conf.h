/* metrics_conf: the `metrics` section of the config file (where the
 * Prometheus endpoint listens).
 *
 * Ownership: the string belongs to the sg_metrics_cfg_t (in the end the
 * config) and is freed by sg_metrics_conf_fini. After loading it is
 * immutable and may be read from any thread. */
#ifndef SG_METRICS_CONF_H
#define SG_METRICS_CONF_H

#include "config/walk.h"

/* The Prometheus endpoint. */
typedef struct {
    char *listen; /* "HOST:PORT"; NULL: the default 127.0.0.1:9464, a failure to
                     bind it only a warning; "off": no endpoint */
} sg_metrics_cfg_t;

/* The `metrics` mapping (read with sg_cfg_set_map). */
extern const sg_cfg_map_t sg_metrics_conf_map;

void sg_metrics_conf_fini(sg_metrics_cfg_t *m);

#endif
