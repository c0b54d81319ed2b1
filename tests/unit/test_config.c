/* Unit tests of the config module: loading, defaults and every rule. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "config/config.h"
#include "config/size.h"
#include "base/err.h"
#include "platform/platform.h"
#include "provider/provider.h"
#include "base/str.h"
#include "drill/tz.h"
#include "sg_testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Lines 1..13: three sites (W a witness), one observer, one collection. */
#define BASE                                                                                   \
    "sites:\n"                                                                                 \
    "  - name: A\n"                                                                            \
    "  - name: B\n"                                                                            \
    "  - name: W\n"                                                                            \
    "    witness: true\n"                                                                      \
    "observers:\n"                                                                             \
    "  - id: o1\n"                                                                             \
    "    site: A\n"                                                                            \
    "collections:\n"                                                                           \
    "  - name: c1\n"                                                                           \
    "    cim_path: p1\n"                                                                       \
    "    site: A\n"                                                                            \
    "    replica_site: B\n"

/* BASE without its sites: for tests that write their own (with A and B). */
#define BASE_AFTER_SITES                                                                       \
    "  - name: B\n"                                                                            \
    "observers:\n"                                                                             \
    "  - id: o1\n"                                                                             \
    "    site: A\n"                                                                            \
    "collections:\n"                                                                           \
    "  - name: c1\n"                                                                           \
    "    cim_path: p1\n"                                                                       \
    "    site: A\n"                                                                            \
    "    replica_site: B\n"

#define KEY40 "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define KEY40B "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
#define KEY40C "J/3lo]ZJ{a^D#0TT558D}-600G)P-[GHzfNoM6h:" /* no %: it may stand in a format */

typedef struct {
    sg_config_t *cfg;
    sg_config_errors_t errs;
    int rc;
} s_result_t;

static s_result_t s_load(const char *text)
{
    s_result_t r = {0};
    sg_config_errors_init(&r.errs);
    r.rc = sg_config_load_string("t.yaml", text, strlen(text), &r.cfg, &r.errs);
    return r;
}

static void s_done(s_result_t *r)
{
    sg_config_destroy(&r->cfg);
    assert_null(r->cfg);
    sg_config_errors_fini(&r->errs);
}

static void s_print_errors(const s_result_t *r)
{
    for (size_t i = 0; i < r->errs.n; i++)
        print_message("  error: %s\n", r->errs.items[i]);
}

static bool s_has_error(const s_result_t *r, const char *line)
{
    for (size_t i = 0; i < r->errs.n; i++)
        if (strcmp(r->errs.items[i], line) == 0)
            return true;
    print_message("missing error: %s\n", line);
    s_print_errors(r);
    return false;
}

/* Loads text that must be rejected with (at least) the given error line. */
static void s_expect_error(const char *text, const char *line)
{
    s_result_t r = s_load(text);
    assert_int_equal(r.rc, SG_ECONFIG);
    assert_null(r.cfg);
    assert_true(s_has_error(&r, line));
    s_done(&r);
}

/* A load that must have been rejected with exactly this one error. */
static void s_expect_only(s_result_t r, const char *line)
{
    assert_int_equal(r.rc, SG_ECONFIG);
    assert_true(s_has_error(&r, line));
    if (r.errs.n != 1)
        s_print_errors(&r);
    assert_int_equal(r.errs.n, 1);
    s_done(&r);
}

/* Loads text that must be rejected with exactly this one error. */
static void s_expect_only_error(const char *text, const char *line)
{
    s_expect_only(s_load(text), line);
}

static sg_config_t *s_load_ok(const char *text, s_result_t *r)
{
    *r = s_load(text);
    if (r->rc != SG_OK)
        s_print_errors(r);
    assert_int_equal(r->rc, SG_OK);
    assert_int_equal(r->errs.n, 0);
    assert_non_null(r->cfg);
    return r->cfg;
}

/* ------------------------------------------------------------------------ */

static const char s_full[] =
    "log_level: debug\n"
    "plugin_dir: /opt/sg/plugins\n"
    "bus:\n"
    "  bind: [tcp://127.0.0.1:7700, ipc:///tmp/sg.sock]\n"
    "  connect: [tcp://10.0.0.5:7701]\n"
    "  insecure: true\n" /* the connect endpoint is on another host */
    "  max_event_bytes: 8192\n"
    "  max_age: 1m\n"
    "  max_skew: 2s\n"
    "sites:\n"
    "  - name: A\n"
    "  - name: B\n"
    "  - name: W\n"
    "    witness: true\n"
    "observers:\n"
    "  - id: probe-a1\n"
    "    site: A\n"
    "    public_key: \"" KEY40 "\"\n"
    "  - id: probe-w\n"
    "    site: W\n"
    "collections:\n"
    "  - name: sql\n"
    "    cim_path: 'Msvm_VirtualSystemCollection.CollectionID=\"1ED8D1D9\"'\n"
    "    site: A\n"
    "    replica_site: B\n"
    "    group: 2\n"
    "    depends_on: [ad, files]\n"
    "    recovery_point: latest_app_consistent\n"
    "    rpo_limit: 15m\n"
    "  - name: ad\n"
    "    cim_path: p-ad\n"
    "    site: B\n"
    "    replica_site: A\n"
    "  - name: files\n"
    "    cim_path: p-files\n"
    "    site: A\n"
    "    replica_site: B\n"
    "    group: 1\n"
    "policy:\n"
    "  suspect_after: 2s\n"
    "  hold_down: 7s\n"
    "  mode: shadow\n"
    "provider:\n"
    "  kind: sim\n"
    "  workers: 16\n"
    "  job_timeout: 1h\n"
    "  poll_initial: 100ms\n"
    "  poll_max: 2s\n"
    "  max_attempts: 5\n"
    "  sim:\n"
    "    call_latency: 5ms\n"
    "    job_duration: 750\n"
    "    state_file: /tmp/sim.json\n"
    "    faults:\n"
    "      - collection: sql\n"
    "        method: InitiateFailover\n"
    "        return_code: 32774\n"
    "        times: 2\n"
    "      - job_error_code: 32768\n"
    "      - method: CommitFailover\n"
    "        hang: true\n"
    "        job_error_code: 0\n"
    "sinks:\n"
    "  - name: outcomes\n"
    "    plugin: jsonl\n"
    "    path: /opt/sg/sg_jsonl.so\n"
    "    options:\n"
    "      path: /var/log/sg.jsonl\n"
    "      fsync: \"true\"\n"
    "  - name: console\n"
    "    plugin: console\n";

static void test_full_config_loads_every_field(void **state)
{
    s_result_t r;
    const sg_config_t *c = s_load_ok(s_full, &r);
    assert_string_equal(c->path, "t.yaml");
    assert_int_equal(c->log_level, SG_LOG_DEBUG);
    assert_string_equal(c->plugin_dir, "/opt/sg/plugins");

    assert_int_equal(c->bus.n_bind, 2);
    assert_string_equal(c->bus.bind[0], "tcp://127.0.0.1:7700");
    assert_string_equal(c->bus.bind[1], "ipc:///tmp/sg.sock");
    assert_int_equal(c->bus.n_connect, 1);
    assert_string_equal(c->bus.connect[0], "tcp://10.0.0.5:7701");
    assert_int_equal(c->bus.max_event_bytes, 8192);
    assert_int_equal(c->bus.max_age_ms, 60000);
    assert_int_equal(c->bus.max_skew_ms, 2000);
    assert_int_equal(c->bus.incarnation_silence_ms, 2000);
    assert_true(c->bus.insecure);
    assert_null(c->bus.curve.secret_key);

    assert_int_equal(c->n_sites, 3);
    assert_string_equal(c->sites[2].name, "W");
    assert_false(c->sites[0].witness);
    assert_true(c->sites[2].witness);
    assert_string_equal(c->sites[1].mark.file, "t.yaml");
    assert_int_equal(c->sites[1].mark.line, 12);
    assert_int_equal(c->sites[1].mark.column, 5);

    assert_int_equal(c->n_observers, 2);
    assert_string_equal(c->observers[0].id, "probe-a1");
    assert_int_equal(c->observers[0].site, 0);
    assert_int_equal(c->observers[0].n_public_keys, 1);
    assert_string_equal(c->observers[0].public_keys[0], KEY40);
    assert_int_equal(c->observers[1].site, 2);
    assert_int_equal(c->observers[1].n_public_keys, 0);

    assert_int_equal(c->n_collections, 3);
    const sg_collection_cfg_t *sql = &c->collections[0];
    assert_string_equal(sql->name, "sql");
    assert_string_equal(sql->cim_path, "Msvm_VirtualSystemCollection.CollectionID=\"1ED8D1D9\"");
    assert_int_equal(sql->site, 0);
    assert_int_equal(sql->replica_site, 1);
    assert_int_equal(sql->group, 2);
    assert_int_equal(sql->n_depends_on, 2);
    assert_int_equal(sql->depends_on[0], 1);
    assert_int_equal(sql->depends_on[1], 2);
    assert_int_equal(sql->recovery_point, SG_RP_LATEST_APP_CONSISTENT);
    assert_int_equal(sql->rpo_limit_ms, 15 * 60 * 1000);
    assert_int_equal(sql->mark.line, 22);
    const sg_collection_cfg_t *ad = &c->collections[1];
    assert_int_equal(ad->site, 1);
    assert_int_equal(ad->replica_site, 0);
    assert_int_equal(ad->group, 0);
    assert_int_equal(ad->n_depends_on, 0);
    assert_null(ad->depends_on);
    assert_int_equal(ad->recovery_point, SG_RP_LATEST);
    assert_int_equal(ad->rpo_limit_ms, 0);

    assert_int_equal(c->policy.suspect_after_ms, 2000);
    assert_int_equal(c->policy.hold_down_ms, 7000);
    assert_int_equal(c->policy.mode, SG_MODE_SHADOW);

    const sg_provider_cfg_t *p = &c->provider;
    assert_string_equal(p->kind, "sim");
    assert_int_equal(p->workers, 16);
    assert_int_equal(p->job_timeout_ms, 3600000);
    assert_int_equal(p->poll_initial_ms, 100);
    assert_int_equal(p->poll_max_ms, 2000);
    assert_int_equal(p->max_attempts, 5);
    assert_int_equal(p->sim.call_latency_ms, 5);
    assert_int_equal(p->sim.job_duration_ms, 750);
    assert_string_equal(p->sim.state_file, "/tmp/sim.json");
    assert_int_equal(p->sim.n_faults, 3);
    assert_string_equal(p->sim.faults[0].collection, "sql");
    assert_string_equal(p->sim.faults[0].method, "InitiateFailover");
    assert_int_equal(p->sim.faults[0].return_code, 32774);
    assert_int_equal(p->sim.faults[0].times, 2);
    assert_null(p->sim.faults[1].collection);
    assert_null(p->sim.faults[1].method);
    assert_int_equal(p->sim.faults[1].job_error_code, 32768);
    assert_int_equal(p->sim.faults[1].times, 0);
    assert_true(p->sim.faults[2].hang);
    assert_int_equal(p->sim.faults[2].mark.line, 60);

    assert_int_equal(c->n_sinks, 2);
    const sg_sink_cfg_t *s = &c->sinks[0];
    assert_string_equal(s->name, "outcomes");
    assert_string_equal(s->plugin, "jsonl");
    assert_string_equal(s->path, "/opt/sg/sg_jsonl.so");
    assert_int_equal(s->n_options, 2);
    assert_string_equal(s->options[0].key, "path");
    assert_string_equal(s->options[0].value, "/var/log/sg.jsonl");
    assert_int_equal(s->options[0].mark.line, 68);
    assert_int_equal(s->options[0].mark.column, 7);
    assert_string_equal(s->options[1].key, "fsync");
    assert_string_equal(s->options[1].value, "true");
    assert_string_equal(c->sinks[1].name, "console");
    assert_null(c->sinks[1].path);
    assert_int_equal(c->sinks[1].n_options, 0);
    assert_null(c->sinks[1].options);
    s_done(&r);
}

static void test_defaults_apply_to_omitted_sections(void **state)
{
    s_result_t r;
    const sg_config_t *c = s_load_ok(BASE, &r);
    assert_int_equal(c->log_level, SG_LOG_INFO);
    assert_null(c->plugin_dir);
    assert_int_equal(c->bus.n_bind, 1);
    assert_string_equal(c->bus.bind[0], "tcp://127.0.0.1:7700");
    assert_int_equal(c->bus.n_connect, 0);
    assert_int_equal(c->bus.max_event_bytes, 4096);
    assert_int_equal(c->bus.max_age_ms, 30000);
    assert_int_equal(c->bus.max_skew_ms, 5000);
    assert_int_equal(c->policy.suspect_after_ms, 3000);
    assert_int_equal(c->policy.hold_down_ms, 10000);
    assert_int_equal(c->policy.mode, SG_MODE_AUTO);
    assert_string_equal(c->provider.kind, "sim");
    assert_int_equal(c->provider.workers, 4);
    assert_int_equal(c->provider.job_timeout_ms, 30 * 60 * 1000);
    assert_int_equal(c->provider.poll_initial_ms, 250);
    assert_int_equal(c->provider.poll_max_ms, 5000);
    assert_int_equal(c->provider.max_attempts, 3);
    assert_int_equal(c->provider.sim.call_latency_ms, 20);
    assert_int_equal(c->provider.sim.job_duration_ms, 2000);
    assert_null(c->provider.sim.state_file);
    assert_int_equal(c->provider.sim.n_faults, 0);
    assert_int_equal(c->n_sinks, 0);
    assert_int_equal(c->collections[0].group, 0);
    assert_int_equal(c->collections[0].recovery_point, SG_RP_LATEST);
    s_done(&r);
}

