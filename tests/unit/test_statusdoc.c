/* statusdoc: the status document, built from a real engine driven through a
 * site loss on a fake clock, the feed the loop keeps, and a real journal
 * (the audit trail): the keys of `siteguardctl --json status`, what the page
 * adds, the bound for 10,000 collections, JSON escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "control/statusdoc.h"
#include "base/err.h"
#include "journal/outcome.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg_fixture.h"

#define T0 1800000000000LL
#define STEP 200
#define HOSTILE "</script><script>alert(\"x\")</script>"

static const char s_yaml[] =
    SG_FIXTURE_YAML_ABW
    "collections:\n"
    "  - name: a-db\n    cim_path: 'X.CollectionID=\"1\"'\n    site: A\n    replica_site: B\n"
    "  - name: '" HOSTILE "'\n    cim_path: 'X.CollectionID=\"2\"'\n    site: A\n"
    "    replica_site: B\n    group: 1\n    recovery_point: latest_app_consistent\n"
    "  - name: b-db\n    cim_path: 'X.CollectionID=\"3\"'\n    site: B\n    replica_site: A\n"
    "policy:\n  suspect_after: 1s\n  hold_down: 2s\n  quorum: 2\n  require_witness: true\n";

typedef struct {
    sg_config_t *cfg;
    sg_engine_t *e;
    sg_statusfeed_t *feed;
    sg_journal_t *journal;
    sg_fixture_dir_t tmp;
    int64_t t;      /* virtual ms since T0 */
    uint64_t seq;
    bool a_alive;
} s_world_t;

static sg_now_t s_now(const s_world_t *w) { return (sg_now_t){1000 + w->t, T0 + w->t}; }

static void s_send(s_world_t *w, int obs, sg_event_kind_t kind, int target, bool up)
{
    sg_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.observer = obs;
    ev.site = w->cfg->observers[obs].site;
    ev.seq = ++w->seq;
    ev.sent_at_ms = T0 + w->t;
    ev.u.reach.target_site = target;
    ev.u.reach.up = up;
    assert_int_equal(sg_engine_on_event(w->e, &ev, s_now(w)), SG_OK);
}

/* What the loop does with a decision: the feed learns it; a failover's
 * intent is committed at once and its job starts. */
static void s_take(s_world_t *w)
{
    sg_decision_t d;
    while (sg_engine_next(w->e, &d)) {
        assert_int_equal(sg_statusfeed_decision(w->feed, &d), SG_OK);
        if (d.kind == SG_DECISION_FAILOVER) {
            sg_statusfeed_intent(w->feed, d.collection, T0 + w->t + 1);
            sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_JOB_STARTED, T0 + w->t + 2);
            o->run_id = d.run_id;
            sg_outcome_set(o, &o->collection, w->cfg->collections[d.collection].name);
            sg_outcome_set(o, &o->job_path, "job");
            assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
            sg_feed_step_t step = {.collection = d.collection, .run_id = d.run_id,
                                   .outcome = o, .wall_ms = T0 + w->t + 2};
            assert_int_equal(sg_statusfeed_step(w->feed, &step), SG_OK);
            sg_outcome_free(&o);
        }
        sg_decision_fini(&d);
    }
}

/* The world until virtual `to`: A (while alive), B and W beat and report
 * each other; once A is dead B and W report it down. */
static void s_run(s_world_t *w, int64_t to)
{
    for (; w->t < to; w->t += STEP) {
        for (int o = 0; o < 3; o++) {
            if (o == 0 && !w->a_alive)
                continue;
            s_send(w, o, SG_EV_HEARTBEAT, 0, false);
            for (int s = 0; s < 3; s++)
                if (s != o)
                    s_send(w, o, SG_EV_REACHABILITY, s, s != 0 || w->a_alive);
        }
        assert_int_equal(sg_engine_tick(w->e, s_now(w)), SG_OK);
        s_take(w);
    }
}

static void s_world_open(s_world_t *w, const char *yaml)
{
    memset(w, 0, sizeof *w);
    w->cfg = sg_fixture_config("doc.yaml", yaml);
    w->e = sg_engine_new(w->cfg, 0, s_now(w));
    w->feed = sg_statusfeed_new(w->cfg);
    sg_fixture_dir_new(&w->tmp, "sg-test-statusdoc-");
    w->journal = sg_journal_open(w->tmp.journal);
    assert_non_null(w->e);
    assert_non_null(w->feed);
    assert_non_null(w->journal);
    w->a_alive = true;
}

