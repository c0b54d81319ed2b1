/* Windows implementation of platform.h: LoadLibrary, console control events,
 * the Service Control Manager and the Event Log. */
#include "platform/platform.h"
#include "base/err.h"
#include "base/str.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <sddl.h>
#include <bcrypt.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <io.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* Event ID of the one message in the executable's message table
 * (service/src/platform/messages.mc): "%1". */
#define S_MSG_TEXT 1

/* --- errors ------------------------------------------------------------------ */

/* Writes "what: <system text> (code)" into err. Returns SG_EIO. */
static int s_fail(char *err, size_t err_len, const char *what, DWORD code)
{
    char text[256] = "";
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                             code, 0, text, sizeof text, NULL);
    while (n > 0 && (text[n - 1] == '\r' || text[n - 1] == '\n' || text[n - 1] == '.'))
        text[--n] = '\0';
    if (err && err_len)
        snprintf(err, err_len, "%s: %s (%lu)", what, n ? text : "error", (unsigned long)code);
    return SG_EIO;
}

/* --- dynamic loading --------------------------------------------------------- */

struct sg_dl {
    HMODULE handle;
};

static bool s_is_absolute(const char *path)
{
    return (path[0] && path[1] == ':') || (path[0] == '\\' && path[1] == '\\');
}


sg_dl_t *sg_dl_open(const char *path, char *err, size_t err_len)
{
    /* Backslashes only: the altered search path needs them. */
    char *win = sg_strdupf("%s", path);
    if (!win) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    for (char *c = win; *c; c++)
        if (*c == '/')
            *c = '\\';
    /* An absolute path: the plugin's own folder is searched for its DLLs. */
    DWORD flags = s_is_absolute(win) ? LOAD_WITH_ALTERED_SEARCH_PATH : 0;
    HMODULE h = LoadLibraryExA(win, NULL, flags);
    DWORD why = GetLastError();
    free(win);
    if (!h) {
        s_fail(err, err_len, path, why);
        return NULL;
    }
    sg_dl_t *dl = malloc(sizeof *dl);
    if (!dl) {
        FreeLibrary(h);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    dl->handle = h;
    return dl;
}

void *sg_dl_sym(sg_dl_t *dl, const char *name)
{
    FARPROC f = GetProcAddress(dl->handle, name);
    void *p;
    memcpy(&p, &f, sizeof p);
    return p;
}

void sg_dl_close(sg_dl_t **dl)
{
    if (!dl || !*dl)
        return;
    FreeLibrary((*dl)->handle);
    free(*dl);
    *dl = NULL;
}

const char *sg_dl_suffix(void) { return ".dll"; }

/* --- stop requests ----------------------------------------------------------- */

static volatile LONG s_stop;

static BOOL WINAPI s_on_console(DWORD event)
{
    switch (event) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_SHUTDOWN_EVENT:
        sg_platform_request_stop();
        return TRUE;
    default:
        return FALSE;
    }
}

int sg_platform_signals_install(void)
{
    return SetConsoleCtrlHandler(s_on_console, TRUE) ? SG_OK : SG_EIO;
}

int sg_platform_stop_requested(void) { return InterlockedCompareExchange(&s_stop, 0, 0) != 0; }

void sg_platform_request_stop(void) { InterlockedExchange(&s_stop, 1); }

/* --- paths ------------------------------------------------------------------- */

bool sg_platform_file_is_private(FILE *f, unsigned *mode)
{
    (void)f;
    *mode = 0;
    return true;
}

int sg_platform_hostname(char *buf, size_t len)
{
    DWORD n = (DWORD)len;
    return len && GetComputerNameA(buf, &n) ? SG_OK : SG_EIO;
}

int sg_platform_exe_dir(char *buf, size_t len)
{
    DWORD n = GetModuleFileNameA(NULL, buf, (DWORD)len);
    if (n == 0 || n >= len)
        return SG_EIO;
    char *sep = strrchr(buf, '\\');
    char *slash = strrchr(buf, '/');
    if (slash > sep)
        sep = slash;
    if (!sep)
        return SG_EIO;
    *sep = '\0';
    return SG_OK;
}

