/* jobfollow: a job followed to its end, a job that is gone, and a
 * collection's state followed while it stays in one state, against a
 * provider whose answers each test scripts, on a fake clock (the wait
 * callback advances it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "act/jobfollow.h"
#include "base/err.h"
#include "base/log.h"

#include <stdlib.h>
#include <string.h>

/* One scripted answer of get_job (rc, and with 0 the job) or get_state. */
typedef struct {
    int rc;
    int job_state;  /* get_job */
    const char *description;
    sg_coll_state_t state; /* get_state */
} s_answer_t;

enum { S_MAX_ANSWERS = 16 };

typedef struct {
    sg_provider_t base; /* first: the handle is cast back */
    s_answer_t answers[S_MAX_ANSWERS]; /* the last one repeats */
    int n_answers;
    int reads;
} s_script_t;

static s_answer_t s_next_answer(s_script_t *s)
{
    int i = s->reads < s->n_answers ? s->reads : s->n_answers - 1;
    s->reads++;
    return s->answers[i];
}

static int s_get_job(sg_provider_t *p, const char *job, sg_job_status_t *out)
{
    assert_string_equal(job, "job-1");
    s_answer_t a = s_next_answer((s_script_t *)p);
    memset(out, 0, sizeof *out);
    if (a.rc != SG_OK)
        return a.rc;
    out->job_state = a.job_state;
    out->percent_complete = sg_job_state_ended(a.job_state) ? 100 : 40;
    out->error_description = a.description ? strdup(a.description) : NULL;
    return SG_OK;
}

static int s_get_state(sg_provider_t *p, const char *coll, sg_coll_state_t *out)
{
    assert_string_equal(coll, "coll-1");
    s_answer_t a = s_next_answer((s_script_t *)p);
    *out = a.rc == SG_OK ? a.state : SG_COLL_UNKNOWN;
    return a.rc;
}

static const sg_provider_ops_t s_ops = {.name = "script", .get_job = s_get_job,
                                        .get_state = s_get_state};

/* The follower's world: the script, the provider section, the clock, and
 * what the callbacks saw. */
typedef struct {
    s_script_t script;
    sg_provider_cfg_t pc;
    sg_clock_t clock;
    sg_clock_fake_state_t clock_state;
    int64_t waits[64];
    int n_waits;
    int stop_after;    /* waits allowed; then `wait` says stop (0: never) */
    int timed_out;     /* calls of timed_out */
    bool follow_on;    /* timed_out's answer */
    sg_jobfollow_t f;
} s_fix_t;

static bool s_wait(void *user, int64_t ms)
{
    s_fix_t *x = user;
    if (x->stop_after && x->n_waits >= x->stop_after)
        return false;
    if (x->n_waits < 64)
        x->waits[x->n_waits] = ms;
    x->n_waits++;
    sg_clock_fake_advance(&x->clock, ms);
    return true;
}

static bool s_timed_out(void *user, int last_percent)
{
    (void)last_percent;
    s_fix_t *x = user;
    x->timed_out++;
    return x->follow_on;
}

static int s_setup(void **state)
{
    s_fix_t *x = calloc(1, sizeof *x);
    assert_non_null(x);
    sg_log_set_level(SG_LOG_ERROR);
    x->script.base.ops = &s_ops;
    x->pc = (sg_provider_cfg_t){.job_timeout_ms = 600000, .poll_initial_ms = 250,
                                .poll_max_ms = 5000};
    sg_clock_fake_init(&x->clock, &x->clock_state, 1000, 1790000000000LL);
    x->f = (sg_jobfollow_t){.provider = &x->script.base, .pc = &x->pc, .clock = &x->clock,
                            .log_module = "test", .what = "coll-1", .wait = s_wait,
                            .timed_out = s_timed_out, .user = x};
    *state = x;
    return 0;
}

static int s_teardown(void **state)
{
    free(*state);
    return 0;
}

/* The script's answers, in order. */
static void s_script(s_fix_t *x, const s_answer_t *answers, int n)
{
    assert_true(n > 0 && n <= S_MAX_ANSWERS);
    memcpy(x->script.answers, answers, (size_t)n * sizeof *answers);
    x->script.n_answers = n;
}
#define S_SCRIPT(x, ...)                                                                      \
    s_script(x, (const s_answer_t[]){__VA_ARGS__},                                            \
             (int)(sizeof((const s_answer_t[]){__VA_ARGS__}) / sizeof(s_answer_t)))

#define JOB(st) {.rc = SG_OK, .job_state = (st)}
#define GONE {.rc = SG_ENOTFOUND}
#define FAILS {.rc = SG_EIO}
#define STATE(st) {.rc = SG_OK, .state = (st)}

static void test_completed_with_warnings_is_an_end_and_a_success_like_completed(void **state)
{
    (void)state;
    assert_true(sg_job_state_ended(SG_JOB_COMPLETED_WITH_WARNINGS));
    assert_true(sg_job_state_succeeded(SG_JOB_COMPLETED_WITH_WARNINGS));
    assert_true(sg_job_state_succeeded(SG_JOB_COMPLETED));
    static const int not_success[] = {SG_JOB_NEW,        SG_JOB_RUNNING, SG_JOB_TERMINATED,
                                      SG_JOB_KILLED,     SG_JOB_EXCEPTION, SG_JOB_SERVICE,
                                      SG_JOB_QUERY_PENDING, 32769, 0};
    for (size_t i = 0; i < sizeof not_success / sizeof not_success[0]; i++)
        assert_false(sg_job_state_succeeded(not_success[i]));
    assert_string_equal(sg_job_state_text(SG_JOB_COMPLETED_WITH_WARNINGS),
                        "Completed with warnings");
    assert_string_equal(sg_job_state_text(SG_JOB_COMPLETED), "Completed");
    assert_string_equal(sg_job_state_text(32769), "Unknown");
}

