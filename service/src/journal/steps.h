/* steps: the journal's record of life-cycle steps after a failover
 * (CommitFailover, RevertFailover, ReverseReplicationRelationship), as
 * act/lifecycle.h runs them.
 *
 * Table steps(step_id INTEGER PRIMARY KEY AUTOINCREMENT, collection, action,
 * who, epoch, intent_ms, job_path, ended_ms, ok, detail), created on first
 * use (sg_steps_init): a table older builds ignore, so no schema version
 * change. A step's row is written, and committed, before its method is
 * called (the intent); its job path as soon as the call returned one; its
 * end with how it ended. A step open after a restart is resumed: its job
 * followed, or, without a job, the collection's state read before any call
 * (lifecycle.h).
 *
 * Thread rules: the journal's (one thread, the loop). Writes are committed
 * before they return, or with the journal's open batch. */
#ifndef SG_JOURNAL_STEPS_H
#define SG_JOURNAL_STEPS_H

#include "journal/journal.h"

#include <stdbool.h>
#include <stdint.h>

/* One step as the journal has it; strings owned by the record. */
typedef struct {
    uint64_t id;
    char *collection; /* configured name */
    char *action;     /* "commit", "revert", "reverse" */
    char *who;
    uint64_t epoch;
    int64_t intent_ms;
    char *job_path;   /* NULL: none journaled */
    int64_t ended_ms; /* 0: open */
    bool ok;          /* when ended */
    char *detail;     /* when ended: how */
} sg_step_rec_t;

/* Makes the table. 0 or SG_EIO. */
int sg_steps_init(sg_journal_t *j);
/* Journals the intent of a step; *id gets its id. 0 or SG_EIO. */
int sg_steps_intent(sg_journal_t *j, const char *collection, const char *action, const char *who,
                    uint64_t epoch, int64_t now_ms, uint64_t *id);
/* The step's job. 0, SG_ENOTFOUND or SG_EIO. */
int sg_steps_job(sg_journal_t *j, uint64_t id, const char *job_path);
/* Ends the step. 0, SG_ENOTFOUND (unknown or already ended) or SG_EIO. */
int sg_steps_end(sg_journal_t *j, uint64_t id, bool ok, const char *detail, int64_t now_ms);
/* Steps not ended, oldest first (*out: free with sg_steps_free). 0, SG_ENOMEM
 * or SG_EIO. */
int sg_steps_open(sg_journal_t *j, sg_step_rec_t **out, size_t *n);
/* The newest step of `collection` that ended well. 0, SG_ENOTFOUND, SG_ENOMEM
 * or SG_EIO; *out (sg_step_rec_fini) filled on 0. */
int sg_steps_last_ok(sg_journal_t *j, const char *collection, sg_step_rec_t *out);
/* The newest `limit` steps (0: all), oldest first. */
int sg_steps_list(sg_journal_t *j, size_t limit, sg_step_rec_t **out, size_t *n);
void sg_step_rec_fini(sg_step_rec_t *r);
void sg_steps_free(sg_step_rec_t *recs, size_t n);

#endif
