/* libFuzzer target for the sinks' options: a plugin's options as a config
 * would give them, checked and normalised by the host (notify/pluginlib.h,
 * loading the plugin library built beside this target), read by the
 * plugin's own init, and used by its deliver.
 *
 * The input is a first line naming the plugin (jsonl, console, webhook,
 * pagerduty, slack, teams, alertmanager, smtp, syslog or exec; any other
 * name is skipped) and then one option a line, "key=value". jsonl's path is
 * always /dev/null, so that the fuzzer creates no files; init reads options
 * only (no plugin connects or runs anything before its first delivery).
 * When init takes the options, the plugin is opened again with its endpoint
 * replaced by one that answers nothing (a refused loopback port, UDP to
 * the discard port, /bin/true; s_endpoints) and delivers a site loss and a
 * failed failover: its payload is built from the other options, the
 * sending fails fast. console is not delivered to (it prints).
 *
 * Checks: the host accepts the options with no error line or refuses them
 * with at least one; accepted options are the plugin's own keys, each at
 * most once, every required one present, durations (at most 100 years) and
 * integers as digits, booleans true or false; a secret value is never in an
 * error or a log line (checked for values that contain "SECRET" and that no
 * other option quotes, so that a value cannot match a message by chance);
 * init either opens an instance or fails after logging why; a delivery
 * answers OK, RETRY or FATAL. Nothing may crash or leak. */
#include "base/err.h"
#include "config/config.h"
#include "journal/outcome.h"
#include "notify/pluginlib.h"
#include "platform/platform.h"
#define FZ_PLUGIN_HOST
#include "fuzz.h"

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_OPTIONS 16

static const char *const s_plugins[] = {"jsonl", "console", "webhook", "pagerduty", "slack",
                                        "teams", "alertmanager", "smtp", "syslog", "exec"};
#define S_N_PLUGINS (sizeof s_plugins / sizeof s_plugins[0])

/* Where a delivery goes instead of where the options say. */
static const struct {
    const char *plugin, *key, *value;
} s_endpoints[] = {
    {"jsonl", "path", "/dev/null"},
    {"webhook", "url", "http://127.0.0.1:1/hook"},
    {"pagerduty", "url", "http://127.0.0.1:1/v2/enqueue"},
    {"slack", "url", "http://127.0.0.1:1/services/x"},
    {"teams", "url", "http://127.0.0.1:1/workflows/x"},
    {"alertmanager", "url", "http://127.0.0.1:1"},
    {"smtp", "url", "smtp://127.0.0.1:1"},
    {"syslog", "address", "udp://127.0.0.1:9"},
    {"exec", "command", "/bin/true"},
};
#define S_N_ENDPOINTS (sizeof s_endpoints / sizeof s_endpoints[0])

static sg_config_t s_cfg = {.plugin_dir = (char *)SG_FUZZ_PLUGIN_DIR};
static sg_outcome_t *s_outcomes[2]; /* a site loss, a failed failover */
static sg_dl_t *s_libs[S_N_PLUGINS]; /* loaded for the whole run */
static const char *s_secrets[S_MAX_OPTIONS]; /* this input's secret values to look for */
static size_t s_n_secrets;
static int s_logged;

static void s_no_secret_in(const char *text)
{
    for (size_t i = 0; i < s_n_secrets; i++)
        FZ_CHECK(!strstr(text, s_secrets[i]));
}

static void fz_plugin_log(int level, const char *line)
{
    FZ_CHECK(level >= SG_PLUGIN_LOG_ERROR && level <= SG_PLUGIN_LOG_DEBUG);
    s_no_secret_in(line);
    s_logged++;
}

/* Every plugin library stays loaded for the whole run: pluginlib's own
 * open and close then only count references (and the fuzzer's coverage of
 * a library is not unmapped under it). Before the first input, so that
 * libFuzzer counts their coverage from the start. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sg_log_set_level(SG_LOG_ERROR);
    FZ_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
    for (size_t i = 0; i < S_N_PLUGINS; i++) {
        char path[1024], why[512];
        snprintf(path, sizeof path, "%s/sg_%s%s", SG_FUZZ_PLUGIN_DIR, s_plugins[i],
                 sg_dl_suffix());
        if (!(s_libs[i] = sg_dl_open(path, why, sizeof why))) {
            fprintf(stderr, "fuzz_plugin_options: %s\n", why);
            abort();
        }
    }
    for (int i = 0; i < 2; i++) {
        sg_outcome_t *o = sg_outcome_new(i ? SG_OUTCOME_FAILED : SG_OUTCOME_SITE_LOST,
                                         1800000000000LL);
        FZ_CHECK(o && sg_outcome_set(o, &o->site, "A") == SG_OK &&
                 sg_outcome_set(o, &o->message, "silent for 10 s; quorum 2 of 2") == SG_OK);
        if (i) {
            o->run_id = 9;
            o->error_code = 32768;
            FZ_CHECK(sg_outcome_set(o, &o->replica_site, "B") == SG_OK &&
                     sg_outcome_set(o, &o->collection, "sql") == SG_OK);
        }
        FZ_CHECK(sg_outcome_finish(o, 0) == SG_OK);
        s_outcomes[i] = o;
    }
    return 0;
}

static bool s_digits(const char *s, bool sign)
{
    if (sign && *s == '-')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* What the host hands init, against the plugin's config map. */
