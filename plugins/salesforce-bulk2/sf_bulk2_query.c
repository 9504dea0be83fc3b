/* plugins/salesforce-bulk2/sf_bulk2_query.c - the source: one Bulk API 2.0
 * query job (contract section 4), its CSV results streamed into batches.
 *
 * describe -> SOQL (object, fields, filter, the cursor; or `soql`) ->
 * POST /jobs/query -> poll with backoff to JobComplete -> GET results
 * page by page (maxRecords, then ?locator= until Sforce-Locator is the
 * literal "null").  A page's body goes through the SDK's CSV reader as it
 * arrives; rows are typed from describe exactly as salesforce-rest types
 * them (Bulk gives text: empty is null, since Bulk cannot tell null from
 * ""), and a page whose row count differs from Sforce-NumberOfRecords
 * fails the run.  When the host pauses the source, the rest of the piece
 * under way is kept and the transfer is paused (SLUICE_EAGAIN): memory
 * stays bounded by one batch and one network piece, whatever the result.
 *
 * Bulk results come in no useful order (ORDER BY would disable PK
 * chunking, section 4.1), so the cursor can only move once the whole
 * result is read.  Checkpoints:
 *   - the last batch carries {"cursor","id"}: the largest
 *     (SystemModstamp, Id) of the extract and of the checkpoint before it,
 *     exactly as salesforce-rest (the next run reads SystemModstamp >=
 *     cursor - lookback: rows at the cursor come again, none is lost);
 *   - the batches before it carry the position after their last row,
 *     {"cursor","id" of the checkpoint the job started from, "job",
 *     "locator", "skip", "seen_cursor", "seen_id"}: a run that stops in
 *     the middle (SIGTERM: the host commits what was emitted) goes on, if
 *     the job still answers JobComplete, at that page, skipping the rows
 *     already committed (a page read again gives the same rows in the same
 *     order, section 4.3).
 * The plugin's state "bulk2_query" = {"job","soql","locator"} names the
 * job under way (the locator: the next page to read) from its creation to
 * the end of the extract.  After a kill -9 nothing of the run was
 * committed, so the next run reuses that job (no new query job, the same
 * snapshot) but reads it again from its first page: resuming at the
 * state's locator would lose the rows emitted and never committed.
 *
 * A job Failed (its errorMessage) or Aborted fails the run, and so does a
 * result whose rows, counted over every page of the job, differ from the
 * job's numberRecordsProcessed (Estuary checks the same, section 4.3): a
 * short extract would otherwise move the cursor past rows never read.
 * Positions carry "rows", the job's rows up to them, so that a resumed
 * run can count too.
 *
 * An expired locator (400 INVALID_QUERY_LOCATOR) reads the same job again
 * from its first page, skipping the rows already read: a job's results
 * are the same rows in the same order while it exists (4.3), so nothing
 * comes twice and no new job is spent; a second expiry fails the run.
 * Purged results (404) restart the extract once with a new job; rows
 * already emitted in this run then come again (destinations upsert by
 * Id). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sluice/convert.h>
#include <sluice/csv.h>

#include "sf_bulk2.h"

#define B2_STATE_KEY "bulk2_query"

struct b2_query {
  struct b2_ctx *b;
  struct sf_ctx *c;
  struct sf_field *fields; /* the schema's fields, in column order */
  size_t nfields;
  int has_modstamp;
  json_t *describe_fields; /* soql: typing columns by name */
  struct sluice_schema *schema;
  size_t max_rows, max_bytes;
  char *soql;

  /* the checkpoint the extract started from, and the largest
   * (SystemModstamp, Id) read since */
  int have_base, have_seen;
  int64_t base_us, seen_us;
  char base_id[40], seen_id[40];
  /* a committed position to resume at: job, page, rows to skip */
  char *cp_job, *cp_locator;
  int64_t cp_skip, cp_rows, skip;

  char *job;
  char *locator;      /* the page being read; "" for the first */
  char *next_locator; /* from Sforce-Locator; NULL: this is the last */
  int64_t page_rows, page_expected;
  /* the job's rows before this page (-1: unknown, a position without
   * "rows"), and its numberRecordsProcessed (-1: not known) */
  int64_t job_rows, job_expected;
  int restarted, reread;
  int skip_spans; /* reread: the rows to skip run over pages */
  struct sf_api_call *call;
  struct b2_job_poll *poll;

  struct sluice_csv_reader *reader;
  long *colmap; /* CSV column -> field, -1: not read */
  size_t ncols;
  long col_id, col_modstamp, col_deleted;
  int header_seen;

  struct sluice_batch *cur; /* filling; emitted when the next row comes */
  char *last_locator;       /* the position after cur's last row */
  int64_t last_skip, last_rows;
  uint64_t records, pages;

  struct sluice_buf pending; /* a piece's rest, not fed while paused */
  int body_done;             /* the page's body ended while paused */
  int paused, stopping, finished, emitted_last;
};

static void request_page(struct b2_query *q);
static void page_end(struct b2_query *q);
static void stop_here(struct b2_query *q);

/* --- the end ------------------------------------------------------------- */

