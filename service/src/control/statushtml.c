/* statushtml: the status page (statushtml.h). */
#include "control/statushtml.h"
#include "base/err.h"
#include "base/str.h"
#include "base/textbuf.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define S_DASH "\xe2\x80\x94" /* an em dash: nothing to show */

/* ---- the script and the style sheet ----------------------------------------------------
 * The script formats cells exactly as s_cell below does; change both together. */

static const char s_script[] =
    "\n(function(){\"use strict\";\n"
    "var D='\\u2014',B=document.body,live=document.getElementById('live');\n"
    "function get(o,p){p=p.split('.');for(var i=0;i<p.length&&o!=null;i++)o=o[p[i]];return o;}\n"
    "function two(n){return(n<10?'0':'')+n;}\n"
    "function text(v){return v==null||v===''?D:String(v);}\n"
    "function time(v){if(typeof v!=='number')return D;var s=new Date(v).toISOString();"
    "return s.slice(0,10)+' '+s.slice(11,19)+'Z';}\n"
    "function rel(v,b){if(typeof v!=='number'||typeof b!=='number')return D;"
    "var d=v-b,g=d<0?'-':'+';d=Math.abs(d);var cs=Math.floor(d/10);"
    "return g+Math.floor(cs/100)+'.'+two(cs%100)+' s';}\n"
    "function slug(v){return String(v).toLowerCase().replace(/[^a-z0-9]+/g,'-');}\n"
    "function el(t,c,x){var e=document.createElement(t);if(c)e.className=c;"
    "if(x!=null)e.textContent=x;return e;}\n"
    "function badge(e,v){e.className='b b-'+slug(v==null?'':v);e.textContent=text(v);}\n"
    "function num(v){return typeof v==='number';}\n"
    "function bar(td,it,doc){var S=get(doc,'episode.origin_ms'),E=get(doc,'episode.until_ms'),"
    "NS='http://www.w3.org/2000/svg',W=160;\n"
    " if(!num(S)||!num(E)||!num(it.decided_ms)){td.textContent=D;return;}\n"
    " var span=Math.max(1,E-S),end=num(it.ended_ms)?it.ended_ms:E,i=it.intent_ms,c=it.called_ms,"
    "g=document.createElementNS(NS,'svg');\n"
    " function x(t){return t<=S?0:t>=S+span?W:Math.floor(W*(t-S)/span);}\n"
    " function seg(a,b,k,y,h){var r=document.createElementNS(NS,'rect'),x0=x(a);"
    "r.setAttribute('class',k);r.setAttribute('x',x0);r.setAttribute('y',y);"
    "r.setAttribute('width',Math.max(1,x(b)-x0));r.setAttribute('height',h);g.appendChild(r);}\n"
    " g.setAttribute('class','bar');g.setAttribute('width',W);g.setAttribute('height',12);"
    "g.setAttribute('viewBox','0 0 '+W+' 12');\n"
    " seg(it.decided_ms,num(i)?i:num(c)?c:end,'q',4,4);if(num(i))seg(i,num(c)?c:end,'c',4,4);"
    "if(num(c))seg(c,end,'j b-'+slug(it.state),0,12);td.appendChild(g);}\n"
    "function cell(td,f,it,k,doc){var v=it[k],d=td.firstChild,open=!!(d&&d.open);"
    "td.textContent='';td.className='f-'+f;\n"
    " if(f==='time')td.textContent=time(v);\n"
    " else if(f==='rel')td.textContent=rel(v,get(doc,'episode.origin_ms'));\n"
    " else if(f==='bar')bar(td,it,doc);\n"
    " else if(f==='badge'){if(v==null)td.textContent=D;else{var s=el('span');badge(s,v);"
    "td.appendChild(s);}}\n"
    " else if(f==='pct'){if(typeof v!=='number')td.textContent=D;else{var p=el('progress');"
    "p.max=100;p.value=v;td.appendChild(p);td.appendChild(document.createTextNode(' '+v+'%'));}}\n"
    " else if(f==='pre'){if(v==null||v==='')td.textContent=D;else{var i=v.indexOf('\\n'),"
    "x=el('details');x.appendChild(el('summary',null,i<0?v:v.slice(0,i)));"
    "x.appendChild(el('pre',null,i<0?'':v.slice(i+1)));x.open=open;td.appendChild(x);}}\n"
    " else if(f==='bool')td.textContent=v?'yes':'no';\n"
    " else if(f==='ms')td.textContent=typeof v!=='number'?D:(v>=0?'+':'')+v+' ms';\n"
    " else if(f==='report'){if(!v||typeof v!=='object')td.textContent=D;else{"
    "var a=el('a',null,text(v.id));a.href='/drills/report?drill='+encodeURIComponent(it.name);"
    "td.appendChild(a);}}\n"
    " else td.textContent=text(v);}\n"
    "function table(t,doc){var list=get(doc,t.dataset.list)||[],key=t.dataset.rowkey,"
    "body=t.tBodies[0],old={},rows=[],\n"
    " cols=[].map.call(t.tHead.rows[0].cells,function(h){return[h.dataset.key,h.dataset.fmt];}),\n"
    " now=t.tHead.querySelector('[data-fmt=bar]')?get(doc,'episode.until_ms'):'';\n"
    " [].forEach.call(body.rows,function(r){old[r.dataset.row]=r;});\n"
    " list.forEach(function(it){var id=String(it[key]),tr=old[id];\n"
    "  if(tr)delete old[id];else{tr=el('tr');tr.dataset.row=id;"
    "cols.forEach(function(){tr.appendChild(el('td'));});}\n"
    "  var sig=JSON.stringify(it)+'|'+get(doc,'episode.origin_ms')+'|'+now;\n"
    "  if(tr.sgSig!==sig){tr.sgSig=sig;cols.forEach(function(c,i){cell(tr.cells[i],c[1],it,c[0],doc);});}\n"
    "  rows.push(tr);});\n"
    " Object.keys(old).forEach(function(k){body.removeChild(old[k]);});\n"
    " rows.forEach(function(tr){body.appendChild(tr);});\n"
    " t.hidden=!list.length;var e=t.nextElementSibling;if(e&&e.classList.contains('empty'))"
    "e.hidden=!!list.length;}\n"
    "function update(doc){\n"
    " [].forEach.call(document.querySelectorAll('table[data-list]'),function(t){table(t,doc);});\n"
    " [].forEach.call(document.querySelectorAll('[data-k]'),function(e){var v=get(doc,e.dataset.k),"
    "f=e.dataset.fmt;\n"
    "  if(f==='badge')badge(e,v);else if(f==='time')e.textContent=time(v);"
    "else if(f==='bool')e.textContent=v?'yes':'no';else e.textContent=text(v);});\n"
    " [].forEach.call(document.querySelectorAll('[data-hide-zero]'),function(e){"
    "e.hidden=!get(doc,e.dataset.hideZero);});\n"
    " [].forEach.call(document.querySelectorAll('[data-show-zero]'),function(e){"
    "e.hidden=!!get(doc,e.dataset.showZero);});\n"
    " [].forEach.call(document.querySelectorAll('[data-kv]'),function(e){var o=get(doc,e.dataset.kv)||{};"
    "e.textContent='';\n"
    "  Object.keys(o).forEach(function(k){if(!o[k])return;var s=el('span');badge(s,k);"
    "s.textContent=k+' '+o[k];if(e.firstChild)e.appendChild(document.createTextNode(' '));"
    "e.appendChild(s);});});}\n"
    "function poll(){fetch('/api/v1/status?limit='+encodeURIComponent(B.dataset.limit),"
    "{cache:'no-store',credentials:'same-origin'})\n"
    " .then(function(r){if(!r.ok)throw new Error('HTTP '+r.status);return r.json();})\n"
    " .then(function(doc){update(doc);B.dataset.updates=(+B.dataset.updates||0)+1;"
    "live.textContent='live';live.className='live ok';})\n"
    " .catch(function(e){live.textContent='not updating: '+e.message;live.className='live stale';})\n"
    " .then(function(){setTimeout(poll,1000);});}\n"
    "live.textContent='live';live.className='live ok';setTimeout(poll,1000);\n"
    "})();\n";

