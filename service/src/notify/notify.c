/* notify: loads sink plugins, checks their options, and delivers the outcome
 * log to each sink from the journal's durable outbox, on one worker thread
 * per sink, with routing, grouping, backoff, dead letters and fallbacks. */
#include "notify/notify.h"
#include "notify/pluginlib.h"
#include "base/err.h"
#include "journal/journal.h"
#include "base/log.h"
#include "base/redact.h"
#include "journal/outcome.h"
#include "platform/platform.h"
#include "base/str.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    S_DEFAULT_INITIAL_MS = 100,  /* retry.initial when the config leaves it 0 */
    S_DEFAULT_MAX_MS = 30000,    /* retry.max */
    S_DEFAULT_LIMIT = 8,         /* retry.limit */
    S_SLEEP_SLICE_MS = 100,      /* clock sleeps go in slices so a stop or a kick is seen soon */
    S_IDLE_POLL_MS = 250,        /* an idle worker looks at the log this often anyway */
    S_ERROR_PAUSE_MS = 1000,     /* after a journal error, before trying again */
    S_SCAN_BATCH = 1024,         /* outcomes of the log routed per transaction */
    S_SCAN_MAX = 4096,           /* ... and per turn of the worker, before it delivers */
    S_PENDING_WINDOW = 4096,     /* pending rows looked at per pick */
    S_MARK_BATCH = 256,          /* deliveries read and recorded together */
    S_MARK_MAX_MS = 200,         /* ... or fewer, once they took this long (slow sinks: one) */
    S_CALL_FIRST = 16,           /* notices in a sink's first deliver_batch call */
    S_CALL_MS = 2000,            /* a deliver_batch call is kept to about this long */
    S_DESTROY_DRAIN_MS = 1000,   /* how long destroy lets the sinks catch up */
};

#define S_MODULE "notify"

/* Outcomes a worker parsed while routing them, kept for their delivery in
 * the same turn so that each is parsed once; in rising seq order. */
typedef struct {
    uint64_t *seqs;
    sg_outcome_t **outs; /* owned; NULL once taken */
    size_t n, cap;
} s_parsed_t;

/* One sink: its plugin library, its outbox connection and its worker. */
typedef struct s_sink s_sink_t;
struct s_sink {
    sg_notify_t *owner;
    const sg_sink_cfg_t *cfg; /* borrowed from the config */
    sg_pluginlib_t lib; /* the plugin library and the options given to init */
    char *log_tag; /* "sink:<name>" */
    sg_plugin_host_t host;
    void *ctx;
    bool inited;
    bool sync_ready;
    bool thread_started;
    bool waiting;      /* a reload's sink whose worker the loop's tick starts */
    bool start_failed; /* ... and could not start it (logged once, tried again) */
    pthread_t thread;
    /* Worker only, after start (before it, the loop opens j and reads the state). */
    sg_journal_t *j;  /* this sink's own connection to the journal */
    uint64_t cursor;  /* last seq of the log routed */
    int64_t failures; /* the sink's failed attempts, ever (as journaled) */
    int64_t streak;   /* failed attempts in a row, for the backoff */
    uint64_t rng;     /* jitter */
    s_parsed_t parsed; /* outcomes routed this turn, for their delivery */
    s_sink_t *fallback; /* the fallback sink, of the same config; NULL: none */
    sg_retry_cfg_t retry; /* with defaults filled in */
    sg_plugin_deliver_batch_fn deliver_batch; /* the plugin's; NULL: one deliver per notice */
    size_t call_max; /* notices per deliver_batch call, at most (s_call_size) */
    /* Guarded by mu. */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* kicked or stop */
    pthread_cond_t idle; /* the worker found nothing left to do */
    uint64_t kicks;      /* wake-ups asked for */
    uint64_t seen;       /* kicks already looked at when the worker last went idle */
    bool is_idle;
    bool stop;
    bool paused; /* standby: deliver nothing (sg_notify_set_active) */
    bool exited; /* the worker has returned: joining it does not wait */
    sg_notify_stats_t stats;
};

/* The sinks of one config. A sink's fallback is in the same set, so a set
 * is freed only once none of its workers runs. */
typedef struct s_set {
    s_sink_t *sinks;
    size_t n;
    struct s_set *next; /* the next set in sg_notify.stopping */
} s_set_t;

struct sg_notify {
    const sg_clock_t *clock; /* borrowed */
    s_set_t live;            /* the sinks of the config in force */
    s_set_t *stopping;       /* sets replaced by reloads, while a worker of theirs finishes */
    bool active;             /* deliver (sg_notify_set_active); new sinks start so */
    sg_notify_stats_t gone;  /* counters of the stopped sinks no sink of the same name took */
    char *path;           /* the journal file */
    char *tmp_dir;        /* a private outbox's directory, removed by destroy; NULL: shared */
    sg_journal_t *poster; /* post's own connection (the caller's thread) */
};

int sg_notify_check(const sg_config_t *cfg, sg_config_errors_t *errs)
{
    return sg_pluginlib_check(cfg, errs);
}

/* --- the host table -------------------------------------------------------------- */

/* A plugin's line, with the sink's secret option values masked (and, by
 * sg_log, URL credentials and tokens): whatever a plugin echoes (a URL, an
 * answer's body, a program's output) is masked here, at the one door. */
static void s_host_log(const sg_plugin_host_t *host, int level, const char *fmt, ...)
{
    const s_sink_t *s = host->host_data;
    if (level < SG_PLUGIN_LOG_ERROR)
        level = SG_PLUGIN_LOG_ERROR;
    if (level > SG_PLUGIN_LOG_DEBUG)
        level = SG_PLUGIN_LOG_DEBUG;
    if (level > (int)sg_log_get_level())
        return;
    va_list ap;
    va_start(ap, fmt);
    char *line = sg_vstrdupf(fmt, ap); /* whole: a cut could split a secret */
    va_end(ap);
    char *safe = line ? sg_redact(line, &s->lib.secrets) : NULL;
    sg_log((sg_log_level_t)level, s->log_tag, "%s",
           safe ? safe : "(line withheld: out of memory while masking secrets)");
    free(safe);
    free(line);
}

static int64_t s_host_now_ms(const sg_plugin_host_t *host)
{
    const s_sink_t *s = host->host_data;
    return sg_clock_wall(s->owner->clock);
}

/* Logs the options at debug level, secret values masked. */
static void s_log_options(const s_sink_t *s)
{
    if (sg_log_get_level() < SG_LOG_DEBUG)
        return;
    for (size_t i = 0; i < s->lib.n_options; i++) {
        const sg_plugin_config_key_t *k = sg_pluginlib_key(s->lib.plugin, s->lib.options[i].key);
        sg_debug(s->log_tag, "option %s = %s", s->lib.options[i].key,
                 (k && k->secret) ? "(secret)" : s->lib.options[i].value);
    }
}

/* --- routing ---------------------------------------------------------------------------------- */

static unsigned s_route_kind(sg_outcome_kind_t kind)
{
    switch (kind) {
    case SG_OUTCOME_SITE_SUSPECT:
    case SG_OUTCOME_SITE_LOST:
    case SG_OUTCOME_SITE_RECOVERED:
    case SG_OUTCOME_SITE_CONTESTED:
    case SG_OUTCOME_SITE_FLAPPING:
    case SG_OUTCOME_DECISION: return SG_ROUTE_DECISION;
    case SG_OUTCOME_BLOCKED: return SG_ROUTE_BLOCKED;
    case SG_OUTCOME_CANCELLED:
    case SG_OUTCOME_JOB_STARTED:
    case SG_OUTCOME_PROGRESS:
    case SG_OUTCOME_SUCCEEDED:
    case SG_OUTCOME_FAILED:
    case SG_OUTCOME_TIMED_OUT:
    case SG_OUTCOME_LIFECYCLE: return SG_ROUTE_JOB;
    case SG_OUTCOME_DRILL_REPORT: return SG_ROUTE_DRILL;
    case SG_OUTCOME_NOTICE: return SG_ROUTE_SERVICE;
    }
    return SG_ROUTE_SERVICE;
}

