/* size: the config file's size syntax (see size.h). */
#include "config/size.h"

#include "config/duration.h"

int sg_config_parse_size(const char *text, int64_t *out_bytes)
{
    static const sg_config_unit_t units[] = {
        {"", 1},
        {"B", 1},
        {"KiB", 1LL << 10},
        {"MiB", 1LL << 20},
        {"GiB", 1LL << 30},
        {"TiB", 1LL << 40},
        {"KB", 1000LL},
        {"MB", 1000LL * 1000},
        {"GB", 1000LL * 1000 * 1000},
        {"TB", 1000LL * 1000 * 1000 * 1000},
    };
    return sg_config_parse_scaled(text, units, sizeof units / sizeof units[0], out_bytes);
}
