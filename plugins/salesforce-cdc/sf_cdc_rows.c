/* plugins/salesforce-cdc/sf_cdc_rows.c - a chunk of change events into
 * rows.
 *
 * A destination row is a whole record, but an UPDATE event carries only
 * the fields that changed (contract 6.5), and a gap event none at all.
 * So each record id of the chunk is kept once, with its last change:
 *
 *   DELETE                 a DELETE row (Id set, the rest null)
 *   CREATE, UNDELETE       the record read whole by Id, or, without
 *                          fetch_full_records, built from the event (these
 *                          carry every non-empty field)
 *   UPDATE, GAP_*, other   the record read whole by Id
 *
 * Records are read with queryAll, 200 ids a request at most, so that one
 * deleted since the event comes back with IsDeleted and becomes a DELETE
 * row; an id the query does not return at all is gone for good (hard
 * deleted or purged) and becomes a DELETE row too.  Reading the record as
 * it is now, rather than as the event saw it, is safe: a later change has
 * its own event still to come, which reads it again.
 *
 * Batches: all but the last carry the checkpoint from before the chunk, the
 * last the chunk's own, so a kill between them reads the chunk again
 * (harmless: writes are upserts by Id) instead of losing its end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/convert.h>

#include "sf_cdc.h"

/* The Salesforce REST URI limit is 16,384 bytes; leave room for headers. */
#define CDC_PATH_BUDGET 15360
#define CDC_IDS_PER_QUERY 200

enum pending_op { PENDING_FETCH, PENDING_DELETE, PENDING_EVENT };

struct pending {
  char id[19];
  uint8_t op;
  json_t *payload; /* PENDING_EVENT: the event's payload (a reference) */
  int64_t commit_ms;
};

struct cdc_rows {
  struct cdc_ctx *x;
  const struct sf_field *f;
  size_t nf;
  struct sluice_schema *schema;
  long id_col, modstamp_col, deleted_col;

  struct pending *v;
  size_t n, cap;
  json_t *index; /* id -> position in v */

  /* cdc_rows_build */
  struct sluice_batch_queue *q;
  size_t max_rows, max_bytes;
  char *cp_before, *cp_after;
  struct sluice_batch *b;
  size_t next;   /* the next pending entry to look at */
  json_t *asked; /* ids of the query under way -> seen (bool) */
  struct sf_api_call *call;
  struct sluice_timer *defer;
  sf_step_cb cb;
  void *arg;
};

struct cdc_rows *cdc_rows_new(struct cdc_ctx *x, const struct sf_field *f,
                              size_t nfields, struct sluice_schema *schema)
{
  struct cdc_rows *r = calloc(1, sizeof *r);

  if (r == NULL || (r->index = json_object()) == NULL) {
    free(r);
    return NULL;
  }
  r->x = x;
  r->f = f;
  r->nf = nfields;
  r->schema = schema;
  r->id_col = sluice_schema_find(schema, "Id");
  r->modstamp_col = sluice_schema_find(schema, "SystemModstamp");
  r->deleted_col = sluice_schema_find(schema, "IsDeleted");
  return r;
}

static void pending_clear(struct cdc_rows *r)
{
  for (size_t i = 0; i < r->n; i++)
    json_decref(r->v[i].payload);
  r->n = 0;
  json_object_clear(r->index);
}

void cdc_rows_cancel(struct cdc_rows *r)
{
  if (r == NULL)
    return;
  if (r->call != NULL) {
    sf_api_cancel(r->call);
    r->call = NULL;
  }
  if (r->defer != NULL) {
    r->x->host->timer_stop(r->defer);
    r->defer = NULL;
  }
  if (r->b != NULL) {
    sluice_batch_unref(r->b);
    r->b = NULL;
  }
  json_decref(r->asked);
  r->asked = NULL;
  free(r->cp_before);
  free(r->cp_after);
  r->cp_before = r->cp_after = NULL;
  r->cb = NULL;
  pending_clear(r);
}

void cdc_rows_free(struct cdc_rows *r)
{
  if (r == NULL)
    return;
  cdc_rows_cancel(r);
  json_decref(r->index);
  free(r->v);
  free(r);
}

