/* plugins/snowflake-common/sfk_sweep.c - the destination's key sweep (ABI
 * 1.2), in SQL where the rows are.
 *
 * open:   CREATE OR REPLACE TRANSIENT TABLE <TABLE>__SLUICE_KEYS_<PIPELINE>
 *         with the key columns (a name apart from the run's staging table,
 *         so a sweep never touches a run's rows; replaced by the next
 *         sweep, so a killed one leaves it only until then).
 * write:  each batch's key columns by array-bound INSERTs, as sfk_dest.c
 *         stages rows (for snowflake-stage too: keys are small).
 * finish: FLAG_MISSING, one multi-statement transaction: BEGIN; the audit
 *         row (kind delete_sweep, the count it is about to flag); UPDATE
 *         the table SET <del_flag_column> = 'Y' on every live row whose key
 *         no staged key has (NOT EXISTS); COMMIT; DROP the key table.  The
 *         count is the UPDATE's "number of rows updated".
 *         LIST: one SELECT of the keys on each side only (distinct staged
 *         keys without a live row, live rows without a staged key), each
 *         side numbered in key order and counted with window functions, at
 *         most `limit` of each; then the key table is dropped.
 * "Live" is DEL_FLAG <> 'Y' with hard_deletes flag, every row otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sluice/quote.h>

#include "sfk.h"

#define SWEEP_INSERT_BYTES_MAX (4u * 1024 * 1024)

enum sweep_step {
  SW_CREATE,
  SW_INSERT,
  SW_FLAG,
  SW_FLAG_COUNT,
  SW_LIST,
  SW_LIST_PART,
  SW_DROP
};

struct sfk_sweep {
  struct sfk_ctx *c;
  uint32_t action;
  char *target, *keys, *audit;
  size_t nkeys;
  char **keycols;        /* upper case, as the table's columns */
  long *col;             /* per key: its column in the batches */
  char **coltypes;       /* per key: the key table's column type */
  const char **bindtype; /* per key */
  int flag;              /* hard_deletes flag: live is DEL_FLAG <> 'Y' */
  time_t started;
  int64_t sent;

  struct sluice_batch *batch;
  size_t row_from;

  /* LIST: the answer being read */
  size_t limit;
  char *handle;
  size_t npartitions, next_partition;
  struct sluice_sweep_result res;
  char **src_keys, **dst_keys;

  enum sweep_step step;
  struct sfk_call *call;
  struct sluice_timer *timer;
  sluice_done_cb done;
  sluice_sweep_cb sweep_done;
  void *arg;
};

static char *upper_dup(const char *s)
{
  char *d = strdup(s);
  for (char *p = d; p && *p; p++)
    if (*p >= 'a' && *p <= 'z')
      *p = (char)(*p - 'a' + 'A');
  return d;
}

static void on_exec(void *arg, int status, json_t *body,
                    const struct sluice_error *err);
static int sweep_insert(struct sfk_sweep *w, struct sluice_error *err);

static int run(struct sfk_sweep *w, enum sweep_step step, const char *what,
               struct sluice_buf *sql, json_t *bindings, int n,
               struct sluice_error *err)
{
  int rc;

  w->step = step;
  rc = sfk_exec(w->c, what, sluice_buf_cstr(sql), bindings, n, on_exec, w,
                &w->call, err);
  sluice_buf_free(sql);
  return rc;
}

static void step_done(struct sfk_sweep *w, int status,
                      const struct sluice_error *err)
{
  sluice_done_cb done = w->done;

  w->done = NULL;
  if (w->batch != NULL) {
    sluice_batch_unref(w->batch);
    w->batch = NULL;
  }
  done(w->arg, status, status == 0 ? NULL : err);
}

static void sweep_end(struct sfk_sweep *w, int status,
                      const struct sluice_error *err)
{
  sluice_sweep_cb cb = w->sweep_done;

  w->sweep_done = NULL;
  w->res.source_only_keys = (const char *const *)w->src_keys;
  w->res.dest_only_keys = (const char *const *)w->dst_keys;
  cb(w->arg, status, status == 0 ? &w->res : NULL, status == 0 ? NULL : err);
}

/* --- SQL text ------------------------------------------------------------ */

