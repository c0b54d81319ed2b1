/* console: prints one readable timeline line per outcome.
 *
 *   17:00:03.120  LOST       site A: silent for 3.0 s (hold-down 3 s)
 *   17:00:03.121  DECISION   sql (A -> B): site A lost, replica B healthy
 *   17:00:03.180  STARTED    sql job Msvm_ConcreteJob.InstanceID="..."
 *   17:00:04.200  PROGRESS   sql 40%
 *   17:00:05.300  SUCCEEDED  sql failed over to B: in 2.1 s
 *
 * Times are UTC. Option: `stream`, "stdout" (default) or "stderr". */
#include "siteguard/plugin.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    FILE *stream;
} s_console_t;

static const sg_plugin_config_key_t s_keys[] = {
    {"stream", SG_CFG_STRING, "stdout", 0, 0, "where the lines go: stdout or stderr"},
};

/* Appends formatted text at *pos; counts what would be written past `len`
 * so the caller learns the size it needs, as snprintf does. */
static void s_append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void s_append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*pos < len ? buf + *pos : NULL, *pos < len ? len - *pos : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        *pos += (size_t)n;
}

static const char *s_or(const char *s) { return s ? s : "?"; }

static const char *s_label(sg_outcome_kind_t kind)
{
    switch (kind) {
    case SG_OUTCOME_SITE_SUSPECT: return "SUSPECT";
    case SG_OUTCOME_SITE_LOST: return "LOST";
    case SG_OUTCOME_SITE_RECOVERED: return "RECOVERED";
    case SG_OUTCOME_DECISION: return "DECISION";
    case SG_OUTCOME_BLOCKED: return "BLOCKED";
    case SG_OUTCOME_JOB_STARTED: return "STARTED";
    case SG_OUTCOME_PROGRESS: return "PROGRESS";
    case SG_OUTCOME_SUCCEEDED: return "SUCCEEDED";
    case SG_OUTCOME_FAILED: return "FAILED";
    case SG_OUTCOME_TIMED_OUT: return "TIMED OUT";
    case SG_OUTCOME_DRILL_REPORT: return "DRILL";
    case SG_OUTCOME_SITE_CONTESTED: return "CONTESTED";
    case SG_OUTCOME_CANCELLED: return "CANCELLED";
    case SG_OUTCOME_NOTICE: return "NOTICE";
    case SG_OUTCOME_LIFECYCLE: return "LIFECYCLE";
    case SG_OUTCOME_SITE_FLAPPING: return "FLAPPING";
    }
    return "OUTCOME";
}

/* What the line is about: the site, or the collection and where it goes.
 * With a message, which says the rest, collections read "sql (A -> B)". */
static void s_subject(const sg_outcome_t *o, char *buf, size_t len, size_t *pos)
{
    const char *coll = s_or(o->collection);
    bool site_kind = o->kind == SG_OUTCOME_SITE_SUSPECT || o->kind == SG_OUTCOME_SITE_LOST ||
                     o->kind == SG_OUTCOME_SITE_RECOVERED ||
                     o->kind == SG_OUTCOME_SITE_CONTESTED || o->kind == SG_OUTCOME_SITE_FLAPPING;
    if (o->kind == SG_OUTCOME_DRILL_REPORT) {
        s_append(buf, len, pos, "drill");
        return;
    }
    if (o->kind == SG_OUTCOME_NOTICE) {
        s_append(buf, len, pos, "%s%s", o->site ? "site " : "siteguard", o->site ? o->site : "");
        return;
    }
    if (o->message && !site_kind) {
        s_append(buf, len, pos, "%s (%s -> %s)", coll, s_or(o->site), s_or(o->replica_site));
        return;
    }
    switch (o->kind) {
    case SG_OUTCOME_SITE_SUSPECT:
    case SG_OUTCOME_SITE_LOST:
    case SG_OUTCOME_SITE_RECOVERED:
    case SG_OUTCOME_SITE_CONTESTED:
    case SG_OUTCOME_SITE_FLAPPING:
        s_append(buf, len, pos, "site %s", s_or(o->site));
        break;
    case SG_OUTCOME_JOB_STARTED:
    case SG_OUTCOME_TIMED_OUT:
        if (o->job_path)
            s_append(buf, len, pos, "%s job %s", coll, o->job_path);
        else
            s_append(buf, len, pos, "%s (%s -> %s)", coll, s_or(o->site), s_or(o->replica_site));
        break;
    case SG_OUTCOME_PROGRESS:
        if (o->percent >= 0)
            s_append(buf, len, pos, "%s %d%%", coll, o->percent);
        else
            s_append(buf, len, pos, "%s", coll);
        break;
    case SG_OUTCOME_SUCCEEDED:
        s_append(buf, len, pos, "%s failed over to %s", coll, s_or(o->replica_site));
        break;
    default:
        s_append(buf, len, pos, "%s (%s -> %s)", coll, s_or(o->site), s_or(o->replica_site));
        break;
    }
}

