/* control: ROUTER sockets, request dispatch, roles, the audit trail and the
 * requests that wait for a deferred answer. */
#include "control/control.h"
#include "base/err.h"
#include "base/log.h"
#include "base/redact.h"
#include "base/str.h"
#include "control/statusdoc.h"
#include "control/zap.h"
#include "journal/steps.h"
#include "platform/platform.h"
#include "provider/cimpath.h"
#include "provider/provider.h"

#include "proto/control.pb-c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#ifndef _WIN32
#include <grp.h>
#endif

#define S_MOD "control"
#define S_DEFAULT_IPC "ipc:///run/siteguard/control.sock"
#define S_DEFAULT_TCP "tcp://127.0.0.1:7710" /* Windows, with CURVE configured */
#define S_ZAP_DOMAIN "siteguard-control"
#define S_HISTORY_DEFAULT 50
#define S_DRILL_HISTORY_DEFAULT 20
#define S_DRILL_HISTORY_MAX 200
#define S_LEADER "single instance (leader: none)"
#define S_NO_DRILLS "drills are not configured in this version"
#define S_NO_LIFECYCLE "life-cycle steps (commit, revert, reverse, points) are not available here"
#define S_STATUS_STEPS 20 /* the newest steps status shows */
#define S_MAX_ROUTING_ID 255 /* libzmq's longest routing id */
#define S_MALFORMED_EVERY_MS 10000

typedef Siteguard__Control__V1__Request s_req_t;
typedef Siteguard__Control__V1__Response s_resp_t;
typedef Siteguard__Control__V1__StatusReply s_status_t;
typedef Siteguard__Control__V1__SiteInfo s_site_info_t;
typedef Siteguard__Control__V1__CollectionInfo s_coll_info_t;
typedef Siteguard__Control__V1__RunInfo s_run_info_t;
typedef Siteguard__Control__V1__AuditEntry s_audit_info_t;
typedef Siteguard__Control__V1__StepInfo s_step_info_t;
typedef Siteguard__Control__V1__PointInfo s_point_info_t;

#define S_OK ((int)SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK)
#define S_ERROR ((int)SITEGUARD__CONTROL__V1__RESPONSE__CODE__ERROR)
#define S_DENIED ((int)SITEGUARD__CONTROL__V1__RESPONSE__CODE__DENIED)
#define S_INVALID ((int)SITEGUARD__CONTROL__V1__RESPONSE__CODE__INVALID)
#define S_NOT_FOUND ((int)SITEGUARD__CONTROL__V1__RESPONSE__CODE__NOT_FOUND)
#define S_REFUSED ((int)SITEGUARD__CONTROL__V1__RESPONSE__CODE__REFUSED)
#define S_UNAVAILABLE ((int)SITEGUARD__CONTROL__V1__RESPONSE__CODE__UNAVAILABLE)

/* A request waiting for its deferred answer (points). */
typedef struct {
    bool used;
    int sock; /* index into sock[] */
    uint8_t id[S_MAX_ROUTING_ID];
    size_t id_len;
    uint64_t token;     /* the lifecycle listing's */
    int64_t since_mono; /* when it was asked */
    char *collection;   /* names, for the answer (the config may change meanwhile) */
    char *site;
} s_pending_t;

struct sg_control {
    sg_control_env_t env;
    void *sock[2]; /* [0] operator, [1] read-only; NULL when not bound */
    sg_control_role_t role[2];
    char *ipc_path[2]; /* socket files to remove on destroy */
    bool curve[2];     /* CURVE socket: the role is the client key's */
    bool zap_domain;   /* our domain is added to env.zap */
    uint64_t requests;
    s_pending_t pending[SG_CONTROL_MAX_PENDING];
    size_t n_pending;
    uint64_t next_token;
    sg_log_complaint_t malformed; /* messages not framed as a REQ client frames them */
};

/* Everything allocated for one response, freed after it is packed. */
typedef struct {
    void **p;
    size_t n, cap;
    bool oom;
} s_arena_t;

static void *s_keep(s_arena_t *a, void *p)
{
    if (!p) {
        a->oom = true;
        return NULL;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        void **grown = realloc(a->p, cap * sizeof *grown);
        if (!grown) {
            free(p);
            a->oom = true;
            return NULL;
        }
        a->p = grown;
        a->cap = cap;
    }
    a->p[a->n++] = p;
    return p;
}

static void *s_alloc(s_arena_t *a, size_t n, size_t size)
{
    return s_keep(a, calloc(n ? n : 1, size));
}

static char *s_printf(s_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *s_printf(s_arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = sg_vstrdupf(fmt, ap);
    va_end(ap);
    return s_keep(a, text);
}

static void s_arena_free(s_arena_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->p[i]);
    free(a->p);
}

/* The client key behind a request on a CURVE socket. */
typedef struct {
    const char *name; /* the key's name (the connection's User-Id) */
    bool unlisted;    /* no longer in the config in force */
} s_client_key_t;

/* Where a request came from, when it came through a socket. */
typedef struct {
    const s_client_key_t *key; /* CURVE socket: its client key; NULL: ipc */
    const char *peer;          /* ipc: the peer's user from its credentials;
                                  NULL: the connection carried none */
    int sock;                  /* the socket's index, for a deferred answer */
    const uint8_t *id;         /* the client's routing id */
    size_t id_len;
} s_origin_t;

/* One request being answered. */
typedef struct {
    sg_control_t *c;
    sg_control_role_t role;
    const s_req_t *req;
    s_resp_t *resp;
    s_arena_t *arena;
    sg_now_t now;
    const char *key_name; /* CURVE: the client key's name, "who"; NULL: ipc */
    bool unlisted;        /* CURVE: the key was removed from the config since it connected */
    const char *peer;     /* ipc: the peer's user ("alice (uid 1000)"), "who" */
    const s_origin_t *from; /* NULL: sg_control_handle, in process */
    bool deferred;        /* answered later (sg_control_answer_points): no response now */
} s_call_t;