static const char s_style[] =
    "\n:root{color-scheme:light dark;--fg:#1b1f24;--mute:#5b6470;--line:#d7dce2;--bg:#fff;"
    "--head:#f3f5f7}\n"
    "@media(prefers-color-scheme:dark){:root{--fg:#e6e9ed;--mute:#9aa4af;--line:#39414a;"
    "--bg:#16191d;--head:#20252b}}\n"
    "body{font:14px/1.4 system-ui,sans-serif;color:var(--fg);background:var(--bg);margin:0 "
    "1.5em 2em}\n"
    "header{display:flex;gap:1em;align-items:baseline;flex-wrap:wrap;border-bottom:1px solid "
    "var(--line);padding:.6em 0}\n"
    "h1{font-size:1.3em;margin:0}h2{font-size:1.05em;margin:1.4em 0 .4em}\n"
    ".mute,footer{color:var(--mute)}footer{margin-top:2em;font-size:.9em}\n"
    "table{border-collapse:collapse;width:100%;font-size:.93em}\n"
    "th,td{text-align:left;padding:.25em .6em .25em 0;border-bottom:1px solid var(--line);"
    "vertical-align:top}\n"
    "th{background:var(--head);font-weight:600;white-space:nowrap}\n"
    "td{overflow-wrap:break-word}.f-time,.f-rel,.f-pct,.f-bar,.f-badge,.f-ms{white-space:nowrap}\n"
    "pre{margin:.3em 0;white-space:pre-wrap;font-size:.9em}summary{cursor:pointer}\n"
    "progress{width:6em;vertical-align:middle}\n"
    "dl{display:flex;flex-wrap:wrap;gap:.2em 2.2em;margin:0}dl div{display:flex;gap:.5em}"
    "dt{color:var(--mute)}dd{margin:0}\n"
    ".bar{vertical-align:middle}.bar .q{fill:#8892a0}.bar .c{fill:#d4a72c}.bar .j{fill:#0969da}"
    ".bar .b-succeeded{fill:#2da44e}.bar .b-failed,.bar .b-timed-out{fill:#cf222e}"
    ".bar .b-cancelled,.bar .b-abandoned{fill:#8892a0}\n"
    ".b{display:inline-block;padding:0 .45em;border-radius:.7em;background:#8892a040;"
    "white-space:nowrap}\n"
    ".b-healthy,.b-failed-over,.b-succeeded,.b-passed,.b-live,.b-yes{background:#2da44e55}\n"
    ".b-suspect,.b-blocked,.b-awaiting-approval,.b-objectives-missed,.b-timed-out,"
    ".b-recovering{background:#d4a72c66}\n"
    ".b-lost,.b-failover-failed,.b-failed,.b-preempted{background:#cf222e66}\n"
    ".b-contested{background:#8250df66}.b-failing-over,.b-open,.b[class*=b-running],"
    ".b-calling{background:#0969da55}\n"
    ".live.ok{color:#1a7f37}.live.stale{color:#cf222e}\n"
    "[hidden]{display:none!important}\n";