static void s_world_close(s_world_t *w)
{
    sg_journal_close(&w->journal);
    sg_statusfeed_destroy(&w->feed);
    sg_engine_destroy(&w->e);
    sg_config_destroy(&w->cfg);
    sg_fixture_dir_remove(&w->tmp);
}

static json_t *s_build(s_world_t *w, size_t max)
{
    sg_notify_stats_t sinks[1] = {{.pending = 3, .dead = 2, .delivered = 5}};
    sg_statusdoc_src_t src = {.cfg = w->cfg, .engine = w->e, .journal = w->journal,
                              .feed = w->feed, .sink_stats = sinks, .loop_turns = 42,
                              .loop_longest_us = 1234, .max_collections = max, .now = s_now(w)};
    json_t *doc = sg_statusdoc_build(&src);
    assert_non_null(doc);
    return doc;
}

static json_t *s_item(json_t *list, const char *key, const char *value)
{
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        if (strcmp(json_string_value(json_object_get(it, key)), value) == 0)
            return it;
    }
    fail_msg("no %s %s", key, value);
    return NULL;
}

static const char *s_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("%s is not a string", key);
    return json_string_value(v);
}

/* The keys and value types `siteguardctl --json status` prints. */
static void test_the_document_has_what_siteguardctl_status_says(void **state)
{
    (void)state;
    s_world_t w;
    s_world_open(&w, s_yaml);
    s_run(&w, 1000);
    json_t *doc = s_build(&w, 0);
    assert_int_equal(json_array_size(json_object_get(doc, "sites")), 3);
    json_t *a = json_array_get(json_object_get(doc, "sites"), 0);
    assert_string_equal(s_str(a, "name"), "A");
    assert_string_equal(s_str(a, "state"), "healthy");
    assert_true(json_is_false(json_object_get(a, "witness")));
    json_t *o = json_array_get(json_object_get(doc, "observers"), 0);
    assert_string_equal(s_str(o, "id"), "a1");
    assert_true(json_is_true(json_object_get(o, "heard")));
    assert_true(json_is_integer(json_object_get(o, "clock_offset_ms")));
    json_t *c = s_item(json_object_get(doc, "collections"), "name", "a-db");
    const char *keys[] = {"site", "replica_site", "verdict", "paused"};
    for (size_t i = 0; i < 4; i++)
        assert_true(json_is_string(json_object_get(c, keys[i])));
    assert_true(json_is_integer(json_object_get(c, "group")));
    assert_string_equal(s_str(c, "verdict"), "idle");
    assert_string_equal(s_str(c, "paused"), "");
    assert_string_equal(s_str(c, "recovery_point"), "latest (configured)");
    assert_string_equal(s_str(c, "last_step"), ""); /* no life-cycle steps here */
    assert_int_equal(json_array_size(json_object_get(doc, "steps")), 0);
    assert_string_equal(s_str(doc, "leader"), "single instance (leader: none)");
    assert_string_equal(s_str(doc, "mode"), "auto");
    assert_string_equal(s_str(doc, "config"), "doc.yaml");
    assert_int_equal(json_integer_value(json_object_get(doc, "loop_turns")), 42);
    assert_int_equal(json_integer_value(json_object_get(doc, "loop_longest_us")), 1234);
    assert_int_equal(json_array_size(json_object_get(doc, "runs")), 0);
    assert_true(json_is_null(json_object_get(json_object_get(doc, "episode"), "site")));
    json_decref(doc);
    s_world_close(&w);
}

/* Site A dies: its state and the votes behind it, the collection held back
 * by plan order with the engine's words, the run of the episode step by
 * step, collections not idle first. */
