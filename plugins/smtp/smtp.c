/* smtp: one mail per outcome, sent with libcurl's SMTP client.
 *
 * `url` is smtp://host[:port] or smtps://host[:port] (TLS from the start);
 * `use_ssl` asks for STARTTLS on smtp://: "none", "try" or "required".
 * The message (RFC 5322) has Date (the host's clock at sending), From, To,
 * Subject (`subject_prefix` and the summary; RFC 2047 encoded when not
 * ASCII), a Message-ID made from the outcome's time and dedup key (so a
 * retried mail keeps its id), MIME headers for UTF-8 text, and a text body:
 * the summary, the outcome's facts, the message. An SMTP 4xx reply is
 * retried, 5xx is not (common/result.h). */
#include "siteguard/plugin.h"

#include "common/hmac.h"
#include "common/result.h"
#include "common/text.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    S_SUBJECT_MAX = 200, /* bytes of summary in the subject */
    S_WORD_BYTES = 45,   /* text bytes per RFC 2047 encoded word (60 base64 chars) */
};

typedef struct {
    const sg_plugin_host_t *host;
    const char *url;        /* borrowed from the options */
    const char *from;       /* the From header */
    const char *to;         /* the To header: the configured list */
    const char *username;   /* NULL: no login */
    const char *password;   /* secret */
    const char *subject_prefix;
    long use_ssl;           /* CURLUSESSL_* */
    const char *ca_file;    /* NULL: the system's trusted certificates */
    long timeout_ms;
    char *mail_from;             /* owned: the envelope sender */
    struct curl_slist *rcpt;     /* owned: the envelope recipients */
    CURL *curl;
    char error[CURL_ERROR_SIZE];
} s_smtp_t;

static const sg_plugin_config_key_t s_keys[] = {
    {"url", SG_CFG_STRING, NULL, 1, 0, "smtp://host:port or smtps://host:port"},
    {"from", SG_CFG_STRING, NULL, 1, 0, "sender: \"siteguard <sg@example.com>\" or an address"},
    {"to", SG_CFG_STRING, NULL, 1, 0, "recipients, comma separated"},
    {"username", SG_CFG_STRING, NULL, 0, 0, "login name; no login when unset"},
    {"password", SG_CFG_STRING, NULL, 0, 1, "login password"},
    {"use_ssl", SG_CFG_STRING, "none", 0, 0, "STARTTLS on smtp://: none, try or required"},
    {"subject_prefix", SG_CFG_STRING, "[siteguard]", 0, 0, "put before every subject"},
    {"ca_file", SG_CFG_STRING, NULL, 0, 0,
     "PEM file of the CA certificates to trust for TLS; default: the system's"},
    {"timeout", SG_CFG_DURATION, "30s", 0, 0, "longest time one mail may take"},
};

/* --- the message (pure) ------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} s_buf_t;

static void s_put(s_buf_t *b, const char *text, size_t len)
{
    if (b->failed)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 1024) + len;
        char *data = realloc(b->data, cap);
        if (!data) {
            b->failed = 1;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, text, len);
    b->len += len;
    b->data[b->len] = '\0';
}

static void s_puts(s_buf_t *b, const char *text) { s_put(b, text, strlen(text)); }

/* "Wed, 25 Nov 2026 17:00:03 +0000" (RFC 5322 date-time, UTC). */
static void s_rfc5322_date(int64_t ms, char *out, size_t len)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, len, "Thu, 01 Jan 1970 00:00:00 +0000");
        return;
    }
    snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
             tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
}

static int s_is_ascii(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s >= 0x80)
            return 0;
    }
    return 1;
}

/* "Subject: <text>\r\n", as RFC 2047 encoded words folded over lines
 * when the text is not plain ASCII. */
static void s_subject(s_buf_t *b, const char *text)
{
    s_puts(b, "Subject: ");
    if (s_is_ascii(text)) {
        s_puts(b, text);
        s_puts(b, "\r\n");
        return;
    }
    size_t len = strlen(text), at = 0;
    while (at < len) {
        size_t take = len - at < S_WORD_BYTES ? len - at : S_WORD_BYTES, cut = take;
        while (at + cut < len && cut > 0 && ((unsigned char)text[at + cut] & 0xc0) == 0x80)
            cut--; /* end the word on a character boundary */
        if (cut > 0) /* none in the word: not UTF-8, cut where it is full */
            take = cut;
        char word[SG_TEXT_BASE64_LEN(S_WORD_BYTES)];
        sg_text_base64(text + at, take, word);
        s_puts(b, at > 0 ? "\r\n =?UTF-8?B?" : "=?UTF-8?B?");
        s_puts(b, word);
        s_puts(b, "?=");
        at += take;
    }
    s_puts(b, "\r\n");
}

/* The body's text with every line ending as CRLF and other control
 * characters but tab as spaces. */