static int ident(struct sluice_buf *b, const char *prefix, const char *name)
{
  int rc = sluice_buf_append_str(b, prefix);
  return rc ? rc : sluice_sql_quote_ident(name, b);
}

/* "a.K1 = b.K1 AND a.K2 = b.K2" */
static int key_join(struct sfk_sweep *w, const char *a, const char *b,
                    struct sluice_buf *out)
{
  int rc = 0;

  for (size_t i = 0; i < w->nkeys && rc == 0; i++) {
    rc = sluice_buf_printf(out, "%s%s.", i ? " AND " : "", a);
    rc = rc ? rc : sluice_sql_quote_ident(w->keycols[i], out);
    rc = rc ? rc : sluice_buf_printf(out, " = %s.", b);
    rc = rc ? rc : sluice_sql_quote_ident(w->keycols[i], out);
  }
  return rc;
}

/* " AND COALESCE(t.DEL_FLAG, 'N') <> 'Y'" with the flag; "" without. */
static int live(struct sfk_sweep *w, const char *alias, struct sluice_buf *b)
{
  int rc;

  if (!w->flag)
    return 0;
  rc = sluice_buf_printf(b, " AND COALESCE(%s.", alias);
  rc = rc ? rc : sluice_sql_quote_ident(w->c->del_flag_column, b);
  return rc ? rc : sluice_buf_append_str(b, ", 'N') <> 'Y'");
}

/* The live rows of t whose key no staged key has. */
static int missing_where(struct sfk_sweep *w, struct sluice_buf *b)
{
  int rc = sluice_buf_append_str(b, " WHERE 1 = 1");

  rc = rc ? rc : live(w, "t", b);
  rc = rc ? rc
          : sluice_buf_printf(
                b, " AND NOT EXISTS (SELECT 1 FROM %s AS k WHERE ", w->keys);
  rc = rc ? rc : key_join(w, "k", "t", b);
  return rc ? rc : sluice_buf_append_str(b, ")");
}

