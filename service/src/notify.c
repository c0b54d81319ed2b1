/* notify: loads sink plugins, checks their options, and runs one queue and
 * one worker thread per sink with retries, backoff and dead letters. */
#include "notify.h"
#include "err.h"
#include "log.h"
#include "outcome.h"
#include "platform/platform.h"
#include "str.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    S_MAX_ATTEMPTS = 8,        /* deliveries of one outcome before it is dead-lettered */
    S_BACKOFF_START_MS = 100,  /* first wait after RETRY; doubles each time */
    S_BACKOFF_MAX_MS = 5000,   /* longest wait */
    S_SLEEP_SLICE_MS = 100,    /* backoff sleeps in slices so a stop is seen soon */
    S_DESTROY_DRAIN_MS = 5000, /* how long destroy lets the queues empty */
};

#define S_MODULE "notify"

typedef struct s_item {
    sg_outcome_t *outcome; /* owned */
    struct s_item *next;
} s_item_t;

/* One sink: its plugin, its options, its queue and its worker. */
typedef struct {
    sg_notify_t *owner;
    const sg_sink_cfg_t *cfg; /* borrowed from the config */
    char *lib_path;
    char *log_tag; /* "sink:<name>" */
    sg_dl_t *dl;
    const sg_plugin_t *plugin; /* inside dl */
    sg_plugin_option_t *options; /* keys point into the plugin, values owned */
    size_t n_options;
    sg_plugin_host_t host;
    void *ctx;
    bool inited;
    bool sync_ready;
    bool thread_started;
    pthread_t thread;
    /* Guarded by mu. */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* work arrived or stop */
    pthread_cond_t idle; /* queue empty and nothing in delivery */
    s_item_t *head;
    s_item_t *tail;
    bool busy;
    bool stop;
    sg_notify_stats_t stats;
} s_sink_t;

struct sg_notify {
    const sg_clock_t *clock; /* borrowed */
    s_sink_t *sinks;
    size_t n_sinks;
};

/* --- small helpers ----------------------------------------------------------- */

static const char *s_sink_name(const sg_sink_cfg_t *sc) { return sc->name ? sc->name : "?"; }

