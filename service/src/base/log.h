/* Levelled logging to standard error.
 *
 * Every line carries a UTC timestamp, the level and the module or plugin
 * instance that wrote it: "2026-11-25T17:00:00.123Z info  [bus] ...", or in
 * JSON mode one object per line:
 * {"ts":"2026-11-25T17:00:00.123Z","level":"info","module":"bus","msg":"..."}.
 * Thread safe: one line is written with one call; level and format may be
 * changed at any time (a config reload does). Secrets are never passed to
 * these functions knowingly; as a second line of defence every line goes
 * through sg_redact (redact.h), which masks URL credentials, token
 * parameters and credential headers. */
#ifndef SG_LOG_H
#define SG_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    SG_LOG_ERROR = 0,
    SG_LOG_WARN = 1,
    SG_LOG_INFO = 2,
    SG_LOG_DEBUG = 3
} sg_log_level_t;

void sg_log_set_level(sg_log_level_t level);
/* JSON lines (true) or text (false, the default). */
void sg_log_set_json(int json);
sg_log_level_t sg_log_get_level(void);
/* Parses "error", "warn", "info" or "debug"; returns 0 or SG_EINVAL. */
int sg_log_parse_level(const char *text, sg_log_level_t *out);

void sg_log(sg_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sg_logv(sg_log_level_t level, const char *module, const char *fmt, va_list ap);

/* A repeated complaint, logged at most once per period (collectd's
 * c_complain): zero-initialised by its owner, used by one thread. */
typedef struct {
    uint64_t unlogged; /* occurrences since the last line */
    int64_t next;      /* ms: the next line may be written from then */
} sg_log_complaint_t;

/* Counts one occurrence at `now_ms`; true when a line may be written now,
 * with the occurrences since the last line (this one included) in *count.
 * At most one true per `every_ms`. */
bool sg_log_complain(sg_log_complaint_t *c, int64_t now_ms, int64_t every_ms, uint64_t *count);

#define sg_error(mod, ...) sg_log(SG_LOG_ERROR, mod, __VA_ARGS__)
#define sg_warn(mod, ...) sg_log(SG_LOG_WARN, mod, __VA_ARGS__)
#define sg_info(mod, ...) sg_log(SG_LOG_INFO, mod, __VA_ARGS__)
#define sg_debug(mod, ...) sg_log(SG_LOG_DEBUG, mod, __VA_ARGS__)

#endif
