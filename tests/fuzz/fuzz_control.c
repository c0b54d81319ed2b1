/* libFuzzer target for the control request decoder and its handlers: the
 * bytes siteguardctl would send, through sg_control_handle against a real
 * engine on a small config, a real (in-memory) SQLite journal and a fake
 * clock. Engine, clock and control are made anew for every input so that a
 * finding replays; the journal (milliseconds to open) every 4096 inputs, so
 * only the audit trail that history returns carries over.
 *
 * The input is up to eight records, each [flags][length][length bytes of a
 * packed Request] (the last record takes what is left when the length runs
 * past the end). Flags: bit 0 the operator role (else read-only), bit 1 the
 * persist hook fails, bit 2 the reload hook refuses the new config. The fake
 * clock moves 1 s between requests.
 *
 * Checks (control.h): every request gets a packed Response that unpacks,
 * with a known code and a message; a change asked on the read-only socket is
 * DENIED; each command that changes something, or tries to, adds exactly one
 * audit entry and the others none; history returns at most its limit;
 * status lists the config's sites and collections. Drills and life-cycle
 * steps are not set up (drill run, report and history, commit, revert,
 * reverse and points answer UNAVAILABLE; the steps are audited as changes). */
#include "base/err.h"
#include "control/control.h"
#include "proto/control.pb-c.h"
#include "fuzz.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_RECORDS 8
#define S_START_WALL 1800000000000LL
#define S_HISTORY_DEFAULT 50
#define S_JOURNAL_INPUTS 4096 /* a journal takes milliseconds to open: kept for as many inputs */

typedef Siteguard__Control__V1__Request s_req_t;
typedef Siteguard__Control__V1__Response s_resp_t;

static const char s_yaml[] =
    "sites:\n  - name: A\n  - name: B\n  - name: W\n    witness: true\n"
    "observers:\n  - id: a1\n    site: A\n  - id: b1\n    site: B\n  - id: w1\n    site: W\n"
    "collections:\n"
    "  - name: a-db\n    cim_path: 'X.CollectionID=\"1\"'\n    site: A\n    replica_site: B\n"
    "  - name: a-app\n    cim_path: 'X.CollectionID=\"2\"'\n    site: A\n    replica_site: B\n"
    "    group: 1\n    depends_on: [a-db]\n    recovery_point: latest_app_consistent\n"
    "  - name: b-web\n    cim_path: 'X.CollectionID=\"3\"'\n    site: B\n    replica_site: A\n";

static sg_config_t *s_cfg;
static sg_journal_t *s_journal; /* opened anew every S_JOURNAL_INPUTS inputs */
static uint64_t s_inputs;

typedef struct {
    uint8_t flags;
} s_hooks_t;

static int s_persist(void *user)
{
    return ((s_hooks_t *)user)->flags & 2 ? SG_EIO : SG_OK;
}

static int s_reload(void *user, sg_config_errors_t *errs)
{
    if (!(((s_hooks_t *)user)->flags & 4))
        return SG_OK;
    sg_mark_t m = {"fuzz.yaml", 3, 7};
    sg_config_errors_add(errs, &m, "unknown key 'sitez'");
    sg_config_errors_add(errs, &m, "a second reason");
    return SG_ECONFIG;
}

/* The sequence number of the newest audit entry, 0 when there is none. */
static uint64_t s_audit_last(sg_journal_t *j)
{
    sg_journal_audit_t *list = NULL;
    size_t n = 0;
    FZ_CHECK(sg_journal_audit_list(j, 1, &list, &n) == SG_OK && n <= 1);
    uint64_t seq = n ? list[0].seq : 0;
    sg_journal_audit_free(list, n);
    return seq;
}

