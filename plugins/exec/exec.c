/* exec: runs a program for each outcome.
 *
 * `command` is the program's path, started with posix_spawn (no shell);
 * `args` its fixed arguments, split at spaces. Nothing from an outcome ever
 * becomes an argument: the outcome reaches the program as environment
 * variables (SG_KIND, SG_SEVERITY, SG_TIME, SG_TIME_MS, SG_DEDUP_KEY,
 * SG_RUN_ID, SG_SITE, SG_REPLICA_SITE, SG_COLLECTION, SG_CIM_PATH,
 * SG_JOB_PATH, SG_PERCENT, SG_JOB_STATE, SG_RETURN_VALUE, SG_ERROR_CODE,
 * SG_ATTEMPT, SG_MESSAGE, SG_SUMMARY; those set) beside PATH and LANG, and
 * as its JSON and a newline on standard input. The program runs in its own
 * process group; after `timeout` the group is killed and the delivery is
 * RETRY. Exit 0 is OK, 75 (EX_TEMPFAIL) RETRY, anything else FATAL. The
 * first line of what it printed is logged when it did not exit 0. */
#include "siteguard/plugin.h"

#include "common/text.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    S_EX_TEMPFAIL = 75,
    S_MAX_ARGS = 64,
    S_MAX_ENV = 24,
    S_OUTPUT_KEEP = 512, /* bytes of the program's output kept for the log */
};

typedef struct {
    const sg_plugin_host_t *host;
    const char *command;
    char *args_text;          /* owned: a copy of args, split in place */
    char *argv[S_MAX_ARGS + 2]; /* command, args, NULL */
    long timeout_ms;
} s_exec_t;

static const sg_plugin_config_key_t s_keys[] = {
    {"command", SG_CFG_STRING, NULL, 1, 0, "absolute path of the program to run"},
    {"args", SG_CFG_STRING, NULL, 0, 0, "fixed arguments, separated by spaces"},
    {"timeout", SG_CFG_DURATION, "30s", 0, 0, "the program is killed after this (RETRY)"},
};

/* --- the environment (pure) ------------------------------------------------------------ */

typedef struct {
    char *vars[S_MAX_ENV + 1]; /* "NAME=value", owned; NULL-terminated */
    int n;
    int failed;
} s_env_t;

static void s_env_add(s_env_t *e, const char *name, const char *value)
{
    if (!value || e->failed)
        return;
    if (e->n >= S_MAX_ENV || !(e->vars[e->n] = sg_text_printf("%s=%s", name, value))) {
        e->failed = 1;
        return;
    }
    e->vars[++e->n] = NULL;
}

static void s_env_num(s_env_t *e, const char *name, long long value)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", value);
    s_env_add(e, name, text);
}

static void s_env_free(s_env_t *e)
{
    for (int i = 0; i < e->n; i++)
        free(e->vars[i]);
    e->n = 0;
    e->vars[0] = NULL;
}

/* The program's environment for `o`. Pure. Returns 0, or -1 when out of
 * memory (e is left empty then). */
static int s_build_env(const sg_outcome_t *o, s_env_t *e)
{
    char when[SG_TEXT_TIME_LEN];
    sg_text_rfc3339(o->time_ms, when);
    char *summary = sg_text_summary(o, 0);
    memset(e, 0, sizeof *e);
    s_env_add(e, "PATH", "/usr/local/bin:/usr/bin:/bin");
    s_env_add(e, "LANG", "C.UTF-8");
    s_env_add(e, "SG_KIND", sg_text_kind(o->kind));
    s_env_add(e, "SG_SEVERITY", sg_text_severity(o->severity));
    s_env_add(e, "SG_TIME", when);
    s_env_num(e, "SG_TIME_MS", (long long)o->time_ms);
    s_env_add(e, "SG_DEDUP_KEY", o->dedup_key);
    s_env_num(e, "SG_RUN_ID", (long long)o->run_id);
    s_env_add(e, "SG_SITE", o->site);
    s_env_add(e, "SG_REPLICA_SITE", o->replica_site);
    s_env_add(e, "SG_COLLECTION", o->collection);
    s_env_add(e, "SG_CIM_PATH", o->cim_path);
    s_env_add(e, "SG_JOB_PATH", o->job_path);
    if (o->percent >= 0)
        s_env_num(e, "SG_PERCENT", o->percent);
    if (o->job_state != 0)
        s_env_num(e, "SG_JOB_STATE", o->job_state);
    if (o->attempt > 0 || o->return_value != 0)
        s_env_num(e, "SG_RETURN_VALUE", o->return_value);
    if (o->error_code != 0)
        s_env_num(e, "SG_ERROR_CODE", o->error_code);
    if (o->attempt > 0)
        s_env_num(e, "SG_ATTEMPT", o->attempt);
    s_env_add(e, "SG_MESSAGE", o->message);
    s_env_add(e, "SG_SUMMARY", summary);
    if (!summary)
        e->failed = 1;
    free(summary);
    if (e->failed) {
        s_env_free(e);
        return -1;
    }
    return 0;
}

