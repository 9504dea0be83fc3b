/* plugins/salesforce-rest/sf_source.c - the source: describe, then the
 * query's pages one at a time, records into batches, the checkpoint.
 *
 * One API call is in flight at most (a wide object's page is completed by
 * further calls, sf_wide.c, before it becomes batches).  A page becomes one or
 * more batches (never bigger than the host's batch limits) in a queue; the
 * queue is emitted while the host has not paused the source, and the next page
 * is asked for only once the queue is empty and the source is not paused.
 *
 * The checkpoint, {"cursor": "<max SystemModstamp>", "id": "<its Id>"},
 * set on every batch, is the largest (SystemModstamp, Id) of every row in
 * that batch and the batches before it.  A run after it asks for
 * SystemModstamp >= cursor - lookback: rows at the cursor come again
 * (destinations upsert by Id, so that is harmless) and none is lost,
 * including rows sharing the cursor's stamp on either side of a page.
 *
 * Hard deletes (hard_deletes, incremental, with a checkpoint): before the
 * query, getDeleted (contract 2.4) for the window [start, end) with start
 * = ("deleted_until" of the checkpoint, else its cursor) less the
 * lookback, and end an hour past the local clock (the service covers up
 * to its own clock and says how far in latestDateCovered, which becomes
 * "deleted_until").  Each deletedRecords[].id is emitted as a DELETE row
 * (Id set, the rest null) ahead of the query's rows.  A start the delete
 * log no longer reaches (before earliestDateAvailable, or refused with
 * INVALID_REPLICATION_DATE) fails the run: going on would leave deleted
 * records in the destination for ever; the operator must resync in full
 * (delete the checkpoint).  A first run reads everything, so its
 * checkpoint's "deleted_until" is its own start: the delete log must then
 * reach back only that far, however old the newest record is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/convert.h>

#include "sf.h"

struct sf_source {
  struct sf_ctx *c;
  struct sf_field *fields;
  size_t nfields;
  int has_modstamp;
  struct sluice_schema *schema;
  size_t max_rows, max_bytes;

  /* the largest (SystemModstamp, Id) seen: the checkpoint */
  int have_cursor;
  int64_t cursor_us;
  char cursor_id[40];
  char *checkpoint; /* its JSON text */
  int have_deleted_until;
  int64_t deleted_until_us; /* getDeleted's latestDateCovered */
  char *first_path;         /* the query, sent after getDeleted */

  char *next_path; /* the next page to ask for; NULL: no more */
  int query_started;
  struct sf_wide *wide; /* the other field groups of a wide object */
  json_t *page;         /* the page they are completing */
  struct sf_api_call *call;
  uint64_t records, pages;

  struct sluice_batch_queue queue; /* ready to emit, in order */

  int paused, stopping, finished, in_pump;
};

static void pump(struct sf_source *s);

static void finish(struct sf_source *s, int status,
                   const struct sluice_error *err)
{
  struct sf_ctx *c = s->c;

  if (s->finished)
    return;
  s->finished = 1;
  if (s->call != NULL) {
    sf_api_cancel(s->call);
    s->call = NULL;
  }
  sf_wide_cancel(s->wide);
  json_decref(s->page);
  s->page = NULL;
  sluice_batch_queue_clear(&s->queue);
  if (status == 0)
    SLUICE_LOG_I(c->host, c->ins, "%s: %llu records in %llu pages", c->object,
                 (unsigned long long)s->records, (unsigned long long)s->pages);
  sf_source_end(c, status, status == 0 ? NULL : err);
}

/* --- the checkpoint ------------------------------------------------------ */

static int checkpoint_parse(struct sf_source *s, const char *text,
                            struct sluice_error *err)
{
  json_t *j = json_loads(text, 0, NULL);
  const char *cur = json_string_value(json_object_get(j, "cursor"));
  const char *id = json_string_value(json_object_get(j, "id"));
  const char *du = json_string_value(json_object_get(j, "deleted_until"));
  int rc = 0;

  if (cur == NULL ||
      sluice_parse_timestamp(cur, strlen(cur), &s->cursor_us) < 0)
    rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                          "the checkpoint has no readable \"cursor\" "
                          "(delete it to read everything again)");
  else {
    s->have_cursor = 1;
    snprintf(s->cursor_id, sizeof s->cursor_id, "%s", id ? id : "");
    if (du != NULL &&
        sluice_parse_timestamp(du, strlen(du), &s->deleted_until_us) == 0)
      s->have_deleted_until = 1;
  }
  json_decref(j);
  return rc;
}

