/* The built-in simulator of Msvm_CollectionReplicationService.
 *
 * State rules (see HYPERV facts), for calls made on the replica side of the
 * collection's current direction (the base handle always is that side):
 *   InitiateFailover               REPLICATING -> FAILOVER_RUNNING -> FAILED_OVER
 *   CommitFailover                 FAILED_OVER -> COMMITTED
 *   RevertFailover                 FAILED_OVER -> REPLICATING (not after a commit;
 *                                  same direction, a new InitiateFailover may follow)
 *   ReverseReplicationRelationship COMMITTED   -> REPLICATING, the direction swapped
 *   TestReplicaCollection          REPLICATING -> TESTING
 *   RevertTestReplicaCollection    TESTING     -> REPLICATING
 * A call that passes its checks starts a job and returns 4096. The new state
 * takes effect when the job completes; a failover shows FAILOVER_RUNNING
 * meanwhile, the other methods keep the old state. While a job is in flight
 * the collection is busy: every method on it returns 32775 (Invalid state),
 * the same answer a second InitiateFailover gets during a failover. A job that
 * ends in Exception puts the collection back where it was; one that completes
 * with warnings (JobState 32768) is a success like Completed; a hung job keeps
 * it busy for good. Every method is one for the replica side: called on the
 * primary side (a site's view, see below) it returns 32775 whatever the state.
 *
 * Direction and sides: each collection has a current primary and replica
 * site, the config's site and replica_site at first, swapped when a
 * ReverseReplicationRelationship job completes (the failed-over side becomes
 * the primary, the old primary the replica, and the collection replicates).
 * at_site gives one view per configured site; a view answers as that site's
 * cluster does: ReplicationMode 1 (Primary) on the primary site, 2 (Replica)
 * on the replica site; a site that is neither does not hold the collection
 * (calls 32773, reads SG_ENOTFOUND). A job belongs to the site that ran it
 * (always the replica side of its time): a view finds only its own site's
 * jobs, the base handle every job.
 *
 * ReplicationState (Msvm_VirtualSystemCollection; numbers as in HYPERV facts
 * and read back by wmi.c's mapping to sg_coll_state_t, which they round-trip):
 *   replica side:  REPLICATING 3 Replicating, FAILOVER_RUNNING 4 Failover
 *                  initiated, FAILED_OVER 5 Recovered, COMMITTED 6 Committed,
 *                  TESTING 13 (Test failover initiated: Microsoft's page prints
 *                  11..16 garbled; 13 is wmi.c's reading, inferred, not verified)
 *   primary side:  3 Replicating while the replica replicates or tests; 8
 *                  Critical (health critical) once the replica has failed over
 *                  (running, failed over or committed): it no longer takes
 *                  replication. wmi.c reads both as REPLICATING, and so does
 *                  get_state on a primary view.
 * Health is normal and the last replication `provider.sim.replication_lag`
 * before now, unless a fault of the collection sets `health` or `lag`; once
 * the replica has failed over, the last replication stays where it was when
 * the failover started.
 *
 * Faults: the first configured fault that matches the call (collection name,
 * method name) and has calls left applies. A return_code fault is applied
 * before the state rules and counts every call it answers; a job fault
 * (job_error_code, job_warnings or hang, hang winning) counts only calls that
 * start a job. Health and lag faults apply to reads of the replication, the
 * first of each that names the collection (or none).
 *
 * Recovery points, held by the replica side (a primary view lists none):
 * each direction of a collection starts with four seed points dated before
 * the direction began (the simulator's first start, kept in the state file,
 * or the end of the reverse): "latest-crash" (crash-consistent, 5 min
 * before), "crash-1" (crash-consistent, 20 min), "latest-app"
 * (application-consistent, 1 h) and "app-1" (application-consistent, 5 h).
 * Then one point is made every provider.sim.point_interval after the
 * direction began, "rp-<k>" for the k-th, application-consistent when k is a
 * multiple of app_consistent_every; the newest points_kept points of all are
 * kept, older ones expire (and are refused as unknown). A point's InstanceID
 * is "<name>:<point>" for the config's direction and
 * "<name>:rev<N>:<point>" after N reverses: a reverse starts a fresh list.
 * The schedule is a function of the clock: it does not pause while the
 * collection is failed over (a simplification; siteguard reads points before
 * it fails over).
 *
 * Every call on a known collection is counted per method, and so is every
 * call that was accepted (started a job); the counters are in the state
 * file, so a test can tell how often a method was really invoked.
 *
 * Jobs are evaluated lazily from the clock when read: no timer threads. In
 * memory a job's start is kept on the monotonic clock; the state file keeps
 * it on the wall clock, and loading converts it back, so a job started before
 * a restart continues by wall-clock time. Jobs are kept for the life of the
 * simulator (and in the state file), but an ended job answers as Hyper-V's
 * does once it has been removed: provider.sim.job_removal (Hyper-V's
 * TimeBeforeRemoval, 5 minutes by default) after its end, get_job answers
 * SG_ENOTFOUND and find_failover_job passes it over. Removal is judged
 * lazily from the clock too, so it needs no change in the file. Collections
 * and jobs are found by path through hash indexes.
 *
 * The state file (provider/simfile.h) is JSON: a snapshot of the whole state
 * (version, next_seq, epoch_ms, collections, jobs, fault_uses), then one
 * line per change, a compact JSON object with the same keys but version and
 * epoch_ms: the new entries of the collections and jobs the change touched,
 * and next_seq or fault_uses when they changed. Reading applies the lines
 * in order over the snapshot; an entry replaces the one with its path. A
 * job entry's "description" (the text of a job with warnings) is written
 * only when there is one and is optional when read, so files of older
 * builds load unchanged; its outcome "warnings" is new, and an older build
 * refuses a file that holds one. Likewise a collection entry's direction,
 * "primary" and "replica" (site names, written when the config names the
 * collection's sites), "reversals" and "direction_since_ms" (written once
 * it was reversed), and a job entry's "site" are optional: an entry without
 * them has the config's direction (a file of an older build), a job without
 * a site is seen from every side. A direction that names sites other than
 * the collection's two configured ones (the config changed) is logged and
 * the config's is taken. An older build ignores these keys and refuses a
 * file that holds a ReverseReplicationRelationship job. */
#include "provider/sim.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"
#include "provider/cimpath.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_LOG "provider:sim"
#define S_NAMESPACE "\\\\SIM\\root\\HyperVCluster\\v2:"
#define S_STATE_VERSION 1
#define S_HANG_PERCENT 50 /* a hung job stops rising here */
#define S_NO_JOB ((size_t)-1)
#define S_ANY_SITE (-1) /* a job's site when the config names none, or an older file's */
#define S_BASE (-1)     /* the side of the base handle: the replica of the current direction */
/* Bounds of what a state file may say: counters far below INT_MAX (they are
 * incremented), job starts after 1970 and before any clock reads (so the
 * conversion to the monotonic clock cannot overflow), no negative duration. */
#define S_MAX_COUNT 1000000000
#define S_MAX_START_MS (INT64_MAX / 4)
#define S_MAX_DURATION_MS S_MAX_START_MS
/* Entries one change may touch before it is written as a snapshot instead:
 * a call settles the collection's last job and starts one. */
#define S_DIRTY_MAX 2

typedef enum {
    S_OUT_COMPLETED = 0,
    S_OUT_EXCEPTION,
    S_OUT_HANG,
    S_OUT_WARNINGS, /* completed with warnings (JobState 32768) */
    S_OUT_COUNT
} s_outcome_t;

static const char *s_outcome_names[S_OUT_COUNT] = {"completed", "exception", "hang", "warnings"};

typedef struct {
    char *path;
    size_t coll;           /* index into cfg->collections */
    sg_method_t method;
    int64_t start_wall_ms; /* persisted */
    int64_t start_mono_ms; /* derived from start_wall_ms on load */
    int64_t duration_ms;
    s_outcome_t outcome;
    uint32_t error_code;   /* S_OUT_EXCEPTION only */
    char *description;     /* S_OUT_WARNINGS only: its ErrorDescription, owned; NULL: none */
    sg_coll_state_t from;  /* restored when the job fails */
    sg_coll_state_t to;    /* reached when the job completes */
    bool settled;          /* its end has been applied to the collection */
    int site;              /* the site whose cluster runs it (index), or S_ANY_SITE */
} s_job_t;

typedef struct {
    sg_coll_state_t state;
    size_t active; /* index of the job in flight, or S_NO_JOB */
    size_t last_failover; /* index of its newest InitiateFailover job, or S_NO_JOB */
    int calls[SG_METHOD_COUNT];    /* calls answered, per method */
    int accepted[SG_METHOD_COUNT]; /* calls that started a job, per method */
    int primary, replica; /* sites of the current direction (indices); -1: the config names none */
    int reversals;        /* reverses completed since the config's direction */
    int64_t since_ms;     /* wall time the current direction began; 0: the simulator's epoch */
} s_coll_t;

/* The seed recovery points of every direction of a collection. */
static const struct {
    const char *suffix;
    int64_t age_ms; /* before the direction began */
    bool app;
} s_points[] = {
    {"app-1", 5 * 3600 * 1000LL, true},
    {"latest-crash", 5 * 60 * 1000LL, false},
    {"latest-app", 3600 * 1000LL, true},
    {"crash-1", 20 * 60 * 1000LL, false},
};
#define S_N_POINTS (sizeof s_points / sizeof s_points[0])
#define S_ROLLING ((size_t)-1) /* s_point_t.seed of a point made since the direction began */

/* One recovery point the replica holds now: a seed, or the k-th made since
 * the direction began. */
typedef struct {
    size_t seed; /* index into s_points, or S_ROLLING */
    int64_t k;
    int64_t created_ms;
    bool app;
} s_point_t;

/* Strings found by hash: each slot holds an item's index + 1, or 0; linear
 * probing, at most half full. Items are never removed but all at once. */
typedef struct {
    size_t *slots;
    size_t cap; /* a power of two, or 0 */
} s_index_t;

/* What the operation under way changed, to be written as one line. */
typedef struct {
    size_t colls[S_DIRTY_MAX];
    size_t jobs[S_DIRTY_MAX];
    size_t n_colls, n_jobs;
    bool seq;    /* next_seq */
    bool faults; /* fault_uses */
    bool whole;  /* more than a line holds, or an earlier write failed: a snapshot */
} s_dirty_t;

