/* statusdoc: the status document, the one JSON view of a running siteguard
 * that the status page (/ and /api/v1/status) shows.
 *
 * Its first keys are those of `siteguardctl --json status` with the same
 * values (control's `status` reads the same engine, config and journal
 * rows, and shares this module's words for pauses and recovery points):
 * sites {name, state, witness}, observers {id, site, heard,
 * clock_offset_ms}, collections {name, site, replica_site, group, verdict,
 * paused, last_step}, runs {run_id, collection, decided_ms, ended_ms,
 * failed_over, job_path, recovery_point} (the latest run of each collection,
 * oldest first), steps {step_id, collection, action, who, intent_ms,
 * ended_ms, ok, detail, job_path} (the newest life-cycle steps, oldest
 * first), leader, mode, config, loop_turns, loop_longest_us. The page adds,
 * per site, what `explain SITE` says (the votes behind its state) and when
 * it was last declared lost; per collection the guard holding it back and
 * why, its run's state, recovery point and progress; the episode (the runs
 * decided since the oldest open site loss, else since the latest one; with
 * no loss since start, the runs in flight: a timeline of decided, intent,
 * called, progress, ended, on an axis from origin_ms, the loss or the first
 * run, to until_ms, now); the leader's mode,
 * name, holder and epoch; drills with their latest report's summary; the
 * outbox per sink; the latest audit entries; generated_ms.
 *
 * Bounded for any config: collections not idle come first (failed, failing
 * over, awaiting approval, blocked, denied, failed over, then idle; config
 * order within each) and at most `max_collections` are listed, with
 * collections_total, collections_omitted and the count of every verdict;
 * runs, the episode's runs and the explanations are capped likewise (the
 * most recent kept), each with its *_omitted count.
 *
 * Strings are the config's and events' own; JSON escapes them (the API
 * dumps with JSON_ESCAPE_SLASH, so "</script>" cannot end a script).
 *
 * Thread rules: sg_statusdoc_build reads the engine, journal, leader and
 * feed: the loop thread only. The helpers are pure. Ownership: the caller
 * owns what is returned. */
#ifndef SG_STATUSDOC_H
#define SG_STATUSDOC_H

#include "act/lifecycle.h"
#include "config/config.h"
#include "control/statusfeed.h"
#include "drill/drill.h"
#include "journal/journal.h"
#include "journal/steps.h"
#include "leader/leader.h"
#include "notify/notify.h"
#include "policy/engine.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The default and largest number of collections a document lists. */
#define SG_STATUSDOC_MAX_COLLECTIONS 1000
/* Runs (latest per collection) and the episode's runs listed at most. */
#define SG_STATUSDOC_MAX_RUNS 1000
#define SG_STATUSDOC_MAX_EPISODE_RUNS 200
/* Sites whose `explain` text is included at most (not healthy first). */
#define SG_STATUSDOC_MAX_EXPLAINED 32
/* Audit entries listed (the newest). */
#define SG_STATUSDOC_AUDIT 20
/* Life-cycle steps listed (the newest), as control's status lists them. */
#define SG_STATUSDOC_STEPS 20

/* What the document is built from; everything borrowed for the call. */
typedef struct {
    const sg_config_t *cfg;
    sg_engine_t *engine;             /* explain counts votes: not const */
    sg_journal_t *journal;           /* the audit trail, life-cycle steps; NULL: none */
    const sg_lifecycle_t *lifecycle; /* which steps run; NULL: no life-cycle steps */
    const sg_leader_t *leader;       /* NULL: single instance */
    const sg_statusfeed_t *feed;     /* runs, holds, losses; NULL: none */
    const sg_notify_stats_t *sink_stats; /* per sink, in cfg->sinks order; NULL: none */
    const sg_drill_status_t *drills; /* per configured drill */
    size_t n_drills;
    bool drill_running;
    const json_t *const *drill_reports; /* per drill: its latest report (a JSON object) or
                                           NULL; NULL: none known */
    uint64_t loop_turns;
    int64_t loop_longest_us;
    size_t max_collections; /* 0: SG_STATUSDOC_MAX_COLLECTIONS; larger values are cut to it */
    sg_now_t now;
} sg_statusdoc_src_t;

/* The document; NULL when out of memory. */
json_t *sg_statusdoc_build(const sg_statusdoc_src_t *src);

/* The pause in force for collection `c` at `now_mono`, as status shows it
 * ("N s: reason"; "" when none). Caller frees; NULL when out of memory. */
char *sg_statusdoc_pause_text(const sg_engine_t *e, const sg_config_t *cfg, int c,
                              int64_t now_mono);
/* A run's recovery point as status shows it: `point` (the run's own) when
 * set, else the configured one of collection `c` followed by
 * " (configured)" ("" when c < 0). Caller frees; NULL when out of memory. */
char *sg_statusdoc_run_point(const sg_config_t *cfg, int c, const char *point);

/* A collection's life-cycle step as status shows it: "commit succeeded
 * (step 3)", "revert running (step 4)" (a step open in the journal and not
 * running here is "open": resumed when this instance starts or leads).
 * Caller frees; NULL when out of memory. */
char *sg_statusdoc_step_words(const sg_config_t *cfg, const sg_lifecycle_t *lc,
                              const sg_step_rec_t *r);

/* The leader as status shows it (sg_leader_describe; for no leader, the
 * single instance's words). Caller frees; NULL when out of memory. */
char *sg_statusdoc_leader_text(const sg_leader_t *l);

#endif
