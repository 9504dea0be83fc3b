/* core/run.h - one run of one pipeline on the loop:
 *   source -> batch -> mapping -> destination -> commit -> checkpoint.
 *
 * Lifetime: run_start allocates the run; it frees itself after calling
 * on_done, which runs exactly once (also when the run fails).  The
 * checkpoint is saved only after the destination has committed every
 * batch up to it. */
#ifndef SLUICE_CORE_RUN_H
#define SLUICE_CORE_RUN_H

#include <uv.h>

#include "pipeline.h"
#include "runlog.h"

struct run;

typedef void (*run_done_cb)(void *arg, enum run_status status);

/* Starts a run; *out is the run until on_done.  Returns 0 (on_done will
 * be called), or a negative code
 * with err filled (on_done will not be called, a failed run record has
 * been written when the run got far enough to have an id). */
struct http_engine;

int run_start(uv_loop_t *loop, struct http_engine *http,
              struct pipeline_file *pf, struct pipeline *p, run_done_cb on_done,
              void *arg, struct run **out, struct sluice_error *err);
/* Checks a pipeline ("Save & Test"): both plugins are set up and asked to
 * authenticate and make one cheap call; a line per plugin goes to stdout.
 * on_done gets RUN_SUCCEEDED or RUN_FAILED; nothing is locked or written.
 * Returns 0, or a negative code with err (on_done is not called then). */
int run_check(uv_loop_t *loop, struct http_engine *http,
              struct pipeline_file *pf, struct pipeline *p, run_done_cb on_done,
              void *arg, struct sluice_error *err);
/* `sluice reconcile`: counts the source's records and the destination's
 * live rows (the plugins' count), prints both and the difference; the run
 * fails (on_done with RUN_FAILED) when they differ or a side cannot
 * count. */
int run_reconcile(uv_loop_t *loop, struct http_engine *http,
                  struct pipeline_file *pf, struct pipeline *p,
                  run_done_cb on_done, void *arg, struct sluice_error *err);

/* A key sweep (plugin ABI 1.2): the source's keys (source_keys, through
 * the mapping's entries for the destination's key columns) streamed into
 * the destination's sweep_open/sweep_write, then sweep_finish with action
 * (enum sluice_sweep_action) and limit.  The pipeline's lock is held
 * throughout.  SLUICE_SWEEP_FLAG_MISSING is a "delete sweep": a run record
 * with kind "delete_sweep" and the rows flagged is appended; a LIST writes
 * none and ends RUN_FAILED when a key is on one side only.  report: the
 * outcome (the lists, or the count flagged) goes to stdout.  A sweep that
 * is stopped (run_stop) never reaches sweep_finish.  Returns as run_start
 * (out as there). */
int run_sweep(uv_loop_t *loop, struct http_engine *http,
              struct pipeline_file *pf, struct pipeline *p, uint32_t action,
              size_t limit, int report, run_done_cb on_done, void *arg,
              struct run **out, struct sluice_error *err);

/* Asks a run to finish early: the source stops, batches in flight are
 * written and committed, the checkpoint saved. */
void run_stop(struct run *r);

#endif
