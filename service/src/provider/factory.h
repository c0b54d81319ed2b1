/* factory: the provider named by the config's provider.kind ("sim", or
 * "wmi" in Windows builds), the one place that knows every implementation.
 * Thread rules: called from the main thread at start-up. */
#ifndef SG_PROVIDER_FACTORY_H
#define SG_PROVIDER_FACTORY_H

#include "base/clock.h"
#include "config/config.h"
#include "provider/provider.h"

/* Creates the configured provider ("sim" or "wmi"); NULL after logging why.
 * The config and clock must outlive it. Destroy with sg_provider_destroy. */
sg_provider_t *sg_provider_new(const sg_config_t *cfg, const sg_clock_t *clock);

#endif
