/* verdict: observers' credibility, votes, the quorum and site verdicts
 * (the rules are in engine.h). */
#include "policy/engine_int.h"
#include "base/err.h"

#include <stdio.h>
#include <string.h>

s_report_t *sg_eng_report(const sg_engine_t *e, int observer, int site)
{
    return &e->reports[(size_t)observer * e->cfg->n_sites + (size_t)site];
}

/* Its observers were heard within suspect_after (a site only assumed heard,
 * after the startup grace, has no fresh heartbeats). */
bool sg_eng_fresh_heartbeats(const sg_engine_t *e, int site, int64_t now)
{
    const s_site_t *s = &e->sites[site];
    return s->heard && !s->assumed && now - s->last_heard < e->cfg->policy.suspect_after_ms;
}

bool sg_eng_report_fresh(const sg_engine_t *e, const s_report_t *r, int64_t now)
{
    return r->known && now - r->at <= e->cfg->policy.report_max_age_ms;
}

bool sg_eng_hears_data(const sg_engine_t *e, int64_t now)
{
    for (size_t s = 0; s < e->cfg->n_sites; s++)
        if (!e->cfg->sites[s].witness && sg_eng_fresh_heartbeats(e, (int)s, now))
            return true;
    return false;
}

/* Site t was heard after observer's report `r` said it was down: the
 * report is contradicted by siteguard's own ears. */
static bool s_contradicted(const sg_engine_t *e, const s_report_t *r, int t)
{
    const s_site_t *s = &e->sites[t];
    return !r->up && s->heard && !s->assumed && s->last_heard >= r->at;
}

/* An observer votes while it is heard (within report_max_age, as long as its
 * reports count: an observer flapping for less than that keeps its vote),
 * unless it is blind:
 *   - it reports down every site it reports on (two or more) and siteguard
 *     heard one of them after that report (one that reports on a single site
 *     cannot be told from a broken link, and keeps its vote);
 *   - or it reports every data site it reports on down while siteguard hears
 *     no data site itself (the witness cut off together with siteguard).
 * A run of "down" reports counts towards vote_hold only from when the
 * observer last gained its vote (credible_since). */
void sg_eng_compute_credible(sg_engine_t *e, int64_t now)
{
    sg_eng_count_credible(e, now, true);
}

void sg_eng_count_credible(sg_engine_t *e, int64_t now, bool record)
{
    const sg_config_t *cfg = e->cfg;
    bool deaf = !sg_eng_hears_data(e, now);
    for (size_t o = 0; o < cfg->n_observers; o++) {
        s_obs_t *ob = &e->obs[o];
        bool live = ob->heard && now - ob->last_hb <= cfg->policy.report_max_age_ms;
        int reports = 0, up = 0, contradicted = 0, data = 0, data_up = 0;
        for (size_t t = 0; live && t < cfg->n_sites; t++) {
            const s_report_t *r = sg_eng_report(e, (int)o, (int)t);
            if (!sg_eng_report_fresh(e, r, now))
                continue;
            reports++;
            up += r->up;
            contradicted += s_contradicted(e, r, (int)t);
            if (!cfg->sites[t].witness) {
                data++;
                data_up += r->up;
            }
        }
        bool blind = (reports > 1 && up == 0 && contradicted > 0) ||
                     (deaf && data > 0 && data_up == 0);
        bool credible = live && !blind;
        e->credible[o] = credible;
        if (!record)
            continue;
        if (credible && !ob->credible)
            ob->credible_since = now;
        ob->credible = credible;
    }
}

/* How site `voter` sees site `site` now (engine.h: votes). Every observer of
 * the voting site is read: an up from one of them is not hidden by another's
 * down, and an up received within vote_hold still vetoes after it is
 * followed by downs. */
int sg_eng_site_vote(const sg_engine_t *e, int voter, int site, int64_t now)
{
    const sg_config_t *cfg = e->cfg;
    int64_t hold = cfg->policy.vote_hold_ms;
    bool up = false, sustained = false;
    for (size_t o = 0; o < cfg->n_observers; o++) {
        if (cfg->observers[o].site != voter)
            continue;
        const s_report_t *r = sg_eng_report(e, (int)o, site);
        if (r->ever_up && now - r->last_up_at < hold)
            up = true; /* seen up within vote_hold: that veto stands */
        if (!e->credible[o] || !sg_eng_report_fresh(e, r, now))
            continue;
        /* down, reported (not merely remembered through a silence) for
         * vote_hold, counted from when the observer last gained its vote */
        int64_t from = r->down_since > e->obs[o].credible_since ? r->down_since
                                                                : e->obs[o].credible_since;
        if (r->up)
            up = true;
        else if (r->at - from >= hold)
            sustained = true;
    }
    return up ? S_VOTE_UP : sustained ? S_VOTE_DOWN : S_VOTE_NONE;
}

