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
 * RETRY. Exit 0 is OK, 75 (EX_TEMPFAIL) RETRY, anything else FATAL; when
 * waitpid cannot tell how it ended (ECHILD: SIGCHLD ignored), RETRY. The
 * first line of what it printed is logged when it did not exit 0.
 *
 * On Windows `command` is a path such as C:\Tools\notify.exe, started with
 * CreateProcessW: its command line is the command and args, each quoted as
 * the C runtime (CommandLineToArgvW) splits them back; the environment is
 * the same, with SystemRoot and PATH (system32 and the Windows folder) for
 * PATH and LANG; stdin and the output are named pipes the plugin drives with
 * overlapped I/O, the child inheriting those two handles only. The child
 * starts suspended and runs in a job object of its own (kill on close), so
 * what it starts is in the job too: after `timeout` the whole job is ended
 * with TerminateJobObject (RETRY), and closing the job when the delivery
 * ends takes anything it left behind. Without a job (the system refused
 * one: logged) only the process is ended. */
#include "siteguard/plugin.h"

#include "common/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#include <windows.h>
#else
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#endif

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

/* PATH (and on Windows SystemRoot) for the program. */
static void s_base_env(s_env_t *e)
{
#if defined(_WIN32)
    char root[MAX_PATH];
    UINT n = GetSystemWindowsDirectoryA(root, sizeof root);
    if (n == 0 || n >= sizeof root) {
        e->failed = 1;
        return;
    }
    char *path = sg_text_printf("%s\\system32;%s", root, root);
    s_env_add(e, "SystemRoot", root);
    s_env_add(e, "PATH", path);
    if (!path)
        e->failed = 1;
    free(path);
#else
    s_env_add(e, "PATH", "/usr/local/bin:/usr/bin:/bin");
#endif
}

/* The program's environment for `o`. Pure. Returns 0, or -1 when out of
 * memory (e is left empty then). */
static int s_build_env(const sg_outcome_t *o, s_env_t *e)
{
    char when[SG_TEXT_TIME_LEN];
    sg_text_rfc3339(o->time_ms, when);
    char *summary = sg_text_summary(o, 0);
    memset(e, 0, sizeof *e);
    s_base_env(e);
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

/* --- the Windows command line (pure) ------------------------------------------------------ */

#if defined(_WIN32) || defined(SG_EXEC_TEST_QUOTING)
static char *s_put_backslashes(char *q, size_t n)
{
    while (n-- > 0)
        *q++ = '\\';
    return q;
}

/* argv as one command line that the C runtime's rules (CommandLineToArgvW)
 * split back into the same strings: an argument with a space, tab, newline,
 * vertical tab or quote, or an empty one, goes in quotes; inside, a quote
 * becomes \" and the backslashes before a quote or the closing quote are
 * doubled. Caller frees; NULL when out of memory. */
static char *s_command_line(char *const argv[])
{
    size_t cap = 1;
    for (int i = 0; argv[i]; i++)
        cap += 2 * strlen(argv[i]) + 3;
    char *line = malloc(cap), *q = line;
    if (!line)
        return NULL;
    for (int i = 0; argv[i]; i++) {
        const char *a = argv[i];
        if (i > 0)
            *q++ = ' ';
        if (*a && !strpbrk(a, " \t\n\v\"")) {
            q += sprintf(q, "%s", a);
            continue;
        }
        *q++ = '"';
        for (const char *p = a;; p++) {
            size_t backslashes = 0;
            for (; *p == '\\'; p++)
                backslashes++;
            if (!*p) {
                q = s_put_backslashes(q, 2 * backslashes);
                break;
            }
            q = s_put_backslashes(q, *p == '"' ? 2 * backslashes + 1 : backslashes);
            *q++ = *p;
        }
        *q++ = '"';
    }
    *q = '\0';
    return line;
}
#endif

#if defined(_WIN32)

/* --- running it: Windows ------------------------------------------------------------------- */

static int64_t s_now_ms(void) { return (int64_t)GetTickCount64(); }

/* UTF-8 to a new UTF-16 string, or NULL. Caller frees. */
static wchar_t *s_wide(const char *text)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, text, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (w && MultiByteToWideChar(CP_UTF8, 0, text, -1, w, n) != n) {
        free(w);
        return NULL;
    }
    return w;
}

/* The UTF-16 environment block of envp ("NAME=value" strings): each string
 * and a NUL, sorted by name without regard to case, then one more NUL.
 * Caller frees. */
static int s_env_cmp(const void *a, const void *b)
{
    return _wcsicmp(*(wchar_t *const *)a, *(wchar_t *const *)b);
}

