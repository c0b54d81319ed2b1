#include "act/lifecycle.h"

#include "act/jobfollow.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"
#include "journal/outcome.h"
#include "journal/steps.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_MOD "lifecycle"
#define S_SLICE_MS 50 /* a step's thread checks for stop at least this often while waiting */

/* One step (or listing) and its thread. Everything it reads on its thread
 * is copied on the loop thread before it starts. */
typedef struct s_task {
    struct s_task *next;
    sg_lifecycle_t *lc;
    bool points; /* a listing of recovery points */
    uint64_t step_id, token, epoch;
    int collection;
    sg_step_kind_t kind;
    char *name, *cim_path, *site, *replica_site, *who;
    char *job_path; /* a job to follow (resumed, or the call's) */
    int read_rc;    /* the last proof's read: 0, or why the state could not be read */
    pthread_t thread;
    bool started;
} s_task_t;

/* A message from a step's thread to the loop (the pointer is sent). */
typedef enum { S_MSG_JOB = 0, S_MSG_END, S_MSG_POINTS } s_msg_kind_t;

typedef struct {
    s_msg_kind_t kind;
    s_task_t *task;
    char *text; /* JOB: the job path; END: the detail */
    bool ok;
    uint32_t rv;
    int points_rc;
    sg_recovery_point_t *points;
    size_t n_points;
} s_msg_t;

struct sg_lifecycle {
    void *zctx;
    const sg_config_t *cfg;
    sg_provider_t *provider;
    const sg_clock_t *clock;
    sg_journal_t *journal;
    const sg_engine_t *engine;
    sg_lifecycle_busy_fn drill_fn;
    void *drill_user;
    sg_lifecycle_fence_fn fence;
    void *fence_user;
    uint64_t epoch;
    void *results;
    char results_ep[64];
    s_task_t *waiting, *waiting_tail; /* not started, in order */
    s_task_t *running;                /* started, not yet ended */
    size_t n_running;
    atomic_bool stopping;
};

static const char *const s_kind_names[SG_STEP_KIND_COUNT] = {"commit", "revert", "reverse"};

const char *sg_step_kind_name(sg_step_kind_t k)
{
    return k >= 0 && k < SG_STEP_KIND_COUNT ? s_kind_names[k] : "unknown";
}

int sg_step_kind_parse(const char *name, sg_step_kind_t *out)
{
    for (int k = 0; name && k < SG_STEP_KIND_COUNT; k++)
        if (strcmp(name, s_kind_names[k]) == 0) {
            *out = (sg_step_kind_t)k;
            return SG_OK;
        }
    return SG_EINVAL;
}

sg_method_t sg_step_method(sg_step_kind_t k)
{
    switch (k) {
    case SG_STEP_COMMIT: return SG_METHOD_COMMIT_FAILOVER;
    case SG_STEP_REVERT: return SG_METHOD_REVERT_FAILOVER;
    default: return SG_METHOD_REVERSE_REPLICATION;
    }
}

static void s_task_free(s_task_t *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->cim_path);
    free(t->site);
    free(t->replica_site);
    free(t->who);
    free(t->job_path);
    free(t);
}

/* ---- on the step's thread ------------------------------------------------- */

static bool s_wait(void *user, int64_t ms)
{
    const sg_lifecycle_t *lc = user;
    while (ms > 0 && !atomic_load(&lc->stopping)) {
        int64_t slice = ms < S_SLICE_MS ? ms : S_SLICE_MS;
        sg_clock_sleep(lc->clock, slice);
        ms -= slice;
    }
    return !atomic_load(&lc->stopping);
}

static void s_send(void *out, s_msg_t *m)
{
    if (!out || zmq_send(out, &m, sizeof m, 0) != (int)sizeof m) {
        sg_error(S_MOD, "cannot pass a step's result to the loop: %s", zmq_strerror(zmq_errno()));
        free(m->text);
        sg_recovery_points_free(m->points, m->n_points);
        free(m);
    }
}

