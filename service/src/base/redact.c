/* redact: secrets masked out of text (see redact.h).
 *
 * Each rule marks the bytes to hide in a map as long as the text; the
 * output then has "***" for each run of hidden bytes, so overlapping rules
 * need no care. */
#include "base/redact.h"
#include "base/err.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_MASK "***"
/* Path segments at least this long are taken as tokens of their own. */
#define S_SEGMENT_MIN 16

/* --- names ------------------------------------------------------------------- */

static bool s_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* Whether the n bytes at name end with `suffix` (case ignored). */
static bool s_ends_with(const char *name, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && strncasecmp(name + n - k, suffix, k) == 0;
}

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Names that carry a credential: these, and those ending in a suffix. */
typedef struct {
    const char *const *exact;
    size_t n_exact;
    const char *const *suffixes;
    size_t n_suffixes;
} s_names_t;

static bool s_is_secret_name(const s_names_t *names, const char *name, size_t n)
{
    for (size_t i = 0; i < names->n_suffixes; i++)
        if (s_ends_with(name, n, names->suffixes[i]))
            return true;
    for (size_t i = 0; i < names->n_exact; i++)
        if (strlen(names->exact[i]) == n && strncasecmp(name, names->exact[i], n) == 0)
            return true;
    return false;
}

/* Query and form parameters. */
static const char *const s_param_exact[] = {"auth", "key", "apikey", "passwd", "pass", "pwd",
                                            "sig", "x-amz-credential", "x-goog-credential"};
static const char *const s_param_suffixes[] = {"token", "secret", "password", "_key", "-key",
                                               "signature"};
static const s_names_t s_params = {s_param_exact, S_COUNT(s_param_exact), s_param_suffixes,
                                   S_COUNT(s_param_suffixes)};

/* Headers. */
static const char *const s_header_exact[] = {"authorization", "proxy-authorization", "cookie",
                                             "set-cookie"};
static const char *const s_header_suffixes[] = {"token", "secret", "api-key", "apikey", "password",
                                                "signature"};
static const s_names_t s_headers = {s_header_exact, S_COUNT(s_header_exact), s_header_suffixes,
                                    S_COUNT(s_header_suffixes)};

/* --- rules: each marks bytes of text in hide ------------------------------------ */

static void s_hide(char *hide, size_t from, size_t to)
{
    if (to > from)
        memset(hide + from, 1, to - from);
}

/* Every occurrence of every value of the set. */
static void s_mark_values(const char *text, const sg_redact_set_t *set, char *hide)
{
    for (size_t i = 0; set && i < set->n; i++) {
        size_t len = strlen(set->values[i]);
        for (const char *p = strstr(text, set->values[i]); p; p = strstr(p + len, set->values[i]))
            s_hide(hide, (size_t)(p - text), (size_t)(p - text) + len);
    }
}

/* Where the authority of a URL starting at `at` (after "://") ends. */
static size_t s_authority_len(const char *at) { return strcspn(at, "/?#\\ \t\r\n\"'<>`"); }

/* The user:password of "scheme://user:password@host". */
static void s_mark_userinfo(const char *text, char *hide)
{
    for (const char *p = strstr(text, "://"); p; p = strstr(p + 3, "://")) {
        if (p == text || !isalpha((unsigned char)p[-1]))
            continue;
        const char *a = p + 3;
        size_t len = s_authority_len(a);
        const char *at = NULL;
        for (size_t i = 0; i < len; i++)
            if (a[i] == '@')
                at = a + i;
        if (at)
            s_hide(hide, (size_t)(a - text), (size_t)(at - text));
    }
}

/* How long a parameter's value at v is: up to the next parameter or the
 * end of the URL. */
static size_t s_param_value_len(const char *v) { return strcspn(v, "&;#, \t\r\n\"'<>)"); }

/* How long the value of a header at v is: up to the end of the line, a ';'
 * (header lists), a quote, or two blanks in a row (a line break that a
 * one-line log turned into spaces). */
static size_t s_header_value_len(const char *v)
{
    size_t len = 0;
    while (v[len] && !strchr(";\r\n\"", v[len]) &&
           !((v[len] == ' ' || v[len] == '\t') && (v[len + 1] == ' ' || v[len + 1] == '\t')))
        len++;
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    return len;
}

/* The value of every "name<sep>value" whose name is one of `names`
 * (name=value of parameters, "Name: value" of headers). */
static void s_mark_pairs(const char *text, char *hide, char sep, const s_names_t *names,
                         size_t (*value_len)(const char *v))
{
    for (const char *at = strchr(text, sep); at; at = strchr(at + 1, sep)) {
        const char *name = at;
        while (name > text && s_name_char(name[-1]))
            name--;
        if (name == at || !s_is_secret_name(names, name, (size_t)(at - name)))
            continue;
        const char *v = at + 1 + strspn(at + 1, " \t");
        s_hide(hide, (size_t)(v - text), (size_t)(v - text) + value_len(v));
    }
}