static void test_a_bus_section_replaces_the_default_bind(void **state)
{
    s_result_t r;
    const sg_config_t *c = s_load_ok(BASE "bus:\n  connect: [tcp://127.0.0.1:7700]\n", &r);
    assert_int_equal(c->bus.n_bind, 0);
    assert_int_equal(c->bus.n_connect, 1);
    s_done(&r);
}

static void test_find_functions_return_indices(void **state)
{
    s_result_t r;
    const sg_config_t *c = s_load_ok(s_full, &r);
    assert_int_equal(sg_config_find_site(c, "W"), 2);
    assert_int_equal(sg_config_find_site(c, "X"), -1);
    assert_int_equal(sg_config_find_observer(c, "probe-w"), 1);
    assert_int_equal(sg_config_find_observer(c, "nobody"), -1);
    assert_int_equal(sg_config_find_collection(c, "files"), 2);
    assert_int_equal(sg_config_find_collection(c, "sq"), -1);
    s_done(&r);
}

/* ------------------------------------------------------------------------ */
/* Keys and node types                                                       */

static void test_unknown_key_is_an_error_with_line_and_column(void **state)
{
    s_expect_only_error(BASE "policy:\n"
                             "  suspect_after: 1s\n"
                             "  hold_dwn: 5s\n",
                        "t.yaml:16:3: unknown key 'hold_dwn' in policy (expected one of: "
                        "suspect_after, hold_down, recover_after, report_max_age, vote_hold, "
                        "startup_grace, skew_warn, quorum, require_witness, mode, "
                        "approval_timeout, on_approval_timeout, cooldown, replication_max_age, "
                        "budget, site_budget, after_failover, maintenance, flapping)");
}

static void test_unknown_key_in_a_list_entry_and_at_the_top_level(void **state)
{
    s_expect_error("sitez: []\n" BASE,
                   "t.yaml:1:1: unknown key 'sitez' at the top level (expected one of: "
                   "log_level, plugin_dir, bus, sites, observers, collections, policy, provider, "
                   "plan, journal, sinks, control, metrics, leader, log_format, drills)");
    s_expect_only_error(BASE "    replica: B\n",
                        "t.yaml:14:5: unknown key 'replica' in a collection (expected one of: "
                        "name, cim_path, site, replica_site, group, depends_on, recovery_point, "
                        "replica_host, rpo_limit, replication_observers)");
}

static void test_duplicate_key_in_a_mapping_is_an_error(void **state)
{
    s_expect_only_error(BASE "policy:\n"
                             "  mode: auto\n"
                             "  mode: shadow\n",
                        "t.yaml:16:3: duplicate key 'mode' in policy");
}

static void test_missing_required_keys_are_errors_at_the_entry(void **state)
{
    s_expect_error("sites:\n"
                   "  - name: A\n"
                   "  - name: B\n"
                   "observers:\n"
                   "  - site: A\n"
                   "collections:\n"
                   "  - name: c1\n"
                   "    site: A\n",
                   "t.yaml:5:5: missing required key 'id' in an observer");
    s_expect_error("sites:\n"
                   "  - name: A\n"
                   "  - name: B\n"
                   "observers:\n"
                   "  - {id: o, site: A}\n"
                   "collections:\n"
                   "  - name: c1\n"
                   "    site: A\n",
                   "t.yaml:7:5: missing required key 'cim_path' in a collection");
    s_expect_error("sites: [{name: A}]\n"
                   "observers: [{id: o, site: A}]\n"
                   "collections:\n"
                   "  - name: c1\n"
                   "    site: A\n",
                   "t.yaml:4:5: missing required key 'replica_site' in a collection");
    s_expect_only_error(BASE "sinks:\n  - name: s\n",
                        "t.yaml:15:5: missing required key 'plugin' in a sink");
}

static void test_missing_and_empty_sections_are_errors(void **state)
{
    s_expect_error("log_level: info\n",
                   "t.yaml:1:1: missing required key 'sites' at the top level");
    s_expect_error("log_level: info\n",
                   "t.yaml:1:1: missing required key 'collections' at the top level");
    s_expect_error("sites: []\nobservers:\ncollections: []\n",
                   "t.yaml:1:8: 'sites' must list at least one site");
    s_expect_error("sites: []\nobservers:\ncollections: []\n",
                   "t.yaml:2:11: 'observers' must list at least one observer");
    s_expect_error("sites: []\nobservers:\ncollections: []\n",
                   "t.yaml:3:14: 'collections' must list at least one collection");
}

static void test_wrong_node_types_are_errors(void **state)
{
    s_expect_only_error(BASE "policy: [1s, 3s]\n",
                        "t.yaml:14:9: expected a mapping for 'policy' (found a list)");
    s_expect_only_error(BASE "bus:\n  bind: tcp://127.0.0.1:1\n",
                        "t.yaml:15:9: expected a list for 'bind' (found a scalar)");
    s_expect_only_error(BASE "plugin_dir: [a, b]\n",
                        "t.yaml:14:13: expected a scalar for 'plugin_dir' (found a list)");
    s_expect_only_error(BASE "    depends_on: [{name: x}]\n",
                        "t.yaml:14:18: expected a scalar for each entry of 'depends_on' "
                        "(found a mapping)");
    s_expect_error("sites:\n  - A\n",
                   "t.yaml:2:5: expected a mapping for each entry of 'sites' (found a scalar)");
    s_expect_only_error(BASE "sinks:\n  - name: s\n    plugin: p\n    options:\n"
                             "      path: [a]\n",
                        "t.yaml:18:13: expected a scalar for 'path' (found a list)");
}

static void test_empty_file_and_non_mapping_documents_are_errors(void **state)
{
    s_expect_only_error("", "t.yaml:1:1: the file is empty: expected a mapping with sites, "
                            "observers and collections");
    s_expect_only_error("# only a comment\n",
                        "t.yaml:1:1: the file is empty: expected a mapping with sites, "
                        "observers and collections");
    s_expect_only_error("- a\n- b\n",
                        "t.yaml:1:1: expected a mapping at the top level (found a list)");
    s_expect_only_error(BASE "---\nsites: []\n",
                        "t.yaml:15:1: only one YAML document is allowed in a config file");
}

static void test_yaml_syntax_error_reports_the_parser_mark(void **state)
{
    s_expect_only_error(BASE "policy:\n  mode: auto\n hold_down: 3s\n",
                        "t.yaml:16:2: YAML syntax error: did not find expected key (while "
                        "parsing a block mapping that started at line 1, column 1)");
    s_expect_only_error(BASE "plugin_dir: \"unterminated\n",
                        "t.yaml:15:1: YAML syntax error: found unexpected end of stream (while "
                        "scanning a quoted scalar that started at line 14, column 13)");
    s_expect_only_error(BASE "plugin_dir: *nowhere\n",
                        "t.yaml:14:13: YAML syntax error: found undefined alias");
}

/* ------------------------------------------------------------------------ */
/* Values                                                                    */

static void test_bad_duration_is_an_error(void **state)
{
    s_expect_only_error(BASE "policy:\n  hold_down: 10 s\n",
                        "t.yaml:15:14: bad value '10 s' for 'hold_down': expected a duration "
                        "like 250ms, 3s, 2m, 1h");
    s_expect_only_error(BASE "provider:\n  job_timeout: -5s\n",
                        "t.yaml:15:16: bad value '-5s' for 'job_timeout': expected a duration "
                        "like 250ms, 3s, 2m, 1h");
    s_expect_only_error(BASE "    rpo_limit: 1d\n",
                        "t.yaml:14:16: bad value '1d' for 'rpo_limit': expected a duration "
                        "like 250ms, 3s, 2m, 1h");
}

/* `text` parses with `parse` as `want`. */
static void s_expect_parsed(int (*parse)(const char *, int64_t *), const char *text, int64_t want)
{
    int64_t v = -1;
    assert_int_equal(parse(text, &v), SG_OK);
    assert_int_equal(v, want);
}

/* `text` parses as a duration of `want` ms. */
static void s_expect_duration(const char *text, int64_t want)
{
    s_expect_parsed(sg_config_parse_duration, text, want);
}

static void test_parse_duration_units_and_rejections(void **state)
{
    s_expect_duration("250ms", 250);
    s_expect_duration("3s", 3000);
    s_expect_duration("2m", 120000);
    s_expect_duration("1h", 3600000);
    s_expect_duration("1500", 1500);
    s_expect_duration("0", 0);
    int64_t ms = 42;
    static const char *const bad[] = {"", "-1s", "+1s", "s", "1.5s", "3 s", " 3s", "3S", "3sec",
                                      "1d", "0x10", "9223372036854775808",
                                      "9223372036854775807s", "2562047788015216h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (sg_config_parse_duration(bad[i], &ms) != SG_EINVAL)
            fail_msg("'%s' was accepted as a duration", bad[i]);
    }
    assert_int_equal(ms, 42); /* untouched on failure */
    assert_int_equal(sg_config_parse_duration("9223372036854775807", &ms), SG_OK);
    assert_int_equal(ms, INT64_MAX);
    assert_int_equal(sg_config_parse_duration(NULL, &ms), SG_EINVAL);
}

static void test_integers_out_of_range_are_errors(void **state)
{
    s_expect_only_error(BASE "provider:\n  workers: 0\n",
                        "t.yaml:15:12: 'workers' must be between 1 and 256 (got 0)");
    s_expect_only_error(BASE "provider:\n  workers: 257\n",
                        "t.yaml:15:12: 'workers' must be between 1 and 256 (got 257)");
    s_expect_only_error(BASE "provider:\n  max_attempts: 101\n",
                        "t.yaml:15:17: 'max_attempts' must be between 1 and 100 (got 101)");
    s_expect_only_error(BASE "bus:\n  bind: [tcp://127.0.0.1:1]\n  max_event_bytes: 63\n",
                        "t.yaml:16:20: 'max_event_bytes' must be between 64 and 1048576 "
                        "(got 63)");
    s_expect_only_error(BASE "    group: -1\n",
                        "t.yaml:14:12: 'group' must be between 0 and 1000 (got -1)");
    s_expect_only_error(BASE "    group: 1001\n",
                        "t.yaml:14:12: 'group' must be between 0 and 1000 (got 1001)");
    s_expect_only_error(BASE "    group: two\n",
                        "t.yaml:14:12: bad value 'two' for 'group': expected an integer");
    s_expect_only_error(BASE "    group: 99999999999999999999\n",
                        "t.yaml:14:12: bad value '99999999999999999999' for 'group': expected "
                        "an integer");
}

static void test_enumerations_reject_unknown_values(void **state)
{
    s_expect_only_error(BASE "log_level: verbose\n",
                        "t.yaml:14:12: bad value 'verbose' for 'log_level': expected one of: "
                        "error, warn, info, debug");
    s_expect_only_error(BASE "policy:\n  mode: yolo\n",
                        "t.yaml:15:9: bad value 'yolo' for 'mode': expected one of: auto, "
                        "approve, shadow");
    s_expect_only_error(BASE "    recovery_point: oldest\n",
                        "t.yaml:14:21: bad value 'oldest' for 'recovery_point': expected latest, "
                        "latest_app_consistent or the object path of an "
                        "Msvm_CollectionRecoveryPoint");
    s_expect_error("sites:\n  - name: A\n    witness: maybe\n",
                        "t.yaml:3:14: bad value 'maybe' for 'witness': expected true or false");
}

static void test_empty_strings_are_errors(void **state)
{
    s_expect_only_error(BASE "plugin_dir: ''\n", "t.yaml:14:13: 'plugin_dir' must not be empty");
    s_expect_error("sites:\n  - name:\n", "t.yaml:2:10: 'name' must not be empty");
}

#define OBSERVER_WITH_KEY(key)                                                                 \
    "sites: [{name: A}, {name: B}]\n"                                                         \
    "collections: [{name: c, cim_path: p, site: A, replica_site: B}]\n"                       \
    "observers:\n"                                                                            \
    "  - id: o\n"                                                                             \
    "    site: A\n"                                                                           \
    "    public_key: " key "\n"

static void test_public_key_must_be_40_characters_of_z85(void **state)
{
    static const char *const err = "t.yaml:6:17: 'public_key' must be a CURVE public key: 40 "
                                   "characters of Z85 text";
    s_expect_only_error(OBSERVER_WITH_KEY("abc"), err);
    s_expect_only_error(OBSERVER_WITH_KEY("\"" KEY40 "A\""), err);
    /* 40 characters, but a quote is not Z85 */
    s_expect_only_error(OBSERVER_WITH_KEY("'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\"'"), err);
    s_result_t r;
    const sg_config_t *c = s_load_ok(OBSERVER_WITH_KEY("'" KEY40 "'"), &r);
    assert_string_equal(c->observers[0].public_keys[0], KEY40);
    s_done(&r);
}

static void test_public_key_is_one_key_or_a_list_of_two_different_ones(void **state)
{
    s_result_t r;
    const sg_config_t *c = s_load_ok(OBSERVER_WITH_KEY("['" KEY40 "', '" KEY40B "']"), &r);
    assert_int_equal(c->observers[0].n_public_keys, 2);
    assert_string_equal(c->observers[0].public_keys[0], KEY40);
    assert_string_equal(c->observers[0].public_keys[1], KEY40B);
    s_done(&r);
    s_expect_only_error(OBSERVER_WITH_KEY("[]"),
                        "t.yaml:6:17: 'public_key' is one key, or a list of at most 2 (the old "
                        "and the new key while it changes)");
    s_expect_only_error(OBSERVER_WITH_KEY("['" KEY40 "', '" KEY40B "', '" KEY40 "']"),
                        "t.yaml:6:17: 'public_key' is one key, or a list of at most 2 (the old "
                        "and the new key while it changes)");
    s_expect_only_error(OBSERVER_WITH_KEY("['" KEY40 "', '" KEY40 "']"),
                        "t.yaml:6:62: this key is already listed for observer 'o'");
}

