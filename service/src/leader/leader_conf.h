/* leader_conf: the `leader` section of the config file: leader election
 * (none, or through etcd with its endpoints, key, lease TTL and call
 * timeout) and this instance's name (default: the host name).
 *
 * Ownership: the strings and lists belong to the sg_leader_cfg_t (in the
 * end the config) and are freed by sg_leader_conf_fini. After loading they
 * are immutable and may be read from any thread. */
#ifndef SG_LEADER_CONF_H
#define SG_LEADER_CONF_H

#include "config/walk.h"

#include <stddef.h>
#include <stdint.h>

/* Leader election (`leader:`; leader.h). */
typedef enum { SG_LEADER_NONE = 0, SG_LEADER_ETCD } sg_leader_mode_t;

typedef struct {
    char **endpoints;   /* http(s)://HOST:PORT of etcd; none: http://127.0.0.1:2379 */
    size_t n_endpoints;
    char *key;          /* the leader key; default /siteguard/leader */
    int64_t ttl_ms;     /* lease TTL, whole seconds; default 10 s */
    int64_t timeout_ms; /* one HTTP call; default 2 s, less than ttl */
} sg_etcd_cfg_t;

typedef struct {
    sg_leader_mode_t mode; /* none (default): always the leader */
    char *name;            /* this instance; default the host name */
    sg_etcd_cfg_t etcd;
} sg_leader_cfg_t;

/* The `leader` mapping (read with sg_cfg_set_map). */
extern const sg_cfg_map_t sg_leader_conf_map;

/* Defaults before the file is read. */
void sg_leader_conf_defaults(sg_cfg_t *ctx, sg_leader_cfg_t *l);
/* Once the file is read: leader.name defaults to this computer's name. */
void sg_leader_conf_resolve(sg_cfg_t *ctx, sg_leader_cfg_t *l);
void sg_leader_conf_fini(sg_leader_cfg_t *l);

#endif