int sg_platform_data_dir(char *buf, size_t len)
{
    char base[MAX_PATH];
    DWORD n = GetEnvironmentVariableA("ProgramData", base, sizeof base);
    if (n == 0 || n >= sizeof base)
        snprintf(base, sizeof base, "C:\\ProgramData");
    n = (DWORD)snprintf(buf, len, "%s\\siteguard", base);
    return n < len ? SG_OK : SG_EINVAL;
}

int sg_platform_default_config(char *buf, size_t len)
{
    char dir[MAX_PATH];
    int rc = sg_platform_data_dir(dir, sizeof dir);
    if (rc != SG_OK)
        return rc;
    int n = snprintf(buf, len, "%s\\siteguard.yaml", dir);
    return (n > 0 && (size_t)n < len) ? SG_OK : SG_EINVAL;
}

int sg_platform_abs_path(const char *path, char *buf, size_t len)
{
    DWORD n = GetFullPathNameA(path, (DWORD)len, buf, NULL);
    return (n == 0 || n >= len) ? SG_EINVAL : SG_OK;
}

/* --- files, secrets and users ----------------------------------------------- */

/* Full access for the file's owner (OW), SYSTEM and Administrators; the
 * access list is protected (P): nothing is inherited from the folder. */
static const char s_private_sddl[] = "D:P(A;;FA;;;OW)(A;;FA;;;SY)(A;;FA;;;BA)";

int sg_platform_file_private(const char *path, bool *open_to_others)
{
    if (open_to_others)
        *open_to_others = false;
    PSECURITY_DESCRIPTOR sd = NULL;
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorA(s_private_sddl, SDDL_REVISION_1,
                                                              &sd, NULL))
        return SG_EIO;
    SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
    DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
    HANDLE h = CreateFileA(path, GENERIC_WRITE, share, &sa, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
    DWORD why = GetLastError();
    LocalFree(sd);
    if (h != INVALID_HANDLE_VALUE) {
        CloseHandle(h);
        return SG_OK;
    }
    if (why == ERROR_FILE_EXISTS || why == ERROR_ALREADY_EXISTS)
        return SG_OK;
    errno = why == ERROR_ACCESS_DENIED                                  ? EACCES
            : why == ERROR_PATH_NOT_FOUND || why == ERROR_FILE_NOT_FOUND ? ENOENT
                                                                         : EIO;
    return SG_EIO;
}

void sg_platform_secure_zero(void *p, size_t len)
{
    if (p && len)
        SecureZeroMemory(p, len);
}

int sg_platform_sha256_hex(const void *data, size_t len, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    BCRYPT_ALG_HANDLE alg = NULL;
    BCRYPT_HASH_HANDLE hash = NULL;
    UCHAR md[32];
    int rc = SG_EIO;
    hex[0] = '\0';
    if (len > ULONG_MAX ||
        !BCRYPT_SUCCESS(BCryptOpenAlgorithmProvider(&alg, BCRYPT_SHA256_ALGORITHM, NULL, 0)))
        goto done;
    if (!BCRYPT_SUCCESS(BCryptCreateHash(alg, &hash, NULL, 0, NULL, 0, 0)) ||
        !BCRYPT_SUCCESS(BCryptHashData(hash, (PUCHAR)data, (ULONG)len, 0)) ||
        !BCRYPT_SUCCESS(BCryptFinishHash(hash, md, sizeof md, 0)))
        goto done;
    for (unsigned i = 0; i < sizeof md; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0x0f];
    }
    hex[64] = '\0';
    rc = SG_OK;
done:
    if (hash)
        BCryptDestroyHash(hash);
    if (alg)
        BCryptCloseAlgorithmProvider(alg, 0);
    return rc;
}

int sg_platform_user_name(unsigned long uid, char *buf, size_t len)
{
    (void)uid;
    if (len)
        buf[0] = '\0';
    return SG_ESTATE;
}

/* --- service control (the `install`, `start`, ... commands) ------------------ */

static const char s_evt_key[] = "SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\";