static int checkpoint_update(struct sf_source *s)
{
  struct sluice_value v = {.type = SLUICE_TYPE_TIMESTAMP};
  struct sluice_buf ts = SLUICE_BUF_INIT;
  json_t *j;
  int rc = SLUICE_ENOMEM;

  v.u.ts_us = s->cursor_us;
  if (sluice_value_format(&v, &ts) == 0 &&
      (j = json_pack("{s:s, s:s}", "cursor", sluice_buf_cstr(&ts), "id",
                     s->cursor_id)) != NULL) {
    if (s->have_deleted_until) {
      char lit[40];
      sf_query_datetime_literal(s->deleted_until_us, lit, sizeof lit);
      json_object_set_new(j, "deleted_until", json_string(lit));
    }
    free(s->checkpoint);
    s->checkpoint = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    rc = s->checkpoint ? 0 : SLUICE_ENOMEM;
  }
  sluice_buf_free(&ts);
  return rc;
}

/* Moves the cursor forward to this record's (SystemModstamp, Id). */
static void cursor_see(struct sf_source *s, json_t *rec)
{
  const char *ms = json_string_value(json_object_get(rec, "SystemModstamp"));
  const char *id = json_string_value(json_object_get(rec, "Id"));
  int64_t us;

  if (ms == NULL || sluice_parse_timestamp(ms, strlen(ms), &us) < 0)
    return;
  if (!s->have_cursor || us > s->cursor_us ||
      (us == s->cursor_us && id && strcmp(id, s->cursor_id) > 0)) {
    s->have_cursor = 1;
    s->cursor_us = us;
    snprintf(s->cursor_id, sizeof s->cursor_id, "%s", id ? id : "");
  }
}

/* --- pages into batches -------------------------------------------------- */

static int batch_close(struct sf_source *s, struct sluice_batch *b)
{
  if (s->have_cursor && s->has_modstamp) {
    if (checkpoint_update(s) < 0 ||
        sluice_batch_set_checkpoint(b, s->checkpoint) < 0) {
      sluice_batch_unref(b);
      return SLUICE_ENOMEM;
    }
  }
  if (sluice_batch_queue_push(&s->queue, b) < 0) {
    sluice_batch_unref(b);
    return SLUICE_ENOMEM;
  }
  return 0;
}

static int page_to_batches(struct sf_source *s, json_t *records,
                           struct sluice_error *err)
{
  struct sluice_batch *b = NULL;
  size_t i;
  json_t *rec;
  int rc;

  json_array_foreach(records, i, rec)
  {
    if (b == NULL) {
      b = sluice_batch_new(s->schema, s->max_rows, s->max_bytes);
      if (b == NULL)
        return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
      sluice_batch_set_first_record(b, s->records + 1);
    }
    if ((rc = sf_query_record_to_row(s->fields, s->nfields, rec,
                                     (size_t)s->c->max_value_bytes, b, err)) <
        0) {
      sluice_batch_unref(b);
      return rc;
    }
    s->records++;
    cursor_see(s, rec);
    if (sluice_batch_full(b)) {
      rc = batch_close(s, b);
      b = NULL;
      if (rc < 0)
        return sluice_error_set(err, rc, 0, "out of memory");
    }
  }
  if (b != NULL && (rc = batch_close(s, b)) < 0)
    return sluice_error_set(err, rc, 0, "out of memory");
  return 0;
}

/* The page's records (complete) into batches, then on. */
static void page_records(struct sf_source *s, json_t *records)
{
  struct sluice_error e = {0};
  int rc;

  if ((rc = page_to_batches(s, records, &e)) < 0) {
    finish(s, rc, &e);
    return;
  }
  pump(s);
}

static void on_page_filled(void *arg, int status,
                           const struct sluice_error *err)
{
  struct sf_source *s = arg;
  json_t *page = s->page;

  s->page = NULL;
  if (status < 0)
    finish(s, status, err);
  else
    page_records(s, json_object_get(page, "records"));
  json_decref(page);
}

