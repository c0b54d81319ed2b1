/* What the fuzz targets share: libFuzzer's entry points, a check that says
 * which invariant broke before it aborts (libFuzzer then keeps the input as
 * a crash), and helpers some targets opt into (a config, a plugin host).
 * Header only; each target is one .c that includes it after its own. */
#ifndef SG_FUZZ_H
#define SG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* For the targets that include config/config.h first: a config from YAML. */
#ifdef SG_CONFIG_H
#include <string.h>

/* The config in `yaml` (loaded once by the caller); aborts when it does not load. */
static inline sg_config_t *fz_config(const char *yaml)
{
    sg_config_errors_t errs;
    sg_config_t *cfg = NULL;
    sg_config_errors_init(&errs);
    int rc = sg_config_load_string("fuzz.yaml", yaml, strlen(yaml), &cfg, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.items[i]);
    sg_config_errors_fini(&errs);
    if (rc != 0)
        abort();
    return cfg;
}
#endif

/* For the targets that define FZ_PLUGIN_HOST before including this: a
 * plugin host (siteguard/plugin.h). */
#ifdef FZ_PLUGIN_HOST
#include "siteguard/plugin.h"

#include <stdarg.h>

/* What the target does with each line a plugin logs through fz_host: the
 * target defines it. */
static void fz_plugin_log(int level, const char *line);

static void fz_host_log(const sg_plugin_host_t *host, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fz_host_log(const sg_plugin_host_t *host, int level, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    (void)host;
    fz_plugin_log(level, line);
}

static int64_t fz_host_now(const sg_plugin_host_t *host)
{
    (void)host;
    return 1800000000000LL; /* 2027-01-15T08:00:00Z */
}

/* The host table a target hands a plugin. */
static const sg_plugin_host_t fz_host = {SG_PLUGIN_ABI_VERSION, sizeof(sg_plugin_host_t), "fuzz",
                                         fz_host_log, fz_host_now, NULL};
#endif

#define FZ_CHECK(cond)                                                                    \
    ((cond) ? (void)0                                                                     \
            : (fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond), \
               abort()))

#endif