const char *sg_statushtml_script(void) { return s_script; }
const char *sg_statushtml_style(void) { return s_style; }

char *sg_statushtml_csp(const char *script_sha256_b64, const char *style_sha256_b64)
{
    return sg_strdupf("default-src 'none'; connect-src 'self'; script-src 'sha256-%s'; "
                      "style-src 'sha256-%s'; img-src 'self'; base-uri 'none'; form-action "
                      "'none'; frame-ancestors 'none'",
                      script_sha256_b64, style_sha256_b64);
}

/* ---- values as the script shows them -------------------------------------------------- */

static json_t *s_get(const json_t *doc, const char *path)
{
    const json_t *o = doc;
    char key[64];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        o = json_object_get(o, key);
        path += n + (path[n] == '.');
    }
    return (json_t *)o;
}

/* text(): null or "" as a dash, else the value as String() writes it (the
 * document's numbers are integers). */
static void s_text(sg_textbuf_t *b, const json_t *v)
{
    if (json_is_string(v) && json_string_length(v))
        sg_textbuf_htmln(b, json_string_value(v), json_string_length(v));
    else if (json_is_integer(v))
        sg_textbuf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_boolean(v))
        sg_textbuf_put(b, json_is_true(v) ? "true" : "false");
    else if (json_is_real(v))
        sg_textbuf_printf(b, "%.17g", json_real_value(v));
    else
        sg_textbuf_put(b, S_DASH);
}

/* Civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm). */
static void s_civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* time(): Unix ms as "YYYY-MM-DD HH:MM:SSZ" (UTC), else a dash. */
static void s_time(sg_textbuf_t *b, const json_t *v)
{
    if (!json_is_integer(v)) {
        sg_textbuf_put(b, S_DASH);
        return;
    }
    int64_t ms = (int64_t)json_integer_value(v);
    int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
    int64_t sod = s - days * 86400;
    int64_t y;
    unsigned mo, d;
    s_civil(days, &y, &mo, &d);
    sg_textbuf_printf(b, "%04" PRId64 "-%02u-%02u %02u:%02u:%02uZ", y, mo, d,
                      (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60));
}

/* rel(): v - base as "+S.CC s" (truncated to hundredths), else a dash. */
static void s_rel(sg_textbuf_t *b, const json_t *v, const json_t *base)
{
    if (!json_is_integer(v) || !json_is_integer(base)) {
        sg_textbuf_put(b, S_DASH);
        return;
    }
    int64_t d = (int64_t)(json_integer_value(v) - json_integer_value(base));
    char sign = d < 0 ? '-' : '+';
    uint64_t cs = (d < 0 ? (uint64_t)(-(d + 1)) + 1 : (uint64_t)d) / 10;
    sg_textbuf_printf(b, "%c%" PRIu64 ".%02u s", sign, cs / 100, (unsigned)(cs % 100));
}

/* slug(): lower case, every run of other than [a-z0-9] one '-'. */
static void s_slug(sg_textbuf_t *b, const char *v)
{
    bool dash = false;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        unsigned char c = *p >= 'A' && *p <= 'Z' ? (unsigned char)(*p - 'A' + 'a') : *p;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (alnum) {
            char ch[2] = {(char)c, 0};
            sg_textbuf_put(b, ch);
        } else if (!dash) {
            sg_textbuf_put(b, "-");
        }
        dash = !alnum;
    }
}

/* The text of a value as String() gives it, for slugs. */
static const char *s_plain(const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(buf, len, "%s", "");
    return buf;
}

/* badge(): a span classed by the value's slug. `attrs`: more attributes. */
static void s_badge(sg_textbuf_t *b, const json_t *v, const char *attrs)
{
    char buf[32];
    sg_textbuf_put(b, "<span class=\"b b-");
    s_slug(b, json_is_null(v) || !v ? "" : s_plain(v, buf, sizeof buf));
    sg_textbuf_printf(b, "\"%s>", attrs ? attrs : "");
    s_text(b, v);
    sg_textbuf_put(b, "</span>");
}

/* encodeURIComponent(): the unreserved characters as they are, every other
 * byte of the UTF-8 text %XX. */
static void s_uri_component(sg_textbuf_t *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.!~*'()", *p)) {
            char ch[2] = {(char)*p, 0};
            sg_textbuf_html(b, ch); /* ' becomes an entity in the attribute */
        } else {
            sg_textbuf_printf(b, "%%%02X", *p);
        }
    }
}

/* bar(): a run on the episode's time axis, as an inline SVG: its wait
 * for the proof (q), the call (c), the job (j, coloured by the run's state). */
#define S_BAR_W 160

static int64_t s_x(int64_t t, int64_t from, int64_t span)
{
    return t <= from ? 0 : t >= from + span ? S_BAR_W : S_BAR_W * (t - from) / span;
}

static void s_seg(sg_textbuf_t *b, int64_t a, int64_t z, int64_t from, int64_t span,
                  const char *cls, const char *state, int y, int h)
{
    int64_t x0 = s_x(a, from, span), w = s_x(z, from, span) - x0;
    sg_textbuf_printf(b, "<rect class=\"%s", cls);
    if (state) {
        sg_textbuf_put(b, " b-");
        s_slug(b, state);
    }
    sg_textbuf_printf(b, "\" x=\"%" PRId64 "\" y=\"%d\" width=\"%" PRId64 "\" height=\"%d\"></rect>",
                      x0, y, w > 1 ? w : 1, h);
}

