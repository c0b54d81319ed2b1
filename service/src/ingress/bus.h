/* bus: the ZeroMQ SUB side of the health event bus.
 *
 * One SUB socket, subscribed to every topic, bound to and/or connected to
 * the configured endpoints. Each message is two frames (topic, Event); it is
 * handed to ingest, which decodes, checks and counts it. Messages with any
 * other number of frames are dropped as malformed.
 *
 * Thread rules: created, used and destroyed on the loop thread. */
#ifndef SG_BUS_H
#define SG_BUS_H

#include "config/config.h"
#include "ingress/ingest.h"

#include <stdint.h>

typedef struct sg_bus sg_bus_t;

/* Called for every accepted event; `ev` is valid only during the call. */
typedef int (*sg_bus_event_fn)(void *user, const sg_event_t *ev);

/* Borrows zctx and cfg. NULL (with the endpoint and reason logged) when a
 * socket cannot be bound or connected. */
sg_bus_t *sg_bus_new(void *zctx, const sg_config_t *cfg);
void sg_bus_destroy(sg_bus_t **b);

/* The SUB socket, for zmq_poll. */
void *sg_bus_socket(sg_bus_t *b);

/* Receives up to `max` waiting messages without blocking, passing accepted
 * events to `fn`. Returns the number of messages read, or the first error
 * that `fn` returned. */
int sg_bus_drain(sg_bus_t *b, int64_t now_wall_ms, int max, sg_bus_event_fn fn, void *user);

const sg_ingest_stats_t *sg_bus_stats(const sg_bus_t *b);

#endif
