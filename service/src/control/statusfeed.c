/* statusfeed: runs and holds as the status page shows them (statusfeed.h). */
#include "control/statusfeed.h"
#include "base/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sg_statusfeed {
    const sg_config_t *cfg;
    sg_feed_run_t *runs; /* per collection: its latest run */
    char **hold;         /* per collection: why it was last held back */
    int64_t *lost_ms;    /* per site */
    int *slots;          /* collection names: open addressing, -1 empty */
    size_t n_slots;      /* a power of two */
};

static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The collection named `name`, -1 when none. */
static int s_find(const sg_statusfeed_t *f, const char *name)
{
    if (!name)
        return -1;
    size_t mask = f->n_slots - 1;
    for (size_t i = s_hash(name) & mask;; i = (i + 1) & mask) {
        int c = f->slots[i];
        if (c < 0)
            return -1;
        if (strcmp(f->cfg->collections[c].name, name) == 0)
            return c;
    }
}

sg_statusfeed_t *sg_statusfeed_new(const sg_config_t *cfg)
{
    sg_statusfeed_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->cfg = cfg;
    size_t n = cfg->n_collections;
    f->n_slots = 16;
    while (f->n_slots < 2 * n)
        f->n_slots *= 2;
    f->runs = calloc(n ? n : 1, sizeof *f->runs);
    f->hold = calloc(n ? n : 1, sizeof *f->hold);
    f->lost_ms = calloc(cfg->n_sites ? cfg->n_sites : 1, sizeof *f->lost_ms);
    f->slots = malloc(f->n_slots * sizeof *f->slots);
    if (!f->runs || !f->hold || !f->lost_ms || !f->slots) {
        sg_statusfeed_destroy(&f);
        return NULL;
    }
    memset(f->slots, 0xff, f->n_slots * sizeof *f->slots); /* -1 */
    for (size_t c = 0; c < n; c++) {
        f->runs[c].percent = -1;
        const char *name = cfg->collections[c].name;
        size_t mask = f->n_slots - 1, i = s_hash(name) & mask;
        while (f->slots[i] >= 0) {
            if (strcmp(cfg->collections[f->slots[i]].name, name) == 0)
                break; /* a name used twice: the config refuses it; keep the first */
            i = (i + 1) & mask;
        }
        if (f->slots[i] < 0)
            f->slots[i] = (int)c;
    }
    return f;
}

static void s_run_fini(sg_feed_run_t *r)
{
    free(r->point);
    free(r->origin);
    free(r->job_path);
    free(r->message);
    *r = (sg_feed_run_t){.percent = -1};
}

void sg_statusfeed_destroy(sg_statusfeed_t **fp)
{
    if (!fp || !*fp)
        return;
    sg_statusfeed_t *f = *fp;
    for (size_t c = 0; f->runs && c < f->cfg->n_collections; c++)
        s_run_fini(&f->runs[c]);
    for (size_t c = 0; f->hold && c < f->cfg->n_collections; c++)
        free(f->hold[c]);
    free(f->runs);
    free(f->hold);
    free(f->lost_ms);
    free(f->slots);
    free(f);
    *fp = NULL;
}

/* Replaces *field with a copy of `value` (NULL clears). 0 or SG_ENOMEM. */
static int s_set(char **field, const char *value)
{
    char *copy = value ? strdup(value) : NULL;
    if (value && !copy)
        return SG_ENOMEM;
    free(*field);
    *field = copy;
    return SG_OK;
}

int sg_statusfeed_seed(sg_statusfeed_t *f, const sg_journal_run_t *runs, size_t n)
{
    int rc = SG_OK;
    for (size_t i = 0; i < n; i++) {
        const sg_journal_run_t *j = &runs[i];
        int c = s_find(f, j->collection);
        if (c < 0 || f->runs[c].run_id > j->run_id)
            continue;
        sg_feed_run_t *r = &f->runs[c];
        s_run_fini(r);
        r->run_id = j->run_id;
        r->decided_ms = j->decided_ms;
        r->intent_ms = j->intent_ms;
        r->ended_ms = j->ended_ms;
        r->end = !j->ended_ms    ? SG_FEED_OPEN
                 : j->abandoned  ? SG_FEED_ABANDONED
                 : j->failed_over ? SG_FEED_SUCCEEDED
                                  : SG_FEED_FAILED;
        rc |= s_set(&r->point, j->point);
        rc |= s_set(&r->origin, j->origin);
        rc |= s_set(&r->job_path, j->job_path);
    }
    return rc ? SG_ENOMEM : SG_OK;
}

