/* plugins/snowflake-sql/sfk_source.c - the source: one query (or every row
 * of a view or table), its result partitions one at a time (contract 2.8).
 *
 * The statement's first answer carries the rowType, the partition list and
 * partition 0; partitions 1..n-1 are fetched by handle, each only once the
 * batches of the one before are emitted and the host has not paused the
 * source: one partition's rows in memory at most, whatever the result's
 * size.  The total is checked against numRows at the end: a short result
 * fails the run rather than pass for complete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/quote.h>

#include "sfk.h"

struct sfk_source {
  struct sfk_ctx *c;
  struct sfk_column *cols;
  size_t ncols;
  struct sluice_schema *schema;
  size_t max_rows, max_bytes;
  char *handle;
  size_t npartitions, next_partition;
  int64_t num_rows, rows;
  struct sfk_call *call;

  struct sluice_batch_queue queue; /* ready to emit, in order */
  int paused, stopping, finished, in_pump, started;
};

static void pump(struct sfk_source *s);

static void finish(struct sfk_source *s, int status,
                   const struct sluice_error *err)
{
  struct sfk_ctx *c = s->c;

  if (s->finished)
    return;
  s->finished = 1;
  if (s->call != NULL) {
    sfk_call_cancel(s->call);
    s->call = NULL;
  }
  sluice_batch_queue_clear(&s->queue);
  if (status == 0)
    SLUICE_LOG_I(c->host, c->ins, "%lld rows in %zu partitions",
                 (long long)s->rows, s->npartitions);
  c->host->source_done(c->ins, status, status == 0 ? NULL : err);
}

/* A partition's rows into batches on the queue. */
static int rows_to_batches(struct sfk_source *s, json_t *data,
                           struct sluice_error *err)
{
  struct sluice_batch *b = NULL;
  json_t *row;
  size_t i;
  int rc;

