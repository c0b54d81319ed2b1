/* pluginlib: a sink's plugin library, loaded and checked; see pluginlib.h. */
#include "notify/pluginlib.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_MODULE "notify"

/* The package's plugin folder, compiled in (cmake/Packaging.cmake); none
 * on Windows, whose zip keeps them beside the executable. */
#ifdef SG_PLUGIN_INSTALL_DIR
#define SG_PLUGINLIB_INSTALL_DIR SG_PLUGIN_INSTALL_DIR
#else
#define SG_PLUGINLIB_INSTALL_DIR NULL
#endif

const char *sg_pluginlib_sink_name(const sg_sink_cfg_t *sc) { return sc->name ? sc->name : "?"; }

void sg_pluginlib_error(sg_config_errors_t *errs, const sg_mark_t *mark, const char *fmt, ...)
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

/* Whether `path` is a folder. */
static bool s_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The folder above `dir` ("/usr" of "/usr/bin", "" of "/bin"), either
 * separator; NULL when `dir` has none. Caller frees. */
static char *s_parent(const char *dir)
{
    const char *slash = strrchr(dir, '/');
    const char *back = strrchr(dir, '\\');
    if (back > slash)
        slash = back;
    return slash ? sg_strdupf("%.*s", (int)(slash - dir), dir) : NULL;
}

int sg_pluginlib_default_dir(const char *exe_dir, const char *install_dir, char **dir,
                             char **looked)
{
    *dir = NULL;
    if (looked)
        *looked = NULL;
    char *cand[3] = {NULL, NULL, NULL};
    size_t n = 0;
    int rc = SG_ENOMEM;
    if (exe_dir) {
        char *parent = s_parent(exe_dir);
        cand[n++] = sg_strdupf("%s/plugins", exe_dir);
        cand[n++] = parent ? sg_strdupf("%s/%s", parent, SG_PLUGINLIB_PACKAGE_DIR)
                           : sg_strdupf("%s/../%s", exe_dir, SG_PLUGINLIB_PACKAGE_DIR);
        free(parent);
    }
    if (install_dir && *install_dir)
        cand[n++] = sg_strdupf("%s", install_dir);
    for (size_t i = 0; i < n; i++) {
        if (!cand[i])
            goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (s_is_dir(cand[i])) {
            *dir = cand[i];
            cand[i] = NULL;
            rc = SG_OK;
            goto done;
        }
    }
    rc = SG_ENOTFOUND;
    if (looked) {
        char *list = sg_strdupf("%s", n > 0 ? cand[0] : "(nowhere)");
        for (size_t i = 1; list && i < n; i++) {
            char *longer = sg_strdupf("%s, %s", list, cand[i]);
            free(list);
            list = longer;
        }
        *looked = list;
        if (!list)
            rc = SG_ENOMEM;
    }
done:
    for (size_t i = 0; i < n; i++)
        free(cand[i]);
    return rc;
}

/* The library to load: the sink's path, else <dir>/sg_<plugin><suffix>,
 * the folder being plugin_dir, $SG_PLUGIN_DIR or sg_pluginlib_default_dir's. */
static int s_resolve_path(sg_pluginlib_t *s, const sg_config_t *cfg, sg_config_errors_t *errs)
{
    const sg_sink_cfg_t *sc = s->sink;
    if (sc->path) {
        s->path = sg_strdupf("%s", sc->path);
        return s->path ? SG_OK : SG_ENOMEM;
    }
    if (!sc->plugin) {
        sg_pluginlib_error(errs, &sc->mark, "sink '%s': sets neither plugin nor path",
                           sg_pluginlib_sink_name(sc));
        return SG_ECONFIG;
    }
    const char *env = getenv("SG_PLUGIN_DIR");
    const char *dir = cfg->plugin_dir;
    if (!dir && env && *env)
        dir = env;
    if (dir) {
        s->path = sg_strdupf("%s/sg_%s%s", dir, sc->plugin, sg_dl_suffix());
        return s->path ? SG_OK : SG_ENOMEM;
    }
    char exe_dir[4096];
    bool have_exe = sg_platform_exe_dir(exe_dir, sizeof exe_dir) == SG_OK;
    char *found = NULL, *looked = NULL;
    int rc = sg_pluginlib_default_dir(have_exe ? exe_dir : NULL, SG_PLUGINLIB_INSTALL_DIR, &found,
                                      &looked);
    if (rc == SG_ENOTFOUND) {
        sg_pluginlib_error(errs, &sc->mark,
                           "sink '%s': no plugin folder: none of %s is a folder; "
                           "set plugin_dir or SG_PLUGIN_DIR",
                           sg_pluginlib_sink_name(sc), looked);
        free(looked);
        return SG_ECONFIG;
    }
    if (rc != SG_OK)
        return rc;
    s->path = sg_strdupf("%s/sg_%s%s", found, sc->plugin, sg_dl_suffix());
    free(found);
    return s->path ? SG_OK : SG_ENOMEM;
}