static void on_page(void *arg, int status, json_t *body,
                    const struct sluice_error *err)
{
  struct sf_source *s = arg;
  struct sf_ctx *c = s->c;
  struct sluice_error e = {0};
  json_t *records = json_object_get(body, "records");
  const char *next = json_string_value(json_object_get(body, "nextRecordsUrl"));
  int rc;

  s->call = NULL;
  if (status < 0) {
    finish(s, status, err);
    return;
  }
  if (!json_is_array(records)) {
    sluice_error_set(&e, SLUICE_EPROTO, 0,
                     "%s: a query page without \"records\"", c->object);
    finish(s, e.code, &e);
    return;
  }
  s->pages++;
  if (s->pages == 1) {
    json_int_t total = json_integer_value(json_object_get(body, "totalSize"));
    SLUICE_LOG_I(c->host, c->ins, "%s: %lld records to read", c->object,
                 (long long)total);
    c->host->count(c->ins, SLUICE_COUNT_EXPECTED, (int64_t)total);
  }
  free(s->next_path);
  s->next_path = NULL;
  if (!json_is_true(json_object_get(body, "done")) && next != NULL) {
    if (strncmp(next, "/services/", 10) != 0) {
      sluice_error_set(&e, SLUICE_EPROTO, 0,
                       "%s: nextRecordsUrl is not a /services/ path",
                       c->object);
      finish(s, e.code, &e);
      return;
    }
    if ((s->next_path = strdup(next)) == NULL) {
      sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
      finish(s, e.code, &e);
      return;
    }
  }
  if (s->wide == NULL || json_array_size(records) == 0) {
    page_records(s, records);
    return;
  }
  s->page = json_incref(body);
  if ((rc = sf_wide_fill(s->wide, records, on_page_filled, s, &e)) < 0) {
    json_decref(s->page);
    s->page = NULL;
    finish(s, rc, &e);
  }
}

static int request_page(struct sf_source *s, const char *path,
                        struct sluice_error *err)
{
  char opt[64];
  struct sluice_http_header h = {"Sforce-Query-Options", opt};

  snprintf(opt, sizeof opt, "batchSize=%lld", (long long)s->c->batch_size);
  return sf_api_get(s->c, path, &h, 1, on_page, s, &s->call, err);
}

/* Emits what is ready while not paused, then asks for the next page or
 * ends. */
static void pump(struct sf_source *s)
{
  struct sf_ctx *c = s->c;
  struct sluice_error err = {0};
  int rc;

  if (s->in_pump || s->finished)
    return;
  s->in_pump = 1;
  while (!s->paused && s->queue.len > 0 && !s->finished) {
    struct sluice_batch *b = sluice_batch_queue_pop(&s->queue);
    if ((rc = sf_emit(c, b, &err)) < 0) {
      s->in_pump = 0;
      finish(s, rc, &err);
      return;
    }
  }
  s->in_pump = 0;
  if (s->finished || s->queue.len > 0 || s->call != NULL || s->page != NULL)
    return;
  if (s->stopping || c->host->stopping(c->ins) ||
      (s->query_started && s->next_path == NULL)) {
    finish(s, 0, NULL);
    return;
  }
  if (s->paused || !s->query_started)
    return;
  if ((rc = request_page(s, s->next_path, &err)) < 0)
    finish(s, rc, &err);
}

/* --- hard deletes: getDeleted ------------------------------------------- */

static int64_t minute_floor(int64_t us)
{
  int64_t m = 60 * (int64_t)1000000;
  return us >= 0 ? us / m * m : -((-us + m - 1) / m) * m;
}

static int64_t deleted_start(struct sf_source *s)
{
  return (s->have_deleted_until ? s->deleted_until_us : s->cursor_us) -
         s->c->lookback_ms * 1000;
}

static void resync_error(struct sf_source *s, const char *start,
                         const char *detail, struct sluice_error *e)
{
  sluice_error_set(e, SLUICE_EINVAL, 0,
                   "%s: hard_deletes: the delete log no longer reaches back "
                   "to %s (%s): deletions before it cannot be known, a full "
                   "resync is needed (delete the pipeline's checkpoint and "
                   "run again)",
                   s->c->object, start, detail);
}