/* Appends one error at `mark`; with no error list, logs it instead. */
static void s_error(sg_config_errors_t *errs, const sg_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_error(sg_config_errors_t *errs, const sg_mark_t *mark, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && (text = malloc((size_t)n + 1)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    const char *what = text ? text : "out of memory while reporting a sink error";
    if (errs)
        (void)sg_config_errors_add(errs, mark, "%s", what);
    else
        sg_error(S_MODULE, "%s:%d:%d: %s", mark->file ? mark->file : "?", mark->line,
                 mark->column, what);
    free(text);
}

/* --- loading and checking ------------------------------------------------------ */

/* The library to load: the sink's path, else <dir>/sg_<plugin><suffix>. */
static int s_resolve_path(s_sink_t *s, const sg_config_t *cfg, sg_config_errors_t *errs)
{
    const sg_sink_cfg_t *sc = s->cfg;
    if (sc->path) {
        s->lib_path = sg_strdupf("%s", sc->path);
        return s->lib_path ? SG_OK : SG_ENOMEM;
    }
    if (!sc->plugin) {
        s_error(errs, &sc->mark, "sink '%s': sets neither plugin nor path", s_sink_name(sc));
        return SG_ECONFIG;
    }
    const char *env = getenv("SG_PLUGIN_DIR");
    char exe_dir[4096];
    const char *dir = cfg->plugin_dir;
    if (!dir && env && *env)
        dir = env;
    if (dir) {
        s->lib_path = sg_strdupf("%s/sg_%s%s", dir, sc->plugin, sg_dl_suffix());
    } else {
        if (sg_platform_exe_dir(exe_dir, sizeof exe_dir) != SG_OK) {
            s_error(errs, &sc->mark,
                    "sink '%s': cannot find the plugin directory; set plugin_dir",
                    s_sink_name(sc));
            return SG_ECONFIG;
        }
        s->lib_path = sg_strdupf("%s/plugins/sg_%s%s", exe_dir, sc->plugin, sg_dl_suffix());
    }
    return s->lib_path ? SG_OK : SG_ENOMEM;
}

static int s_open(s_sink_t *s, sg_config_errors_t *errs)
{
    const sg_sink_cfg_t *sc = s->cfg;
    char why[512] = "";
    s->dl = sg_dl_open(s->lib_path, why, sizeof why);
    if (!s->dl) {
        s_error(errs, &sc->mark, "sink '%s': cannot load plugin library '%s': %s",
                s_sink_name(sc), s->lib_path, why);
        return SG_ECONFIG;
    }
    s->plugin = sg_dl_sym(s->dl, SG_PLUGIN_DESCRIPTOR_SYMBOL);
    if (!s->plugin) {
        s_error(errs, &sc->mark, "sink '%s': plugin library '%s' does not export %s",
                s_sink_name(sc), s->lib_path, SG_PLUGIN_DESCRIPTOR_SYMBOL);
        return SG_ECONFIG;
    }
    return SG_OK;
}

/* ABI version and size first; only then the rest of the descriptor. */
static int s_check_descriptor(s_sink_t *s, sg_config_errors_t *errs)
{
    const sg_sink_cfg_t *sc = s->cfg;
    const sg_plugin_t *p = s->plugin;
    if (p->abi_version != SG_PLUGIN_ABI_VERSION) {
        s_error(errs, &sc->mark,
                "sink '%s': plugin library '%s' is ABI version %" PRIu32
                ", this siteguard speaks %u",
                s_sink_name(sc), s->lib_path, p->abi_version, SG_PLUGIN_ABI_VERSION);
        return SG_ECONFIG;
    }
    if (p->struct_size < sizeof(sg_plugin_t)) {
        s_error(errs, &sc->mark,
                "sink '%s': plugin library '%s' has a descriptor of %" PRIu32
                " bytes, this siteguard needs %zu",
                s_sink_name(sc), s->lib_path, p->struct_size, sizeof(sg_plugin_t));
        return SG_ECONFIG;
    }
    if (!p->name || !p->init || !p->deliver || !p->close ||
        (p->n_config_keys > 0 && !p->config_keys)) {
        s_error(errs, &sc->mark, "sink '%s': plugin library '%s' has an incomplete descriptor",
                s_sink_name(sc), s->lib_path);
        return SG_ECONFIG;
    }
    if (sc->plugin && strcmp(sc->plugin, p->name) != 0) {
        s_error(errs, &sc->mark, "sink '%s': plugin library '%s' holds plugin '%s', not '%s'",
                s_sink_name(sc), s->lib_path, p->name, sc->plugin);
        return SG_ECONFIG;
    }
    return SG_OK;
}

static const sg_plugin_config_key_t *s_find_key(const sg_plugin_t *p, const char *name)
{
    for (size_t i = 0; i < p->n_config_keys; i++) {
        if (p->config_keys[i].name && strcmp(p->config_keys[i].name, name) == 0)
            return &p->config_keys[i];
    }
    return NULL;
}

static const sg_kv_t *s_find_option(const sg_sink_cfg_t *sc, const char *key)
{
    for (size_t i = 0; i < sc->n_options; i++) {
        if (sc->options[i].key && strcmp(sc->options[i].key, key) == 0)
            return &sc->options[i];
    }
    return NULL;
}

/* "path, fsync": the plugin's keys, for error messages. Caller frees. */
static char *s_key_list(const sg_plugin_t *p)
{
    size_t len = 1;
    for (size_t i = 0; i < p->n_config_keys; i++)
        len += strlen(p->config_keys[i].name ? p->config_keys[i].name : "") + 2;
    char *list = malloc(len);
    if (!list)
        return NULL;
    list[0] = '\0';
    for (size_t i = 0; i < p->n_config_keys; i++) {
        if (i > 0)
            strcat(list, ", ");
        strcat(list, p->config_keys[i].name ? p->config_keys[i].name : "");
    }
    return list;
}

static const char *s_type_name(sg_cfg_type_t type)
{
    switch (type) {
    case SG_CFG_STRING: return "a string";
    case SG_CFG_INT: return "an integer";
    case SG_CFG_BOOL: return "true or false";
    case SG_CFG_DURATION: return "a duration such as 250ms, 3s or 2m";
    }
    return "of an unknown type";
}

/* The normalised text of `text` as a value of `type` in *out (caller frees).
 * Returns 0, SG_EINVAL when it is not such a value, or SG_ENOMEM. */
static int s_normalise(sg_cfg_type_t type, const char *text, char **out)
{
    *out = NULL;
    switch (type) {
    case SG_CFG_STRING:
        *out = sg_strdupf("%s", text);
        break;
    case SG_CFG_INT: {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (*text == '\0' || *end != '\0' || errno == ERANGE)
            return SG_EINVAL;
        *out = sg_strdupf("%lld", v);
        break;
    }
    case SG_CFG_BOOL:
        if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0)
            return SG_EINVAL;
        *out = sg_strdupf("%s", text);
        break;
    case SG_CFG_DURATION: {
        int64_t ms = 0;
        if (sg_config_parse_duration(text, &ms) != SG_OK || ms < 0)
            return SG_EINVAL;
        *out = sg_strdupf("%" PRId64, ms);
        break;
    }
    default:
        return SG_EINVAL;
    }
    return *out ? SG_OK : SG_ENOMEM;
}

/* Unknown and repeated keys, each at the option's own mark. */
static int s_check_known_keys(s_sink_t *s, sg_config_errors_t *errs)
{
    const sg_sink_cfg_t *sc = s->cfg;
    int rc = SG_OK;
    for (size_t i = 0; i < sc->n_options; i++) {
        const sg_kv_t *kv = &sc->options[i];
        const char *key = kv->key ? kv->key : "";
        if (!s_find_key(s->plugin, key)) {
            char *expected = s_key_list(s->plugin);
            s_error(errs, &kv->mark,
                    "sink '%s': unknown option '%s' for plugin '%s' (expected: %s)",
                    s_sink_name(sc), key, s->plugin->name, expected ? expected : "?");
            free(expected);
            rc = SG_ECONFIG;
        } else if (s_find_option(sc, key) != kv) {
            s_error(errs, &kv->mark, "sink '%s': option '%s' is set twice", s_sink_name(sc), key);
            rc = SG_ECONFIG;
        }
    }
    return rc;
}

/* The value of one config key: the sink's, else the default, else none.
 * Returns 0 (with *out NULL when the key is unset), SG_ECONFIG or SG_ENOMEM. */
static int s_option_value(s_sink_t *s, const sg_plugin_config_key_t *k, char **out,
                          sg_config_errors_t *errs)
{
    const sg_sink_cfg_t *sc = s->cfg;
    const sg_kv_t *kv = s_find_option(sc, k->name);
    *out = NULL;
    if (!kv && !k->default_value) {
        if (!k->required)
            return SG_OK;
        s_error(errs, &sc->mark, "sink '%s': option '%s' is required by plugin '%s'",
                s_sink_name(sc), k->name, s->plugin->name);
        return SG_ECONFIG;
    }
    const char *text = kv ? (kv->value ? kv->value : "") : k->default_value;
    int rc = s_normalise(k->type, text, out);
    if (rc != SG_EINVAL)
        return rc;
    if (!kv)
        s_error(errs, &sc->mark, "sink '%s': plugin '%s' has an invalid default for '%s'",
                s_sink_name(sc), s->plugin->name, k->name);
    else if (k->secret)
        s_error(errs, &kv->mark, "sink '%s': option '%s' must be %s", s_sink_name(sc), k->name,
                s_type_name(k->type));
    else
        s_error(errs, &kv->mark, "sink '%s': option '%s' must be %s, not '%s'", s_sink_name(sc),
                k->name, s_type_name(k->type), text);
    return SG_ECONFIG;
}

/* Checks the sink's options against the config map and builds the option
 * array given to init: every key that is set or has a default. */
static int s_build_options(s_sink_t *s, sg_config_errors_t *errs)
{
    const sg_plugin_t *p = s->plugin;
    int rc = s_check_known_keys(s, errs);
    s->options = calloc(p->n_config_keys ? p->n_config_keys : 1, sizeof *s->options);
    if (!s->options)
        return SG_ENOMEM;
    for (size_t i = 0; i < p->n_config_keys; i++) {
        const sg_plugin_config_key_t *k = &p->config_keys[i];
        char *value = NULL;
        int krc = k->name ? s_option_value(s, k, &value, errs) : SG_OK;
        if (krc == SG_ENOMEM)
            return SG_ENOMEM;
        if (krc != SG_OK)
            rc = krc;
        if (value) {
            s->options[s->n_options].key = k->name;
            s->options[s->n_options].value = value;
            s->n_options++;
        }
    }
    return rc;
}

static int s_sink_load(s_sink_t *s, const sg_config_t *cfg, const sg_sink_cfg_t *sc,
                       sg_config_errors_t *errs)
{
    s->cfg = sc;
    int rc = s_resolve_path(s, cfg, errs);
    if (rc == SG_OK)
        rc = s_open(s, errs);
    if (rc == SG_OK)
        rc = s_check_descriptor(s, errs);
    if (rc == SG_OK)
        rc = s_build_options(s, errs);
    if (rc == SG_ENOMEM)
        s_error(errs, &sc->mark, "sink '%s': out of memory while loading", s_sink_name(sc));
    return rc;
}

/* Frees what loading made (the plugin must be closed already). */
static void s_sink_unload(s_sink_t *s)
{
    for (size_t i = 0; i < s->n_options; i++)
        free((char *)s->options[i].value);
    free(s->options);
    s->options = NULL;
    s->n_options = 0;
    s->plugin = NULL;
    sg_dl_close(&s->dl);
    free(s->lib_path);
    s->lib_path = NULL;
}

int sg_notify_check(const sg_config_t *cfg, sg_config_errors_t *errs)
{
    int rc = SG_OK;
    for (size_t i = 0; i < cfg->n_sinks; i++) {
        s_sink_t s;
        memset(&s, 0, sizeof s);
        int src = s_sink_load(&s, cfg, &cfg->sinks[i], errs);
        s_sink_unload(&s);
        if (src != SG_OK)
            rc = SG_ECONFIG;
    }
    return rc;
}

/* --- the host table -------------------------------------------------------------- */

static void s_host_log(const sg_plugin_host_t *host, int level, const char *fmt, ...)
{
    const s_sink_t *s = host->host_data;
    if (level < SG_PLUGIN_LOG_ERROR)
        level = SG_PLUGIN_LOG_ERROR;
    if (level > SG_PLUGIN_LOG_DEBUG)
        level = SG_PLUGIN_LOG_DEBUG;
    va_list ap;
    va_start(ap, fmt);
    sg_logv((sg_log_level_t)level, s->log_tag, fmt, ap);
    va_end(ap);
}

static int64_t s_host_now_ms(const sg_plugin_host_t *host)
{
    const s_sink_t *s = host->host_data;
    return sg_clock_wall(s->owner->clock);
}

/* Logs the options at debug level, secret values masked. */
static void s_log_options(const s_sink_t *s)
{
    if (sg_log_get_level() < SG_LOG_DEBUG)
        return;
    for (size_t i = 0; i < s->n_options; i++) {
        const sg_plugin_config_key_t *k = s_find_key(s->plugin, s->options[i].key);
        sg_debug(s->log_tag, "option %s = %s", s->options[i].key,
                 (k && k->secret) ? "(secret)" : s->options[i].value);
    }
}

/* --- delivery --------------------------------------------------------------------- */

static bool s_stopping(s_sink_t *s)
{
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* Sleeps `ms` on the clock in slices; false when a stop came first. */
static bool s_backoff(s_sink_t *s, int64_t ms)
{
    const sg_clock_t *clock = s->owner->clock;
    while (ms > 0) {
        if (s_stopping(s))
            return false;
        int64_t slice = ms < S_SLEEP_SLICE_MS ? ms : S_SLEEP_SLICE_MS;
        sg_clock_sleep(clock, slice);
        ms -= slice;
    }
    return !s_stopping(s);
}

static void s_dead_letter(s_sink_t *s, const sg_outcome_t *o, const char *why, int attempts)
{
    sg_error(s->log_tag, "dead letter %s (%s) after %d attempt%s: %s",
             o->dedup_key ? o->dedup_key : "?", sg_outcome_kind_name(o->kind), attempts,
             attempts == 1 ? "" : "s", why);
    pthread_mutex_lock(&s->mu);
    s->stats.dead++;
    pthread_mutex_unlock(&s->mu);
}

/* Delivers one outcome, retrying RETRY with exponential backoff. */
static void s_deliver(s_sink_t *s, const sg_outcome_t *o)
{
    int64_t backoff = S_BACKOFF_START_MS;
    for (int attempt = 1;; attempt++) {
        sg_deliver_result_t r = s->plugin->deliver(s->ctx, o);
        if (r == SG_DELIVER_OK) {
            pthread_mutex_lock(&s->mu);
            s->stats.delivered++;
            pthread_mutex_unlock(&s->mu);
            return;
        }
        if (r != SG_DELIVER_RETRY) {
            s_dead_letter(s, o, r == SG_DELIVER_FATAL ? "the plugin refused it for good"
                                                      : "the plugin returned an unknown result",
                          attempt);
            return;
        }
        if (attempt >= S_MAX_ATTEMPTS) {
            s_dead_letter(s, o, "retries exhausted", attempt);
            return;
        }
        pthread_mutex_lock(&s->mu);
        s->stats.retries++;
        pthread_mutex_unlock(&s->mu);
        if (!s_backoff(s, backoff)) {
            s_dead_letter(s, o, "stopped while waiting to retry", attempt);
            return;
        }
        backoff = backoff * 2 > S_BACKOFF_MAX_MS ? S_BACKOFF_MAX_MS : backoff * 2;
    }
}

static void *s_worker(void *arg)
{
    s_sink_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->stop)
            pthread_cond_wait(&s->wake, &s->mu);
        if (s->stop) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        s_item_t *item = s->head;
        s->head = item->next;
        if (!s->head)
            s->tail = NULL;
        s->busy = true;
        pthread_mutex_unlock(&s->mu);

        s_deliver(s, item->outcome);
        sg_outcome_free(&item->outcome);
        free(item);

        pthread_mutex_lock(&s->mu);
        s->busy = false;
        if (!s->head)
            pthread_cond_broadcast(&s->idle);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* --- life cycle ---------------------------------------------------------------------- */

static int s_sink_sync_init(s_sink_t *s)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return SG_ENOMEM;
    int rc = SG_ENOMEM;
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0)
        goto fail;
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        goto fail;
    if (pthread_cond_init(&s->wake, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        goto fail;
    }
    if (pthread_cond_init(&s->idle, &attr) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->mu);
        goto fail;
    }
    s->sync_ready = true;
    rc = SG_OK;
fail:
    pthread_condattr_destroy(&attr);
    return rc;
}

