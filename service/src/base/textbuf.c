/* textbuf: a growing text with escapes (see textbuf.h). */
#include "base/textbuf.h"
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

void sg_textbuf_init(sg_textbuf_t *b) { *b = (sg_textbuf_t){0}; }

void sg_textbuf_fini(sg_textbuf_t *b)
{
    free(b->text);
    *b = (sg_textbuf_t){0};
}

/* Room for `more` bytes and the NUL; false (sticky) when out of memory. */
static bool s_room(sg_textbuf_t *b, size_t more)
{
    if (b->oom)
        return false;
    if (more >= (size_t)-1 / 2 - b->len) {
        b->oom = true;
        return false;
    }
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *grown = realloc(b->text, cap);
    if (!grown) {
        b->oom = true;
        return false;
    }
    b->text = grown;
    b->cap = cap;
    return true;
}

void sg_textbuf_putn(sg_textbuf_t *b, const char *s, size_t n)
{
    if (!s || !s_room(b, n))
        return;
    memcpy(b->text + b->len, s, n);
    b->len += n;
    b->text[b->len] = '\0';
}

void sg_textbuf_put(sg_textbuf_t *b, const char *s)
{
    if (s)
        sg_textbuf_putn(b, s, strlen(s));
}

void sg_textbuf_printf(sg_textbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true; /* a formatting error: the text would be wrong */
        return;
    }
    if (!s_room(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->text + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sg_textbuf_htmln(sg_textbuf_t *b, const char *s, size_t n)
{
    const char *end = s ? s + n : NULL;
    for (const char *p = s; p && p < end; p++) {
        const char *run = p; /* the longest run needing no escape, in one append */
        while (p < end && *p != '&' && *p != '<' && *p != '>' && *p != '"' && *p != '\'')
            p++;
        sg_textbuf_putn(b, run, (size_t)(p - run));
        if (p == end)
            break;
        sg_textbuf_put(b, *p == '&'   ? "&amp;"
                          : *p == '<' ? "&lt;"
                          : *p == '>' ? "&gt;"
                          : *p == '"' ? "&quot;"
                                      : "&#39;");
    }
}

void sg_textbuf_html(sg_textbuf_t *b, const char *s)
{
    if (s)
        sg_textbuf_htmln(b, s, strlen(s));
}

void sg_textbuf_csv(sg_textbuf_t *b, const char *s)
{
    bool formula = s && *s && strchr("=+-@\t\r", *s); /* a spreadsheet would compute it */
    if (!s || (!formula && !strpbrk(s, ",\"\r\n"))) {
        sg_textbuf_put(b, s);
        return;
    }
    sg_textbuf_put(b, formula ? "\"'" : "\"");
    for (const char *p = s; *p; p++) {
        const char *q = strchr(p, '"');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        sg_textbuf_putn(b, p, n);
        if (!q)
            break;
        sg_textbuf_put(b, "\"\"");
        p = q;
    }
    sg_textbuf_put(b, "\"");
}

int sg_textbuf_take(sg_textbuf_t *b, char **out, size_t *len)
{
    *out = NULL;
    if (!b->oom && !b->text)
        s_room(b, 0);
    if (b->oom) {
        sg_textbuf_fini(b);
        return SG_ENOMEM;
    }
    b->text[b->len] = '\0';
    *out = b->text;
    if (len)
        *len = b->len;
    *b = (sg_textbuf_t){0};
    return SG_OK;
}