size_t cdc_rows_pending(const struct cdc_rows *r)
{
  return r->n;
}

static enum pending_op op_for(const struct cdc_rows *r, enum cdc_change c)
{
  switch (c) {
  case CDC_DELETE: return PENDING_DELETE;
  case CDC_CREATE:
  case CDC_UNDELETE:
    return r->x->fetch_full_records ? PENDING_FETCH : PENDING_EVENT;
  default: /* UPDATE carries changed fields only; gaps none */
    return PENDING_FETCH;
  }
}

int cdc_rows_add(struct cdc_rows *r, const struct cdc_event *ev,
                 struct sluice_error *err)
{
  enum pending_op op = op_for(r, ev->change);
  size_t i;
  json_t *idv;

  json_array_foreach(ev->record_ids, i, idv)
  {
    const char *id = json_string_value(idv);
    json_t *at = json_object_get(r->index, id);
    struct pending *p;

    if (at != NULL) {
      p = &r->v[json_integer_value(at)];
    } else {
      if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct pending *v = realloc(r->v, cap * sizeof *v);
        if (v == NULL)
          return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
        r->v = v;
        r->cap = cap;
      }
      p = &r->v[r->n];
      memset(p, 0, sizeof *p);
      snprintf(p->id, sizeof p->id, "%s", id);
      if (json_object_set_new(r->index, id, json_integer((json_int_t)r->n)) < 0)
        return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
      r->n++;
    }
    json_decref(p->payload);
    p->payload = op == PENDING_EVENT ? json_incref(ev->payload) : NULL;
    p->op = (uint8_t)op;
    p->commit_ms = ev->commit_ms;
  }
  return 0;
}

/* --- batches -------------------------------------------------------------- */

static int batch_push(struct cdc_rows *r, const char *cp)
{
  struct sluice_batch *b = r->b;

  r->b = NULL;
  if (cp != NULL && sluice_batch_set_checkpoint(b, cp) < 0) {
    sluice_batch_unref(b);
    return SLUICE_ENOMEM;
  }
  if (sluice_batch_queue_push(r->q, b) < 0) {
    sluice_batch_unref(b);
    return SLUICE_ENOMEM;
  }
  return 0;
}

