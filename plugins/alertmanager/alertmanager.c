/* alertmanager: fires and resolves alerts in Prometheus Alertmanager
 * (POST <url>/api/v2/alerts, a JSON array of alerts).
 *
 * Labels are an alert's identity, so they are the same on the post that
 * fires it and the one that resolves it: alertname, kind (the kind that
 * fires it), severity (critical), site and, for a collection, collection.
 *
 *   failed     fires SiteguardFailoverFailed      | succeeded resolves those
 *   timed_out  fires SiteguardFailoverTimedOut    | of its collection that
 *   blocked    fires SiteguardFailoverBlocked     | this sink fired
 *   site_lost  fires SiteguardSiteLost; site_recovered resolves it
 *
 * Resolving only what fired: Alertmanager lists a resolved alert that never
 * fired in the group's notification beside the firing ones. The sink keeps
 * the alerts it fired since it started, and the collections it heard of; a
 * collection it has not heard of since its start (a restart in between) may
 * have fired before, so a success resolves all three of its alerts then.
 *
 * Other outcomes are not sent (deliver answers OK). A firing alert has
 * startsAt (the outcome's time) and endsAt `hold` later, since siteguard
 * does not re-send it as Prometheus would; a resolving one has endsAt at the
 * outcome's time. Annotations: summary, description, run_id, dedup_key. */
#include "siteguard/plugin.h"

#include "common/http.h"
#include "common/text.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_PATH "/api/v2/alerts"

typedef struct {
    sg_http_sink_t sink;
    char *url;                 /* owned: the configured URL with S_PATH */
    const char *generator_url; /* borrowed; NULL when not set */
    int64_t hold_ms;
    json_t *fired; /* owned: the collection alerts fired and not yet resolved, by identity */
    json_t *heard; /* owned: the collections (site, name) heard of since the start */
} s_am_t;

static const sg_plugin_config_key_t s_keys[] = {
    {"url", SG_CFG_STRING, NULL, 1, 0,
     "Alertmanager's base URL, e.g. http://127.0.0.1:9093 (" S_PATH " is added)"},
    {"generator_url", SG_CFG_STRING, NULL, 0, 0, "generatorURL of every alert"},
    {"hold", SG_CFG_DURATION, "24h", 0, 0, "how long a fired alert stays firing unresolved"},
    {"timeout", SG_CFG_DURATION, "10s", 0, 0, "longest time one request may take"},
};

typedef struct {
    sg_outcome_kind_t kind;
    const char *alertname;
} s_alert_kind_t;

static const s_alert_kind_t s_collection_alerts[] = {
    {SG_OUTCOME_FAILED, "SiteguardFailoverFailed"},
    {SG_OUTCOME_TIMED_OUT, "SiteguardFailoverTimedOut"},
    {SG_OUTCOME_BLOCKED, "SiteguardFailoverBlocked"},
};
static const s_alert_kind_t s_site_alert = {SG_OUTCOME_SITE_LOST, "SiteguardSiteLost"};

static json_t *s_labels(const sg_outcome_t *o, const s_alert_kind_t *a)
{
    json_t *l = json_pack("{s:s, s:s, s:s}", "alertname", a->alertname, "kind",
                          sg_text_kind(a->kind), "severity", "critical");
    if (l && o->site && json_object_set_new(l, "site", json_string(o->site)) != 0)
        goto fail;
    if (l && a->kind != SG_OUTCOME_SITE_LOST && o->collection &&
        json_object_set_new(l, "collection", json_string(o->collection)) != 0)
        goto fail;
    return l;
fail:
    json_decref(l);
    return NULL;
}

static json_t *s_annotations(const sg_outcome_t *o)
{
    char *summary = sg_text_summary(o, 0);
    char *title = sg_text_title(o);
    char *run = sg_text_printf("%llu", (unsigned long long)o->run_id);
    json_t *a = summary && title && run
                    ? json_pack("{s:s, s:s, s:s, s:s}", "summary", summary, "description",
                                o->message ? o->message : title, "run_id", run, "dedup_key",
                                o->dedup_key ? o->dedup_key : "")
                    : NULL;
    free(summary);
    free(title);
    free(run);
    return a;
}