static wchar_t *s_env_block(char *const envp[])
{
    wchar_t *vars[S_MAX_ENV + 1] = {NULL}, *block = NULL;
    size_t n = 0, len = 1;
    for (; envp[n] && n < S_MAX_ENV; n++) {
        if (!(vars[n] = s_wide(envp[n])))
            goto fail;
        len += wcslen(vars[n]) + 1;
    }
    qsort(vars, n, sizeof vars[0], s_env_cmp);
    if (!(block = malloc(len * sizeof *block)))
        goto fail;
    wchar_t *p = block;
    for (size_t i = 0; i < n; i++) {
        size_t l = wcslen(vars[i]) + 1;
        memcpy(p, vars[i], l * sizeof *p);
        p += l;
    }
    *p = L'\0';
fail:
    for (size_t i = 0; i < n; i++)
        free(vars[i]);
    return block;
}

/* One pipe for the child: our end the server of a uniquely named pipe,
 * overlapped (so one thread can write, read and keep time); the child's end
 * inheritable. we_read: the child writes (its stdout), else it reads. */
static int s_pipe(int we_read, HANDLE *ours, HANDLE *theirs)
{
    static volatile LONG counter;
    char name[96];
    snprintf(name, sizeof name, "\\\\.\\pipe\\siteguard-exec-%lu-%ld",
             (unsigned long)GetCurrentProcessId(), (long)InterlockedIncrement(&counter));
    *ours = CreateNamedPipeA(name,
                             (we_read ? PIPE_ACCESS_INBOUND : PIPE_ACCESS_OUTBOUND) |
                                 FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                             PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                                 PIPE_REJECT_REMOTE_CLIENTS,
                             1, 65536, 65536, 0, NULL);
    if (*ours == INVALID_HANDLE_VALUE)
        return *ours = *theirs = NULL, -1;
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    *theirs = CreateFileA(name,
                          we_read ? GENERIC_WRITE | FILE_READ_ATTRIBUTES
                                  : GENERIC_READ | FILE_WRITE_ATTRIBUTES,
                          0, &sa, OPEN_EXISTING, 0, NULL);
    if (*theirs == INVALID_HANDLE_VALUE) {
        CloseHandle(*ours);
        return *ours = *theirs = NULL, -1;
    }
    return 0;
}

/* An attribute list that lets the child inherit exactly these handles (not
 * those another sink's thread is handing its own child at the same time).
 * Caller frees with s_attrs_free. */
static LPPROC_THREAD_ATTRIBUTE_LIST s_attrs_new(HANDLE *handles, size_t n)
{
    SIZE_T size = 0;
    InitializeProcThreadAttributeList(NULL, 1, 0, &size);
    LPPROC_THREAD_ATTRIBUTE_LIST list = size ? malloc(size) : NULL;
    if (!list || !InitializeProcThreadAttributeList(list, 1, 0, &size)) {
        free(list);
        return NULL;
    }
    if (!UpdateProcThreadAttribute(list, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, handles,
                                   n * sizeof *handles, NULL, NULL)) {
        DeleteProcThreadAttributeList(list);
        free(list);
        return NULL;
    }
    return list;
}

static void s_attrs_free(LPPROC_THREAD_ATTRIBUTE_LIST list)
{
    if (list)
        DeleteProcThreadAttributeList(list);
    free(list);
}

/* One child: its process and our ends of its stdin and of its stdout and
 * stderr, each with its overlapped I/O. */
typedef struct {
    HANDLE process;
    HANDLE job; /* the child's job object (kill on close); NULL: none */
    HANDLE in;  /* NULL once all is written */
    HANDLE out; /* NULL at EOF */
    OVERLAPPED wr, rd;
    int writing, reading; /* an I/O is in flight */
    char buf[4096];
    char output[S_OUTPUT_KEEP + 1];
    size_t output_len;
} s_child_t;

/* A job object that ends its processes when its last handle closes, with
 * `process` (started suspended) in it; NULL, logged, when the system
 * refuses (the delivery goes on: only the process is ended at timeout). */
static HANDLE s_job_for(s_exec_t *x, HANDLE process)
{
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
    memset(&limits, 0, sizeof limits);
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    HANDLE job = CreateJobObjectW(NULL, NULL);
    if (job && SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits,
                                       sizeof limits) &&
        AssignProcessToJobObject(job, process))
        return job;
    x->host->log(x->host, SG_PLUGIN_LOG_WARN,
                 "no job object for %s (error %lu): programs it starts outlive a timeout",
                 x->command, (unsigned long)GetLastError());
    if (job)
        CloseHandle(job);
    return NULL;
}