/* siteguard heard another data site while `site` had already been silent
 * for suspect_after: a silence that began everywhere at once is siteguard
 * being cut off (perhaps with the witness), not a loss. */
static bool s_heard_elsewhere(const sg_engine_t *e, int site)
{
    const s_site_t *s = &e->sites[site];
    int64_t since = s->last_heard + e->cfg->policy.suspect_after_ms;
    for (size_t y = 0; y < e->cfg->n_sites; y++) {
        const s_site_t *o = &e->sites[y];
        if ((int)y != site && !e->cfg->sites[y].witness && o->heard && !o->assumed &&
            o->last_heard >= since)
            return true;
    }
    return false;
}

void sg_eng_count_votes(const sg_engine_t *e, int site, int64_t now, s_votes_t *v)
{
    memset(v, 0, sizeof *v);
    v->first_up = -1;
    v->data_heard = s_heard_elsewhere(e, site);
    for (size_t s = 0; s < e->cfg->n_sites; s++) {
        if ((int)s == site)
            continue;
        int vote = sg_eng_site_vote(e, (int)s, site, now);
        if (vote == S_VOTE_DOWN) {
            size_t len = strlen(v->names);
            snprintf(v->names + len, sizeof v->names - len, "%s%s", v->down ? ", " : "",
                     sg_eng_site_name(e, (int)s));
            v->down++;
            v->witness_down |= e->cfg->sites[s].witness;
        } else if (vote == S_VOTE_UP) {
            v->up++;
            if (v->first_up < 0)
                v->first_up = (int)s;
        }
    }
}

bool sg_eng_quorum_met(const sg_engine_t *e, const s_votes_t *v)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    return v->data_heard && v->up == 0 && v->down >= p->quorum &&
           (!p->require_witness || v->witness_down);
}

/* Why the quorum does not hold, for announcements. */
static void s_quorum_gap(const sg_engine_t *e, const s_votes_t *v, char *buf, size_t len)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    if (!v->data_heard)
        snprintf(buf, len, "siteguard has heard no other data site since it fell silent (the "
                           "silence may be siteguard's own)");
    else if (v->up > 0)
        snprintf(buf, len, "site %s sees it up", sg_eng_site_name(e, v->first_up));
    else if (v->down < p->quorum)
        snprintf(buf, len, "only %d site(s) vote it down (%s), quorum %d", v->down,
                 v->down ? v->names : "none", p->quorum);
    else
        snprintf(buf, len, "the witness does not vote it down (%s do)", v->names);
}

/* A credible observer elsewhere that reports the site down now, or -1. */
static int s_down_reporter(const sg_engine_t *e, int site, int64_t now)
{
    for (size_t o = 0; o < e->cfg->n_observers; o++) {
        const s_report_t *r = sg_eng_report(e, (int)o, site);
        if (e->credible[o] && e->cfg->observers[o].site != site &&
            sg_eng_report_fresh(e, r, now) && !r->up)
            return (int)o;
    }
    return -1;
}

static void s_enter(s_site_t *s, sg_site_state_t state, int64_t now)
{
    s->state = state;
    s->since = now;
}

void sg_eng_end_episode(sg_engine_t *e, int site)
{
    s_site_t *s = &e->sites[site];
    if (!s->in_episode)
        return;
    s->in_episode = false;
    for (size_t c = 0; c < e->cfg->n_collections; c++) {
        s_coll_t *cs = &e->colls[c];
        if (e->cfg->collections[c].site != site)
            continue;
        if (cs->verdict == SG_COLL_BLOCKED || cs->verdict == SG_COLL_AWAITING ||
            cs->verdict == SG_COLL_DENIED) {
            cs->verdict = SG_COLL_IDLE;
            cs->announced = SG_GUARD_NONE;
        }
        cs->approved = false;
        cs->released = false;
        cs->plan_wait_failed = false;
        cs->deadline = 0;
    }
    sg_eng_changed(e);
}

/* Enters lost: a new loss episode, unless one restored from before a
 * restart is still open. */