/* Sends the end of task t: ok or not, with a detail (printf). */
static void s_end(void *out, s_task_t *t, bool ok, uint32_t rv, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void s_end(void *out, s_task_t *t, bool ok, uint32_t rv, const char *fmt, ...)
{
    s_msg_t *m = calloc(1, sizeof *m);
    if (!m)
        return;
    va_list ap;
    va_start(ap, fmt);
    char text[1024];
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    *m = (s_msg_t){.kind = S_MSG_END, .task = t, .ok = ok, .rv = rv, .text = strdup(text)};
    s_send(out, m);
}

/* Where a step stands by the collection's state on its side. */
typedef enum { S_CALL = 0, S_DONE, S_REFUSE } s_judgement_t;

/* The state a step takes, and the state (with the side's mode, for a
 * reverse) that shows it done. */
static s_judgement_t s_judge(sg_step_kind_t k, sg_coll_state_t st, int mode)
{
    switch (k) {
    case SG_STEP_COMMIT:
        return st == SG_COLL_FAILED_OVER ? S_CALL : st == SG_COLL_COMMITTED ? S_DONE : S_REFUSE;
    case SG_STEP_REVERT:
        return st == SG_COLL_FAILED_OVER ? S_CALL : st == SG_COLL_REPLICATING ? S_DONE : S_REFUSE;
    default:
        if (st == SG_COLL_COMMITTED)
            return S_CALL;
        /* The failed-over side replicating: reversed, unless it says it is
         * still the replica. */
        return st == SG_COLL_REPLICATING && mode != SG_MODE_REPLICA ? S_DONE : S_REFUSE;
    }
}

/* Reads the state on the step's side and judges it. Returns 0 with
 * *j, or the provider's error. `state` gets the state read. */
static int s_read_judge(s_task_t *t, sg_provider_t *pv, s_judgement_t *j, sg_coll_state_t *state)
{
    int rc = sg_provider_get_state(pv, t->cim_path, state);
    if (rc != SG_OK)
        return rc;
    sg_replication_t rep;
    if (t->kind == SG_STEP_REVERSE &&
        (rc = sg_provider_get_replication(pv, t->cim_path, &rep)) != SG_OK)
        return rc;
    *j = s_judge(t->kind, *state, t->kind == SG_STEP_REVERSE ? rep.mode : SG_MODE_NONE);
    return SG_OK;
}

/* The proof before a call: reads the state, max_attempts times at most
 * (or until the service stops). Returns true with *j: S_REFUSE with the
 * state unknown and t->read_rc the reason when it could not be read. */
static bool s_proof(s_task_t *t, sg_provider_t *pv, s_judgement_t *j, sg_coll_state_t *state)
{
    const sg_provider_cfg_t *pc = &t->lc->cfg->provider;
    int64_t backoff = pc->poll_initial_ms;
    for (int attempt = 1;; attempt++) {
        int rc = s_read_judge(t, pv, j, state);
        t->read_rc = rc;
        if (rc == SG_OK)
            return true;
        if (attempt >= pc->max_attempts) {
            *j = S_REFUSE;
            *state = SG_COLL_UNKNOWN;
            return true;
        }
        sg_warn(S_MOD, "%s of %s: cannot read its state (%s); again in %.1f s",
                sg_step_kind_name(t->kind), t->name, sg_provider_err_text(rc), backoff / 1000.0);
        if (!s_wait(t->lc, backoff))
            return false;
        backoff = backoff * 2 < pc->poll_max_ms ? backoff * 2 : pc->poll_max_ms;
    }
}

static bool s_timed_out(void *user, int last_percent)
{
    (void)user;
    (void)last_percent;
    return true; /* followed on: a step is never abandoned while its job runs */
}

/* Follows the step's job to its end and ends the step by it, or by the
 * state when the job is gone. */
static void s_follow(void *out, s_task_t *t, sg_provider_t *pv)
{
    sg_lifecycle_t *lc = t->lc;
    sg_jobfollow_t f = {.provider = pv, .pc = &lc->cfg->provider, .clock = lc->clock,
                        .log_module = S_MOD, .what = t->name, .wait = s_wait,
                        .timed_out = s_timed_out, .user = lc};
    sg_job_status_t end;
    int rc = sg_jobfollow(&f, t->job_path, &end);
    if (rc == SG_ESTOPPED)
        return; /* the next start resumes it */
    const char *what = sg_method_name(sg_step_method(t->kind));
    if (rc == SG_OK && !sg_job_state_succeeded(end.job_state)) {
        s_end(out, t, false, 0, "%s job %s: %s (ErrorCode %u)", what,
              sg_job_state_text(end.job_state), end.error_description ? end.error_description : "",
              end.error_code);
        sg_job_status_fini(&end);
        return;
    }
    if (rc == SG_OK)
        sg_job_status_fini(&end);
    /* Completed, or gone: the state says whether it did what was asked. */
    s_judgement_t j;
    sg_coll_state_t st;
    if (!s_proof(t, pv, &j, &st))
        return;
    if (j == S_DONE)
        s_end(out, t, true, 0, "%s %s; the collection is %s", what,
              rc == SG_OK ? "completed" : "job gone", sg_coll_state_text(st));
    else
        s_end(out, t, false, 0, "%s %s, but the collection is %s", what,
              rc == SG_OK ? "completed" : "job gone", sg_coll_state_text(st));
}

static bool s_retryable(uint32_t rv)
{
    return rv != SG_RC_STATUS_UNKNOWN && sg_rc_retryable(rv);
}

/* After a call whose answer was lost, 32775 most likely means its unseen
 * job runs: true while that is so for less than job_timeout since the
 * first lost answer (`doubt_since`, mono ms; 0: none lost), so that the
 * proof is read again at poll_max, without counting an attempt, until the
 * state shows the step done (or the call is accepted). */
static bool s_in_doubt(const s_task_t *t, uint32_t rv, int64_t doubt_since)
{
    const sg_provider_cfg_t *pc = &t->lc->cfg->provider;
    return doubt_since && rv == SG_RC_INVALID_STATE &&
           sg_clock_mono(t->lc->clock) - doubt_since < pc->job_timeout_ms;
}

/* Calls the step's method after its proof, as often as retryable answers
 * and max_attempts allow, then follows its job. */
static void s_run_step(void *out, s_task_t *t, sg_provider_t *pv)
{
    sg_lifecycle_t *lc = t->lc;
    const sg_provider_cfg_t *pc = &lc->cfg->provider;
    sg_method_t method = sg_step_method(t->kind);
    int64_t backoff = pc->poll_initial_ms, doubt_since = 0;
    for (int attempt = 1;; attempt++) {
        s_judgement_t j;
        sg_coll_state_t st;
        if (!s_proof(t, pv, &j, &st))
            return;
        if (j == S_DONE && doubt_since) {
            s_end(out, t, true, 0, "%s done (the collection is %s): the call whose answer was "
                  "lost was made", sg_method_name(method), sg_coll_state_text(st));
            return;
        }
        if (j == S_DONE) {
            s_end(out, t, true, 0, "%s: already done (the collection is %s); nothing called",
                  sg_method_name(method), sg_coll_state_text(st));
            return;
        }
        if (j == S_REFUSE && t->read_rc != SG_OK) {
            s_end(out, t, false, 0, "%s not called: its state on %s could not be read (%s)",
                  sg_method_name(method), t->replica_site, sg_provider_err_text(t->read_rc));
            return;
        }
        if (j == S_REFUSE) {
            s_end(out, t, false, 0, "%s not called: the collection is %s on %s",
                  sg_method_name(method), sg_coll_state_text(st), t->replica_site);
            return;
        }
        if (lc->fence && lc->fence(lc->fence_user, t->epoch) != 0) {
            s_end(out, t, false, 0, "%s not called: this instance no longer leads",
                  sg_method_name(method));
            return;
        }
        sg_call_result_t r = {0};
        int rc = sg_provider_call(pv, method, t->cim_path, NULL, &r);
        uint32_t rv = rc == SG_OK ? r.return_value : SG_RC_STATUS_UNKNOWN;
        if (rv == SG_RC_JOB_STARTED && r.job_path) {
            t->job_path = r.job_path;
            r.job_path = NULL;
            s_msg_t *m = calloc(1, sizeof *m);
            if (m) {
                *m = (s_msg_t){.kind = S_MSG_JOB, .task = t, .text = strdup(t->job_path)};
                s_send(out, m);
            }
            sg_call_result_fini(&r);
            s_follow(out, t, pv);
            return;
        }
        sg_call_result_fini(&r);
        if (rv == SG_RC_COMPLETED) {
            s_end(out, t, true, rv, "%s completed", sg_method_name(method));
            return;
        }
        if (sg_provider_unanswered(rc) && !doubt_since)
            doubt_since = sg_clock_mono(lc->clock); /* the call may have been made */
        if (s_in_doubt(t, rv, doubt_since)) {
            sg_info(S_MOD, "%s of %s: 32775 after an answer was lost: its job may run; the "
                    "state is read again in %.1f s", sg_method_name(method), t->name,
                    pc->poll_max_ms / 1000.0);
            attempt--;
            if (!s_wait(lc, pc->poll_max_ms))
                return;
            continue;
        }
        bool again = s_retryable(rv) || rv == SG_RC_STATUS_UNKNOWN || rv == SG_RC_INVALID_STATE;
        if (!again || attempt >= pc->max_attempts) {
            char answer[256];
            s_end(out, t, false, rv, "%s %s after %d attempt(s)", sg_method_name(method),
                  sg_provider_answer_text(rv, rc, t->replica_site, answer, sizeof answer),
                  attempt);
            return;
        }
        /* Unknown or invalid state: the proof reads the state again; a
         * retryable answer is tried again after the backoff. */
        sg_warn(S_MOD, "%s of %s returned %u (%s); attempt %d of %d", sg_method_name(method),
                t->name, rv, sg_rc_text(rv), attempt + 1, pc->max_attempts);
        if (!s_wait(lc, backoff))
            return;
        backoff = backoff * 2 < pc->poll_max_ms ? backoff * 2 : pc->poll_max_ms;
    }
}

static void s_run_points(void *out, s_task_t *t, sg_provider_t *pv)
{
    s_msg_t *m = calloc(1, sizeof *m);
    if (!m)
        return;
    *m = (s_msg_t){.kind = S_MSG_POINTS, .task = t};
    m->points_rc = pv ? sg_provider_list_recovery_points(pv, t->cim_path, &m->points,
                                                          &m->n_points)
                      : SG_ENOTFOUND;
    s_send(out, m);
}

static void *s_thread(void *arg)
{
    s_task_t *t = arg;
    sg_lifecycle_t *lc = t->lc;
    void *out = zmq_socket(lc->zctx, ZMQ_PUSH);
    int linger = 0;
    if (out) {
        zmq_setsockopt(out, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_connect(out, lc->results_ep) != 0) {
            zmq_close(out);
            out = NULL;
        }
    }
    sg_provider_t *pv = sg_provider_at(lc->provider, t->replica_site);
    if (t->points)
        s_run_points(out, t, pv);
    else if (!pv)
        s_end(out, t, false, 0, "no provider connection for site %s", t->replica_site);
    else if (t->job_path)
        s_follow(out, t, pv);
    else
        s_run_step(out, t, pv);
    if (out)
        zmq_close(out);
    return NULL;
}

/* ---- on the loop thread --------------------------------------------------- */

static int s_start_task(sg_lifecycle_t *lc, s_task_t *t)
{
    if (pthread_create(&t->thread, NULL, s_thread, t) != 0) {
        sg_error(S_MOD, "cannot start a thread for %s of %s", sg_step_kind_name(t->kind),
                 t->name);
        return SG_ENOMEM;
    }
    t->started = true;
    t->next = lc->running;
    lc->running = t;
    lc->n_running++;
    return SG_OK;
}

/* Starts waiting tasks while there is room. */
static void s_dispatch(sg_lifecycle_t *lc)
{
    size_t cap = lc->cfg->provider.workers > 0 ? (size_t)lc->cfg->provider.workers : 1;
    while (lc->waiting && lc->n_running < cap) {
        s_task_t *t = lc->waiting;
        lc->waiting = t->next;
        if (!lc->waiting)
            lc->waiting_tail = NULL;
        t->next = NULL;
        if (s_start_task(lc, t) != SG_OK) {
            s_task_free(t);
            return;
        }
    }
}

static void s_enqueue(sg_lifecycle_t *lc, s_task_t *t)
{
    t->next = NULL;
    if (lc->waiting_tail)
        lc->waiting_tail->next = t;
    else
        lc->waiting = t;
    lc->waiting_tail = t;
    s_dispatch(lc);
}

/* A task for collection c, its strings copied from the config. */
static s_task_t *s_task_new(sg_lifecycle_t *lc, int c, sg_step_kind_t kind, const char *who)
{
    const sg_collection_cfg_t *cc = &lc->cfg->collections[c];
    s_task_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    *t = (s_task_t){.lc = lc, .collection = c, .kind = kind, .epoch = lc->epoch,
                    .name = strdup(cc->name), .cim_path = strdup(cc->cim_path),
                    .site = strdup(lc->cfg->sites[cc->site].name),
                    .replica_site = strdup(lc->cfg->sites[cc->replica_site].name),
                    .who = strdup(who ? who : "")};
    if (!t->name || !t->cim_path || !t->site || !t->replica_site || !t->who) {
        s_task_free(t);
        return NULL;
    }
    return t;
}

static bool s_listed(const s_task_t *list, int c)
{
    for (; list; list = list->next)
        if (!list->points && list->collection == c)
            return true;
    return false;
}

bool sg_lifecycle_busy(const sg_lifecycle_t *lc, int collection)
{
    return s_listed(lc->running, collection) || s_listed(lc->waiting, collection);
}

size_t sg_lifecycle_active(const sg_lifecycle_t *lc)
{
    size_t n = lc->n_running;
    for (const s_task_t *t = lc->waiting; t; t = t->next)
        n++;
    return n;
}

/* The guards of a request; NULL when they pass, else why not (static text
 * or formatted into buf). */
static const char *s_guard(const sg_lifecycle_t *lc, int c, sg_step_kind_t kind, char *buf,
                           size_t len)
{
    if (sg_lifecycle_busy(lc, c))
        return "another step of it is running";
    if (kind == SG_STEP_REVERSE && lc->drill_fn && lc->drill_fn(lc->drill_user))
        return "a drill runs: a reverse waits until it has ended";
    if (!lc->engine)
        return NULL;
    sg_coll_verdict_t v = sg_engine_collection_verdict(lc->engine, c);
    if (v == SG_COLL_DONE)
        return NULL;
    snprintf(buf, len, "it is not failed over (%s)",
             v == SG_COLL_DECIDED ? "a failover run of it is in flight"
             : v == SG_COLL_FAILED ? "its failover failed"
                                   : "it is protected at its site");
    return buf;
}

int sg_lifecycle_request(sg_lifecycle_t *lc, int collection, sg_step_kind_t kind,
                         const char *who, uint64_t *step_id, char **why)
{
    if (why)
        *why = NULL;
    if (collection < 0 || (size_t)collection >= lc->cfg->n_collections || kind < 0 ||
        kind >= SG_STEP_KIND_COUNT)
        return SG_EINVAL;
    char buf[160];
    const char *refused = s_guard(lc, collection, kind, buf, sizeof buf);
    if (refused) {
        if (why)
            *why = sg_strdupf("%s of %s refused: %s", sg_step_kind_name(kind),
                              lc->cfg->collections[collection].name, refused);
        return SG_ESTATE;
    }
    s_task_t *t = s_task_new(lc, collection, kind, who);
    if (!t)
        return SG_ENOMEM;
    int rc = sg_steps_intent(lc->journal, t->name, sg_step_kind_name(kind), t->who, t->epoch,
                             sg_clock_wall(lc->clock), &t->step_id);
    if (rc != SG_OK) {
        s_task_free(t);
        return rc;
    }
    *step_id = t->step_id;
    sg_info(S_MOD, "%s of %s asked by %s (step %llu)", sg_step_kind_name(kind), t->name, t->who,
            (unsigned long long)t->step_id);
    s_enqueue(lc, t);
    return SG_OK;
}

int sg_lifecycle_list_points(sg_lifecycle_t *lc, int collection, uint64_t token)
{
    if (collection < 0 || (size_t)collection >= lc->cfg->n_collections)
        return SG_EINVAL;
    s_task_t *t = s_task_new(lc, collection, SG_STEP_COMMIT, NULL);
    if (!t)
        return SG_ENOMEM;
    t->points = true;
    t->token = token;
    s_enqueue(lc, t);
    return SG_OK;
}

int sg_lifecycle_resume(sg_lifecycle_t *lc)
{
    sg_step_rec_t *open = NULL;
    size_t n = 0;
    int rc = sg_steps_open(lc->journal, &open, &n);
    for (size_t i = 0; rc == SG_OK && i < n; i++) {
        int c = sg_config_find_collection(lc->cfg, open[i].collection);
        sg_step_kind_t kind;
        if (c < 0 || sg_step_kind_parse(open[i].action, &kind) != SG_OK) {
            sg_warn(S_MOD, "step %llu (%s of %s) names what the config no longer has: ended",
                    (unsigned long long)open[i].id, open[i].action, open[i].collection);
            rc = sg_steps_end(lc->journal, open[i].id, false, "not in the config any more",
                              sg_clock_wall(lc->clock));
            continue;
        }
        if (sg_lifecycle_busy(lc, c))
            continue; /* resumed already (leading again) */
        s_task_t *t = s_task_new(lc, c, kind, open[i].who);
        if (!t || (open[i].job_path && !(t->job_path = strdup(open[i].job_path)))) {
            s_task_free(t);
            rc = SG_ENOMEM;
            break;
        }
        t->step_id = open[i].id;
        sg_info(S_MOD, "resuming %s of %s (step %llu)%s", open[i].action, t->name,
                (unsigned long long)t->step_id, t->job_path ? ": following its job" : "");
        s_enqueue(lc, t);
    }
    sg_steps_free(open, n);
    if (rc != SG_OK)
        sg_error(S_MOD, "cannot resume the open steps: %s", sg_err_str(rc));
    return rc;
}

/* The outcome of a step's start (with its job) or end. */
static sg_outcome_t *s_outcome(sg_lifecycle_t *lc, const s_task_t *t, const s_msg_t *m)
{
    const char *phase = m->kind == S_MSG_JOB ? "started" : m->ok ? "succeeded" : "failed";
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_LIFECYCLE, sg_clock_wall(lc->clock));
    if (!o)
        return NULL;
    o->severity = m->kind == S_MSG_END && !m->ok ? SG_SEVERITY_CRITICAL : SG_SEVERITY_INFO;
    o->return_value = m->rv;
    const char *method = sg_method_name(sg_step_method(t->kind));
    if (sg_outcome_set(o, &o->site, t->site) ||
        sg_outcome_set(o, &o->replica_site, t->replica_site) ||
        sg_outcome_set(o, &o->collection, t->name) ||
        sg_outcome_set(o, &o->cim_path, t->cim_path) ||
        sg_outcome_set(o, &o->job_path, t->job_path) ||
        sg_outcome_setf(o, &o->dedup_key, "step/%llu/%llu/%s/%s/%s",
                        (unsigned long long)t->epoch, (unsigned long long)t->step_id, t->name,
                        sg_step_kind_name(t->kind), phase) ||
        (m->kind == S_MSG_JOB
             ? sg_outcome_setf(o, &o->message, "%s of %s on %s started (step %llu, asked by %s)",
                               method, t->name, t->replica_site,
                               (unsigned long long)t->step_id, t->who)
             : sg_outcome_setf(o, &o->message, "%s of %s on %s %s: %s (step %llu, asked by %s)",
                               method, t->name, t->replica_site, phase,
                               m->text ? m->text : "", (unsigned long long)t->step_id,
                               t->who)) ||
        sg_outcome_finish(o, 1)) {
        sg_outcome_free(&o);
        return NULL;
    }
    return o;
}