static void s_answer(s_call_t *k, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_answer(s_call_t *k, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = sg_vstrdupf(fmt, ap);
    va_end(ap);
    char *safe = text ? sg_redact(text, NULL) : NULL; /* a message may quote what it was given */
    free(text);
    k->resp->code = (Siteguard__Control__V1__Response__Code)code;
    k->resp->message = s_keep(k->arena, safe);
    if (!k->resp->message)
        k->resp->message = (char *)"";
}

static const char *s_role_name(sg_control_role_t r)
{
    return r == SG_CONTROL_OPERATOR ? "operator" : "read-only";
}

static const char *s_code_name(int code)
{
    static const char *const names[] = {"ok", "error", "denied", "invalid",
                                        "not found", "refused", "unavailable"};
    return code >= 0 && code <= S_UNAVAILABLE ? names[code] : "?";
}

/* Who asks: a CURVE socket's client key name; on an ipc socket the peer's
 * user from the connection's credentials, never what the client claims
 * (the claim, marked unverified, only when the connection carried none);
 * in process (sg_control_handle) the request's own user. */
static const char *s_who(s_call_t *k)
{
    const char *claimed = k->req->user && *k->req->user ? k->req->user : NULL;
    if (k->key_name)
        return k->key_name;
    if (k->peer)
        return k->peer;
    if (!k->from)
        return claimed ? claimed : "unknown";
    char *marked = s_printf(k->arena, "%s (unverified)", claimed ? claimed : "unknown");
    return marked ? marked : "unknown (unverified)";
}

/* Appends the command and how it ended to the audit trail. */
static void s_audit(s_call_t *k, const char *command, const char *target)
{
    const char *who = s_who(k);
    char *result = sg_strdupf("%s: %s", s_code_name((int)k->resp->code), k->resp->message);
    sg_journal_audit_t a = {.time_ms = k->now.wall,
                            .who = (char *)who,
                            .role = (char *)s_role_name(k->role),
                            .command = (char *)command,
                            .target = (char *)(target ? target : ""),
                            .reason = k->req->reason,
                            .result = result ? result : k->resp->message};
    sg_log((int)k->resp->code == S_OK ? SG_LOG_INFO : SG_LOG_WARN, S_MOD, "%s %s by %s (%s): %s%s%s",
           command, target ? target : "", who, s_role_name(k->role), a.result,
           k->req->reason && *k->req->reason ? "; reason: " : "",
           k->req->reason ? k->req->reason : "");
    if (!k->c->env.journal || sg_journal_audit(k->c->env.journal, &a) != SG_OK)
        sg_error(S_MOD, "cannot write the audit entry for %s %s", command, target ? target : "");
    free(result);
}

/* Changes need the operator role; refused (and audited) otherwise. */
static bool s_may_change(s_call_t *k, const char *command, const char *target)
{
    if (k->role == SG_CONTROL_OPERATOR)
        return true;
    if (k->key_name)
        s_answer(k, S_DENIED, "%s needs the operator role; key '%s' has the read-only role",
                 command, k->key_name);
    else
        s_answer(k, S_DENIED, "%s needs the operator role; this is the read-only socket",
                 command);
    s_audit(k, command, target);
    return false;
}

/* Commands that act (failover, approve, deny, drill run, commit, revert,
 * reverse) belong to the leader: a standby refuses them and names the
 * holder, so that an operator does not take a decision that would wait,
 * unseen, until this instance leads. Pauses are kept by every instance and stay allowed. */
static bool s_may_act(s_call_t *k, const char *command, const char *target)
{
    const sg_leader_t *l = k->c->env.leader;
    if (!l || sg_leader_is_leader(l))
        return true;
    const char *holder = sg_leader_holder(l);
    s_answer(k, S_REFUSED, "%s: this instance (%s) is a standby; send it to the leader%s%s",
             command, sg_leader_name(l), holder && *holder ? ", " : "",
             holder && *holder ? holder : "");
    s_audit(k, command, target);
    return false;
}

static bool s_has_reason(const s_call_t *k)
{
    return k->req->reason && k->req->reason[0];
}

/* ---- status ------------------------------------------------------------------ */

/* The pause in force for collection c, as "N s: reason", or "" (the
 * status page's words too: statusdoc.h). */
static char *s_pause_text(s_call_t *k, int c)
{
    char *text = s_keep(k->arena, sg_statusdoc_pause_text(k->c->env.engine, k->c->env.cfg, c,
                                                          k->now.mono));
    return text ? text : (char *)"";
}

static void s_status_sites(s_call_t *k, s_status_t *st)
{
    const sg_config_t *cfg = k->c->env.cfg;
    st->sites = s_alloc(k->arena, cfg->n_sites, sizeof *st->sites);
    for (size_t i = 0; st->sites && i < cfg->n_sites; i++) {
        s_site_info_t *si = s_alloc(k->arena, 1, sizeof *si);
        if (!si)
            return;
        siteguard__control__v1__site_info__init(si);
        si->name = cfg->sites[i].name;
        si->state = (char *)sg_site_state_name(sg_engine_site_state(k->c->env.engine, (int)i));
        si->witness = cfg->sites[i].witness;
        st->sites[st->n_sites++] = si;
    }
}

static void s_status_observers(s_call_t *k, s_status_t *st)
{
    const sg_config_t *cfg = k->c->env.cfg;
    st->observers = s_alloc(k->arena, cfg->n_observers, sizeof *st->observers);
    for (size_t i = 0; st->observers && i < cfg->n_observers; i++) {
        Siteguard__Control__V1__ObserverInfo *oi = s_alloc(k->arena, 1, sizeof *oi);
        if (!oi)
            return;
        siteguard__control__v1__observer_info__init(oi);
        oi->id = cfg->observers[i].id;
        oi->site = cfg->sites[cfg->observers[i].site].name;
        int64_t skew = 0;
        oi->heard = sg_engine_observer_skew(k->c->env.engine, (int)i, &skew);
        oi->clock_offset_ms = skew;
        st->observers[st->n_observers++] = oi;
    }
}

static void s_status_collections(s_call_t *k, s_status_t *st)
{
    const sg_config_t *cfg = k->c->env.cfg;
    st->collections = s_alloc(k->arena, cfg->n_collections, sizeof *st->collections);
    for (size_t i = 0; st->collections && i < cfg->n_collections; i++) {
        const sg_collection_cfg_t *cc = &cfg->collections[i];
        s_coll_info_t *ci = s_alloc(k->arena, 1, sizeof *ci);
        if (!ci)
            return;
        siteguard__control__v1__collection_info__init(ci);
        ci->name = cc->name;
        ci->site = cfg->sites[cc->site].name;
        ci->replica_site = cfg->sites[cc->replica_site].name;
        ci->verdict =
            (char *)sg_coll_verdict_name(sg_engine_collection_verdict(k->c->env.engine, (int)i));
        ci->group = cc->group;
        ci->paused = s_pause_text(k, (int)i);
        st->collections[st->n_collections++] = ci;
    }
}

/* The recovery point of a run: its own, else "<the collection's> (configured)"
 * (statusdoc.h). */
static char *s_run_point(s_call_t *k, const sg_journal_run_t *r)
{
    const sg_config_t *cfg = k->c->env.cfg;
    char *text = s_keep(k->arena, sg_statusdoc_run_point(
                                      cfg, sg_config_find_collection(cfg, r->collection), r->point));
    return text ? text : (char *)"";
}

static int s_status_runs(s_call_t *k, s_status_t *st)
{
    sg_journal_run_t *runs = NULL;
    size_t n = 0;
    if (!k->c->env.journal)
        return SG_OK;
    int rc = sg_journal_runs(k->c->env.journal, &runs, &n);
    if (rc != SG_OK)
        return rc;
    st->runs = s_alloc(k->arena, n, sizeof *st->runs);
    for (size_t i = 0; st->runs && i < n; i++) {
        s_run_info_t *ri = s_alloc(k->arena, 1, sizeof *ri);
        if (!ri)
            break;
        siteguard__control__v1__run_info__init(ri);
        ri->run_id = runs[i].run_id;
        ri->collection = s_printf(k->arena, "%s", runs[i].collection);
        ri->decided_ms = runs[i].decided_ms;
        ri->ended_ms = runs[i].ended_ms;
        ri->failed_over = runs[i].failed_over;
        ri->job_path = s_printf(k->arena, "%s", runs[i].job_path ? runs[i].job_path : "");
        ri->recovery_point = s_run_point(k, &runs[i]);
        st->runs[st->n_runs++] = ri;
    }
    sg_journal_runs_free(runs, n);
    return SG_OK;
}

/* The newest life-cycle steps (one query of the journal's steps table), and
 * each collection's newest among them. None without life-cycle steps (the
 * table is theirs). */
static int s_status_steps(s_call_t *k, s_status_t *st)
{
    sg_step_rec_t *recs = NULL;
    size_t n = 0;
    if (!k->c->env.lifecycle || !k->c->env.journal)
        return SG_OK;
    int rc = sg_steps_list(k->c->env.journal, S_STATUS_STEPS, &recs, &n);
    if (rc != SG_OK)
        return rc;
    st->steps = s_alloc(k->arena, n, sizeof *st->steps);
    for (size_t i = 0; st->steps && i < n; i++) {
        const sg_step_rec_t *r = &recs[i];
        s_step_info_t *si = s_alloc(k->arena, 1, sizeof *si);
        if (!si)
            break;
        siteguard__control__v1__step_info__init(si);
        si->step_id = r->id;
        si->collection = s_printf(k->arena, "%s", r->collection ? r->collection : "");
        si->action = s_printf(k->arena, "%s", r->action ? r->action : "");
        si->who = s_printf(k->arena, "%s", r->who ? r->who : "");
        si->intent_ms = r->intent_ms;
        si->ended_ms = r->ended_ms;
        si->ok = r->ok;
        si->detail = s_printf(k->arena, "%s", r->detail ? r->detail : "");
        si->job_path = s_printf(k->arena, "%s", r->job_path ? r->job_path : "");
        st->steps[st->n_steps++] = si;
    }
    for (size_t c = 0; c < st->n_collections; c++) {
        s_coll_info_t *ci = st->collections[c];
        for (size_t i = n; i-- > 0;) {
            if (recs[i].collection && strcmp(recs[i].collection, ci->name) == 0) {
                char *text = s_keep(k->arena, sg_statusdoc_step_words(k->c->env.cfg,
                                                                      k->c->env.lifecycle,
                                                                      &recs[i]));
                ci->last_step = text ? text : ci->last_step;
                break;
            }
        }
    }
    sg_steps_free(recs, n);
    return SG_OK;
}

static void s_status(s_call_t *k)
{
    static const char *const modes[] = {"auto", "approve", "shadow"};
    const sg_config_t *cfg = k->c->env.cfg;
    s_status_t *st = s_alloc(k->arena, 1, sizeof *st);
    if (!st)
        return;
    siteguard__control__v1__status_reply__init(st);
    s_status_sites(k, st);
    s_status_observers(k, st);
    s_status_collections(k, st);
    int rc = s_status_runs(k, st);
    int steps_rc = s_status_steps(k, st);
    const sg_leader_t *leader = k->c->env.leader;
    char *who = leader ? s_keep(k->arena, sg_leader_describe(leader)) : NULL;
    st->leader = who ? who : (char *)S_LEADER;
    st->mode = (char *)modes[cfg->policy.mode];
    st->config = cfg->path ? cfg->path : (char *)"";
    if (k->c->env.loop) {
        st->loop_turns = k->c->env.loop->turns;
        st->loop_longest_us = k->c->env.loop->longest_us;
    }
    k->resp->status = st;
    if (rc != SG_OK)
        s_answer(k, S_ERROR, "cannot read the runs from the journal: %s", sg_err_str(rc));
    else if (steps_rc != SG_OK)
        s_answer(k, S_ERROR, "cannot read the life-cycle steps from the journal: %s",
                 sg_err_str(steps_rc));
    else
        s_answer(k, S_OK, "%zu site(s), %zu collection(s), %zu run(s); %s", st->n_sites,
                 st->n_collections, st->n_runs, st->leader);
}

/* ---- explain, approve, deny ---------------------------------------------------- */

static void s_explain(s_call_t *k, const char *target)
{
    const sg_config_t *cfg = k->c->env.cfg;
    int c = sg_config_find_collection(cfg, target);
    int s = c < 0 ? sg_config_find_site(cfg, target) : -1;
    if (c < 0 && s < 0) {
        s_answer(k, S_NOT_FOUND, "no site or collection named '%s'", target);
        return;
    }
    char *text = c >= 0 ? sg_engine_explain_collection(k->c->env.engine, c, k->now)
                        : sg_engine_explain_site(k->c->env.engine, s, k->now);
    k->resp->text = s_keep(k->arena, text);
    if (k->resp->text)
        s_answer(k, S_OK, "%s %s", c >= 0 ? "collection" : "site", target);
}

/* What a command changed is made durable before it is answered. */
static int s_persist(s_call_t *k)
{
    return k->c->env.persist ? k->c->env.persist(k->c->env.user) : SG_OK;
}

/* The answer to a change in force that could not be made durable. */
static void s_not_durable(s_call_t *k, const char *command, const char *target, int rc)
{
    s_answer(k, S_ERROR, "%s %s: in force, but it could not be made durable (%s): it would not "
                         "survive a restart",
             command, target, sg_err_str(rc));
}

static void s_decide(s_call_t *k, const char *command, const char *target, bool approve)
{
    if (!s_may_change(k, command, target) || !s_may_act(k, command, target))
        return;
    int c = sg_config_find_collection(k->c->env.cfg, target);
    if (c < 0) {
        s_answer(k, S_NOT_FOUND, "no collection named '%s'", target);
    } else {
        int rc = approve ? sg_engine_approve(k->c->env.engine, c, k->now)
                         : sg_engine_deny(k->c->env.engine, c, k->now);
        int durable = rc == SG_OK ? s_persist(k) : SG_OK;
        if (durable != SG_OK)
            s_not_durable(k, command, target, durable);
        else if (rc == SG_OK)
            s_answer(k, S_OK, "%s: failover of %s %s", command, target,
                     approve ? "approved; decided at the next tick if the guards still pass"
                             : "denied; held until its site recovers");
        else if (rc == SG_ESTATE)
            s_answer(k, S_REFUSED, "%s is not awaiting approval (it is %s)", target,
                     sg_coll_verdict_name(sg_engine_collection_verdict(k->c->env.engine, c)));
        else
            s_answer(k, S_ERROR, "%s %s: %s", command, target, sg_err_str(rc));
    }
    s_audit(k, command, target);
}

/* ---- pause, resume ----------------------------------------------------------------- */

/* "all", a collection or a site: the engine's scope. False when unknown. */
static bool s_scope(const sg_config_t *cfg, const char *target, int *site, int *coll)
{
    *site = *coll = -1;
    if (strcmp(target, "all") == 0)
        return true;
    *coll = sg_config_find_collection(cfg, target);
    if (*coll >= 0)
        return true;
    *site = sg_config_find_site(cfg, target);
    return *site >= 0;
}

static void s_pause(s_call_t *k, const Siteguard__Control__V1__Pause *p)
{
    const char *target = p->target;
    int site, coll;
    if (!s_may_change(k, "pause", target))
        return;
    if (!s_scope(k->c->env.cfg, target, &site, &coll))
        s_answer(k, S_NOT_FOUND, "no site or collection named '%s' (or 'all')", target);
    else if (p->duration_ms == 0 || p->duration_ms > (uint64_t)INT64_MAX / 2)
        s_answer(k, S_INVALID, "pause needs a duration (--for)");
    else if (!s_has_reason(k))
        s_answer(k, S_INVALID, "pause needs a reason (--reason)");
    else {
        int64_t until = k->now.mono + (int64_t)p->duration_ms;
        int rc = sg_engine_pause(k->c->env.engine, site, coll, until, k->req->reason);
        int durable = rc == SG_OK ? s_persist(k) : SG_OK;
        if (durable != SG_OK)
            s_not_durable(k, "pause", target, durable);
        else if (rc == SG_OK)
            s_answer(k, S_OK, "%s paused for %.0f s: no failover is decided for it until then",
                     target, p->duration_ms / 1000.0);
        else
            s_answer(k, S_ERROR, "pause %s: %s", target, sg_err_str(rc));
    }
    s_audit(k, "pause", target);
}

static bool s_has_pause(s_call_t *k, int site, int coll)
{
    int s, c;
    int64_t until;
    const char *reason;
    for (size_t i = 0; sg_engine_pause_at(k->c->env.engine, i, k->now.mono, &s, &c, &until, &reason);
         i++)
        if (s == site && c == coll)
            return true;
    return false;
}

static void s_resume(s_call_t *k, const char *target)
{
    int site, coll;
    if (!s_may_change(k, "resume", target))
        return;
    if (!s_scope(k->c->env.cfg, target, &site, &coll))
        s_answer(k, S_NOT_FOUND, "no site or collection named '%s' (or 'all')", target);
    else if (!s_has_pause(k, site, coll))
        s_answer(k, S_NOT_FOUND, "no pause of %s is in force", target);
    else {
        sg_engine_resume(k->c->env.engine, site, coll);
        int durable = s_persist(k);
        if (durable != SG_OK)
            s_not_durable(k, "resume", target, durable);
        else
            s_answer(k, S_OK, "%s resumed", target);
    }
    s_audit(k, "resume", target);
}

/* ---- manual failover -------------------------------------------------------------- */

/* The run's own recovery point for the one asked for, in the executor's
 * words (executor.h, SG_POINT_*): NULL when none was asked for (the
 * collection's configured point), "latest", "app" (also for
 * latest_app_consistent), else the text as given: a named point, which the
 * executor looks up among the collection's points before any call (the
 * provider is not asked here: the loop never waits on it). False for text
 * that cannot name a point (blank, or with control characters). */
static bool s_point_override(const char *point, const char **out)
{
    *out = NULL;
    if (!point || !*point)
        return true;
    if (strcmp(point, "latest") == 0 || strcmp(point, "app") == 0) {
        *out = point;
        return true;
    }
    if (strcmp(point, "latest_app_consistent") == 0) {
        *out = "app";
        return true;
    }
    bool blank = true;
    for (const unsigned char *p = (const unsigned char *)point; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        blank = blank && *p == ' ';
    }
    *out = point;
    return !blank;
}

/* " with recovery point X (what it means)", or "" for the configured one. */
static const char *s_point_text(s_call_t *k, const char *point)
{
    if (!point)
        return "";
    const char *text = s_printf(k->arena, " with recovery point %s (%s)", point,
                    strcmp(point, "latest") == 0 ? "the latest point in time"
                    : strcmp(point, "app") == 0
                        ? "the newest application-consistent point at call time"
                        : "looked up among the collection's points before the call; if it is "
                          "not there, the run fails without a call and lists them");
    return text ? text : "";
}

static void s_failover(s_call_t *k, const Siteguard__Control__V1__Failover *f)
{
    const char *target = f->collection;
    const char *command = f->force ? "failover --force" : "failover";
    if (!s_may_change(k, command, target) || !s_may_act(k, command, target))
        return;
    int c = sg_config_find_collection(k->c->env.cfg, target);
    const char *point = NULL;
    if (c < 0) {
        s_answer(k, S_NOT_FOUND, "no collection named '%s'", target);
    } else if (f->force && !s_has_reason(k)) {
        s_answer(k, S_INVALID, "--force needs a reason (--reason)");
    } else if (!s_point_override(f->point, &point)) {
        s_answer(k, S_INVALID, "recovery point '%s' is not latest, app, or a recovery point's "
                               "object path or InstanceID", f->point);
    } else {
        char *why = NULL;
        int rc = sg_engine_manual_failover(k->c->env.engine, c, f->force, k->req->reason, point,
                                           k->now, &why);
        int durable = rc == SG_OK ? s_persist(k) : SG_OK; /* the decision journaled */
        if (durable != SG_OK)
            s_not_durable(k, command, target, durable);
        else if (rc == SG_OK)
            s_answer(k, S_OK, "failover of %s to %s decided%s%s", target,
                     k->c->env.cfg->sites[k->c->env.cfg->collections[c].replica_site].name,
                     f->force ? " (forced past the guards)" : "", s_point_text(k, point));
        else
            s_answer(k, rc == SG_ESTATE ? S_REFUSED : rc == SG_EINVAL ? S_INVALID : S_ERROR,
                     "%s", why ? why : sg_err_str(rc));
        free(why);
    }
    s_audit(k, command, target);
}

/* ---- drills, reload, history ------------------------------------------------------------ */

static void s_drill_run(s_call_t *k, const char *plan)
{
    if (!s_may_change(k, "drill run", plan) || !s_may_act(k, "drill run", plan))
        return;
    sg_drill_t *d = k->c->env.drill;
    char *why = NULL;
    int rc = d ? sg_drill_start(d, plan, k->now, s_who(k), &why) : SG_ESTATE;
    if (!d)
        s_answer(k, S_UNAVAILABLE, "%s", S_NO_DRILLS);
    else if (rc == SG_OK)
        s_answer(k, S_OK, "drill %s started; its report goes to the sinks and to "
                          "'siteguardctl drill report'", plan);
    else
        s_answer(k, rc == SG_ENOTFOUND ? S_NOT_FOUND : S_REFUSED, "drill %s not started: %s",
                 plan, why ? why : sg_err_str(rc));
    free(why);
    s_audit(k, "drill run", plan);
}

static void s_drill_report(s_call_t *k, const char *id)
{
    sg_drill_t *d = k->c->env.drill;
    if (!d) {
        s_answer(k, S_UNAVAILABLE, "%s", S_NO_DRILLS);
        return;
    }
    char *json = sg_drill_report_json(d, id && *id ? id : NULL);
    if (!json) {
        s_answer(k, S_NOT_FOUND, "no drill report%s%s", id && *id ? " " : " yet",
                 id && *id ? id : "");
        return;
    }
    k->resp->text = s_keep(k->arena, json);
    if (k->resp->text)
        s_answer(k, S_OK, "drill report");
}

static void s_drill_history(s_call_t *k, const Siteguard__Control__V1__DrillHistory *h)
{
    sg_drill_t *d = k->c->env.drill;
    if (!d) {
        s_answer(k, S_UNAVAILABLE, "%s", S_NO_DRILLS);
        return;
    }
    uint32_t limit = h->limit ? h->limit : S_DRILL_HISTORY_DEFAULT;
    limit = limit < S_DRILL_HISTORY_MAX ? limit : S_DRILL_HISTORY_MAX;
    const char *name = h->drill && *h->drill ? h->drill : NULL;
    char *json = NULL;
    int rc = sg_drill_history_json(d, name, limit, &json);
    if (rc != SG_OK) {
        s_answer(k, S_ERROR, "cannot read the drill history: %s", sg_err_str(rc));
        return;
    }
    /* a drill no longer configured still has its reports; a name neither
     * configured nor in the journal is a mistake */
    if (name && strcmp(json, "[]") == 0 && sg_config_find_drill(k->c->env.cfg, name) < 0) {
        free(json);
        s_answer(k, S_NOT_FOUND, "no drill named '%s'", name);
        return;
    }
    k->resp->text = s_keep(k->arena, json);
    if (k->resp->text)
        s_answer(k, S_OK, "drill history");
}

static void s_reload(s_call_t *k)
{
    if (!s_may_change(k, "reload", k->c->env.cfg->path))
        return;
    if (!k->c->env.reload) {
        s_answer(k, S_UNAVAILABLE, "reload is not available here");
        s_audit(k, "reload", k->c->env.cfg->path);
        return;
    }
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    const char *path = k->c->env.cfg->path ? k->c->env.cfg->path : "";
    char *path_copy = s_printf(k->arena, "%s", path); /* the config may change under us */
    int rc = k->c->env.reload(k->c->env.user, &errs);
    k->resp->errors = s_alloc(k->arena, errs.n, sizeof *k->resp->errors);
    for (size_t i = 0; k->resp->errors && i < errs.n; i++)
        k->resp->errors[k->resp->n_errors++] = s_printf(k->arena, "%s", errs.items[i]);
    if (rc == SG_OK)
        s_answer(k, S_OK, "%s reloaded", path_copy ? path_copy : path);
    else
        s_answer(k, S_REFUSED, "%s not reloaded (%zu problem(s)); the config in force is "
                               "unchanged%s%s", path_copy ? path_copy : path, errs.n,
                 errs.n ? ": " : "", errs.n ? errs.items[0] : "");
    sg_config_errors_fini(&errs);
    s_audit(k, "reload", path_copy);
}

static void s_history(s_call_t *k, uint32_t limit)
{
    sg_journal_audit_t *list = NULL;
    size_t n = 0;
    int rc = k->c->env.journal ? sg_journal_audit_list(k->c->env.journal,
                                                       limit ? limit : S_HISTORY_DEFAULT, &list, &n)
                               : SG_ENOTFOUND;
    if (rc != SG_OK) {
        s_answer(k, S_ERROR, "cannot read the audit trail: %s", sg_err_str(rc));
        return;
    }
    k->resp->history = s_alloc(k->arena, n, sizeof *k->resp->history);
    for (size_t i = 0; k->resp->history && i < n; i++) {
        s_audit_info_t *e = s_alloc(k->arena, 1, sizeof *e);
        if (!e)
            break;
        siteguard__control__v1__audit_entry__init(e);
        e->seq = list[i].seq;
        e->time_ms = list[i].time_ms;
        e->who = s_printf(k->arena, "%s", list[i].who ? list[i].who : "");
        e->role = s_printf(k->arena, "%s", list[i].role ? list[i].role : "");
        e->command = s_printf(k->arena, "%s", list[i].command ? list[i].command : "");
        e->target = s_printf(k->arena, "%s", list[i].target ? list[i].target : "");
        e->reason = s_printf(k->arena, "%s", list[i].reason ? list[i].reason : "");
        e->result = s_printf(k->arena, "%s", list[i].result ? list[i].result : "");
        k->resp->history[k->resp->n_history++] = e;
    }
    sg_journal_audit_free(list, n);
    s_answer(k, S_OK, "%zu entr%s", k->resp->n_history, k->resp->n_history == 1 ? "y" : "ies");
}

/* ---- life-cycle steps, recovery points ------------------------------------------------ */

static void s_step(s_call_t *k, sg_step_kind_t kind, const char *target)
{
    const char *command = sg_step_kind_name(kind);
    if (!s_may_change(k, command, target) || !s_may_act(k, command, target))
        return;
    const sg_config_t *cfg = k->c->env.cfg;
    sg_lifecycle_t *lc = k->c->env.lifecycle;
    int c = sg_config_find_collection(cfg, target);
    if (!lc) {
        s_answer(k, S_UNAVAILABLE, "%s", S_NO_LIFECYCLE);
    } else if (c < 0) {
        s_answer(k, S_NOT_FOUND, "no collection named '%s'", target);
    } else {
        uint64_t step = 0;
        char *why = NULL;
        int rc = sg_lifecycle_request(lc, c, kind, s_who(k), &step, &why);
        if (rc == SG_OK) {
            k->resp->step_id = step;
            s_answer(k, S_OK, "%s of %s started (step %llu): %s on %s; its end goes to the sinks "
                              "and to 'siteguardctl status'", command, target,
                     (unsigned long long)step, sg_method_name(sg_step_method(kind)),
                     cfg->sites[cfg->collections[c].replica_site].name);
        } else if (why) {
            s_answer(k, rc == SG_ESTATE ? S_REFUSED : S_ERROR, "%s", why);
        } else {
            s_answer(k, rc == SG_ESTATE ? S_REFUSED : rc == SG_EINVAL ? S_INVALID : S_ERROR,
                     "%s of %s: %s", command, target, sg_err_str(rc));
        }
        free(why);
    }
    s_audit(k, command, target);
}

static int s_reply_pending(sg_control_t *c, s_pending_t *p, s_resp_t *out, s_arena_t *arena);

static void s_pending_forget(sg_control_t *c, s_pending_t *p)
{
    free(p->collection);
    free(p->site);
    memset(p, 0, sizeof *p);
    c->n_pending--;
}

/* Answers ERROR and forgets the requests waiting longer than
 * SG_CONTROL_PENDING_TTL_MS. */
static void s_pending_expire(sg_control_t *c, int64_t now_mono)
{
    for (size_t i = 0; i < SG_CONTROL_MAX_PENDING; i++) {
        s_pending_t *p = &c->pending[i];
        if (!p->used || now_mono - p->since_mono < SG_CONTROL_PENDING_TTL_MS)
            continue;
        s_arena_t arena = {0};
        s_resp_t out = SITEGUARD__CONTROL__V1__RESPONSE__INIT;
        s_call_t k = {.c = c, .resp = &out, .arena = &arena};
        s_answer(&k, S_ERROR, "no answer from site %s with the recovery points of %s within %d s",
                 p->site, p->collection, SG_CONTROL_PENDING_TTL_MS / 1000);
        sg_warn(S_MOD, "%s", out.message);
        s_reply_pending(c, p, &out, &arena);
    }
}

/* A free slot for a request that waits, or NULL when all are taken (after
 * the expired ones are freed). */
static s_pending_t *s_pending_take(sg_control_t *c, int64_t now_mono)
{
    if (c->n_pending == SG_CONTROL_MAX_PENDING)
        s_pending_expire(c, now_mono);
    for (size_t i = 0; i < SG_CONTROL_MAX_PENDING; i++)
        if (!c->pending[i].used)
            return &c->pending[i];
    return NULL;
}

/* points: the listing runs on a lifecycle thread; the request waits for
 * it (sg_control_answer_points). */
static void s_points(s_call_t *k, const char *target)
{
    const sg_config_t *cfg = k->c->env.cfg;
    sg_lifecycle_t *lc = k->c->env.lifecycle;
    int c = sg_config_find_collection(cfg, target);
    s_pending_t *p = NULL;
    if (!lc) {
        s_answer(k, S_UNAVAILABLE, "%s", S_NO_LIFECYCLE);
    } else if (c < 0) {
        s_answer(k, S_NOT_FOUND, "no collection named '%s'", target);
    } else if (!k->from || k->from->id_len > S_MAX_ROUTING_ID) {
        s_answer(k, S_UNAVAILABLE, "points is answered through a control socket only (the "
                                   "answer comes when the provider has listed them)");
    } else if (!(p = s_pending_take(k->c, k->now.mono))) {
        s_answer(k, S_UNAVAILABLE, "busy: %d listings of recovery points are waiting for the "
                                   "provider; try again shortly", SG_CONTROL_MAX_PENDING);
    } else {
        const char *site = cfg->sites[cfg->collections[c].replica_site].name;
        uint64_t token = ++k->c->next_token;
        *p = (s_pending_t){.sock = k->from->sock, .id_len = k->from->id_len, .token = token,
                           .since_mono = k->now.mono, .collection = strdup(target),
                           .site = strdup(site)};
        memcpy(p->id, k->from->id, k->from->id_len);
        int rc = p->collection && p->site ? sg_lifecycle_list_points(lc, c, token) : SG_ENOMEM;
        if (rc != SG_OK) {
            free(p->collection);
            free(p->site);
            memset(p, 0, sizeof *p);
            s_answer(k, S_ERROR, "cannot list the recovery points of %s: %s", target,
                     sg_err_str(rc));
            return;
        }
        p->used = true;
        k->c->n_pending++;
        k->deferred = true;
    }
}

static int s_point_newest_first(const void *a, const void *b)
{
    const sg_recovery_point_t *x = *(const sg_recovery_point_t *const *)a;
    const sg_recovery_point_t *y = *(const sg_recovery_point_t *const *)b;
    if (x->created_ms != y->created_ms)
        return x->created_ms > y->created_ms ? -1 : 1;
    return strcmp(x->path ? x->path : "", y->path ? y->path : "");
}

/* A point's id: the InstanceID of its path, else the path itself (either
 * is what failover --point takes). */
static char *s_point_id(s_call_t *k, const char *path)
{
    sg_cimpath_t cp;
    char *id = NULL;
    if (sg_cimpath_parse(path, &cp) == SG_OK) {
        const char *inst = sg_cimpath_key(&cp, "InstanceID");
        if (inst)
            id = s_printf(k->arena, "%s", inst);
        sg_cimpath_fini(&cp);
    }
    return id ? id : s_printf(k->arena, "%s", path);
}

/* The points of a listing into k->resp, newest first. */
static void s_points_reply(s_call_t *k, const sg_recovery_point_t *points, size_t n)
{
    const sg_recovery_point_t **order = s_alloc(k->arena, n, sizeof *order);
    k->resp->points = s_alloc(k->arena, n, sizeof *k->resp->points);
    if (!order || !k->resp->points)
        return;
    for (size_t i = 0; i < n; i++)
        order[i] = &points[i];
    qsort(order, n, sizeof *order, s_point_newest_first);
    for (size_t i = 0; i < n; i++) {
        const sg_recovery_point_t *rp = order[i];
        const char *path = rp->path ? rp->path : "";
        s_point_info_t *pi = s_alloc(k->arena, 1, sizeof *pi);
        if (!pi)
            return;
        siteguard__control__v1__point_info__init(pi);
        char created[32];
        time_t secs = (time_t)(rp->created_ms / 1000);
        struct tm tm;
        if (!gmtime_r(&secs, &tm) || !strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm))
            created[0] = '\0';
        pi->id = s_point_id(k, path);
        pi->created = s_printf(k->arena, "%s", created);
        pi->created_ms = rp->created_ms;
        pi->consistency =
            (char *)(rp->app_consistent ? "application-consistent" : "crash-consistent");
        pi->path = s_printf(k->arena, "%s", path);
        if (!pi->id || !pi->created || !pi->path)
            return;
        k->resp->points[k->resp->n_points++] = pi;
    }
}

