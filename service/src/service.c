#include "service.h"
#include "ingress/bus.h"
#include "ingress/evage.h"
#include "control/control.h"
#include "drill/drill.h"
#include "act/lifecycle.h"
#include "journal/steps.h"
#include "base/err.h"
#include "act/executor.h"
#include "act/heldruns.h"
#include "act/recovery.h"
#include "journal/announce.h"
#include "journal/flap.h"
#include "journal/journal.h"
#include "leader/leader.h"
#include "base/log.h"
#include "control/metrics.h"
#include "control/statuspage.h"
#include "notify/notify.h"
#include "journal/opstate.h"
#include "journal/outcome.h"
#include "journal/retention.h"
#include "platform/platform.h"
#include "policy/engine.h"
#include "provider/factory.h"

#include "control/reload.h"
#include "control/sdnotify.h"
#include "control/zap.h"

#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_MOD "service"
#define S_MAX_WAIT_MS 250      /* the loop wakes at least this often */
#define S_BUS_BATCH 4096       /* messages read per wake-up before other work */
#define S_RESULTS_PER_TURN 1024 /* workers' results handled per turn before other work */
#define S_DECISIONS_PER_TURN 256 /* decisions journaled and started per turn */
#define S_WORK_BUDGET_US 3000  /* results, and decisions, handled per turn at most this long
                                  (then committed), so the bus is read every few ms */
#define S_STATS_EVERY_MS 60000 /* counters logged this often */
#define S_METRICS_EVERY_MS 1000 /* the /metrics text is rendered this often */
#define S_OPSTATE_EVERY_MS 1000 /* the engine's own changes of operator state are saved this
                                   often; an operator's at once */
#define S_DEFAULT_METRICS "127.0.0.1:9464"
#define S_EVAGE_WINDOW_MS 60000 /* an event's age is measured above its observer's least
                                   delay over the last one to two minutes */

/* Control, metrics, reload and systemd: the operator's side of the loop. */
typedef struct {
    sg_control_t *control;
    sg_metrics_t *metrics;
    sg_statuspage_t *page; /* the status page beside /metrics; NULL: none */
    sg_config_t **reloaded; /* configs loaded by reloads, owned, freed at stop */
    size_t n_reloaded;
    uint64_t decisions[SG_METRICS_N_DECISION_KINDS];
    uint64_t blocked[SG_GUARD_COUNT];
    int64_t *run_started; /* per collection: mono of its decision, 0: none */
    int64_t *decided_at;  /* per collection: mono of a fresh decision not yet called, 0: none */
    int64_t *decided_by_us; /* per collection: mono us of the event (or tick) behind the
                               engine's fresh decision not yet called, 0: none */
    int64_t heard_us;       /* mono us: the first event taken this turn, 0: none */
    int64_t tick_by_us;     /* mono us: behind the queued decisions, the first event of their
                               tick's turn, else the tick (a tick with some still queued keeps
                               it: a storm's are counted from what decided the first) */
    sg_metrics_hist_t run_seconds, event_age, loop_turn, decision_to_call, event_to_call;
    sg_evage_t evage;     /* per observer: the base of an event's age */
    sg_loop_stats_t loop; /* turns and the longest, for status */
    /* the metrics snapshot's arrays, per site, collection, observer */
    sg_site_state_t *m_site;
    bool *m_flapping;
    sg_coll_verdict_t *m_verdict;
    int64_t *m_skew;
    bool *m_skew_known;
    uint64_t reloads_ok, reloads_refused;
    int64_t next_metrics, watchdog_every, next_watchdog;
} s_ops_t;

typedef struct {
    sg_config_t *cfg; /* in force: the caller's or a reload's; directions change (reverse) */
    sg_config_t *first_cfg; /* the caller's, which the executor and the drill runner keep
                               across reloads */
    const sg_clock_t *clock;
    void *zctx;
    sg_zap_t *zap; /* the context's one ZAP handler: bus and control domains; NULL: no CURVE */
    sg_provider_t *provider;
    sg_notify_t *notify;
    sg_executor_t *executor;
    sg_bus_t *bus;
    sg_engine_t *engine;
    sg_journal_t *journal;
    sg_retention_t *retention; /* its thread removes what the journal no longer needs */
    uint64_t decisions, runs_ok, runs_failed, runs_cancelled;
    uint64_t opstate_saved; /* the engine's operator-state generation last saved */
    int64_t opstate_next;   /* mono: the next save of the engine's own changes */
    char *opstate_unshared; /* owned: saved in a batch, to be put in etcd once committed */
    s_ops_t ops;
    sg_drill_t *drill;
    sg_lifecycle_t *lifecycle; /* commit, revert, reverse, points (lifecycle.h) */
    int64_t *commit_due;       /* per collection: mono ms of its policy commit; 0: none */
    int64_t commit_next;       /* the earliest of them; INT64_MAX: none */
    sg_leader_t *leader;
    bool led;             /* has led since the start: the journal was replayed */
    uint64_t runs_fenced; /* runs not called: this instance no longer led */
    bool batching;         /* a journal batch is open */
    bool wake_after_batch; /* sinks to wake when it commits */
    sg_heldruns_t held; /* failover runs decided while a drill runs (heldruns.h) */
    sg_flap_t *flap;    /* which site changes the sinks hear: flapping (flap.h) */
} s_svc_t;

static sg_now_t s_now(const s_svc_t *s)
{
    return (sg_now_t){sg_clock_mono(s->clock), sg_clock_wall(s->clock)};
}

/* What crash recovery (recovery.h) restores into, with the config in force. */
static sg_recovery_env_t s_recovery_env(const s_svc_t *s)
{
    return (sg_recovery_env_t){.cfg = s->cfg,
                               .clock = s->clock,
                               .engine = s->engine,
                               .executor = s->executor,
                               .journal = s->journal};
}

/* Submits a decided failover run (`point`: its own recovery point, or
 * NULL), or holds it while a drill runs. */
static int s_submit_run(s_svc_t *s, const sg_decision_t *d)
{
    int collection = d->collection;
    sg_run_spec_t spec = {
        .run_id = d->run_id,
        .collection = collection,
        .point = d->point,
        .forced = d->origin == SG_ORIGIN_FORCED,
        .heard_ms = sg_engine_site_heard_wall(s->engine, s->cfg->collections[collection].site,
                                              s_now(s))};
    if (!s->drill || !sg_drill_running(s->drill))
        return sg_executor_submit_run(s->executor, &spec);
    int rc = sg_heldruns_add(&s->held, &spec);
    if (rc == SG_OK)
        sg_info(S_MOD, "failover of %s waits for the drill's cleanup",
                s->cfg->collections[collection].name);
    return rc;
}

/* Hands the held runs to the executor once no drill runs. */
static void s_release_held(s_svc_t *s)
{
    if (!sg_drill_running(s->drill))
        sg_heldruns_submit(&s->held, s->executor, s->cfg);
}

/* The outcome is in the journal's outcome log (the sinks' outbox): wake the
 * sinks. When the journal refused it (`journaled` false), notify is asked to
 * put it in the log through its own connection, a second chance. */
static void s_notify(s_svc_t *s, sg_outcome_t *o, bool added, bool journaled)
{
    if (journaled && added && s->batching)
        s->wake_after_batch = true; /* the sinks may read it once committed */
    else if (journaled && added)
        sg_notify_wake(s->notify);
    else if (!journaled && sg_notify_post(s->notify, o) != SG_OK)
        sg_error(S_MOD, "cannot queue outcome %s for the sinks", o->dedup_key);
}

/* Appends the outcome to the journal's outcome log, then posts it. A
 * journal failure is logged and the outcome still goes out. */
static void s_post(s_svc_t *s, sg_outcome_t *o)
{
    bool added = true, journaled = true;
    if (sg_journal_outcome(s->journal, o, &added) != SG_OK) {
        sg_error(S_MOD, "cannot journal outcome %s", o->dedup_key);
        journaled = false;
    }
    sg_statuspage_outcome(s->ops.page, o); /* a drill's report */
    s_notify(s, o, added, journaled);
}

