/* sdnotify: sd_notify(3) from libsystemd when built with it; no-ops otherwise. */
#include "control/sdnotify.h"
#include "base/log.h"

#include <stddef.h>

#ifdef SG_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

#define S_MOD "systemd"

static const char *const s_states[] = {"READY=1", "RELOADING=1", "STOPPING=1"};

void sg_sdnotify_state(sg_sdnotify_state_t state, const char *status)
{
    int rc = status ? sd_notifyf(0, "%s\nSTATUS=%s", s_states[state], status)
                    : sd_notify(0, s_states[state]);
    if (rc < 0)
        sg_warn(S_MOD, "cannot notify systemd (%s): error %d", s_states[state], rc);
}

int64_t sg_sdnotify_watchdog_period_ms(void)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    int64_t ms = (int64_t)(usec / 2000);
    return ms > 0 ? ms : 1;
}

void sg_sdnotify_watchdog(void) { sd_notify(0, "WATCHDOG=1"); }

#else

void sg_sdnotify_state(sg_sdnotify_state_t state, const char *status)
{
    (void)state;
    (void)status;
}

int64_t sg_sdnotify_watchdog_period_ms(void) { return 0; }

void sg_sdnotify_watchdog(void) {}

#endif
