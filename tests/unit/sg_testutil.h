/* Portable helpers for the unit tests, so that one test source builds and
 * runs on Linux and on Windows (mingw-w64, run under Wine): temporary
 * directories, environment variables, plugin file names, UTC dates,
 * standard error captured into a file, and a child process killed abruptly
 * for crash tests. Everything here is static
 * inline: a test program includes it once. */
#ifndef SG_TESTUTIL_H
#define SG_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifdef _WIN32
#include <direct.h>
#include <io.h>
#include <windows.h>
#define SG_TEST_DL_SUFFIX ".dll"
#else
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#define SG_TEST_DL_SUFFIX ".so"
#endif

/* --- temporary directories ------------------------------------------------- */

/* The directory for temporary files (POSIX: TMPDIR, else /tmp; Windows:
 * GetTempPath), with forward slashes and no trailing one, into buf.
 * Returns buf or NULL. */
static inline char *sg_test_tmp_root(char *buf, size_t len)
{
#ifdef _WIN32
    char root[MAX_PATH + 1];
    DWORD got = GetTempPathA(sizeof root, root);
    if (got == 0 || got >= sizeof root)
        return NULL;
#else
    const char *root = getenv("TMPDIR");
    if (!root || !*root)
        root = "/tmp";
#endif
    int n = snprintf(buf, len, "%s", root);
    if (n <= 0 || (size_t)n >= len)
        return NULL;
    for (char *p = buf; *p; p++) {
        if (*p == '\\')
            *p = '/';
    }
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    return buf;
}

/* Creates a new, empty, private directory <tmp root>/<prefix>XXXXXX and
 * writes its path (forward slashes) into buf. Returns buf, or NULL. */
static inline char *sg_test_mkdtemp(char *buf, size_t len, const char *prefix)
{
    char root[512];
    if (!sg_test_tmp_root(root, sizeof root))
        return NULL;
#ifdef _WIN32
    static unsigned long counter;
    for (int attempt = 0; attempt < 1000; attempt++) {
        int n = snprintf(buf, len, "%s/%s%05lx%04lx", root, prefix,
                         (unsigned long)GetCurrentProcessId() & 0xfffff, counter++ & 0xffff);
        if (n <= 0 || (size_t)n >= len)
            return NULL;
        if (_mkdir(buf) == 0)
            return buf;
        if (errno != EEXIST)
            return NULL;
    }
    return NULL;
#else
    int n = snprintf(buf, len, "%s/%sXXXXXX", root, prefix);
    if (n <= 0 || (size_t)n >= len)
        return NULL;
    return mkdtemp(buf);
#endif
}

/* Creates the directory `path` (its parent must exist), private to the
 * user on POSIX. Returns 0 or -1. */
static inline int sg_test_mkdir(const char *path)
{
#ifdef _WIN32
    return _mkdir(path) == 0 ? 0 : -1;
#else
    return mkdir(path, 0700) == 0 ? 0 : -1;
#endif
}

/* Removes `path` and, when it is a directory, everything under it.
 * Returns 0, or -1 when something could not be removed. */
static inline int sg_test_rmtree(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return remove(path) == 0 ? 0 : -1;
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        char *child = malloc(len);
        if (!child) {
            rc = -1;
            break;
        }
        snprintf(child, len, "%s/%s", path, e->d_name);
        if (sg_test_rmtree(child) != 0)
            rc = -1;
        free(child);
    }
    closedir(d);
#ifdef _WIN32
    if (_rmdir(path) != 0)
        rc = -1;
#else
    if (rmdir(path) != 0)
        rc = -1;
#endif
    return rc;
}

/* Writes `text` into the file at `path` (created or emptied) with the mode
 * of a secret key file: 0600 on POSIX (Windows: the default ACL). Returns 0
 * or -1. */
static inline int sg_test_write_private(const char *path, const char *text)
{
#ifdef _WIN32
    FILE *f = fopen(path, "wb");
#else
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 && fchmod(fd, 0600) == 0 ? fdopen(fd, "wb") : NULL;
    if (!f && fd >= 0)
        close(fd);
#endif
    if (!f)
        return -1;
    size_t n = strlen(text);
    int rc = fwrite(text, 1, n, f) == n ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

/* --- environment ----------------------------------------------------------- */

/* Sets `name` to `value`, or removes it when `value` is NULL. Returns 0 or -1. */
static inline int sg_test_setenv(const char *name, const char *value)
{
#ifdef _WIN32
    return _putenv_s(name, value ? value : "") == 0 ? 0 : -1;
#else
    return value ? setenv(name, value, 1) : unsetenv(name);
#endif
}

/* --- time ------------------------------------------------------------------ */

/* Unix seconds of a broken-down UTC time (timegm; _mkgmtime on Windows). */
static inline int64_t sg_test_timegm(struct tm *tm)
{
#ifdef _WIN32
    return (int64_t)_mkgmtime(tm);
#else
    return (int64_t)timegm(tm);
#endif
}

/* Pauses the calling thread for `ms` milliseconds, for polling an observable
 * condition against a deadline (never as synchronisation by itself). */
static inline void sg_test_pause_ms(int ms)
{
#ifdef _WIN32
    Sleep((DWORD)ms);
#else
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
#endif
}

/* --- standard error captured ------------------------------------------------ */

/* Sends standard error (descriptor 2, the log's) into a new file at path
 * until sg_test_capture_end. Returns the saved descriptor to hand to it, or
 * -1. */
static inline int sg_test_capture_begin(const char *path)
{
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved < 0 || fd < 0 || dup2(fd, 2) < 0) { /* 2 on POSIX, 0 from Windows' _dup2 */
        if (saved >= 0)
            close(saved);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return saved;
}

/* Gives standard error back and returns what was written to path, or NULL.
 * The caller frees it. */
static inline char *sg_test_capture_end(int saved, const char *path)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0, n;
    char *text = malloc(cap);
    while (text && (n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *grown = realloc(text, cap * 2);
            if (!grown) {
                free(text);
                text = NULL;
                break;
            }
            text = grown;
            cap *= 2;
        }
    }
    fclose(f);
    if (text)
        text[len] = '\0';
    return text;
}

