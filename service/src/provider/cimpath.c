/* cimpath: WMI object paths (see cimpath.h). */
#include "provider/cimpath.h"
#include "base/err.h"

#include <stdlib.h>
#include <string.h>

static bool s_ident_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool s_ident(char c)
{
    return s_ident_start(c) || (c >= '0' && c <= '9');
}

/* A bare value: a number, TRUE/FALSE and the like. */
static bool s_bare(char c)
{
    return s_ident(c) || c == '-' || c == '+' || c == '.';
}

static char s_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool sg_cimpath_same_name(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    for (; *a && *b; a++, b++)
        if (s_lower(*a) != s_lower(*b))
            return false;
    return *a == *b;
}

static char *s_dup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* The server and namespace prefix, "\\server\namespace:" or "namespace:".
 * *at moves past it. */
static int s_prefix(const char **at, sg_cimpath_t *out)
{
    const char *s = *at;
    if ((s[0] == '\\' && s[1] == '\\') || (s[0] == '/' && s[1] == '/')) {
        const char *end = s + 2 + strcspn(s + 2, "\\/");
        const char *colon = strchr(end, ':');
        if (end == s + 2 || !*end || !colon || colon == end + 1)
            return SG_EINVAL;
        if (!(out->server = s_dup(s + 2, (size_t)(end - s - 2))) ||
            !(out->name_space = s_dup(end + 1, (size_t)(colon - end - 1))))
            return SG_ENOMEM;
        *at = colon + 1;
        return SG_OK;
    }
    size_t n = strcspn(s, ":.=\"'");
    if (s[n] != ':')
        return SG_OK; /* a relative path */
    if (n == 0 || !(out->name_space = s_dup(s, n)))
        return n == 0 ? SG_EINVAL : SG_ENOMEM;
    *at = s + n + 1;
    return SG_OK;
}

/* A quoted value at *at (the opening quote), escapes undone. */
static int s_quoted(const char **at, char **value)
{
    const char *s = *at;
    char quote = *s++;
    char *v = malloc(strlen(s) + 1);
    size_t n = 0;
    if (!v)
        return SG_ENOMEM;
    while (*s && *s != quote) {
        if (*s == '\\' && s[1])
            s++;
        v[n++] = *s++;
    }
    if (*s != quote) {
        free(v);
        return SG_EINVAL;
    }
    v[n] = '\0';
    *value = v;
    *at = s + 1;
    return SG_OK;
}

static int s_value(const char **at, char **value)
{
    const char *s = *at;
    if (*s == '"' || *s == '\'')
        return s_quoted(at, value);
    size_t n = 0;
    while (s_bare(s[n]))
        n++;
    if (n == 0)
        return SG_EINVAL;
    if (!(*value = s_dup(s, n)))
        return SG_ENOMEM;
    *at = s + n;
    return SG_OK;
}

static int s_add_key(sg_cimpath_t *out, char *name, char *value)
{
    for (size_t i = 0; name && i < out->n_keys; i++) {
        if (sg_cimpath_same_name(out->keys[i].name, name)) {
            free(name);
            free(value);
            return SG_EINVAL; /* a key given twice */
        }
    }
    sg_cimpath_key_t *keys = realloc(out->keys, (out->n_keys + 1) * sizeof *keys);
    if (!keys) {
        free(name);
        free(value);
        return SG_ENOMEM;
    }
    out->keys = keys;
    out->keys[out->n_keys++] = (sg_cimpath_key_t){name, value};
    return SG_OK;
}

/* Key=value[,Key=value...] to the end of the text. */
static int s_keys(const char *s, sg_cimpath_t *out)
{
    for (;;) {
        size_t n = 0;
        while (s_ident(s[n]))
            n++;
        if (n == 0 || !s_ident_start(s[0]) || s[n] != '=')
            return SG_EINVAL;
        char *name = s_dup(s, n), *value = NULL;
        if (!name)
            return SG_ENOMEM;
        s += n + 1;
        int rc = s_value(&s, &value);
        if (rc != SG_OK) {
            free(name);
            return rc;
        }
        if ((rc = s_add_key(out, name, value)) != SG_OK)
            return rc;
        if (*s == '\0')
            return SG_OK;
        if (*s++ != ',')
            return SG_EINVAL;
    }
}