/* Registers `name` as an Event Log source whose messages are in this executable. */
static int s_eventlog_register(const char *name, const char *exe, char *err, size_t err_len)
{
    char *key = sg_strdupf("%s%s", s_evt_key, name);
    HKEY k = NULL;
    int rc = SG_ENOMEM;
    if (!key)
        goto fail;
    LONG e = RegCreateKeyExA(HKEY_LOCAL_MACHINE, key, 0, NULL, 0, KEY_SET_VALUE, NULL, &k, NULL);
    if (e != ERROR_SUCCESS) {
        rc = s_fail(err, err_len, "registering the Event Log source", (DWORD)e);
        goto fail;
    }
    DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
    e = RegSetValueExA(k, "EventMessageFile", 0, REG_EXPAND_SZ, (const BYTE *)exe,
                       (DWORD)strlen(exe) + 1);
    if (e == ERROR_SUCCESS)
        e = RegSetValueExA(k, "TypesSupported", 0, REG_DWORD, (const BYTE *)&types,
                           sizeof types);
    if (e != ERROR_SUCCESS) {
        rc = s_fail(err, err_len, "registering the Event Log source", (DWORD)e);
        goto fail;
    }
    rc = SG_OK;
fail:
    if (k)
        RegCloseKey(k);
    free(key);
    return rc;
}

/* Restart on failure (also on a non-zero exit), description, preshutdown. */
static int s_service_configure(SC_HANDLE svc, const sg_platform_service_t *def, char *err,
                               size_t err_len)
{
    SERVICE_DESCRIPTIONA desc = {.lpDescription = (char *)def->description};
    if (def->description && !ChangeServiceConfig2A(svc, SERVICE_CONFIG_DESCRIPTION, &desc))
        return s_fail(err, err_len, "setting the description", GetLastError());
    SC_ACTION acts[3] = {{SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 30000},
                         {SC_ACTION_RESTART, 60000}};
    SERVICE_FAILURE_ACTIONSA fa = {.dwResetPeriod = 24 * 3600, .cActions = 3,
                                   .lpsaActions = acts};
    if (!ChangeServiceConfig2A(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa))
        return s_fail(err, err_len, "setting the recovery actions", GetLastError());
    /* Also on a stop with an error exit code. Some service managers (Wine's)
     * lack this level: then only crashes restart, which is said. */
    SERVICE_FAILURE_ACTIONS_FLAG flag = {.fFailureActionsOnNonCrashFailures = TRUE};
    if (!ChangeServiceConfig2A(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag)) {
        char why[256];
        s_fail(why, sizeof why, "recovery on an error exit not set", GetLastError());
        fprintf(stderr, "siteguard install: %s\n", why);
    }
    SERVICE_PRESHUTDOWN_INFO pre = {.dwPreshutdownTimeout = 30000};
    if (!ChangeServiceConfig2A(svc, SERVICE_CONFIG_PRESHUTDOWN_INFO, &pre))
        return s_fail(err, err_len, "setting the preshutdown timeout", GetLastError());
    return SG_OK;
}

int sg_platform_service_install(const sg_platform_service_t *def, char *err, size_t err_len)
{
    char exe[MAX_PATH];
    SC_HANDLE scm = NULL, svc = NULL;
    char *cmd = NULL;
    int rc = SG_EIO;
    DWORD n = GetModuleFileNameA(NULL, exe, sizeof exe);
    if (n == 0 || n >= sizeof exe) {
        rc = s_fail(err, err_len, "finding this executable", GetLastError());
        goto fail;
    }
    cmd = sg_strdupf("\"%s\" service --name %s -c \"%s\"", exe, def->name, def->config_path);
    if (!cmd) {
        rc = SG_ENOMEM;
        goto fail;
    }
    scm = OpenSCManagerA(NULL, NULL, SC_MANAGER_CREATE_SERVICE);
    if (!scm) {
        rc = s_fail(err, err_len, "opening the service manager", GetLastError());
        goto fail;
    }
    /* It depends on Windows Management Instrumentation (the wmi provider's
     * way to Hyper-V): started after it, stopped before it. A list of
     * names, each NUL-terminated, ending with an empty one. */
    static const char depends[] = "Winmgmt\0";
    svc = CreateServiceA(scm, def->name, def->display_name, SERVICE_ALL_ACCESS,
                         SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, cmd,
                         NULL, NULL, depends, NULL, NULL);
    if (!svc) {
        rc = s_fail(err, err_len, "creating the service", GetLastError());
        goto fail;
    }
    rc = s_service_configure(svc, def, err, err_len);
    if (rc == SG_OK)
        rc = s_eventlog_register(def->name, exe, err, err_len);
    if (rc != SG_OK)
        DeleteService(svc);
fail:
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    free(cmd);
    return rc;
}