/* " [attempt 2, return 32768, error 32789]" for job outcomes, when set. */
static void s_details(const sg_outcome_t *o, char *buf, size_t len, size_t *pos)
{
    const char *sep = " [";
    if (o->attempt > 1) {
        s_append(buf, len, pos, "%sattempt %d", sep, o->attempt);
        sep = ", ";
    }
    if ((o->kind == SG_OUTCOME_FAILED || o->kind == SG_OUTCOME_TIMED_OUT) && o->return_value) {
        s_append(buf, len, pos, "%sreturn %u", sep, (unsigned)o->return_value);
        sep = ", ";
    }
    if (o->error_code) {
        s_append(buf, len, pos, "%serror %u", sep, (unsigned)o->error_code);
        sep = ", ";
    }
    if (sep[0] == ',')
        s_append(buf, len, pos, "]");
}

/* Formats the line for `o` (no newline) into buf, always terminated when
 * len > 0. Returns the length the whole line needs, as snprintf does.
 * Control characters become spaces so one outcome is one line. */
static size_t s_format_line(const sg_outcome_t *o, char *buf, size_t len)
{
    size_t pos = 0;
    if (len > 0)
        buf[0] = '\0';
    long long day_ms = ((long long)(o->time_ms % 86400000) + 86400000) % 86400000;
    s_append(buf, len, &pos, "%02lld:%02lld:%02lld.%03lld  %-10s ", day_ms / 3600000,
             day_ms / 60000 % 60, day_ms / 1000 % 60, day_ms % 1000, s_label(o->kind));
    s_subject(o, buf, len, &pos);
    if (o->message)
        s_append(buf, len, &pos, ": %s", o->message);
    s_details(o, buf, len, &pos);
    for (char *p = buf; len > 0 && *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    return pos;
}

static int s_init(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                  size_t n_options, void **ctx)
{
    const char *name = sg_plugin_option(options, n_options, "stream");
    FILE *stream = NULL;
    if (!name || strcmp(name, "stdout") == 0)
        stream = stdout;
    else if (strcmp(name, "stderr") == 0)
        stream = stderr;
    else {
        host->log(host, SG_PLUGIN_LOG_ERROR, "stream must be stdout or stderr, not '%s'", name);
        return -1;
    }
    s_console_t *c = calloc(1, sizeof *c);
    if (!c) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory");
        return -1;
    }
    c->stream = stream;
    *ctx = c;
    return 0;
}

static sg_deliver_result_t s_deliver(void *ctx, const sg_outcome_t *outcome)
{
    s_console_t *c = ctx;
    char small[512];
    char *line = small;
    size_t need = s_format_line(outcome, small, sizeof small - 1);
    if (need >= sizeof small - 1) {
        line = malloc(need + 2);
        if (!line)
            return SG_DELIVER_RETRY;
        s_format_line(outcome, line, need + 1);
    }
    strcat(line, "\n");
    int failed = fputs(line, c->stream) == EOF || fflush(c->stream) != 0;
    if (line != small)
        free(line);
    if (failed) {
        clearerr(c->stream);
        return SG_DELIVER_RETRY;
    }
    return SG_DELIVER_OK;
}

static void s_close(void *ctx) { free(ctx); }

SG_PLUGIN_EXPORT const sg_plugin_t sg_plugin_descriptor = {
    .abi_version = SG_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sg_plugin_t),
    .name = "console",
    .description = "prints a readable timeline line per outcome",
    .config_keys = s_keys,
    .n_config_keys = sizeof s_keys / sizeof s_keys[0],
    .init = s_init,
    .deliver = s_deliver,
    .close = s_close,
};
