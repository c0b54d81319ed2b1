/* The built-in simulator of Msvm_CollectionReplicationService.
 *
 * State rules (see HYPERV facts):
 *   InitiateFailover            REPLICATING -> FAILOVER_RUNNING -> FAILED_OVER
 *   CommitFailover              FAILED_OVER -> COMMITTED
 *   RevertFailover              FAILED_OVER -> REPLICATING (not after a commit)
 *   TestReplicaCollection       REPLICATING -> TESTING
 *   RevertTestReplicaCollection TESTING     -> REPLICATING
 * A call that passes its checks starts a job and returns 4096. The new state
 * takes effect when the job completes; a failover shows FAILOVER_RUNNING
 * meanwhile, the other methods keep the old state. While a job is in flight
 * the collection is busy: every method on it returns 32775 (Invalid state),
 * the same answer a second InitiateFailover gets during a failover. A job that
 * ends in Exception puts the collection back where it was; a hung job keeps it
 * busy for good.
 *
 * Faults: the first configured fault that matches the call (collection name,
 * method name) and has calls left applies. A return_code fault is applied
 * before the state rules and counts every call it answers; a job fault
 * (job_error_code or hang, hang winning) counts only calls that start a job.
 *
 * Recovery points: each collection has four, named after it and dated
 * relative to the simulator's first start (kept in the state file):
 * "<name>:latest-crash" (crash-consistent, 5 min before), "<name>:crash-1"
 * (crash-consistent, 20 min), "<name>:latest-app" (application-consistent,
 * 1 h) and "<name>:app-1" (application-consistent, 5 h).
 *
 * Every call on a known collection is counted per method, and so is every
 * call that was accepted (started a job); the counters are in the state
 * file, so a test can tell how often a method was really invoked.
 *
 * Jobs are evaluated lazily from the clock when read: no timer threads. In
 * memory a job's start is kept on the monotonic clock; the state file keeps
 * it on the wall clock, and loading converts it back, so a job started before
 * a restart continues by wall-clock time. Jobs are kept for the life of the
 * simulator (and in the state file) so that any job path handed out can be
 * read again. */
#include "provider/sim.h"
#include "base/err.h"
#include "base/log.h"
#include "base/str.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define S_LOG "provider:sim"
#define S_NAMESPACE "\\\\SIM\\root\\HyperVCluster\\v2:"
#define S_RP_PREFIX "Msvm_CollectionRecoveryPoint.InstanceID=\""
#define S_STATE_VERSION 1
#define S_HANG_PERCENT 50 /* a hung job stops rising here */
#define S_NO_JOB ((size_t)-1)
/* Bounds of what a state file may say: counters far below INT_MAX (they are
 * incremented), job starts after 1970 and before any clock reads (so the
 * conversion to the monotonic clock cannot overflow), no negative duration. */
#define S_MAX_COUNT 1000000000
#define S_MAX_START_MS (INT64_MAX / 4)

typedef enum { S_OUT_COMPLETED = 0, S_OUT_EXCEPTION, S_OUT_HANG, S_OUT_COUNT } s_outcome_t;

static const char *s_outcome_names[S_OUT_COUNT] = {"completed", "exception", "hang"};

typedef struct {
    char *path;
    size_t coll;           /* index into cfg->collections */
    sg_method_t method;
    int64_t start_wall_ms; /* persisted */
    int64_t start_mono_ms; /* derived from start_wall_ms on load */
    int64_t duration_ms;
    s_outcome_t outcome;
    uint32_t error_code;   /* S_OUT_EXCEPTION only */
    sg_coll_state_t from;  /* restored when the job fails */
    sg_coll_state_t to;    /* reached when the job completes */
    bool settled;          /* its end has been applied to the collection */
} s_job_t;

typedef struct {
    sg_coll_state_t state;
    size_t active; /* index of the job in flight, or S_NO_JOB */
    int calls[SG_METHOD_COUNT];    /* calls answered, per method */
    int accepted[SG_METHOD_COUNT]; /* calls that started a job, per method */
} s_coll_t;

/* The synthetic recovery points of every collection. */
static const struct {
    const char *suffix;
    int64_t age_ms; /* before the simulator's first start */
    bool app;
} s_points[] = {
    {"app-1", 5 * 3600 * 1000LL, true},
    {"latest-crash", 5 * 60 * 1000LL, false},
    {"latest-app", 3600 * 1000LL, true},
    {"crash-1", 20 * 60 * 1000LL, false},
};
#define S_N_POINTS (sizeof s_points / sizeof s_points[0])

