/* announce: the outcome announcing a decision; see announce.h. */
#include "journal/announce.h"

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
    sg_outcome_t *o = sg_outcome_new(sg_announce_kind(d->kind), d->at.wall);
    if (!o)
        return NULL;
    o->run_id = d->run_id;
    const char *site = d->site >= 0 ? cfg->sites[d->site].name : NULL;
    int rc = sg_outcome_set(o, &o->site, site);
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
