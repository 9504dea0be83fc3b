/* plugins/salesforce-rest/sf_dest.c - the destination: sObject Collections
 * (contract section 3).
 *
 *   insert  POST   /composite/sobjects                 (not retry-safe)
 *   update  PATCH  /composite/sobjects                 (by Id: retry-safe)
 *   upsert  PATCH  /composite/sobjects/{obj}/{extId}   (retry-safe)
 *   delete  DELETE /composite/sobjects?ids=..&allOrNone=..
 *
 * A batch is sent in order, in requests of at most 200 records, one request
 * in flight at a time; consecutive rows of one kind (write or delete) share
 * a request.  A DELETE row (SLUICE_OP_DELETE) is deleted by its Id whatever
 * the operation; without an Id it is rejected here.  With operation
 * "delete" every row is deleted by Id.
 *
 * Values: strings as JSON strings, numbers as JSON numbers (decimals from
 * their exact text), booleans, dates "YYYY-MM-DD", times "HH:MM:SS.mmmZ",
 * timestamps "YYYY-MM-DDTHH:MM:SS.mmmZ", binaries as base64 text, nulls as
 * JSON null (Collections take a null as "set the field to null"; there is
 * no fieldsToNull in the JSON API).  The Id column is left out of insert
 * and upsert records (Salesforce refuses it there).
 *
 * A request answered 200 carries one result per record, in order; every
 * success:false record goes to the reject file (reject_file) with its
 * original values, the operation and "STATUS_CODE: message [fields]", and
 * is counted as SLUICE_COUNT_REJECTED (the run then ends with exit 3).  Any
 * other answer fails the run with the REST error.  A 401
 * INVALID_SESSION_ID logs in again once and resends.
 *
 * The reject file is written on the thread pool.  Nothing is buffered
 * between requests: dest_commit has nothing to flush. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sluice/convert.h>
#include <sluice/quote.h>

#include "sf.h"

#define SF_COLL_MAX 200

enum sf_op { OP_INSERT, OP_UPDATE, OP_UPSERT, OP_DELETE };
static const char *const op_names[] = {"insert", "update", "upsert", "delete"};

enum row_kind { K_WRITE, K_DELETE, K_REJECT };

struct sf_dest {
  struct sf_ctx *c;
  enum sf_op op;
  struct sluice_schema *schema;
  long id_col, ext_col;
  char *reject_path;
  int reject_fd; /* -1: not open yet */
  int dead;      /* fini ran while something was in flight */

  /* the batch in flight */
  struct sluice_batch *batch;
  sluice_done_cb done;
  void *done_arg;
  size_t pos; /* the next row to look at */
  size_t chunk[SF_COLL_MAX];
  size_t nchunk;
  enum row_kind chunk_kind;
  struct sf_api_call *call; /* the Collections request in flight */
  struct sluice_timer *timer;
  int working; /* a reject write on the thread pool */
  struct sluice_buf body, url;

  /* rejects formatted on the loop thread, written by the pool */
  struct sluice_buf rejects;
  int64_t nrejects;
  int wstatus;
  char werr[256];

  /* commit */
  sluice_done_cb commit_done;
  void *commit_arg;
};

static void advance(struct sf_dest *d);

static void dest_destroy(struct sf_dest *d)
{
  if (d->reject_fd >= 0)
    close(d->reject_fd);
  if (d->batch != NULL)
    sluice_batch_unref(d->batch);
  sluice_schema_unref(d->schema);
  sluice_buf_free(&d->body);
  sluice_buf_free(&d->url);
  sluice_buf_free(&d->rejects);
  free(d->reject_path);
  free(d);
}

/* --- text helpers -------------------------------------------------------- */

static int json_str(struct sluice_buf *b, const char *s, size_t n)
{
  size_t i;
  int rc = sluice_buf_append_char(b, '"');

  for (i = 0; i < n && rc == 0; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') {
      rc = sluice_buf_append_char(b, '\\');
      if (rc == 0)
        rc = sluice_buf_append_char(b, (char)ch);
    } else if (ch < 0x20) {
      rc = sluice_buf_printf(b, "\\u%04x", ch);
    } else {
      rc = sluice_buf_append_char(b, (char)ch);
    }
  }
  if (rc == 0)
    rc = sluice_buf_append_char(b, '"');
  return rc;
}

static void civil(int64_t days, int *y, int *m, int *dd)
{
  sluice_civil_from_days((int32_t)days, y, m, dd);
}

