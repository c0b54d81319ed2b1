/* curvekey: the text form of a CURVE key file, shared by the service (its
 * secret key) and siteguardctl (the client's). Depends on libzmq only.
 * Thread rules: none (no state); the caller owns the key buffer. */
#ifndef SG_CURVEKEY_H
#define SG_CURVEKEY_H

#include <stdbool.h>

/* The first line of `text` that is not blank or a # comment, trimmed, when
 * it is a CURVE key (40 characters of Z85, as `siteguardctl keygen` writes
 * it): copied into key[41] (NUL-terminated). false when that line is not a
 * key or there is no such line; key is then unspecified. */
bool sg_curvekey_parse(const char *text, char key[41]);

#endif