/* The same for a run's step: its job path and end go in with the outcome. */
static void s_post_step(s_svc_t *s, const sg_exec_result_t *r)
{
    sg_outcome_t *o = r->outcome;
    bool added = true, journaled = true;
    bool ended = r->ended && !r->fenced; /* a fenced run stays open for the leader */
    int64_t now = sg_clock_wall(s->clock);
    int rc = r->cancelled ? sg_journal_run_cancelled(s->journal, r->run_id, now, o, &added)
                          : sg_journal_run_step(s->journal, r->run_id, o->job_path, ended,
                                                r->failed_over, now, o, &added);
    if (rc != SG_OK) {
        sg_error(S_MOD, "cannot journal outcome %s", o->dedup_key);
        journaled = false;
    }
    sg_statuspage_step(s->ops.page, &(sg_feed_step_t){r->collection, r->run_id, o, ended,
                                                      r->failed_over, r->cancelled, now});
    s_notify(s, o, added, journaled);
}

static void s_read_bus(s_svc_t *s);

/* A fresh decision's first call is about to be made: its latency. */
static void s_observe_call(s_svc_t *s, int c)
{
    sg_statuspage_intent(s->ops.page, c, sg_clock_wall(s->clock));
    if (!s->ops.decided_at || !s->ops.decided_at[c])
        return;
    sg_metrics_hist_observe(&s->ops.decision_to_call,
                            (double)(sg_clock_mono(s->clock) - s->ops.decided_at[c]) / 1000.0);
    int64_t by_us = s->ops.decided_by_us[c];
    if (by_us)
        sg_metrics_hist_observe(&s->ops.event_to_call,
                                (double)(sg_clock_mono_us(s->clock) - by_us) / 1e6);
    s->ops.decided_at[c] = 0;
    s->ops.decided_by_us[c] = 0;
}

/* The executor's proof hook (executor.h), on the loop thread, immediately
 * before each InitiateFailover: the engine proves the decision again now
 * (engine.h: sg_engine_confirm), then the intent is made durable. */
static int s_proof(void *user, uint64_t run_id, int collection, char **why)
{
    s_svc_t *s = user;
    if (!sg_leader_is_leader(s->leader)) {
        *why = strdup("this instance does not lead");
        return SG_ESTATE;
    }
    s_read_bus(s); /* the latest evidence first */
    if (sg_engine_confirm(s->engine, collection, run_id, s_now(s), why) != SG_OK)
        return SG_ESTATE;
    uint64_t epoch = s->cfg->leader.mode == SG_LEADER_NONE ? 0 : sg_leader_epoch(s->leader);
    int64_t wall = sg_clock_wall(s->clock);
    if (s->batching) { /* group commit: the batch's commit makes it durable */
        int rc = sg_journal_intent_batched(s->journal, run_id, epoch, wall);
        if (rc != SG_OK)
            return rc;
        return SG_EXEC_DEFERRED;
    }
    int rc = epoch ? sg_journal_intent_epoch(s->journal, run_id, epoch, wall)
                   : sg_journal_intent(s->journal, run_id, wall);
    if (rc == SG_OK)
        s_observe_call(s, collection);
    return rc;
}

/* A deferred proof made again once its intent is committed, just before
 * the worker is told to call (executor.h, sg_executor_release_proofs). */
static int s_reprove(void *user, uint64_t run_id, int collection, char **why)
{
    s_svc_t *s = user;
    if (!sg_leader_is_leader(s->leader)) {
        *why = strdup("this instance does not lead");
        return SG_ESTATE;
    }
    if (sg_engine_confirm(s->engine, collection, run_id, s_now(s), why) != SG_OK)
        return SG_ESTATE;
    s_observe_call(s, collection); /* its intent committed, its call comes now */
    return SG_OK;
}

/* The fence hook of the executor and the drills (leader.h). */
static int s_fence(void *user, uint64_t epoch)
{
    return sg_leader_fence(user, epoch);
}

static void s_run_result(s_svc_t *s, sg_exec_result_t *r);

/* Takes back the runs of `site` not yet handed to a worker (its site is no
 * longer lost); runs on a worker meet their proof before any call.
 * Operators' runs go on. */
static void s_cancel_queued(s_svc_t *s, int site, const char *why)
{
    for (size_t c = 0; c < s->cfg->n_collections; c++) {
        if (s->cfg->collections[c].site != site || sg_engine_run_is_manual(s->engine, (int)c) ||
            sg_engine_collection_verdict(s->engine, (int)c) != SG_COLL_DECIDED)
            continue;
        sg_exec_result_t r;
        int rc = sg_executor_cancel_queued(s->executor, (int)c, why, &r);
        if (rc == 1)
            s_run_result(s, &r);
        else if (rc < 0)
            sg_error(S_MOD, "cannot cancel the queued run of %s: %s",
                     s->cfg->collections[c].name, sg_err_str(rc));
    }
}

/* A failover decision: journaled, then handed to the executor. A decision
 * the journal refuses is not carried out (and may be decided again). */
static void s_start_run(s_svc_t *s, const sg_decision_t *d)
{
    const sg_collection_cfg_t *c = &s->cfg->collections[d->collection];
    if (s->ops.run_started) {
        s->ops.run_started[d->collection] = sg_clock_mono(s->clock);
        s->ops.decided_at[d->collection] = s->ops.run_started[d->collection];
        s->ops.decided_by_us[d->collection] = d->origin == SG_ORIGIN_ENGINE ? s->ops.tick_by_us : 0;
    }
    static const char *const origins[] = {NULL, "manual", "forced"};
    int64_t wall = sg_clock_wall(s->clock);
    int rc = sg_journal_decided_run(s->journal, d->run_id, c->name, c->cim_path, d->point,
                                    origins[d->origin], wall);
    if (rc != SG_OK) {
        sg_engine_run_cancelled(s->engine, d->collection, d->run_id);
        sg_error(S_MOD, "cannot journal the decision of run %llu (%s): %s; not carried out",
                 (unsigned long long)d->run_id, c->name, sg_err_str(rc));
        return;
    }
    sg_statuspage_decision(s->ops.page, d, wall);
    rc = s_submit_run(s, d);
    if (rc != SG_OK)
        sg_error(S_MOD, "cannot start failover of %s: %s", c->name, sg_err_str(rc));
}

/* Announces a flapping notice (flap.h). */
static void s_post_flap(s_svc_t *s, const sg_flap_notice_t *n)
{
    sg_outcome_t *o = sg_announce_flap(s->cfg, n);
    if (!o) {
        sg_error(S_MOD, "out of memory announcing a flapping site");
        return;
    }
    sg_log(o->severity == SG_SEVERITY_INFO ? SG_LOG_INFO : SG_LOG_WARN, "flap", "%s", o->message);
    s_post(s, o);
    sg_outcome_free(&o);
}

/* Ends the flapping of sites steady by now, once no decision is queued
 * (a queued change of theirs comes first). */
static void s_flap_tick(s_svc_t *s, sg_now_t now)
{
    sg_flap_notice_t n;
    while (!sg_engine_pending(s->engine) && sg_flap_tick(s->flap, now, &n))
        s_post_flap(s, &n);
}

/* Announces a decision; a flapping site's change is held (flap.h): the
 * outcome log records it, no sink is sent it. */
static void s_announce(s_svc_t *s, const sg_decision_t *d)
{
    sg_flap_verdict_t v = sg_flap_judge(s->flap, d);
    if (v.has_notice)
        s_post_flap(s, &v.notice);
    sg_outcome_t *o = sg_announce_held(s->cfg, d, v.announce ? NULL : "flapping");
    if (o)
        s_post(s, o);
    else
        sg_error(S_MOD, "out of memory announcing a decision: %s", d->reason);
    sg_outcome_free(&o);
}

static void s_handle_decision(s_svc_t *s, sg_decision_t *d)
{
    bool notice = d->kind == SG_DECISION_SITE_RECOVERED || d->kind == SG_DECISION_SITE_RECOVERING;
    sg_log(notice ? SG_LOG_INFO : SG_LOG_WARN, "engine", "%s: %s", sg_decision_kind_name(d->kind),
           d->reason);
    if (d->kind == SG_DECISION_SITE_RECOVERING || d->kind == SG_DECISION_SITE_CONTESTED)
        s_cancel_queued(s, d->site, d->reason);
    if (d->kind == SG_DECISION_SITE_RECOVERING)
        return; /* logged; the sinks hear when the site is healthy again */
    if (d->kind == SG_DECISION_SITE_LOST && s->drill)
        sg_drill_preempt(s->drill, d->reason); /* a real loss comes first */
    s->decisions++;
    s->ops.decisions[d->kind]++;
    if (d->kind == SG_DECISION_BLOCKED && d->guard < SG_GUARD_COUNT)
        s->ops.blocked[d->guard]++;
    if (d->kind == SG_DECISION_FAILOVER)
        s_start_run(s, d);
    else
        sg_statuspage_decision(s->ops.page, d, d->at.wall);
    s_announce(s, d);
}