  if (!json_is_array(data))
    return sluice_error_set(err, SLUICE_EPROTO, 0,
                            "partition %zu of statement %s has no \"data\"",
                            s->next_partition, s->handle);
  json_array_foreach(data, i, row)
  {
    if (b == NULL) {
      if ((b = sluice_batch_new(s->schema, s->max_rows, s->max_bytes)) == NULL)
        return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
      sluice_batch_set_first_record(b, (uint64_t)s->rows + 1);
    }
    if ((rc = sfk_row_to_batch(s->cols, s->ncols, row, b, err)) < 0) {
      sluice_batch_unref(b);
      sluice_error_prefix(err, "row %lld", (long long)s->rows + 1);
      return rc;
    }
    s->rows++;
    if (sluice_batch_full(b)) {
      if ((rc = sluice_batch_queue_push(&s->queue, b)) < 0) {
        sluice_batch_unref(b);
        return sluice_error_set(err, rc, 0, "out of memory");
      }
      b = NULL;
    }
  }
  if (b != NULL && sluice_batch_queue_push(&s->queue, b) < 0) {
    sluice_batch_unref(b);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  s->next_partition++;
  return 0;
}

static void on_partition(void *arg, int status, json_t *body,
                         const struct sluice_error *err)
{
  struct sfk_source *s = arg;
  struct sluice_error e = {0};
  int rc;

  s->call = NULL;
  if (status < 0) {
    finish(s, status, err);
    return;
  }
  if ((rc = rows_to_batches(s, json_object_get(body, "data"), &e)) < 0) {
    finish(s, rc, &e);
    return;
  }
  pump(s);
}

static void on_result(void *arg, int status, json_t *body,
                      const struct sluice_error *err)
{
  struct sfk_source *s = arg;
  struct sfk_ctx *c = s->c;
  struct sluice_error e = {0};
  json_t *meta = json_object_get(body, "resultSetMetaData");
  const char *h = json_string_value(json_object_get(body, "statementHandle"));
  int rc;

  s->call = NULL;
  if (status < 0) {
    finish(s, status, err);
    return;
  }
  rc = sfk_columns_from_rowtype(json_object_get(meta, "rowType"), &s->cols,
                                &s->ncols, &e);
  if (rc == 0 && (s->schema = sfk_columns_schema(s->cols, s->ncols)) == NULL)
    rc = sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
  if (rc == 0 && (h == NULL || (s->handle = strdup(h)) == NULL))
    rc = sluice_error_set(&e, SLUICE_EPROTO, 0,
                          "a result without a statementHandle");
  if (rc < 0) {
    finish(s, rc, &e);
    return;
  }
  s->num_rows = json_integer_value(json_object_get(meta, "numRows"));
  c->host->count(c->ins, SLUICE_COUNT_EXPECTED, s->num_rows);
  s->npartitions = json_array_size(json_object_get(meta, "partitionInfo"));
  if (s->npartitions == 0)
    s->npartitions = 1;
  SLUICE_LOG_I(c->host, c->ins, "%lld rows to read in %zu partitions (%s)",
               (long long)s->num_rows, s->npartitions, s->handle);
  if ((rc = rows_to_batches(s, json_object_get(body, "data"), &e)) < 0) {
    finish(s, rc, &e);
    return;
  }
  pump(s);
}

static void pump(struct sfk_source *s)
{
  struct sfk_ctx *c = s->c;
  struct sluice_error err = {0};
  char what[64];
  int rc;

  if (s->in_pump || s->finished)
    return;
  s->in_pump = 1;
  while (!s->paused && s->queue.len > 0 && !s->finished) {
    struct sluice_batch *b = sluice_batch_queue_pop(&s->queue);
    if ((rc = c->host->emit(c->ins, b, &err)) < 0) {
      s->in_pump = 0;
      finish(s, rc, &err);
      return;
    }
  }
  s->in_pump = 0;
  if (s->finished || s->queue.len > 0 || s->call != NULL || !s->started)
    return;
  if (s->stopping || c->host->stopping(c->ins)) {
    finish(s, 0, NULL);
    return;
  }
  if (s->schema != NULL && s->next_partition >= s->npartitions) {
    if (s->rows != s->num_rows) {
      sluice_error_set(&err, SLUICE_EPROTO, 0,
                       "statement %s: %lld rows read, numRows said %lld",
                       s->handle, (long long)s->rows, (long long)s->num_rows);
      finish(s, err.code, &err);
    } else {
      finish(s, 0, NULL);
    }
    return;
  }
  if (s->paused || s->schema == NULL)
    return;
  snprintf(what, sizeof what, "partition %zu", s->next_partition);
  if ((rc = sfk_fetch(c, what, s->handle, (long)s->next_partition, on_partition,
                      s, &s->call, &err)) < 0)
    finish(s, rc, &err);
}

/* The source's SELECT: the query, or every row of the view; with fields,
 * only those columns of it (a key sweep), each named as asked. */
static int source_sql(struct sfk_ctx *c, const struct sluice_strlist *fields,
                      struct sluice_buf *sql)
{
  size_t n;
  int rc = 0;