int sg_control_answer_points(sg_control_t *c, const sg_step_result_t *r)
{
    s_pending_t *p = NULL;
    for (size_t i = 0; !p && i < SG_CONTROL_MAX_PENDING; i++)
        if (c->pending[i].used && c->pending[i].token == r->token)
            p = &c->pending[i];
    if (!p || r->step_id != 0)
        return SG_ENOTFOUND;
    s_arena_t arena = {0};
    s_resp_t out = SITEGUARD__CONTROL__V1__RESPONSE__INIT;
    s_call_t k = {.c = c, .resp = &out, .arena = &arena};
    if (r->points_rc != SG_OK) {
        s_answer(&k, S_ERROR, "cannot list the recovery points of %s on site %s: %s",
                 p->collection, p->site, sg_provider_err_text(r->points_rc));
    } else {
        s_points_reply(&k, r->points, r->n_points);
        s_answer(&k, S_OK, "%zu recovery point%s of %s on site %s%s", out.n_points,
                 out.n_points == 1 ? "" : "s", p->collection, p->site,
                 out.n_points > 1 ? ", newest first" : "");
    }
    return s_reply_pending(c, p, &out, &arena);
}

size_t sg_control_pending(const sg_control_t *c) { return c->n_pending; }

static void s_dispatch(s_call_t *k)
{
    const s_req_t *r = k->req;
    if (k->unlisted) {
        s_answer(k, S_DENIED, "key '%s' is no longer listed in control.operators or "
                              "control.readers", k->key_name);
        return;
    }
    switch (r->command_case) {
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_STATUS: s_status(k); break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_EXPLAIN: s_explain(k, r->explain->target); break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_APPROVE:
        s_decide(k, "approve", r->approve->collection, true);
        break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DENY:
        s_decide(k, "deny", r->deny->collection, false);
        break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_PAUSE: s_pause(k, r->pause); break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_RESUME: s_resume(k, r->resume->target); break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_FAILOVER: s_failover(k, r->failover); break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DRILL_RUN: s_drill_run(k, r->drill_run->plan); break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DRILL_REPORT:
        s_drill_report(k, r->drill_report->id);
        break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DRILL_HISTORY:
        s_drill_history(k, r->drill_history);
        break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_RELOAD: s_reload(k); break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_HISTORY: s_history(k, r->history->limit); break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_COMMIT:
        s_step(k, SG_STEP_COMMIT, r->commit->collection);
        break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_REVERT:
        s_step(k, SG_STEP_REVERT, r->revert->collection);
        break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_REVERSE:
        s_step(k, SG_STEP_REVERSE, r->reverse->collection);
        break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_POINTS: s_points(k, r->points->collection); break;
    default: s_answer(k, S_INVALID, "no command in the request"); break;
    }
}

