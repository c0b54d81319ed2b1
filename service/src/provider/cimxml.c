/* cimxml: one CIM-XML instance, read (see cimxml.h). */
#include "provider/cimxml.h"

#include "base/err.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool s_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The text after "<NAME" when `p` opens an element NAME (not NAME.X), else
 * NULL. */
static const char *s_opens(const char *p, const char *name)
{
    size_t n = strlen(name);
    if (p[0] != '<' || strncmp(p + 1, name, n) != 0)
        return NULL;
    char c = p[1 + n];
    return s_space(c) || c == '>' || c == '/' ? p + 1 + n : NULL;
}

/* Appends code point `cp` to `d` as UTF-8. */
static char *s_utf8(char *d, uint32_t cp)
{
    if (cp < 0x80) {
        *d++ = (char)cp;
    } else if (cp < 0x800) {
        *d++ = (char)(0xC0 | (cp >> 6));
        *d++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *d++ = (char)(0xE0 | (cp >> 12));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *d++ = (char)(0xF0 | (cp >> 18));
        *d++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char)(0x80 | (cp & 0x3F));
    }
    return d;
}

/* A character reference's code point ("#65", "#x41"), `len` characters
 * between '&' and ';'. */
static bool s_char_ref(const char *s, size_t len, uint32_t *cp)
{
    bool hex = len > 1 && (s[1] == 'x' || s[1] == 'X');
    size_t i = hex ? 2 : 1;
    uint32_t v = 0;
    if (len <= i || len - i > 8)
        return false;
    for (; i < len; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0'
                : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
        if (d < 0)
            return false;
        v = v * (hex ? 16 : 10) + (uint32_t)d;
        if (v > 0x10FFFF)
            return false;
    }
    if (v == 0 || (v >= 0xD800 && v <= 0xDFFF))
        return false;
    *cp = v;
    return true;
}

/* The `n` characters at `s`, entities decoded, in *out (caller frees).
 * Markup ('<') or an unknown entity is SG_EPROTO. Never longer than `n`:
 * no entity is shorter than what it stands for. */
static int s_text(const char *s, size_t n, char **out)
{
    static const struct {
        const char *name;
        char c;
    } names[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    char *t = malloc(n + 1), *d = t;
    *out = NULL;
    if (!t)
        return SG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '<')
            goto bad;
        if (s[i] != '&') {
            *d++ = s[i];
            continue;
        }
        const char *semi = memchr(s + i, ';', n - i);
        if (!semi)
            goto bad;
        size_t len = (size_t)(semi - (s + i)) - 1; /* between '&' and ';' */
        const char *ref = s + i + 1;
        bool known = false;
        for (size_t k = 0; k < sizeof names / sizeof names[0] && !known; k++) {
            if (strlen(names[k].name) == len && strncmp(ref, names[k].name, len) == 0) {
                *d++ = names[k].c;
                known = true;
            }
        }
        uint32_t cp;
        if (!known && len > 0 && ref[0] == '#' && s_char_ref(ref, len, &cp)) {
            d = s_utf8(d, cp);
            known = true;
        }
        if (!known)
            goto bad;
        i += len + 1;
    }
    *d = '\0';
    *out = t;
    return SG_OK;
bad:
    free(t);
    return SG_EPROTO;
}

/* Reads the attributes of the element whose name ends at *p, up to and past
 * its '>': *value gets the text of attribute `want` (NULL when absent),
 * *empty whether the element closed itself ("/>"). */
static int s_attrs(const char **p, const char *want, char **value, bool *empty)
{
    const char *s = *p;
    *value = NULL;
    *empty = false;
    for (;;) {
        while (s_space(*s))
            s++;
        if (*s == '>' || (s[0] == '/' && s[1] == '>')) {
            *empty = *s == '/';
            *p = s + (*empty ? 2 : 1);
            return SG_OK;
        }
        const char *name = s;
        while (*s && !s_space(*s) && *s != '=' && *s != '>' && *s != '/' && *s != '<')
            s++;
        size_t name_len = (size_t)(s - name);
        while (s_space(*s))
            s++;
        if (name_len == 0 || *s != '=')
            break;
        s++;
        while (s_space(*s))
            s++;
        char quote = *s;
        if (quote != '"' && quote != '\'')
            break;
        const char *end = strchr(s + 1, quote);
        if (!end)
            break;
        if (strlen(want) == name_len && strncmp(name, want, name_len) == 0) {
            free(*value);
            int rc = s_text(s + 1, (size_t)(end - s - 1), value);
            if (rc != SG_OK)
                return rc;
        }
        s = end + 1;
    }
    free(*value);
    *value = NULL;
    return SG_EPROTO;
}

