/* jsonl: appends each outcome's JSON as one line to a file.
 *
 * Options: `path` (required), the file, opened for appending; `fsync`
 * (default false), flush each line to the disk as well as to the kernel.
 * A failed write is retried by the host. */
#include "siteguard/plugin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#include <io.h>
#define S_FILENO _fileno
#define S_FSYNC _commit
#else
#include <unistd.h>
#define S_FILENO fileno
#define S_FSYNC fsync
#endif

typedef struct {
    const sg_plugin_host_t *host;
    FILE *file;
    int fsync;
} s_jsonl_t;

static const sg_plugin_config_key_t s_keys[] = {
    {"path", SG_CFG_STRING, NULL, 1, 0, "file to append outcomes to, one JSON object a line"},
    {"fsync", SG_CFG_BOOL, "false", 0, 0, "sync the file to disk after every line"},
};

static int s_init(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                  size_t n_options, void **ctx)
{
    const char *path = sg_plugin_option(options, n_options, "path");
    const char *fsync_opt = sg_plugin_option(options, n_options, "fsync");
    if (!path) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "no path given");
        return -1;
    }
    s_jsonl_t *j = calloc(1, sizeof *j);
    if (!j) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory");
        return -1;
    }
    j->host = host;
    j->fsync = fsync_opt && strcmp(fsync_opt, "true") == 0;
    j->file = fopen(path, "a");
    if (!j->file) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "cannot open '%s' for appending: %s", path,
                  strerror(errno));
        free(j);
        return -1;
    }
    *ctx = j;
    return 0;
}

/* Whether the host's outcome struct reaches the `json` member. */
static int s_has_json(const sg_outcome_t *o)
{
    return o->struct_size >= offsetof(sg_outcome_t, json) + sizeof o->json && o->json;
}

static sg_deliver_result_t s_deliver(void *ctx, const sg_outcome_t *outcome)
{
    s_jsonl_t *j = ctx;
    if (!s_has_json(outcome))
        return SG_DELIVER_FATAL;
    if (fputs(outcome->json, j->file) == EOF || fputc('\n', j->file) == EOF ||
        fflush(j->file) != 0 || (j->fsync && S_FSYNC(S_FILENO(j->file)) != 0)) {
        clearerr(j->file);
        j->host->log(j->host, SG_PLUGIN_LOG_WARN, "write failed; the host will retry");
        return SG_DELIVER_RETRY;
    }
    return SG_DELIVER_OK;
}

static void s_close(void *ctx)
{
    s_jsonl_t *j = ctx;
    if (!j)
        return;
    if (j->file)
        fclose(j->file);
    free(j);
}

SG_PLUGIN_EXPORT const sg_plugin_t sg_plugin_descriptor = {
    .abi_version = SG_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sg_plugin_t),
    .name = "jsonl",
    .description = "appends every outcome as one line of JSON to a file",
    .config_keys = s_keys,
    .n_config_keys = sizeof s_keys / sizeof s_keys[0],
    .init = s_init,
    .deliver = s_deliver,
    .close = s_close,
};
