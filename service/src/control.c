/* control: REP sockets, request dispatch, roles and the audit trail. */
#include "control.h"
#include "err.h"
#include "log.h"
#include "str.h"

#include "proto/control.pb-c.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>
#ifndef _WIN32
#include <grp.h>
#endif

#define S_MOD "control"
#define S_DEFAULT_ENDPOINT "ipc:///run/siteguard/control.sock"
#define S_MAX_REQUEST 65536
#define S_HISTORY_DEFAULT 50
#define S_LEADER "single instance (leader: none)"
#define S_NO_DRILLS "drills are not configured in this version"

typedef Siteguard__Control__V1__Request s_req_t;
typedef Siteguard__Control__V1__Response s_resp_t;
typedef Siteguard__Control__V1__StatusReply s_status_t;
typedef Siteguard__Control__V1__SiteInfo s_site_info_t;
typedef Siteguard__Control__V1__CollectionInfo s_coll_info_t;
typedef Siteguard__Control__V1__RunInfo s_run_info_t;
typedef Siteguard__Control__V1__AuditEntry s_audit_info_t;

#define S_OK ((int)SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK)
#define S_ERROR ((int)SITEGUARD__CONTROL__V1__RESPONSE__CODE__ERROR)
#define S_DENIED ((int)SITEGUARD__CONTROL__V1__RESPONSE__CODE__DENIED)
#define S_INVALID ((int)SITEGUARD__CONTROL__V1__RESPONSE__CODE__INVALID)
#define S_NOT_FOUND ((int)SITEGUARD__CONTROL__V1__RESPONSE__CODE__NOT_FOUND)
#define S_REFUSED ((int)SITEGUARD__CONTROL__V1__RESPONSE__CODE__REFUSED)
#define S_UNAVAILABLE ((int)SITEGUARD__CONTROL__V1__RESPONSE__CODE__UNAVAILABLE)