/* An outcome held for the record only (outcome.h: a flapping site's
 * suspect or recovered) goes to no sink. */
static bool s_routed(const sg_sink_cfg_t *sc, const sg_outcome_t *o)
{
    unsigned kinds = sc->kinds ? sc->kinds : (unsigned)SG_ROUTE_ALL;
    return !sg_outcome_held(o) && (kinds & s_route_kind(o->kind)) != 0 &&
           (int)o->severity >= sc->min_severity;
}

/* Decisions and blocks name a collection of a site: those are grouped. */
static bool s_groupable(const s_sink_t *s, const sg_outbox_row_t *r)
{
    return s->cfg->group_ms > 0 && r->site && !r->grp &&
           (strcmp(r->kind, "decision") == 0 || strcmp(r->kind, "blocked") == 0);
}

/* --- backoff ---------------------------------------------------------------------------------- */

static uint64_t s_next_random(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15)); /* splitmix64 */
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

int64_t sg_notify_backoff_cap_ms(const sg_retry_cfg_t *r, int64_t streak)
{
    int64_t initial = r->initial_ms > 0 ? r->initial_ms : S_DEFAULT_INITIAL_MS;
    int64_t max = r->max_ms > 0 ? r->max_ms : S_DEFAULT_MAX_MS;
    int64_t cap = initial;
    for (int64_t i = 1; i < streak && cap < max; i++)
        cap = cap > max / 2 ? max : cap * 2;
    return cap < max ? cap : max;
}

int64_t sg_notify_backoff_ms(const sg_retry_cfg_t *r, int64_t streak, uint64_t *rng)
{
    int64_t cap = sg_notify_backoff_cap_ms(r, streak);
    return (int64_t)(s_next_random(rng) % (uint64_t)(cap + 1));
}

/* --- the worker's waits ------------------------------------------------------------------------ */

static bool s_stopping(s_sink_t *s)
{
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static bool s_paused(s_sink_t *s)
{
    pthread_mutex_lock(&s->mu);
    bool paused = s->paused;
    pthread_mutex_unlock(&s->mu);
    return paused;
}

static uint64_t s_kicks(s_sink_t *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t k = s->kicks;
    pthread_mutex_unlock(&s->mu);
    return k;
}

static void s_kick(s_sink_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->kicks++;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
}

/* Sleeps `ms` on the clock in slices; false when a stop came first. With
 * `kick_gen`, also returns (true) as soon as the sink is kicked again. */
static bool s_sleep(s_sink_t *s, int64_t ms, const uint64_t *kick_gen)
{
    const sg_clock_t *clock = s->owner->clock;
    while (ms > 0) {
        if (s_stopping(s))
            return false;
        if (kick_gen && s_kicks(s) != *kick_gen)
            return true;
        int64_t slice = ms < S_SLEEP_SLICE_MS ? ms : S_SLEEP_SLICE_MS;
        sg_clock_sleep(clock, slice);
        ms -= slice;
    }
    return !s_stopping(s);
}

static void s_add_ms(struct timespec *ts, int64_t ms)
{
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Nothing to do as of kick `gen`: says so to drain, then waits for a kick,
 * a stop, or the idle poll (real time: a journal written by another
 * connection may have outcomes nobody kicked for). */
static void s_idle_wait(s_sink_t *s, uint64_t gen)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    s_add_ms(&deadline, S_IDLE_POLL_MS);
    pthread_mutex_lock(&s->mu);
    s->seen = gen;
    s->is_idle = true;
    pthread_cond_broadcast(&s->idle);
    while (!s->stop && s->kicks == gen) {
        if (pthread_cond_timedwait(&s->wake, &s->mu, &deadline) == ETIMEDOUT)
            break;
    }
    s->is_idle = false;
    pthread_mutex_unlock(&s->mu);
}

/* --- outcomes parsed while routing --------------------------------------------------------------- */

/* Keeps `o` (taken: *o is left NULL) for the delivery of row `seq`; seqs
 * come in rising order. Out of memory it is freed: it is read again then. */
static void s_parsed_put(s_parsed_t *p, uint64_t seq, sg_outcome_t **o)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        uint64_t *seqs = realloc(p->seqs, cap * sizeof *seqs);
        if (seqs)
            p->seqs = seqs;
        sg_outcome_t **outs = seqs ? realloc(p->outs, cap * sizeof *outs) : NULL;
        if (!outs) {
            sg_outcome_free(o);
            return;
        }
        p->outs = outs;
        p->cap = cap;
    }
    p->seqs[p->n] = seq;
    p->outs[p->n++] = *o;
    *o = NULL;
}

/* The outcome kept for row `seq` (the caller owns it now), or NULL. */
static sg_outcome_t *s_parsed_take(s_parsed_t *p, uint64_t seq)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->seqs[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->n || p->seqs[lo] != seq)
        return NULL;
    sg_outcome_t *o = p->outs[lo];
    p->outs[lo] = NULL;
    return o;
}

/* Frees what was not taken; `all`: the arrays too. */
static void s_parsed_clear(s_parsed_t *p, bool all)
{
    for (size_t i = 0; i < p->n; i++)
        sg_outcome_free(&p->outs[i]);
    p->n = 0;
    if (all) {
        free(p->seqs);
        free(p->outs);
        memset(p, 0, sizeof *p);
    }
}

/* --- routing the log into the outbox ------------------------------------------------------------ */

/* Routes one outcome of the log: when this sink is sent it, its seq and
 * site join seqs[] and sites[] at *queued, and the parsed outcome is kept
 * for its delivery. Returns 0 or SG_ENOMEM. */
static int s_route(s_sink_t *s, const sg_journal_logged_t *logged, uint64_t *seqs, char **sites,
                   size_t *queued)
{
    sg_outcome_t *o = sg_outcome_from_json(logged->json);
    if (!o) {
        sg_warn(s->log_tag, "outcome %" PRIu64 " of the log cannot be read; skipped",
                logged->seq);
        return SG_OK;
    }
    int rc = SG_OK;
    if (s_routed(s->cfg, o)) {
        seqs[*queued] = logged->seq;
        sites[*queued] = o->site ? sg_strdupf("%s", o->site) : NULL;
        rc = o->site && !sites[*queued] ? SG_ENOMEM : SG_OK;
        (*queued)++;
        s_parsed_put(&s->parsed, logged->seq, &o);
    }
    sg_outcome_free(&o);
    return rc;
}

/* Queues the log's new outcomes that this sink is routed (S_SCAN_BATCH
 * per transaction); the others are passed over. After S_SCAN_MAX of them
 * it stops with *more set, so that the worker delivers between. Returns 0
 * or a negative error (journal). */
static int s_scan(s_sink_t *s, bool *more)
{
    *more = false;
    for (size_t routed = 0;; routed += S_SCAN_BATCH) {
        if (routed >= S_SCAN_MAX) {
            *more = true;
            return SG_OK;
        }
        sg_journal_logged_t *logged = NULL;
        size_t n = 0;
        int rc = sg_journal_outbox_after(s->j, s->cursor, S_SCAN_BATCH, &logged, &n);
        if (rc != SG_OK || n == 0) {
            sg_journal_logged_free(logged, n);
            return rc;
        }
        uint64_t *seqs = calloc(n, sizeof *seqs);
        char **sites = calloc(n, sizeof *sites);
        size_t queued = 0;
        rc = seqs && sites ? SG_OK : SG_ENOMEM;
        for (size_t i = 0; rc == SG_OK && i < n; i++)
            rc = s_route(s, &logged[i], seqs, sites, &queued);
        uint64_t last = logged[n - 1].seq;
        if (rc == SG_OK)
            rc = sg_journal_outbox_queue(s->j, s->cfg->name, seqs, (const char *const *)sites,
                                         queued, last);
        for (size_t i = 0; sites && i < queued; i++)
            free(sites[i]);
        free(sites);
        free(seqs);
        sg_journal_logged_free(logged, n);
        if (rc != SG_OK)
            return rc;
        s->cursor = last;
        pthread_mutex_lock(&s->mu);
        s->stats.queued += queued;
        pthread_mutex_unlock(&s->mu);
        if (n < S_SCAN_BATCH)
            return SG_OK;
    }
}