typedef struct {
    sg_provider_t base; /* first: the handle is cast back and forth */
    const sg_config_t *cfg;
    const sg_clock_t *clock;
    pthread_mutex_t mu;
    s_coll_t *colls;
    s_job_t *jobs;
    size_t n_jobs;
    size_t cap_jobs;
    int *fault_uses; /* per cfg fault: calls it has answered */
    uint64_t next_seq;
    uint32_t tag; /* distinguishes this instance's job ids */
    int64_t epoch_ms; /* wall time of the first start: recovery points date from it */
    int lock_fd;      /* "<state_file>.lock", or -1 without a state file */
    uint64_t seen_gen; /* the lock file's generation this memory reflects */
} s_sim_t;

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
};

/* ---- small helpers ------------------------------------------------------- */

static const char *s_errno_text(int err, char *buf, size_t len)
{
    if (strerror_r(err, buf, len) != 0)
        snprintf(buf, len, "error %d", err);
    return buf;
}

static const char *s_coll_name(const s_sim_t *sim, size_t ci)
{
    return sim->cfg->collections[ci].name;
}

static long s_find_coll(const s_sim_t *sim, const char *path)
{
    if (!path)
        return -1;
    for (size_t i = 0; i < sim->cfg->n_collections; i++) {
        if (strcmp(sim->cfg->collections[i].cim_path, path) == 0)
            return (long)i;
    }
    return -1;
}

static s_job_t *s_find_job(s_sim_t *sim, const char *path)
{
    for (size_t i = 0; i < sim->n_jobs; i++) {
        if (strcmp(sim->jobs[i].path, path) == 0)
            return &sim->jobs[i];
    }
    return NULL;
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

/* True for `Msvm_CollectionRecoveryPoint.InstanceID="<name>:<point>"` with
 * one of the synthetic points, with or without the namespace prefix. */
static bool s_rp_known(const char *name, const char *rp)
{
    if (strncmp(rp, S_NAMESPACE, strlen(S_NAMESPACE)) == 0)
        rp += strlen(S_NAMESPACE);
    if (strncmp(rp, S_RP_PREFIX, strlen(S_RP_PREFIX)) != 0)
        return false;
    rp += strlen(S_RP_PREFIX);
    size_t n = strlen(name);
    if (strncmp(rp, name, n) != 0 || rp[n] != ':')
        return false;
    rp += n + 1;
    for (size_t i = 0; i < S_N_POINTS; i++) {
        size_t k = strlen(s_points[i].suffix);
        if (strncmp(rp, s_points[i].suffix, k) == 0 && strcmp(rp + k, "\"") == 0)
            return true;
    }
    return false;
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

static int s_jobs_reserve(s_sim_t *sim)
{
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

/* ---- the state file --------------------------------------------------------- */

static json_t *s_job_to_json(const s_sim_t *sim, const s_job_t *j)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:s, s:s, s:b}", "path", j->path,
                     "collection", sim->cfg->collections[j->coll].cim_path, "method",
                     sg_method_name(j->method), "start_wall_ms", (json_int_t)j->start_wall_ms,
                     "duration_ms", (json_int_t)j->duration_ms, "outcome",
                     s_outcome_names[j->outcome], "error_code", (json_int_t)j->error_code, "from",
                     sg_coll_state_text(j->from), "to", sg_coll_state_text(j->to), "settled",
                     j->settled);
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

static json_t *s_coll_to_json(const s_sim_t *sim, size_t i)
{
    return json_pack("{s:s, s:s, s:o, s:o}", "path", sim->cfg->collections[i].cim_path, "state",
                     sg_coll_state_text(sim->colls[i].state), "calls",
                     s_counts_to_json(sim->colls[i].calls), "accepted",
                     s_counts_to_json(sim->colls[i].accepted));
}

static json_t *s_to_json(const s_sim_t *sim)
{
    json_t *colls = json_array(), *jobs = json_array(), *uses = json_array();
    json_t *root = json_pack("{s:i, s:I, s:I, s:o, s:o, s:o}", "version", S_STATE_VERSION,
                             "next_seq", (json_int_t)sim->next_seq, "epoch_ms",
                             (json_int_t)sim->epoch_ms, "collections", colls, "jobs", jobs,
                             "fault_uses", uses);
    if (!root)
        return NULL; /* json_pack released the arrays */
    for (size_t i = 0; i < sim->cfg->n_collections; i++) {
        if (json_array_append_new(colls, s_coll_to_json(sim, i)) != 0)
            goto fail;
    }
    for (size_t i = 0; i < sim->n_jobs; i++) {
        if (json_array_append_new(jobs, s_job_to_json(sim, &sim->jobs[i])) != 0)
            goto fail;
    }
    for (size_t i = 0; i < sim->cfg->provider.sim.n_faults; i++) {
        if (json_array_append_new(uses, json_integer(sim->fault_uses[i])) != 0)
            goto fail;
    }
    return root;
fail:
    json_decref(root);
    return NULL;
}

static int s_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Makes the rename durable; failure here only weakens durability. */
static void s_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Writes `text` to `path` atomically: a temporary file in the same
 * directory, fsync, rename over the old file. The temporary file is made
 * anew (a stale one is removed first), so its mode is 0600 and the state
 * file's becomes that at the rename. */
static int s_write_atomic(const char *path, const char *text)
{
    int fd = -1, err = 0;
    char *tmp = sg_strdupf("%s.tmp", path);
    if (!tmp)
        return SG_ENOMEM;
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || s_write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0)
        goto fail;
    int rc = close(fd);
    fd = -1;
    if (rc != 0 || rename(tmp, path) != 0)
        goto fail;
    s_sync_dir(path);
    free(tmp);
    return SG_OK;
fail:
    err = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    char buf[128];
    sg_error(S_LOG, "cannot write state file %s: %s", path, s_errno_text(err, buf, sizeof buf));
    return SG_EIO;
}

