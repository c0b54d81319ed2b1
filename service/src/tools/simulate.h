/* simulate: `siteguard simulate --config C --scenario S.yaml`.
 *
 * Reads a scenario (YAML): the timing of a simulated world (duration,
 * observer interval, step, event loss, seed, start time, where siteguard
 * runs, late delivery after a cut, how long runs take from decision to call
 * and from call to the end of the job), a list of timed actions (sites,
 * links (both ways or one way) and observers going down and up, isolation,
 * flapping, clock skew and transit delay of an observer, replication health
 * and lag, operator approvals, denials, pauses and manual failovers, and
 * siteguard restarts) and an `expect:` block. It runs the real policy engine
 * on a virtual clock through the world model (tools/world.h), prints the
 * timeline of actions, state changes, decisions and runs (called after their
 * proof, cancelled, done), then each expectation with its verdict. The
 * format is described in tests/scenarios/README.md.
 *
 * Thread rules: the calling thread only; no sockets, no files but the
 * scenario, no clock reads. Ownership: nothing is returned but errors,
 * which the caller's list owns. */
#ifndef SG_SIMULATE_H
#define SG_SIMULATE_H

#include "config/config.h"

#include <stdio.h>

/* Runs the scenario in `path` against `cfg`, printing to `out`. Returns 0
 * when every expectation held, 1 when one did not, or a negative sg_err_t
 * when the scenario cannot be read or is invalid (errors appended to errs as
 * FILE:LINE:COLUMN: rule). */
int sg_simulate_file(const sg_config_t *cfg, const char *path, FILE *out, sg_config_errors_t *errs);

/* As sg_simulate_file, for a scenario already in memory: `len` bytes of
 * `text` (no terminating NUL needed), `name` standing for the file in the
 * errors. With `out` NULL the scenario is only read and checked, not run:
 * 0 when it is valid. */
int sg_simulate_string(const sg_config_t *cfg, const char *name, const char *text, size_t len,
                       FILE *out, sg_config_errors_t *errs);

#endif
