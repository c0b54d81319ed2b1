/* Outcomes: heap copies of sg_outcome_t, their defaults and their JSON. */
#include "journal/outcome.h"
#include "base/err.h"
#include "base/str.h"

#include <jansson.h>

#include <stdbool.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Every string member of sg_outcome_t, so copies and frees walk one list. */
static const size_t s_string_fields[] = {
    offsetof(sg_outcome_t, dedup_key),  offsetof(sg_outcome_t, site),
    offsetof(sg_outcome_t, replica_site), offsetof(sg_outcome_t, collection),
    offsetof(sg_outcome_t, cim_path),   offsetof(sg_outcome_t, job_path),
    offsetof(sg_outcome_t, message),    offsetof(sg_outcome_t, json),
};
#define S_N_STRING_FIELDS (sizeof s_string_fields / sizeof s_string_fields[0])

static const char **s_field(sg_outcome_t *o, size_t i)
{
    return (const char **)(void *)((char *)o + s_string_fields[i]);
}

static const char *s_field_const(const sg_outcome_t *o, size_t i)
{
    return *(const char *const *)(const void *)((const char *)o + s_string_fields[i]);
}

/* Every outcome this module allocates is one of these: the public struct
 * first, then what the service keeps beside it (not part of the plugin ABI;
 * plugins see it in the JSON). */
typedef struct {
    sg_outcome_t pub;
    char *recovery_point; /* owned; NULL: not known or not applicable */
    char *held;           /* owned; NULL: sent to the sinks as usual */
} s_full_t;

static s_full_t *s_full(sg_outcome_t *o) { return (s_full_t *)(void *)o; }
static const s_full_t *s_full_const(const sg_outcome_t *o)
{
    return (const s_full_t *)(const void *)o;
}

static char *s_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

const char *sg_outcome_kind_name(sg_outcome_kind_t kind)
{
    return sg_outcome_kind_label(kind);
}

const char *sg_severity_name(sg_severity_t s)
{
    return sg_severity_label(s);
}

static sg_severity_t s_default_severity(sg_outcome_kind_t kind)
{
    switch (kind) {
    case SG_OUTCOME_SITE_LOST:
    case SG_OUTCOME_FAILED:
    case SG_OUTCOME_TIMED_OUT:
    case SG_OUTCOME_BLOCKED: return SG_SEVERITY_CRITICAL;
    case SG_OUTCOME_SITE_SUSPECT:
    case SG_OUTCOME_SITE_CONTESTED:
    case SG_OUTCOME_CANCELLED:
    case SG_OUTCOME_NOTICE:
    case SG_OUTCOME_SITE_FLAPPING:
    case SG_OUTCOME_DECISION: return SG_SEVERITY_WARNING;
    default: return SG_SEVERITY_INFO;
    }
}

sg_outcome_t *sg_outcome_new(sg_outcome_kind_t kind, int64_t time_ms)
{
    s_full_t *full = calloc(1, sizeof *full);
    if (!full)
        return NULL;
    sg_outcome_t *o = &full->pub;
    o->struct_size = (uint32_t)sizeof *o;
    o->kind = kind;
    o->severity = s_default_severity(kind);
    o->time_ms = time_ms;
    o->percent = -1;
    return o;
}

int sg_outcome_set(sg_outcome_t *o, const char **field, const char *value)
{
    char *copy = NULL;
    if (value) {
        copy = s_strdup(value);
        if (!copy)
            return SG_ENOMEM;
    }
    free((char *)*field);
    *field = copy;
    (void)o;
    return SG_OK;
}

int sg_outcome_set_point(sg_outcome_t *o, const char *point)
{
    return sg_outcome_set(o, (const char **)&s_full(o)->recovery_point, point);
}

const char *sg_outcome_point(const sg_outcome_t *o) { return s_full_const(o)->recovery_point; }

int sg_outcome_set_held(sg_outcome_t *o, const char *why)
{
    return sg_outcome_set(o, (const char **)&s_full(o)->held, why);
}

const char *sg_outcome_held(const sg_outcome_t *o) { return s_full_const(o)->held; }

int sg_outcome_setf(sg_outcome_t *o, const char **field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = sg_vstrdupf(fmt, ap);
    va_end(ap);
    if (!text)
        return SG_ENOMEM;
    free((char *)*field);
    *field = text;
    (void)o;
    return SG_OK;
}

