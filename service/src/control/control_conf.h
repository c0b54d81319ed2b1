/* control_conf: the `control` section of the config file: the operator
 * and read-only endpoints of siteguardctl, the ipc sockets' group, and
 * CURVE (the server's secret key, read at load from secret_key_file beside
 * the config file, and the client keys with their roles).
 *
 * Owns the section's types, key tables and checks: endpoints are ipc:// or
 * tcp://; a tcp endpoint is on the loopback address and has CURVE; client
 * keys and secret key come together; names and keys are unique across
 * operators and readers.
 * Ownership: what the section points to belongs to the sg_control_cfg_t (in
 * the end the config) and is freed by sg_control_conf_fini, which wipes the
 * secret key. The secret key is never logged. After loading the section is
 * immutable and may be read from any thread. */
#ifndef SG_CONTROL_CONF_H
#define SG_CONTROL_CONF_H

#include "config/walk.h"

#include <stddef.h>

/* A client key of the control endpoint: its name is "who" in the audit trail. */
typedef struct {
    char *name;
    char *key; /* CURVE public key, 40 characters of Z85 */
    sg_mark_t mark;
} sg_control_key_cfg_t;

/* The control endpoint for siteguardctl. Each ipc socket file gets the
 * mode of its role: the operator socket 0660, the read-only one 0666. A tcp
 * endpoint must be on the loopback address and needs CURVE: the server's
 * secret key (secret_key_file, read at load) and at least one client key;
 * a key's list gives its role (a read-only endpoint keeps every key read-only). */
typedef struct {
    char *endpoint;          /* operator socket; NULL: the default
                                (ipc:///run/siteguard/control.sock; on Windows
                                tcp://127.0.0.1:7710 when CURVE is configured,
                                else none), and a failure to bind it is only a
                                warning */
    char *readonly_endpoint; /* read-only socket; NULL: none */
    char *group;             /* group owning the ipc socket files; NULL: unchanged */
    char *secret_key_file;   /* as written (relative: beside the config file); NULL: no CURVE */
    char *secret_key;        /* SECRET, never logged: the file's Z85 key; NULL: no CURVE */
    sg_control_key_cfg_t *operators; /* keys with the operator role */
    size_t n_operators;
    sg_control_key_cfg_t *readers;   /* keys with the read-only role */
    size_t n_readers;
} sg_control_cfg_t;

/* The `control` mapping (read with sg_cfg_set_map). */
extern const sg_cfg_map_t sg_control_conf_map;

/* Frees what the section points to, the secret key wiped first. */
void sg_control_conf_fini(sg_control_cfg_t *cc);

#endif
