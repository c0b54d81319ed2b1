/* metrics_conf: the metrics section of the config file (see metrics_conf.h). */
#include "control/metrics_conf.h"

#include "config/keyfile.h"

#include <stdlib.h>
#include <string.h>

#define S_PEM_MAX (64 * 1024) /* a certificate chain or a key */
#define S_TOKEN_FILE_MAX 4096
#define S_TOKEN_MIN 16
#define S_TOKEN_MAX 512

/* "off", or HOST:PORT with a port in 1..65535. */
static void s_set_listen(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj)
{
    sg_cfg_set_str(ctx, key, value, obj);
    char **field = sg_cfg_field(key, obj);
    if (!*field || strcmp(*field, "off") == 0)
        return;
    const char *colon = strrchr(*field, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == *field || !end || *end || port < 1 || port > 65535)
        sg_cfg_err(ctx, value, "'%s' must be HOST:PORT (e.g. 127.0.0.1:9464) or off", key->name);
}

bool sg_metrics_conf_loopback(const char *listen)
{
    if (!listen)
        return true;
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : strlen(listen);
    if (n == 5 && strncmp(listen, "[::1]", 5) == 0)
        return true;
    if (n == 9 && strncmp(listen, "localhost", 9) == 0)
        return true;
    if (n < 7 || strncmp(listen, "127.", 4) != 0)
        return false;
    for (size_t i = 4; i < n; i++) /* 127. then digits and dots: an address, not a name */
        if (!(listen[i] == '.' || (listen[i] >= '0' && listen[i] <= '9')))
            return false;
    return true;
}

/* The setter of a file whose text is kept in `text` (a field beside the
 * path's); `marker` must be in it. */
static void s_set_pem(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value, void *obj,
                      char **text, bool secret, const char *marker, const char *what)
{
    sg_cfg_set_str(ctx, key, value, obj);
    const char *file = *(char **)sg_cfg_field(key, obj);
    if (!file)
        return;
    char *pem = sg_keyfile_read_text(ctx, value, key->name, file, S_PEM_MAX, secret);
    if (pem && !strstr(pem, marker)) {
        sg_cfg_err(ctx, value, "'%s' (%s) holds no %s in PEM form ('%s')", key->name, file, what,
                   marker);
        secret ? sg_keyfile_free(&pem) : free(pem);
        pem = NULL;
    }
    *text = pem;
}

static void s_set_cert_file(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                            void *obj)
{
    s_set_pem(ctx, key, value, obj, &((sg_metrics_tls_cfg_t *)obj)->cert, false,
              "-----BEGIN CERTIFICATE-----", "certificate");
}

static void s_set_key_file(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                           void *obj)
{
    s_set_pem(ctx, key, value, obj, &((sg_metrics_tls_cfg_t *)obj)->key, true,
              "PRIVATE KEY-----", "private key");
}

static const sg_cfg_key_t s_tls_keys[] = {
    {.name = "cert_file", .set = s_set_cert_file,
     .offset = offsetof(sg_metrics_tls_cfg_t, cert_file), .required = true},
    {.name = "key_file", .set = s_set_key_file, .offset = offsetof(sg_metrics_tls_cfg_t, key_file),
     .required = true},
};
static const sg_cfg_map_t s_tls_map = {.where = "in metrics.tls", .keys = s_tls_keys,
                                       .n_keys = SG_CFG_COUNT(s_tls_keys),
                                       .size = sizeof(sg_metrics_tls_cfg_t)};

/* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool s_b64token(const char *t)
{
    size_t n = strlen(t), i = 0;
    while (i < n && (strchr("-._~+/", t[i]) || (t[i] >= 'a' && t[i] <= 'z') ||
                     (t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= '0' && t[i] <= '9')))
        i++;
    if (i == 0)
        return false;
    while (i < n && t[i] == '=')
        i++;
    return i == n;
}

/* Keeps `text` (taken; wiped when refused) as the token when it is one. */
static void s_take_token(sg_cfg_t *ctx, sg_cfg_node_t *value, const char *where, char *text,
                         sg_metrics_cfg_t *m)
{
    size_t n = strlen(text);
    if (n < S_TOKEN_MIN || n > S_TOKEN_MAX || !s_b64token(text)) {
        sg_cfg_err(ctx, value, "%s must hold a bearer token of %d to %d characters (letters, "
                               "digits, - . _ ~ + / and trailing =; e.g. openssl rand -hex 32), "
                               "it holds %u character(s)%s",
                   where, S_TOKEN_MIN, S_TOKEN_MAX, (unsigned)n,
                   n >= S_TOKEN_MIN && n <= S_TOKEN_MAX ? " not all of them allowed" : "");
        sg_keyfile_free(&text);
        return;
    }
    sg_keyfile_free(&m->token);
    m->token = text;
}