typedef struct s_sim s_sim_t;

/* One site's view (at_site): its cluster's answers. */
typedef struct {
    sg_provider_t base; /* first: the handle is cast back and forth */
    s_sim_t *sim;
    int site;           /* index into cfg->sites */
} s_side_t;

struct s_sim {
    sg_provider_t base; /* first: the handle is cast back and forth */
    const sg_config_t *cfg;
    const sg_clock_t *clock;
    pthread_mutex_t mu;
    s_coll_t *colls;
    s_index_t coll_index; /* built once: read without the mutex */
    s_job_t *jobs;
    size_t n_jobs;
    size_t cap_jobs;
    s_index_t job_index;
    int *fault_uses; /* per cfg fault: calls it has answered */
    uint64_t next_seq;
    uint32_t tag; /* distinguishes this instance's job ids */
    int64_t epoch_ms; /* wall time of the first start: recovery points date from it */
    sg_simfile_t *file; /* the state file, or NULL */
    s_dirty_t dirty;
    uint64_t ticket; /* the last line written under the current lock, for sg_simfile_sync */
    s_side_t *sides; /* one per configured site, borrowed out by at_site */
};

/* Where an entry of the state file stands, for messages: line 0 is the
 * snapshot. */
typedef struct {
    const char *file;
    size_t line;
} s_where_t;

/* The state rule of each method: the state it needs, the state shown while
 * its job runs (UNKNOWN: unchanged) and the state it reaches. */
static const struct {
    sg_coll_state_t need, during, to;
} s_rules[SG_METHOD_COUNT] = {
    [SG_METHOD_INITIATE_FAILOVER] = {SG_COLL_REPLICATING, SG_COLL_FAILOVER_RUNNING,
                                     SG_COLL_FAILED_OVER},
    [SG_METHOD_COMMIT_FAILOVER] = {SG_COLL_FAILED_OVER, SG_COLL_UNKNOWN, SG_COLL_COMMITTED},
    [SG_METHOD_REVERT_FAILOVER] = {SG_COLL_FAILED_OVER, SG_COLL_UNKNOWN, SG_COLL_REPLICATING},
    [SG_METHOD_TEST_REPLICA] = {SG_COLL_REPLICATING, SG_COLL_UNKNOWN, SG_COLL_TESTING},
    [SG_METHOD_REVERT_TEST_REPLICA] = {SG_COLL_TESTING, SG_COLL_UNKNOWN, SG_COLL_REPLICATING},
    /* the direction swaps when it completes (s_settle) */
    [SG_METHOD_REVERSE_REPLICATION] = {SG_COLL_COMMITTED, SG_COLL_UNKNOWN, SG_COLL_REPLICATING},
};

/* Which end of a collection a caller speaks to. */
typedef enum {
    S_END_NONE = 0, /* a site that holds no part of it */
    S_END_PRIMARY,
    S_END_REPLICA
} s_end_t;

/* ---- small helpers ------------------------------------------------------- */

static const char *s_coll_name(const s_sim_t *sim, size_t ci)
{
    return sim->cfg->collections[ci].name;
}

/* ---- indexes by path ------------------------------------------------------- */

typedef const char *(*s_key_fn)(const s_sim_t *sim, size_t i);

static const char *s_coll_key(const s_sim_t *sim, size_t i)
{
    return sim->cfg->collections[i].cim_path;
}

static const char *s_job_key(const s_sim_t *sim, size_t i)
{
    return sim->jobs[i].path;
}

/* FNV-1a */
static size_t s_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 32));
}

static long s_index_find(const s_index_t *ix, const s_sim_t *sim, s_key_fn key, const char *want)
{
    if (!want || ix->cap == 0)
        return -1;
    for (size_t i = s_hash(want) & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
        size_t v = ix->slots[i];
        if (v == 0)
            return -1;
        if (strcmp(key(sim, v - 1), want) == 0)
            return (long)(v - 1);
    }
}

/* Adds item `item` (room reserved). */
static void s_index_put(s_index_t *ix, const s_sim_t *sim, s_key_fn key, size_t item)
{
    size_t i = s_hash(key(sim, item)) & (ix->cap - 1);
    while (ix->slots[i] != 0)
        i = (i + 1) & (ix->cap - 1);
    ix->slots[i] = item + 1;
}

/* Makes room for `want` items. */
static int s_index_reserve(s_index_t *ix, const s_sim_t *sim, s_key_fn key, size_t want)
{
    if (want * 2 <= ix->cap)
        return SG_OK;
    size_t cap = ix->cap ? ix->cap : 64;
    while (cap < want * 2)
        cap *= 2;
    size_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return SG_ENOMEM;
    s_index_t old = *ix;
    *ix = (s_index_t){.slots = slots, .cap = cap};
    for (size_t i = 0; i < old.cap; i++) {
        if (old.slots[i] != 0)
            s_index_put(ix, sim, key, old.slots[i] - 1);
    }
    free(old.slots);
    return SG_OK;
}

static void s_index_clear(s_index_t *ix)
{
    if (ix->cap)
        memset(ix->slots, 0, ix->cap * sizeof *ix->slots);
}

static long s_find_coll(const s_sim_t *sim, const char *path)
{
    return s_index_find(&sim->coll_index, sim, s_coll_key, path);
}

static long s_find_job_index(const s_sim_t *sim, const char *path)
{
    return s_index_find(&sim->job_index, sim, s_job_key, path);
}

static s_job_t *s_find_job(s_sim_t *sim, const char *path)
{
    long k = s_find_job_index(sim, path);
    return k >= 0 ? &sim->jobs[k] : NULL;
}

/* The index of the configured collections; the first of equal paths wins. */
static int s_index_colls(s_sim_t *sim)
{
    if (s_index_reserve(&sim->coll_index, sim, s_coll_key, sim->cfg->n_collections) != SG_OK)
        return SG_ENOMEM;
    for (size_t i = 0; i < sim->cfg->n_collections; i++) {
        if (s_find_coll(sim, s_coll_key(sim, i)) < 0)
            s_index_put(&sim->coll_index, sim, s_coll_key, i);
    }
    return SG_OK;
}

/* ---- what a change touched ---------------------------------------------------- */

static void s_touch(size_t *set, size_t *n, size_t item, bool *whole)
{
    for (size_t i = 0; i < *n; i++) {
        if (set[i] == item)
            return;
    }
    if (*n == S_DIRTY_MAX)
        *whole = true;
    else
        set[(*n)++] = item;
}

static void s_touch_coll(s_sim_t *sim, size_t ci)
{
    if (sim->file)
        s_touch(sim->dirty.colls, &sim->dirty.n_colls, ci, &sim->dirty.whole);
}

static void s_touch_job(s_sim_t *sim, size_t ji)
{
    if (sim->file)
        s_touch(sim->dirty.jobs, &sim->dirty.n_jobs, ji, &sim->dirty.whole);
}

static bool s_dirty_any(const s_dirty_t *d)
{
    return d->n_colls || d->n_jobs || d->seq || d->faults || d->whole;
}

static int s_state_parse(const char *text, sg_coll_state_t *out)
{
    for (int s = SG_COLL_REPLICATING; s <= SG_COLL_TESTING; s++) {
        if (strcmp(text, sg_coll_state_text((sg_coll_state_t)s)) == 0) {
            *out = (sg_coll_state_t)s;
            return SG_OK;
        }
    }
    return SG_EINVAL;
}

static int s_outcome_parse(const char *text, s_outcome_t *out)
{
    for (int i = 0; i < S_OUT_COUNT; i++) {
        if (strcmp(text, s_outcome_names[i]) == 0) {
            *out = (s_outcome_t)i;
            return SG_OK;
        }
    }
    return SG_EINVAL;
}

/* The CollectionID of collection ci: its cim_path's key, or its name when
 * the path names no instance (the simulator takes names). Caller frees. */
static char *s_coll_id(const s_sim_t *sim, size_t ci)
{
    sg_cimpath_coll_t kind;
    char *id = NULL;
    if (sg_cimpath_collection(s_coll_key(sim, ci), &kind, &id) != SG_OK)
        return NULL;
    return id ? id : strdup(s_coll_name(sim, ci));
}

/* The recovery point settings, 0 (a config built in code) read as the
 * default. */
static int64_t s_point_interval(const s_sim_t *sim)
{
    int64_t v = sim->cfg->provider.sim.point_interval_ms;
    return v > 0 ? v : SG_SIM_POINT_INTERVAL_DEFAULT_MS;
}

static size_t s_points_kept(const s_sim_t *sim)
{
    int v = sim->cfg->provider.sim.points_kept;
    return v <= 0 ? SG_SIM_POINTS_KEPT_DEFAULT : v > SG_SIM_POINTS_KEPT_MAX ? SG_SIM_POINTS_KEPT_MAX
                                                                            : (size_t)v;
}

static int64_t s_app_every(const s_sim_t *sim)
{
    int v = sim->cfg->provider.sim.app_consistent_every;
    return v > 0 ? v : SG_SIM_APP_EVERY_DEFAULT;
}

/* The wall time collection ci's current direction began. */
static int64_t s_since(const s_sim_t *sim, size_t ci)
{
    int64_t d = sim->colls[ci].since_ms;
    return d > 0 ? d : sim->epoch_ms;
}

/* The points collection ci's replica holds at wall time `now`, into `out`
 * (room for s_points_kept): those made since the direction began, newest
 * first, then the seeds young enough to be kept, in s_points' order.
 * Returns how many. */
static size_t s_points_now(const s_sim_t *sim, size_t ci, int64_t now, s_point_t *out)
{
    int64_t d = s_since(sim, ci), interval = s_point_interval(sim), every = s_app_every(sim);
    size_t kept = s_points_kept(sim), n = 0;
    int64_t made = now > d ? (now - d) / interval : 0; /* d + made * interval <= now */
    for (int64_t k = made; k >= 1 && n < kept; k--)
        out[n++] = (s_point_t){.seed = S_ROLLING, .k = k, .created_ms = d + k * interval,
                               .app = k % every == 0};
    size_t room = kept - n;
    for (size_t i = 0; i < S_N_POINTS; i++) {
        size_t younger = 0;
        for (size_t j = 0; j < S_N_POINTS; j++)
            younger += s_points[j].age_ms < s_points[i].age_ms;
        if (younger < room)
            out[n++] = (s_point_t){.seed = i, .created_ms = d - s_points[i].age_ms,
                                   .app = s_points[i].app};
    }
    return n;
}