/* Packs `out` (or, when the arena ran out of memory, an ERROR) into *resp
 * (caller frees). 0 or SG_ENOMEM. */
static int s_pack(s_resp_t *out, const s_arena_t *arena, uint8_t **resp, size_t *resp_len)
{
    if (arena->oom) {
        *out = (s_resp_t)SITEGUARD__CONTROL__V1__RESPONSE__INIT;
        out->code = SITEGUARD__CONTROL__V1__RESPONSE__CODE__ERROR;
        out->message = (char *)"out of memory";
    }
    *resp_len = siteguard__control__v1__response__get_packed_size(out);
    *resp = malloc(*resp_len ? *resp_len : 1);
    if (!*resp)
        return SG_ENOMEM;
    siteguard__control__v1__response__pack(out, *resp);
    return SG_OK;
}

/* Handles one request; `from` NULL: in process. *deferred: no response now
 * (*resp NULL), a request waits for its answer. */
static int s_handle(sg_control_t *c, sg_control_role_t role, const s_origin_t *from,
                    const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
                    bool *deferred)
{
    s_arena_t arena = {0};
    s_resp_t out = SITEGUARD__CONTROL__V1__RESPONSE__INIT;
    s_req_t *r = siteguard__control__v1__request__unpack(NULL, len, req);
    const s_client_key_t *key = from ? from->key : NULL;
    s_call_t k = {.c = c, .role = role, .req = r, .resp = &out, .arena = &arena,
                  .now = {sg_clock_mono(c->env.clock), sg_clock_wall(c->env.clock)},
                  .key_name = key ? key->name : NULL, .unlisted = key && key->unlisted,
                  .peer = from ? from->peer : NULL, .from = from};
    c->requests++;
    if (!r)
        s_answer(&k, S_INVALID, "malformed request");
    else if (r->version != 1)
        s_answer(&k, S_INVALID, "protocol version %u is not spoken here (1 is)", r->version);
    else
        s_dispatch(&k);
    *deferred = k.deferred;
    *resp = NULL;
    *resp_len = 0;
    int rc = k.deferred ? SG_OK : s_pack(&out, &arena, resp, resp_len);
    if (r)
        siteguard__control__v1__request__free_unpacked(r, NULL);
    s_arena_free(&arena);
    return rc;
}