static void s_batch_begin(s_svc_t *s);
static int s_batch_end(s_svc_t *s);
static int s_save_opstate(s_svc_t *s, bool now);
static void s_take_results(s_svc_t *s);
static void s_commit_results(s_svc_t *s, bool opstate);
static void s_commit_later(s_svc_t *s, int c, int64_t ago);
static int s_share_opstate(s_svc_t *s);

/* Whether a burst that began at `since_us` and has handled `done` items has
 * used its time (the clock is read every 16 items). */
static bool s_burst_over(const s_svc_t *s, int64_t since_us, size_t done)
{
    return done > 0 && done % 16 == 0 && sg_clock_mono_us(s->clock) - since_us >= S_WORK_BUDGET_US;
}

/* Decisions that change what a restart must know at once: a failover takes
 * the budget (before its run can call), a change of site state opens or
 * ends a loss episode. */
static bool s_changes_opstate(sg_decision_kind_t k)
{
    return k == SG_DECISION_FAILOVER || k == SG_DECISION_SITE_LOST ||
           k == SG_DECISION_SITE_CONTESTED || k == SG_DECISION_SITE_RECOVERING;
}

/* Takes the queued decisions in one journal batch: `all`, or a burst
 * bounded in number and time (a storm's thousands are spread over turns, so
 * the bus is served between). */
static void s_drain_decisions(s_svc_t *s, bool all)
{
    sg_decision_t d;
    bool any = false, save = false;
    int64_t since = sg_clock_mono_us(s->clock);
    for (size_t n = 0; (all || (n < S_DECISIONS_PER_TURN && !s_burst_over(s, since, n))) &&
                       sg_engine_next(s->engine, &d);
         n++) {
        if (!any)
            s_batch_begin(s); /* a storm of decisions: one commit */
        any = true;
        save |= s_changes_opstate(d.kind);
        s_handle_decision(s, &d);
        sg_decision_fini(&d);
    }
    if (!any)
        return;
    if (save) /* in the same commit: durable before any run of these decisions can call */
        s_save_opstate(s, true);
    /* the new runs' workers have asked for their proofs meanwhile: their
     * intents go into this commit too, not one more */
    s_take_results(s);
    s_commit_results(s, save);
}

/* The control's persist hook (control.h): what an operator's command changed
 * (a decision it queued, the operator state) is durable before the answer. */
static int s_persist(void *user)
{
    s_svc_t *s = user;
    s_drain_decisions(s, true);
    return s_save_opstate(s, true);
}

static int s_on_event(void *user, const sg_event_t *ev)
{
    s_svc_t *s = user;
    sg_now_t now = s_now(s);
    if (!s->ops.heard_us)
        s->ops.heard_us = sg_clock_mono_us(s->clock);
    int64_t age = sg_evage_observe(&s->ops.evage, ev->observer, ev->sent_at_ms, now.wall);
    if (age >= 0)
        sg_metrics_hist_observe(&s->ops.event_age, (double)age / 1000.0);
    return sg_engine_on_event(s->engine, ev, now);
}

/* Reads what the bus already holds (without waiting): the engine judges,
 * and a proof confirms, only after every event received so far is in it;
 * after a slow turn (a slow disk under the journal) the heartbeats that
 * came meanwhile must not look missing. */
static void s_read_bus(s_svc_t *s)
{
    int rc = sg_bus_drain(s->bus, sg_clock_wall(s->clock), S_BUS_BATCH, s_on_event, s);
    if (rc < 0)
        sg_error(S_MOD, "engine rejected an event: %s", sg_err_str(rc));
}

/* ---- operator side: metrics, watchdog, reload ------------------------------------ */

static volatile sig_atomic_t s_reload_requested;

#ifdef SIGHUP
static void s_on_sighup(int sig)
{
    (void)sig;
    s_reload_requested = 1;
}
#endif

/* SIGHUP asks for a reload (where there is such a signal). */
static void s_install_sighup(void)
{
#ifdef SIGHUP
    struct sigaction sa = {0};
    sa.sa_handler = s_on_sighup;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGHUP, &sa, NULL) != 0)
        sg_warn(S_MOD, "cannot install the SIGHUP handler: no reload by signal");
#endif
}

/* The engine's states for the metrics snapshot, into arrays of the
 * metrics' own (s->ops.m_*), sized at start. */
static void s_metrics_states(s_svc_t *s)
{
    const sg_config_t *cfg = s->cfg;
    for (size_t i = 0; i < cfg->n_sites; i++)
        s->ops.m_site[i] = sg_engine_site_state(s->engine, (int)i);
    for (size_t i = 0; i < cfg->n_sites; i++)
        s->ops.m_flapping[i] = sg_flap_is_flapping(s->flap, (int)i, NULL);
    for (size_t i = 0; i < cfg->n_collections; i++)
        s->ops.m_verdict[i] = sg_engine_collection_verdict(s->engine, (int)i);
    for (size_t i = 0; i < cfg->n_observers; i++)
        s->ops.m_skew_known[i] = sg_engine_observer_skew(s->engine, (int)i, &s->ops.m_skew[i]);
}

/* Publishes a snapshot of the figures; the text is rendered by a scrape,
 * on the HTTP thread (metrics.h). */
static void s_publish_metrics(s_svc_t *s)
{
    sg_notify_stats_t ns;
    sg_notify_stats(s->notify, &ns);
    sg_notify_stats_t *per_sink = calloc(s->cfg->n_sinks ? s->cfg->n_sinks : 1, sizeof *per_sink);
    for (size_t i = 0; per_sink && i < s->cfg->n_sinks; i++)
        sg_notify_sink_stats(s->notify, s->cfg->sinks[i].name, &per_sink[i]);
    size_t n_drills = sg_drill_count(s->drill);
    sg_drill_status_t *drills = calloc(n_drills ? n_drills : 1, sizeof *drills);
    for (size_t i = 0; drills && i < n_drills; i++)
        sg_drill_status(s->drill, i, &drills[i]);
    s_metrics_states(s);
    sg_metrics_snapshot_t snap = {
        .cfg = s->cfg,
        .site_state = s->ops.m_site,
        .site_flapping = s->ops.m_flapping,
        .verdict = s->ops.m_verdict,
        .skew_ms = s->ops.m_skew,
        .skew_known = s->ops.m_skew_known,
        .ingest = sg_bus_stats(s->bus),
        .notify = &ns,
        .sink_stats = per_sink,
        .decisions = s->ops.decisions,
        .blocked = s->ops.blocked,
        .runs_ok = s->runs_ok,
        .runs_failed = s->runs_failed,
        .runs_cancelled = s->runs_cancelled,
        .run_seconds = &s->ops.run_seconds,
        .event_age = &s->ops.event_age,
        .loop_turn = &s->ops.loop_turn,
        .decision_to_call = &s->ops.decision_to_call,
        .event_to_call = &s->ops.event_to_call,
        .reloads_ok = s->ops.reloads_ok,
        .reloads_refused = s->ops.reloads_refused,
        .control_requests = s->ops.control ? sg_control_requests(s->ops.control) : 0,
        .control_keys_refused = s->ops.control ? sg_control_keys_refused(s->ops.control) : 0,
        .bus_handshakes_refused = sg_bus_handshakes_refused(s->bus),
        .leader_mode = sg_leader_mode_name(s->leader),
        .is_leader = sg_leader_is_leader(s->leader),
        .leader_epoch = sg_leader_epoch(s->leader),
        .journal_bytes = sg_retention_bytes(s->retention),
        .drill_running = sg_drill_running(s->drill),
        .drills = drills,
        .n_drills = drills ? n_drills : 0};
    if (sg_metrics_publish(s->ops.metrics, &snap) != SG_OK)
        sg_error(S_MOD, "out of memory publishing the metrics");
    free(per_sink);
    free(drills);
}

/* Publishes the status page's document (statuspage.h): only while
 * somebody reads the page, about once a second. */
