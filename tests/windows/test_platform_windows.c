/* The Windows platform layer: plugins through LoadLibrary, stop requests,
 * default paths, the service dispatcher outside the service manager, and the
 * eventlog sink plugin. `test_platform_windows eventlog` runs the eventlog
 * group only (its ctest also checks that the event reached ReportEvent). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/err.h"
#include "platform/platform.h"
#include "siteguard/plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sg_plugin_t *s_descriptor(sg_dl_t *dl)
{
    return (const sg_plugin_t *)sg_dl_sym(dl, SG_PLUGIN_DESCRIPTOR_SYMBOL);
}

static sg_dl_t *s_open_plugin(const char *name)
{
    char path[1024], err[512] = "";
    snprintf(path, sizeof path, "%s/sg_%s%s", SG_PLUGIN_OUT, name, sg_dl_suffix());
    sg_dl_t *dl = sg_dl_open(path, err, sizeof err);
    if (!dl)
        fprintf(stderr, "%s\n", err);
    return dl;
}

static void plugins_load_with_loadlibrary_and_export_their_descriptor(void **state)
{
    (void)state;
    assert_string_equal(sg_dl_suffix(), ".dll");
    sg_dl_t *dl = s_open_plugin("jsonl");
    assert_non_null(dl);
    const sg_plugin_t *p = s_descriptor(dl);
    assert_non_null(p);
    assert_int_equal(p->abi_version, SG_PLUGIN_ABI_VERSION);
    assert_string_equal(p->name, "jsonl");
    assert_null(sg_dl_sym(dl, "no_such_symbol"));
    sg_dl_close(&dl);
    assert_null(dl);
}

static void a_missing_library_is_refused_with_the_system_reason(void **state)
{
    (void)state;
    char err[512] = "";
    assert_null(sg_dl_open("C:\\no\\such\\sg_plugin.dll", err, sizeof err));
    assert_non_null(strstr(err, "sg_plugin.dll"));
    assert_non_null(strstr(err, "(126)")); /* ERROR_MOD_NOT_FOUND */
}

static void a_stop_request_is_seen(void **state)
{
    (void)state;
    assert_int_equal(sg_platform_signals_install(), SG_OK);
    assert_false(sg_platform_stop_requested());
    sg_platform_request_stop();
    assert_true(sg_platform_stop_requested());
}

static void config_and_data_default_to_programdata(void **state)
{
    (void)state;
    char dir[1024], cfg[1024], exe[1024];
    assert_int_equal(sg_platform_data_dir(dir, sizeof dir), SG_OK);
    assert_int_equal(sg_platform_default_config(cfg, sizeof cfg), SG_OK);
    assert_non_null(strstr(dir, "ProgramData\\siteguard"));
    assert_int_equal(strncmp(cfg, dir, strlen(dir)), 0);
    assert_string_equal(cfg + strlen(dir), "\\siteguard.yaml");
    assert_int_equal(sg_platform_exe_dir(exe, sizeof exe), SG_OK);
    assert_null(strstr(exe, "test_platform_windows.exe"));
    assert_int_equal(sg_platform_abs_path("x.yaml", cfg, sizeof cfg), SG_OK);
    assert_true(cfg[1] == ':');
}

static int s_never(void *arg)
{
    (void)arg;
    fail_msg("the body ran outside the service manager");
    return 0;
}

static void the_service_body_runs_only_under_the_service_manager(void **state)
{
    (void)state;
    assert_int_equal(sg_platform_service_dispatch("siteguard-test", NULL, s_never, NULL), SG_ESTATE);
}

static void s_host_log(const sg_plugin_host_t *host, int level, const char *fmt, ...)
{
    (void)host;
    (void)level;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void the_eventlog_sink_reports_an_outcome_as_an_event(void **state)
{
    (void)state;
    sg_dl_t *dl = s_open_plugin("eventlog");
    assert_non_null(dl);
    const sg_plugin_t *p = s_descriptor(dl);
    assert_non_null(p);
    assert_string_equal(p->name, "eventlog");
    sg_plugin_host_t host = {.abi_version = SG_PLUGIN_ABI_VERSION,
                             .struct_size = sizeof host,
                             .instance = "events",
                             .log = s_host_log};
    sg_plugin_option_t opts[] = {{"source", "siteguard"}};
    void *ctx = NULL;
    assert_int_equal(p->init(&host, opts, 1, &ctx), 0);
    sg_outcome_t o = {.struct_size = sizeof o,
                      .kind = SG_OUTCOME_FAILED,
                      .severity = SG_SEVERITY_CRITICAL,
                      .collection = "sql",
                      .message = "sql (A -> B): job ended in Exception 32768",
                      .json = "{\"kind\":\"failed\",\"collection\":\"sql\"}"};
    assert_int_equal(p->deliver(ctx, &o), SG_DELIVER_OK);
    p->close(ctx);
    sg_dl_close(&dl);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest all[] = {
        cmocka_unit_test(plugins_load_with_loadlibrary_and_export_their_descriptor),
        cmocka_unit_test(a_missing_library_is_refused_with_the_system_reason),
        cmocka_unit_test(a_stop_request_is_seen),
        cmocka_unit_test(config_and_data_default_to_programdata),
        cmocka_unit_test(the_service_body_runs_only_under_the_service_manager),
    };
    const struct CMUnitTest eventlog[] = {
        cmocka_unit_test(the_eventlog_sink_reports_an_outcome_as_an_event),
    };
    if (argc > 1 && strcmp(argv[1], "eventlog") == 0)
        return cmocka_run_group_tests_name("eventlog", eventlog, NULL, NULL);
    return cmocka_run_group_tests_name("platform_windows", all, NULL, NULL);
}