int sg_control_handle(sg_control_t *c, sg_control_role_t role, const uint8_t *req, size_t len,
                      uint8_t **resp, size_t *resp_len)
{
    bool deferred = false; /* never in process */
    return s_handle(c, role, NULL, req, len, resp, resp_len, &deferred);
}

/* ---- sockets ---------------------------------------------------------------------- */

/* Gives an ipc socket file its role's mode and the configured group. */
static int s_secure_ipc(const char *path, sg_control_role_t role, const char *group)
{
#ifdef _WIN32
    (void)path;
    (void)role;
    (void)group;
    sg_error(S_MOD, "ipc control sockets are POSIX only: use loopback tcp");
    return SG_EINVAL;
#else
    if (group) {
        struct group *g = getgrnam(group);
        if (!g || chown(path, (uid_t)-1, g->gr_gid) != 0) {
            sg_error(S_MOD, "cannot give %s to group %s", path, group);
            return SG_EIO;
        }
    }
    if (chmod(path, role == SG_CONTROL_OPERATOR ? 0660 : 0666) != 0) {
        sg_error(S_MOD, "cannot set the mode of %s", path);
        return SG_EIO;
    }
    return SG_OK;
#endif
}

/* The name of a listed client key, for the ZAP handler: looked up in the
 * config in force, so a reload adds and removes keys for new connections. */
