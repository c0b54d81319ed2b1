/* keyfile: the CURVE secret key files the config names
 * (control.secret_key_file, bus.curve.secret_key_file), read once at load,
 * and the other small files a config names whose text it keeps (the
 * metrics listener's TLS certificate and key, its bearer token).
 *
 * A relative path is taken beside the config file. The file holds the key
 * as `siteguardctl keygen --out FILE` writes it (control/curvekey.h) and
 * must be private to its owner: a file that group or others may read or
 * write is refused, as ssh refuses such a private key (the check is the
 * platform's: sg_platform_file_is_private; Windows does not check). Each error
 * is reported at the value's FILE:LINE:COLUMN and names the file and the
 * rule, never the file's text.
 *
 * Ownership: the key returned is the caller's, freed (and wiped first) by
 * sg_keyfile_free; it is never logged. Thread rules: none (no state). */
#ifndef SG_CONFIG_KEYFILE_H
#define SG_CONFIG_KEYFILE_H

#include "config/walk.h"

/* The secret key (40 characters of Z85) in the file `file`, which the
 * config wrote as the value `value` of the key `key_name`; NULL when it
 * cannot be read or is not private or holds no key (error reported) or
 * out of memory (recorded in ctx). */
char *sg_keyfile_read(sg_cfg_t *ctx, sg_cfg_node_t *value, const char *key_name,
                      const char *file);

/* The body of a `secret_key_file` setter: the path as written into the
 * string field of `obj` that `key` describes (sg_cfg_set_str), then, when
 * there is one, its key into *secret (sg_keyfile_read). */
void sg_keyfile_set(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj,
                    char **secret);

/* The whole text of a small file the config names as the value `value` of
 * the key `key_name` (beside the config file when relative), at most `max`
 * bytes, NUL-terminated. With `secret` the file must be private to its
 * owner, as a key file, and the text is wiped when freed (sg_keyfile_free).
 * NULL when it cannot be read, is not private, is empty or longer than
 * `max` (error reported at the value, naming the file, never its text), or
 * out of memory (recorded in ctx). */
char *sg_keyfile_read_text(sg_cfg_t *ctx, sg_cfg_node_t *value, const char *key_name,
                           const char *file, size_t max, bool secret);

/* Wipes and frees a key sg_keyfile_read returned; sets *key to NULL. */
void sg_keyfile_free(char **key);

#endif
