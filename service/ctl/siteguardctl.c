/* siteguardctl: the operator's command line for a running siteguard.
 *
 * Sends one Request (proto/control.proto) to the control socket and prints
 * the Response: readable tables by default, JSON with --json. Drill reports
 * and the drill history print as JSON, HTML or CSV documents (--format,
 * drill/drillreport.h), to stdout or to a file (--out). Exit status:
 * 0 done, 1 refused or failed (the service said why), 2 usage, 3 the
 * service could not be reached.
 *
 * A tcp endpoint is a CURVE server: the client needs the service's public
 * key (--server-key) and its own secret key file (--key-file, as `keygen`
 * writes it); the service lets in only listed client keys and gives each
 * its role. */
#include "ctl_os.h"
#include "base/err.h"
#include "control/curvekey.h"
#include "drill/drillreport.h"
#include "proto/control.pb-c.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_DEFAULT_ENDPOINT "ipc:///run/siteguard/control.sock"
#define S_EXIT_FAILED 1
#define S_EXIT_USAGE 2
#define S_EXIT_UNREACHABLE 3

typedef Siteguard__Control__V1__Request s_req_t;
typedef Siteguard__Control__V1__Response s_resp_t;

typedef struct {
    const char *endpoint;
    const char *server_key; /* tcp: Z85 text, or a file holding it */
    const char *key_file;   /* tcp: the client's secret key file */
    const char *out;        /* keygen: the secret key file to write; drill report/history: the
                               document's file (NULL: stdout) */
    const char *format;     /* drill report/history: json (default), html or csv */
    bool json;
    int timeout_ms;
    const char *reason, *duration, *point;
    bool force;
    unsigned limit;
    const char *args[2];
    int n_args;
} s_opts_t;

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: siteguardctl [-s ENDPOINT] [--json] [--timeout MS]\n"
            "                    [--server-key Z85|FILE --key-file FILE] COMMAND [ARGS]\n"
            "  status                               sites, collections, runs, leader\n"
            "  explain SITE|COLLECTION              why it is where it is\n"
            "  approve|deny COLLECTION [--reason TEXT]   a failover awaiting approval\n"
            "  pause COLLECTION|SITE|all --for DURATION --reason TEXT\n"
            "  resume COLLECTION|SITE|all [--reason TEXT]\n"
            "  failover COLLECTION [--point latest|app|ID] [--force --reason TEXT]\n"
            "  drill run PLAN | drill report [ID] [--format json|html|csv] [--out FILE]\n"
            "  drill history [DRILL] [--limit N] [--format json|html|csv] [--out FILE]\n"
            "                                       past drill reports; html: a page with the\n"
            "                                       RTO/RPO trend per collection\n"
            "  commit|revert|reverse COLLECTION [--reason TEXT]\n"
            "                                       after a failover: make it final, undo it,\n"
            "                                       or (committed) replicate back from it\n"
            "  points COLLECTION                    its recovery points on its replica side\n"
            "  reload                               load the config file again\n"
            "  history [--limit N]                  the audit trail\n"
            "  keygen [--out FILE]                  a CURVE key pair: the secret key to FILE\n"
            "                                       (mode 0600), the public key printed\n"
            "ENDPOINT: $SITEGUARDCTL_ENDPOINT, $SITEGUARD_CONTROL or %s\n"
            "  a tcp:// endpoint needs CURVE: --server-key ($SITEGUARDCTL_SERVER_KEY), the\n"
            "  service's public key, and --key-file ($SITEGUARDCTL_KEY_FILE), this client's\n"
            "  secret key file, its public key listed in the service's control config\n"
            "MS: how long to wait for the answer (default 10000); DURATION: 250ms, 30s, 10m, 2h\n",
            S_DEFAULT_ENDPOINT);
}

static int s_duration_ms(const char *text, uint64_t *out)
{
    char *end = NULL;
    double v = strtod(text, &end);
    double mul = !strcmp(end, "ms") ? 1 : !strcmp(end, "s") ? 1000 : !strcmp(end, "m") ? 60000
                 : !strcmp(end, "h") ? 3600000 : !strcmp(end, "") ? 1000 : -1;
    if (end == text || mul < 0 || v <= 0)
        return -1;
    *out = (uint64_t)(v * mul);
    return 0;
}

