/* drillreport: drill reports (their JSON: drill.h) rendered as documents for
 * an audit.
 *
 * One report becomes
 *  - html: one self-contained page (inline CSS and SVG, no scripts, no
 *    external asset; a Content-Security-Policy that allows neither), laid
 *    out to print to PDF (A4, page breaks kept out of tables and charts):
 *    the drill, its run id, trigger, who started it, the config's path and
 *    digest, the result, objectives and whether they were met, the cleanup;
 *    a timeline (SVG: one row per collection, its steps as bars on a time
 *    axis from the drill's start, ticks in seconds, coloured by result);
 *    and a table per collection (RTO and RPO achieved against objective,
 *    recovery point, cleanup, its steps);
 *  - csv: RFC 4180 (CRLF line ends, a header row), one row per collection
 *    step (a collection without steps gets one row with empty step fields);
 *  - json: the report as it is.
 * The history (a JSON array of reports, as `drill history` answers) becomes
 *  - html: the runs in a table and, per collection, the trend of its
 *    achieved RTO and RPO over the runs (one small SVG line chart each, the
 *    objective dashed, points coloured by met or missed);
 *  - csv: one row per collection per run;
 *  - json: the array as it is.
 * Runs are in the order of their start, oldest first.
 *
 * A missing measure (null or absent) shows as an em dash in HTML and as an
 * empty field in CSV. Every text that comes from the config or from events
 * (names, paths, details, who) is escaped for its format: HTML entities,
 * CSV quoting. Times are UTC.
 *
 * Pure: no I/O, clock, locale or global state; output depends only on the
 * input. Thread rules: none. Ownership: *out is newly allocated, the
 * caller's to free. Portable C (siteguardctl links it on every platform). */
#ifndef SG_DRILLREPORT_H
#define SG_DRILLREPORT_H

#include <stddef.h>

typedef enum {
    SG_DRILLREPORT_JSON = 0,
    SG_DRILLREPORT_HTML,
    SG_DRILLREPORT_CSV
} sg_drillreport_format_t;

/* "json", "html" or "csv": 0, else SG_EINVAL. */
int sg_drillreport_parse_format(const char *name, sg_drillreport_format_t *fmt);

/* Renders one report (`report`: its JSON text). On success returns 0 with
 * *out (NUL-terminated) and *len (may be NULL). SG_EINVAL when `report` is
 * not a JSON object with a "collections" array, SG_ENOMEM. */
int sg_drillreport_render(const char *report, sg_drillreport_format_t fmt, char **out,
                          size_t *len);

/* Renders the history (`reports`: a JSON array of reports). As above;
 * SG_EINVAL when it is not an array of objects. */
int sg_drillreport_render_history(const char *reports, sg_drillreport_format_t fmt, char **out,
                                  size_t *len);

#endif
