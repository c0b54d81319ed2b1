/* exec: the program's environment, its command line as Windows quotes it,
 * and how its end maps to a result, with real programs (on Windows a child
 * built for the purpose, tests/unit/plugin_exec_child.c, and cmd.exe). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "plugin_host.h"
#include "plugin_outcomes.h"

#define SG_EXEC_TEST_QUOTING 1 /* the Windows command line, tested everywhere */
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
#if defined(_WIN32)
    char root[MAX_PATH], path[2 * MAX_PATH + 16];
    assert_true(GetSystemWindowsDirectoryA(root, sizeof root) > 0);
    snprintf(path, sizeof path, "%s\\system32;%s", root, root);
    assert_string_equal(env_get(&e, "SystemRoot"), root);
#else
    const char *path = "/usr/local/bin:/usr/bin:/bin";
#endif
    const char *want[][2] = {
        {"PATH", path},                           {"SG_KIND", "failed"},
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

static void test_windows_command_line_quotes_as_the_c_runtime_splits(void **state)
{
    (void)state;
    char *const argv[] = {"C:\\Program Files\\x.exe", "plain", "two words", "", "a\\\"b",
                          "c\\\\", "\"q\"", "d\\e", "e f\\", NULL};
    char *line = s_command_line(argv);
    assert_string_equal(line, "\"C:\\Program Files\\x.exe\" plain \"two words\" \"\" "
                              "\"a\\\\\\\"b\" c\\\\ \"\\\"q\\\"\" d\\e \"e f\\\\\"");
    free(line);
}

#if defined(_WIN32)

/* plugin_exec_child.exe, beside this test's own .exe. */
static const char *child_path(void)
{
    static char path[MAX_PATH];
    DWORD n = GetModuleFileNameA(NULL, path, sizeof path);
    assert_true(n > 0 && n < sizeof path);
    char *slash = strrchr(path, '\\');
    assert_non_null(slash);
    snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "plugin_exec_child.exe");
    return path;
}

static const char *cmd_path(void)
{
    static char path[MAX_PATH];
    UINT n = GetSystemDirectoryA(path, MAX_PATH - 16);
    assert_true(n > 0);
    strcat(path, "\\cmd.exe");
    return path;
}

static void test_windows_program_reads_the_outcome_json_on_stdin(void **state)
{
    (void)state;
    assert_int_equal(run(child_path(), "stdin \"dedup_key\":\"9/sql/succeeded\"", "10000"),
                     SG_DELIVER_OK);
    assert_int_equal(run(child_path(), "stdin no-such-text", "10000"), SG_DELIVER_FATAL);
}

static void test_windows_exit_0_is_delivered_75_retried_and_others_fatal(void **state)
{
    (void)state;
    assert_int_equal(run(child_path(), "exit 0", "10000"), SG_DELIVER_OK);
    assert_int_equal(run(child_path(), "exit 75", "10000"), SG_DELIVER_RETRY);
    assert_int_equal(run(child_path(), "exit 1", "10000"), SG_DELIVER_FATAL);
    assert_int_equal(run(cmd_path(), "/c exit 75", "10000"), SG_DELIVER_RETRY);
    assert_int_equal(run(cmd_path(), "/c exit 0", "10000"), SG_DELIVER_OK);
}

static void test_windows_program_sees_the_outcome_in_its_environment(void **state)
{
    (void)state;
    assert_int_equal(run(child_path(), "env SG_COLLECTION sql", "10000"), SG_DELIVER_OK);
    assert_int_equal(run(child_path(), "env SG_DEDUP_KEY 9/sql/succeeded", "10000"), SG_DELIVER_OK);
    assert_int_equal(run(child_path(), "env SG_SITE B", "10000"), SG_DELIVER_FATAL);
}

static void test_windows_args_with_quotes_and_backslashes_arrive_intact(void **state)
{
    (void)state;
    assert_int_equal(run(child_path(), "argv a\\\"b c\\\\ \"q\" d\\e", "10000"), SG_DELIVER_OK);
    assert_int_equal(run(child_path(), "argv a\\\"b", "10000"), SG_DELIVER_FATAL);
}

static void test_windows_program_over_its_time_is_terminated_and_retried(void **state)
{
    (void)state;
    assert_int_equal(run(child_path(), "sleep 60000", "300"), SG_DELIVER_RETRY);
}

