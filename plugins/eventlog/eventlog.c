/* eventlog: writes each outcome to the Windows Event Log (Application log).
 *
 * One event per outcome: type from the severity (critical: Error, warning:
 * Warning, info: Information), event ID 1 (siteguard.exe's message table
 * renders it as the text), the readable line as the one insertion string and
 * the outcome's JSON as the event's binary data, for tools that parse it.
 *
 * Options: `source`, the registered Event Log source (default "siteguard",
 * registered by `siteguard install`); `server`, a remote computer's name
 * (default: this computer). */
#include "siteguard/plugin.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The message of siteguard.exe's table that prints its one string. */
#define S_EVENT_ID 1

typedef struct {
    const sg_plugin_host_t *host;
    HANDLE source;
} s_eventlog_t;

static const sg_plugin_config_key_t s_keys[] = {
    {"source", SG_CFG_STRING, "siteguard", 0, 0, "the Event Log source events are written as"},
    {"server", SG_CFG_STRING, NULL, 0, 0, "computer whose Event Log is written (default: this one)"},
};

static const char *s_kind_name(sg_outcome_kind_t kind)
{
    switch (kind) {
    case SG_OUTCOME_SITE_SUSPECT: return "site suspect";
    case SG_OUTCOME_SITE_LOST: return "site lost";
    case SG_OUTCOME_SITE_RECOVERED: return "site recovered";
    case SG_OUTCOME_SITE_FLAPPING: return "site flapping";
    case SG_OUTCOME_DECISION: return "failover decided";
    case SG_OUTCOME_BLOCKED: return "failover blocked";
    case SG_OUTCOME_JOB_STARTED: return "failover started";
    case SG_OUTCOME_PROGRESS: return "failover progress";
    case SG_OUTCOME_SUCCEEDED: return "failover succeeded";
    case SG_OUTCOME_FAILED: return "failover failed";
    case SG_OUTCOME_TIMED_OUT: return "failover timed out";
    default: return "outcome";
    }
}

static WORD s_type(sg_severity_t severity)
{
    switch (severity) {
    case SG_SEVERITY_CRITICAL: return EVENTLOG_ERROR_TYPE;
    case SG_SEVERITY_WARNING: return EVENTLOG_WARNING_TYPE;
    default: return EVENTLOG_INFORMATION_TYPE;
    }
}

static int s_init(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                  size_t n_options, void **ctx)
{
    const char *source = sg_plugin_option(options, n_options, "source");
    const char *server = sg_plugin_option(options, n_options, "server");
    s_eventlog_t *e = calloc(1, sizeof *e);
    if (!e) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory");
        return 1;
    }
    e->host = host;
    e->source = RegisterEventSourceA(server, source ? source : "siteguard");
    if (!e->source) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "cannot open the Event Log source %s: error %lu",
                  source ? source : "siteguard", (unsigned long)GetLastError());
        free(e);
        return 1;
    }
    *ctx = e;
    return 0;
}

static sg_deliver_result_t s_deliver(void *ctx, const sg_outcome_t *o)
{
    s_eventlog_t *e = ctx;
    const char *msg = o->message ? o->message : "";
    int n = snprintf(NULL, 0, "siteguard: %s: %s", s_kind_name(o->kind), msg);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!text)
        return SG_DELIVER_RETRY;
    snprintf(text, (size_t)n + 1, "siteguard: %s: %s", s_kind_name(o->kind), msg);
    const char *strings[1] = {text};
    DWORD data_len = o->json ? (DWORD)strlen(o->json) : 0;
    BOOL ok = ReportEventA(e->source, s_type(o->severity), (WORD)o->kind, S_EVENT_ID, NULL, 1,
                           data_len, strings, (void *)o->json);
    DWORD why = ok ? 0 : GetLastError();
    free(text);
    if (ok)
        return SG_DELIVER_OK;
    e->host->log(e->host, SG_PLUGIN_LOG_WARN, "ReportEvent failed: error %lu",
                 (unsigned long)why);
    return SG_DELIVER_RETRY;
}

static void s_close(void *ctx)
{
    s_eventlog_t *e = ctx;
    if (!e)
        return;
    DeregisterEventSource(e->source);
    free(e);
}

SG_PLUGIN_EXPORT const sg_plugin_t sg_plugin_descriptor = {
    .abi_version = SG_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sg_plugin_t),
    .name = "eventlog",
    .description = "Windows Event Log (Application)",
    .config_keys = s_keys,
    .n_config_keys = sizeof s_keys / sizeof s_keys[0],
    .init = s_init,
    .deliver = s_deliver,
    .close = s_close,
};