static bool s_is_change(const s_req_t *r)
{
    switch (r->command_case) {
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_APPROVE:
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DENY:
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_PAUSE:
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_RESUME:
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_FAILOVER:
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DRILL_RUN:
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_RELOAD:
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_COMMIT:
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_REVERT:
    case SITEGUARD__CONTROL__V1__REQUEST__COMMAND_REVERSE: return true;
    default: return false;
    }
}

/* The response to one request, checked against the request as the service
 * would decode it. */
static void s_check(const uint8_t *req, size_t len, sg_control_role_t role, const s_resp_t *resp,
                    uint64_t audits_before, uint64_t audits_after)
{
    FZ_CHECK(resp->code <= SITEGUARD__CONTROL__V1__RESPONSE__CODE__UNAVAILABLE && resp->message);
    s_req_t *r = siteguard__control__v1__request__unpack(NULL, len, req);
    if (!r || r->version != 1) {
        FZ_CHECK(resp->code == SITEGUARD__CONTROL__V1__RESPONSE__CODE__INVALID);
        FZ_CHECK(audits_after == audits_before);
    } else {
        bool change = s_is_change(r);
        FZ_CHECK(audits_after == audits_before + (change ? 1 : 0));
        if (change && role == SG_CONTROL_READER)
            FZ_CHECK(resp->code == SITEGUARD__CONTROL__V1__RESPONSE__CODE__DENIED);
        if (r->command_case == SITEGUARD__CONTROL__V1__REQUEST__COMMAND_HISTORY)
            FZ_CHECK(resp->n_history <=
                     (r->history->limit ? r->history->limit : S_HISTORY_DEFAULT));
        if (r->command_case == SITEGUARD__CONTROL__V1__REQUEST__COMMAND_STATUS)
            FZ_CHECK(resp->status && resp->status->n_sites == s_cfg->n_sites &&
                   resp->status->n_collections == s_cfg->n_collections);
    }
    if (r)
        siteguard__control__v1__request__free_unpacked(r, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sg_log_set_level(SG_LOG_ERROR);
    s_cfg = fz_config(s_yaml);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sg_clock_t clock;
    sg_clock_fake_state_t clock_state;
    sg_clock_fake_init(&clock, &clock_state, 1000, S_START_WALL);
    sg_engine_t *engine = sg_engine_new(s_cfg, 1, (sg_now_t){1000, S_START_WALL});
    if (s_inputs++ % S_JOURNAL_INPUTS == 0) {
        sg_journal_close(&s_journal);
        s_journal = sg_journal_open(":memory:");
    }
    sg_journal_t *journal = s_journal;
    s_hooks_t hooks = {0};
    sg_control_env_t env = {.cfg = s_cfg, .engine = engine, .journal = journal, .clock = &clock,
                            .reload = s_reload, .persist = s_persist, .user = &hooks};
    sg_control_t *control = sg_control_new(NULL, &env);
    FZ_CHECK(engine && journal && control);

    size_t at = 0;
    for (int i = 0; i < S_MAX_RECORDS && at + 2 <= size; i++) {
        hooks.flags = data[at];
        size_t len = data[at + 1];
        at += 2;
        if (len > size - at || i == S_MAX_RECORDS - 1)
            len = size - at;
        sg_control_role_t role = hooks.flags & 1 ? SG_CONTROL_OPERATOR : SG_CONTROL_READER;
        uint64_t before = s_audit_last(journal);
        uint8_t *out = NULL;
        size_t out_len = 0;
        FZ_CHECK(sg_control_handle(control, role, data + at, len, &out, &out_len) == SG_OK);
        s_resp_t *resp = siteguard__control__v1__response__unpack(NULL, out_len, out);
        FZ_CHECK(resp != NULL);
        s_check(data + at, len, role, resp, before, s_audit_last(journal));
        siteguard__control__v1__response__free_unpacked(resp, NULL);
        free(out);
        at += len;
        sg_clock_fake_advance(&clock, 1000);
    }
    sg_control_destroy(&control);
    sg_engine_destroy(&engine);
    return 0;
}
