/* keyfile: CURVE secret key files named in the config (see keyfile.h). */
#include "config/keyfile.h"

#include "base/str.h"
#include "control/curvekey.h"
#include "platform/platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* memset through a volatile pointer: a wipe the compiler cannot drop as a
 * dead store. */
static void *(*const volatile s_wipe)(void *, int, size_t) = memset;

/* `path` as written, or beside the config file when relative. Caller frees. */
static char *s_beside_config(const char *cfg_path, const char *path)
{
    const char *slash = cfg_path ? strrchr(cfg_path, '/') : NULL;
    const char *back = cfg_path ? strrchr(cfg_path, '\\') : NULL;
    if (back && (!slash || back > slash))
        slash = back;
    if (path[0] == '/' || path[0] == '\\' || !slash || (path[0] && path[1] == ':'))
        return sg_strdupf("%s", path);
    return sg_strdupf("%.*s/%s", (int)(slash - cfg_path), cfg_path, path);
}

char *sg_keyfile_read(sg_cfg_t *ctx, sg_cfg_node_t *value, const char *key_name,
                      const char *file)
{
    char *path = s_beside_config(sg_cfg_path(ctx), file);
    FILE *f = path ? fopen(path, "rb") : NULL;
    char text[1024] = {0}, k[41];
    char *key = NULL;
    unsigned mode = 0;
    if (!path) {
        sg_cfg_oom(ctx);
    } else if (!f) {
        sg_cfg_err(ctx, value, "cannot read '%s' (%s): %s", key_name, path, strerror(errno));
    } else if (!sg_platform_file_is_private(f, &mode)) {
        sg_cfg_err(ctx, value, "'%s' (%s) may be read or written by group or others (mode "
                               "%04o): a secret key must be private to its owner (chmod 600)",
                   key_name, path, mode);
    } else if (fread(text, 1, sizeof text - 1, f), !sg_curvekey_parse(text, k)) {
        sg_cfg_err(ctx, value, "'%s' (%s) holds no CURVE secret key: 40 characters of Z85 "
                               "text, as 'siteguardctl keygen --out FILE' writes it",
                   key_name, path);
    } else if (!(key = sg_cfg_strdup(ctx, k))) {
        sg_cfg_oom(ctx);
    }
    if (f)
        fclose(f);
    free(path);
    s_wipe(text, 0, sizeof text);
    s_wipe(k, 0, sizeof k);
    return key;
}

char *sg_keyfile_read_text(sg_cfg_t *ctx, sg_cfg_node_t *value, const char *key_name,
                           const char *file, size_t max, bool secret)
{
    char *path = s_beside_config(sg_cfg_path(ctx), file);
    FILE *f = path ? fopen(path, "rb") : NULL;
    char *text = path && f ? calloc(1, max + 2) : NULL;
    size_t n = 0;
    unsigned mode = 0;
    bool ok = false;
    if (!path || (f && !text)) {
        sg_cfg_oom(ctx);
    } else if (!f) {
        sg_cfg_err(ctx, value, "cannot read '%s' (%s): %s", key_name, path, strerror(errno));
    } else if (secret && !sg_platform_file_is_private(f, &mode)) {
        sg_cfg_err(ctx, value, "'%s' (%s) may be read or written by group or others (mode "
                               "%04o): a secret must be private to its owner (chmod 600)",
                   key_name, path, mode);
    } else if ((n = fread(text, 1, max + 1, f)) == 0 || n > max) {
        sg_cfg_err(ctx, value, "'%s' (%s) is %s", key_name, path,
                   n ? "too large for what it should hold" : "empty");
    } else {
        ok = true;
    }
    if (f)
        fclose(f);
    free(path);
    if (!ok && text) {
        s_wipe(text, 0, max + 2);
        free(text);
        text = NULL;
    }
    return text;
}

void sg_keyfile_set(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj,
                    char **secret)
{
    sg_cfg_set_str(ctx, key, value, obj);
    const char *file = *(char **)sg_cfg_field(key, obj);
    if (file)
        *secret = sg_keyfile_read(ctx, value, key->name, file);
}

void sg_keyfile_free(char **key)
{
    if (!key || !*key)
        return;
    s_wipe(*key, 0, strlen(*key));
    free(*key);
    *key = NULL;
}