static const char *s_key_lookup(void *user, const char *key_z85)
{
    const sg_control_cfg_t *cc = &((sg_control_t *)user)->env.cfg->control;
    for (size_t i = 0; i < cc->n_operators; i++)
        if (strcmp(cc->operators[i].key, key_z85) == 0)
            return cc->operators[i].name;
    for (size_t i = 0; i < cc->n_readers; i++)
        if (strcmp(cc->readers[i].key, key_z85) == 0)
            return cc->readers[i].name;
    return NULL;
}

/* The role of the key named `name` on a socket of role `socket_role` (a
 * read-only socket keeps every key read-only); false when it is not listed. */
static bool s_key_role(const sg_control_cfg_t *cc, const char *name,
                       sg_control_role_t socket_role, sg_control_role_t *role)
{
    for (size_t i = 0; i < cc->n_operators; i++) {
        if (strcmp(cc->operators[i].name, name) == 0) {
            *role = socket_role;
            return true;
        }
    }
    for (size_t i = 0; i < cc->n_readers; i++) {
        if (strcmp(cc->readers[i].name, name) == 0) {
            *role = SG_CONTROL_READER;
            return true;
        }
    }
    return false;
}

/* Makes socket i a CURVE server whose clients the ZAP handler checks. */
static int s_curve_server(sg_control_t *c, int i)
{
    const char *secret = c->env.cfg->control.secret_key;
    int on = 1;
    if (!secret) {
        sg_error(S_MOD, "a tcp control endpoint needs CURVE: set control.secret_key_file and "
                        "client keys");
        return SG_EINVAL;
    }
    if (!zmq_has("curve")) {
        sg_error(S_MOD, "this libzmq has no CURVE: no tcp control endpoint");
        return SG_EINVAL;
    }
    if (!c->env.zap) {
        sg_error(S_MOD, "no authentication handler for the CURVE control socket");
        return SG_EINVAL;
    }
    if (!c->zap_domain && sg_zap_add_domain(c->env.zap, S_ZAP_DOMAIN, s_key_lookup, c) != SG_OK)
        return SG_EIO;
    c->zap_domain = true;
    if (zmq_setsockopt(c->sock[i], ZMQ_CURVE_SERVER, &on, sizeof on) != 0 ||
        zmq_setsockopt(c->sock[i], ZMQ_CURVE_SECRETKEY, secret, strlen(secret)) != 0 ||
        zmq_setsockopt(c->sock[i], ZMQ_ZAP_DOMAIN, S_ZAP_DOMAIN, strlen(S_ZAP_DOMAIN)) != 0) {
        sg_error(S_MOD, "cannot make the control socket a CURVE server: %s",
                 zmq_strerror(zmq_errno()));
        return SG_EIO;
    }
    c->curve[i] = true;
    return SG_OK;
}

