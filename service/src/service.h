/* service: wires the modules together and runs the loop thread
 * (ARCHITECTURE.md draws the whole flow).
 *
 * bus --events--> engine --decisions--> executor --calls--> provider
 *                    \---------outcomes------+--> journal --> notify --> plugins
 *
 * The loop thread owns the bus, the engine and the executor's side of its
 * sockets; it waits on the bus and the executor's results with zmq_poll and
 * wakes for the engine's next deadline. It runs until a stop is requested
 * (sg_platform_request_stop or a signal), then stops the bus, the executor
 * and notify in that order, draining notify's queues. */
#ifndef SG_SERVICE_H
#define SG_SERVICE_H

#include "base/clock.h"
#include "config/config.h"

typedef struct {
    const char *stats_path; /* when set, counters are written there as JSON on exit */
    const sg_clock_t *clock; /* NULL: the system clock */
} sg_service_opts_t;

/* Runs the service with a loaded config until stopped. Returns 0 after a
 * clean stop, or a negative sg_err_t when a module could not start. The
 * config stays the caller's; the service changes only the direction of a
 * collection whose replication was reversed (sg_config_reverse). */
int sg_service_run(sg_config_t *cfg, const sg_service_opts_t *opts);

#endif
