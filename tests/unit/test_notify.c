/* notify: plugin loading and checks (the plugin folder looked up),
 * delivery, retries, dead letters, secrets masked in what plugins log; and
 * the line format of the console plugin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/clock.h"
#include "config/config.h"
#include "base/err.h"
#include "base/log.h"
#include "journal/journal.h"
#include "notify/notify.h"
#include "notify/pluginlib.h"
#include "journal/outcome.h"

#include <jansson.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin_net.h"
#include "sg_fixture.h"

/* The console plugin's formatter is a static function; test it here. */
#include "../../plugins/console/console.c"

#define PLUGIN_DIR SG_BUILD_DIR "/plugins"
#define TEST_PLUGIN_DIR SG_BUILD_DIR "/test-plugins"
#define WALL0 INT64_C(1795626000000) /* 2026-11-25T17:00:00Z */
#define MONO0 INT64_C(1000)

enum { FX_SINKS = 4, FX_OPTS = 4 }; /* sinks a fixture holds, options each */

/* A config built by hand, as the loader would leave it, with one or two
 * sinks whose marks point into an imaginary t.yaml. */
typedef struct {
    sg_fixture_dir_t tmp; /* the files below, and a journal */
    char out[300]; /* the jsonl file */
    sg_config_t cfg;
    sg_sink_cfg_t sinks[FX_SINKS];
    sg_kv_t opts[FX_SINKS][FX_OPTS];
    char record[300];  /* the flaky plugin's record of deliveries */
    char down[300];    /* the flaky plugin's outage switch */
    char hold[300];    /* the flaky plugin's slow-receiver switch */
    char held[300];    /* ... and its mark that a notice is in hand */
    char out2[300], record2[300], record3[300]; /* where reloaded sinks write */
    char calls[300], calls2[300]; /* the flaky plugins' lines per call */
    char variants[2][300];        /* libraries of the flaky plugin's other builds */
    sg_config_t next[2]; /* configs for reloads (next_config) */
    sg_sink_cfg_t next_sinks[2][FX_SINKS];
    sg_kv_t next_opts[2][FX_SINKS][FX_OPTS];
    sg_clock_t clock;
    sg_clock_fake_state_t clock_state;
    sg_config_errors_t errs;
} fx_t;

/* The fixture's files in fx->tmp.dir, its config and clock. */
static void fx_init(fx_t *fx)
{
    snprintf(fx->out, sizeof fx->out, "%s/out.jsonl", fx->tmp.dir);
    snprintf(fx->record, sizeof fx->record, "%s/record.jsonl", fx->tmp.dir);
    snprintf(fx->down, sizeof fx->down, "%s/down", fx->tmp.dir);
    snprintf(fx->hold, sizeof fx->hold, "%s/hold", fx->tmp.dir);
    snprintf(fx->held, sizeof fx->held, "%s/hold.held", fx->tmp.dir);
    snprintf(fx->out2, sizeof fx->out2, "%s/out2.jsonl", fx->tmp.dir);
    snprintf(fx->record2, sizeof fx->record2, "%s/record2.jsonl", fx->tmp.dir);
    snprintf(fx->record3, sizeof fx->record3, "%s/record3.jsonl", fx->tmp.dir);
    snprintf(fx->calls, sizeof fx->calls, "%s/calls", fx->tmp.dir);
    snprintf(fx->calls2, sizeof fx->calls2, "%s/calls2", fx->tmp.dir);
    fx->cfg.path = (char *)"t.yaml";
    fx->cfg.plugin_dir = (char *)PLUGIN_DIR;
    fx->cfg.sinks = fx->sinks;
    sg_clock_fake_init(&fx->clock, &fx->clock_state, MONO0, WALL0);
    sg_config_errors_init(&fx->errs);
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    sg_fixture_dir_new(&fx->tmp, "sg-notify-");
    fx_init(fx);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    sg_fixture_dir_remove(&fx->tmp);
    sg_config_errors_fini(&fx->errs);
    free(fx);
    return 0;
}

/* Adds sink `name` of `plugin` at t.yaml:(30 + 10 * i):5. */
static sg_sink_cfg_t *add_sink(fx_t *fx, const char *name, const char *plugin)
{
    size_t i = fx->cfg.n_sinks++;
    sg_sink_cfg_t *s = &fx->sinks[i];
    *s = (sg_sink_cfg_t){0};
    s->name = (char *)name;
    s->plugin = (char *)plugin;
    s->options = fx->opts[i];
    s->mark = (sg_mark_t){"t.yaml", 30 + 10 * (int)i, 5};
    return s;
}

/* Adds an option on the next line of the sink, at column 7. */
static void add_option(sg_sink_cfg_t *s, const char *key, const char *value)
{
    sg_kv_t *kv = &s->options[s->n_options++];
    kv->key = (char *)key;
    kv->value = (char *)value;
    kv->mark = (sg_mark_t){"t.yaml", s->mark.line + (int)s->n_options, 7};
}

/* Adds sink `name` of the flaky test plugin. */
static sg_sink_cfg_t *add_flaky(fx_t *fx, const char *name)
{
    sg_sink_cfg_t *s = add_sink(fx, name, "flaky");
    s->path = (char *)TEST_PLUGIN_DIR "/sg_flaky" SG_TEST_DL_SUFFIX;
    return s;
}

/* Adds sink `name` of the jsonl plugin, writing to fx->out. */
static sg_sink_cfg_t *add_jsonl(fx_t *fx, const char *name)
{
    sg_sink_cfg_t *s = add_sink(fx, name, "jsonl");
    add_option(s, "path", fx->out);
    return s;
}

/* The one error line that contains `needle`, or a failed test. */
static const char *find_error(const fx_t *fx, const char *needle)
{
    for (size_t i = 0; i < fx->errs.n; i++) {
        if (strstr(fx->errs.items[i], needle))
            return fx->errs.items[i];
    }
    for (size_t i = 0; i < fx->errs.n; i++)
        print_error("error: %s\n", fx->errs.items[i]);
    fail_msg("no error mentions \"%s\"", needle);
    return NULL;
}

/* Notify does not start on the fixture's config; returns the error line
 * that mentions `needle`. */
static const char *new_fails_with(fx_t *fx, const char *needle)
{
    assert_null(sg_notify_new(&fx->cfg, &fx->clock, &fx->errs));
    return find_error(fx, needle);
}

/* Checking the fixture's config fails; returns the error line that mentions
 * `needle`. */
static const char *check_fails_with(fx_t *fx, const char *needle)
{
    assert_int_equal(sg_notify_check(&fx->cfg, &fx->errs), SG_ECONFIG);
    return find_error(fx, needle);
}

static void assert_mentions(const char *error, const char *text)
{
    assert_non_null(strstr(error, text));
}

/* Notify started on the fixture's config, without a journal. */
static sg_notify_t *notify_new(fx_t *fx)
{
    sg_notify_t *n = sg_notify_new(&fx->cfg, &fx->clock, &fx->errs);
    assert_non_null(n);
    return n;
}

/* Notify opened on the fixture's config and journal. */
static sg_notify_t *notify_open(fx_t *fx)
{
    sg_notify_t *n = sg_notify_open(&fx->cfg, &fx->clock, fx->tmp.journal, &fx->errs);
    assert_non_null(n);
    return n;
}

/* Waits (up to 30 s on the fake clock) until every notice was handled. */
static void drain(sg_notify_t *n)
{
    assert_int_equal(sg_notify_drain(n, 30000), SG_OK);
}

static sg_notify_stats_t stats_of(sg_notify_t *n)
{
    sg_notify_stats_t st;
    sg_notify_stats(n, &st);
    return st;
}

static sg_notify_stats_t sink_stats_of(sg_notify_t *n, const char *sink)
{
    sg_notify_stats_t st;
    assert_int_equal(sg_notify_sink_stats(n, sink, &st), SG_OK);
    return st;
}

static sg_outcome_t *progress(int percent)
{
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_PROGRESS, WALL0 + percent);
    assert_non_null(o);
    o->run_id = 9;
    o->percent = percent;
    assert_int_equal(sg_outcome_set(o, &o->collection, "sql"), SG_OK);
    assert_int_equal(sg_outcome_setf(o, &o->message, "step %d", percent), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    return o;
}

static void post_one(sg_notify_t *n, int percent)
{
    sg_outcome_t *o = progress(percent);
    assert_int_equal(sg_notify_post(n, o), SG_OK);
    sg_outcome_free(&o);
}

static void expect_delivered_retried_dead(sg_notify_stats_t st, uint64_t delivered,
                                         uint64_t retries, uint64_t dead)
{
    assert_int_equal(st.delivered, delivered);
    assert_int_equal(st.retries, retries);
    assert_int_equal(st.dead, dead);
}

/* Posts one outcome to a lone flaky sink and returns the stats after it
 * drained, with the time the backoff took on the fake clock. */
static sg_notify_stats_t run_flaky(fx_t *fx, int64_t *slept_ms)
{
    sg_notify_t *n = notify_new(fx);
    post_one(n, 1);
    drain(n);
    sg_notify_stats_t st = stats_of(n);
    *slept_ms = sg_clock_mono(&fx->clock) - MONO0;
    sg_notify_destroy(&n);
    assert_null(n);
    return st;
}

/* --- delivery ------------------------------------------------------------------ */

static void test_jsonl_sink_writes_every_outcome_as_one_json_line_in_order(void **state)
{
    fx_t *fx = *state;
    add_jsonl(fx, "audit");
    sg_notify_t *n = notify_new(fx);
    enum { N = 100 };
    for (int i = 0; i < N; i++)
        post_one(n, i);
    drain(n);
    sg_notify_stats_t st = stats_of(n);
    assert_int_equal(st.queued, N);
    assert_int_equal(st.delivered, N);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.dead, 0);
    sg_notify_destroy(&n);

    FILE *f = fopen(fx->out, "r");
    assert_non_null(f);
    char line[4096];
    int count = 0;
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        assert_true(len > 0 && line[len - 1] == '\n');
        json_error_t err;
        json_t *root = json_loads(line, 0, &err);
        assert_non_null(root);
        assert_int_equal(json_integer_value(json_object_get(root, "percent")), count);
        char key[64];
        snprintf(key, sizeof key, "9/sql/progress/%d", count);
        assert_string_equal(json_string_value(json_object_get(root, "dedup_key")), key);
        json_decref(root);
        count++;
    }
    fclose(f);
    assert_int_equal(count, N);
}

/* Adds two sinks: `audit` (jsonl, to fx->out) and `screen` (console, stderr). */
static void add_audit_and_screen(fx_t *fx)
{
    add_jsonl(fx, "audit");
    add_option(add_sink(fx, "screen", "console"), "stream", "stderr");
}