static int s_parse(int argc, char **argv, s_opts_t *o, int *cmd_at)
{
    *cmd_at = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if ((!strcmp(a, "-s") || !strcmp(a, "--socket")) && has)
            o->endpoint = argv[++i];
        else if (!strcmp(a, "--json"))
            o->json = true;
        else if (!strcmp(a, "--timeout") && has)
            o->timeout_ms = atoi(argv[++i]);
        else if (!strcmp(a, "--server-key") && has)
            o->server_key = argv[++i];
        else if (!strcmp(a, "--key-file") && has)
            o->key_file = argv[++i];
        else if (!strcmp(a, "--out") && has)
            o->out = argv[++i];
        else if (!strcmp(a, "--reason") && has)
            o->reason = argv[++i];
        else if (!strcmp(a, "--for") && has)
            o->duration = argv[++i];
        else if (!strcmp(a, "--point") && has)
            o->point = argv[++i];
        else if (!strcmp(a, "--format") && has)
            o->format = argv[++i];
        else if (!strcmp(a, "--limit") && has)
            o->limit = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--force"))
            o->force = true;
        else if (a[0] == '-' && a[1])
            return -1;
        else if (*cmd_at < 0)
            *cmd_at = i;
        else if (o->n_args < 2)
            o->args[o->n_args++] = a;
        else
            return -1;
    }
    return *cmd_at < 0 ? -1 : 0;
}

/* Storage for the request's sub-messages. */
typedef struct {
    Siteguard__Control__V1__Status status;
    Siteguard__Control__V1__Explain explain;
    Siteguard__Control__V1__Decision decision;
    Siteguard__Control__V1__Pause pause;
    Siteguard__Control__V1__Resume resume;
    Siteguard__Control__V1__Failover failover;
    Siteguard__Control__V1__DrillRun drill_run;
    Siteguard__Control__V1__DrillReport drill_report;
    Siteguard__Control__V1__DrillHistory drill_history;
    Siteguard__Control__V1__Reload reload;
    Siteguard__Control__V1__History history;
    Siteguard__Control__V1__Step step;
    Siteguard__Control__V1__Points points;
} s_parts_t;

static const char *s_arg(const s_opts_t *o, int i) { return i < o->n_args ? o->args[i] : NULL; }

