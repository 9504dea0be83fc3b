/* plugins/salesforce-common/sf_keys.c - source_keys (ABI 1.2 key sweeps):
 * the key fields of every live record of the object, under the pipeline's
 * filter, by the REST query (SELECT <fields> FROM <object> [WHERE
 * (<filter>)]; /query, never /queryAll: deleted records are not live).
 * The checkpoint, the incremental cursor and getDeleted play no part.
 *
 * Pages as sf_source.c reads them: one call in flight, a page into batches
 * (strings: a key is compared as text), emitted while the host has not
 * paused the source, the next page only once they are all out.  Used by
 * salesforce-rest and salesforce-bulk2 alike (a key is small: REST pages of
 * batch_size records are cheap enough and need no job). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sf.h"

struct sf_keys {
  struct sf_ctx *c;
  struct sluice_schema *schema;
  size_t nfields;
  size_t max_rows, max_bytes;
  char *next_path; /* NULL: no more pages */
  int started;     /* the first page was asked for */
  struct sf_api_call *call;
  struct sluice_batch_queue queue;
  uint64_t records, pages;
  int paused, stopping, finished, in_pump;
};

static void keys_pump(struct sf_keys *k);

static void keys_finish(struct sf_keys *k, int status,
                        const struct sluice_error *err)
{
  struct sf_ctx *c = k->c;

  if (k->finished)
    return;
  k->finished = 1;
  if (k->call != NULL) {
    sf_api_cancel(k->call);
    k->call = NULL;
  }
  sluice_batch_queue_clear(&k->queue);
  if (status == 0)
    SLUICE_LOG_I(c->host, c->ins, "%s: %llu keys in %llu pages", c->object,
                 (unsigned long long)k->records, (unsigned long long)k->pages);
  c->host->source_done(c->ins, status, status == 0 ? NULL : err);
}

/* A record's member by name, ignoring case (SOQL names are not case
 * sensitive; the answer spells them as describe does). */
static json_t *member(json_t *rec, const char *name)
{
  const char *key;
  json_t *v = json_object_get(rec, name);

  if (v != NULL)
    return v;
  json_object_foreach(rec, key, v)
  {
    if (strcasecmp(key, name) == 0)
      return v;
  }
  return NULL;
}

static int set_text(struct sluice_batch *b, size_t row, size_t col, json_t *v)
{
  char text[64];

  if (v == NULL || json_is_null(v))
    return 0;
  if (json_is_string(v))
    return sluice_batch_set_string(b, row, col, json_string_value(v),
                                   json_string_length(v));
  if (json_is_integer(v))
    snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
  else if (json_is_real(v))
    snprintf(text, sizeof text, "%.17g", json_real_value(v));
  else if (json_is_boolean(v))
    snprintf(text, sizeof text, "%s", json_is_true(v) ? "true" : "false");
  else
    return SLUICE_EDATA;
  return sluice_batch_set_string(b, row, col, text, strlen(text));
}

static int page_to_batches(struct sf_keys *k, json_t *records,
                           struct sluice_error *err)
{
  struct sluice_batch *b = NULL;
  json_t *rec;
  size_t i, row;
  int rc = 0;

  json_array_foreach(records, i, rec)
  {
    if (b == NULL &&
        (b = sluice_batch_new(k->schema, k->max_rows, k->max_bytes)) == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    if ((rc = sluice_batch_add_row(b, SLUICE_OP_UPSERT, &row)) < 0)
      break;
    for (size_t f = 0; f < k->nfields && rc == 0; f++)
      rc = set_text(b, row, f,
                    member(rec, sluice_schema_field(k->schema, f)->name));
    if (rc < 0)
      break;
    k->records++;
    if (sluice_batch_full(b)) {
      if ((rc = sluice_batch_queue_push(&k->queue, b)) < 0)
        break;
      b = NULL;
    }
  }
  if (rc == 0 && b != NULL && (rc = sluice_batch_queue_push(&k->queue, b)) == 0)
    b = NULL;
  if (b != NULL)
    sluice_batch_unref(b);
  if (rc == SLUICE_EDATA)
    return sluice_error_set(
        err, rc, 0, "%s: a key field holds a compound value", k->c->object);
  return rc < 0 ? sluice_error_set(err, rc, 0, "out of memory") : 0;
}

static void on_page(void *arg, int status, json_t *body,
                    const struct sluice_error *err)
{
  struct sf_keys *k = arg;
  struct sluice_error e = {0};
  json_t *records = json_object_get(body, "records");
  const char *next = json_string_value(json_object_get(body, "nextRecordsUrl"));
  int rc;

  k->call = NULL;
  if (status < 0) {
    keys_finish(k, status, err);
    return;
  }
  if (!json_is_array(records)) {
    sluice_error_set(&e, SLUICE_EPROTO, 0,
                     "%s: a query page without \"records\"", k->c->object);
    keys_finish(k, e.code, &e);
    return;
  }
  k->pages++;
  free(k->next_path);
  k->next_path = NULL;
  if (!json_is_true(json_object_get(body, "done")) && next != NULL) {
    if (strncmp(next, "/services/", 10) != 0)
      rc = sluice_error_set(&e, SLUICE_EPROTO, 0,
                            "%s: nextRecordsUrl is not a /services/ path",
                            k->c->object);
    else if ((k->next_path = strdup(next)) == NULL)
      rc = sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
    else
      rc = 0;
    if (rc < 0) {
      keys_finish(k, rc, &e);
      return;
    }
  }
  if ((rc = page_to_batches(k, records, &e)) < 0) {
    keys_finish(k, rc, &e);
    return;
  }
  keys_pump(k);
}

static int request_page(struct sf_keys *k, const char *path,
                        struct sluice_error *err)
{
  char opt[64];
  struct sluice_http_header h = {"Sforce-Query-Options", opt};