/* --- what to deliver next --------------------------------------------------------------------- */

/* One delivery: the rows it settles and the outcome the plugin gets. */
typedef struct {
    uint64_t *seqs;
    size_t n;
    sg_outcome_t *outcome;
} s_work_t;

static void s_work_fini(s_work_t *w)
{
    free(w->seqs);
    sg_outcome_free(&w->outcome);
    memset(w, 0, sizeof *w);
}

/* The logged outcome of one row in *out. Returns 0, SG_EINVAL when the log
 * has no readable outcome there (it can never be delivered), or another
 * negative error (try again later). */
static int s_load(s_sink_t *s, uint64_t seq, sg_outcome_t **out)
{
    char *json = NULL;
    if ((*out = s_parsed_take(&s->parsed, seq)))
        return SG_OK;
    int rc = sg_journal_outbox_json(s->j, seq, &json);
    if (rc == SG_OK && !(*out = sg_outcome_from_json(json)))
        rc = SG_EINVAL;
    free(json);
    if (rc == SG_EINVAL || rc == SG_ENOTFOUND) {
        sg_error(s->log_tag, "outcome %" PRIu64 " of the log cannot be read", seq);
        rc = SG_EINVAL;
    }
    return rc;
}

static const char *s_fallback_name(const s_sink_t *s)
{
    return s->fallback ? s->fallback->cfg->name : NULL;
}

/* Dead-letters rows: journaled, logged by dedup key, handed to the fallback. */
static void s_dead_letter(s_sink_t *s, const uint64_t *seqs, size_t n, const char *why)
{
    const char *fb = s_fallback_name(s);
    int rc = sg_journal_outbox_dead(s->j, s->cfg->name, seqs, n, why,
                                    sg_clock_wall(s->owner->clock), fb);
    if (rc != SG_OK) {
        sg_error(s->log_tag, "cannot record %zu dead letter%s: %s", n, n == 1 ? "" : "s",
                 sg_err_str(rc));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        sg_outcome_t *o = NULL;
        (void)s_load(s, seqs[i], &o);
        sg_error(s->log_tag, "dead letter %s (%s): %s%s%s",
                 o && o->dedup_key ? o->dedup_key : "?",
                 o ? sg_outcome_kind_name(o->kind) : "?", why, fb ? "; handed to sink " : "",
                 fb ? fb : "");
        sg_outcome_free(&o);
    }
    pthread_mutex_lock(&s->mu);
    s->stats.dead += n;
    pthread_mutex_unlock(&s->mu);
    if (s->fallback)
        s_kick(s->fallback);
}

/* Rows that have waited through `limit` failed attempts are dead letters;
 * done[i] is set for each. Returns how many. */
static size_t s_expire(s_sink_t *s, sg_outbox_row_t *rows, size_t n, bool *done)
{
    uint64_t *dead = calloc(n ? n : 1, sizeof *dead);
    size_t n_dead = 0;
    for (size_t i = 0; dead && i < n; i++) {
        if (s->failures - rows[i].base >= s->retry.limit) {
            dead[n_dead++] = rows[i].seq;
            done[i] = true;
        }
    }
    if (n_dead > 0) {
        char *why = sg_strdupf("retries exhausted (%d failed attempts of the sink)",
                               s->retry.limit);
        s_dead_letter(s, dead, n_dead, why ? why : "retries exhausted");
        free(why);
    }
    free(dead);
    return n_dead;
}

/* From/to of a sealed group's key ".../group/<from>-<to>". */
static void s_group_window(const char *grp, int64_t *from, int64_t *to)
{
    long long a = 0, b = 0;
    const char *slash = strrchr(grp, '/');
    if (slash && sscanf(slash + 1, "%lld-%lld", &a, &b) == 2) {
        *from = a;
        *to = b;
    }
}

/* Builds the delivery of members[0..n) (rows of one group, in seq order). */
static int s_make_group(s_sink_t *s, sg_outbox_row_t **members, size_t n, const char *grp,
                        s_work_t *w)
{
    int64_t from = members[0]->time_ms, to = from + s->cfg->group_ms;
    if (grp)
        s_group_window(grp, &from, &to);
    sg_outcome_t **outs = calloc(n, sizeof *outs);
    w->seqs = calloc(n, sizeof *w->seqs);
    int rc = outs && w->seqs ? SG_OK : SG_ENOMEM;
    for (size_t i = 0; rc == SG_OK && i < n; i++) {
        w->seqs[w->n++] = members[i]->seq;
        rc = s_load(s, members[i]->seq, &outs[i]);
    }
    if (rc == SG_OK && n == 1) {
        w->outcome = outs[0];
        outs[0] = NULL;
    } else if (rc == SG_OK) {
        w->outcome = sg_outcome_group((const sg_outcome_t *const *)outs, n, from, to);
        rc = w->outcome ? SG_OK : SG_ENOMEM;
        if (rc == SG_OK && !grp)
            rc = sg_journal_outbox_seal(s->j, s->cfg->name, w->seqs, n, w->outcome->dedup_key);
    }
    for (size_t i = 0; outs && i < n; i++)
        sg_outcome_free(&outs[i]);
    free(outs);
    return rc;
}

/* Rows of the same sealed group, or of the same open window (kind, site,
 * time in [from, from + group)), starting at rows[first]. */
static size_t s_members(const s_sink_t *s, sg_outbox_row_t *rows, size_t n, const bool *done,
                        size_t first, sg_outbox_row_t **out)
{
    const sg_outbox_row_t *f = &rows[first];
    size_t k = 0;
    for (size_t i = first; i < n; i++) {
        const sg_outbox_row_t *r = &rows[i];
        bool same = f->grp ? (r->grp && strcmp(r->grp, f->grp) == 0)
                           : (!done[i] && s_groupable(s, r) && strcmp(r->kind, f->kind) == 0 &&
                              strcmp(r->site, f->site) == 0 && r->time_ms >= f->time_ms &&
                              r->time_ms < f->time_ms + s->cfg->group_ms);
        if (same)
            out[k++] = &rows[i];
    }
    return k;
}

/* The deliveries one pick chose, in seq order: at most one per pending
 * row looked at (s_plan sizes it so). */
typedef struct {
    s_work_t *works;
    size_t n;
} s_plan_t;

static void s_plan_fini(s_plan_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        s_work_fini(&p->works[i]);
    free(p->works);
    memset(p, 0, sizeof *p);
}

/* Appends *w to the plan, which takes what it holds (*w is left empty). */
static void s_plan_add(s_plan_t *p, s_work_t *w)
{
    p->works[p->n++] = *w;
    memset(w, 0, sizeof *w);
}

/* A single notice; its outcome is loaded with its batch (s_load_batch). */
static int s_plan_single(s_plan_t *p, uint64_t seq)
{
    s_work_t w = {.seqs = calloc(1, sizeof *w.seqs), .n = 1};
    if (!w.seqs)
        return SG_ENOMEM;
    w.seqs[0] = seq;
    s_plan_add(p, &w);
    return SG_OK;
}

/* The group that rows[first] begins (sealed, or a window that has closed,
 * sealed now), its rows marked done; a window still open sets *wake_at
 * instead. A group with a member the log cannot give is dead-lettered. */
static int s_plan_group(s_sink_t *s, s_plan_t *p, sg_outbox_row_t *rows, size_t n, bool *done,
                        size_t first, sg_outbox_row_t **members, int64_t now, int64_t *wake_at)
{
    size_t k = s_members(s, rows, n, done, first, members);
    for (size_t m = 0; m < k; m++)
        done[members[m] - rows] = true;
    int64_t closes = rows[first].time_ms + s->cfg->group_ms;
    if (!rows[first].grp && now < closes) {
        *wake_at = closes < *wake_at ? closes : *wake_at;
        return SG_OK;
    }
    s_work_t w = {0};
    int rc = s_make_group(s, members, k, rows[first].grp, &w);
    if (rc == SG_EINVAL) { /* a member cannot be read: dead-letter the lot, go on */
        s_dead_letter(s, w.seqs, w.n, "the outcome log entry cannot be read");
        rc = SG_OK;
    } else if (rc == SG_OK) {
        s_plan_add(p, &w);
    }
    s_work_fini(&w);
    return rc;
}