/* Fills the request for `cmd`; returns 0, or -1 with a message printed. */
static int s_build(const char *cmd, const s_opts_t *o, s_req_t *r, s_parts_t *p)
{
    const char *a0 = s_arg(o, 0);
    if (!strcmp(cmd, "status") && o->n_args == 0) {
        siteguard__control__v1__status__init(&p->status);
        r->status = &p->status;
        r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_STATUS;
    } else if (!strcmp(cmd, "explain") && o->n_args == 1) {
        siteguard__control__v1__explain__init(&p->explain);
        p->explain.target = (char *)a0;
        r->explain = &p->explain;
        r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_EXPLAIN;
    } else if ((!strcmp(cmd, "approve") || !strcmp(cmd, "deny")) && o->n_args == 1) {
        siteguard__control__v1__decision__init(&p->decision);
        p->decision.collection = (char *)a0;
        bool approve = !strcmp(cmd, "approve");
        if (approve)
            r->approve = &p->decision;
        else
            r->deny = &p->decision;
        r->command_case = approve ? SITEGUARD__CONTROL__V1__REQUEST__COMMAND_APPROVE
                                  : SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DENY;
    } else if (!strcmp(cmd, "pause") && o->n_args <= 1) {
        siteguard__control__v1__pause__init(&p->pause);
        p->pause.target = (char *)(a0 ? a0 : "all");
        if (!o->duration || s_duration_ms(o->duration, &p->pause.duration_ms) != 0) {
            fprintf(stderr, "siteguardctl: pause needs --for DURATION (e.g. 30m)\n");
            return -1;
        }
        r->pause = &p->pause;
        r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_PAUSE;
    } else if (!strcmp(cmd, "resume") && o->n_args <= 1) {
        siteguard__control__v1__resume__init(&p->resume);
        p->resume.target = (char *)(a0 ? a0 : "all");
        r->resume = &p->resume;
        r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_RESUME;
    } else if (!strcmp(cmd, "failover") && o->n_args == 1) {
        siteguard__control__v1__failover__init(&p->failover);
        p->failover.collection = (char *)a0;
        p->failover.point = (char *)(o->point ? o->point : "");
        p->failover.force = o->force;
        r->failover = &p->failover;
        r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_FAILOVER;
    } else if (!strcmp(cmd, "drill") && a0 && !strcmp(a0, "run") && o->n_args == 2) {
        siteguard__control__v1__drill_run__init(&p->drill_run);
        p->drill_run.plan = (char *)o->args[1];
        r->drill_run = &p->drill_run;
        r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DRILL_RUN;
    } else if (!strcmp(cmd, "drill") && a0 && !strcmp(a0, "history") && o->n_args <= 2) {
        siteguard__control__v1__drill_history__init(&p->drill_history);
        p->drill_history.drill = (char *)(o->n_args == 2 ? o->args[1] : "");
        p->drill_history.limit = o->limit;
        r->drill_history = &p->drill_history;
        r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DRILL_HISTORY;
    } else if (!strcmp(cmd, "drill") && a0 && !strcmp(a0, "report") && o->n_args <= 2) {
        siteguard__control__v1__drill_report__init(&p->drill_report);
        p->drill_report.id = (char *)(o->n_args == 2 ? o->args[1] : "");
        r->drill_report = &p->drill_report;
        r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DRILL_REPORT;
    } else if (!strcmp(cmd, "reload") && o->n_args == 0) {
        siteguard__control__v1__reload__init(&p->reload);
        r->reload = &p->reload;
        r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_RELOAD;
    } else if ((!strcmp(cmd, "commit") || !strcmp(cmd, "revert") || !strcmp(cmd, "reverse")) &&
               o->n_args == 1) {
        siteguard__control__v1__step__init(&p->step);
        p->step.collection = (char *)a0;
        if (!strcmp(cmd, "commit")) {
            r->commit = &p->step;
            r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_COMMIT;
        } else if (!strcmp(cmd, "revert")) {
            r->revert = &p->step;
            r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_REVERT;
        } else {
            r->reverse = &p->step;
            r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_REVERSE;
        }
    } else if (!strcmp(cmd, "points") && o->n_args == 1) {
        siteguard__control__v1__points__init(&p->points);
        p->points.collection = (char *)a0;
        r->points = &p->points;
        r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_POINTS;
    } else if (!strcmp(cmd, "history") && o->n_args == 0) {
        siteguard__control__v1__history__init(&p->history);
        p->history.limit = o->limit;
        r->history = &p->history;
        r->command_case = SITEGUARD__CONTROL__V1__REQUEST__COMMAND_HISTORY;
    } else {
        s_usage(stderr);
        return -1;
    }
    return 0;
}

/* "alice (uid 1000)" */
static char *s_user(void)
{
    static char buf[256];
    ctl_os_user(buf, sizeof buf);
    return buf;
}

/* ---- CURVE keys ----------------------------------------------------------- */

/* Reads the keys a tcp endpoint needs (curvekey.h); 0, or -1 with the
 * reason printed. */
