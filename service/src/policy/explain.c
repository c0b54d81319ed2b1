/* explain: why a site or collection is where it is, and the names of the
 * engine's states (engine.h). */
#include "policy/engine_int.h"
#include "base/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} s_text_t;

static void s_addf(s_text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_addf(s_text_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = sg_vstrdupf(fmt, ap);
    va_end(ap);
    size_t n = line ? strlen(line) : 0;
    if (!line || t->oom) {
        t->oom = true;
        free(line);
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->oom = true;
            free(line);
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, line, n + 1);
    t->len += n;
    free(line);
}

static char *s_text_done(s_text_t *t)
{
    if (t->oom) {
        free(t->buf);
        return NULL;
    }
    return t->buf;
}

/* What one observer's newest report about `site` says, for explain. */
static void s_report_text(const sg_engine_t *e, const s_report_t *r, int64_t now, char *buf,
                          size_t len)
{
    int64_t hold = e->cfg->policy.vote_hold_ms;
    if (!r->known)
        snprintf(buf, len, "no report");
    else if (!sg_eng_report_fresh(e, r, now))
        snprintf(buf, len, "report too old (%.1f s)", (now - r->at) / 1000.0);
    else if (r->up)
        snprintf(buf, len, "reports up");
    else if (now - r->down_since < hold)
        snprintf(buf, len, "reports down for %.1f s (counts after vote_hold %.1f s)",
                 (now - r->down_since) / 1000.0, hold / 1000.0);
    else
        snprintf(buf, len, "reports down for %.1f s", (now - r->down_since) / 1000.0);
}

static void s_explain_observer(const sg_engine_t *e, int o, int site, int64_t now, s_text_t *t)
{
    const s_obs_t *ob = &e->obs[o];
    char rep[128], skew[96] = "";
    s_report_text(e, sg_eng_report(e, o, site), now, rep, sizeof rep);
    if (ob->skew_known) {
        int64_t s = ob->prev_known && ob->skew_prev < ob->skew_cur ? ob->skew_prev : ob->skew_cur;
        snprintf(skew, sizeof skew, "; clock offset %+.1f s%s", s / 1000.0,
                 ob->skew_warned ? " (beyond skew_warn)" : "");
    }
    s_addf(t, "    observer %s: %s; %s%s\n", e->cfg->observers[o].id,
           e->credible[o] ? "credible"
           : !ob->heard   ? "no vote (never heard)"
                          : "no vote (its events are missing, or it sees nothing while others "
                            "are heard)",
           rep, skew);
}

static void s_explain_votes(const sg_engine_t *e, int site, int64_t now, s_text_t *t)
{
    for (size_t s = 0; s < e->cfg->n_sites; s++) {
        if ((int)s == site)
            continue;
        int vote = sg_eng_site_vote(e, (int)s, site, now);
        s_addf(t, "  site %s%s votes %s\n", sg_eng_site_name(e, (int)s),
               e->cfg->sites[s].witness ? " (witness)" : "",
               vote == S_VOTE_DOWN ? "down"
               : vote == S_VOTE_UP ? "up"
                                   : "nothing (no credible report held for vote_hold)");
        for (size_t o = 0; o < e->cfg->n_observers; o++)
            if (e->cfg->observers[o].site == (int)s)
                s_explain_observer(e, (int)o, site, now, t);
    }
}

char *sg_engine_explain_site(sg_engine_t *e, int site, sg_now_t now)
{
    const sg_policy_cfg_t *p = &e->cfg->policy;
    const s_site_t *s = &e->sites[site];
    s_text_t t = {0};
    sg_eng_count_credible(e, now.mono, false); /* a view: changes nothing */
    s_addf(&t, "site %s%s: %s", sg_eng_site_name(e, site),
           e->cfg->sites[site].witness ? " (witness)" : "", sg_site_state_name(s->state));
    if (s->state != SG_SITE_UNKNOWN)
        s_addf(&t, " for %.1f s", (now.mono - s->since) / 1000.0);
    if (s->in_episode)
        s_addf(&t, " (loss episode %llu open)", (unsigned long long)s->episode);
    s_addf(&t, "\n");
    if (!s->heard) {
        s_addf(&t, "  never heard since start: counted as silent since start once the startup "
                   "grace (%.1f s) is over, in %.1f s\n",
               p->startup_grace_ms / 1000.0,
               (e->start + p->startup_grace_ms - now.mono) / 1000.0);
    } else if (s->assumed) {
        s_addf(&t, "  never heard since siteguard started %.1f s ago (hold-down %.1f s)\n",
               (now.mono - e->start) / 1000.0, p->hold_down_ms / 1000.0);
    } else {
        s_addf(&t, "  heartbeats: last event %.1f s ago (suspect after %.1f s, hold-down %.1f s)\n",
               (now.mono - s->last_heard) / 1000.0, p->suspect_after_ms / 1000.0,
               p->hold_down_ms / 1000.0);
    }
    s_votes_t v;
    sg_eng_count_votes(e, site, now.mono, &v);
    s_addf(&t, "  quorum: %d site(s) vote it down (%s), %d up; needs %d%s: %s\n", v.down,
           v.down ? v.names : "none", v.up, p->quorum,
           p->require_witness ? " including the witness" : "",
           sg_eng_quorum_met(e, &v) ? "met" : "not met");
    if (!v.data_heard)
        s_addf(&t, "  siteguard has heard no other data site since this one fell silent: the "
                   "silence may be its own, so nothing is declared\n");
    s_explain_votes(e, site, now.mono, &t);
    return s_text_done(&t);
}

char *sg_engine_explain_collection(sg_engine_t *e, int collection, sg_now_t now)
{
    const sg_collection_cfg_t *cc = &e->cfg->collections[collection];
    const s_coll_t *cs = &e->colls[collection];
    s_text_t t = {0};
    s_addf(&t, "collection %s (%s -> %s%s, plan group %d): %s\n", cc->name,
           sg_eng_site_name(e, cc->site), sg_eng_site_name(e, cc->replica_site),
           cc->reversed ? ", reversed" : "", cc->group, sg_coll_verdict_name(cs->verdict));
    sg_site_state_t st = e->sites[cc->site].state;
    if (st != SG_SITE_LOST)
        s_addf(&t, "  its site %s is %s: no failover is considered\n",
               sg_eng_site_name(e, cc->site), sg_site_state_name(st));
    if (cs->verdict == SG_COLL_BLOCKED || cs->verdict == SG_COLL_AWAITING ||
        cs->verdict == SG_COLL_DENIED)
        s_addf(&t, "  held back by: %s%s\n", sg_guard_name(cs->announced),
               cs->verdict == SG_COLL_DENIED && cs->reverted
                   ? " (an operator reverted its failover in this loss; siteguardctl failover "
                     "fails it over again, with --point for another recovery point)"
                   : "");
    if (cs->verdict == SG_COLL_DECIDED)
        s_addf(&t, "  run %llu%s\n", (unsigned long long)cs->run_id,
               cs->forced ? " (an operator's, forced)" : cs->manual ? " (an operator's)" : "");
    for (size_t i = 0; i < sg_eng_n_guards; i++) {
        char buf[256];
        bool holds = sg_eng_guard_holds(e, collection, sg_eng_guards[i], now, buf, sizeof buf);
        s_addf(&t, "  %-4s %-22s %s\n", holds ? "HOLD" : "ok", sg_guard_name(sg_eng_guards[i]),
               buf);
    }
    return s_text_done(&t);
}

sg_guard_t sg_engine_collection_guard(const sg_engine_t *e, int collection)
{
    const s_coll_t *cs = &e->colls[collection];
    bool held = cs->verdict == SG_COLL_BLOCKED || cs->verdict == SG_COLL_AWAITING ||
                cs->verdict == SG_COLL_DENIED;
    return held ? cs->announced : SG_GUARD_NONE;
}

const char *sg_site_state_name(sg_site_state_t s)
{
    switch (s) {
    case SG_SITE_HEALTHY: return "healthy";
    case SG_SITE_SUSPECT: return "suspect";
    case SG_SITE_LOST: return "lost";
    case SG_SITE_RECOVERING: return "recovering";
    case SG_SITE_CONTESTED: return "contested";
    default: return "unknown";
    }
}

const char *sg_decision_kind_name(sg_decision_kind_t k)
{
    switch (k) {
    case SG_DECISION_SITE_SUSPECT: return "site_suspect";
    case SG_DECISION_SITE_LOST: return "site_lost";
    case SG_DECISION_SITE_RECOVERING: return "site_recovering";
    case SG_DECISION_SITE_RECOVERED: return "site_recovered";
    case SG_DECISION_FAILOVER: return "failover";
    case SG_DECISION_BLOCKED: return "blocked";
    case SG_DECISION_SITE_CONTESTED: return "site_contested";
    case SG_DECISION_NOTICE: return "notice";
    default: return "unknown";
    }
}

const char *sg_guard_name(sg_guard_t g)
{
    static const char *names[SG_GUARD_COUNT] = {
        "none",     "paused",   "maintenance", "replica_site", "replication_critical",
        "rpo",      "no_replication_data", "cooldown", "budget", "site_budget",
        "shadow",   "awaiting_approval",   "denied",   "approval_timeout", "plan_order"};
    return g >= 0 && g < SG_GUARD_COUNT ? names[g] : "unknown";
}

const char *sg_coll_verdict_name(sg_coll_verdict_t v)
{
    switch (v) {
    case SG_COLL_IDLE: return "idle";
    case SG_COLL_BLOCKED: return "blocked";
    case SG_COLL_AWAITING: return "awaiting approval";
    case SG_COLL_DENIED: return "denied";
    case SG_COLL_DECIDED: return "failing over";
    case SG_COLL_DONE: return "failed over";
    case SG_COLL_FAILED: return "failover failed";
    default: return "unknown";
    }
}