static void test_a_job_completed_with_warnings_ends_the_follow_with_its_description(
    void **state)
{
    s_fix_t *x = *state;
    S_SCRIPT(x, JOB(SG_JOB_RUNNING),
             {.rc = SG_OK, .job_state = SG_JOB_COMPLETED_WITH_WARNINGS,
              .description = "replica disk slow"});
    sg_job_status_t end;
    assert_int_equal(sg_jobfollow(&x->f, "job-1", &end), SG_OK);
    assert_int_equal(end.job_state, SG_JOB_COMPLETED_WITH_WARNINGS);
    assert_string_equal(end.error_description, "replica disk slow");
    assert_int_equal(x->script.reads, 2);
    sg_job_status_fini(&end);
}

/* Three reads in a row that answer not found: the job is gone (Hyper-V
 * removed it after its end), not a read to try for ever. */
static void test_a_job_not_found_on_three_reads_in_a_row_is_gone(void **state)
{
    s_fix_t *x = *state;
    S_SCRIPT(x, JOB(SG_JOB_RUNNING), GONE);
    sg_job_status_t end;
    assert_int_equal(sg_jobfollow(&x->f, "job-1", &end), SG_ENOTFOUND);
    assert_int_equal(x->script.reads, 1 + SG_JOBFOLLOW_GONE_READS);
    assert_int_equal(SG_JOBFOLLOW_GONE_READS, 3);
    assert_int_equal(end.job_state, 0);
    assert_null(end.error_description);
}

/* A job seen again, or a read that fails otherwise, starts the count again. */
static void test_not_found_counts_only_on_reads_in_a_row(void **state)
{
    s_fix_t *x = *state;
    S_SCRIPT(x, GONE, GONE, JOB(SG_JOB_RUNNING), GONE, GONE, FAILS, GONE, GONE, FAILS, FAILS,
             FAILS, FAILS, JOB(SG_JOB_COMPLETED));
    sg_job_status_t end;
    assert_int_equal(sg_jobfollow(&x->f, "job-1", &end), SG_OK);
    assert_int_equal(end.job_state, SG_JOB_COMPLETED);
    assert_int_equal(x->script.reads, 13);
    sg_job_status_fini(&end);
}

/* The state is read after each wait of poll_max until it is another; a read
 * that fails is read again. */
static void test_a_state_is_followed_at_poll_max_until_it_changes(void **state)
{
    s_fix_t *x = *state;
    S_SCRIPT(x, STATE(SG_COLL_FAILOVER_RUNNING), FAILS, STATE(SG_COLL_FAILOVER_RUNNING),
             STATE(SG_COLL_FAILED_OVER));
    sg_coll_state_t end = SG_COLL_UNKNOWN;
    assert_int_equal(sg_jobfollow_state(&x->f, "coll-1", SG_COLL_FAILOVER_RUNNING, &end), SG_OK);
    assert_int_equal(end, SG_COLL_FAILED_OVER);
    assert_int_equal(x->script.reads, 4);
    assert_int_equal(x->n_waits, 4);
    for (int i = 0; i < x->n_waits; i++)
        assert_int_equal(x->waits[i], 5000);
    assert_int_equal(x->timed_out, 0);
}

/* Past job_timeout the timed_out rule decides, once: follow on at poll_max,
 * or give up; a stop from `wait` ends it either way. */
static void test_a_state_followed_past_job_timeout_asks_timed_out_once(void **state)
{
    s_fix_t *x = *state;
    x->pc.job_timeout_ms = 12000;
    S_SCRIPT(x, STATE(SG_COLL_FAILOVER_RUNNING));
    sg_coll_state_t end = SG_COLL_UNKNOWN;
    x->follow_on = true;
    x->stop_after = 10;
    int64_t t0 = sg_clock_mono(&x->clock);
    assert_int_equal(sg_jobfollow_state(&x->f, "coll-1", SG_COLL_FAILOVER_RUNNING, &end),
                     SG_ESTOPPED);
    assert_int_equal(x->timed_out, 1);
    assert_int_equal(x->waits[2], 2000); /* the deadline is met, not overshot */
    assert_true(sg_clock_mono(&x->clock) - t0 >= 12000);

    x->follow_on = false;
    x->timed_out = 0;
    x->n_waits = 0;
    x->stop_after = 0;
    assert_int_equal(sg_jobfollow_state(&x->f, "coll-1", SG_COLL_FAILOVER_RUNNING, &end),
                     SG_ETIMEOUT);
    assert_int_equal(x->timed_out, 1);
    assert_int_equal(x->n_waits, 3);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T(test_completed_with_warnings_is_an_end_and_a_success_like_completed),
        T(test_a_job_completed_with_warnings_ends_the_follow_with_its_description),
        T(test_a_job_not_found_on_three_reads_in_a_row_is_gone),
        T(test_not_found_counts_only_on_reads_in_a_row),
        T(test_a_state_is_followed_at_poll_max_until_it_changes),
        T(test_a_state_followed_past_job_timeout_asks_timed_out_once),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
