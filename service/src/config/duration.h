/* duration: the duration syntax of the config file ("250ms", "3s", "2m",
 * "1h", or a bare number of milliseconds), shared by the loader, notify's
 * plugin options, drill schedules ("@every") and the simulator; and the
 * number-with-a-unit reading it is made of, which sizes (size.h) share.
 *
 * Pure: no allocation, no state; callable from any thread. */
#ifndef SG_CONFIG_DURATION_H
#define SG_CONFIG_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses a duration such as "250ms", "3s", "2m", "1h" or a bare number of
 * milliseconds. Returns 0 or SG_EINVAL. */
int sg_config_parse_duration(const char *text, int64_t *out_ms);

/* A unit suffix and what one of it is worth. */
typedef struct {
    const char *unit; /* "" for a bare number */
    int64_t scale;
} sg_config_unit_t;

/* Parses digits followed by exactly one of the n `units` into the number
 * times the unit's scale. Returns 0 or SG_EINVAL (no digits, another unit,
 * or more than INT64_MAX). */
int sg_config_parse_scaled(const char *text, const sg_config_unit_t *units, size_t n,
                           int64_t *out);

#endif