static int s_bind(sg_control_t *c, void *zctx, int i, const char *endpoint, sg_control_role_t role)
{
    bool tcp = strncmp(endpoint, "tcp://", 6) == 0;
    if (tcp && !sg_str_loopback_tcp(endpoint)) {
        sg_error(S_MOD, "%s: a tcp control endpoint must be on the loopback address", endpoint);
        return SG_EINVAL;
    }
    int linger = 0;
    int64_t max = SG_CONTROL_MAX_REQUEST;
    c->sock[i] = zmq_socket(zctx, ZMQ_ROUTER);
    if (!c->sock[i])
        return SG_EIO;
    zmq_setsockopt(c->sock[i], ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(c->sock[i], ZMQ_MAXMSGSIZE, &max, sizeof max);
    c->role[i] = role;
    if (tcp && s_curve_server(c, i) != SG_OK) {
        zmq_close(c->sock[i]);
        c->sock[i] = NULL;
        return SG_EINVAL;
    }
    if (zmq_bind(c->sock[i], endpoint) != 0) {
        sg_log(c->env.cfg->control.endpoint || i == 1 ? SG_LOG_ERROR : SG_LOG_WARN, S_MOD,
               "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(c->sock[i]);
        c->sock[i] = NULL;
        return SG_EIO;
    }
    if (strncmp(endpoint, "ipc://", 6) == 0) {
        c->ipc_path[i] = sg_strdupf("%s", endpoint + 6);
        if (!c->ipc_path[i] || s_secure_ipc(c->ipc_path[i], role, c->env.cfg->control.group))
            return SG_EIO;
    }
    sg_info(S_MOD, "%s socket on %s%s", s_role_name(role), endpoint,
            c->curve[i] ? " (CURVE; the role is the client key's)" : "");
    return SG_OK;
}

/* The operator endpoint when none is configured: ipc on POSIX; on Windows
 * loopback tcp, and only when CURVE is configured (NULL: none). */
static const char *s_default_endpoint(const sg_control_cfg_t *cc)
{
#ifdef _WIN32
    return cc->secret_key ? S_DEFAULT_TCP : NULL;
#else
    (void)cc;
    return S_DEFAULT_IPC;
#endif
}

sg_control_t *sg_control_new(void *zctx, const sg_control_env_t *env)
{
    sg_control_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->env = *env;
    if (!zctx)
        return c;
    const sg_control_cfg_t *cc = &env->cfg->control;
    const char *endpoint = cc->endpoint ? cc->endpoint : s_default_endpoint(cc);
    int rc = endpoint ? s_bind(c, zctx, 0, endpoint, SG_CONTROL_OPERATOR) : SG_ENOTFOUND;
    if (rc != SG_OK && cc->endpoint)
        goto fail;
    if (rc == SG_ENOTFOUND)
        sg_warn(S_MOD, "no control socket: on this platform control is loopback tcp with "
                       "CURVE; set control.secret_key_file and client keys (siteguardctl "
                       "keygen)");
    else if (rc != SG_OK)
        sg_warn(S_MOD, "no operator control: set control.endpoint to a directory siteguard can "
                       "write");
    if (cc->readonly_endpoint &&
        s_bind(c, zctx, 1, cc->readonly_endpoint, SG_CONTROL_READER) != SG_OK)
        goto fail;
    return c;
fail:
    sg_control_destroy(&c);
    return NULL;
}

void sg_control_destroy(sg_control_t **cp)
{
    if (!cp || !*cp)
        return;
    sg_control_t *c = *cp;
    for (int i = 0; i < 2; i++) {
        if (c->sock[i])
            zmq_close(c->sock[i]);
        if (c->ipc_path[i] && c->sock[i])
            unlink(c->ipc_path[i]);
        free(c->ipc_path[i]);
    }
    if (c->zap_domain)
        sg_zap_remove_domain(c->env.zap, S_ZAP_DOMAIN);
    for (size_t i = 0; i < SG_CONTROL_MAX_PENDING; i++)
        if (c->pending[i].used)
            s_pending_forget(c, &c->pending[i]);
    free(c);
    *cp = NULL;
}

void sg_control_set_config(sg_control_t *c, const sg_config_t *cfg)
{
    /* reload.c refuses a new secret key; client keys come from cfg. */
    c->env.cfg = cfg;
}

size_t sg_control_sockets(sg_control_t *c, void **out)
{
    size_t n = 0;
    for (int i = 0; i < 2; i++)
        if (c->sock[i])
            out[n++] = c->sock[i];
    return n;
}

/* The role of a request on socket i: the socket's, or on a CURVE socket
 * its client key's. */
static sg_control_role_t s_request_role(sg_control_t *c, int i, zmq_msg_t *msg,
                                        s_client_key_t *key)
{
    sg_control_role_t role = c->role[i];
    if (!c->curve[i])
        return role;
    const char *name = zmq_msg_gets(msg, "User-Id");
    key->name = name ? name : "?";
    key->unlisted = !name || !s_key_role(&c->env.cfg->control, name, c->role[i], &role);
    return key->unlisted ? SG_CONTROL_READER : role;
}

/* The user behind a request on an ipc socket, from the peer's credentials:
 * libzmq reads them (SO_PEERCRED) when it accepts an ipc connection and
 * appends them to its Peer-Address property as ":uid:gid:pid". Writes
 * "alice (uid 1000)" into buf; false when the connection carries none. */
static bool s_peer_user(zmq_msg_t *msg, char *buf, size_t len)
{
    const char *addr = zmq_msg_gets(msg, "Peer-Address");
    if (!addr)
        return false;
    const char *field[3]; /* the starts of uid, gid and pid */
    const char *p = addr + strlen(addr);
    for (int f = 2; f >= 0; f--) {
        while (p > addr && p[-1] != ':')
            p--;
        if (p == addr)
            return false;
        field[f] = p--;
    }
    char *end = NULL;
    errno = 0;
    unsigned long uid = strtoul(field[0], &end, 10);
    if (end == field[0] || *end != ':' || errno != 0 || field[1][0] == ':' ||
        strspn(field[1], "0123456789") != (size_t)(field[2] - 1 - field[1]) ||
        field[2][0] == '\0' || strspn(field[2], "0123456789") != strlen(field[2]))
        return false;
    return sg_platform_user_name(uid, buf, len) == SG_OK;
}

/* Sends [routing id][empty][response] on socket i without blocking (a
 * ROUTER drops what it cannot deliver: a client gone, or one not reading).
 * `len` 0: an empty response, which the client reports as an error. */
static int s_send_reply(sg_control_t *c, int i, const uint8_t *id, size_t id_len,
                        const uint8_t *resp, size_t len)
{
    static const uint8_t empty[1];
    void *sock = c->sock[i];
    if (!sock)
        return SG_EIO;
    if (zmq_send(sock, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(sock, empty, 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(sock, len ? resp : empty, len, ZMQ_DONTWAIT) < 0)
        return SG_EIO;
    return SG_OK;
}

/* Packs and sends the answer of a waiting request, then forgets it; frees
 * the arena. */
static int s_reply_pending(sg_control_t *c, s_pending_t *p, s_resp_t *out, s_arena_t *arena)
{
    uint8_t *resp = NULL;
    size_t len = 0;
    int rc = s_pack(out, arena, &resp, &len);
    s_arena_free(arena);
    rc = s_send_reply(c, p->sock, p->id, p->id_len, rc == SG_OK ? resp : NULL,
                      rc == SG_OK ? len : 0);
    free(resp);
    if (rc != SG_OK)
        sg_error(S_MOD, "cannot send the recovery points of %s: %s", p->collection,
                 zmq_strerror(zmq_errno()));
    s_pending_forget(c, p);
    return rc;
}

/* Takes one message from `sock`: 1 with a request framed as a REQ client
 * frames it ([routing id][empty][request]: the id in *id, the request in
 * *body), 2 when a message of another shape was taken (dropped), 0 when none
 * waits, SG_EIO. The frames of a message arrive together: only the first
 * read may find none. */
static int s_recv_request(void *sock, zmq_msg_t *id, zmq_msg_t *body)
{
    if (zmq_msg_recv(id, sock, ZMQ_DONTWAIT) < 0)
        return zmq_errno() == EAGAIN ? 0 : SG_EIO;
    size_t frames = 1;
    bool delimited = false, more = zmq_msg_more(id);
    while (more) {
        zmq_msg_close(body);
        zmq_msg_init(body);
        if (zmq_msg_recv(body, sock, 0) < 0)
            return SG_EIO;
        if (++frames == 2)
            delimited = zmq_msg_size(body) == 0;
        more = zmq_msg_more(body);
    }
    return frames == 3 && delimited ? 1 : 2;
}

/* One message from socket i: 0 none waited, 1 answered, 2 dropped or
 * waiting for a deferred answer, SG_EIO. */
static int s_serve_one(sg_control_t *c, int i)
{
    void *sock = c->sock[i];
    zmq_msg_t id, msg;
    zmq_msg_init(&id);
    zmq_msg_init(&msg);
    int got = s_recv_request(sock, &id, &msg);
    if (got != 1) {
        zmq_msg_close(&id);
        zmq_msg_close(&msg);
        uint64_t n = 0;
        if (got == 2 &&
            sg_log_complain(&c->malformed, sg_clock_mono(c->env.clock), S_MALFORMED_EVERY_MS, &n))
            sg_warn(S_MOD, "dropped %llu control message(s) not framed as a request (a REQ "
                           "client's [empty][request])", (unsigned long long)n);
        return got;
    }
    uint8_t *resp = NULL;
    size_t len = 0;
    s_client_key_t key = {0};
    char peer[256];
    bool deferred = false;
    sg_control_role_t role = s_request_role(c, i, &msg, &key);
    s_origin_t from = {.key = c->curve[i] ? &key : NULL, .sock = i, .id = zmq_msg_data(&id),
                       .id_len = zmq_msg_size(&id)};
    if (!c->curve[i] && s_peer_user(&msg, peer, sizeof peer))
        from.peer = peer;
    int rc = s_handle(c, role, &from, zmq_msg_data(&msg), zmq_msg_size(&msg), &resp, &len,
                      &deferred);
    zmq_msg_close(&msg);
    if (rc == SG_OK && deferred) {
        zmq_msg_close(&id);
        return 2;
    }
    /* on an error, an empty reply: the client reports an error */
    rc = s_send_reply(c, i, zmq_msg_data(&id), zmq_msg_size(&id), rc == SG_OK ? resp : NULL,
                      rc == SG_OK ? len : 0) != SG_OK ? SG_EIO : 1;
    zmq_msg_close(&id);
    free(resp);
    return rc;
}

int sg_control_serve(sg_control_t *c, void *socket)
{
    int i = socket == c->sock[0] ? 0 : 1;
    int served = 0;
    for (;;) {
        int rc = s_serve_one(c, i);
        if (rc < 0) {
            sg_error(S_MOD, "control socket: %s", zmq_strerror(zmq_errno()));
            return SG_EIO;
        }
        if (rc == 0)
            return served;
        served += rc == 1;
    }
}

uint64_t sg_control_requests(const sg_control_t *c) { return c->requests; }

uint64_t sg_control_keys_refused(const sg_control_t *c)
{
    return c->env.zap ? sg_zap_refused(c->env.zap, S_ZAP_DOMAIN) : 0;
}