static void s_publish_status(s_svc_t *s)
{
    size_t n_drills = sg_drill_count(s->drill);
    sg_notify_stats_t *per_sink = calloc(s->cfg->n_sinks ? s->cfg->n_sinks : 1, sizeof *per_sink);
    sg_drill_status_t *drills = calloc(n_drills ? n_drills : 1, sizeof *drills);
    for (size_t i = 0; per_sink && i < s->cfg->n_sinks; i++)
        sg_notify_sink_stats(s->notify, s->cfg->sinks[i].name, &per_sink[i]);
    for (size_t i = 0; drills && i < n_drills; i++)
        sg_drill_status(s->drill, i, &drills[i]);
    sg_statusdoc_src_t src = {.cfg = s->cfg,
                              .engine = s->engine,
                              .journal = s->journal,
                              .lifecycle = s->lifecycle,
                              .leader = s->leader,
                              .sink_stats = per_sink,
                              .drills = drills,
                              .n_drills = drills ? n_drills : 0,
                              .drill_running = sg_drill_running(s->drill),
                              .loop_turns = s->ops.loop.turns,
                              .loop_longest_us = s->ops.loop.longest_us,
                              .now = s_now(s)};
    if (!per_sink || !drills || sg_statuspage_publish(s->ops.page, &src) != SG_OK)
        sg_error(S_MOD, "out of memory publishing the status page");
    free(per_sink);
    free(drills);
}

static void s_observe_run(s_svc_t *s, int c)
{
    if (!s->ops.run_started || !s->ops.run_started[c])
        return;
    sg_metrics_hist_observe(&s->ops.run_seconds,
                            (double)(sg_clock_mono(s->clock) - s->ops.run_started[c]) / 1000.0);
    s->ops.run_started[c] = 0;
}

/* Applies a loaded config that passed sg_reload_check. Takes `next`. */
static int s_apply_config(s_svc_t *s, sg_config_t *next, sg_config_errors_t *errs)
{
    sg_config_t **list = realloc(s->ops.reloaded, (s->ops.n_reloaded + 1) * sizeof *list);
    if (!list) {
        sg_config_destroy(&next);
        return SG_ENOMEM;
    }
    s->ops.reloaded = list;
    if (sg_reload_sinks_changed(s->cfg, next)) {
        /* The new sinks are all started or the reload is refused (the old
         * ones go on); the old workers finish their deliveries in hand
         * without the loop waiting, and each new sink starts once the old
         * one of its name has exited (notify.h); a leader's new sinks
         * deliver at once. */
        int rc = sg_notify_reload(s->notify, next, errs);
        if (rc != SG_OK) {
            sg_config_destroy(&next);
            return rc;
        }
    }
    int rc = sg_engine_set_config(s->engine, next);
    if (rc != SG_OK) /* sg_reload_check let only the same sites and collections pass */
        sg_error(S_MOD, "the engine refused the new policy: %s", sg_err_str(rc));
    if (sg_flap_set_config(s->flap, &next->policy.flapping) != SG_OK)
        sg_error(S_MOD, "out of memory: policy.flapping as before");
    s->ops.reloaded[s->ops.n_reloaded++] = next; /* older configs may still be borrowed */
    s->cfg = next;
    sg_control_set_config(s->ops.control, next);
    sg_lifecycle_set_config(s->lifecycle, next);
    sg_bus_set_config(s->bus, next); /* observers' keys */
    sg_log_set_level(next->log_level);
    sg_log_set_json(next->log_format == SG_LOG_FORMAT_JSON);
    return SG_OK;
}

/* Collection c of `cur` is turned in `cfg` (found by name) the way it
 * runs in `cur`, when it runs the opposite way there. */
static void s_align_direction(sg_config_t *cfg, const sg_config_t *cur, int c)
{
    const sg_collection_cfg_t *cc = &cur->collections[c];
    int k = cfg != cur ? sg_config_find_collection(cfg, cc->name) : -1;
    if (k < 0)
        return;
    const sg_collection_cfg_t *o = &cfg->collections[k];
    if (strcmp(cfg->sites[o->site].name, cur->sites[cc->replica_site].name) == 0 &&
        strcmp(cfg->sites[o->replica_site].name, cur->sites[cc->site].name) == 0)
        sg_config_reverse(cfg, k);
}

/* The file has the configured directions: a collection reversed in the
 * config in force is turned the same way in `next`. */
static void s_carry_directions(const sg_config_t *cur, sg_config_t *next)
{
    for (size_t c = 0; c < cur->n_collections; c++)
        if (cur->collections[c].reversed)
            s_align_direction(next, cur, (int)c);
}

/* The reload hook (SIGHUP and siteguardctl reload): loads the config file
 * again; any error keeps the config in force. */
static int s_reload(void *user, sg_config_errors_t *errs)
{
    s_svc_t *s = user;
    sg_config_t *next = NULL;
    sg_sdnotify_state(SG_SDNOTIFY_RELOADING, "reloading the config");
    int rc = sg_config_load_file(s->cfg->path, &next, errs);
    rc = rc ? rc : sg_notify_check(next, errs);
    if (rc == SG_OK)
        s_carry_directions(s->cfg, next);
    rc = rc ? rc : sg_reload_check(s->cfg, next, errs);
    if (rc == SG_OK)
        rc = s_apply_config(s, next, errs);
    else
        sg_config_destroy(&next);
    if (rc == SG_OK) {
        s->ops.reloads_ok++;
        sg_info(S_MOD, "config %s reloaded", s->cfg->path);
    } else {
        s->ops.reloads_refused++;
        sg_error(S_MOD, "config %s not reloaded; the config in force is kept", s->cfg->path);
        for (size_t i = 0; i < errs->n; i++)
            sg_error(S_MOD, "%s", errs->items[i]);
    }
    sg_sdnotify_state(SG_SDNOTIFY_READY, rc == SG_OK ? "config reloaded" : "reload refused");
    return rc;
}

/* Periodic operator work on the loop: a reload asked by SIGHUP, the sinks a
 * reload replaced, the metrics text, the systemd watchdog. */
static void s_ops_tick(s_svc_t *s, int64_t now)
{
    if (s_reload_requested) {
        s_reload_requested = 0;
        sg_config_errors_t errs;
        sg_config_errors_init(&errs);
        s_reload(s, &errs);
        sg_config_errors_fini(&errs);
    }
    sg_notify_tick(s->notify);
    if (s->ops.metrics && now >= s->ops.next_metrics) {
        s_publish_metrics(s);
        s->ops.next_metrics = now + S_METRICS_EVERY_MS;
    }
    if (sg_statuspage_due(s->ops.page, now))
        s_publish_status(s);
    if (s->ops.watchdog_every && now >= s->ops.next_watchdog) {
        sg_sdnotify_watchdog();
        s->ops.next_watchdog = now + s->ops.watchdog_every;
    }
}

/* The arrays of the metrics snapshot: sites, collections and observers
 * stay the same across reloads (reload.h). */
static int s_metrics_arrays(s_ops_t *o, const sg_config_t *cfg)
{
    o->m_site = calloc(cfg->n_sites ? cfg->n_sites : 1, sizeof *o->m_site);
    o->m_flapping = calloc(cfg->n_sites ? cfg->n_sites : 1, sizeof *o->m_flapping);
    o->m_verdict = calloc(cfg->n_collections ? cfg->n_collections : 1, sizeof *o->m_verdict);
    o->m_skew = calloc(cfg->n_observers ? cfg->n_observers : 1, sizeof *o->m_skew);
    o->m_skew_known = calloc(cfg->n_observers ? cfg->n_observers : 1, sizeof *o->m_skew_known);
    return o->m_site && o->m_flapping && o->m_verdict && o->m_skew && o->m_skew_known
               ? SG_OK
               : SG_ENOMEM;
}

