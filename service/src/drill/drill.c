#include "drill/drill.h"
#include "base/err.h"
#include "act/jobfollow.h"
#include "base/log.h"
#include "journal/outcome.h"
#include "base/reply.h"
#include "drill/schedule.h"
#include "base/str.h"
#include "drill/tz.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_MOD "drill"
#define S_SLICE_MS 50 /* a drill thread checks its flags at least this often while waiting */

/* What one collection of a run went through. */
typedef struct {
    int coll;
    bool called;       /* TestReplicaCollection was accepted, or an answer to it was lost
                          (a test copy may exist) */
    bool unanswered;   /* an answer to its test (or revert) call was lost and none accepted
                          it: a test copy may be up or coming up (or going), with no job to
                          follow */
    char *test_job;    /* its job; owned */
    bool test_ended;   /* the test job was followed to its end */
    bool ready;        /* the test copy is up */
    bool test_failed;  /* the test step failed */
    bool preempted;    /* never tested, or its test cut short: the drill was pre-empted */
    bool cleaned;      /* verified back to REPLICATING */
    int64_t rto_ms, rpo_ms, rp_ms; /* -1: not measured */
    char *rp_path;     /* owned; NULL: latest */
    json_t *steps;     /* array */
} s_item_t;

/* One drill run, owned by its thread until it hands the report over. */
typedef struct {
    sg_drill_t *d;
    const sg_drill_cfg_t *dc; /* NULL: a recovery cleanup */
    char *id;
    const char *trigger;
    char *started_by; /* who started it (control); NULL: the schedule, a start, a recovery */
    s_item_t *items;
    size_t n_items;
    json_t *skipped;
    int64_t start_mono, start_wall;
    uint64_t epoch; /* the leader's, when it started */
    void *answers;  /* PUSH, bound, owned by the loop: proof answers to the thread */
    char answers_ep[64];
    pthread_t thread;
} s_run_t;

/* A message from a drill thread to the loop, sent by value. */
enum { S_MSG_REPORT = 1, S_MSG_PROOF };
typedef struct {
    int kind;
    s_run_t *run;
    int coll; /* S_MSG_PROOF: the collection about to be tested */
} s_msg_t;

struct sg_drill {
    void *zctx;
    const sg_config_t *cfg;
    sg_provider_t *provider;
    const sg_clock_t *clock;
    sg_journal_t *journal;
    const sg_engine_t *engine;
    void *results; /* PULL, bound */
    char results_ep[64];
    sg_schedule_t *scheds; /* per drill */
    sg_tz_t **zones;       /* per drill: its `timezone`, owned */
    int64_t *next;         /* per drill: next scheduled run, -1 none */
    bool ticked;
    bool *at_start;  /* per drill: run_at_start, not yet started */
    bool *at_start_told; /* per drill: its refusal was logged */
    char **open_ids; /* drill runs the journal has open: cleaned up on the first tick */
    size_t n_open;
    s_run_t *run; /* the run in progress, or NULL */
    int preempt;  /* __atomic: the run is pre-empted */
    int stop;     /* __atomic: the runner is being destroyed */
    char *preempt_reason; /* read by the thread only after it saw `preempt` */
    sg_drill_fence_fn fence;
    void *fence_user;
    uint64_t epoch;
    sg_drill_status_t *status; /* per drill: its history and when it is due, for the metrics */
};

/* ---- the drill thread ---------------------------------------------------------- */

static bool s_flag(const int *f) { return __atomic_load_n(f, __ATOMIC_ACQUIRE) != 0; }

/* Sleeps `ms` in slices; false when a stop (or, with `test`, a pre-emption)
 * came meanwhile. */
static bool s_wait(sg_drill_t *d, int64_t ms, bool test)
{
    for (;;) {
        if (s_flag(&d->stop) || (test && s_flag(&d->preempt)))
            return false;
        if (ms <= 0)
            return true;
        int64_t slice = ms < S_SLICE_MS ? ms : S_SLICE_MS;
        sg_clock_sleep(d->clock, slice);
        ms -= slice;
    }
}

static bool s_wait_test(void *user, int64_t ms) { return s_wait(user, ms, true); }
static bool s_wait_cleanup(void *user, int64_t ms) { return s_wait(user, ms, false); }

static const sg_collection_cfg_t *s_coll(const s_run_t *r, const s_item_t *it)
{
    return &r->d->cfg->collections[it->coll];
}

/* The provider of collection c's replica side (sg_provider_at), where a
 * test copy is made and removed; the drill's own when none is known. */
static sg_provider_t *s_side_of(const sg_drill_t *d, int c)
{
    const sg_config_t *cfg = d->cfg;
    sg_provider_t *pv =
        sg_provider_at(d->provider, cfg->sites[cfg->collections[c].replica_site].name);
    return pv ? pv : d->provider;
}

static sg_provider_t *s_side(const s_run_t *r, const s_item_t *it)
{
    return s_side_of(r->d, it->coll);
}