/* Plans every delivery that is due among the sink's oldest pending rows
 * (S_PENDING_WINDOW), in seq order: single outcomes, sealed groups, and
 * windows that have closed (sealed now). Rows past the retry limit are
 * dead-lettered first. Windows still open set *wake_at (wall ms). Returns
 * 0 (the plan may be empty) or a negative error. */
static int s_plan(s_sink_t *s, s_plan_t *p, int64_t *wake_at)
{
    sg_outbox_row_t *rows = NULL;
    size_t n = 0;
    *wake_at = INT64_MAX;
    int rc = sg_journal_outbox_pending(s->j, s->cfg->name, S_PENDING_WINDOW, &rows, &n);
    if (rc != SG_OK)
        return rc;
    bool *done = calloc(n ? n : 1, sizeof *done);
    sg_outbox_row_t **members = calloc(n ? n : 1, sizeof *members);
    p->works = calloc(n ? n : 1, sizeof *p->works);
    rc = done && members && p->works ? SG_OK : SG_ENOMEM;
    if (rc == SG_OK)
        s_expire(s, rows, n, done);
    int64_t now = sg_clock_wall(s->owner->clock);
    for (size_t i = 0; rc == SG_OK && i < n; i++) {
        if (done[i])
            continue;
        if (!rows[i].grp && !s_groupable(s, &rows[i]))
            rc = s_plan_single(p, rows[i].seq);
        else
            rc = s_plan_group(s, p, rows, n, done, i, members, now, wake_at);
    }
    free(members);
    free(done);
    sg_outbox_rows_free(rows, n);
    return rc;
}

/* Loads the outcomes of the single notices among works[0..n) (a group's
 * was built when it was planned): those parsed while routing, the others
 * in one read of the log. A notice whose outcome the log cannot give can
 * never be delivered: it is dead-lettered and its work left empty. Returns
 * 0 or a negative error (try again later). */
static int s_load_batch(s_sink_t *s, s_work_t *works, size_t n)
{
    uint64_t *seqs = calloc(n ? n : 1, sizeof *seqs);
    size_t *at = calloc(n ? n : 1, sizeof *at);
    char **jsons = calloc(n ? n : 1, sizeof *jsons);
    size_t k = 0;
    int rc = seqs && at && jsons ? SG_OK : SG_ENOMEM;
    for (size_t i = 0; rc == SG_OK && i < n; i++) {
        if (works[i].outcome || works[i].n != 1)
            continue;
        if (!(works[i].outcome = s_parsed_take(&s->parsed, works[i].seqs[0]))) {
            seqs[k] = works[i].seqs[0];
            at[k++] = i;
        }
    }
    if (rc == SG_OK)
        rc = sg_journal_outbox_jsons(s->j, seqs, k, jsons);
    for (size_t m = 0; rc == SG_OK && m < k; m++) {
        s_work_t *w = &works[at[m]];
        w->outcome = jsons[m] ? sg_outcome_from_json(jsons[m]) : NULL;
        if (!w->outcome) {
            sg_error(s->log_tag, "outcome %" PRIu64 " of the log cannot be read", w->seqs[0]);
            s_dead_letter(s, w->seqs, w->n, "the outcome log entry cannot be read");
            s_work_fini(w);
        }
    }
    for (size_t m = 0; jsons && m < k; m++)
        free(jsons[m]);
    free(jsons);
    free(at);
    free(seqs);
    return rc;
}

/* --- delivering --------------------------------------------------------------------------------- */

static void s_count(s_sink_t *s, uint64_t *counter, uint64_t by)
{
    pthread_mutex_lock(&s->mu);
    *counter += by;
    pthread_mutex_unlock(&s->mu);
}

/* Counts the sink's pending rows in the outbox and publishes the count
 * (sg_notify_stats' `pending`); on a journal error the last count stands. */
static void s_publish_pending(s_sink_t *s)
{
    long pending = sg_journal_outbox_count(s->j, s->cfg->name, SG_OUTBOX_PENDING);
    if (pending < 0)
        return;
    pthread_mutex_lock(&s->mu);
    s->stats.pending = (uint64_t)pending;
    pthread_mutex_unlock(&s->mu);
}

/* Deliveries of a batch that succeeded and are not recorded yet. */
typedef struct {
    uint64_t *seqs; /* the rows they settle */
    size_t n, cap;
    uint64_t groups; /* deliveries that carried a group */
    int64_t since;   /* monotonic ms when the first of them began */
} s_marks_t;

/* Room for the rows of works[0..n). */
static int s_marks_reserve(s_marks_t *m, const s_work_t *works, size_t n)
{
    size_t need = m->n;
    for (size_t i = 0; i < n; i++)
        need += works[i].n;
    if (need <= m->cap)
        return SG_OK;
    uint64_t *grown = realloc(m->seqs, need * sizeof *grown);
    if (!grown)
        return SG_ENOMEM;
    m->seqs = grown;
    m->cap = need;
    return SG_OK;
}

/* Records the batch's deliveries in one transaction and counts them. */
static void s_marks_flush(s_sink_t *s, s_marks_t *m)
{
    if (m->n == 0)
        return;
    int rc = sg_journal_outbox_delivered(s->j, s->cfg->name, m->seqs, m->n,
                                         sg_clock_wall(s->owner->clock));
    if (rc != SG_OK)
        sg_error(s->log_tag, "delivered %zu notice%s but cannot record it (they may be sent "
                             "again): %s", m->n, m->n == 1 ? "" : "s", sg_err_str(rc));
    pthread_mutex_lock(&s->mu);
    s->stats.delivered += m->n;
    s->stats.grouped += m->groups;
    pthread_mutex_unlock(&s->mu);
    m->n = 0;
    m->groups = 0;
}

/* A delivery that began at `began` (monotonic ms) and succeeded joins the
 * marks (room reserved). They are recorded with the batch, or at once when
 * S_MARK_MAX_MS have passed on the clock since the first of them began: a
 * sink that takes that long per delivery records each as it goes. */
static void s_marks_add(s_sink_t *s, s_marks_t *m, const s_work_t *w, int64_t began)
{
    int64_t now = sg_clock_mono(s->owner->clock);
    if (m->n == 0)
        m->since = began;
    memcpy(m->seqs + m->n, w->seqs, w->n * sizeof *w->seqs);
    m->n += w->n;
    m->groups += w->n > 1;
    if (now - m->since >= S_MARK_MAX_MS)
        s_marks_flush(s, m);
}

/* Whether a row of delivery `w` is among rows[0..n) with done[] set. */
static bool s_any_done(const sg_outbox_row_t *rows, const bool *done, size_t n, const s_work_t *w)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; done[i] && k < w->n; k++) {
            if (rows[i].seq == w->seqs[k])
                return true;
        }
    }
    return false;
}

/* After a failure: rows past the limit die (s_expire). Returns how many of
 * the deliveries ws[0..k) have no row dead-lettered (0 when the pending rows
 * cannot be read). */
static uint64_t s_expire_after_failure(s_sink_t *s, const s_work_t *const *ws, size_t k)
{
    sg_outbox_row_t *rows = NULL;
    size_t n = 0;
    if (sg_journal_outbox_pending(s->j, s->cfg->name, S_PENDING_WINDOW, &rows, &n) != SG_OK)
        return 0;
    bool *done = calloc(n ? n : 1, sizeof *done);
    if (done)
        s_expire(s, rows, n, done);
    uint64_t alive = 0;
    for (size_t w = 0; w < k; w++)
        alive += !(done && s_any_done(rows, done, n, ws[w]));
    free(done);
    sg_outbox_rows_free(rows, n);
    return alive;
}

/* The rows of the deliveries ws[0..k) in one new array (the caller frees
 * it), *n of them; NULL when out of memory. */