static int s_ops_start(s_svc_t *s)
{
    const sg_config_t *cfg = s->cfg;
    s->ops.run_started = calloc(cfg->n_collections ? cfg->n_collections : 1, sizeof(int64_t));
    s->ops.decided_at = calloc(cfg->n_collections ? cfg->n_collections : 1, sizeof(int64_t));
    s->ops.decided_by_us = calloc(cfg->n_collections ? cfg->n_collections : 1, sizeof(int64_t));
    sg_metrics_hist_init(&s->ops.run_seconds, SG_HIST_RUN);
    sg_metrics_hist_init(&s->ops.event_age, SG_HIST_LATENCY);
    sg_metrics_hist_init(&s->ops.loop_turn, SG_HIST_LATENCY);
    sg_metrics_hist_init(&s->ops.decision_to_call, SG_HIST_LATENCY);
    sg_metrics_hist_init(&s->ops.event_to_call, SG_HIST_LATENCY);
    if (sg_evage_init(&s->ops.evage, cfg->n_observers, S_EVAGE_WINDOW_MS) != SG_OK ||
        s_metrics_arrays(&s->ops, cfg) != SG_OK)
        return SG_ENOMEM;
    sg_control_env_t env = {.cfg = cfg,
                            .engine = s->engine,
                            .journal = s->journal,
                            .leader = s->leader,
                            .clock = s->clock,
                            .reload = s_reload,
                            .persist = s_persist,
                            .drill = s->drill,
                            .lifecycle = s->lifecycle,
                            .zap = s->zap,
                            .loop = &s->ops.loop,
                            .user = s};
    s->ops.control = sg_control_new(s->zctx, &env);
    if (!s->ops.run_started || !s->ops.decided_at || !s->ops.decided_by_us || !s->ops.control)
        return SG_EIO;
    const char *listen = cfg->metrics.listen ? cfg->metrics.listen : S_DEFAULT_METRICS;
    if (strcmp(listen, "off") != 0) {
        s->ops.metrics = sg_metrics_new(listen, &cfg->metrics);
        if (!s->ops.metrics && cfg->metrics.listen)
            return SG_EIO;
        if (!s->ops.metrics)
            sg_warn(S_MOD, "no /metrics: set metrics.listen to a free address, or off");
    }
    if (s->ops.metrics) { /* the status page beside /metrics */
        s->ops.page = sg_statuspage_new(cfg, s->clock);
        if (!s->ops.page)
            sg_warn(S_MOD, "no status page (out of memory): /metrics only");
        else if (sg_statuspage_seed(s->ops.page, s->journal) != SG_OK)
            sg_warn(S_MOD, "the status page cannot show the runs the journal knew at start");
        sg_metrics_set_page(s->ops.metrics, s->ops.page);
    }
    sg_log_set_json(cfg->log_format == SG_LOG_FORMAT_JSON);
    s_install_sighup();
    s->ops.watchdog_every = sg_sdnotify_watchdog_period_ms();
    return SG_OK;
}

static void s_ops_stop(s_svc_t *s)
{
    sg_control_destroy(&s->ops.control);
    sg_metrics_destroy(&s->ops.metrics); /* no request after this */
    sg_statuspage_destroy(&s->ops.page);
    free(s->ops.run_started);
    s->ops.run_started = NULL;
    free(s->ops.decided_at);
    s->ops.decided_at = NULL;
    free(s->ops.decided_by_us);
    s->ops.decided_by_us = NULL;
    free(s->ops.m_site);
    free(s->ops.m_flapping);
    s->ops.m_flapping = NULL;
    free(s->ops.m_verdict);
    free(s->ops.m_skew);
    free(s->ops.m_skew_known);
    s->ops.m_site = NULL;
    s->ops.m_verdict = NULL;
    s->ops.m_skew = NULL;
    s->ops.m_skew_known = NULL;
    sg_evage_fini(&s->ops.evage);
}

static void s_ops_free_configs(s_svc_t *s)
{
    for (size_t i = 0; i < s->ops.n_reloaded; i++)
        sg_config_destroy(&s->ops.reloaded[i]);
    free(s->ops.reloaded);
    s->ops.reloaded = NULL;
    s->ops.n_reloaded = 0;
}

/* Journals a burst of results in one commit (an intent in between commits
 * earlier), then wakes the sinks. */
static void s_batch_begin(s_svc_t *s)
{
    s->batching = sg_journal_batch_begin(s->journal) == SG_OK;
    s->wake_after_batch = false;
}

static int s_batch_end(s_svc_t *s)
{
    int rc = s->batching ? sg_journal_batch_end(s->journal) : SG_OK;
    if (rc != SG_OK)
        sg_error(S_MOD, "cannot commit the journal");
    s->batching = false;
    if (s->wake_after_batch)
        sg_notify_wake(s->notify);
    s->wake_after_batch = false;
    return rc;
}

/* One result of a run: the engine and the counters learn how it stands,
 * the journal and the sinks get its outcome. Frees the outcome. */
static void s_run_result(s_svc_t *s, sg_exec_result_t *r)
{
    sg_log(r->outcome->kind == SG_OUTCOME_PROGRESS ? SG_LOG_DEBUG
           : r->cancelled                          ? SG_LOG_WARN
                                                   : SG_LOG_INFO,
           "executor", "%s: %s", sg_outcome_kind_name(r->outcome->kind), r->outcome->message);
    if (r->fenced) {
        s->runs_fenced++;
    } else if (r->cancelled) {
        sg_engine_run_cancelled(s->engine, r->collection, r->run_id);
        s->runs_cancelled++;
        if (s->ops.run_started)
            s->ops.run_started[r->collection] = 0;
    } else if (r->ended) {
        sg_engine_run_ended(s->engine, r->collection, r->failed_over, s_now(s));
        s_observe_run(s, r->collection);
        if (r->failed_over)
            s_commit_later(s, r->collection, 0);
        if (r->failed_over)
            s->runs_ok++;
        else
            s->runs_failed++;
    } else if (r->timed_out) {
        sg_engine_run_timed_out(s->engine, r->collection);
    }
    s_post_step(s, r);
    sg_outcome_free(&r->outcome);
}

/* Workers' messages already queued, a burst bounded in number and time:
 * results journaled and proofs' intents written into the open batch. */
static void s_take_results(s_svc_t *s)
{
    sg_exec_result_t r;
    int64_t since = sg_clock_mono_us(s->clock);
    for (size_t i = 0; i < S_RESULTS_PER_TURN && !s_burst_over(s, since, i) &&
                       sg_executor_recv(s->executor, &r, 0) == 1;
         i++)
        s_run_result(s, &r);
}

/* Commits the batch, and only then tells the proven workers to call (group
 * commit, executor.h). `opstate`: the batch holds a save of the operator
 * state, which is saved again when the commit failed. */
static void s_commit_results(s_svc_t *s, bool opstate)
{
    int rc = s_batch_end(s);
    if (rc != SG_OK && opstate)
        s->opstate_saved = 0; /* not durable: saved again */
    if (rc == SG_OK && opstate)
        s_share_opstate(s);
    if (rc == SG_OK)
        s_read_bus(s); /* what came during the commit, before deferred proofs are made again */
    sg_executor_release_proofs(s->executor, rc, s_reprove, s);
}

/* Workers' messages: a burst in one batch, one commit. */
static void s_handle_results(s_svc_t *s)
{
    s_batch_begin(s);
    s_take_results(s);
    s_commit_results(s, false);
}

/* Saves the engine's operator state when it changed (journal.h, opstate):
 * at once with `now` (an operator's command, a failover decision, a change
 * of loss episode, the stop), else at most every S_OPSTATE_EVERY_MS (what is
 * left: cooldowns, which a storm changes with every run; the collections they
 * belong to are failed over in the journal, and a cooldown only matters after
 * a failback). Returns 0 or the error (logged). */
static int s_save_opstate(s_svc_t *s, bool now)
{
    uint64_t gen = sg_engine_opstate_gen(s->engine);
    int64_t mono = sg_clock_mono(s->clock);
    if (gen == s->opstate_saved || (!now && mono < s->opstate_next))
        return SG_OK;
    s->opstate_next = mono + S_OPSTATE_EVERY_MS;
    sg_opstate_t st;
    char *text = NULL;
    int rc = sg_engine_opstate_export(s->engine, s_now(s), &st);
    if (rc == SG_OK) {
        text = sg_opstate_to_json(&st, s->cfg);
        sg_opstate_fini(&st);
    }
    rc = text ? sg_journal_opstate_put(s->journal, text, sg_clock_wall(s->clock)) : SG_ENOMEM;
    free(s->opstate_unshared);
    s->opstate_unshared = NULL;
    if (rc != SG_OK) {
        sg_error(S_MOD, "cannot save the operator state: %s (retried)", sg_err_str(rc));
        free(text);
        return rc;
    }
    s->opstate_saved = gen;
    s->opstate_unshared = text; /* for etcd, once the journal has it (in a batch: its commit) */
    return s->batching ? SG_OK : s_share_opstate(s);
}

/* Puts the operator state last saved in etcd for the next leader (after its
 * commit: no network call inside a journal transaction). Returns 0 or the
 * error (logged; saved and put again). */