/* Appends one step to the item's steps. */
static void s_step(s_run_t *r, s_item_t *it, const char *name, int64_t started, const char *result,
                   const char *job, uint32_t rv, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static void s_step(s_run_t *r, s_item_t *it, const char *name, int64_t started, const char *result,
                   const char *job, uint32_t rv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *detail = sg_vstrdupf(fmt, ap);
    va_end(ap);
    json_t *s = json_pack("{s:s, s:I, s:I, s:s, s:s?}", "step", name, "started_ms",
                          (json_int_t)started, "ended_ms",
                          (json_int_t)sg_clock_wall(r->d->clock), "result", result, "detail",
                          detail);
    if (s && job)
        json_object_set_new(s, "job_path", json_string(job));
    if (s && rv)
        json_object_set_new(s, "return_value", json_integer(rv));
    if (!s || json_array_append_new(it->steps, s) != 0)
        sg_error(S_MOD, "out of memory recording step %s of %s", name, s_coll(r, it)->name);
    sg_log(strcmp(result, "failed") == 0 ? SG_LOG_WARN : SG_LOG_INFO, S_MOD, "%s: %s %s: %s",
           r->id, s_coll(r, it)->name, name, detail ? detail : result);
    free(detail);
}

/* The recovery point policy in force for the item. */
static sg_rp_policy_t s_rp_policy(const s_run_t *r, const s_item_t *it, const char **named)
{
    if (r->dc && r->dc->rp_set) {
        *named = r->dc->recovery_point_path;
        return r->dc->recovery_point;
    }
    *named = s_coll(r, it)->recovery_point_path;
    return s_coll(r, it)->recovery_point;
}

/* Picks the recovery point and its time. False when the test cannot go on. */
static bool s_pick_point(s_run_t *r, s_item_t *it)
{
    sg_drill_t *d = r->d;
    int64_t t0 = sg_clock_wall(d->clock);
    const char *named = NULL;
    sg_rp_policy_t pol = s_rp_policy(r, it, &named);
    sg_recovery_point_t *pts = NULL;
    size_t n = 0;
    int rc = sg_provider_list_recovery_points(s_side(r, it), s_coll(r, it)->cim_path, &pts, &n);
    const sg_recovery_point_t *best = NULL;
    for (size_t i = 0; rc == SG_OK && i < n; i++) {
        const sg_recovery_point_t *p = &pts[i];
        bool fits = pol == SG_RP_LATEST || (pol == SG_RP_LATEST_APP_CONSISTENT && p->app_consistent) ||
                    (pol == SG_RP_NAMED && named && strcmp(p->path, named) == 0);
        if (fits && (!best || p->created_ms > best->created_ms))
            best = p;
    }
    if (best) {
        it->rp_ms = best->created_ms;
        if (pol != SG_RP_LATEST && !(it->rp_path = strdup(best->path)))
            rc = SG_ENOMEM;
    } else if (pol == SG_RP_NAMED && named && !(it->rp_path = strdup(named))) {
        rc = SG_ENOMEM;
    }
    sg_recovery_points_free(pts, n);
    if (rc != SG_OK || (!best && pol == SG_RP_LATEST_APP_CONSISTENT)) {
        s_step(r, it, "recovery_point", t0, "failed", NULL, 0, "%s",
               rc != SG_OK ? sg_err_str(rc) : "no application-consistent recovery point");
        return false;
    }
    s_step(r, it, "recovery_point", t0, "ok", NULL, 0, "%s%s", it->rp_path ? it->rp_path : "latest",
           best ? "" : " (its time is unknown: RPO not measured)");
    return true;
}

/* Calls `m` on the item's collection, retrying retryable answers. Returns
 * the return value (0 or 4096: accepted), with *job (owned) for 4096;
 * *unanswered (may be NULL) says whether an attempt got no answer (a lost
 * connection or a timeout: that call may have been made). */
static uint32_t s_call(s_run_t *r, s_item_t *it, sg_method_t m, const char *rp, char **job,
                       int *rc_out, bool *unanswered)
{
    sg_drill_t *d = r->d;
    const sg_provider_cfg_t *pc = &d->cfg->provider;
    int64_t backoff = pc->poll_initial_ms;
    *job = NULL;
    if (unanswered)
        *unanswered = false;
    for (int attempt = 1;; attempt++) {
        sg_call_result_t res = {0};
        if (d->fence && d->fence(d->fence_user, r->epoch) != SG_OK) {
            *rc_out = SG_ESTATE; /* fenced: no longer the leader; no call */
            return SG_RC_FAILED;
        }
        int rc = sg_provider_call(s_side(r, it), m, s_coll(r, it)->cim_path, rp, &res);
        uint32_t rv = rc == SG_OK ? res.return_value : SG_RC_STATUS_UNKNOWN;
        if (rc == SG_OK && rv == SG_RC_JOB_STARTED) {
            *job = res.job_path;
            res.job_path = NULL;
        }
        sg_call_result_fini(&res);
        *rc_out = rc;
        if (unanswered && sg_provider_unanswered(rc))
            *unanswered = true; /* the call may have gone through */
        bool again = rc != SG_OK || sg_rc_retryable(rv);
        if (!again || attempt >= pc->max_attempts || !s_wait(d, backoff, false))
            return rv;
        backoff = backoff * 2 < pc->poll_max_ms ? backoff * 2 : pc->poll_max_ms;
    }
}

/* Follows a job; 0 with *js when it ended, else SG_ESTOPPED or SG_ETIMEOUT. */
static int s_follow(s_run_t *r, s_item_t *it, const char *job, bool test, sg_job_status_t *js)
{
    sg_jobfollow_t f = {.provider = s_side(r, it),
                        .pc = &r->d->cfg->provider,
                        .clock = r->d->clock,
                        .log_module = S_MOD,
                        .what = s_coll(r, it)->name,
                        .wait = test ? s_wait_test : s_wait_cleanup,
                        .user = r->d};
    return sg_jobfollow(&f, job, js);
}

static const char *s_job_text(const sg_job_status_t *js)
{
    return js->error_description ? js->error_description : sg_job_state_text(js->job_state);
}

/* How a drill job ended: Completed, Completed with warnings (both
 * successes: provider.h), or not. A note for a successful step's detail:
 * the warnings, or "" (owned by the caller; NULL when out of memory). */
static char *s_success_note(const sg_job_status_t *js)
{
    if (js->job_state != SG_JOB_COMPLETED_WITH_WARNINGS)
        return sg_strdupf("%s", "");
    return sg_strdupf("; its job completed with warnings: %s",
                      js->error_description ? js->error_description : "no description");
}

/* A drill job that is gone (jobfollow.h: Hyper-V removed it after its end,
 * or reads keep missing it) is judged by the collection's state read now,
 * never assumed done: true when it is `want`, the state its method reaches.
 * *st gets the state (SG_COLL_UNKNOWN when it cannot be read). */
static bool s_gone_job_reached(s_run_t *r, s_item_t *it, sg_coll_state_t want,
                               sg_coll_state_t *st)
{
    *st = SG_COLL_UNKNOWN;
    return sg_provider_get_state(s_side(r, it), s_coll(r, it)->cim_path, st) == SG_OK &&
           *st == want;
}

/* Asks the loop for the proof before TestReplicaCollection (drill.h) over
 * `out`, and waits on `in` for the answer. 0 to call; SG_ESTATE with *why
 * (caller frees); SG_ESTOPPED when the runner stops meanwhile. */
static int s_ask_proof(s_run_t *r, s_item_t *it, void *out, void *in, char **why)
{
    *why = NULL;
    s_msg_t m = {S_MSG_PROOF, r, it->coll};
    if (zmq_send(out, &m, sizeof m, 0) != (int)sizeof m)
        return SG_EIO;
    return sg_reply_wait(in, &r->d->stop, S_SLICE_MS, why);
}

/* The test of one item: its proof first; false (recorded) when it is not
 * called. */
static bool s_proven(s_run_t *r, s_item_t *it, void *out, void *in)
{
    int64_t t0 = sg_clock_wall(r->d->clock);
    char *why = NULL;
    int rc = s_ask_proof(r, it, out, in, &why);
    if (rc != SG_OK) {
        it->preempted = true;
        s_step(r, it, "TestReplicaCollection", t0, "skipped", NULL, 0, "not called: %s",
               rc == SG_ESTATE && why ? why : sg_err_str(rc));
    }
    free(why);
    return rc == SG_OK;
}

/* Follows the item's test job. When it did not bring the copy up, records
 * the failed step, sets it->test_failed and returns NULL; else returns the
 * note for the ok step (caller frees; NULL when out of memory:
 * s_success_note, or that the job is gone and the collection testing). A gone job counts as ended only when the
 * state shows the copy: otherwise the cleanup follows it again, in case it
 * was only missed. (TESTING stands for ReplicationState 13, a value whose
 * name Microsoft's page prints garbled: taken as "test failover" here, and
 * the copy it means is always reverted by the cleanup.) */
static char *s_test_job_note(s_run_t *r, s_item_t *it, int64_t t0, uint32_t rv)
{
    sg_job_status_t js = {0};
    sg_coll_state_t st = SG_COLL_UNKNOWN;
    int rc = s_follow(r, it, it->test_job, true, &js);
    it->preempted = rc == SG_ESTOPPED;
    it->test_ended = rc == SG_OK || (rc == SG_ENOTFOUND &&
                                     s_gone_job_reached(r, it, SG_COLL_TESTING, &st));
    bool succeeded = rc == SG_OK && sg_job_state_succeeded(js.job_state);
    bool gone_ok = rc == SG_ENOTFOUND && it->test_ended;
    char *note = NULL;
    it->test_failed = !succeeded && !gone_ok;
    if (succeeded)
        note = s_success_note(&js);
    else if (gone_ok)
        note = sg_strdupf("; its job is gone; the collection is %s", sg_coll_state_text(st));
    else if (rc == SG_ENOTFOUND)
        s_step(r, it, "TestReplicaCollection", t0, "failed", it->test_job, rv,
               "its job vanished before its end was seen; the collection is %s",
               sg_coll_state_text(st));
    else
        s_step(r, it, "TestReplicaCollection", t0, "failed", it->test_job, rv, "%s",
               rc == SG_ESTOPPED   ? "stopped following the job: the drill was pre-empted"
               : rc == SG_ETIMEOUT ? "the job did not end within provider.job_timeout"
                                   : s_job_text(&js));
    sg_job_status_fini(&js);
    return note;
}

/* Brings up the item's test copy and measures it. */
static void s_test(s_run_t *r, s_item_t *it, void *out, void *in)
{
    sg_drill_t *d = r->d;
    if (!s_pick_point(r, it)) {
        it->test_failed = true;
        return;
    }
    if (!s_proven(r, it, out, in))
        return;
    int64_t t0 = sg_clock_wall(d->clock);
    if (it->rp_ms > 0)
        it->rpo_ms = t0 - it->rp_ms;
    int rc = SG_OK;
    bool unanswered = false;
    uint32_t rv =
        s_call(r, it, SG_METHOD_TEST_REPLICA, it->rp_path, &it->test_job, &rc, &unanswered);
    if (rv != SG_RC_COMPLETED && rv != SG_RC_JOB_STARTED) {
        it->test_failed = true;
        /* A call whose answer was lost may have started a test copy: the
         * cleanup reverts it as an accepted one (32775: there was none). */
        it->called = it->unanswered = unanswered;
        char answer[256];
        const sg_config_t *cfg = r->d->cfg;
        s_step(r, it, "TestReplicaCollection", t0, "failed", NULL, rv, "%s%s",
               sg_provider_answer_text(rv, rc, cfg->sites[s_coll(r, it)->replica_site].name,
                                       answer, sizeof answer),
               unanswered ? "; an answer was lost, so the cleanup reverts in case a test copy "
                            "was made"
                          : "");
        return;
    }
    it->called = true;
    char *note = rv == SG_RC_JOB_STARTED ? s_test_job_note(r, it, t0, rv) : sg_strdupf("%s", "");
    if (it->test_failed) {
        free(note);
        return;
    }
    it->ready = true;
    it->rto_ms = sg_clock_mono(d->clock) - r->start_mono;
    s_step(r, it, "TestReplicaCollection", t0, "ok", it->test_job, rv,
           "test copy ready after %.1f s%s", it->rto_ms / 1000.0, note ? note : "");
    free(note);
}

/* RevertTestReplicaCollection. After a test or revert call whose answer
 * was lost, 32775 proves nothing (an unseen job may still run): it is
 * asked again, max_attempts times with backoff, while it says 32775. */
static uint32_t s_revert_call(s_run_t *r, s_item_t *it, char **job, int *rc)
{
    const sg_provider_cfg_t *pc = &r->d->cfg->provider;
    int64_t backoff = pc->poll_initial_ms;
    bool lost = false;
    uint32_t rv = s_call(r, it, SG_METHOD_REVERT_TEST_REPLICA, NULL, job, rc, &lost);
    it->unanswered |= lost; /* a revert without an answer may run, unseen, as well */
    for (int attempt = 1; it->unanswered && rv == SG_RC_INVALID_STATE &&
                          attempt < pc->max_attempts && s_wait(r->d, backoff, false);
         attempt++) {
        rv = s_call(r, it, SG_METHOD_REVERT_TEST_REPLICA, NULL, job, rc, NULL);
        backoff = backoff * 2 < pc->poll_max_ms ? backoff * 2 : pc->poll_max_ms;
    }
    return rv;
}

/* Reverts the item's test copy (its test was accepted, or the collection is
 * TESTING) and records the step; 32775 means there is none to revert, but
 * after a lost answer it proves nothing: false then (the cleanup is not
 * verified). A revert job that is gone is judged by the state (replicating:
 * done), never assumed done; the verify step that follows reads the state
 * anyway. */
static bool s_revert(s_run_t *r, s_item_t *it, int64_t t0)
{
    sg_job_status_t js = {0};
    sg_coll_state_t st = SG_COLL_UNKNOWN;
    char *job = NULL, *note = NULL;
    int rc = SG_OK;
    uint32_t rv = s_revert_call(r, it, &job, &rc);
    if (rv == SG_RC_JOB_STARTED)
        rc = s_follow(r, it, job, false, &js);
    bool followed = rv == SG_RC_JOB_STARTED && rc == SG_OK;
    bool gone = rv == SG_RC_JOB_STARTED && rc == SG_ENOTFOUND;
    bool gone_ok = gone && s_gone_job_reached(r, it, SG_COLL_REPLICATING, &st);
    if (gone_ok)
        note = sg_strdupf("; its job is gone; the collection is %s", sg_coll_state_text(st));
    else if (followed)
        note = s_success_note(&js);
    if (rv == SG_RC_COMPLETED || gone_ok || (followed && sg_job_state_succeeded(js.job_state)))
        s_step(r, it, "RevertTestReplicaCollection", t0, "ok", job, rv, "test copy removed%s",
               note ? note : "");
    else if (rv == SG_RC_INVALID_STATE && it->unanswered)
        s_step(r, it, "RevertTestReplicaCollection", t0, "failed", NULL, rv,
               "32775 (invalid state) on every attempt after a call whose answer was lost: "
               "a test copy may still be coming up or up; check the replica and remove it");
    else if (rv == SG_RC_INVALID_STATE)
        s_step(r, it, "RevertTestReplicaCollection", t0, "ok", NULL, rv,
               "nothing to revert (32775, invalid state: no test copy)");
    else if (gone)
        s_step(r, it, "RevertTestReplicaCollection", t0, "failed", job, rv,
               "its job vanished before its end was seen; the collection is %s",
               sg_coll_state_text(st));
    else
        s_step(r, it, "RevertTestReplicaCollection", t0, "failed", job, rv, "%s",
               rv != SG_RC_COMPLETED && rv != SG_RC_JOB_STARTED ? sg_rc_text(rv)
               : rc != SG_OK                                     ? sg_provider_err_text(rc)
                                                                 : s_job_text(&js));
    sg_job_status_fini(&js);
    free(note);
    free(job);
    return !(rv == SG_RC_INVALID_STATE && it->unanswered);
}

/* Reverts the item's test copy if it has one, then verifies the state. */
static void s_cleanup(s_run_t *r, s_item_t *it)
{
    sg_drill_t *d = r->d;
    int64_t t0 = sg_clock_wall(d->clock);
    sg_job_status_t js = {0};
    /* let the test job end first (gone: the state below decides) */
    if (it->called && it->test_job && !it->test_ended) {
        int rc = s_follow(r, it, it->test_job, false, &js);
        it->test_ended = rc == SG_OK;
        sg_job_status_fini(&js);
    }
    /* An accepted test is always reverted: the state value of a test copy
     * (13) is read from Microsoft's garbled page, so a state that does not
     * show TESTING proves nothing; 32775 then says there is nothing to
     * revert (HYPERV.md). */
    sg_coll_state_t st = SG_COLL_UNKNOWN;
    int rc = sg_provider_get_state(s_side(r, it), s_coll(r, it)->cim_path, &st);
    bool proven = true;
    if (it->called || (rc == SG_OK && st == SG_COLL_TESTING))
        proven = s_revert(r, it, t0);
    t0 = sg_clock_wall(d->clock);
    rc = sg_provider_get_state(s_side(r, it), s_coll(r, it)->cim_path, &st);
    it->cleaned = proven && rc == SG_OK && st == SG_COLL_REPLICATING;
    s_step(r, it, "verify", t0, it->cleaned ? "ok" : "failed", NULL, 0, "collection %s%s",
           rc == SG_OK ? sg_coll_state_text(st) : sg_provider_err_text(rc),
           proven ? "" : "; the test copy's removal is not proven (see the revert)");
}

static void *s_thread(void *arg)
{
    s_run_t *r = arg;
    sg_drill_t *d = r->d;
    void *out = zmq_socket(d->zctx, ZMQ_PUSH), *in = zmq_socket(d->zctx, ZMQ_PULL);
    int linger = 0;
    bool ok = out && in && zmq_connect(out, d->results_ep) == 0 &&
              zmq_connect(in, r->answers_ep) == 0;
    if (out)
        zmq_setsockopt(out, ZMQ_LINGER, &linger, sizeof linger);
    if (in)
        zmq_setsockopt(in, ZMQ_LINGER, &linger, sizeof linger);
    for (size_t i = 0; r->dc && i < r->n_items; i++) {
        if (!ok || s_flag(&d->stop) || s_flag(&d->preempt)) {
            r->items[i].preempted = true;
            continue;
        }
        s_test(r, &r->items[i], out, in);
    }
    for (size_t i = 0; i < r->n_items && !s_flag(&d->stop); i++)
        s_cleanup(r, &r->items[i]);
    s_msg_t m = {S_MSG_REPORT, r, -1};
    if (!out || (!ok && zmq_connect(out, d->results_ep) != 0) ||
        zmq_send(out, &m, sizeof m, 0) != (int)sizeof m)
        sg_error(S_MOD, "%s: cannot hand the report to the loop: %s", r->id,
                 zmq_strerror(zmq_errno()));
    if (in)
        zmq_close(in);
    if (out)
        zmq_close(out);
    return NULL;
}

/* ---- the report ----------------------------------------------------------------- */

static json_t *s_ms_or_null(int64_t v) { return v >= 0 ? json_integer(v) : json_null(); }

static json_t *s_met(int64_t objective, int64_t achieved)
{
    if (objective <= 0)
        return json_null();
    return json_boolean(achieved >= 0 && achieved <= objective);
}

static const char *s_item_result(const s_run_t *r, const s_item_t *it, bool *missed)
{
    int64_t rto = r->dc ? r->dc->rto_ms : 0, rpo = r->dc ? r->dc->rpo_ms : 0;
    *missed = (rto > 0 && (it->rto_ms < 0 || it->rto_ms > rto)) ||
              (rpo > 0 && (it->rpo_ms < 0 || it->rpo_ms > rpo));
    if (!r->dc)
        return it->cleaned ? "passed" : "failed";
    if (it->preempted)
        return "preempted";
    if (it->test_failed || !it->cleaned)
        return "failed";
    return *missed ? "objectives_missed" : "passed";
}

static json_t *s_item_json(const s_run_t *r, s_item_t *it, const char **result)
{
    const sg_config_t *cfg = r->d->cfg;
    const sg_collection_cfg_t *c = s_coll(r, it);
    bool missed;
    *result = s_item_result(r, it, &missed);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:o, s:o, s:o, s:o, s:o, s:s, s:O}",
                          "collection", c->name, "site", cfg->sites[c->site].name, "replica_site",
                          cfg->sites[c->replica_site].name, "result", *result, "recovery_point",
                          it->rp_path ? it->rp_path : (it->rp_ms > 0 ? "latest" : NULL),
                          "recovery_point_ms", s_ms_or_null(it->rp_ms > 0 ? it->rp_ms : -1),
                          "rto_ms", s_ms_or_null(it->rto_ms), "rpo_ms", s_ms_or_null(it->rpo_ms),
                          "rto_met", s_met(r->dc ? r->dc->rto_ms : 0, it->rto_ms), "rpo_met",
                          s_met(r->dc ? r->dc->rpo_ms : 0, it->rpo_ms), "cleanup",
                          it->cleaned ? "verified" : "failed", "steps", it->steps);
    return o;
}