static void on_deleted(void *arg, int status, json_t *body,
                       const struct sluice_error *err)
{
  struct sf_source *s = arg;
  struct sf_ctx *c = s->c;
  struct sluice_error e = {0};
  json_t *recs = json_object_get(body, "deletedRecords"), *r;
  const char *earliest =
      json_string_value(json_object_get(body, "earliestDateAvailable"));
  const char *latest =
      json_string_value(json_object_get(body, "latestDateCovered"));
  int64_t start = minute_floor(deleted_start(s)), eus, lus;
  struct sluice_batch *b = NULL;
  long idcol = sluice_schema_find(s->schema, "Id");
  char lit[40];
  size_t i, row, n = 0;
  int rc;

  s->call = NULL;
  sf_query_datetime_literal(start, lit, sizeof lit);
  if (status < 0) {
    e = *err;
    if (strstr(e.message, "INVALID_REPLICATION_DATE") != NULL)
      resync_error(s, lit, e.message, &e);
    else
      sluice_error_prefix(&e, "%s: getDeleted", c->object);
    finish(s, e.code ? e.code : status, &e);
    return;
  }
  if (!json_is_array(recs) || latest == NULL ||
      sluice_parse_timestamp(latest, strlen(latest), &lus) < 0 || idcol < 0) {
    sluice_error_set(&e, SLUICE_EPROTO, 0,
                     "%s: getDeleted: an answer without deletedRecords or "
                     "latestDateCovered",
                     c->object);
    finish(s, e.code, &e);
    return;
  }
  if (earliest != NULL &&
      sluice_parse_timestamp(earliest, strlen(earliest), &eus) == 0 &&
      start < eus) {
    char det[96];
    snprintf(det, sizeof det, "earliestDateAvailable is %s", earliest);
    resync_error(s, lit, det, &e);
    finish(s, e.code, &e);
    return;
  }
  json_array_foreach(recs, i, r)
  {
    const char *id = json_string_value(json_object_get(r, "id"));
    if (id == NULL)
      continue;
    if (b == NULL &&
        (b = sluice_batch_new(s->schema, s->max_rows, s->max_bytes)) == NULL)
      break;
    if (sluice_batch_add_row(b, SLUICE_OP_DELETE, &row) < 0 ||
        sluice_batch_set_string(b, row, (size_t)idcol, id, strlen(id)) < 0)
      break;
    n++;
    if (sluice_batch_full(b)) {
      rc = batch_close(s, b);
      b = NULL;
      if (rc < 0)
        break;
    }
  }
  if (i < json_array_size(recs)) {
    if (b != NULL)
      sluice_batch_unref(b);
    sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
    finish(s, e.code, &e);
    return;
  }
  /* The checkpoint of these batches and those after: deletions are known
   * up to latestDateCovered. */
  s->have_deleted_until = 1;
  s->deleted_until_us = lus;
  if (b != NULL && (rc = batch_close(s, b)) < 0) {
    sluice_error_set(&e, rc, 0, "out of memory");
    finish(s, e.code, &e);
    return;
  }
  SLUICE_LOG_I(c->host, c->ins, "%s: %zu records deleted from %s to %s",
               c->object, n, lit, latest);
  s->query_started = 1;
  if ((rc = request_page(s, s->first_path, &e)) < 0) {
    finish(s, rc, &e);
    return;
  }
  pump(s);
}

static int request_deleted(struct sf_source *s, struct sluice_error *err)
{
  struct sf_ctx *c = s->c;
  struct sluice_buf path = SLUICE_BUF_INIT;
  int64_t start = minute_floor(deleted_start(s));
  int64_t end =
      minute_floor((int64_t)time(NULL) * 1000000 + 3600 * (int64_t)1000000);
  char a[40], z[40];
  int rc;

  if (end <= start)
    end = start + 120 * (int64_t)1000000;
  sf_query_datetime_literal(start, a, sizeof a);
  sf_query_datetime_literal(end, z, sizeof z);
  /* "2024-05-01T12:00:00Z": the colons percent-encoded (contract 2.4) */
  rc = sf_api_base(c, &path);
  if (rc == 0)
    rc = sluice_buf_printf(&path,
                           "/sobjects/%s/deleted/?start=%.13s%%3A%.2s%%3A%.3s"
                           "&end=%.13s%%3A%.2s%%3A%.3s",
                           c->object, a, a + 14, a + 17, z, z + 14, z + 17);
  if (rc < 0)
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  else
    rc = sf_api_get(c, sluice_buf_cstr(&path), NULL, 0, on_deleted, s, &s->call,
                    err);
  sluice_buf_free(&path);
  return rc;
}

/* --- describe, then the first page --------------------------------------- */

