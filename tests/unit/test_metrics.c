/* metrics: the listener of /metrics and the status page: who may read it
 * (the config's rules for listening beyond loopback, TLS files and tokens,
 * each error at FILE:LINE:COLUMN), the bearer check, what a reload may not
 * change, and a real request without, with a wrong and with the right token
 * (libcurl against the listener on 127.0.0.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "control/metrics.h"
#include "base/err.h"
#include "control/reload.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sg_fixture.h"

#define TOKEN "s3cr3t-t0ken-0123456789abcdef"
#define PEM_CERT "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
#define PEM_KEY "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"

typedef struct {
    sg_fixture_dir_t tmp;
    char token[320], loose[320], cert[320], key[320], short_token[320];
} s_files_t;

static int s_setup(void **state)
{
    s_files_t *f = calloc(1, sizeof *f);
    sg_fixture_dir_new(&f->tmp, "sg-test-metrics-");
    snprintf(f->token, sizeof f->token, "%s/token", f->tmp.dir);
    snprintf(f->loose, sizeof f->loose, "%s/loose-token", f->tmp.dir);
    snprintf(f->cert, sizeof f->cert, "%s/cert.pem", f->tmp.dir);
    snprintf(f->key, sizeof f->key, "%s/key.pem", f->tmp.dir);
    snprintf(f->short_token, sizeof f->short_token, "%s/short", f->tmp.dir);
    assert_int_equal(sg_test_write_private(f->token, "\n  " TOKEN "\n"), 0);
    assert_int_equal(sg_test_write_private(f->loose, TOKEN "\n"), 0);
    assert_int_equal(chmod(f->loose, 0644), 0);
    assert_int_equal(sg_test_write_private(f->cert, PEM_CERT), 0);
    assert_int_equal(chmod(f->cert, 0644), 0); /* a certificate is public */
    assert_int_equal(sg_test_write_private(f->key, PEM_KEY), 0);
    assert_int_equal(sg_test_write_private(f->short_token, "short\n"), 0);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_files_t *f = *state;
    sg_fixture_dir_remove(&f->tmp);
    free(f);
    return 0;
}

/* Loads SG_FIXTURE_YAML_ABW with `metrics` (the section's lines, from line
 * 14) and one collection as the file m.yaml: NULL and the config, or the errors joined by newlines. */
static char *s_load(const char *metrics, sg_config_t **cfg)
{
    char *text = sg_strdupf("%smetrics:\n%scollections:\n%s", SG_FIXTURE_YAML_ABW, metrics,
                            SG_FIXTURE_YAML_COLL_AT_A(1));
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    *cfg = NULL;
    int rc = sg_config_load_string("m.yaml", text, strlen(text), cfg, &errs);
    free(text);
    char *all = NULL;
    for (size_t i = 0; i < errs.n; i++) {
        char *more = sg_strdupf("%s%s\n", all ? all : "", errs.items[i]);
        free(all);
        all = more;
    }
    sg_config_errors_fini(&errs);
    assert_true((rc == SG_OK) == (all == NULL));
    return all;
}

/* The config is refused with `want` in its errors. */
static void s_refused(const char *metrics, const char *want)
{
    sg_config_t *cfg = NULL;
    char *errs = s_load(metrics, &cfg);
    if (!errs || !strstr(errs, want))
        fail_msg("want \"%s\" in: %s", want, errs ? errs : "(loaded)");
    free(errs);
}

