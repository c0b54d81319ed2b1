/* duration: the duration syntax of the config file ("250ms", "3s", "2m",
 * "1h", or a bare number of milliseconds), shared by the loader, notify's
 * plugin options, drill schedules ("@every") and the simulator.
 *
 * Pure: no allocation, no state; callable from any thread. */
#ifndef SG_CONFIG_DURATION_H
#define SG_CONFIG_DURATION_H

#include <stdint.h>

/* Parses a duration such as "250ms", "3s", "2m", "1h" or a bare number of
 * milliseconds. Returns 0 or SG_EINVAL. */
int sg_config_parse_duration(const char *text, int64_t *out_ms);

#endif
