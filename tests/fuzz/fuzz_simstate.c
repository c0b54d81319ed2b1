/* libFuzzer target for the simulator's state file (provider/sim.h): the
 * bytes of a state file (a snapshot, then change lines), loaded with
 * sg_sim_new_from_text against a config of three collections and two
 * faults, on a fake clock.
 *
 * A state that loads must leave a working simulator: every collection in a
 * known state, before and after calls of every method and after its jobs had
 * time to end; every job (those of the file and those the calls start) read
 * back with a known JobState, PercentComplete within 0..100, elapsed time not
 * negative and an error description only for a job in Exception or
 * completed with warnings, or answering not found once removed (jobs end
 * and are removed within the hour the target lets pass). Each collection
 * has one primary and one replica among the two sites' views, with a
 * ReplicationState that reads back (as wmi.c reads it) as the state the view
 * gives, and recovery points on the replica only, dated no later than now.
 * Calls go through the base handle and through both views. Nothing may
 * crash or leak. */
#include "base/err.h"
#include "config/config.h"
#include "provider/provider.h"
#include "provider/sim.h"
#include "fuzz.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S_START_WALL 1800000000000LL

static const char s_yaml[] =
    "sites:\n  - name: A\n  - name: B\n"
    "observers:\n  - id: a1\n    site: A\n  - id: b1\n    site: B\n"
    "collections:\n"
    "  - name: c1\n    cim_path: 'X.CollectionID=\"1\"'\n    site: A\n    replica_site: B\n"
    "  - name: c2\n    cim_path: 'X.CollectionID=\"2\"'\n    site: A\n    replica_site: B\n"
    "  - name: c3\n    cim_path: 'X.CollectionID=\"3\"'\n    site: B\n    replica_site: A\n"
    "provider:\n  sim:\n    call_latency: 0ms\n    job_duration: 2s\n    job_removal: 5m\n"
    "    faults:\n"
    "      - {collection: c2, method: InitiateFailover, job_error_code: 7, times: 1}\n"
    "      - {collection: c3, method: TestReplicaCollection, hang: true}\n"
    "      - {collection: c1, method: CommitFailover, job_warnings: slow, times: 1}\n";

static sg_config_t *s_cfg;

static void s_check_job(sg_provider_t *p, const char *path)
{
    sg_job_status_t st;
    int rc = sg_provider_get_job(p, path, &st);
    FZ_CHECK(rc == SG_OK || rc == SG_ENOTFOUND);
    if (rc == SG_OK) {
        FZ_CHECK(st.job_state == SG_JOB_STARTING || st.job_state == SG_JOB_RUNNING ||
                 st.job_state == SG_JOB_COMPLETED || st.job_state == SG_JOB_EXCEPTION ||
                 st.job_state == SG_JOB_COMPLETED_WITH_WARNINGS);
        FZ_CHECK(st.percent_complete >= 0 && st.percent_complete <= 100 && st.elapsed_ms >= 0);
        FZ_CHECK(st.job_state == SG_JOB_EXCEPTION ? st.error_description != NULL
                 : st.job_state == SG_JOB_COMPLETED_WITH_WARNINGS
                     ? true /* its text is optional in the file */
                     : st.error_description == NULL);
    }
    sg_job_status_fini(&st);
}

/* wmi.c's reading of ReplicationState (Windows only there). */
static sg_coll_state_t s_wmi_reading(int rs)
{
    switch (rs) {
    case 3: case 7: case 8: return SG_COLL_REPLICATING;
    case 4: return SG_COLL_FAILOVER_RUNNING;
    case 5: return SG_COLL_FAILED_OVER;
    case 6: return SG_COLL_COMMITTED;
    case 13: return SG_COLL_TESTING;
    default: return SG_COLL_UNKNOWN;
    }
}

/* The two sites' views of collection `path`: one primary, one replica, each
 * consistent with itself; points on the replica only. */