static void test_beyond_loopback_needs_tls_and_a_token(void **state)
{
    s_files_t *f = *state;
    s_refused("  listen: 0.0.0.0:9464\n",
              "m.yaml:14:11: 'listen' 0.0.0.0:9464 is beyond the loopback address: serving "
              "/metrics and the status page there needs TLS (metrics.tls: {cert_file, "
              "key_file}) and a bearer token (metrics.token_file or metrics.token_env)");
    char *m = sg_strdupf("  listen: '[::]:9464'\n  tls: {cert_file: %s, key_file: %s}\n",
                         f->cert, f->key);
    s_refused(m, "m.yaml:14:11: 'listen' [::]:9464 is beyond the loopback address: serving "
                 "/metrics and the status page there needs a bearer token");
    free(m);
    m = sg_strdupf("  listen: dr-ctl.example:9464\n  token_file: %s\n", f->token);
    s_refused(m, "needs TLS (metrics.tls: {cert_file, key_file}) (or listen on 127.0.0.1)");
    free(m);
    /* both: it loads, the files' texts read, the token trimmed */
    m = sg_strdupf("  listen: 0.0.0.0:9464\n  tls: {cert_file: %s, key_file: %s}\n"
                   "  token_file: %s\n",
                   f->cert, f->key, f->token);
    sg_config_t *cfg = NULL;
    char *errs = s_load(m, &cfg);
    assert_null(errs);
    assert_string_equal(cfg->metrics.token, TOKEN);
    assert_string_equal(cfg->metrics.tls.cert, PEM_CERT);
    assert_string_equal(cfg->metrics.tls.key, PEM_KEY);
    sg_config_destroy(&cfg);
    free(m);
    /* loopback needs neither, and may have either */
    const char *fine[] = {"  listen: 127.0.0.1:9464\n", "  listen: '[::1]:9464'\n",
                          "  listen: localhost:9464\n", "  listen: 'off'\n",
                          "  listen: 127.1.2.3:1\n"};
    for (size_t i = 0; i < sizeof fine / sizeof *fine; i++) {
        errs = s_load(fine[i], &cfg);
        if (errs)
            fail_msg("%s: %s", fine[i], errs);
        sg_config_destroy(&cfg);
    }
}

static void test_tls_files_and_tokens_are_checked_at_load(void **state)
{
    s_files_t *f = *state;
    char *m = sg_strdupf("  token_file: %s\n", f->loose);
    s_refused(m, "may be read or written by group or others (mode 0644): a secret must be "
                 "private to its owner (chmod 600)");
    free(m);
    m = sg_strdupf("  token_file: %s\n", f->short_token);
    s_refused(m, "m.yaml:14:15: 'token_file' must hold a bearer token of 16 to 512 characters");
    free(m);
    m = sg_strdupf("  token_file: %s/missing\n", f->tmp.dir);
    s_refused(m, "cannot read 'token_file'");
    free(m);
    sg_test_setenv("SG_TEST_METRICS_TOKEN", NULL);
    s_refused("  token_env: SG_TEST_METRICS_TOKEN\n",
              "m.yaml:14:14: environment variable SG_TEST_METRICS_TOKEN (token_env) is not set");
    sg_test_setenv("SG_TEST_METRICS_TOKEN", "has spaces in it, not a token");
    s_refused("  token_env: SG_TEST_METRICS_TOKEN\n", "not all of them allowed");
    sg_test_setenv("SG_TEST_METRICS_TOKEN", TOKEN);
    m = sg_strdupf("  token_env: SG_TEST_METRICS_TOKEN\n  token_file: %s\n", f->token);
    s_refused(m, "m.yaml:14:14: set one of 'token_file' and 'token_env', not both");
    free(m);
    sg_config_t *cfg = NULL;
    char *errs = s_load("  token_env: SG_TEST_METRICS_TOKEN\n", &cfg);
    assert_null(errs);
    assert_string_equal(cfg->metrics.token, TOKEN);
    sg_config_destroy(&cfg);
    sg_test_setenv("SG_TEST_METRICS_TOKEN", NULL);

    m = sg_strdupf("  tls: {cert_file: %s}\n", f->cert);
    s_refused(m, "key_file");
    free(m);
    m = sg_strdupf("  tls: {cert_file: %s, key_file: %s}\n", f->key, f->key);
    s_refused(m, "holds no certificate in PEM form");
    free(m);
    assert_int_equal(chmod(f->key, 0640), 0);
    m = sg_strdupf("  tls: {cert_file: %s, key_file: %s}\n", f->cert, f->key);
    s_refused(m, "'key_file' (");
    assert_int_equal(chmod(f->key, 0600), 0);
    free(m);
}