/* One value as JSON. */
static int json_value(struct sluice_buf *b, const struct sluice_value *v)
{
  int y, m, dd;

  switch (v->type) {
  case SLUICE_TYPE_NULL: return sluice_buf_append_str(b, "null");
  case SLUICE_TYPE_BOOL:
    return sluice_buf_append_str(b, v->u.b ? "true" : "false");
  case SLUICE_TYPE_INT64: return sluice_buf_printf(b, "%" PRId64, v->u.i);
  case SLUICE_TYPE_DOUBLE: {
    char t[40];
    int prec;
    if (!isfinite(v->u.d))
      return sluice_buf_append_str(b, "null");
    for (prec = 15; prec <= 17; prec++) {
      snprintf(t, sizeof t, "%.*g", prec, v->u.d);
      if (strtod(t, NULL) == v->u.d)
        break;
    }
    return sluice_buf_append_str(b, t);
  }
  case SLUICE_TYPE_DECIMAL: {
    /* the exact text; JSON wants a digit before a point */
    const char *s = v->u.str;
    size_t n = v->len;
    int rc = 0;
    if (n > 0 && s[0] == '-') {
      rc = sluice_buf_append_char(b, '-');
      s++;
      n--;
    }
    if (rc == 0 && (n == 0 || s[0] == '.'))
      rc = sluice_buf_append_char(b, '0');
    if (rc == 0)
      rc = sluice_buf_append(b, s, n);
    return rc;
  }
  case SLUICE_TYPE_DATE:
    civil(v->u.date, &y, &m, &dd);
    return sluice_buf_printf(b, "\"%04d-%02d-%02d\"", y, m, dd);
  case SLUICE_TYPE_TIME: {
    int64_t ms = v->u.time_us / 1000;
    return sluice_buf_printf(b, "\"%02d:%02d:%02d.%03dZ\"", (int)(ms / 3600000),
                             (int)(ms / 60000 % 60), (int)(ms / 1000 % 60),
                             (int)(ms % 1000));
  }
  case SLUICE_TYPE_TIMESTAMP: {
    int64_t us = v->u.ts_us;
    int64_t ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
    int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
    int64_t sod = s - days * 86400;
    civil(days, &y, &m, &dd);
    return sluice_buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", y, m,
                             dd, (int)(sod / 3600), (int)(sod / 60 % 60),
                             (int)(sod % 60), (int)(ms - s * 1000));
  }
  case SLUICE_TYPE_BINARY: {
    struct sluice_buf t = SLUICE_BUF_INIT;
    int rc = sluice_value_format(v, &t);
    if (rc == 0)
      rc = json_str(b, t.data ? t.data : "", t.len);
    sluice_buf_free(&t);
    return rc;
  }
  default: /* STRING */ return json_str(b, v->u.str, v->len);
  }
}

static int csv_cell(struct sluice_buf *b, const char *s, size_t n)
{
  size_t i;
  int rc = 0;

  for (i = 0; i < n; i++)
    if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
      break;
  if (i == n)
    return sluice_buf_append(b, s, n);
  rc = sluice_buf_append_char(b, '"');
  for (i = 0; i < n && rc == 0; i++) {
    if (s[i] == '"')
      rc = sluice_buf_append_char(b, '"');
    if (rc == 0)
      rc = sluice_buf_append_char(b, s[i]);
  }
  if (rc == 0)
    rc = sluice_buf_append_char(b, '"');
  return rc;
}

/* --- rejects ---------------------------------------------------------------
 */

/* One rejected row: its values, the operation, the first statusCode and the
 * full error text.  Logged (without values) when there is no reject file. */
static void reject_row(struct sf_dest *d, size_t row, const char *status_code,
                       const char *text)
{
  struct sf_ctx *c = d->c;
  struct sluice_buf cell = SLUICE_BUF_INIT;
  size_t i, n = sluice_schema_nfields(d->schema);
  uint64_t first = sluice_batch_first_record(d->batch);
  const char *opname = sluice_batch_op(d->batch, row) == SLUICE_OP_DELETE
                           ? "delete"
                           : op_names[d->op];

  d->nrejects++;
  if (d->reject_path == NULL) {
    if (first > 0)
      SLUICE_LOG_W(c->host, c->ins, "%s: record %" PRIu64 " rejected (%s): %s",
                   c->object, first + row, opname, text);
    else
      SLUICE_LOG_W(c->host, c->ins, "%s: a record was rejected (%s): %s",
                   c->object, opname, text);
    return;
  }
  for (i = 0; i < n; i++) {
    const struct sluice_value *v = sluice_batch_value(d->batch, row, i);
    sluice_buf_reset(&cell);
    if (v != NULL)
      sluice_value_format(v, &cell);
    csv_cell(&d->rejects, cell.data ? cell.data : "", cell.len);
    sluice_buf_append_char(&d->rejects, ',');
  }
  sluice_buf_append_str(&d->rejects, opname);
  sluice_buf_append_char(&d->rejects, ',');
  csv_cell(&d->rejects, status_code, strlen(status_code));
  sluice_buf_append_char(&d->rejects, ',');
  csv_cell(&d->rejects, text, strlen(text));
  sluice_buf_append_char(&d->rejects, '\n');
  sluice_buf_free(&cell);
}