static void test_every_sink_receives_every_outcome(void **state)
{
    fx_t *fx = *state;
    add_audit_and_screen(fx);
    sg_notify_t *n = notify_new(fx);
    post_one(n, 10);
    post_one(n, 20);
    drain(n);
    sg_notify_stats_t st = stats_of(n);
    assert_int_equal(st.queued, 4);
    assert_int_equal(st.delivered, 4);
    sg_notify_destroy(&n);
}

static void test_post_refuses_an_outcome_that_is_not_finished(void **state)
{
    fx_t *fx = *state;
    add_jsonl(fx, "audit");
    sg_notify_t *n = notify_new(fx);
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_SITE_LOST, WALL0);
    assert_int_equal(sg_notify_post(n, o), SG_EINVAL);
    sg_outcome_free(&o);
    sg_notify_stats_t st = stats_of(n);
    assert_int_equal(st.queued, 0);
    sg_notify_destroy(&n);
}

static void test_no_sinks_is_valid_and_posting_is_a_no_op(void **state)
{
    fx_t *fx = *state;
    sg_notify_t *n = notify_new(fx);
    post_one(n, 1);
    assert_int_equal(sg_notify_drain(n, 1000), SG_OK);
    sg_notify_stats_t st = stats_of(n);
    assert_int_equal(st.queued, 0);
    sg_notify_destroy(&n);
    sg_notify_destroy(&n); /* NULL-safe */
    assert_int_equal(sg_notify_sink_stats(n, "audit", &st), SG_ENOTFOUND);
    sg_notify_tick(n);
}

/* --- retries and dead letters ------------------------------------------------------ */

static void test_backoff_is_full_jitter_under_a_doubling_cap(void **state)
{
    (void)state;
    sg_retry_cfg_t r = {.initial_ms = 100, .max_ms = 5000, .limit = 8};
    const int64_t caps[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
    for (int64_t streak = 1; streak <= 8; streak++)
        assert_int_equal(sg_notify_backoff_cap_ms(&r, streak), caps[streak - 1]);
    assert_int_equal(sg_notify_backoff_cap_ms(&r, 1000000), 5000); /* no overflow */
    sg_retry_cfg_t defaults = {0};
    assert_int_equal(sg_notify_backoff_cap_ms(&defaults, 1), 100);
    assert_int_equal(sg_notify_backoff_cap_ms(&defaults, 100), 30000);
    uint64_t rng = 42;
    int64_t lo = INT64_MAX, hi = -1;
    for (int i = 0; i < 2000; i++) {
        int64_t ms = sg_notify_backoff_ms(&r, 3, &rng);
        assert_in_range(ms, 0, 400);
        lo = ms < lo ? ms : lo;
        hi = ms > hi ? ms : hi;
    }
    assert_true(lo < 40);  /* spread over the whole range: full jitter */
    assert_true(hi > 360);
}

static void test_retry_is_retried_with_backoff_until_delivered(void **state)
{
    fx_t *fx = *state;
    add_option(add_flaky(fx, "flaky"), "retry_first", "3");
    int64_t slept = 0;
    sg_notify_stats_t st = run_flaky(fx, &slept);
    expect_delivered_retried_dead(st, 1, 3, 0);
    assert_in_range(slept, 0, 100 + 200 + 400); /* each wait within its cap */
}

static void test_retry_gives_up_after_eight_failed_attempts_into_the_dead_letters(void **state)
{
    fx_t *fx = *state;
    add_option(add_flaky(fx, "flaky"), "retry_first", "1000");
    int64_t slept = 0;
    sg_notify_stats_t st = run_flaky(fx, &slept);
    expect_delivered_retried_dead(st, 0, 7, 1);
    /* the last failure backs off too: caps 100, 200, ... 12800 under the 30 s default */
    assert_in_range(slept, 0, 100 + 200 + 400 + 800 + 1600 + 3200 + 6400 + 12800);
}

static void test_retry_limit_and_backoff_come_from_the_sink_config(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *s = add_flaky(fx, "flaky");
    s->retry = (sg_retry_cfg_t){.initial_ms = 1000, .max_ms = 1000, .limit = 3};
    add_option(s, "retry_first", "1000");
    int64_t slept = 0;
    sg_notify_stats_t st = run_flaky(fx, &slept);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.dead, 1);
    assert_in_range(slept, 0, 3 * 1000);
}

static void test_fatal_is_dead_lettered_at_once(void **state)
{
    fx_t *fx = *state;
    add_option(add_flaky(fx, "flaky"), "fatal", "true");
    int64_t slept = 0;
    sg_notify_stats_t st = run_flaky(fx, &slept);
    expect_delivered_retried_dead(st, 0, 0, 1);
    assert_int_equal(slept, 0);
}

static void test_a_dead_letter_does_not_stop_later_outcomes(void **state)
{
    fx_t *fx = *state;
    /* the first outcome uses all 8 attempts */
    add_option(add_flaky(fx, "flaky"), "retry_first", "8");
    sg_notify_t *n = notify_new(fx);
    post_one(n, 1);
    drain(n);
    post_one(n, 2);
    drain(n);
    sg_notify_stats_t st = stats_of(n);
    assert_int_equal(st.dead, 1);
    assert_int_equal(st.delivered, 1);
    sg_notify_destroy(&n);
}


/* --- fallback, routing, grouping, restarts --------------------------------------------------- */

/* A finished outcome of `kind` about `collection` (NULL: none) of `site`. */
static sg_outcome_t *outcome(sg_outcome_kind_t kind, const char *site, const char *collection,
                             int64_t time_ms, uint64_t run_id, const char *message)
{
    sg_outcome_t *o = sg_outcome_new(kind, time_ms);
    assert_non_null(o);
    o->run_id = run_id;
    assert_int_equal(sg_outcome_set(o, &o->site, site), SG_OK);
    assert_int_equal(sg_outcome_set(o, &o->replica_site, "B"), SG_OK);
    assert_int_equal(sg_outcome_set(o, &o->collection, collection), SG_OK);
    assert_int_equal(sg_outcome_set(o, &o->message, message), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    return o;
}

static void post(sg_notify_t *n, sg_outcome_kind_t kind, const char *site, const char *collection,
                 int64_t time_ms, uint64_t run_id)
{
    sg_outcome_t *o = outcome(kind, site, collection, time_ms, run_id, "why");
    assert_int_equal(sg_notify_post(n, o), SG_OK);
    sg_outcome_free(&o);
}

/* Every complete line of a JSON-lines file, parsed; *n of them. */
static json_t *read_lines(const char *path, size_t *n)
{
    json_t *all = json_array();
    FILE *f = fopen(path, "r");
    char line[8192];
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == '\0' || line[strlen(line) - 1] != '\n')
            break;
        json_t *doc = json_loads(line, 0, NULL);
        assert_non_null(doc);
        json_array_append_new(all, doc);
    }
    if (f)
        fclose(f);
    *n = json_array_size(all);
    return all;
}

static const char *line_str(json_t *lines, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(lines, i), key));
}

/* How often `key` is the dedup key of a line. */
static int count_key(json_t *lines, const char *key)
{
    int n = 0;
    for (size_t i = 0; i < json_array_size(lines); i++)
        n += strcmp(line_str(lines, i, "dedup_key"), key) == 0;
    return n;
}

static size_t line_count(const char *path)
{
    size_t n = 0;
    json_decref(read_lines(path, &n));
    return n;
}

/* The lines of a JSON-lines file, which has `n` of them (caller frees). */
static json_t *lines_of(const char *path, size_t n)
{
    size_t got = 0;
    json_t *lines = read_lines(path, &got);
    assert_int_equal(got, n);
    return lines;
}

/* The progress notices `first` to `last` (see post_one) are each among the
 * lines exactly once. */
static void expect_progress_once_each(json_t *lines, int first, int last)
{
    for (int i = first; i <= last; i++) {
        char key[64];
        snprintf(key, sizeof key, "9/sql/progress/%d", i);
        assert_int_equal(count_key(lines, key), 1);
    }
}

/* The fixture's journal, opened (close with sg_journal_close). */
static sg_journal_t *open_journal(fx_t *fx)
{
    sg_journal_t *j = sg_journal_open(fx->tmp.journal);
    assert_non_null(j);
    return j;
}

static void test_notices_waiting_behind_a_failing_sink_go_to_its_fallback_together(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *pager = add_flaky(fx, "pager");
    pager->retry = (sg_retry_cfg_t){.initial_ms = 100, .max_ms = 1000, .limit = 3};
    pager->fallback = (char *)"mail";
    add_option(pager, "retry_first", "1000000");
    sg_sink_cfg_t *mail = add_jsonl(fx, "mail");
    mail->kinds = SG_ROUTE_BLOCKED; /* its own routes would not take these */
    sg_notify_t *n = notify_open(fx);
    for (int i = 1; i <= 3; i++)
        post_one(n, i);
    drain(n);
    sg_notify_stats_t st = sink_stats_of(n, "pager");
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.dead, 3);
    st = sink_stats_of(n, "mail");
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.delivered, 3);
    sg_notify_destroy(&n);
    json_t *lines = lines_of(fx->out, 3);
    expect_progress_once_each(lines, 1, 3);
    json_decref(lines);
    sg_journal_t *j = open_journal(fx);
    assert_int_equal(sg_journal_outbox_count(j, "pager", SG_OUTBOX_DEAD), 3);
    assert_int_equal(sg_journal_outbox_count(j, "mail", SG_OUTBOX_DELIVERED), 3);
    sg_journal_close(&j);
}

static void test_a_fatal_notice_goes_to_the_fallback_and_the_sink_carries_on(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *bad = add_flaky(fx, "bad");
    bad->fallback = (char *)"audit";
    add_option(bad, "fatal", "true");
    add_jsonl(fx, "audit");
    sg_notify_t *n = notify_new(fx);
    post_one(n, 1);
    post_one(n, 2);
    drain(n);
    sg_notify_stats_t st = sink_stats_of(n, "bad");
    assert_int_equal(st.dead, 2);
    assert_int_equal(st.retries, 0);
    /* audit had both by its own routes; the fallback adds no second copy */
    st = sink_stats_of(n, "audit");
    assert_int_equal(st.delivered, 2);
    sg_notify_destroy(&n);
    assert_int_equal(line_count(fx->out), 2);
}

static void test_a_sink_gets_only_the_kinds_and_severities_it_subscribes_to(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *s = add_jsonl(fx, "audit");
    s->kinds = SG_ROUTE_JOB | SG_ROUTE_BLOCKED;
    s->min_severity = SG_SEVERITY_WARNING;
    sg_notify_t *n = notify_new(fx);
    post(n, SG_OUTCOME_SITE_LOST, "A", NULL, WALL0, 0);         /* decision route */
    post(n, SG_OUTCOME_DECISION, "A", "sql", WALL0, 1);         /* decision route */
    post(n, SG_OUTCOME_BLOCKED, "A", "web", WALL0, 0);          /* critical */
    post(n, SG_OUTCOME_JOB_STARTED, "A", "sql", WALL0, 1);      /* info */
    post(n, SG_OUTCOME_FAILED, "A", "sql", WALL0, 1);           /* critical */
    post(n, SG_OUTCOME_SITE_RECOVERED, "A", NULL, WALL0 + 1, 0); /* decision route, info */
    drain(n);
    sg_notify_stats_t st = stats_of(n);
    assert_int_equal(st.queued, 2);
    sg_notify_destroy(&n);
    json_t *lines = lines_of(fx->out, 2);
    assert_string_equal(line_str(lines, 0, "kind"), "blocked");
    assert_string_equal(line_str(lines, 1, "kind"), "failed");
    json_decref(lines);
}

