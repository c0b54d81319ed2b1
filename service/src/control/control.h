/* control: the operator's endpoint (proto/control.proto) for siteguardctl.
 *
 * ZeroMQ ROUTER sockets on the loop thread, added to its zmq_poll: the
 * operator socket (control.endpoint, default ipc:///run/siteguard/control.sock)
 * and optionally a read-only one (control.readonly_endpoint). On POSIX they
 * are ipc sockets and the file permissions say who may connect: the
 * operator socket is made 0660 (group control.group when set), the
 * read-only socket 0666. The role is the socket's: the read-only socket
 * answers status, explain, history, drill report, drill history and points,
 * and refuses (DENIED) every change. A tcp endpoint must be on the loopback address and is a
 * CURVE server (control.secret_key_file): the context's ZAP handler
 * (env.zap, zap.h, which the loop polls) answers this module's domain
 * ("siteguard-control"), letting in only the client keys listed in
 * control.operators and control.readers and refusing others at the
 * handshake (counted: sg_control_keys_refused). The sockets' messages are
 * bounded (SG_CONTROL_MAX_REQUEST): a larger one disconnects its sender. On a CURVE socket the
 * role is the client key's (operators: operator, readers: read-only; a
 * read-only endpoint keeps every key read-only), looked up per request in
 * the config in force, and "who" in the audit trail is the key's name. The
 * default endpoint is ipc:///run/siteguard/control.sock; on Windows it is
 * tcp://127.0.0.1:7710 when CURVE is configured, else there is no control
 * socket (a warning says so).
 *
 * Commands: status; explain SITE|COLLECTION; approve|deny COLLECTION (a
 * decision awaiting approval, named by its collection); pause|resume
 * COLLECTION|SITE|all (pause: a duration and a reason, both required;
 * expiry is the engine's); failover COLLECTION [point] [force] (through
 * sg_engine_manual_failover: the guards apply unless forced, and force
 * needs a reason); drill run PLAN (sg_drill_start: refused with the reason
 * while a failover is in flight, another drill runs or a blackout is open)
 * (the report's "started_by" is the command's who, below) and drill
 * report [ID] (the report's JSON, the latest without an id); drill history
 * [DRILL] (the reports of the latest runs, oldest first, as a JSON array:
 * 20 by default, at most 200);
 * reload (through the reload hook); history
 * (the audit trail); commit|revert|reverse COLLECTION (operator role, the
 * leader only; sg_lifecycle_request: answered at once, "commit of X started
 * (step N)" or REFUSED with the guard's reason; a reason is optional and
 * recorded in the audit trail; status then shows the step); points
 * COLLECTION (any role; answered later, see below). Without env.lifecycle
 * these four answer UNAVAILABLE. Every command that changes something, or tries to,
 * is appended to the journal's audit trail with who and the role, what, why
 * and how it ended, before the reply. Who: on a CURVE socket the client
 * key's name; on an ipc socket the peer process's user, from the
 * connection's credentials (SO_PEERCRED, which libzmq appends to the
 * message's Peer-Address property as ":uid:gid:pid"), as "alice (uid
 * 1000)", never the user the request claims (that claim, marked
 * "(unverified)", only when a connection carries no credentials). Response
 * messages pass through sg_redact (base/redact.h).
 *
 * Decisions that a command queues in the engine (approve, manual failover)
 * are taken by the loop with sg_engine_next as usual.
 *
 * Framing: a ROUTER socket gets [routing id][empty][request] from a REQ
 * client (siteguardctl) and answers [routing id][empty][response]; a message
 * of another shape is dropped unanswered (as a REP socket drops it). The
 * User-Id and Peer-Address properties are read from the request frame.
 * When a request cannot be answered (out of memory) the response frame is
 * empty: the client reports an error.
 *
 * Deferred answers (points): the listing runs on a lifecycle thread
 * (sg_lifecycle_list_points with a token of this module's), and the request
 * is remembered (its socket, routing id and token) until the loop hands the
 * result over: on every sg_lifecycle_recv result with step_id 0 the loop
 * (service.c) calls sg_control_answer_points, then sg_step_result_fini.
 * At most SG_CONTROL_MAX_PENDING requests wait; one more is answered
 * UNAVAILABLE (busy), after those waiting longer than
 * SG_CONTROL_PENDING_TTL_MS have been answered ERROR and forgotten (the
 * listing's answer, when it comes, then finds no request). A request that
 * can wait only comes through a socket: in process (sg_control_handle)
 * points answers UNAVAILABLE. The client gave up long ago or went away: the
 * ROUTER drops the answer (it never blocks the loop).
 *
 * Thread rules: every function on the loop thread. */
#ifndef SG_CONTROL_H
#define SG_CONTROL_H

