#include "base/log.h"
#include "base/err.h"
#include "base/redact.h"
#include "base/str.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int s_level = SG_LOG_INFO;
static atomic_int s_json = 0;

static const char *s_level_names[] = {"error", "warn", "info", "debug"};

void sg_log_set_level(sg_log_level_t level) { atomic_store(&s_level, (int)level); }

sg_log_level_t sg_log_get_level(void) { return (sg_log_level_t)atomic_load(&s_level); }

void sg_log_set_json(int json) { atomic_store(&s_json, json != 0); }

bool sg_log_complain(sg_log_complaint_t *c, int64_t now_ms, int64_t every_ms, uint64_t *count)
{
    c->unlogged++;
    if (now_ms < c->next)
        return false;
    *count = c->unlogged;
    c->unlogged = 0;
    c->next = now_ms + every_ms;
    return true;
}

int sg_log_parse_level(const char *text, sg_log_level_t *out)
{
    for (int i = 0; i <= SG_LOG_DEBUG; i++) {
        if (strcmp(text, s_level_names[i]) == 0) {
            *out = (sg_log_level_t)i;
            return SG_OK;
        }
    }
    return SG_EINVAL;
}

/* One JSON object on one line; falls back to text when out of memory. */
static int s_write_json(const char *ts, sg_log_level_t level, const char *module, const char *msg)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "ts", ts, "level", s_level_names[level], "module",
                          module, "msg", msg);
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!line)
        return SG_ENOMEM;
    fprintf(stderr, "%s\n", line);
    free(line);
    return SG_OK;
}

void sg_logv(sg_log_level_t level, const char *module, const char *fmt, va_list ap)
{
    if ((int)level > atomic_load(&s_level))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[64], msg[1024];
    snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    /* masked whole, then cut: a cut first could split a secret past recognition */
    char *full = sg_vstrdupf(fmt, ap);
    char *safe = full ? sg_redact(full, NULL) : NULL;
    snprintf(msg, sizeof msg, "%s",
             safe ? safe : "(line withheld: out of memory while masking secrets)");
    free(safe);
    free(full);
    if (!atomic_load(&s_json) || s_write_json(stamp, level, module, msg) != SG_OK)
        fprintf(stderr, "%s %-5s [%s] %s\n", stamp, s_level_names[level], module, msg);
}

void sg_log(sg_log_level_t level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sg_logv(level, module, fmt, ap);
    va_end(ap);
}