/* Calls init and starts the worker. */
static int s_sink_start(s_sink_t *s, sg_config_errors_t *errs)
{
    const sg_sink_cfg_t *sc = s->cfg;
    s->host.abi_version = SG_PLUGIN_ABI_VERSION;
    s->host.struct_size = (uint32_t)sizeof s->host;
    s->host.instance = s_sink_name(sc);
    s->host.log = s_host_log;
    s->host.now_ms = s_host_now_ms;
    s->host.host_data = s;
    s->log_tag = sg_strdupf("sink:%s", s_sink_name(sc));
    if (!s->log_tag || s_sink_sync_init(s) != SG_OK) {
        s_error(errs, &sc->mark, "sink '%s': out of memory while starting", s_sink_name(sc));
        return SG_ENOMEM;
    }
    s_log_options(s);
    if (s->plugin->init(&s->host, s->options, s->n_options, &s->ctx) != 0) {
        s_error(errs, &sc->mark, "sink '%s': plugin '%s' failed to start (see the log)",
                s_sink_name(sc), s->plugin->name);
        return SG_ECONFIG;
    }
    s->inited = true;
    if (pthread_create(&s->thread, NULL, s_worker, s) != 0) {
        s_error(errs, &sc->mark, "sink '%s': cannot start its worker thread", s_sink_name(sc));
        return SG_EIO;
    }
    s->thread_started = true;
    sg_info(s->log_tag, "plugin '%s' started from '%s'", s->plugin->name, s->lib_path);
    return SG_OK;
}