/* The InstanceID of point `pt` of collection ci (caller frees):
 * "<name>:<point>", "<name>:rev<N>:<point>" after N reverses. */
static char *s_point_inst(const s_sim_t *sim, size_t ci, const s_point_t *pt)
{
    char rev[32] = "";
    if (sim->colls[ci].reversals > 0)
        snprintf(rev, sizeof rev, "rev%d:", sim->colls[ci].reversals);
    if (pt->seed == S_ROLLING)
        return sg_strdupf("%s:%srp-%lld", s_coll_name(sim, ci), rev, (long long)pt->k);
    return sg_strdupf("%s:%s%s", s_coll_name(sim, ci), rev, s_points[pt->seed].suffix);
}

/* The path of point `pt` of collection ci (caller frees), keyed as
 * Msvm_CollectionRecoveryPoint is, by CollectionID and InstanceID. */
static char *s_point_path(const s_sim_t *sim, size_t ci, const s_point_t *pt)
{
    char *id = s_coll_id(sim, ci);
    char *inst = s_point_inst(sim, ci, pt);
    char *qid = id ? sg_cimpath_quote(id) : NULL, *qinst = inst ? sg_cimpath_quote(inst) : NULL;
    char *path = qid && qinst ? sg_strdupf(S_NAMESPACE SG_CIM_POINT_CLASS
                                           ".CollectionID=%s,InstanceID=%s", qid, qinst)
                              : NULL;
    free(id);
    free(inst);
    free(qid);
    free(qinst);
    return path;
}

/* True for one of the points collection ci's replica holds now, named by
 * both keys, with or without the namespace prefix. */
static bool s_rp_known(const s_sim_t *sim, size_t ci, const char *rp)
{
    sg_cimpath_t p;
    if (sg_cimpath_parse(rp, &p) != SG_OK)
        return false;
    char *id = s_coll_id(sim, ci);
    const char *inst = sg_cimpath_key(&p, "InstanceID");
    bool known = sg_cimpath_is_point(&p) && (!p.server || strcmp(p.server, "SIM") == 0) && id &&
                 strcmp(sg_cimpath_key(&p, "CollectionID"), id) == 0;
    s_point_t *pts = known ? calloc(s_points_kept(sim), sizeof *pts) : NULL; /* none: refused */
    size_t n = pts ? s_points_now(sim, ci, sg_clock_wall(sim->clock), pts) : 0;
    bool found = false;
    for (size_t i = 0; !found && i < n; i++) {
        char *mine = s_point_inst(sim, ci, &pts[i]);
        found = mine && strcmp(mine, inst) == 0;
        free(mine);
    }
    free(pts);
    free(id);
    sg_cimpath_fini(&p);
    return found;
}

/* ---- direction and sides ----------------------------------------------------- */

/* The configured site index `i` when it names a site, else -1. */
static int s_site_or_none(const s_sim_t *sim, int i)
{
    return i >= 0 && (size_t)i < sim->cfg->n_sites ? i : -1;
}

/* Collection ci as the config starts it: replicating from its site to its
 * replica site. */
static void s_coll_init(s_sim_t *sim, size_t ci)
{
    const sg_collection_cfg_t *cc = &sim->cfg->collections[ci];
    int primary = s_site_or_none(sim, cc->site), replica = s_site_or_none(sim, cc->replica_site);
    if (primary < 0 || replica < 0)
        primary = replica = -1;
    sim->colls[ci] = (s_coll_t){.state = SG_COLL_REPLICATING, .active = S_NO_JOB,
                                .last_failover = S_NO_JOB, .primary = primary,
                                .replica = replica};
}

/* Which end of collection ci the side `site` (S_BASE: the base handle)
 * speaks to. */
static s_end_t s_end_of(const s_sim_t *sim, size_t ci, int site)
{
    const s_coll_t *c = &sim->colls[ci];
    if (site == S_BASE || site == c->replica)
        return S_END_REPLICA;
    return site == c->primary ? S_END_PRIMARY : S_END_NONE;
}

/* True when the replica has failed over (or is failing over): the primary
 * no longer replicates to it. */
static bool s_failed_over(sg_coll_state_t s)
{
    return s == SG_COLL_FAILOVER_RUNNING || s == SG_COLL_FAILED_OVER || s == SG_COLL_COMMITTED;
}

/* ReplicationState as the replica side shows each state (see the top). */
static int s_replica_state(sg_coll_state_t s)
{
    switch (s) {
    case SG_COLL_REPLICATING: return 3;      /* Replicating */
    case SG_COLL_FAILOVER_RUNNING: return 4; /* Failover initiated */
    case SG_COLL_FAILED_OVER: return 5;      /* Recovered */
    case SG_COLL_COMMITTED: return 6;        /* Committed */
    case SG_COLL_TESTING: return 13;         /* Test failover initiated (inferred, as wmi.c) */
    default: return -1;
    }
}

static const char *s_site_name(const s_sim_t *sim, int site)
{
    return site >= 0 ? sim->cfg->sites[site].name : "(none)";
}

/* ---- jobs ----------------------------------------------------------------- */

static int64_t s_job_elapsed(const s_job_t *j, int64_t now_mono)
{
    int64_t e = now_mono - j->start_mono_ms;
    return e < 0 ? 0 : e;
}

static bool s_job_ended(const s_job_t *j, int64_t now_mono)
{
    return j->outcome != S_OUT_HANG && s_job_elapsed(j, now_mono) >= j->duration_ms;
}

static int s_job_percent(const s_job_t *j, int64_t elapsed)
{
    int64_t pct = j->duration_ms > 0 ? elapsed * 100 / j->duration_ms : 100;
    int64_t cap = j->outcome == S_OUT_HANG ? S_HANG_PERCENT : 99;
    return (int)(pct > cap ? cap : pct);
}

/* True once job_removal has passed since the job's end, as Hyper-V deletes
 * an ended job TimeBeforeRemoval after it ends (Msvm_ConcreteJob's MOF in
 * Microsoft's Hyper-V cluster WMI reference, clushyperv/msvm-concretejob:
 * TimeBeforeRemoval = 00000000000500.000000:000, 5 minutes). The
 * configuration in force now decides, not the one when the job started. A
 * job that never ends is never removed. */
static bool s_job_removed(const s_sim_t *sim, const s_job_t *j, int64_t now_mono)
{
    int64_t removal = sim->cfg->provider.sim.job_removal_ms;
    if (removal <= 0 || !s_job_ended(j, now_mono))
        return false;
    /* bounded (S_MAX_START_MS, S_MAX_DURATION_MS, 100 years): no overflow */
    return now_mono - (j->start_mono_ms + j->duration_ms) >= removal;
}

/* Fills everything but error_description. */
static void s_job_eval(const s_job_t *j, int64_t now_mono, sg_job_status_t *out)
{
    int64_t elapsed = s_job_elapsed(j, now_mono);
    out->error_code = 0;
    if (s_job_ended(j, now_mono)) {
        out->elapsed_ms = j->duration_ms;
        if (j->outcome == S_OUT_EXCEPTION) {
            out->job_state = SG_JOB_EXCEPTION;
            out->percent_complete = s_job_percent(j, elapsed);
            out->error_code = j->error_code;
        } else if (j->outcome == S_OUT_WARNINGS) {
            out->job_state = SG_JOB_COMPLETED_WITH_WARNINGS;
            out->percent_complete = 100;
        } else {
            out->job_state = SG_JOB_COMPLETED;
            out->percent_complete = 100;
        }
        return;
    }
    out->elapsed_ms = elapsed;
    /* Starting for the first 5% of the duration, then Running. */
    out->job_state = elapsed * 20 < j->duration_ms ? SG_JOB_STARTING : SG_JOB_RUNNING;
    out->percent_complete = out->job_state == SG_JOB_STARTING ? 0 : s_job_percent(j, elapsed);
}

/* Room for one more job, in the array and its index. */
static int s_jobs_reserve(s_sim_t *sim)
{
    if (s_index_reserve(&sim->job_index, sim, s_job_key, sim->n_jobs + 1) != SG_OK)
        return SG_ENOMEM;
    if (sim->n_jobs < sim->cap_jobs)
        return SG_OK;
    size_t cap = sim->cap_jobs ? sim->cap_jobs * 2 : 16;
    s_job_t *jobs = realloc(sim->jobs, cap * sizeof *jobs);
    if (!jobs)
        return SG_ENOMEM;
    sim->jobs = jobs;
    sim->cap_jobs = cap;
    return SG_OK;
}

/* Appends job `j` (room reserved, path owned by the array from now on). */
static size_t s_jobs_push(s_sim_t *sim, const s_job_t *j)
{
    size_t k = sim->n_jobs++;
    sim->jobs[k] = *j;
    s_index_put(&sim->job_index, sim, s_job_key, k);
    return k;
}

/* A new, unused job path: a uuid-like id from the start time, this
 * instance's tag and a sequence number that the state file keeps. */
static char *s_new_job_path(s_sim_t *sim, int64_t wall_ms)
{
    for (;;) {
        uint64_t seq = sim->next_seq++;
        char *p = sg_strdupf(S_NAMESPACE "Msvm_ConcreteJob.InstanceID=\"%08x-%04x-4%03x-8%03x-%012llx\"",
                           (unsigned)((uint64_t)wall_ms >> 16), (unsigned)(wall_ms & 0xffff),
                           (unsigned)(sim->tag & 0xfff), (unsigned)((seq >> 48) & 0xfff),
                           (unsigned long long)(seq & 0xffffffffffffULL));
        if (!p || !s_find_job(sim, p))
            return p;
        free(p);
    }
}

/* ---- writing the state ----------------------------------------------------- */

/* A job entry; "description" only when the job has one (a newer field that
 * older files lack: it is optional when read). */