#include "base/clock.h"
#include "config/config.h"
#include "act/lifecycle.h"
#include "control/zap.h"
#include "drill/drill.h"
#include "journal/journal.h"
#include "leader/leader.h"
#include "policy/engine.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { SG_CONTROL_READER = 0, SG_CONTROL_OPERATOR } sg_control_role_t;

#define SG_CONTROL_MAX_SOCKETS 2

/* The largest request the control sockets take (ZMQ_MAXMSGSIZE). */
#define SG_CONTROL_MAX_REQUEST 65536

/* Requests waiting for a deferred answer (points), at most; and how long
 * one may wait before a new one may take its place. */
#define SG_CONTROL_MAX_PENDING 64
#define SG_CONTROL_PENDING_TTL_MS 300000

/* Applies the config file again. Returns 0 when the new config is in force,
 * else an error with the reasons appended to `errs` (FILE:LINE:COLUMN lines,
 * or what cannot change live); the old config stays in force. */
typedef int (*sg_control_reload_fn)(void *user, sg_config_errors_t *errs);

/* Makes durable what a command just changed in the engine (its operator
 * state, and a decision it queued), before the command is answered. Returns
 * 0, or an error: the command then answers that the change is in force but
 * not durable. */
typedef int (*sg_control_persist_fn)(void *user);

/* What control works on; everything borrowed and outliving the control. */
/* The loop's own figures, kept by the loop and read by status. */
typedef struct {
    uint64_t turns;     /* turns of the loop since start */
    int64_t longest_us; /* the longest turn's work since start */
} sg_loop_stats_t;

typedef struct {
    const sg_config_t *cfg;
    sg_engine_t *engine;
    sg_journal_t *journal;
    const sg_clock_t *clock;
    sg_control_reload_fn reload; /* NULL: reload is UNAVAILABLE */
    sg_control_persist_fn persist; /* NULL: nothing to make durable (tests) */
    sg_drill_t *drill;           /* NULL: drill run/report/history are UNAVAILABLE */
    const sg_leader_t *leader;   /* status shows it; NULL: single instance */
    sg_zap_t *zap;               /* the context's ZAP handler, needed by a tcp endpoint (CURVE);
                                    NULL: none */
    const sg_loop_stats_t *loop; /* status shows it; NULL: none */
    sg_lifecycle_t *lifecycle;   /* commit, revert, reverse, points, and the steps in status;
                                    NULL: those answer UNAVAILABLE */
    void *user;
} sg_control_env_t;

typedef struct sg_control sg_control_t;

/* Binds the sockets of env->cfg->control on `zctx`; with zctx NULL, binds
 * nothing (requests only through sg_control_handle, for tests). NULL when
 * out of memory or when a configured endpoint cannot be bound (logged); a
 * default endpoint that cannot be bound is only a warning. */
sg_control_t *sg_control_new(void *zctx, const sg_control_env_t *env);
/* Requests still waiting for a deferred answer are dropped unanswered (the
 * client times out). */
void sg_control_destroy(sg_control_t **c);

/* After a reload: the config now in force (borrowed). */
void sg_control_set_config(sg_control_t *c, const sg_config_t *cfg);

/* The bound sockets, for zmq_poll: writes up to SG_CONTROL_MAX_SOCKETS
 * into out, returns how many. */
size_t sg_control_sockets(sg_control_t *c, void **out);

/* Answers the requests waiting on `socket` (one of sg_control_sockets)
 * without blocking. Returns the number answered (a deferred one is not, yet)
 * or SG_EIO. */
int sg_control_serve(sg_control_t *c, void *socket);

/* Handles one packed Request as `role` would, in process (who: the
 * request's own user);
 * on success *resp (caller
 * frees) holds the packed Response. Returns 0 or SG_ENOMEM. A malformed
 * request gets an INVALID response, not an error. */
int sg_control_handle(sg_control_t *c, sg_control_role_t role, const uint8_t *req, size_t len,
                      uint8_t **resp, size_t *resp_len);

/* Answers the request that waits for the recovery points of `r` (a
 * sg_lifecycle_recv result with step_id 0, matched by r->token): the points
 * newest first, or the provider's error. Borrows `r` (the caller finis it).
 * Returns 0 when answered, SG_ENOTFOUND when no request waits for that
 * token (forgotten after SG_CONTROL_PENDING_TTL_MS, or not this module's),
 * SG_EIO when the answer could not be sent. */
int sg_control_answer_points(sg_control_t *c, const sg_step_result_t *r);

/* Requests waiting for a deferred answer. */
size_t sg_control_pending(const sg_control_t *c);

/* Requests handled so far. */
uint64_t sg_control_requests(const sg_control_t *c);

/* CURVE handshakes refused so far (client keys not listed). */
uint64_t sg_control_keys_refused(const sg_control_t *c);

#endif
