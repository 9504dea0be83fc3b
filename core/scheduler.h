/* core/scheduler.h - runs pipelines once (--once) or on their schedules,
 * never two runs of one pipeline at a time, and stops cleanly on SIGTERM
 * and SIGINT (the batch in flight is written and the checkpoint saved). */
#ifndef SLUICE_CORE_SCHEDULER_H
#define SLUICE_CORE_SCHEDULER_H

#include "pipeline.h"

/* Runs the pipelines of pf (only `only` when not NULL) and returns the
 * program's exit code: 0 all succeeded (or were interrupted), 1 one
 * failed, 3 one finished with rejected records.  metrics_addr (or NULL)
 * serves Prometheus metrics while it runs. */
int scheduler_main(struct pipeline_file *pf, const char *only, int once,
                   const char *metrics_addr);

/* `sluice check`: sets up every pipeline's plugins (or only `only`) and
 * asks each to authenticate and make one cheap call; one line a plugin on
 * stdout.  0 when every check passed, 1 otherwise. */
int scheduler_check(struct pipeline_file *pf, const char *only);

/* `sluice reconcile`: for every pipeline (or only `only`), the source's
 * record count beside the destination's live rows, one line each, and
 * with ids > 0 a key sweep listing up to ids keys on each side only.  0
 * when every pair matches, 1 otherwise.  flag_deletes instead runs a
 * delete sweep of `only`, or else of every pipeline with
 * reconcile_deletes: 0 when each succeeded. */
int scheduler_reconcile(struct pipeline_file *pf, const char *only, size_t ids,
                        int flag_deletes);

#endif