static void iso_time(time_t t, char *out, size_t outlen)
{
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int flag_sql(struct sfk_sweep *w, struct sluice_buf *b, int *n)
{
  struct sfk_ctx *c = w->c;
  char started[32], now[32];
  int rc = sluice_buf_append_str(b, "BEGIN");

  *n = 1;
  if (rc == 0 && w->audit != NULL) {
    /* Counted in the same transaction as the UPDATE: the same rows. */
    const char *in = c->host->instance_name(c->ins);
    char pipeline[256];
    snprintf(pipeline, sizeof pipeline, "%.*s", (int)strcspn(in, "/"), in);
    iso_time(w->started, started, sizeof started);
    iso_time(time(NULL), now, sizeof now);
    rc = sluice_buf_printf(b, "; INSERT INTO %s SELECT ", w->audit);
    rc = rc ? rc : sfk_sql_literal(c->host->run_id(c->ins), b);
    rc = rc ? rc : sluice_buf_append_str(b, ", ");
    rc = rc ? rc : sfk_sql_literal(pipeline, b);
    rc = rc ? rc : sluice_buf_append_str(b, ", ");
    rc = rc ? rc : sfk_sql_literal(w->target, b);
    rc = rc ? rc
            : sluice_buf_printf(b,
                                ", 'delete_sweep', '%s', '%s', %lld, "
                                "COUNT(*), '[]', 'COMMITTED' FROM %s AS t",
                                started, now, (long long)w->sent, w->target);
    rc = rc ? rc : missing_where(w, b);
    (*n)++;
  }
  rc = rc ? rc : sluice_buf_printf(b, "; UPDATE %s AS t SET ", w->target);
  rc = rc ? rc : sluice_sql_quote_ident(c->del_flag_column, b);
  rc = rc ? rc : sluice_buf_append_str(b, " = 'Y'");
  rc = rc ? rc : missing_where(w, b);
  rc = rc ? rc
          : sluice_buf_printf(b, "; COMMIT; DROP TABLE IF EXISTS %s", w->keys);
  *n += 3;
  return rc;
}

/* The keys on each side only, numbered and counted per side. */
static int list_sql(struct sfk_sweep *w, struct sluice_buf *b)
{
  size_t lim = w->limit > 0 ? w->limit : 1;
  int rc = sluice_buf_append_str(b, "SELECT \"SIDE\"");

  for (size_t i = 0; i < w->nkeys && rc == 0; i++)
    rc = ident(b, ", ", w->keycols[i]);
  rc = rc ? rc
          : sluice_buf_append_str(b, ", \"TOTAL\" FROM (SELECT 'S' AS "
                                     "\"SIDE\"");
  for (size_t i = 0; i < w->nkeys && rc == 0; i++)
    rc = ident(b, ", k.", w->keycols[i]);
  rc = rc ? rc
          : sluice_buf_append_str(b, ", COUNT(*) OVER () AS \"TOTAL\", "
                                     "ROW_NUMBER() OVER (ORDER BY ");
  for (size_t i = 0; i < w->nkeys && rc == 0; i++)
    rc = ident(b, i ? ", k." : "k.", w->keycols[i]);
  rc = rc ? rc : sluice_buf_append_str(b, ") AS \"RN\" FROM (SELECT DISTINCT ");
  for (size_t i = 0; i < w->nkeys && rc == 0; i++)
    rc = ident(b, i ? ", " : "", w->keycols[i]);
  rc = rc ? rc
          : sluice_buf_printf(b,
                              " FROM %s) AS k WHERE NOT EXISTS (SELECT 1 "
                              "FROM %s AS t WHERE ",
                              w->keys, w->target);
  rc = rc ? rc : key_join(w, "t", "k", b);
  rc = rc ? rc : live(w, "t", b);
  rc = rc ? rc : sluice_buf_append_str(b, ") UNION ALL SELECT 'D'");
  for (size_t i = 0; i < w->nkeys && rc == 0; i++)
    rc = ident(b, ", t.", w->keycols[i]);
  rc = rc ? rc
          : sluice_buf_append_str(b, ", COUNT(*) OVER (), ROW_NUMBER() OVER "
                                     "(ORDER BY ");
  for (size_t i = 0; i < w->nkeys && rc == 0; i++)
    rc = ident(b, i ? ", t." : "t.", w->keycols[i]);
  rc = rc ? rc : sluice_buf_printf(b, ") FROM %s AS t", w->target);
  rc = rc ? rc : missing_where(w, b);
  rc = rc ? rc
          : sluice_buf_printf(b,
                              ") AS d WHERE \"RN\" <= %zu ORDER BY \"SIDE\" "
                              "DESC, \"RN\"",
                              lim);
  return rc;
}

/* --- the answers -----------------------------------------------------------
 */

/* One row of the LIST answer: SIDE, the key columns, TOTAL. */
static int list_row(struct sfk_sweep *w, json_t *row)
{
  const char *side = json_string_value(json_array_get(row, 0));
  const char *total = json_string_value(json_array_get(row, w->nkeys + 1));
  int s = side != NULL && strcmp(side, "S") == 0;
  char ***keys = s ? &w->src_keys : &w->dst_keys;
  size_t *n = s ? &w->res.nsource_only_keys : &w->res.ndest_only_keys;
  struct sluice_buf text = SLUICE_BUF_INIT;
  int rc = 0;

  if (side == NULL || total == NULL)
    return SLUICE_EPROTO;
  if (s)
    w->res.source_only = strtoll(total, NULL, 10);
  else
    w->res.dest_only = strtoll(total, NULL, 10);
  if (*n >= w->limit)
    return 0;
  for (size_t i = 0; i < w->nkeys && rc == 0; i++) {
    const char *v = json_string_value(json_array_get(row, i + 1));
    rc = sluice_buf_printf(&text, "%s%s", i ? " | " : "", v ? v : "(null)");
  }
  if (rc == 0 && (*keys = realloc(*keys, (*n + 2) * sizeof **keys)) == NULL)
    rc = SLUICE_ENOMEM;
  if (rc == 0) {
    (*keys)[(*n)++] = strdup(sluice_buf_cstr(&text));
    (*keys)[*n] = NULL;
    if ((*keys)[*n - 1] == NULL)
      rc = SLUICE_ENOMEM;
  }
  sluice_buf_free(&text);
  return rc;
}

static int list_rows(struct sfk_sweep *w, json_t *data,
                     struct sluice_error *err)
{
  json_t *row;
  size_t i;
  int rc;

  json_array_foreach(data, i, row)
  {
    if ((rc = list_row(w, row)) < 0)
      return sluice_error_set(err, rc, 0,
                              rc == SLUICE_ENOMEM ? "out of memory"
                                                  : "list: a row without "
                                                    "its side or total");
  }
  w->next_partition++;
  return 0;
}

/* The LIST answer read: drop the key table (a failure only warns). */
static void list_read(struct sfk_sweep *w)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  struct sluice_error e = {0};

  if (sluice_buf_printf(&b, "DROP TABLE IF EXISTS %s", w->keys) < 0 ||
      run(w, SW_DROP, "drop the key table", &b, NULL, 1, &e) < 0)
    sweep_end(w, 0, NULL);
}