static void s_enter_lost(sg_engine_t *e, int i, int64_t now)
{
    s_site_t *s = &e->sites[i];
    s_enter(s, SG_SITE_LOST, now);
    if (s->in_episode)
        return;
    s->in_episode = true;
    s->episode++;
    s->budget_taken = false;
    sg_eng_changed(e);
}

static int s_eval_healthy(sg_engine_t *e, int i, sg_now_t now, int64_t silent)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    s_site_t *s = &e->sites[i];
    int reporter = s_down_reporter(e, i, now.mono);
    if (silent < p->suspect_after_ms && reporter < 0)
        return SG_OK;
    s_enter(s, SG_SITE_SUSPECT, now.mono);
    if (silent >= p->suspect_after_ms && s->assumed)
        return sg_eng_emit(e, SG_DECISION_SITE_SUSPECT, i, -1, SG_GUARD_NONE, now,
                           "site %s suspect: never heard since siteguard started %.1f s ago "
                           "(lost after %.1f s of silence with a quorum)",
                           sg_eng_site_name(e, i), silent / 1000.0, p->hold_down_ms / 1000.0);
    if (silent >= p->suspect_after_ms)
        return sg_eng_emit(e, SG_DECISION_SITE_SUSPECT, i, -1, SG_GUARD_NONE, now,
                           "site %s suspect: its heartbeats are missing for %.1f s (suspect "
                           "after %.1f s, lost after %.1f s with a quorum)",
                           sg_eng_site_name(e, i), silent / 1000.0, p->suspect_after_ms / 1000.0,
                           p->hold_down_ms / 1000.0);
    return sg_eng_emit(e, SG_DECISION_SITE_SUSPECT, i, -1, SG_GUARD_NONE, now,
                       "site %s suspect: observer %s (site %s) reports it unreachable",
                       sg_eng_site_name(e, i), e->cfg->observers[reporter].id,
                       sg_eng_site_name(e, e->cfg->observers[reporter].site));
}

static int s_declare_lost(sg_engine_t *e, int i, sg_now_t now, int64_t silent,
                          const s_votes_t *v, const char *how)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    bool continued = e->sites[i].in_episode;
    s_enter_lost(e, i, now.mono);
    return sg_eng_emit(e, SG_DECISION_SITE_LOST, i, -1, SG_GUARD_NONE, now,
                       "site %s lost%s: its observers are silent for %.1f s (hold-down %.1f s) "
                       "and %d site(s) vote it down (%s; quorum %d%s; each down for %.1f s "
                       "without an up)%s",
                       sg_eng_site_name(e, i), how, silent / 1000.0, p->hold_down_ms / 1000.0,
                       v->down, v->names, p->quorum,
                       p->require_witness ? ", witness required" : "", p->vote_hold_ms / 1000.0,
                       continued ? "; the loss episode from before the restart goes on" : "");
}

static int s_eval_suspect(sg_engine_t *e, int i, sg_now_t now, int64_t silent)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    s_site_t *s = &e->sites[i];
    if (silent < p->suspect_after_ms && !s->assumed && s_down_reporter(e, i, now.mono) < 0) {
        s_enter(s, SG_SITE_HEALTHY, now.mono);
        return sg_eng_emit(e, SG_DECISION_SITE_RECOVERED, i, -1, SG_GUARD_NONE, now,
                           "site %s healthy again: heartbeats arrive and no observer reports "
                           "it down",
                           sg_eng_site_name(e, i));
    }
    if (silent < p->hold_down_ms || e->cfg->sites[i].witness)
        return SG_OK;
    s_votes_t v;
    sg_eng_count_votes(e, i, now.mono, &v);
    if (!sg_eng_quorum_met(e, &v))
        return SG_OK;
    return s_declare_lost(e, i, now, silent, &v, "");
}

/* A lost or contested site heard again: recovering, its episode over. */
static int s_heard_again(sg_engine_t *e, int i, sg_now_t now)
{
    s_enter(&e->sites[i], SG_SITE_RECOVERING, now.mono);
    sg_eng_end_episode(e, i);
    return sg_eng_emit(e, SG_DECISION_SITE_RECOVERING, i, -1, SG_GUARD_NONE, now,
                       "site %s is heard again: runs not yet called are cancelled, runs already "
                       "called go on; healthy after %.1f s of steady heartbeats",
                       sg_eng_site_name(e, i), e->cfg->policy.recover_after_ms / 1000.0);
}