/* Thread pool: opens the file (0600, appended; the header when it is
 * empty) and appends the formatted rows. */
static void reject_work(void *arg)
{
  struct sf_dest *d = arg;
  const char *p;
  size_t left;
  struct stat st;

  d->wstatus = 0;
  if (d->reject_fd < 0) {
    struct sluice_buf h = SLUICE_BUF_INIT;
    size_t i, n = sluice_schema_nfields(d->schema);
    d->reject_fd =
        open(d->reject_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (d->reject_fd < 0 || fstat(d->reject_fd, &st) != 0) {
      snprintf(d->werr, sizeof d->werr, "reject_file: %s: %s", d->reject_path,
               strerror(errno));
      d->wstatus = SLUICE_EIO;
      return;
    }
    if (st.st_size == 0) {
      for (i = 0; i < n; i++) {
        const char *name = sluice_schema_field(d->schema, i)->name;
        csv_cell(&h, name, strlen(name));
        sluice_buf_append_char(&h, ',');
      }
      sluice_buf_append_str(&h, "sf__Operation,sf__StatusCode,sf__Error\n");
      if (write(d->reject_fd, h.data, h.len) != (ssize_t)h.len) {
        snprintf(d->werr, sizeof d->werr, "reject_file: %s: write: %s",
                 d->reject_path, strerror(errno));
        d->wstatus = SLUICE_EIO;
      }
    }
    sluice_buf_free(&h);
    if (d->wstatus < 0)
      return;
  }
  p = d->rejects.data;
  left = d->rejects.len;
  while (left > 0) {
    ssize_t w = write(d->reject_fd, p, left);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      snprintf(d->werr, sizeof d->werr, "reject_file: %s: write: %s",
               d->reject_path, strerror(errno));
      d->wstatus = SLUICE_EIO;
      return;
    }
    p += w;
    left -= (size_t)w;
  }
}

/* --- the batch -------------------------------------------------------------
 */

static void batch_finish(struct sf_dest *d, int status,
                         const struct sluice_error *err)
{
  sluice_done_cb done = d->done;
  void *arg = d->done_arg;
  struct sluice_batch *b = d->batch;

  d->batch = NULL;
  d->done = NULL;
  sluice_buf_reset(&d->rejects);
  if (b != NULL)
    sluice_batch_unref(b);
  if (done != NULL)
    done(arg, status, status < 0 ? err : NULL);
}

static void reject_after(void *arg, int status)
{
  struct sf_dest *d = arg;
  struct sluice_error err = {0};

  d->working = 0;
  if (d->dead) {
    dest_destroy(d);
    return;
  }
  if (status == 0 && d->wstatus < 0)
    status = d->wstatus;
  if (status < 0) {
    sluice_error_set(&err, status, 0, "%s",
                     d->wstatus < 0 ? d->werr : "reject_file: not written");
    batch_finish(d, status, &err);
    return;
  }
  sluice_buf_reset(&d->rejects);
  advance(d);
}

/* The kind of a row, and for deletes and rejects the reason. */
static enum row_kind row_kind(struct sf_dest *d, size_t row, const char **why)
{
  int del =
      d->op == OP_DELETE || sluice_batch_op(d->batch, row) == SLUICE_OP_DELETE;
  const struct sluice_value *v;
  size_t i;

  if (!del)
    return K_WRITE;
  if (d->id_col < 0) {
    *why = d->op == OP_DELETE
               ? "no Id column: records are deleted by Id"
               : "a DELETE row cannot be applied: the rows have no Id "
                 "column (Salesforce deletes by Id only)";
    return K_REJECT;
  }
  v = sluice_batch_value(d->batch, row, (size_t)d->id_col);
  if (v == NULL || v->type != SLUICE_TYPE_STRING || v->len < 15 ||
      v->len > 18) {
    *why = "a DELETE row without a valid Id cannot be applied";
    return K_REJECT;
  }
  for (i = 0; i < v->len; i++) {
    char ch = v->u.str[i];
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
          (ch >= 'A' && ch <= 'Z'))) {
      *why = "a DELETE row whose Id is malformed cannot be applied";
      return K_REJECT;
    }
  }
  return K_DELETE;
}

