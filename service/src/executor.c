#include "executor.h"
#include "err.h"
#include "log.h"
#include "outcome.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_MOD "executor"
#define S_SLICE_MS 50 /* a worker checks for stop at least this often while waiting */

typedef struct {
    uint64_t run_id;
    int collection;
    int failed_dependency; /* index of a dependency whose run failed, or -1 */
} s_run_t;

/* Where each collection stands in the executor's plan. */
typedef struct {
    bool queued;  /* waiting for its turn */
    bool running; /* handed to a worker */
    int result;   /* of its last run: 0 none, 1 failed over, -1 failed */
} s_plan_t;

/* A message from a worker to the loop thread, passed by pointer. */
typedef struct {
    int worker;
    bool idle; /* the worker finished its run and can take another */
    sg_exec_result_t result;
} s_msg_t;

typedef struct s_worker s_worker_t;

struct sg_executor {
    void *zctx;
    const sg_config_t *cfg;
    sg_provider_t *provider;
    const sg_clock_t *clock;
    void *results; /* PULL, bound */
    char results_ep[64];
    s_worker_t *workers;
    int n_workers;
    s_run_t *pending; /* runs waiting for a worker, in submission order */
    size_t p_cap, p_len;
    s_plan_t *plan; /* per collection */
    int active; /* runs queued or in progress */
    int stop; /* read by workers with __atomic loads */
};

struct s_worker {
    sg_executor_t *x;
    int index;
    pthread_t thread;
    bool started;
    bool busy;
    void *jobs; /* PUSH, bound, owned by the loop thread */
    char jobs_ep[64];
};

/* ---- worker side ------------------------------------------------------------ */

typedef struct {
    s_worker_t *w;
    void *out; /* PUSH to the loop, owned by the worker thread */
    s_run_t run;
    const sg_collection_cfg_t *coll;
    int attempt;
    char *job_path;
    int64_t started_ms;
} s_ctx_t;

static bool s_stopping(const sg_executor_t *x) { return __atomic_load_n(&x->stop, __ATOMIC_ACQUIRE); }

/* Sleeps `ms` on the clock in slices; false when a stop came meanwhile. */
static bool s_wait(const sg_executor_t *x, int64_t ms)
{
    while (ms > 0 && !s_stopping(x)) {
        int64_t slice = ms < S_SLICE_MS ? ms : S_SLICE_MS;
        sg_clock_sleep(x->clock, slice);
        ms -= slice;
    }
    return !s_stopping(x);
}

static int s_send_ptr(void *sock, void *ptr)
{
    return zmq_send(sock, &ptr, sizeof ptr, 0) == (int)sizeof ptr ? SG_OK : SG_EIO;
}

static void s_send_msg(s_ctx_t *c, s_msg_t *m)
{
    if (s_send_ptr(c->out, m) != SG_OK) {
        sg_error(S_MOD, "worker %d: cannot pass a result to the loop: %s", c->w->index,
                 zmq_strerror(zmq_errno()));
        sg_outcome_free(&m->result.outcome);
        free(m);
    }
}

/* Builds and sends one outcome of the run in `c`. */
static void s_report(s_ctx_t *c, sg_outcome_kind_t kind, bool ended, bool failed_over,
                     const sg_job_status_t *js, uint32_t rv, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void s_report(s_ctx_t *c, sg_outcome_kind_t kind, bool ended, bool failed_over,
                     const sg_job_status_t *js, uint32_t rv, const char *fmt, ...)
{
    const sg_executor_t *x = c->w->x;
    const sg_config_t *cfg = x->cfg;
    sg_outcome_t *o = sg_outcome_new(kind, sg_clock_wall(x->clock));
    s_msg_t *m = calloc(1, sizeof *m);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!o || !m)
        goto fail;
    o->run_id = c->run.run_id;
    o->attempt = c->attempt;
    o->return_value = rv;
    if (js) {
        o->percent = js->percent_complete;
        o->job_state = js->job_state;
        o->error_code = js->error_code;
    }
    if (sg_outcome_set(o, &o->site, cfg->sites[c->coll->site].name) ||
        sg_outcome_set(o, &o->replica_site, cfg->sites[c->coll->replica_site].name) ||
        sg_outcome_set(o, &o->collection, c->coll->name) ||
        sg_outcome_set(o, &o->cim_path, c->coll->cim_path) ||
        sg_outcome_set(o, &o->job_path, c->job_path) || sg_outcome_set(o, &o->message, msg))
        goto fail;
    if (kind == SG_OUTCOME_PROGRESS && !js &&
        sg_outcome_setf(o, &o->dedup_key, "%llu/%s/retry/%d", (unsigned long long)o->run_id,
                        c->coll->name, c->attempt))
        goto fail;
    if (sg_outcome_finish(o, 0) != SG_OK)
        goto fail;
    m->worker = c->w->index;
    m->result = (sg_exec_result_t){.outcome = o,
                                   .collection = c->run.collection,
                                   .run_id = c->run.run_id,
                                   .ended = ended,
                                   .failed_over = failed_over};
    s_send_msg(c, m);
    return;
fail:
    sg_error(S_MOD, "out of memory reporting '%s' for %s", msg, c->coll->name);
    sg_outcome_free(&o);
    free(m);
}