/* The first INSTANCE element: *content is what follows its start tag, *end
 * its end tag (NULL when it closed itself). */
static int s_instance(const char *xml, char **class_name, const char **content, const char **end)
{
    const char *p = xml, *after = NULL;
    *class_name = NULL;
    while ((p = strchr(p, '<')) && !(after = s_opens(p, "INSTANCE")))
        p++;
    if (!after)
        return SG_EPROTO;
    bool empty;
    int rc = s_attrs(&after, "CLASSNAME", class_name, &empty);
    if (rc != SG_OK)
        return rc;
    *content = after;
    *end = empty ? NULL : strstr(after, "</INSTANCE>");
    if (!empty && !*end) {
        free(*class_name);
        *class_name = NULL;
        return SG_EPROTO;
    }
    return SG_OK;
}

int sg_cimxml_class(const char *xml, char **name)
{
    const char *content, *end;
    int rc = s_instance(xml, name, &content, &end);
    if (rc == SG_OK && (!*name || !**name))
        rc = SG_EPROTO; /* no class, or an empty name */
    if (rc != SG_OK) {
        free(*name);
        *name = NULL;
    }
    return rc;
}

/* The VALUE directly inside a PROPERTY's content [s, close): the value of a
 * QUALIFIER inside it is the qualifier's, not the property's. */
static int s_property_value(const char *s, const char *close, char **value)
{
    *value = NULL;
    while (s < close && (s = memchr(s, '<', (size_t)(close - s)))) {
        const char *q = s_opens(s, "QUALIFIER");
        if (q) {
            const char *gt = memchr(q, '>', (size_t)(close - q));
            if (!gt)
                return SG_EPROTO;
            if (gt[-1] == '/') {
                s = gt + 1;
                continue;
            }
            const char *qend = strstr(gt, "</QUALIFIER>");
            if (!qend || qend >= close)
                return SG_EPROTO;
            s = qend + strlen("</QUALIFIER>");
            continue;
        }
        if (strncmp(s, "<VALUE/>", 8) == 0)
            return s_text("", 0, value);
        if (strncmp(s, "<VALUE>", 7) == 0) {
            const char *from = s + 7, *to = strstr(from, "</VALUE>");
            if (!to || to > close)
                return SG_EPROTO;
            return s_text(from, (size_t)(to - from), value);
        }
        s++;
    }
    return SG_OK; /* no VALUE: NULL */
}

int sg_cimxml_property(const char *xml, const char *name, char **value)
{
    const char *content, *end;
    char *class_name = NULL;
    *value = NULL;
    int rc = s_instance(xml, &class_name, &content, &end);
    free(class_name);
    if (rc != SG_OK)
        return rc;
    if (!end)
        return SG_ENOTFOUND; /* <INSTANCE .../>: no properties */
    for (const char *p = content; p < end && (p = memchr(p, '<', (size_t)(end - p)));) {
        const char *after = s_opens(p, "PROPERTY");
        if (!after) {
            p++;
            continue;
        }
        char *prop = NULL;
        bool empty;
        if ((rc = s_attrs(&after, "NAME", &prop, &empty)) != SG_OK)
            return rc;
        if (!prop)
            return SG_EPROTO;
        bool match = strcasecmp(prop, name) == 0;
        free(prop);
        if (empty) {
            if (match)
                return SG_OK; /* <PROPERTY NAME="X" TYPE="t"/>: NULL */
            p = after;
            continue;
        }
        const char *close = strstr(after, "</PROPERTY>");
        if (!close || close > end)
            return SG_EPROTO;
        if (match)
            return s_property_value(after, close, value);
        p = close + strlen("</PROPERTY>");
    }
    return SG_ENOTFOUND;
}