static void on_describe(void *arg, int status, json_t *body,
                        const struct sluice_error *err)
{
  struct sf_source *s = arg;
  struct sf_ctx *c = s->c;
  struct sluice_error e = {0};
  struct sluice_buf soql = SLUICE_BUF_INIT, path = SLUICE_BUF_INIT;
  int64_t since = -1;
  int rc;

  s->call = NULL;
  if (status < 0) {
    e = *err;
    if (status == SLUICE_ENOTFOUND)
      sluice_error_prefix(&e, "object %s", c->object);
    finish(s, status, &e);
    return;
  }
  rc = sf_describe_fields(c, body, &s->fields, &s->nfields, &s->has_modstamp,
                          &e);
  if (rc == 0 &&
      (s->schema = sf_describe_schema(s->fields, s->nfields)) == NULL)
    rc = sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
  if (rc == 0 && strcmp(c->mode, "incremental") == 0 && s->have_cursor)
    since = s->cursor_us - c->lookback_ms * 1000;
  if (rc == 0)
    rc = sf_wide_plan(c, s->fields, s->nfields, s->has_modstamp, since, &soql,
                      &s->wide, &e);
  if (rc == 0 && sf_query_first_path(c, sluice_buf_cstr(&soql), &path) < 0)
    rc = sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
  if (rc == 0)
    SLUICE_LOG_D(c->host, c->ins, "query: %s", sluice_buf_cstr(&soql));
  if (rc == 0 && c->hard_deletes && since >= 0) {
    if ((s->first_path = strdup(sluice_buf_cstr(&path))) == NULL)
      rc = sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
    else
      rc = request_deleted(s, &e);
  } else if (rc == 0) {
    s->query_started = 1;
    rc = request_page(s, sluice_buf_cstr(&path), &e);
  }
  sluice_buf_free(&soql);
  sluice_buf_free(&path);
  if (rc < 0)
    finish(s, rc, &e);
}

int sf_source_start(struct sluice_instance *ins, void *ctx,
                    const char *checkpoint, struct sluice_error *err)
{
  struct sf_ctx *c = ctx;
  struct sf_source *s;
  struct sluice_buf path = SLUICE_BUF_INIT;
  int rc;

  (void)ins;
  if (c->src != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "already started");
  s = calloc(1, sizeof *s);
  if (s == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  s->c = c;
  c->src = s;
  c->host->batch_limits(c->ins, &s->max_rows, &s->max_bytes);
  if (checkpoint != NULL && strcmp(c->mode, "incremental") == 0 &&
      (rc = checkpoint_parse(s, checkpoint, err)) < 0)
    return rc;
  /* A first, full read reflects every deletion before it: the delete log
   * is needed only from its start (less the lookback, for skew). */
  if (c->hard_deletes && !s->have_cursor &&
      strcmp(c->mode, "incremental") == 0) {
    s->have_deleted_until = 1;
    s->deleted_until_us = (int64_t)time(NULL) * 1000000;
  }
  if (s->have_cursor) {
    char lit[40];
    sf_query_datetime_literal(s->cursor_us - c->lookback_ms * 1000, lit,
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
    rc = sf_api_get(c, sluice_buf_cstr(&path), NULL, 0, on_describe, s,
                    &s->call, err);
  sluice_buf_free(&path);
  return rc;
}

void sf_source_pause(struct sluice_instance *ins, void *ctx)
{
  struct sf_ctx *c = ctx;

  (void)ins;
  if (c->keys != NULL)
    sf_keys_pause(c);
  else if (c->src != NULL)
    c->src->paused = 1;
}

void sf_source_resume(struct sluice_instance *ins, void *ctx)
{
  struct sf_ctx *c = ctx;

  (void)ins;
  if (c->keys != NULL) {
    sf_keys_resume(c);
    return;
  }
  if (c->src == NULL)
    return;
  c->src->paused = 0;
  pump(c->src);
}

void sf_source_stop(struct sluice_instance *ins, void *ctx)
{
  struct sf_ctx *c = ctx;
  struct sf_source *s = c->src;

  (void)ins;
  if (c->keys != NULL) {
    sf_keys_stop(c);
    return;
  }
  if (s == NULL || s->finished)
    return;
  s->stopping = 1;
  if (s->call != NULL) { /* the page under way is dropped */
    sf_api_cancel(s->call);
    s->call = NULL;
  }
  if (s->page != NULL) {
    sf_wide_cancel(s->wide);
    json_decref(s->page);
    s->page = NULL;
  }
  if (s->paused) /* nothing more may be emitted: end here */
    finish(s, 0, NULL);
  else
    pump(s);
}

void sf_source_free(struct sf_ctx *c)
{
  struct sf_source *s = c->src;

  sf_keys_free(c);
  if (s == NULL)
    return;
  if (s->call != NULL)
    sf_api_cancel(s->call);
  sf_wide_free(s->wide);
  json_decref(s->page);
  sluice_batch_queue_clear(&s->queue);
  sf_fields_free(s->fields, s->nfields);
  sluice_schema_unref(s->schema);
  free(s->checkpoint);
  free(s->next_path);
  free(s->first_path);
  free(s);
  c->src = NULL;
}