static void s_sink_stop(s_sink_t *s)
{
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_broadcast(&s->wake);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        s->thread_started = false;
    }
    size_t left = 0;
    while (s->head) {
        s_item_t *item = s->head;
        s->head = item->next;
        sg_outcome_free(&item->outcome);
        free(item);
        left++;
    }
    s->tail = NULL;
    if (left > 0)
        sg_warn(s->log_tag, "%zu outcome%s not delivered at shutdown", left, left == 1 ? "" : "s");
    if (s->inited) {
        s->plugin->close(s->ctx);
        s->inited = false;
        s->ctx = NULL;
    }
    if (s->sync_ready) {
        pthread_cond_destroy(&s->idle);
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->mu);
        s->sync_ready = false;
    }
    free(s->log_tag);
    s->log_tag = NULL;
    s_sink_unload(s);
}

sg_notify_t *sg_notify_new(const sg_config_t *cfg, const sg_clock_t *clock,
                           sg_config_errors_t *errs)
{
    sg_notify_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->clock = clock;
    n->sinks = calloc(cfg->n_sinks ? cfg->n_sinks : 1, sizeof *n->sinks);
    if (!n->sinks)
        goto fail;
    n->n_sinks = cfg->n_sinks;
    bool failed = false;
    for (size_t i = 0; i < n->n_sinks; i++) {
        n->sinks[i].owner = n;
        if (s_sink_load(&n->sinks[i], cfg, &cfg->sinks[i], errs) != SG_OK)
            failed = true;
    }
    if (failed)
        goto fail;
    for (size_t i = 0; i < n->n_sinks; i++) {
        if (s_sink_start(&n->sinks[i], errs) != SG_OK)
            goto fail;
    }
    return n;
fail:
    sg_notify_destroy(&n);
    return NULL;
}