static int s_curve_keys(const s_opts_t *o, sg_curvekey_client_t *k)
{
    char err[512];
    if (sg_curvekey_client(o->server_key, o->key_file, k, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "siteguardctl: %s\n", err);
    return -1;
}

/* keygen: a new key pair; the secret key file is created with mode 0600
 * (or printed, without --out), the public key printed. */
static int s_keygen(const s_opts_t *o)
{
    char pub[41], sec[41];
    if (!zmq_has("curve") || zmq_curve_keypair(pub, sec) != 0) {
        fprintf(stderr, "siteguardctl: cannot make a CURVE key pair: %s\n",
                zmq_strerror(zmq_errno()));
        return S_EXIT_FAILED;
    }
    FILE *f = o->out ? ctl_os_create_private(o->out) : stdout;
    if (!f) {
        fprintf(stderr, "siteguardctl: cannot create %s: %s%s\n", o->out, strerror(errno),
                errno == EEXIST ? " (an existing key is never overwritten)" : "");
        return S_EXIT_FAILED;
    }
    fprintf(f, "# siteguard CURVE secret key (siteguardctl keygen): keep it private\n"
               "# public key: %s\n%s\n", pub, sec);
    int rc = 0;
    if (o->out) {
        rc = fclose(f);
        if (rc == 0)
            printf("%s\n", pub);
        else
            fprintf(stderr, "siteguardctl: cannot write %s: %s\n", o->out, strerror(errno));
    }
    ctl_os_secure_zero(sec, sizeof sec);
    return rc == 0 ? 0 : S_EXIT_FAILED;
}

/* ---- the exchange ------------------------------------------------------------ */

/* Waits for the answer on `sock` up to o->timeout_ms; a handshake the
 * service refuses (seen on `mon`, the socket's monitor) ends the wait. */
static bool s_wait_answer(const s_opts_t *o, void *sock, void *mon, zmq_msg_t *msg)
{
    void *watch = zmq_stopwatch_start();
    for (;;) {
        long left = o->timeout_ms - (long)(zmq_stopwatch_intermediate(watch) / 1000);
        zmq_pollitem_t items[2] = {{.socket = sock, .events = ZMQ_POLLIN},
                                   {.socket = mon, .events = ZMQ_POLLIN}};
        if (left <= 0 || zmq_poll(items, mon ? 2 : 1, left) < 0)
            break;
        if (items[0].revents & ZMQ_POLLIN) {
            zmq_stopwatch_stop(watch);
            return zmq_msg_recv(msg, sock, 0) >= 0;
        }
        if (mon && (items[1].revents & ZMQ_POLLIN)) {
            zmq_msg_t ev;
            zmq_msg_init(&ev);
            int got = zmq_msg_recv(&ev, mon, 0);
            uint16_t event = 0;
            if (got >= 6)
                memcpy(&event, zmq_msg_data(&ev), sizeof event);
            bool more = zmq_msg_more(&ev);
            zmq_msg_close(&ev);
            if (more) { /* the second frame: the address */
                zmq_msg_init(&ev);
                zmq_msg_recv(&ev, mon, 0);
                zmq_msg_close(&ev);
            }
            if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
                fprintf(stderr, "siteguardctl: %s refused this client's key: its public key is "
                                "not listed in the service's control.operators or "
                                "control.readers\n", o->endpoint);
                zmq_stopwatch_stop(watch);
                return false;
            }
        }
    }
    zmq_stopwatch_stop(watch);
    fprintf(stderr, "siteguardctl: no answer from %s within %d ms\n", o->endpoint, o->timeout_ms);
    return false;
}

/* Connects a REQ socket to o->endpoint (a CURVE client for tcp, with a
 * monitor of its handshakes in *mon). NULL with the reason printed. */