static int s_share_opstate(s_svc_t *s)
{
    char *text = s->opstate_unshared;
    s->opstate_unshared = NULL;
    int rc = SG_OK;
    if (text && s->cfg->leader.mode != SG_LEADER_NONE && sg_leader_is_leader(s->leader))
        rc = sg_leader_put_state(s->leader, text);
    free(text);
    if (rc != SG_OK) {
        s->opstate_saved = 0;
        sg_error(S_MOD, "cannot share the operator state: %s (retried)", sg_err_str(rc));
    }
    return rc;
}

static int s_poll_timeout(const s_svc_t *s, int64_t now)
{
    if (!sg_leader_is_leader(s->leader))
        return S_MAX_WAIT_MS; /* a standby does not tick the engine */
    if (sg_engine_pending(s->engine) > 0)
        return 0; /* decisions wait for the next turn */
    int64_t deadline = sg_engine_next_deadline(s->engine);
    int64_t wait = deadline == INT64_MAX ? S_MAX_WAIT_MS : deadline - now;
    if (wait < 0)
        wait = 0;
    return (int)(wait < S_MAX_WAIT_MS ? wait : S_MAX_WAIT_MS);
}

static void s_log_stats(const s_svc_t *s)
{
    const sg_ingest_stats_t *st = sg_bus_stats(s->bus);
    uint64_t dropped = 0;
    for (int i = 1; i < SG_DROP_COUNT; i++)
        dropped += st->dropped[i];
    sg_info(S_MOD, "events received %llu, accepted %llu, dropped %llu; decisions %llu; runs "
                   "succeeded %llu, failed %llu",
            (unsigned long long)st->received, (unsigned long long)st->accepted,
            (unsigned long long)dropped, (unsigned long long)s->decisions,
            (unsigned long long)s->runs_ok, (unsigned long long)s->runs_failed);
}

/* ---- life-cycle steps (lifecycle.h) ------------------------------------------ */

/* Collection c turns the other way in every config a module reads: the one
 * in force, the caller's (the executor and the drill runner keep it across
 * reloads) and the reloads' before it. */
static void s_reverse_everywhere(s_svc_t *s, int c)
{
    sg_config_reverse(s->cfg, c);
    s_align_direction(s->first_cfg, s->cfg, c);
    for (size_t i = 0; i < s->ops.n_reloaded; i++)
        s_align_direction(s->ops.reloaded[i], s->cfg, c);
}

/* Collection c now replicates the other way: the executor's plan forgets
 * it, every config takes the new direction, and the engine protects it in
 * that direction. Refused (logged) while a run of it is in flight. */
static int s_redirect(s_svc_t *s, int c)
{
    const char *name = s->cfg->collections[c].name;
    int rc = sg_engine_collection_verdict(s->engine, c) == SG_COLL_DECIDED
                 ? SG_ESTATE
                 : sg_executor_forget(s->executor, c);
    if (rc != SG_OK) {
        sg_error(S_MOD, "the direction of %s cannot change while a run of it is in flight", name);
        return rc;
    }
    s_reverse_everywhere(s, c);
    rc = sg_engine_redirect(s->engine, c);
    if (rc != SG_OK) {
        sg_error(S_MOD, "the engine cannot take the new direction of %s: %s", name,
                 sg_err_str(rc));
        return rc;
    }
    const sg_collection_cfg_t *cc = &s->cfg->collections[c];
    sg_info(S_MOD, "%s now replicates from %s to %s, and is protected in that direction", name,
            s->cfg->sites[cc->site].name, s->cfg->sites[cc->replica_site].name);
    return SG_OK;
}

/* The directions kept in operator state `text` (opstate.h): at start
 * (`live` false: before the engine exists) they are applied to the config;
 * on taking the lead (live) each collection whose direction differs is
 * redirected, both ways: the last leader may have reversed it, or back. */
static void s_apply_directions(s_svc_t *s, const char *text, bool live)
{
    sg_opstate_t st;
    size_t skipped = 0;
    if (!text || sg_opstate_from_json(text, s->cfg, &st, &skipped) != SG_OK)
        return;
    bool *directed = calloc(s->cfg->n_collections + 1, sizeof *directed);
    for (size_t i = 0; directed && i < st.n_colls; i++) {
        const sg_opstate_coll_t *oc = &st.colls[i];
        const sg_collection_cfg_t *cc = &s->cfg->collections[oc->collection];
        if (!oc->directed)
            continue;
        directed[oc->collection] = true;
        if (cc->site == oc->site && cc->replica_site == oc->replica_site)
            continue;
        if (cc->site != oc->replica_site || cc->replica_site != oc->site) {
            sg_warn(S_MOD, "the kept direction of %s (%s to %s) does not pair its configured "
                    "sites: the config's is used", cc->name, s->cfg->sites[oc->site].name,
                    s->cfg->sites[oc->replica_site].name);
            continue;
        }
        if (live)
            s_redirect(s, oc->collection);
        else
            sg_config_reverse(s->cfg, oc->collection);
    }
    for (size_t c = 0; live && directed && c < s->cfg->n_collections; c++)
        if (s->cfg->collections[c].reversed && !directed[c])
            s_redirect(s, (int)c); /* reversed back by the last leader */
    free(directed);
    sg_opstate_fini(&st);
}

/* policy.after_failover.commit_after: collection c, failed over `ago` ms
 * ago, is committed when commit_after has passed since. */
static void s_commit_later(s_svc_t *s, int c, int64_t ago)
{
    int64_t after = s->cfg->policy.after_failover.commit_after_ms;
    if (!after || !s->commit_due)
        return;
    int64_t due = sg_clock_mono(s->clock) + (after > ago ? after - ago : 0);
    s->commit_due[c] = due ? due : 1;
    if (due < s->commit_next)
        s->commit_next = due;
}

/* Asks the commits that are due (an operator may have committed, reverted
 * or reversed meanwhile: then the collection is no longer failed over, or
 * the step finds it done, and nothing is called). */
static void s_commit_due(s_svc_t *s)
{
    int64_t now = sg_clock_mono(s->clock);
    if (!s->commit_due || now < s->commit_next)
        return;
    s->commit_next = INT64_MAX;
    for (size_t c = 0; c < s->cfg->n_collections; c++) {
        int64_t due = s->commit_due[c];
        if (!due)
            continue;
        if (due > now) {
            s->commit_next = due < s->commit_next ? due : s->commit_next;
            continue;
        }
        s->commit_due[c] = 0;
        if (sg_engine_collection_verdict(s->engine, (int)c) != SG_COLL_DONE)
            continue;
        uint64_t id = 0;
        char *why = NULL;
        int rc = sg_lifecycle_request(s->lifecycle, (int)c, SG_STEP_COMMIT,
                                      "policy (after_failover.commit_after)", &id, &why);
        if (rc != SG_OK)
            sg_warn(S_MOD, "the policy's commit of %s was not started: %s",
                    s->cfg->collections[c].name, why ? why : sg_err_str(rc));
        free(why);
    }
}

/* After a restart: the collections failed over and not committed since
 * are committed commit_after after their failover's end. */
static void s_commit_after_replay(s_svc_t *s)
{
    if (!s->cfg->policy.after_failover.commit_after_ms)
        return;
    sg_journal_run_t *runs = NULL;
    size_t n = 0;
    if (sg_journal_runs(s->journal, &runs, &n) != SG_OK) {
        sg_error(S_MOD, "cannot read the journal's runs: the policy's commits wait for an operator");
        return;
    }
    int64_t wall = sg_clock_wall(s->clock);
    for (size_t i = 0; i < n; i++) {
        const sg_journal_run_t *r = &runs[i];
        int c = sg_config_find_collection(s->cfg, r->collection);
        if (c < 0 || !r->ended_ms || !r->failed_over ||
            sg_engine_collection_verdict(s->engine, c) != SG_COLL_DONE)
            continue;
        sg_step_rec_t last;
        bool committed = false;
        if (sg_steps_last_ok(s->journal, r->collection, &last) == SG_OK) {
            committed = last.intent_ms >= r->ended_ms;
            sg_step_rec_fini(&last);
        }
        if (!committed)
            s_commit_later(s, c, wall - r->ended_ms);
    }
    sg_journal_runs_free(runs, n);
}

/* A listing of recovery points came back: its request is answered (none
 * waits for it when it expired). */