static int s_make_dedup_key(sg_outcome_t *o)
{
    const char *subject = o->collection ? o->collection : o->site ? o->site : "-";
    const char *kind = sg_outcome_kind_name(o->kind);
    if (o->kind == SG_OUTCOME_PROGRESS)
        return sg_outcome_setf(o, &o->dedup_key, "%llu/%s/%s/%d", (unsigned long long)o->run_id,
                               subject, kind, o->percent);
    return sg_outcome_setf(o, &o->dedup_key, "%llu/%s/%s", (unsigned long long)o->run_id, subject,
                           kind);
}

int sg_outcome_finish(sg_outcome_t *o, int severity_set)
{
    if (!severity_set)
        o->severity = s_default_severity(o->kind);
    if (!o->dedup_key) {
        int rc = s_make_dedup_key(o);
        if (rc != SG_OK)
            return rc;
    }
    char *json = sg_outcome_render_json(o);
    if (!json)
        return SG_ENOMEM;
    free((char *)o->json);
    o->json = json;
    return SG_OK;
}

sg_outcome_t *sg_outcome_dup(const sg_outcome_t *o)
{
    s_full_t *full = calloc(1, sizeof *full);
    if (!full)
        return NULL;
    sg_outcome_t *copy = &full->pub;
    memcpy(copy, o, sizeof *copy);
    for (size_t i = 0; i < S_N_STRING_FIELDS; i++)
        *s_field(copy, i) = NULL;
    for (size_t i = 0; i < S_N_STRING_FIELDS; i++) {
        const char *value = s_field_const(o, i);
        if (value && sg_outcome_set(copy, s_field(copy, i), value) != SG_OK)
            goto fail;
    }
    if (sg_outcome_set_point(copy, sg_outcome_point(o)) != SG_OK ||
        sg_outcome_set_held(copy, sg_outcome_held(o)) != SG_OK)
        goto fail;
    return copy;
fail:
    sg_outcome_free(&copy);
    return NULL;
}

void sg_outcome_free(sg_outcome_t **o)
{
    if (!o || !*o)
        return;
    for (size_t i = 0; i < S_N_STRING_FIELDS; i++)
        free((char *)*s_field(*o, i));
    free(s_full(*o)->recovery_point);
    free(s_full(*o)->held);
    free(*o);
    *o = NULL;
}

/* Floor division and its remainder (0 <= *rem < d), for times before 1970. */
static int64_t s_floor_div(int64_t n, int64_t d, int64_t *rem)
{
    int64_t q = n / d, r = n % d;
    if (r < 0) {
        r += d;
        q -= 1;
    }
    *rem = r;
    return q;
}

/* The proleptic Gregorian date of `days` since 1970-01-01, computed rather
 * than asked of gmtime (which refuses times before 1970 on Windows). */
static void s_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t doe;                                         /* day of the 400-year era */
    int64_t era = s_floor_div(days + 719468, 146097, &doe); /* eras start on 0000-03-01 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);  /* day of the year from March */
    int64_t mp = (5 * doy + 2) / 153;                       /* month from March, 0..11 */
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

/* "2026-11-25T17:00:00.123Z" into buf (25 bytes for years 0 to 9999). */
static void s_format_time(int64_t time_ms, char *buf, size_t len)
{
    int64_t ms, sod, year;
    int64_t days = s_floor_div(s_floor_div(time_ms, 1000, &ms), 86400, &sod);
    int month, day;
    s_civil_from_days(days, &year, &month, &day);
    snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)year, month, day,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)ms);
}

/* Adds key -> value; jansson steals `value`. Returns 0 or SG_ENOMEM. */
static int s_put(json_t *obj, const char *key, json_t *value)
{
    if (!value || json_object_set_new(obj, key, value) != 0)
        return SG_ENOMEM;
    return SG_OK;
}

/* A JSON string of `value`; bytes that are not valid UTF-8 text become '?'. */
static json_t *s_json_text(const char *value)
{
    json_t *s = json_string(value);
    if (s)
        return s;
    char *ascii = s_strdup(value);
    if (!ascii)
        return NULL;
    for (char *p = ascii; *p; p++) {
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    }
    s = json_string(ascii);
    free(ascii);
    return s;
}

static int s_put_string(json_t *obj, const char *key, const char *value)
{
    return value ? s_put(obj, key, s_json_text(value)) : SG_OK;
}

static int s_put_strings(json_t *obj, const sg_outcome_t *o)
{
    const struct {
        const char *key;
        const char *value;
    } strings[] = {
        {"site", o->site},         {"replica_site", o->replica_site}, {"collection", o->collection},
        {"cim_path", o->cim_path}, {"job_path", o->job_path},
        {"recovery_point", sg_outcome_point(o)}, {"held", sg_outcome_held(o)},
        {"message", o->message},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (s_put_string(obj, strings[i].key, strings[i].value) != SG_OK)
            return SG_ENOMEM;
    }
    return SG_OK;
}

