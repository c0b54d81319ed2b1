/* notify: delivers the outcome log to the configured sinks through plugins.
 *
 * For each sink it loads the plugin library, checks its ABI and the sink's
 * options against the plugin's config map (errors in config format, with the
 * option's file:line:column), and runs one worker thread.
 *
 * The durable outbox: every notice is in the journal's outcome log before a
 * sink sees it. Each sink's worker has its own SQLite connection to the
 * journal file and its own state there (journal.h, "the alert outbox"): a
 * cursor over the log, one row per notice routed to it (pending, delivered or
 * dead) and a count of its failed attempts. It routes the log's new outcomes
 * (config `kinds`, `min_severity`), and delivers pending rows in log order.
 *
 * Batches: the worker routes up to 1024 new outcomes of the log per
 * transaction (4096 per turn, then it delivers; each outcome is parsed once,
 * when routed, and kept for its delivery in the same turn), reads up to 4096
 * pending rows at once and plans every delivery due among them, then
 * delivers the plan in batches of 256: a batch's outcomes are read in one
 * transaction, handed to the plugin one `deliver` call each, and the rows
 * of those that succeeded are marked delivered together in one
 * transaction, at the end of the batch, or sooner once 200 ms have passed
 * on the clock since the first unmarked one began (a sink that takes that
 * long per delivery marks each as it goes). A RETRY, a FATAL, a stop or a
 * pause first marks what the batch delivered so far; a FATAL is then
 * dead-lettered and the batch goes on; a stop or a pause ends the batch
 * (the delivery in hand finishes); a RETRY ends it and backs off as below.
 *
 * A plugin with `deliver_batch` (siteguard/plugin.h; read only when its
 * descriptor's struct_size covers it) gets a batch's outcomes in calls
 * instead, one result per outcome: a sink's first call carries 16, and the
 * size doubles after a full call that took under 1 s and halves after one
 * that took over 2 s (at most 256, at least 1), so that a stop, a pause or a
 * reload, which wait for the call in hand, wait about as long as for one
 * delivery. Each result is taken as the same answer of `deliver` would be:
 * the OKs join the marks; when any is not OK the marks are recorded, the
 * FATALs dead-lettered together, and the RETRYs of the call recorded
 * together as one failed attempt of the sink (one step of the backoff, one
 * towards retry.limit); the batch then ends and backs off, and only the
 * notices not settled are sent again. Within a call a plugin may deliver
 * in any order, so log order holds per call, not across a retry.
 *
 * After a restart undelivered notices are sent and delivered ones are not;
 * the notices of a batch delivered before a crash, before their marks were
 * written, are sent once more with the same dedup keys (at least once:
 * never lost). A sink new to the journal starts from the end of the log,
 * not from the beginning of history.
 *
 * Retries: a RETRY counts one failure of the sink; the sink then backs off
 * for a random time in [0, cap] (full jitter; cap = retry.initial doubled per
 * failure in a row, at most retry.max; drawn from a generator seeded by the
 * sink's name and the clock) and tries its oldest due notice again. A notice
 * that has waited through retry.limit failures of the sink is dead-lettered,
 * as is one the plugin answers FATAL: recorded, logged by dedup key, and
 * queued for the sink's `fallback` sink, which delivers it whatever its own
 * routes say. A sink that is down delays only its own notices.
 *
 * Grouping (config `group`): decision and blocked notices of one site whose
 * times fall within [t, t + group) of the oldest pending one are delivered
 * as one outcome (sg_outcome_group: its message and JSON `collections` list
 * the collections; its dedup key names site, kind and window) once the
 * window has closed on the clock. The group is sealed in the journal before
 * it is sent, so a resend after a restart carries the same members and key.
 * A window with one notice delivers that notice itself.
 *
 * Time: backoff, group windows and the age of unmarked deliveries use the
 * injected clock (a fake clock's sleep advances it); waiting for work uses
 * condition variables.
 *
 * One worker per sink at a time: a sink's outbox state (its cursor, its
 * pending rows, its count of failures) is read by its worker when it starts
 * and kept by that worker alone; two workers of one name would route and
 * deliver the same notices twice. So a reload (sg_notify_reload) asks the
 * old workers to stop, each after the delivery it has in hand (which may
 * take up to the plugin's timeout), and starts a new sink only once the old
 * worker of its name has exited, from sg_notify_tick on the loop; a sink of
 * a new name starts at once. Nothing waits meanwhile: notices stay in the
 * outbox, and the new sink resumes from where the old one stopped.
 *
 * Thread rules: open, reload, tick, wake, post, stats, drain and destroy are
 * called from one thread (the loop thread). No call waits for a plugin or a
 * sink, except drain and destroy. Each takes a NULL notify as one without
 * sinks. */
#ifndef SG_NOTIFY_H
#define SG_NOTIFY_H

#include "base/clock.h"
#include "config/config.h"
#include "siteguard/plugin.h"

#include <stdint.h>

typedef struct sg_notify sg_notify_t;

/* Counters since the notify was opened (kept across reloads, not across
 * restarts), and one gauge read from the outbox itself. */
