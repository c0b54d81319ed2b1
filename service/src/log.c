#include "log.h"
#include "err.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static sg_log_level_t s_level = SG_LOG_INFO;

static const char *s_level_names[] = {"error", "warn", "info", "debug"};

void sg_log_set_level(sg_log_level_t level) { s_level = level; }

sg_log_level_t sg_log_get_level(void) { return s_level; }

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

void sg_logv(sg_log_level_t level, const char *module, const char *fmt, va_list ap)
{
    if (level > s_level)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s] %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            s_level_names[level], module, msg);
}

void sg_log(sg_log_level_t level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sg_logv(level, module, fmt, ap);
    va_end(ap);
}
