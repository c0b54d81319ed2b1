/* flap: which site changes are announced; see flap.h. */
#include "journal/flap.h"

#include "base/err.h"

#include <stdlib.h>

typedef struct {
    sg_site_state_t state; /* as its decisions left it; UNKNOWN: none seen yet */
    size_t n, head;        /* changes in the ring, and where the next goes */
    bool flapping;
    uint64_t held;         /* changes held since it began flapping */
    int64_t last_change;   /* mono ms of its latest change */
} s_site_t;

struct sg_flap {
    sg_flap_cfg_t cfg;
    size_t n_sites;
    s_site_t *sites;
    size_t cap;     /* per site: the ring holds the times of its last cfg.changes + 1 changes */
    int64_t *times; /* n_sites x cap, mono ms */
};

/* The ring's size for `cfg`: one more than the changes allowed, so that a
 * full ring whose oldest change is within the window says "more than". */
static size_t s_cap(const sg_flap_cfg_t *cfg)
{
    int changes = cfg->changes < 1 ? 1 : cfg->changes;
    if (changes > SG_FLAP_CONF_MAX_CHANGES)
        changes = SG_FLAP_CONF_MAX_CHANGES;
    return (size_t)changes + 1;
}

sg_flap_t *sg_flap_new(size_t n_sites, const sg_flap_cfg_t *cfg)
{
    sg_flap_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->n_sites = n_sites;
    f->sites = calloc(n_sites ? n_sites : 1, sizeof *f->sites);
    if (!f->sites || sg_flap_set_config(f, cfg) != SG_OK) {
        sg_flap_destroy(&f);
        return NULL;
    }
    return f;
}

void sg_flap_destroy(sg_flap_t **f)
{
    if (!f || !*f)
        return;
    free((*f)->sites);
    free((*f)->times);
    free(*f);
    *f = NULL;
}

int sg_flap_set_config(sg_flap_t *f, const sg_flap_cfg_t *cfg)
{
    size_t cap = s_cap(cfg);
    if (cap != f->cap || !f->times) {
        int64_t *times = calloc((f->n_sites ? f->n_sites : 1) * cap, sizeof *times);
        if (!times)
            return SG_ENOMEM;
        free(f->times);
        f->times = times;
        f->cap = cap;
    }
    f->cfg = *cfg;
    for (size_t i = 0; i < f->n_sites; i++)
        f->sites[i].n = f->sites[i].head = 0;
    return SG_OK;
}

/* Forgets the site's changes so far. */
static void s_forget(s_site_t *s)
{
    s->n = 0;
    s->head = 0;
}

/* Records a change of site i at `t`; returns how many of its changes fall
 * within the window ending at t (at most cap). */
static int s_count_change(sg_flap_t *f, size_t i, int64_t t)
{
    s_site_t *s = &f->sites[i];
    int64_t *ring = f->times + i * f->cap;
    ring[s->head] = t;
    s->head = (s->head + 1) % f->cap;
    if (s->n < f->cap)
        s->n++;
    s->last_change = t;
    int within = 0;
    for (size_t k = 0; k < s->n; k++)
        within += t - ring[k] < f->cfg.window_ms;
    return within;
}

/* Ends the flapping of site i: its ENDED notice. */
static sg_flap_notice_t s_end(sg_flap_t *f, size_t i, sg_flap_cause_t cause, sg_now_t at)
{
    s_site_t *s = &f->sites[i];
    sg_flap_notice_t n = {.event = SG_FLAP_ENDED,
                          .cause = cause,
                          .site = (int)i,
                          .held = s->held,
                          .window_ms = f->cfg.window_ms,
                          .state = s->state,
                          .at = at};
    s->flapping = false;
    s->held = 0;
    s_forget(s);
    return n;
}

/* The state a site decision leaves its site in; UNKNOWN for other decisions. */
static sg_site_state_t s_state_after(sg_decision_kind_t kind)
{
    switch (kind) {
    case SG_DECISION_SITE_SUSPECT: return SG_SITE_SUSPECT;
    case SG_DECISION_SITE_LOST: return SG_SITE_LOST;
    case SG_DECISION_SITE_RECOVERING: return SG_SITE_RECOVERING;
    case SG_DECISION_SITE_RECOVERED: return SG_SITE_HEALTHY;
    case SG_DECISION_SITE_CONTESTED: return SG_SITE_CONTESTED;
    default: return SG_SITE_UNKNOWN; /* FAILOVER, BLOCKED, NOTICE */
    }
}

sg_flap_verdict_t sg_flap_judge(sg_flap_t *f, const sg_decision_t *d)
{
    sg_flap_verdict_t v = {.announce = true};
    sg_site_state_t next = s_state_after(d->kind);
    if (next == SG_SITE_UNKNOWN || d->site < 0 || (size_t)d->site >= f->n_sites)
        return v;
    size_t i = (size_t)d->site;
    s_site_t *s = &f->sites[i];
    sg_site_state_t before = s->state;
    s->state = next;
    if (next != SG_SITE_SUSPECT && next != SG_SITE_HEALTHY) { /* a loss, or what follows one */
        if (s->flapping) {
            v.has_notice = true;
            v.notice = s_end(f, i, SG_FLAP_LOSS, d->at);
        }
        s_forget(s);
        return v;
    }
    if (next == SG_SITE_HEALTHY && before != SG_SITE_SUSPECT && before != SG_SITE_HEALTHY) {
        s_forget(s); /* a recovery from a loss (or from what it did not see): never held */
        return v;
    }
    bool change = before != next; /* healthy (or not yet judged) <-> suspect */
    if (f->cfg.off)
        return v;
    if (s->flapping) {
        if (change)
            s_count_change(f, i, d->at.mono);
        s->held++;
        v.announce = false;
        return v;
    }
    if (!change)
        return v;
    int within = s_count_change(f, i, d->at.mono);
    if (within <= f->cfg.changes)
        return v;
    s->flapping = true;
    s->held = 1;
    v.announce = false;
    v.has_notice = true;
    v.notice = (sg_flap_notice_t){.event = SG_FLAP_STARTED,
                                  .site = (int)i,
                                  .changes = within,
                                  .window_ms = f->cfg.window_ms,
                                  .state = s->state,
                                  .at = d->at};
    return v;
}

bool sg_flap_tick(sg_flap_t *f, sg_now_t now, sg_flap_notice_t *out)
{
    for (size_t i = 0; i < f->n_sites; i++) {
        const s_site_t *s = &f->sites[i];
        if (!s->flapping)
            continue;
        if (f->cfg.off) {
            *out = s_end(f, i, SG_FLAP_OFF, now);
            return true;
        }
        if (now.mono - s->last_change >= f->cfg.window_ms) {
            *out = s_end(f, i, SG_FLAP_STEADY, now);
            return true;
        }
    }
    return false;
}

bool sg_flap_is_flapping(const sg_flap_t *f, int site, uint64_t *held)
{
    if (site < 0 || (size_t)site >= f->n_sites)
        return false;
    if (held)
        *held = f->sites[site].held;
    return f->sites[site].flapping;
}