static uint64_t *s_seqs_of(const s_work_t *const *ws, size_t k, size_t *n)
{
    *n = 0;
    for (size_t w = 0; w < k; w++)
        *n += ws[w]->n;
    uint64_t *seqs = calloc(*n ? *n : 1, sizeof *seqs);
    for (size_t w = 0, at = 0; seqs && w < k; at += ws[w]->n, w++)
        memcpy(seqs + at, ws[w]->seqs, ws[w]->n * sizeof *seqs);
    return seqs;
}

/* A RETRY of the deliveries ws[0..k) (one delivery, or the RETRYs of one
 * deliver_batch call): one more failure of the sink; rows past the limit
 * die. Returns the backoff (full jitter) the sink waits before it tries
 * anything again. */
static int64_t s_failed(s_sink_t *s, const s_work_t *const *ws, size_t k)
{
    int64_t failures = s->failures;
    size_t n = 0;
    uint64_t *seqs = s_seqs_of(ws, k, &n);
    int rc = seqs ? sg_journal_outbox_failed(s->j, s->cfg->name, seqs, n,
                                             "the plugin asked to retry", &failures)
                  : SG_ENOMEM;
    free(seqs);
    if (rc != SG_OK)
        sg_error(s->log_tag, "cannot record a failed delivery: %s", sg_err_str(rc));
    else
        s->failures = failures;
    s->streak++;
    s_count(s, &s->stats.retries, s_expire_after_failure(s, ws, k));
    int64_t wait = sg_notify_backoff_ms(&s->retry, s->streak, &s->rng);
    sg_debug(s->log_tag, "backing off %" PRId64 " ms after %" PRId64 " failure%s in a row", wait,
             s->streak, s->streak == 1 ? "" : "s");
    return wait;
}

/* One delivery of a batch. OK joins the marks; a RETRY or FATAL first
 * records the marks, then is handled on its own (s_failed, s_dead_letter).
 * Returns the backoff after a RETRY, else -1. */
static int64_t s_deliver_one(s_sink_t *s, const s_work_t *w, s_marks_t *marks)
{
    int64_t began = sg_clock_mono(s->owner->clock);
    sg_deliver_result_t r = s->lib.plugin->deliver(s->ctx, w->outcome);
    if (r == SG_DELIVER_OK) {
        s->streak = 0;
        s_marks_add(s, marks, w, began);
        return -1;
    }
    s_marks_flush(s, marks);
    if (r == SG_DELIVER_RETRY)
        return s_failed(s, &w, 1);
    s->streak = 0; /* the sink answered: it is up; this notice is bad */
    s_dead_letter(s, w->seqs, w->n,
                  r == SG_DELIVER_FATAL ? "the plugin refused it for good"
                                        : "the plugin returned an unknown result");
    return -1;
}

/* Delivers works[0..n) one `deliver` call each, until a RETRY (*backoff
 * set). Returns 0, or SG_ESTOPPED at a stop or a pause (the delivery in
 * hand finishes). */
static int s_deliver_singly(s_sink_t *s, s_work_t *works, size_t n, s_marks_t *marks,
                            int64_t *backoff)
{
    for (size_t i = 0; *backoff < 0 && i < n; i++) {
        if (s_stopping(s) || s_paused(s))
            return SG_ESTOPPED;
        if (works[i].outcome)
            *backoff = s_deliver_one(s, &works[i], marks);
    }
    return SG_OK;
}

/* Dead-letters the deliveries ws[0..k) in one transaction. */
static void s_dead_letter_works(s_sink_t *s, const s_work_t *const *ws, size_t k, const char *why)
{
    size_t n = 0;
    uint64_t *seqs = k ? s_seqs_of(ws, k, &n) : NULL;
    if (k && !seqs)
        sg_error(s->log_tag, "out of memory: %zu dead letter%s left pending", k, k == 1 ? "" : "s");
    if (seqs)
        s_dead_letter(s, seqs, n, why);
    free(seqs);
}

/* The results of one deliver_batch call over ws[0..k), begun at `began`
 * (monotonic ms), each as s_deliver_one takes a `deliver` answer: OK joins
 * the marks; when any is not OK, the marks are recorded, the FATALs (and
 * unknown answers) dead-lettered, and the RETRYs together counted as one
 * failure of the sink. Returns the backoff after a RETRY, else -1. */
static int64_t s_settle_call(s_sink_t *s, s_work_t *const *ws, size_t k,
                             const sg_deliver_result_t *results, s_marks_t *marks, int64_t began)
{
    const s_work_t *retry[S_MARK_BATCH], *fatal[S_MARK_BATCH], *odd[S_MARK_BATCH];
    size_t n_retry = 0, n_fatal = 0, n_odd = 0;
    for (size_t i = 0; i < k; i++) {
        if (results[i] == SG_DELIVER_OK)
            s_marks_add(s, marks, ws[i], began);
        else if (results[i] == SG_DELIVER_RETRY)
            retry[n_retry++] = ws[i];
        else if (results[i] == SG_DELIVER_FATAL)
            fatal[n_fatal++] = ws[i];
        else
            odd[n_odd++] = ws[i];
    }
    if (n_retry < k)
        s->streak = 0; /* the sink answered some: it is up */
    if (n_retry + n_fatal + n_odd == 0)
        return -1;
    s_marks_flush(s, marks);
    s_dead_letter_works(s, fatal, n_fatal, "the plugin refused it for good");
    s_dead_letter_works(s, odd, n_odd, "the plugin returned an unknown result");
    return n_retry ? s_failed(s, retry, n_retry) : -1;
}

/* Notices per deliver_batch call, after a call of k that took `took_ms`:
 * halved when it took over S_CALL_MS (a stop waits for the call in hand),
 * doubled when a full call took under half of it; within [1, S_MARK_BATCH]. */
static void s_call_size(s_sink_t *s, size_t k, int64_t took_ms)
{
    if (took_ms > S_CALL_MS && k > 1)
        s->call_max = k / 2;
    else if (took_ms < S_CALL_MS / 2 && k >= s->call_max)
        s->call_max = k * 2 < S_MARK_BATCH ? k * 2 : S_MARK_BATCH;
}

/* One deliver_batch call over ws[0..k), k <= S_MARK_BATCH, every result
 * RETRY until the plugin says otherwise. Returns as s_settle_call. */
static int64_t s_deliver_call(s_sink_t *s, s_work_t *const *ws, size_t k, s_marks_t *marks)
{
    const sg_outcome_t *outs[S_MARK_BATCH];
    sg_deliver_result_t results[S_MARK_BATCH];
    for (size_t i = 0; i < k; i++) {
        outs[i] = ws[i]->outcome;
        results[i] = SG_DELIVER_RETRY;
    }
    int64_t began = sg_clock_mono(s->owner->clock);
    s->deliver_batch(s->ctx, outs, k, results);
    s_call_size(s, k, sg_clock_mono(s->owner->clock) - began);
    return s_settle_call(s, ws, k, results, marks, began);
}

/* Delivers works[0..n) (n <= S_MARK_BATCH) in deliver_batch calls of up to
 * call_max notices, until a call with a RETRY (*backoff set). Returns 0, or
 * SG_ESTOPPED at a stop or a pause (the call in hand finishes). */
static int s_deliver_batched(s_sink_t *s, s_work_t *works, size_t n, s_marks_t *marks,
                             int64_t *backoff)
{
    s_work_t *call[S_MARK_BATCH];
    for (size_t i = 0; *backoff < 0 && i < n;) {
        if (s_stopping(s) || s_paused(s))
            return SG_ESTOPPED;
        size_t k = 0;
        for (; i < n && k < s->call_max; i++) {
            if (works[i].outcome)
                call[k++] = &works[i];
        }
        if (k > 0)
            *backoff = s_deliver_call(s, call, k, marks);
    }
    return SG_OK;
}

/* Delivers the plan in batches of S_MARK_BATCH: the batch's outcomes read
 * in one go, delivered (one `deliver` call each, or in deliver_batch calls
 * when the plugin has it), and those that succeeded recorded in one
 * transaction. Stops early, after recording, at a stop, a pause or a RETRY
 * (*backoff set). Returns 0 or a negative error (journal). */