/* ------------------------------------------------------------------------ */
/* Cross-references and uniqueness                                           */

static void test_reference_to_an_undefined_site_is_an_error(void **state)
{
    static const char text[] = "sites:\n"
                               "  - name: A\n"
                               "  - name: B\n"
                               "observers:\n"
                               "  - id: o1\n"
                               "    site: C\n"
                               "collections:\n"
                               "  - name: c1\n"
                               "    cim_path: p\n"
                               "    site: A\n"
                               "    replica_site: D\n";
    s_expect_error(text, "t.yaml:6:11: site 'C' is not defined in sites");
    s_expect_error(text, "t.yaml:11:19: site 'D' is not defined in sites");
}

static void test_references_resolve_whatever_the_section_order(void **state)
{
    s_result_t r;
    const sg_config_t *c = s_load_ok("collections:\n"
                                     "  - {name: c2, cim_path: p2, site: B, replica_site: A,"
                                     " depends_on: [c1]}\n"
                                     "  - {name: c1, cim_path: p1, site: A, replica_site: B}\n"
                                     "provider:\n"
                                     "  sim:\n"
                                     "    faults: [{collection: c1, hang: true}]\n"
                                     "observers: [{id: o, site: B}]\n"
                                     "sites: [{name: A}, {name: B}]\n",
                                     &r);
    assert_int_equal(c->collections[0].site, 1);
    assert_int_equal(c->collections[0].depends_on[0], 1);
    assert_int_equal(c->observers[0].site, 1);
    assert_string_equal(c->provider.sim.faults[0].collection, "c1");
    s_done(&r);
}

static void test_duplicate_names_are_errors(void **state)
{
    s_expect_only_error(BASE "  - name: c1\n"
                             "    cim_path: p2\n"
                             "    site: B\n"
                             "    replica_site: A\n",
                        "t.yaml:14:5: duplicate collection name 'c1' (first defined at line 10)");
    s_expect_only_error("sites:\n  - name: A\n  - name: B\n  - name: A\n"
                        "observers: [{id: o, site: A}]\n"
                        "collections: [{name: c, cim_path: p, site: A, replica_site: B}]\n",
                        "t.yaml:4:5: duplicate site name 'A' (first defined at line 2)");
    s_expect_only_error(BASE "observers:\n", "t.yaml:14:1: duplicate key 'observers' at the top "
                                             "level");
    s_expect_only_error("sites: [{name: A}, {name: B}]\n"
                        "observers:\n  - {id: o, site: A}\n  - {id: o, site: B}\n"
                        "collections: [{name: c, cim_path: p, site: A, replica_site: B}]\n",
                        "t.yaml:4:5: duplicate observer id 'o' (first defined at line 3)");
    s_expect_only_error(BASE "sinks:\n  - {name: s, plugin: a}\n  - {name: s, plugin: b}\n",
                        "t.yaml:16:5: duplicate sink name 's' (first defined at line 15)");
    s_expect_only_error(BASE "sinks:\n  - name: s\n    plugin: a\n    options:\n"
                             "      path: x\n      path: y\n",
                        "t.yaml:19:7: duplicate key 'path' in the options of sink 's'");
}

static void test_replica_site_must_differ_and_not_be_a_witness(void **state)
{
    s_expect_only_error(BASE "  - name: c2\n"
                             "    cim_path: p2\n"
                             "    site: B\n"
                             "    replica_site: B\n",
                        "t.yaml:17:19: replica_site 'B' is the same as site");
    s_expect_only_error(BASE "  - name: c2\n"
                             "    cim_path: p2\n"
                             "    site: A\n"
                             "    replica_site: W\n",
                        "t.yaml:17:19: replica_site 'W' is a witness site; a witness cannot "
                        "hold collections");
    s_expect_only_error(BASE "  - name: c2\n"
                             "    cim_path: p2\n"
                             "    site: W\n"
                             "    replica_site: A\n",
                        "t.yaml:16:11: site 'W' is a witness site; a witness cannot hold "
                        "collections");
}

#define COLL(n, deps)                                                                          \
    "  - {name: " n ", cim_path: p" n ", site: A, replica_site: B, depends_on: " deps "}\n"

static void test_depends_on_must_name_other_defined_collections(void **state)
{
    s_expect_only_error("sites: [{name: A}, {name: B}]\n"
                        "observers: [{id: o, site: A}]\n"
                        "collections:\n" COLL("a", "[a]"),
                        "t.yaml:4:68: collection 'a' depends on itself");
    s_expect_only_error("sites: [{name: A}, {name: B}]\n"
                        "observers: [{id: o, site: A}]\n"
                        "collections:\n" COLL("a", "[zz]"),
                        "t.yaml:4:68: collection 'zz' is not defined in collections");
    s_expect_only_error("sites: [{name: A}, {name: B}]\n"
                        "observers: [{id: o, site: A}]\n"
                        "collections:\n" COLL("a", "[b, b]") COLL("b", "[]"),
                        "t.yaml:4:71: depends_on lists 'b' twice");
}

static void test_depends_on_cycles_are_errors(void **state)
{
    s_expect_only_error("sites: [{name: A}, {name: B}]\n"
                        "observers: [{id: o, site: A}]\n"
                        "collections:\n" COLL("a", "[b]") COLL("b", "[c]") COLL("c", "[a]")
                            COLL("d", "[a]"),
                        "t.yaml:6:68: depends_on forms a cycle: a -> b -> c -> a");
    s_expect_only_error("sites: [{name: A}, {name: B}]\n"
                        "observers: [{id: o, site: A}]\n"
                        "collections:\n" COLL("a", "[]") COLL("b", "[a, c]") COLL("c", "[b]"),
                        "t.yaml:6:68: depends_on forms a cycle: b -> c -> b");
}

static void test_depends_on_a_later_plan_group_is_an_error(void **state)
{
    s_expect_only_error("sites: [{name: A}, {name: B}]\n"
                        "observers: [{id: o, site: A}]\n"
                        "collections:\n"
                        "  - {name: a, cim_path: pa, site: A, replica_site: B, depends_on: [b]}\n"
                        "  - {name: b, cim_path: pb, site: A, replica_site: B, group: 1}\n",
                        "t.yaml:4:68: collection 'a' (group 0) depends on 'b' of the later "
                        "group 1: a dependency must be in the same or an earlier plan group");
}

/* ------------------------------------------------------------------------ */
/* Policy: quorum, guards, windows                                            */

static void test_policy_defaults_follow_the_sites(void **state)
{
    (void)state;
    s_result_t r;
    const sg_config_t *c = s_load_ok(BASE, &r);
    assert_int_equal(c->policy.quorum, 2);
    assert_true(c->policy.require_witness);
    assert_int_equal(c->policy.report_max_age_ms, 3 * c->policy.suspect_after_ms);
    assert_int_equal(c->policy.recover_after_ms, 30000);
    assert_int_equal(c->policy.cooldown_ms, 3600000);
    assert_int_equal(c->policy.budget.max, 4);
    assert_int_equal(c->policy.site_budget.max, 2);
    assert_false(c->policy.proceed_on_timeout);
    s_done(&r);
    c = s_load_ok("sites: [{name: A}, {name: B}]\n"
                  "observers: [{id: o, site: A}]\n"
                  "collections: [{name: c, cim_path: p, site: A, replica_site: B}]\n",
                  &r);
    assert_int_equal(c->policy.quorum, 1); /* one other site */
    assert_false(c->policy.require_witness);
    s_done(&r);
}

static void test_policy_keys_are_read(void **state)
{
    (void)state;
    s_result_t r;
    const sg_config_t *c = s_load_ok(BASE "policy:\n"
                                          "  quorum: 1\n"
                                          "  require_witness: false\n"
                                          "  recover_after: 1m\n"
                                          "  report_max_age: 20s\n"
                                          "  mode: approve\n"
                                          "  approval_timeout: 5m\n"
                                          "  on_approval_timeout: proceed\n"
                                          "  cooldown: 0s\n"
                                          "  replication_max_age: 2m\n"
                                          "  budget: {max: 3, period: 30m}\n"
                                          "  site_budget: {max: 0, period: 1h}\n"
                                          "  maintenance:\n"
                                          "    - {sites: [A, B], days: [sat, sun], from: '22:00', "
                                          "to: '02:30', reason: patch}\n"
                                          "    - {start: 2027-02-01T02:00:00Z, end: "
                                          "2027-02-01T04:00:00Z}\n",
                                     &r);
    const sg_policy_cfg_t *p = &c->policy;
    assert_int_equal(p->quorum, 1);
    assert_false(p->require_witness);
    assert_int_equal(p->recover_after_ms, 60000);
    assert_int_equal(p->report_max_age_ms, 20000);
    assert_int_equal(p->mode, SG_MODE_APPROVE);
    assert_int_equal(p->approval_timeout_ms, 300000);
    assert_true(p->proceed_on_timeout);
    assert_int_equal(p->cooldown_ms, 0);
    assert_int_equal(p->budget.max, 3);
    assert_int_equal(p->budget.period_ms, 1800000);
    assert_int_equal(p->site_budget.max, 0);
    assert_int_equal(p->n_maintenance, 2);
    assert_int_equal(p->maintenance[0].n_sites, 2);
    assert_int_equal(p->maintenance[0].sites[1], 1);
    assert_int_equal(p->maintenance[0].days, (1u << 5) | (1u << 6));
    assert_int_equal(p->maintenance[0].from_min, 22 * 60);
    assert_int_equal(p->maintenance[0].to_min, 150);
    assert_string_equal(p->maintenance[0].reason, "patch");
    assert_int_equal(p->maintenance[1].start_ms, 1801447200000LL);
    assert_int_equal(p->maintenance[1].end_ms, 1801454400000LL);
    s_done(&r);
}

static void test_quorum_that_cannot_be_reached_is_an_error(void **state)
{
    (void)state;
    s_expect_only_error(BASE "policy:\n"
                             "  quorum: 3\n",
                        "t.yaml:15:11: quorum 3 can never be reached: at most 2 other site(s) "
                        "observe a site");
}

static void test_require_witness_without_a_witness_is_an_error(void **state)
{
    (void)state;
    s_expect_only_error("sites: [{name: A}, {name: B}]\n"
                        "observers: [{id: o, site: A}]\n"
                        "collections: [{name: c, cim_path: p, site: A, replica_site: B}]\n"
                        "policy:\n"
                        "  require_witness: true\n",
                        "t.yaml:5:20: require_witness is true but no site is a witness "
                        "(witness: true)");
}

static void test_bad_maintenance_windows_are_errors(void **state)
{
    (void)state;
    s_expect_only_error(BASE "policy:\n"
                             "  maintenance:\n"
                             "    - {days: [sat, funday], from: '02:00', to: '03:00'}\n",
                        "t.yaml:16:20: bad day 'funday': expected one of: mon, tue, wed, thu, "
                        "fri, sat, sun");
    s_expect_only_error(BASE "policy:\n"
                             "  maintenance:\n"
                             "    - {from: '25:00', to: '03:00'}\n",
                        "t.yaml:16:14: bad value '25:00' for 'from': expected a UTC time of day "
                        "like 02:30");
    s_expect_only_error(BASE "policy:\n"
                             "  maintenance:\n"
                             "    - {from: '02:00', start: 2027-02-01T02:00:00Z, end: "
                             "2027-02-01T03:00:00Z}\n",
                        "t.yaml:16:7: a maintenance window is either weekly (days, from, to) or "
                        "once (start, end), not both");
    s_expect_only_error(BASE "policy:\n"
                             "  maintenance:\n"
                             "    - {start: 2027-02-01T05:00:00Z, end: 2027-02-01T03:00:00Z}\n",
                        "t.yaml:16:42: 'end' must be after 'start'");
    s_expect_only_error(BASE "policy:\n"
                             "  maintenance:\n"
                             "    - {sites: [Q], from: '02:00', to: '03:00'}\n",
                        "t.yaml:16:16: site 'Q' is not defined in sites");
    s_expect_only_error(BASE "policy:\n"
                             "  maintenance:\n"
                             "    - {reason: x}\n",
                        "t.yaml:16:7: a maintenance window needs 'from' and 'to' (weekly) or "
                        "'start' and 'end' (once)");
}

static void test_bad_approval_and_budget_values_are_errors(void **state)
{
    (void)state;
    s_expect_only_error(BASE "policy:\n"
                             "  on_approval_timeout: maybe\n",
                        "t.yaml:15:24: bad value 'maybe' for 'on_approval_timeout': expected one "
                        "of: hold, proceed");
    s_expect_only_error(BASE "policy:\n"
                             "  budget: {max: 3, perod: 1h}\n",
                        "t.yaml:15:20: unknown key 'perod' in a budget (expected one of: max, "
                        "period)");
}

static void test_a_diamond_of_dependencies_is_not_a_cycle(void **state)
{
    s_result_t r;
    const sg_config_t *c = s_load_ok("sites: [{name: A}, {name: B}]\n"
                                     "observers: [{id: o, site: A}]\n"
                                     "collections:\n" COLL("a", "[b, c]") COLL("b", "[d]")
                                         COLL("c", "[d]") COLL("d", "[]"),
                                     &r);
    assert_int_equal(c->collections[0].n_depends_on, 2);
    assert_int_equal(c->collections[1].depends_on[0], 3);
    s_done(&r);
}

/* ------------------------------------------------------------------------ */
/* Policy, provider, faults, bus                                             */

static void test_policy_durations_must_be_ordered_and_positive(void **state)
{
    s_expect_only_error(BASE "policy:\n  suspect_after: 5s\n  hold_down: 5s\n",
                        "t.yaml:16:14: hold_down (5000 ms) must be longer than suspect_after "
                        "(5000 ms)");
    s_expect_only_error(BASE "policy:\n  suspect_after: 20s\n",
                        "t.yaml:15:18: hold_down (10000 ms) must be longer than suspect_after "
                        "(20000 ms)");
    s_expect_only_error(BASE "policy:\n  suspect_after: 0s\n",
                        "t.yaml:15:18: 'suspect_after' must be greater than 0");
}