int sg_statusfeed_decision(sg_statusfeed_t *f, const sg_decision_t *d)
{
    static const char *const origins[] = {NULL, "manual", "forced"};
    if (d->kind == SG_DECISION_SITE_LOST && d->site >= 0 && (size_t)d->site < f->cfg->n_sites) {
        f->lost_ms[d->site] = d->at.wall;
        return SG_OK;
    }
    if (d->collection < 0 || (size_t)d->collection >= f->cfg->n_collections)
        return SG_OK;
    if (d->kind == SG_DECISION_BLOCKED)
        return s_set(&f->hold[d->collection], d->reason);
    if (d->kind != SG_DECISION_FAILOVER)
        return SG_OK;
    sg_feed_run_t *r = &f->runs[d->collection];
    s_run_fini(r);
    free(f->hold[d->collection]);
    f->hold[d->collection] = NULL;
    r->run_id = d->run_id;
    r->decided_ms = d->at.wall;
    unsigned o = (unsigned)d->origin;
    int rc = s_set(&r->point, d->point);
    rc |= s_set(&r->origin, o < 3 ? origins[o] : NULL);
    rc |= s_set(&r->message, d->reason);
    return rc ? SG_ENOMEM : SG_OK;
}

void sg_statusfeed_intent(sg_statusfeed_t *f, int collection, int64_t wall_ms)
{
    if (collection < 0 || (size_t)collection >= f->cfg->n_collections)
        return;
    sg_feed_run_t *r = &f->runs[collection];
    if (r->run_id && !r->intent_ms && r->end == SG_FEED_OPEN)
        r->intent_ms = wall_ms;
}

int sg_statusfeed_step(sg_statusfeed_t *f, const sg_feed_step_t *step)
{
    const sg_outcome_t *o = step->outcome;
    int c = step->collection;
    if (c < 0 || (size_t)c >= f->cfg->n_collections || f->runs[c].run_id != step->run_id)
        return SG_OK; /* a run this feed does not follow (an older one) */
    sg_feed_run_t *r = &f->runs[c];
    int rc = s_set(&r->message, o->message);
    if (o->job_path && (!r->job_path || strcmp(r->job_path, o->job_path) != 0))
        rc |= s_set(&r->job_path, o->job_path);
    if (o->attempt > 0)
        r->attempt = o->attempt;
    if (o->percent >= 0) {
        r->percent = o->percent;
        r->progress_ms = o->time_ms;
    }
    if (o->kind == SG_OUTCOME_JOB_STARTED) {
        if (!r->called_ms)
            r->called_ms = o->time_ms;
        if (!r->intent_ms) /* resumed after a restart: the journal had it */
            r->intent_ms = o->time_ms;
    } else if (o->kind == SG_OUTCOME_TIMED_OUT) {
        r->timed_out = true;
    }
    if (step->ended) {
        r->ended_ms = step->wall_ms;
        r->end = step->cancelled     ? SG_FEED_CANCELLED
                 : step->failed_over ? SG_FEED_SUCCEEDED
                                     : SG_FEED_FAILED;
        if (step->failed_over)
            r->percent = 100;
    }
    return rc ? SG_ENOMEM : SG_OK;
}

const sg_feed_run_t *sg_statusfeed_run(const sg_statusfeed_t *f, int collection)
{
    if (collection < 0 || (size_t)collection >= f->cfg->n_collections)
        return NULL;
    return f->runs[collection].run_id ? &f->runs[collection] : NULL;
}

const char *sg_statusfeed_hold(const sg_statusfeed_t *f, int collection)
{
    if (collection < 0 || (size_t)collection >= f->cfg->n_collections)
        return NULL;
    return f->hold[collection];
}

int64_t sg_statusfeed_lost_ms(const sg_statusfeed_t *f, int site)
{
    return site >= 0 && (size_t)site < f->cfg->n_sites ? f->lost_ms[site] : 0;
}

const char *sg_feed_end_name(sg_feed_end_t e)
{
    switch (e) {
    case SG_FEED_SUCCEEDED: return "succeeded";
    case SG_FEED_FAILED: return "failed";
    case SG_FEED_CANCELLED: return "cancelled";
    case SG_FEED_ABANDONED: return "abandoned";
    default: return "open";
    }
}

const char *sg_feed_run_state(const sg_feed_run_t *r, char *buf, size_t len)
{
    if (r->end != SG_FEED_OPEN)
        snprintf(buf, len, "%s", sg_feed_end_name(r->end));
    else if (r->timed_out)
        snprintf(buf, len, "timed out");
    else if (r->called_ms && r->percent >= 0)
        snprintf(buf, len, "running %d%%", r->percent);
    else if (r->called_ms || r->job_path)
        snprintf(buf, len, "running");
    else if (r->intent_ms)
        snprintf(buf, len, "calling");
    else
        snprintf(buf, len, "decided");
    return buf;
}