static void s_check_options(const sg_pluginlib_t *lib)
{
    const sg_plugin_t *p = lib->plugin;
    FZ_CHECK(lib->n_options <= p->n_config_keys);
    for (size_t i = 0; i < lib->n_options; i++) {
        const sg_plugin_config_key_t *k = sg_pluginlib_key(p, lib->options[i].key);
        const char *v = lib->options[i].value;
        FZ_CHECK(k && v && sg_plugin_option(lib->options, i, k->name) == NULL);
        if (k->type == SG_CFG_DURATION)
            FZ_CHECK(s_digits(v, false) && strtoll(v, NULL, 10) <= SG_CFG_DURATION_MAX_MS);
        else if (k->type == SG_CFG_INT)
            FZ_CHECK(s_digits(v, true));
        else if (k->type == SG_CFG_BOOL)
            FZ_CHECK(strcmp(v, "true") == 0 || strcmp(v, "false") == 0);
    }
    for (size_t i = 0; i < p->n_config_keys; i++)
        FZ_CHECK(!p->config_keys[i].required ||
               sg_plugin_option(lib->options, lib->n_options, p->config_keys[i].name));
}

/* The input as a sink of plugin `plugin`: options from "key=value" lines. */
static size_t s_read_options(const char *text, sg_kv_t *kv, const char *plugin)
{
    size_t n = 0;
    for (const char *p = text; *p && n < S_MAX_OPTIONS;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        kv[n].key = strndup(p, klen);
        kv[n].value = eq ? strndup(eq + 1, len - klen - 1) : strdup("");
        kv[n].mark = (sg_mark_t){"fuzz.yaml", (int)n + 2, 5};
        FZ_CHECK(kv[n].key && kv[n].value);
        if (strcmp(plugin, "jsonl") == 0 && strcmp(kv[n].key, "path") == 0) {
            free(kv[n].value);
            FZ_CHECK((kv[n].value = strdup("/dev/null")) != NULL);
        }
        n++;
        p += len + (end ? 1 : 0);
    }
    return n;
}

static bool s_secret_key(const sg_pluginlib_t *lib, const char *key)
{
    const sg_plugin_config_key_t *k = sg_pluginlib_key(lib->plugin, key);
    return k && k->secret;
}

/* The secret values among the options that contain "SECRET" and that no
 * other text of the input (a key, a value that is not secret) holds, since
 * that text may be quoted. */
static void s_find_secrets(const sg_pluginlib_t *lib, const sg_kv_t *kv, size_t n)
{
    s_n_secrets = 0;
    for (size_t i = 0; i < n; i++) {
        if (!s_secret_key(lib, kv[i].key) || !strstr(kv[i].value, "SECRET"))
            continue;
        bool quotable = false;
        for (size_t k = 0; k < n; k++)
            quotable |= strstr(kv[k].key, kv[i].value) ||
                        (!s_secret_key(lib, kv[k].key) && strstr(kv[k].value, kv[i].value));
        if (!quotable)
            s_secrets[s_n_secrets++] = kv[i].value;
    }
}

/* Opens the plugin again with its endpoint replaced, delivers, closes. */
static void s_deliver(const sg_pluginlib_t *lib)
{
    size_t e = 0;
    while (e < S_N_ENDPOINTS && strcmp(s_endpoints[e].plugin, lib->plugin->name) != 0)
        e++;
    if (e == S_N_ENDPOINTS)
        return;
    sg_plugin_option_t opts[S_MAX_OPTIONS];
    size_t n = lib->n_options;
    FZ_CHECK(n <= S_MAX_OPTIONS);
    for (size_t i = 0; i < n; i++) {
        opts[i] = lib->options[i];
        if (strcmp(opts[i].key, s_endpoints[e].key) == 0)
            opts[i].value = s_endpoints[e].value;
    }
    void *ctx = NULL;
    s_logged = 0;
    if (lib->plugin->init(&fz_host, opts, n, &ctx) != 0) {
        FZ_CHECK(s_logged > 0);
        return;
    }
    for (int i = 0; i < 2; i++) {
        sg_deliver_result_t r = lib->plugin->deliver(ctx, s_outcomes[i]);
        FZ_CHECK(r == SG_DELIVER_OK || r == SG_DELIVER_RETRY || r == SG_DELIVER_FATAL);
    }
    lib->plugin->close(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = strndup((const char *)data, size);
    FZ_CHECK(text != NULL);
    char *nl = strchr(text, '\n');
    const char *plugin = NULL;
    for (size_t i = 0; nl && i < S_N_PLUGINS; i++)
        if ((size_t)(nl - text) == strlen(s_plugins[i]) &&
            strncmp(text, s_plugins[i], (size_t)(nl - text)) == 0)
            plugin = s_plugins[i];
    if (!plugin) {
        free(text);
        return 0;
    }
    sg_kv_t kv[S_MAX_OPTIONS];
    sg_sink_cfg_t sink = {.name = (char *)"fuzz", .plugin = (char *)plugin, .options = kv,
                          .mark = {"fuzz.yaml", 1, 3}};
    sink.n_options = s_read_options(nl + 1, kv, plugin);

    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    sg_pluginlib_t lib;
    int rc = sg_pluginlib_load(&lib, &s_cfg, &sink, &errs);
    FZ_CHECK(lib.plugin != NULL); /* the library itself always loads */
    s_find_secrets(&lib, kv, sink.n_options);
    FZ_CHECK(rc == SG_OK ? errs.n == 0 : rc == SG_ECONFIG && errs.n > 0);
    for (size_t i = 0; i < errs.n; i++)
        s_no_secret_in(errs.items[i]);
    if (rc == SG_OK) {
        s_check_options(&lib);
        void *ctx = NULL;
        s_logged = 0;
        if (lib.plugin->init(&fz_host, lib.options, lib.n_options, &ctx) == 0) {
            lib.plugin->close(ctx);
            s_deliver(&lib);
        } else {
            FZ_CHECK(s_logged > 0); /* a refusal says why */
        }
    }
    sg_pluginlib_unload(&lib);
    sg_config_errors_fini(&errs);
    for (size_t i = 0; i < sink.n_options; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(text);
    return 0;
}