typedef struct {
    uint64_t queued;    /* notices routed to a sink */
    uint64_t delivered; /* notices delivered (a group counts each member) */
    uint64_t retries;   /* RETRY answers that did not end in a dead letter */
    uint64_t dead;      /* notices dead-lettered */
    uint64_t grouped;   /* deliveries that carried a group of notices */
    uint64_t pending;   /* gauge: the sink's rows pending in the outbox, as its worker
                           counted them when it started and after each turn (each batch,
                           each failed attempt, each idle poll); so notices left pending
                           by an earlier process count, and a restart cannot skew it.
                           Notices of the log not routed yet are not in it. */
} sg_notify_stats_t;

/* Loads and checks every sink's plugin and options without starting them;
 * for `siteguard check-config`. Appends errors; returns 0 or SG_ECONFIG. */
int sg_notify_check(const sg_config_t *cfg, sg_config_errors_t *errs);

/* Loads, checks and starts every sink, delivering from the outcome log of
 * the journal at `journal_path` (created when missing; the caller appends
 * outcomes to it with sg_journal_outcome and then calls sg_notify_wake).
 * Borrows cfg and clock until destroy. Returns NULL with errors appended when the outbox
 * cannot be opened, a plugin cannot be loaded, is of another ABI, rejects
 * its options or fails to init, or a fallback names no other sink. */
sg_notify_t *sg_notify_open(const sg_config_t *cfg, const sg_clock_t *clock,
                            const char *journal_path, sg_config_errors_t *errs);

/* The same with a private outbox in a temporary directory, removed by
 * destroy (nothing survives the process); for tools and tests that post
 * outcomes with sg_notify_post. */
sg_notify_t *sg_notify_new(const sg_config_t *cfg, const sg_clock_t *clock,
                           sg_config_errors_t *errs);

/* A reload: replaces the sinks with those of `next` (borrowed until
 * destroy). Loads, checks and inits every new sink first; when one fails
 * (its plugin cannot be loaded or rejects its options, its init fails, a
 * fallback names no other sink) the errors are appended, nothing changes
 * and the sinks in force go on: SG_ECONFIG (SG_ENOMEM, SG_EINVAL for a
 * NULL notify). Else the old workers are asked to stop and the new sinks
 * start as the rule above says, with the notify's current activity (a
 * leader's new sinks deliver, a standby's stay paused): 0. Never waits for
 * a sink. Counters of a sink go on in the new sink of the same name; those
 * of a sink no longer configured stay in the totals. */
int sg_notify_reload(sg_notify_t *n, const sg_config_t *next, sg_config_errors_t *errs);

/* The loop's periodic call: joins the old workers that have exited (their
 * plugins closed) and starts the new sinks they held back. Never waits. */
void sg_notify_tick(sg_notify_t *n);

/* New outcomes are in the log: wakes every sink's worker. Never blocks on
 * a sink. */
void sg_notify_wake(sg_notify_t *n);

/* Only the leader notifies (leader.h). With leader.mode other than none the
 * sinks start paused: they deliver nothing and the outbox waits (a paused
 * sink counts as idle for sg_notify_drain). active true resumes delivery
 * from where each sink's cursor stands; false pauses again (a delivery in
 * progress finishes). The notify keeps the state: sinks a reload starts
 * take it. The loop thread. */
void sg_notify_set_active(sg_notify_t *n, bool active);

/* Appends `o` (finished) to the outcome log through notify's own journal
 * connection, unless an outcome with its dedup key is there already, and
 * wakes the workers. Returns 0, SG_EINVAL (not finished) or SG_EIO. */
int sg_notify_post(sg_notify_t *n, const sg_outcome_t *o);

/* Totals over all sinks (a snapshot). `pending` sums the sinks in force
 * (during a reload, the replaced sink's count until its successor starts). */
void sg_notify_stats(sg_notify_t *n, sg_notify_stats_t *out);
/* One sink's counters; 0 or SG_ENOTFOUND. */
int sg_notify_sink_stats(sg_notify_t *n, const char *sink, sg_notify_stats_t *out);

/* Waits until the old workers of a reload have exited and their new sinks
 * started, and every sink has nothing pending and has seen every wake, or
 * `timeout_ms` passed on the real clock; returns 0 or SG_ETIMEOUT. A sink
 * that is down, or a group window still open, keeps it waiting. */
int sg_notify_drain(sg_notify_t *n, int64_t timeout_ms);

/* Lets the sinks catch up for up to 1 s, stops the workers, the old ones of
 * a reload too (waiting for the deliveries in hand; notices still pending
 * stay in the outbox for the next start), closes the plugins, frees. */
void sg_notify_destroy(sg_notify_t **n);

/* The backoff cap after `streak` (>= 1) failures in a row:
 * min(max, initial * 2^(streak - 1)); zero config fields mean the defaults
 * (100 ms, 30 s). */
int64_t sg_notify_backoff_cap_ms(const sg_retry_cfg_t *r, int64_t streak);
/* One backoff, full jitter: uniform in [0, cap]; advances *rng. */
int64_t sg_notify_backoff_ms(const sg_retry_cfg_t *r, int64_t streak, uint64_t *rng);

#endif
