#include "drill/schedule.h"
#include "base/err.h"
#include "base/str.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define S_MIN_MS 60000LL
#define S_DAY_MIN 1440LL
#define S_HORIZON_DAYS (366 * 10)

typedef struct {
    const char *name;
    int lo, hi;
} s_field_t;

static const s_field_t s_fields[5] = {
    {"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12},
    {"day of week", 0, 7}};

static int s_fail(char **why, const char *fmt, const char *a, const char *b)
{
    if (why && !(*why = sg_strdupf(fmt, a, b)))
        return SG_ENOMEM;
    return SG_EINVAL;
}

/* Reads a decimal number at *p; false when there is none. */
static bool s_number(const char **p, int *out)
{
    if (!isdigit((unsigned char)**p))
        return false;
    long v = 0;
    while (isdigit((unsigned char)**p) && v < 100000)
        v = v * 10 + (*(*p)++ - '0');
    *out = (int)v;
    return true;
}

/* One comma-separated part of a field ("*", "5", "1-5", "*\/15", "0-30/10")
 * into the bit set. */
static bool s_part(const char *part, const s_field_t *f, uint64_t *bits)
{
    const char *p = part;
    int lo = f->lo, hi = f->hi, step = 1;
    if (*p == '*') {
        p++;
    } else {
        if (!s_number(&p, &lo))
            return false;
        hi = lo;
        if (*p == '-') {
            p++;
            if (!s_number(&p, &hi))
                return false;
        }
    }
    if (*p == '/') {
        p++;
        if (!s_number(&p, &step) || step < 1)
            return false;
        if (part[0] != '*' && hi == lo)
            hi = f->hi; /* "5/15": from 5 to the end, as cron reads it */
    }
    if (*p || lo < f->lo || hi > f->hi || lo > hi)
        return false;
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ull << v;
    return true;
}

static int s_field(const char *text, const s_field_t *f, uint64_t *bits, char **why)
{
    char *copy = strdup(text), *save = NULL;
    if (!copy)
        return SG_ENOMEM;
    *bits = 0;
    bool ok = text[0] && text[0] != ',' && text[strlen(text) - 1] != ',' && !strstr(text, ",,");
    for (char *part = strtok_r(copy, ",", &save); ok && part; part = strtok_r(NULL, ",", &save))
        ok = s_part(part, f, bits);
    free(copy);
    if (!ok)
        return s_fail(why, "bad %s field '%s'", f->name, text);
    return SG_OK;
}

static int s_every(const char *text, sg_schedule_t *out, char **why)
{
    while (*text == ' ')
        text++;
    if (sg_config_parse_duration(text, &out->every_ms) != SG_OK || out->every_ms <= 0)
        return s_fail(why, "bad interval '%s'%s: expected a duration like 5s, 10m, 1h", text, "");
    return SG_OK;
}

static int s_cron(const char *text, sg_schedule_t *out, char **why)
{
    char *copy = strdup(text), *save = NULL, *f[6] = {0};
    int n = 0, rc = SG_OK;
    uint64_t bits[5] = {0};
    if (!copy)
        return SG_ENOMEM;
    for (char *t = strtok_r(copy, " \t", &save); t && n < 6; t = strtok_r(NULL, " \t", &save))
        f[n++] = t;
    if (n != 5) {
        rc = s_fail(why, "'%s'%s: expected five fields 'M H DOM MON DOW' or @every DURATION",
                    text, "");
        goto done;
    }
    for (int i = 0; i < 5 && rc == SG_OK; i++)
        rc = s_field(f[i], &s_fields[i], &bits[i], why);
    if (rc != SG_OK)
        goto done;
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->doms = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->dows = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday too */
    out->dom_any = strcmp(f[2], "*") == 0;
    out->dow_any = strcmp(f[4], "*") == 0;
done:
    free(copy);
    return rc;
}

int sg_schedule_parse(const char *text, sg_schedule_t *out, char **why)
{
    if (why)
        *why = NULL;
    memset(out, 0, sizeof *out);
    if (!text)
        return s_fail(why, "no schedule%s%s", "", "");
    if (strcmp(text, "@hourly") == 0)
        return s_cron("0 * * * *", out, why);
    if (strcmp(text, "@daily") == 0 || strcmp(text, "@midnight") == 0)
        return s_cron("0 0 * * *", out, why);
    if (strcmp(text, "@weekly") == 0)
        return s_cron("0 0 * * 0", out, why);
    if (strncmp(text, "@every ", 7) == 0)
        return s_every(text + 7, out, why);
    if (text[0] == '@')
        return s_fail(why, "unknown shorthand '%s'%s: expected @hourly, @daily, @weekly or "
                           "@every DURATION",
                      text, "");
    return s_cron(text, out, why);
}

int sg_schedule_parse_tz(const char *text, int *offset_min)
{
    int h = 0, m = 0, sign = 1;
    if (!text)
        return SG_EINVAL;
    if (strcmp(text, "UTC") == 0 || strcmp(text, "Z") == 0) {
        *offset_min = 0;
        return SG_OK;
    }
    if (strncmp(text, "UTC", 3) == 0)
        text += 3;
    if (*text != '+' && *text != '-')
        return SG_EINVAL;
    sign = *text++ == '-' ? -1 : 1;
    const char *p = text;
    if (!s_number(&p, &h) || p - text != 2 || *p++ != ':')
        return SG_EINVAL;
    const char *q = p;
    if (!s_number(&p, &m) || p - q != 2 || *p || m > 59 || h * 60 + m > 14 * 60)
        return SG_EINVAL;
    *offset_min = sign * (h * 60 + m);
    return SG_OK;
}

/* Floor division for negative times. */
static int64_t s_floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Civil date of a day number (days since 1970-01-01), Howard Hinnant's
 * algorithm: month 1..12, day 1..31. */
static void s_civil(int64_t z, int *month, int *mday)
{
    z += 719468;
    int64_t era = s_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
}

static bool s_day_matches(const sg_schedule_t *s, int64_t day)
{
    int month, mday;
    s_civil(day, &month, &mday);
    if (!(s->months & (1u << month)))
        return false;
    int dow = (int)((day % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday (4) */
    bool dom_ok = (s->doms >> mday) & 1u, dow_ok = (s->dows >> dow) & 1u;
    if (s->dom_any || s->dow_any)
        return (s->dom_any || dom_ok) && (s->dow_any || dow_ok);
    return dom_ok || dow_ok;
}

static int s_offset(const sg_schedule_zone_t *z, int64_t utc_ms)
{
    return z ? z->offset(z->zone, utc_ms) : 0;
}

/* The first minute in (lo, hi] (Unix minutes) whose offset differs from
 * lo's: the end of a gap. */
static int64_t s_gap_end(const sg_schedule_zone_t *z, int64_t lo, int64_t hi)
{
    int at_lo = s_offset(z, lo * S_MIN_MS);
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (s_offset(z, mid * S_MIN_MS) == at_lo)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

/* The instant (Unix ms) a local minute `local` (minutes since 1970-01-01 in
 * the zone) first begins: the earlier one when the offset change repeats it,
 * the end of the gap when the change skips it. Offset changes are taken to
 * be at least two days apart. */
static int64_t s_local_to_utc(const sg_schedule_zone_t *z, int64_t local)
{
    int before = s_offset(z, (local - S_DAY_MIN) * S_MIN_MS);
    int after = s_offset(z, (local + S_DAY_MIN) * S_MIN_MS);
    int64_t u_before = local - before, u_after = local - after; /* Unix minutes */
    bool ok_before = s_offset(z, u_before * S_MIN_MS) == before;
    bool ok_after = s_offset(z, u_after * S_MIN_MS) == after;
    int64_t lo = u_before < u_after ? u_before : u_after;
    int64_t hi = u_before < u_after ? u_after : u_before;
    if (ok_before && ok_after)
        return lo * S_MIN_MS;
    if (ok_before || ok_after)
        return (ok_before ? u_before : u_after) * S_MIN_MS;
    return s_gap_end(z, lo, hi) * S_MIN_MS;
}

int64_t sg_schedule_next(const sg_schedule_t *s, const sg_schedule_zone_t *zone,
                         int64_t after_ms)
{
    if (s->every_ms > 0) /* any duration the syntax reads: -1 past the end of int64 */
        return after_ms > INT64_MAX - s->every_ms ? -1 : after_ms + s->every_ms;
    int offset_min = s_offset(zone, after_ms);
    int64_t local_min = s_floor_div(after_ms + offset_min * S_MIN_MS, S_MIN_MS) + 1;
    int64_t day = s_floor_div(local_min, S_DAY_MIN);
    int from = (int)(local_min - day * S_DAY_MIN);
    for (int64_t d = day; d < day + S_HORIZON_DAYS; d++, from = 0) {
        if (!s_day_matches(s, d))
            continue;
        for (int t = from; t < S_DAY_MIN; t++) {
            int h = t / 60, m = t % 60;
            if (!((s->hours >> h) & 1u)) {
                t = h * 60 + 59; /* skip the rest of the hour */
                continue;
            }
            if (!((s->minutes >> m) & 1u))
                continue;
            int64_t at = s_local_to_utc(zone, d * S_DAY_MIN + t);
            if (at > after_ms) /* not: the first of a repeated time, already past */
                return at;
        }
    }
    return -1;
}

static bool s_weekday_in(unsigned days, int64_t day)
{
    return days == 0 || (days & (1u << (unsigned)((day % 7 + 7 + 3) % 7))) != 0;
}

bool sg_schedule_window_open(const sg_window_cfg_t *w, int64_t wall)
{
    if (w->start_ms || w->end_ms)
        return wall >= w->start_ms && wall < w->end_ms;
    int64_t day = s_floor_div(wall, 86400000); /* Monday = 0 below: Thursday + 3 */
    int minute = (int)(s_floor_div(wall, S_MIN_MS) - day * S_DAY_MIN);
    if (w->from_min < w->to_min)
        return s_weekday_in(w->days, day) && minute >= w->from_min && minute < w->to_min;
    return (minute >= w->from_min && s_weekday_in(w->days, day)) ||
           (minute < w->to_min && s_weekday_in(w->days, day - 1));
}
