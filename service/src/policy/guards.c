/* guards: plan order and the guards that hold a failover back (engine.h). */
#include "policy/engine_int.h"
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- plan order ------------------------------------------------------------------ */

s_pred_t sg_eng_pred_state(const sg_engine_t *e, int pred)
{
    const s_coll_t *ps = &e->colls[pred];
    if (ps->verdict == SG_COLL_DONE)
        return S_PRED_OK;
    if (ps->verdict == SG_COLL_BLOCKED && ps->announced == SG_GUARD_SHADOW)
        return S_PRED_OK; /* shadow mode: it would be failed over; so would what follows */
    if (ps->verdict == SG_COLL_FAILED || (ps->verdict == SG_COLL_DECIDED && ps->timed_out))
        return S_PRED_FAILED;
    return S_PRED_WAIT;
}

/* A dependency whose own site is healthy and that is not failing over is
 * not part of this failover: nothing to wait for. */
static s_pred_t s_dep_state(const sg_engine_t *e, int d)
{
    const sg_collection_cfg_t *dc = &e->cfg->collections[d];
    sg_coll_verdict_t v = e->colls[d].verdict;
    if (e->sites[dc->site].state == SG_SITE_HEALTHY && v != SG_COLL_DECIDED &&
        v != SG_COLL_FAILED)
        return S_PRED_OK;
    return sg_eng_pred_state(e, d);
}

/* The reason in words, only when asked for (buf not NULL): the engine asks
 * only when it will announce or explain, not on every tick. */
static void s_say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void s_say(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static const char *s_coll_name(const sg_engine_t *e, int c) { return e->cfg->collections[c].name; }

s_plan_hold_t sg_eng_plan_holds_with(const sg_engine_t *e, int c, int wait, int failed,
                                     char *buf, size_t len)
{
    const sg_collection_cfg_t *cc = &e->cfg->collections[c];
    const s_coll_t *cs = &e->colls[c];
    sg_on_error_t on_error = e->cfg->plan.on_error;
    bool by_operator = on_error == SG_ON_ERROR_WAIT; /* a failure waits for an approval */
    for (size_t k = 0; k < cc->n_depends_on; k++) {
        int d = cc->depends_on[k];
        s_pred_t st = s_dep_state(e, d);
        if (st == S_PRED_FAILED && !(by_operator && cs->released)) {
            s_say(buf, len, "depends on %s, whose failover failed%s", s_coll_name(e, d),
                     by_operator ? " (on_error: wait); approve to let it go" : "");
            return by_operator ? S_PLAN_NEEDS_OPERATOR : S_PLAN_WAITS;
        }
        if (st == S_PRED_WAIT) {
            s_say(buf, len, "waits for its dependency %s (%s)", s_coll_name(e, d),
                     sg_coll_verdict_name(e->colls[d].verdict));
            return S_PLAN_WAITS;
        }
    }
    if (failed >= 0 && on_error == SG_ON_ERROR_STOP) {
        s_say(buf, len, "the plan stops (on_error: stop): the failover of %s (group %d) failed",
                 s_coll_name(e, failed), e->cfg->collections[failed].group);
        return S_PLAN_WAITS;
    }
    if (wait >= 0) {
        s_say(buf, len, "waits for %s of the earlier group %d (%s)", s_coll_name(e, wait),
                 e->cfg->collections[wait].group, sg_coll_verdict_name(e->colls[wait].verdict));
        return S_PLAN_WAITS;
    }
    if (failed >= 0 && by_operator && !cs->released) {
        s_say(buf, len, "the plan waits (on_error: wait) after the failover of %s (group %d) "
                           "failed; approve to let it go",
                 s_coll_name(e, failed), e->cfg->collections[failed].group);
        return S_PLAN_NEEDS_OPERATOR;
    }
    s_say(buf, len, "every dependency and earlier group is failed over");
    return S_PLAN_GOES;
}

s_plan_hold_t sg_eng_plan_holds(const sg_engine_t *e, int c, char *buf, size_t len)
{
    const sg_collection_cfg_t *cc = &e->cfg->collections[c];
    int wait = -1, failed = -1;
    for (size_t k = 0; k < e->cfg->n_collections; k++) {
        int p = e->plan[k];
        const sg_collection_cfg_t *pc = &e->cfg->collections[p];
        if (p == c || pc->site != cc->site || pc->group >= cc->group)
            continue;
        s_pred_t st = sg_eng_pred_state(e, p);
        if (st == S_PRED_WAIT && wait < 0)
            wait = p;
        else if (st == S_PRED_FAILED && failed < 0)
            failed = p;
    }
    return sg_eng_plan_holds_with(e, c, wait, failed, buf, len);
}

/* ---- pauses and windows --------------------------------------------------------- */

const s_pause_t *sg_eng_active_pause(const sg_engine_t *e, int site, int coll, int64_t now)
{
    for (size_t i = 0; i < e->n_pauses; i++) {
        const s_pause_t *p = &e->pauses[i];
        if (p->until > now && (p->site < 0 || p->site == site) &&
            (p->collection < 0 || p->collection == coll))
            return p;
    }
    return NULL;
}

static bool s_window_has_site(const sg_window_cfg_t *w, int site)
{
    if (w->n_sites == 0)
        return true;
    for (size_t i = 0; i < w->n_sites; i++)
        if (w->sites[i] == site)
            return true;
    return false;
}

static bool s_day_in(unsigned days, int64_t day)
{
    return days == 0 || (days & (1u << (unsigned)(day % 7))) != 0;
}

static bool s_window_open(const sg_window_cfg_t *w, int64_t wall)
{
    if (w->start_ms || w->end_ms)
        return wall >= w->start_ms && wall < w->end_ms;
    int64_t day = wall / 86400000 + 3; /* 1970-01-01 was a Thursday; Monday = 0 */
    int minute = (int)(wall / 60000 % 1440);
    if (w->from_min < w->to_min)
        return s_day_in(w->days, day) && minute >= w->from_min && minute < w->to_min;
    return (minute >= w->from_min && s_day_in(w->days, day)) ||
           (minute < w->to_min && s_day_in(w->days, day + 6));
}

static const sg_window_cfg_t *s_open_window(const sg_engine_t *e, int site, int64_t wall)
{
    for (size_t i = 0; i < e->cfg->policy.n_maintenance; i++) {
        const sg_window_cfg_t *w = &e->cfg->policy.maintenance[i];
        if (s_window_has_site(w, site) && s_window_open(w, wall))
            return w;
    }
    return NULL;
}

/* ---- budgets -------------------------------------------------------------------- */

size_t sg_eng_budget_used(s_times_t *t, const sg_budget_cfg_t *b, int64_t now)
{
    size_t keep = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->t[i] > now - b->period_ms)
            t->t[keep++] = t->t[i];
    t->n = keep;
    return t->n;
}

