/* A sink plugin for tests of notify's retries and dead letters.
 *
 * Options: `retry_first` (int, default 0): the first K deliveries return
 * RETRY, later ones OK; `fatal` (bool, default false): every delivery returns
 * FATAL; `token` (string, secret, optional): unused, to exercise secrets;
 * `down_file` (string, optional): while that file exists every delivery
 * returns RETRY (an outage a test starts and ends); `record` (string,
 * optional): each delivery answered OK appends the outcome's JSON as one
 * line to that file; `hold_file` (string, optional): while that file exists
 * a delivery is held (a slow receiver): it creates `<hold_file>.held` (the
 * notice is in hand), then waits until the file is gone, at most 30 s,
 * before it answers as above; `hold_after` (int, default 0): the first that
 * many deliveries are not held; `retry_at`, `fatal_at` (int, default 0:
 * never): the delivery of that number (1 for the first call) answers RETRY,
 * or FATAL, once; `calls` (string, optional): each call of the plugin
 * appends a line to that file: "deliver", or "batch <n>" for a
 * deliver_batch call of n outcomes.
 * Built a second time with SG_TEST_PLUGIN_ABI=7 to stand for a plugin of
 * another ABI version; with SG_TEST_PLUGIN_BATCH=1 as a plugin with
 * deliver_batch (each outcome of a call answered as one delivery, in
 * order); with SG_TEST_PLUGIN_V1=1 as a plugin built before deliver_batch
 * was appended: its struct_size ends at `close`, though a deliver_batch
 * sits behind it, which the host must never call. */
#include "siteguard/plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <time.h>
#endif

#ifndef SG_TEST_PLUGIN_ABI
#define SG_TEST_PLUGIN_ABI SG_PLUGIN_ABI_VERSION
#endif

typedef struct {
    long retry_first;
    int fatal;
    long hold_after, retry_at, fatal_at;
    long calls; /* deliver calls so far */
    long deliveries;
    char *down_file;
    char *record;
    char *hold_file;
    char *calls_file;
} s_flaky_t;

static const sg_plugin_config_key_t s_keys[] = {
    {"retry_first", SG_CFG_INT, "0", 0, 0, "deliveries answered with RETRY before OK"},
    {"fatal", SG_CFG_BOOL, "false", 0, 0, "answer every delivery with FATAL"},
    {"token", SG_CFG_STRING, NULL, 0, 1, "a secret that is never used"},
    {"hold", SG_CFG_DURATION, "0", 0, 0, "a duration that is never used"},
    {"down_file", SG_CFG_STRING, NULL, 0, 0, "RETRY while this file exists"},
    {"record", SG_CFG_STRING, NULL, 0, 0, "append each delivered outcome's JSON here"},
    {"hold_file", SG_CFG_STRING, NULL, 0, 0, "hold each delivery while this file exists"},
    {"hold_after", SG_CFG_INT, "0", 0, 0, "deliveries never held, from the first"},
    {"retry_at", SG_CFG_INT, "0", 0, 0, "the call (1: the first) that answers RETRY"},
    {"fatal_at", SG_CFG_INT, "0", 0, 0, "the call (1: the first) that answers FATAL"},
    {"calls", SG_CFG_STRING, NULL, 0, 0, "append a line per call of the plugin here"},
};

/* An int option, 0 when not given. */
static long s_int(const sg_plugin_option_t *options, size_t n, const char *key)
{
    const char *v = sg_plugin_option(options, n, key);
    return v ? strtol(v, NULL, 10) : 0;
}

static char *s_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Non-zero when `path` exists. stat opens no handle, so the test can remove
 * the file at any moment, on Windows too. */
static int s_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void s_pause_10ms(void)
{
#ifdef _WIN32
    Sleep(10);
#else
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
#endif
}

/* A slow receiver: says the notice is in hand, then waits while the hold
 * file exists (at most 30 s). */
static void s_hold(const char *hold_file)
{
    if (!hold_file || !s_exists(hold_file))
        return;
    size_t len = strlen(hold_file) + sizeof ".held";
    char *mark = malloc(len);
    if (mark) {
        snprintf(mark, len, "%s.held", hold_file);
        FILE *f = fopen(mark, "w");
        if (f)
            fclose(f);
        free(mark);
    }
    for (int i = 0; i < 3000 && s_exists(hold_file); i++)
        s_pause_10ms();
}