static void list_next(struct sfk_sweep *w)
{
  struct sluice_error e = {0};
  char what[64];
  int rc;

  if (w->next_partition >= w->npartitions) {
    list_read(w);
    return;
  }
  snprintf(what, sizeof what, "list partition %zu", w->next_partition);
  w->step = SW_LIST_PART;
  if ((rc = sfk_fetch(w->c, what, w->handle, (long)w->next_partition, on_exec,
                      w, &w->call, &e)) < 0)
    sweep_end(w, rc, &e);
}

static void on_exec(void *arg, int status, json_t *body,
                    const struct sluice_error *err)
{
  struct sfk_sweep *w = arg;
  struct sfk_ctx *c = w->c;
  struct sluice_error e = {0};
  int rc = 0;

  w->call = NULL;
  if (status < 0) {
    if (w->step == SW_DROP) {
      SLUICE_LOG_W(c->host, c->ins, "%s", err ? err->message : "drop failed");
      sweep_end(w, 0, NULL);
    } else if (w->step >= SW_FLAG) {
      sweep_end(w, status, err);
    } else {
      step_done(w, status, err);
    }
    return;
  }
  switch (w->step) {
  case SW_CREATE: step_done(w, 0, NULL); return;
  case SW_INSERT:
    if (w->row_from < sluice_batch_nrows(w->batch)) {
      if ((rc = sweep_insert(w, &e)) < 0)
        step_done(w, rc, &e);
    } else {
      step_done(w, 0, NULL);
    }
    return;
  case SW_FLAG: {
    json_t *h = json_object_get(body, "statementHandles");
    const char *uh =
        json_string_value(json_array_get(h, w->audit != NULL ? 2 : 1));
    if (uh == NULL) {
      sluice_error_set(&e, SLUICE_EPROTO, 0,
                       "delete sweep: no handle of the UPDATE's result");
      sweep_end(w, e.code, &e);
      return;
    }
    w->step = SW_FLAG_COUNT;
    if ((rc = sfk_fetch(c, "delete sweep count", uh, -1, on_exec, w, &w->call,
                        &e)) < 0)
      sweep_end(w, rc, &e);
    return;
  }
  case SW_FLAG_COUNT:
    w->res.flagged = sfk_result_count(body, "number of rows updated");
    SLUICE_LOG_I(c->host, c->ins,
                 "%s: %lld keys compared, %lld live rows flagged deleted",
                 w->target, (long long)w->sent, (long long)w->res.flagged);
    sweep_end(w, 0, NULL);
    return;
  case SW_LIST: {
    json_t *meta = json_object_get(body, "resultSetMetaData");
    const char *h = json_string_value(json_object_get(body, "statementHandle"));
    w->npartitions = json_array_size(json_object_get(meta, "partitionInfo"));
    if (w->npartitions == 0)
      w->npartitions = 1;
    if (h == NULL || (w->handle = strdup(h)) == NULL)
      rc = sluice_error_set(&e, SLUICE_EPROTO, 0,
                            "list: a result without a statementHandle");
    rc = rc ? rc : list_rows(w, json_object_get(body, "data"), &e);
    if (rc < 0)
      sweep_end(w, rc, &e);
    else
      list_next(w);
    return;
  }
  case SW_LIST_PART:
    if ((rc = list_rows(w, json_object_get(body, "data"), &e)) < 0)
      sweep_end(w, rc, &e);
    else
      list_next(w);
    return;
  case SW_DROP: sweep_end(w, 0, NULL); return;
  }
}