/* The credentials after an HTTP authentication scheme: "Basic dXNlcjpw..." */
static void s_mark_schemes(const char *text, char *hide)
{
    static const char *const schemes[] = {"Basic ", "Bearer "};
    for (size_t s = 0; s < sizeof schemes / sizeof schemes[0]; s++) {
        size_t k = strlen(schemes[s]);
        for (const char *p = strstr(text, schemes[s]); p; p = strstr(p + k, schemes[s])) {
            if (p > text && isalnum((unsigned char)p[-1]))
                continue;
            const char *t = p + k;
            size_t len = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-._~+/=");
            if (len >= 8)
                s_hide(hide, (size_t)(t - text), (size_t)(t - text) + len);
        }
    }
}

char *sg_redact(const char *text, const sg_redact_set_t *set)
{
    size_t n = strlen(text);
    char *hide = calloc(n + 1, 1);
    if (!hide)
        return NULL;
    s_mark_values(text, set, hide);
    s_mark_userinfo(text, hide);
    s_mark_pairs(text, hide, '=', &s_params, s_param_value_len);
    s_mark_pairs(text, hide, ':', &s_headers, s_header_value_len);
    s_mark_schemes(text, hide);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += !hide[i] ? 1 : (i == 0 || !hide[i - 1]) ? strlen(S_MASK) : 0;
    char *out = malloc(len + 1), *q = out;
    for (size_t i = 0; out && i < n; i++) {
        if (!hide[i])
            *q++ = text[i];
        else if (i == 0 || !hide[i - 1]) {
            memcpy(q, S_MASK, strlen(S_MASK));
            q += strlen(S_MASK);
        }
    }
    if (out)
        *q = '\0';
    free(hide);
    return out;
}

/* --- the set ------------------------------------------------------------------- */

void sg_redact_set_init(sg_redact_set_t *set)
{
    set->values = NULL;
    set->n = 0;
}

void sg_redact_set_fini(sg_redact_set_t *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->values[i]);
    free(set->values);
    sg_redact_set_init(set);
}

/* Adds the len bytes at p (trimmed), unless short or already there. */
static int s_add(sg_redact_set_t *set, const char *p, size_t len)
{
    while (len > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    if (len < SG_REDACT_MIN_LEN)
        return SG_OK;
    for (size_t i = 0; i < set->n; i++)
        if (strlen(set->values[i]) == len && strncmp(set->values[i], p, len) == 0)
            return SG_OK;
    char **values = realloc(set->values, (set->n + 1) * sizeof *values);
    if (!values)
        return SG_ENOMEM;
    set->values = values;
    char *copy = malloc(len + 1);
    if (!copy)
        return SG_ENOMEM;
    memcpy(copy, p, len);
    copy[len] = '\0';
    /* longest first, so a value that holds another is masked whole */
    size_t at = set->n;
    while (at > 0 && strlen(set->values[at - 1]) < len) {
        set->values[at] = set->values[at - 1];
        at--;
    }
    set->values[at] = copy;
    set->n++;
    return SG_OK;
}

/* The parts of a URL: user:password, password, path with query, long path
 * segments, query values. */
static int s_add_url_parts(sg_redact_set_t *set, const char *url)
{
    const char *a = strstr(url, "://") + 3;
    size_t alen = s_authority_len(a);
    const char *at = memchr(a, '@', alen);
    int rc = SG_OK;
    if (at) {
        const char *colon = memchr(a, ':', (size_t)(at - a));
        rc = s_add(set, a, (size_t)(at - a));
        if (rc == SG_OK && colon)
            rc = s_add(set, colon + 1, (size_t)(at - colon - 1));
    }
    const char *path = a + alen;
    if (rc == SG_OK && *path)
        rc = s_add(set, path, strlen(path));
    for (const char *seg = path; rc == SG_OK && *seg == '/';) {
        size_t len = strcspn(seg + 1, "/?#");
        if (len >= S_SEGMENT_MIN)
            rc = s_add(set, seg + 1, len);
        seg += 1 + len;
    }
    const char *query = strchr(path, '?');
    for (const char *eq = query ? strchr(query, '=') : NULL; rc == SG_OK && eq;
         eq = strchr(eq + 1, '='))
        rc = s_add(set, eq + 1, strcspn(eq + 1, "&#;"));
    return rc;
}

/* The values of "Name: value; Name2: value2". */
static int s_add_header_values(sg_redact_set_t *set, const char *list)
{
    int rc = SG_OK;
    for (const char *p = list; rc == SG_OK && *p;) {
        size_t len = strcspn(p, ";");
        const char *colon = memchr(p, ':', len);
        if (colon)
            rc = s_add(set, colon + 1, len - (size_t)(colon + 1 - p));
        p += len + (p[len] ? 1 : 0);
    }
    return rc;
}

int sg_redact_set_add(sg_redact_set_t *set, const char *value)
{
    if (!value)
        return SG_OK;
    int rc = s_add(set, value, strlen(value));
    if (rc == SG_OK && strstr(value, "://"))
        rc = s_add_url_parts(set, value);
    else if (rc == SG_OK && strchr(value, ':'))
        rc = s_add_header_values(set, value);
    return rc;
}