static int s_deliver_plan(s_sink_t *s, s_plan_t *p, int64_t *backoff)
{
    s_marks_t marks = {0};
    int rc = SG_OK;
    *backoff = -1;
    for (size_t at = 0; rc == SG_OK && *backoff < 0 && at < p->n; at += S_MARK_BATCH) {
        size_t n = p->n - at < S_MARK_BATCH ? p->n - at : S_MARK_BATCH;
        s_work_t *works = &p->works[at];
        rc = s_load_batch(s, works, n);
        rc = rc == SG_OK ? s_marks_reserve(&marks, works, n) : rc;
        if (rc == SG_OK)
            rc = s->deliver_batch ? s_deliver_batched(s, works, n, &marks, backoff)
                                  : s_deliver_singly(s, works, n, &marks, backoff);
        s_marks_flush(s, &marks);
    }
    free(marks.seqs);
    return rc == SG_ESTOPPED ? SG_OK : rc;
}

static void *s_worker(void *arg)
{
    s_sink_t *s = arg;
    while (!s_stopping(s)) {
        uint64_t gen = s_kicks(s);
        if (s_paused(s)) {
            s_idle_wait(s, gen); /* a standby: the outbox waits */
            continue;
        }
        s_plan_t plan = {0};
        int64_t wake_at = INT64_MAX, backoff = -1;
        bool more = false;
        int rc = s_scan(s, &more);
        rc = rc == SG_OK ? s_plan(s, &plan, &wake_at) : rc;
        rc = rc == SG_OK ? s_deliver_plan(s, &plan, &backoff) : rc;
        s_publish_pending(s);
        if (rc < 0) {
            sg_error(s->log_tag, "outbox: %s; trying again", sg_err_str(rc));
            s_sleep(s, S_ERROR_PAUSE_MS, NULL);
        } else if (backoff >= 0) {
            s_sleep(s, backoff, NULL);
        } else if (plan.n > 0 || more) {
            /* more may be due: look again at once */
        } else if (wake_at == INT64_MAX) {
            s_idle_wait(s, gen);
        } else {
            s_sleep(s, wake_at - sg_clock_wall(s->owner->clock), &gen);
        }
        s_plan_fini(&plan);
        s_parsed_clear(&s->parsed, false);
    }
    s_parsed_clear(&s->parsed, true);
    pthread_mutex_lock(&s->mu);
    s->exited = true;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* --- life cycle ---------------------------------------------------------------------------------- */

static int s_sink_sync_init(s_sink_t *s)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return SG_ENOMEM;
    int rc = SG_ENOMEM;
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0)
        goto fail;
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        goto fail;
    if (pthread_cond_init(&s->wake, &attr) != 0) {
        pthread_mutex_destroy(&s->mu);
        goto fail;
    }
    if (pthread_cond_init(&s->idle, &attr) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->mu);
        goto fail;
    }
    s->sync_ready = true;
    rc = SG_OK;
fail:
    pthread_condattr_destroy(&attr);
    return rc;
}

static uint64_t s_seed(const char *name, int64_t wall)
{
    uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
    return h ^ (uint64_t)wall;
}

/* Before the worker starts: the host table, the sink's own journal
 * connection and its plugin instance. Nothing here reads the sink's outbox
 * state, which the old worker of the same name may still be changing. */
static int s_sink_prepare(s_sink_t *s, sg_config_errors_t *errs)
{
    const sg_sink_cfg_t *sc = s->cfg;
    s->host.abi_version = SG_PLUGIN_ABI_VERSION;
    s->host.struct_size = (uint32_t)sizeof s->host;
    s->host.instance = sg_pluginlib_sink_name(sc);
    s->host.log = s_host_log;
    s->host.now_ms = s_host_now_ms;
    s->host.host_data = s;
    s->log_tag = sg_strdupf("sink:%s", sg_pluginlib_sink_name(sc));
    if (!s->log_tag || s_sink_sync_init(s) != SG_OK) {
        sg_pluginlib_error(errs, &sc->mark, "sink '%s': out of memory while starting",
                           sg_pluginlib_sink_name(sc));
        return SG_ENOMEM;
    }
    s->paused = !s->owner->active; /* a standby's sinks wait until it leads */
    s->j = sg_journal_open(s->owner->path);
    int rc = s->j ? sg_journal_outbox_init(s->j, true) : SG_EIO;
    if (rc != SG_OK) {
        sg_pluginlib_error(errs, &sc->mark, "sink '%s': cannot open its outbox in the journal",
                           sg_pluginlib_sink_name(sc));
        return rc;
    }
    s_log_options(s);
    if (s->lib.plugin->init(&s->host, s->lib.options, s->lib.n_options, &s->ctx) != 0) {
        sg_pluginlib_error(errs, &sc->mark, "sink '%s': plugin '%s' failed to start (see the log)",
                           sg_pluginlib_sink_name(sc), s->lib.plugin->name);
        return SG_ECONFIG;
    }
    s->inited = true;
    return SG_OK;
}

/* Reads the sink's outbox state (cursor, failures), fills in its retry
 * rules and starts its worker: only while no other worker of its name runs. */
static int s_sink_run(s_sink_t *s, sg_config_errors_t *errs)
{
    const sg_sink_cfg_t *sc = s->cfg;
    bool created = false;
    int rc = sg_journal_outbox_sink(s->j, sg_pluginlib_sink_name(sc), &s->cursor, &s->failures,
                                    &created);
    if (rc != SG_OK) {
        sg_pluginlib_error(errs, &sc->mark, "sink '%s': cannot open its outbox in the journal",
                           sg_pluginlib_sink_name(sc));
        return rc;
    }
    s->retry.initial_ms = sc->retry.initial_ms > 0 ? sc->retry.initial_ms : S_DEFAULT_INITIAL_MS;
    s->retry.max_ms = sc->retry.max_ms > 0 ? sc->retry.max_ms : S_DEFAULT_MAX_MS;
    s->retry.limit = sc->retry.limit > 0 ? sc->retry.limit : S_DEFAULT_LIMIT;
    s->rng = s_seed(sg_pluginlib_sink_name(sc), sg_clock_wall(s->owner->clock));
    s->deliver_batch = sg_pluginlib_deliver_batch(s->lib.plugin);
    s->call_max = S_CALL_FIRST;
    long pending = sg_journal_outbox_count(s->j, sg_pluginlib_sink_name(sc), SG_OUTBOX_PENDING);
    pthread_mutex_lock(&s->mu);
    s->stats.pending = pending > 0 ? (uint64_t)pending : 0; /* from the outbox: true at once */
    pthread_mutex_unlock(&s->mu);
    if (created)
        sg_info(s->log_tag, "new sink: starts after outcome %" PRIu64
                            " of the log (earlier outcomes are not sent to it)", s->cursor);
    else if (pending > 0)
        sg_info(s->log_tag, "resuming: %ld notice%s pending", pending, pending == 1 ? "" : "s");
    if (pthread_create(&s->thread, NULL, s_worker, s) != 0) {
        sg_pluginlib_error(errs, &sc->mark, "sink '%s': cannot start its worker thread",
                           sg_pluginlib_sink_name(sc));
        return SG_EIO;
    }
    s->thread_started = true;
    sg_info(s->log_tag, "plugin '%s' started from '%s'", s->lib.plugin->name, s->lib.path);
    return SG_OK;
}

/* Asks the worker to stop; it finishes the delivery in progress. Never waits. */
static void s_sink_ask_stop(s_sink_t *s)
{
    if (!s->thread_started)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->mu);
}

static bool s_exited(s_sink_t *s)
{
    pthread_mutex_lock(&s->mu);
    bool exited = s->exited;
    pthread_mutex_unlock(&s->mu);
    return exited;
}

/* Stops the worker (waiting for its delivery in progress), closes the
 * plugin and the journal connection. `report`: log what is still pending
 * (not when a sink of the same name goes on with it). */