static void s_bar(sg_textbuf_t *b, const json_t *doc, const json_t *it)
{
    const json_t *S = s_get(doc, "episode.origin_ms"), *E = s_get(doc, "episode.until_ms");
    const json_t *dec = json_object_get(it, "decided_ms"), *in = json_object_get(it, "intent_ms");
    const json_t *ca = json_object_get(it, "called_ms"), *en = json_object_get(it, "ended_ms");
    if (!json_is_integer(S) || !json_is_integer(E) || !json_is_integer(dec)) {
        sg_textbuf_put(b, S_DASH);
        return;
    }
    int64_t from = json_integer_value(S), until = json_integer_value(E);
    int64_t span = until - from > 1 ? until - from : 1;
    int64_t end = json_is_integer(en) ? json_integer_value(en) : until;
    int64_t i = json_is_integer(in) ? json_integer_value(in) : 0;
    int64_t c = json_is_integer(ca) ? json_integer_value(ca) : 0;
    const char *state = json_string_value(json_object_get(it, "state"));
    char buf[32];
    if (!state)
        state = s_plain(json_object_get(it, "state"), buf, sizeof buf);
    sg_textbuf_printf(b, "<svg class=\"bar\" width=\"%d\" height=\"12\" viewBox=\"0 0 %d 12\">",
                      S_BAR_W, S_BAR_W);
    s_seg(b, json_integer_value(dec), json_is_integer(in) ? i : json_is_integer(ca) ? c : end, from,
          span, "q", NULL, 4, 4);
    if (json_is_integer(in))
        s_seg(b, i, json_is_integer(ca) ? c : end, from, span, "c", NULL, 4, 4);
    if (json_is_integer(ca))
        s_seg(b, c, end, from, span, "j", state, 0, 12);
    sg_textbuf_put(b, "</svg>");
}

/* ---- tables ---------------------------------------------------------------------------- */

typedef struct {
    const char *key, *head, *fmt; /* fmt: as the script's cell() knows them */
} s_col_t;

typedef struct {
    const char *list, *rowkey, *empty;
    const s_col_t *cols;
    size_t n;
} s_table_t;

/* One cell, as cell() in the script makes it. */
static void s_cell(sg_textbuf_t *b, const json_t *doc, const json_t *item, const s_col_t *col)
{
    const json_t *v = json_object_get(item, col->key);
    const char *f = col->fmt;
    sg_textbuf_printf(b, "<td class=\"f-%s\">", f);
    if (strcmp(f, "time") == 0) {
        s_time(b, v);
    } else if (strcmp(f, "rel") == 0) {
        s_rel(b, v, s_get(doc, "episode.origin_ms"));
    } else if (strcmp(f, "bar") == 0) {
        s_bar(b, doc, item);
    } else if (strcmp(f, "badge") == 0) {
        if (!v || json_is_null(v))
            sg_textbuf_put(b, S_DASH);
        else
            s_badge(b, v, NULL);
    } else if (strcmp(f, "pct") == 0) {
        if (!json_is_integer(v))
            sg_textbuf_put(b, S_DASH);
        else
            sg_textbuf_printf(b, "<progress max=\"100\" value=\"%" JSON_INTEGER_FORMAT
                                 "\"></progress> %" JSON_INTEGER_FORMAT "%%",
                              json_integer_value(v), json_integer_value(v));
    } else if (strcmp(f, "pre") == 0) {
        if (!json_is_string(v) || !json_string_length(v)) {
            sg_textbuf_put(b, S_DASH);
        } else {
            const char *s = json_string_value(v), *nl = strchr(s, '\n');
            sg_textbuf_put(b, "<details><summary>");
            sg_textbuf_htmln(b, s, nl ? (size_t)(nl - s) : strlen(s));
            sg_textbuf_put(b, "</summary><pre>");
            sg_textbuf_html(b, nl ? nl + 1 : "");
            sg_textbuf_put(b, "</pre></details>");
        }
    } else if (strcmp(f, "bool") == 0) {
        sg_textbuf_put(b, json_is_true(v) ? "yes" : "no");
    } else if (strcmp(f, "ms") == 0) {
        if (!json_is_integer(v))
            sg_textbuf_put(b, S_DASH);
        else
            sg_textbuf_printf(b, "%s%" JSON_INTEGER_FORMAT " ms", json_integer_value(v) >= 0 ? "+" : "",
                              json_integer_value(v));
    } else if (strcmp(f, "report") == 0) {
        const char *name = json_string_value(json_object_get(item, "name"));
        if (!json_is_object(v) || !name) {
            sg_textbuf_put(b, S_DASH);
        } else {
            sg_textbuf_put(b, "<a href=\"/drills/report?drill=");
            s_uri_component(b, name);
            sg_textbuf_put(b, "\">");
            s_text(b, json_object_get(v, "id"));
            sg_textbuf_put(b, "</a>");
        }
    } else {
        s_text(b, v);
    }
    sg_textbuf_put(b, "</td>");
}

