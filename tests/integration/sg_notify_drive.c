/* sg-notify-drive: loads the sinks of a config through notify, posts the
 * outcomes of a JSON-lines file, drains, and prints notify's counters.
 *
 *   sg-notify-drive CONFIG OUTCOMES.jsonl [DRAIN_TIMEOUT_MS]
 *
 * Each line is an object with "kind" ("site_lost", "failed", ...) and any of
 * severity, time_ms (default: now), run_id, site, replica_site, collection,
 * cim_path, job_path, percent, job_state, return_value, error_code, attempt,
 * message, dedup_key; the outcome is finished as the service finishes one.
 * Prints {"queued":..,"delivered":..,"retries":..,"dead":..} on stdout.
 * Exit 0 when every queue drained, 1 when not, 2 on bad input. For the
 * plugins' integration tests: real plugins, real notify, the real clock. */
#include "base/clock.h"
#include "config/config.h"
#include "base/err.h"
#include "base/log.h"
#include "notify/notify.h"
#include "journal/outcome.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_kind(const char *name, sg_outcome_kind_t *out)
{
    for (int k = SG_OUTCOME_SITE_SUSPECT; k <= SG_OUTCOME_TIMED_OUT; k++) {
        if (name && strcmp(name, sg_outcome_kind_name((sg_outcome_kind_t)k)) == 0) {
            *out = (sg_outcome_kind_t)k;
            return 0;
        }
    }
    return -1;
}

static int s_severity(const char *name, sg_severity_t *out)
{
    for (int s = SG_SEVERITY_INFO; s <= SG_SEVERITY_CRITICAL; s++) {
        if (name && strcmp(name, sg_severity_name((sg_severity_t)s)) == 0) {
            *out = (sg_severity_t)s;
            return 0;
        }
    }
    return -1;
}

static int s_strings(sg_outcome_t *o, json_t *obj)
{
    const struct {
        const char *key;
        const char **field;
    } fields[] = {
        {"site", &o->site},         {"replica_site", &o->replica_site},
        {"collection", &o->collection}, {"cim_path", &o->cim_path},
        {"job_path", &o->job_path}, {"message", &o->message},
        {"dedup_key", &o->dedup_key},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = json_string_value(json_object_get(obj, fields[i].key));
        if (v && sg_outcome_set(o, fields[i].field, v) != SG_OK)
            return -1;
    }
    return 0;
}

static json_int_t s_int(json_t *obj, const char *key, json_int_t dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* The finished outcome of one line, or NULL. */
static sg_outcome_t *s_outcome(const char *line, const sg_clock_t *clock)
{
    json_t *obj = json_loads(line, 0, NULL);
    sg_outcome_kind_t kind;
    sg_severity_t severity = SG_SEVERITY_INFO;
    sg_outcome_t *o = NULL;
    if (!obj || s_kind(json_string_value(json_object_get(obj, "kind")), &kind) != 0)
        goto fail;
    const char *sev = json_string_value(json_object_get(obj, "severity"));
    if (sev && s_severity(sev, &severity) != 0)
        goto fail;
    o = sg_outcome_new(kind, s_int(obj, "time_ms", sg_clock_wall(clock)));
    if (!o || s_strings(o, obj) != 0)
        goto fail;
    o->severity = severity;
    o->run_id = (uint64_t)s_int(obj, "run_id", 0);
    o->percent = (int)s_int(obj, "percent", -1);
    o->job_state = (int)s_int(obj, "job_state", 0);
    o->return_value = (uint32_t)s_int(obj, "return_value", 0);
    o->error_code = (uint32_t)s_int(obj, "error_code", 0);
    o->attempt = (int)s_int(obj, "attempt", 0);
    if (sg_outcome_finish(o, sev != NULL) != SG_OK)
        goto fail;
    json_decref(obj);
    return o;
fail:
    sg_outcome_free(&o);
    json_decref(obj);
    return NULL;
}

/* Posts every line of `path`; returns 0 or -1 after saying which line. */
static int s_post_file(sg_notify_t *n, const char *path, const sg_clock_t *clock)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "sg-notify-drive: cannot open %s\n", path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int rc = 0, no = 0;
    while (rc == 0 && getline(&line, &cap, f) > 0) {
        no++;
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        sg_outcome_t *o = s_outcome(line, clock);
        if (!o || sg_notify_post(n, o) != SG_OK) {
            fprintf(stderr, "sg-notify-drive: %s:%d: not a valid outcome\n", path, no);
            rc = -1;
        }
        sg_outcome_free(&o);
    }
    free(line);
    fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: sg-notify-drive CONFIG OUTCOMES.jsonl [DRAIN_TIMEOUT_MS]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int64_t timeout_ms = argc == 4 ? strtoll(argv[3], NULL, 10) : 60000;
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    sg_config_t *cfg = NULL;
    sg_notify_t *n = NULL;
    int rc = 2;
    if (sg_config_load_file(argv[1], &cfg, &errs) != SG_OK)
        goto fail;
    sg_log_set_level(cfg->log_level);
    const sg_clock_t *clock = sg_clock_system();
    if (!(n = sg_notify_new(cfg, clock, &errs)))
        goto fail;
    if (s_post_file(n, argv[2], clock) != 0)
        goto fail;
    rc = sg_notify_drain(n, timeout_ms) == SG_OK ? 0 : 1;
    sg_notify_stats_t st;
    sg_notify_stats(n, &st);
    printf("{\"queued\":%llu,\"delivered\":%llu,\"retries\":%llu,\"dead\":%llu}\n",
           (unsigned long long)st.queued, (unsigned long long)st.delivered,
           (unsigned long long)st.retries, (unsigned long long)st.dead);
fail:
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.items[i]);
    sg_notify_destroy(&n);
    sg_config_destroy(&cfg);
    sg_config_errors_fini(&errs);
    return rc;
}