/* Rewrites the state file, if there is one. Called with the mutex held. */
static void s_gen_write(int fd, uint64_t gen);

static int s_save(s_sim_t *sim)
{
    const char *path = sim->cfg->provider.sim.state_file;
    if (!path)
        return SG_OK;
    if (sim->lock_fd >= 0) /* first: a crash in between only costs the others a reload */
        s_gen_write(sim->lock_fd, ++sim->seen_gen);
    json_t *root = s_to_json(sim);
    char *text = root ? json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    if (!text) {
        sg_error(S_LOG, "cannot encode state for %s: out of memory", path);
        return SG_ENOMEM;
    }
    int rc = s_write_atomic(path, text);
    free(text);
    return rc;
}

/* A counter of the state file: an integer in 0..S_MAX_COUNT, else 0. */
static int s_count_value(const json_t *v)
{
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
    return n >= 0 && n <= S_MAX_COUNT ? (int)n : 0;
}

static void s_load_counts(json_t *o, int *counts)
{
    const char *key;
    json_t *v;
    sg_method_t m;
    json_object_foreach(o, key, v) {
        if (sg_method_parse(key, &m) == SG_OK)
            counts[m] = s_count_value(v);
    }
}

static int s_load_coll(s_sim_t *sim, json_t *c, const char *file)
{
    const char *path, *state;
    json_t *calls = NULL, *accepted = NULL;
    json_error_t jerr;
    sg_coll_state_t st;
    if (json_unpack_ex(c, &jerr, 0, "{s:s, s:s, s?o, s?o}", "path", &path, "state", &state,
                       "calls", &calls, "accepted", &accepted) != 0 ||
        s_state_parse(state, &st) != SG_OK || st == SG_COLL_UNKNOWN) {
        sg_error(S_LOG, "state file %s is corrupt: bad collection entry", file);
        return SG_EINVAL;
    }
    long ci = s_find_coll(sim, path);
    if (ci < 0) {
        sg_warn(S_LOG, "state file %s: collection %s is no longer configured; ignored", file, path);
        return SG_OK;
    }
    sim->colls[ci].state = st;
    if (calls)
        s_load_counts(calls, sim->colls[ci].calls);
    if (accepted)
        s_load_counts(accepted, sim->colls[ci].accepted);
    return SG_OK;
}

/* Reads one job entry into *j (path borrowed from `o`); *ci is -1 when its
 * collection is no longer configured. */