/* The whole report; *result and *summary (owned) for the outcome. */
static json_t *s_report(s_run_t *r, int64_t end_wall, const char **result, char **summary)
{
    json_t *colls = json_array();
    bool all_clean = true, failed = false, missed = false;
    int64_t max_rto = -1, max_rpo = -1;
    for (size_t i = 0; colls && i < r->n_items; i++) {
        const char *res;
        json_array_append_new(colls, s_item_json(r, &r->items[i], &res));
        all_clean = all_clean && r->items[i].cleaned;
        failed = failed || strcmp(res, "failed") == 0;
        missed = missed || strcmp(res, "objectives_missed") == 0;
        max_rto = r->items[i].rto_ms > max_rto ? r->items[i].rto_ms : max_rto;
        max_rpo = r->items[i].rpo_ms > max_rpo ? r->items[i].rpo_ms : max_rpo;
    }
    bool preempted = s_flag(&r->d->preempt);
    *result = preempted ? "preempted" : failed ? "failed" : missed ? "objectives_missed" : "passed";
    char started[32];
    time_t secs = (time_t)(r->start_wall / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int64_t rto = r->dc ? r->dc->rto_ms : 0, rpo = r->dc ? r->dc->rpo_ms : 0;
    const sg_config_t *cfg = r->d->cfg;
    json_t *rep = json_pack(
        "{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:I, s:I, s:I, s:s, s:{s:o, s:o}, s:b, s:b, s:o, "
        "s:O}",
        "id", r->id, "drill", r->dc ? r->dc->name : "recovery", "trigger", r->trigger,
        "started_by", r->started_by, "config", cfg->path, "config_digest", cfg->digest,
        "started", started,
        "started_ms", (json_int_t)r->start_wall, "ended_ms", (json_int_t)end_wall, "duration_ms",
        (json_int_t)(end_wall - r->start_wall), "result", *result, "objectives", "rto_ms",
        s_ms_or_null(rto > 0 ? rto : -1), "rpo_ms", s_ms_or_null(rpo > 0 ? rpo : -1),
        "objectives_met", !missed && !failed && !preempted, "cleanup_verified", all_clean,
        "collections", colls ? colls : json_array(), "skipped", r->skipped);
    if (rep && preempted && r->d->preempt_reason)
        json_object_set_new(rep, "preempted_by", json_string(r->d->preempt_reason));
    char rto_text[32] = "n/a", rpo_text[32] = "n/a";
    if (max_rto >= 0)
        snprintf(rto_text, sizeof rto_text, "%.1f s", max_rto / 1000.0);
    if (max_rpo >= 0)
        snprintf(rpo_text, sizeof rpo_text, "%.0f s", max_rpo / 1000.0);
    *summary = sg_strdupf("drill %s (%s): %s; %zu collection(s), max RTO %s, max RPO %s, "
                          "cleanup %s",
                          r->dc ? r->dc->name : "recovery", r->id, *result, r->n_items, rto_text,
                          rpo_text, all_clean ? "verified" : "FAILED");
    return rep;
}

/* The outcome carrying the report under "report" in its JSON. */
static sg_outcome_t *s_outcome(const s_run_t *r, json_t *rep, const char *result,
                               const char *summary, int64_t end_wall)
{
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_DRILL_REPORT, end_wall);
    bool bad = strcmp(result, "passed") != 0;
    bool cleanup_failed = !json_is_true(json_object_get(rep, "cleanup_verified"));
    char *text = NULL;
    json_t *obj = NULL;
    if (!o)
        return NULL;
    o->severity = cleanup_failed || strcmp(result, "failed") == 0 ? SG_SEVERITY_CRITICAL
                  : bad                                           ? SG_SEVERITY_WARNING
                                                                  : SG_SEVERITY_INFO;
    if (sg_outcome_set(o, &o->message, summary) ||
        sg_outcome_setf(o, &o->dedup_key, "drill/%s/report", r->id) || sg_outcome_finish(o, 1))
        goto fail;
    obj = json_loads(o->json, 0, NULL);
    if (!obj || json_object_set(obj, "report", rep) != 0 ||
        !(text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER)))
        goto fail;
    free((char *)o->json);
    o->json = text;
    json_decref(obj);
    return o;