static void s_sink_stop(s_sink_t *s, bool report)
{
    if (s->thread_started) {
        s_sink_ask_stop(s);
        pthread_join(s->thread, NULL);
        s->thread_started = false;
    }
    long left = s->j && report ? sg_journal_outbox_count(s->j, sg_pluginlib_sink_name(s->cfg),
                                                         SG_OUTBOX_PENDING)
                               : 0;
    if (left > 0)
        sg_warn(s->log_tag, "%ld notice%s not delivered yet%s", left, left == 1 ? "" : "s",
                s->owner->tmp_dir ? " (lost: this outbox is temporary)"
                                  : "; kept in the outbox for the next start");
    sg_journal_close(&s->j);
    if (s->inited) {
        s->lib.plugin->close(s->ctx);
        s->inited = false;
        s->ctx = NULL;
    }
    if (s->sync_ready) {
        pthread_cond_destroy(&s->idle);
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->mu);
        s->sync_ready = false;
    }
    free(s->log_tag);
    s->log_tag = NULL;
    sg_pluginlib_unload(&s->lib);
}

/* Resolves each sink's fallback to a sink of the same set. */
static int s_resolve_fallbacks(s_set_t *set, sg_config_errors_t *errs)
{
    int rc = SG_OK;
    for (size_t i = 0; i < set->n; i++) {
        s_sink_t *s = &set->sinks[i];
        s->fallback = NULL;
        if (!s->cfg->fallback)
            continue;
        for (size_t k = 0; k < set->n; k++) {
            if (k != i && set->sinks[k].cfg->name &&
                strcmp(set->sinks[k].cfg->name, s->cfg->fallback) == 0)
                s->fallback = &set->sinks[k];
        }
        if (!s->fallback) {
            sg_pluginlib_error(errs, &s->cfg->mark,
                               "sink '%s': fallback '%s' is not another configured sink",
                               sg_pluginlib_sink_name(s->cfg), s->cfg->fallback);
            rc = SG_ECONFIG;
        }
    }
    return rc;
}

/* Loads, checks and prepares the sinks of cfg into *set, no worker started.
 * On failure what was made stays in *set for s_set_close. */
static int s_set_prepare(sg_notify_t *n, s_set_t *set, const sg_config_t *cfg,
                         sg_config_errors_t *errs)
{
    set->sinks = calloc(cfg->n_sinks ? cfg->n_sinks : 1, sizeof *set->sinks);
    if (!set->sinks)
        return SG_ENOMEM;
    set->n = cfg->n_sinks;
    bool failed = false;
    for (size_t i = 0; i < set->n; i++) {
        set->sinks[i].owner = n;
        set->sinks[i].cfg = &cfg->sinks[i];
        if (sg_pluginlib_load(&set->sinks[i].lib, cfg, &cfg->sinks[i], errs) != SG_OK)
            failed = true;
    }
    if (failed || s_resolve_fallbacks(set, errs) != SG_OK)
        return SG_ECONFIG;
    for (size_t i = 0; i < set->n; i++) {
        int rc = s_sink_prepare(&set->sinks[i], errs);
        if (rc != SG_OK)
            return rc;
    }
    return SG_OK;
}

/* The live sink called `name`, or NULL. */
static s_sink_t *s_live_sink(sg_notify_t *n, const char *name)
{
    for (size_t i = 0; i < n->live.n; i++) {
        if (strcmp(sg_pluginlib_sink_name(n->live.sinks[i].cfg), name) == 0)
            return &n->live.sinks[i];
    }
    return NULL;
}

/* Stops every sink of the set (see s_sink_stop) and frees it. `report`:
 * log the notices still pending of the sinks no live sink of the same name
 * takes over. */
static void s_set_close(sg_notify_t *n, s_set_t *set, bool report)
{
    for (size_t i = 0; set->sinks && i < set->n; i++) {
        s_sink_t *s = &set->sinks[i];
        bool heir = set != &n->live && s_live_sink(n, sg_pluginlib_sink_name(s->cfg));
        s_sink_stop(s, report && !heir);
    }
    free(set->sinks);
    set->sinks = NULL;
    set->n = 0;
}

/* A worker of a replaced set that still runs: the first, or the first
 * called `name`; NULL when none. */
static s_sink_t *s_stopping_worker(sg_notify_t *n, const char *name)
{
    for (s_set_t *set = n->stopping; set; set = set->next) {
        for (size_t i = 0; i < set->n; i++) {
            s_sink_t *s = &set->sinks[i];
            if (s->thread_started &&
                (!name || strcmp(sg_pluginlib_sink_name(s->cfg), name) == 0))
                return s;
        }
    }
    return NULL;
}

/* Adds the counters of *in to *out; its pending count (a gauge, not a
 * counter) only when `pending`. */
static void s_add_stats(sg_notify_stats_t *out, const sg_notify_stats_t *in, bool pending)
{
    out->queued += in->queued;
    out->delivered += in->delivered;
    out->retries += in->retries;
    out->dead += in->dead;
    out->grouped += in->grouped;
    if (pending)
        out->pending += in->pending;
}

/* Joins a replaced sink's worker that has exited; its counters go to the
 * live sink of its name, or to the notify's own. */
static void s_sink_join(sg_notify_t *n, s_sink_t *s)
{
    pthread_join(s->thread, NULL);
    s->thread_started = false;
    pthread_mutex_lock(&s->mu);
    sg_notify_stats_t st = s->stats;
    memset(&s->stats, 0, sizeof s->stats);
    pthread_mutex_unlock(&s->mu);
    s_sink_t *heir = s_live_sink(n, sg_pluginlib_sink_name(s->cfg));
    if (!heir || !heir->sync_ready) {
        s_add_stats(&n->gone, &st, false);
        return;
    }
    pthread_mutex_lock(&heir->mu);
    s_add_stats(&heir->stats, &st, false);
    pthread_mutex_unlock(&heir->mu);
}

/* A private outbox: a journal in a new temporary directory. */
static int s_private_path(sg_notify_t *n)
{
    const char *tmp = getenv("TMPDIR");
    n->tmp_dir = sg_strdupf("%s/sg-outbox-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!n->tmp_dir)
        return SG_ENOMEM;
    if (!mkdtemp(n->tmp_dir)) {
        sg_error(S_MODULE, "cannot make a temporary outbox: %s", strerror(errno));
        free(n->tmp_dir);
        n->tmp_dir = NULL;
        return SG_EIO;
    }
    n->path = sg_strdupf("%s/outbox.db", n->tmp_dir);
    return n->path ? SG_OK : SG_ENOMEM;
}

static void s_remove_private(sg_notify_t *n)
{
    if (!n->tmp_dir)
        return;
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; n->path && i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char *f = sg_strdupf("%s%s", n->path, suffixes[i]);
        if (f)
            unlink(f);
        free(f);
    }
    rmdir(n->tmp_dir);
    free(n->tmp_dir);
    n->tmp_dir = NULL;
}

sg_notify_t *sg_notify_open(const sg_config_t *cfg, const sg_clock_t *clock,
                            const char *journal_path, sg_config_errors_t *errs)
{
    sg_notify_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->clock = clock;
    n->active = cfg->leader.mode == SG_LEADER_NONE; /* else once it leads */
    int prc = journal_path ? ((n->path = sg_strdupf("%s", journal_path)) ? SG_OK : SG_ENOMEM)
                           : s_private_path(n);
    if (prc != SG_OK || !(n->poster = sg_journal_open(n->path)) ||
        sg_journal_outbox_init(n->poster, false) != SG_OK) {
        sg_pluginlib_error(errs, &(sg_mark_t){cfg->path, 1, 1},
                           "notify: cannot open the outbox in '%s'", n->path ? n->path : "?");
        goto fail;
    }
    if (s_set_prepare(n, &n->live, cfg, errs) != SG_OK)
        goto fail;
    for (size_t i = 0; i < n->live.n; i++) {
        if (s_sink_run(&n->live.sinks[i], errs) != SG_OK)
            goto fail;
    }
    return n;
fail:
    sg_notify_destroy(&n);
    return NULL;
}

sg_notify_t *sg_notify_new(const sg_config_t *cfg, const sg_clock_t *clock,
                           sg_config_errors_t *errs)
{
    return sg_notify_open(cfg, clock, NULL, errs);
}

