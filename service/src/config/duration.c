/* duration: the config file's duration syntax (see duration.h). */
#include "config/duration.h"

#include "base/err.h"

#include <stddef.h>
#include <string.h>

int sg_config_parse_duration(const char *text, int64_t *out_ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    if (!text || text[0] < '0' || text[0] > '9')
        return SG_EINVAL;
    int64_t v = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9'; p++) {
        int d = *p - '0';
        if (v > (INT64_MAX - d) / 10)
            return SG_EINVAL;
        v = v * 10 + d;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(p, units[i].unit) == 0) {
            if (v > INT64_MAX / units[i].ms)
                return SG_EINVAL;
            *out_ms = v * units[i].ms;
            return SG_OK;
        }
    }
    return SG_EINVAL;
}