static int s_parse_job(s_sim_t *sim, json_t *o, s_job_t *j, long *ci)
{
    const char *path, *coll, *method, *outcome, *from, *to;
    json_int_t start, duration, code;
    int settled;
    json_error_t jerr;
    if (json_unpack_ex(o, &jerr, 0, "{s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:s, s:s, s:b}", "path",
                       &path, "collection", &coll, "method", &method, "start_wall_ms", &start,
                       "duration_ms", &duration, "outcome", &outcome, "error_code", &code, "from",
                       &from, "to", &to, "settled", &settled) != 0)
        return SG_EINVAL;
    if (sg_method_parse(method, &j->method) != SG_OK ||
        s_outcome_parse(outcome, &j->outcome) != SG_OK || s_state_parse(from, &j->from) != SG_OK ||
        s_state_parse(to, &j->to) != SG_OK || code < 0 || code > UINT32_MAX || start < 0 ||
        start > S_MAX_START_MS || duration < 0)
        return SG_EINVAL;
    j->path = (char *)path;
    j->start_wall_ms = start;
    j->duration_ms = duration;
    j->error_code = (uint32_t)code;
    j->settled = settled != 0;
    *ci = s_find_coll(sim, coll);
    return SG_OK;
}

static int s_load_job(s_sim_t *sim, json_t *o, const char *file, int64_t mono, int64_t wall)
{
    s_job_t j = {0};
    long ci;
    if (s_parse_job(sim, o, &j, &ci) != SG_OK) {
        sg_error(S_LOG, "state file %s is corrupt: bad job entry", file);
        return SG_EINVAL;
    }
    if (ci < 0) {
        sg_warn(S_LOG, "state file %s: job %s belongs to a collection no longer configured; ignored",
                file, j.path);
        return SG_OK;
    }
    if (!j.settled && sim->colls[ci].active != S_NO_JOB) {
        sg_error(S_LOG, "state file %s is corrupt: two jobs in flight on %s", file,
                 s_coll_name(sim, (size_t)ci));
        return SG_EINVAL;
    }
    if (s_jobs_reserve(sim) != SG_OK || !(j.path = strdup(j.path)))
        return SG_ENOMEM;
    j.coll = (size_t)ci;
    j.start_mono_ms = mono - (wall - j.start_wall_ms);
    if (!j.settled)
        sim->colls[ci].active = sim->n_jobs;
    sim->jobs[sim->n_jobs++] = j;
    return SG_OK;
}

static void s_load_fault_uses(s_sim_t *sim, json_t *uses, const char *file)
{
    size_t n = sim->cfg->provider.sim.n_faults;
    if (!json_is_array(uses) || json_array_size(uses) != n) {
        sg_warn(S_LOG, "state file %s: fault counters do not match the config; reset", file);
        return;
    }
    for (size_t i = 0; i < n; i++)
        sim->fault_uses[i] = s_count_value(json_array_get(uses, i));
}

static int s_from_json(s_sim_t *sim, json_t *root, const char *file)
{
    int version, rc;
    json_int_t seq, epoch = 0;
    json_t *colls, *jobs, *uses = NULL, *v;
    size_t i;
    json_error_t jerr;
    if (json_unpack_ex(root, &jerr, 0, "{s:i, s:I, s?I, s:o, s:o, s?o}", "version", &version,
                       "next_seq", &seq, "epoch_ms", &epoch, "collections", &colls, "jobs", &jobs,
                       "fault_uses", &uses) != 0 ||
        !json_is_array(colls) || !json_is_array(jobs) || seq < 0) {
        sg_error(S_LOG, "state file %s is corrupt: %s", file,
                 jerr.text[0] ? jerr.text : "bad top-level entries");
        return SG_EINVAL;
    }
    if (version != S_STATE_VERSION) {
        sg_error(S_LOG, "state file %s has version %d; this build reads %d", file, version,
                 S_STATE_VERSION);
        return SG_EINVAL;
    }
    sim->next_seq = (uint64_t)seq;
    if (epoch > 0)
        sim->epoch_ms = epoch;
    json_array_foreach(colls, i, v) {
        if ((rc = s_load_coll(sim, v, file)) != SG_OK)
            return rc;
    }
    int64_t mono = sg_clock_mono(sim->clock), wall = sg_clock_wall(sim->clock);
    json_array_foreach(jobs, i, v) {
        if ((rc = s_load_job(sim, v, file, mono, wall)) != SG_OK)
            return rc;
    }
    if (uses)
        s_load_fault_uses(sim, uses, file);
    return SG_OK;
}

/* Takes the state in `root` (a state file's JSON, NULL when it did not
 * parse: `jerr` says why), and releases it. */
