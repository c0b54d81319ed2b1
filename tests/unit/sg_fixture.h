/* Fixtures shared by the unit tests that run siteguard's own modules: a
 * config loaded from YAML text, a temporary directory with a journal path,
 * and the simulator (with an executor on it, when wanted) on a fake clock.
 * Portable like sg_testutil.h (the Windows build compiles it too);
 * everything is static inline: a test program includes it once, after
 * cmocka.h. */
#ifndef SG_FIXTURE_H
#define SG_FIXTURE_H

#include "act/executor.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/str.h"
#include "config/config.h"
#include "provider/sim.h"
#include "sg_testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* --- a config from YAML ---------------------------------------------------- */

/* Sites A and B and a witness W, one observer at each (a1, b1, w1). */
#define SG_FIXTURE_YAML_ABW                                                                     \
    "sites:\n  - name: A\n  - name: B\n  - name: W\n    witness: true\n"                        \
    "observers:\n  - id: a1\n    site: A\n  - id: b1\n    site: B\n  - id: w1\n    site: W\n"

/* An item of `collections`: c<n> at A, replicating to B. */
#define SG_FIXTURE_YAML_COLL_AT_A(n)                                                            \
    "  - name: c" #n "\n    cim_path: 'X.CollectionID=\"" #n "\"'\n    site: A\n    replica_site: B\n"

/* The config in YAML `text`, loaded as the file `name`. Every error is
 * printed, and the test fails unless the config loads. */
static inline sg_config_t *sg_fixture_config(const char *name, const char *text)
{
    sg_config_t *cfg = NULL;
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    int rc = sg_config_load_string(name, text, strlen(text), &cfg, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.items[i]);
    sg_config_errors_fini(&errs);
    assert_int_equal(rc, SG_OK);
    return cfg;
}

/* As sg_fixture_config, of the YAML text that `fmt` formats. */
static inline sg_config_t *sg_fixture_configf(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline sg_config_t *sg_fixture_configf(const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = sg_vstrdupf(fmt, ap);
    va_end(ap);
    sg_config_t *cfg = sg_fixture_config(name, text);
    free(text);
    return cfg;
}

/* --- a temporary directory with a journal -------------------------------- */

typedef struct {
    char dir[256];     /* a new private directory */
    char journal[300]; /* <dir>/journal.db, not created */
} sg_fixture_dir_t;

/* Creates the directory <tmp root>/<prefix>XXXXXX. */
static inline void sg_fixture_dir_new(sg_fixture_dir_t *d, const char *prefix)
{
    assert_non_null(sg_test_mkdtemp(d->dir, sizeof d->dir, prefix));
    snprintf(d->journal, sizeof d->journal, "%s/journal.db", d->dir);
}

/* Removes the directory and everything in it. */
static inline void sg_fixture_dir_remove(sg_fixture_dir_t *d)
{
    assert_int_equal(sg_test_rmtree(d->dir), 0);
}

/* --- the simulator on a fake clock ---------------------------------------- */

/* What failover runs and drills run against in the tests: a fake clock
 * (every sleep advances it), a ZeroMQ context, the simulated provider of a
 * config and, once started, an executor on it. */
typedef struct {
    sg_clock_t clock;
    sg_clock_fake_state_t clock_state;
    void *zctx;
    sg_provider_t *sim;
    sg_executor_t *x; /* NULL unless made by sg_fixture_rig_new_with_executor */
} sg_fixture_rig_t;

/* The clock at monotonic 1000 ms and wall `wall0`, the context, and the
 * simulator of `cfg`. */
static inline void sg_fixture_rig_new(sg_fixture_rig_t *r, const sg_config_t *cfg, int64_t wall0)
{
    sg_clock_fake_init(&r->clock, &r->clock_state, 1000, wall0);
    r->zctx = zmq_ctx_new();
    assert_non_null(r->zctx);
    r->sim = sg_sim_new(cfg, &r->clock);
    assert_non_null(r->sim);
    r->x = NULL;
}

/* As sg_fixture_rig_new, with an executor on the simulator. */
static inline void sg_fixture_rig_new_with_executor(sg_fixture_rig_t *r, const sg_config_t *cfg,
                                                    int64_t wall0)
{
    sg_fixture_rig_new(r, cfg, wall0);
    r->x = sg_executor_new(r->zctx, cfg, r->sim, &r->clock);
    assert_non_null(r->x);
}

/* Stops the executor (joining its workers), then frees the rest. */
static inline void sg_fixture_rig_free(sg_fixture_rig_t *r)
{
    sg_executor_destroy(&r->x);
    sg_provider_destroy(&r->sim);
    zmq_ctx_term(r->zctx);
}

#endif