static void test_the_bearer_token_is_checked_whole(void **state)
{
    (void)state;
    assert_true(sg_metrics_authorized("Bearer " TOKEN, TOKEN));
    assert_true(sg_metrics_authorized("bearer  " TOKEN, TOKEN));
    assert_false(sg_metrics_authorized("Bearer " TOKEN "x", TOKEN));
    assert_false(sg_metrics_authorized("Bearer s3cr3t", TOKEN));
    assert_false(sg_metrics_authorized("Bearer ", TOKEN));
    assert_false(sg_metrics_authorized("Bearer" TOKEN, TOKEN));
    assert_false(sg_metrics_authorized(TOKEN, TOKEN));
    assert_false(sg_metrics_authorized(NULL, TOKEN));
    assert_false(sg_metrics_authorized("Bearer x", ""));
    /* Basic: any user, the token as password (a browser's own prompt) */
    char basic[128];
    const char *creds[] = {"YW55b25lOnMzY3IzdC10MGtlbi0wMTIzNDU2Nzg5YWJjZGVm", /* anyone:TOKEN */
                           "OnMzY3IzdC10MGtlbi0wMTIzNDU2Nzg5YWJjZGVm"};        /* :TOKEN */
    for (size_t i = 0; i < 2; i++) {
        snprintf(basic, sizeof basic, "Basic %s", creds[i]);
        assert_true(sg_metrics_authorized(basic, TOKEN));
    }
    assert_false(sg_metrics_authorized("Basic YW55b25lOndyb25n", TOKEN)); /* anyone:wrong */
    assert_false(sg_metrics_authorized("Basic czNjcjN0LXQwa2VuLTAxMjM0NTY3ODlhYmNkZWY=",
                                       TOKEN)); /* no colon: no password */
    assert_false(sg_metrics_authorized("Basic !!!", TOKEN));
    assert_false(sg_metrics_authorized("Digest " TOKEN, TOKEN));
}

static void test_loopback_addresses(void **state)
{
    (void)state;
    assert_true(sg_metrics_conf_loopback(NULL));
    assert_true(sg_metrics_conf_loopback("127.0.0.1:9464"));
    assert_true(sg_metrics_conf_loopback("127.9.9.9:1"));
    assert_true(sg_metrics_conf_loopback("localhost:9464"));
    assert_true(sg_metrics_conf_loopback("[::1]:9464"));
    assert_false(sg_metrics_conf_loopback("0.0.0.0:9464"));
    assert_false(sg_metrics_conf_loopback("[::]:9464"));
    assert_false(sg_metrics_conf_loopback("127.evil.example:9464"));
    assert_false(sg_metrics_conf_loopback("localhost.example:9464"));
    assert_false(sg_metrics_conf_loopback("10.0.0.1:9464"));
}

/* A reload may not change where or how the listener serves. */
static void test_a_reload_refuses_a_new_token(void **state)
{
    s_files_t *f = *state;
    sg_config_t *cur = NULL, *next = NULL;
    char *m = sg_strdupf("  token_file: %s\n", f->token);
    assert_null(s_load(m, &cur));
    free(m);
    sg_test_setenv("SG_TEST_METRICS_TOKEN", "another-token-0123456789");
    assert_null(s_load("  token_env: SG_TEST_METRICS_TOKEN\n", &next));
    sg_test_setenv("SG_TEST_METRICS_TOKEN", NULL);
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    assert_int_equal(sg_reload_check(cur, next, &errs), SG_ECONFIG);
    assert_true(errs.n > 0);
    assert_non_null(strstr(errs.items[0], "metrics (listen, tls, token)"));
    sg_config_errors_fini(&errs);
    sg_config_destroy(&cur);
    sg_config_destroy(&next);
}

/* ---- a real listener ------------------------------------------------------------------ */

static int s_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

typedef struct {
    long status;
    char headers[4096];
    size_t n;
} s_resp_t;

static size_t s_header(char *p, size_t size, size_t n, void *user)
{
    s_resp_t *r = user;
    size_t len = size * n;
    if (r->n + len < sizeof r->headers) {
        memcpy(r->headers + r->n, p, len);
        r->n += len;
        r->headers[r->n] = '\0';
    }
    return len;
}

static size_t s_body(char *p, size_t size, size_t n, void *user)
{
    (void)p;
    (void)user;
    return size * n;
}