static int s_init(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                  size_t n_options, void **ctx)
{
    s_flaky_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    const char *retry_first = sg_plugin_option(options, n_options, "retry_first");
    const char *fatal = sg_plugin_option(options, n_options, "fatal");
    f->retry_first = retry_first ? strtol(retry_first, NULL, 10) : 0;
    f->fatal = fatal && strcmp(fatal, "true") == 0;
    f->down_file = s_dup(sg_plugin_option(options, n_options, "down_file"));
    f->record = s_dup(sg_plugin_option(options, n_options, "record"));
    f->hold_file = s_dup(sg_plugin_option(options, n_options, "hold_file"));
    f->calls_file = s_dup(sg_plugin_option(options, n_options, "calls"));
    f->hold_after = s_int(options, n_options, "hold_after");
    f->retry_at = s_int(options, n_options, "retry_at");
    f->fatal_at = s_int(options, n_options, "fatal_at");
    host->log(host, SG_PLUGIN_LOG_DEBUG, "retry_first %ld, fatal %d", f->retry_first, f->fatal);
    *ctx = f;
    return 0;
}

/* Appends `line` to the calls file, when there is one. */
static void s_log_call(const s_flaky_t *f, const char *line)
{
    FILE *out = f->calls_file ? fopen(f->calls_file, "a") : NULL;
    if (!out)
        return;
    fprintf(out, "%s\n", line);
    fclose(out);
}

/* How one delivery goes, by the options. */
static sg_deliver_result_t s_answer(s_flaky_t *f, const sg_outcome_t *outcome)
{
    long call = ++f->calls;
    if (call > f->hold_after)
        s_hold(f->hold_file);
    if (f->fatal || call == f->fatal_at)
        return SG_DELIVER_FATAL;
    if (call == f->retry_at)
        return SG_DELIVER_RETRY;
    if (f->down_file && s_exists(f->down_file))
        return SG_DELIVER_RETRY;
    if (f->deliveries++ < f->retry_first)
        return SG_DELIVER_RETRY;
    if (f->record) {
        FILE *out = fopen(f->record, "a");
        if (!out)
            return SG_DELIVER_RETRY;
        int bad = fprintf(out, "%s\n", outcome->json) < 0;
        bad = fclose(out) != 0 || bad;
        if (bad)
            return SG_DELIVER_RETRY;
    }
    return SG_DELIVER_OK;
}

static sg_deliver_result_t s_deliver(void *ctx, const sg_outcome_t *outcome)
{
    s_flaky_t *f = ctx;
    s_log_call(f, "deliver");
    return s_answer(f, outcome);
}

#if defined(SG_TEST_PLUGIN_BATCH) || defined(SG_TEST_PLUGIN_V1)
static void s_deliver_batch(void *ctx, const sg_outcome_t *const *outcomes, size_t n,
                            sg_deliver_result_t *results)
{
    s_flaky_t *f = ctx;
    char line[64];
    snprintf(line, sizeof line, "batch %lu", (unsigned long)n);
    s_log_call(f, line);
    for (size_t i = 0; i < n; i++)
        results[i] = s_answer(f, outcomes[i]);
}
#endif

static void s_close(void *ctx)
{
    s_flaky_t *f = ctx;
    free(f->calls_file);
    free(f->down_file);
    free(f->record);
    free(f->hold_file);
    free(f);
}

SG_PLUGIN_EXPORT const sg_plugin_t sg_plugin_descriptor = {
    .abi_version = SG_TEST_PLUGIN_ABI,
#if defined(SG_TEST_PLUGIN_V1)
    .struct_size = SG_PLUGIN_STRUCT_SIZE_V1,
#else
    .struct_size = sizeof(sg_plugin_t),
#endif
    .name = "flaky",
    .description = "answers RETRY or FATAL on demand, for tests",
    .config_keys = s_keys,
    .n_config_keys = sizeof s_keys / sizeof s_keys[0],
    .init = s_init,
    .deliver = s_deliver,
    .close = s_close,
#if defined(SG_TEST_PLUGIN_BATCH) || defined(SG_TEST_PLUGIN_V1)
    .deliver_batch = s_deliver_batch,
#endif
};
