/* plan: where each collection stands in the executor's plan, and the plan
 * order's questions answered in time that does not grow with the number
 * of collections.
 *
 * Per collection an entry: queued (waiting for its turn), running (handed
 * to a worker), counted (against the caps), timed out (past job_timeout:
 * finished and failed for the plan) and the result of its last run. Per
 * site and plan group the plan keeps how many of its collections are in
 * flight (queued, or running and not timed out) and how many last failed,
 * updated by sg_plan_set; so "is an earlier group of this site still in
 * flight" costs one look per group, not one per collection. Groups are
 * ranked densely at creation (the config's 0..1000 values in ascending
 * order).
 *
 * Ownership: the plan owns its arrays and borrows the config, which must
 * outlive it. Thread rules: one thread (the executor's caller, the loop). */
#ifndef SG_ACT_PLAN_H
#define SG_ACT_PLAN_H

#include "config/config.h"

#include <stdbool.h>

typedef struct {
    bool queued;    /* waiting for its turn */
    bool running;   /* handed to a worker */
    bool counted;   /* running and counted against the caps */
    bool timed_out; /* running, past job_timeout: finished (failed) for the plan */
    int result;     /* of its last run: 0 none, 1 failed over, -1 failed or timed out */
} sg_plan_entry_t;

typedef struct sg_plan sg_plan_t;

/* A plan of cfg's collections, every entry empty. NULL when out of memory. */
sg_plan_t *sg_plan_new(const sg_config_t *cfg);
void sg_plan_destroy(sg_plan_t **p);

/* The entry of collection c (a valid index). */
const sg_plan_entry_t *sg_plan_get(const sg_plan_t *p, int c);

/* Replaces the entry of collection c, keeping the counts true. */
void sg_plan_set(sg_plan_t *p, int c, sg_plan_entry_t e);

/* Whether an entry holds back later groups and dependants: queued, or
 * running and not timed out. */
bool sg_plan_in_flight(const sg_plan_entry_t *e);

/* Whether a collection of an earlier group of c's site is in flight. */
bool sg_plan_earlier_in_flight(const sg_plan_t *p, int c);

/* The first collection, in config order, of an earlier group of c's site
 * whose last run failed; -1 when none did. */
int sg_plan_earlier_failed(const sg_plan_t *p, int c);

#endif