/* --- writing keys -------------------------------------------------------- */

/* INSERTs rows [row_from, ...) of the batch, as many as fit a request. */
static int sweep_insert(struct sfk_sweep *w, struct sluice_error *err)
{
  struct sluice_batch *bt = w->batch;
  size_t nrows = sluice_batch_nrows(bt), r, i, end;
  size_t per_row = w->nkeys * 48 + 16;
  size_t max_rows = SWEEP_INSERT_BYTES_MAX / per_row;
  struct sluice_buf sql = SLUICE_BUF_INIT, text = SLUICE_BUF_INIT;
  json_t *bindings = json_object(), **arr = calloc(w->nkeys, sizeof *arr);
  char key[24];
  int rc = 0;

  end = w->row_from + max_rows < nrows ? w->row_from + max_rows : nrows;
  if (bindings == NULL || arr == NULL) {
    json_decref(bindings);
    free(arr);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  for (i = 0; i < w->nkeys; i++) {
    arr[i] = json_array();
    snprintf(key, sizeof key, "%zu", i + 1);
    json_object_set_new(
        bindings, key,
        json_pack("{s:s, s:o}", "type", w->bindtype[i], "value", arr[i]));
  }
  for (r = w->row_from; r < end && rc == 0; r++)
    for (i = 0; i < w->nkeys && rc == 0; i++) {
      const struct sluice_value *v =
          sluice_batch_value(bt, r, (size_t)w->col[i]);
      if (v == NULL || v->type == SLUICE_TYPE_NULL) {
        rc = json_array_append_new(arr[i], json_null());
        continue;
      }
      sluice_buf_reset(&text);
      rc = sfk_binding_text(v, w->bindtype[i], &text);
      rc = rc ? rc
              : json_array_append_new(
                    arr[i], json_stringn(text.data ? text.data : "", text.len));
      if (rc == 0 && json_array_size(arr[i]) != r - w->row_from + 1)
        rc = sluice_error_set(err, SLUICE_EDATA, 0,
                              "key column %s: a value is not UTF-8 text",
                              w->keycols[i]);
    }
  free(arr);
  sluice_buf_free(&text);
  if (rc < 0) {
    json_decref(bindings);
    return err->code ? err->code
                     : sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  w->sent += (int64_t)(end - w->row_from);
  rc = sluice_buf_printf(&sql, "INSERT INTO %s (", w->keys);
  for (i = 0; i < w->nkeys && rc == 0; i++)
    rc = ident(&sql, i ? ", " : "", w->keycols[i]);
  rc = rc ? rc : sluice_buf_append_str(&sql, ") VALUES (");
  for (i = 0; i < w->nkeys && rc == 0; i++)
    rc = sluice_buf_append_str(&sql, i ? ", ?" : "?");
  rc = rc ? rc : sluice_buf_append_str(&sql, ")");
  if (rc < 0) {
    json_decref(bindings);
    sluice_buf_free(&sql);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  w->row_from = end;
  return run(w, SW_INSERT, "insert keys", &sql, bindings, 1, err);
}

/* --- the callbacks ------------------------------------------------------- */

int sfk_sweep_keys(struct sluice_instance *ins, void *ctx,
                   struct sluice_strlist *keys, struct sluice_error *err)
{
  struct sfk_ctx *c = ctx;

  (void)ins;
  if (c->key.n == 0)
    return sluice_error_set(err, SLUICE_ENOTSUP, 0,
                            "%s matches rows on no key (write %s without "
                            "\"key\"): there are no keys to compare",
                            c->table, c->write);
  *keys = c->key;
  return 0;
}

int sfk_sweep_open(struct sluice_instance *ins, void *ctx, uint32_t action,
                   struct sluice_schema *schema, sluice_done_cb done, void *arg,
                   struct sluice_error *err)
{
  struct sfk_ctx *c = ctx;
  struct sfk_sweep *w;
  struct sluice_buf b = SLUICE_BUF_INIT, name = SLUICE_BUF_INIT;
  char tbuf[32];
  int rc = 0, n = 1;

  (void)ins;
  if (c->sweep != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "a sweep is open");
  if (action == SLUICE_SWEEP_FLAG_MISSING &&
      strcmp(c->hard_deletes, "flag") != 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "a delete sweep needs hard_deletes flag (%s has "
                            "hard_deletes %s: deleted rows are not kept)",
                            c->table, c->hard_deletes);
  if ((w = calloc(1, sizeof *w)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  c->sweep = w;
  w->c = c;
  w->action = action;
  w->flag = strcmp(c->hard_deletes, "flag") == 0;
  w->started = time(NULL);
  w->nkeys = c->key.n;
  w->keycols = calloc(w->nkeys + 1, sizeof *w->keycols);
  w->coltypes = calloc(w->nkeys + 1, sizeof *w->coltypes);
  w->bindtype = calloc(w->nkeys + 1, sizeof *w->bindtype);
  w->col = calloc(w->nkeys + 1, sizeof *w->col);
  if (!w->keycols || !w->coltypes || !w->bindtype || !w->col)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  for (size_t i = 0; i < w->nkeys; i++) {
    size_t f, nf = sluice_schema_nfields(schema);
    if ((w->keycols[i] = upper_dup(c->key.v[i])) == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    for (f = 0; f < nf; f++)
      if (strcasecmp(sluice_schema_field(schema, f)->name, w->keycols[i]) == 0)
        break;
    if (f == nf)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "key: the source's keys have no field %s (after "
                              "mapping)",
                              c->key.v[i]);
    w->col[i] = (long)f;
    w->coltypes[i] = strdup(
        sfk_sql_column_type(sluice_schema_field(schema, f), tbuf, sizeof tbuf));
    if (w->coltypes[i] == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    w->bindtype[i] =
        sfk_binding_type(sluice_schema_field(schema, f)->type, w->coltypes[i]);
  }
  rc = sfk_sql_table_name(c, c->table, &name);
  if (rc == 0 && (w->target = strdup(sluice_buf_cstr(&name))) == NULL)
    rc = SLUICE_ENOMEM;
  sluice_buf_reset(&name);
  if (rc == 0) { /* <TABLE>__SLUICE_KEYS_<PIPELINE> */
    const char *p = c->host->instance_name(c->ins);
    rc = sluice_buf_printf(&b, "%s__SLUICE_KEYS_", c->table);
    for (; rc == 0 && *p && *p != '/'; p++) {
      char ch = (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
      if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
        ch = '_';
      rc = sluice_buf_append(&b, &ch, 1);
    }
  }
  if (rc == 0) {
    char *up = upper_dup(sluice_buf_cstr(&b));
    rc = up ? sfk_sql_table_name(c, up, &name) : SLUICE_ENOMEM;
    free(up);
  }
  if (rc == 0 && (w->keys = strdup(sluice_buf_cstr(&name))) == NULL)
    rc = SLUICE_ENOMEM;
  sluice_buf_reset(&name);
  if (rc == 0 && action == SLUICE_SWEEP_FLAG_MISSING && c->audit_table &&
      *c->audit_table) {
    rc = sfk_sql_table_name(c, c->audit_table, &name);
    if (rc == 0 && (w->audit = strdup(sluice_buf_cstr(&name))) == NULL)
      rc = SLUICE_ENOMEM;
  }
  sluice_buf_free(&name);
  sluice_buf_reset(&b);
  rc = rc ? rc
          : sluice_buf_printf(&b, "CREATE OR REPLACE TRANSIENT TABLE %s (",
                              w->keys);
  for (size_t i = 0; i < w->nkeys && rc == 0; i++) {
    rc = ident(&b, i ? ", " : "", w->keycols[i]);
    rc = rc ? rc : sluice_buf_printf(&b, " %s", w->coltypes[i]);
  }
  rc = rc ? rc : sluice_buf_append_str(&b, ")");
  if (rc == 0 && w->audit != NULL) {
    /* The audit table as sfk_dest.c makes it, for a sweep before any run. */
    rc = sluice_buf_printf(
        &b,
        "; CREATE TABLE IF NOT EXISTS %s (\"RUN_ID\" VARCHAR, \"PIPELINE\" "
        "VARCHAR, \"TARGET_TABLE\" VARCHAR, \"WRITE_MODE\" VARCHAR, "
        "\"STARTED_AT\" TIMESTAMP_TZ, \"COMMITTED_AT\" TIMESTAMP_TZ, "
        "\"ROWS_STAGED\" NUMBER(38,0), \"ROWS_DELETED\" NUMBER(38,0), "
        "\"DRIFT\" VARCHAR, \"STATUS\" VARCHAR)",
        w->audit);
    n++;
  }
  if (rc < 0) {
    sluice_buf_free(&b);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "table names: %s",
                            rc == SLUICE_ENOMEM ? "out of memory"
                                                : "a name cannot be quoted");
  }
  w->done = done;
  w->arg = arg;
  if ((rc = run(w, SW_CREATE, "create the key table", &b, NULL, n, err)) < 0)
    w->done = NULL;
  return rc;
}

static void on_empty(void *arg)
{
  struct sfk_sweep *w = arg;

  w->c->host->timer_stop(w->timer);
  w->timer = NULL;
  step_done(w, 0, NULL);
}

int sfk_sweep_write(struct sluice_instance *ins, void *ctx,
                    struct sluice_batch *batch, sluice_done_cb done, void *arg,
                    struct sluice_error *err)
{
  struct sfk_ctx *c = ctx;
  struct sfk_sweep *w = c->sweep;
  int rc;

  (void)ins;
  if (w == NULL || w->done != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "sweep_write before open");
  w->batch = sluice_batch_ref(batch);
  w->row_from = 0;
  w->done = done;
  w->arg = arg;
  if (sluice_batch_nrows(batch) == 0) {
    w->timer = c->host->timer_start(c->ins, 0, 0, on_empty, w);
    rc =
        w->timer ? 0 : sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  } else {
    rc = sweep_insert(w, err);
  }
  if (rc < 0) {
    w->done = NULL;
    sluice_batch_unref(w->batch);
    w->batch = NULL;
  }
  return rc;
}

int sfk_sweep_finish(struct sluice_instance *ins, void *ctx, size_t limit,
                     sluice_sweep_cb done, void *arg, struct sluice_error *err)
{
  struct sfk_ctx *c = ctx;
  struct sfk_sweep *w = c->sweep;
  struct sluice_buf b = SLUICE_BUF_INIT;
  int rc, n = 1;

  (void)ins;
  if (w == NULL || w->done != NULL || w->sweep_done != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "sweep_finish before open");
  w->limit = limit;
  if (w->action == SLUICE_SWEEP_FLAG_MISSING)
    rc = flag_sql(w, &b, &n);
  else
    rc = list_sql(w, &b);
  if (rc < 0) {
    sluice_buf_free(&b);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  w->sweep_done = done;
  w->arg = arg;
  rc =
      w->action == SLUICE_SWEEP_FLAG_MISSING
          ? run(w, SW_FLAG, "delete sweep", &b, NULL, n, err)
          : run(w, SW_LIST, "list the keys on one side only", &b, NULL, 1, err);
  if (rc < 0)
    w->sweep_done = NULL;
  return rc;
}

void sfk_sweep_free(struct sfk_ctx *c)
{
  struct sfk_sweep *w = c->sweep;

  if (w == NULL)
    return;
  if (w->call != NULL)
    sfk_call_cancel(w->call);
  if (w->timer != NULL)
    c->host->timer_stop(w->timer);
  if (w->batch != NULL)
    sluice_batch_unref(w->batch);
  for (size_t i = 0; i < w->nkeys; i++) {
    if (w->keycols)
      free(w->keycols[i]);
    if (w->coltypes)
      free(w->coltypes[i]);
  }
  for (size_t i = 0; i < w->res.nsource_only_keys; i++)
    free(w->src_keys[i]);
  for (size_t i = 0; i < w->res.ndest_only_keys; i++)
    free(w->dst_keys[i]);
  free(w->src_keys);
  free(w->dst_keys);
  free(w->keycols);
  free(w->coltypes);
  free(w->bindtype);
  free(w->col);
  free(w->target);
  free(w->keys);
  free(w->audit);
  free(w->handle);
  free(w);
  c->sweep = NULL;
}