static double s_secs(const s_ctx_t *c)
{
    return (sg_clock_mono(c->w->x->clock) - c->started_ms) / 1000.0;
}

/* Next poll delay: aimed at the estimated end once progress is known. */
static int64_t s_next_delay(const sg_provider_cfg_t *pc, int64_t delay, int percent,
                            int64_t elapsed)
{
    int64_t next;
    if (percent > 0 && percent < 100 && elapsed > 0)
        next = elapsed * (100 - percent) / percent;
    else
        next = delay * 2;
    if (next < pc->poll_initial_ms)
        next = pc->poll_initial_ms;
    if (next > pc->poll_max_ms)
        next = pc->poll_max_ms;
    return next;
}

/* Follows the job in c->job_path to its end, reporting progress. */
static void s_follow_job(s_ctx_t *c)
{
    sg_executor_t *x = c->w->x;
    const sg_provider_cfg_t *pc = &x->cfg->provider;
    int64_t job_start = sg_clock_mono(x->clock);
    int64_t deadline = job_start + pc->job_timeout_ms;
    int64_t delay = pc->poll_initial_ms;
    int last_percent = -1, read_errors = 0;
    for (;;) {
        int64_t now = sg_clock_mono(x->clock);
        int64_t wait = delay < deadline - now ? delay : deadline - now;
        if (!s_wait(x, wait))
            return;
        sg_job_status_t js = {0};
        int rc = sg_provider_get_job(x->provider, c->job_path, &js);
        now = sg_clock_mono(x->clock);
        if (rc == SG_OK && sg_job_state_ended(js.job_state)) {
            if (js.job_state == SG_JOB_COMPLETED)
                s_report(c, SG_OUTCOME_SUCCEEDED, true, true, &js, SG_RC_JOB_STARTED,
                         "%s failed over to %s in %.1f s", c->coll->name,
                         x->cfg->sites[c->coll->replica_site].name, s_secs(c));
            else
                s_report(c, SG_OUTCOME_FAILED, true, false, &js, SG_RC_JOB_STARTED,
                         "failover job of %s ended %s with error %u: %s", c->coll->name,
                         sg_job_state_text(js.job_state), js.error_code,
                         js.error_description ? js.error_description : "no description");
            sg_job_status_fini(&js);
            return;
        }
        if (rc == SG_OK && js.percent_complete != last_percent) {
            last_percent = js.percent_complete;
            s_report(c, SG_OUTCOME_PROGRESS, false, false, &js, SG_RC_JOB_STARTED,
                     "%s: job %s, %d%%", c->coll->name, sg_job_state_text(js.job_state),
                     js.percent_complete);
        } else if (rc != SG_OK && read_errors++ % 10 == 0) {
            sg_warn(S_MOD, "%s: cannot read job %s: %s", c->coll->name, c->job_path,
                    sg_err_str(rc));
        }
        sg_job_status_fini(&js);
        if (now >= deadline) {
            s_report(c, SG_OUTCOME_TIMED_OUT, true, false, NULL, SG_RC_JOB_STARTED,
                     "failover job of %s did not end within %.1f s (last at %d%%)",
                     c->coll->name, pc->job_timeout_ms / 1000.0, last_percent);
            return;
        }
        delay = s_next_delay(pc, delay, last_percent, now - job_start);
    }
}