/* Polls the service until it reaches `want` (or leaves `pending`), up to the deadline. */
static int s_wait_state(SC_HANDLE svc, DWORD pending, DWORD want, int timeout_ms, char *err,
                        size_t err_len)
{
    ULONGLONG deadline = GetTickCount64() + (ULONGLONG)timeout_ms;
    for (;;) {
        SERVICE_STATUS_PROCESS st;
        DWORD need = 0;
        if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *)&st, sizeof st, &need))
            return s_fail(err, err_len, "querying the service", GetLastError());
        if (st.dwCurrentState == want)
            return SG_OK;
        if (st.dwCurrentState != pending && st.dwCurrentState != SERVICE_START_PENDING &&
            st.dwCurrentState != SERVICE_STOP_PENDING) {
            snprintf(err, err_len, "the service stopped (exit code %lu, service code %lu)",
                     (unsigned long)st.dwWin32ExitCode,
                     (unsigned long)st.dwServiceSpecificExitCode);
            return SG_ESTATE;
        }
        if (GetTickCount64() >= deadline) {
            snprintf(err, err_len, "the service did not get there in %d ms", timeout_ms);
            return SG_ETIMEOUT;
        }
        DWORD step = st.dwWaitHint / 10;
        Sleep(step < 100 ? 100 : step > 1000 ? 1000 : step);
    }
}

/* Opens the service `name` with `access`. */
static SC_HANDLE s_open(const char *name, DWORD access, SC_HANDLE *scm, char *err, size_t err_len)
{
    *scm = OpenSCManagerA(NULL, NULL, SC_MANAGER_CONNECT);
    if (!*scm) {
        s_fail(err, err_len, "opening the service manager", GetLastError());
        return NULL;
    }
    SC_HANDLE svc = OpenServiceA(*scm, name, access);
    if (!svc) {
        s_fail(err, err_len, name, GetLastError());
        CloseServiceHandle(*scm);
        *scm = NULL;
    }
    return svc;
}

int sg_platform_service_start(const char *name, int timeout_ms, char *err, size_t err_len)
{
    SC_HANDLE scm, svc = s_open(name, SERVICE_START | SERVICE_QUERY_STATUS, &scm, err, err_len);
    if (!svc)
        return SG_ENOTFOUND;
    int rc = SG_OK;
    if (!StartServiceA(svc, 0, NULL) && GetLastError() != ERROR_SERVICE_ALREADY_RUNNING)
        rc = s_fail(err, err_len, "starting the service", GetLastError());
    if (rc == SG_OK)
        rc = s_wait_state(svc, SERVICE_START_PENDING, SERVICE_RUNNING, timeout_ms, err, err_len);
    CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    return rc;
}

/* Sends stop unless already stopped, then waits for SERVICE_STOPPED. */
static int s_stop_and_wait(SC_HANDLE svc, int timeout_ms, char *err, size_t err_len)
{
    SERVICE_STATUS st;
    if (!ControlService(svc, SERVICE_CONTROL_STOP, &st)) {
        DWORD e = GetLastError();
        if (e == ERROR_SERVICE_NOT_ACTIVE)
            return SG_OK;
        return s_fail(err, err_len, "stopping the service", e);
    }
    return s_wait_state(svc, SERVICE_STOP_PENDING, SERVICE_STOPPED, timeout_ms, err, err_len);
}

int sg_platform_service_stop(const char *name, int timeout_ms, char *err, size_t err_len)
{
    SC_HANDLE scm, svc = s_open(name, SERVICE_STOP | SERVICE_QUERY_STATUS, &scm, err, err_len);
    if (!svc)
        return SG_ENOTFOUND;
    int rc = s_stop_and_wait(svc, timeout_ms, err, err_len);
    CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    return rc;
}