static int build_body(struct sf_dest *d)
{
  struct sf_ctx *c = d->c;
  struct sluice_buf *b = &d->body;
  size_t i, j, n = sluice_schema_nfields(d->schema);
  int rc;

  sluice_buf_reset(b);
  rc = sluice_buf_printf(b, "{\"allOrNone\":%s,\"records\":[",
                         c->all_or_none ? "true" : "false");
  for (i = 0; i < d->nchunk && rc == 0; i++) {
    size_t row = d->chunk[i];
    rc = sluice_buf_append_str(b, i ? ",{\"attributes\":{\"type\":"
                                    : "{\"attributes\":{\"type\":");
    if (rc == 0)
      rc = json_str(b, c->object, strlen(c->object));
    if (rc == 0)
      rc = sluice_buf_append_char(b, '}');
    for (j = 0; j < n && rc == 0; j++) {
      const char *name = sluice_schema_field(d->schema, j)->name;
      if ((long)j == d->id_col && d->op != OP_UPDATE)
        continue; /* no Id in insert or upsert records */
      rc = sluice_buf_append_char(b, ',');
      if (rc == 0)
        rc = json_str(b, name, strlen(name));
      if (rc == 0)
        rc = sluice_buf_append_char(b, ':');
      if (rc == 0)
        rc = json_value(b, sluice_batch_value(d->batch, row, j));
    }
    if (rc == 0)
      rc = sluice_buf_append_char(b, '}');
  }
  if (rc == 0)
    rc = sluice_buf_append_str(b, "]}");
  return rc;
}

static int build_url(struct sf_dest *d)
{
  struct sf_ctx *c = d->c;
  struct sluice_buf *u = &d->url;
  size_t i;
  int rc;

  sluice_buf_reset(u);
  rc = sluice_buf_printf(u, "/services/data/v%s/composite/sobjects",
                         c->api_version);
  if (rc == 0 && d->chunk_kind == K_DELETE) {
    rc = sluice_buf_append_str(u, "?ids=");
    for (i = 0; i < d->nchunk && rc == 0; i++) {
      const struct sluice_value *v =
          sluice_batch_value(d->batch, d->chunk[i], (size_t)d->id_col);
      if (i)
        rc = sluice_buf_append_char(u, ',');
      if (rc == 0)
        rc = sluice_buf_append(u, v->u.str, v->len);
    }
    if (rc == 0)
      rc = sluice_buf_printf(u, "&allOrNone=%s",
                             c->all_or_none ? "true" : "false");
  } else if (rc == 0 && d->op == OP_UPSERT) {
    rc = sluice_buf_printf(u, "/%s/%s", c->object, c->external_id);
  }
  return rc;
}

/* "STATUS: message [f1, f2]; ..." of one failed result, and its first
 * statusCode. */