static int s_eval_lost(sg_engine_t *e, int i, sg_now_t now, int64_t silent)
{
    s_site_t *s = &e->sites[i];
    if (sg_eng_fresh_heartbeats(e, i, now.mono))
        return s_heard_again(e, i, now);
    s_votes_t v;
    sg_eng_count_votes(e, i, now.mono, &v);
    if (sg_eng_quorum_met(e, &v))
        return SG_OK;
    char gap[320];
    s_quorum_gap(e, &v, gap, sizeof gap);
    s_enter(s, SG_SITE_CONTESTED, now.mono);
    sg_eng_end_episode(e, i);
    return sg_eng_emit(e, SG_DECISION_SITE_CONTESTED, i, -1, SG_GUARD_NONE, now,
                       "site %s contested: the quorum that declared it lost no longer holds "
                       "(%s; its observers silent for %.1f s); nothing new is decided and runs "
                       "not yet called are cancelled; lost again only with a full quorum",
                       sg_eng_site_name(e, i), gap, silent / 1000.0);
}

static int s_eval_contested(sg_engine_t *e, int i, sg_now_t now, int64_t silent)
{
    if (sg_eng_fresh_heartbeats(e, i, now.mono))
        return s_heard_again(e, i, now);
    s_votes_t v;
    sg_eng_count_votes(e, i, now.mono, &v);
    if (!sg_eng_quorum_met(e, &v))
        return SG_OK;
    return s_declare_lost(e, i, now, silent, &v, " again (it was contested)");
}

static int s_eval_recovering(sg_engine_t *e, int i, sg_now_t now, int64_t silent)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    s_site_t *s = &e->sites[i];
    if (silent >= p->hold_down_ms) {
        s_votes_t v;
        sg_eng_count_votes(e, i, now.mono, &v);
        if (sg_eng_quorum_met(e, &v))
            return s_declare_lost(e, i, now, silent, &v, " again while recovering");
    }
    if (silent >= p->suspect_after_ms)
        s->since = now.mono; /* not steady: the stable period starts again */
    if (now.mono - s->since < p->recover_after_ms)
        return SG_OK;
    s_enter(s, SG_SITE_HEALTHY, now.mono);
    return sg_eng_emit(e, SG_DECISION_SITE_RECOVERED, i, -1, SG_GUARD_NONE, now,
                       "site %s healthy again after %.1f s of steady heartbeats",
                       sg_eng_site_name(e, i), p->recover_after_ms / 1000.0);
}

/* A restored loss episode ends with any sign of the site's return: it is
 * heard, or another site sees it up. */
static void s_check_return(sg_engine_t *e, int i, int64_t now)
{
    s_site_t *s = &e->sites[i];
    if (!s->in_episode || s->state == SG_SITE_LOST)
        return;
    bool back = sg_eng_fresh_heartbeats(e, i, now);
    for (size_t v = 0; !back && v < e->cfg->n_sites; v++)
        back = (int)v != i && sg_eng_site_vote(e, (int)v, i, now) == S_VOTE_UP;
    if (back)
        sg_eng_end_episode(e, i);
}

int sg_eng_eval_site(sg_engine_t *e, int i, sg_now_t now)
{
    s_site_t *s = &e->sites[i];
    if (!s->heard) {
        if (now.mono - e->start < e->cfg->policy.startup_grace_ms)
            return SG_OK;
        s->heard = true; /* silent since start */
        s->assumed = true;
        s->last_heard = e->start;
    }
    if (s->state == SG_SITE_UNKNOWN)
        s_enter(s, SG_SITE_HEALTHY, now.mono);
    s_check_return(e, i, now.mono);
    int64_t silent = now.mono - s->last_heard;
    sg_site_state_t before;
    int rc = SG_OK;
    do { /* one tick may pass several states (healthy -> suspect -> lost) */
        before = s->state;
        switch (s->state) {
        case SG_SITE_HEALTHY: rc = s_eval_healthy(e, i, now, silent); break;
        case SG_SITE_SUSPECT: rc = s_eval_suspect(e, i, now, silent); break;
        case SG_SITE_LOST: rc = s_eval_lost(e, i, now, silent); break;
        case SG_SITE_CONTESTED: rc = s_eval_contested(e, i, now, silent); break;
        case SG_SITE_RECOVERING: rc = s_eval_recovering(e, i, now, silent); break;
        default: break;
        }
    } while (rc == SG_OK && s->state != before && s->state != SG_SITE_HEALTHY &&
             s->state != SG_SITE_LOST);
    return rc;
}
