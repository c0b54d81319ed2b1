/* statuspage: the read-only status page of a running siteguard, served by
 * the metrics listener (metrics.h) next to /metrics:
 *
 *   GET /                      the page (statushtml.h), ?limit=N collections (default 200)
 *   GET /api/v1/status         the status document (statusdoc.h) as JSON, ?limit=N
 *                              collections (default and at most 1000)
 *   GET /drills/report?drill=NAME   the latest report of a drill as its HTML document
 *                              (drillreport.h)
 *
 * Two sides, as metrics has them. The loop thread feeds what the page
 * remembers (statusfeed.h: decisions, intents, runs' steps; and each
 * drill's latest report) and, about once a second while somebody looks,
 * builds the document and publishes it as one immutable JSON text
 * (sg_statuspage_due, sg_statuspage_publish): the loop never waits on HTTP,
 * and a page nobody reads costs the loop nothing (the document is built only
 * within 30 s of a request). libmicrohttpd's thread answers from the latest
 * text (sg_statuspage_answer): it parses, cuts and renders on its own
 * thread; when the text is older than 1.5 s (nobody asked lately) it asks
 * the loop for a fresh one and waits for it at most 2 s, then answers with
 * what it has (503 before the first).
 *
 * Every answer says how it may be cached (never) and its
 * Content-Security-Policy: the page allows only its own inline script and
 * style (by their SHA-256) and fetches only from its origin; a drill report
 * allows its inline style only; JSON allows nothing.
 *
 * Thread rules: new, destroy, seed, decision, intent, step, outcome, due
 * and publish on the loop thread (each takes NULL for "no page": a no-op);
 * answer on any thread (the published text and the reports' texts are
 * behind a mutex). Ownership: the config is borrowed and must outlive the
 * page; an answer's body is the caller's (sg_statuspage_answer_fini). */
#ifndef SG_STATUSPAGE_H
#define SG_STATUSPAGE_H

#include "base/clock.h"
#include "config/config.h"
#include "control/statusdoc.h"
#include "journal/journal.h"
#include "policy/engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Collections the page lists unless ?limit= says otherwise. */
#define SG_STATUSPAGE_LIMIT 200

typedef struct sg_statuspage sg_statuspage_t;

/* NULL when out of memory or when the page's hashes cannot be computed. */
sg_statuspage_t *sg_statuspage_new(const sg_config_t *cfg, const sg_clock_t *clock);
void sg_statuspage_destroy(sg_statuspage_t **p);

/* What the journal already knows: the latest run of each collection and
 * each configured drill's latest report. 0, SG_ENOMEM or SG_EIO. */
int sg_statuspage_seed(sg_statuspage_t *p, sg_journal_t *journal);
/* A decision the loop takes (statusfeed.h); for a failover, `wall_ms` is
 * its run's decided time as journaled. */
void sg_statuspage_decision(sg_statuspage_t *p, const sg_decision_t *d, int64_t wall_ms);
/* The intent of the current run of `collection` is committed. */
void sg_statuspage_intent(sg_statuspage_t *p, int collection, int64_t wall_ms);
/* A step of a run the loop journals (statusfeed.h). */
void sg_statuspage_step(sg_statuspage_t *p, const sg_feed_step_t *step);
/* Another outcome the loop posts: a drill's report is kept as its latest. */
void sg_statuspage_outcome(sg_statuspage_t *p, const sg_outcome_t *o);

/* Whether the loop should publish now (at `now_mono`): somebody asked
 * within 30 s and the last publish is a second old. */
bool sg_statuspage_due(sg_statuspage_t *p, int64_t now_mono);
/* Builds the document from `src` (its feed, drill reports and limit are
 * the page's own) and publishes it. 0 or SG_ENOMEM (the last one stays). */
int sg_statuspage_publish(sg_statuspage_t *p, const sg_statusdoc_src_t *src);

/* One HTTP answer. */
typedef struct {
    unsigned status;
    const char *content_type; /* static */
    const char *csp;          /* owned by the page */
    char *body;               /* owned by the answer */
    size_t len;
} sg_statuspage_answer_t;

/* The answer to GET `path` (no query) with the query's `limit` and `drill`
 * arguments (NULL: absent). Returns 0 with *a filled, or SG_ENOTFOUND (not
 * a path of the page: *a untouched), SG_ENOMEM. A bad limit is a 400. */
int sg_statuspage_answer(sg_statuspage_t *p, const char *path, const char *limit,
                         const char *drill, sg_statuspage_answer_t *a);
void sg_statuspage_answer_fini(sg_statuspage_answer_t *a);

#endif