fail:
    json_decref(obj);
    sg_outcome_free(&o);
    return NULL;
}

static void s_run_free(s_run_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_items; i++) {
        free(r->items[i].test_job);
        free(r->items[i].rp_path);
        json_decref(r->items[i].steps);
    }
    free(r->items);
    json_decref(r->skipped);
    free(r->id);
    free(r->started_by);
    if (r->answers)
        zmq_close(r->answers);
    free(r);
}

/* ---- the loop side ---------------------------------------------------------------- */

/* The collection is in the drill's scope. */
static bool s_in_scope(const sg_drill_cfg_t *dc, const sg_config_t *cfg, int c)
{
    if (dc->plan == SG_DRILL_ALL)
        return true;
    if (dc->plan == SG_DRILL_SITE)
        return cfg->collections[c].site == dc->plan_site;
    for (size_t k = 0; k < dc->n_collections; k++)
        if (dc->collections[k] == c)
            return true;
    return false;
}

/* Plan order of the chosen collections: by group, dependencies first,
 * then config order. `chosen` has n entries, rewritten in place. */
static void s_plan_order(const sg_config_t *cfg, int *chosen, size_t n)
{
    for (size_t i = 1; i < n; i++) { /* stable insertion sort by group */
        int v = chosen[i];
        size_t k = i;
        while (k > 0 && cfg->collections[chosen[k - 1]].group > cfg->collections[v].group) {
            chosen[k] = chosen[k - 1];
            k--;
        }
        chosen[k] = v;
    }
    for (size_t placed = 0; placed < n; placed++) {
        for (size_t i = placed; i < n; i++) { /* the first whose dependencies are placed */
            const sg_collection_cfg_t *c = &cfg->collections[chosen[i]];
            bool ready = true;
            for (size_t k = 0; ready && k < c->n_depends_on; k++)
                for (size_t j = placed; j < n; j++)
                    ready = ready && chosen[j] != c->depends_on[k];
            if (ready) {
                int v = chosen[i];
                memmove(&chosen[placed + 1], &chosen[placed], (i - placed) * sizeof *chosen);
                chosen[placed] = v;
                break;
            }
        }
    }
}

