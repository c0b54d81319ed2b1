/* exec: the program's environment, and how its end maps to a result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "plugin_host.h"
#include "plugin_outcomes.h"

#include "../../plugins/exec/exec.c"

static const char *env_get(const s_env_t *e, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < e->n; i++) {
        if (strncmp(e->vars[i], name, len) == 0 && e->vars[i][len] == '=')
            return e->vars[i] + len + 1;
    }
    return NULL;
}

static void test_environment_carries_the_outcome(void **state)
{
    (void)state;
    sg_outcome_t *o = po_outcome(SG_OUTCOME_FAILED, "$(touch /tmp/x); `id`");
    o->attempt = 2;
    o->error_code = 32789;
    po_refinish(o);
    s_env_t e;
    assert_int_equal(s_build_env(o, &e), 0);
    const char *want[][2] = {
        {"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"SG_KIND", "failed"},
        {"SG_SEVERITY", "critical"},              {"SG_TIME", "2026-11-25T17:00:03.120Z"},
        {"SG_TIME_MS", "1795626003120"},          {"SG_DEDUP_KEY", "9/sql/failed"},
        {"SG_RUN_ID", "9"},                       {"SG_SITE", "A"},
        {"SG_REPLICA_SITE", "B"},                 {"SG_COLLECTION", "sql"},
        {"SG_ATTEMPT", "2"},                      {"SG_RETURN_VALUE", "0"},
        {"SG_ERROR_CODE", "32789"},               {"SG_MESSAGE", "$(touch /tmp/x); `id`"},
        {"SG_SUMMARY", "failover of sql from A to B failed: $(touch /tmp/x); `id`"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *v = env_get(&e, want[i][0]);
        if (!v)
            fail_msg("%s is not set", want[i][0]);
        assert_string_equal(v, want[i][1]);
    }
    assert_null(env_get(&e, "SG_PERCENT"));
    assert_null(env_get(&e, "SG_JOB_PATH"));
    assert_null(e.vars[e.n]);
    s_env_free(&e);
    sg_outcome_free(&o);
}

static sg_deliver_result_t run(const char *command, const char *args, const char *timeout)
{
    sg_plugin_option_t opts[] = {{"command", command}, {"timeout", timeout}, {"args", args}};
    void *ctx = NULL;
    assert_int_equal(s_init(&ph_host, opts, args ? 3 : 2, &ctx), 0);
    sg_outcome_t *o = po_outcome(SG_OUTCOME_SUCCEEDED, NULL);
    sg_deliver_result_t r = s_deliver(ctx, o);
    sg_outcome_free(&o);
    s_close(ctx);
    return r;
}

static void test_exit_0_is_delivered_and_other_exits_are_fatal(void **state)
{
    (void)state;
    assert_int_equal(run("/bin/true", NULL, "5000"), SG_DELIVER_OK);
    assert_int_equal(run("/bin/false", NULL, "5000"), SG_DELIVER_FATAL);
    /* cat reads the JSON on stdin to its end and exits 0 */
    assert_int_equal(run("/bin/cat", NULL, "5000"), SG_DELIVER_OK);
}

static void test_fixed_args_are_split_at_spaces_and_passed(void **state)
{
    (void)state;
    /* test(1) succeeds only when it sees exactly these three arguments */
    assert_int_equal(run("/usr/bin/test", "abc  =   abc", "5000"), SG_DELIVER_OK);
    assert_int_equal(run("/usr/bin/test", "abc = abd", "5000"), SG_DELIVER_FATAL);
}

static void test_program_over_its_time_is_killed_and_retried(void **state)
{
    (void)state;
    assert_int_equal(run("/bin/sleep", "30", "200"), SG_DELIVER_RETRY);
}

static void test_command_must_be_an_absolute_executable_path(void **state)
{
    (void)state;
    void *ctx = NULL;
    sg_plugin_option_t rel[] = {{"command", "true"}};
    assert_int_not_equal(s_init(&ph_host, rel, 1, &ctx), 0);
    sg_plugin_option_t missing[] = {{"command", "/no/such/program"}};
    assert_int_not_equal(s_init(&ph_host, missing, 1, &ctx), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_environment_carries_the_outcome),
        cmocka_unit_test(test_exit_0_is_delivered_and_other_exits_are_fatal),
        cmocka_unit_test(test_fixed_args_are_split_at_spaces_and_passed),
        cmocka_unit_test(test_program_over_its_time_is_killed_and_retried),
        cmocka_unit_test(test_command_must_be_an_absolute_executable_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