/* Handles "Invalid state": done if the collection is already failed over. */
static void s_on_invalid_state(s_ctx_t *c)
{
    sg_coll_state_t st = SG_COLL_UNKNOWN;
    int rc = sg_provider_get_state(c->w->x->provider, c->coll->cim_path, &st);
    if (rc == SG_OK && (st == SG_COLL_FAILED_OVER || st == SG_COLL_COMMITTED))
        s_report(c, SG_OUTCOME_SUCCEEDED, true, true, NULL, SG_RC_INVALID_STATE,
                 "%s is already failed over (state %s)", c->coll->name, sg_coll_state_text(st));
    else
        s_report(c, SG_OUTCOME_FAILED, true, false, NULL, SG_RC_INVALID_STATE,
                 "InitiateFailover on %s returned 32775 (%s); collection state is %s",
                 c->coll->name, sg_rc_text(SG_RC_INVALID_STATE), sg_coll_state_text(st));
}

static void s_run(s_ctx_t *c, int failed_dependency)
{
    sg_executor_t *x = c->w->x;
    const sg_provider_cfg_t *pc = &x->cfg->provider;
    int64_t backoff = pc->poll_initial_ms;
    c->started_ms = sg_clock_mono(x->clock);
    if (failed_dependency >= 0) {
        s_report(c, SG_OUTCOME_FAILED, true, false, NULL, 0,
                 "failover of %s not started: it depends on %s, whose failover failed",
                 c->coll->name, x->cfg->collections[failed_dependency].name);
        return;
    }
    for (c->attempt = 1;; c->attempt++) {
        sg_call_result_t res = {0};
        int rc = sg_provider_call(x->provider, SG_METHOD_INITIATE_FAILOVER, c->coll->cim_path,
                                  NULL, &res);
        uint32_t rv = rc == SG_OK ? res.return_value : SG_RC_SYSTEM_NOT_AVAILABLE;
        if (rc == SG_OK && rv == SG_RC_JOB_STARTED && res.job_path) {
            c->job_path = res.job_path;
            res.job_path = NULL;
            s_report(c, SG_OUTCOME_JOB_STARTED, false, false, NULL, rv,
                     "InitiateFailover on %s accepted (attempt %d): following job", c->coll->name,
                     c->attempt);
            s_follow_job(c);
        } else if (rc == SG_OK && rv == SG_RC_COMPLETED) {
            s_report(c, SG_OUTCOME_SUCCEEDED, true, true, NULL, rv,
                     "%s failed over to %s (completed synchronously)", c->coll->name,
                     x->cfg->sites[c->coll->replica_site].name);
        } else if (rv == SG_RC_INVALID_STATE) {
            s_on_invalid_state(c);
        } else if (sg_rc_retryable(rv) && c->attempt < pc->max_attempts) {
            s_report(c, SG_OUTCOME_PROGRESS, false, false, NULL, rv,
                     "InitiateFailover on %s returned %u (%s)%s%s; retrying in %.1f s (attempt "
                     "%d of %d)",
                     c->coll->name, rv, sg_rc_text(rv), rc ? ": " : "", rc ? sg_err_str(rc) : "",
                     backoff / 1000.0, c->attempt, pc->max_attempts);
            sg_call_result_fini(&res);
            if (!s_wait(x, backoff))
                return;
            backoff = backoff * 2 < pc->poll_max_ms ? backoff * 2 : pc->poll_max_ms;
            continue;
        } else {
            s_report(c, SG_OUTCOME_FAILED, true, false, NULL, rv,
                     "InitiateFailover on %s returned %u (%s)%s after %d attempt(s)",
                     c->coll->name, rv, sg_rc_text(rv),
                     sg_rc_retryable(rv) ? "" : ", which is not retryable", c->attempt);
        }
        sg_call_result_fini(&res);
        return;
    }
}