static int s_spawn(s_exec_t *x, char *const envp[], s_child_t *c)
{
    HANDLE child_in = NULL, child_out = NULL;
    char *line8 = s_command_line(x->argv);
    wchar_t *app = s_wide(x->command), *line = line8 ? s_wide(line8) : NULL;
    wchar_t *env = s_env_block(envp);
    LPPROC_THREAD_ATTRIBUTE_LIST attrs = NULL;
    int rc = -1;
    if (!app || !line || !env || s_pipe(0, &c->in, &child_in) != 0 ||
        s_pipe(1, &c->out, &child_out) != 0)
        goto fail;
    HANDLE inherit[2] = {child_in, child_out};
    if (!(attrs = s_attrs_new(inherit, 2)))
        goto fail;
    STARTUPINFOEXW si;
    memset(&si, 0, sizeof si);
    si.StartupInfo.cb = sizeof si;
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = child_in;
    si.StartupInfo.hStdOutput = si.StartupInfo.hStdError = child_out;
    si.lpAttributeList = attrs;
    PROCESS_INFORMATION pi;
    if (!CreateProcessW(app, line, NULL, NULL, TRUE,
                        CREATE_UNICODE_ENVIRONMENT | CREATE_NO_WINDOW | CREATE_SUSPENDED |
                            EXTENDED_STARTUPINFO_PRESENT,
                        env, NULL, &si.StartupInfo, &pi)) {
        x->host->log(x->host, SG_PLUGIN_LOG_ERROR, "cannot run %s: error %lu", x->command,
                     (unsigned long)GetLastError());
        goto fail;
    }
    c->process = pi.hProcess;
    /* In its job before it runs, so nothing it starts escapes the job. */
    c->job = s_job_for(x, pi.hProcess);
    ResumeThread(pi.hThread);
    CloseHandle(pi.hThread);
    rc = 0;
fail:
    if (child_in)
        CloseHandle(child_in);
    if (child_out)
        CloseHandle(child_out);
    if (rc != 0 && c->in)
        CloseHandle(c->in), c->in = NULL;
    if (rc != 0 && c->out)
        CloseHandle(c->out), c->out = NULL;
    s_attrs_free(attrs);
    free(line8);
    free(app);
    free(line);
    free(env);
    return rc;
}

/* Closes one of our pipe ends, first cancelling and waiting out its I/O. */
static void s_close_end(HANDLE *h, OVERLAPPED *ov, int *busy)
{
    DWORD n;
    if (*busy) {
        CancelIoEx(*h, ov);
        GetOverlappedResult(*h, ov, &n, TRUE);
        *busy = 0;
    }
    if (*h)
        CloseHandle(*h);
    *h = NULL;
}

static void s_keep_output(s_child_t *c, DWORD n)
{
    size_t room = S_OUTPUT_KEEP - c->output_len, take = n < room ? n : room;
    memcpy(c->output + c->output_len, c->buf, take);
    c->output_len += take;
    c->output[c->output_len] = '\0';
}

/* Starts reads until one is in flight or the output ended. */
static void s_read_more(s_child_t *c)
{
    DWORD n = 0;
    while (c->out && !c->reading) {
        if (ReadFile(c->out, c->buf, sizeof c->buf, &n, &c->rd))
            s_keep_output(c, n);
        else if (GetLastError() == ERROR_IO_PENDING)
            c->reading = 1;
        else
            s_close_end(&c->out, &c->rd, &c->reading); /* broken pipe: EOF */
    }
}

/* Collects a finished read or write. */
static void s_reap_io(s_child_t *c)
{
    DWORD n = 0;
    if (c->writing && HasOverlappedIoCompleted(&c->wr)) {
        c->writing = 0;
        s_close_end(&c->in, &c->wr, &c->writing); /* EOF for the program */
    }
    if (c->reading && HasOverlappedIoCompleted(&c->rd)) {
        c->reading = 0;
        if (GetOverlappedResult(c->out, &c->rd, &n, FALSE))
            s_keep_output(c, n);
        else
            s_close_end(&c->out, &c->rd, &c->reading);
    }
}

/* Writes the input and reads the output until the output ends (the program
 * and any it left behind closed it) or the deadline. 0, or -1 at timeout. */
static int s_pump(s_child_t *c, const char *input, size_t len, int64_t deadline)
{
    if (WriteFile(c->in, input, (DWORD)len, NULL, &c->wr) || GetLastError() != ERROR_IO_PENDING)
        s_close_end(&c->in, &c->wr, &c->writing); /* written, or the program is gone */
    else
        c->writing = 1;
    for (s_read_more(c); c->out; s_read_more(c)) {
        int64_t left = deadline - s_now_ms();
        if (left <= 0)
            return -1;
        HANDLE events[2] = {c->rd.hEvent, c->wr.hEvent};
        DWORD w = WaitForMultipleObjects(c->writing ? 2 : 1, events, FALSE, (DWORD)left);
        if (w == WAIT_TIMEOUT || w == WAIT_FAILED)
            return -1;
        s_reap_io(c);
    }
    return 0;
}