static int s_load_json(s_sim_t *sim, json_t *root, const json_error_t *jerr, const char *file)
{
    if (!root) {
        sg_error(S_LOG, "state file %s is corrupt: %s (line %d, column %d)", file, jerr->text,
                 jerr->line, jerr->column);
        return SG_EINVAL;
    }
    int rc = s_from_json(sim, root, file);
    json_decref(root);
    if (rc == SG_OK)
        sg_info(S_LOG, "state loaded from %s (%zu jobs)", file, sim->n_jobs);
    return rc;
}

/* Loads the state file if it exists. A missing file is a fresh start. */
static int s_load(s_sim_t *sim)
{
    const char *path = sim->cfg->provider.sim.state_file;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        char buf[128];
        if (errno == ENOENT) {
            sg_info(S_LOG, "state file %s does not exist yet; starting fresh", path);
            return SG_OK;
        }
        sg_error(S_LOG, "cannot read state file %s: %s", path,
                 s_errno_text(errno, buf, sizeof buf));
        return SG_EIO;
    }
    json_error_t jerr;
    json_t *root = json_loadf(fp, 0, &jerr);
    fclose(fp);
    return s_load_json(sim, root, &jerr, path);
}

/* ---- state rules -------------------------------------------------------------- */

/* Applies the end of the collection's job in flight if it has ended. Called
 * with the mutex held. */
/* ---- one state file, several processes ------------------------------------------
 *
 * Two siteguard instances (a leader and its standby) may share one state
 * file, standing in for the one Hyper-V cluster. Every operation holds an
 * exclusive lock on "<state_file>.lock" (flock) with the mutex; the lock
 * file holds a generation, bumped by every save, and an operation that finds
 * another generation than its own last one loads the state file again first. */

static uint64_t s_gen_read(int fd)
{
    char buf[32] = {0};
    if (lseek(fd, 0, SEEK_SET) != 0 || read(fd, buf, sizeof buf - 1) < 0)
        return 0;
    return strtoull(buf, NULL, 10);
}

static void s_gen_write(int fd, uint64_t gen)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%020llu\n", (unsigned long long)gen);
    if (lseek(fd, 0, SEEK_SET) != 0 || write(fd, buf, (size_t)n) != n)
        sg_warn(S_LOG, "cannot write the generation of the state file's lock");
}

/* Forgets the state in memory, before it is loaded again. */
static void s_forget(s_sim_t *sim)
{
    for (size_t i = 0; i < sim->n_jobs; i++)
        free(sim->jobs[i].path);
    sim->n_jobs = 0;
    for (size_t i = 0; i < sim->cfg->n_collections; i++)
        sim->colls[i] = (s_coll_t){.state = SG_COLL_REPLICATING, .active = S_NO_JOB};
    size_t n_faults = sim->cfg->provider.sim.n_faults;
    memset(sim->fault_uses, 0, (n_faults ? n_faults : 1) * sizeof *sim->fault_uses);
}

/* Loads the state another process saved. */
static void s_reload(s_sim_t *sim)
{
    const char *path = sim->cfg->provider.sim.state_file;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    s_forget(sim);
    if (!root || s_from_json(sim, root, path) != SG_OK)
        sg_error(S_LOG, "cannot load state file %s again: %s", path, root ? "corrupt" : jerr.text);
    json_decref(root);
}

/* The mutex, and with a state file the file lock and the latest state. */
static void s_lock(s_sim_t *sim)
{
    pthread_mutex_lock(&sim->mu);
    if (sim->lock_fd < 0)
        return;
    while (flock(sim->lock_fd, LOCK_EX) != 0 && errno == EINTR)
        ;
    uint64_t gen = s_gen_read(sim->lock_fd);
    if (gen != sim->seen_gen) {
        s_reload(sim);
        sim->seen_gen = gen;
    }
}

static void s_unlock(s_sim_t *sim)
{
    if (sim->lock_fd >= 0)
        flock(sim->lock_fd, LOCK_UN);
    pthread_mutex_unlock(&sim->mu);
}

/* Opens the lock file, then loads and saves the state under it. */
static int s_open_shared(s_sim_t *sim)
{
    char *path = sg_strdupf("%s.lock", sim->cfg->provider.sim.state_file);
    sim->lock_fd = path ? open(path, O_RDWR | O_CREAT, 0600) : -1;
    if (sim->lock_fd < 0) {
        sg_error(S_LOG, "cannot open the lock file %s", path ? path : "(out of memory)");
        free(path);
        return SG_EIO;
    }
    free(path);
    while (flock(sim->lock_fd, LOCK_EX) != 0 && errno == EINTR)
        ;
    sim->seen_gen = s_gen_read(sim->lock_fd);
    int rc = s_load(sim);
    rc = rc ? rc : s_save(sim);
    flock(sim->lock_fd, LOCK_UN);
    return rc;
}

