/* platform: the services that differ by operating system, behind one
 * header: dynamic loading, stop requests, private files, zeroing secrets,
 * user names, SHA-256 digests, the system service manager and default paths. One implementation file per platform (posix.c, windows.c);
 * the build picks one, and nothing else in the core has #ifdef _WIN32.
 *
 * Thread rules: the stop flag may be set from a signal handler or any
 * thread and read from any thread; the service manager functions belong to
 * the main thread; the rest may be called from any thread, each object (a
 * library, a zone) by one thread at a time. Ownership: what sg_*_open
 * returns is the caller's to close. */
#ifndef SG_PLATFORM_H
#define SG_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct sg_dl sg_dl_t;

/* Opens a shared library. Returns NULL and writes the reason into `err`. */
sg_dl_t *sg_dl_open(const char *path, char *err, size_t err_len);
/* Address of an exported symbol, or NULL. */
void *sg_dl_sym(sg_dl_t *dl, const char *name);
/* Closes the library and sets *dl to NULL. */
void sg_dl_close(sg_dl_t **dl);
/* File name suffix of shared libraries (".so", ".dll"). */
const char *sg_dl_suffix(void);

/* Installs handlers so that SIGINT and SIGTERM (console control events on
 * Windows) set the stop flag instead of killing the process. */
int sg_platform_signals_install(void);
/* Non-zero once a stop was requested. Async-signal safe to set. */
int sg_platform_stop_requested(void);
/* Requests a stop, as a signal would (for tests and the service shim). */
void sg_platform_request_stop(void);

/* Directory of the running executable, for finding plugins next to it.
 * Writes into buf; returns 0 or a negative sg_err_t. */
int sg_platform_exe_dir(char *buf, size_t len);
/* `path` made absolute against the working directory (it need not exist).
 * Returns 0 or SG_EINVAL when it does not fit. */
int sg_platform_abs_path(const char *path, char *buf, size_t len);
/* Whether the open file `f` (a secret key) is private to its owner. POSIX:
 * no permission bits for group or others, as ssh requires of a private key;
 * *mode gets its permission bits, for the message. Windows: true, *mode 0
 * (ACLs are not checked: the data directory's ACL guards the file). */
bool sg_platform_file_is_private(FILE *f, unsigned *mode);
/* This computer's name (the default leader.name). Writes into buf; returns 0
 * or a negative sg_err_t. */
int sg_platform_hostname(char *buf, size_t len);

/* --- files, secrets and users ----------------------------------------------- */

/* Makes sure the file at `path` exists without touching what it holds: when
 * missing it is created empty and private to this process's user (POSIX:
 * mode 0600 whatever the umask; Windows: an access list of its owner,
 * SYSTEM and Administrators only, nothing inherited from the folder). An
 * existing file is left as it is; *open_to_others (when not NULL) tells
 * whether it is (POSIX: any group or other permission bit set; Windows:
 * false, the access list is not inspected). Returns 0, or SG_EIO with errno
 * set. */
int sg_platform_file_private(const char *path, bool *open_to_others);

/* Overwrites `len` bytes at `p` with zeros in a way the compiler does not
 * remove as a dead store (explicit_bzero; SecureZeroMemory), for secrets
 * about to be freed or no longer needed. */
void sg_platform_secure_zero(void *p, size_t len);

/* The account with the numeric user id `uid` as "alice (uid 1000)", or
 * "uid 1000" when it has no name, into buf. POSIX: getpwuid_r. Returns 0,
 * SG_EINVAL when buf is too short, or SG_ESTATE on Windows, which has no
 * numeric user ids. */
int sg_platform_user_name(unsigned long uid, char *buf, size_t len);

/* SHA-256 of `len` bytes at `data` as 64 lowercase hex digits and a NUL
 * into `hex` (POSIX: libcrypto; Windows: CNG). Returns 0, or SG_EIO when the
 * library fails (hex is then ""). */
int sg_platform_sha256_hex(const void *data, size_t len, char hex[65]);

/* --- the system service manager ---------------------------------------------
 * Windows: the Service Control Manager (SCM). POSIX: systemd runs
 * `siteguard run` itself (deploy/systemd), and these return SG_ESTATE. */

typedef struct {
    const char *name;         /* service name, also the Event Log source */
    const char *display_name;
    const char *description;
    const char *config_path;  /* absolute; the service runs with `service -c` it */
} sg_platform_service_t;

/* Registers the service (automatic start, restart on failure: 5 s, 30 s,
 * 60 s, counter reset after a day; preshutdown notifications) to run this
 * executable, and registers its Event Log source. Writes the reason into
 * `err` on failure. Returns 0 or a negative sg_err_t. */
int sg_platform_service_install(const sg_platform_service_t *svc, char *err, size_t err_len);
/* Stops the service if it runs, deletes it and its Event Log source. */
int sg_platform_service_uninstall(const char *name, char *err, size_t err_len);
/* Starts the service and waits (up to `timeout_ms`) until it reports running. */
int sg_platform_service_start(const char *name, int timeout_ms, char *err, size_t err_len);
/* Asks the service to stop and waits (up to `timeout_ms`) until it stopped. */
int sg_platform_service_stop(const char *name, int timeout_ms, char *err, size_t err_len);

/* Runs `body(arg)` as the service `name`, when the process was started by the
 * service manager: reports start pending, turns stop, shutdown and
 * preshutdown controls into sg_platform_request_stop with stop pending
 * checkpoints, sends log lines to the system log (Windows Event Log, source
 * `name`) and to <work_dir>/<name>.log, and makes `work_dir` (created if
 * missing; NULL: the data directory) the working directory, so relative
 * paths of the config land there. Blocks until the body returns, then
 * reports stopped with the body's result as exit code (non-zero: the
 * manager's recovery actions apply). Returns the body's result, or SG_ESTATE
 * when the process was not started by the service manager. */
int sg_platform_service_dispatch(const char *name, const char *work_dir,
                                 int (*body)(void *arg), void *arg);
/* Called by the body once it is up (config loaded): reports running. A no-op
 * outside sg_platform_service_dispatch. */
void sg_platform_service_running(void);

/* The default data directory (Windows: %ProgramData%\siteguard; POSIX:
 * /var/lib/siteguard) and config file (Windows: <data dir>\siteguard.yaml;
 * POSIX: /etc/siteguard/siteguard.yaml). Return 0 or a negative sg_err_t. */
int sg_platform_data_dir(char *buf, size_t len);
int sg_platform_default_config(char *buf, size_t len);

/* --- time zones of the platform's database (tz.h is the interface) ----------
 * POSIX: IANA names through ICU. Windows: Windows time zone IDs (the
 * registry key names `tzutil /l` lists) through the dynamic time zone
 * information. A zone is used by one thread at a time. */

typedef struct sg_platform_tz sg_platform_tz_t;

/* Opens the zone `name`. Returns 0, SG_EINVAL when the platform does not
 * know the name, or SG_ENOMEM. */
int sg_platform_tz_open(const char *name, sg_platform_tz_t **out);
/* Minutes east of UTC in force in `tz` at `utc_ms` (Unix ms), daylight
 * saving included. */
int sg_platform_tz_offset_min(sg_platform_tz_t *tz, int64_t utc_ms);
/* Closes the zone and sets *tz to NULL; NULL is fine. */
void sg_platform_tz_close(sg_platform_tz_t **tz);
/* A zone name this platform takes ("Europe/Berlin"), for messages. */
const char *sg_platform_tz_example(void);

#endif