static bool s_window_applies(const sg_window_cfg_t *w, const sg_config_t *cfg, const int *chosen,
                             size_t n)
{
    if (w->n_sites == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < w->n_sites; k++)
            if (cfg->collections[chosen[i]].site == w->sites[k] ||
                cfg->collections[chosen[i]].replica_site == w->sites[k])
                return true;
    return false;
}

static int s_refuse(char **why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_refuse(char **why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = sg_vstrdupf(fmt, ap);
    va_end(ap);
    if (why)
        *why = text;
    else
        free(text);
    return SG_ESTATE;
}

/* With an engine: every chosen collection may be tested now, by the same
 * check as the proof before each test (no site lost or contested, its sites
 * known healthy: a site not yet heard is not tested). */
static int s_sites_ready(const sg_drill_t *d, const int *chosen, size_t n, sg_now_t now,
                         char **why)
{
    for (size_t i = 0; d->engine && i < n; i++) {
        int rc = sg_engine_confirm_drill(d->engine, chosen[i], now, why);
        if (rc != SG_OK)
            return rc;
    }
    return SG_OK;
}

/* Checks the guards that keep a drill from starting. */
static int s_guards(sg_drill_t *d, const sg_drill_cfg_t *dc, const int *chosen, size_t n,
                    sg_now_t now, char **why)
{
    if (d->run)
        return s_refuse(why, "drill run %s is in progress", d->run->id);
    if (s_sites_ready(d, chosen, n, now, why) != SG_OK)
        return SG_ESTATE;
    for (size_t c = 0; d->engine && c < d->cfg->n_collections; c++) {
        if (sg_engine_collection_verdict(d->engine, (int)c) == SG_COLL_DECIDED)
            return s_refuse(why, "the failover of %s is in flight: real failover comes first",
                            d->cfg->collections[c].name);
    }
    for (size_t i = 0; dc && i < dc->n_blackout; i++) {
        const sg_window_cfg_t *w = &dc->blackout[i];
        if (sg_schedule_window_open(w, now.wall) && s_window_applies(w, d->cfg, chosen, n))
            return s_refuse(why, "blackout window open (config line %d)%s%s", w->mark.line,
                            w->reason ? ": " : "", w->reason ? w->reason : "");
    }
    if (n == 0)
        return s_refuse(why, "no collection to test");
    return SG_OK;
}

/* The collections a drill tests now; the others of its scope go to
 * `skipped` with the reason. Returns the count; *out owned. */
static int s_choose(sg_drill_t *d, const sg_drill_cfg_t *dc, int **out, size_t *n, json_t *skipped)
{
    const sg_config_t *cfg = d->cfg;
    *n = 0;
    *out = calloc(cfg->n_collections ? cfg->n_collections : 1, sizeof **out);
    if (!*out)
        return SG_ENOMEM;
    for (size_t c = 0; c < cfg->n_collections; c++) {
        if (!s_in_scope(dc, cfg, (int)c))
            continue;
        sg_coll_verdict_t v = d->engine ? sg_engine_collection_verdict(d->engine, (int)c)
                                        : SG_COLL_IDLE;
        if (v == SG_COLL_DECIDED || v == SG_COLL_DONE || v == SG_COLL_FAILED)
            json_array_append_new(skipped,
                                  json_pack("{s:s, s:s}", "collection", cfg->collections[c].name,
                                            "reason", v == SG_COLL_DECIDED
                                                          ? "a failover run is in flight"
                                                          : v == SG_COLL_DONE
                                                                ? "failed over"
                                                                : "its failover failed"));
        else
            (*out)[(*n)++] = (int)c;
    }
    s_plan_order(cfg, *out, *n);
    return SG_OK;
}

/* Builds the run for `chosen` and starts its thread. Takes `skipped`. */
static int s_launch(sg_drill_t *d, const sg_drill_cfg_t *dc, const int *chosen, size_t n,
                    json_t *skipped, const char *trigger, const char *who, sg_now_t now)
{
    s_run_t *r = calloc(1, sizeof *r);
    int rc = SG_ENOMEM;
    if (!r) {
        json_decref(skipped);
        return SG_ENOMEM;
    }
    *r = (s_run_t){.d = d, .dc = dc, .trigger = trigger, .skipped = skipped,
                   .start_mono = sg_clock_mono(d->clock), .start_wall = now.wall,
                   .epoch = d->epoch};
    r->items = calloc(n ? n : 1, sizeof *r->items);
    r->id = sg_strdupf("%s-%lld", dc ? dc->name : "recovery", (long long)now.wall);
    r->started_by = who ? strdup(who) : NULL;
    if (!r->items || !r->id || (who && !r->started_by))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        r->items[i] = (s_item_t){.coll = chosen[i], .rto_ms = -1, .rpo_ms = -1, .rp_ms = -1,
                                 .steps = json_array()};
        r->n_items++;
        if (!r->items[i].steps)
            goto fail;
    }
    snprintf(r->answers_ep, sizeof r->answers_ep, "inproc://sg-drill-%lu", sg_serial());
    int linger = 0;
    if (!(r->answers = zmq_socket(d->zctx, ZMQ_PUSH)))
        goto fail;
    zmq_setsockopt(r->answers, ZMQ_LINGER, &linger, sizeof linger);
    rc = zmq_bind(r->answers, r->answers_ep) == 0 ? SG_OK : SG_EIO;
    rc = rc ? rc : sg_journal_drill_begin(d->journal, r->id, dc ? dc->name : "recovery", now.wall);
    if (rc != SG_OK)
        goto fail;
    __atomic_store_n(&d->preempt, 0, __ATOMIC_RELEASE);
    free(d->preempt_reason);
    d->preempt_reason = NULL;
    if (pthread_create(&r->thread, NULL, s_thread, r) != 0) {
        rc = SG_EIO;
        goto fail;
    }
    d->run = r;
    sg_info(S_MOD, "%s started (%s): %zu collection(s), %zu skipped", r->id, trigger, n,
            json_array_size(skipped));
    return SG_OK;
fail:
    if (r->id)
        sg_journal_drill_end(d->journal, r->id, now.wall, "not_started", NULL);
    s_run_free(r);
    return rc;
}