static void *s_connect(const s_opts_t *o, void *ctx, void **mon)
{
    int linger = 0;
    sg_curvekey_client_t keys;
    bool tcp = !strncmp(o->endpoint, "tcp://", 6);
    void *sock = NULL;
    *mon = NULL;
    if (tcp && s_curve_keys(o, &keys) != 0) {
        ctl_os_secure_zero(&keys, sizeof keys);
        return NULL;
    }
    sock = zmq_socket(ctx, ZMQ_REQ);
    if (!sock)
        goto fail;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    if (tcp && (sg_curvekey_set_client(sock, &keys) != 0 ||
                zmq_socket_monitor(sock, "inproc://siteguardctl.monitor",
                                   ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
                !(*mon = zmq_socket(ctx, ZMQ_PAIR)) ||
                zmq_connect(*mon, "inproc://siteguardctl.monitor") != 0))
        goto fail;
    if (zmq_connect(sock, o->endpoint) != 0)
        goto fail;
    ctl_os_secure_zero(&keys, sizeof keys);
    return sock;
fail:
    ctl_os_secure_zero(&keys, sizeof keys);
    fprintf(stderr, "siteguardctl: %s: %s\n", o->endpoint, zmq_strerror(zmq_errno()));
    if (*mon)
        zmq_close(*mon);
    *mon = NULL;
    if (sock)
        zmq_close(sock);
    return NULL;
}

/* Sends the request and waits for the answer. NULL (reason printed) when
 * the service cannot be reached. */
static s_resp_t *s_exchange(const s_opts_t *o, const s_req_t *r)
{
    if (!strncmp(o->endpoint, "ipc://", 6) && !ctl_os_may_use(o->endpoint + 6)) {
        fprintf(stderr, "siteguardctl: cannot use %s: %s (is siteguard running, and may you "
                        "use this socket?)\n", o->endpoint + 6, strerror(errno));
        return NULL;
    }
    size_t len = siteguard__control__v1__request__get_packed_size(r);
    uint8_t *buf = malloc(len ? len : 1);
    void *ctx = zmq_ctx_new(), *mon = NULL;
    void *sock = buf && ctx ? s_connect(o, ctx, &mon) : NULL;
    s_resp_t *resp = NULL;
    if (!sock)
        goto done;
    siteguard__control__v1__request__pack(r, buf);
    if (zmq_send(sock, buf, len, 0) < 0) {
        fprintf(stderr, "siteguardctl: %s: %s\n", o->endpoint, zmq_strerror(zmq_errno()));
        goto done;
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (s_wait_answer(o, sock, mon, &msg) &&
        !(resp = siteguard__control__v1__response__unpack(NULL, zmq_msg_size(&msg),
                                                           zmq_msg_data(&msg))))
        fprintf(stderr, "siteguardctl: the answer from %s is malformed\n", o->endpoint);
    zmq_msg_close(&msg);
done:
    free(buf);
    if (mon)
        zmq_close(mon);
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    return resp;
}

/* ---- output --------------------------------------------------------------- */

static const char *s_code_name(int code)
{
    static const char *const names[] = {"ok", "error", "denied", "invalid",
                                        "not_found", "refused", "unavailable"};
    return code >= 0 && code <= 6 ? names[code] : "unknown";
}

static void s_time(int64_t ms, char *buf, size_t len)
{
    if (!ms) {
        snprintf(buf, len, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    ctl_os_gmtime(t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void s_print_status(const Siteguard__Control__V1__StatusReply *st)
{
    printf("config: %s   policy mode: %s   %s\n", st->config, st->mode, st->leader);
    printf("loop: %llu turns, the longest %.1f ms\n\n", (unsigned long long)st->loop_turns,
           (double)st->loop_longest_us / 1000.0);
    printf("%-16s %-11s %s\n", "SITE", "STATE", "");
    for (size_t i = 0; i < st->n_sites; i++)
        printf("%-16s %-11s %s\n", st->sites[i]->name, st->sites[i]->state,
               st->sites[i]->witness ? "witness" : "");
    printf("\n%-16s %-11s %s\n", "OBSERVER", "SITE", "CLOCK OFFSET");
    for (size_t i = 0; i < st->n_observers; i++) {
        const Siteguard__Control__V1__ObserverInfo *o = st->observers[i];
        if (o->heard)
            printf("%-16s %-11s %+.1f s%s\n", o->id, o->site, o->clock_offset_ms / 1000.0,
                   o->clock_offset_ms > 0 ? " (behind)" : o->clock_offset_ms < 0 ? " (ahead)" : "");
        else
            printf("%-16s %-11s %s\n", o->id, o->site, "not heard");
    }
    printf("\n%-20s %-8s %-8s %-6s %-17s %s\n", "COLLECTION", "SITE", "REPLICA", "GROUP",
           "VERDICT", "PAUSED");
    for (size_t i = 0; i < st->n_collections; i++) {
        const Siteguard__Control__V1__CollectionInfo *c = st->collections[i];
        printf("%-20s %-8s %-8s %-6d %-17s %s\n", c->name, c->site, c->replica_site, c->group,
               c->verdict, c->paused[0] ? c->paused : "-");
    }
    printf("\n%-20s %-20s %-20s %-20s %-12s %s\n", "RUN", "COLLECTION", "DECIDED", "ENDED",
           "RESULT", "RECOVERY POINT");
    for (size_t i = 0; i < st->n_runs; i++) {
        const Siteguard__Control__V1__RunInfo *r = st->runs[i];
        char d[32], e[32];
        s_time(r->decided_ms, d, sizeof d);
        s_time(r->ended_ms, e, sizeof e);
        printf("%-20llu %-20s %-20s %-20s %-12s %s\n", (unsigned long long)r->run_id,
               r->collection, d, e,
               !r->ended_ms ? "in flight" : r->failed_over ? "failed over" : "failed",
               r->recovery_point && r->recovery_point[0] ? r->recovery_point : "-");
    }
    if (!st->n_runs)
        printf("(none)\n");
    if (!st->n_steps)
        return;
    printf("\n%-6s %-20s %-8s %-20s %-20s %-10s %s\n", "STEP", "COLLECTION", "ACTION", "ASKED",
           "ENDED", "RESULT", "WHO");
    for (size_t i = 0; i < st->n_steps; i++) {
        const Siteguard__Control__V1__StepInfo *s = st->steps[i];
        char a[32], e[32];
        s_time(s->intent_ms, a, sizeof a);
        s_time(s->ended_ms, e, sizeof e);
        printf("%-6llu %-20s %-8s %-20s %-20s %-10s %s\n", (unsigned long long)s->step_id,
               s->collection, s->action, a, e,
               !s->ended_ms ? "in flight" : s->ok ? "succeeded" : "failed", s->who);
    }
}

static void s_print_points(const s_resp_t *r)
{
    int w = 2;
    for (size_t i = 0; i < r->n_points; i++) {
        size_t n = strlen(r->points[i]->id);
        w = n > (size_t)w ? (n < 80 ? (int)n : 80) : w;
    }
    printf("%-*s %-20s %s\n", w, "ID", "CREATED", "CONSISTENCY");
    for (size_t i = 0; i < r->n_points; i++) {
        const Siteguard__Control__V1__PointInfo *p = r->points[i];
        printf("%-*s %-20s %s\n", w, p->id, p->created, p->consistency);
    }
}

static void s_print_history(const s_resp_t *r)
{
    printf("%-6s %-20s %-22s %-9s %-18s %-12s %-24s %s\n", "SEQ", "TIME", "WHO", "ROLE", "COMMAND",
           "TARGET", "REASON", "RESULT");
    for (size_t i = 0; i < r->n_history; i++) {
        const Siteguard__Control__V1__AuditEntry *a = r->history[i];
        char t[32];
        s_time(a->time_ms, t, sizeof t);
        printf("%-6llu %-20s %-22s %-9s %-18s %-12s %-24s %s\n", (unsigned long long)a->seq, t,
               a->who, a->role, a->command, a->target[0] ? a->target : "-",
               a->reason[0] ? a->reason : "-", a->result);
    }
}

static json_t *s_status_json(const Siteguard__Control__V1__StatusReply *st)
{
    json_t *sites = json_array(), *colls = json_array(), *runs = json_array();
    json_t *observers = json_array();
    for (size_t i = 0; i < st->n_observers; i++) {
        const Siteguard__Control__V1__ObserverInfo *o = st->observers[i];
        json_array_append_new(observers,
                              json_pack("{s:s,s:s,s:b,s:o}", "id", o->id, "site", o->site, "heard",
                                        o->heard, "clock_offset_ms",
                                        o->heard ? json_integer((json_int_t)o->clock_offset_ms)
                                                 : json_null()));
    }
    for (size_t i = 0; i < st->n_sites; i++)
        json_array_append_new(sites, json_pack("{s:s,s:s,s:b}", "name", st->sites[i]->name,
                                               "state", st->sites[i]->state, "witness",
                                               st->sites[i]->witness));
    for (size_t i = 0; i < st->n_collections; i++) {
        const Siteguard__Control__V1__CollectionInfo *c = st->collections[i];
        json_array_append_new(colls, json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:s}", "name",
                                               c->name, "site", c->site, "replica_site",
                                               c->replica_site, "group", c->group, "verdict",
                                               c->verdict, "paused", c->paused, "last_step",
                                               c->last_step));
    }
    json_t *steps = json_array();
    for (size_t i = 0; i < st->n_steps; i++) {
        const Siteguard__Control__V1__StepInfo *s = st->steps[i];
        json_array_append_new(steps, json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:b,s:s,s:s}",
                                               "step_id", (json_int_t)s->step_id, "collection",
                                               s->collection, "action", s->action, "who", s->who,
                                               "intent_ms", (json_int_t)s->intent_ms, "ended_ms",
                                               (json_int_t)s->ended_ms, "ok", s->ok, "detail",
                                               s->detail, "job_path", s->job_path));
    }
    for (size_t i = 0; i < st->n_runs; i++) {
        const Siteguard__Control__V1__RunInfo *r = st->runs[i];
        json_array_append_new(runs, json_pack("{s:I,s:s,s:I,s:I,s:b,s:s,s:s}", "run_id",
                                              (json_int_t)r->run_id, "collection", r->collection,
                                              "decided_ms", (json_int_t)r->decided_ms,
                                              "ended_ms", (json_int_t)r->ended_ms, "failed_over",
                                              r->failed_over, "job_path", r->job_path,
                                              "recovery_point",
                                              r->recovery_point ? r->recovery_point : ""));
    }
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:s,s:s,s:s,s:I,s:I}", "sites", sites, "observers",
                     observers, "collections", colls, "runs", runs, "steps", steps, "leader",
                     st->leader, "mode", st->mode, "config", st->config, "loop_turns",
                     (json_int_t)st->loop_turns, "loop_longest_us",
                     (json_int_t)st->loop_longest_us);
}