static void s_unlink_running(sg_lifecycle_t *lc, s_task_t *t)
{
    for (s_task_t **p = &lc->running; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            lc->n_running--;
            return;
        }
}

/* Journals what `m` says of its step; fills *out. */
static int s_take(sg_lifecycle_t *lc, s_msg_t *m, sg_step_result_t *out)
{
    s_task_t *t = m->task;
    *out = (sg_step_result_t){.step_id = t->step_id, .collection = t->collection,
                              .kind = t->kind, .token = t->token};
    int rc = SG_OK;
    if (m->kind == S_MSG_POINTS) {
        out->points_rc = m->points_rc;
        out->points = m->points;
        out->n_points = m->n_points;
        m->points = NULL;
    } else if (m->kind == S_MSG_JOB) {
        rc = sg_steps_job(lc->journal, t->step_id, m->text);
        out->outcome = s_outcome(lc, t, m);
    } else {
        out->ended = true;
        out->ok = m->ok;
        rc = sg_steps_end(lc->journal, t->step_id, m->ok, m->text, sg_clock_wall(lc->clock));
        out->outcome = s_outcome(lc, t, m);
        sg_log(m->ok ? SG_LOG_INFO : SG_LOG_ERROR, S_MOD, "%s of %s %s: %s (step %llu)",
               sg_step_kind_name(t->kind), t->name, m->ok ? "succeeded" : "failed",
               m->text ? m->text : "", (unsigned long long)t->step_id);
    }
    if (m->kind != S_MSG_JOB) { /* the thread's last message */
        pthread_join(t->thread, NULL);
        s_unlink_running(lc, t);
        s_task_free(t);
        s_dispatch(lc);
    }
    if (rc != SG_OK)
        sg_error(S_MOD, "cannot journal a step: %s", sg_err_str(rc));
    return SG_OK;
}

