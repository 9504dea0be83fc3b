/* core/runlog.h - the run log: one JSON line per finished run.
 *
 * Every run appends one record to <state_dir>/runs.jsonl, the history that
 * `sluice status` and monitoring read.  The file only grows, so readers
 * stream it; a crash mid-append leaves at most a torn last line, which
 * readers ignore.  A line looks like (wrapped here):
 *
 *   {"run_id":"20261123T031700Z-1a2b","pipeline":"orders",
 *    "status":"succeeded","start":"2026-11-23T03:17:00.123Z",
 *    "end":"2026-11-23T03:17:04.456Z","duration_ms":4333,"rows_read":10,
 *    "rows_written":10,"rows_rejected":0,"rows_deleted":0,"bytes_in":2048,
 *    "bytes_out":1900,"api_calls":3,"http_retries":0,
 *    "source":"csv-file",
 *    "destination":"postgres","error":null,"checkpoint":"{\"offset\":10}"}
 */
#ifndef SLUICE_CORE_RUNLOG_H
#define SLUICE_CORE_RUNLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

struct sluice_error;

#define RUNLOG_FILE "runs.jsonl"

/* How a run ended. */
enum run_status {
  RUN_SUCCEEDED,  /* every record was written */
  RUN_FAILED,     /* the run stopped on an error */
  RUN_REJECTED,   /* it finished, but some records were rejected */
  RUN_INTERRUPTED /* it was stopped (SIGTERM) before the end */
};
#define RUN_STATUS_COUNT 4

/* "succeeded", "failed", "rejected", "interrupted" (as in the file). */
const char *run_status_name(enum run_status status);

/* A status is an enum, not a string, so a record owns nothing it cannot
 * free and cannot hold a status the file format does not know.  The char
 * pointers are owned by the record (malloc'ed, freed by run_record_free)
 * and may be NULL; runlog_append only reads them. */
struct run_record {
  char run_id[64];
  char pipeline[128];
  /* Unix microseconds (wall clock).  The file keeps milliseconds, so
   * loaded records have the sub-millisecond part truncated. */
  int64_t start_us, end_us;
  enum run_status status;
  uint64_t rows_read, rows_written, rows_rejected, rows_deleted;
  uint64_t bytes_in, bytes_out, api_calls;
  /* HTTP attempts sent again after a 429, a 5xx, a reset or a timeout:
   * a run that succeeded "after retries" says so here. */
  uint64_t http_retries;
  char *error;      /* the first error, or NULL */
  char *checkpoint; /* the checkpoint after the run (opaque), or NULL */
  char *source;     /* plugin names, or NULL */
  char *destination;
  /* The run's warnings (a plugin's WARN lines, secrets masked), one a
   * line, or NULL: kept in the file as a JSON array "warnings". */
  char *warnings;
  /* A delete sweep (a key sweep that flags the rows whose key the source
   * no longer has), not a run: "kind": "delete_sweep" and "rows_flagged"
   * in the file (rows_deleted holds the same count); a run's line has
   * neither. */
  int sweep;
  uint64_t rows_flagged;
};

/* Frees the strings r owns and sets them to NULL (not r itself). */
void run_record_free(struct run_record *r);
/* Frees an array from runlog_load_last: each record, then the array. */
void runlog_free_records(struct run_record *recs, size_t n);

/* Appends r to <state_dir>/runs.jsonl (created 0600) as one line in one
 * write(2), then fsyncs.  Processes running different pipelines may append
 * at the same time: O_APPEND keeps their lines whole.  Strings that are not
 * valid UTF-8 are stored with U+FFFD in place of the bad bytes.  Returns 0,
 * or SLUICE_EIO with a message naming the file. */
int runlog_append(const char *state_dir, const struct run_record *r,
                  struct sluice_error *err);

/* Lines runlog_load_last could not read as run records, for a warning such
 * as "runs.jsonl:17: not a run record (skipped)".  A torn last line (a
 * crash mid-append) is expected and not counted. */
struct runlog_skipped {
  size_t count;
  size_t first_line; /* 1-based; 0 when count is 0 */
};

/* Reads <state_dir>/runs.jsonl line by line and returns the last record of
 * each pipeline (and, apart, its last delete sweep), in the order they
 * first appear, in *recs (free
 * with runlog_free_records) and their number in *n.  A missing file is no
 * runs: 0 with *n == 0.  skipped may be NULL.  Returns 0, SLUICE_ENOMEM,
 * or SLUICE_EIO naming the file. */
int runlog_load_last(const char *state_dir, struct run_record **recs, size_t *n,
                     struct runlog_skipped *skipped, struct sluice_error *err);

/* Prints the records as an aligned table for people:
 *   PIPELINE  STATUS     STARTED               DURATION  READ  ...  ERROR
 *   orders    succeeded  2026-11-23T03:17:00Z      4.3s    10  ...
 * Durations read "1.2s", "3m04s", "2h01m"; errors are cut to 60
 * characters and control characters blanked.  Returns 0, or SLUICE_EIO
 * when out reports an error, SLUICE_ENOMEM. */
int runlog_print_table(FILE *out, const struct run_record *recs, size_t n);

/* Prints the records as a JSON array, each in the runs.jsonl form, and a
 * newline.  Returns 0, SLUICE_ENOMEM or SLUICE_EIO. */
int runlog_print_json(FILE *out, const struct run_record *recs, size_t n);
/* r as the JSON object runs.jsonl holds (a new reference). */
json_t *runlog_record_to_json(const struct run_record *r);

#endif /* SLUICE_CORE_RUNLOG_H */