int sg_notify_reload(sg_notify_t *n, const sg_config_t *next, sg_config_errors_t *errs)
{
    if (!n)
        return SG_EINVAL;
    s_set_t fresh = {0};
    s_set_t *old = calloc(1, sizeof *old);
    int rc = old ? s_set_prepare(n, &fresh, next, errs) : SG_ENOMEM;
    if (rc != SG_OK) {
        if (rc == SG_ENOMEM)
            sg_pluginlib_error(errs, &(sg_mark_t){next->path, 1, 1},
                               "notify: out of memory while starting the new sinks");
        s_set_close(n, &fresh, false);
        free(old);
        return rc; /* the sinks in force go on */
    }
    *old = n->live;
    n->live = fresh;
    for (size_t i = 0; i < old->n; i++)
        s_sink_ask_stop(&old->sinks[i]);
    old->next = n->stopping;
    n->stopping = old;
    for (size_t i = 0; i < n->live.n; i++) {
        s_sink_t *s = &n->live.sinks[i];
        s->waiting = true;
        if (s_stopping_worker(n, sg_pluginlib_sink_name(s->cfg)))
            sg_info(s->log_tag, "starts once the sink's previous worker has finished its "
                                "delivery in progress");
    }
    sg_notify_tick(n); /* sinks without a worker of their name still running start now */
    return SG_OK;
}

void sg_notify_tick(sg_notify_t *n)
{
    if (!n)
        return;
    for (s_set_t **pp = &n->stopping; *pp;) {
        s_set_t *set = *pp;
        bool running = false;
        for (size_t i = 0; i < set->n; i++) {
            s_sink_t *s = &set->sinks[i];
            if (s->thread_started && s_exited(s))
                s_sink_join(n, s);
            running = running || s->thread_started;
        }
        if (running) {
            pp = &set->next;
            continue;
        }
        *pp = set->next;
        s_set_close(n, set, true);
        free(set);
    }
    for (size_t i = 0; i < n->live.n; i++) {
        s_sink_t *s = &n->live.sinks[i];
        if (!s->waiting || s_stopping_worker(n, sg_pluginlib_sink_name(s->cfg)))
            continue;
        sg_config_errors_t quiet; /* a failure is logged once, then retried quietly */
        sg_config_errors_init(&quiet);
        if (s_sink_run(s, s->start_failed ? &quiet : NULL) == SG_OK)
            s->waiting = false;
        else
            s->start_failed = true;
        sg_config_errors_fini(&quiet);
    }
}

void sg_notify_wake(sg_notify_t *n)
{
    for (size_t i = 0; n && i < n->live.n; i++) {
        if (n->live.sinks[i].sync_ready)
            s_kick(&n->live.sinks[i]);
    }
}

void sg_notify_set_active(sg_notify_t *n, bool active)
{
    if (n)
        n->active = active;
    for (size_t i = 0; n && i < n->live.n; i++) {
        s_sink_t *s = &n->live.sinks[i];
        if (!s->sync_ready)
            continue;
        pthread_mutex_lock(&s->mu);
        s->paused = !active;
        s->kicks++;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->mu);
    }
}

int sg_notify_post(sg_notify_t *n, const sg_outcome_t *o)
{
    if (!n || !o->json || !o->dedup_key)
        return SG_EINVAL;
    int rc = sg_journal_outcome(n->poster, o, NULL);
    if (rc != SG_OK) {
        sg_error(S_MODULE, "cannot put outcome %s in the outbox: %s", o->dedup_key,
                 sg_err_str(rc));
        return rc;
    }
    sg_notify_wake(n);
    return SG_OK;
}

/* Whether a sink's count of pending notices is the one of its name: a
 * live sink's (0 until its worker starts), and a replaced sink's while its
 * worker runs and no live sink of its name has started. */
static bool s_pending_counts(sg_notify_t *n, const s_set_t *set, const s_sink_t *s)
{
    if (set == &n->live)
        return true;
    const s_sink_t *heir = s_live_sink(n, sg_pluginlib_sink_name(s->cfg));
    return s->thread_started && !(heir && heir->thread_started);
}

/* Adds the counters of the sinks of `set` (those called `name`, when not
 * NULL) to *out; returns how many sinks matched. */
static size_t s_set_stats(sg_notify_t *n, s_set_t *set, const char *name, sg_notify_stats_t *out)
{
    size_t found = 0;
    for (size_t i = 0; i < set->n; i++) {
        s_sink_t *s = &set->sinks[i];
        if (!s->sync_ready || (name && strcmp(sg_pluginlib_sink_name(s->cfg), name) != 0))
            continue;
        bool pending = s_pending_counts(n, set, s);
        pthread_mutex_lock(&s->mu);
        s_add_stats(out, &s->stats, pending);
        pthread_mutex_unlock(&s->mu);
        found++;
    }
    return found;
}

void sg_notify_stats(sg_notify_t *n, sg_notify_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!n)
        return;
    s_add_stats(out, &n->gone, false);
    s_set_stats(n, &n->live, NULL, out);
    for (s_set_t *set = n->stopping; set; set = set->next)
        s_set_stats(n, set, NULL, out);
}

int sg_notify_sink_stats(sg_notify_t *n, const char *sink, sg_notify_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!n)
        return SG_ENOTFOUND;
    size_t found = s_set_stats(n, &n->live, sink, out);
    for (s_set_t *set = n->stopping; set; set = set->next)
        found += s_set_stats(n, set, sink, out);
    return found ? SG_OK : SG_ENOTFOUND;
}

/* Lets the replaced sinks' workers finish and the new sinks start, until
 * `deadline`. Returns 0 or SG_ETIMEOUT. */
static int s_hand_over(sg_notify_t *n, const struct timespec *deadline)
{
    for (;;) {
        sg_notify_tick(n);
        s_sink_t *s = s_stopping_worker(n, NULL);
        if (!s)
            return SG_OK;
        pthread_mutex_lock(&s->mu);
        while (!s->exited) {
            if (pthread_cond_timedwait(&s->idle, &s->mu, deadline) == ETIMEDOUT && !s->exited) {
                pthread_mutex_unlock(&s->mu);
                return SG_ETIMEOUT;
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
}

int sg_notify_drain(sg_notify_t *n, int64_t timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    s_add_ms(&deadline, timeout_ms > 0 ? timeout_ms : 0);
    if (n && s_hand_over(n, &deadline) != SG_OK)
        return SG_ETIMEOUT;
    /* Passes until one finds every sink idle at once: a dead letter handed
     * to a fallback makes a sink that was idle busy again. */
    for (bool settled = !n; !settled;) {
        settled = true;
        for (size_t i = 0; i < n->live.n; i++) {
            s_sink_t *s = &n->live.sinks[i];
            if (!s->thread_started)
                continue;
            pthread_mutex_lock(&s->mu);
            while (!(s->is_idle && s->seen >= s->kicks)) {
                settled = false;
                if (pthread_cond_timedwait(&s->idle, &s->mu, &deadline) == ETIMEDOUT &&
                    !(s->is_idle && s->seen >= s->kicks)) {
                    pthread_mutex_unlock(&s->mu);
                    return SG_ETIMEOUT;
                }
            }
            pthread_mutex_unlock(&s->mu);
        }
    }
    return SG_OK;
}

void sg_notify_destroy(sg_notify_t **np)
{
    if (!np || !*np)
        return;
    sg_notify_t *n = *np;
    if (n->live.sinks && sg_notify_drain(n, S_DESTROY_DRAIN_MS) != SG_OK)
        sg_info(S_MODULE, "sinks still busy after %d ms; stopping them", (int)S_DESTROY_DRAIN_MS);
    for (size_t i = 0; i < n->live.n; i++) /* every worker asked first: they stop together */
        s_sink_ask_stop(&n->live.sinks[i]);
    while (n->stopping) { /* the replaced ones first: the live ones report what is pending */
        s_set_t *set = n->stopping;
        n->stopping = set->next;
        s_set_close(n, set, true);
        free(set);
    }
    s_set_close(n, &n->live, true);
    sg_journal_close(&n->poster);
    s_remove_private(n);
    free(n->path);
    free(n);
    *np = NULL;
}