/* --- running it -------------------------------------------------------------------------- */

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One child: its pid and our ends of its stdin (a socket, so a program that
 * exits early cannot raise SIGPIPE) and of its stdout and stderr. */
typedef struct {
    pid_t pid;
    int in;  /* -1 once all is written */
    int out; /* -1 at EOF */
    char output[S_OUTPUT_KEEP + 1];
    size_t output_len;
} s_child_t;

static int s_spawn(s_exec_t *x, char *const envp[], s_child_t *c)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, rc = -1;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int fa_ok = posix_spawn_file_actions_init(&fa) == 0;
    int attr_ok = posix_spawnattr_init(&attr) == 0;
    if (!fa_ok || !attr_ok || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) != 0)
        goto fail;
    if (posix_spawn_file_actions_adddup2(&fa, in[1], 0) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, out[1], 1) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, out[1], 2) != 0 ||
        posix_spawnattr_setpgroup(&attr, 0) != 0 ||
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP) != 0)
        goto fail;
    int err = posix_spawn(&c->pid, x->command, &fa, &attr, x->argv, envp);
    if (err != 0) {
        x->host->log(x->host, SG_PLUGIN_LOG_ERROR, "cannot run %s: %s", x->command, strerror(err));
        goto fail;
    }
    c->in = in[0];
    c->out = out[0];
    in[0] = out[0] = -1;
    fcntl(c->in, F_SETFL, O_NONBLOCK);
    fcntl(c->out, F_SETFL, O_NONBLOCK);
    rc = 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_ok)
        posix_spawnattr_destroy(&attr);
    return rc;
}

static void s_read_output(s_child_t *c)
{
    char buf[4096];
    ssize_t n = read(c->out, buf, sizeof buf);
    if (n > 0) {
        size_t take = (size_t)n < S_OUTPUT_KEEP - c->output_len ? (size_t)n
                                                                : S_OUTPUT_KEEP - c->output_len;
        memcpy(c->output + c->output_len, buf, take);
        c->output_len += take;
        c->output[c->output_len] = '\0';
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(c->out);
        c->out = -1;
    }
}

/* Writes the input and reads the output until the output ends (the program
 * and any it left behind closed it) or the deadline. 0, or -1 at timeout. */
