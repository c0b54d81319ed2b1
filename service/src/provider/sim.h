/* The built-in simulator of Msvm_CollectionReplicationService.
 *
 * Models the configured collections (primary and replica site, state), the
 * methods siteguard calls with their state rules and Hyper-V's return codes,
 * and jobs that advance through JobState with PercentComplete over the
 * configured job duration, all on the injected clock.
 *
 * Direction and sides: a collection replicates from its current primary to
 * its current replica site, the config's site and replica_site at first;
 * a completed ReverseReplicationRelationship (only after CommitFailover)
 * swaps them. at_site(p, name) returns a view of one configured site
 * (borrowed: valid as long as the simulator, freed with it; destroying it
 * does nothing; NULL for a name that is not a site), which answers as that
 * site's cluster: every method is accepted on the replica side only (on the
 * primary side: 32775, Invalid state), a site that is neither end does not
 * hold the collection (calls 32773, reads SG_ENOTFOUND), a job is seen from
 * the site that ran it, recovery points are listed by the replica (none on
 * the primary). The base handle (what sg_sim_new returns) keeps the
 * behaviour before sides: it acts as the replica side of the current
 * direction and sees every job. sg_sim_counts and sg_sim_file_stats take
 * a view as well as the base handle.
 *
 * get_replication: ReplicationMode 1 (Primary) on the primary side, 2
 * (Replica) on the replica side (the base handle: 2); ReplicationState on
 * the replica side 3 Replicating, 4 Failover initiated (failover job
 * running), 5 Recovered (failed over), 6 Committed, 13 Test failover
 * initiated (testing; Microsoft's page garbles 11..16, 13 is wmi.c's
 * reading); on the primary side 3, or 8 Critical with health critical once
 * the replica has failed over. wmi.c's mapping reads each number back as the
 * state get_state gives on that side. Health is normal and the last
 * replication provider.sim.replication_lag ago (frozen at the failover's
 * start once failed over) unless a `health` or `lag` fault names the
 * collection.
 *
 * Recovery points: each direction starts with four seed points dated before
 * it began ("<name>:latest-crash" 5 min, "<name>:crash-1" 20 min,
 * "<name>:latest-app" 1 h, "<name>:app-1" 5 h; after N reverses
 * "<name>:revN:..."), then one "rp-<k>" every provider.sim.point_interval,
 * every app_consistent_every-th application-consistent; the newest
 * points_kept are listed and accepted, older ones have expired.
 *
 * Faults from the config: a given return code, a job ending in Exception
 * with an ErrorCode, a job that completes with warnings (JobState 32768) and
 * a text, a job that hangs, latency per call; for reads of the
 * replication, a health and a lag; and a site whose cluster cannot be
 * reached: every operation on that site's view (calls and reads; not the
 * base handle) fails with SG_EIO, as a lost WMI connection does, the first
 * `times` of them (0: all), then the site answers again; its uses are kept
 * with the other faults' counters. An ended job is removed
 * provider.sim.job_removal after its end, as Hyper-V removes it
 * TimeBeforeRemoval later: its path then answers SG_ENOTFOUND.
 *
 * With a state file, collection states and directions and jobs outlive a
 * crash of the service and are shared with other processes that name the same file
 * (provider/simfile.h): the file is a snapshot of the state followed by one
 * line appended per change, under a file lock; before each operation the
 * lines other processes appended are read. When the lines outgrow the
 * snapshot, a new snapshot replaces the file atomically (temporary file,
 * fsync, rename). A call returns once its change is durable (fsync, shared
 * by the calls waiting at the same time); a call whose change could not be
 * made durable returns SG_EIO, its outcome then unknown as when a real
 * call's answer is lost. A crash at any moment leaves a file that loads to
 * the last change written whole. The state file, its temporary copy and its
 * lock file are private to the user (mode 0600).
 *
 * Thread safe: one mutex guards the state; latency is slept and fsync
 * waited for outside it. */
#ifndef SG_PROVIDER_SIM_H
#define SG_PROVIDER_SIM_H

#include "base/clock.h"
#include "config/config.h"
#include "provider/provider.h"
#include "provider/simfile.h"

/* Creates a simulator for cfg->collections with cfg->provider.sim. Borrows
 * `cfg` and `clock`, which must outlive it. Returns NULL on failure (logged),
 * for example an unreadable state file. */
sg_provider_t *sg_sim_new(const sg_config_t *cfg, const sg_clock_t *clock);

/* A simulator as sg_sim_new, whose state is read from `text` (`len` bytes of
 * a state file's contents, its change lines included; `name` stands for the
 * file in the log) and kept in memory only: `cfg` must have no state file.
 * NULL when the text is not a valid state (logged as for a state file, with
 * the line and the reason), or on failure. A last line without its newline
 * is ignored, as a change cut short. For tests and the fuzz target. */
sg_provider_t *sg_sim_new_from_text(const sg_config_t *cfg, const sg_clock_t *clock,
                                    const char *name, const char *text, size_t len);

/* How often `method` (any of them, ReverseReplicationRelationship included)
 * was called on the collection (calls answered, on any side) and how often it
 * was accepted (started a job), over the life of the state file. `p` must be
 * a simulator or one of its site views. Returns 0, SG_ENOTFOUND or
 * SG_EINVAL. */
int sg_sim_counts(sg_provider_t *p, const char *collection_path, sg_method_t method, int *calls,
                  int *accepted);

/* The counters of the simulator's state file (snapshots written, lines
 * appended, fsyncs ...) into *out. `p` must be a simulator. Returns 0, or
 * SG_ESTATE (*out zeroed) when it has no state file. */
int sg_sim_file_stats(sg_provider_t *p, sg_simfile_stats_t *out);

#endif