static void result_errors(json_t *res, struct sluice_buf *text,
                          const char **first_code)
{
  json_t *errs = json_object_get(res, "errors"), *e, *f;
  size_t i, k;

  *first_code = "UNKNOWN";
  sluice_buf_reset(text);
  json_array_foreach(errs, i, e)
  {
    const char *sc = json_string_value(json_object_get(e, "statusCode"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    json_t *fields = json_object_get(e, "fields");
    if (i == 0 && sc != NULL)
      *first_code = sc;
    sluice_buf_printf(text, "%s%s: %s", i ? "; " : "", sc ? sc : "UNKNOWN",
                      msg ? msg : "");
    if (json_array_size(fields) > 0) {
      sluice_buf_append_str(text, " [");
      json_array_foreach(fields, k, f)
      {
        sluice_buf_printf(text, "%s%s", k ? ", " : "",
                          json_string_value(f) ? json_string_value(f) : "?");
      }
      sluice_buf_append_char(text, ']');
    }
  }
  if (text->len == 0)
    sluice_buf_append_str(text, "UNKNOWN: the record failed without errors");
}

/* The answer to one Collections request: one result per record sent. */
static void on_coll_result(void *arg, int status, json_t *j,
                           const struct sluice_error *aerr)
{
  struct sf_dest *d = arg;
  struct sf_ctx *c = d->c;
  struct sluice_error err = {0};
  struct sluice_buf text = SLUICE_BUF_INIT;
  char what[128];
  json_t *res;
  size_t i;

  d->call = NULL;
  snprintf(what, sizeof what, "%s %s (sObject Collections)", c->object,
           d->chunk_kind == K_DELETE ? "delete" : op_names[d->op]);
  if (status < 0) {
    err = *aerr;
    sluice_error_prefix(&err, "%s", what);
    batch_finish(d, status, &err);
    return;
  }
  if (!json_is_array(j) || json_array_size(j) != d->nchunk) {
    sluice_error_set(&err, SLUICE_EPROTO, 0,
                     "%s: expected %zu results, the answer has %zu", what,
                     d->nchunk, json_is_array(j) ? json_array_size(j) : 0);
    batch_finish(d, SLUICE_EPROTO, &err);
    return;
  }
  json_array_foreach(j, i, res)
  {
    const char *code;
    if (json_is_true(json_object_get(res, "success")))
      continue;
    result_errors(res, &text, &code);
    reject_row(d, d->chunk[i], code, sluice_buf_cstr(&text));
  }
  sluice_buf_free(&text);
  d->nchunk = 0;
  advance(d);
}

static int send_chunk(struct sf_dest *d, struct sluice_error *err)
{
  static const struct sluice_http_header json_body = {"Content-Type",
                                                      "application/json"};
  struct sf_ctx *c = d->c;

  if (build_url(d) < 0 || (d->chunk_kind != K_DELETE && build_body(d) < 0))
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  if (d->chunk_kind == K_DELETE) /* by Id: idempotent */
    return sf_api_request(c, "DELETE", sluice_buf_cstr(&d->url), NULL, 0,
                          SLUICE_HTTP_RETRY_SAFE, NULL, 0, on_coll_result, d,
                          &d->call, err);
  c->host->count(c->ins, SLUICE_COUNT_BYTES_OUT, (int64_t)d->body.len);
  /* An insert sent twice makes two records; an update by Id or an upsert
   * by external id gives the same result again. */
  return sf_api_request(c, d->op == OP_INSERT ? "POST" : "PATCH",
                        sluice_buf_cstr(&d->url), d->body.data, d->body.len,
                        d->op == OP_INSERT ? 0 : SLUICE_HTTP_RETRY_SAFE,
                        &json_body, 1, on_coll_result, d, &d->call, err);
}

/* Writes rejects that are waiting, else sends the next request, else ends
 * the batch. */
static void advance(struct sf_dest *d)
{
  struct sf_ctx *c = d->c;
  struct sluice_error err = {0};
  size_t n = sluice_batch_nrows(d->batch);
  const char *why = NULL;
  int rc;

  for (;;) {
    if (d->rejects.len > 0) {
      d->working = 1;
      if ((rc = c->host->work_submit(c->ins, reject_work, reject_after, d)) <
          0) {
        d->working = 0;
        sluice_error_set(&err, rc, 0, "reject_file: cannot queue the write");
        batch_finish(d, rc, &err);
      }
      return;
    }
    if (d->nrejects > 0) {
      c->host->count(c->ins, SLUICE_COUNT_REJECTED, d->nrejects);
      d->nrejects = 0;
    }
    if (d->pos >= n) {
      batch_finish(d, 0, NULL);
      return;
    }
    d->nchunk = 0;
    while (d->pos < n && d->nchunk < SF_COLL_MAX) {
      enum row_kind k = row_kind(d, d->pos, &why);
      if (k == K_REJECT) {
        reject_row(d, d->pos, "SLUICE_NO_ID", why);
        d->pos++;
        continue;
      }
      if (d->nchunk > 0 && k != d->chunk_kind)
        break;
      d->chunk_kind = k;
      d->chunk[d->nchunk++] = d->pos++;
    }
    if (d->nchunk == 0)
      continue; /* only rejects: write them, then go on */
    if ((rc = send_chunk(d, &err)) < 0) {
      batch_finish(d, rc, &err);
    }
    return;
  }
}

static void on_start_timer(void *arg)
{
  struct sf_dest *d = arg;

  d->c->host->timer_stop(d->timer);
  d->timer = NULL;
  if (d->batch == NULL) { /* dest_open */
    sluice_done_cb done = d->done;
    d->done = NULL;
    done(d->done_arg, 0, NULL);
    return;
  }
  advance(d);
}

/* --- the callbacks ---------------------------------------------------------
 */

static long find_col(struct sluice_schema *s, const char *name)
{
  size_t i, n = sluice_schema_nfields(s);

  for (i = 0; i < n; i++)
    if (strcasecmp(sluice_schema_field(s, i)->name, name) == 0)
      return (long)i;
  return -1;
}

int sf_dest_open(struct sluice_instance *ins, void *ctx,
                 struct sluice_schema *schema, sluice_done_cb done, void *arg,
                 struct sluice_error *err)
{
  struct sf_ctx *c = ctx;
  struct sf_dest *d;
  int i;

  (void)ins;
  if (c->dst != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "already open");
  if ((d = calloc(1, sizeof *d)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  d->c = c;
  d->reject_fd = -1;
  for (i = 0; i < 4; i++)
    if (strcmp(c->operation, op_names[i]) == 0)
      d->op = (enum sf_op)i;
  d->id_col = find_col(schema, "Id");
  if (d->op == OP_UPSERT) {
    if (c->external_id == NULL || !sluice_soql_is_identifier(c->external_id) ||
        strchr(c->external_id, '.') != NULL) {
      free(d);
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "operation upsert needs external_id: the "
                              "External ID field records are matched by");
    }
    if ((d->ext_col = find_col(schema, c->external_id)) < 0) {
      free(d);
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "upsert by %s: the rows have no %s column",
                              c->external_id, c->external_id);
    }
  } else if ((d->op == OP_UPDATE || d->op == OP_DELETE) && d->id_col < 0) {
    free(d);
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "operation %s: the rows have no Id column (map "
                            "the Salesforce record Id to \"Id\")",
                            c->operation);
  }
  if (c->reject_file != NULL &&
      (d->reject_path = sf_absolute(c, c->reject_file)) == NULL) {
    free(d);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  d->schema = sluice_schema_ref(schema);
  d->done = done;
  d->done_arg = arg;
  c->dst = d;
  if ((d->timer = c->host->timer_start(c->ins, 0, 0, on_start_timer, d)) ==
      NULL) {
    c->dst = NULL;
    dest_destroy(d);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  SLUICE_LOG_D(c->host, c->ins, "%s: %s with sObject Collections", c->object,
               c->operation);
  return 0;
}

int sf_dest_write(struct sluice_instance *ins, void *ctx,
                  struct sluice_batch *batch, sluice_done_cb done, void *arg,
                  struct sluice_error *err)
{
  struct sf_ctx *c = ctx;
  struct sf_dest *d = c->dst;

  (void)ins;
  if (d == NULL || d->batch != NULL || d->done != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0,
                            "write while not open or busy");
  d->batch = sluice_batch_ref(batch);
  d->done = done;
  d->done_arg = arg;
  d->pos = 0;
  d->nchunk = 0;
  d->nrejects = 0;
  /* start on the next loop turn: done is never called from here */
  if ((d->timer = c->host->timer_start(c->ins, 0, 0, on_start_timer, d)) ==
      NULL) {
    sluice_batch_unref(d->batch);
    d->batch = NULL;
    d->done = NULL;
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  return 0;
}

static void on_commit_timer(void *arg)
{
  struct sf_dest *d = arg;
  sluice_done_cb done = d->commit_done;

  d->c->host->timer_stop(d->timer);
  d->timer = NULL;
  d->commit_done = NULL;
  done(d->commit_arg, 0, NULL);
}

int sf_dest_commit(struct sluice_instance *ins, void *ctx, sluice_done_cb done,
                   void *arg, struct sluice_error *err)
{
  struct sf_ctx *c = ctx;
  struct sf_dest *d = c->dst;

  (void)ins;
  if (d == NULL || d->timer != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "commit while busy");
  /* Every request committed on its own: nothing to flush. */
  d->commit_done = done;
  d->commit_arg = arg;
  if ((d->timer = c->host->timer_start(c->ins, 0, 0, on_commit_timer, d)) ==
      NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  return 0;
}

void sf_dest_free(struct sf_ctx *c)
{
  struct sf_dest *d = c->dst;

  if (d == NULL)
    return;
  c->dst = NULL;
  if (d->timer != NULL)
    c->host->timer_stop(d->timer);
  d->timer = NULL;
  d->done = NULL;
  /* A cancelled call never calls back, so only a reject write can still
   * reach d. */
  sf_api_cancel(d->call);
  d->call = NULL;
  if (d->working) {
    d->dead = 1; /* freed by reject_after */
    return;
  }
  dest_destroy(d);
}
