/* Platform services behind one header: dynamic loading and process signals.
 * One implementation file per platform (posix.c; windows.c later). */
#ifndef SG_PLATFORM_H
#define SG_PLATFORM_H

#include <stddef.h>

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

#endif