static int s_open(sg_pluginlib_t *s, sg_config_errors_t *errs)
{
    const sg_sink_cfg_t *sc = s->sink;
    char why[512] = "";
    s->dl = sg_dl_open(s->path, why, sizeof why);
    if (!s->dl) {
        sg_pluginlib_error(errs, &sc->mark, "sink '%s': cannot load plugin library '%s': %s",
                           sg_pluginlib_sink_name(sc), s->path, why);
        return SG_ECONFIG;
    }
    s->plugin = sg_dl_sym(s->dl, SG_PLUGIN_DESCRIPTOR_SYMBOL);
    if (!s->plugin) {
        sg_pluginlib_error(errs, &sc->mark, "sink '%s': plugin library '%s' does not export %s",
                           sg_pluginlib_sink_name(sc), s->path, SG_PLUGIN_DESCRIPTOR_SYMBOL);
        return SG_ECONFIG;
    }
    return SG_OK;
}

/* ABI version and size first; only then the rest of the descriptor. */
static int s_check_descriptor(sg_pluginlib_t *s, sg_config_errors_t *errs)
{
    const sg_sink_cfg_t *sc = s->sink;
    const sg_plugin_t *p = s->plugin;
    if (p->abi_version != SG_PLUGIN_ABI_VERSION) {
        sg_pluginlib_error(
            errs, &sc->mark,
            "sink '%s': plugin library '%s' is ABI version %" PRIu32 ", this siteguard speaks %u",
            sg_pluginlib_sink_name(sc), s->path, p->abi_version, SG_PLUGIN_ABI_VERSION);
        return SG_ECONFIG;
    }
    if (p->struct_size < SG_PLUGIN_STRUCT_SIZE_V1) {
        sg_pluginlib_error(errs, &sc->mark,
                           "sink '%s': plugin library '%s' has a descriptor of %" PRIu32
                           " bytes, this siteguard needs at least %zu",
                           sg_pluginlib_sink_name(sc), s->path, p->struct_size,
                           (size_t)SG_PLUGIN_STRUCT_SIZE_V1);
        return SG_ECONFIG;
    }
    if (!p->name || !p->init || !p->deliver || !p->close ||
        (p->n_config_keys > 0 && !p->config_keys)) {
        sg_pluginlib_error(errs, &sc->mark,
                           "sink '%s': plugin library '%s' has an incomplete descriptor",
                           sg_pluginlib_sink_name(sc), s->path);
        return SG_ECONFIG;
    }
    if (sc->plugin && strcmp(sc->plugin, p->name) != 0) {
        sg_pluginlib_error(errs, &sc->mark,
                           "sink '%s': plugin library '%s' holds plugin '%s', not '%s'",
                           sg_pluginlib_sink_name(sc), s->path, p->name, sc->plugin);
        return SG_ECONFIG;
    }
    return SG_OK;
}

sg_plugin_deliver_batch_fn sg_pluginlib_deliver_batch(const sg_plugin_t *p)
{
    return SG_PLUGIN_HAS(p, deliver_batch) ? p->deliver_batch : NULL;
}

const sg_plugin_config_key_t *sg_pluginlib_key(const sg_plugin_t *p, const char *name)
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
    case SG_CFG_DURATION: return "a duration such as 250ms, 3s or 2m, at most 100 years";
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
        if (sg_config_parse_duration(text, &ms) != SG_OK || ms < 0 ||
            ms > SG_CFG_DURATION_MAX_MS) /* as config keys: plugins add it to times */
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
static int s_check_known_keys(sg_pluginlib_t *s, sg_config_errors_t *errs)
{
    const sg_sink_cfg_t *sc = s->sink;
    int rc = SG_OK;
    for (size_t i = 0; i < sc->n_options; i++) {
        const sg_kv_t *kv = &sc->options[i];
        const char *key = kv->key ? kv->key : "";
        if (!sg_pluginlib_key(s->plugin, key)) {
            char *expected = s_key_list(s->plugin);
            sg_pluginlib_error(
                errs, &kv->mark, "sink '%s': unknown option '%s' for plugin '%s' (expected: %s)",
                sg_pluginlib_sink_name(sc), key, s->plugin->name, expected ? expected : "?");
            free(expected);
            rc = SG_ECONFIG;
        } else if (s_find_option(sc, key) != kv) {
            sg_pluginlib_error(errs, &kv->mark, "sink '%s': option '%s' is set twice",
                               sg_pluginlib_sink_name(sc), key);
            rc = SG_ECONFIG;
        }
    }
    return rc;
}

/* The value of one config key: the sink's, else the default, else none.
 * Returns 0 (with *out NULL when the key is unset), SG_ECONFIG or SG_ENOMEM. */