static void test_a_held_outcome_is_sent_to_no_sink_and_flapping_goes_with_site_changes(
    void **state)
{
    fx_t *fx = *state;
    add_jsonl(fx, "audit")->kinds = SG_ROUTE_DECISION; /* site changes and decisions */
    sg_notify_t *n = notify_new(fx);
    post(n, SG_OUTCOME_SITE_SUSPECT, "A", NULL, WALL0, 0);
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_SITE_FLAPPING, WALL0 + 1);
    assert_int_equal(sg_outcome_set(o, &o->site, "A"), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    assert_int_equal(sg_notify_post(n, o), SG_OK);
    sg_outcome_free(&o);
    o = sg_outcome_new(SG_OUTCOME_SITE_RECOVERED, WALL0 + 2); /* held: the log has it */
    assert_int_equal(sg_outcome_set(o, &o->site, "A"), SG_OK);
    assert_int_equal(sg_outcome_set_held(o, "flapping"), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);
    assert_int_equal(sg_notify_post(n, o), SG_OK);
    sg_outcome_free(&o);
    post(n, SG_OUTCOME_SITE_LOST, "A", NULL, WALL0 + 3, 0);
    drain(n);
    assert_int_equal(stats_of(n).queued, 3);
    sg_notify_destroy(&n);
    json_t *lines = lines_of(fx->out, 3);
    assert_string_equal(line_str(lines, 0, "kind"), "site_suspect");
    assert_string_equal(line_str(lines, 1, "kind"), "site_flapping");
    assert_string_equal(line_str(lines, 2, "kind"), "site_lost");
    json_decref(lines);
}

/* Logs an outcome in the journal at `path` directly, as the service does. */
static void log_outcome(const char *path, sg_outcome_t *o)
{
    sg_journal_t *j = sg_journal_open(path);
    assert_non_null(j);
    assert_int_equal(sg_journal_outcome(j, o, NULL), SG_OK);
    sg_journal_close(&j);
    sg_outcome_free(&o);
}

/* Registers the config's sinks in the journal (they start from its end), so
 * outcomes logged next are all there when notify opens again: a worker's
 * window sleeps on the fake clock cannot race the test's posting. */
static void register_sinks(fx_t *fx)
{
    sg_notify_t *n = notify_open(fx);
    sg_notify_destroy(&n);
}

static void test_decisions_of_one_site_within_the_window_go_as_one_message(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *s = add_jsonl(fx, "chat");
    s->group_ms = 30000;
    register_sinks(fx);
    const char *j = fx->tmp.journal;
    log_outcome(j, outcome(SG_OUTCOME_DECISION, "A", "sql", WALL0, 1, "why"));
    log_outcome(j, outcome(SG_OUTCOME_DECISION, "B", "files", WALL0 + 500, 4, "why"));
    log_outcome(j, outcome(SG_OUTCOME_JOB_STARTED, "A", "sql", WALL0 + 600, 1, "why"));
    log_outcome(j, outcome(SG_OUTCOME_DECISION, "A", "web", WALL0 + 1000, 2, "why"));
    log_outcome(j, outcome(SG_OUTCOME_DECISION, "A", "mail", WALL0 + 2000, 3, "why"));
    log_outcome(j, outcome(SG_OUTCOME_DECISION, "A", "late", WALL0 + 40000, 5, "why"));
    sg_notify_t *n = notify_open(fx);
    sg_notify_wake(n);
    drain(n);
    sg_notify_stats_t st = stats_of(n);
    assert_int_equal(st.queued, 6);
    assert_int_equal(st.delivered, 6);
    assert_int_equal(st.grouped, 1);
    sg_notify_destroy(&n);
    assert_true(sg_clock_wall(&fx->clock) >= WALL0 + 40000 + 30000); /* windows waited out */

    json_t *lines = lines_of(fx->out, 4);
    /* the job is not held back by the windows */
    assert_string_equal(line_str(lines, 0, "kind"), "job_started");
    char key[128];
    snprintf(key, sizeof key, "A/decision/group/%lld-%lld", (long long)WALL0,
             (long long)(WALL0 + 30000));
    assert_int_equal(count_key(lines, key), 1);
    assert_int_equal(count_key(lines, "4/files/decision"), 1); /* alone in its window */
    assert_int_equal(count_key(lines, "5/late/decision"), 1);
    for (size_t i = 0; i < json_array_size(lines); i++) {
        if (strcmp(line_str(lines, i, "dedup_key"), key) != 0)
            continue;
        json_t *g = json_array_get(lines, i);
        assert_string_equal(line_str(lines, i, "kind"), "decision");
        assert_string_equal(line_str(lines, i, "site"), "A");
        assert_string_equal(line_str(lines, i, "message"),
                            "failover decided for 3 collections of site A: sql, web, mail");
        json_t *colls = json_object_get(g, "collections");
        assert_int_equal(json_array_size(colls), 3);
        assert_string_equal(json_string_value(json_array_get(colls, 0)), "sql");
        assert_string_equal(json_string_value(json_array_get(colls, 2)), "mail");
        assert_null(json_object_get(g, "collection"));
    }
    json_decref(lines);
}

static void test_blocks_are_grouped_with_each_collections_reason(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *s = add_jsonl(fx, "chat");
    s->group_ms = 10000;
    register_sinks(fx);
    const char *j = fx->tmp.journal;
    log_outcome(j, outcome(SG_OUTCOME_BLOCKED, "A", "sql", WALL0, 0, "lag 9 s over RPO 5 s"));
    log_outcome(j, outcome(SG_OUTCOME_BLOCKED, "A", "web", WALL0 + 5, 0, "maintenance"));
    sg_notify_t *n = notify_open(fx);
    sg_notify_wake(n);
    drain(n);
    sg_notify_destroy(&n);
    json_t *lines = lines_of(fx->out, 1);
    assert_string_equal(line_str(lines, 0, "severity"), "critical");
    assert_string_equal(line_str(lines, 0, "message"),
                        "failover blocked for 2 collections of site A: sql (lag 9 s over RPO 5 "
                        "s); web (maintenance)");
    json_decref(lines);
}

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

/* Adds flaky sink `name`, down while fx->down exists and recording what it
 * delivers in fx->record, that retries for ever (backoff 100 ms to 2 s). */
static void add_outage_prone(fx_t *fx, const char *name)
{
    sg_sink_cfg_t *s = add_flaky(fx, name);
    s->retry = (sg_retry_cfg_t){.initial_ms = 100, .max_ms = 2000, .limit = 1000000000};
    add_option(s, "down_file", fx->down);
    add_option(s, "record", fx->record);
}

static void test_a_sink_that_is_down_does_not_delay_the_others_and_loses_nothing(void **state)
{
    fx_t *fx = *state;
    add_outage_prone(fx, "down");
    add_jsonl(fx, "up");
    touch(fx->down);
    sg_notify_t *n = notify_open(fx);
    enum { N = 20 };
    for (int i = 0; i < N; i++)
        post_one(n, i);
    /* the healthy sink gets everything while the other keeps failing */
    for (int i = 0; i < 2000 && line_count(fx->out) < N; i++)
        sg_test_pause_ms(5);
    assert_int_equal(line_count(fx->out), N);
    sg_notify_stats_t st;
    for (int i = 0; i < 2000; i++) { /* the other sink's worker has tried by now, or soon */
        st = sink_stats_of(n, "down");
        if (st.retries > 0)
            break;
        sg_test_pause_ms(5);
    }
    assert_int_equal(st.delivered, 0);
    assert_true(st.retries > 0);
    assert_int_equal(sg_notify_drain(n, 200), SG_ETIMEOUT); /* still down */
    assert_int_equal(unlink(fx->down), 0); /* the outage ends */
    drain(n);
    st = sink_stats_of(n, "down");
    assert_int_equal(st.delivered, N);
    assert_int_equal(st.dead, 0);
    sg_notify_destroy(&n);
    json_t *lines = lines_of(fx->record, N);
    for (int i = 0; i < N; i++) { /* each exactly once, in order */
        char key[64];
        snprintf(key, sizeof key, "9/sql/progress/%d", i);
        assert_string_equal(line_str(lines, (size_t)i, "dedup_key"), key);
    }
    json_decref(lines);
}

static void test_after_a_restart_undelivered_are_sent_and_delivered_are_not(void **state)
{
    fx_t *fx = *state;
    add_outage_prone(fx, "pager");
    sg_notify_t *n = notify_open(fx);
    post_one(n, 0);
    drain(n); /* delivered before the outage */
    touch(fx->down);
    post_one(n, 1);
    post_one(n, 2);
    sg_notify_stats_t st = {0};
    for (int i = 0; i < 2000 && st.retries == 0; i++) {
        sg_test_pause_ms(5);
        sg_notify_sink_stats(n, "pager", &st);
    }
    assert_true(st.retries > 0);
    sg_notify_destroy(&n); /* stopped with 1 and 2 pending */
    assert_int_equal(line_count(fx->record), 1);

    /* restarted, with a sink the journal has never seen */
    assert_int_equal(unlink(fx->down), 0);
    add_jsonl(fx, "late");
    n = notify_open(fx);
    post_one(n, 3);
    drain(n);
    sg_notify_destroy(&n);
    json_t *lines = lines_of(fx->record, 4);
    expect_progress_once_each(lines, 0, 3);
    json_decref(lines);
    lines = lines_of(fx->out, 1); /* the new sink starts from now */
    assert_string_equal(line_str(lines, 0, "dedup_key"), "9/sql/progress/3");
    json_decref(lines);
    sg_journal_t *j = open_journal(fx);
    assert_int_equal(sg_journal_outbox_count(j, "pager", SG_OUTBOX_DELIVERED), 4);
    assert_int_equal(sg_journal_outbox_count(j, "pager", SG_OUTBOX_PENDING), 0);
    sg_journal_close(&j);
}

/* --- batches, and the depth of the outbox ------------------------------------------------------ */

/* Notify opened on the fixture's journal, once it has handled every notice
 * logged there. */
static sg_notify_t *open_and_drain(fx_t *fx)
{
    sg_notify_t *n = notify_open(fx);
    sg_notify_wake(n);
    drain(n);
    return n;
}

/* Adds flaky sink `pager`, recording what it delivers in fx->record, with
 * option `key` set to `value`. */