/* One alert of kind `a` about `o`, firing or resolved. */
static json_t *s_alert(const sg_outcome_t *o, const s_alert_kind_t *a, int resolved,
                       const char *generator_url, int64_t hold_ms)
{
    char starts[SG_TEXT_TIME_LEN], ends[SG_TEXT_TIME_LEN];
    sg_text_rfc3339(o->time_ms, starts);
    sg_text_rfc3339(resolved ? o->time_ms : o->time_ms + hold_ms, ends);
    json_t *alert = json_pack("{s:o, s:o, s:s, s:s}", "labels", s_labels(o, a), "annotations",
                              s_annotations(o), "startsAt", starts, "endsAt", ends);
    if (alert && generator_url &&
        json_object_set_new(alert, "generatorURL", json_string(generator_url)) != 0) {
        json_decref(alert);
        return NULL;
    }
    return alert;
}

/* An alert's identity, "alertname/site/collection" (names may hold '/': the
 * separator is a control character, which config names cannot hold).
 * Returns a new string (the caller frees it) or NULL. */
static char *s_identity(const sg_outcome_t *o, const char *alertname)
{
    return sg_text_printf("%s\x1f%s\x1f%s", alertname, o->site ? o->site : "",
                          o->collection ? o->collection : "");
}

/* Whether a success of `o` resolves collection alert `a`: every one when
 * `fired` is NULL (not known what fired), else those in it. */
static bool s_resolves(const sg_outcome_t *o, const s_alert_kind_t *a, const json_t *fired)
{
    if (!fired)
        return true;
    char *id = s_identity(o, a->alertname);
    bool yes = id && json_object_get(fired, id) != NULL;
    free(id);
    return yes;
}

/* The alerts an outcome fires or resolves, appended to `list`; a success
 * resolves the alerts of its collection in `fired` (NULL: all three). */
static int s_add_alerts(json_t *list, const sg_outcome_t *o, const char *generator_url,
                        int64_t hold_ms, const json_t *fired)
{
    size_t n_coll = sizeof s_collection_alerts / sizeof s_collection_alerts[0];
    for (size_t i = 0; i < n_coll; i++) {
        const s_alert_kind_t *a = &s_collection_alerts[i];
        bool resolve = o->kind == SG_OUTCOME_SUCCEEDED && s_resolves(o, a, fired);
        if ((o->kind == a->kind || resolve) &&
            json_array_append_new(list, s_alert(o, a, resolve, generator_url, hold_ms)) != 0)
            return -1;
    }
    if ((o->kind == SG_OUTCOME_SITE_LOST || o->kind == SG_OUTCOME_SITE_RECOVERED) &&
        json_array_append_new(list, s_alert(o, &s_site_alert,
                                            o->kind == SG_OUTCOME_SITE_RECOVERED, generator_url,
                                            hold_ms)) != 0)
        return -1;
    return 0;
}

/* The body for `o`, resolving as s_add_alerts says. Pure. Returns 0 with
 * *out the JSON array text (caller frees) or NULL when Alertmanager is not
 * told of this outcome; -1 when out of memory or the outcome's text is not
 * UTF-8. */
static int s_build_alerts(const sg_outcome_t *o, const char *generator_url, int64_t hold_ms,
                          const json_t *fired, char **out)
{
    *out = NULL;
    json_t *list = json_array();
    int rc = -1;
    if (!list || s_add_alerts(list, o, generator_url, hold_ms, fired) != 0)
        goto fail;
    rc = 0;
    if (json_array_size(list) > 0) {
        *out = json_dumps(list, JSON_COMPACT | JSON_PRESERVE_ORDER);
        rc = *out ? 0 : -1;
    }
fail:
    json_decref(list);
    return rc;
}