static void finish(struct b2_query *q, int status,
                   const struct sluice_error *err)
{
  struct sf_ctx *c = q->c;

  if (q->finished)
    return;
  q->finished = 1;
  if (q->call != NULL) {
    sf_api_cancel(q->call);
    q->call = NULL;
  }
  b2_job_poll_cancel(q->poll);
  q->poll = NULL;
  if (q->cur != NULL) {
    sluice_batch_unref(q->cur);
    q->cur = NULL;
  }
  if (status == 0)
    SLUICE_LOG_I(c->host, c->ins, "%s: %llu records in %llu pages (Bulk 2.0)",
                 c->object, (unsigned long long)q->records,
                 (unsigned long long)q->pages);
  sf_source_end(c, status, status == 0 ? NULL : err);
}

static void fail_oom(struct b2_query *q)
{
  struct sluice_error e = {0};

  sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
  finish(q, e.code, &e);
}

/* --- checkpoints and the state --------------------------------------------
 */

static int ts_text(int64_t us, struct sluice_buf *out)
{
  struct sluice_value v = {.type = SLUICE_TYPE_TIMESTAMP};

  v.u.ts_us = us;
  return sluice_value_format(&v, out);
}

static int parse_ts(json_t *j, const char *key, int64_t *us)
{
  const char *s = json_string_value(json_object_get(j, key));

  return s != NULL && sluice_parse_timestamp(s, strlen(s), us) == 0;
}

static int checkpoint_parse(struct b2_query *q, const char *text,
                            struct sluice_error *err)
{
  json_t *j = json_loads(text, 0, NULL);
  const char *id = json_string_value(json_object_get(j, "id"));
  const char *sid = json_string_value(json_object_get(j, "seen_id"));
  const char *job = json_string_value(json_object_get(j, "job"));
  const char *loc = json_string_value(json_object_get(j, "locator"));
  int rc = 0;

  if (!json_is_object(j))
    rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                          "the checkpoint is not a JSON object (delete it "
                          "to read everything again)");
  else if (json_object_get(j, "cursor") != NULL &&
           !parse_ts(j, "cursor", &q->base_us))
    rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                          "the checkpoint has no readable \"cursor\" "
                          "(delete it to read everything again)");
  else {
    q->have_base = json_object_get(j, "cursor") != NULL;
    snprintf(q->base_id, sizeof q->base_id, "%s", id ? id : "");
    if (parse_ts(j, "seen_cursor", &q->seen_us)) {
      q->have_seen = 1;
      snprintf(q->seen_id, sizeof q->seen_id, "%s", sid ? sid : "");
    }
    if (job != NULL && loc != NULL) {
      q->cp_job = strdup(job);
      q->cp_locator = strdup(loc);
      q->cp_skip = json_integer_value(json_object_get(j, "skip"));
      q->cp_rows = json_is_integer(json_object_get(j, "rows"))
                       ? json_integer_value(json_object_get(j, "rows"))
                       : -1;
      if (q->cp_job == NULL || q->cp_locator == NULL)
        rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    }
  }
  json_decref(j);
  return rc;
}

/* The last batch's checkpoint: the larger of the base and what was read. */
static char *checkpoint_final(struct b2_query *q)
{
  struct sluice_buf ts = SLUICE_BUF_INIT;
  int use_seen =
      q->have_seen &&
      (!q->have_base || q->seen_us > q->base_us ||
       (q->seen_us == q->base_us && strcmp(q->seen_id, q->base_id) > 0));
  char *out = NULL;
  json_t *j;

  if (!use_seen && !q->have_base)
    return NULL;
  if (ts_text(use_seen ? q->seen_us : q->base_us, &ts) == 0 &&
      (j = json_pack("{s:s, s:s}", "cursor", sluice_buf_cstr(&ts), "id",
                     use_seen ? q->seen_id : q->base_id)) != NULL) {
    out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
  }
  sluice_buf_free(&ts);
  return out;
}

/* A batch's checkpoint in the middle: where to go on in this job. */
static char *checkpoint_position(struct b2_query *q)
{
  struct sluice_buf ts = SLUICE_BUF_INIT;
  json_t *j = json_pack("{s:s, s:s, s:I}", "job", q->job, "locator",
                        q->last_locator ? q->last_locator : "", "skip",
                        (json_int_t)q->last_skip);
  char *out = NULL;

  if (j == NULL)
    return NULL;
  if (q->job_rows >= 0) /* the job's rows up to here, for the count */
    json_object_set_new(j, "rows", json_integer(q->last_rows));
  if (q->have_base && ts_text(q->base_us, &ts) == 0) {
    json_object_set_new(j, "cursor", json_string(sluice_buf_cstr(&ts)));
    json_object_set_new(j, "id", json_string(q->base_id));
  }
  sluice_buf_reset(&ts);
  if (q->have_seen && ts_text(q->seen_us, &ts) == 0) {
    json_object_set_new(j, "seen_cursor", json_string(sluice_buf_cstr(&ts)));
    json_object_set_new(j, "seen_id", json_string(q->seen_id));
  }
  out = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  sluice_buf_free(&ts);
  return out;
}

static void state_save(struct b2_query *q, const char *locator)
{
  struct sf_ctx *c = q->c;
  struct sluice_error e = {0};
  json_t *j = json_pack("{s:s, s:s, s:s}", "job", q->job, "soql", q->soql,
                        "locator", locator ? locator : "null");
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

  /* Only a hint for the next run: a failure to save costs a new job. */
  if (text == NULL || c->host->state_put(c->ins, B2_STATE_KEY, text, &e) < 0)
    SLUICE_LOG_W(c->host, c->ins, "cannot save the job's state: %s",
                 text ? e.message : "out of memory");
  free(text);
  json_decref(j);
}

