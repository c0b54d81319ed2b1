#include "platform/platform.h"
#include "base/err.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdbool.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sg_dl {
    void *handle;
};

sg_dl_t *sg_dl_open(const char *path, char *err, size_t err_len)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(err, err_len, "%s", why ? why : "dlopen failed");
        return NULL;
    }
    sg_dl_t *dl = malloc(sizeof *dl);
    if (!dl) {
        dlclose(h);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    dl->handle = h;
    return dl;
}

void *sg_dl_sym(sg_dl_t *dl, const char *name) { return dlsym(dl->handle, name); }

void sg_dl_close(sg_dl_t **dl)
{
    if (!dl || !*dl)
        return;
    dlclose((*dl)->handle);
    free(*dl);
    *dl = NULL;
}

const char *sg_dl_suffix(void) { return ".so"; }

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

int sg_platform_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return SG_EIO;
    signal(SIGPIPE, SIG_IGN);
    return SG_OK;
}

int sg_platform_stop_requested(void) { return s_stop != 0; }

void sg_platform_request_stop(void) { s_stop = 1; }

bool sg_platform_file_is_private(FILE *f, unsigned *mode)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        *mode = 0;
        return false;
    }
    *mode = (unsigned)(st.st_mode & 07777);
    return (st.st_mode & 077) == 0;
}

int sg_platform_hostname(char *buf, size_t len)
{
    if (len == 0 || gethostname(buf, len) != 0)
        return SG_EIO;
    buf[len - 1] = '\0';
    return buf[0] ? SG_OK : SG_EIO;
}

int sg_platform_exe_dir(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0)
        return SG_EIO;
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash)
        return SG_EIO;
    *slash = '\0';
    return SG_OK;
}

/* The service manager is systemd, which runs `siteguard run` itself. */
static int s_no_manager(char *err, size_t err_len)
{
    snprintf(err, err_len, "no service manager here: use deploy/systemd/siteguard.service");
    return SG_ESTATE;
}

int sg_platform_service_install(const sg_platform_service_t *svc, char *err, size_t err_len)
{
    (void)svc;
    return s_no_manager(err, err_len);
}

int sg_platform_service_uninstall(const char *name, char *err, size_t err_len)
{
    (void)name;
    return s_no_manager(err, err_len);
}

int sg_platform_service_start(const char *name, int timeout_ms, char *err, size_t err_len)
{
    (void)name;
    (void)timeout_ms;
    return s_no_manager(err, err_len);
}

int sg_platform_service_stop(const char *name, int timeout_ms, char *err, size_t err_len)
{
    (void)name;
    (void)timeout_ms;
    return s_no_manager(err, err_len);
}

int sg_platform_service_dispatch(const char *name, const char *work_dir,
                                 int (*body)(void *arg), void *arg)
{
    (void)name;
    (void)work_dir;
    (void)body;
    (void)arg;
    return SG_ESTATE;
}

void sg_platform_service_running(void) {}

static int s_copy(char *buf, size_t len, const char *text)
{
    int n = snprintf(buf, len, "%s", text);
    return (n < 0 || (size_t)n >= len) ? SG_EINVAL : SG_OK;
}

int sg_platform_data_dir(char *buf, size_t len) { return s_copy(buf, len, "/var/lib/siteguard"); }

int sg_platform_default_config(char *buf, size_t len)
{
    return s_copy(buf, len, "/etc/siteguard/siteguard.yaml");
}

int sg_platform_abs_path(const char *path, char *buf, size_t len)
{
    int n;
    if (path[0] == '/') {
        n = snprintf(buf, len, "%s", path);
    } else {
        char cwd[4096];
        if (!getcwd(cwd, sizeof cwd))
            return SG_EIO;
        n = snprintf(buf, len, "%s/%s", cwd, path);
    }
    return (n < 0 || (size_t)n >= len) ? SG_EINVAL : SG_OK;
}

