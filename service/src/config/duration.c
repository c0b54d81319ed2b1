/* duration: the config file's duration syntax (see duration.h). */
#include "config/duration.h"

#include "base/err.h"

#include <string.h>

int sg_config_parse_scaled(const char *text, const sg_config_unit_t *units, size_t n,
                           int64_t *out)
{
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
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p, units[i].unit) == 0) {
            if (v > INT64_MAX / units[i].scale)
                return SG_EINVAL;
            *out = v * units[i].scale;
            return SG_OK;
        }
    }
    return SG_EINVAL;
}

int sg_config_parse_duration(const char *text, int64_t *out_ms)
{
    static const sg_config_unit_t units[] = {
        {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    return sg_config_parse_scaled(text, units, sizeof units / sizeof units[0], out_ms);
}
