/* announce: the outcome announcing a decision; see announce.h. */
#include "journal/announce.h"

#include <stdbool.h>
#include <stdio.h>

sg_outcome_kind_t sg_announce_kind(sg_decision_kind_t k)
{
    switch (k) {
    case SG_DECISION_SITE_SUSPECT: return SG_OUTCOME_SITE_SUSPECT;
    case SG_DECISION_SITE_LOST: return SG_OUTCOME_SITE_LOST;
    case SG_DECISION_SITE_RECOVERED: return SG_OUTCOME_SITE_RECOVERED;
    case SG_DECISION_FAILOVER: return SG_OUTCOME_DECISION;
    case SG_DECISION_SITE_CONTESTED: return SG_OUTCOME_SITE_CONTESTED;
    case SG_DECISION_NOTICE: return SG_OUTCOME_NOTICE;
    default: return SG_OUTCOME_BLOCKED;
    }
}

sg_outcome_t *sg_announce_decision(const sg_config_t *cfg, const sg_decision_t *d)
{
    return sg_announce_held(cfg, d, NULL);
}

sg_outcome_t *sg_announce_held(const sg_config_t *cfg, const sg_decision_t *d, const char *held)
{
    sg_outcome_t *o = sg_outcome_new(sg_announce_kind(d->kind), d->at.wall);
    if (!o)
        return NULL;
    o->run_id = d->run_id;
    const char *site = d->site >= 0 ? cfg->sites[d->site].name : NULL;
    int rc = sg_outcome_set(o, &o->site, site);
    rc = rc ? rc : sg_outcome_set_held(o, held);
    rc = rc ? rc : sg_outcome_set(o, &o->message, d->reason);
    if (!rc && d->collection >= 0) {
        const sg_collection_cfg_t *c = &cfg->collections[d->collection];
        rc = sg_outcome_set(o, &o->collection, c->name);
        rc = rc ? rc : sg_outcome_set(o, &o->cim_path, c->cim_path);
    }
    if (!rc && d->target_site >= 0)
        rc = sg_outcome_set(o, &o->replica_site, cfg->sites[d->target_site].name);
    if (!rc && d->point)
        rc = sg_outcome_set_point(o, d->point);
    if (!rc && d->run_id == 0) /* site notices and blocks: keyed by subject and time */
        rc = sg_outcome_setf(o, &o->dedup_key, "%s/%s/%s/%lld", site ? site : "-",
                             d->collection >= 0 ? cfg->collections[d->collection].name
                             : d->observer >= 0 ? cfg->observers[d->observer].id
                                                : "-",
                             sg_decision_kind_name(d->kind), (long long)o->time_ms);
    rc = rc ? rc : sg_outcome_finish(o, 0);
    if (rc) {
        sg_outcome_free(&o);
        return NULL;
    }
    return o;
}

/* "60 s", "1.5 s", "0.25 s". */
static void s_seconds(int64_t ms, char *buf, size_t len)
{
    snprintf(buf, len, "%g s", (double)ms / 1000.0);
}

static int s_flap_message(sg_outcome_t *o, const char *site, const sg_flap_notice_t *n)
{
    char window[48];
    s_seconds(n->window_ms, window, sizeof window);
    if (n->event == SG_FLAP_STARTED)
        return sg_outcome_setf(o, &o->message,
                               "site %s is flapping: %d changes in %s; its suspect/recovered "
                               "notices are held until it is steady for %s",
                               site, n->changes, window, window);
    char why[96];
    if (n->cause == SG_FLAP_STEADY)
        snprintf(why, sizeof why, ": no change for %s", window);
    else if (n->cause == SG_FLAP_OFF)
        snprintf(why, sizeof why, " (policy.flapping is off)");
    else
        why[0] = '\0'; /* the loss is announced next, with its reasons */
    return sg_outcome_setf(o, &o->message, "site %s stopped flapping (%llu change%s held); it is "
                           "now %s%s",
                           site, (unsigned long long)n->held, n->held == 1 ? "" : "s",
                           sg_site_state_name(n->state), why);
}

sg_outcome_t *sg_announce_flap(const sg_config_t *cfg, const sg_flap_notice_t *n)
{
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_SITE_FLAPPING, n->at.wall);
    if (!o)
        return NULL;
    const char *site = cfg->sites[n->site].name;
    bool started = n->event == SG_FLAP_STARTED;
    o->severity = !started && n->state == SG_SITE_HEALTHY ? SG_SEVERITY_INFO
                                                           : SG_SEVERITY_WARNING;
    int rc = sg_outcome_set(o, &o->site, site);
    rc = rc ? rc : s_flap_message(o, site, n);
    rc = rc ? rc : sg_outcome_setf(o, &o->dedup_key, "%s/-/%s/%lld/%s", site,
                                   sg_outcome_kind_name(o->kind), (long long)o->time_ms,
                                   started ? "started" : "ended");
    rc = rc ? rc : sg_outcome_finish(o, 1);
    if (rc) {
        sg_outcome_free(&o);
        return NULL;
    }
    return o;
}