/* --- a child process killed abruptly, for crash tests ------------------------
 * sg_test_run_killed(name, arg) runs the body `name` of the program's child
 * table with `arg` in another process, which is killed outright (SIGKILL;
 * TerminateProcess on Windows: no atexit handlers, no buffers flushed, no
 * files closed) as soon as the body returns 0. POSIX forks; Windows runs the
 * test program again with `--sg-test-child NAME ARG`, so a program that uses
 * it calls sg_test_children(argc, argv, table, n) first thing in main. */

typedef struct {
    const char *name;
    int (*body)(const char *arg); /* 0: success, then the process is killed */
} sg_test_child_t;

enum {
    SG_TEST_CHILD_KILLED = 0, /* the body succeeded and the process was killed */
    SG_TEST_CHILD_FAILED = 1, /* the body failed */
    SG_TEST_CHILD_ERROR = -1, /* no such child, or the process could not run */
    SG_TEST_CHILD_EXIT_KILLED = 137 /* the exit code of a child killed on Windows */
};

static const sg_test_child_t *sg_test_child_table;
static size_t sg_test_n_children;

static inline const sg_test_child_t *sg_test_child_find(const char *name)
{
    for (size_t i = 0; i < sg_test_n_children; i++) {
        if (strcmp(sg_test_child_table[i].name, name) == 0)
            return &sg_test_child_table[i];
    }
    return NULL;
}

/* Runs the body in this process, then dies: killed after success, exit 1
 * after a failure. */
static inline void sg_test_child_die(const sg_test_child_t *c, const char *arg)
{
    if (!c || c->body(arg) != 0)
        _exit(SG_TEST_CHILD_FAILED);
#ifdef _WIN32
    TerminateProcess(GetCurrentProcess(), SG_TEST_CHILD_EXIT_KILLED);
#else
    kill(getpid(), SIGKILL);
#endif
    _exit(SG_TEST_CHILD_FAILED);
}

/* Registers the program's child bodies. When this process was started as one
 * of them (Windows), runs it and does not return. */
static inline void sg_test_children(int argc, char **argv, const sg_test_child_t *table, size_t n)
{
    sg_test_child_table = table;
    sg_test_n_children = n;
    if (argc == 4 && strcmp(argv[1], "--sg-test-child") == 0)
        sg_test_child_die(sg_test_child_find(argv[2]), argv[3]);
}

static inline int sg_test_run_killed(const char *name, const char *arg)
{
    const sg_test_child_t *c = sg_test_child_find(name);
    if (!c)
        return SG_TEST_CHILD_ERROR;
    fflush(NULL);
#ifdef _WIN32
    char exe[MAX_PATH];
    DWORD n = GetModuleFileNameA(NULL, exe, sizeof exe);
    if (n == 0 || n >= sizeof exe)
        return SG_TEST_CHILD_ERROR;
    size_t len = strlen(exe) + strlen(name) + strlen(arg) + 40;
    char *cmd = malloc(len);
    if (!cmd)
        return SG_TEST_CHILD_ERROR;
    snprintf(cmd, len, "\"%s\" --sg-test-child %s \"%s\"", exe, name, arg);
    STARTUPINFOA si = {.cb = sizeof si};
    PROCESS_INFORMATION pi;
    BOOL ok = CreateProcessA(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi);
    free(cmd);
    if (!ok)
        return SG_TEST_CHILD_ERROR;
    DWORD code = 0;
    int rc = SG_TEST_CHILD_ERROR;
    if (WaitForSingleObject(pi.hProcess, INFINITE) == WAIT_OBJECT_0 &&
        GetExitCodeProcess(pi.hProcess, &code))
        rc = code == SG_TEST_CHILD_EXIT_KILLED ? SG_TEST_CHILD_KILLED : SG_TEST_CHILD_FAILED;
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    return rc;
#else
    pid_t pid = fork();
    if (pid < 0)
        return SG_TEST_CHILD_ERROR;
    if (pid == 0)
        sg_test_child_die(c, arg);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return SG_TEST_CHILD_ERROR;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        return SG_TEST_CHILD_KILLED;
    return SG_TEST_CHILD_FAILED;
#endif
}

#endif
