/* slack: one message per outcome to a Slack incoming webhook.
 *
 * The body is {"text": summary, "blocks": [header (the title), section (the
 * message, when there is one), section of fields (the outcome's facts),
 * context (time and dedup key)]}. Text in mrkdwn has &, < and > escaped, so
 * names cannot make links or mentions. */
#include "siteguard/plugin.h"

#include "common/http.h"
#include "common/text.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum {
    S_HEADER_MAX = 150,  /* Slack's limit on a header block's text */
    S_TEXT_MAX = 3000,   /* on a section's text */
    S_FIELD_MAX = 2000,  /* on one field */
    S_FIELDS_MAX = 10,   /* fields in one section */
};

static const sg_plugin_config_key_t s_keys[] = {
    {"url", SG_CFG_STRING, NULL, 1, 1, "the incoming webhook URL"},
    {"timeout", SG_CFG_DURATION, "10s", 0, 0, "longest time one request may take"},
};

/* `text` with &, <, > as entities, cut to `max` bytes. Caller frees. */
static char *s_mrkdwn(const char *text, size_t max)
{
    size_t len = 0;
    for (const char *p = text; *p; p++)
        len += *p == '&' ? 5 : (*p == '<' || *p == '>') ? 4 : 1;
    char *out = malloc(len + 1), *q = out;
    if (!out)
        return NULL;
    for (const char *p = text; *p; p++) {
        const char *rep = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : NULL;
        if (rep) {
            memcpy(q, rep, strlen(rep));
            q += strlen(rep);
        } else {
            *q++ = *p;
        }
    }
    *q = '\0';
    sg_text_cut_utf8(out, max);
    return out;
}

/* {"type": type, "text": text}; takes nothing, copies text. */
static json_t *s_text_obj(const char *type, const char *text)
{
    return text ? json_pack("{s:s, s:s}", "type", type, "text", text) : NULL;
}

static int s_push(json_t *array, json_t *item)
{
    return item && json_array_append_new(array, item) == 0 ? 0 : -1;
}

static json_t *s_fields(const sg_outcome_t *o)
{
    sg_text_fact_t facts[SG_TEXT_MAX_FACTS];
    int n = sg_text_facts(o, facts);
    if (n < 0)
        return NULL;
    json_t *fields = json_array();
    for (int i = 0; fields && i < n && json_array_size(fields) < S_FIELDS_MAX; i++) {
        if (strcmp(facts[i].label, "Time") == 0 || strcmp(facts[i].label, "Dedup key") == 0)
            continue; /* in the context line */
        char *value = s_mrkdwn(facts[i].value, S_FIELD_MAX - 64);
        char *text = value ? sg_text_printf("*%s*\n%s", facts[i].label, value) : NULL;
        int rc = s_push(fields, s_text_obj("mrkdwn", text));
        free(value);
        free(text);
        if (rc != 0) {
            json_decref(fields);
            fields = NULL;
        }
    }
    sg_text_facts_free(facts, n);
    return fields;
}

static json_t *s_context(const sg_outcome_t *o)
{
    char when[SG_TEXT_TIME_LEN];
    sg_text_rfc3339(o->time_ms, when);
    char *key = s_mrkdwn(o->dedup_key ? o->dedup_key : "-", 200);
    char *text = key ? sg_text_printf("siteguard | %s | dedup key %s", when, key) : NULL;
    json_t *elements = json_array();
    json_t *ctx = NULL;
    if (elements && s_push(elements, s_text_obj("mrkdwn", text)) == 0)
        ctx = json_pack("{s:s, s:O}", "type", "context", "elements", elements);
    json_decref(elements);
    free(key);
    free(text);
    return ctx;
}

/* The message's blocks. */
static json_t *s_blocks(const sg_outcome_t *o, const char *title)
{
    json_t *blocks = json_array();
    char *header = sg_text_printf("%s", title);
    char *message = o->message ? s_mrkdwn(o->message, S_TEXT_MAX) : NULL;
    json_t *fields = s_fields(o);
    int ok = blocks && header && fields && (!o->message || message);
    if (ok) {
        sg_text_cut_utf8(header, S_HEADER_MAX);
        ok = s_push(blocks, json_pack("{s:s, s:o}", "type", "header", "text",
                                      s_text_obj("plain_text", header))) == 0 &&
             (!message || s_push(blocks, json_pack("{s:s, s:o}", "type", "section", "text",
                                                  s_text_obj("mrkdwn", message))) == 0) &&
             s_push(blocks, json_pack("{s:s, s:O}", "type", "section", "fields", fields)) == 0 &&
             s_push(blocks, s_context(o)) == 0;
    }
    json_decref(fields);
    free(header);
    free(message);
    if (!ok) {
        json_decref(blocks);
        return NULL;
    }
    return blocks;
}

/* The webhook body for `o`. Pure. Returns JSON text (caller frees) or NULL
 * when out of memory or the outcome's text is not UTF-8. */
static char *s_build_message(const sg_outcome_t *o)
{
    char *summary = sg_text_summary(o, S_TEXT_MAX);
    char *title = sg_text_title(o);
    char *text = summary ? s_mrkdwn(summary, S_TEXT_MAX) : NULL;
    json_t *blocks = title ? s_blocks(o, title) : NULL;
    char *out = NULL;
    if (text && blocks) {
        json_t *msg = json_pack("{s:s, s:O}", "text", text, "blocks", blocks);
        out = msg ? json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(msg);
    }
    json_decref(blocks);
    free(summary);
    free(title);
    free(text);
    return out;
}

static int s_build(const sg_outcome_t *o, const void *state, char **json)
{
    (void)state;
    *json = s_build_message(o);
    return *json ? 0 : -1;
}

static sg_deliver_result_t s_deliver(void *ctx, const sg_outcome_t *o)
{
    return sg_http_sink_deliver(ctx, o, s_build, NULL);
}

SG_PLUGIN_EXPORT const sg_plugin_t sg_plugin_descriptor = {
    .abi_version = SG_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sg_plugin_t),
    .name = "slack",
    .description = "posts a message per outcome to a Slack incoming webhook",
    .config_keys = s_keys,
    .n_config_keys = sizeof s_keys / sizeof s_keys[0],
    .init = sg_http_sink_open,
    .deliver = s_deliver,
    .close = sg_http_sink_close,
};