/* The configured URL with S_PATH, unless it ends with it already. */
static char *s_alerts_url(const char *base)
{
    size_t len = strlen(base), plen = strlen(S_PATH);
    if (len >= plen && strcmp(base + len - plen, S_PATH) == 0)
        return sg_text_printf("%s", base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    return sg_text_printf("%.*s%s", (int)len, base, S_PATH);
}

static void s_close(void *ctx)
{
    s_am_t *am = ctx;
    if (!am)
        return;
    sg_http_sink_fini(&am->sink);
    json_decref(am->fired);
    json_decref(am->heard);
    free(am->url);
    free(am);
}

static int s_init(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                  size_t n_options, void **ctx)
{
    const char *hold = sg_plugin_option(options, n_options, "hold");
    s_am_t *am = calloc(1, sizeof *am);
    if (!am) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory");
        return -1;
    }
    am->generator_url = sg_plugin_option(options, n_options, "generator_url");
    am->fired = json_object();
    am->heard = json_object();
    if (!am->fired || !am->heard) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory");
        goto fail;
    }
    am->hold_ms = hold ? strtoll(hold, NULL, 10) : 86400000;
    if (sg_http_sink_init(&am->sink, host, options, n_options) != 0)
        goto fail;
    if (!(am->url = s_alerts_url(am->sink.url))) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory");
        goto fail;
    }
    am->sink.url = am->url;
    *ctx = am;
    return 0;
fail:
    s_close(am);
    return -1;
}

/* The collection's "site/name" key in am->heard (the caller frees it), or
 * NULL for an outcome about no collection. */
static char *s_collection_key(const sg_outcome_t *o)
{
    return o->collection ? sg_text_printf("%s\x1f%s", o->site ? o->site : "", o->collection)
                         : NULL;
}

static int s_build(const sg_outcome_t *o, const void *state, char **json)
{
    const s_am_t *am = state;
    char *key = s_collection_key(o);
    const json_t *fired = key && json_object_get(am->heard, key) ? am->fired : NULL;
    free(key);
    return s_build_alerts(o, am->generator_url, am->hold_ms, fired, json);
}

/* After `o` was delivered: what it fired is remembered, what it resolved
 * forgotten, and its collection heard of. Out of memory only forgets (a
 * later success then resolves all three: never too few). */
static void s_remember(s_am_t *am, const sg_outcome_t *o)
{
    char *key = s_collection_key(o);
    if (!key)
        return;
    size_t n_coll = sizeof s_collection_alerts / sizeof s_collection_alerts[0];
    for (size_t i = 0; i < n_coll; i++) {
        const s_alert_kind_t *a = &s_collection_alerts[i];
        if (o->kind != a->kind && o->kind != SG_OUTCOME_SUCCEEDED)
            continue;
        char *id = s_identity(o, a->alertname);
        if (id && o->kind == a->kind)
            json_object_set_new(am->fired, id, json_true());
        else if (id)
            json_object_del(am->fired, id);
        free(id);
    }
    json_object_set_new(am->heard, key, json_true());
    free(key);
}

static sg_deliver_result_t s_deliver(void *ctx, const sg_outcome_t *o)
{
    s_am_t *am = ctx;
    sg_deliver_result_t r = sg_http_sink_deliver(&am->sink, o, s_build, am);
    if (r == SG_DELIVER_OK && sg_text_outcome_complete(o))
        s_remember(am, o);
    return r;
}

SG_PLUGIN_EXPORT const sg_plugin_t sg_plugin_descriptor = {
    .abi_version = SG_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sg_plugin_t),
    .name = "alertmanager",
    .description = "fires and resolves Prometheus Alertmanager alerts",
    .config_keys = s_keys,
    .n_config_keys = sizeof s_keys / sizeof s_keys[0],
    .init = s_init,
    .deliver = s_deliver,
    .close = s_close,
};