/* `points`: the answer to points, whose JSON has "points" even when empty. */
static void s_print_json(const s_resp_t *r, bool points)
{
    json_t *j = json_pack("{s:s,s:s}", "code", s_code_name((int)r->code), "message", r->message);
    if (r->status)
        json_object_set_new(j, "status", s_status_json(r->status));
    if (r->text && r->text[0])
        json_object_set_new(j, "text", json_string(r->text));
    if (r->n_history) {
        json_t *h = json_array();
        for (size_t i = 0; i < r->n_history; i++) {
            const Siteguard__Control__V1__AuditEntry *a = r->history[i];
            json_array_append_new(h, json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s}", "seq",
                                               (json_int_t)a->seq, "time_ms",
                                               (json_int_t)a->time_ms, "who", a->who, "role",
                                               a->role, "command", a->command, "target",
                                               a->target, "reason", a->reason, "result",
                                               a->result));
        }
        json_object_set_new(j, "history", h);
    }
    if (r->step_id)
        json_object_set_new(j, "step_id", json_integer((json_int_t)r->step_id));
    if (r->n_points || (points && r->code == SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK)) {
        json_t *pts = json_array();
        for (size_t i = 0; i < r->n_points; i++) {
            const Siteguard__Control__V1__PointInfo *p = r->points[i];
            json_array_append_new(pts, json_pack("{s:s,s:s,s:I,s:s,s:s}", "id", p->id, "created",
                                                 p->created, "created_ms",
                                                 (json_int_t)p->created_ms, "consistency",
                                                 p->consistency, "path", p->path));
        }
        json_object_set_new(j, "points", pts);
    }
    if (r->n_errors) {
        json_t *e = json_array();
        for (size_t i = 0; i < r->n_errors; i++)
            json_array_append_new(e, json_string(r->errors[i]));
        json_object_set_new(j, "errors", e);
    }
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    printf("%s\n", text ? text : "{}");
    free(text);
    json_decref(j);
}