static void state_clear(struct b2_query *q)
{
  struct sluice_error e = {0};

  if (q->c->host->state_put(q->c->ins, B2_STATE_KEY, NULL, &e) < 0)
    SLUICE_LOG_W(q->c->host, q->c->ins, "cannot clear the job's state: %s",
                 e.message);
}

/* --- batches --------------------------------------------------------------
 */

static int emit_batch(struct b2_query *q, struct sluice_batch *bt,
                      const char *checkpoint)
{
  struct sf_ctx *c = q->c;
  struct sluice_error e = {0};
  int rc;

  if (checkpoint != NULL && sluice_batch_set_checkpoint(bt, checkpoint) < 0) {
    sluice_batch_unref(bt);
    fail_oom(q);
    return SLUICE_ENOMEM;
  }
  if ((rc = sf_emit(c, bt, &e)) < 0) {
    finish(q, rc, &e);
    return rc;
  }
  return 0;
}

/* Emits the filled batch with the position after its last row. */
static int emit_cur(struct b2_query *q)
{
  struct sluice_batch *bt = q->cur;
  char *cp;
  int rc;

  q->cur = NULL;
  if ((cp = checkpoint_position(q)) == NULL) {
    sluice_batch_unref(bt);
    fail_oom(q);
    return SLUICE_ENOMEM;
  }
  rc = emit_batch(q, bt, cp);
  free(cp);
  return rc;
}

/* The extract is over: the last batch (maybe empty, to carry the cursor
 * the rows before it could not) and the end. */
static void extract_done(struct b2_query *q)
{
  struct sluice_batch *bt = q->cur;
  char *cp = checkpoint_final(q);

  q->cur = NULL;
  if (bt == NULL && cp != NULL && q->schema != NULL)
    bt = sluice_batch_new(q->schema, q->max_rows, q->max_bytes);
  if (bt != NULL && emit_batch(q, bt, cp) < 0) {
    free(cp);
    return;
  }
  free(cp);
  state_clear(q);
  finish(q, 0, NULL);
}

/* --- CSV rows -------------------------------------------------------------
 */

static void see_cursor(struct b2_query *q, const struct sluice_csv_field *f)
{
  int64_t us;
  const struct sluice_csv_field *ms = &f[q->col_modstamp];
  const struct sluice_csv_field *id = q->col_id >= 0 ? &f[q->col_id] : NULL;
  char idtext[40];

  if (sluice_parse_timestamp(ms->ptr, ms->len, &us) < 0)
    return;
  snprintf(idtext, sizeof idtext, "%.*s", id ? (int)id->len : 0,
           id ? id->ptr : "");
  if (!q->have_seen || us > q->seen_us ||
      (us == q->seen_us && strcmp(idtext, q->seen_id) > 0)) {
    q->have_seen = 1;
    q->seen_us = us;
    memcpy(q->seen_id, idtext, sizeof idtext);
  }
}

static char *copy_slice(const char *p, size_t n)
{
  char *s = malloc(n + 1);

  if (s != NULL) {
    memcpy(s, p, n);
    s[n] = '\0';
  }
  return s;
}

static json_t *describe_find(json_t *fields, const char *name, size_t len)
{
  size_t i;
  json_t *fd;

  json_array_foreach(fields, i, fd)
  {
    const char *n = json_string_value(json_object_get(fd, "name"));
    if (n != NULL && strlen(n) == len && strncasecmp(n, name, len) == 0)
      return fd;
  }
  return NULL;
}

/* soql: the schema is the first header's columns, typed by describe when
 * they are the object's own fields (relationship paths: strings). */
static int schema_from_header(struct b2_query *q,
                              const struct sluice_csv_field *f, size_t n,
                              struct sluice_error *err)
{
  size_t i;