static int s_start(sg_drill_t *d, size_t i, const char *trigger, const char *who, sg_now_t now,
                   char **why)
{
    const sg_drill_cfg_t *dc = &d->cfg->drills[i];
    int *chosen = NULL;
    size_t n = 0;
    json_t *skipped = json_array();
    int rc = skipped ? s_choose(d, dc, &chosen, &n, skipped) : SG_ENOMEM;
    if (rc == SG_OK)
        rc = s_guards(d, dc, chosen, n, now, why);
    if (rc == SG_OK) {
        rc = s_launch(d, dc, chosen, n, skipped, trigger, who, now);
        skipped = NULL;
    }
    json_decref(skipped);
    free(chosen);
    return rc;
}

int sg_drill_start(sg_drill_t *d, const char *name, sg_now_t now, const char *who, char **why)
{
    if (why)
        *why = NULL;
    int i = sg_config_find_drill(d->cfg, name);
    if (i < 0) {
        if (why)
            *why = sg_strdupf("no drill named '%s'", name ? name : "");
        return SG_ENOTFOUND;
    }
    return s_start(d, (size_t)i, "start", who, now, why);
}

/* Whether collection c is one of the drills left open (ids "<name>-<ms>"):
 * a test of it may have been accepted before the stop. */
static bool s_in_open_drill(const sg_drill_t *d, int c)
{
    const sg_config_t *cfg = d->cfg;
    for (size_t i = 0; i < d->n_open; i++) {
        const char *id = d->open_ids[i], *dash = strrchr(id, '-');
        for (size_t k = 0; dash && k < cfg->n_drills; k++) {
            const sg_drill_cfg_t *dc = &cfg->drills[k];
            if (strlen(dc->name) == (size_t)(dash - id) &&
                strncmp(dc->name, id, (size_t)(dash - id)) == 0 && s_in_scope(dc, cfg, c))
                return true;
        }
    }
    return false;
}

/* After a stop in the middle of a drill: reverts every collection of the
 * drills left open, and every collection found TESTING (the state value of
 * a test copy is not a fact: HYPERV.md; 32775 then means nothing to revert). */
