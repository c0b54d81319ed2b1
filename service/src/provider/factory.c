/* Chooses the provider. SG_WITH_WMI is defined by the Windows build, which
 * compiles wmi.c. */
#include "provider/factory.h"
#include "base/log.h"
#include "provider/sim.h"
#ifdef SG_WITH_WMI
#include "provider/wmi.h"
#endif

#include <stdlib.h>
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

#ifdef SG_WITH_WMI
/* The wmi provider for provider.wmi and every site (sites[].wmi or, where a
 * site has none, provider.wmi). */
static sg_provider_t *s_new_wmi(const sg_config_t *cfg)
{
    sg_wmi_site_t *sites = cfg->n_sites ? calloc(cfg->n_sites, sizeof *sites) : NULL;
    if (cfg->n_sites && !sites) {
        sg_error("provider", "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_sites; i++)
        sites[i] = (sg_wmi_site_t){cfg->sites[i].name, cfg->sites[i].wmi};
    sg_provider_t *p = sg_wmi_new(&cfg->provider.wmi, sites, cfg->n_sites);
    free(sites);
    return p;
}
#endif

sg_provider_t *sg_provider_new(const sg_config_t *cfg, const sg_clock_t *clock)
{
    const char *kind = cfg->provider.kind ? cfg->provider.kind : "sim";
#ifdef SG_WITH_WMI
    if (strcmp(kind, "wmi") == 0)
        return s_new_wmi(cfg);
#endif
    if (strcmp(kind, "sim") == 0)
        return sg_sim_new(cfg, clock);
    sg_error("provider", "provider '%s' is not built into this version", kind);
    return NULL;
}