/* A duration the syntax reads but beyond 100 years is refused: 3 x such a
 * suspect_after (report_max_age's default) overflowed in the loader, and
 * the engine adds cooldown and the others to the clock (found with the fuzz
 * build's UBSan). The longest one allowed loads, with its defaults. */
static void test_durations_longer_than_100_years_are_errors(void **state)
{
    s_expect_only_error(BASE "policy:\n  suspect_after: 9223372036854775807\n",
                        "t.yaml:15:18: 'suspect_after' must be at most 100 years "
                        "(3153600000000 ms), not '9223372036854775807'");
    s_expect_only_error(BASE "policy:\n  cooldown: 876001h\n",
                        "t.yaml:15:13: 'cooldown' must be at most 100 years (3153600000000 ms), "
                        "not '876001h'");
    s_result_t r;
    const sg_config_t *c = s_load_ok(BASE "policy:\n  suspect_after: 875999h\n"
                                          "  hold_down: 3153600000000\n", &r);
    assert_int_equal(c->policy.hold_down_ms, SG_CFG_DURATION_MAX_MS);
    assert_int_equal(c->policy.report_max_age_ms, 3 * (SG_CFG_DURATION_MAX_MS - 3600000LL));
    s_done(&r);
}

static void test_poll_initial_must_not_exceed_poll_max(void **state)
{
    s_expect_only_error(BASE "provider:\n  poll_initial: 10s\n",
                        "t.yaml:15:17: poll_initial (10000 ms) must not exceed poll_max "
                        "(5000 ms)");
    s_expect_only_error(BASE "provider:\n  poll_max: 0\n",
                        "t.yaml:15:13: 'poll_max' must be greater than 0");
}

static void test_only_the_sim_provider_is_built_in(void **state)
{
    if (!sg_provider_built("wmi")) { /* the Linux build */
        s_expect_only_error(BASE "provider:\n  kind: wmi\n",
                            "t.yaml:15:9: provider 'wmi' is not built into this version (the "
                            "WMI provider is part of the Windows build)");
    } else {
        s_result_t r;
        sg_config_t *c = s_load_ok(BASE "provider:\n  kind: wmi\n  wmi:\n    host: hv1\n"
                                        "    user: CONTOSO\\sg\n    password: pw\n", &r);
        assert_string_equal(c->provider.kind, "wmi");
        assert_string_equal(c->provider.wmi.host, "hv1");
        assert_string_equal(c->provider.wmi.user, "CONTOSO\\sg");
        s_done(&r);
    }
    s_expect_only_error(BASE "provider:\n  kind: sim\n  wmi:\n    hots: hv1\n",
                        "t.yaml:17:5: unknown key 'hots' in provider.wmi (expected one of: "
                        "host, namespace, user, password, password_env, call_timeout)");
    /* how long one WMI call may wait: 60 s unless set */
    s_result_t t;
    assert_int_equal(s_load_ok(BASE, &t)->provider.wmi.call_timeout_ms, 60000);
    s_done(&t);
    assert_int_equal(
        s_load_ok(BASE "provider:\n  wmi:\n    call_timeout: 5s\n", &t)->provider.wmi.call_timeout_ms,
        5000);
    s_done(&t);
    s_expect_only_error(BASE "provider:\n  wmi:\n    call_timeout: 0s\n",
                        "t.yaml:16:19: 'call_timeout' must be greater than 0");
    s_expect_only_error(BASE "provider:\n  kind: magic\n",
                        "t.yaml:15:9: unknown provider kind 'magic' (expected one of: sim, wmi, "
                        "wsman)");
}

/* Lines 1..19: sites A and B with their own WMI connection (B's with an
 * account, its password from SG_TEST_WMI_B), the witness W without; then
 * the observer and the collection of BASE. */
#define SITES_WMI                                                                              \
    "sites:\n"                                                                                 \
    "  - name: A\n"                                                                            \
    "    wmi:\n"                                                                               \
    "      host: hv-a\n"                                                                       \
    "  - name: B\n"                                                                            \
    "    wmi:\n"                                                                               \
    "      host: hv-b\n"                                                                       \
    "      user: CORP\\sg\n"                                                                   \
    "      password_env: SG_TEST_WMI_B\n"                                                      \
    "  - name: W\n"                                                                            \
    "    witness: true\n"                                                                      \
    "observers:\n"                                                                             \
    "  - id: o1\n"                                                                             \
    "    site: A\n"                                                                            \
    "collections:\n"                                                                           \
    "  - name: c1\n"                                                                           \
    "    cim_path: p1\n"                                                                       \
    "    site: A\n"                                                                            \
    "    replica_site: B\n"

/* A site's own WMI connection is read by the wmi provider only: with any
 * other kind each block is an error where it stands, never silently unused.
 * With kind wmi (the Windows build) each site gets its block, and a site
 * without one (W) is served by provider.wmi. */
static void test_a_sites_wmi_connection_is_for_the_wmi_provider_only(void **state)
{
    (void)state;
    assert_int_equal(sg_test_setenv("SG_TEST_WMI_B", "pw-b"), 0);
    s_result_t r = s_load(SITES_WMI);
    assert_int_equal(r.rc, SG_ECONFIG);
    assert_true(s_has_error(&r, "t.yaml:4:7: site 'A' has its own wmi connection, which only "
                                "provider.kind wmi uses (set provider.kind: wmi, or remove the "
                                "site's wmi)"));
    assert_true(s_has_error(&r, "t.yaml:7:7: site 'B' has its own wmi connection, which only "
                                "provider.kind wmi uses (set provider.kind: wmi, or remove the "
                                "site's wmi)"));
    assert_int_equal(r.errs.n, 2);
    s_done(&r);
    if (!sg_provider_built("wmi")) {
        /* the Linux build: the kind is refused, once, and the blocks are not */
        s_expect_only_error(SITES_WMI "provider:\n  kind: wmi\n",
                            "t.yaml:21:9: provider 'wmi' is not built into this version (the "
                            "WMI provider is part of the Windows build)");
    } else {
        sg_config_t *c = s_load_ok(SITES_WMI "provider:\n  kind: wmi\n  wmi:\n    host: hv-w\n",
                                   &r);
        assert_non_null(c->sites[0].wmi);
        assert_string_equal(c->sites[0].wmi->host, "hv-a");
        assert_null(c->sites[0].wmi->user);
        assert_null(c->sites[0].wmi->password);
        assert_null(c->sites[0].wmi->name_space);
        assert_int_equal(c->sites[0].wmi->call_timeout_ms, 0); /* provider.wmi's applies */
        assert_int_equal(c->sites[0].wmi_mark.line, 4);
        assert_string_equal(c->sites[1].wmi->host, "hv-b");
        assert_string_equal(c->sites[1].wmi->user, "CORP\\sg");
        assert_string_equal(c->sites[1].wmi->password, "pw-b");
        assert_null(c->sites[2].wmi);
        assert_string_equal(c->provider.wmi.host, "hv-w");
        s_done(&r);
    }
    assert_int_equal(sg_test_setenv("SG_TEST_WMI_B", NULL), 0);
}

/* A site's wmi block is checked as provider.wmi is, where it stands: its
 * keys, host required, an account with its password's variable, no
 * password in the file, not on a witness, and no host twice. */
static void test_a_sites_wmi_connection_is_checked_where_it_stands(void **state)
{
    (void)state;
    assert_int_equal(sg_test_setenv("SG_TEST_WMI_B", "pw-b"), 0);
    assert_int_equal(sg_test_setenv("SG_TEST_WMI_UNSET", NULL), 0);
    s_expect_error("sites:\n  - name: A\n    wmi:\n      hots: hv-a\n" BASE_AFTER_SITES,
                   "t.yaml:4:7: unknown key 'hots' in a site's wmi (expected one of: host, "
                   "namespace, user, password_env)");
    s_expect_error("sites:\n  - name: A\n    wmi:\n      namespace: root\\x\n" BASE_AFTER_SITES,
                   "t.yaml:4:7: missing required key 'host' in a site's wmi");
    s_expect_error("sites:\n  - name: A\n    wmi:\n      host: hv-a\n      password: pw\n"
                   BASE_AFTER_SITES,
                   "t.yaml:5:7: unknown key 'password' in a site's wmi (expected one of: host, "
                   "namespace, user, password_env)");
    s_expect_error("sites:\n  - name: A\n    wmi:\n      host: hv-a\n      user: sg\n"
                   BASE_AFTER_SITES,
                   "t.yaml:5:13: a site's wmi user needs password_env (the variable that holds "
                   "its password)");
    s_expect_error("sites:\n  - name: A\n    wmi:\n      host: hv-a\n"
                   "      password_env: SG_TEST_WMI_B\n" BASE_AFTER_SITES,
                   "t.yaml:5:21: a site's wmi password_env needs user (the account it is the "
                   "password of)");
    s_expect_error("sites:\n  - name: A\n    wmi:\n      host: hv-a\n      user: sg\n"
                   "      password_env: SG_TEST_WMI_UNSET\n" BASE_AFTER_SITES,
                   "t.yaml:6:21: environment variable SG_TEST_WMI_UNSET (password_env) is not "
                   "set");
    s_expect_error("sites:\n  - name: A\n    wmi: hv-a\n" BASE_AFTER_SITES,
                   "t.yaml:3:10: expected a mapping for 'wmi' (found a scalar)");
    s_expect_error("sites:\n  - name: A\n  - name: W\n    witness: true\n    wmi:\n"
                   "      host: hv-w\n" BASE_AFTER_SITES,
                   "t.yaml:6:7: site 'W' is a witness: it holds no collections, so it has no WMI "
                   "connection (remove its wmi)");
    /* the same cluster twice, whatever the case of its name */
    s_expect_error("sites:\n  - name: A\n    wmi:\n      host: hv-a\n  - name: C\n    wmi:\n"
                   "      host: HV-A\n" BASE_AFTER_SITES "provider:\n  kind: wmi\n",
                   "t.yaml:7:7: site 'C' has the same wmi host 'HV-A' as site 'A' (line 4): each "
                   "site is its own cluster");
    assert_int_equal(sg_test_setenv("SG_TEST_WMI_B", NULL), 0);
}

static void test_fault_needs_a_known_method_a_defined_collection_and_one_effect(void **state)
{
    s_expect_only_error(BASE "provider:\n  sim:\n    faults:\n"
                             "      - method: InitiateFailovr\n        hang: true\n",
                        "t.yaml:17:17: unknown method 'InitiateFailovr' (expected one of: "
                        "InitiateFailover, CommitFailover, RevertFailover, TestReplicaCollection, "
                        "RevertTestReplicaCollection, ReverseReplicationRelationship)");
    s_expect_only_error(BASE "provider:\n  sim:\n    faults:\n"
                             "      - collection: nope\n        return_code: 32768\n",
                        "t.yaml:17:21: collection 'nope' is not defined in collections");
    s_expect_only_error(BASE "provider:\n  sim:\n    faults:\n"
                             "      - return_code: 32768\n        hang: true\n",
                        "t.yaml:17:9: a fault needs exactly one of: a non-zero return_code, a "
                        "non-zero job_error_code, job_warnings, hang: true; or health and/or lag; "
                        "or unreachable: SITE");
    s_expect_only_error(BASE "provider:\n  sim:\n    faults:\n      - times: 3\n",
                        "t.yaml:17:9: a fault needs exactly one of: a non-zero return_code, a "
                        "non-zero job_error_code, job_warnings, hang: true; or health and/or lag; "
                        "or unreachable: SITE");
    s_expect_only_error(BASE "provider:\n  sim:\n    faults:\n"
                             "      - return_code: 4294967296\n",
                        "t.yaml:17:22: 'return_code' must be between 0 and 4294967295 "
                        "(got 4294967296)");
}

/* job_warnings: the job ends in 32768 (Completed with warnings) with that
 * text as its ErrorDescription; one effect among the others. */
static void test_a_warnings_fault_carries_its_text_and_is_one_effect(void **state)
{
    s_result_t r;
    const sg_config_t *c = s_load_ok(BASE "provider:\n  sim:\n    faults:\n"
                                          "      - job_warnings: disk latency high\n"
                                          "        times: 1\n",
                                     &r);
    assert_int_equal(c->provider.sim.n_faults, 1);
    assert_string_equal(c->provider.sim.faults[0].job_warnings, "disk latency high");
    assert_int_equal(c->provider.sim.faults[0].times, 1);
    s_done(&r);
    s_expect_only_error(BASE "provider:\n  sim:\n    faults:\n"
                             "      - job_warnings: slow\n        job_error_code: 7\n",
                        "t.yaml:17:9: a fault needs exactly one of: a non-zero return_code, a "
                        "non-zero job_error_code, job_warnings, hang: true; or health and/or lag; "
                        "or unreachable: SITE");
    s_expect_only_error(BASE "provider:\n  sim:\n    faults:\n      - job_warnings: ''\n",
                        "t.yaml:17:23: 'job_warnings' must not be empty");
}

/* job_removal: an ended job is gone that long after its end (Hyper-V's
 * TimeBeforeRemoval, 5 minutes by default); 0 keeps it for ever. */