static void s_child_free(s_child_t *c)
{
    s_close_end(&c->in, &c->wr, &c->writing);
    s_close_end(&c->out, &c->rd, &c->reading);
    if (c->wr.hEvent)
        CloseHandle(c->wr.hEvent);
    if (c->rd.hEvent)
        CloseHandle(c->rd.hEvent);
    if (c->process)
        CloseHandle(c->process);
    if (c->job)
        CloseHandle(c->job); /* kill on close: what the program left running ends */
}

static const char *s_first_line(char *text)
{
    text[strcspn(text, "\r\n")] = '\0';
    return text;
}

static sg_deliver_result_t s_result(s_exec_t *x, const char *what, DWORD code, s_child_t *c)
{
    if (code == 0)
        return SG_DELIVER_OK;
    sg_deliver_result_t r = code == S_EX_TEMPFAIL ? SG_DELIVER_RETRY : SG_DELIVER_FATAL;
    x->host->log(x->host, SG_PLUGIN_LOG_WARN, "%s: %s exited %lu (%s): %s", what, x->command,
                 (unsigned long)code, r == SG_DELIVER_RETRY ? "will retry" : "will not retry",
                 s_first_line(c->output));
    return r;
}

static sg_deliver_result_t s_run(s_exec_t *x, const sg_outcome_t *o, char *const envp[])
{
    const char *what = o->dedup_key ? o->dedup_key : "?";
    s_child_t c;
    memset(&c, 0, sizeof c);
    c.wr.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    c.rd.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    char *input = sg_text_printf("%s\n", o->json);
    sg_deliver_result_t r = SG_DELIVER_RETRY;
    if (!c.wr.hEvent || !c.rd.hEvent || !input || s_spawn(x, envp, &c) != 0)
        goto done;
    int64_t deadline = s_now_ms() + x->timeout_ms;
    int timed_out = s_pump(&c, input, strlen(input), deadline) != 0;
    int64_t left = deadline - s_now_ms();
    DWORD code = 1;
    if (timed_out || WaitForSingleObject(c.process, left > 0 ? (DWORD)left : 0) != WAIT_OBJECT_0) {
        if (!c.job || !TerminateJobObject(c.job, 1)) /* the program and all it started */
            TerminateProcess(c.process, 1);
        WaitForSingleObject(c.process, 5000);
        x->host->log(x->host, SG_PLUGIN_LOG_WARN, "%s: %s killed after %ld ms (will retry)",
                     what, x->command, x->timeout_ms);
        goto done;
    }
    GetExitCodeProcess(c.process, &code);
    r = s_result(x, what, code, &c);
done:
    s_child_free(&c);
    free(input);
    return r;
}

/* An absolute path ("C:\..." or "\\server\...") of a file that exists. */
static int s_command_ok(const char *command)
{
    int absolute = (((command[0] | 0x20) >= 'a' && (command[0] | 0x20) <= 'z' &&
                     command[1] == ':' && (command[2] == '\\' || command[2] == '/')) ||
                    (command[0] == '\\' && command[1] == '\\'));
    wchar_t *w = absolute ? s_wide(command) : NULL;
    DWORD attrs = w ? GetFileAttributesW(w) : INVALID_FILE_ATTRIBUTES;
    free(w);
    return attrs != INVALID_FILE_ATTRIBUTES && !(attrs & FILE_ATTRIBUTE_DIRECTORY);
}

#else

/* --- running it: POSIX --------------------------------------------------------------------- */

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

/* Waits for the child until the deadline: 0 with *status, -1 at timeout,
 * or -2 with errno when waitpid fails (ECHILD: with SIGCHLD ignored the
 * system reaps the child itself), so how it ended is unknown. */
static int s_wait(pid_t pid, int *status, int64_t deadline)
{
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -2;
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
    int status = 0, waited = -1;
    int timed_out = !input || s_pump(&c, input, strlen(input), deadline) != 0 ||
                    (waited = s_wait(c.pid, &status, deadline)) == -1;
    int wait_err = errno;
    free(input);
    if (c.in >= 0)
        close(c.in);
    if (c.out >= 0)
        close(c.out);
    if (waited == -2) { /* not a kill: the pid may be another process's by now */
        x->host->log(x->host, SG_PLUGIN_LOG_WARN,
                     "%s: cannot learn how %s ended: waitpid: %s (will retry)", what, x->command,
                     strerror(wait_err));
        return SG_DELIVER_RETRY;
    }
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

static int s_command_ok(const char *command)
{
    return command[0] == '/' && access(command, X_OK) == 0;
}

#endif

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
    if (!x->command || !s_command_ok(x->command)) {
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