static sg_sink_cfg_t *add_recording_pager(fx_t *fx, const char *key, const char *value)
{
    sg_sink_cfg_t *s = add_flaky(fx, "pager");
    add_option(s, "record", fx->record);
    add_option(s, key, value);
    return s;
}

/* Logs progress notices first..last in the journal, where the config's
 * sinks are registered (see register_sinks): a worker routes them all in one
 * turn and delivers them in one batch. */
static void log_progress(fx_t *fx, int first, int last)
{
    for (int i = first; i <= last; i++)
        log_outcome(fx->tmp.journal, progress(i));
}

/* Sink `sink` has `count` rows in `state` (SG_OUTBOX_*) in the outbox. */
static void expect_rows(fx_t *fx, const char *sink, int state, long count)
{
    sg_journal_t *j = open_journal(fx);
    assert_int_equal(sg_journal_outbox_count(j, sink, state), count);
    sg_journal_close(&j);
}

/* Progress notices 1..n, logged for the config's sinks, once notify has
 * handled them all. */
static sg_notify_t *deliver_progress(fx_t *fx, int n)
{
    register_sinks(fx);
    log_progress(fx, 1, n);
    return open_and_drain(fx);
}

/* Each progress notice first..last is among the lines `times` times. */
static void expect_progress_times(json_t *lines, int first, int last, int times)
{
    for (int i = first; i <= last; i++) {
        char key[64];
        snprintf(key, sizeof key, "9/sql/progress/%d", i);
        assert_int_equal(count_key(lines, key), times);
    }
}

static void test_a_batch_records_what_it_delivered_before_a_retry_and_sends_it_once(void **state)
{
    fx_t *fx = *state;
    add_recording_pager(fx, "retry_at", "5"); /* the fifth call answers RETRY */
    sg_notify_t *n = deliver_progress(fx, 10);
    sg_notify_stats_t st = sink_stats_of(n, "pager");
    expect_delivered_retried_dead(st, 10, 1, 0);
    assert_int_equal(st.pending, 0);
    sg_notify_destroy(&n);
    json_t *lines = lines_of(fx->record, 10); /* 1-4 were recorded before the retry */
    expect_progress_once_each(lines, 1, 10);
    assert_string_equal(line_str(lines, 4, "dedup_key"), "9/sql/progress/5");
    json_decref(lines);
}

static void test_notices_a_batch_delivered_before_a_retry_never_die_with_the_rest(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *s = add_recording_pager(fx, "retry_at", "5");
    /* one failure of the sink: every notice still pending dies */
    s->retry = (sg_retry_cfg_t){.initial_ms = 100, .max_ms = 100, .limit = 1};
    s->fallback = (char *)"mail";
    add_jsonl(fx, "mail")->kinds = SG_ROUTE_BLOCKED; /* only the fallback's notices */
    sg_notify_t *n = deliver_progress(fx, 10);
    expect_delivered_retried_dead(sink_stats_of(n, "pager"), 4, 0, 6);
    sg_notify_destroy(&n);
    json_t *lines = lines_of(fx->record, 4);
    expect_progress_once_each(lines, 1, 4);
    json_decref(lines);
    lines = lines_of(fx->out, 6); /* the fallback has 5-10, not the four delivered */
    expect_progress_once_each(lines, 5, 10);
    json_decref(lines);
}

static void test_a_fatal_notice_in_a_batch_dies_alone_and_the_batch_goes_on(void **state)
{
    fx_t *fx = *state;
    add_recording_pager(fx, "fatal_at", "3");
    sg_notify_t *n = deliver_progress(fx, 8);
    expect_delivered_retried_dead(sink_stats_of(n, "pager"), 7, 0, 1);
    sg_notify_destroy(&n);
    json_t *lines = lines_of(fx->record, 7);
    expect_progress_times(lines, 3, 3, 0);
    expect_progress_once_each(lines, 1, 2);
    expect_progress_once_each(lines, 4, 8);
    json_decref(lines);
    expect_rows(fx, "pager", SG_OUTBOX_DELIVERED, 7);
    expect_rows(fx, "pager", SG_OUTBOX_DEAD, 1);
}

/* --- plugins with deliver_batch, and plugins built before it ------------------------------ */

/* Adds sink `name` of the flaky plugin's build `build` ("flaky_batch",
 * "flaky_v1", "flaky"), recording what it delivers in `record` and each call
 * of the plugin in `calls`. */
static sg_sink_cfg_t *add_build(fx_t *fx, const char *name, const char *build, const char *record,
                                const char *calls)
{
    size_t v = fx->variants[0][0] ? 1 : 0;
    snprintf(fx->variants[v], sizeof fx->variants[v], "%s/sg_%s%s", TEST_PLUGIN_DIR, build,
             SG_TEST_DL_SUFFIX);
    sg_sink_cfg_t *s = add_sink(fx, name, "flaky");
    s->path = fx->variants[v];
    add_option(s, "record", record);
    add_option(s, "calls", calls);
    return s;
}

/* The lines of the calls file at `path`, which are exactly want[0..n). */
static void expect_calls(const char *path, const char *const *want, size_t n)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[64];
    size_t got = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (got >= n || strcmp(line, want[got]) != 0) {
            fclose(f);
            fail_msg("call %lu of the plugin was \"%s\", not \"%s\"", (unsigned long)(got + 1),
                     line, got < n ? want[got] : "(none)");
        }
        got++;
    }
    fclose(f);
    assert_int_equal(got, n);
}

static void test_a_batch_plugin_settles_each_notice_by_its_own_result(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *s = add_build(fx, "pager", "flaky_batch", fx->record, fx->calls);
    add_option(s, "fatal_at", "3"); /* the third notice of the call is refused for good */
    add_option(s, "retry_at", "5"); /* the fifth is to be retried, once */
    sg_notify_t *n = deliver_progress(fx, 10);
    expect_delivered_retried_dead(sink_stats_of(n, "pager"), 9, 1, 1);
    sg_notify_destroy(&n);
    /* all ten in one call; after the backoff only the fifth, alone */
    const char *calls[] = {"batch 10", "batch 1"};
    expect_calls(fx->calls, calls, 2);
    json_t *lines = lines_of(fx->record, 9);
    expect_progress_times(lines, 3, 3, 0);
    expect_progress_once_each(lines, 1, 2);
    expect_progress_once_each(lines, 4, 10);
    assert_string_equal(line_str(lines, 8, "dedup_key"), "9/sql/progress/5");
    json_decref(lines);
    expect_rows(fx, "pager", SG_OUTBOX_DELIVERED, 9);
    expect_rows(fx, "pager", SG_OUTBOX_DEAD, 1);
    expect_rows(fx, "pager", SG_OUTBOX_PENDING, 0);
}

static void test_the_retries_of_one_batch_call_count_one_failure_of_the_sink(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *s = add_build(fx, "pager", "flaky_batch", fx->record, fx->calls);
    s->retry = (sg_retry_cfg_t){.initial_ms = 100, .max_ms = 100, .limit = 2};
    add_option(s, "down_file", fx->down);
    touch(fx->down); /* every notice of every call is to be retried */
    sg_notify_t *n = deliver_progress(fx, 3);
    /* two failed attempts of the sink, each a call of all three, then they die */
    expect_delivered_retried_dead(sink_stats_of(n, "pager"), 0, 3, 3);
    sg_notify_destroy(&n);
    const char *calls[] = {"batch 3", "batch 3"};
    expect_calls(fx->calls, calls, 2);
    expect_rows(fx, "pager", SG_OUTBOX_DEAD, 3);
}

static void test_a_batch_plugins_calls_start_at_16_and_grow_while_fast(void **state)
{
    fx_t *fx = *state;
    add_build(fx, "pager", "flaky_batch", fx->record, fx->calls);
    sg_notify_t *n = deliver_progress(fx, 40);
    expect_delivered_retried_dead(sink_stats_of(n, "pager"), 40, 0, 0);
    sg_notify_destroy(&n);
    const char *calls[] = {"batch 16", "batch 24"}; /* 16, then up to 32 */
    expect_calls(fx->calls, calls, 2);
    json_t *lines = lines_of(fx->record, 40);
    for (int i = 0; i < 40; i++) { /* in log order */
        char key[64];
        snprintf(key, sizeof key, "9/sql/progress/%d", i + 1);
        assert_string_equal(line_str(lines, (size_t)i, "dedup_key"), key);
    }
    json_decref(lines);
}

static void test_plugins_without_deliver_batch_get_one_deliver_call_per_notice(void **state)
{
    fx_t *fx = *state;
    /* built before deliver_batch was appended: its struct_size ends at close,
     * and the deliver_batch behind it must not be read */
    add_build(fx, "old", "flaky_v1", fx->record, fx->calls);
    /* of today's size, with deliver_batch NULL */
    add_build(fx, "plain", "flaky", fx->record2, fx->calls2);
    sg_notify_t *n = deliver_progress(fx, 4);
    expect_delivered_retried_dead(sink_stats_of(n, "old"), 4, 0, 0);
    expect_delivered_retried_dead(sink_stats_of(n, "plain"), 4, 0, 0);
    sg_notify_destroy(&n);
    const char *calls[] = {"deliver", "deliver", "deliver", "deliver"};
    expect_calls(fx->calls, calls, 4);
    expect_calls(fx->calls2, calls, 4);
    json_t *lines = lines_of(fx->record, 4);
    expect_progress_once_each(lines, 1, 4);
    json_decref(lines);
}

enum { CRASH_N = 12, CRASH_AT = 5 }; /* notices; the delivery in hand when the process dies */

/* Flaky sink `pager` recording in fx->record; with `hold`, it holds its
 * delivery CRASH_AT (the ones before are answered OK) while fx->hold exists. */
static void add_crash_pager(fx_t *fx, bool hold)
{
    sg_sink_cfg_t *s = add_recording_pager(fx, "hold_after", "4"); /* CRASH_AT - 1 */
    if (hold)
        add_option(s, "hold_file", fx->hold);
}

/* The child of the crash test, in the fixture directory `dir`: notify
 * delivers the notices logged there until its plugin holds delivery
 * CRASH_AT; then (returning 0) the process is killed. No cmocka assertion
 * here: this is another process. */
static int child_delivers_part_of_a_batch(const char *dir)
{
    static fx_t fx; /* the process dies with it */
    snprintf(fx.tmp.dir, sizeof fx.tmp.dir, "%s", dir);
    snprintf(fx.tmp.journal, sizeof fx.tmp.journal, "%s/journal.db", dir);
    fx_init(&fx);
    add_crash_pager(&fx, true);
    sg_notify_t *n = sg_notify_open(&fx.cfg, &fx.clock, fx.tmp.journal, &fx.errs);
    if (!n)
        return 1;
    sg_notify_wake(n);
    for (int i = 0; i < 6000; i++) { /* up to 30 s for the notice in hand */
        FILE *f = fopen(fx.held, "r");
        if (f) {
            fclose(f);
            return 0;
        }
        sg_test_pause_ms(5);
    }
    return 1;
}