int sg_eng_budget_take(s_times_t *t, int64_t now)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        int64_t *n = realloc(t->t, cap * sizeof *n);
        if (!n)
            return SG_ENOMEM;
        t->t = n;
        t->cap = cap;
    }
    t->t[t->n++] = now;
    return SG_OK;
}

/* ---- replication ------------------------------------------------------------------- */

/* The lag a failover now would lose, as far as the evidence tells: the
 * reported lag, plus the time the primary was still heard after the report
 * (its changes since then were not reported replicated). Saturates. */
static int64_t s_effective_lag(const sg_engine_t *e, int c)
{
    const s_repl_t *r = &e->repl[c];
    const s_site_t *s = &e->sites[e->cfg->collections[c].site];
    int64_t after = s->heard && !s->assumed && s->last_heard > r->at ? s->last_heard - r->at : 0;
    return sg_eng_sat_add(r->lag_ms, after);
}

bool sg_eng_repl_fresh(const sg_engine_t *e, int c, int64_t now)
{
    const s_repl_t *r = &e->repl[c];
    return r->known && now - r->at <= e->cfg->policy.replication_max_age_ms;
}

static bool s_repl_guard(sg_engine_t *e, int c, sg_guard_t g, sg_now_t now, char *buf,
                         size_t len)
{
    const sg_collection_cfg_t *cc = &e->cfg->collections[c];
    const s_repl_t *r = &e->repl[c];
    int64_t age = now.mono - r->at;
    bool fresh = sg_eng_repl_fresh(e, c, now.mono);
    switch (g) {
    case SG_GUARD_REPLICATION_CRITICAL:
        if (!r->known)
            s_say(buf, len, "no replication report");
        else
            s_say(buf, len, "replication health is %s (report %.0f s old)",
                     r->health == SG_REPL_HEALTH_CRITICAL ? "critical" : "not critical",
                     age / 1000.0);
        return r->known && r->health == SG_REPL_HEALTH_CRITICAL;
    case SG_GUARD_NO_REPLICATION_DATA:
        s_say(buf, len, "%s",
                 fresh                   ? "replication report is fresh"
                 : cc->rpo_limit_ms == 0 ? "no fresh replication report (no RPO limit set: data "
                                           "loss unknown)"
                                         : "RPO limit set but no replication report within "
                                           "replication_max_age");
        return cc->rpo_limit_ms > 0 && !fresh;
    default: /* SG_GUARD_RPO */
        if (cc->rpo_limit_ms == 0 || !fresh) {
            s_say(buf, len, "%s", cc->rpo_limit_ms == 0 ? "no RPO limit set" : "lag unknown");
            return false;
        }
        int64_t lag = s_effective_lag(e, c);
        s_say(buf, len, "replication lag %.0f s (reported %.0f s), RPO limit %.0f s",
                 lag / 1000.0, r->lag_ms / 1000.0, cc->rpo_limit_ms / 1000.0);
        return lag > cc->rpo_limit_ms;
    }
}