static void s_print(const s_resp_t *r)
{
    FILE *f = r->code == SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK ? stdout : stderr;
    if (r->status)
        s_print_status(r->status);
    else if (r->text && r->text[0])
        printf("%s%s", r->text, r->text[strlen(r->text) - 1] == '\n' ? "" : "\n");
    else if (r->n_history)
        s_print_history(r);
    else if (r->n_points)
        s_print_points(r);
    for (size_t i = 0; i < r->n_errors; i++)
        fprintf(f, "%s\n", r->errors[i]);
    if (r->status || (r->text && r->text[0]) || r->n_history || r->n_points)
        return;
    if (r->code)
        fprintf(f, "%s: %s\n", s_code_name((int)r->code), r->message);
    else
        fprintf(f, "%s\n", r->message);
}

/* Writes a drill document (report or history, rendered in o->format) to
 * o->out or stdout. Returns the exit status. */
static int s_document(const s_opts_t *o, const s_resp_t *r, bool history)
{
    sg_drillreport_format_t fmt = SG_DRILLREPORT_JSON;
    char *doc = NULL;
    size_t len = 0;
    sg_drillreport_parse_format(o->format, &fmt);
    int rc = history ? sg_drillreport_render_history(r->text, fmt, &doc, &len)
                     : sg_drillreport_render(r->text, fmt, &doc, &len);
    if (rc != 0) {
        fprintf(stderr, "siteguardctl: the service's answer is not a drill %s%s\n",
                history ? "history" : "report", rc == SG_ENOMEM ? " (out of memory)" : "");
        return S_EXIT_FAILED;
    }
    bool eol = fmt != SG_DRILLREPORT_JSON || (len && doc[len - 1] == '\n');
    FILE *f = o->out ? fopen(o->out, "wb") : stdout;
    if (!o->out)
        ctl_os_binary_stdout();
    bool ok = f && fwrite(doc, 1, len, f) == len && (eol || fputc('\n', f) != EOF);
    if (f && o->out)
        ok = fclose(f) == 0 && ok;
    else if (f)
        ok = fflush(f) == 0 && ok;
    if (!ok)
        fprintf(stderr, "siteguardctl: cannot write %s: %s\n", o->out ? o->out : "the document",
                strerror(errno));
    else if (o->out)
        fprintf(stderr, "siteguardctl: wrote %s (%zu bytes)\n", o->out, len);
    free(doc);
    return ok ? 0 : S_EXIT_FAILED;
}