static int s_recover(sg_drill_t *d, sg_now_t now)
{
    const sg_config_t *cfg = d->cfg;
    int *chosen = calloc(cfg->n_collections ? cfg->n_collections : 1, sizeof *chosen);
    size_t n = 0;
    if (!chosen)
        return SG_ENOMEM;
    for (size_t c = 0; c < cfg->n_collections; c++) {
        sg_coll_state_t st = SG_COLL_UNKNOWN;
        if (s_in_open_drill(d, (int)c) ||
            (sg_provider_get_state(s_side_of(d, (int)c), cfg->collections[c].cim_path, &st) ==
                 SG_OK &&
             st == SG_COLL_TESTING))
            chosen[n++] = (int)c;
    }
    for (size_t i = 0; i < d->n_open; i++)
        sg_journal_drill_end(d->journal, d->open_ids[i], now.wall, "interrupted", NULL);
    int rc = SG_OK;
    if (n > 0) {
        json_t *skipped = json_array();
        rc = skipped ? s_launch(d, NULL, chosen, n, skipped, "recovery", NULL, now) : SG_ENOMEM;
        for (size_t i = 0; rc == SG_OK && i < n; i++)
            d->run->items[i].called = true; /* a test copy exists: revert it */
    }
    free(chosen);
    return rc;
}

/* The next scheduled run of drill i after `wall`, in its time zone; -1 none. */
static int64_t s_next_run(const sg_drill_t *d, size_t i, int64_t wall)
{
    if (!d->cfg->drills[i].schedule)
        return -1;
    sg_schedule_zone_t zone = sg_tz_zone(d->zones[i]);
    return sg_schedule_next(&d->scheds[i], &zone, wall);
}

static const char *const s_results[SG_DRILL_RESULT_COUNT] = {
    "passed", "objectives_missed", "failed", "preempted", "interrupted"};

const char *sg_drill_result_name(sg_drill_result_t r)
{
    return r >= 0 && r < SG_DRILL_RESULT_COUNT ? s_results[r] : "unknown";
}

/* The result named `text`; -1 for none or an unknown one. */
static int s_result_of(const char *text)
{
    for (int r = 0; text && r < SG_DRILL_RESULT_COUNT; r++)
        if (strcmp(text, s_results[r]) == 0)
            return r;
    return -1;
}

/* When drill i should pass again: the first scheduled time after its last
 * pass, else after the first tick (d->next[i] then); -1 without a schedule. */
static void s_set_due(sg_drill_t *d, size_t i)
{
    sg_drill_status_t *st = &d->status[i];
    st->due_ms = st->last_pass_ms >= 0 ? s_next_run(d, i, st->last_pass_ms) : d->next[i];
}

/* Drill i's latest ended and latest passed runs, from the journal. */
static int s_load_history(sg_drill_t *d, size_t i)
{
    sg_drill_status_t *st = &d->status[i];
    char *result = NULL;
    int rc = sg_journal_drill_last(d->journal, st->name, NULL, &st->last_end_ms, &result);
    if (rc == SG_OK) {
        st->last_result = s_result_of(result);
        rc = sg_journal_drill_last(d->journal, st->name, "passed", &st->last_pass_ms, NULL);
    }
    free(result);
    return rc == SG_ENOTFOUND ? SG_OK : rc;
}

/* A report of drill i came: `result` at `end`. */
static void s_record(sg_drill_t *d, size_t i, const char *result, int64_t end)
{
    sg_drill_status_t *st = &d->status[i];
    st->last_result = s_result_of(result);
    st->last_end_ms = end;
    if (st->last_result == SG_DRILL_PASSED) {
        st->last_pass_ms = end;
        if (d->ticked)
            s_set_due(d, i);
    }
}

size_t sg_drill_count(const sg_drill_t *d) { return d->cfg->n_drills; }

void sg_drill_status(const sg_drill_t *d, size_t i, sg_drill_status_t *out)
{
    *out = d->status[i];
}

int sg_drill_tick(sg_drill_t *d, sg_now_t now)
{
    if (!d->ticked) {
        d->ticked = true;
        if (d->n_open > 0) {
            sg_warn(S_MOD, "%zu drill run(s) were interrupted by a stop; cleaning up", d->n_open);
            int rc = s_recover(d, now);
            if (rc != SG_OK)
                sg_error(S_MOD, "cannot clean up after interrupted drills: %s", sg_err_str(rc));
        }
        for (size_t i = 0; i < d->cfg->n_drills; i++) {
            d->next[i] = s_next_run(d, i, now.wall);
            d->at_start[i] = d->cfg->drills[i].run_at_start;
            if (d->n_open > 0 && s_load_history(d, i) != SG_OK) /* runs ended "interrupted" */
                sg_error(S_MOD, "cannot read the history of drill %s", d->cfg->drills[i].name);
            s_set_due(d, i);
        }
    }
    /* run_at_start: as soon as it may start (its sites heard and healthy) */
    for (size_t i = 0; i < d->cfg->n_drills && !d->run; i++) {
        char *why = NULL;
        if (!d->at_start[i])
            continue;
        int rc = s_start(d, i, "at_start", NULL, now, &why);
        if (rc == SG_OK || rc != SG_ESTATE)
            d->at_start[i] = false;
        if (rc != SG_OK && !d->at_start_told[i])
            sg_info(S_MOD, "drill %s not run at start yet: %s%s", d->cfg->drills[i].name,
                    why ? why : sg_err_str(rc), rc == SG_ESTATE ? " (it runs once it may)" : "");
        d->at_start_told[i] |= rc != SG_OK;
        free(why);
    }
    for (size_t i = 0; i < d->cfg->n_drills; i++) {
        if (d->next[i] < 0 || now.wall < d->next[i])
            continue;
        const sg_drill_cfg_t *dc = &d->cfg->drills[i];
        d->next[i] = s_next_run(d, i, now.wall);
        char *why = NULL;
        if (s_start(d, i, "schedule", NULL, now, &why) != SG_OK)
            sg_warn(S_MOD, "scheduled drill %s not run: %s", dc->name, why ? why : "error");
        free(why);
    }
    return SG_OK;
}

bool sg_drill_running(const sg_drill_t *d) { return d->run != NULL; }

void sg_drill_preempt(sg_drill_t *d, const char *reason)
{
    if (!d->run || s_flag(&d->preempt))
        return;
    free(d->preempt_reason);
    d->preempt_reason = reason ? strdup(reason) : NULL;
    __atomic_store_n(&d->preempt, 1, __ATOMIC_RELEASE);
    sg_warn(S_MOD, "%s pre-empted%s%s: cleaning up before any failover", d->run->id,
            reason ? ": " : "", reason ? reason : "");
}

void *sg_drill_socket(sg_drill_t *d) { return d->results; }

void sg_drill_set_fence(sg_drill_t *d, sg_drill_fence_fn fn, void *user)
{
    d->fence = fn;
    d->fence_user = user;
}

void sg_drill_set_epoch(sg_drill_t *d, uint64_t epoch) { d->epoch = epoch; }

/* Answers a drill thread's proof request: no pre-emption, and the engine's
 * sg_engine_confirm_drill (no engine: no check). */