  if (fields != NULL) {
    rc = sluice_buf_append_str(sql, "SELECT ");
    for (size_t i = 0; i < fields->n && rc == 0; i++) {
      const char *f = fields->v[i];
      /* A plain name unquoted (Snowflake resolves it without case, as
       * result columns are upper case); any other quoted as it is. */
      int plain =
          (*f >= 'A' && *f <= 'Z') || (*f >= 'a' && *f <= 'z') || *f == '_';
      for (const char *p = f; *p && plain; p++)
        plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                (*p >= '0' && *p <= '9') || *p == '_';
      rc = sluice_buf_append_str(sql, i ? ", q." : "q.");
      if (rc == 0 && plain)
        rc = sluice_buf_append_str(sql, f);
      else if (rc == 0)
        rc = sluice_sql_quote_ident(f, sql);
      rc = rc ? rc : sluice_buf_append_str(sql, " AS ");
      rc = rc ? rc : sluice_sql_quote_ident(f, sql);
    }
    rc = rc ? rc : sluice_buf_append_str(sql, " FROM (");
  }
  if (rc == 0 && c->query != NULL) {
    /* A trailing ';' would end the subquery's statement. */
    n = strlen(c->query);
    while (fields != NULL && n > 0 &&
           (c->query[n - 1] == ';' || c->query[n - 1] == ' ' ||
            c->query[n - 1] == '\n' || c->query[n - 1] == '\t'))
      n--;
    rc = sluice_buf_append(sql, c->query, n);
  } else if (rc == 0) {
    rc = sluice_buf_append_str(sql, "SELECT * FROM ");
    if (rc == 0 && sfk_sql_table_name(c, c->view, sql) < 0)
      rc = SLUICE_EINVAL;
  }
  if (rc == 0 && fields != NULL)
    rc = sluice_buf_append_str(sql, ") AS q");
  return rc;
}

static int start(struct sfk_ctx *c, const struct sluice_strlist *fields,
                 struct sluice_error *err)
{
  struct sfk_source *s;
  struct sluice_buf sql = SLUICE_BUF_INIT;
  int rc;

  if (c->src != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "already started");
  if ((s = calloc(1, sizeof *s)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  s->c = c;
  c->src = s;
  c->host->batch_limits(c->ins, &s->max_rows, &s->max_bytes);
  rc = source_sql(c, fields, &sql);
  if (rc < 0)
    rc = sluice_error_set(err, rc, 0, "view: '%s' cannot be quoted",
                          c->view ? c->view : "");
  else
    rc = sfk_exec(c, "query", sluice_buf_cstr(&sql), NULL, 1, on_result, s,
                  &s->call, err);
  sluice_buf_free(&sql);
  s->started = 1;
  return rc;
}

int sfk_source_start(struct sluice_instance *ins, void *ctx,
                     const char *checkpoint, struct sluice_error *err)
{
  (void)ins;
  (void)checkpoint; /* every run reads the whole result */
  return start(ctx, NULL, err);
}

/* Every row is live here: the keys are the query's (or view's) key
 * columns, every row of it. */
int sfk_source_keys(struct sluice_instance *ins, void *ctx,
                    const struct sluice_strlist *fields,
                    struct sluice_error *err)
{
  (void)ins;
  if (fields->n == 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "no key fields");
  return start(ctx, fields, err);
}

void sfk_source_pause(struct sluice_instance *ins, void *ctx)
{
  struct sfk_ctx *c = ctx;

  (void)ins;
  if (c->src != NULL)
    c->src->paused = 1;
}

void sfk_source_resume(struct sluice_instance *ins, void *ctx)
{
  struct sfk_ctx *c = ctx;

  (void)ins;
  if (c->src == NULL)
    return;
  c->src->paused = 0;
  pump(c->src);
}

void sfk_source_stop(struct sluice_instance *ins, void *ctx)
{
  struct sfk_ctx *c = ctx;
  struct sfk_source *s = c->src;

  (void)ins;
  if (s == NULL || s->finished)
    return;
  s->stopping = 1;
  if (s->call != NULL) {
    sfk_call_cancel(s->call);
    s->call = NULL;
  }
  if (s->paused)
    finish(s, 0, NULL);
  else
    pump(s);
}

void sfk_source_free(struct sfk_ctx *c)
{
  struct sfk_source *s = c->src;

  if (s == NULL)
    return;
  if (s->call != NULL)
    sfk_call_cancel(s->call);
  sluice_batch_queue_clear(&s->queue);
  sfk_columns_free(s->cols, s->ncols);
  sluice_schema_unref(s->schema);
  free(s->handle);
  free(s);
  c->src = NULL;
}