static void s_settle(s_sim_t *sim, size_t ci, int64_t now_mono)
{
    s_coll_t *c = &sim->colls[ci];
    if (c->active == S_NO_JOB)
        return;
    s_job_t *j = &sim->jobs[c->active];
    if (!s_job_ended(j, now_mono))
        return;
    j->settled = true;
    c->active = S_NO_JOB;
    if (j->outcome == S_OUT_EXCEPTION) {
        c->state = j->from;
        sg_info(S_LOG, "%s on %s ended in Exception (error %u); collection back to %s",
                sg_method_name(j->method), s_coll_name(sim, ci), (unsigned)j->error_code,
                sg_coll_state_text(c->state));
    } else {
        c->state = j->to;
        sg_info(S_LOG, "%s on %s completed; collection %s", sg_method_name(j->method),
                s_coll_name(sim, ci), sg_coll_state_text(c->state));
    }
    s_save(sim); /* a failure is logged; memory stays right and the next save retries */
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
        if (!f->return_code && !f->job_error_code && !f->hang)
            continue;
        if (f->times > 0 && sim->fault_uses[i] >= f->times)
            continue;
        return (long)i;
    }
    return -1;
}

/* Starts the job of an allowed call; on success result holds 4096 and the
 * paths. On failure nothing has changed. */
static int s_start_job(s_sim_t *sim, size_t ci, sg_method_t m, long fault, sg_call_result_t *r)
{
    const sg_sim_fault_cfg_t *f = fault >= 0 ? &sim->cfg->provider.sim.faults[fault] : NULL;
    s_coll_t *c = &sim->colls[ci];
    s_job_t j = {.coll = ci, .method = m, .from = c->state, .to = s_rules[m].to};
    j.start_wall_ms = sg_clock_wall(sim->clock);
    j.start_mono_ms = sg_clock_mono(sim->clock);
    j.duration_ms = sim->cfg->provider.sim.job_duration_ms;
    j.outcome = !f ? S_OUT_COMPLETED : f->hang ? S_OUT_HANG : S_OUT_EXCEPTION;
    j.error_code = f && !f->hang ? f->job_error_code : 0;
    uint64_t seq = sim->next_seq;
    int rc = SG_ENOMEM;
    if (s_jobs_reserve(sim) != SG_OK || !(j.path = s_new_job_path(sim, j.start_wall_ms)))
        goto fail;
    if (m == SG_METHOD_TEST_REPLICA &&
        !(r->resulting_collection = sg_strdupf(S_NAMESPACE
                                             "Msvm_VirtualSystemCollection.InstanceID=\"%s:test\"",
                                             s_coll_name(sim, ci))))
        goto fail;
    if (!(r->job_path = strdup(j.path)))
        goto fail;
    sim->jobs[sim->n_jobs++] = j;
    c->active = sim->n_jobs - 1;
    if (s_rules[m].during != SG_COLL_UNKNOWN)
        c->state = s_rules[m].during;
    if (f)
        sim->fault_uses[fault]++;
    c->accepted[m]++;
    if (s_save(sim) != SG_OK) { /* undo: the call was not made */
        sim->n_jobs--;
        c->active = S_NO_JOB;
        c->state = j.from;
        c->accepted[m]--;
        if (f)
            sim->fault_uses[fault]--;
        rc = SG_EIO;
        goto fail;
    }
    r->return_value = SG_RC_JOB_STARTED;
    sg_info(S_LOG, "%s on %s: job started%s", sg_method_name(m), s_coll_name(sim, ci),
            !f ? "" : f->hang ? " (fault: it will hang)" : " (fault: it will end in Exception)");
    return SG_OK;
fail:
    sim->next_seq = seq;
    free(j.path);
    sg_call_result_fini(r);
    if (rc == SG_ENOMEM)
        sg_error(S_LOG, "%s on %s: out of memory", sg_method_name(m), s_coll_name(sim, ci));
    return rc;
}