static void *s_worker_main(void *arg)
{
    s_worker_t *w = arg;
    sg_executor_t *x = w->x;
    void *jobs = zmq_socket(x->zctx, ZMQ_PULL);
    void *out = zmq_socket(x->zctx, ZMQ_PUSH);
    int linger = 0;
    if (!jobs || !out || zmq_connect(jobs, w->jobs_ep) != 0 ||
        zmq_connect(out, x->results_ep) != 0) {
        sg_error(S_MOD, "worker %d: cannot set up sockets: %s", w->index,
                 zmq_strerror(zmq_errno()));
        goto done;
    }
    zmq_setsockopt(out, ZMQ_LINGER, &linger, sizeof linger);
    for (;;) {
        s_run_t *run = NULL;
        int n = zmq_recv(jobs, &run, sizeof run, 0);
        if (n != (int)sizeof run || !run)
            break; /* NULL is the stop message */
        if (s_stopping(x)) {
            free(run); /* handed over as the stop came: never started */
            break;
        }
        s_ctx_t c = {.w = w, .out = out, .run = *run, .coll = &x->cfg->collections[run->collection]};
        int failed_dependency = run->failed_dependency;
        free(run);
        s_run(&c, failed_dependency);
        free(c.job_path);
        s_msg_t *idle = calloc(1, sizeof *idle);
        if (idle) {
            idle->worker = w->index;
            idle->idle = true;
            s_send_msg(&c, idle);
        }
    }
done:
    if (jobs)
        zmq_close(jobs);
    if (out)
        zmq_close(out);
    return NULL;
}

/* ---- loop side ------------------------------------------------------------ */

static int s_bind(void *zctx, int type, const char *ep, void **out)
{
    void *s = zmq_socket(zctx, type);
    int linger = 0;
    if (!s)
        return SG_EIO;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(s, ep) != 0) {
        zmq_close(s);
        return SG_EIO;
    }
    *out = s;
    return SG_OK;
}

sg_executor_t *sg_executor_new(void *zctx, const sg_config_t *cfg, sg_provider_t *provider,
                               const sg_clock_t *clock)
{
    sg_executor_t *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    *x = (sg_executor_t){.zctx = zctx, .cfg = cfg, .provider = provider, .clock = clock};
    x->n_workers = cfg->provider.workers > 0 ? cfg->provider.workers : 1;
    x->workers = calloc((size_t)x->n_workers, sizeof *x->workers);
    x->plan = calloc(cfg->n_collections ? cfg->n_collections : 1, sizeof *x->plan);
    if (!x->workers || !x->plan)
        goto fail;
    snprintf(x->results_ep, sizeof x->results_ep, "inproc://sg-exec-%p-out", (void *)x);
    if (s_bind(zctx, ZMQ_PULL, x->results_ep, &x->results) != SG_OK)
        goto fail;
    for (int i = 0; i < x->n_workers; i++) {
        s_worker_t *w = &x->workers[i];
        w->x = x;
        w->index = i;
        snprintf(w->jobs_ep, sizeof w->jobs_ep, "inproc://sg-exec-%p-w%d", (void *)x, i);
        if (s_bind(zctx, ZMQ_PUSH, w->jobs_ep, &w->jobs) != SG_OK)
            goto fail;
        if (pthread_create(&w->thread, NULL, s_worker_main, w) != 0)
            goto fail;
        w->started = true;
    }
    sg_info(S_MOD, "%d worker(s) ready", x->n_workers);
    return x;
fail:
    sg_error(S_MOD, "cannot start: %s", zmq_strerror(zmq_errno()));
    sg_executor_destroy(&x);
    return NULL;
}

/* True when a run of `c` may start now: no run of an earlier plan group of
 * the same site and no run of a dependency is queued or running. Sets
 * *failed_dep when a dependency's last run failed. */
static bool s_ready(const sg_executor_t *x, int c, int *failed_dep)
{
    const sg_collection_cfg_t *cc = &x->cfg->collections[c];
    *failed_dep = -1;
    for (size_t i = 0; i < x->cfg->n_collections; i++) {
        const sg_collection_cfg_t *o = &x->cfg->collections[i];
        bool active = x->plan[i].queued || x->plan[i].running;
        if (active && (int)i != c && o->site == cc->site && o->group < cc->group)
            return false;
    }
    for (size_t k = 0; k < cc->n_depends_on; k++) {
        int d = cc->depends_on[k];
        if (x->plan[d].queued || x->plan[d].running)
            return false;
        if (x->plan[d].result < 0 && *failed_dep < 0)
            *failed_dep = d;
    }
    return true;
}

static int s_idle_worker(const sg_executor_t *x)
{
    for (int i = 0; i < x->n_workers; i++) {
        if (!x->workers[i].busy)
            return i;
    }
    return -1;
}

