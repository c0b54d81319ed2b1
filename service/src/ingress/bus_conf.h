/* bus_conf: the `bus` section of the config file: the endpoints the SUB
 * socket binds and connects, the limits of an event (size, age, skew,
 * incarnation), and who may publish (CURVE). Without a bus section the bus
 * binds tcp://127.0.0.1:7700.
 *
 * Rules: with `curve` (the service's secret key, read at load from
 * secret_key_file like control's, config/keyfile.h) every observer lists a
 * public_key, no key is listed for two observers, every endpoint is tcp://
 * or ipc:// (CURVE needs a handshake), and max_event_bytes is at least
 * SG_BUS_CURVE_MIN_BYTES (the handshake's own messages pass that limit). Without it, an endpoint that
 * other hosts can reach (tcp off the loopback address, or any transport but
 * ipc:// and inproc://) is refused unless `insecure: true` says so (the
 * service then warns at every start); `insecure` and `curve` exclude each
 * other.
 *
 * Ownership: what the section points to belongs to the sg_bus_cfg_t (in the
 * end the config) and is freed by sg_bus_conf_fini, which wipes the secret
 * key. The secret key is never logged. After loading the section is
 * immutable and may be read from any thread. */
#ifndef SG_BUS_CONF_H
#define SG_BUS_CONF_H

#include "config/walk.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The smallest max_event_bytes with bus.curve: a CURVE handshake's INITIATE
 * (about 280 bytes with a publisher's metadata) must fit. */
#define SG_BUS_CURVE_MIN_BYTES 512

/* bus.curve: the service is the CURVE server of every bus connection. */
typedef struct {
    char *secret_key_file; /* as written (relative: beside the config file) */
    char *secret_key;      /* SECRET, never logged: the file's Z85 key */
} sg_bus_curve_cfg_t;

typedef struct {
    char **connect; /* endpoints to connect the SUB socket to */
    size_t n_connect;
    char **bind; /* endpoints to bind the SUB socket on */
    size_t n_bind;
    size_t max_event_bytes; /* larger frames: the peer is disconnected; default 4096 */
    int64_t max_age_ms;     /* events older than this are stale; default 30 s */
    int64_t max_skew_ms;    /* events (and incarnations) further in the future are refused;
                               default 5 s */
    int64_t incarnation_silence_ms; /* an observer's older incarnation is accepted again once
                                       its newest has been silent this long (ingest.h);
                                       default 2 s */
    sg_bus_curve_cfg_t curve; /* curve.secret_key NULL: no CURVE */
    bool insecure;            /* a network endpoint without CURVE, knowingly */
} sg_bus_cfg_t;

/* The `bus` mapping (read with sg_cfg_set_map). */
extern const sg_cfg_map_t sg_bus_conf_map;

/* Defaults before the file is read. */
void sg_bus_conf_defaults(sg_bus_cfg_t *b);
/* Once the file is read: `node` is the bus section (NULL or null: none, and
 * then the bus binds the default endpoint); checks the observers' keys
 * against bus.curve. */
void sg_bus_conf_resolve(sg_cfg_t *ctx, sg_cfg_node_t *node, sg_bus_cfg_t *b);
void sg_bus_conf_fini(sg_bus_cfg_t *b);

#endif