/* The state rules for a call on a known collection, mutex held. */
static int s_apply(s_sim_t *sim, size_t ci, sg_method_t m, sg_call_result_t *r)
{
    s_settle(sim, ci, sg_clock_mono(sim->clock));
    sim->colls[ci].calls[m]++;
    long fault = s_match_fault(sim, ci, m);
    const sg_sim_fault_cfg_t *f = fault >= 0 ? &sim->cfg->provider.sim.faults[fault] : NULL;
    if (f && f->return_code) {
        sim->fault_uses[fault]++;
        r->return_value = f->return_code;
        sg_info(S_LOG, "%s on %s: fault returns %u (%s)", sg_method_name(m), s_coll_name(sim, ci),
                (unsigned)f->return_code, sg_rc_text(f->return_code));
        s_save(sim); /* the counter is advisory; a failed save is logged */
        return SG_OK;
    }
    const s_coll_t *c = &sim->colls[ci];
    if (c->active != S_NO_JOB || c->state != s_rules[m].need) {
        r->return_value = SG_RC_INVALID_STATE;
        sg_info(S_LOG, "%s on %s refused: collection %s%s", sg_method_name(m),
                s_coll_name(sim, ci), sg_coll_state_text(c->state),
                c->active != S_NO_JOB ? " with a job in flight" : "");
        s_save(sim); /* the counter is advisory; a failed save is logged */
        return SG_OK;
    }
    return s_start_job(sim, ci, m, fault, r);
}

/* ---- the provider operations --------------------------------------------------- */

static int s_call(sg_provider_t *p, sg_method_t m, const char *coll_path, const char *rp,
                  sg_call_result_t *r)
{
    s_sim_t *sim = (s_sim_t *)p;
    r->return_value = SG_RC_FAILED;
    r->job_path = NULL;
    r->resulting_collection = NULL;
    if (m < 0 || m >= SG_METHOD_COUNT)
        return SG_EINVAL;
    sg_clock_sleep(sim->clock, sim->cfg->provider.sim.call_latency_ms);
    int rc = SG_OK;
    s_lock(sim);
    long ci = s_find_coll(sim, coll_path);
    if (ci >= 0 && rp && !s_rp_known(s_coll_name(sim, (size_t)ci), rp)) {
        sim->colls[ci].calls[m]++;
        s_save(sim);
    }
    if (ci < 0 || (rp && !s_rp_known(s_coll_name(sim, (size_t)ci), rp))) {
        r->return_value = SG_RC_INVALID_PARAMETER;
        sg_info(S_LOG, "%s refused: unknown %s %s", sg_method_name(m),
                ci < 0 ? "collection" : "recovery point",
                ci < 0 ? (coll_path ? coll_path : "(null)") : rp);
    } else {
        rc = s_apply(sim, (size_t)ci, m, r);
    }
    s_unlock(sim);
    return rc;
}

static int s_get_job(sg_provider_t *p, const char *job_path, sg_job_status_t *out)
{
    s_sim_t *sim = (s_sim_t *)p;
    int rc = SG_OK;
    memset(out, 0, sizeof *out);
    s_lock(sim);
    s_job_t *j = job_path ? s_find_job(sim, job_path) : NULL;
    if (!j) {
        rc = SG_ENOTFOUND;
        goto done;
    }
    int64_t now = sg_clock_mono(sim->clock);
    s_settle(sim, j->coll, now);
    s_job_eval(j, now, out);
    if (out->job_state == SG_JOB_EXCEPTION) {
        out->error_description =
            sg_strdupf("simulated failure: %s on collection %s ended with error %u",
                     sg_method_name(j->method), s_coll_name(sim, j->coll), (unsigned)j->error_code);
        if (!out->error_description)
            rc = SG_ENOMEM;
    }
done:
    s_unlock(sim);
    return rc;
}

static int s_get_state(sg_provider_t *p, const char *coll_path, sg_coll_state_t *out)
{
    s_sim_t *sim = (s_sim_t *)p;
    int rc = SG_OK;
    s_lock(sim);
    long ci = s_find_coll(sim, coll_path);
    if (ci < 0) {
        rc = SG_ENOTFOUND;
        *out = SG_COLL_UNKNOWN;
    } else {
        s_settle(sim, (size_t)ci, sg_clock_mono(sim->clock));
        *out = sim->colls[ci].state;
    }
    s_unlock(sim);
    return rc;
}

