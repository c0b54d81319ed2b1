/* schedule: when a drill runs. Pure: no clock reads, time is passed in.
 *
 * A schedule is a cron-like line "M H DOM MON DOW" (minute 0-59, hour 0-23,
 * day of month 1-31, month 1-12, day of week 0-7 with 0 and 7 Sunday), each
 * field `*`, a number, a range `a-b`, a step `*\/n` or `a-b/n`, or a comma
 * list of those. As in cron, when both DOM and DOW are restricted a day
 * matches either. Shorthands: "@hourly", "@daily", "@weekly", and
 * "@every DURATION" (e.g. "@every 5s", for tests and demos: the first run
 * is one interval after the runner starts).
 *
 * Times of a cron line are read in a time zone given as a fixed offset from
 * UTC: "UTC", "Z", "+01:00", "-05:30" or "UTC+02:00" (no daylight saving
 * rules: write the offset in force).
 *
 * Thread rules: none; a parsed schedule is a plain value. */
#ifndef SG_SCHEDULE_H
#define SG_SCHEDULE_H

#include "config.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t minutes; /* bit m: minute m */
    uint32_t hours;   /* bit h */
    uint32_t doms;    /* bit d (1..31) */
    uint16_t months;  /* bit m (1..12) */
    uint8_t dows;     /* bit d (0..6, Sunday 0) */
    bool dom_any, dow_any;
    int64_t every_ms; /* > 0: "@every": not a cron line */
} sg_schedule_t;

/* Parses a schedule line. Returns 0, or SG_EINVAL with *why (caller frees;
 * `why` may be NULL) saying what is wrong, or SG_ENOMEM. */
int sg_schedule_parse(const char *text, sg_schedule_t *out, char **why);

/* Parses a time zone into minutes east of UTC. Returns 0 or SG_EINVAL. */
int sg_schedule_parse_tz(const char *text, int *offset_min);

/* The first run strictly after `after_ms` (Unix ms) for a cron line read in
 * a zone `offset_min` east of UTC; for "@every", after_ms + the interval.
 * -1 when no time within ten years matches (e.g. "0 0 31 2 *"). */
int64_t sg_schedule_next(const sg_schedule_t *s, int offset_min, int64_t after_ms);

/* Whether the maintenance-format window `w` (config.h; times UTC) is open
 * at `wall_ms`. The sites of the window are not looked at. */
bool sg_schedule_window_open(const sg_window_cfg_t *w, int64_t wall_ms);

#endif
