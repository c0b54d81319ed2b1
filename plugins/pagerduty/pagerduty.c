/* pagerduty: PagerDuty Events API v2 (POST /v2/enqueue).
 *
 * A failed, timed-out or blocked failover triggers an incident whose dedup
 * key is "siteguard/<run_id>/<collection>"; its success resolves that key.
 * A lost site triggers "siteguard/site/<site>", its recovery resolves it.
 * Blocks of a site that the host grouped into one outcome (no collection)
 * trigger "siteguard/site/<site>/blocked".
 * Other outcomes are not sent (deliver answers OK). A trigger carries
 * payload{summary, source, severity, timestamp, component, group, class,
 * custom_details (the outcome's JSON)}; a resolve only the key. */
#include "siteguard/plugin.h"

#include "common/http.h"
#include "common/sys.h"
#include "common/text.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum { S_SUMMARY_MAX = 1024 }; /* PagerDuty's limit on payload.summary */

typedef struct {
    sg_http_sink_t sink;
    const char *routing_key; /* secret */
    char *source;            /* owned */
} s_pagerduty_t;

static const sg_plugin_config_key_t s_keys[] = {
    {"routing_key", SG_CFG_STRING, NULL, 1, 1, "the integration key of the PagerDuty service"},
    {"url", SG_CFG_STRING, "https://events.pagerduty.com/v2/enqueue", 0, 0,
     "the Events API v2 enqueue URL"},
    {"source", SG_CFG_STRING, NULL, 0, 0, "payload.source; default: this host's name"},
    {"timeout", SG_CFG_DURATION, "10s", 0, 0, "longest time one request may take"},
};

/* "trigger", "resolve", or NULL for an outcome PagerDuty is not told. */
static const char *s_action(sg_outcome_kind_t kind)
{
    switch (kind) {
    case SG_OUTCOME_FAILED:
    case SG_OUTCOME_TIMED_OUT:
    case SG_OUTCOME_BLOCKED:
    case SG_OUTCOME_SITE_LOST: return "trigger";
    case SG_OUTCOME_SUCCEEDED:
    case SG_OUTCOME_SITE_RECOVERED: return "resolve";
    default: return NULL;
    }
}

/* The incident's key: one per collection and run, one per site; blocks
 * grouped into one outcome (no collection: the host's `group`) one per
 * site. */
static char *s_dedup_key(const sg_outcome_t *o)
{
    if (o->kind == SG_OUTCOME_SITE_LOST || o->kind == SG_OUTCOME_SITE_RECOVERED)
        return sg_text_printf("siteguard/site/%s", o->site ? o->site : "-");
    if (o->kind == SG_OUTCOME_BLOCKED && !o->collection && o->site)
        return sg_text_printf("siteguard/site/%s/blocked", o->site);
    return sg_text_printf("siteguard/%llu/%s", (unsigned long long)o->run_id,
                          o->collection ? o->collection : "-");
}

static int s_set(json_t *obj, const char *key, json_t *value)
{
    return value && json_object_set_new(obj, key, value) == 0 ? 0 : -1;
}

/* A JSON string, or NULL for NULL text or text that is not UTF-8. */
static json_t *s_str(const char *text) { return text ? json_string(text) : NULL; }

static json_t *s_payload(const sg_outcome_t *o, const char *source)
{
    char when[SG_TEXT_TIME_LEN];
    sg_text_rfc3339(o->time_ms, when);
    json_t *p = json_object();
    char *summary = sg_text_summary(o, S_SUMMARY_MAX);
    json_t *details = json_loads(o->json, 0, NULL);
    int site_kind = o->kind == SG_OUTCOME_SITE_LOST || o->kind == SG_OUTCOME_SITE_RECOVERED;
    const char *component = site_kind ? o->site : o->collection;
    if (!p || !summary || !details || s_set(p, "summary", json_string(summary)) != 0 ||
        s_set(p, "source", json_string(source)) != 0 ||
        s_set(p, "severity", json_string(sg_text_severity(o->severity))) != 0 ||
        s_set(p, "timestamp", json_string(when)) != 0 ||
        (component && s_set(p, "component", s_str(component)) != 0) ||
        (o->site && s_set(p, "group", s_str(o->site)) != 0) ||
        s_set(p, "class", json_string(sg_text_kind(o->kind))) != 0 ||
        json_object_set(p, "custom_details", details) != 0) {
        json_decref(p);
        p = NULL;
    }
    json_decref(details);
    free(summary);
    return p;
}

/* The Events API v2 body for `o`. Pure. Returns 0 with *out the JSON text
 * (caller frees) or NULL when PagerDuty is not told of this outcome; -1
 * when out of memory or the outcome's text is not UTF-8. */
static int s_build_event(const sg_outcome_t *o, const char *routing_key, const char *source,
                         char **out)
{
    *out = NULL;
    const char *action = s_action(o->kind);
    if (!action)
        return 0;
    int rc = -1;
    char *key = s_dedup_key(o);
    json_t *ev = json_object();
    if (!key || !ev || s_set(ev, "routing_key", json_string(routing_key)) != 0 ||
        s_set(ev, "event_action", json_string(action)) != 0 ||
        s_set(ev, "dedup_key", s_str(key)) != 0)
        goto fail;
    if (strcmp(action, "trigger") == 0 &&
        (s_set(ev, "payload", s_payload(o, source)) != 0 ||
         s_set(ev, "client", json_string("siteguard")) != 0))
        goto fail;
    *out = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    rc = *out ? 0 : -1;
fail:
    json_decref(ev);
    free(key);
    return rc;
}

static void s_close(void *ctx)
{
    s_pagerduty_t *pd = ctx;
    if (!pd)
        return;
    sg_http_sink_fini(&pd->sink);
    free(pd->source);
    free(pd);
}

static int s_init(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                  size_t n_options, void **ctx)
{
    const char *source = sg_plugin_option(options, n_options, "source");
    s_pagerduty_t *pd = calloc(1, sizeof *pd);
    if (!pd) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory");
        return -1;
    }
    pd->routing_key = sg_plugin_option(options, n_options, "routing_key");
    pd->source = source ? sg_text_printf("%s", source) : sg_sys_hostname("siteguard");
    if (!pd->source || !pd->routing_key) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory or no routing_key");
        goto fail;
    }
    if (sg_http_sink_init(&pd->sink, host, options, n_options) != 0)
        goto fail;
    *ctx = pd;
    return 0;
fail:
    s_close(pd);
    return -1;
}

static int s_build(const sg_outcome_t *o, const void *state, char **json)
{
    const s_pagerduty_t *pd = state;
    return s_build_event(o, pd->routing_key, pd->source, json);
}

static sg_deliver_result_t s_deliver(void *ctx, const sg_outcome_t *o)
{
    s_pagerduty_t *pd = ctx;
    return sg_http_sink_deliver(&pd->sink, o, s_build, pd);
}

SG_PLUGIN_EXPORT const sg_plugin_t sg_plugin_descriptor = {
    .abi_version = SG_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sg_plugin_t),
    .name = "pagerduty",
    .description = "triggers and resolves PagerDuty incidents (Events API v2)",
    .config_keys = s_keys,
    .n_config_keys = sizeof s_keys / sizeof s_keys[0],
    .init = s_init,
    .deliver = s_deliver,
    .close = s_close,
};