/* What follows the class name: nothing, .keys, ="value" or =@. */
static int s_rest(const char *s, sg_cimpath_t *out)
{
    if (*s == '\0')
        return SG_OK;
    if (*s == '.')
        return s_keys(s + 1, out);
    if (*s != '=')
        return SG_EINVAL;
    if (strcmp(s, "=@") == 0) {
        out->singleton = true;
        return SG_OK;
    }
    char *value = NULL;
    s++;
    int rc = s_value(&s, &value);
    if (rc == SG_OK && *s != '\0') {
        free(value);
        rc = SG_EINVAL;
    }
    return rc == SG_OK ? s_add_key(out, NULL, value) : rc;
}

int sg_cimpath_parse(const char *text, sg_cimpath_t *out)
{
    memset(out, 0, sizeof *out);
    const char *s = text;
    int rc = text ? s_prefix(&s, out) : SG_EINVAL;
    size_t n = 0;
    if (rc == SG_OK) {
        while (s_ident(s[n]))
            n++;
        if (n == 0 || !s_ident_start(s[0]))
            rc = SG_EINVAL;
        else if (!(out->class_name = s_dup(s, n)))
            rc = SG_ENOMEM;
    }
    if (rc == SG_OK)
        rc = s_rest(s + n, out);
    if (rc != SG_OK)
        sg_cimpath_fini(out);
    return rc;
}

void sg_cimpath_fini(sg_cimpath_t *p)
{
    for (size_t i = 0; i < p->n_keys; i++) {
        free(p->keys[i].name);
        free(p->keys[i].value);
    }
    free(p->keys);
    free(p->server);
    free(p->name_space);
    free(p->class_name);
    memset(p, 0, sizeof *p);
}

const char *sg_cimpath_key(const sg_cimpath_t *p, const char *name)
{
    for (size_t i = 0; i < p->n_keys; i++)
        if (sg_cimpath_same_name(p->keys[i].name, name))
            return p->keys[i].value;
    return NULL;
}

bool sg_cimpath_keyed_by(const sg_cimpath_t *p, const char *const *names, size_t n)
{
    if (p->n_keys != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!sg_cimpath_key(p, names[i]))
            return false; /* keys are unique, so n found means exactly these */
    return true;
}

int sg_cimpath_collection(const char *path, sg_cimpath_coll_t *kind, char **id)
{
    static const char *const by_id[] = {"CollectionID"};
    sg_cimpath_t p;
    *kind = SG_CIMPATH_NOT_A_PATH;
    if (id)
        *id = NULL;
    int rc = sg_cimpath_parse(path, &p);
    if (rc != SG_OK)
        return rc == SG_ENOMEM ? rc : SG_OK;
    if (p.n_keys == 0) {
        sg_cimpath_fini(&p); /* a class or a singleton: no instance named */
        return SG_OK;
    }
    const char *value = NULL;
    if (sg_cimpath_keyed_by(&p, by_id, 1))
        value = p.keys[0].value;
    else if (p.n_keys == 1 && !p.keys[0].name)
        value = p.keys[0].value; /* Class="value": the class's one key */
    if (value)
        *kind = SG_CIMPATH_COLLECTION_ID;
    else
        *kind = sg_cimpath_key(&p, "InstanceID") ? SG_CIMPATH_INSTANCE_ID : SG_CIMPATH_OTHER_KEY;
    if (value && id && !(*id = strdup(value)))
        rc = SG_ENOMEM;
    sg_cimpath_fini(&p);
    return rc;
}

bool sg_cimpath_is_point(const sg_cimpath_t *p)
{
    static const char *const keys[] = {"CollectionID", "InstanceID"};
    return sg_cimpath_same_name(p->class_name, SG_CIM_POINT_CLASS) &&
           sg_cimpath_keyed_by(p, keys, 2);
}

char *sg_cimpath_quote(const char *value)
{
    size_t n = 3;
    for (const char *s = value; *s; s++)
        n += (*s == '"' || *s == '\\') ? 2 : 1;
    char *q = malloc(n), *d = q;
    if (!q)
        return NULL;
    *d++ = '"';
    for (const char *s = value; *s; s++) {
        if (*s == '"' || *s == '\\')
            *d++ = '\\';
        *d++ = *s;
    }
    *d++ = '"';
    *d = '\0';
    return q;
}