static void s_body_text(s_buf_t *b, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            s_puts(b, "\r\n");
        else if (*p == '\r')
            continue;
        else if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
            s_puts(b, " ");
        else
            s_put(b, p, 1);
    }
    s_puts(b, "\r\n");
}

static void s_headers(s_buf_t *b, const sg_outcome_t *o, const char *from, const char *to,
                      const char *subject, int64_t now_ms)
{
    char date[64], digest[SG_HMAC_HEX_LEN + 1], line[256];
    const char *key = o->dedup_key ? o->dedup_key : "";
    if (sg_hmac_sha256_digest_hex(key, strlen(key), digest) != 0)
        b->failed = 1;
    digest[32] = '\0';
    s_rfc5322_date(now_ms, date, sizeof date);
    snprintf(line, sizeof line, "Date: %s\r\n", date);
    s_puts(b, line);
    s_puts(b, "From: ");
    s_puts(b, from);
    s_puts(b, "\r\nTo: ");
    s_puts(b, to);
    s_puts(b, "\r\n");
    s_subject(b, subject);
    snprintf(line, sizeof line, "Message-ID: <%lld.%s@siteguard>\r\n", (long long)o->time_ms,
             digest);
    s_puts(b, line);
    s_puts(b, "MIME-Version: 1.0\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: 8bit\r\n"
              "Auto-Submitted: auto-generated\r\n"
              "X-Siteguard-Event: ");
    s_puts(b, sg_text_kind(o->kind));
    s_puts(b, "\r\n\r\n");
}

/* The whole message for `o` sent at `now_ms`. Pure. Returns the text
 * (caller frees) or NULL when out of memory. `from` and `to` hold no line
 * breaks (init checks). */
static char *s_build_message(const sg_outcome_t *o, const char *from, const char *to,
                             const char *subject_prefix, int64_t now_ms)
{
    s_buf_t b = {0};
    sg_text_fact_t facts[SG_TEXT_MAX_FACTS];
    char *summary = sg_text_summary(o, 0);
    char *short_summary = sg_text_summary(o, S_SUBJECT_MAX);
    char *subject = short_summary ? sg_text_printf("%s%s%s", subject_prefix ? subject_prefix : "",
                                                   subject_prefix && *subject_prefix ? " " : "",
                                                   short_summary)
                                  : NULL;
    int n = sg_text_facts(o, facts);
    if (!summary || !subject || n < 0)
        goto fail;
    s_headers(&b, o, from, to, subject, now_ms);
    s_body_text(&b, summary);
    s_puts(&b, "\r\n");
    for (int i = 0; i < n; i++) {
        char *line = sg_text_printf("%s: %s", facts[i].label, facts[i].value);
        if (!line)
            b.failed = 1;
        else
            s_body_text(&b, line);
        free(line);
    }
    if (o->message) {
        s_puts(&b, "\r\n");
        s_body_text(&b, o->message);
    }
fail:
    if (n >= 0)
        sg_text_facts_free(facts, n);
    free(summary);
    free(short_summary);
    free(subject);
    if (b.failed || !b.data) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

/* --- addresses ------------------------------------------------------------------------ */

/* The address of "Name <addr>" or "addr", trimmed, as "<addr>". Caller
 * frees; NULL when empty or out of memory. */
static char *s_address(const char *text, size_t len)
{
    const char *lt = memchr(text, '<', len);
    if (lt) {
        const char *gt = memchr(lt, '>', len - (size_t)(lt - text));
        if (!gt)
            return NULL;
        text = lt + 1;
        len = (size_t)(gt - text);
    }
    while (len > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    if (len == 0)
        return NULL;
    return sg_text_printf("<%.*s>", (int)len, text);
}

/* The envelope recipients of a comma list. Returns 0, or -1 when one is
 * empty or memory runs out. */
static int s_recipients(const char *to, struct curl_slist **out)
{
    for (const char *p = to; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *addr = s_address(p, len);
        struct curl_slist *next = addr ? curl_slist_append(*out, addr) : NULL;
        free(addr);
        if (!next)
            return -1;
        *out = next;
        p += len + (comma ? 1 : 0);
    }
    return *out ? 0 : -1;
}

static int s_has_control(const char *s)
{
    for (; s && *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    }
    return 0;
}

/* --- the plugin ---------------------------------------------------------------------- */

static void s_close(void *ctx)
{
    s_smtp_t *m = ctx;
    if (!m)
        return;
    if (m->curl) {
        curl_easy_cleanup(m->curl);
        curl_global_cleanup();
    }
    curl_slist_free_all(m->rcpt);
    free(m->mail_from);
    free(m);
}

static int s_parse_use_ssl(const char *text, long *out)
{
    if (!text || strcmp(text, "none") == 0)
        *out = CURLUSESSL_NONE;
    else if (strcmp(text, "try") == 0)
        *out = CURLUSESSL_TRY;
    else if (strcmp(text, "required") == 0)
        *out = CURLUSESSL_ALL;
    else
        return -1;
    return 0;
}

/* Reads and checks the options into m; logs what is wrong. */
static int s_configure(s_smtp_t *m, const sg_plugin_option_t *options, size_t n)
{
    const sg_plugin_host_t *host = m->host;
    const char *timeout = sg_plugin_option(options, n, "timeout");
    m->url = sg_plugin_option(options, n, "url");
    m->from = sg_plugin_option(options, n, "from");
    m->to = sg_plugin_option(options, n, "to");
    m->username = sg_plugin_option(options, n, "username");
    m->password = sg_plugin_option(options, n, "password");
    m->subject_prefix = sg_plugin_option(options, n, "subject_prefix");
    m->ca_file = sg_plugin_option(options, n, "ca_file");
    m->timeout_ms = timeout ? strtol(timeout, NULL, 10) : 30000;
    if (!m->url || (strncmp(m->url, "smtp://", 7) != 0 && strncmp(m->url, "smtps://", 8) != 0)) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "url must begin with smtp:// or smtps://");
        return -1;
    }
    if (s_parse_use_ssl(sg_plugin_option(options, n, "use_ssl"), &m->use_ssl) != 0) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "use_ssl must be none, try or required");
        return -1;
    }
    if (!m->from || !m->to || s_has_control(m->from) || s_has_control(m->to) ||
        s_has_control(m->subject_prefix) || !(m->mail_from = s_address(m->from, strlen(m->from))) ||
        s_recipients(m->to, &m->rcpt) != 0) {
        host->log(host, SG_PLUGIN_LOG_ERROR,
                  "from, to and subject_prefix must be one line each, with an address each");
        return -1;
    }
    if (m->password && !m->username) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "password is set but username is not");
        return -1;
    }
    return 0;
}

