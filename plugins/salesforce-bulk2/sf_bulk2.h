/* plugins/salesforce-bulk2/sf_bulk2.h - the salesforce-bulk2 plugin's
 * context and the interfaces between its parts.
 *
 *   sf_bulk2_plugin.c  the descriptor, config maps, init/fini, and the
 *                      source's choice of API (api: auto|bulk2|rest)
 *   sf_bulk2_job.c     Bulk API 2.0 jobs: create, poll with backoff to a
 *                      terminal state, change state (close, abort)
 *   sf_bulk2_query.c   the source: a query job, its CSV results streamed
 *                      page by page into batches, resume by locator
 *   sf_bulk2_ingest.c  the destination: CSV into temp files, ingest jobs
 *                      at commit, results into the reject file
 *
 * The connection, login, API budget, describe and typing are
 * salesforce-common's, shared with salesforce-rest; the REST path of the
 * source (api rest, or auto below the threshold) is sf_source.c itself.
 * Everything runs on the loop thread; files are written on the pool. */
#ifndef SLUICE_SF_BULK2_H
#define SLUICE_SF_BULK2_H

#include <stddef.h>
#include <stdint.h>

#include "sf.h"

struct b2_query;
struct b2_ingest;
struct b2_choose;

struct b2_ctx {
  struct sf_ctx sf; /* first: salesforce-common's keys bind through it */

  /* source */
  const char *api; /* auto | bulk2 | rest */
  int64_t auto_threshold;
  const char *soql;
  int64_t max_records;
  int64_t poll_max_ms;
  int64_t job_timeout_ms;
  /* destination */
  const char *nulls; /* set | keep */
  int64_t max_upload_bytes;
  int dry_run;
  const char *temp_dir;

  int use_rest;    /* the source runs sf_source.c */
  char *temp_path; /* temp_dir made absolute */
  struct b2_choose *choose;
  struct b2_query *q;
  struct b2_ingest *in;
};

/* --- sf_bulk2_job.c --- */
/* "query" or "ingest" jobs. */
/* --- sf_bulk2_text.c --- */
/* One value of Bulk CSV text (s, len; not empty) into column col of row,
 * typed as sf_query.c types the same field in REST JSON.  0, SLUICE_EDATA
 * when the text is not of the field's type, or SLUICE_ENOMEM. */
int b2_set_text(struct sluice_batch *bt, size_t row, size_t col,
                const struct sf_field *f, const char *s, size_t len);

struct b2_job_poll;
/* POST /jobs/{kind} with body (JSON text, copied); cb gets the job info. */
int b2_job_create(struct sf_ctx *c, const char *kind, const char *body,
                  sf_api_cb cb, void *arg, struct sf_api_call **out,
                  struct sluice_error *err);
/* GET /jobs/{kind}/{id} once. */
int b2_job_get(struct sf_ctx *c, const char *kind, const char *id, sf_api_cb cb,
               void *arg, struct sf_api_call **out, struct sluice_error *err);
/* PATCH /jobs/{kind}/{id} {"state": state}. */
int b2_job_set_state(struct sf_ctx *c, const char *kind, const char *id,
                     const char *state, sf_api_cb cb, void *arg,
                     struct sf_api_call **out, struct sluice_error *err);
/* Polls the job until JobComplete, Failed or Aborted, waiting 250 ms
 * and doubling up to max_ms between polls; cb gets the last job info
 * (status 0 whatever the state: read "state"), or an error (a call that
 * failed, or timeout_ms passed: SLUICE_ETIMEDOUT).  Never calls cb before
 * returning. */
int b2_job_poll_start(struct sf_ctx *c, const char *kind, const char *id,
                      int64_t max_ms, int64_t timeout_ms, sf_api_cb cb,
                      void *arg, struct b2_job_poll **out,
                      struct sluice_error *err);
/* Stops a poll; its cb is not called. */
void b2_job_poll_cancel(struct b2_job_poll *p);
/* "Failed: <errorMessage>" / "Aborted" text of a job info, for errors. */
const char *b2_job_error_message(json_t *info);

/* --- sf_bulk2_plugin.c --- */
/* api auto: when err says Bulk cannot run this query (an object or field
 * Bulk does not support), starts the REST source in its place and returns
 * 1; else 0. */
int b2_source_fallback(struct b2_ctx *b, const struct sluice_error *err);

/* --- sf_bulk2_query.c --- */
int b2_query_start(struct b2_ctx *b, const char *checkpoint,
                   struct sluice_error *err);
void b2_query_pause(struct b2_ctx *b);
void b2_query_resume(struct b2_ctx *b);
void b2_query_stop(struct b2_ctx *b);
void b2_query_free(struct b2_ctx *b);

/* --- sf_bulk2_ingest.c --- */
int b2_ingest_open(struct sluice_instance *ins, void *ctx,
                   struct sluice_schema *schema, sluice_done_cb done, void *arg,
                   struct sluice_error *err);
int b2_ingest_write(struct sluice_instance *ins, void *ctx,
                    struct sluice_batch *batch, sluice_done_cb done, void *arg,
                    struct sluice_error *err);
int b2_ingest_commit(struct sluice_instance *ins, void *ctx,
                     sluice_done_cb done, void *arg, struct sluice_error *err);
void b2_ingest_free(struct b2_ctx *b);

#endif