struct sg_control {
    sg_control_env_t env;
    void *sock[2]; /* [0] operator, [1] read-only; NULL when not bound */
    sg_control_role_t role[2];
    char *ipc_path[2]; /* socket files to remove on destroy */
    uint64_t requests;
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

/* One request being answered. */
typedef struct {
    sg_control_t *c;
    sg_control_role_t role;
    const s_req_t *req;
    s_resp_t *resp;
    s_arena_t *arena;
    sg_now_t now;
} s_call_t;

static void s_answer(s_call_t *k, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_answer(s_call_t *k, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = sg_vstrdupf(fmt, ap);
    va_end(ap);
    k->resp->code = (Siteguard__Control__V1__Response__Code)code;
    k->resp->message = s_keep(k->arena, text);
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

/* Appends the command and how it ended to the audit trail. */
static void s_audit(s_call_t *k, const char *command, const char *target)
{
    const char *who = k->req->user && *k->req->user ? k->req->user : "unknown";
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
    s_answer(k, S_DENIED, "%s needs the operator role; this is the read-only socket", command);
    s_audit(k, command, target);
    return false;
}

static bool s_has_reason(const s_call_t *k)
{
    return k->req->reason && k->req->reason[0];
}

/* ---- status ------------------------------------------------------------------ */

/* The pause in force for collection c, as "N s: reason", or "". */
static char *s_pause_text(s_call_t *k, int c)
{
    const sg_config_t *cfg = k->c->env.cfg;
    int site, coll;
    int64_t until;
    const char *reason;
    for (size_t i = 0;
         sg_engine_pause_at(k->c->env.engine, i, k->now.mono, &site, &coll, &until, &reason);
         i++) {
        bool applies = coll == c || (coll < 0 && (site < 0 || site == cfg->collections[c].site));
        if (applies)
            return s_printf(k->arena, "%.0f s: %s", (until - k->now.mono) / 1000.0,
                            reason ? reason : "no reason given");
    }
    return (char *)"";
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
        st->runs[st->n_runs++] = ri;
    }
    sg_journal_runs_free(runs, n);
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
    s_status_collections(k, st);
    int rc = s_status_runs(k, st);
    st->leader = (char *)S_LEADER;
    st->mode = (char *)modes[cfg->policy.mode];
    st->config = cfg->path ? cfg->path : (char *)"";
    k->resp->status = st;
    if (rc != SG_OK)
        s_answer(k, S_ERROR, "cannot read the runs from the journal: %s", sg_err_str(rc));
    else
        s_answer(k, S_OK, "%zu site(s), %zu collection(s), %zu run(s); %s", st->n_sites,
                 st->n_collections, st->n_runs, S_LEADER);
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

static void s_decide(s_call_t *k, const char *command, const char *target, bool approve)
{
    if (!s_may_change(k, command, target))
        return;
    int c = sg_config_find_collection(k->c->env.cfg, target);
    if (c < 0) {
        s_answer(k, S_NOT_FOUND, "no collection named '%s'", target);
    } else {
        int rc = approve ? sg_engine_approve(k->c->env.engine, c, k->now)
                         : sg_engine_deny(k->c->env.engine, c, k->now);
        if (rc == SG_OK)
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
        if (rc == SG_OK)
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
        s_answer(k, S_OK, "%s resumed", target);
    }
    s_audit(k, "resume", target);
}

/* ---- manual failover -------------------------------------------------------------- */

/* The recovery point asked for matches the collection's configured one. */
static bool s_point_ok(const sg_collection_cfg_t *cc, const char *point)
{
    if (!point || !*point)
        return true;
    if (strcmp(point, "latest") == 0)
        return cc->recovery_point == SG_RP_LATEST;
    if (strcmp(point, "app") == 0)
        return cc->recovery_point == SG_RP_LATEST_APP_CONSISTENT;
    return cc->recovery_point == SG_RP_NAMED && strcmp(point, cc->recovery_point_path) == 0;
}

static void s_failover(s_call_t *k, const Siteguard__Control__V1__Failover *f)
{
    const char *target = f->collection;
    const char *command = f->force ? "failover --force" : "failover";
    if (!s_may_change(k, command, target))
        return;
    int c = sg_config_find_collection(k->c->env.cfg, target);
    if (c < 0) {
        s_answer(k, S_NOT_FOUND, "no collection named '%s'", target);
    } else if (f->force && !s_has_reason(k)) {
        s_answer(k, S_INVALID, "--force needs a reason (--reason)");
    } else if (!s_point_ok(&k->c->env.cfg->collections[c], f->point)) {
        s_answer(k, S_REFUSED, "recovery point '%s' is not the one configured for %s; another "
                               "point is not supported in this version", f->point, target);
    } else {
        char *why = NULL;
        int rc = sg_engine_manual_failover(k->c->env.engine, c, f->force, k->req->reason, k->now,
                                           &why);
        if (rc == SG_OK)
            s_answer(k, S_OK, "failover of %s to %s decided%s", target,
                     k->c->env.cfg->sites[k->c->env.cfg->collections[c].replica_site].name,
                     f->force ? " (forced past the guards)" : "");
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
    if (!s_may_change(k, "drill run", plan))
        return;
    sg_drill_t *d = k->c->env.drill;
    char *why = NULL;
    int rc = d ? sg_drill_start(d, plan, k->now, &why) : SG_ESTATE;
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

static void s_dispatch(s_call_t *k)
{
    const s_req_t *r = k->req;
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
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_RELOAD: s_reload(k); break;
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_HISTORY: s_history(k, r->history->limit); break;
    default: s_answer(k, S_INVALID, "no command in the request"); break;
    }
}

int sg_control_handle(sg_control_t *c, sg_control_role_t role, const uint8_t *req, size_t len,
                      uint8_t **resp, size_t *resp_len)
{
    s_arena_t arena = {0};
    s_resp_t out = SITEGUARD__CONTROL__V1__RESPONSE__INIT;
    s_req_t *r = siteguard__control__v1__request__unpack(NULL, len, req);
    s_call_t k = {.c = c, .role = role, .req = r, .resp = &out, .arena = &arena,
                  .now = {sg_clock_mono(c->env.clock), sg_clock_wall(c->env.clock)}};
    c->requests++;
    if (!r)
        s_answer(&k, S_INVALID, "malformed request");
    else if (r->version != 1)
        s_answer(&k, S_INVALID, "protocol version %u is not spoken here (1 is)", r->version);
    else
        s_dispatch(&k);
    int rc = SG_ENOMEM;
    if (arena.oom) {
        out = (s_resp_t)SITEGUARD__CONTROL__V1__RESPONSE__INIT;
        out.code = SITEGUARD__CONTROL__V1__RESPONSE__CODE__ERROR;
        out.message = (char *)"out of memory";
    }
    *resp_len = siteguard__control__v1__response__get_packed_size(&out);
    *resp = malloc(*resp_len ? *resp_len : 1);
    if (*resp) {
        siteguard__control__v1__response__pack(&out, *resp);
        rc = SG_OK;
    }
    if (r)
        siteguard__control__v1__request__free_unpacked(r, NULL);
    s_arena_free(&arena);
    return rc;
}

/* ---- sockets ---------------------------------------------------------------------- */

/* A tcp endpoint must be on the loopback address. */
static bool s_loopback(const char *endpoint)
{
    const char *host = endpoint + 6;
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost:", 10) == 0 ||
           strncmp(host, "[::1]:", 6) == 0;
}

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

static int s_bind(sg_control_t *c, void *zctx, int i, const char *endpoint, sg_control_role_t role)
{
    if (strncmp(endpoint, "tcp://", 6) == 0 && !s_loopback(endpoint)) {
        sg_error(S_MOD, "%s: a tcp control endpoint must be on the loopback address", endpoint);
        return SG_EINVAL;
    }
    int linger = 0;
    int64_t max = S_MAX_REQUEST;
    c->sock[i] = zmq_socket(zctx, ZMQ_REP);
    if (!c->sock[i])
        return SG_EIO;
    zmq_setsockopt(c->sock[i], ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(c->sock[i], ZMQ_MAXMSGSIZE, &max, sizeof max);
    c->role[i] = role;
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
    sg_info(S_MOD, "%s socket on %s", s_role_name(role), endpoint);
    return SG_OK;
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
    int rc = s_bind(c, zctx, 0, cc->endpoint ? cc->endpoint : S_DEFAULT_ENDPOINT,
                    SG_CONTROL_OPERATOR);
    if (rc != SG_OK && cc->endpoint)
        goto fail;
    if (rc != SG_OK)
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
    free(c);
    *cp = NULL;
}

void sg_control_set_config(sg_control_t *c, const sg_config_t *cfg) { c->env.cfg = cfg; }

size_t sg_control_sockets(sg_control_t *c, void **out)
{
    size_t n = 0;
    for (int i = 0; i < 2; i++)
        if (c->sock[i])
            out[n++] = c->sock[i];
    return n;
}

static int s_serve_one(sg_control_t *c, void *sock, sg_control_role_t role)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return zmq_errno() == EAGAIN ? 0 : SG_EIO;
    }
    uint8_t *resp = NULL;
    size_t len = 0;
    int rc = sg_control_handle(c, role, zmq_msg_data(&msg), zmq_msg_size(&msg), &resp, &len);
    zmq_msg_close(&msg);
    if (rc != SG_OK) {
        static const uint8_t empty[1];
        zmq_send(sock, empty, 0, 0); /* an empty reply: the client reports an error */
        return 1;
    }
    rc = zmq_send(sock, resp, len, 0) < 0 ? SG_EIO : 1;
    free(resp);
    return rc;
}

int sg_control_serve(sg_control_t *c, void *socket)
{
    int i = socket == c->sock[0] ? 0 : 1;
    int served = 0;
    for (;;) {
        int rc = s_serve_one(c, socket, c->role[i]);
        if (rc < 0) {
            sg_error(S_MOD, "control socket: %s", zmq_strerror(zmq_errno()));
            return SG_EIO;
        }
        if (rc == 0)
            return served;
        served++;
    }
}

uint64_t sg_control_requests(const sg_control_t *c) { return c->requests; }