static void test_a_crash_before_a_batch_is_recorded_resends_its_notices_and_loses_none(
    void **state)
{
    fx_t *fx = *state;
    add_crash_pager(fx, false);
    register_sinks(fx);
    log_progress(fx, 1, CRASH_N);
    touch(fx->hold);
    assert_int_equal(sg_test_run_killed("delivers_part_of_a_batch", fx->tmp.dir),
                     SG_TEST_CHILD_KILLED);
    /* the process died with notices 1-4 delivered and none of them recorded */
    json_t *lines = lines_of(fx->record, CRASH_AT - 1);
    expect_progress_once_each(lines, 1, CRASH_AT - 1);
    json_decref(lines);
    expect_rows(fx, "pager", SG_OUTBOX_DELIVERED, 0);
    expect_rows(fx, "pager", SG_OUTBOX_PENDING, CRASH_N);

    /* restarted: every notice is sent; 1-4 once more, with the same dedup keys */
    assert_int_equal(unlink(fx->hold), 0);
    sg_notify_t *n = open_and_drain(fx);
    assert_int_equal(sink_stats_of(n, "pager").delivered, CRASH_N);
    assert_int_equal(stats_of(n).pending, 0);
    sg_notify_destroy(&n);
    lines = lines_of(fx->record, CRASH_N + CRASH_AT - 1);
    expect_progress_times(lines, 1, CRASH_AT - 1, 2);
    expect_progress_once_each(lines, CRASH_AT, CRASH_N);
    json_decref(lines);
    expect_rows(fx, "pager", SG_OUTBOX_DELIVERED, CRASH_N);
    expect_rows(fx, "pager", SG_OUTBOX_PENDING, 0);
}

/* Polls (real time, up to 10 s) until sink `name` counts `pending` notices
 * and has delivered `delivered`. */
static void wait_for_sink(sg_notify_t *n, const char *name, uint64_t pending, uint64_t delivered)
{
    sg_notify_stats_t st = sink_stats_of(n, name);
    for (int i = 0; i < 2000 && (st.pending != pending || st.delivered != delivered); i++) {
        sg_test_pause_ms(5);
        st = sink_stats_of(n, name);
    }
    assert_int_equal(st.pending, pending);
    assert_int_equal(st.delivered, delivered);
}

static void test_outbox_depth_counts_the_notices_left_pending_by_the_last_run(void **state)
{
    fx_t *fx = *state;
    add_outage_prone(fx, "pager");
    add_jsonl(fx, "audit");
    register_sinks(fx);
    enum { N = 15 };
    touch(fx->down);
    sg_notify_t *n = notify_open(fx);
    for (int i = 0; i < N; i++)
        post_one(n, i);
    wait_for_sink(n, "pager", N, 0); /* routed, and being retried */
    wait_for_sink(n, "audit", 0, N);
    sg_notify_destroy(&n);

    /* restarted with the receiver still down: the depth is the outbox's */
    n = notify_open(fx);
    sg_notify_stats_t st = sink_stats_of(n, "pager");
    assert_int_equal(st.pending, N);
    assert_int_equal(st.queued, 0); /* nothing routed by this run */
    assert_int_equal(sink_stats_of(n, "audit").pending, 0);
    assert_int_equal(stats_of(n).pending, N);
    /* a new backlog adds to it rather than hiding behind it */
    post_one(n, N);
    wait_for_sink(n, "pager", N + 1, 0);
    assert_int_equal(sg_notify_drain(n, 200), SG_ETIMEOUT); /* still down */

    /* the receiver is back: the outbox empties and the depth reads 0 */
    assert_int_equal(unlink(fx->down), 0);
    drain(n);
    st = sink_stats_of(n, "pager");
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.delivered, N + 1);
    assert_int_equal(stats_of(n).pending, 0);
    sg_notify_destroy(&n);
    json_t *lines = lines_of(fx->record, N + 1);
    expect_progress_once_each(lines, 0, N);
    json_decref(lines);
}

/* --- grouping by default for people's sinks ------------------------------------------------- */

/* A config as the service loads it, with one slack sink posting to `url`
 * that does not set `group`. */
static sg_config_t *load_slack_yaml(fx_t *fx, const char *url)
{
    char text[2048];
    snprintf(text, sizeof text,
             "plugin_dir: %s\n"
             "sites:\n  - name: A\n  - name: B\n  - name: C\n"
             "observers:\n  - id: o1\n    site: C\n"
             "collections:\n  - name: sql\n    cim_path: x\n    site: A\n    replica_site: C\n"
             "sinks:\n"
             "  - name: chat\n"
             "    plugin: slack\n"
             "    options:\n"
             "      url: %s\n"
             "      timeout: 5s\n",
             PLUGIN_DIR, url);
    sg_config_t *cfg = NULL;
    assert_int_equal(sg_config_load_string("t.yaml", text, strlen(text), &cfg, &fx->errs), SG_OK);
    return cfg;
}

/* The one body among h's that mentions `text`, or a failed test. */
static const char *body_with(const pn_http_many_t *h, const char *text)
{
    const char *found = NULL;
    for (size_t i = 0; i < h->n && i < PN_MANY_MAX; i++) {
        if (strstr(h->bodies[i], text)) {
            assert_null(found);
            found = h->bodies[i];
        }
    }
    if (!found)
        fail_msg("no message mentions \"%s\"", text);
    return found;
}

static void test_a_storms_decisions_reach_a_slack_sink_as_one_message_per_site(void **state)
{
    fx_t *fx = *state;
    static pn_http_many_t chat;
    pn_http_many_start(&chat, 200);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/services/T0/B0/X", chat.srv.port);
    sg_config_t *cfg = load_slack_yaml(fx, url);
    assert_int_equal(cfg->sinks[0].group_ms, SG_SINK_GROUP_DEFAULT_MS); /* not configured */
    sg_notify_t *n = sg_notify_open(cfg, &fx->clock, fx->tmp.journal, &fx->errs);
    assert_non_null(n);
    sg_notify_destroy(&n); /* registered: the storm below is routed in one turn */

    /* site A loses 12 collections and site B 5, within 6 s, decisions interleaved */
    const char *j = fx->tmp.journal;
    log_outcome(j, outcome(SG_OUTCOME_SITE_LOST, "A", NULL, WALL0, 0, "silent"));
    log_outcome(j, outcome(SG_OUTCOME_SITE_LOST, "B", NULL, WALL0 + 10, 0, "silent"));
    for (int i = 0; i < 12; i++) {
        char coll[16];
        snprintf(coll, sizeof coll, "a%02d", i);
        log_outcome(j, outcome(SG_OUTCOME_DECISION, "A", coll, WALL0 + 100 + 500 * i,
                               (uint64_t)(i + 1), "site A lost"));
        if (i >= 5)
            continue;
        snprintf(coll, sizeof coll, "b%02d", i);
        log_outcome(j, outcome(SG_OUTCOME_DECISION, "B", coll, WALL0 + 150 + 500 * i,
                               (uint64_t)(i + 100), "site B lost"));
    }
    n = sg_notify_open(cfg, &fx->clock, fx->tmp.journal, &fx->errs);
    assert_non_null(n);
    sg_notify_wake(n);
    drain(n);
    sg_notify_stats_t st = stats_of(n);
    assert_int_equal(st.queued, 2 + 12 + 5);
    assert_int_equal(st.delivered, 2 + 12 + 5);
    assert_int_equal(st.grouped, 2);
    sg_notify_destroy(&n);
    sg_config_destroy(&cfg);
    pn_http_many_finish(&chat);

    /* two site notices and one message per site for its decisions */
    assert_int_equal(chat.n, 2 + 2);
    const char *a = body_with(&chat, "failover decided for 12 collections of site A");
    const char *b = body_with(&chat, "failover decided for 5 collections of site B");
    assert_non_null(strstr(a, "a00, a01"));
    assert_non_null(strstr(a, "a11"));
    assert_non_null(strstr(b, "b00, b01"));
    assert_null(strstr(b, "a00"));
    pn_http_many_free(&chat);
}

/* --- reloads ---------------------------------------------------------------------------------- */

/* Config `k` (0 or 1) for a reload: the fixture's, with copies of its sinks
 * that set_option may change. Lives as long as the fixture. */
static sg_config_t *next_config(fx_t *fx, int k)
{
    sg_config_t *next = &fx->next[k];
    *next = fx->cfg;
    memcpy(fx->next_sinks[k], fx->sinks, sizeof fx->sinks);
    memcpy(fx->next_opts[k], fx->opts, sizeof fx->opts);
    for (size_t i = 0; i < fx->cfg.n_sinks; i++)
        fx->next_sinks[k][i].options = fx->next_opts[k][i];
    next->sinks = fx->next_sinks[k];
    return next;
}

/* Sets option `key` (which sink `i` of cfg has) to `value`. */
static void set_option(sg_config_t *cfg, size_t i, const char *key, const char *value)
{
    sg_sink_cfg_t *s = &cfg->sinks[i];
    for (size_t k = 0; k < s->n_options; k++) {
        if (strcmp(s->options[k].key, key) == 0) {
            s->options[k].value = (char *)value;
            return;
        }
    }
    fail_msg("sink %s has no option %s", s->name, key);
}

static void reload_ok(fx_t *fx, sg_notify_t *n, const sg_config_t *next)
{
    int rc = sg_notify_reload(n, next, &fx->errs);
    for (size_t i = 0; i < fx->errs.n; i++)
        print_error("error: %s\n", fx->errs.items[i]);
    assert_int_equal(rc, SG_OK);
}

/* Waits (real time, up to 10 s) until the file at `path` exists. */
static void wait_for_file(const char *path)
{
    for (int i = 0; i < 2000; i++) {
        FILE *f = fopen(path, "r");
        if (f) {
            fclose(f);
            return;
        }
        sg_test_pause_ms(5);
    }
    fail_msg("%s never appeared", path);
}

/* Notify with one flaky sink `pager` recording in fx->record, whose plugin
 * has notice 1 in hand and holds it while fx->hold exists (up to 30 s). */
static sg_notify_t *open_with_a_held_delivery(fx_t *fx)
{
    sg_sink_cfg_t *s = add_flaky(fx, "pager");
    add_option(s, "record", fx->record);
    add_option(s, "hold_file", fx->hold);
    sg_notify_t *n = notify_open(fx);
    touch(fx->hold);
    post_one(n, 1);
    wait_for_file(fx->held);
    return n;
}

/* Reloads with next_config(k), where `pager` records in `record`. */
static void reload_pager(fx_t *fx, sg_notify_t *n, int k, const char *record)
{
    sg_config_t *next = next_config(fx, k);
    set_option(next, 0, "record", record);
    reload_ok(fx, n, next);
}

static int64_t real_ms(void)
{
    return sg_clock_mono(sg_clock_system());
}

static void expect_one_line(const char *path, const char *dedup_key)
{
    json_t *lines = lines_of(path, 1);
    assert_string_equal(line_str(lines, 0, "dedup_key"), dedup_key);
    json_decref(lines);
}

