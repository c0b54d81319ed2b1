/* libFuzzer target for the config loader: arbitrary bytes as a YAML file.
 *
 * Every input must either load or be rejected with at least one error line;
 * nothing may crash or leak. A config that loads must be what config.h
 * promises: every reference resolved to an index in range, names that find
 * their own entry, drill schedules and time zones that parse, and sink
 * fallbacks that name another sink. */
#include "config/config.h"
#include "base/err.h"
#include "drill/schedule.h"
#include "drill/tz.h"
#include "fuzz.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool s_in(int i, size_t n) { return i >= 0 && (size_t)i < n; }

static void s_check_windows(const sg_config_t *cfg, const sg_window_cfg_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < w[i].n_sites; k++)
            FZ_CHECK(s_in(w[i].sites[k], cfg->n_sites));
        if (w[i].start_ms || w[i].end_ms) /* once */
            FZ_CHECK(w[i].start_ms < w[i].end_ms);
        else /* weekly */
            FZ_CHECK(w[i].from_min >= 0 && w[i].from_min <= 1440 && w[i].to_min >= 0 &&
                   w[i].to_min <= 1440 && w[i].from_min != w[i].to_min);
    }
}

static void s_check_collections(const sg_config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_collections; i++) {
        const sg_collection_cfg_t *c = &cfg->collections[i];
        FZ_CHECK(sg_config_find_collection(cfg, c->name) == (int)i);
        FZ_CHECK(s_in(c->site, cfg->n_sites) && s_in(c->replica_site, cfg->n_sites));
        for (size_t k = 0; k < c->n_depends_on; k++)
            FZ_CHECK(s_in(c->depends_on[k], cfg->n_collections) && c->depends_on[k] != (int)i);
        for (size_t k = 0; k < c->n_replication_observers; k++)
            FZ_CHECK(s_in(c->replication_observers[k], cfg->n_observers));
        FZ_CHECK(c->recovery_point != SG_RP_NAMED || c->recovery_point_path);
    }
}

static void s_check_drills(const sg_config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_drills; i++) {
        const sg_drill_cfg_t *d = &cfg->drills[i];
        FZ_CHECK(sg_config_find_drill(cfg, d->name) == (int)i);
        FZ_CHECK(d->plan != SG_DRILL_SITE || s_in(d->plan_site, cfg->n_sites));
        for (size_t k = 0; k < d->n_collections; k++)
            FZ_CHECK(s_in(d->collections[k], cfg->n_collections));
        s_check_windows(cfg, d->blackout, d->n_blackout);
        sg_schedule_t sched;
        FZ_CHECK(!d->schedule || sg_schedule_parse(d->schedule, &sched, NULL) == SG_OK);
        sg_tz_t *tz = NULL;
        FZ_CHECK(!d->timezone || sg_tz_open(d->timezone, &tz) == SG_OK);
        sg_tz_close(&tz);
    }
}

static void s_check_sinks(const sg_config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_sinks; i++) {
        const sg_sink_cfg_t *s = &cfg->sinks[i];
        FZ_CHECK(s->plugin || s->path);
        if (!s->fallback)
            continue;
        bool found = false;
        for (size_t k = 0; k < cfg->n_sinks; k++)
            found |= k != i && cfg->sinks[k].name && strcmp(cfg->sinks[k].name, s->fallback) == 0;
        FZ_CHECK(found);
    }
}

/* What a loaded config promises (config.h and the <x>_conf.h headers). */
static void s_check(const sg_config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_sites; i++)
        FZ_CHECK(sg_config_find_site(cfg, cfg->sites[i].name) == (int)i);
    for (size_t i = 0; i < cfg->n_observers; i++) {
        FZ_CHECK(sg_config_find_observer(cfg, cfg->observers[i].id) == (int)i);
        FZ_CHECK(s_in(cfg->observers[i].site, cfg->n_sites));
    }
    s_check_collections(cfg);
    s_check_windows(cfg, cfg->policy.maintenance, cfg->policy.n_maintenance);
    s_check_drills(cfg);
    s_check_sinks(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sg_log_set_level(SG_LOG_ERROR);
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    sg_config_t *cfg = NULL;
    int rc = sg_config_load_string("fuzz.yaml", (const char *)data, size, &cfg, &errs);
    /* a loaded config comes with no errors; a rejected one says why, and yields nothing */
    FZ_CHECK(rc == SG_OK ? cfg && errs.n == 0 : !cfg && errs.n > 0);
    if (cfg)
        s_check(cfg);
    sg_config_destroy(&cfg);
    sg_config_errors_fini(&errs);
    return 0;
}