static int s_list_points(sg_provider_t *p, const char *coll_path, sg_recovery_point_t **out,
                         size_t *n)
{
    s_sim_t *sim = (s_sim_t *)p;
    *out = NULL;
    *n = 0;
    sg_clock_sleep(sim->clock, sim->cfg->provider.sim.call_latency_ms);
    long ci = s_find_coll(sim, coll_path); /* the config is immutable: no lock needed */
    if (ci < 0)
        return SG_ENOTFOUND;
    sg_recovery_point_t *pts = calloc(S_N_POINTS, sizeof *pts);
    if (!pts)
        return SG_ENOMEM;
    for (size_t i = 0; i < S_N_POINTS; i++) {
        pts[i].created_ms = sim->epoch_ms - s_points[i].age_ms;
        pts[i].app_consistent = s_points[i].app;
        pts[i].path = sg_strdupf(S_NAMESPACE S_RP_PREFIX "%s:%s\"", s_coll_name(sim, (size_t)ci),
                                 s_points[i].suffix);
        if (!pts[i].path) {
            sg_recovery_points_free(pts, S_N_POINTS);
            return SG_ENOMEM;
        }
    }
    *out = pts;
    *n = S_N_POINTS;
    return SG_OK;
}

static int s_find_failover_job(sg_provider_t *p, const char *coll_path, int64_t since_ms,
                               char **job_path)
{
    s_sim_t *sim = (s_sim_t *)p;
    int rc = SG_ENOTFOUND;
    *job_path = NULL;
    sg_clock_sleep(sim->clock, sim->cfg->provider.sim.call_latency_ms);
    s_lock(sim);
    long ci = s_find_coll(sim, coll_path);
    const s_job_t *best = NULL;
    if (ci >= 0) {
        s_settle(sim, (size_t)ci, sg_clock_mono(sim->clock));
        const s_coll_t *c = &sim->colls[ci];
        if (c->active != S_NO_JOB && sim->jobs[c->active].method == SG_METHOD_INITIATE_FAILOVER)
            best = &sim->jobs[c->active];
        for (size_t i = 0; !best && i < sim->n_jobs; i++) {
            const s_job_t *j = &sim->jobs[sim->n_jobs - 1 - i]; /* newest first */
            if (j->coll == (size_t)ci && j->method == SG_METHOD_INITIATE_FAILOVER &&
                j->start_wall_ms >= since_ms)
                best = j;
        }
    }
    if (best)
        rc = (*job_path = strdup(best->path)) ? SG_OK : SG_ENOMEM;
    s_unlock(sim);
    return rc;
}

int sg_sim_counts(sg_provider_t *p, const char *collection_path, sg_method_t method, int *calls,
                  int *accepted)
{
    s_sim_t *sim = (s_sim_t *)p;
    if (method < 0 || method >= SG_METHOD_COUNT)
        return SG_EINVAL;
    s_lock(sim);
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
    for (size_t i = 0; i < sim->n_jobs; i++)
        free(sim->jobs[i].path);
    free(sim->jobs);
    free(sim->colls);
    free(sim->fault_uses);
    if (sim->lock_fd >= 0)
        close(sim->lock_fd);
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
};

/* The simulator with its initial state, before any state file is read. */
static s_sim_t *s_new(const sg_config_t *cfg, const sg_clock_t *clock)
{
    size_t n_colls = cfg->n_collections, n_faults = cfg->provider.sim.n_faults;
    s_sim_t *sim = calloc(1, sizeof *sim);
    if (!sim)
        goto fail_oom;
    sim->base.ops = &s_ops;
    sim->lock_fd = -1;
    sim->cfg = cfg;
    sim->clock = clock;
    sim->next_seq = 1;
    sim->tag = (uint32_t)getpid() ^ (uint32_t)sg_clock_wall(clock);
    sim->epoch_ms = sg_clock_wall(clock);
    sim->colls = calloc(n_colls ? n_colls : 1, sizeof *sim->colls);
    sim->fault_uses = calloc(n_faults ? n_faults : 1, sizeof *sim->fault_uses);
    if (!sim->colls || !sim->fault_uses)
        goto fail_oom;
    for (size_t i = 0; i < n_colls; i++)
        sim->colls[i] = (s_coll_t){.state = SG_COLL_REPLICATING, .active = S_NO_JOB};
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
    if (sim && cfg->provider.sim.state_file && s_open_shared(sim) != SG_OK) {
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
    json_error_t jerr;
    if (s_load_json(sim, json_loadb(text, len, 0, &jerr), &jerr, name) != SG_OK) {
        s_free(sim);
        return NULL;
    }
    return s_ready(sim);
}