static void test_a_leaders_reloaded_sinks_deliver_without_a_change_of_leadership(void **state)
{
    fx_t *fx = *state;
    fx->cfg.leader.mode = SG_LEADER_ETCD; /* the sinks start paused */
    add_jsonl(fx, "audit");
    sg_notify_t *n = notify_open(fx);
    sg_notify_set_active(n, true); /* it leads */
    post_one(n, 1);
    drain(n);
    sg_config_t *next = next_config(fx, 0);
    set_option(next, 0, "path", fx->out2);
    reload_ok(fx, n, next);
    post_one(n, 2);
    drain(n);
    sg_notify_destroy(&n);
    expect_one_line(fx->out, "9/sql/progress/1");
    expect_one_line(fx->out2, "9/sql/progress/2");
}

static void test_a_standbys_reloaded_sinks_stay_paused_until_it_leads(void **state)
{
    fx_t *fx = *state;
    fx->cfg.leader.mode = SG_LEADER_ETCD;
    add_jsonl(fx, "audit");
    sg_notify_t *n = notify_open(fx);
    sg_config_t *next = next_config(fx, 0);
    set_option(next, 0, "path", fx->out2);
    reload_ok(fx, n, next);
    post_one(n, 1);
    drain(n); /* paused sinks count as idle */
    assert_int_equal(line_count(fx->out2), 0);
    sg_notify_set_active(n, true);
    drain(n);
    sg_notify_destroy(&n);
    assert_int_equal(line_count(fx->out), 0);
    expect_one_line(fx->out2, "9/sql/progress/1");
}

static void test_a_reload_does_not_wait_for_a_delivery_in_progress(void **state)
{
    fx_t *fx = *state;
    sg_notify_t *n = open_with_a_held_delivery(fx);
    int64_t t0 = real_ms();
    reload_pager(fx, n, 0, fx->record2);
    assert_in_range(real_ms() - t0, 0, 5000); /* the delivery is held for up to 30 s */
    post_one(n, 2);
    /* one worker per sink: the new pager waits while the old one delivers */
    for (int i = 0; i < 20; i++) {
        sg_notify_tick(n);
        sg_test_pause_ms(5);
    }
    assert_int_equal(line_count(fx->record2), 0);
    assert_int_equal(line_count(fx->record), 0);
    assert_int_equal(unlink(fx->hold), 0); /* the receiver answers */
    drain(n);
    sg_notify_stats_t st = sink_stats_of(n, "pager"); /* counters carry over */
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.queued, 2);
    sg_notify_destroy(&n);
    expect_one_line(fx->record, "9/sql/progress/1");  /* the old pager finished it */
    expect_one_line(fx->record2, "9/sql/progress/2"); /* the new one took over */
}

static void test_two_reloads_during_a_held_delivery_start_only_the_newest_sinks(void **state)
{
    fx_t *fx = *state;
    sg_notify_t *n = open_with_a_held_delivery(fx);
    reload_pager(fx, n, 0, fx->record2);
    reload_pager(fx, n, 1, fx->record3);
    post_one(n, 2);
    assert_int_equal(unlink(fx->hold), 0);
    drain(n);
    sg_notify_destroy(&n);
    expect_one_line(fx->record, "9/sql/progress/1");
    assert_int_equal(line_count(fx->record2), 0); /* replaced before it started */
    expect_one_line(fx->record3, "9/sql/progress/2");
}

static void test_a_reload_whose_sinks_cannot_start_keeps_the_old_ones(void **state)
{
    fx_t *fx = *state;
    add_jsonl(fx, "audit");
    sg_notify_t *n = notify_open(fx);
    char bad[320];
    snprintf(bad, sizeof bad, "%s/no/such/dir/out.jsonl", fx->tmp.dir);
    sg_config_t *next = next_config(fx, 0);
    set_option(next, 0, "path", bad);
    assert_int_equal(sg_notify_reload(n, next, &fx->errs), SG_ECONFIG);
    assert_mentions(find_error(fx, "failed to start"), "t.yaml:30:5: sink 'audit'");
    post_one(n, 1);
    drain(n);
    assert_int_equal(sink_stats_of(n, "audit").delivered, 1);
    sg_notify_destroy(&n);
    expect_one_line(fx->out, "9/sql/progress/1");
}

static void test_a_reload_keeps_the_counters_of_sinks_that_stay_and_that_go(void **state)
{
    fx_t *fx = *state;
    add_audit_and_screen(fx);
    sg_notify_t *n = notify_open(fx);
    post_one(n, 1);
    drain(n);
    sg_config_t *next = next_config(fx, 0);
    next->n_sinks = 1; /* screen goes */
    set_option(next, 0, "path", fx->out2);
    reload_ok(fx, n, next);
    post_one(n, 2);
    drain(n);
    assert_int_equal(sink_stats_of(n, "audit").delivered, 2);
    sg_notify_stats_t st;
    assert_int_equal(sg_notify_sink_stats(n, "screen", &st), SG_ENOTFOUND);
    assert_int_equal(stats_of(n).delivered, 3);
    sg_notify_destroy(&n);
    expect_one_line(fx->out2, "9/sql/progress/2");
}

/* --- options and libraries ------------------------------------------------------------ */

static void test_unknown_option_is_an_error_at_its_line_and_column(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *s = add_jsonl(fx, "audit");
    add_option(s, "colour", "blue"); /* t.yaml:32:7 */
    const char *e = new_fails_with(fx, "colour");
    assert_mentions(e, "t.yaml:32:7: ");
    assert_mentions(e, "sink 'audit'");
    assert_mentions(e, "path, fsync");
    assert_int_equal(access(fx->out, F_OK), -1);
}

static void test_missing_required_path_is_an_error_at_the_sink(void **state)
{
    fx_t *fx = *state;
    add_sink(fx, "audit", "jsonl");
    const char *e = new_fails_with(fx, "'path'");
    assert_mentions(e, "t.yaml:30:5: ");
    assert_mentions(e, "required");
}

static void test_fsync_must_be_true_or_false(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *s = add_jsonl(fx, "audit");
    add_option(s, "fsync", "maybe");
    const char *e = new_fails_with(fx, "'fsync'");
    assert_mentions(e, "t.yaml:32:7: ");
    assert_mentions(e, "true or false");
}

/* A flaky sink (the test plugin) with the one option key=value: the error
 * the check gives for it, at t.yaml:31:7, or NULL when the check passes. */
static const char *flaky_option_error(fx_t *fx, const char *key, const char *value)
{
    add_option(add_flaky(fx, "flaky"), key, value);
    if (sg_notify_check(&fx->cfg, &fx->errs) == SG_OK)
        return NULL;
    const char *e = find_error(fx, key);
    assert_mentions(e, "t.yaml:31:7: ");
    return e;
}

static void test_int_option_must_be_an_integer(void **state)
{
    const char *e = flaky_option_error(*state, "retry_first", "3x");
    assert_non_null(e);
    assert_mentions(e, "'retry_first' must be an integer");
}

/* A duration option is what the config's durations are: at most 100 years,
 * so that a plugin may add it to a time (alertmanager's hold, exec's
 * timeout) without overflow; found with fuzz_plugin_options. */
static void test_duration_option_beyond_100_years_is_an_error(void **state)
{
    fx_t *fx = *state;
    const char *e = flaky_option_error(fx, "hold", "9223372036854775807");
    assert_non_null(e);
    assert_mentions(e, "'hold' must be a duration such as 250ms, 3s or 2m, at most 100");
    fx->cfg.n_sinks = 0; /* the same sink again, 100 years long */
    assert_null(flaky_option_error(fx, "hold", "876000h"));
}

/* An error that echoes what was written (here a key mistyped as the secret
 * itself) masks the sink's secret values; found with fuzz_plugin_options. */
static void test_an_option_error_never_echoes_a_secret_value(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *s = add_flaky(fx, "flaky");
    add_option(s, "token", "SECRET-token-4711");
    add_option(s, "SECRET-token-4711", "x");
    const char *e = check_fails_with(fx, "unknown option");
    assert_mentions(e, "t.yaml:32:7: ");
    assert_null(strstr(e, "SECRET-token-4711"));
    for (size_t i = 0; i < fx->errs.n; i++)
        assert_null(strstr(fx->errs.items[i], "SECRET-token-4711"));
}

static void test_option_set_twice_is_an_error(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *s = add_jsonl(fx, "audit");
    add_option(s, "path", fx->out);
    const char *e = check_fails_with(fx, "twice");
    assert_mentions(e, "t.yaml:32:7: ");
}

static void test_missing_plugin_library_is_an_error_naming_the_path(void **state)
{
    fx_t *fx = *state;
    add_sink(fx, "pager", "nosuch");
    const char *e = new_fails_with(fx, PLUGIN_DIR "/sg_nosuch" SG_TEST_DL_SUFFIX);
    assert_mentions(e, "t.yaml:30:5: ");
    assert_mentions(e, "sink 'pager'");
}

static void test_plugin_of_another_abi_version_is_refused(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *s = add_sink(fx, "old", "flaky");
    s->path = (char *)TEST_PLUGIN_DIR "/sg_badabi" SG_TEST_DL_SUFFIX;
    const char *e = check_fails_with(fx, "is ABI version 7, this siteguard speaks 1");
    assert_mentions(e, "t.yaml:30:5: sink 'old': plugin library '");
    assert_mentions(e, "sg_badabi" SG_TEST_DL_SUFFIX);
}

static void test_library_holding_another_plugin_is_refused(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *s = add_sink(fx, "screen", "console");
    s->path = (char *)PLUGIN_DIR "/sg_jsonl" SG_TEST_DL_SUFFIX;
    add_option(s, "path", fx->out);
    check_fails_with(fx, "holds plugin 'jsonl', not 'console'");
}

static void test_plugin_dir_comes_from_the_environment_when_not_configured(void **state)
{
    fx_t *fx = *state;
    fx->cfg.plugin_dir = NULL;
    add_jsonl(fx, "audit");
    assert_int_equal(sg_test_setenv("SG_PLUGIN_DIR", PLUGIN_DIR), 0);
    int rc = sg_notify_check(&fx->cfg, &fx->errs);
    sg_test_setenv("SG_PLUGIN_DIR", NULL);
    assert_int_equal(rc, SG_OK);
    assert_int_equal(fx->errs.n, 0);
}

/* Makes the folders of `rel` (a/b/c) under fx->tmp.dir, one by one (those
 * there already kept), and writes the full path of the last into out. */
static void make_dirs(fx_t *fx, const char *rel, char *out, size_t len)
{
    snprintf(out, len, "%s", fx->tmp.dir);
    char *copy = sg_strdupf("%s", rel);
    assert_non_null(copy);
    for (char *part = strtok(copy, "/"); part; part = strtok(NULL, "/")) {
        size_t used = strlen(out);
        snprintf(out + used, len - used, "/%s", part);
        struct stat st;
        if (stat(out, &st) != 0)
            assert_int_equal(sg_test_mkdir(out), 0);
    }
    free(copy);
}