/* The environment variable's value, or `fallback` when unset or empty. */
static const char *s_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int main(int argc, char **argv)
{
    s_opts_t o = {.endpoint = s_env("SITEGUARDCTL_ENDPOINT", s_env("SITEGUARD_CONTROL",
                                                                   S_DEFAULT_ENDPOINT)),
                  .server_key = s_env("SITEGUARDCTL_SERVER_KEY", NULL),
                  .key_file = s_env("SITEGUARDCTL_KEY_FILE", NULL),
                  .timeout_ms = 10000};
    int cmd_at;
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        s_usage(stdout);
        return 0;
    }
    if (s_parse(argc, argv, &o, &cmd_at) != 0 || o.timeout_ms <= 0) {
        s_usage(stderr);
        return S_EXIT_USAGE;
    }
    if (!strcmp(argv[cmd_at], "keygen"))
        return s_keygen(&o);
    if (!strncmp(o.endpoint, "tcp://", 6) && (!o.server_key || !o.key_file)) {
        fprintf(stderr, "siteguardctl: %s is tcp and needs CURVE keys: --server-key Z85|FILE "
                        "(or $SITEGUARDCTL_SERVER_KEY), the service's public key, and --key-file "
                        "FILE (or $SITEGUARDCTL_KEY_FILE), this client's secret key (siteguardctl "
                        "keygen --out FILE)\n", o.endpoint);
        return S_EXIT_USAGE;
    }
    s_req_t req = SITEGUARD__CONTROL__V1__REQUEST__INIT;
    s_parts_t parts;
    req.version = 1;
    req.user = s_user();
    req.reason = (char *)(o.reason ? o.reason : "");
    sg_drillreport_format_t fmt;
    if (o.format && sg_drillreport_parse_format(o.format, &fmt) != 0) {
        fprintf(stderr, "siteguardctl: --format is json, html or csv, not '%s'\n", o.format);
        return S_EXIT_USAGE;
    }
    if (s_build(argv[cmd_at], &o, &req, &parts) != 0)
        return S_EXIT_USAGE;
    bool document = req.command_case == SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DRILL_REPORT ||
                    req.command_case == SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DRILL_HISTORY;
    if ((o.format || o.out) && (!document || o.json)) {
        fprintf(stderr, "siteguardctl: --format and --out go with drill report and drill "
                        "history (and not with --json)\n");
        return S_EXIT_USAGE;
    }
    s_resp_t *resp = s_exchange(&o, &req);
    if (!resp)
        return S_EXIT_UNREACHABLE;
    bool ok = resp->code == SITEGUARD__CONTROL__V1__RESPONSE__CODE__OK;
    int rc = ok ? 0 : S_EXIT_FAILED;
    if (o.json)
        s_print_json(resp, !strcmp(argv[cmd_at], "points"));
    else if (ok && document && resp->text && resp->text[0])
        rc = s_document(&o, resp,
                        req.command_case ==
                            SITEGUARD__CONTROL__V1__REQUEST__COMMAND_DRILL_HISTORY);
    else
        s_print(resp);
    siteguard__control__v1__response__free_unpacked(resp, NULL);
    return rc;
}
