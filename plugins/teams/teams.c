/* teams: one Adaptive Card per outcome to a Microsoft Teams incoming webhook
 * (a Workflows "post to a channel when a webhook request is received" URL).
 *
 * The body is {"type": "message", "attachments": [{"contentType":
 * "application/vnd.microsoft.card.adaptive", "content": card}]}; the card
 * (version 1.4) holds the title (coloured by how it went), the message, and
 * a FactSet of the outcome's facts. */
#include "siteguard/plugin.h"

#include "common/http.h"
#include "common/text.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const sg_plugin_config_key_t s_keys[] = {
    {"url", SG_CFG_STRING, NULL, 1, 1, "the incoming webhook (Workflows) URL"},
    {"timeout", SG_CFG_DURATION, "10s", 0, 0, "longest time one request may take"},
};

/* The title's colour: Good for an end that went well, else by severity. */
static const char *s_colour(const sg_outcome_t *o)
{
    if (o->kind == SG_OUTCOME_SUCCEEDED || o->kind == SG_OUTCOME_SITE_RECOVERED)
        return "Good";
    switch (o->severity) {
    case SG_SEVERITY_CRITICAL: return "Attention";
    case SG_SEVERITY_WARNING: return "Warning";
    default: return "Default";
    }
}

static json_t *s_facts(const sg_outcome_t *o)
{
    sg_text_fact_t facts[SG_TEXT_MAX_FACTS];
    int n = sg_text_facts(o, facts);
    if (n < 0)
        return NULL;
    json_t *list = json_array();
    for (int i = 0; list && i < n; i++) {
        json_t *fact = json_pack("{s:s, s:s}", "title", facts[i].label, "value", facts[i].value);
        if (!fact || json_array_append_new(list, fact) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    sg_text_facts_free(facts, n);
    return list;
}

/* The card's body: title, message (when set), facts. */
static json_t *s_body(const sg_outcome_t *o, const char *title, json_t *facts)
{
    json_t *body = json_array();
    if (!body)
        return NULL;
    int ok = json_array_append_new(body, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "type",
                                                   "TextBlock", "text", title, "weight",
                                                   "Bolder", "size", "Medium", "color",
                                                   s_colour(o), "wrap", 1)) == 0;
    if (ok && o->message)
        ok = json_array_append_new(body, json_pack("{s:s, s:s, s:b}", "type", "TextBlock",
                                                   "text", o->message, "wrap", 1)) == 0;
    if (ok)
        ok = json_array_append_new(body, json_pack("{s:s, s:O}", "type", "FactSet", "facts",
                                                   facts)) == 0;
    if (!ok) {
        json_decref(body);
        return NULL;
    }
    return body;
}

/* The webhook body for `o`. Pure. Returns JSON text (caller frees) or NULL
 * when out of memory or the outcome's text is not UTF-8. */
static char *s_build_card(const sg_outcome_t *o)
{
    char *title = sg_text_title(o);
    char *summary = sg_text_summary(o, 0);
    json_t *facts = s_facts(o);
    json_t *body = title && facts ? s_body(o, title, facts) : NULL;
    char *out = NULL;
    if (body && summary) {
        json_t *msg = json_pack(
            "{s:s, s:s, s:[{s:s, s:n, s:{s:s, s:s, s:s, s:O, s:{s:s}}}]}", "type", "message",
            "summary", summary, "attachments", "contentType",
            "application/vnd.microsoft.card.adaptive", "contentUrl", "content", "$schema",
            "http://adaptivecards.io/schemas/adaptive-card.json", "type", "AdaptiveCard",
            "version", "1.4", "body", body, "msteams", "width", "Full");
        out = msg ? json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(msg);
    }
    json_decref(body);
    json_decref(facts);
    free(title);
    free(summary);
    return out;
}

static int s_build(const sg_outcome_t *o, const void *state, char **json)
{
    (void)state;
    *json = s_build_card(o);
    return *json ? 0 : -1;
}

static sg_deliver_result_t s_deliver(void *ctx, const sg_outcome_t *o)
{
    return sg_http_sink_deliver(ctx, o, s_build, NULL);
}

SG_PLUGIN_EXPORT const sg_plugin_t sg_plugin_descriptor = {
    .abi_version = SG_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sg_plugin_t),
    .name = "teams",
    .description = "posts an Adaptive Card per outcome to a Microsoft Teams incoming webhook",
    .config_keys = s_keys,
    .n_config_keys = sizeof s_keys / sizeof s_keys[0],
    .init = sg_http_sink_open,
    .deliver = s_deliver,
    .close = sg_http_sink_close,
};