int sg_notify_post(sg_notify_t *n, const sg_outcome_t *o)
{
    if (!o->json)
        return SG_EINVAL;
    int rc = SG_OK;
    for (size_t i = 0; i < n->n_sinks; i++) {
        s_sink_t *s = &n->sinks[i];
        s_item_t *item = malloc(sizeof *item);
        sg_outcome_t *copy = sg_outcome_dup(o);
        if (!item || !copy) {
            free(item);
            sg_outcome_free(&copy);
            sg_error(s->log_tag, "out of memory: outcome %s not queued",
                     o->dedup_key ? o->dedup_key : "?");
            rc = SG_ENOMEM;
            continue;
        }
        item->outcome = copy;
        item->next = NULL;
        pthread_mutex_lock(&s->mu);
        if (s->tail)
            s->tail->next = item;
        else
            s->head = item;
        s->tail = item;
        s->stats.queued++;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->mu);
    }
    return rc;
}

void sg_notify_stats(sg_notify_t *n, sg_notify_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n->n_sinks; i++) {
        s_sink_t *s = &n->sinks[i];
        pthread_mutex_lock(&s->mu);
        out->queued += s->stats.queued;
        out->delivered += s->stats.delivered;
        out->retries += s->stats.retries;
        out->dead += s->stats.dead;
        pthread_mutex_unlock(&s->mu);
    }
}

