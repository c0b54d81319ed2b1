#include "drill/tz.h"
#include "base/err.h"
#include "platform/platform.h"

#include <stdlib.h>

struct sg_tz {
    sg_platform_tz_t *zone; /* NULL: the fixed offset below */
    int fixed_min;
};

int sg_tz_open(const char *name, sg_tz_t **out)
{
    *out = NULL;
    if (!name)
        return SG_EINVAL;
    sg_tz_t *tz = calloc(1, sizeof *tz);
    if (!tz)
        return SG_ENOMEM;
    int rc = SG_OK;
    if (sg_schedule_parse_tz(name, &tz->fixed_min) != SG_OK)
        rc = sg_platform_tz_open(name, &tz->zone);
    if (rc != SG_OK)
        goto fail;
    *out = tz;
    return SG_OK;
fail:
    free(tz);
    return rc;
}

void sg_tz_close(sg_tz_t **tz)
{
    if (!tz || !*tz)
        return;
    sg_platform_tz_close(&(*tz)->zone);
    free(*tz);
    *tz = NULL;
}

int sg_tz_offset_min(const void *arg, int64_t utc_ms)
{
    const sg_tz_t *tz = arg;
    if (!tz)
        return 0;
    if (!tz->zone)
        return tz->fixed_min;
    return sg_platform_tz_offset_min(tz->zone, utc_ms);
}

sg_schedule_zone_t sg_tz_zone(const sg_tz_t *tz)
{
    return (sg_schedule_zone_t){.offset = sg_tz_offset_min, .zone = tz};
}

const char *sg_tz_example(void)
{
    return sg_platform_tz_example();
}