/* sg_pluginlib_default_dir's folder, asserting it finds one. */
static char *default_dir(const char *exe_dir, const char *install_dir)
{
    char *dir = NULL, *looked = NULL;
    assert_int_equal(sg_pluginlib_default_dir(exe_dir, install_dir, &dir, &looked), SG_OK);
    assert_null(looked);
    return dir;
}

static void test_plugins_beside_the_executable_come_before_the_package_folders(void **state)
{
    fx_t *fx = *state;
    char bin[400], beside[400], pkg[400], installed[400];
    make_dirs(fx, "usr/bin/plugins", beside, sizeof beside);
    make_dirs(fx, "usr/lib/siteguard/plugins", pkg, sizeof pkg);
    make_dirs(fx, "opt", installed, sizeof installed);
    snprintf(bin, sizeof bin, "%s/usr/bin", fx->tmp.dir);
    char *dir = default_dir(bin, installed);
    assert_string_equal(dir, beside);
    free(dir);
}

static void test_an_unpacked_package_finds_its_plugins_from_its_own_bin(void **state)
{
    fx_t *fx = *state;
    char bin[400], pkg[400], installed[400];
    make_dirs(fx, "root/usr/bin", bin, sizeof bin);
    make_dirs(fx, "root/usr/lib/siteguard/plugins", pkg, sizeof pkg);
    make_dirs(fx, "installed", installed, sizeof installed);
    char *dir = default_dir(bin, installed); /* the unpacked tree, not the installed folder */
    assert_string_equal(dir, pkg);
    free(dir);
}

static void test_the_compiled_in_plugin_folder_is_the_last_resort(void **state)
{
    fx_t *fx = *state;
    char bin[400], installed[400];
    make_dirs(fx, "copied/bin", bin, sizeof bin);
    make_dirs(fx, "usr/lib/siteguard/plugins", installed, sizeof installed);
    char *dir = default_dir(bin, installed);
    assert_string_equal(dir, installed);
    free(dir);
    dir = default_dir(NULL, installed); /* the executable's folder unknown */
    assert_string_equal(dir, installed);
    free(dir);
}

static void test_no_plugin_folder_names_every_place_looked(void **state)
{
    fx_t *fx = *state;
    char bin[400], want[1400];
    make_dirs(fx, "bin", bin, sizeof bin);
    char *dir = NULL, *looked = NULL;
    assert_int_equal(sg_pluginlib_default_dir(bin, "/nonexistent/sg-plugins", &dir, &looked),
                     SG_ENOTFOUND);
    assert_null(dir);
    snprintf(want, sizeof want, "%s/bin/plugins, %s/lib/siteguard/plugins, /nonexistent/sg-plugins",
             fx->tmp.dir, fx->tmp.dir);
    assert_string_equal(looked, want);
    free(looked);
    assert_int_equal(sg_pluginlib_default_dir(bin, NULL, &dir, NULL), SG_ENOTFOUND);
    assert_int_equal(sg_pluginlib_default_dir(bin, "", &dir, NULL), SG_ENOTFOUND);
}

static void test_plugin_that_fails_to_init_fails_new(void **state)
{
    fx_t *fx = *state;
    char bad[320];
    snprintf(bad, sizeof bad, "%s/no/such/dir/out.jsonl", fx->tmp.dir);
    add_option(add_sink(fx, "audit", "jsonl"), "path", bad);
    const char *e = new_fails_with(fx, "failed to start");
    assert_mentions(e, "t.yaml:30:5: ");
}

static void test_check_accepts_good_sinks_and_does_not_create_the_file(void **state)
{
    fx_t *fx = *state;
    sg_sink_cfg_t *s = add_jsonl(fx, "audit");
    add_option(s, "fsync", "true");
    assert_int_equal(sg_notify_check(&fx->cfg, &fx->errs), SG_OK);
    assert_int_equal(fx->errs.n, 0);
    assert_int_equal(access(fx->out, F_OK), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_check_reports_every_broken_sink(void **state)
{
    fx_t *fx = *state;
    add_sink(fx, "audit", "jsonl");              /* no path */
    add_option(add_sink(fx, "screen", "console"), "colour", "blue");
    assert_int_equal(sg_notify_check(&fx->cfg, &fx->errs), SG_ECONFIG);
    assert_int_equal(fx->errs.n, 2);
    assert_mentions(find_error(fx, "'path'"), "t.yaml:30:5: ");
    assert_mentions(find_error(fx, "'colour'"), "t.yaml:41:7: ");
}

/* --- a config from YAML, as the service loads it -------------------------------------- */

/* Loads a small config whose sink "audit" writes to fx->out, with one more
 * option line `extra` (or none) at t.yaml:18:7. */
static sg_config_t *load_yaml(fx_t *fx, const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "plugin_dir: %s\n"
             "sites:\n"
             "  - name: A\n"
             "  - name: B\n"
             "observers:\n"
             "  - id: o1\n"
             "    site: A\n"
             "collections:\n"
             "  - name: sql\n"
             "    cim_path: x\n"
             "    site: A\n"
             "    replica_site: B\n"
             "sinks:\n"
             "  - name: audit\n"
             "    plugin: jsonl\n"
             "    options:\n"
             "      path: %s\n"
             "%s",
             PLUGIN_DIR, fx->out, extra);
    sg_config_t *cfg = NULL;
    assert_int_equal(sg_config_load_string("t.yaml", text, strlen(text), &cfg, &fx->errs), SG_OK);
    assert_non_null(cfg);
    return cfg;
}

static void test_sink_from_yaml_delivers_to_its_file(void **state)
{
    fx_t *fx = *state;
    sg_config_t *cfg = load_yaml(fx, "      fsync: true\n");
    sg_notify_t *n = sg_notify_new(cfg, &fx->clock, &fx->errs);
    assert_non_null(n);
    post_one(n, 1);
    post_one(n, 2);
    drain(n);
    sg_notify_destroy(&n);
    sg_config_destroy(&cfg);
    FILE *f = fopen(fx->out, "r");
    assert_non_null(f);
    char line[4096];
    int count = 0;
    while (fgets(line, sizeof line, f))
        count++;
    fclose(f);
    assert_int_equal(count, 2);
}

static void test_unknown_option_in_yaml_is_reported_at_its_line_and_column(void **state)
{
    fx_t *fx = *state;
    sg_config_t *cfg = load_yaml(fx, "      colour: blue\n");
    assert_int_equal(sg_notify_check(cfg, &fx->errs), SG_ECONFIG);
    assert_int_equal(fx->errs.n, 1);
    assert_mentions(find_error(fx, "'colour'"), "t.yaml:18:7: ");
    sg_config_destroy(&cfg);
}

/* --- the console plugin's line ---------------------------------------------------------- */

static sg_outcome_t *console_outcome(sg_outcome_kind_t kind, const char *message)
{
    sg_outcome_t *o = sg_outcome_new(kind, WALL0 + 3120); /* 17:00:03.120 */
    assert_non_null(o);
    assert_int_equal(sg_outcome_set(o, &o->site, "A"), SG_OK);
    assert_int_equal(sg_outcome_set(o, &o->replica_site, "B"), SG_OK);
    if (kind != SG_OUTCOME_SITE_LOST)
        assert_int_equal(sg_outcome_set(o, &o->collection, "sql"), SG_OK);
    assert_int_equal(sg_outcome_set(o, &o->message, message), SG_OK);
    return o;
}

static void assert_console_line(const sg_outcome_t *o, const char *want)
{
    char line[512];
    size_t need = s_format_line(o, line, sizeof line);
    assert_string_equal(line, want);
    assert_int_equal(need, strlen(want));
}

/* The console line of an outcome of `kind` with `message` is `want`. */
static void expect_console_line(sg_outcome_kind_t kind, const char *message, const char *want)
{
    sg_outcome_t *o = console_outcome(kind, message);
    assert_console_line(o, want);
    sg_outcome_free(&o);
}

static void test_console_line_for_a_lost_site(void **state)
{
    (void)state;
    expect_console_line(SG_OUTCOME_SITE_LOST, "silent for 3.0 s (hold-down 3 s)",
                        "17:00:03.120  LOST       site A: silent for 3.0 s (hold-down 3 s)");
}

static void test_console_line_for_a_decision(void **state)
{
    (void)state;
    expect_console_line(SG_OUTCOME_DECISION, "site A lost",
                        "17:00:03.120  DECISION   sql (A -> B): site A lost");
}

static void test_console_lines_for_a_job(void **state)
{
    (void)state;
    sg_outcome_t *o = console_outcome(SG_OUTCOME_JOB_STARTED, NULL);
    assert_int_equal(sg_outcome_set(o, &o->job_path, "job-7"), SG_OK);
    assert_console_line(o, "17:00:03.120  STARTED    sql job job-7");
    sg_outcome_free(&o);

    o = console_outcome(SG_OUTCOME_PROGRESS, NULL);
    o->percent = 40;
    assert_console_line(o, "17:00:03.120  PROGRESS   sql 40%");
    sg_outcome_free(&o);

    expect_console_line(SG_OUTCOME_SUCCEEDED, "in 2.1 s",
                        "17:00:03.120  SUCCEEDED  sql (A -> B): in 2.1 s");
    expect_console_line(SG_OUTCOME_SUCCEEDED, NULL,
                        "17:00:03.120  SUCCEEDED  sql failed over to B");

    o = console_outcome(SG_OUTCOME_FAILED, "job ended in Exception");
    o->attempt = 2;
    o->return_value = 32768;
    o->error_code = 32789;
    assert_console_line(o, "17:00:03.120  FAILED     sql (A -> B): job ended in Exception "
                           "[attempt 2, return 32768, error 32789]");
    sg_outcome_free(&o);
}

static void test_console_line_for_a_flapping_site(void **state)
{
    (void)state;
    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_SITE_FLAPPING, WALL0 + 3120);
    assert_int_equal(sg_outcome_set(o, &o->site, "A"), SG_OK);
    assert_int_equal(sg_outcome_set(o, &o->message, "site A is flapping: 5 changes in 60 s"),
                     SG_OK);
    assert_console_line(o, "17:00:03.120  FLAPPING   site A: site A is flapping: 5 changes in "
                           "60 s");
    sg_outcome_free(&o);
}

static void test_console_line_is_one_line_even_when_the_message_has_newlines(void **state)
{
    (void)state;
    expect_console_line(SG_OUTCOME_BLOCKED, "replica B unhealthy\nlag 20 min",
                        "17:00:03.120  BLOCKED    sql (A -> B): replica B unhealthy lag 20 min");
}

