/* heldruns: failover runs decided while a drill runs, kept until its
 * cleanup is over, so that no collection is failed over mid-drill.
 *
 * A list in decision order of (run id, collection, the run's own recovery
 * point). The loop adds a run instead of submitting it while a drill runs,
 * and hands every held run to the executor, in that order, once no drill
 * runs. Held runs are already journaled as decided; the executor proves
 * each one again before its call, like any other run.
 *
 * Ownership: the list owns copies of the points. Thread rules: the loop
 * thread only. */
#ifndef SG_HELDRUNS_H
#define SG_HELDRUNS_H

#include "act/executor.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    sg_run_spec_t *runs; /* owned; each .point an owned copy or NULL */
    size_t n;
} sg_heldruns_t;

void sg_heldruns_init(sg_heldruns_t *h);
/* Frees the runs still held (they are forgotten, not submitted). */
void sg_heldruns_fini(sg_heldruns_t *h);

/* Holds a fresh run as `spec` says (copied, its point too). Returns 0 or
 * SG_ENOMEM (nothing held then). */
int sg_heldruns_add(sg_heldruns_t *h, const sg_run_spec_t *spec);

/* Submits every held run to the executor in the order held and empties
 * the list. A run the executor refuses is logged (by collection name,
 * from cfg) and dropped. Returns how many were submitted. */
size_t sg_heldruns_submit(sg_heldruns_t *h, sg_executor_t *x, const sg_config_t *cfg);

#endif