static void s_check_sides(sg_provider_t *p, const char *path, int64_t now)
{
    static const char *const sites[] = {"A", "B"};
    int modes = 0;
    FZ_CHECK(sg_provider_at(p, "nope") == NULL);
    for (size_t i = 0; i < 2; i++) {
        sg_provider_t *v = sg_provider_at(p, sites[i]);
        FZ_CHECK(v != NULL && v != p);
        sg_replication_t r;
        sg_coll_state_t st;
        FZ_CHECK(sg_provider_get_replication(v, path, &r) == SG_OK);
        FZ_CHECK(r.mode == SG_MODE_PRIMARY || r.mode == SG_MODE_REPLICA);
        FZ_CHECK(r.health >= SG_HEALTH_NORMAL && r.health <= SG_HEALTH_CRITICAL);
        FZ_CHECK(r.last_replication_ms >= 0);
        modes |= r.mode;
        FZ_CHECK(sg_provider_get_state(v, path, &st) == SG_OK);
        FZ_CHECK(s_wmi_reading(r.state) == st);
        sg_recovery_point_t *pts = NULL;
        size_t n = 0;
        FZ_CHECK(sg_provider_list_recovery_points(v, path, &pts, &n) == SG_OK);
        FZ_CHECK(r.mode == SG_MODE_REPLICA ? n > 0 : n == 0);
        for (size_t k = 0; k < n; k++) /* made ones by now; seeds date from the file's epoch */
            FZ_CHECK(pts[k].path != NULL &&
                     (pts[k].created_ms <= now || !strstr(pts[k].path, ":rp-")));
        sg_recovery_points_free(pts, n);
    }
    FZ_CHECK(modes == (SG_MODE_PRIMARY | SG_MODE_REPLICA));
}

/* Every collection in a known state, its failover job (if any) readable. */
static void s_check_collections(sg_provider_t *p, int64_t now)
{
    for (size_t i = 0; i < s_cfg->n_collections; i++) {
        const char *path = s_cfg->collections[i].cim_path;
        sg_coll_state_t st;
        FZ_CHECK(sg_provider_get_state(p, path, &st) == SG_OK);
        FZ_CHECK(st >= SG_COLL_REPLICATING && st <= SG_COLL_TESTING);
        char *job = NULL;
        int rc = sg_provider_find_failover_job(p, path, 0, &job);
        FZ_CHECK(rc == SG_OK ? job != NULL : rc == SG_ENOTFOUND);
        if (job)
            s_check_job(p, job);
        free(job);
        s_check_sides(p, path, now);
    }
}

/* The jobs that a snapshot or a change line names. */
static void s_check_jobs_of(sg_provider_t *p, json_t *root)
{
    json_t *job;
    size_t i;
    json_array_foreach(json_object_get(root, "jobs"), i, job) {
        const char *path = json_string_value(json_object_get(job, "path"));
        if (path)
            s_check_job(p, path);
    }
}

/* The jobs the state file names: in its snapshot and its complete lines. */
static void s_check_file_jobs(sg_provider_t *p, const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size, JSON_DISABLE_EOF_CHECK, &jerr);
    if (!root)
        return;
    s_check_jobs_of(p, root);
    json_decref(root);
    const char *end = (const char *)data + size;
    const char *nl = memchr(data + jerr.position, '\n', size - (size_t)jerr.position);
    while (nl && nl + 1 < end) {
        const char *line = nl + 1;
        if (!(nl = memchr(line, '\n', (size_t)(end - line))))
            break;
        json_t *change = json_loadb(line, (size_t)(nl - line), 0, NULL);
        s_check_jobs_of(p, change);
        json_decref(change);
    }
}

/* Every method on every collection through `p` (the base handle or a
 * view); a job started is readable through `p`. */
static void s_call_all(sg_provider_t *p)
{
    for (size_t i = 0; i < s_cfg->n_collections; i++) {
        for (int m = 0; m < SG_METHOD_COUNT; m++) {
            sg_call_result_t r;
            FZ_CHECK(sg_provider_call(p, (sg_method_t)m, s_cfg->collections[i].cim_path, NULL,
                                    &r) == SG_OK);
            FZ_CHECK((r.return_value == SG_RC_JOB_STARTED) == (r.job_path != NULL));
            if (r.job_path)
                s_check_job(p, r.job_path);
            sg_call_result_fini(&r);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sg_clock_t clock; /* started again for every input */
    static sg_clock_fake_state_t clock_state;
    if (!s_cfg) {
        sg_log_set_level(SG_LOG_ERROR);
        s_cfg = fz_config(s_yaml);
    }
    sg_clock_fake_init(&clock, &clock_state, 5000, S_START_WALL);
    sg_provider_t *p =
        sg_sim_new_from_text(s_cfg, &clock, "fuzz-state.json", (const char *)data, size);
    if (!p)
        return 0;
    s_check_collections(p, sg_clock_wall(&clock));
    s_check_file_jobs(p, data, size);
    sg_clock_fake_advance(&clock, 1000);
    s_call_all(p);
    s_check_collections(p, sg_clock_wall(&clock));
    sg_clock_fake_advance(&clock, 3600 * 1000);
    s_check_collections(p, sg_clock_wall(&clock));
    s_check_file_jobs(p, data, size);
    s_call_all(p);
    s_call_all(sg_provider_at(p, "A"));
    s_call_all(sg_provider_at(p, "B"));
    sg_clock_fake_advance(&clock, 3600 * 1000);
    s_check_collections(p, sg_clock_wall(&clock));
    sg_provider_destroy(&p);
    return 0;
}