  snprintf(opt, sizeof opt, "batchSize=%lld", (long long)k->c->batch_size);
  return sf_api_get(k->c, path, &h, 1, on_page, k, &k->call, err);
}

static void keys_pump(struct sf_keys *k)
{
  struct sf_ctx *c = k->c;
  struct sluice_error err = {0};
  int rc;

  if (k->in_pump || k->finished)
    return;
  k->in_pump = 1;
  while (!k->paused && k->queue.len > 0 && !k->finished) {
    struct sluice_batch *b = sluice_batch_queue_pop(&k->queue);
    if ((rc = c->host->emit(c->ins, b, &err)) < 0) {
      k->in_pump = 0;
      keys_finish(k, rc, &err);
      return;
    }
  }
  k->in_pump = 0;
  if (k->finished || k->queue.len > 0 || k->call != NULL)
    return;
  if (k->stopping || c->host->stopping(c->ins) ||
      (k->started && k->next_path == NULL)) {
    keys_finish(k, 0, NULL);
    return;
  }
  if (k->paused)
    return;
  if ((rc = request_page(k, k->next_path, &err)) < 0)
    keys_finish(k, rc, &err);
}

/* A SOQL field name: letters, digits, '_' and '.' (a relationship path). */
static int soql_name(const char *s)
{
  if (*s == '\0')
    return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '_' || *s == '.'))
      return 0;
  return 1;
}

int sf_source_keys(struct sluice_instance *ins, void *ctx,
                   const struct sluice_strlist *fields,
                   struct sluice_error *err)
{
  struct sf_ctx *c = ctx;
  struct sf_keys *k;
  struct sluice_buf soql = SLUICE_BUF_INIT, path = SLUICE_BUF_INIT;
  struct sluice_buf q = SLUICE_BUF_INIT;
  int rc = 0;

  (void)ins;
  if (c->src != NULL || c->keys != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "already started");
  if (fields->n == 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "no key fields");
  for (size_t i = 0; i < fields->n; i++)
    if (!soql_name(fields->v[i]))
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "key field '%s' is not a field name",
                              fields->v[i]);
  if ((k = calloc(1, sizeof *k)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  k->c = c;
  c->keys = k;
  c->host->batch_limits(c->ins, &k->max_rows, &k->max_bytes);
  k->nfields = fields->n;
  if ((k->schema = sluice_schema_new(fields->n)) == NULL)
    rc = SLUICE_ENOMEM;
  for (size_t i = 0; i < fields->n && rc == 0; i++)
    rc = sluice_schema_set(k->schema, i, fields->v[i], SLUICE_TYPE_STRING);
  rc = rc ? rc : sluice_buf_append_str(&soql, "SELECT ");
  for (size_t i = 0; i < fields->n && rc == 0; i++)
    rc = sluice_buf_printf(&soql, "%s%s", i ? "," : "", fields->v[i]);
  rc = rc ? rc : sluice_buf_printf(&soql, " FROM %s", c->object);
  if (rc == 0 && c->filter != NULL && *c->filter != '\0')
    rc = sluice_buf_printf(&soql, " WHERE (%s)", c->filter);
  /* /query: deleted records (the recycle bin) are not live. */
  rc = rc ? rc : sf_api_base(c, &path);
  rc = rc ? rc : sluice_buf_append_str(&path, "/query?");
  rc = rc ? rc : sluice_form_append(&q, "q", sluice_buf_cstr(&soql));
  rc = rc ? rc : sluice_buf_append(&path, q.data, q.len);
  if (rc < 0)
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  else {
    SLUICE_LOG_D(c->host, c->ins, "keys: %s", sluice_buf_cstr(&soql));
    k->started = 1;
    rc = request_page(k, sluice_buf_cstr(&path), err);
  }
  sluice_buf_free(&soql);
  sluice_buf_free(&path);
  sluice_buf_free(&q);
  return rc;
}

void sf_keys_pause(struct sf_ctx *c)
{
  c->keys->paused = 1;
}

void sf_keys_resume(struct sf_ctx *c)
{
  c->keys->paused = 0;
  keys_pump(c->keys);
}

void sf_keys_stop(struct sf_ctx *c)
{
  struct sf_keys *k = c->keys;

  if (k->finished)
    return;
  k->stopping = 1;
  if (k->call != NULL) {
    sf_api_cancel(k->call);
    k->call = NULL;
  }
  if (k->paused)
    keys_finish(k, 0, NULL);
  else
    keys_pump(k);
}

void sf_keys_free(struct sf_ctx *c)
{
  struct sf_keys *k = c->keys;

  if (k == NULL)
    return;
  if (k->call != NULL)
    sf_api_cancel(k->call);
  sluice_batch_queue_clear(&k->queue);
  sluice_schema_unref(k->schema);
  free(k->next_path);
  free(k);
  c->keys = NULL;
}