/* Numbers that are set: percent when known, job state and error code when
 * non-zero, the return value when a call was made (attempt > 0) or it is
 * non-zero, the attempt when positive. */
static int s_put_numbers(json_t *obj, const sg_outcome_t *o)
{
    if (o->percent >= 0 && s_put(obj, "percent", json_integer(o->percent)) != SG_OK)
        return SG_ENOMEM;
    if (o->job_state != 0 && s_put(obj, "job_state", json_integer(o->job_state)) != SG_OK)
        return SG_ENOMEM;
    if ((o->attempt > 0 || o->return_value != 0) &&
        s_put(obj, "return_value", json_integer(o->return_value)) != SG_OK)
        return SG_ENOMEM;
    if (o->error_code != 0 && s_put(obj, "error_code", json_integer(o->error_code)) != SG_OK)
        return SG_ENOMEM;
    if (o->attempt > 0 && s_put(obj, "attempt", json_integer(o->attempt)) != SG_OK)
        return SG_ENOMEM;
    return SG_OK;
}

/* The outcome as a JSON object (caller decrefs), or NULL. */
static json_t *s_render(const sg_outcome_t *o)
{
    char when[80];
    s_format_time(o->time_ms, when, sizeof when);
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    if (s_put(obj, "kind", json_string(sg_outcome_kind_name(o->kind))) != SG_OK ||
        s_put(obj, "severity", json_string(sg_severity_name(o->severity))) != SG_OK ||
        s_put(obj, "time", json_string(when)) != SG_OK ||
        s_put(obj, "time_ms", json_integer(o->time_ms)) != SG_OK ||
        s_put_string(obj, "dedup_key", o->dedup_key) != SG_OK ||
        s_put(obj, "run_id", json_integer((json_int_t)o->run_id)) != SG_OK ||
        s_put_strings(obj, o) != SG_OK || s_put_numbers(obj, o) != SG_OK) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

char *sg_outcome_render_json(const sg_outcome_t *o)
{
    json_t *obj = s_render(o);
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    return text;
}

/* --- Reading the JSON back ------------------------------------------------------------------ */

static int s_kind_of(const char *name, sg_outcome_kind_t *out)
{
    for (int k = SG_OUTCOME_SITE_SUSPECT; k < 128; k++) { /* every kind has a name */
        const char *known = sg_outcome_kind_name((sg_outcome_kind_t)k);
        if (name && strcmp(known, "unknown") != 0 && strcmp(name, known) == 0) {
            *out = (sg_outcome_kind_t)k;
            return SG_OK;
        }
    }
    return SG_EINVAL;
}

static int s_severity_of(const char *name, sg_severity_t *out)
{
    for (int v = SG_SEVERITY_INFO; v <= SG_SEVERITY_CRITICAL; v++) {
        if (name && strcmp(name, sg_severity_name((sg_severity_t)v)) == 0) {
            *out = (sg_severity_t)v;
            return SG_OK;
        }
    }
    return SG_EINVAL;
}

static json_int_t s_int_of(const json_t *obj, const char *key, json_int_t dflt)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static int s_read_fields(sg_outcome_t *o, const json_t *obj)
{
    const struct {
        const char *key;
        const char **field;
    } strings[] = {
        {"dedup_key", &o->dedup_key}, {"site", &o->site},         {"replica_site", &o->replica_site},
        {"collection", &o->collection}, {"cim_path", &o->cim_path}, {"job_path", &o->job_path},
        {"message", &o->message},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        const char *v = json_string_value(json_object_get(obj, strings[i].key));
        if (v && sg_outcome_set(o, strings[i].field, v) != SG_OK)
            return SG_ENOMEM;
    }
    const char *point = json_string_value(json_object_get(obj, "recovery_point"));
    if (point && sg_outcome_set_point(o, point) != SG_OK)
        return SG_ENOMEM;
    const char *held = json_string_value(json_object_get(obj, "held"));
    if (held && sg_outcome_set_held(o, held) != SG_OK)
        return SG_ENOMEM;
    o->run_id = (uint64_t)s_int_of(obj, "run_id", 0);
    o->percent = (int)s_int_of(obj, "percent", -1);
    o->job_state = (int)s_int_of(obj, "job_state", 0);
    o->return_value = (uint32_t)s_int_of(obj, "return_value", 0);
    o->error_code = (uint32_t)s_int_of(obj, "error_code", 0);
    o->attempt = (int)s_int_of(obj, "attempt", 0);
    return SG_OK;
}

sg_outcome_t *sg_outcome_from_json(const char *json)
{
    sg_outcome_t *o = NULL;
    json_t *obj = json ? json_loads(json, 0, NULL) : NULL;
    sg_outcome_kind_t kind;
    if (!json_is_object(obj) ||
        s_kind_of(json_string_value(json_object_get(obj, "kind")), &kind) != SG_OK)
        goto fail;
    o = sg_outcome_new(kind, s_int_of(obj, "time_ms", 0));
    if (!o || s_read_fields(o, obj) != SG_OK || !o->dedup_key ||
        sg_outcome_set(o, &o->json, json) != SG_OK)
        goto fail;
    const char *severity = json_string_value(json_object_get(obj, "severity"));
    if (severity && s_severity_of(severity, &o->severity) != SG_OK)
        goto fail;
    json_decref(obj);
    return o;
fail:
    sg_outcome_free(&o);
    json_decref(obj);
    return NULL;
}

/* --- Groups --------------------------------------------------------------------------------- */

/* "failover decided for 3 collections of site A: sql, web, mail", each
 * collection with its reason for blocks. Caller frees. */
static char *s_group_message(const sg_outcome_t *const *members, size_t n)
{
    const sg_outcome_t *first = members[0];
    bool blocked = first->kind == SG_OUTCOME_BLOCKED;
    char *text = blocked ? sg_strdupf("failover blocked for %zu collections of site %s:", n,
                                      first->site ? first->site : "?")
                 : first->kind == SG_OUTCOME_DECISION
                     ? sg_strdupf("failover decided for %zu collections of site %s:", n,
                                  first->site ? first->site : "?")
                     : sg_strdupf("%zu %s outcomes of site %s:", n,
                                  sg_outcome_kind_name(first->kind),
                                  first->site ? first->site : "?");
    for (size_t i = 0; text && i < n; i++) {
        const sg_outcome_t *m = members[i];
        const char *name = m->collection ? m->collection : "-";
        char *next = blocked && m->message
                         ? sg_strdupf("%s%s %s (%s)", text, i ? ";" : "", name, m->message)
                         : sg_strdupf("%s%s %s", text, i ? "," : "", name);
        free(text);
        text = next;
    }
    return text;
}

/* The members' collections, in order, as a JSON array (NULL when out of memory). */
static json_t *s_collections(const sg_outcome_t *const *members, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        json_t *name = s_json_text(members[i]->collection ? members[i]->collection : "-");
        if (!name || json_array_append_new(list, name) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

static int s_group_json(sg_outcome_t *g, const sg_outcome_t *const *members, size_t n,
                        int64_t from_ms, int64_t to_ms)
{
    int rc = SG_ENOMEM;
    json_t *obj = s_render(g);
    if (!obj || s_put(obj, "collections", s_collections(members, n)) != SG_OK ||
        s_put(obj, "window_from_ms", json_integer(from_ms)) != SG_OK ||
        s_put(obj, "window_to_ms", json_integer(to_ms)) != SG_OK)
        goto fail;
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        goto fail;
    free((char *)g->json);
    g->json = text;
    rc = SG_OK;
fail:
    json_decref(obj);
    return rc;
}

sg_outcome_t *sg_outcome_group(const sg_outcome_t *const *members, size_t n, int64_t from_ms,
                               int64_t to_ms)
{
    if (n == 0)
        return NULL;
    const sg_outcome_t *first = members[0];
    sg_outcome_t *g = sg_outcome_new(first->kind, first->time_ms);
    if (!g)
        return NULL;
    g->severity = first->severity;
    bool same_replica = true;
    for (size_t i = 1; i < n; i++) {
        const sg_outcome_t *m = members[i];
        if (m->severity > g->severity)
            g->severity = m->severity;
        if (m->time_ms > g->time_ms)
            g->time_ms = m->time_ms;
        same_replica = same_replica && m->replica_site && first->replica_site &&
                       strcmp(m->replica_site, first->replica_site) == 0;
    }
    char *message = s_group_message(members, n);
    int rc = message ? SG_OK : SG_ENOMEM;
    rc = rc ? rc : sg_outcome_set(g, &g->site, first->site);
    if (!rc && same_replica)
        rc = sg_outcome_set(g, &g->replica_site, first->replica_site);
    rc = rc ? rc : sg_outcome_set(g, &g->message, message);
    rc = rc ? rc : sg_outcome_setf(g, &g->dedup_key, "%s/%s/group/%lld-%lld",
                                   first->site ? first->site : "-",
                                   sg_outcome_kind_name(first->kind), (long long)from_ms,
                                   (long long)to_ms);
    rc = rc ? rc : s_group_json(g, members, n, from_ms, to_ms);
    free(message);
    if (rc != SG_OK)
        sg_outcome_free(&g);
    return g;
}