static json_t *s_job_to_json(const s_sim_t *sim, const s_job_t *j)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:s, s:s, s:b}", "path", j->path,
                          "collection", sim->cfg->collections[j->coll].cim_path, "method",
                          sg_method_name(j->method), "start_wall_ms",
                          (json_int_t)j->start_wall_ms, "duration_ms", (json_int_t)j->duration_ms,
                          "outcome", s_outcome_names[j->outcome], "error_code",
                          (json_int_t)j->error_code, "from", sg_coll_state_text(j->from), "to",
                          sg_coll_state_text(j->to), "settled", j->settled);
    if (o && ((j->description &&
               json_object_set_new(o, "description", json_string(j->description)) != 0) ||
              (j->site >= 0 &&
               json_object_set_new(o, "site", json_string(s_site_name(sim, j->site))) != 0))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* {"InitiateFailover": n, ...} for the methods with a non-zero count. */
static json_t *s_counts_to_json(const int *counts)
{
    json_t *o = json_object();
    for (int m = 0; o && m < SG_METHOD_COUNT; m++) {
        if (counts[m] && json_object_set_new(o, sg_method_name((sg_method_t)m),
                                             json_integer(counts[m])) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* A collection entry; its direction only when the config names its sites,
 * "reversals" and "direction_since_ms" only once it was reversed. */
static json_t *s_coll_to_json(const s_sim_t *sim, size_t i)
{
    const s_coll_t *c = &sim->colls[i];
    json_t *o = json_pack("{s:s, s:s, s:o, s:o}", "path", sim->cfg->collections[i].cim_path,
                          "state", sg_coll_state_text(c->state), "calls",
                          s_counts_to_json(c->calls), "accepted", s_counts_to_json(c->accepted));
    if (o && ((c->primary >= 0 &&
               (json_object_set_new(o, "primary", json_string(s_site_name(sim, c->primary))) ||
                json_object_set_new(o, "replica", json_string(s_site_name(sim, c->replica))))) ||
              (c->reversals > 0 &&
               json_object_set_new(o, "reversals", json_integer(c->reversals))) ||
              (c->since_ms > 0 &&
               json_object_set_new(o, "direction_since_ms", json_integer(c->since_ms))))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *s_uses_to_json(const s_sim_t *sim)
{
    json_t *uses = json_array();
    for (size_t i = 0; uses && i < sim->cfg->provider.sim.n_faults; i++) {
        if (json_array_append_new(uses, json_integer(sim->fault_uses[i])) != 0) {
            json_decref(uses);
            return NULL;
        }
    }
    return uses;
}

/* The collections and jobs numbered in colls[n_colls] and jobs[n_jobs] (all
 * of them when those are NULL) into `root`'s arrays. */
static int s_entries_to_json(const s_sim_t *sim, json_t *root, const size_t *colls,
                             size_t n_colls, const size_t *jobs, size_t n_jobs)
{
    json_t *ca = json_object_get(root, "collections"), *ja = json_object_get(root, "jobs");
    for (size_t i = 0; i < n_colls; i++) {
        if (json_array_append_new(ca, s_coll_to_json(sim, colls ? colls[i] : i)) != 0)
            return SG_ENOMEM;
    }
    for (size_t i = 0; i < n_jobs; i++) {
        if (json_array_append_new(ja, s_job_to_json(sim, &sim->jobs[jobs ? jobs[i] : i])) != 0)
            return SG_ENOMEM;
    }
    return SG_OK;
}

/* The snapshot: the whole state. */
static json_t *s_to_json(const s_sim_t *sim)
{
    json_t *root = json_pack("{s:i, s:I, s:I, s:[], s:[], s:o}", "version", S_STATE_VERSION,
                             "next_seq", (json_int_t)sim->next_seq, "epoch_ms",
                             (json_int_t)sim->epoch_ms, "collections", "jobs", "fault_uses",
                             s_uses_to_json(sim));
    if (root && s_entries_to_json(sim, root, NULL, sim->cfg->n_collections, NULL,
                                  sim->n_jobs) != SG_OK) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* The change line: what the operation touched. */
static json_t *s_change_to_json(const s_sim_t *sim)
{
    const s_dirty_t *d = &sim->dirty;
    json_t *root = json_pack("{s:[], s:[]}", "collections", "jobs");
    if (!root || s_entries_to_json(sim, root, d->colls, d->n_colls, d->jobs, d->n_jobs) != SG_OK ||
        (d->seq &&
         json_object_set_new(root, "next_seq", json_integer((json_int_t)sim->next_seq))) ||
        (d->faults && json_object_set_new(root, "fault_uses", s_uses_to_json(sim)))) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* `root` as text ending with a newline (caller frees), and releases it. */
static char *s_dump(json_t *root, size_t flags, size_t *len)
{
    char *text = root ? json_dumps(root, flags | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    size_t n = text ? strlen(text) : 0;
    char *line = text ? realloc(text, n + 2) : NULL;
    if (!line) {
        free(text);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    *len = n + 1;
    return line;
}

/* Hands `root` (released) to the state file: a snapshot, or a change line
 * appended (*ticket gets its ticket). */
static int s_write(s_sim_t *sim, json_t *root, bool snapshot, uint64_t *ticket)
{
    size_t len = 0;
    char *text = s_dump(root, snapshot ? JSON_INDENT(1) : JSON_COMPACT, &len);
    if (!text) {
        sg_error(S_LOG, "cannot encode state for %s: out of memory",
                 sim->cfg->provider.sim.state_file);
        return SG_ENOMEM;
    }
    int rc = snapshot ? sg_simfile_snapshot(sim->file, text, len)
                      : sg_simfile_append(sim->file, text, len, ticket);
    free(text);
    return rc;
}

/* Writes what the operation under way changed, mutex and file lock held: a
 * line, or a snapshot when one is needed (memory holds changes the file
 * lacks, or more than a line holds) or due (the lines outgrew the last
 * one; should it fail, the line is written and the next change tries
 * again). *ticket gets the line's, for sg_simfile_sync. Failures are
 * logged; the next write is then a snapshot, from memory, which stays
 * right. */
static int s_commit(s_sim_t *sim, uint64_t *ticket)
{
    *ticket = 0;
    if (!sim->file || !s_dirty_any(&sim->dirty))
        return SG_OK;
    bool needed = sim->dirty.whole;
    int rc = SG_ESTATE;
    if (needed || sg_simfile_wants_snapshot(sim->file))
        rc = s_write(sim, s_to_json(sim), true, ticket);
    if (rc != SG_OK && !needed)
        rc = s_write(sim, s_change_to_json(sim), false, ticket);
    sim->dirty = (s_dirty_t){.whole = rc != SG_OK};
    if (rc == SG_OK && *ticket)
        sim->ticket = *ticket;
    return rc;
}

/* ---- reading the state ------------------------------------------------------ */

static void s_corrupt(const s_where_t *at, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs why the state file is corrupt at `at`. */
static void s_corrupt(const s_where_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *why = sg_vstrdupf(fmt, ap);
    va_end(ap);
    if (at->line)
        sg_error(S_LOG, "state file %s line %zu is corrupt: %s", at->file, at->line,
                 why ? why : fmt);
    else
        sg_error(S_LOG, "state file %s is corrupt: %s", at->file, why ? why : fmt);
    free(why);
}

/* A counter of the state file: an integer in 0..S_MAX_COUNT, else 0. */
static int s_count_value(const json_t *v)
{
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
    return n >= 0 && n <= S_MAX_COUNT ? (int)n : 0;
}

/* Replaces `counts` with those of `o` (absent methods count 0). */
static void s_load_counts(json_t *o, int *counts)
{
    const char *key;
    json_t *v;
    sg_method_t m;
    memset(counts, 0, SG_METHOD_COUNT * sizeof *counts);
    json_object_foreach(o, key, v) {
        if (sg_method_parse(key, &m) == SG_OK)
            counts[m] = s_count_value(v);
    }
}

/* The configured site named `name`, or -1. */
static int s_find_site(const s_sim_t *sim, const char *name)
{
    for (size_t i = 0; name && i < sim->cfg->n_sites; i++) {
        if (strcmp(sim->cfg->sites[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

/* Takes the direction of a collection entry (its keys absent: the config's)
 * into collection ci, whose other fields are set. */
static int s_load_direction(s_sim_t *sim, size_t ci, const char *primary, const char *replica,
                            json_int_t reversals, json_int_t since, const s_where_t *at)
{
    s_coll_t *c = &sim->colls[ci];
    if (reversals < 0 || reversals > S_MAX_COUNT || since < 0 ||
        since > S_MAX_START_MS + S_MAX_DURATION_MS ||
        (!primary != !replica)) {
        s_corrupt(at, "bad direction of collection %s (%s)", s_coll_name(sim, ci),
                  !primary != !replica ? "primary and replica go together"
                  : reversals < 0 || reversals > S_MAX_COUNT ? "reversals out of range"
                                                             : "direction_since_ms out of range");
        return SG_EINVAL;
    }
    int p = s_find_site(sim, primary), r = s_find_site(sim, replica);
    const s_coll_t cfg = *c; /* the config's, from s_coll_init */
    c->reversals = (int)reversals;
    c->since_ms = since;
    if (!primary)
        return SG_OK;
    if (cfg.primary < 0 || p < 0 || r < 0 ||
        !((p == cfg.primary && r == cfg.replica) || (p == cfg.replica && r == cfg.primary))) {
        sg_warn(S_LOG, "state file %s: collection %s replicates from %s to %s, sites not "
                       "configured for it; taking the config's direction",
                at->file, s_coll_name(sim, ci), primary, replica);
        return SG_OK;
    }
    c->primary = p;
    c->replica = r;
    return SG_OK;
}

static int s_load_coll(s_sim_t *sim, json_t *c, const s_where_t *at)
{
    const char *path, *state, *primary = NULL, *replica = NULL;
    json_t *calls = NULL, *accepted = NULL;
    json_int_t reversals = 0, since = 0;
    json_error_t jerr;
    sg_coll_state_t st;
    if (json_unpack_ex(c, &jerr, 0, "{s:s, s:s, s?o, s?o, s?s, s?s, s?I, s?I}", "path", &path,
                       "state", &state, "calls", &calls, "accepted", &accepted, "primary",
                       &primary, "replica", &replica, "reversals", &reversals,
                       "direction_since_ms", &since) != 0 ||
        s_state_parse(state, &st) != SG_OK || st == SG_COLL_UNKNOWN) {
        s_corrupt(at, "bad collection entry");
        return SG_EINVAL;
    }
    long ci = s_find_coll(sim, path);
    if (ci < 0) {
        sg_warn(S_LOG, "state file %s: collection %s is no longer configured; ignored", at->file,
                path);
        return SG_OK;
    }
    size_t active = sim->colls[ci].active, last_failover = sim->colls[ci].last_failover;
    s_coll_init(sim, (size_t)ci); /* an entry replaces the one before, direction and all */
    sim->colls[ci].active = active;
    sim->colls[ci].last_failover = last_failover;
    sim->colls[ci].state = st;
    s_load_counts(calls, sim->colls[ci].calls);
    s_load_counts(accepted, sim->colls[ci].accepted);
    return s_load_direction(sim, (size_t)ci, primary, replica, reversals, since, at);
}

/* Reads one job entry into *j (path and description borrowed from `o`; the
 * description kept for a job with warnings only); *ci is -1 when its
 * collection is no longer configured. */
static int s_parse_job(s_sim_t *sim, json_t *o, s_job_t *j, long *ci)
{
    const char *path, *coll, *method, *outcome, *from, *to, *description = NULL, *site = NULL;
    json_int_t start, duration, code;
    int settled;
    json_error_t jerr;
    if (json_unpack_ex(o, &jerr, 0,
                       "{s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:s, s:s, s:b, s?s, s?s}", "path",
                       &path, "collection", &coll, "method", &method, "start_wall_ms", &start,
                       "duration_ms", &duration, "outcome", &outcome, "error_code", &code, "from",
                       &from, "to", &to, "settled", &settled, "description", &description,
                       "site", &site) != 0)
        return SG_EINVAL;
    j->site = site ? s_find_site(sim, site) : S_ANY_SITE; /* a site no longer configured: any */
    if (sg_method_parse(method, &j->method) != SG_OK ||
        s_outcome_parse(outcome, &j->outcome) != SG_OK || s_state_parse(from, &j->from) != SG_OK ||
        s_state_parse(to, &j->to) != SG_OK || code < 0 || code > UINT32_MAX || start < 0 ||
        start > S_MAX_START_MS || duration < 0 || duration > S_MAX_DURATION_MS)
        return SG_EINVAL;
    j->path = (char *)path;
    j->description = j->outcome == S_OUT_WARNINGS ? (char *)description : NULL;
    j->start_wall_ms = start;
    j->duration_ms = duration;
    j->error_code = (uint32_t)code;
    j->settled = settled != 0;
    *ci = s_find_coll(sim, coll);
    return SG_OK;
}

/* Takes a job entry: a new job, or the new entry of a known one (same
 * collection). A collection has at most one job in flight. */
static int s_load_job(s_sim_t *sim, json_t *o, const s_where_t *at, int64_t mono, int64_t wall)
{
    s_job_t j = {0};
    long ci;
    if (s_parse_job(sim, o, &j, &ci) != SG_OK) {
        s_corrupt(at, "bad job entry");
        return SG_EINVAL;
    }
    if (ci < 0) {
        sg_warn(S_LOG, "state file %s: job %s belongs to a collection no longer configured; ignored",
                at->file, j.path);
        return SG_OK;
    }
    long k = s_find_job_index(sim, j.path);
    s_coll_t *c = &sim->colls[ci];
    if (k >= 0 && sim->jobs[k].coll != (size_t)ci) {
        s_corrupt(at, "job %s moves to collection %s", j.path, s_coll_name(sim, (size_t)ci));
        return SG_EINVAL;
    }
    if (!j.settled && c->active != S_NO_JOB && (k < 0 || c->active != (size_t)k)) {
        s_corrupt(at, "two jobs in flight on %s", s_coll_name(sim, (size_t)ci));
        return SG_EINVAL;
    }
    j.coll = (size_t)ci;
    j.start_mono_ms = mono - (wall - j.start_wall_ms);
    if (j.description && !(j.description = strdup(j.description)))
        return SG_ENOMEM;
    if (k >= 0) {
        j.path = sim->jobs[k].path;
        free(sim->jobs[k].description);
        sim->jobs[k] = j;
    } else {
        if (s_jobs_reserve(sim) != SG_OK || !(j.path = strdup(j.path))) {
            free(j.description);
            return SG_ENOMEM;
        }
        k = (long)s_jobs_push(sim, &j);
    }
    if (!j.settled)
        c->active = (size_t)k;
    else if (c->active == (size_t)k)
        c->active = S_NO_JOB;
    if (j.method == SG_METHOD_INITIATE_FAILOVER &&
        (c->last_failover == S_NO_JOB || (size_t)k > c->last_failover))
        c->last_failover = (size_t)k;
    return SG_OK;
}

static void s_load_fault_uses(s_sim_t *sim, json_t *uses, const s_where_t *at)
{
    size_t n = sim->cfg->provider.sim.n_faults;
    if (!json_is_array(uses) || json_array_size(uses) != n) {
        sg_warn(S_LOG, "state file %s: fault counters do not match the config; ignored", at->file);
        return;
    }
    for (size_t i = 0; i < n; i++)
        sim->fault_uses[i] = s_count_value(json_array_get(uses, i));
}

/* Takes the entries of a snapshot or a change: collections, then jobs
 * (arrays or NULL), then fault counters (NULL: unchanged). */
static int s_load_entries(s_sim_t *sim, json_t *colls, json_t *jobs, json_t *uses,
                          const s_where_t *at)
{
    size_t i;
    json_t *v;
    int rc;
    json_array_foreach(colls, i, v) {
        if ((rc = s_load_coll(sim, v, at)) != SG_OK)
            return rc;
    }
    int64_t mono = sg_clock_mono(sim->clock), wall = sg_clock_wall(sim->clock);
    json_array_foreach(jobs, i, v) {
        if ((rc = s_load_job(sim, v, at, mono, wall)) != SG_OK)
            return rc;
    }
    if (uses)
        s_load_fault_uses(sim, uses, at);
    return SG_OK;
}

/* next_seq of a snapshot or a change when `v` holds one (0..INT64_MAX). */
static int s_load_seq(s_sim_t *sim, json_t *v, const s_where_t *at)
{
    if (!v)
        return SG_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        s_corrupt(at, "bad next_seq");
        return SG_EINVAL;
    }
    sim->next_seq = (uint64_t)json_integer_value(v);
    return SG_OK;
}

static int s_from_json(s_sim_t *sim, json_t *root, const s_where_t *at)
{
    int version;
    json_int_t epoch = 0;
    json_t *colls, *jobs, *seq, *uses = NULL;
    json_error_t jerr;
    if (json_unpack_ex(root, &jerr, 0, "{s:i, s:o, s?I, s:o, s:o, s?o}", "version", &version,
                       "next_seq", &seq, "epoch_ms", &epoch, "collections", &colls, "jobs", &jobs,
                       "fault_uses", &uses) != 0 ||
        !json_is_array(colls) || !json_is_array(jobs)) {
        s_corrupt(at, "%s", jerr.text[0] ? jerr.text : "bad top-level entries");
        return SG_EINVAL;
    }
    if (version != S_STATE_VERSION) {
        sg_error(S_LOG, "state file %s has version %d; this build reads %d", at->file, version,
                 S_STATE_VERSION);
        return SG_EINVAL;
    }
    if (s_load_seq(sim, seq, at) != SG_OK)
        return SG_EINVAL;
    if (epoch > 0)
        sim->epoch_ms = epoch;
    return s_load_entries(sim, colls, jobs, uses, at);
}

/* Takes one change line (`len` bytes without its newline). */
static int s_load_change(s_sim_t *sim, const char *text, size_t len, const s_where_t *at)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr), *colls = NULL, *jobs = NULL, *seq = NULL,
           *uses = NULL;
    if (!root) {
        s_corrupt(at, "%s (column %d)", jerr.text, jerr.column);
        return SG_EINVAL;
    }
    int rc = SG_EINVAL;
    if (json_unpack_ex(root, &jerr, 0, "{s?o, s?o, s?o, s?o}", "collections", &colls, "jobs",
                       &jobs, "next_seq", &seq, "fault_uses", &uses) != 0 ||
        (colls && !json_is_array(colls)) || (jobs && !json_is_array(jobs)))
        s_corrupt(at, "not a change: %s", jerr.text[0] ? jerr.text : "entries not in arrays");
    else if (s_load_seq(sim, seq, at) == SG_OK)
        rc = s_load_entries(sim, colls, jobs, uses, at);
    json_decref(root);
    return rc;
}

/* Takes the complete change lines of `text`, the first being line
 * `first_line`. `strict`: the first bad line is an error; else it is logged
 * and skipped. A last line without its newline is ignored (a change cut
 * short by a crash). *used gets the bytes taken. */
static int s_load_changes(s_sim_t *sim, const char *text, size_t len, s_where_t at, bool strict,
                          size_t *used)
{
    size_t pos = 0;
    for (; pos < len; at.line++) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl) {
            sg_warn(S_LOG, "state file %s line %zu is incomplete (a change cut short); ignored",
                    at.file, at.line);
            break;
        }
        size_t n = (size_t)(nl - (text + pos));
        int rc = n ? s_load_change(sim, text + pos, n, &at) : SG_OK;
        if (rc != SG_OK && strict)
            return rc;
        pos += n + 1;
    }
    *used = pos;
    return SG_OK;
}

/* Takes a state file's text: the snapshot, then its change lines. *used
 * gets the bytes taken (a last line without its newline is not). */
static int s_load_text(s_sim_t *sim, const char *text, size_t len, const char *file,
                       size_t *used)
{
    s_where_t at = {.file = file};
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_DISABLE_EOF_CHECK, &jerr);
    if (!root) {
        sg_error(S_LOG, "state file %s is corrupt: %s (line %d, column %d)", file, jerr.text,
                 jerr.line, jerr.column);
        return SG_EINVAL;
    }
    int rc = s_from_json(sim, root, &at);
    json_decref(root);
    size_t pos = (size_t)jerr.position, changes = 0;
    at.line = 1;
    for (size_t i = 0; i < pos; i++)
        at.line += text[i] == '\n';
    while (pos < len && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r'))
        pos++;
    if (rc == SG_OK && pos < len && text[pos] != '\n') {
        s_corrupt(&at, "text after the snapshot");
        rc = SG_EINVAL;
    }
    if (rc == SG_OK && pos < len) {
        at.line++;
        rc = s_load_changes(sim, text + pos + 1, len - pos - 1, at, true, &changes);
        pos += 1 + changes;
    }
    *used = pos;
    if (rc == SG_OK)
        sg_info(S_LOG, "state loaded from %s (%zu jobs)", file, sim->n_jobs);
    return rc;
}

/* Forgets the state in memory, before it is loaded again. */
static void s_forget(s_sim_t *sim)
{
    for (size_t i = 0; i < sim->n_jobs; i++) {
        free(sim->jobs[i].path);
        free(sim->jobs[i].description);
    }
    sim->n_jobs = 0;
    s_index_clear(&sim->job_index);
    for (size_t i = 0; i < sim->cfg->n_collections; i++)
        s_coll_init(sim, i);
    size_t n_faults = sim->cfg->provider.sim.n_faults;
    memset(sim->fault_uses, 0, (n_faults ? n_faults : 1) * sizeof *sim->fault_uses);
    sim->dirty = (s_dirty_t){0};
}

/* ---- one state file, several processes ------------------------------------------
 *
 * Two siteguard instances (a leader and its standby) may share one state
 * file, standing in for the one Hyper-V cluster. Every operation holds the
 * mutex and the state file's lock (provider/simfile.h), which first brings
 * memory up to date: the lines the other process appended, or the whole
 * file after it wrote a snapshot. */

/* The state file's reader: the whole file. */
static int s_file_load(void *user, const char *text, size_t len, size_t *used)
{
    s_sim_t *sim = user;
    s_forget(sim);
    return s_load_text(sim, text, len, sim->cfg->provider.sim.state_file, used);
}

/* The state file's reader: lines another process appended. */
static void s_file_apply(void *user, const char *lines, size_t len, size_t first_line)
{
    s_sim_t *sim = user;
    size_t used;
    s_where_t at = {.file = sim->cfg->provider.sim.state_file, .line = first_line};
    s_load_changes(sim, lines, len, at, false, &used); /* bad lines are logged and skipped */
}

static const sg_simfile_reader_t s_reader = {.load = s_file_load, .apply = s_file_apply};

/* The mutex, and with a state file its lock and the latest state. Returns
 * 0, or the lock's error (logged): memory may then be stale, and nothing
 * can be written until a later lock succeeds. */
static int s_lock(s_sim_t *sim)
{
    pthread_mutex_lock(&sim->mu);
    return sim->file ? sg_simfile_lock(sim->file) : SG_OK;
}

/* Writes what the operation changed (a failure is logged and the next write
 * is a snapshot), releases the lock and the mutex. Returns the ticket of
 * the last line written under this lock, for sg_simfile_sync (0: none). */
static uint64_t s_unlock(s_sim_t *sim)
{
    uint64_t ticket = 0;
    if (sim->file) {
        (void)s_commit(sim, &ticket); /* logged; the next write is a snapshot */
        ticket = sim->ticket;
        sim->ticket = 0;
        sg_simfile_unlock(sim->file);
    }
    pthread_mutex_unlock(&sim->mu);
    return ticket;
}

/* Opens the state file and loads it, then writes it anew as a snapshot. */
static int s_open_file(s_sim_t *sim)
{
    uint64_t ticket;
    sim->file = sg_simfile_open(sim->cfg->provider.sim.state_file, &s_reader, sim);
    if (!sim->file)
        return SG_EIO;
    int rc = sg_simfile_lock(sim->file);
    if (rc == SG_OK) {
        sim->dirty.whole = true;
        rc = s_commit(sim, &ticket);
    }
    sg_simfile_unlock(sim->file);
    return rc;
}

/* ---- state rules -------------------------------------------------------------- */

/* A reverse completed: the failed-over side (the replica) is the primary
 * now, the old primary the replica, and the new direction began when the
 * job ended, with a fresh list of recovery points. */
static void s_reverse(s_sim_t *sim, size_t ci, const s_job_t *j)
{
    s_coll_t *c = &sim->colls[ci];
    int old_primary = c->primary;
    c->primary = c->replica;
    c->replica = old_primary;
    if (c->reversals < S_MAX_COUNT)
        c->reversals++;
    c->since_ms = j->start_wall_ms + j->duration_ms;
    sg_info(S_LOG, "%s replicates from %s to %s now (reversed)", s_coll_name(sim, ci),
            s_site_name(sim, c->primary), s_site_name(sim, c->replica));
}

/* Applies the end of the collection's job in flight if it has ended. Called
 * with the mutex held. */
static void s_settle(s_sim_t *sim, size_t ci, int64_t now_mono)
{
    s_coll_t *c = &sim->colls[ci];
    if (c->active == S_NO_JOB)
        return;
    s_job_t *j = &sim->jobs[c->active];
    if (!s_job_ended(j, now_mono))
        return;
    s_touch_coll(sim, ci);
    s_touch_job(sim, c->active);
    j->settled = true;
    c->active = S_NO_JOB;
    if (j->outcome == S_OUT_EXCEPTION) {
        c->state = j->from;
        sg_info(S_LOG, "%s on %s ended in Exception (error %u); collection back to %s",
                sg_method_name(j->method), s_coll_name(sim, ci), (unsigned)j->error_code,
                sg_coll_state_text(c->state));
    } else {
        c->state = j->to;
        if (j->method == SG_METHOD_REVERSE_REPLICATION)
            s_reverse(sim, ci, j);
        sg_info(S_LOG, "%s on %s completed%s; collection %s", sg_method_name(j->method),
                s_coll_name(sim, ci), j->outcome == S_OUT_WARNINGS ? " with warnings" : "",
                sg_coll_state_text(c->state));
    }
}

/* The first fault that matches the call and has calls left, or -1. */
static long s_match_fault(const s_sim_t *sim, size_t ci, sg_method_t m)
{
    const sg_sim_cfg_t *sc = &sim->cfg->provider.sim;
    for (size_t i = 0; i < sc->n_faults; i++) {
        const sg_sim_fault_cfg_t *f = &sc->faults[i];
        if (f->collection && strcmp(f->collection, s_coll_name(sim, ci)) != 0)
            continue;
        if (f->method && strcmp(f->method, sg_method_name(m)) != 0)
            continue;
        if (!f->return_code && !f->job_error_code && !f->job_warnings && !f->hang)
            continue; /* a replication or unreachable fault */
        if (f->times > 0 && sim->fault_uses[i] >= f->times)
            continue;
        return (long)i;
    }
    return -1;
}

/* How the log tells a job's fault at its start, by outcome. */
static const char *s_fault_note[S_OUT_COUNT] = {
    [S_OUT_COMPLETED] = "", [S_OUT_EXCEPTION] = " (fault: it will end in Exception)",
    [S_OUT_HANG] = " (fault: it will hang)",
    [S_OUT_WARNINGS] = " (fault: it will complete with warnings)"};

/* Starts the job of an allowed call and writes it (with what the call
 * changed before); on success result holds 4096 and the paths. On failure
 * the job has not started. */
static int s_start_job(s_sim_t *sim, size_t ci, sg_method_t m, long fault, sg_call_result_t *r)
{
    const sg_sim_fault_cfg_t *f = fault >= 0 ? &sim->cfg->provider.sim.faults[fault] : NULL;
    s_coll_t *c = &sim->colls[ci];
    /* run by the replica's cluster: the only side that accepts a call */
    s_job_t j = {.coll = ci, .method = m, .from = c->state, .to = s_rules[m].to,
                 .site = c->replica >= 0 ? c->replica : S_ANY_SITE};
    j.start_wall_ms = sg_clock_wall(sim->clock);
    j.start_mono_ms = sg_clock_mono(sim->clock);
    j.duration_ms = sim->cfg->provider.sim.job_duration_ms;
    j.outcome = !f                ? S_OUT_COMPLETED
                : f->hang         ? S_OUT_HANG
                : f->job_warnings ? S_OUT_WARNINGS
                                  : S_OUT_EXCEPTION;
    j.error_code = j.outcome == S_OUT_EXCEPTION ? f->job_error_code : 0;
    uint64_t seq = sim->next_seq;
    int rc = SG_ENOMEM;
    if (j.outcome == S_OUT_WARNINGS && !(j.description = strdup(f->job_warnings)))
        goto fail;
    if (s_jobs_reserve(sim) != SG_OK || !(j.path = s_new_job_path(sim, j.start_wall_ms)))
        goto fail;
    if (m == SG_METHOD_TEST_REPLICA &&
        !(r->resulting_collection = sg_strdupf(S_NAMESPACE
                                             "Msvm_VirtualSystemCollection.CollectionID=\"%s:test\"",
                                             s_coll_name(sim, ci))))
        goto fail;
    if (!(r->job_path = strdup(j.path)))
        goto fail;
    sim->jobs[sim->n_jobs++] = j; /* indexed once written */
    c->active = sim->n_jobs - 1;
    if (s_rules[m].during != SG_COLL_UNKNOWN)
        c->state = s_rules[m].during;
    if (f)
        sim->fault_uses[fault]++;
    c->accepted[m]++;
    s_touch_coll(sim, ci);
    s_touch_job(sim, c->active);
    sim->dirty.seq = true;
    sim->dirty.faults |= f != NULL;
    uint64_t ticket;
    if (s_commit(sim, &ticket) != SG_OK) { /* undo: the call was not made */
        sim->n_jobs--;
        c->active = S_NO_JOB;
        c->state = j.from;
        c->accepted[m]--;
        if (f)
            sim->fault_uses[fault]--;
        rc = SG_EIO;
        goto fail;
    }
    s_index_put(&sim->job_index, sim, s_job_key, sim->n_jobs - 1);
    if (m == SG_METHOD_INITIATE_FAILOVER)
        c->last_failover = sim->n_jobs - 1;
    r->return_value = SG_RC_JOB_STARTED;
    sg_info(S_LOG, "%s on %s: job started%s", sg_method_name(m), s_coll_name(sim, ci),
            s_fault_note[j.outcome]);
    return SG_OK;
fail:
    sim->next_seq = seq;
    free(j.path);
    free(j.description);
    sg_call_result_fini(r);
    if (rc == SG_ENOMEM)
        sg_error(S_LOG, "%s on %s: out of memory", sg_method_name(m), s_coll_name(sim, ci));
    return rc;
}

/* The state rules for a call on a known collection made on the side
 * `site` (which holds it), mutex held. */
static int s_apply(s_sim_t *sim, int site, size_t ci, sg_method_t m, sg_call_result_t *r)
{
    s_settle(sim, ci, sg_clock_mono(sim->clock));
    sim->colls[ci].calls[m]++;
    s_touch_coll(sim, ci);
    long fault = s_match_fault(sim, ci, m);
    const sg_sim_fault_cfg_t *f = fault >= 0 ? &sim->cfg->provider.sim.faults[fault] : NULL;
    if (f && f->return_code) {
        sim->fault_uses[fault]++;
        sim->dirty.faults = true;
        r->return_value = f->return_code;
        sg_info(S_LOG, "%s on %s: fault returns %u (%s)", sg_method_name(m), s_coll_name(sim, ci),
                (unsigned)f->return_code, sg_rc_text(f->return_code));
        return SG_OK;
    }
    const s_coll_t *c = &sim->colls[ci];
    if (s_end_of(sim, ci, site) == S_END_PRIMARY) {
        r->return_value = SG_RC_INVALID_STATE;
        sg_info(S_LOG, "%s on %s refused: called on %s, its primary site (%s is the replica)",
                sg_method_name(m), s_coll_name(sim, ci), s_site_name(sim, site),
                s_site_name(sim, c->replica));
        return SG_OK;
    }
    if (c->active != S_NO_JOB || c->state != s_rules[m].need) {
        r->return_value = SG_RC_INVALID_STATE;
        sg_info(S_LOG, "%s on %s refused: collection %s%s", sg_method_name(m),
                s_coll_name(sim, ci), sg_coll_state_text(c->state),
                c->active != S_NO_JOB ? " with a job in flight" : "");
        return SG_OK;
    }
    return s_start_job(sim, ci, m, fault, r);
}

/* ---- the provider operations --------------------------------------------------- */

static const sg_provider_ops_t s_ops, s_side_ops;

/* The simulator behind the base handle or a side. */
static s_sim_t *s_sim_of(sg_provider_t *p)
{
    return p->ops == &s_side_ops ? ((s_side_t *)p)->sim : (s_sim_t *)p;
}

/* The side `p` speaks for: a site's index, or S_BASE. */
static int s_side_of(const sg_provider_t *p)
{
    return p->ops == &s_side_ops ? ((const s_side_t *)p)->site : S_BASE;
}

/* True when the side `site` sees job `j`: the one that ran it (the base
 * handle sees every job). */
static bool s_job_visible(const s_job_t *j, int site)
{
    return site == S_BASE || j->site == S_ANY_SITE || j->site == site;
}

/* True when the side `site` cannot be reached now, mutex held: an
 * unreachable fault names it and has uses left (one is used, and written
 * with the operation). The base handle is always reached. */
static bool s_unreachable(s_sim_t *sim, int site, const char *what)
{
    const sg_sim_cfg_t *sc = &sim->cfg->provider.sim;
    if (site == S_BASE)
        return false;
    for (size_t i = 0; i < sc->n_faults; i++) {
        const sg_sim_fault_cfg_t *f = &sc->faults[i];
        if (!f->unreachable || strcmp(f->unreachable, s_site_name(sim, site)) != 0 ||
            (f->times > 0 && sim->fault_uses[i] >= f->times))
            continue;
        sim->fault_uses[i]++;
        sim->dirty.faults = true;
        if (f->times > 0)
            sg_info(S_LOG, "%s on site %s: its cluster cannot be reached (fault, %d of %d)", what,
                    f->unreachable, sim->fault_uses[i], f->times);
        else
            sg_info(S_LOG, "%s on site %s: its cluster cannot be reached (fault)", what,
                    f->unreachable);
        return true;
    }
    return false;
}

static int s_call(sg_provider_t *p, sg_method_t m, const char *coll_path, const char *rp,
                  sg_call_result_t *r)
{
    s_sim_t *sim = s_sim_of(p);
    int site = s_side_of(p);
    r->return_value = SG_RC_FAILED;
    r->job_path = NULL;
    r->resulting_collection = NULL;
    if (m < 0 || m >= SG_METHOD_COUNT)
        return SG_EINVAL;
    sg_clock_sleep(sim->clock, sim->cfg->provider.sim.call_latency_ms);
    int rc = s_lock(sim); /* failed: the cluster's state is unknown, no call is made */
    if (rc == SG_OK && s_unreachable(sim, site, sg_method_name(m)))
        rc = SG_EIO; /* no call is made */
    long ci = s_find_coll(sim, coll_path);
    if (rc == SG_OK && ci >= 0)
        s_settle(sim, (size_t)ci, sg_clock_mono(sim->clock)); /* a reverse moves the points */
    bool here = ci >= 0 && s_end_of(sim, (size_t)ci, site) != S_END_NONE;
    if (rc == SG_OK && here && (!rp || s_rp_known(sim, (size_t)ci, rp))) {
        rc = s_apply(sim, site, (size_t)ci, m, r);
    } else if (rc == SG_OK) {
        if (here) {
            sim->colls[ci].calls[m]++;
            s_touch_coll(sim, (size_t)ci);
        }
        r->return_value = SG_RC_INVALID_PARAMETER;
        if (here)
            sg_info(S_LOG, "%s refused: unknown recovery point %s", sg_method_name(m), rp);
        else if (ci >= 0)
            sg_info(S_LOG, "%s refused: collection %s is not on site %s", sg_method_name(m),
                    s_coll_name(sim, (size_t)ci), s_site_name(sim, site));
        else
            sg_info(S_LOG, "%s refused: unknown collection %s", sg_method_name(m),
                    coll_path ? coll_path : "(null)");
    }
    uint64_t ticket = s_unlock(sim);
    if (rc == SG_OK && sim->file && (rc = sg_simfile_sync(sim->file, ticket)) != SG_OK)
        sg_call_result_fini(r); /* made, but not durably: its outcome is unknown */
    return rc;
}

/* The mutex and the file lock for an operation that only reads (settling an
 * ended job aside, which is written without waiting: it follows from the
 * job's start and the clock). A failed lock (logged) leaves memory as it
 * was, and that is served. */
static void s_lock_to_read(s_sim_t *sim)
{
    if (s_lock(sim) != SG_OK)
        sg_debug(S_LOG, "serving the state in memory");
}

/* Collection `coll_path` as the side `site` holds it, its job settled, mutex
 * held: its index, or -1 when the side does not hold it. */
static long s_coll_here(s_sim_t *sim, int site, const char *coll_path)
{
    long ci = s_find_coll(sim, coll_path);
    if (ci < 0)
        return -1;
    s_settle(sim, (size_t)ci, sg_clock_mono(sim->clock));
    return s_end_of(sim, (size_t)ci, site) != S_END_NONE ? ci : -1;
}

static int s_get_job(sg_provider_t *p, const char *job_path, sg_job_status_t *out)
{
    s_sim_t *sim = s_sim_of(p);
    int rc = SG_OK;
    memset(out, 0, sizeof *out);
    s_lock_to_read(sim);
    if (s_unreachable(sim, s_side_of(p), "reading a job")) {
        rc = SG_EIO;
        goto done;
    }
    s_job_t *j = job_path ? s_find_job(sim, job_path) : NULL;
    if (!j || !s_job_visible(j, s_side_of(p))) {
        rc = SG_ENOTFOUND;
        goto done;
    }
    int64_t now = sg_clock_mono(sim->clock);
    s_settle(sim, j->coll, now);
    if (s_job_removed(sim, j, now)) {
        rc = SG_ENOTFOUND;
        goto done;
    }
    s_job_eval(j, now, out);
    if (out->job_state == SG_JOB_EXCEPTION)
        out->error_description =
            sg_strdupf("simulated failure: %s on collection %s ended with error %u",
                     sg_method_name(j->method), s_coll_name(sim, j->coll), (unsigned)j->error_code);
    else if (out->job_state == SG_JOB_COMPLETED_WITH_WARNINGS && j->description)
        out->error_description = strdup(j->description);
    else
        goto done;
    if (!out->error_description)
        rc = SG_ENOMEM;
done:
    s_unlock(sim);
    return rc;
}

/* The replica side's state; the primary side's reads as replicating
 * (ReplicationState 3 or 8, as wmi.c maps them). */
static int s_get_state(sg_provider_t *p, const char *coll_path, sg_coll_state_t *out)
{
    s_sim_t *sim = s_sim_of(p);
    int site = s_side_of(p);
    int rc = SG_OK;
    s_lock_to_read(sim);
    bool lost = s_unreachable(sim, site, "reading a state");
    long ci = lost ? -1 : s_coll_here(sim, site, coll_path);
    if (ci < 0) {
        rc = lost ? SG_EIO : SG_ENOTFOUND;
        *out = SG_COLL_UNKNOWN;
    } else {
        *out = s_end_of(sim, (size_t)ci, site) == S_END_PRIMARY ? SG_COLL_REPLICATING
                                                                : sim->colls[ci].state;
    }
    s_unlock(sim);
    return rc;
}

/* The points the replica holds now; a primary side holds none. */
static int s_list_points(sg_provider_t *p, const char *coll_path, sg_recovery_point_t **out,
                         size_t *n)
{
    s_sim_t *sim = s_sim_of(p);
    int site = s_side_of(p);
    *out = NULL;
    *n = 0;
    sg_clock_sleep(sim->clock, sim->cfg->provider.sim.call_latency_ms);
    s_lock_to_read(sim);
    bool lost = s_unreachable(sim, site, "listing recovery points");
    long ci = lost ? -1 : s_coll_here(sim, site, coll_path);
    int rc = lost ? SG_EIO : ci < 0 ? SG_ENOTFOUND : SG_OK;
    s_point_t *pts = NULL;
    sg_recovery_point_t *rps = NULL;
    size_t count = 0;
    if (rc == SG_OK && s_end_of(sim, (size_t)ci, site) == S_END_REPLICA) {
        pts = calloc(s_points_kept(sim), sizeof *pts);
        count = pts ? s_points_now(sim, (size_t)ci, sg_clock_wall(sim->clock), pts) : 0;
        rps = pts ? calloc(count ? count : 1, sizeof *rps) : NULL;
        rc = rps ? SG_OK : SG_ENOMEM;
        for (size_t i = 0; rc == SG_OK && i < count; i++) {
            rps[i].created_ms = pts[i].created_ms;
            rps[i].app_consistent = pts[i].app;
            if (!(rps[i].path = s_point_path(sim, (size_t)ci, &pts[i])))
                rc = SG_ENOMEM;
        }
    }
    s_unlock(sim);
    free(pts);
    if (rc != SG_OK || count == 0) {
        sg_recovery_points_free(rps, count);
        return rc;
    }
    *out = rps;
    *n = count;
    return SG_OK;
}

static int s_find_failover_job(sg_provider_t *p, const char *coll_path, int64_t since_ms,
                               char **job_path)
{
    s_sim_t *sim = s_sim_of(p);
    int site = s_side_of(p);
    int rc = SG_ENOTFOUND;
    *job_path = NULL;
    sg_clock_sleep(sim->clock, sim->cfg->provider.sim.call_latency_ms);
    s_lock_to_read(sim);
    bool lost = s_unreachable(sim, site, "looking for a failover job");
    long ci = lost ? -1 : s_find_coll(sim, coll_path);
    const s_job_t *best = NULL;
    if (lost)
        rc = SG_EIO;
    if (ci >= 0) {
        int64_t now = sg_clock_mono(sim->clock);
        s_settle(sim, (size_t)ci, now);
        const s_coll_t *c = &sim->colls[ci];
        if (c->active != S_NO_JOB && sim->jobs[c->active].method == SG_METHOD_INITIATE_FAILOVER &&
            s_job_visible(&sim->jobs[c->active], site))
            best = &sim->jobs[c->active];
        for (size_t i = 0; !best && i < sim->n_jobs; i++) {
            const s_job_t *j = &sim->jobs[sim->n_jobs - 1 - i]; /* newest first */
            if (j->coll == (size_t)ci && j->method == SG_METHOD_INITIATE_FAILOVER &&
                j->start_wall_ms >= since_ms && s_job_visible(j, site) &&
                !s_job_removed(sim, j, now))
                best = j;
        }
    }
    if (best)
        rc = (*job_path = strdup(best->path)) ? SG_OK : SG_ENOMEM;
    s_unlock(sim);
    return rc;
}

/* The health and lag of collection ci's replication: the first health and
 * the first lag fault naming it (or no collection), else normal and
 * provider.sim.replication_lag. */
static void s_replication_faults(const s_sim_t *sim, size_t ci, int *health, int64_t *lag)
{
    const sg_sim_cfg_t *sc = &sim->cfg->provider.sim;
    bool health_set = false, lag_set = false;
    *health = SG_HEALTH_NORMAL;
    *lag = sc->replication_lag_ms;
    for (size_t i = 0; i < sc->n_faults && !(health_set && lag_set); i++) {
        const sg_sim_fault_cfg_t *f = &sc->faults[i];
        if (f->collection && strcmp(f->collection, s_coll_name(sim, ci)) != 0)
            continue;
        if (!health_set && f->health) {
            *health = f->health;
            health_set = true;
        }
        if (!lag_set && f->lag_ms > 0) {
            *lag = f->lag_ms;
            lag_set = true;
        }
    }
}

/* When the failover that stopped collection ci's replication started (its
 * newest InitiateFailover job), wall ms; 0 when no job says. */
static int64_t s_failover_start(const s_sim_t *sim, size_t ci)
{
    size_t k = sim->colls[ci].last_failover;
    return k != S_NO_JOB ? sim->jobs[k].start_wall_ms : 0;
}

static int s_get_replication(sg_provider_t *p, const char *coll_path, sg_replication_t *out)
{
    s_sim_t *sim = s_sim_of(p);
    int site = s_side_of(p);
    *out = (sg_replication_t){.mode = SG_MODE_NONE, .state = -1};
    sg_clock_sleep(sim->clock, sim->cfg->provider.sim.call_latency_ms);
    s_lock_to_read(sim);
    bool lost = s_unreachable(sim, site, "reading the replication");
    long ci = lost ? -1 : s_coll_here(sim, site, coll_path);
    if (ci >= 0) {
        const s_coll_t *c = &sim->colls[ci];
        bool primary = s_end_of(sim, (size_t)ci, site) == S_END_PRIMARY;
        bool over = s_failed_over(c->state);
        int64_t lag, at = over ? s_failover_start(sim, (size_t)ci) : sg_clock_wall(sim->clock);
        s_replication_faults(sim, (size_t)ci, &out->health, &lag);
        out->mode = primary ? SG_MODE_PRIMARY : SG_MODE_REPLICA;
        out->state = !primary ? s_replica_state(c->state) : over ? 8 /* Critical */ : 3;
        if (primary && over)
            out->health = SG_HEALTH_CRITICAL;
        out->last_replication_ms = at > lag ? at - lag : 0;
    }
    s_unlock(sim);
    return lost ? SG_EIO : ci >= 0 ? SG_OK : SG_ENOTFOUND;
}

/* The view of the configured site named `site`, or NULL. */
static sg_provider_t *s_at_site(sg_provider_t *p, const char *site)
{
    s_sim_t *sim = s_sim_of(p);
    int i = s_find_site(sim, site);
    return i >= 0 ? &sim->sides[i].base : NULL;
}

int sg_sim_counts(sg_provider_t *p, const char *collection_path, sg_method_t method, int *calls,
                  int *accepted)
{
    s_sim_t *sim = s_sim_of(p);
    if (method < 0 || method >= SG_METHOD_COUNT)
        return SG_EINVAL;
    s_lock_to_read(sim);
    long ci = s_find_coll(sim, collection_path);
    if (ci >= 0) {
        *calls = sim->colls[ci].calls[method];
        *accepted = sim->colls[ci].accepted[method];
    }
    s_unlock(sim);
    return ci >= 0 ? SG_OK : SG_ENOTFOUND;
}

static void s_free(s_sim_t *sim)
{
    for (size_t i = 0; i < sim->n_jobs; i++) {
        free(sim->jobs[i].path);
        free(sim->jobs[i].description);
    }
    free(sim->jobs);
    free(sim->job_index.slots);
    free(sim->coll_index.slots);
    free(sim->colls);
    free(sim->fault_uses);
    free(sim->sides);
    sg_simfile_close(&sim->file);
    free(sim);
}

static void s_destroy(sg_provider_t *p)
{
    s_sim_t *sim = (s_sim_t *)p;
    pthread_mutex_destroy(&sim->mu);
    s_free(sim);
}

static const sg_provider_ops_t s_ops = {
    .name = "sim",
    .call = s_call,
    .get_job = s_get_job,
    .get_state = s_get_state,
    .list_recovery_points = s_list_points,
    .find_failover_job = s_find_failover_job,
    .destroy = s_destroy,
    .get_replication = s_get_replication,
    .at_site = s_at_site,
};

/* A side is borrowed: freed with the simulator, never on its own. */
static void s_side_destroy(sg_provider_t *p)
{
    (void)p;
}

static const sg_provider_ops_t s_side_ops = {
    .name = "sim",
    .call = s_call,
    .get_job = s_get_job,
    .get_state = s_get_state,
    .list_recovery_points = s_list_points,
    .find_failover_job = s_find_failover_job,
    .destroy = s_side_destroy,
    .get_replication = s_get_replication,
    .at_site = s_at_site,
};

/* The simulator with its initial state, before any state file is read. */
static s_sim_t *s_new(const sg_config_t *cfg, const sg_clock_t *clock)
{
    size_t n_colls = cfg->n_collections, n_faults = cfg->provider.sim.n_faults;
    s_sim_t *sim = calloc(1, sizeof *sim);
    if (!sim)
        goto fail_oom;
    sim->base.ops = &s_ops;
    sim->cfg = cfg;
    sim->clock = clock;
    sim->next_seq = 1;
    sim->tag = (uint32_t)getpid() ^ (uint32_t)sg_clock_wall(clock);
    sim->epoch_ms = sg_clock_wall(clock);
    sim->colls = calloc(n_colls ? n_colls : 1, sizeof *sim->colls);
    sim->fault_uses = calloc(n_faults ? n_faults : 1, sizeof *sim->fault_uses);
    sim->sides = calloc(cfg->n_sites ? cfg->n_sites : 1, sizeof *sim->sides);
    if (!sim->colls || !sim->fault_uses || !sim->sides || s_index_colls(sim) != SG_OK)
        goto fail_oom;
    for (size_t i = 0; i < n_colls; i++)
        s_coll_init(sim, i);
    for (size_t i = 0; i < cfg->n_sites; i++)
        sim->sides[i] = (s_side_t){.base.ops = &s_side_ops, .sim = sim, .site = (int)i};
    return sim;
fail_oom:
    sg_error(S_LOG, "cannot create the simulator: out of memory");
    if (sim)
        s_free(sim);
    return NULL;
}

/* The simulator made ready once its state is in: the mutex, a log line. */
static sg_provider_t *s_ready(s_sim_t *sim)
{
    const sg_sim_cfg_t *sc = &sim->cfg->provider.sim;
    if (pthread_mutex_init(&sim->mu, NULL) != 0) {
        s_free(sim);
        return NULL;
    }
    sg_info(S_LOG, "simulating %zu collections (latency %lld ms, jobs %lld ms, %zu faults)",
            sim->cfg->n_collections, (long long)sc->call_latency_ms,
            (long long)sc->job_duration_ms, sc->n_faults);
    return &sim->base;
}

sg_provider_t *sg_sim_new(const sg_config_t *cfg, const sg_clock_t *clock)
{
    s_sim_t *sim = s_new(cfg, clock);
    if (sim && cfg->provider.sim.state_file && s_open_file(sim) != SG_OK) {
        s_free(sim);
        return NULL;
    }
    return sim ? s_ready(sim) : NULL;
}

sg_provider_t *sg_sim_new_from_text(const sg_config_t *cfg, const sg_clock_t *clock,
                                    const char *name, const char *text, size_t len)
{
    if (cfg->provider.sim.state_file)
        return NULL;
    s_sim_t *sim = s_new(cfg, clock);
    if (!sim)
        return NULL;
    size_t used;
    if (s_load_text(sim, text, len, name, &used) != SG_OK) {
        s_free(sim);
        return NULL;
    }
    return s_ready(sim);
}

int sg_sim_file_stats(sg_provider_t *p, sg_simfile_stats_t *out)
{
    s_sim_t *sim = s_sim_of(p);
    memset(out, 0, sizeof *out);
    if (!sim->file)
        return SG_ESTATE;
    pthread_mutex_lock(&sim->mu);
    sg_simfile_stats(sim->file, out);
    pthread_mutex_unlock(&sim->mu);
    return SG_OK;
}
