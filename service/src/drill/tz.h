/* tz: time zones of drill schedules, by name.
 *
 * A zone is UTC ("UTC", "Z"), a fixed offset ("+01:00", "UTC-05:30", as
 * sg_schedule_parse_tz reads them), or a zone of the platform's time zone
 * database, with its daylight saving rules:
 *   - POSIX builds: IANA names ("Europe/Berlin", "America/New_York"), through
 *     ICU;
 *   - Windows builds: Windows time zone IDs ("W. Europe Standard Time",
 *     "Eastern Standard Time", as `tzutil /l` lists them), through the
 *     system's dynamic time zone information.
 *
 * Ownership: sg_tz_open returns a zone the caller closes with sg_tz_close.
 * Thread rules: a zone is used by one thread at a time (the platform
 * calendar behind it keeps state between calls). */
#ifndef SG_TZ_H
#define SG_TZ_H

#include "drill/schedule.h"

#include <stdint.h>

typedef struct sg_tz sg_tz_t;

/* Opens the zone `name`. Returns 0, SG_EINVAL when the name is neither a
 * fixed offset nor a zone the platform knows, or SG_ENOMEM. */
int sg_tz_open(const char *name, sg_tz_t **out);
/* Closes the zone and sets *tz to NULL; NULL is fine. */
void sg_tz_close(sg_tz_t **tz);

/* Minutes east of UTC in force in `tz` (an sg_tz_t) at `utc_ms` (Unix ms).
 * Has the sg_schedule_offset_fn shape. */
int sg_tz_offset_min(const void *tz, int64_t utc_ms);
/* The zone as sg_schedule_next takes it; valid while `tz` is open. */
sg_schedule_zone_t sg_tz_zone(const sg_tz_t *tz);

/* An example of a zone name this platform takes, for error messages. */
const char *sg_tz_example(void);

#endif