static void test_sim_job_removal_defaults_to_5m_and_a_bad_value_is_an_error(void **state)
{
    s_result_t r;
    const sg_config_t *c = s_load_ok(BASE, &r);
    assert_int_equal(c->provider.sim.job_removal_ms, 5 * 60 * 1000);
    s_done(&r);
    c = s_load_ok(BASE "provider:\n  sim:\n    job_removal: 1500ms\n", &r);
    assert_int_equal(c->provider.sim.job_removal_ms, 1500);
    s_done(&r);
    c = s_load_ok(BASE "provider:\n  sim:\n    job_removal: 0s\n", &r);
    assert_int_equal(c->provider.sim.job_removal_ms, 0);
    s_done(&r);
    s_expect_only_error(BASE "provider:\n  sim:\n    job_removal: soon\n",
                        "t.yaml:16:18: bad value 'soon' for 'job_removal': expected a duration "
                        "like 250ms, 3s, 2m, 1h");
    s_expect_only_error(BASE "provider:\n  sim:\n    job_removal: -1s\n",
                        "t.yaml:16:18: bad value '-1s' for 'job_removal': expected a duration "
                        "like 250ms, 3s, 2m, 1h");
}

static void test_after_failover_commit_after_is_manual_by_default_or_a_duration(void **state)
{
    s_result_t r;
    const sg_config_t *c = s_load_ok(BASE, &r);
    assert_int_equal(c->policy.after_failover.commit_after_ms, 0);
    s_done(&r);
    c = s_load_ok(BASE "policy:\n  after_failover:\n    commit_after: 30m\n", &r);
    assert_int_equal(c->policy.after_failover.commit_after_ms, 30 * 60 * 1000);
    s_done(&r);
    c = s_load_ok(BASE "policy:\n  after_failover:\n    commit_after: manual\n", &r);
    assert_int_equal(c->policy.after_failover.commit_after_ms, 0);
    s_done(&r);
    s_expect_only_error(BASE "policy:\n  after_failover:\n    commit_after: later\n",
                        "t.yaml:16:19: bad value 'later' for 'commit_after': expected a duration "
                        "like 250ms, 3s, 2m, 1h");
    s_expect_only_error(BASE "policy:\n  after_failover:\n    commit_afte: 1h\n",
                        "t.yaml:16:5: unknown key 'commit_afte' in policy.after_failover "
                        "(expected one of: commit_after)");
}

/* The simulator's replication lag and recovery point schedule: defaults,
 * values, bounds. */
static void test_sim_replication_lag_and_point_keys_default_and_are_bounded(void **state)
{
    s_result_t r;
    const sg_config_t *c = s_load_ok(BASE, &r);
    assert_int_equal(c->provider.sim.replication_lag_ms, 30000);
    assert_int_equal(c->provider.sim.point_interval_ms, 3600 * 1000);
    assert_int_equal(c->provider.sim.points_kept, 24);
    assert_int_equal(c->provider.sim.app_consistent_every, 4);
    s_done(&r);
    c = s_load_ok(BASE "provider:\n  sim:\n    replication_lag: 0s\n    point_interval: 15m\n"
                       "    points_kept: 3\n    app_consistent_every: 1\n",
                  &r);
    assert_int_equal(c->provider.sim.replication_lag_ms, 0);
    assert_int_equal(c->provider.sim.point_interval_ms, 15 * 60 * 1000);
    assert_int_equal(c->provider.sim.points_kept, 3);
    assert_int_equal(c->provider.sim.app_consistent_every, 1);
    s_done(&r);
    s_expect_only_error(BASE "provider:\n  sim:\n    point_interval: 0s\n",
                        "t.yaml:16:21: 'point_interval' must be greater than 0");
    s_expect_only_error(BASE "provider:\n  sim:\n    points_kept: 0\n",
                        "t.yaml:16:18: 'points_kept' must be between 1 and 1000 (got 0)");
    s_expect_only_error(BASE "provider:\n  sim:\n    app_consistent_every: 0\n",
                        "t.yaml:16:27: 'app_consistent_every' must be between 1 and 1000 (got 0)");
}

/* health and lag: what a collection's replication reports, not an effect on
 * calls; neither goes with one. */
static void test_a_health_or_lag_fault_is_about_the_replication_not_the_calls(void **state)
{
    s_result_t r;
    const sg_config_t *c = s_load_ok(BASE "provider:\n  sim:\n    faults:\n"
                                          "      - health: critical\n"
                                          "      - {collection: c1, lag: 20m}\n"
                                          "      - {health: warning, lag: 1h}\n",
                                     &r);
    assert_int_equal(c->provider.sim.n_faults, 3);
    assert_int_equal(c->provider.sim.faults[0].health, SG_HEALTH_CRITICAL);
    assert_int_equal(c->provider.sim.faults[0].lag_ms, 0);
    assert_string_equal(c->provider.sim.faults[1].collection, "c1");
    assert_int_equal(c->provider.sim.faults[1].health, 0);
    assert_int_equal(c->provider.sim.faults[1].lag_ms, 20 * 60 * 1000);
    assert_int_equal(c->provider.sim.faults[2].health, SG_HEALTH_WARNING);
    assert_int_equal(c->provider.sim.faults[2].lag_ms, 3600 * 1000);
    s_done(&r);
    s_expect_only_error(BASE "provider:\n  sim:\n    faults:\n      - health: sick\n",
                        "t.yaml:17:17: bad value 'sick' for 'health': expected one of: warning, "
                        "critical");
    s_expect_only_error(BASE "provider:\n  sim:\n    faults:\n      - lag: 0s\n",
                        "t.yaml:17:14: 'lag' must be greater than 0");
    static const char *const mixed[] = {"        return_code: 32768\n", "        hang: true\n",
                                        "        method: InitiateFailover\n",
                                        "        times: 2\n"};
    for (size_t i = 0; i < sizeof mixed / sizeof mixed[0]; i++) {
        char *text = sg_strdupf(BASE "provider:\n  sim:\n    faults:\n      - lag: 5m\n%s",
                                mixed[i]);
        assert_non_null(text);
        s_expect_only_error(text, "t.yaml:17:9: a health or lag fault is about the collection's "
                                  "replication, not its calls: it takes no return_code, "
                                  "job_error_code, job_warnings, hang, method or times");
        free(text);
    }
}

/* unreachable: a configured site's cluster, with times or without; it
 * takes no collection, method or other effect. */
static void test_an_unreachable_fault_names_a_site_and_nothing_else(void **state)
{
    s_result_t r;
    const sg_config_t *c = s_load_ok(BASE "provider:\n  sim:\n    faults:\n"
                                          "      - {unreachable: B, times: 3}\n"
                                          "      - unreachable: A\n",
                                     &r);
    assert_int_equal(c->provider.sim.n_faults, 2);
    assert_string_equal(c->provider.sim.faults[0].unreachable, "B");
    assert_int_equal(c->provider.sim.faults[0].times, 3);
    assert_string_equal(c->provider.sim.faults[1].unreachable, "A");
    assert_int_equal(c->provider.sim.faults[1].times, 0);
    s_done(&r);
    s_expect_only_error(BASE "provider:\n  sim:\n    faults:\n      - unreachable: Z\n",
                        "t.yaml:17:22: site 'Z' is not defined in sites");
    static const char *const mixed[] = {"        return_code: 32768\n", "        hang: true\n",
                                        "        method: InitiateFailover\n",
                                        "        collection: c1\n", "        lag: 5m\n"};
    for (size_t i = 0; i < sizeof mixed / sizeof mixed[0]; i++) {
        char *text = sg_strdupf(BASE "provider:\n  sim:\n    faults:\n      - unreachable: B\n%s",
                                mixed[i]);
        assert_non_null(text);
        s_expect_only_error(text, "t.yaml:17:9: an unreachable fault is about a site's cluster, "
                                  "every operation on it: it takes only times, no collection, "
                                  "method, return_code, job_error_code, job_warnings, hang, "
                                  "health or lag");
        free(text);
    }
}

static void test_flapping_is_4_changes_in_60_s_by_default_off_or_a_rule(void **state)
{
    s_result_t r;
    const sg_config_t *c = s_load_ok(BASE, &r);
    assert_false(c->policy.flapping.off);
    assert_int_equal(c->policy.flapping.changes, 4);
    assert_int_equal(c->policy.flapping.window_ms, 60000);
    s_done(&r);
    c = s_load_ok(BASE "policy:\n  flapping: off\n", &r);
    assert_true(c->policy.flapping.off);
    s_done(&r);
    c = s_load_ok(BASE "policy:\n  flapping: {changes: 6, window: 2m}\n", &r);
    assert_false(c->policy.flapping.off);
    assert_int_equal(c->policy.flapping.changes, 6);
    assert_int_equal(c->policy.flapping.window_ms, 120000);
    s_done(&r);
    c = s_load_ok(BASE "policy:\n  flapping:\n    window: 30s\n", &r); /* changes kept */
    assert_int_equal(c->policy.flapping.changes, 4);
    assert_int_equal(c->policy.flapping.window_ms, 30000);
    s_done(&r);
    c = s_load_ok(BASE "policy:\n  flapping: on\n", &r);
    assert_false(c->policy.flapping.off);
    assert_int_equal(c->policy.flapping.changes, 4);
    s_done(&r);
}

static void test_flapping_errors_name_their_line_and_column(void **state)
{
    s_expect_only_error(BASE "policy:\n  flapping: sometimes\n",
                        "t.yaml:15:13: bad value 'sometimes' for 'flapping': expected off, on, "
                        "or a mapping with changes and window (e.g. {changes: 4, window: 60s})");
    s_expect_only_error(BASE "policy:\n  flapping: [4, 60s]\n",
                        "t.yaml:15:13: 'flapping' must be off, on, or a mapping with changes "
                        "and window (e.g. {changes: 4, window: 60s})");
    s_expect_only_error(BASE "policy:\n  flapping:\n    changes: 0\n",
                        "t.yaml:16:14: 'changes' must be between 1 and 1000 (got 0)");
    s_expect_only_error(BASE "policy:\n  flapping:\n    window: soon\n",
                        "t.yaml:16:13: bad value 'soon' for 'window': expected a duration like "
                        "250ms, 3s, 2m, 1h");
    s_expect_only_error(BASE "policy:\n  flapping:\n    changes: 4\n    windw: 1m\n",
                        "t.yaml:17:5: unknown key 'windw' in policy.flapping (expected one of: "
                        "changes, window)");
}

static void test_bus_needs_an_endpoint(void **state)
{
    s_expect_only_error(BASE "bus:\n  bind: []\n  max_age: 10s\n",
                        "t.yaml:15:3: bus needs at least one 'bind' or 'connect' endpoint");
    s_expect_only_error(BASE "bus:\n  bind: ['']\n",
                        "t.yaml:15:10: an entry of 'bind' must not be empty");
}

/* A temporary directory with a private secret key file (KEY40 as Z85 text,
 * as keygen writes it); sg_test_rmtree(k->dir) removes it. */
typedef struct {
    char dir[256];
    char file[320];
} s_keyfile_t;

static void s_keyfile(s_keyfile_t *k)
{
    assert_non_null(sg_test_mkdtemp(k->dir, sizeof k->dir, "sg-test-config-"));
    snprintf(k->file, sizeof k->file, "%s/bus.key", k->dir);
    assert_int_equal(sg_test_write_private(k->file, "# secret key\n" KEY40 "\n"), 0);
}

/* BASE (its observer o1 at line 7, column 5) and a bus section on lines 14
 * and after: `bus` is a format taking the key file's path. */
static s_result_t s_load_bus(const s_keyfile_t *k, const char *bus)
{
    char tail[1024], text[2048];
    snprintf(tail, sizeof tail, bus, k->file);
    snprintf(text, sizeof text, "%s%s", BASE, tail);
    return s_load(text);
}

static void s_expect_bus_error(const s_keyfile_t *k, const char *bus, const char *line)
{
    s_expect_only(s_load_bus(k, bus), line);
}

/* Lines 1..3: two sites, one observer `a` with key KEY40B, one collection. */
#define KEYED                                                                                  \
    "sites: [{name: A}, {name: B}]\n"                                                          \
    "collections: [{name: c, cim_path: p, site: A, replica_site: B}]\n"                        \
    "observers: [{id: a, site: A, public_key: '" KEY40B "'}]\n"

/* KEYED and the bus section `bus` (lines 4 and after) with its curve key
 * file last: rejected with exactly this one error. */
static void s_expect_keyed_error(const s_keyfile_t *k, const char *bus, const char *line)
{
    char text[2048];
    snprintf(text, sizeof text, "%s%s  curve: {secret_key_file: %s}\n", KEYED, bus, k->file);
    s_expect_only(s_load(text), line);
}

static void test_bus_curve_needs_a_public_key_for_every_observer(void **state)
{
    s_keyfile_t k;
    s_keyfile(&k);
    s_expect_bus_error(&k, "bus:\n  bind: [tcp://0.0.0.0:7711]\n  curve:\n    secret_key_file: %s\n",
                       "t.yaml:7:5: observer 'o1' has no public_key: with bus.curve every "
                       "observer publishes with its own key (siteguardctl keygen)");
    /* a key is one observer's: it names the observer at the handshake */
    char text[2048];
    snprintf(text, sizeof text,
             "sites: [{name: A}, {name: B}]\n"
             "collections: [{name: c, cim_path: p, site: A, replica_site: B}]\n"
             "observers:\n"
             "  - {id: a, site: A, public_key: '" KEY40B "'}\n"
             "  - {id: b, site: B, public_key: ['" KEY40C "', '" KEY40B "']}\n"
             "bus:\n  bind: [tcp://0.0.0.0:7711]\n  curve: {secret_key_file: %s}\n", k.file);
    s_result_t r = s_load(text);
    assert_true(s_has_error(&r, "t.yaml:5:5: a key of observer 'b' is already listed at line 4 "
                                "(observer 'a')"));
    assert_int_equal(r.errs.n, 1);
    s_done(&r);
    /* with a key each: loaded, the secret key read, the endpoint off the loopback allowed */
    snprintf(text, sizeof text, KEYED "bus:\n  bind: [tcp://0.0.0.0:7711]\n  connect: "
                                "[ipc:///tmp/x]\n  curve: {secret_key_file: %s}\n", k.file);
    const sg_config_t *c = s_load_ok(text, &r);
    assert_string_equal(c->bus.curve.secret_key, KEY40);
    assert_string_equal(c->bus.curve.secret_key_file, k.file);
    assert_false(c->bus.insecure);
    s_done(&r);
    /* the handshake's own messages pass max_event_bytes */
    s_expect_keyed_error(&k, "bus:\n  bind: [ipc:///tmp/x]\n  max_event_bytes: 511\n",
                         "t.yaml:6:20: 'max_event_bytes' must be at least 512 with bus.curve: "
                         "the CURVE handshake's own messages pass the same limit");
    /* CURVE needs a handshake: no transport without one */
    s_expect_keyed_error(&k, "bus:\n  bind: ['epgm://eth0;239.1.1.1:5555']\n",
                         "t.yaml:5:10: bus endpoint epgm://eth0;239.1.1.1:5555: with bus.curve "
                         "an endpoint is tcp:// or ipc:// (other transports have no CURVE "
                         "handshake)");
    assert_int_equal(sg_test_rmtree(k.dir), 0);
}