static void s_answer_proof(sg_drill_t *d, const s_msg_t *m)
{
    char *why = NULL;
    int rc = SG_OK;
    if (s_flag(&d->preempt)) {
        rc = SG_ESTATE;
        why = strdup("the drill is pre-empted by a real failover");
    } else if (d->engine) {
        sg_now_t now = {sg_clock_mono(d->clock), sg_clock_wall(d->clock)};
        rc = sg_engine_confirm_drill(d->engine, m->coll, now, &why);
    }
    if (sg_reply_send(m->run->answers, rc, why) != SG_OK)
        sg_error(S_MOD, "%s: cannot answer a proof request", m->run->id);
}

int sg_drill_recv(sg_drill_t *d, sg_outcome_t **report, int timeout_ms)
{
    *report = NULL;
    s_msg_t m;
    for (;;) {
        zmq_pollitem_t it = {.socket = d->results, .events = ZMQ_POLLIN};
        int n = zmq_poll(&it, 1, timeout_ms);
        if (n <= 0)
            return n < 0 && zmq_errno() != EINTR ? SG_EIO : 0;
        if (zmq_recv(d->results, &m, sizeof m, 0) != (int)sizeof m || !m.run)
            return SG_EIO;
        if (m.kind == S_MSG_REPORT)
            break;
        s_answer_proof(d, &m);
    }
    s_run_t *r = m.run;
    pthread_join(r->thread, NULL);
    d->run = NULL;
    int64_t end = sg_clock_wall(d->clock);
    const char *result = "failed";
    char *summary = NULL, *text = NULL;
    json_t *rep = s_report(r, end, &result, &summary);
    int rc = rep && summary && (text = json_dumps(rep, JSON_COMPACT | JSON_PRESERVE_ORDER))
                 ? SG_OK
                 : SG_ENOMEM;
    if (rc == SG_OK && sg_journal_drill_end(d->journal, r->id, end, result, text) != SG_OK)
        sg_error(S_MOD, "cannot journal the report of %s", r->id);
    if (r->dc)
        s_record(d, (size_t)(r->dc - d->cfg->drills), result, end);
    if (rc == SG_OK && !(*report = s_outcome(r, rep, result, summary, end)))
        rc = SG_ENOMEM;
    if (rc == SG_OK)
        sg_log(strcmp(result, "passed") == 0 ? SG_LOG_INFO : SG_LOG_WARN, S_MOD, "%s", summary);
    else
        sg_error(S_MOD, "out of memory reporting %s", r->id);
    free(text);
    free(summary);
    json_decref(rep);
    s_run_free(r);
    return rc == SG_OK ? 1 : rc;
}

char *sg_drill_report_json(sg_drill_t *d, const char *id)
{
    char *text = NULL;
    return sg_journal_drill_report(d->journal, id, &text) == SG_OK ? text : NULL;
}

int sg_drill_history_json(sg_drill_t *d, const char *name, size_t limit, char **out)
{
    char **reports = NULL;
    size_t n = 0, len = 2;
    *out = NULL;
    int rc = sg_journal_drill_reports(d->journal, name, limit, &reports, &n);
    for (size_t i = 0; rc == SG_OK && i < n; i++)
        len += strlen(reports[i]) + 1;
    char *text = rc == SG_OK ? malloc(len + 1) : NULL;
    if (rc == SG_OK && !text)
        rc = SG_ENOMEM;
    if (text) { /* the reports are JSON objects already: joined into an array */
        size_t at = 0;
        text[at++] = '[';
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(reports[i]);
            if (i)
                text[at++] = ',';
            memcpy(text + at, reports[i], l);
            at += l;
        }
        text[at++] = ']';
        text[at] = '\0';
        *out = text;
    }
    for (size_t i = 0; i < n; i++)
        free(reports[i]);
    free(reports);
    return rc;
}

int64_t sg_drill_next_run(const sg_drill_t *d, size_t i)
{
    return d->ticked && i < d->cfg->n_drills ? d->next[i] : -1;
}

sg_drill_t *sg_drill_new(void *zctx, const sg_config_t *cfg, sg_provider_t *provider,
                         const sg_clock_t *clock, sg_journal_t *journal,
                         const sg_engine_t *engine)
{
    sg_drill_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    *d = (sg_drill_t){.zctx = zctx, .cfg = cfg, .provider = provider, .clock = clock,
                      .journal = journal, .engine = engine};
    size_t n = cfg->n_drills ? cfg->n_drills : 1;
    d->scheds = calloc(n, sizeof *d->scheds);
    d->next = calloc(n, sizeof *d->next);
    d->zones = calloc(n, sizeof *d->zones);
    d->at_start = calloc(n, sizeof *d->at_start);
    d->at_start_told = calloc(n, sizeof *d->at_start_told);
    d->status = calloc(n, sizeof *d->status);
    if (!d->scheds || !d->next || !d->zones || !d->at_start || !d->at_start_told || !d->status)
        goto fail;
    for (size_t i = 0; i < cfg->n_drills; i++) {
        const char *tz = cfg->drills[i].timezone ? cfg->drills[i].timezone : "UTC";
        d->next[i] = -1;
        d->status[i] = (sg_drill_status_t){.name = cfg->drills[i].name, .last_result = -1,
                                           .last_end_ms = -1, .last_pass_ms = -1, .due_ms = -1};
        if (s_load_history(d, i) != SG_OK)
            goto fail;
        if (cfg->drills[i].schedule &&
            sg_schedule_parse(cfg->drills[i].schedule, &d->scheds[i], NULL) != SG_OK)
            goto fail; /* the config checked it: out of memory */
        if (sg_tz_open(tz, &d->zones[i]) != SG_OK)
            goto fail; /* the config checked it too */
    }
    if (sg_journal_drills_open(journal, &d->open_ids, &d->n_open) != SG_OK)
        goto fail;
    snprintf(d->results_ep, sizeof d->results_ep, "inproc://sg-drill-%lu", sg_serial());
    int linger = 0;
    d->results = zmq_socket(zctx, ZMQ_PULL);
    if (!d->results)
        goto fail;
    zmq_setsockopt(d->results, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(d->results, d->results_ep) != 0)
        goto fail;
    return d;
fail:
    sg_error(S_MOD, "cannot start the drill runner");
    sg_drill_destroy(&d);
    return NULL;
}

void sg_drill_destroy(sg_drill_t **dp)
{
    if (!dp || !*dp)
        return;
    sg_drill_t *d = *dp;
    if (d->run) {
        __atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
        pthread_join(d->run->thread, NULL);
        sg_warn(S_MOD, "%s stopped unfinished; its test copies are cleaned up at the next start",
                d->run->id);
        s_run_free(d->run);
    }
    if (d->results)
        zmq_close(d->results);
    for (size_t i = 0; i < d->n_open; i++)
        free(d->open_ids[i]);
    free(d->open_ids);
    for (size_t i = 0; d->zones && i < d->cfg->n_drills; i++)
        sg_tz_close(&d->zones[i]);
    free(d->zones);
    free(d->scheds);
    free(d->next);
    free(d->at_start);
    free(d->at_start_told);
    free(d->status);
    free(d->preempt_reason);
    free(d);
    *dp = NULL;
}