static int s_option_value(sg_pluginlib_t *s, const sg_plugin_config_key_t *k, char **out,
                          sg_config_errors_t *errs)
{
    const sg_sink_cfg_t *sc = s->sink;
    const sg_kv_t *kv = s_find_option(sc, k->name);
    *out = NULL;
    if (!kv && !k->default_value) {
        if (!k->required)
            return SG_OK;
        sg_pluginlib_error(errs, &sc->mark, "sink '%s': option '%s' is required by plugin '%s'",
                           sg_pluginlib_sink_name(sc), k->name, s->plugin->name);
        return SG_ECONFIG;
    }
    const char *text = kv ? (kv->value ? kv->value : "") : k->default_value;
    int rc = s_normalise(k->type, text, out);
    if (rc != SG_EINVAL)
        return rc;
    if (!kv)
        sg_pluginlib_error(errs, &sc->mark,
                           "sink '%s': plugin '%s' has an invalid default for '%s'",
                           sg_pluginlib_sink_name(sc), s->plugin->name, k->name);
    else if (k->secret)
        sg_pluginlib_error(errs, &kv->mark, "sink '%s': option '%s' must be %s",
                           sg_pluginlib_sink_name(sc), k->name, s_type_name(k->type));
    else
        sg_pluginlib_error(errs, &kv->mark, "sink '%s': option '%s' must be %s, not '%s'",
                           sg_pluginlib_sink_name(sc), k->name, s_type_name(k->type), text);
    return SG_ECONFIG;
}

/* Checks the sink's options against the config map and builds the option
 * array given to init: every key that is set or has a default. */
static int s_build_options(sg_pluginlib_t *s, sg_config_errors_t *errs)
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
        if (value && k->secret && sg_redact_set_add(&s->secrets, value) != SG_OK) {
            free(value);
            return SG_ENOMEM;
        }
        if (value) {
            s->options[s->n_options].key = k->name;
            s->options[s->n_options].value = value;
            s->n_options++;
        }
    }
    return rc;
}

/* The values written for the plugin's secret keys, as written: an error
 * about any option may echo text that holds one (a mistyped key, say). */
static int s_collect_secrets(sg_pluginlib_t *s)
{
    const sg_sink_cfg_t *sc = s->sink;
    for (size_t i = 0; i < sc->n_options; i++) {
        const sg_kv_t *kv = &sc->options[i];
        const sg_plugin_config_key_t *k = kv->key ? sg_pluginlib_key(s->plugin, kv->key) : NULL;
        if (k && k->secret && sg_redact_set_add(&s->secrets, kv->value) != SG_OK)
            return SG_ENOMEM;
    }
    return SG_OK;
}

/* Masks the secrets in the error lines from `first` on. */
static void s_redact_errors(const sg_pluginlib_t *s, sg_config_errors_t *errs, size_t first)
{
    for (size_t i = first; errs && i < errs->n; i++) {
        char *safe = sg_redact(errs->items[i], &s->secrets);
        if (!safe)
            continue; /* out of memory: the line is replaced by nothing better */
        free(errs->items[i]);
        errs->items[i] = safe;
    }
}

int sg_pluginlib_load(sg_pluginlib_t *s, const sg_config_t *cfg, const sg_sink_cfg_t *sc,
                      sg_config_errors_t *errs)
{
    memset(s, 0, sizeof *s);
    s->sink = sc;
    size_t first = errs ? errs->n : 0;
    int rc = s_resolve_path(s, cfg, errs);
    if (rc == SG_OK)
        rc = s_open(s, errs);
    if (rc == SG_OK)
        rc = s_check_descriptor(s, errs);
    if (rc == SG_OK)
        rc = s_collect_secrets(s);
    if (rc == SG_OK)
        rc = s_build_options(s, errs);
    if (rc == SG_ENOMEM)
        sg_pluginlib_error(errs, &sc->mark, "sink '%s': out of memory while loading",
                           sg_pluginlib_sink_name(sc));
    s_redact_errors(s, errs, first);
    return rc;
}

void sg_pluginlib_unload(sg_pluginlib_t *s)
{
    for (size_t i = 0; i < s->n_options; i++)
        free((char *)s->options[i].value);
    free(s->options);
    s->options = NULL;
    s->n_options = 0;
    sg_redact_set_fini(&s->secrets);
    s->plugin = NULL;
    sg_dl_close(&s->dl);
    free(s->path);
    s->path = NULL;
}

int sg_pluginlib_check(const sg_config_t *cfg, sg_config_errors_t *errs)
{
    int rc = SG_OK;
    for (size_t i = 0; i < cfg->n_sinks; i++) {
        sg_pluginlib_t s;
        memset(&s, 0, sizeof s);
        int src = sg_pluginlib_load(&s, cfg, &cfg->sinks[i], errs);
        sg_pluginlib_unload(&s);
        if (src != SG_OK)
            rc = SG_ECONFIG;
    }
    return rc;
}