static void test_a_network_bus_endpoint_needs_curve_or_insecure(void **state)
{
    s_keyfile_t k;
    s_keyfile(&k);
    static const char *const rule = " is not on the loopback address and has no CURVE: anyone "
                                    "who reaches it could steer failover; set bus.curve (and a "
                                    "public_key per observer), or bus.insecure: true";
    char line[512];
    snprintf(line, sizeof line, "t.yaml:15:10: bus endpoint tcp://0.0.0.0:7711%s", rule);
    s_expect_bus_error(&k, "bus:\n  bind: [tcp://0.0.0.0:7711]\n%.0s", line);
    snprintf(line, sizeof line, "t.yaml:16:7: bus endpoint tcp://10.0.0.1:7700%s", rule);
    s_expect_bus_error(&k, "bus:\n  connect:\n    - tcp://10.0.0.1:7700\n%.0s", line);
    snprintf(line, sizeof line, "t.yaml:15:10: bus endpoint epgm://eth0;239.1.1.1:5555%s", rule);
    s_expect_bus_error(&k, "bus:\n  bind: ['epgm://eth0;239.1.1.1:5555']\n%.0s", line);
    /* this host only, or said to be insecure: loaded */
    s_result_t r = s_load_bus(&k, "bus:\n  bind: [tcp://127.0.0.1:1, 'tcp://[::1]:2', "
                                  "tcp://localhost:3, ipc:///tmp/sg, inproc://sg]\n%.0s");
    assert_int_equal(r.rc, SG_OK);
    s_done(&r);
    r = s_load_bus(&k, "bus:\n  bind: [tcp://0.0.0.0:7711]\n  insecure: true\n%.0s");
    assert_int_equal(r.rc, SG_OK);
    assert_true(r.cfg->bus.insecure);
    s_done(&r);
    /* insecure and curve exclude each other */
    r = s_load_bus(&k, "bus:\n  insecure: true\n  curve: {secret_key_file: %s}\n");
    assert_true(s_has_error(&r, "t.yaml:15:13: 'insecure' and 'curve' exclude each other: "
                                "with CURVE the bus is secure"));
    s_done(&r);
    assert_int_equal(sg_test_rmtree(k.dir), 0);
}

static void test_a_secret_key_file_others_may_read_is_refused_naming_its_mode(void **state)
{
#ifdef _WIN32
    skip(); /* no modes: the platform layer does not check (platform.h) */
#else
    s_keyfile_t k;
    s_keyfile(&k);
    assert_int_equal(chmod(k.file, 0640), 0);
    char line[768];
    /* the bus's key and control's: one reader */
    snprintf(line, sizeof line, "t.yaml:4:54: 'secret_key_file' (%s) may be read or written by "
                                "group or others (mode 0640): a secret key must be private to "
                                "its owner (chmod 600)", k.file);
    char text[2048];
    snprintf(text, sizeof text, KEYED "bus: {bind: [ipc:///tmp/x], curve: {secret_key_file: %s}}\n",
             k.file);
    s_result_t r = s_load(text);
    assert_true(s_has_error(&r, line));
    assert_int_equal(r.errs.n, 1);
    s_done(&r);
    snprintf(line, sizeof line, "t.yaml:4:62: 'secret_key_file' (%s) may be read or written by "
                                "group or others (mode 0604): a secret key must be private to "
                                "its owner (chmod 600)", k.file);
    assert_int_equal(chmod(k.file, 0604), 0);
    snprintf(text, sizeof text, KEYED "control: {endpoint: 'tcp://127.0.0.1:7710', "
                                "secret_key_file: %s, operators: [{name: x, key: '" KEY40C "'}]}\n",
             k.file);
    r = s_load(text);
    if (!s_has_error(&r, line))
        fail();
    s_done(&r);
    assert_int_equal(chmod(k.file, 0600), 0);
    r = s_load(text);
    assert_int_equal(r.rc, SG_OK);
    assert_string_equal(r.cfg->control.secret_key, KEY40);
    s_done(&r);
    assert_int_equal(sg_test_rmtree(k.dir), 0);
#endif
}

/* ------------------------------------------------------------------------ */
/* Reporting                                                                 */

static void test_several_errors_are_all_reported_in_file_order(void **state)
{
    s_result_t r = s_load("log_level: loud\n"             /* 1 */
                          "sites:\n"                      /* 2 */
                          "  - name: A\n"                 /* 3 */
                          "  - name: A\n"                 /* 4 */
                          "observers:\n"                  /* 5 */
                          "  - id: o1\n"                  /* 6 */
                          "    site: Z\n"                 /* 7 */
                          "collections:\n"                /* 8 */
                          "  - name: c1\n"                /* 9 */
                          "    cim_path: p\n"             /* 10 */
                          "    site: A\n"                 /* 11 */
                          "    replica_site: A\n"         /* 12 */
                          "    rpo_limit: soon\n"         /* 13 */
                          "policy:\n"                     /* 14 */
                          "  holddown: 3s\n"              /* 15 */
                          "provider:\n"                   /* 16 */
                          "  workers: 1000\n");           /* 17 */
    assert_int_equal(r.rc, SG_ECONFIG);
    assert_null(r.cfg);
    static const char *const want[] = {
        "t.yaml:1:12: bad value 'loud' for 'log_level': expected one of: error, warn, info, debug",
        "t.yaml:4:5: duplicate site name 'A' (first defined at line 3)",
        "t.yaml:7:11: site 'Z' is not defined in sites",
        "t.yaml:12:19: replica_site 'A' is the same as site",
        "t.yaml:13:16: bad value 'soon' for 'rpo_limit': expected a duration like 250ms, 3s, "
        "2m, 1h",
        "t.yaml:15:3: unknown key 'holddown' in policy (expected one of: suspect_after, "
        "hold_down, recover_after, report_max_age, vote_hold, startup_grace, skew_warn, "
        "quorum, require_witness, mode, approval_timeout, on_approval_timeout, cooldown, "
        "replication_max_age, budget, site_budget, after_failover, maintenance, flapping)",
        "t.yaml:17:12: 'workers' must be between 1 and 256 (got 1000)",
    };
    if (r.errs.n != sizeof want / sizeof want[0])
        s_print_errors(&r);
    assert_int_equal(r.errs.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < r.errs.n; i++)
        assert_string_equal(r.errs.items[i], want[i]);
    s_done(&r);
}

static void test_errors_are_appended_after_existing_ones(void **state)
{
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    sg_mark_t m = {"x.yaml", 3, 7};
    assert_int_equal(sg_config_errors_add(&errs, &m, "rule %d broken", 42), SG_OK);
    sg_config_t *cfg = NULL;
    const char *text = "sites: 3\n";
    assert_int_equal(sg_config_load_string("t.yaml", text, strlen(text), &cfg, &errs),
                     SG_ECONFIG);
    assert_null(cfg);
    assert_true(errs.n >= 2);
    assert_string_equal(errs.items[0], "x.yaml:3:7: rule 42 broken");
    assert_string_equal(errs.items[1], "t.yaml:1:1: missing required key 'observers' at the top "
                                       "level");
    sg_config_errors_fini(&errs);
    assert_int_equal(errs.n, 0);
    assert_null(errs.items);
}

static void test_text_need_not_be_nul_terminated(void **state)
{
    char buf[sizeof BASE + 16];
    memcpy(buf, BASE, sizeof BASE - 1);
    memcpy(buf + sizeof BASE - 1, "garbage: [", 10);
    sg_config_t *cfg = NULL;
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    assert_int_equal(sg_config_load_string("t.yaml", buf, sizeof BASE - 1, &cfg, &errs), SG_OK);
    assert_int_equal(cfg->n_sites, 3);
    sg_config_destroy(&cfg);
    sg_config_errors_fini(&errs);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */

static void test_unreadable_file_is_an_io_error(void **state)
{
    sg_config_t *cfg = NULL;
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    assert_int_equal(sg_config_load_file("/nonexistent/sg.yaml", &cfg, &errs), SG_EIO);
    assert_null(cfg);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.items[0], "/nonexistent/sg.yaml: cannot read: No such file or "
                                       "directory");
    sg_config_errors_fini(&errs);
}