static int s_pump(s_child_t *c, const char *input, size_t len, int64_t deadline)
{
    size_t sent = 0;
    while (c->out >= 0) {
        int64_t left = deadline - s_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p[2] = {{.fd = c->out, .events = POLLIN}, {.fd = c->in, .events = POLLOUT}};
        if (poll(p, c->in >= 0 ? 2 : 1, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
            return -1;
        if (c->in >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = send(c->in, input + sent, len - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || sent == len) {
                close(c->in); /* EOF for the program, or it stopped reading */
                c->in = -1;
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
            s_read_output(c);
    }
    return 0;
}

/* Waits for the child until the deadline; -1 at timeout. */
static int s_wait(pid_t pid, int *status, int64_t deadline)
{
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return (*status = 0), 0;
        if (s_now_ms() >= deadline)
            return -1;
        struct timespec ts = {0, 5 * 1000000}; /* the child closed its output; it is ending */
        nanosleep(&ts, NULL);
    }
}

static const char *s_first_line(char *text)
{
    text[strcspn(text, "\r\n")] = '\0';
    return text;
}

static sg_deliver_result_t s_result(s_exec_t *x, const char *what, int status, s_child_t *c)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return SG_DELIVER_OK;
    sg_deliver_result_t r = WIFEXITED(status) && WEXITSTATUS(status) == S_EX_TEMPFAIL
                                ? SG_DELIVER_RETRY
                                : SG_DELIVER_FATAL;
    if (WIFEXITED(status))
        x->host->log(x->host, SG_PLUGIN_LOG_WARN, "%s: %s exited %d (%s): %s", what, x->command,
                     WEXITSTATUS(status), r == SG_DELIVER_RETRY ? "will retry" : "will not retry",
                     s_first_line(c->output));
    else
        x->host->log(x->host, SG_PLUGIN_LOG_WARN, "%s: %s killed by signal %d (will not retry)",
                     what, x->command, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return r;
}

static sg_deliver_result_t s_run(s_exec_t *x, const sg_outcome_t *o, char *const envp[])
{
    const char *what = o->dedup_key ? o->dedup_key : "?";
    s_child_t c = {.pid = -1, .in = -1, .out = -1};
    if (s_spawn(x, envp, &c) != 0)
        return SG_DELIVER_RETRY;
    char *input = sg_text_printf("%s\n", o->json);
    int64_t deadline = s_now_ms() + x->timeout_ms;
    int status = 0;
    int timed_out = !input || s_pump(&c, input, strlen(input), deadline) != 0 ||
                    s_wait(c.pid, &status, deadline) != 0;
    free(input);
    if (c.in >= 0)
        close(c.in);
    if (c.out >= 0)
        close(c.out);
    if (timed_out) {
        kill(-c.pid, SIGKILL);
        while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR)
            ;
        x->host->log(x->host, SG_PLUGIN_LOG_WARN, "%s: %s killed after %ld ms (will retry)",
                     what, x->command, x->timeout_ms);
        return SG_DELIVER_RETRY;
    }
    return s_result(x, what, status, &c);
}

/* --- the plugin ---------------------------------------------------------------------------- */

static void s_close(void *ctx)
{
    s_exec_t *x = ctx;
    if (!x)
        return;
    free(x->args_text);
    free(x);
}

/* argv: the command, then args split at spaces. */
static int s_split_args(s_exec_t *x, const char *args)
{
    int n = 0;
    x->argv[n++] = (char *)x->command;
    if (args) {
        if (!(x->args_text = sg_text_printf("%s", args)))
            return -1;
        char *save = NULL;
        for (char *a = strtok_r(x->args_text, " \t", &save); a; a = strtok_r(NULL, " \t", &save)) {
            if (n > S_MAX_ARGS)
                return -1;
            x->argv[n++] = a;
        }
    }
    x->argv[n] = NULL;
    return 0;
}

static int s_init(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                  size_t n_options, void **ctx)
{
    const char *timeout = sg_plugin_option(options, n_options, "timeout");
    s_exec_t *x = calloc(1, sizeof *x);
    if (!x) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory");
        return -1;
    }
    x->host = host;
    x->command = sg_plugin_option(options, n_options, "command");
    x->timeout_ms = timeout ? strtol(timeout, NULL, 10) : 30000;
    if (!x->command || x->command[0] != '/' || access(x->command, X_OK) != 0) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "command must be the absolute path of a program");
        goto fail;
    }
    if (s_split_args(x, sg_plugin_option(options, n_options, "args")) != 0) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "args: out of memory or more than %d", S_MAX_ARGS);
        goto fail;
    }
    *ctx = x;
    return 0;
fail:
    s_close(x);
    return -1;
}

static sg_deliver_result_t s_deliver(void *ctx, const sg_outcome_t *o)
{
    s_exec_t *x = ctx;
    if (!sg_text_outcome_complete(o))
        return SG_DELIVER_FATAL;
    s_env_t env;
    if (s_build_env(o, &env) != 0)
        return SG_DELIVER_RETRY;
    sg_deliver_result_t r = s_run(x, o, env.vars);
    s_env_free(&env);
    return r;
}

SG_PLUGIN_EXPORT const sg_plugin_t sg_plugin_descriptor = {
    .abi_version = SG_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sg_plugin_t),
    .name = "exec",
    .description = "runs a program for every outcome, the outcome in its environment and stdin",
    .config_keys = s_keys,
    .n_config_keys = sizeof s_keys / sizeof s_keys[0],
    .init = s_init,
    .deliver = s_deliver,
    .close = s_close,
};