static void test_console_line_reports_the_length_it_needs_when_cut(void **state)
{
    (void)state;
    sg_outcome_t *o = console_outcome(SG_OUTCOME_DECISION, "site A lost");
    char small[20];
    size_t need = s_format_line(o, small, sizeof small);
    assert_int_equal(need, strlen("17:00:03.120  DECISION   sql (A -> B): site A lost"));
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_string_equal(small, "17:00:03.120  DECIS");
    sg_outcome_free(&o);
}

/* --- secrets in what plugins log ---------------------------------------------------- */

static void assert_absent(const char *log, const char *secret)
{
    if (strstr(log, secret)) {
        fputs(log, stderr);
        fail_msg("the log above holds the secret \"%s\"", secret);
    }
}

static void assert_present(const char *log, const char *text)
{
    if (!strstr(log, text)) {
        fputs(log, stderr);
        fail_msg("the log above lacks \"%s\"", text);
    }
}

/* Sinks that fail against receivers quoting the request in their answer
 * (request line and headers, or body): the lines notify logs for them hold
 * none of the secrets in the sinks' options, URLs and headers. */
static void test_sinks_failing_against_receivers_that_quote_the_request_log_no_secret(void **state)
{
    fx_t *fx = *state;
    static pn_http_t hook_url, hook_headers, am, pd;
    static char urls[4][256];
    pn_http_start_echo(&hook_url, 401, PN_ECHO_HEAD);
    pn_http_start_echo(&hook_headers, 403, PN_ECHO_HEAD);
    pn_http_start_echo(&am, 400, PN_ECHO_HEAD);
    pn_http_start_echo(&pd, 400, PN_ECHO_BODY);
    /* webhook: credentials, a token path segment and a token in its (secret) URL */
    snprintf(urls[0], sizeof urls[0],
             "http://hu:hunter2-pass@127.0.0.1:%d/h/S3CRETSEGMENT01234?token=qtok-777",
             hook_url.srv.port);
    add_option(add_sink(fx, "hook-url", "webhook"), "url", urls[0]);
    /* webhook: credentials in its (secret) headers */
    sg_sink_cfg_t *s = add_sink(fx, "hook-headers", "webhook");
    snprintf(urls[1], sizeof urls[1], "http://127.0.0.1:%d/in", hook_headers.srv.port);
    add_option(s, "url", urls[1]);
    add_option(s, "headers", "Authorization: Bearer b3arer-tok3n-xyz; X-Api-Key: apikey-99887766");
    add_option(s, "hmac_secret", "hmac-s3cret-value");
    /* alertmanager: basic auth in a URL that is not declared secret */
    snprintf(urls[2], sizeof urls[2], "http://am-user:am-pass-777@127.0.0.1:%d/api/v2/alerts",
             am.srv.port);
    add_option(add_sink(fx, "am", "alertmanager"), "url", urls[2]);
    /* pagerduty: the receiver quotes the event, routing key and all */
    s = add_sink(fx, "pd", "pagerduty");
    add_option(s, "routing_key", "R0UTINGKEY0123456789abcdef012345");
    snprintf(urls[3], sizeof urls[3], "http://127.0.0.1:%d/v2/enqueue", pd.srv.port);
    add_option(s, "url", urls[3]);

    sg_outcome_t *o = sg_outcome_new(SG_OUTCOME_FAILED, WALL0);
    assert_non_null(o);
    o->run_id = 9;
    assert_int_equal(sg_outcome_set(o, &o->site, "A"), SG_OK);
    assert_int_equal(sg_outcome_set(o, &o->replica_site, "B"), SG_OK);
    assert_int_equal(sg_outcome_set(o, &o->collection, "sql"), SG_OK);
    assert_int_equal(sg_outcome_finish(o, 0), SG_OK);

    /* no assertion while standard error is captured: it would stay so */
    char log_path[320];
    snprintf(log_path, sizeof log_path, "%s/stderr.log", fx->tmp.dir);
    sg_log_set_level(SG_LOG_DEBUG);
    int saved = sg_test_capture_begin(log_path);
    assert_true(saved >= 0);
    sg_notify_t *n = sg_notify_new(&fx->cfg, &fx->clock, &fx->errs);
    int drained = SG_EIO;
    sg_notify_stats_t st = {0};
    if (n && sg_notify_post(n, o) == SG_OK)
        drained = sg_notify_drain(n, 30000);
    if (n)
        sg_notify_stats(n, &st);
    sg_notify_destroy(&n);
    char *log = sg_test_capture_end(saved, log_path);
    sg_outcome_free(&o);
    sg_log_set_level(SG_LOG_INFO);
    assert_non_null(log);
    pn_http_finish(&hook_url);
    pn_http_finish(&hook_headers);
    pn_http_finish(&am);
    pn_http_finish(&pd);
    if (drained != SG_OK || st.dead != 4) {
        fputs(log, stderr);
        fail_msg("drained %d, %d dead letters (the log is above)", drained, (int)st.dead);
    }
    /* the receivers did get the secrets, and quoted them back */
    assert_non_null(strstr(hook_url.request, "token=qtok-777"));
    assert_non_null(strstr(hook_headers.request, "X-Api-Key: apikey-99887766"));
    assert_non_null(strstr(pd.request, "R0UTINGKEY0123456789abcdef012345"));
    /* each failure is logged with the receiver's answer, masked */
    assert_present(log, "[sink:hook-url] 9/sql/failed: HTTP 401: POST *** HTTP/1.1");
    assert_present(log, "HTTP 403: POST /in HTTP/1.1");
    assert_present(log, "X-Api-Key: ***");
    assert_present(log, "HTTP 400: POST /api/v2/alerts HTTP/1.1");
    assert_present(log, "\"routing_key\":\"***\"");
    assert_present(log, "option headers = (secret)");
    const char *secrets[] = {"hunter2-pass", "S3CRETSEGMENT01234", "qtok-777",
                             "aHU6aHVudGVyMi1wYXNz", /* base64 of hu:hunter2-pass */
                             "b3arer-tok3n-xyz", "apikey-99887766", "hmac-s3cret-value",
                             "am-pass-777", "YW0tdXNlcjphbS1wYXNzLTc3Nw==", /* am-user:am-pass-777 */
                             "R0UTINGKEY0123456789abcdef012345"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        assert_absent(log, secrets[i]);
    free(log);
}

static const sg_test_child_t s_children[] = {
    {"delivers_part_of_a_batch", child_delivers_part_of_a_batch},
};

int main(int argc, char **argv)
{
    sg_test_children(argc, argv, s_children, sizeof s_children / sizeof s_children[0]);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_jsonl_sink_writes_every_outcome_as_one_json_line_in_order),
        T(test_every_sink_receives_every_outcome),
        T(test_post_refuses_an_outcome_that_is_not_finished),
        T(test_no_sinks_is_valid_and_posting_is_a_no_op),
        cmocka_unit_test(test_backoff_is_full_jitter_under_a_doubling_cap),
        T(test_retry_is_retried_with_backoff_until_delivered),
        T(test_retry_gives_up_after_eight_failed_attempts_into_the_dead_letters),
        T(test_retry_limit_and_backoff_come_from_the_sink_config),
        T(test_notices_waiting_behind_a_failing_sink_go_to_its_fallback_together),
        T(test_a_fatal_notice_goes_to_the_fallback_and_the_sink_carries_on),
        T(test_a_sink_gets_only_the_kinds_and_severities_it_subscribes_to),
        T(test_a_held_outcome_is_sent_to_no_sink_and_flapping_goes_with_site_changes),
        T(test_decisions_of_one_site_within_the_window_go_as_one_message),
        T(test_blocks_are_grouped_with_each_collections_reason),
        T(test_a_sink_that_is_down_does_not_delay_the_others_and_loses_nothing),
        T(test_after_a_restart_undelivered_are_sent_and_delivered_are_not),
        T(test_a_batch_records_what_it_delivered_before_a_retry_and_sends_it_once),
        T(test_notices_a_batch_delivered_before_a_retry_never_die_with_the_rest),
        T(test_a_fatal_notice_in_a_batch_dies_alone_and_the_batch_goes_on),
        T(test_a_batch_plugin_settles_each_notice_by_its_own_result),
        T(test_the_retries_of_one_batch_call_count_one_failure_of_the_sink),
        T(test_a_batch_plugins_calls_start_at_16_and_grow_while_fast),
        T(test_plugins_without_deliver_batch_get_one_deliver_call_per_notice),
        T(test_a_crash_before_a_batch_is_recorded_resends_its_notices_and_loses_none),
        T(test_outbox_depth_counts_the_notices_left_pending_by_the_last_run),
        T(test_a_storms_decisions_reach_a_slack_sink_as_one_message_per_site),
        T(test_fatal_is_dead_lettered_at_once),
        T(test_a_dead_letter_does_not_stop_later_outcomes),
        T(test_a_leaders_reloaded_sinks_deliver_without_a_change_of_leadership),
        T(test_a_standbys_reloaded_sinks_stay_paused_until_it_leads),
        T(test_a_reload_does_not_wait_for_a_delivery_in_progress),
        T(test_two_reloads_during_a_held_delivery_start_only_the_newest_sinks),
        T(test_a_reload_whose_sinks_cannot_start_keeps_the_old_ones),
        T(test_a_reload_keeps_the_counters_of_sinks_that_stay_and_that_go),
        T(test_unknown_option_is_an_error_at_its_line_and_column),
        T(test_missing_required_path_is_an_error_at_the_sink),
        T(test_fsync_must_be_true_or_false),
        T(test_int_option_must_be_an_integer),
        T(test_duration_option_beyond_100_years_is_an_error),
        T(test_an_option_error_never_echoes_a_secret_value),
        T(test_option_set_twice_is_an_error),
        T(test_missing_plugin_library_is_an_error_naming_the_path),
        T(test_plugin_of_another_abi_version_is_refused),
        T(test_library_holding_another_plugin_is_refused),
        T(test_plugin_dir_comes_from_the_environment_when_not_configured),
        T(test_plugins_beside_the_executable_come_before_the_package_folders),
        T(test_an_unpacked_package_finds_its_plugins_from_its_own_bin),
        T(test_the_compiled_in_plugin_folder_is_the_last_resort),
        T(test_no_plugin_folder_names_every_place_looked),
        T(test_plugin_that_fails_to_init_fails_new),
        T(test_check_accepts_good_sinks_and_does_not_create_the_file),
        T(test_check_reports_every_broken_sink),
        T(test_sink_from_yaml_delivers_to_its_file),
        T(test_unknown_option_in_yaml_is_reported_at_its_line_and_column),
        T(test_sinks_failing_against_receivers_that_quote_the_request_log_no_secret),
        cmocka_unit_test(test_console_line_for_a_lost_site),
        cmocka_unit_test(test_console_line_for_a_flapping_site),
        cmocka_unit_test(test_console_line_for_a_decision),
        cmocka_unit_test(test_console_lines_for_a_job),
        cmocka_unit_test(test_console_line_is_one_line_even_when_the_message_has_newlines),
        cmocka_unit_test(test_console_line_reports_the_length_it_needs_when_cut),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