static void test_a_site_loss_shows_votes_guards_and_the_runs_of_the_episode(void **state)
{
    (void)state;
    s_world_t w;
    s_world_open(&w, s_yaml);
    s_run(&w, 2000);
    w.a_alive = false;
    s_run(&w, 7000);
    json_t *doc = s_build(&w, 0);
    json_t *a = s_item(json_object_get(doc, "sites"), "name", "A");
    assert_string_equal(s_str(a, "state"), "lost");
    assert_non_null(strstr(s_str(a, "explain"), "2 site(s) vote it down (B, W"));
    assert_true(json_is_integer(json_object_get(a, "lost_ms")));

    json_t *colls = json_object_get(doc, "collections");
    assert_string_equal(s_str(json_array_get(colls, 0), "name"), "a-db"); /* failing over */
    assert_string_equal(s_str(json_array_get(colls, 0), "verdict"), "failing over");
    assert_string_equal(s_str(json_array_get(colls, 0), "run_state"), "running");
    json_t *held = json_array_get(colls, 1);
    assert_string_equal(s_str(held, "name"), HOSTILE);
    assert_string_equal(s_str(held, "verdict"), "blocked");
    assert_string_equal(s_str(held, "guard"), "plan_order");
    assert_non_null(strstr(s_str(held, "hold"), "a-db"));
    assert_string_equal(s_str(held, "recovery_point"), "app (configured)");
    assert_string_equal(s_str(json_array_get(colls, 2), "verdict"), "idle");
    json_t *counts = json_object_get(doc, "verdicts");
    assert_int_equal(json_integer_value(json_object_get(counts, "blocked")), 1);
    assert_int_equal(json_integer_value(json_object_get(counts, "failing over")), 1);

    json_t *ep = json_object_get(doc, "episode");
    assert_string_equal(s_str(ep, "site"), "A");
    assert_string_equal(s_str(ep, "state"), "lost");
    json_t *run = json_array_get(json_object_get(ep, "runs"), 0);
    assert_string_equal(s_str(run, "collection"), "a-db");
    assert_string_equal(s_str(run, "origin"), "policy");
    int64_t decided = json_integer_value(json_object_get(run, "decided_ms"));
    assert_int_equal(json_integer_value(json_object_get(run, "intent_ms")), decided + 1);
    assert_int_equal(json_integer_value(json_object_get(run, "called_ms")), decided + 2);
    assert_true(json_is_null(json_object_get(run, "ended_ms")));
    assert_int_equal(json_integer_value(json_object_get(ep, "started_ms")),
                     json_integer_value(json_object_get(a, "lost_ms")));
    json_t *runs = json_object_get(doc, "runs");
    assert_int_equal(json_array_size(runs), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(runs, 0), "ended_ms")), 0);
    assert_true(json_is_false(json_object_get(json_array_get(runs, 0), "failed_over")));
    json_decref(doc);
    s_world_close(&w);
}

/* Hostile names and reasons survive as data: JSON-escaped (a slash too, so
 * "</script>" cannot end a script), and text that is not UTF-8 shows with
 * U+FFFD rather than breaking the document. */
static void test_hostile_strings_are_json_escaped(void **state)
{
    (void)state;
    s_world_t w;
    s_world_open(&w, s_yaml);
    assert_int_equal(sg_engine_pause(w.e, -1, 1, 1000 + 600000, "he said \"no\" <b>"), SG_OK);
    sg_journal_audit_t a = {.time_ms = T0, .who = "mallory", .role = "operator",
                            .command = "pause", .target = HOSTILE,
                            .reason = "bad \xff\xfe bytes \"quoted\"", .result = "ok"};
    assert_int_equal(sg_journal_audit(w.journal, &a), SG_OK);
    json_t *doc = s_build(&w, 0);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ESCAPE_SLASH);
    assert_null(strstr(text, "</script>"));
    assert_non_null(strstr(text, "<\\/script><script>alert(\\\"x\\\")<\\/script>"));
    assert_non_null(strstr(text, "he said \\\"no\\\" <b>"));
    json_t *back = json_loads(text, 0, NULL);
    json_t *c = s_item(json_object_get(back, "collections"), "name", HOSTILE);
    assert_non_null(strstr(s_str(c, "paused"), ": he said \"no\" <b>"));
    json_t *entry = json_array_get(json_object_get(back, "audit"), 0);
    assert_string_equal(s_str(entry, "reason"), "bad \xef\xbf\xbd\xef\xbf\xbd bytes \"quoted\"");
    assert_string_equal(s_str(entry, "target"), HOSTILE);
    free(text);
    json_decref(back);
    json_decref(doc);
    s_world_close(&w);
}

/* 10,000 collections: at most 1,000 listed, those not idle first in the
 * order that needs eyes (failed, failing over, ..., failed over, idle),
 * the rest counted; the document stays small and quick to build. */