int sg_platform_service_uninstall(const char *name, char *err, size_t err_len)
{
    SC_HANDLE scm,
        svc = s_open(name, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE, &scm, err, err_len);
    if (!svc)
        return SG_ENOTFOUND;
    int rc = s_stop_and_wait(svc, 60000, err, err_len);
    if (rc == SG_OK && !DeleteService(svc))
        rc = s_fail(err, err_len, "deleting the service", GetLastError());
    CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    if (rc != SG_OK)
        return rc;
    char *key = sg_strdupf("%s%s", s_evt_key, name);
    if (!key)
        return SG_ENOMEM;
    RegDeleteKeyA(HKEY_LOCAL_MACHINE, key);
    free(key);
    return SG_OK;
}

/* --- running as the service -------------------------------------------------- */

static struct {
    const char *name;
    int (*body)(void *arg);
    void *arg;
    int result;
    SERVICE_STATUS_HANDLE handle;
    SERVICE_STATUS status;
    CRITICAL_SECTION lock;
    HANDLE stopping; /* set by a stop control */
    HANDLE done;     /* set when the body returned */
    /* the log: stderr goes into a pipe read by one thread */
    HANDLE log_read;
    HANDLE log_thread;
    HANDLE event_source;
    FILE *log_file;
    const char *work_dir; /* NULL: the data directory */
} s_svc;

/* Reports `state` to the SCM; pending states get the next checkpoint. */
static void s_report(DWORD state, DWORD exit_code, DWORD svc_code, DWORD wait_hint)
{
    EnterCriticalSection(&s_svc.lock);
    SERVICE_STATUS *st = &s_svc.status;
    st->dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    st->dwCurrentState = state;
    st->dwControlsAccepted = state == SERVICE_RUNNING
                                 ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
                                       SERVICE_ACCEPT_PRESHUTDOWN
                                 : 0;
    st->dwWin32ExitCode = svc_code ? ERROR_SERVICE_SPECIFIC_ERROR : exit_code;
    st->dwServiceSpecificExitCode = svc_code;
    st->dwWaitHint = wait_hint;
    st->dwCheckPoint =
        (state == SERVICE_RUNNING || state == SERVICE_STOPPED) ? 0 : st->dwCheckPoint + 1;
    SetServiceStatus(s_svc.handle, st);
    LeaveCriticalSection(&s_svc.lock);
}