/* The batch to add a row to, pushing a full one first. */
static int batch_ready(struct cdc_rows *r, struct sluice_error *err)
{
  if (r->b != NULL && sluice_batch_full(r->b) &&
      batch_push(r, r->cp_before) < 0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  if (r->b == NULL &&
      (r->b = sluice_batch_new(r->schema, r->max_rows, r->max_bytes)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  return 0;
}

static int delete_row(struct cdc_rows *r, const char *id,
                      struct sluice_error *err)
{
  size_t row;
  int rc;

  if ((rc = batch_ready(r, err)) < 0)
    return rc;
  if (sluice_batch_add_row(r->b, SLUICE_OP_DELETE, &row) < 0 ||
      sluice_batch_set_string(r->b, row, (size_t)r->id_col, id, strlen(id)) < 0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  return 0;
}

static int record_row(struct cdc_rows *r, json_t *rec, struct sluice_error *err)
{
  int rc;

  if ((rc = batch_ready(r, err)) < 0)
    return rc;
  return sf_query_record_to_row(r->f, r->nf, rec,
                                (size_t)r->x->b2.sf.max_value_bytes, r->b, err);
}

/* A CREATE or UNDELETE event as a REST-shaped record: the header dropped,
 * Id from recordIds, compound fields flattened the way describe lists
 * their components (BillingAddress.City -> BillingCity; Name.FirstName ->
 * FirstName), SystemModstamp from the commit when the event lacks it. */
static json_t *event_record(struct cdc_rows *r, const struct pending *p)
{
  json_t *rec = json_object(), *v;
  const char *k;

  if (rec == NULL)
    return NULL;
  json_object_foreach(p->payload, k, v)
  {
    if (strcmp(k, "ChangeEventHeader") == 0)
      continue;
    if (json_is_object(v)) {
      size_t kl = strlen(k);
      const char *ck;
      json_t *cv;
      json_object_foreach(v, ck, cv)
      {
        char name[256];
        if (kl > 7 && strcmp(k + kl - 7, "Address") == 0)
          snprintf(name, sizeof name, "%.*s%s", (int)(kl - 7), k, ck);
        else
          snprintf(name, sizeof name, "%s", ck);
        json_object_set(rec, name, cv);
      }
      if (sluice_schema_find(r->schema, k) < 0)
        continue;
    }
    json_object_set(rec, k, v);
  }
  json_object_set_new(rec, "Id", json_string(p->id));
  json_object_set_new(rec, "IsDeleted", json_false());
  if (r->modstamp_col >= 0 && json_object_get(rec, "SystemModstamp") == NULL &&
      p->commit_ms >= 0) {
    struct sluice_value tv = {.type = SLUICE_TYPE_TIMESTAMP};
    struct sluice_buf ts = SLUICE_BUF_INIT;
    tv.u.ts_us = p->commit_ms * 1000;
    if (sluice_value_format(&tv, &ts) == 0)
      json_object_set_new(rec, "SystemModstamp",
                          json_string(sluice_buf_cstr(&ts)));
    sluice_buf_free(&ts);
  }
  return rec;
}

/* --- reading records by Id ------------------------------------------------ */

static void step(struct cdc_rows *r);

static void end(struct cdc_rows *r, int status, const struct sluice_error *err)
{
  sf_step_cb cb = r->cb;
  void *arg = r->arg;
  struct sluice_error e = {0};

  if (status == 0 && r->b != NULL && batch_push(r, r->cp_after) < 0)
    status = sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
  else if (status < 0 && err != NULL)
    e = *err;
  cdc_rows_cancel(r); /* clears the chunk; keeps nothing */
  if (cb != NULL)
    cb(arg, status, status < 0 ? &e : NULL);
}

/* The query of the ids from r->next on that fit one request. */
static int fetch_path(struct cdc_rows *r, struct sluice_buf *path,
                      struct sluice_error *err)
{
  struct sf_ctx *c = &r->x->b2.sf;
  struct sluice_buf soql = SLUICE_BUF_INIT;
  size_t i, nids = 0, room;
  int rc = 0;

  json_decref(r->asked);
  if ((r->asked = json_object()) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  rc = sluice_buf_append_str(&soql, "SELECT ");
  for (i = 0; i < r->nf && rc == 0; i++)
    rc = sluice_buf_printf(&soql, "%s%s", i ? "," : "", r->f[i].name);
  if (rc == 0)
    rc = sluice_buf_printf(&soql, " FROM %s WHERE Id IN ()", c->object);
  if (rc == 0)
    rc = sf_query_first_path(c, sluice_buf_cstr(&soql), path);
  if (rc < 0) {
    sluice_buf_free(&soql);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  /* An id costs at most 18 characters and 9 of encoded quotes and comma. */
  room = path->len < CDC_PATH_BUDGET ? (CDC_PATH_BUDGET - path->len) / 27 : 0;
  if (room == 0) {
    sluice_buf_free(&soql);
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "%s: too many fields to read records by Id "
                            "within the URI limit: list fewer fields",
                            c->object);
  }
  soql.len--; /* the ')' */
  for (i = r->next;
       i < r->n && rc == 0 && nids < CDC_IDS_PER_QUERY && nids < room; i++) {
    if (r->v[i].op != PENDING_FETCH)
      continue;
    rc = sluice_buf_printf(&soql, "%s'%s'", nids ? "," : "", r->v[i].id);
    if (rc == 0 && json_object_set_new(r->asked, r->v[i].id, json_false()) < 0)
      rc = SLUICE_ENOMEM;
    nids++;
  }
  r->next = i;
  if (rc == 0)
    rc = sluice_buf_append_str(&soql, ")");
  sluice_buf_reset(path);
  if (rc == 0)
    rc = sf_query_first_path(c, sluice_buf_cstr(&soql), path);
  sluice_buf_free(&soql);
  return rc < 0 ? sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory") : 0;
}

static void on_records(void *arg, int status, json_t *body,
                       const struct sluice_error *err)
{
  struct cdc_rows *r = arg;
  struct sf_ctx *c = &r->x->b2.sf;
  struct sluice_error e = {0};
  json_t *recs = json_object_get(body, "records"), *rec, *seen;
  const char *next = json_string_value(json_object_get(body, "nextRecordsUrl"));
  const char *k;
  size_t i;
  int rc;

  r->call = NULL;
  if (status < 0) {
    e = *err;
    sluice_error_prefix(&e, "%s: reading changed records", c->object);
    end(r, status, &e);
    return;
  }
  if (!json_is_array(recs)) {
    sluice_error_set(&e, SLUICE_EPROTO, 0,
                     "%s: a query page without \"records\"", c->object);
    end(r, e.code, &e);
    return;
  }
  json_array_foreach(recs, i, rec)
  {
    const char *id = json_string_value(json_object_get(rec, "Id"));
    if (id == NULL || json_object_get(r->asked, id) == NULL)
      continue; /* not asked for: an 18-character id matched by its 15 */
    json_object_set_new(r->asked, id, json_true());
    if ((rc = record_row(r, rec, &e)) < 0) {
      end(r, rc, &e);
      return;
    }
  }
  if (!json_is_true(json_object_get(body, "done")) && next != NULL) {
    if (strncmp(next, "/services/", 10) != 0) {
      sluice_error_set(&e, SLUICE_EPROTO, 0,
                       "%s: nextRecordsUrl is not a /services/ path",
                       c->object);
      end(r, e.code, &e);
      return;
    }
    if ((rc = sf_api_get(c, next, NULL, 0, on_records, r, &r->call, &e)) < 0)
      end(r, rc, &e);
    return;
  }
  /* Asked for and not there, even with queryAll: gone for good. */
  json_object_foreach(r->asked, k, seen)
  {
    if (!json_is_true(seen) && (rc = delete_row(r, k, &e)) < 0) {
      end(r, rc, &e);
      return;
    }
  }
  step(r);
}

static void step(struct cdc_rows *r)
{
  struct sf_ctx *c = &r->x->b2.sf;
  struct sluice_error e = {0};
  struct sluice_buf path = SLUICE_BUF_INIT;
  int rc;

  while (r->next < r->n && r->v[r->next].op != PENDING_FETCH)
    r->next++;
  if (r->next == r->n) {
    end(r, 0, NULL);
    return;
  }
  rc = fetch_path(r, &path, &e);
  if (rc == 0)
    rc = sf_api_get(c, sluice_buf_cstr(&path), NULL, 0, on_records, r, &r->call,
                    &e);
  sluice_buf_free(&path);
  if (rc < 0)
    end(r, rc, &e);
}

static void on_defer(void *arg)
{
  struct cdc_rows *r = arg;

  r->x->host->timer_stop(r->defer);
  r->defer = NULL;
  step(r);
}

int cdc_rows_build(struct cdc_rows *r, struct sluice_batch_queue *q,
                   size_t max_rows, size_t max_bytes,
                   const char *checkpoint_before, const char *checkpoint_after,
                   sf_step_cb cb, void *arg, struct sluice_error *err)
{
  int rc = 0;

  r->q = q;
  r->max_rows = max_rows;
  r->max_bytes = max_bytes;
  r->cp_before = checkpoint_before ? strdup(checkpoint_before) : NULL;
  r->cp_after = strdup(checkpoint_after);
  r->next = 0;
  if (r->cp_after == NULL || (checkpoint_before && r->cp_before == NULL))
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  /* Deletions and rows the events carry whole first; reads after. */
  for (size_t i = 0; i < r->n && rc == 0; i++) {
    if (r->v[i].op == PENDING_DELETE) {
      rc = delete_row(r, r->v[i].id, err);
    } else if (r->v[i].op == PENDING_EVENT) {
      json_t *rec = event_record(r, &r->v[i]);
      rc = rec ? record_row(r, rec, err)
               : sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
      json_decref(rec);
    }
  }
  if (rc < 0) {
    cdc_rows_cancel(r);
    return rc;
  }
  r->cb = cb;
  r->arg = arg;
  /* cb never runs before this returns. */
  if ((r->defer = r->x->host->timer_start(r->x->b2.sf.ins, 0, 0, on_defer,
                                          r)) == NULL) {
    cdc_rows_cancel(r);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  return 0;
}