static void test_ten_thousand_collections_are_bounded_not_idle_first(void **state)
{
    (void)state;
    enum { N = 10000 };
    size_t cap = 400 + N * 110, len = 0;
    char *yaml = malloc(cap);
    len += (size_t)snprintf(yaml + len, cap - len, "%scollections:\n", SG_FIXTURE_YAML_ABW);
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(yaml + len, cap - len,
                                "  - name: vm-%05d\n    cim_path: 'X.CollectionID=\"%d\"'\n"
                                "    site: %s\n    replica_site: %s\n",
                                i, i, i % 2 ? "A" : "B", i % 2 ? "B" : "A");
    s_world_t w;
    s_world_open(&w, yaml);
    free(yaml);
    /* the last ones are failed over, a few failed, some in flight */
    for (int i = N - 1; i >= N - 1500; i--)
        sg_engine_restore(w.e, i, SG_COLL_DONE, (uint64_t)i + 1, SG_ORIGIN_ENGINE);
    for (int i = 5000; i < 5003; i++)
        sg_engine_restore(w.e, i, SG_COLL_FAILED, (uint64_t)i + 1, SG_ORIGIN_ENGINE);
    for (int i = 7000; i < 7010; i++)
        sg_engine_restore(w.e, i, SG_COLL_DECIDED, (uint64_t)i + 1, SG_ORIGIN_MANUAL);
    int64_t t0 = sg_clock_mono_us(sg_clock_system());
    json_t *doc = s_build(&w, 0);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ESCAPE_SLASH);
    double ms = (double)(sg_clock_mono_us(sg_clock_system()) - t0) / 1000.0;
    json_t *colls = json_object_get(doc, "collections");
    assert_int_equal(json_array_size(colls), SG_STATUSDOC_MAX_COLLECTIONS);
    assert_int_equal(json_integer_value(json_object_get(doc, "collections_total")), N);
    assert_int_equal(json_integer_value(json_object_get(doc, "collections_omitted")),
                     N - SG_STATUSDOC_MAX_COLLECTIONS);
    assert_string_equal(s_str(json_array_get(colls, 0), "name"), "vm-05000");
    assert_string_equal(s_str(json_array_get(colls, 0), "verdict"), "failover failed");
    assert_string_equal(s_str(json_array_get(colls, 3), "verdict"), "failing over");
    assert_string_equal(s_str(json_array_get(colls, 13), "verdict"), "failed over");
    assert_string_equal(s_str(json_array_get(colls, 999), "verdict"), "failed over");
    json_t *counts = json_object_get(doc, "verdicts");
    assert_int_equal(json_integer_value(json_object_get(counts, "idle")), N - 1513);
    assert_int_equal(json_integer_value(json_object_get(counts, "failed over")), 1500);
    /* a smaller cap, as ?limit= asks */
    json_t *small = s_build(&w, 20);
    assert_int_equal(json_array_size(json_object_get(small, "collections")), 20);
    json_decref(small);
    print_message("statusdoc: 10,000 collections: built and dumped in %.1f ms, %zu bytes\n", ms,
                  strlen(text));
    assert_true(strlen(text) < 600 * 1000);
    free(text);
    json_decref(doc);
    s_world_close(&w);
}

static void test_pause_and_recovery_point_words_are_status_words(void **state)
{
    (void)state;
    s_world_t w;
    s_world_open(&w, s_yaml);
    char *t = sg_statusdoc_pause_text(w.e, w.cfg, 0, 1000);
    assert_string_equal(t, "");
    free(t);
    assert_int_equal(sg_engine_pause(w.e, 0, -1, 1000 + 30000, "network work"), SG_OK);
    t = sg_statusdoc_pause_text(w.e, w.cfg, 0, 1000);
    assert_string_equal(t, "30 s: network work");
    free(t);
    t = sg_statusdoc_pause_text(w.e, w.cfg, 2, 1000); /* b-db is at B */
    assert_string_equal(t, "");
    free(t);
    t = sg_statusdoc_run_point(w.cfg, 0, NULL);
    assert_string_equal(t, "latest (configured)");
    free(t);
    t = sg_statusdoc_run_point(w.cfg, 1, NULL);
    assert_string_equal(t, "app (configured)");
    free(t);
    t = sg_statusdoc_run_point(w.cfg, 0, "sql:latest-app");
    assert_string_equal(t, "sql:latest-app");
    free(t);
    t = sg_statusdoc_leader_text(NULL);
    assert_string_equal(t, "single instance (leader: none)");
    free(t);
    s_world_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_document_has_what_siteguardctl_status_says),
        cmocka_unit_test(test_a_site_loss_shows_votes_guards_and_the_runs_of_the_episode),
        cmocka_unit_test(test_hostile_strings_are_json_escaped),
        cmocka_unit_test(test_ten_thousand_collections_are_bounded_not_idle_first),
        cmocka_unit_test(test_pause_and_recovery_point_words_are_status_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