static void s_expect_file_loads(const char *path)
{
    sg_config_t *cfg = NULL;
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    int rc = sg_config_load_file(path, &cfg, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("  error: %s\n", errs.items[i]);
    assert_int_equal(rc, SG_OK);
    assert_int_equal(errs.n, 0);
    assert_string_equal(cfg->path, path);
    sg_config_destroy(&cfg);
    sg_config_errors_fini(&errs);
}

static void test_plan_section_loads_and_defaults_to_stop_without_caps(void **state)
{
    s_result_t r;
    sg_config_t *c = s_load_ok(BASE, &r);
    assert_int_equal(c->plan.on_error, SG_ON_ERROR_STOP);
    assert_int_equal(c->plan.max_concurrency, 0);
    assert_int_equal(c->plan.per_host_concurrency, 0);
    assert_null(c->collections[0].replica_host);
    s_done(&r);
    c = s_load_ok(BASE "    replica_host: hv-b1\n"
                       "plan:\n  on_error: wait\n  max_concurrency: 8\n  per_host_concurrency: 2\n",
                  &r);
    assert_int_equal(c->plan.on_error, SG_ON_ERROR_WAIT);
    assert_int_equal(c->plan.max_concurrency, 8);
    assert_int_equal(c->plan.per_host_concurrency, 2);
    assert_string_equal(c->collections[0].replica_host, "hv-b1");
    s_done(&r);
    c = s_load_ok(BASE "plan:\n  on_error: continue\n", &r);
    assert_int_equal(c->plan.on_error, SG_ON_ERROR_CONTINUE);
    s_done(&r);
}

static void test_plan_keys_are_checked_with_line_and_column(void **state)
{
    s_expect_only_error(BASE "plan:\n  on_error: retry\n",
                        "t.yaml:15:13: bad value 'retry' for 'on_error': expected one of: stop, "
                        "continue, wait");
    s_expect_only_error(BASE "plan:\n  max_concurrency: 300\n",
                        "t.yaml:15:20: 'max_concurrency' must be between 0 and 256 (got 300)");
    s_expect_only_error(BASE "plan:\n  per_host_concurrency: -1\n",
                        "t.yaml:15:25: 'per_host_concurrency' must be between 0 and 256 (got -1)");
    s_expect_only_error(BASE "plan:\n  max_parallel: 3\n",
                        "t.yaml:15:3: unknown key 'max_parallel' in plan (expected one of: "
                        "on_error, max_concurrency, per_host_concurrency)");
    s_expect_only_error(BASE "    replica_host: ''\n",
                        "t.yaml:14:19: 'replica_host' must not be empty");
}

static void test_recovery_point_may_name_a_point_by_its_path(void **state)
{
    s_result_t r;
    sg_config_t *c = s_load_ok(BASE "    recovery_point: 'Msvm_CollectionRecoveryPoint."
                                    "CollectionID=\"C1\",InstanceID=\"c1:app-1\"'\n",
                               &r);
    assert_int_equal(c->collections[0].recovery_point, SG_RP_NAMED);
    assert_string_equal(c->collections[0].recovery_point_path,
                        "Msvm_CollectionRecoveryPoint.CollectionID=\"C1\",InstanceID=\"c1:app-1\"");
    s_done(&r);
    /* Msvm_CollectionRecoveryPoint has two keys: InstanceID alone names no point */
    s_expect_only_error(BASE "    recovery_point: 'Msvm_CollectionRecoveryPoint.InstanceID=\"c1:app-1\"'\n",
                        "t.yaml:14:21: bad value 'Msvm_CollectionRecoveryPoint.InstanceID=\"c1:app-1\"' "
                        "for 'recovery_point': an Msvm_CollectionRecoveryPoint is keyed by "
                        "CollectionID and InstanceID "
                        "(Msvm_CollectionRecoveryPoint.CollectionID=\"...\",InstanceID=\"...\")");
    c = s_load_ok(BASE "    recovery_point: latest_app_consistent\n", &r);
    assert_int_equal(c->collections[0].recovery_point, SG_RP_LATEST_APP_CONSISTENT);
    assert_null(c->collections[0].recovery_point_path);
    s_done(&r);
}

/* Msvm_VirtualSystemCollection is keyed by CollectionID; a cim_path keyed by
 * InstanceID names nothing WMI knows, and says so where it is written. */
static void test_collection_path_keyed_by_instance_id_is_an_error_with_a_hint(void **state)
{
    (void)state;
#define COLL_AT_5(path)                                                                        \
    "sites: [{name: A}, {name: B}]\n"                                                         \
    "observers: [{id: o, site: A}]\n"                                                         \
    "collections:\n"                                                                          \
    "  - name: c1\n"                                                                          \
    "    cim_path: '" path "'\n"                                                              \
    "    site: A\n"                                                                           \
    "    replica_site: B\n"
    s_expect_only_error(COLL_AT_5("Msvm_VirtualSystemCollection.InstanceID=\"1ED8\""),
                        "t.yaml:5:15: cim_path 'Msvm_VirtualSystemCollection.InstanceID=\"1ED8\"' "
                        "is keyed by InstanceID, but a collection's key is CollectionID "
                        "(write Msvm_VirtualSystemCollection.CollectionID=\"1ED8\")");
    s_expect_only_error(COLL_AT_5("\\\\HV1\\root\\HyperVCluster\\v2:Msvm_VirtualSystemCollection."
                                  "CollectionID=\"1ED8\",InstanceID=\"x\""),
                        "t.yaml:5:15: cim_path '\\\\HV1\\root\\HyperVCluster\\v2:"
                        "Msvm_VirtualSystemCollection.CollectionID=\"1ED8\",InstanceID=\"x\"' "
                        "is keyed by InstanceID, but a collection's key is CollectionID "
                        "(write Msvm_VirtualSystemCollection.CollectionID=\"...\")");
    s_expect_only_error(COLL_AT_5("Msvm_VirtualSystemCollection.Name=\"sql\""),
                        "t.yaml:5:15: cim_path 'Msvm_VirtualSystemCollection.Name=\"sql\"' is not "
                        "keyed by CollectionID, the key of a collection "
                        "(write Msvm_VirtualSystemCollection.CollectionID=\"...\")");
    s_result_t r;
    sg_config_t *c = s_load_ok(COLL_AT_5("\\\\HV1\\root\\HyperVCluster\\v2:"
                                         "Msvm_VirtualSystemCollection.CollectionID=\"1ED8\""),
                               &r);
    assert_non_null(c);
    s_done(&r);
    c = s_load_ok(COLL_AT_5("sql-db"), &r); /* a name, as the simulator takes it */
    assert_non_null(c);
    s_done(&r);
#undef COLL_AT_5
}

static void test_journal_path_defaults_beside_the_config_file(void **state)
{
    s_result_t r;
    sg_config_t *c = s_load_ok(BASE, &r);
    assert_string_equal(c->journal.path, "siteguard-journal.db"); /* "t.yaml": no directory */
    s_done(&r);
    sg_config_errors_init(&r.errs);
    assert_int_equal(sg_config_load_string("/etc/sg/site.yaml", BASE, strlen(BASE), &r.cfg, &r.errs),
                     SG_OK);
    assert_string_equal(r.cfg->journal.path, "/etc/sg/siteguard-journal.db");
    s_done(&r);
    c = s_load_ok(BASE "journal:\n  path: /var/lib/siteguard/journal.db\n", &r);
    assert_string_equal(c->journal.path, "/var/lib/siteguard/journal.db");
    s_done(&r);
    s_expect_only_error(BASE "journal:\n  path: ''\n", "t.yaml:15:9: 'path' must not be empty");
    s_expect_only_error(BASE "journal:\n  file: x.db\n",
                        "t.yaml:15:3: unknown key 'file' in journal (expected one of: path, retention, "
                        "max_size)");
    sg_config_t *cfg = NULL;
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    assert_int_equal(sg_config_load_file(SG_SOURCE_DIR "/config/demo.yaml", &cfg, &errs), SG_OK);
    assert_non_null(strstr(cfg->journal.path, "/tmp/siteguard-demo/"));
    sg_config_destroy(&cfg);
    sg_config_errors_fini(&errs);
}

static void test_journal_retention_and_max_size_are_read_with_their_defaults(void **state)
{
    s_result_t r;
    sg_config_t *c = s_load_ok(BASE, &r);
    assert_int_equal(c->journal.retention_ms, 30LL * 24 * 3600 * 1000); /* 30 days */
    assert_int_equal(c->journal.max_size, 0);                            /* no warning */
    s_done(&r);
    c = s_load_ok(BASE "journal:\n  retention: 2160h\n  max_size: 512MiB\n", &r);
    assert_int_equal(c->journal.retention_ms, 2160LL * 3600 * 1000);
    assert_int_equal(c->journal.max_size, 512LL * 1024 * 1024);
    s_done(&r);
    c = s_load_ok(BASE "journal:\n  retention: 0\n  max_size: 0\n", &r); /* keep everything */
    assert_int_equal(c->journal.retention_ms, 0);
    assert_int_equal(c->journal.max_size, 0);
    s_done(&r);
    c = s_load_ok(BASE "journal:\n  retention: 1h\n  max_size: 2GB\n", &r);
    assert_int_equal(c->journal.retention_ms, 3600000);
    assert_int_equal(c->journal.max_size, 2000000000LL);
    s_done(&r);
}

static void test_bad_journal_retention_and_max_size_are_errors_at_their_line(void **state)
{
    s_expect_only_error(BASE "journal:\n  retention: 30d\n",
                        "t.yaml:15:14: bad value '30d' for 'retention': expected a duration like "
                        "250ms, 3s, 2m, 1h");
    s_expect_only_error(BASE "journal:\n  retention: 30\n",
                        "t.yaml:15:14: 'retention' must be 0 (keep everything) or at least 1h, "
                        "not '30'");
    s_expect_only_error(BASE "journal:\n  retention: 59m\n",
                        "t.yaml:15:14: 'retention' must be 0 (keep everything) or at least 1h, "
                        "not '59m'");
    s_expect_only_error(BASE "journal:\n  retention: 876001h\n",
                        "t.yaml:15:14: 'retention' must be at most 100 years (3153600000000 ms), "
                        "not '876001h'");
    s_expect_only_error(BASE "journal:\n  max_size: 512M\n",
                        "t.yaml:15:13: bad value '512M' for 'max_size': expected a size like "
                        "512MiB, 2GiB, 100MB or a number of bytes");
    s_expect_only_error(BASE "journal:\n  max_size: -1\n",
                        "t.yaml:15:13: bad value '-1' for 'max_size': expected a size like "
                        "512MiB, 2GiB, 100MB or a number of bytes");
    s_expect_only_error(BASE "journal:\n  max_size: [1]\n",
                        "t.yaml:15:13: expected a scalar for 'max_size' (found a list)");
}

/* `text` parses as a size of `want` bytes. */
static void s_expect_size(const char *text, int64_t want)
{
    s_expect_parsed(sg_config_parse_size, text, want);
}

static void test_parse_size_units_and_rejections(void **state)
{
    s_expect_size("0", 0);
    s_expect_size("4096", 4096);
    s_expect_size("10B", 10);
    s_expect_size("1KiB", 1024);
    s_expect_size("512MiB", 512LL << 20);
    s_expect_size("2GiB", 2LL << 30);
    s_expect_size("1TiB", 1LL << 40);
    s_expect_size("100MB", 100000000);
    s_expect_size("3GB", 3000000000LL);
    s_expect_size("9223372036854775807", INT64_MAX);
    const char *bad[] = {"", "MiB", "-1", "1.5GiB", "1 MiB", "1mib", "1M", "1G", "0x10",
                         "9223372036854775808", "8388608TiB", NULL};
    int64_t bytes;
    for (size_t i = 0; bad[i]; i++)
        if (sg_config_parse_size(bad[i], &bytes) != SG_EINVAL)
            fail_msg("'%s' was accepted as a size", bad[i]);
    assert_int_equal(sg_config_parse_size(NULL, &bytes), SG_EINVAL);
}

static void test_example_config_loads_without_errors(void **state)
{
    s_expect_file_loads(SG_SOURCE_DIR "/config/example.yaml");
}

static void test_demo_config_loads_as_described(void **state)
{
    const char *path = SG_SOURCE_DIR "/config/demo.yaml";
    s_expect_file_loads(path);
    sg_config_t *cfg = NULL;
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    assert_int_equal(sg_config_load_file(path, &cfg, &errs), SG_OK);
    assert_int_equal(cfg->n_sites, 3);
    assert_int_equal(cfg->n_observers, 3);
    assert_int_equal(cfg->n_collections, 6);
    int on_a = 0, on_b = 0, with_deps = 0, groups = 0;
    for (size_t i = 0; i < cfg->n_collections; i++) {
        const sg_collection_cfg_t *c = &cfg->collections[i];
        on_a += c->site == sg_config_find_site(cfg, "A");
        on_b += c->site == sg_config_find_site(cfg, "B");
        with_deps += c->n_depends_on > 0;
        groups |= 1 << c->group;
    }
    assert_int_equal(on_a, 3);
    assert_int_equal(on_b, 3);
    assert_true(with_deps >= 1);
    assert_true(groups != 1 && (groups & (groups - 1)) != 0); /* two groups or more */
    assert_int_equal(cfg->policy.suspect_after_ms, 1000);
    assert_int_equal(cfg->policy.hold_down_ms, 3000);
    assert_int_equal(cfg->provider.sim.call_latency_ms, 50);
    assert_int_equal(cfg->provider.poll_initial_ms, 100);
    assert_int_equal(cfg->provider.poll_max_ms, 500);
    assert_string_equal(cfg->bus.bind[0], "tcp://127.0.0.1:7711");
    assert_int_equal(cfg->n_sinks, 2);
    sg_config_destroy(&cfg);
    sg_config_errors_fini(&errs);
}

static void test_sink_routes_grouping_fallback_and_retries_are_read_with_defaults(void **state)
{
    (void)state;
    s_result_t r;
    sg_config_t *c = s_load_ok(BASE "sinks:\n"
                                    "  - name: pager\n"
                                    "    plugin: pagerduty\n"
                                    "    kinds: [job, blocked]\n"
                                    "    min_severity: warning\n"
                                    "    group: 30s\n"
                                    "    fallback: mail\n"
                                    "    retry: {initial: 250ms, max: 2s, limit: 5}\n"
                                    "  - name: mail\n"
                                    "    plugin: smtp\n",
                               &r);
    const sg_sink_cfg_t *p = &c->sinks[0], *m = &c->sinks[1];
    assert_int_equal(p->kinds, SG_ROUTE_JOB | SG_ROUTE_BLOCKED);
    assert_int_equal(p->min_severity, 1);
    assert_int_equal(p->group_ms, 30000);
    assert_string_equal(p->fallback, "mail");
    assert_int_equal(p->retry.initial_ms, 250);
    assert_int_equal(p->retry.max_ms, 2000);
    assert_int_equal(p->retry.limit, 5);
    assert_int_equal(m->kinds, SG_ROUTE_ALL);
    assert_int_equal(m->min_severity, 0);
    assert_int_equal(m->group_ms, 0);
    assert_null(m->fallback);
    assert_int_equal(m->retry.initial_ms, 100);
    assert_int_equal(m->retry.max_ms, 30000);
    assert_int_equal(m->retry.limit, 8);
    s_done(&r);
}

static void test_chat_and_paging_sinks_group_by_default_and_group_0_turns_it_off(void **state)
{
    (void)state;
    static const struct {
        const char *plugin;
        const char *group; /* the line that sets it, or "" */
        int64_t want_ms;
    } cases[] = {
        {"slack", "", SG_SINK_GROUP_DEFAULT_MS},     {"teams", "", SG_SINK_GROUP_DEFAULT_MS},
        {"pagerduty", "", SG_SINK_GROUP_DEFAULT_MS}, {"slack", "    group: 0\n", 0},
        {"teams", "    group: 1m\n", 60000},        {"webhook", "", 0},
        {"jsonl", "", 0},
    };
    assert_int_equal(SG_SINK_GROUP_DEFAULT_MS, 10000);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, BASE "sinks:\n  - name: s\n    plugin: %s\n%s",
                 cases[i].plugin, cases[i].group);
        s_result_t r;
        const sg_config_t *c = s_load_ok(text, &r);
        assert_int_equal(c->sinks[0].group_ms, cases[i].want_ms);
        s_done(&r);
    }
}

static void test_sink_route_errors_are_reported_where_they_stand(void **state)
{
    (void)state;
    s_expect_only_error(BASE "sinks:\n  - name: s\n    plugin: p\n    kinds: [job, jobs]\n",
                        "t.yaml:17:18: bad value 'jobs' in 'kinds': expected one of: decision, "
                        "blocked, job, drill, service");
    s_expect_only_error(BASE "sinks:\n  - name: s\n    plugin: p\n    min_severity: loud\n",
                        "t.yaml:17:19: bad value 'loud' for 'min_severity': expected one of: "
                        "info, warning, critical");
    s_expect_only_error(BASE "sinks:\n  - name: s\n    plugin: p\n    fallback: nope\n",
                        "t.yaml:15:5: sink 's': fallback 'nope' is not a configured sink");
    s_expect_only_error(BASE "sinks:\n  - name: s\n    plugin: p\n    fallback: s\n",
                        "t.yaml:15:5: sink 's' cannot be its own fallback");
    s_expect_only_error(BASE "sinks:\n  - name: s\n    plugin: p\n"
                             "    retry: {initial: 2s, max: 1s}\n",
                        "t.yaml:17:12: retry 'max' must not be shorter than 'initial'");
    s_expect_only_error(BASE "sinks:\n  - name: s\n    plugin: p\n    retry: {limit: 0}\n",
                        "t.yaml:17:20: 'limit' must be between 1 and 1000000000 (got 0)");
}

