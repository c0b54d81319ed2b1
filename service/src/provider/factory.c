/* Chooses the provider. SG_WITH_WMI is defined by the Windows build, which
 * compiles wmi.c. */
#include "provider/factory.h"
#include "base/log.h"
#include "provider/sim.h"
#ifdef SG_WITH_WMI
#include "provider/wmi.h"
#endif

#include <string.h>

bool sg_provider_built(const char *kind)
{
    if (strcmp(kind, "sim") == 0)
        return true;
#ifdef SG_WITH_WMI
    if (strcmp(kind, "wmi") == 0)
        return true;
#endif
    return false;
}

sg_provider_t *sg_provider_new(const sg_config_t *cfg, const sg_clock_t *clock)
{
    const char *kind = cfg->provider.kind ? cfg->provider.kind : "sim";
#ifdef SG_WITH_WMI
    if (strcmp(kind, "wmi") == 0)
        return sg_wmi_new(&cfg->provider.wmi);
#endif
    if (strcmp(kind, "sim") == 0)
        return sg_sim_new(cfg, clock);
    sg_error("provider", "provider '%s' is not built into this version", kind);
    return NULL;
}