static struct timespec s_deadline(int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (timeout_ms < 0)
        timeout_ms = 0;
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int sg_notify_drain(sg_notify_t *n, int64_t timeout_ms)
{
    struct timespec deadline = s_deadline(timeout_ms);
    int rc = SG_OK;
    for (size_t i = 0; i < n->n_sinks; i++) {
        s_sink_t *s = &n->sinks[i];
        if (!s->thread_started)
            continue;
        pthread_mutex_lock(&s->mu);
        while ((s->head || s->busy) && rc == SG_OK) {
            if (pthread_cond_timedwait(&s->idle, &s->mu, &deadline) == ETIMEDOUT &&
                (s->head || s->busy))
                rc = SG_ETIMEOUT;
        }
        pthread_mutex_unlock(&s->mu);
    }
    return rc;
}

void sg_notify_destroy(sg_notify_t **np)
{
    if (!np || !*np)
        return;
    sg_notify_t *n = *np;
    if (n->sinks) {
        if (sg_notify_drain(n, S_DESTROY_DRAIN_MS) != SG_OK)
            sg_warn(S_MODULE, "sinks did not drain in %d ms; stopping them",
                    (int)S_DESTROY_DRAIN_MS);
        for (size_t i = 0; i < n->n_sinks; i++)
            s_sink_stop(&n->sinks[i]);
    }
    free(n->sinks);
    free(n);
    *np = NULL;
}
