/* textbuf: a growing text, with escapes for the formats documents are written
 * in (HTML and XML text or attribute values, RFC 4180 CSV fields).
 *
 * Errors are sticky: once an append runs out of memory every later one is a
 * no-op and sg_textbuf_take answers SG_ENOMEM, so a writer appends without
 * checking each call and checks once at the end.
 *
 * Ownership: the buffer owns its text until sg_textbuf_take hands it over;
 * sg_textbuf_fini frees what was not taken. Thread rules: one thread per
 * buffer. A leaf: it depends on nothing but base/err.h. */
#ifndef SG_TEXTBUF_H
#define SG_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *text; /* NUL-terminated once anything was appended */
    size_t len, cap;
    bool oom;
} sg_textbuf_t;

void sg_textbuf_init(sg_textbuf_t *b);
void sg_textbuf_fini(sg_textbuf_t *b);

/* Appends `s` as it is (NULL: nothing). */
void sg_textbuf_put(sg_textbuf_t *b, const char *s);
void sg_textbuf_putn(sg_textbuf_t *b, const char *s, size_t n);
void sg_textbuf_printf(sg_textbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends `s` escaped for HTML and XML text and quoted attribute values:
 * & < > " ' become entities (NULL: nothing). */
void sg_textbuf_html(sg_textbuf_t *b, const char *s);
/* The same for the first `n` bytes of `s`. */
void sg_textbuf_htmln(sg_textbuf_t *b, const char *s, size_t n);

/* Appends `s` as one CSV field (RFC 4180): quoted, with quotes doubled,
 * when it holds a comma, a quote, CR or LF; NULL is an empty field. A
 * field a spreadsheet would read as a formula (its first character one of
 * = + - @, tab or CR) is quoted with a ' before it, so it reads as text. */
void sg_textbuf_csv(sg_textbuf_t *b, const char *s);

/* Hands the text over: *out (caller frees; "" when nothing was appended)
 * and *len (may be NULL). Returns 0, or SG_ENOMEM when an append failed
 * (*out NULL). The buffer is empty afterwards. */
int sg_textbuf_take(sg_textbuf_t *b, char **out, size_t *len);

#endif
