/* statushtml: the status page, rendered from the status document
 * (statusdoc.h) as one self-contained HTML page.
 *
 * The server renders the whole page: it reads fully with scripts off (a
 * <noscript> refresh reloads it every 5 s). One small inline script, the
 * same text on every page (sg_statushtml_script: its SHA-256 goes into the
 * Content-Security-Policy, sg_statushtml_csp), then polls
 * /api/v1/status?limit=N every second and updates the page in place: the
 * tables name their document list and their columns' keys and formats in
 * data- attributes, which the script reads back, so the columns are
 * defined once, here; rows are matched by their key (an open explanation
 * stays open); every value goes in with textContent, never as markup. One
 * inline style sheet, hashed the same way. Nothing is fetched but the API:
 * no external asset, font or image.
 *
 * Every string of the document (names from the config, reasons from the
 * engine and operators, paths from Hyper-V) is HTML-escaped here; a cell is
 * formatted exactly as the script formats it (times in UTC as
 * "YYYY-MM-DD HH:MM:SSZ", offsets from the episode's start as "+S.CC s", an
 * em dash for nothing), so an update changes the text only when the data
 * changed.
 *
 * Pure: no I/O, clock or locale; output depends only on the input.
 * Ownership: *out is the caller's. Thread rules: none. */
#ifndef SG_STATUSHTML_H
#define SG_STATUSHTML_H

#include <jansson.h>
#include <stddef.h>

/* Renders `doc` (as sg_statusdoc_build makes it, its lists already cut to
 * what is shown) as the page; `limit` is the number of collections the
 * page asks the API for when it updates itself. 0 with *out (NUL-ended)
 * and *len (may be NULL), or SG_EINVAL (not an object), SG_ENOMEM. */
int sg_statushtml_render(const json_t *doc, size_t limit, char **out, size_t *len);

/* The inline script and style sheet, exactly as the page carries them
 * between their tags. */
const char *sg_statushtml_script(void);
const char *sg_statushtml_style(void);

/* The page's Content-Security-Policy, given the base64 SHA-256 of the
 * script and of the style sheet: nothing but the API from this origin, the
 * inline script and style by hash, no frames, no forms, no base. Caller
 * frees; NULL when out of memory. */
char *sg_statushtml_csp(const char *script_sha256_b64, const char *style_sha256_b64);

#endif