static s_resp_t s_fetch(int port, const char *path, const char *auth, const char *host)
{
    s_resp_t r = {0};
    char url[128], h1[256], h2[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *hs = NULL;
    if (auth) {
        snprintf(h1, sizeof h1, "Authorization: %s", auth);
        hs = curl_slist_append(hs, h1);
    }
    if (host) {
        snprintf(h2, sizeof h2, "Host: %s", host);
        hs = curl_slist_append(hs, h2);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
    return r;
}

static void test_a_token_guards_every_path(void **state)
{
    (void)state;
    sg_metrics_cfg_t mc = {.token = (char *)TOKEN};
    char listen[32];
    int port = s_free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    sg_metrics_t *m = sg_metrics_new(listen, &mc);
    assert_non_null(m);
    const char *paths[] = {"/metrics", "/", "/api/v1/status"};
    for (size_t i = 0; i < 3; i++) {
        s_resp_t r = s_fetch(port, paths[i], NULL, NULL);
        assert_int_equal(r.status, 401);
        assert_non_null(strstr(r.headers, "WWW-Authenticate: Bearer realm=\"siteguard\""));
        assert_non_null(strstr(r.headers, "WWW-Authenticate: Basic realm=\"siteguard\""));
        assert_non_null(strstr(r.headers, "X-Content-Type-Options: nosniff"));
        r = s_fetch(port, paths[i], "Bearer wrong-token-0123456789", NULL);
        assert_int_equal(r.status, 401);
    }
    s_resp_t r = s_fetch(port, "/metrics", "Bearer " TOKEN, NULL);
    assert_int_equal(r.status, 503); /* in, but nothing published yet */
    r = s_fetch(port, "/", "Bearer " TOKEN, NULL);
    assert_int_equal(r.status, 404); /* no page attached */
    sg_metrics_destroy(&m);
    assert_null(m);
}

/* Without a token on loopback, the page's paths answer only requests for
 * the loopback's names (no DNS rebinding); /metrics as before. */
static void test_an_open_loopback_listener_answers_loopback_names_only(void **state)
{
    (void)state;
    sg_config_t *cfg = sg_fixture_config("p.yaml", SG_FIXTURE_YAML_ABW
                                         "collections:\n" SG_FIXTURE_YAML_COLL_AT_A(1));
    sg_clock_t clock;
    sg_clock_fake_state_t cs;
    sg_clock_fake_init(&clock, &cs, 1000, 1800000000000LL);
    sg_engine_t *e = sg_engine_new(cfg, 0, (sg_now_t){1000, 1800000000000LL});
    sg_statuspage_t *page = sg_statuspage_new(cfg, &clock);
    sg_statusdoc_src_t src = {.cfg = cfg, .engine = e, .now = {1000, 1800000000000LL}};
    assert_int_equal(sg_statuspage_publish(page, &src), SG_OK);
    char listen[32];
    int port = s_free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    sg_metrics_t *m = sg_metrics_new(listen, NULL);
    assert_non_null(m);
    sg_metrics_set_page(m, page);
    s_resp_t r = s_fetch(port, "/api/v1/status", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "Cache-Control: no-store"));
    assert_non_null(strstr(r.headers, "Content-Type: application/json"));
    r = s_fetch(port, "/", NULL, "localhost:1234");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "Content-Security-Policy: default-src 'none'; connect-src "
                                      "'self'; script-src 'sha256-"));
    r = s_fetch(port, "/", NULL, "attacker.example");
    assert_int_equal(r.status, 403);
    r = s_fetch(port, "/metrics", NULL, "attacker.example");
    assert_int_equal(r.status, 503);
    r = s_fetch(port, "/nothing", NULL, NULL);
    assert_int_equal(r.status, 404);
    sg_metrics_destroy(&m);
    sg_statuspage_destroy(&page);
    sg_engine_destroy(&e);
    sg_config_destroy(&cfg);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_beyond_loopback_needs_tls_and_a_token, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_tls_files_and_tokens_are_checked_at_load, s_setup,
                                        s_teardown),
        cmocka_unit_test(test_the_bearer_token_is_checked_whole),
        cmocka_unit_test(test_loopback_addresses),
        cmocka_unit_test_setup_teardown(test_a_reload_refuses_a_new_token, s_setup, s_teardown),
        cmocka_unit_test(test_a_token_guards_every_path),
        cmocka_unit_test(test_an_open_loopback_listener_answers_loopback_names_only),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
