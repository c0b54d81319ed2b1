/* libFuzzer target for drill schedules and time zones (drill/schedule.h,
 * drill/tz.h). The input is up to three lines: a schedule, a time zone and
 * the instant to look after (Unix ms; default 2027-01-15, clamped to
 * 1970..2100, the range a wall clock gives).
 *
 * Checks: sg_schedule_parse says why when it refuses; a cron line's bits stay
 * in their fields' ranges; the zone is read by sg_schedule_parse_tz (a fixed
 * offset: within 14 h, read back the same from its own text) and sg_tz_open
 * (fixed offsets, and names through ICU); sg_schedule_next gives -1 or a
 * whole minute strictly after the given instant ("@every": exactly one
 * interval after), and in a fixed zone that minute matches the line and
 * the minute before it does not (unless it is not after the given instant). */
#include "base/err.h"
#include "drill/schedule.h"
#include "drill/tz.h"
#include "fuzz.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_DEFAULT_AFTER 1800000000000LL
#define S_AFTER_MAX 4102444800000LL /* 2100-01-01 */
#define S_MIN_MS 60000LL

/* Line `i` (0-based) of the input, as a new string; NULL when there is none. */
static char *s_line(const uint8_t *data, size_t size, int i)
{
    const uint8_t *p = data, *end = data + size;
    for (; i > 0; i--) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return NULL;
        p = nl + 1;
    }
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    char *s = malloc(len + 1);
    FZ_CHECK(s != NULL);
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

static bool s_bit(uint64_t bits, int i) { return (bits >> i) & 1u; }

/* Whether the local time `local_ms` (ms since 1970 in the zone) matches a cron line. */
static bool s_matches(const sg_schedule_t *s, int64_t local_ms)
{
    time_t t = (time_t)(local_ms / 1000);
    struct tm tm;
    FZ_CHECK(gmtime_r(&t, &tm) != NULL);
    if (!s_bit(s->minutes, tm.tm_min) || !s_bit(s->hours, tm.tm_hour) ||
        !s_bit(s->months, tm.tm_mon + 1))
        return false;
    bool dom = s_bit(s->doms, tm.tm_mday), dow = s_bit(s->dows, tm.tm_wday);
    if (s->dom_any || s->dow_any)
        return (s->dom_any || dom) && (s->dow_any || dow);
    return dom || dow;
}

static void s_check_parsed(const sg_schedule_t *s)
{
    if (s->every_ms > 0)
        return;
    FZ_CHECK(s->minutes && !(s->minutes >> 60));
    FZ_CHECK(s->hours && !(s->hours >> 24));
    FZ_CHECK(s->doms && !(s->doms & 1u));
    FZ_CHECK(s->months && !(s->months & 1u) && !(s->months >> 13));
    FZ_CHECK(s->dows && !(s->dows >> 7));
}

static void s_check_tz(const char *name, int *fixed)
{
    int off = 0;
    *fixed = INT32_MIN;
    if (sg_schedule_parse_tz(name, &off) == SG_OK) {
        FZ_CHECK(off >= -14 * 60 && off <= 14 * 60);
        char text[16];
        snprintf(text, sizeof text, "%c%02d:%02d", off < 0 ? '-' : '+', abs(off) / 60,
                 abs(off) % 60);
        int again = 0;
        FZ_CHECK(sg_schedule_parse_tz(text, &again) == SG_OK && again == off);
        *fixed = off;
    }
}

static void s_check_next(const sg_schedule_t *s, sg_tz_t *tz, int fixed, int64_t after)
{
    sg_schedule_zone_t zone = sg_tz_zone(tz);
    int64_t next = sg_schedule_next(s, tz ? &zone : NULL, after);
    if (s->every_ms > 0) {
        FZ_CHECK(next == -1 || next == after + s->every_ms);
        return;
    }
    if (next == -1)
        return;
    FZ_CHECK(next > after && next % S_MIN_MS == 0);
    if (!tz)
        fixed = 0;
    if (fixed == INT32_MIN)
        return; /* a zone with daylight saving: gaps and repeats move runs */
    int64_t local = next + fixed * S_MIN_MS;
    FZ_CHECK(s_matches(s, local));
    if (next - S_MIN_MS > after)
        FZ_CHECK(!s_matches(s, local - S_MIN_MS));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = s_line(data, size, 0), *zone = s_line(data, size, 1);
    char *at = s_line(data, size, 2);
    int64_t after = at ? strtoll(at, NULL, 10) : S_DEFAULT_AFTER;
    after = after < 0 ? 0 : after > S_AFTER_MAX ? S_AFTER_MAX : after;

    sg_schedule_t s;
    char *why = NULL;
    int rc = sg_schedule_parse(text, &s, &why);
    FZ_CHECK(rc == SG_OK ? why == NULL : rc == SG_EINVAL && why != NULL);
    free(why);

    int fixed = INT32_MIN;
    sg_tz_t *tz = NULL;
    if (zone) {
        s_check_tz(zone, &fixed);
        int trc = sg_tz_open(zone, &tz);
        FZ_CHECK(trc == SG_OK ? tz != NULL : tz == NULL);
        FZ_CHECK(fixed == INT32_MIN || trc == SG_OK); /* a fixed offset always opens */
        if (tz && fixed != INT32_MIN)
            FZ_CHECK(sg_tz_offset_min(tz, after) == fixed);
    }
    if (rc == SG_OK) {
        s_check_parsed(&s);
        s_check_next(&s, tz, fixed, after);
    }
    sg_tz_close(&tz);
    free(text);
    free(zone);
    free(at);
    return 0;
}