/* --- files, secrets and users ----------------------------------------------- */

int sg_platform_file_private(const char *path, bool *open_to_others)
{
    if (open_to_others)
        *open_to_others = false;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        /* the umask can only take bits away; this makes the mode exact */
        int rc = fchmod(fd, 0600);
        close(fd);
        return rc == 0 ? SG_OK : SG_EIO;
    }
    if (errno != EEXIST)
        return SG_EIO;
    struct stat st;
    if (stat(path, &st) != 0)
        return SG_EIO;
    if (open_to_others)
        *open_to_others = (st.st_mode & 077) != 0;
    return SG_OK;
}

void sg_platform_secure_zero(void *p, size_t len)
{
    if (p && len)
        explicit_bzero(p, len);
}

int sg_platform_sha256_hex(const void *data, size_t len, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    hex[0] = '\0';
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return SG_EIO;
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0x0f];
    }
    hex[64] = '\0';
    return SG_OK;
}

int sg_platform_user_name(unsigned long uid, char *buf, size_t len)
{
    struct passwd pw, *found = NULL;
    char scratch[4096];
    int n;
    if (getpwuid_r((uid_t)uid, &pw, scratch, sizeof scratch, &found) == 0 && found)
        n = snprintf(buf, len, "%s (uid %lu)", found->pw_name, uid);
    else
        n = snprintf(buf, len, "uid %lu", uid);
    return (n < 0 || (size_t)n >= len) ? SG_EINVAL : SG_OK;
}

/* --- time zones: ICU ------------------------------------------------------- */

#define S_TZ_ID_MAX 128

struct sg_platform_tz {
    UCalendar *cal;
};

/* The name as UTF-16 when it is a zone ICU knows (its canonical ID need not
 * be the name itself: "US/Eastern" is fine); false otherwise. */
static bool s_tz_known(const char *name, UChar *id, int32_t cap)
{
    size_t n = strlen(name);
    if (n == 0 || n >= (size_t)cap)
        return false;
    u_uastrncpy(id, name, cap);
    UChar canon[S_TZ_ID_MAX];
    UBool system_id = 0;
    UErrorCode st = U_ZERO_ERROR;
    ucal_getCanonicalTimeZoneID(id, -1, canon, S_TZ_ID_MAX, &system_id, &st);
    return U_SUCCESS(st) && system_id;
}

int sg_platform_tz_open(const char *name, sg_platform_tz_t **out)
{
    UChar id[S_TZ_ID_MAX];
    *out = NULL;
    if (!s_tz_known(name, id, S_TZ_ID_MAX))
        return SG_EINVAL;
    sg_platform_tz_t *tz = calloc(1, sizeof *tz);
    if (!tz)
        return SG_ENOMEM;
    UErrorCode st = U_ZERO_ERROR;
    tz->cal = ucal_open(id, -1, "en_US_POSIX", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st) || !tz->cal)
        goto fail;
    *out = tz;
    return SG_OK;
fail:
    if (tz->cal)
        ucal_close(tz->cal);
    free(tz);
    return st == U_MEMORY_ALLOCATION_ERROR ? SG_ENOMEM : SG_EINVAL;
}

int sg_platform_tz_offset_min(sg_platform_tz_t *tz, int64_t utc_ms)
{
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(tz->cal, (UDate)utc_ms, &st);
    int32_t zone = ucal_get(tz->cal, UCAL_ZONE_OFFSET, &st);
    int32_t dst = ucal_get(tz->cal, UCAL_DST_OFFSET, &st);
    if (U_FAILURE(st))
        return 0; /* only out-of-range instants, which schedules do not reach */
    return (int)((zone + dst) / 60000);
}

void sg_platform_tz_close(sg_platform_tz_t **tz)
{
    if (!tz || !*tz)
        return;
    ucal_close((*tz)->cal);
    free(*tz);
    *tz = NULL;
}

const char *sg_platform_tz_example(void) { return "Europe/Berlin"; }