static DWORD WINAPI s_on_control(DWORD control, DWORD type, void *data, void *ctx)
{
    (void)type;
    (void)data;
    (void)ctx;
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
    case SERVICE_CONTROL_PRESHUTDOWN:
        s_report(SERVICE_STOP_PENDING, NO_ERROR, 0, 10000);
        sg_platform_request_stop();
        SetEvent(s_svc.stopping);
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

/* While a stop is pending, a checkpoint every second until the body returns. */
static DWORD WINAPI s_checkpoints(void *arg)
{
    (void)arg;
    HANDLE both[2] = {s_svc.stopping, s_svc.done};
    if (WaitForMultipleObjects(2, both, FALSE, INFINITE) != WAIT_OBJECT_0)
        return 0;
    while (WaitForSingleObject(s_svc.done, 1000) == WAIT_TIMEOUT)
        s_report(SERVICE_STOP_PENDING, NO_ERROR, 0, 5000);
    return 0;
}

void sg_platform_service_running(void)
{
    if (s_svc.handle)
        s_report(SERVICE_RUNNING, NO_ERROR, 0, 0);
}

/* One log line ("<time> <level> [module] text") to the Event Log and the file. */
static void s_log_line(const char *line)
{
    const char *lvl = strchr(line, ' ');
    WORD type = EVENTLOG_INFORMATION_TYPE;
    if (lvl && strncmp(lvl + 1, "error", 5) == 0)
        type = EVENTLOG_ERROR_TYPE;
    else if (lvl && strncmp(lvl + 1, "warn", 4) == 0)
        type = EVENTLOG_WARNING_TYPE;
    if (s_svc.event_source) {
        const char *strings[1] = {line};
        ReportEventA(s_svc.event_source, type, 0, S_MSG_TEXT, NULL, 1, 0, strings, NULL);
    }
    if (s_svc.log_file) {
        fprintf(s_svc.log_file, "%s\n", line);
        fflush(s_svc.log_file);
    }
}

static DWORD WINAPI s_log_reader(void *arg)
{
    (void)arg;
    char buf[4096];
    size_t have = 0;
    DWORD got;
    while (ReadFile(s_svc.log_read, buf + have, (DWORD)(sizeof buf - 1 - have), &got, NULL) &&
           got > 0) {
        have += got;
        buf[have] = '\0';
        char *start = buf, *nl;
        while ((nl = strchr(start, '\n'))) {
            *nl = '\0';
            if (nl > start && nl[-1] == '\r')
                nl[-1] = '\0';
            if (*start)
                s_log_line(start);
            start = nl + 1;
        }
        have -= (size_t)(start - buf);
        memmove(buf, start, have);
        if (have == sizeof buf - 1) { /* an over-long line: pass it on in pieces */
            buf[have] = '\0';
            s_log_line(buf);
            have = 0;
        }
    }
    return 0;
}

/* Sends stderr into a pipe read by s_log_reader. */
static int s_log_start(const char *data_dir)
{
    HANDLE w = NULL;
    if (!CreatePipe(&s_svc.log_read, &w, NULL, 0))
        return SG_EIO;
    /* A service starts without standard handles, and the runtime may have
     * left stderr without a descriptor (-2), which freopen refuses: bind the
     * stream to descriptor 2, then point descriptor 2 at the pipe. */
    if (_fileno(stderr) < 0) {
        stderr->_file = 2;
        stderr->_flag = _IOWRT;
    }
    int fd = _open_osfhandle((intptr_t)w, _O_WRONLY | _O_BINARY);
    if (fd < 0 || _dup2(fd, _fileno(stderr)) != 0) {
        if (fd >= 0)
            _close(fd);
        else
            CloseHandle(w);
        CloseHandle(s_svc.log_read);
        s_svc.log_read = NULL;
        return SG_EIO;
    }
    _close(fd);
    setvbuf(stderr, NULL, _IONBF, 0);
    SetStdHandle(STD_ERROR_HANDLE, (HANDLE)_get_osfhandle(_fileno(stderr)));
    s_svc.event_source = RegisterEventSourceA(NULL, s_svc.name);
    char *path = sg_strdupf("%s\\%s.log", data_dir, s_svc.name);
    s_svc.log_file = path ? fopen(path, "a") : NULL;
    free(path);
    s_svc.log_thread = CreateThread(NULL, 0, s_log_reader, NULL, 0, NULL);
    return s_svc.log_thread ? SG_OK : SG_EIO;
}

/* Closes the write side (stderr) and waits until the reader has drained it. */
static void s_log_stop(void)
{
    if (!s_svc.log_read)
        return;
    fflush(stderr);
    _close(_fileno(stderr));
    if (s_svc.log_thread) {
        WaitForSingleObject(s_svc.log_thread, 5000);
        CloseHandle(s_svc.log_thread);
    }
    CloseHandle(s_svc.log_read);
    if (s_svc.event_source)
        DeregisterEventSource(s_svc.event_source);
    if (s_svc.log_file)
        fclose(s_svc.log_file);
}

static void WINAPI s_service_main(DWORD argc, char **argv)
{
    (void)argc;
    (void)argv;
    s_svc.handle = RegisterServiceCtrlHandlerExA(s_svc.name, s_on_control, NULL);
    if (!s_svc.handle)
        return;
    s_report(SERVICE_START_PENDING, NO_ERROR, 0, 30000);
    char dir[MAX_PATH];
    if (s_svc.work_dir)
        snprintf(dir, sizeof dir, "%s", s_svc.work_dir);
    if (s_svc.work_dir || sg_platform_data_dir(dir, sizeof dir) == SG_OK) {
        CreateDirectoryA(dir, NULL);
        SetCurrentDirectoryA(dir);
        s_log_start(dir);
    }
    HANDLE cp = CreateThread(NULL, 0, s_checkpoints, NULL, 0, NULL);
    s_svc.result = s_svc.body(s_svc.arg);
    SetEvent(s_svc.done);
    if (cp) {
        WaitForSingleObject(cp, INFINITE);
        CloseHandle(cp);
    }
    s_log_stop();
    int r = s_svc.result;
    s_report(SERVICE_STOPPED, NO_ERROR, (DWORD)(r < 0 ? -r : r), 0);
}

int sg_platform_service_dispatch(const char *name, const char *work_dir,
                                 int (*body)(void *arg), void *arg)
{
    s_svc.name = name;
    s_svc.work_dir = work_dir;
    s_svc.body = body;
    s_svc.arg = arg;
    InitializeCriticalSection(&s_svc.lock);
    s_svc.stopping = CreateEventA(NULL, TRUE, FALSE, NULL);
    s_svc.done = CreateEventA(NULL, TRUE, FALSE, NULL);
    if (!s_svc.stopping || !s_svc.done)
        return SG_EIO;
    SERVICE_TABLE_ENTRYA table[] = {{(char *)name, s_service_main}, {NULL, NULL}};
    if (!StartServiceCtrlDispatcherA(table))
        return GetLastError() == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT ? SG_ESTATE : SG_EIO;
    return s_svc.result;
}

/* --- time zones: the system's dynamic time zone information ------------------
 * EnumDynamicTimeZoneInformation finds the zone by its key name; the offset at
 * an instant comes from the zone's rules of that (UTC) year. */

#define S_TZ_KEY_MAX 128
#define S_EPOCH_DIFF_MS 11644473600000LL /* 1601-01-01 to 1970-01-01 */

struct sg_platform_tz {
    DYNAMIC_TIME_ZONE_INFORMATION dtzi;
};

int sg_platform_tz_open(const char *name, sg_platform_tz_t **out)
{
    WCHAR want[S_TZ_KEY_MAX];
    DYNAMIC_TIME_ZONE_INFORMATION dtzi;
    *out = NULL;
    if (!name[0] || MultiByteToWideChar(CP_UTF8, 0, name, -1, want, S_TZ_KEY_MAX) == 0)
        return SG_EINVAL;
    for (DWORD i = 0; EnumDynamicTimeZoneInformation(i, &dtzi) == ERROR_SUCCESS; i++) {
        if (wcscmp(dtzi.TimeZoneKeyName, want) != 0)
            continue;
        sg_platform_tz_t *tz = calloc(1, sizeof *tz);
        if (!tz)
            return SG_ENOMEM;
        tz->dtzi = dtzi;
        *out = tz;
        return SG_OK;
    }
    return SG_EINVAL;
}

/* 100 ns units since 1601 of a FILETIME. */
static int64_t s_ticks(const FILETIME *ft)
{
    return (int64_t)(((uint64_t)ft->dwHighDateTime << 32) | ft->dwLowDateTime);
}

int sg_platform_tz_offset_min(sg_platform_tz_t *tz, int64_t utc_ms)
{
    uint64_t ticks = (uint64_t)(utc_ms + S_EPOCH_DIFF_MS) * 10000u;
    FILETIME ft = {.dwLowDateTime = (DWORD)ticks, .dwHighDateTime = (DWORD)(ticks >> 32)};
    FILETIME local_ft;
    SYSTEMTIME utc, local;
    TIME_ZONE_INFORMATION year_rules;
    /* The zone's rules of that year, then the plain conversion: what
     * SystemTimeToTzSpecificLocalTimeEx does, which Wine lacks. */
    if (!FileTimeToSystemTime(&ft, &utc) ||
        !GetTimeZoneInformationForYear(utc.wYear, &tz->dtzi, &year_rules) ||
        !SystemTimeToTzSpecificLocalTime(&year_rules, &utc, &local) ||
        !SystemTimeToFileTime(&local, &local_ft))
        return 0; /* only instants before 1601, which schedules do not reach */
    return (int)((s_ticks(&local_ft) - s_ticks(&ft)) / 600000000LL);
}

void sg_platform_tz_close(sg_platform_tz_t **tz)
{
    if (!tz || !*tz)
        return;
    free(*tz);
    *tz = NULL;
}

const char *sg_platform_tz_example(void) { return "W. Europe Standard Time"; }
