/* sdnotify: tells systemd how the service is doing (Type=notify).
 *
 * READY=1 once the service runs, WATCHDOG=1 at half the interval that
 * systemd asked for (WATCHDOG_USEC), RELOADING=1 / READY=1 around a config
 * reload, STOPPING=1 when it stops. Without NOTIFY_SOCKET (not started by
 * systemd) or without libsystemd at build time, every call does nothing.
 *
 * Thread rules: called from the loop thread. */
#ifndef SG_SDNOTIFY_H
#define SG_SDNOTIFY_H

#include <stdint.h>

typedef enum {
    SG_SDNOTIFY_READY = 0,
    SG_SDNOTIFY_RELOADING,
    SG_SDNOTIFY_STOPPING
} sg_sdnotify_state_t;

/* Sends the state (with a STATUS= line when `status` is not NULL). */
void sg_sdnotify_state(sg_sdnotify_state_t state, const char *status);

/* The watchdog period to keep (half of WATCHDOG_USEC), in milliseconds;
 * 0 when systemd asked for no watchdog. */
int64_t sg_sdnotify_watchdog_period_ms(void);

/* Sends WATCHDOG=1. */
void sg_sdnotify_watchdog(void);

#endif