int sg_lifecycle_recv(sg_lifecycle_t *lc, sg_step_result_t *out, int timeout_ms)
{
    memset(out, 0, sizeof *out);
    zmq_pollitem_t it = {.socket = lc->results, .events = ZMQ_POLLIN};
    int n = zmq_poll(&it, 1, timeout_ms);
    if (n <= 0)
        return n < 0 && zmq_errno() != EINTR ? SG_EIO : 0;
    s_msg_t *m = NULL;
    if (zmq_recv(lc->results, &m, sizeof m, 0) != (int)sizeof m || !m)
        return SG_EIO;
    int rc = s_take(lc, m, out);
    free(m->text);
    sg_recovery_points_free(m->points, m->n_points);
    free(m);
    return rc == SG_OK ? 1 : rc;
}

void sg_step_result_fini(sg_step_result_t *r)
{
    sg_outcome_free(&r->outcome);
    sg_recovery_points_free(r->points, r->n_points);
    memset(r, 0, sizeof *r);
}

void *sg_lifecycle_socket(sg_lifecycle_t *lc) { return lc->results; }

void sg_lifecycle_set_drill_check(sg_lifecycle_t *lc, sg_lifecycle_busy_fn fn, void *user)
{
    lc->drill_fn = fn;
    lc->drill_user = user;
}