  q->fields = calloc(n ? n : 1, sizeof *q->fields);
  if (q->fields == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  for (i = 0; i < n; i++) {
    json_t *fd = describe_find(q->describe_fields, f[i].ptr, f[i].len);
    const char *type =
        fd ? json_string_value(json_object_get(fd, "type")) : "string";
    const char *name =
        fd ? json_string_value(json_object_get(fd, "name")) : NULL;
    q->fields[i].name = name ? strdup(name) : copy_slice(f[i].ptr, f[i].len);
    q->fields[i].sf_type = strdup(type ? type : "string");
    q->nfields++;
    if (q->fields[i].name == NULL || q->fields[i].sf_type == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    sf_describe_map_type(
        q->fields[i].sf_type,
        fd ? (int)json_integer_value(json_object_get(fd, "precision")) : 0,
        fd ? (int)json_integer_value(json_object_get(fd, "scale")) : 0,
        &q->fields[i]);
  }
  if ((q->schema = sf_describe_schema(q->fields, q->nfields)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  return 0;
}

static int on_header(struct b2_query *q, const struct sluice_csv_field *f,
                     size_t n, struct sluice_error *err)
{
  size_t i, k;
  int rc;

  if (q->schema == NULL && (rc = schema_from_header(q, f, n, err)) < 0)
    return rc;
  free(q->colmap);
  if ((q->colmap = calloc(n ? n : 1, sizeof *q->colmap)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  q->ncols = n;
  q->col_id = q->col_modstamp = q->col_deleted = -1;
  for (i = 0; i < n; i++) {
    q->colmap[i] = -1;
    for (k = 0; k < q->nfields; k++)
      if (strlen(q->fields[k].name) == f[i].len &&
          strncasecmp(q->fields[k].name, f[i].ptr, f[i].len) == 0)
        q->colmap[i] = (long)k;
    if (f[i].len == 2 && strncasecmp(f[i].ptr, "Id", 2) == 0)
      q->col_id = (long)i;
    else if (f[i].len == 14 && strncasecmp(f[i].ptr, "SystemModstamp", 14) == 0)
      q->col_modstamp = (long)i;
    else if (f[i].len == 9 && strncasecmp(f[i].ptr, "IsDeleted", 9) == 0)
      q->col_deleted = (long)i;
  }
  for (k = 0; k < q->nfields; k++) {
    for (i = 0; i < n && q->colmap[i] != (long)k; i++)
      ;
    if (i == n)
      return sluice_error_set(err, SLUICE_EPROTO, 0,
                              "%s: query job %s: the results have no "
                              "column %s",
                              q->c->object, q->job, q->fields[k].name);
  }
  q->header_seen = 1;
  return 0;
}

static int on_record(void *arg, const struct sluice_csv_field *f, size_t n,
                     const struct sluice_csv_pos *pos)
{
  struct b2_query *q = arg;
  struct sf_ctx *c = q->c;
  struct sluice_error e = {0};
  enum sluice_op op = SLUICE_OP_UPSERT;
  size_t row, i;
  int rc;

  if (q->finished)
    return SLUICE_ECANCELED;
  if (!q->header_seen) {
    if ((rc = on_header(q, f, n, &e)) < 0) {
      finish(q, rc, &e);
      return rc;
    }
    return 0;
  }
  q->page_rows++;
  if (q->skip > 0) { /* committed by an earlier run */
    q->skip--;
    return 0;
  }
  if (n != q->ncols) {
    sluice_error_set(&e, SLUICE_EPROTO, 0,
                     "%s: query job %s, page %s, line %llu: %zu values for "
                     "%zu columns",
                     c->object, q->job, *q->locator ? q->locator : "1",
                     (unsigned long long)pos->line, n, q->ncols);
    finish(q, e.code, &e);
    return e.code;
  }
  if (q->cur != NULL && sluice_batch_full(q->cur) && emit_cur(q) < 0)
    return SLUICE_ECANCELED;
  if (q->cur == NULL) {
    q->cur = sluice_batch_new(q->schema, q->max_rows, q->max_bytes);
    if (q->cur == NULL) {
      fail_oom(q);
      return SLUICE_ENOMEM;
    }
    sluice_batch_set_first_record(q->cur, q->records + 1);
  }
  if (q->col_deleted >= 0 && f[q->col_deleted].len == 4 &&
      memcmp(f[q->col_deleted].ptr, "true", 4) == 0)
    op = SLUICE_OP_DELETE;
  if (sluice_batch_add_row(q->cur, op, &row) < 0) {
    fail_oom(q);
    return SLUICE_ENOMEM;
  }
  for (i = 0; i < n; i++) {
    long k = q->colmap[i];
    if (k < 0 || f[i].len == 0) /* empty: null (section 4.3) */
      continue;
    rc = b2_set_text(q->cur, row, (size_t)k, &q->fields[k], f[i].ptr, f[i].len);
    if (rc < 0) {
      const struct sluice_csv_field *id = q->col_id >= 0 ? &f[q->col_id] : NULL;
      sluice_batch_drop_last_row(q->cur);
      sluice_error_set(&e, rc == SLUICE_ENOMEM ? rc : SLUICE_EDATA, 0,
                       "%s: record %.*s: field %s (%s): '%.*s' is not of the "
                       "field's type",
                       c->object, id ? (int)id->len : 7,
                       id ? id->ptr : "(no Id)", q->fields[k].name,
                       q->fields[k].sf_type,
                       (int)(f[i].len > 80 ? 80 : f[i].len), f[i].ptr);
      finish(q, e.code, &e);
      return e.code;
    }
  }
  q->records++;
  if (q->col_modstamp >= 0)
    see_cursor(q, f);
  q->last_skip = q->page_rows;
  q->last_rows = q->job_rows + q->page_rows;
  if (q->last_locator == NULL || strcmp(q->last_locator, q->locator) != 0) {
    free(q->last_locator);
    if ((q->last_locator = strdup(q->locator)) == NULL) {
      fail_oom(q);
      return SLUICE_ENOMEM;
    }
  }
  /* the host paused us in emit: stop feeding until resume */
  return q->paused ? 1 : 0;
}

/* Feeds bytes to the reader; the rest it did not take (paused) goes to
 * pending.  Returns < 0 when the run is over. */
static int feed(struct b2_query *q, const char *data, size_t len)
{
  struct sluice_error e = {0};
  size_t used = 0;
  int rc;

  rc = sluice_csv_reader_feed(q->reader, data, len, &used, &e);
  if (q->finished)
    return SLUICE_ECANCELED;
  if (rc < 0) {
    sluice_error_prefix(&e, "%s: query job %s results", q->c->object, q->job);
    finish(q, rc, &e);
    return rc;
  }
  if (used < len &&
      sluice_buf_append(&q->pending, data + used, len - used) < 0) {
    fail_oom(q);
    return SLUICE_ENOMEM;
  }
  return 0;
}

static int on_page_data(void *arg, const char *data, size_t len)
{
  struct b2_query *q = arg;

  if (q->finished)
    return SLUICE_ECANCELED;
  if (q->paused || q->pending.len > 0)
    return SLUICE_EAGAIN; /* comes again after sf_api_resume */
  return feed(q, data, len) < 0 ? SLUICE_ECANCELED : 0;
}

static int on_page_response(void *arg, const struct sluice_http_response *r)
{
  struct b2_query *q = arg;
  struct sf_ctx *c = q->c;
  const char *loc = c->host->http_header(r, "Sforce-Locator");
  const char *num = c->host->http_header(r, "Sforce-NumberOfRecords");
  struct sluice_csv_options opt = {0};

  free(q->next_locator);
  q->next_locator = NULL;
  /* the literal "null" ends it; clients also take a missing header */
  if (loc != NULL && *loc != '\0' && strcmp(loc, "null") != 0 &&
      (q->next_locator = strdup(loc)) == NULL)
    return SLUICE_ENOMEM;
  q->page_expected = -1;
  if (num != NULL &&
      sluice_parse_int64(num, strlen(num), &q->page_expected) < 0)
    q->page_expected = -1;
  q->page_rows = 0;
  q->header_seen = 0;
  q->body_done = 0;
  sluice_csv_reader_free(q->reader);
  if ((q->reader = sluice_csv_reader_new(&opt)) == NULL)
    return SLUICE_ENOMEM;
  sluice_csv_reader_set_callbacks(q->reader, on_record, NULL, q);
  return 0;
}

static void restart_job(struct b2_query *q, const struct sluice_error *why);
static void reread_job(struct b2_query *q, const struct sluice_error *why);
static void create_job(struct b2_query *q);

static void on_page_done(void *arg, int status, json_t *body,
                         const struct sluice_error *err)
{
  struct b2_query *q = arg;

  (void)body;
  q->call = NULL;
  if (q->finished)
    return;
  if (status < 0) {
    struct sluice_error e = *err;
    int expired = strstr(err->message, "INVALID_QUERY_LOCATOR") != NULL;
    if (expired && !q->reread && q->job_rows >= 0) {
      reread_job(q, err);
      return;
    }
    /* a position without "rows" cannot say what to skip: a new job */
    if (!q->restarted &&
        ((expired && !q->reread) || status == SLUICE_ENOTFOUND)) {
      restart_job(q, err);
      return;
    }
    if (expired && q->reread)
      sluice_error_prefix(&e,
                          "%s: query job %s results: the locator expired "
                          "again after the job was read again from its "
                          "first page",
                          q->c->object, q->job);
    else
      sluice_error_prefix(&e, "%s: query job %s results", q->c->object, q->job);
    finish(q, status, &e);
    return;
  }
  if (q->paused || q->pending.len > 0) {
    q->body_done = 1; /* page_end once pending is fed */
    return;
  }
  page_end(q);
}

/* Every page read: the job's rows against its numberRecordsProcessed,
 * before the last batch moves the cursor.  Returns < 0 when the run is
 * over. */
static int count_check(struct b2_query *q)
{
  struct sluice_error e = {0};

  if (q->job_rows < 0 || q->job_expected < 0 || q->job_rows == q->job_expected)
    return 0;
  state_clear(q); /* the same job would come short again: a new one */
  sluice_error_set(&e, SLUICE_EPROTO, 1,
                   "%s: query job %s: %lld rows in its results, but its "
                   "numberRecordsProcessed says %lld: the extract is "
                   "incomplete (the cursor does not move)",
                   q->c->object, q->job, (long long)q->job_rows,
                   (long long)q->job_expected);
  finish(q, e.code, &e);
  return e.code;
}

static void page_end(struct b2_query *q)
{
  struct sf_ctx *c = q->c;
  struct sluice_error e = {0};
  int rc;

  q->body_done = 0;
  if ((rc = sluice_csv_reader_finish(q->reader, &e)) < 0) {
    sluice_error_prefix(&e, "%s: query job %s results", c->object, q->job);
    finish(q, rc, &e);
    return;
  }
  if (q->finished)
    return;
  if (!q->header_seen) {
    sluice_error_set(&e, SLUICE_EPROTO, 0,
                     "%s: query job %s: a results page without a header",
                     c->object, q->job);
    finish(q, e.code, &e);
    return;
  }
  if (q->page_expected >= 0 && q->page_rows != q->page_expected) {
    sluice_error_set(&e, SLUICE_EPROTO, 1,
                     "%s: query job %s, page %s: %lld rows arrived, "
                     "Sforce-NumberOfRecords says %lld",
                     c->object, q->job, *q->locator ? q->locator : "1",
                     (long long)q->page_rows, (long long)q->page_expected);
    finish(q, e.code, &e);
    return;
  }
  q->pages++;
  if (q->skip > 0 && q->skip_spans && q->next_locator == NULL) {
    sluice_error_set(&e, SLUICE_EPROTO, 0,
                     "%s: query job %s: read again from its first page, the "
                     "job has fewer rows than were read before (%lld short)",
                     c->object, q->job, (long long)q->skip);
    finish(q, e.code, &e);
    return;
  }
  if (q->skip > 0 && !q->skip_spans) {
    sluice_error_set(&e, SLUICE_EPROTO, 0,
                     "%s: query job %s: the page to resume at has fewer rows "
                     "than the checkpoint says were committed",
                     c->object, q->job);
    finish(q, e.code, &e);
    return;
  }
  if (q->job_rows >= 0)
    q->job_rows += q->page_rows;
  state_save(q, q->next_locator);
  if (q->next_locator != NULL && q->last_locator != NULL &&
      strcmp(q->last_locator, q->locator) == 0 &&
      q->last_skip == q->page_rows) {
    /* cur ends with this page: going on means the next page */
    char *n = strdup(q->next_locator);
    if (n == NULL) {
      fail_oom(q);
      return;
    }
    free(q->last_locator);
    q->last_locator = n;
    q->last_skip = 0;
  }
  q->page_rows = 0; /* counted in job_rows */
  if (q->next_locator == NULL) {
    if (count_check(q) == 0)
      extract_done(q);
    return;
  }
  free(q->locator);
  q->locator = q->next_locator;
  q->next_locator = NULL;
  request_page(q);
}

static void request_page(struct b2_query *q)
{
  struct sf_ctx *c = q->c;
  struct sluice_error e = {0};
  struct sluice_buf path = SLUICE_BUF_INIT;
  struct sf_api_opts o = {0};
  const char *p;
  int rc;

  if (q->stopping || c->host->stopping(c->ins)) {
    stop_here(q); /* the batches emitted carry where to go on */
    return;
  }
  rc = sf_api_base(c, &path);
  if (rc == 0)
    rc = sluice_buf_printf(&path, "/jobs/query/%s/results?maxRecords=%lld",
                           q->job, (long long)q->b->max_records);
  if (rc == 0 && *q->locator != '\0') {
    rc = sluice_buf_append_str(&path, "&locator=");
    for (p = q->locator; *p && rc == 0; p++) /* opaque: percent-encoded */
      rc = ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
            (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.')
               ? sluice_buf_append_char(&path, *p)
               : sluice_buf_printf(&path, "%%%02X", (unsigned char)*p);
  }
  if (rc < 0) {
    sluice_buf_free(&path);
    fail_oom(q);
    return;
  }
  o.accept = "text/csv";
  o.raw = 1;
  o.on_response = on_page_response;
  o.on_data = on_page_data;
  rc = sf_api_request_opts(c, "GET", sluice_buf_cstr(&path), NULL, 0, 0, NULL,
                           0, &o, on_page_done, q, &q->call, &e);
  sluice_buf_free(&path);
  if (rc < 0)
    finish(q, rc, &e);
}

/* --- the job --------------------------------------------------------------
 */

/* numberRecordsProcessed, -1 when the info has none. */
static int64_t job_count(json_t *info)
{
  json_t *n = json_object_get(info, "numberRecordsProcessed");

  return json_is_integer(n) ? (int64_t)json_integer_value(n) : -1;
}

static void on_job_done(void *arg, int status, json_t *info,
                        const struct sluice_error *err)
{
  struct b2_query *q = arg;
  struct sf_ctx *c = q->c;
  const char *state = json_string_value(json_object_get(info, "state"));
  struct sluice_error e = {0};

  q->poll = NULL;
  if (status < 0) {
    e = *err;
    sluice_error_prefix(&e, "%s: query job %s", c->object, q->job);
    finish(q, status, &e);
    return;
  }
  if (state != NULL && strcmp(state, "Failed") == 0) {
    state_clear(q);
    sluice_error_set(&e, SLUICE_EPROTO, 0, "%s: query job %s failed: %s",
                     c->object, q->job, b2_job_error_message(info));
    finish(q, e.code, &e);
    return;
  }
  if (state != NULL && strcmp(state, "Aborted") == 0) {
    state_clear(q);
    sluice_error_set(&e, SLUICE_ECANCELED, 0,
                     "%s: query job %s is Aborted (not by this pipeline): "
                     "no results to read",
                     c->object, q->job);
    finish(q, e.code, &e);
    return;
  }
  q->job_expected = job_count(info);
  if (q->job_expected > 0) /* for progress */
    q->c->host->count(q->c->ins, SLUICE_COUNT_EXPECTED, q->job_expected);
  SLUICE_LOG_I(c->host, c->ins, "%s: query job %s complete: %lld records",
               c->object, q->job, (long long)q->job_expected);
  request_page(q);
}

static void poll_job(struct b2_query *q)
{
  struct sluice_error e = {0};
  int rc =
      b2_job_poll_start(q->c, "query", q->job, q->b->poll_max_ms,
                        q->b->job_timeout_ms, on_job_done, q, &q->poll, &e);

  if (rc < 0)
    finish(q, rc, &e);
}

static void on_job_created(void *arg, int status, json_t *info,
                           const struct sluice_error *err)
{
  struct b2_query *q = arg;
  struct sf_ctx *c = q->c;
  const char *id = json_string_value(json_object_get(info, "id"));
  struct sluice_error e = {0};

  q->call = NULL;
  if (status < 0) {
    e = *err;
    if (b2_source_fallback(q->b, &e)) {
      q->finished = 1; /* api auto: the REST source took over */
      return;
    }
    sluice_error_prefix(&e, "%s: creating the query job", c->object);
    finish(q, status, &e);
    return;
  }
  if (id == NULL || (q->job = strdup(id)) == NULL) {
    sluice_error_set(&e, SLUICE_EPROTO, 0,
                     "%s: the query job's answer has no id", c->object);
    finish(q, e.code, &e);
    return;
  }
  SLUICE_LOG_I(c->host, c->ins, "%s: query job %s created", c->object, q->job);
  state_save(q, "");
  poll_job(q);
}

static void create_job(struct b2_query *q)
{
  struct sf_ctx *c = q->c;
  struct sluice_error e = {0};
  json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "operation",
                        c->include_deleted ? "queryAll" : "query", "query",
                        q->soql, "contentType", "CSV", "columnDelimiter",
                        "COMMA", "lineEnding", "LF");
  char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
  int rc;

  json_decref(j);
  free(q->job);
  q->job = NULL;
  q->job_rows = 0;
  q->job_expected = -1;
  q->page_rows = 0;
  q->skip = 0;
  q->skip_spans = 0;
  free(q->locator);
  q->locator = strdup("");
  if (body == NULL || q->locator == NULL) {
    free(body);
    fail_oom(q);
    return;
  }
  rc = b2_job_create(c, "query", body, on_job_created, q, &q->call, &e);
  free(body);
  if (rc < 0)
    finish(q, rc, &e);
}

static void restart_job(struct b2_query *q, const struct sluice_error *why)
{
  SLUICE_LOG_W(q->c->host, q->c->ins,
               "%s: query job %s: %s; starting again with a new job (rows "
               "read so far in this run come again)",
               q->c->object, q->job, why->message);
  q->restarted = 1;
  create_job(q);
}

/* The same job from its first page, past the rows read so far (those of
 * the pages before, of this one, and those still to skip). */
static void reread_job(struct b2_query *q, const struct sluice_error *why)
{
  int64_t done = q->job_rows + q->page_rows + q->skip;

  SLUICE_LOG_W(q->c->host, q->c->ins,
               "%s: query job %s: %s; reading the job again from its first "
               "page, past the %lld rows already read",
               q->c->object, q->job, why->message, (long long)done);
  q->reread = 1;
  q->skip_spans = 1;
  q->skip = done;
  q->job_rows = 0;
  q->page_rows = 0;
  free(q->next_locator);
  q->next_locator = NULL;
  free(q->locator);
  if ((q->locator = strdup("")) == NULL) {
    fail_oom(q);
    return;
  }
  request_page(q);
}

/* The job the state names: go on with it when it still answers
 * JobComplete, else a new one. */
static void on_resume_info(void *arg, int status, json_t *info,
                           const struct sluice_error *err)
{
  struct b2_query *q = arg;
  struct sf_ctx *c = q->c;
  const char *state = json_string_value(json_object_get(info, "state"));

  q->call = NULL;
  if (status < 0 || state == NULL || strcmp(state, "JobComplete") != 0) {
    SLUICE_LOG_I(c->host, c->ins,
                 "%s: query job %s of an earlier run %s: a new job", c->object,
                 q->job,
                 status < 0 ? err->message
                 : state    ? state
                            : "has no state");
    create_job(q);
    return;
  }
  q->job_expected = job_count(info);
  q->job_rows = 0;
  if (q->cp_job != NULL && strcmp(q->cp_job, q->job) == 0) {
    free(q->locator);
    q->locator = q->cp_locator;
    q->cp_locator = NULL;
    q->skip = q->cp_skip;
    /* a position of an older version has no "rows": no count check */
    q->job_rows = q->cp_rows >= q->cp_skip ? q->cp_rows - q->cp_skip : -1;
    SLUICE_LOG_I(c->host, c->ins,
                 "%s: resuming query job %s at page %s after %lld committed "
                 "rows",
                 c->object, q->job, *q->locator ? q->locator : "1",
                 (long long)q->skip);
  } else {
    SLUICE_LOG_I(c->host, c->ins,
                 "%s: reusing query job %s of an interrupted run from its "
                 "first page (nothing of it was committed)",
                 c->object, q->job);
  }
  request_page(q);
}

static int soql_build(struct b2_query *q, struct sluice_error *err)
{
  struct sf_ctx *c = q->c;
  struct sluice_buf s = SLUICE_BUF_INIT;
  char lit[40];
  size_t i;
  int rc = 0;

  if (q->b->soql != NULL) {
    q->soql = strdup(q->b->soql);
    return q->soql ? 0 : sluice_error_set(err, SLUICE_ENOMEM, 0, "oom");
  }
  rc = sluice_buf_append_str(&s, "SELECT ");
  for (i = 0; i < q->nfields && rc == 0; i++)
    rc = sluice_buf_printf(&s, "%s%s", i ? "," : "", q->fields[i].name);
  if (rc == 0)
    rc = sluice_buf_printf(&s, " FROM %s", c->object);
  if (rc == 0 && c->filter != NULL && *c->filter != '\0')
    rc = sluice_buf_printf(&s, " WHERE (%s)", c->filter);
  if (rc == 0 && q->have_base && q->has_modstamp &&
      strcmp(c->mode, "incremental") == 0) {
    sf_query_datetime_literal(q->base_us - c->lookback_ms * 1000, lit,
                              sizeof lit);
    rc = sluice_buf_printf(&s, "%s SystemModstamp >= %s",
                           (c->filter && *c->filter) ? " AND" : " WHERE", lit);
  }
  /* no ORDER BY: it disables PK chunking (section 4.1) */
  if (rc == 0 && (q->soql = strdup(sluice_buf_cstr(&s))) == NULL)
    rc = SLUICE_ENOMEM;
  sluice_buf_free(&s);
  return rc < 0 ? sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory") : 0;
}

static void on_describe(void *arg, int status, json_t *body,
                        const struct sluice_error *err)
{
  struct b2_query *q = arg;
  struct sf_ctx *c = q->c;
  struct sluice_error e = {0};
  char *st = NULL;
  json_t *sj;
  int rc = 0;

  q->call = NULL;
  if (status < 0) {
    e = *err;
    if (status == SLUICE_ENOTFOUND)
      sluice_error_prefix(&e, "object %s", c->object);
    finish(q, status, &e);
    return;
  }
  if (q->b->soql != NULL) {
    q->describe_fields = json_incref(json_object_get(body, "fields"));
    q->has_modstamp = 0;
  } else {
    rc = sf_describe_fields(c, body, &q->fields, &q->nfields, &q->has_modstamp,
                            &e);
    if (rc == 0 &&
        (q->schema = sf_describe_schema(q->fields, q->nfields)) == NULL)
      rc = sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
  }
  if (rc == 0)
    rc = soql_build(q, &e);
  if (rc < 0) {
    finish(q, rc, &e);
    return;
  }
  SLUICE_LOG_D(c->host, c->ins, "bulk query: %s", q->soql);
  /* a job of an interrupted run, for the same query? */
  if (c->host->state_get(c->ins, B2_STATE_KEY, &st) == 0 && st != NULL) {
    sj = json_loads(st, 0, NULL);
    c->host->free(st);
    const char *job = json_string_value(json_object_get(sj, "job"));
    const char *sq = json_string_value(json_object_get(sj, "soql"));
    if (job != NULL && sq != NULL && strcmp(sq, q->soql) == 0 &&
        (q->job = strdup(job)) != NULL && (q->locator = strdup("")) != NULL) {
      json_decref(sj);
      rc = b2_job_get(c, "query", q->job, on_resume_info, q, &q->call, &e);
      if (rc < 0)
        finish(q, rc, &e);
      return;
    }
    json_decref(sj);
  }
  create_job(q);
}

int b2_query_start(struct b2_ctx *b, const char *checkpoint,
                   struct sluice_error *err)
{
  struct sf_ctx *c = &b->sf;
  struct b2_query *q;
  struct sluice_buf path = SLUICE_BUF_INIT;
  int rc;

  if (b->q != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "already started");
  if ((q = calloc(1, sizeof *q)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  q->b = b;
  q->c = c;
  b->q = q;
  c->host->batch_limits(c->ins, &q->max_rows, &q->max_bytes);
  if (checkpoint != NULL && (rc = checkpoint_parse(q, checkpoint, err)) < 0)
    return rc;
  if (strcmp(c->mode, "incremental") != 0) {
    /* full: every run reads everything; only a position mid-job counts */
    q->have_base = 0;
    if (q->cp_job == NULL)
      q->have_seen = 0;
  }
  if (q->have_base) {
    char lit[40];
    sf_query_datetime_literal(q->base_us - c->lookback_ms * 1000, lit,
                              sizeof lit);
    SLUICE_LOG_I(c->host, c->ins,
                 "%s: changes since %s (the checkpoint less the lookback)",
                 c->object, lit);
  }
  rc = sf_api_base(c, &path);
  if (rc == 0)
    rc = sluice_buf_printf(&path, "/sobjects/%s/describe", c->object);
  if (rc < 0)
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  else
    rc = sf_api_get(c, sluice_buf_cstr(&path), NULL, 0, on_describe, q,
                    &q->call, err);
  sluice_buf_free(&path);
  return rc;
}

void b2_query_pause(struct b2_ctx *b)
{
  if (b->q != NULL)
    b->q->paused = 1;
}

void b2_query_resume(struct b2_ctx *b)
{
  struct b2_query *q = b->q;
  struct sluice_buf rest = SLUICE_BUF_INIT;

  if (q == NULL || q->finished)
    return;
  q->paused = 0;
  if (q->pending.len > 0) {
    /* feed may keep a new rest: take the old one out first */
    rest = q->pending;
    memset(&q->pending, 0, sizeof q->pending);
    if (feed(q, rest.data, rest.len) < 0) {
      sluice_buf_free(&rest);
      return;
    }
    sluice_buf_free(&rest);
    if (q->pending.len > 0 || q->paused)
      return;
  }
  if (q->body_done) {
    page_end(q);
    return;
  }
  if (q->call != NULL)
    sf_api_resume(q->call);
}

void b2_query_stop(struct b2_ctx *b)
{
  struct b2_query *q = b->q;

  if (q == NULL || q->finished)
    return;
  q->stopping = 1;
  if (q->call != NULL) { /* the page under way is dropped */
    sf_api_cancel(q->call);
    q->call = NULL;
  }
  b2_job_poll_cancel(q->poll);
  q->poll = NULL;
  stop_here(q);
}

/* cur holds whole rows and the position after them: emitted unless the
 * host said not to, then the end. */
static void stop_here(struct b2_query *q)
{
  if (q->cur != NULL && !q->paused && emit_cur(q) < 0)
    return;
  finish(q, 0, NULL);
}

void b2_query_free(struct b2_ctx *b)
{
  struct b2_query *q = b->q;

  if (q == NULL)
    return;
  if (q->call != NULL)
    sf_api_cancel(q->call);
  b2_job_poll_cancel(q->poll);
  if (q->cur != NULL)
    sluice_batch_unref(q->cur);
  sluice_csv_reader_free(q->reader);
  sluice_buf_free(&q->pending);
  json_decref(q->describe_fields);
  sf_fields_free(q->fields, q->nfields);
  sluice_schema_unref(q->schema);
  free(q->colmap);
  free(q->soql);
  free(q->cp_job);
  free(q->cp_locator);
  free(q->job);
  free(q->locator);
  free(q->next_locator);
  free(q->last_locator);
  free(q);
  b->q = NULL;
}