static void s_table(sg_textbuf_t *b, const json_t *doc, const s_table_t *t)
{
    const json_t *list = s_get(doc, t->list);
    size_t n = json_is_array(list) ? json_array_size(list) : 0;
    sg_textbuf_printf(b, "<table data-list=\"%s\" data-rowkey=\"%s\"%s><thead><tr>", t->list,
                      t->rowkey, n ? "" : " hidden");
    for (size_t c = 0; c < t->n; c++)
        sg_textbuf_printf(b, "<th data-key=\"%s\" data-fmt=\"%s\">%s</th>", t->cols[c].key,
                          t->cols[c].fmt, t->cols[c].head);
    sg_textbuf_put(b, "</tr></thead><tbody>");
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(list, i);
        char buf[32];
        sg_textbuf_put(b, "<tr data-row=\"");
        sg_textbuf_html(b, s_plain(json_object_get(item, t->rowkey), buf, sizeof buf));
        sg_textbuf_put(b, "\">");
        for (size_t c = 0; c < t->n; c++)
            s_cell(b, doc, item, &t->cols[c]);
        sg_textbuf_put(b, "</tr>");
    }
    sg_textbuf_printf(b, "</tbody></table><p class=\"empty mute\"%s>%s</p>\n", n ? " hidden" : "",
                      t->empty);
}

#define S_N(a) (sizeof(a) / sizeof((a)[0]))

static const s_col_t s_site_cols[] = {
    {"name", "Site", "text"},       {"state", "State", "badge"},
    {"witness", "Witness", "bool"}, {"lost_ms", "Last declared lost", "time"},
    {"explain", "Why (the votes)", "pre"},
};
static const s_col_t s_run_cols[] = {
    {"collection", "Collection", "text"}, {"run_id", "Run", "text"},
    {"origin", "Decided by", "text"},      {"decided_ms", "Timeline", "bar"},
    {"decided_ms", "Decided", "rel"},
    {"intent_ms", "Intent", "rel"},        {"called_ms", "Called", "rel"},
    {"percent", "Job", "pct"},             {"ended_ms", "Ended", "rel"},
    {"state", "State", "badge"},           {"recovery_point", "Recovery point", "text"},
    {"message", "Latest step", "text"},
};
static const s_col_t s_coll_cols[] = {
    {"name", "Collection", "text"},
    {"site", "Site", "text"},
    {"replica_site", "Replica", "text"},
    {"group", "Group", "text"},
    {"verdict", "Verdict", "badge"},
    {"guard", "Held back by", "text"},
    {"hold", "Why", "text"},
    {"run_state", "Run", "badge"},
    {"percent", "Job", "pct"},
    {"recovery_point", "Recovery point", "text"},
    {"paused", "Paused", "text"},
    {"last_step", "Life cycle", "text"},
};
static const s_col_t s_drill_cols[] = {
    {"name", "Drill", "text"},          {"last_result", "Last result", "badge"},
    {"last_end_ms", "Ended", "time"},   {"last_pass_ms", "Last passed", "time"},
    {"due_ms", "Due by", "time"},       {"report", "Latest report", "report"},
};
static const s_col_t s_outbox_cols[] = {
    {"sink", "Sink", "text"},           {"plugin", "Plugin", "text"},
    {"pending", "Pending", "text"},     {"delivered", "Delivered", "text"},
    {"retried", "Retried", "text"},     {"dead", "Dead letters", "text"},
};
static const s_col_t s_observer_cols[] = {
    {"id", "Observer", "text"},
    {"site", "Site", "text"},
    {"heard", "Heard", "bool"},
    {"clock_offset_ms", "Clock offset", "ms"},
};
static const s_col_t s_audit_cols[] = {
    {"time_ms", "Time", "time"},   {"who", "Who", "text"},         {"role", "Role", "text"},
    {"command", "Command", "text"}, {"target", "Target", "text"}, {"reason", "Reason", "text"},
    {"result", "Result", "text"},
};