void sg_lifecycle_set_config(sg_lifecycle_t *lc, const sg_config_t *cfg) { lc->cfg = cfg; }

void sg_lifecycle_set_fence(sg_lifecycle_t *lc, sg_lifecycle_fence_fn fn, void *user)
{
    lc->fence = fn;
    lc->fence_user = user;
}

void sg_lifecycle_set_epoch(sg_lifecycle_t *lc, uint64_t epoch) { lc->epoch = epoch; }

sg_lifecycle_t *sg_lifecycle_new(void *zctx, const sg_config_t *cfg, sg_provider_t *provider,
                                 const sg_clock_t *clock, sg_journal_t *journal,
                                 const sg_engine_t *engine)
{
    sg_lifecycle_t *lc = calloc(1, sizeof *lc);
    if (!lc)
        return NULL;
    *lc = (sg_lifecycle_t){.zctx = zctx, .cfg = cfg, .provider = provider, .clock = clock,
                           .journal = journal, .engine = engine};
    atomic_init(&lc->stopping, false);
    snprintf(lc->results_ep, sizeof lc->results_ep, "inproc://sg-lifecycle-%lu", sg_serial());
    int linger = 0;
    if (sg_steps_init(journal) != SG_OK || !(lc->results = zmq_socket(zctx, ZMQ_PULL)) ||
        zmq_setsockopt(lc->results, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(lc->results, lc->results_ep) != 0) {
        sg_error(S_MOD, "cannot start the life-cycle steps");
        sg_lifecycle_destroy(&lc);
        return NULL;
    }
    return lc;
}

void sg_lifecycle_destroy(sg_lifecycle_t **plc)
{
    sg_lifecycle_t *lc = *plc;
    if (!lc)
        return;
    atomic_store(&lc->stopping, true);
    /* Threads end (a call in progress first); their last messages are
     * dropped with the socket: the journal keeps the steps open. */
    for (s_task_t *t = lc->running, *next; t; t = next) {
        next = t->next;
        pthread_join(t->thread, NULL);
        s_task_free(t);
    }
    for (s_task_t *t = lc->waiting, *next; t; t = next) {
        next = t->next;
        s_task_free(t);
    }
    if (lc->results) {
        s_msg_t *m = NULL;
        while (zmq_recv(lc->results, &m, sizeof m, ZMQ_DONTWAIT) == (int)sizeof m && m) {
            free(m->text);
            sg_recovery_points_free(m->points, m->n_points);
            free(m);
        }
        zmq_close(lc->results);
    }
    free(lc);
    *plc = NULL;
}
