/* metrics_conf: the `metrics` section of the config file: where the HTTP
 * listener of /metrics and the status page listens, and how it is guarded.
 *
 *   metrics:
 *     listen: 127.0.0.1:9464        # default; "off": no listener
 *     tls: {cert_file: F, key_file: F}   # HTTPS (PEM files, read at load)
 *     token_file: F                 # or token_env: NAME: a bearer token
 *
 * Rules (each error at FILE:LINE:COLUMN): a listen address beyond the
 * loopback address (anything but 127.x.x.x, localhost, [::1]) needs both
 * `tls` and a token, so that nothing is served in plain text to the
 * network and nobody unnamed reads it; `tls` needs both files, the key
 * file private to its owner (as secret key files: keyfile.h); a token is
 * read from `token_file` (private, its text trimmed) or the environment
 * variable `token_env` (one of them), and has 16 to 512 characters of
 * RFC 6750's b64token (letters, digits, - . _ ~ + / and trailing =). A token
 * configured guards every path of the listener, loopback or not.
 *
 * Ownership: the strings belong to the sg_metrics_cfg_t (in the end the
 * config) and are freed by sg_metrics_conf_fini (the key and the token
 * wiped first; neither is ever logged). After loading it is immutable and
 * may be read from any thread. */
#ifndef SG_METRICS_CONF_H
#define SG_METRICS_CONF_H

#include "config/walk.h"

#include <stdbool.h>

/* HTTPS for the listener. */
typedef struct {
    char *cert_file; /* as written; NULL: no TLS */
    char *key_file;
    char *cert; /* the certificate chain's PEM text, read at load */
    char *key;  /* the private key's PEM text, read at load (secret) */
} sg_metrics_tls_cfg_t;

/* The HTTP listener: /metrics and the status page. */
typedef struct {
    char *listen; /* "HOST:PORT"; NULL: the default 127.0.0.1:9464, a failure to
                     bind it only a warning; "off": no endpoint */
    sg_metrics_tls_cfg_t tls;
    char *token_file; /* as written; NULL: none */
    char *token_env;  /* the variable's name; NULL: none */
    char *token;      /* the bearer token from either, read at load (secret); NULL: none */
} sg_metrics_cfg_t;

/* The `metrics` mapping (read with sg_cfg_set_map). */
extern const sg_cfg_map_t sg_metrics_conf_map;

/* Whether a listen address ("HOST:PORT", "[V6]:PORT") is on the loopback
 * address: 127.x.x.x, localhost or ::1. NULL (the default) is. */
bool sg_metrics_conf_loopback(const char *listen);

void sg_metrics_conf_fini(sg_metrics_cfg_t *m);

#endif