static const s_table_t s_tables[] = {
    {"sites", "name", "No sites.", s_site_cols, S_N(s_site_cols)},
    {"episode.runs", "run_id", "No failover runs in this episode.", s_run_cols,
     S_N(s_run_cols)},
    {"collections", "name", "No collections.", s_coll_cols, S_N(s_coll_cols)},
    {"drills", "name", "No drills configured.", s_drill_cols, S_N(s_drill_cols)},
    {"outbox", "sink", "No sinks configured.", s_outbox_cols, S_N(s_outbox_cols)},
    {"observers", "id", "No observers.", s_observer_cols, S_N(s_observer_cols)},
    {"audit", "seq", "No operator commands yet.", s_audit_cols, S_N(s_audit_cols)},
};

/* ---- the page ------------------------------------------------------------------------- */

/* A value the script keeps up to date: <tag data-k=path data-fmt=fmt>. */
static void s_scalar(sg_textbuf_t *b, const json_t *doc, const char *path, const char *fmt)
{
    const json_t *v = s_get(doc, path);
    if (strcmp(fmt, "badge") == 0) {
        char attrs[128];
        snprintf(attrs, sizeof attrs, " data-k=\"%s\" data-fmt=\"badge\"", path);
        s_badge(b, v, attrs);
        return;
    }
    sg_textbuf_printf(b, "<span data-k=\"%s\" data-fmt=\"%s\">", path, fmt);
    if (strcmp(fmt, "time") == 0)
        s_time(b, v);
    else if (strcmp(fmt, "bool") == 0)
        sg_textbuf_put(b, json_is_true(v) ? "yes" : "no");
    else
        s_text(b, v);
    sg_textbuf_put(b, "</span>");
}

/* The counts of an object's non-zero members, as badges "key N". */
static void s_kv(sg_textbuf_t *b, const json_t *doc, const char *path)
{
    const json_t *o = s_get(doc, path);
    const char *k;
    const json_t *v;
    bool first = true;
    sg_textbuf_printf(b, "<p data-kv=\"%s\">", path);
    json_object_foreach((json_t *)o, k, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) == 0)
            continue;
        if (!first)
            sg_textbuf_put(b, " ");
        first = false;
        sg_textbuf_put(b, "<span class=\"b b-");
        s_slug(b, k);
        sg_textbuf_put(b, "\">");
        sg_textbuf_html(b, k);
        sg_textbuf_printf(b, " %" JSON_INTEGER_FORMAT "</span>", json_integer_value(v));
    }
    sg_textbuf_put(b, "</p>\n");
}

/* Opens a muted paragraph about `key` of the document (a count of rows
 * left out): hidden as rendered while it is zero, and shown or hidden by
 * the page's script as it changes (data-hide-zero). */
static void s_mute_open(sg_textbuf_t *b, const json_t *doc, const char *key)
{
    sg_textbuf_printf(b, "<p class=\"mute\" data-hide-zero=\"%s\"%s>", key,
                      json_integer_value(s_get(doc, key)) ? "" : " hidden");
}

static void s_section(sg_textbuf_t *b, const char *id, const char *title)
{
    sg_textbuf_printf(b, "<section id=\"%s\"><h2>%s</h2>\n", id, title);
}