/* token_file: the token is the file's text without surrounding white space. */
static void s_set_token_file(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                             void *obj)
{
    sg_metrics_cfg_t *m = obj;
    sg_cfg_set_str(ctx, key, value, obj);
    if (!m->token_file)
        return;
    char *text = sg_keyfile_read_text(ctx, value, key->name, m->token_file, S_TOKEN_FILE_MAX, true);
    if (!text)
        return;
    size_t n = strlen(text), start = strspn(text, " \t\r\n");
    while (n > start && strchr(" \t\r\n", text[n - 1]))
        text[--n] = '\0';
    memmove(text, text + start, n - start + 1);
    s_take_token(ctx, value, "'token_file'", text, m);
}

/* token_env: the token from an environment variable, read at load. */
static void s_set_token_env(sg_cfg_t *ctx, const sg_cfg_key_t *key, sg_cfg_node_t *value,
                            void *obj)
{
    sg_metrics_cfg_t *m = obj;
    sg_cfg_set_str(ctx, key, value, obj);
    if (!m->token_env)
        return;
    const char *env = getenv(m->token_env);
    if (!env) {
        sg_cfg_err(ctx, value, "environment variable %s (token_env) is not set", m->token_env);
        return;
    }
    char *text = sg_cfg_strdup(ctx, env);
    if (text)
        s_take_token(ctx, value, "the variable named by 'token_env'", text, m);
}

/* Beyond loopback: TLS and a token, or nothing is served. */
static void s_check_metrics(sg_cfg_t *ctx, sg_cfg_node_t *node, void *obj,
                            const sg_cfg_read_t *read)
{
    const sg_metrics_cfg_t *m = obj;
    if (m->token_file && m->token_env)
        sg_cfg_err(ctx, sg_cfg_value_of(ctx, node, "token_env"),
                   "set one of 'token_file' and 'token_env', not both");
    if (!sg_cfg_read_ok(read, "listen") || !sg_cfg_read_ok(read, "tls") ||
        !sg_cfg_read_ok(read, "token_file") || !sg_cfg_read_ok(read, "token_env"))
        return; /* reported already */
    if (!m->listen || strcmp(m->listen, "off") == 0 || sg_metrics_conf_loopback(m->listen))
        return;
    bool tls = m->tls.cert_file && m->tls.key_file;
    bool token = m->token_file || m->token_env;
    if (tls && token)
        return;
    sg_cfg_err(ctx, sg_cfg_value_of(ctx, node, "listen"),
               "'listen' %s is beyond the loopback address: serving /metrics and the status "
               "page there needs %s%s%s (or listen on 127.0.0.1)",
               m->listen, tls ? "" : "TLS (metrics.tls: {cert_file, key_file})",
               !tls && !token ? " and " : "",
               token ? "" : "a bearer token (metrics.token_file or metrics.token_env)");
}

static const sg_cfg_key_t s_metrics_keys[] = {
    {.name = "listen", .set = s_set_listen, .offset = offsetof(sg_metrics_cfg_t, listen)},
    {.name = "tls", .set = sg_cfg_set_map, .offset = offsetof(sg_metrics_cfg_t, tls),
     .sub = &s_tls_map},
    {.name = "token_file", .set = s_set_token_file,
     .offset = offsetof(sg_metrics_cfg_t, token_file)},
    {.name = "token_env", .set = s_set_token_env, .offset = offsetof(sg_metrics_cfg_t, token_env)},
};
const sg_cfg_map_t sg_metrics_conf_map = {.where = "in metrics", .keys = s_metrics_keys,
                                          .n_keys = SG_CFG_COUNT(s_metrics_keys),
                                          .size = sizeof(sg_metrics_cfg_t),
                                          .check = s_check_metrics};

void sg_metrics_conf_fini(sg_metrics_cfg_t *m)
{
    free(m->listen);
    free(m->tls.cert_file);
    free(m->tls.key_file);
    free(m->tls.cert);
    sg_keyfile_free(&m->tls.key);
    free(m->token_file);
    free(m->token_env);
    sg_keyfile_free(&m->token);
}
