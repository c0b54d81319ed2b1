/* libFuzzer target for what the status page makes of outside text
 * (control/statushtml.h, control/metrics.h).
 *
 * The first byte picks the mode, the rest is the input:
 *   0  an Authorization header's value, checked against a fixed token by
 *      sg_metrics_authorized: a "Bearer" value is let in only when what
 *      follows (spaces trimmed) is the token itself;
 *   1  a status document (JSON): when it parses as an object the page must
 *      render, and whatever its strings hold, read as a tokenizer reads it
 *      the page has only the tags and attributes the renderer writes (no
 *      element or handler a string could smuggle in), one script and one
 *      style sheet, its own, and no link but its own;
 *   2  the same document as statusdoc would cut it: every collection
 *      but the first dropped, rendered again (the page's own paths).
 * Nothing may crash or leak. */
#include "control/metrics.h"
#include "control/statushtml.h"
#include "fuzz.h"

#include <jansson.h>
#include <string.h>
#include <strings.h>

#define S_TOKEN "s3cr3t-t0ken-0123456789abcdef"

static void s_auth(const char *text)
{
    bool ok = sg_metrics_authorized(text, S_TOKEN);
    if (!ok || strncasecmp(text, "bearer ", 7) != 0)
        return;
    const char *v = text + 7;
    while (*v == ' ')
        v++;
    size_t n = strlen(v);
    while (n && v[n - 1] == ' ')
        n--;
    FZ_CHECK(n == strlen(S_TOKEN) && memcmp(v, S_TOKEN, n) == 0);
}

static bool s_in(const char *word, size_t n, const char *const *set)
{
    for (; *set; set++)
        if (strlen(*set) == n && strncmp(*set, word, n) == 0)
            return true;
    return false;
}

/* Reads the page as a browser's tokenizer would, roughly: every tag must be
 * one the renderer writes, with attributes it writes, and the raw text of
 * <style> and <script> ends only at their own end tag. A string of the
 * document that escaped its escaping shows up as a tag or an attribute
 * that is not on these lists. */
static void s_markup(const char *html)
{
    static const char *const tags[] = {
        "html", "head", "meta", "title", "noscript", "style", "body", "header", "h1", "h2",
        "span", "main", "section", "dl", "div", "dt", "dd", "p", "table", "thead", "tbody",
        "tr", "th", "td", "details", "summary", "pre", "progress", "svg", "rect", "a", "footer",
        "script", NULL};
    static const char *const attrs[] = {"lang", "charset", "name", "content", "http-equiv",
                                        "class", "id", "hidden", "max", "value", "width",
                                        "height", "viewBox", "x", "y", "href", NULL};
    size_t scripts = 0;
    const char *p = html;
    while ((p = strchr(p, '<'))) {
        p++;
        if (*p == '!' || *p == '/') { /* <!DOCTYPE html>, an end tag */
            p = strchr(p, '>');
            FZ_CHECK(p);
            continue;
        }
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789");
        FZ_CHECK(n > 0 && s_in(p, n, tags)); /* a '<' in text is always escaped */
        bool raw = (n == 5 && !strncmp(p, "style", 5)) || (n == 6 && !strncmp(p, "script", 6));
        scripts += n == 6 && !strncmp(p, "script", 6);
        p += n;
        for (;;) {
            p += strspn(p, " \n");
            if (*p == '>')
                break;
            size_t a = strcspn(p, "= >");
            FZ_CHECK(a > 0 && (s_in(p, a, attrs) || !strncmp(p, "data-", 5)));
            bool href = a == 4 && !strncmp(p, "href", 4);
            p += a;
            if (*p == '=') {
                FZ_CHECK(p[1] == '"');
                /* the page's own links: the API, /metrics, drill reports by their name */
                FZ_CHECK(!href || !strncmp(p + 2, "/api/v1/status\"", 15) ||
                         !strncmp(p + 2, "/metrics\"", 9) ||
                         !strncmp(p + 2, "/drills/report?drill=", 21));
                p = strchr(p + 2, '"'); /* values never hold a raw quote */
                FZ_CHECK(p);
                p++;
            }
        }
        if (raw) { /* only the page's own style sheet and script */
            const char *end = strstr(p, n == 5 ? "</style>" : "</script>");
            FZ_CHECK(end);
            const char *own = n == 5 ? sg_statushtml_style() : sg_statushtml_script();
            FZ_CHECK((size_t)(end - p - 1) == strlen(own) && !strncmp(p + 1, own, strlen(own)));
            p = end;
        }
    }
    FZ_CHECK(scripts == 1);
}

static void s_page(const char *text, bool cut)
{
    json_t *doc = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return;
    }
    json_t *colls = json_object_get(doc, "collections");
    while (cut && json_array_size(colls) > 1)
        json_array_remove(colls, json_array_size(colls) - 1);
    char *html = NULL;
    size_t len = 0;
    FZ_CHECK(sg_statushtml_render(doc, 1, &html, &len) == 0);
    FZ_CHECK(strlen(html) == len);
    s_markup(html);
    free(html);
    json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0: s_auth(text); break;
    case 1: s_page(text, false); break;
    default: s_page(text, true); break;
    }
    free(text);
    return 0;
}