/* A program that started one of its own and outlives its time: the whole
 * tree is ended, not only the program the sink started. */
static void test_windows_timeout_ends_the_whole_process_tree(void **state)
{
    (void)state;
    char tmp[MAX_PATH], pidfile[MAX_PATH + 64], args[MAX_PATH + 80];
    assert_true(GetTempPathA(sizeof tmp, tmp) > 0);
    snprintf(pidfile, sizeof pidfile, "%ssg-exec-tree-%lu.pid", tmp,
             (unsigned long)GetCurrentProcessId());
    assert_null(strchr(pidfile, ' ')); /* args are split at spaces */
    snprintf(args, sizeof args, "tree %s", pidfile);
    assert_int_equal(run(child_path(), args, "3000"), SG_DELIVER_RETRY);
    FILE *f = fopen(pidfile, "r");
    assert_non_null(f);
    unsigned long pid = 0;
    assert_int_equal(fscanf(f, "%lu", &pid), 1);
    fclose(f);
    DeleteFileA(pidfile);
    HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)pid);
    if (h) { /* still known: it must have ended */
        DWORD w = WaitForSingleObject(h, 5000);
        CloseHandle(h);
        assert_int_equal(w, WAIT_OBJECT_0);
    }
}

static void test_windows_command_must_be_an_absolute_path_of_a_file(void **state)
{
    (void)state;
    void *ctx = NULL;
    sg_plugin_option_t rel[] = {{"command", "cmd.exe"}};
    assert_int_not_equal(s_init(&ph_host, rel, 1, &ctx), 0);
    sg_plugin_option_t missing[] = {{"command", "C:\\no\\such\\program.exe"}};
    assert_int_not_equal(s_init(&ph_host, missing, 1, &ctx), 0);
    char dir[MAX_PATH];
    assert_true(GetSystemDirectoryA(dir, sizeof dir) > 0);
    sg_plugin_option_t folder[] = {{"command", dir}};
    assert_int_not_equal(s_init(&ph_host, folder, 1, &ctx), 0);
}

#else

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

/* SIGCHLD ignored: the system reaps the child itself and waitpid fails with
 * ECHILD. How the program ended is unknown: not delivered (RETRY), and
 * above all not taken for exit 0. */
static void test_a_waitpid_error_is_a_failed_delivery_not_exit_0(void **state)
{
    (void)state;
    struct sigaction ignore, old;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    assert_int_equal(sigaction(SIGCHLD, &ignore, &old), 0);
    sg_deliver_result_t failed = run("/bin/false", NULL, "5000");
    sg_deliver_result_t succeeded = run("/bin/true", NULL, "5000");
    assert_int_equal(sigaction(SIGCHLD, &old, NULL), 0);
    assert_int_equal(failed, SG_DELIVER_RETRY);
    assert_int_equal(succeeded, SG_DELIVER_RETRY);
    /* with SIGCHLD back, the same programs are told apart again */
    assert_int_equal(run("/bin/false", NULL, "5000"), SG_DELIVER_FATAL);
    assert_int_equal(run("/bin/true", NULL, "5000"), SG_DELIVER_OK);
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

#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_environment_carries_the_outcome),
        cmocka_unit_test(test_windows_command_line_quotes_as_the_c_runtime_splits),
#if defined(_WIN32)
        cmocka_unit_test(test_windows_program_reads_the_outcome_json_on_stdin),
        cmocka_unit_test(test_windows_exit_0_is_delivered_75_retried_and_others_fatal),
        cmocka_unit_test(test_windows_program_sees_the_outcome_in_its_environment),
        cmocka_unit_test(test_windows_args_with_quotes_and_backslashes_arrive_intact),
        cmocka_unit_test(test_windows_program_over_its_time_is_terminated_and_retried),
        cmocka_unit_test(test_windows_timeout_ends_the_whole_process_tree),
        cmocka_unit_test(test_windows_command_must_be_an_absolute_path_of_a_file),
#else
        cmocka_unit_test(test_exit_0_is_delivered_and_other_exits_are_fatal),
        cmocka_unit_test(test_fixed_args_are_split_at_spaces_and_passed),
        cmocka_unit_test(test_program_over_its_time_is_killed_and_retried),
        cmocka_unit_test(test_a_waitpid_error_is_a_failed_delivery_not_exit_0),
        cmocka_unit_test(test_command_must_be_an_absolute_executable_path),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
