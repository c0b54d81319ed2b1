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
 * Times of a cron line are local times of a zone, which the caller passes
 * as a function giving the offset from UTC in force at an instant (tz.h
 * makes one from a zone name; fixed offsets are "UTC", "Z", "+01:00",
 * "-05:30" or "UTC+02:00"). Where the offset changes (daylight saving):
 *   - a local time that does not exist (the hour skipped in spring) runs at
 *     the first instant after the gap (02:30 on a day Berlin goes from 02:00
 *     to 03:00 runs at 03:00 local);
 *   - a local time that occurs twice (the hour repeated in autumn) runs
 *     once, at its first occurrence.
 *
 * Thread rules: none; a parsed schedule is a plain value. */
#ifndef SG_SCHEDULE_H
#define SG_SCHEDULE_H

#include "config/duration.h"
#include "config/window.h"

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

/* Minutes east of UTC in force in `zone` at `utc_ms` (Unix ms). */
typedef int (*sg_schedule_offset_fn)(const void *zone, int64_t utc_ms);

/* A time zone as the schedule sees it: offset(zone, instant). */
typedef struct {
    sg_schedule_offset_fn offset;
    const void *zone;
} sg_schedule_zone_t;

/* The first run strictly after `after_ms` (Unix ms) for a cron line read in
 * `zone` (NULL: UTC); for "@every", after_ms + the interval. -1 when no time
 * within ten years matches (e.g. "0 0 31 2 *"), or for "@every" when the sum
 * would pass INT64_MAX. Calls zone->offset a few times per candidate minute,
 * and nothing else. */
int64_t sg_schedule_next(const sg_schedule_t *s, const sg_schedule_zone_t *zone,
                         int64_t after_ms);

/* Whether the maintenance-format window `w` (config.h; times UTC) is open
 * at `wall_ms`. The sites of the window are not looked at. */
bool sg_schedule_window_open(const sg_window_cfg_t *w, int64_t wall_ms);

#endif