static int s_init(const sg_plugin_host_t *host, const sg_plugin_option_t *options,
                  size_t n_options, void **ctx)
{
    s_smtp_t *m = calloc(1, sizeof *m);
    if (!m) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "out of memory");
        return -1;
    }
    m->host = host;
    if (s_configure(m, options, n_options) != 0)
        goto fail;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        host->log(host, SG_PLUGIN_LOG_ERROR, "cannot start libcurl");
        goto fail;
    }
    if (!(m->curl = curl_easy_init())) {
        curl_global_cleanup();
        host->log(host, SG_PLUGIN_LOG_ERROR, "cannot start libcurl");
        goto fail;
    }
    *ctx = m;
    return 0;
fail:
    s_close(m);
    return -1;
}

typedef struct {
    const char *data;
    size_t left;
} s_upload_t;

static size_t s_on_read(char *buf, size_t size, size_t n, void *arg)
{
    s_upload_t *u = arg;
    size_t take = size * n < u->left ? size * n : u->left;
    memcpy(buf, u->data, take);
    u->data += take;
    u->left -= take;
    return take;
}

static sg_deliver_result_t s_send(s_smtp_t *m, const char *what, const char *message)
{
    CURL *c = m->curl;
    s_upload_t up = {message, strlen(message)};
    m->error[0] = '\0';
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, m->error);
    curl_easy_setopt(c, CURLOPT_URL, m->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_USE_SSL, m->use_ssl);
    if (m->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, m->ca_file);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, m->mail_from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, m->rcpt);
    if (m->username) {
        curl_easy_setopt(c, CURLOPT_USERNAME, m->username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, m->password ? m->password : "");
    }
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, s_on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.left);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, m->timeout_ms);
    CURLcode rc = curl_easy_perform(c);
    long reply = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
    sg_deliver_result_t r = sg_result_smtp((int)rc, reply);
    if (r != SG_DELIVER_OK)
        m->host->log(m->host, SG_PLUGIN_LOG_WARN, "%s: SMTP %ld: %s (%s)", what, reply,
                     m->error[0] ? m->error : curl_easy_strerror(rc),
                     r == SG_DELIVER_RETRY ? "will retry" : "will not retry");
    return r;
}

static sg_deliver_result_t s_deliver(void *ctx, const sg_outcome_t *o)
{
    s_smtp_t *m = ctx;
    if (!sg_text_outcome_complete(o))
        return SG_DELIVER_FATAL;
    char *message = s_build_message(o, m->from, m->to, m->subject_prefix,
                                    m->host->now_ms(m->host));
    if (!message)
        return SG_DELIVER_RETRY;
    sg_deliver_result_t r = s_send(m, o->dedup_key ? o->dedup_key : "?", message);
    free(message);
    return r;
}

SG_PLUGIN_EXPORT const sg_plugin_t sg_plugin_descriptor = {
    .abi_version = SG_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(sg_plugin_t),
    .name = "smtp",
    .description = "mails every outcome through an SMTP server",
    .config_keys = s_keys,
    .n_config_keys = sizeof s_keys / sizeof s_keys[0],
    .init = s_init,
    .deliver = s_deliver,
    .close = s_close,
};
