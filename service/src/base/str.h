/* str: small string helpers shared by the modules.
 *
 * Ownership: every returned string is newly allocated and the caller's to
 * free. Thread rules: none (no state), except sg_serial, which is atomic. */
#ifndef SG_STR_H
#define SG_STR_H

#include <stdarg.h>
#include <stdbool.h>

/* A newly allocated string formatted as printf would; the caller frees it.
 * NULL when out of memory or on a formatting error. */
char *sg_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *sg_vstrdupf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* A number no earlier call in this process returned (thread safe): names
 * inproc endpoints, which libzmq frees only some time after their socket
 * closes, so a name built from an address could still be taken. */
unsigned long sg_serial(void);

/* Whether `endpoint` is a ZeroMQ tcp:// endpoint on the loopback address
 * (127.x.x.x, localhost or [::1]): only this host can reach it. */
bool sg_str_loopback_tcp(const char *endpoint);

#endif
