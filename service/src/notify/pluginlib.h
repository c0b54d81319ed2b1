/* pluginlib: a sink's plugin library, loaded and checked (siteguard/plugin.h).
 *
 * Finds the library (the sink's `path`, else sg_<plugin><suffix> in
 * plugin_dir, else in $SG_PLUGIN_DIR, else in sg_pluginlib_default_dir's
 * folder), loads it,
 * checks the descriptor's ABI version and size (at least
 * SG_PLUGIN_STRUCT_SIZE_V1: a plugin built before later members were
 * appended loads too) before anything else, then its name and callbacks,
 * and checks the sink's options against the
 * plugin's config map: unknown or repeated keys, required keys, types,
 * each error at the option's own FILE:LINE:COLUMN. Values are normalised
 * (durations to milliseconds) and defaults filled in.
 *
 * Ownership: an sg_pluginlib_t owns its path, library handle and option
 * values; option keys and `plugin` point into the library and live until
 * sg_pluginlib_unload. Thread rules: load and unload on one thread (notify
 * loads on the loop thread before the sink's worker starts). */
#ifndef SG_PLUGINLIB_H
#define SG_PLUGINLIB_H

#include "base/redact.h"
#include "config/config.h"
#include "platform/platform.h"
#include "siteguard/plugin.h"

#include <stddef.h>

typedef struct {
    const sg_sink_cfg_t *sink;   /* borrowed from the config */
    char *path;                  /* the library file */
    sg_dl_t *dl;
    const sg_plugin_t *plugin;   /* inside dl */
    sg_plugin_option_t *options; /* keys point into the plugin, values owned */
    size_t n_options;
    sg_redact_set_t secrets;     /* the values of the secret options and their
                                    parts (redact.h), masked in the sink's log */
} sg_pluginlib_t;

/* Loads and checks the plugin of sink `sc` into *lib (which it clears
 * first). Errors are appended to `errs`, or logged when errs is NULL.
 * Returns 0, SG_ECONFIG or SG_ENOMEM; on failure what was made stays in
 * *lib for sg_pluginlib_unload. */
int sg_pluginlib_load(sg_pluginlib_t *lib, const sg_config_t *cfg, const sg_sink_cfg_t *sc,
                      sg_config_errors_t *errs);
/* Frees what loading made (the plugin's own instance must be closed
 * already) and unloads the library. */
void sg_pluginlib_unload(sg_pluginlib_t *lib);

/* Where a package keeps its plugins, relative to its prefix (the folder
 * above bin/): /usr/lib/siteguard/plugins for /usr/bin/siteguard. The same
 * path as cmake/Packaging.cmake's SG_INSTALL_PLUGINDIR. */
#define SG_PLUGINLIB_PACKAGE_DIR "lib/siteguard/plugins"

/* The plugin folder when neither plugin_dir nor $SG_PLUGIN_DIR names one:
 * the first of these that is a folder (plugins are never taken from two):
 *   <exe_dir>/plugins                      a build tree, an unpacked zip
 *   <exe_dir>/../lib/siteguard/plugins     an installed or unpacked package
 *   install_dir                            the package's folder compiled in
 * `exe_dir` is the executable's folder (NULL when unknown: only
 * install_dir); `install_dir` NULL or "" is none. Returns 0 with the
 * folder in *dir, SG_ENOTFOUND when none is a folder (with `looked` not
 * NULL, the places looked at, comma separated, in *looked), or SG_ENOMEM.
 * The caller frees *dir and *looked. */
int sg_pluginlib_default_dir(const char *exe_dir, const char *install_dir, char **dir,
                             char **looked);

/* Loads and unloads every sink's plugin of cfg: the check of
 * `siteguard check-config` and of a reload. Returns 0 or SG_ECONFIG. */
int sg_pluginlib_check(const sg_config_t *cfg, sg_config_errors_t *errs);

typedef void (*sg_plugin_deliver_batch_fn)(void *ctx, const sg_outcome_t *const *outcomes,
                                           size_t n, sg_deliver_result_t *results);
/* The plugin's deliver_batch: NULL when it has none, or when its descriptor
 * was built before the member existed (its struct_size does not cover it:
 * the member is then not read at all). */
sg_plugin_deliver_batch_fn sg_pluginlib_deliver_batch(const sg_plugin_t *p);

/* The plugin's config key called `name`, or NULL. */
const sg_plugin_config_key_t *sg_pluginlib_key(const sg_plugin_t *p, const char *name);
/* The sink's name for messages ("?" when it has none). */
const char *sg_pluginlib_sink_name(const sg_sink_cfg_t *sc);
/* Appends one error at `mark` to errs; with errs NULL, logs it instead. */
void sg_pluginlib_error(sg_config_errors_t *errs, const sg_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
