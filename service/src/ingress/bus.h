/* bus: the ZeroMQ SUB side of the health event bus.
 *
 * One SUB socket, subscribed to every topic, bound to and/or connected to
 * the configured endpoints. Each message is two frames (topic, Event); it is
 * handed to ingest, which decodes, checks and counts it. Messages with any
 * other number of frames are dropped as malformed. A frame larger than
 * bus.max_event_bytes is never buffered: libzmq disconnects its sender
 * (ZMQ_MAXMSGSIZE), and the publisher reconnects.
 *
 * With bus.curve the socket is the CURVE server on every endpoint, bound
 * and connected alike (the service's secret key, ZAP domain "bus"): the
 * context's ZAP handler (zap.h) admits a publisher only with a key listed
 * for an observer in the config in force, and names that observer; every
 * message goes to ingest with its sender (that observer and the key), so an
 * event for another observer is dropped (impostor), as is one on a
 * connection whose key a reload has removed since (revoked). Refused
 * handshakes are counted (sg_bus_handshakes_refused): the keys the ZAP
 * handler refuses (logged by zap), and the handshakes that fail before it is
 * asked, a publisher without CURVE or with another server key (seen by a
 * socket monitor as the bus is drained, logged here at most every 10 s with
 * the count since the last line).
 * Without CURVE anyone who reaches an endpoint may publish as any observer:
 * the config allows that only on this host (loopback tcp, ipc) unless
 * bus.insecure, which is warned about at every start.
 *
 * Thread rules: created, used and destroyed on the loop thread. */
#ifndef SG_BUS_H
#define SG_BUS_H

#include "config/config.h"
#include "control/zap.h"
#include "ingress/ingest.h"

#include <stdint.h>

typedef struct sg_bus sg_bus_t;

/* Called for every accepted event; `ev` is valid only during the call. */
typedef int (*sg_bus_event_fn)(void *user, const sg_event_t *ev);

/* Borrows zctx, cfg and zap (the context's ZAP handler, which the caller
 * serves; needed with bus.curve, else NULL is fine). NULL (with the endpoint
 * and reason logged) when a socket cannot be set up, bound or connected. */
sg_bus_t *sg_bus_new(void *zctx, const sg_config_t *cfg, sg_zap_t *zap);
void sg_bus_destroy(sg_bus_t **b);

/* After a reload: the config now in force (borrowed), whose observers' keys
 * the handshakes and ingest check from now on (sg_reload_check lets only
 * the keys change; a new connection needs a listed key, and an old one is
 * heard only while its key stays listed). */
void sg_bus_set_config(sg_bus_t *b, const sg_config_t *cfg);

/* The SUB socket, for zmq_poll. */
void *sg_bus_socket(sg_bus_t *b);

/* Receives up to `max` waiting messages without blocking, passing accepted
 * events to `fn`. Returns the number of messages read, or the first error
 * that `fn` returned. */
int sg_bus_drain(sg_bus_t *b, int64_t now_wall_ms, int max, sg_bus_event_fn fn, void *user);

const sg_ingest_stats_t *sg_bus_stats(const sg_bus_t *b);

/* CURVE handshakes refused so far: keys not listed for any observer, and
 * publishers whose handshake failed (counted by sg_bus_drain). */
uint64_t sg_bus_handshakes_refused(const sg_bus_t *b);

#endif