static void s_answer_points(s_svc_t *s, const sg_step_result_t *r)
{
    int rc = sg_control_answer_points(s->ops.control, r);
    if (rc != SG_OK && rc != SG_ENOTFOUND)
        sg_error(S_MOD, "cannot answer a listing of recovery points: %s", sg_err_str(rc));
}

/* A step that ended well changes what the engine protects: a revert makes
 * the collection replicate from its site again (held for the episode), a
 * reverse turns its direction. */
static void s_step_done(s_svc_t *s, const sg_step_result_t *r)
{
    if (r->kind == SG_STEP_REVERT) {
        if (sg_executor_forget(s->executor, r->collection) == SG_OK)
            sg_engine_reverted(s->engine, r->collection, s_now(s));
    } else if (r->kind == SG_STEP_REVERSE) {
        s_redirect(s, r->collection);
    }
}

/* Steps' results: journaled with their outcomes, and what they change in
 * the engine and its operator state, in one commit. */
static void s_handle_steps(s_svc_t *s)
{
    s_batch_begin(s);
    sg_step_result_t r;
    while (sg_lifecycle_recv(s->lifecycle, &r, 0) == 1) {
        if (r.step_id == 0)
            s_answer_points(s, &r);
        if (r.outcome)
            s_post(s, r.outcome);
        if (r.ended && r.ok)
            s_step_done(s, &r);
        sg_step_result_fini(&r);
    }
    s_save_opstate(s, true);
    if (s_batch_end(s) == SG_OK)
        s_share_opstate(s);
    else
        s->opstate_saved = 0; /* saved again */
}

static bool s_drill_runs(void *user)
{
    const s_svc_t *s = user;
    return s->drill && sg_drill_running(s->drill);
}

/* A drill's report goes to the journal's outcome log and the sinks; held
 * failover runs go on once the drill is over. */
static void s_handle_drill(s_svc_t *s)
{
    sg_outcome_t *o = NULL;
    while (sg_drill_recv(s->drill, &o, 0) == 1) {
        s_post(s, o);
        sg_outcome_free(&o);
    }
    s_release_held(s);
}

/* A new leader (etcd): its run ids go on above every earlier leader's (the
 * epoch only grows: ids of epoch E start at E x 2^24, so two leaders never
 * share an id, which the sinks' dedup keys carry), and it obeys the operator
 * state the last leader left in etcd. */
static void s_take_leadership(s_svc_t *s, uint64_t epoch)
{
    if (s->cfg->leader.mode == SG_LEADER_NONE)
        return;
    sg_engine_raise_run_base(s->engine, epoch << 24);
    char *text = sg_leader_take_state(s->leader);
    sg_recovery_env_t env = s_recovery_env(s);
    if (text) {
        s_apply_directions(s, text, true);
        sg_recovery_restore_opstate(&env, text, "etcd");
    }
    free(text);
    s->opstate_saved = 0; /* the new leader writes its state out */
}

/* Leadership changes: the epoch goes to the executor and the drills, the
 * sinks deliver only while leading, and becoming the leader replays the
 * journal (the restart path: open runs are resumed through the provider). */
static void s_leader_tick(s_svc_t *s)
{
    int rc = sg_leader_recv(s->leader);
    if (rc < 0)
        sg_error(S_MOD, "cannot read the leader's state: %s", sg_err_str(rc));
    if (rc != 1)
        return;
    bool lead = sg_leader_is_leader(s->leader);
    uint64_t epoch = sg_leader_epoch(s->leader);
    sg_executor_set_epoch(s->executor, epoch);
    sg_drill_set_epoch(s->drill, epoch);
    sg_lifecycle_set_epoch(s->lifecycle, epoch);
    sg_notify_set_active(s->notify, lead);
    if (!lead) {
        sg_warn(S_MOD, "standby: no provider calls, no drills, sinks paused");
        return;
    }
    sg_info(S_MOD, "leading under epoch %llu: replaying the journal", (unsigned long long)epoch);
    s_take_leadership(s, epoch);
    sg_recovery_env_t env = s_recovery_env(s);
    rc = sg_recovery_replay(&env, s->led ? SG_RECOVERY_LEADING_AGAIN : SG_RECOVERY_RESTART);
    if (rc != SG_OK)
        sg_error(S_MOD, "cannot replay the journal: %s", sg_err_str(rc));
    sg_lifecycle_resume(s->lifecycle); /* an error is logged; the steps stay open */
    s_commit_after_replay(s);
    sg_statuspage_seed(s->ops.page, s->journal); /* the runs as the replay left them */
    s->led = true;
}

/* One turn of the loop took `us` microseconds of work. */
static void s_observe_turn(s_svc_t *s, int64_t us)
{
    sg_metrics_hist_observe(&s->ops.loop_turn, (double)us / 1e6);
    s->ops.loop.turns++;
    if (us > s->ops.loop.longest_us)
        s->ops.loop.longest_us = us;
}

static int s_loop(s_svc_t *s)
{
    int64_t next_stats = sg_clock_mono(s->clock) + S_STATS_EVERY_MS;
    while (!sg_platform_stop_requested()) {
        zmq_pollitem_t items[5 + SG_CONTROL_MAX_SOCKETS] = {{.socket = sg_bus_socket(s->bus), .events = ZMQ_POLLIN},
                                   {.socket = sg_executor_socket(s->executor), .events = ZMQ_POLLIN}};
        void *ctl[SG_CONTROL_MAX_SOCKETS];
        size_t n_ctl = sg_control_sockets(s->ops.control, ctl);
        for (size_t i = 0; i < n_ctl; i++)
            items[2 + i] = (zmq_pollitem_t){.socket = ctl[i], .events = ZMQ_POLLIN};
        items[2 + n_ctl] = (zmq_pollitem_t){.socket = sg_drill_socket(s->drill), .events = ZMQ_POLLIN};
        items[3 + n_ctl] =
            (zmq_pollitem_t){.socket = sg_lifecycle_socket(s->lifecycle), .events = ZMQ_POLLIN};
        int n_items = 4 + (int)n_ctl;
        if (s->zap) /* handshakes of the bus and the control sockets */
            items[n_items++] = (zmq_pollitem_t){.socket = sg_zap_socket(s->zap), .events = ZMQ_POLLIN};
        int n = zmq_poll(items, n_items, s_poll_timeout(s, sg_clock_mono(s->clock)));
        int64_t turn_start = sg_clock_mono_us(s->clock);
        if (n < 0 && zmq_errno() != EINTR) {
            sg_error(S_MOD, "poll failed: %s", zmq_strerror(zmq_errno()));
            return SG_EIO;
        }
        if (n > 0 && (items[0].revents & ZMQ_POLLIN))
            s_read_bus(s);
        if (n > 0 && (items[1].revents & ZMQ_POLLIN))
            s_handle_results(s);
        for (size_t i = 0; n > 0 && i < n_ctl; i++)
            if (items[2 + i].revents & ZMQ_POLLIN)
                sg_control_serve(s->ops.control, ctl[i]);
        if (n > 0 && (items[2 + n_ctl].revents & ZMQ_POLLIN))
            s_handle_drill(s);
        if (n > 0 && (items[3 + n_ctl].revents & ZMQ_POLLIN))
            s_handle_steps(s);
        if (n > 0 && s->zap && (items[4 + n_ctl].revents & ZMQ_POLLIN))
            sg_zap_serve(s->zap); /* an error is logged; the next handshake asks again */
        s_leader_tick(s);
        if (sg_leader_is_leader(s->leader)) { /* a standby ingests, and decides nothing */
            s_read_bus(s); /* what came during this turn's work, before judging */
            sg_now_t now = s_now(s);
            if (!sg_engine_pending(s->engine)) /* decisions still queued keep theirs */
                s->ops.tick_by_us = s->ops.heard_us ? s->ops.heard_us : sg_clock_mono_us(s->clock);
            int rc = sg_engine_tick(s->engine, now);
            if (rc != SG_OK)
                sg_error(S_MOD, "engine tick failed: %s", sg_err_str(rc));
            s_drain_decisions(s, false);
            s_flap_tick(s, now);
            sg_drill_tick(s->drill, now);
            s_commit_due(s);
        }
        s->ops.heard_us = 0; /* every read of the bus comes before the tick */
        s_save_opstate(s, false);
        int64_t mono = sg_clock_mono(s->clock);
        s_ops_tick(s, mono);
        s_observe_turn(s, sg_clock_mono_us(s->clock) - turn_start);
        if (mono >= next_stats) {
            s_log_stats(s);
            next_stats = mono + S_STATS_EVERY_MS;
        }
    }
    return SG_OK;
}