static void test_drills_are_read_with_schedule_zone_scope_and_objectives(void **state)
{
    (void)state;
    s_result_t r = s_load(BASE "drills:\n"
                               "  - name: nightly\n"
                               "    schedule: '30 2 * * 1-5'\n"
                               "    timezone: '+01:00'\n"
                               "    plan: site A\n"
                               "    recovery_point: latest_app_consistent\n"
                               "    objectives: {rto: 15m, rpo: 1h}\n"
                               "    blackout: [{days: [sat], from: '00:00', to: '06:00', reason: r}]\n"
                               "    after: revert\n"
                               "  - name: demo\n"
                               "    collections: [c1]\n"
                               "    run_at_start: true\n");
    s_print_errors(&r);
    assert_int_equal(r.rc, SG_OK);
    assert_int_equal(r.cfg->n_drills, 2);
    const sg_drill_cfg_t *d = &r.cfg->drills[0];
    assert_string_equal(d->name, "nightly");
    assert_string_equal(d->schedule, "30 2 * * 1-5");
    assert_string_equal(d->timezone, "+01:00");
    assert_int_equal(d->plan, SG_DRILL_SITE);
    assert_int_equal(d->plan_site, 0);
    assert_true(d->rp_set);
    assert_int_equal(d->recovery_point, SG_RP_LATEST_APP_CONSISTENT);
    assert_true(d->rto_ms == 15 * 60000 && d->rpo_ms == 3600000);
    assert_int_equal(d->n_blackout, 1);
    assert_int_equal(d->blackout[0].from_min, 0);
    assert_int_equal(d->blackout[0].to_min, 360);
    assert_false(d->run_at_start);
    d = &r.cfg->drills[1];
    assert_null(d->schedule);
    assert_int_equal(d->plan, SG_DRILL_LIST);
    assert_int_equal(d->n_collections, 1);
    assert_int_equal(d->collections[0], 0);
    assert_false(d->rp_set);
    assert_true(d->rto_ms == 0 && d->rpo_ms == 0);
    assert_true(d->run_at_start);
    assert_int_equal(sg_config_find_drill(r.cfg, "demo"), 1);
    assert_int_equal(sg_config_find_drill(r.cfg, "none"), -1);
    s_done(&r);
}

static void test_drill_errors_are_reported_where_they_stand(void **state)
{
    (void)state;
    s_expect_only_error(BASE "drills: [{name: d, plan: all, schedule: '61 * * * *'}]\n",
                        "t.yaml:14:41: bad schedule: bad minute field '61'");
    /* the example zone of the message is the platform's (tz.h) */
    static const char *bad_zones[] = {"Europe/Berln", "'+1'", "'W. Europe Standrd Time'"};
    for (size_t i = 0; i < sizeof bad_zones / sizeof bad_zones[0]; i++) {
        char *yaml = sg_strdupf(BASE "drills: [{name: d, plan: all, timezone: %s}]\n",
                                bad_zones[i]);
        const char *name = bad_zones[i] + (bad_zones[i][0] == '\'');
        int len = (int)strlen(name) - (bad_zones[i][0] == '\'');
        char *error = sg_strdupf("t.yaml:14:41: unknown time zone '%.*s': expected UTC, a fixed "
                                 "offset like +01:00 or a zone like %s", len, name, sg_tz_example());
        assert_non_null(yaml);
        assert_non_null(error);
        s_expect_only_error(yaml, error);
        free(yaml);
        free(error);
    }
    s_expect_only_error(BASE "drills: [{name: d, plan: site X}]\n",
                        "t.yaml:14:26: site 'X' is not defined in sites");
    s_expect_only_error(BASE "drills: [{name: d, plan: some}]\n",
                        "t.yaml:14:26: bad value 'some' for 'plan': expected all or site NAME");
    s_expect_only_error(BASE "drills: [{name: d, collections: [c9]}]\n",
                        "t.yaml:14:34: collection 'c9' is not defined in collections");
    s_expect_only_error(BASE "drills: [{name: d}]\n",
                        "t.yaml:14:10: a drill needs 'collections' or 'plan' (all, or site NAME)");
    s_expect_only_error(BASE "drills: [{name: d, plan: all, collections: [c1]}]\n",
                        "t.yaml:14:10: a drill names either 'collections' or a 'plan', not both");
    s_expect_only_error(BASE "drills: [{name: d, plan: all, after: keep}]\n",
                        "t.yaml:14:38: bad value 'keep' for 'after': a drill always ends with "
                        "revert");
    s_expect_only_error(BASE "drills: [{name: d, plan: all, objectives: {rto: 0s}}]\n",
                        "t.yaml:14:49: 'rto' must be greater than 0");
    s_expect_only_error(BASE "drills: [{name: d, plan: all, blackout: [{from: '01:00'}]}]\n",
                        "t.yaml:14:42: a maintenance window needs 'from' and 'to' (weekly) or "
                        "'start' and 'end' (once)");
    s_expect_error(BASE "drills: [{name: d, plan: all}, {name: d, plan: all}]\n",
                   "t.yaml:14:32: duplicate drill name 'd' (first defined at line 14)");
}

static void test_leader_defaults_to_none_named_after_the_host(void **state)
{
    (void)state;
    s_result_t r;
    sg_config_t *c = s_load_ok(BASE, &r);
    char host[256] = {0};
    assert_int_equal(c->leader.mode, SG_LEADER_NONE);
    assert_int_equal(sg_platform_hostname(host, sizeof host), SG_OK);
    assert_string_equal(c->leader.name, host);
    assert_string_equal(c->leader.etcd.key, "/siteguard/leader");
    assert_int_equal(c->leader.etcd.ttl_ms, 10000);
    assert_int_equal(c->leader.etcd.timeout_ms, 2000);
    assert_int_equal(c->leader.etcd.n_endpoints, 0); /* http://127.0.0.1:2379 when used */
    s_done(&r);
}

static void test_leader_etcd_section_is_read(void **state)
{
    (void)state;
    s_result_t r;
    sg_config_t *c = s_load_ok(BASE "leader:\n"
                                    "  mode: etcd\n"
                                    "  name: node-a\n"
                                    "  etcd:\n"
                                    "    endpoints: [http://10.0.0.1:2379, https://10.0.0.2:2379]\n"
                                    "    key: /dr/leader\n"
                                    "    ttl: 2s\n"
                                    "    timeout: 500ms\n",
                               &r);
    assert_int_equal(c->leader.mode, SG_LEADER_ETCD);
    assert_string_equal(c->leader.name, "node-a");
    assert_int_equal(c->leader.etcd.n_endpoints, 2);
    assert_string_equal(c->leader.etcd.endpoints[0], "http://10.0.0.1:2379");
    assert_string_equal(c->leader.etcd.endpoints[1], "https://10.0.0.2:2379");
    assert_string_equal(c->leader.etcd.key, "/dr/leader");
    assert_int_equal(c->leader.etcd.ttl_ms, 2000);
    assert_int_equal(c->leader.etcd.timeout_ms, 500);
    s_done(&r);
}

static void test_leader_errors_are_reported_where_they_stand(void **state)
{
    (void)state;
    s_expect_only_error(BASE "leader:\n  mode: raft\n",
                        "t.yaml:15:9: bad value 'raft' for 'mode': expected one of: none, etcd");
    s_expect_only_error(BASE "leader:\n  etcd:\n    ttl: 1500ms\n",
                        "t.yaml:16:10: 'ttl' must be a whole number of seconds, at least 1s");
    s_expect_only_error(BASE "leader:\n  etcd:\n    ttl: 2s\n    timeout: 2s\n",
                        "t.yaml:17:14: 'timeout' must be less than 'ttl'");
    s_expect_only_error(BASE "leader:\n  etcd:\n    endpoints: [tcp://h:2379]\n",
                        "t.yaml:16:16: an entry of 'endpoints' must be an http:// or https:// "
                        "URL (got 'tcp://h:2379')");
    s_expect_only_error(BASE "leader:\n  name: ''\n", "t.yaml:15:9: 'name' must not be empty");
    s_expect_only_error(BASE "leader:\n  etcd:\n    lease: 3\n",
                        "t.yaml:16:5: unknown key 'lease' in leader.etcd (expected one of: "
                        "endpoints, key, ttl, timeout)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_config_loads_every_field),
        cmocka_unit_test(test_defaults_apply_to_omitted_sections),
        cmocka_unit_test(test_a_bus_section_replaces_the_default_bind),
        cmocka_unit_test(test_find_functions_return_indices),
        cmocka_unit_test(test_unknown_key_is_an_error_with_line_and_column),
        cmocka_unit_test(test_unknown_key_in_a_list_entry_and_at_the_top_level),
        cmocka_unit_test(test_duplicate_key_in_a_mapping_is_an_error),
        cmocka_unit_test(test_missing_required_keys_are_errors_at_the_entry),
        cmocka_unit_test(test_missing_and_empty_sections_are_errors),
        cmocka_unit_test(test_wrong_node_types_are_errors),
        cmocka_unit_test(test_empty_file_and_non_mapping_documents_are_errors),
        cmocka_unit_test(test_yaml_syntax_error_reports_the_parser_mark),
        cmocka_unit_test(test_bad_duration_is_an_error),
        cmocka_unit_test(test_parse_duration_units_and_rejections),
        cmocka_unit_test(test_integers_out_of_range_are_errors),
        cmocka_unit_test(test_enumerations_reject_unknown_values),
        cmocka_unit_test(test_empty_strings_are_errors),
        cmocka_unit_test(test_public_key_must_be_40_characters_of_z85),
        cmocka_unit_test(test_public_key_is_one_key_or_a_list_of_two_different_ones),
        cmocka_unit_test(test_reference_to_an_undefined_site_is_an_error),
        cmocka_unit_test(test_references_resolve_whatever_the_section_order),
        cmocka_unit_test(test_duplicate_names_are_errors),
        cmocka_unit_test(test_replica_site_must_differ_and_not_be_a_witness),
        cmocka_unit_test(test_depends_on_must_name_other_defined_collections),
        cmocka_unit_test(test_depends_on_cycles_are_errors),
        cmocka_unit_test(test_depends_on_a_later_plan_group_is_an_error),
        cmocka_unit_test(test_a_diamond_of_dependencies_is_not_a_cycle),
        cmocka_unit_test(test_policy_defaults_follow_the_sites),
        cmocka_unit_test(test_policy_keys_are_read),
        cmocka_unit_test(test_quorum_that_cannot_be_reached_is_an_error),
        cmocka_unit_test(test_require_witness_without_a_witness_is_an_error),
        cmocka_unit_test(test_bad_maintenance_windows_are_errors),
        cmocka_unit_test(test_bad_approval_and_budget_values_are_errors),
        cmocka_unit_test(test_policy_durations_must_be_ordered_and_positive),
        cmocka_unit_test(test_durations_longer_than_100_years_are_errors),
        cmocka_unit_test(test_poll_initial_must_not_exceed_poll_max),
        cmocka_unit_test(test_only_the_sim_provider_is_built_in),
        cmocka_unit_test(test_a_sites_wmi_connection_is_for_the_wmi_provider_only),
        cmocka_unit_test(test_a_sites_wmi_connection_is_checked_where_it_stands),
        cmocka_unit_test(test_fault_needs_a_known_method_a_defined_collection_and_one_effect),
        cmocka_unit_test(test_a_warnings_fault_carries_its_text_and_is_one_effect),
        cmocka_unit_test(test_sim_job_removal_defaults_to_5m_and_a_bad_value_is_an_error),
        cmocka_unit_test(test_after_failover_commit_after_is_manual_by_default_or_a_duration),
        cmocka_unit_test(test_sim_replication_lag_and_point_keys_default_and_are_bounded),
        cmocka_unit_test(test_a_health_or_lag_fault_is_about_the_replication_not_the_calls),
        cmocka_unit_test(test_an_unreachable_fault_names_a_site_and_nothing_else),
        cmocka_unit_test(test_flapping_is_4_changes_in_60_s_by_default_off_or_a_rule),
        cmocka_unit_test(test_flapping_errors_name_their_line_and_column),
        cmocka_unit_test(test_bus_needs_an_endpoint),
        cmocka_unit_test(test_bus_curve_needs_a_public_key_for_every_observer),
        cmocka_unit_test(test_a_network_bus_endpoint_needs_curve_or_insecure),
        cmocka_unit_test(test_a_secret_key_file_others_may_read_is_refused_naming_its_mode),
        cmocka_unit_test(test_several_errors_are_all_reported_in_file_order),
        cmocka_unit_test(test_errors_are_appended_after_existing_ones),
        cmocka_unit_test(test_text_need_not_be_nul_terminated),
        cmocka_unit_test(test_unreadable_file_is_an_io_error),
        cmocka_unit_test(test_plan_section_loads_and_defaults_to_stop_without_caps),
        cmocka_unit_test(test_plan_keys_are_checked_with_line_and_column),
        cmocka_unit_test(test_recovery_point_may_name_a_point_by_its_path),
        cmocka_unit_test(test_collection_path_keyed_by_instance_id_is_an_error_with_a_hint),
        cmocka_unit_test(test_journal_path_defaults_beside_the_config_file),
        cmocka_unit_test(test_journal_retention_and_max_size_are_read_with_their_defaults),
        cmocka_unit_test(test_bad_journal_retention_and_max_size_are_errors_at_their_line),
        cmocka_unit_test(test_parse_size_units_and_rejections),
        cmocka_unit_test(test_example_config_loads_without_errors),
        cmocka_unit_test(test_demo_config_loads_as_described),
        cmocka_unit_test(test_sink_routes_grouping_fallback_and_retries_are_read_with_defaults),
        cmocka_unit_test(test_chat_and_paging_sinks_group_by_default_and_group_0_turns_it_off),
        cmocka_unit_test(test_sink_route_errors_are_reported_where_they_stand),
        cmocka_unit_test(test_drills_are_read_with_schedule_zone_scope_and_objectives),
        cmocka_unit_test(test_drill_errors_are_reported_where_they_stand),
        cmocka_unit_test(test_leader_defaults_to_none_named_after_the_host),
        cmocka_unit_test(test_leader_etcd_section_is_read),
        cmocka_unit_test(test_leader_errors_are_reported_where_they_stand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