int sg_statushtml_render(const json_t *doc, size_t limit, char **out, size_t *len)
{
    if (!json_is_object(doc))
        return SG_EINVAL;
    sg_textbuf_t b;
    sg_textbuf_init(&b);
    sg_textbuf_put(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                       "<title>siteguard status</title>\n"
                       "<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>\n"
                       "<style>");
    sg_textbuf_put(&b, s_style);
    sg_textbuf_printf(&b, "</style>\n</head>\n<body data-limit=\"%u\">\n<header><h1>siteguard</h1>",
                      (unsigned)limit);
    sg_textbuf_put(&b, "<span class=\"mute\">as of ");
    s_scalar(&b, doc, "generated_ms", "time");
    sg_textbuf_put(&b, "</span> <span id=\"live\" class=\"live\">reload to refresh</span>"
                       "</header>\n<main>\n");

    s_section(&b, "overview", "Overview");
    static const char *const overview[][3] = {
        {"Leader", "leader", "text"},
        {"Mode", "leader_info.mode", "text"},
        {"Instance", "leader_info.name", "text"},
        {"Holder", "leader_info.holder", "text"},
        {"Epoch", "leader_info.epoch", "text"},
        {"Leads", "leader_info.is_leader", "bool"},
        {"Policy", "mode", "text"},
        {"Drill running", "drill_running", "bool"},
    };
    sg_textbuf_put(&b, "<dl>");
    for (size_t i = 0; i < S_N(overview); i++) {
        sg_textbuf_printf(&b, "<div><dt>%s</dt><dd>", overview[i][0]);
        s_scalar(&b, doc, overview[i][1], overview[i][2]);
        sg_textbuf_put(&b, "</dd></div>");
    }
    sg_textbuf_put(&b, "</dl></section>\n");

    s_section(&b, "sites", "Sites");
    s_table(&b, doc, &s_tables[0]);
    sg_textbuf_put(&b, "</section>\n");

    s_section(&b, "episode", "Failover episode");
    const json_t *site = s_get(doc, "episode.site");
    bool lost = json_is_string(site);
    sg_textbuf_printf(&b, "<p data-hide-zero=\"episode.site\"%s>Site ", lost ? "" : " hidden");
    s_scalar(&b, doc, "episode.site", "text");
    sg_textbuf_put(&b, " ");
    s_scalar(&b, doc, "episode.state", "badge");
    sg_textbuf_put(&b, " was declared lost at ");
    s_scalar(&b, doc, "episode.started_ms", "time");
    sg_textbuf_put(&b, "; the runs decided since, times from then.</p>\n");
    sg_textbuf_printf(&b, "<p data-show-zero=\"episode.site\"%s>No site declared lost since "
                          "siteguard started; runs in flight, times from the first.</p>\n",
                      lost ? " hidden" : "");
    s_table(&b, doc, &s_tables[1]);
    s_mute_open(&b, doc, "episode.runs_omitted");
    sg_textbuf_put(&b, "and ");
    s_scalar(&b, doc, "episode.runs_omitted", "text");
    sg_textbuf_put(&b, " earlier runs not listed</p></section>\n");

    s_section(&b, "collections", "Collections");
    s_kv(&b, doc, "verdicts");
    s_table(&b, doc, &s_tables[2]);
    s_mute_open(&b, doc, "collections_omitted");
    s_scalar(&b, doc, "collections_omitted", "text");
    sg_textbuf_put(&b, " of ");
    s_scalar(&b, doc, "collections_total", "text");
    sg_textbuf_put(&b, " collections not listed (idle ones last; /?limit=N lists up to 1000)"
                       "</p></section>\n");

    const char *rest[][2] = {{"drills", "Drills"},
                             {"outbox", "Outbox per sink"},
                             {"observers", "Observers"},
                             {"audit", "Recent operator commands"}};
    for (size_t i = 0; i < S_N(rest); i++) {
        s_section(&b, rest[i][0], rest[i][1]);
        s_table(&b, doc, &s_tables[3 + i]);
        sg_textbuf_put(&b, "</section>\n");
    }
    sg_textbuf_put(&b, "</main>\n<footer>Config ");
    s_scalar(&b, doc, "config", "text");
    sg_textbuf_put(&b, " &middot; loop turns ");
    s_scalar(&b, doc, "loop_turns", "text");
    sg_textbuf_put(&b, " &middot; <a href=\"/api/v1/status\">/api/v1/status</a> &middot; "
                       "<a href=\"/metrics\">/metrics</a></footer>\n<script>");
    sg_textbuf_put(&b, s_script);
    sg_textbuf_put(&b, "</script>\n</body></html>\n");
    return sg_textbuf_take(&b, out, len);
}