/* ---- the guards ----------------------------------------------------------------- */

static bool s_budget_guard(sg_engine_t *e, int c, sg_guard_t g, sg_now_t now, char *buf,
                           size_t len)
{
    const sg_collection_cfg_t *cc = &e->cfg->collections[c];
    const sg_policy_cfg_t *p = &e->cfg->policy;
    bool counted = e->sites[cc->site].budget_taken;
    if (g == SG_GUARD_BUDGET) {
        size_t used = sg_eng_budget_used(&e->budget, &p->budget, now.mono);
        s_say(buf, len, "%zu of %d site failovers used in the last %.0f s%s", used,
                 p->budget.max, p->budget.period_ms / 1000.0,
                 counted ? "; this loss is already counted" : "");
        return !counted && p->budget.max > 0 && used >= (size_t)p->budget.max;
    }
    size_t used = sg_eng_budget_used(&e->site_budget[cc->site], &p->site_budget, now.mono);
    s_say(buf, len, "%zu of %d failovers of site %s used in the last %.0f s%s", used,
             p->site_budget.max, sg_eng_site_name(e, cc->site),
             p->site_budget.period_ms / 1000.0, counted ? "; this loss is already counted" : "");
    return !counted && p->site_budget.max > 0 && used >= (size_t)p->site_budget.max;
}

bool sg_eng_guard_holds(sg_engine_t *e, int c, sg_guard_t g, sg_now_t now, char *buf, size_t len)
{
    const sg_collection_cfg_t *cc = &e->cfg->collections[c];
    const s_coll_t *cs = &e->colls[c];
    switch (g) {
    case SG_GUARD_PLAN_ORDER: return sg_eng_plan_holds(e, c, buf, len) != S_PLAN_GOES;
    case SG_GUARD_PAUSED: {
        const s_pause_t *pa = sg_eng_active_pause(e, cc->site, c, now.mono);
        if (pa)
            s_say(buf, len, "paused for %.0f s more: %s", (pa->until - now.mono) / 1000.0,
                     pa->reason ? pa->reason : "no reason given");
        else
            s_say(buf, len, "not paused");
        return pa != NULL;
    }
    case SG_GUARD_MAINTENANCE: {
        const sg_window_cfg_t *w = s_open_window(e, cc->site, now.wall);
        if (w)
            s_say(buf, len, "maintenance window open (config line %d): %s", w->mark.line,
                     w->reason ? w->reason : "no reason given");
        else
            s_say(buf, len, "no maintenance window open");
        return w != NULL;
    }
    case SG_GUARD_REPLICA_SITE: {
        sg_site_state_t st = e->sites[cc->replica_site].state;
        s_say(buf, len, "replica site %s is %s", sg_eng_site_name(e, cc->replica_site),
                 sg_site_state_name(st));
        return st != SG_SITE_HEALTHY;
    }
    case SG_GUARD_REPLICATION_CRITICAL:
    case SG_GUARD_NO_REPLICATION_DATA:
    case SG_GUARD_RPO: return s_repl_guard(e, c, g, now, buf, len);
    case SG_GUARD_COOLDOWN:
        if (cs->cooldown_until > now.mono)
            s_say(buf, len, "in cooldown for %.0f s more",
                     (cs->cooldown_until - now.mono) / 1000.0);
        else
            s_say(buf, len, "not in cooldown");
        return cs->cooldown_until > now.mono;
    case SG_GUARD_BUDGET:
    case SG_GUARD_SITE_BUDGET: return s_budget_guard(e, c, g, now, buf, len);
    default: return false;
    }
}

/* A collection's own guards first, then plan order (last: checked apart). */
const sg_guard_t sg_eng_guards[] = {
    SG_GUARD_PAUSED,       SG_GUARD_MAINTENANCE,
    SG_GUARD_REPLICA_SITE, SG_GUARD_REPLICATION_CRITICAL,
    SG_GUARD_NO_REPLICATION_DATA, SG_GUARD_RPO,
    SG_GUARD_COOLDOWN,     SG_GUARD_BUDGET,
    SG_GUARD_SITE_BUDGET,  SG_GUARD_PLAN_ORDER};
const size_t sg_eng_n_guards = sizeof sg_eng_guards / sizeof sg_eng_guards[0];

sg_guard_t sg_eng_first_guard(sg_engine_t *e, int c, sg_now_t now, char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < sg_eng_n_guards; i++)
        if (sg_eng_guard_holds(e, c, sg_eng_guards[i], now, buf, len))
            return sg_eng_guards[i];
    return SG_GUARD_NONE;
}