static json_t *s_stats_json(const s_svc_t *s)
{
    const sg_ingest_stats_t *st = sg_bus_stats(s->bus);
    json_t *dropped = json_object();
    for (int i = 1; i < SG_DROP_COUNT; i++)
        json_object_set_new(dropped, sg_drop_reason_name((sg_drop_reason_t)i),
                            json_integer((json_int_t)st->dropped[i]));
    sg_notify_stats_t ns;
    sg_notify_stats(s->notify, &ns);
    return json_pack("{s:{s:I,s:I,s:o},s:{s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I,s:I}}", "bus",
                     "received", (json_int_t)st->received, "accepted", (json_int_t)st->accepted,
                     "dropped", dropped, "runs", "decisions", (json_int_t)s->decisions,
                     "succeeded", (json_int_t)s->runs_ok, "failed", (json_int_t)s->runs_failed,
                     "cancelled", (json_int_t)s->runs_cancelled, "notify",
                     "queued", (json_int_t)ns.queued, "delivered", (json_int_t)ns.delivered,
                     "retries", (json_int_t)ns.retries, "dead", (json_int_t)ns.dead);
}

static int s_write_stats(const s_svc_t *s, const char *path)
{
    json_t *j = s_stats_json(s);
    if (!j)
        return SG_ENOMEM;
    int rc = json_dump_file(j, path, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 ? SG_OK : SG_EIO;
    json_decref(j);
    if (rc != SG_OK)
        sg_error(S_MOD, "cannot write stats to %s", path);
    return rc;
}

/* Leader election; in mode none the instance leads at once and replays the
 * journal now, as it always has; in mode etcd once it wins (s_leader_tick). */
static int s_leader_start(s_svc_t *s)
{
    s->leader = sg_leader_new(s->zctx, s->cfg, s->clock);
    if (!s->leader)
        return SG_EIO;
    if (s->cfg->leader.mode != SG_LEADER_NONE) {
        sg_executor_set_fence_hook(s->executor, s_fence, s->leader);
        sg_drill_set_fence(s->drill, s_fence, s->leader);
        sg_lifecycle_set_fence(s->lifecycle, s_fence, s->leader);
    }
    sg_executor_set_epoch(s->executor, sg_leader_epoch(s->leader));
    sg_drill_set_epoch(s->drill, sg_leader_epoch(s->leader));
    sg_lifecycle_set_epoch(s->lifecycle, sg_leader_epoch(s->leader));
    if (!sg_leader_is_leader(s->leader))
        return SG_OK;
    s->led = true;
    sg_recovery_env_t env = s_recovery_env(s);
    int rc = sg_recovery_replay(&env, SG_RECOVERY_RESTART);
    if (rc == SG_OK)
        s_commit_after_replay(s);
    return rc == SG_OK ? sg_lifecycle_resume(s->lifecycle) : rc;
}

/* The operator state this instance's journal kept (pauses, approvals,
 * denials, budgets, cooldowns, open loss episodes). */
static void s_load_opstate(s_svc_t *s)
{
    sg_recovery_env_t env = s_recovery_env(s);
    sg_recovery_load_opstate(&env);
    s->opstate_saved = sg_engine_opstate_gen(s->engine);
}

/* The directions of reversed collections, from the operator state this
 * instance's journal kept, applied to the config before the modules that
 * read it start. */
static void s_load_directions(s_svc_t *s)
{
    char *text = NULL;
    if (sg_journal_opstate_get(s->journal, &text) == SG_OK)
        s_apply_directions(s, text, false);
    free(text);
}

static int s_start(s_svc_t *s)
{
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    s->zctx = zmq_ctx_new();
    if (!s->zctx)
        goto fail;
    /* One ZAP handler per context: the bus and control add their domains. */
    if ((s->cfg->bus.curve.secret_key || s->cfg->control.secret_key) &&
        !(s->zap = sg_zap_new(s->zctx, s->clock)))
        goto fail;
    s->provider = sg_provider_new(s->cfg, s->clock);
    if (!s->provider)
        goto fail;
    s->journal = sg_journal_open(s->cfg->journal.path);
    if (!s->journal)
        goto fail;
    s->notify = sg_notify_open(s->cfg, s->clock, s->cfg->journal.path, &errs);
    if (!s->notify)
        goto fail;
    s->retention = sg_retention_start(&s->cfg->journal, s->clock);
    if (!s->retention)
        goto fail;
    s_load_directions(s);
    s->executor = sg_executor_new(s->zctx, s->cfg, s->provider, s->clock);
    uint64_t base = 0;
    if (sg_journal_max_run_id(s->journal, &base) != SG_OK)
        goto fail;
    s->engine = sg_engine_new(s->cfg, base, s_now(s));
    s->flap = sg_flap_new(s->cfg->n_sites, &s->cfg->policy.flapping);
    s->bus = sg_bus_new(s->zctx, s->cfg, s->zap);
    if (!s->executor || !s->engine || !s->flap || !s->bus)
        goto fail;
    s_load_opstate(s);
    s->drill = sg_drill_new(s->zctx, s->cfg, s->provider, s->clock, s->journal, s->engine);
    if (!s->drill)
        goto fail;
    s->lifecycle =
        sg_lifecycle_new(s->zctx, s->cfg, s->provider, s->clock, s->journal, s->engine);
    if (!s->lifecycle)
        goto fail;
    sg_lifecycle_set_drill_check(s->lifecycle, s_drill_runs, s);
    s->commit_next = INT64_MAX;
    if (!(s->commit_due = calloc(s->cfg->n_collections + 1, sizeof *s->commit_due)))
        goto fail;
    sg_executor_set_proof_hook(s->executor, s_proof, s);
    if (s_leader_start(s) != SG_OK || s_ops_start(s) != SG_OK)
        goto fail;
    sg_config_errors_fini(&errs);
    return SG_OK;
fail:
    for (size_t i = 0; i < errs.n; i++)
        sg_error(S_MOD, "%s", errs.items[i]);
    sg_config_errors_fini(&errs);
    return SG_EIO;
}

static void s_stop(s_svc_t *s)
{
    s_ops_stop(s);
    sg_lifecycle_destroy(&s->lifecycle);
    free(s->commit_due);
    s->commit_due = NULL;
    sg_drill_destroy(&s->drill);
    sg_heldruns_fini(&s->held);
    sg_bus_destroy(&s->bus);
    sg_executor_destroy(&s->executor);
    sg_leader_destroy(&s->leader); /* a leader releases the lease: a standby takes over */
    sg_engine_destroy(&s->engine);
    sg_flap_destroy(&s->flap);
    sg_retention_stop(&s->retention);
    sg_journal_close(&s->journal);
    sg_notify_destroy(&s->notify);
    sg_provider_destroy(&s->provider);
    sg_zap_destroy(&s->zap);
    if (s->zctx)
        zmq_ctx_term(s->zctx);
    s->zctx = NULL;
    s_ops_free_configs(s);
    free(s->opstate_unshared);
    s->opstate_unshared = NULL;
}

int sg_service_run(sg_config_t *cfg, const sg_service_opts_t *opts)
{
    s_svc_t s = {.cfg = cfg, .first_cfg = cfg, .clock = opts && opts->clock ? opts->clock : sg_clock_system()};
    int rc = s_start(&s);
    if (rc == SG_OK) {
        sg_info(S_MOD, "running: %zu site(s), %zu observer(s), %zu collection(s), %zu sink(s)",
                cfg->n_sites, cfg->n_observers, cfg->n_collections, cfg->n_sinks);
        sg_sdnotify_state(SG_SDNOTIFY_READY, "running");
        rc = s_loop(&s);
        s_save_opstate(&s, true); /* whatever the last turns changed */
        sg_sdnotify_state(SG_SDNOTIFY_STOPPING, "stopping");
        sg_info(S_MOD, "stopping");
        s_log_stats(&s);
        if (opts && opts->stats_path) {
            sg_executor_destroy(&s.executor); /* no more results after this point */
            int wrc = sg_notify_drain(s.notify, 5000);
            if (wrc != SG_OK)
                sg_warn(S_MOD, "sinks still had outcomes queued at stop");
            wrc = s_write_stats(&s, opts->stats_path);
            rc = rc ? rc : wrc;
        }
    }
    s_stop(&s);
    return rc;
}