/* Hands ready runs, oldest first, to idle workers. */
static int s_dispatch(sg_executor_t *x)
{
    size_t i = 0;
    int w;
    while (i < x->p_len && (w = s_idle_worker(x)) >= 0) {
        s_run_t *run = &x->pending[i];
        int failed_dep;
        if (!s_ready(x, run->collection, &failed_dep)) {
            i++;
            continue;
        }
        s_run_t *msg = malloc(sizeof *msg);
        if (!msg)
            return SG_ENOMEM;
        *msg = *run;
        msg->failed_dependency = failed_dep;
        if (s_send_ptr(x->workers[w].jobs, msg) != SG_OK) {
            free(msg);
            return SG_EIO;
        }
        x->plan[run->collection].queued = false;
        x->plan[run->collection].running = true;
        x->workers[w].busy = true;
        memmove(run, run + 1, (x->p_len - i - 1) * sizeof *run);
        x->p_len--;
    }
    return SG_OK;
}

int sg_executor_submit(sg_executor_t *x, uint64_t run_id, int collection)
{
    if (collection < 0 || (size_t)collection >= x->cfg->n_collections)
        return SG_EINVAL;
    if (x->plan[collection].queued || x->plan[collection].running)
        return SG_ESTATE;
    if (x->p_len == x->p_cap) {
        size_t cap = x->p_cap ? x->p_cap * 2 : 16;
        s_run_t *p = realloc(x->pending, cap * sizeof *p);
        if (!p)
            return SG_ENOMEM;
        x->pending = p;
        x->p_cap = cap;
    }
    x->pending[x->p_len++] = (s_run_t){run_id, collection, -1};
    x->plan[collection].queued = true;
    x->active++;
    return s_dispatch(x);
}

void *sg_executor_socket(sg_executor_t *x) { return x->results; }

int sg_executor_active(const sg_executor_t *x) { return x->active; }

int sg_executor_recv(sg_executor_t *x, sg_exec_result_t *out, int timeout_ms)
{
    for (;;) {
        zmq_pollitem_t it = {.socket = x->results, .events = ZMQ_POLLIN};
        int n = zmq_poll(&it, 1, timeout_ms);
        if (n < 0)
            return zmq_errno() == EINTR ? 0 : SG_EIO;
        if (n == 0)
            return 0;
        s_msg_t *m = NULL;
        if (zmq_recv(x->results, &m, sizeof m, 0) != (int)sizeof m || !m)
            return SG_EIO;
        if (m->idle) {
            x->workers[m->worker].busy = false;
            free(m);
            int rc = s_dispatch(x);
            if (rc != SG_OK)
                return rc;
            continue;
        }
        *out = m->result;
        if (out->ended) {
            x->active--;
            x->plan[out->collection].running = false;
            x->plan[out->collection].result = out->failed_over ? 1 : -1;
        }
        free(m);
        if (out->ended) {
            int rc = s_dispatch(x); /* the plan may have moved on */
            if (rc != SG_OK)
                sg_error(S_MOD, "cannot hand out queued runs: %s", sg_err_str(rc));
        }
        return 1;
    }
}

static void s_drain_results(sg_executor_t *x)
{
    s_msg_t *m = NULL;
    while (zmq_recv(x->results, &m, sizeof m, ZMQ_DONTWAIT) == (int)sizeof m) {
        if (m)
            sg_outcome_free(&m->result.outcome);
        free(m);
    }
}

void sg_executor_destroy(sg_executor_t **xp)
{
    if (!xp || !*xp)
        return;
    sg_executor_t *x = *xp;
    __atomic_store_n(&x->stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; x->workers && i < x->n_workers; i++) {
        s_worker_t *w = &x->workers[i];
        if (w->started) {
            void *stop = NULL;
            zmq_send(w->jobs, &stop, sizeof stop, 0);
        }
    }
    for (int i = 0; x->workers && i < x->n_workers; i++) {
        s_worker_t *w = &x->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        if (w->jobs)
            zmq_close(w->jobs);
    }
    if (x->results) {
        s_drain_results(x);
        zmq_close(x->results);
    }
    free(x->workers);
    free(x->pending);
    free(x->plan);
    free(x);
    *xp = NULL;
}
