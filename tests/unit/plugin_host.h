/* A host table for calling a plugin's functions directly in unit tests:
 * log lines go to stderr, and the clock reads PH_NOW. */
#ifndef SG_TEST_PLUGIN_HOST_H
#define SG_TEST_PLUGIN_HOST_H

#include "siteguard/plugin.h"

#include <stdarg.h>
#include <stdio.h>

#define PH_NOW INT64_C(1795626010000) /* 2026-11-25T17:00:10Z */

static void ph_log(const sg_plugin_host_t *host, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ph_log(const sg_plugin_host_t *host, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%s] %d ", host->instance, level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int64_t ph_now(const sg_plugin_host_t *host)
{
    (void)host;
    return PH_NOW;
}

static const sg_plugin_host_t ph_host = {SG_PLUGIN_ABI_VERSION, sizeof(sg_plugin_host_t), "test",
                                         ph_log, ph_now, NULL};

#endif
