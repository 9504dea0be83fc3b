/* plugins/snowflake-common/sfk_dest.c - the destination (contract section 5;
 * DESIGN 3.3, 3.4, 3.7).
 *
 * open:   read the table's columns (INFORMATION_SCHEMA.COLUMNS); create
 *         the table when it is missing, or add the columns of new fields
 *         (ALTER TABLE ADD COLUMN); a column whose type no longer fits its
 *         field, or a field earlier runs wrote that the source no longer
 *         has, fails the run naming it.  Then the staging table, TRANSIENT,
 *         named for the pipeline (<TABLE>__SLUICE_STG_<PIPELINE>) and made
 *         with CREATE OR REPLACE: a run killed before its MERGE leaves it
 *         behind, and the next run's open empties it.
 * write:  each batch goes into the staging table by INSERTs with array
 *         bindings (one request binds thousands of rows), every row with
 *         its sequence number and operation; or, when the plugin set a
 *         loader (snowflake-stage), the loader takes the rows and its
 *         flush fills the staging table before the commit.
 * commit: (the loader's flush, then) one multi-statement request: BEGIN; the
 * MERGE (or append, or the replace's load and SWAP); the audit row; COMMIT;
 * then the staging table is dropped.  The MERGE reads the staging rows
 *         deduplicated on the key, the last row of a key winning.
 *
 * Nothing is visible in the table before the COMMIT, and the MERGE of the
 * same rows twice gives the same table: a run killed anywhere and run
 * again leaves the table as one clean run would (for write "append", a
 * kill after COMMIT and before the host saves the checkpoint appends the
 * rows again on the rerun: append is at-least-once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sluice/quote.h>

#include "sfk.h"

#define SEQ_COL "__SLUICE_SEQ"
#define OP_COL "__SLUICE_OP"
#define RN_COL "__SLUICE_RN"
/* The largest INSERT body: the SQL API takes a request in memory. */
#define INSERT_BYTES_MAX (8u * 1024 * 1024)

struct existing_col {
  char *name;
  char *type;
  int precision, scale;
};

enum step {
  STEP_COLUMNS,
  STEP_DDL,
  STEP_STAGE,
  STEP_INSERT,
  STEP_COMMIT,
  STEP_COUNTS
};

struct sfk_dest {
  struct sfk_ctx *c;
  struct sluice_schema *schema;
  size_t nfields;
  char **colnames;       /* upper-cased field names, quoted later */
  const char **bindtype; /* per field */
  char **coltypes;       /* per field: the Snowflake column type */
  struct sfk_staging st; /* what a loader sees of the above */
  char *target;          /* "DB"."SCHEMA"."TABLE" */
  char *staging;
  char *audit;
  struct existing_col *have;
  size_t nhave;
  int table_exists;
  int stage_ready;         /* the staging table exists (a commit drops it) */
  struct sluice_buf drift; /* JSON array text of drift events */
  size_t ndrift;
  int64_t seq, staged, staged_deletes;
  time_t started;

  /* the batch being inserted */
  struct sluice_batch *batch;
  size_t row_from;

  enum step step;
  struct sfk_call *call;
  struct sluice_timer *timer;
  sluice_done_cb done;
  void *arg;
};

static void upper(char *s)
{
  for (; *s; s++)
    if (*s >= 'a' && *s <= 'z')
      *s = (char)(*s - 'a' + 'A');
}

static char *upper_dup(const char *s)
{
  char *d = strdup(s);
  if (d != NULL)
    upper(d);
  return d;
}

static void step_done(struct sfk_dest *d, int status,
                      const struct sluice_error *err)
{
  sluice_done_cb done = d->done;

  d->done = NULL;
  if (d->batch != NULL) {
    sluice_batch_unref(d->batch);
    d->batch = NULL;
  }
  done(d->arg, status, status == 0 ? NULL : err);
}

static void on_exec(void *arg, int status, json_t *body,
                    const struct sluice_error *err);

static int run(struct sfk_dest *d, enum step step, const char *what,
               struct sluice_buf *sql, json_t *bindings, int nstatements,
               struct sluice_error *err)
{
  int rc;

  d->step = step;
  rc = sfk_exec(d->c, what, sluice_buf_cstr(sql), bindings, nstatements,
                on_exec, d, &d->call, err);
  sluice_buf_free(sql);
  return rc;
}

static const struct existing_col *find_have(struct sfk_dest *d,
                                            const char *name)
{
  size_t i;

  for (i = 0; i < d->nhave; i++)
    if (strcmp(d->have[i].name, name) == 0)
      return &d->have[i];
  return NULL;
}

static int flag_mode(const struct sfk_dest *d)
{
  return strcmp(d->c->hard_deletes, "flag") == 0;
}

/* --- SQL text ------------------------------------------------------------ */

static int append_ident(struct sluice_buf *b, const char *prefix,
                        const char *name)
{
  int rc = sluice_buf_append_str(b, prefix);
  if (rc == 0)
    rc = sluice_sql_quote_ident(name, b);
  return rc;
}

/* ("A" TYPE, "B" TYPE, ...) of the fields, then the hard-delete flag
 * column and the staging columns when asked for. */
static int column_defs(struct sfk_dest *d, int flag_col, int stage_cols,
                       struct sluice_buf *b)
{
  char tbuf[32];
  size_t i;
  int rc = sluice_buf_append_str(b, " (");

  for (i = 0; i < d->nfields && rc == 0; i++) {
    rc = append_ident(b, i ? ", " : "", d->colnames[i]);
    if (rc == 0)
      rc = sluice_buf_printf(
          b, " %s",
          sfk_sql_column_type(sluice_schema_field(d->schema, i), tbuf,
                              sizeof tbuf));
  }
  if (rc == 0 && flag_col) {
    rc = append_ident(b, ", ", d->c->del_flag_column);
    rc = rc ? rc : sluice_buf_append_str(b, " VARCHAR(1)");
  }
  if (rc == 0 && stage_cols)
    rc = sluice_buf_append_str(b, ", \"" SEQ_COL "\" NUMBER(38,0), \"" OP_COL
                                  "\" VARCHAR(1)");
  return rc ? rc : sluice_buf_append_str(b, ")");
}

static int column_list(struct sfk_dest *d, const char *prefix,
                       struct sluice_buf *b)
{
  size_t i;
  int rc = 0;

  for (i = 0; i < d->nfields && rc == 0; i++) {
    rc = sluice_buf_append_str(b, i ? ", " : "");
    if (rc == 0)
      rc = append_ident(b, prefix, d->colnames[i]);
  }
  return rc;
}

static int audit_table_sql(struct sfk_dest *d, struct sluice_buf *b)
{
  return sluice_buf_printf(
      b,
      "CREATE TABLE IF NOT EXISTS %s (\"RUN_ID\" VARCHAR, \"PIPELINE\" "
      "VARCHAR, \"TARGET_TABLE\" VARCHAR, \"WRITE_MODE\" VARCHAR, "
      "\"STARTED_AT\" TIMESTAMP_TZ, \"COMMITTED_AT\" TIMESTAMP_TZ, "
      "\"ROWS_STAGED\" NUMBER(38,0), \"ROWS_DELETED\" NUMBER(38,0), "
      "\"DRIFT\" VARCHAR, \"STATUS\" VARCHAR)",
      d->audit);
}

static void iso_time(time_t t, char *out, size_t outlen)
{
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int audit_insert_sql(struct sfk_dest *d, struct sluice_buf *b)
{
  struct sfk_ctx *c = d->c;
  char started[32], now[32];
  int rc;

  iso_time(d->started, started, sizeof started);
  iso_time(time(NULL), now, sizeof now);
  rc = sluice_buf_printf(b, "INSERT INTO %s VALUES (", d->audit);
  if (rc == 0)
    rc = sfk_sql_literal(c->host->run_id(c->ins), b);
  if (rc == 0)
    rc = sluice_buf_append_str(b, ", ");
  if (rc == 0) { /* "pipeline/destination": the pipeline */
    const char *in = c->host->instance_name(c->ins);
    char pipeline[256];
    snprintf(pipeline, sizeof pipeline, "%.*s", (int)strcspn(in, "/"), in);
    rc = sfk_sql_literal(pipeline, b);
  }
  if (rc == 0)
    rc = sluice_buf_append_str(b, ", ");
  if (rc == 0)
    rc = sfk_sql_literal(d->target, b);
  if (rc == 0)
    rc = sluice_buf_printf(b, ", '%s', '%s', '%s', %lld, %lld, ", c->write,
                           started, now, (long long)d->staged,
                           (long long)d->staged_deletes);
  if (rc == 0 && d->ndrift > 0) {
    struct sluice_buf j = SLUICE_BUF_INIT;
    rc = sluice_buf_printf(&j, "%s]", sluice_buf_cstr(&d->drift));
    rc = rc ? rc : sfk_sql_literal(sluice_buf_cstr(&j), b);
    sluice_buf_free(&j);
  } else if (rc == 0)
    rc = sfk_sql_literal("[]", b);
  if (rc == 0)
    rc = sluice_buf_append_str(b, ", 'COMMITTED')");
  return rc;
}

/* The staging rows, the last of each key, as "s". */
static int deduped_source(struct sfk_dest *d, int upserts_only,
                          struct sluice_buf *b)
{
  struct sfk_ctx *c = d->c;
  size_t i;
  int rc = sluice_buf_append_str(b, "(SELECT * FROM (SELECT s0.*, "
                                    "ROW_NUMBER() OVER (PARTITION BY ");

  for (i = 0; i < c->key.n && rc == 0; i++) {
    char *k = upper_dup(c->key.v[i]);
    rc = k ? append_ident(b, i ? ", " : "", k) : SLUICE_ENOMEM;
    free(k);
  }
  if (rc == 0)
    rc = sluice_buf_printf(
        b,
        " ORDER BY \"" SEQ_COL "\" DESC) AS \"" RN_COL
        "\" FROM %s AS s0%s) AS s1 WHERE \"" RN_COL "\" = 1) AS s",
        d->staging, upserts_only ? " WHERE \"" OP_COL "\" = 'U'" : "");
  return rc;
}

static int merge_sql(struct sfk_dest *d, struct sluice_buf *b)
{
  struct sfk_ctx *c = d->c;
  const char *hd = c->hard_deletes;
  int flag = flag_mode(d);
  size_t i;
  int rc = sluice_buf_printf(b, "MERGE INTO %s AS t USING ", d->target);

  if (rc == 0)
    rc = deduped_source(d, strcmp(hd, "ignore") == 0, b);
  rc = rc ? rc : sluice_buf_append_str(b, " ON ");
  for (i = 0; i < c->key.n && rc == 0; i++) {
    char *k = upper_dup(c->key.v[i]);
    if (k == NULL)
      return SLUICE_ENOMEM;
    rc = append_ident(b, i ? " AND t." : "t.", k);
    if (rc == 0)
      rc = append_ident(b, " = s.", k);
    free(k);
  }
  if (rc == 0 && flag) {
    rc = sluice_buf_append_str(b, " WHEN MATCHED AND s.\"" OP_COL
                                  "\" = 'D' THEN UPDATE SET ");
    rc = rc ? rc : append_ident(b, "t.", c->del_flag_column);
    rc = rc ? rc : sluice_buf_append_str(b, " = 'Y'");
  } else if (rc == 0 && strcmp(hd, "delete") == 0)
    rc = sluice_buf_append_str(b, " WHEN MATCHED AND s.\"" OP_COL
                                  "\" = 'D' THEN DELETE");
  rc = rc ? rc : sluice_buf_append_str(b, " WHEN MATCHED THEN UPDATE SET ");
  for (i = 0; i < d->nfields && rc == 0; i++) {
    rc = append_ident(b, i ? ", t." : "t.", d->colnames[i]);
    rc = rc ? rc : append_ident(b, " = s.", d->colnames[i]);
  }
  if (rc == 0 && flag) {
    rc = append_ident(b, ", t.", c->del_flag_column);
    rc = rc ? rc : sluice_buf_append_str(b, " = 'N'");
  }
  rc = rc ? rc
          : sluice_buf_append_str(b, flag ? " WHEN NOT MATCHED THEN INSERT ("
                                          : " WHEN NOT MATCHED AND s.\"" OP_COL
                                            "\" = 'U' THEN INSERT (");
  rc = rc ? rc : column_list(d, "", b);
  if (rc == 0 && flag)
    rc = append_ident(b, ", ", c->del_flag_column);
  rc = rc ? rc : sluice_buf_append_str(b, ") VALUES (");
  rc = rc ? rc : column_list(d, "s.", b);
  if (rc == 0 && flag)
    rc = sluice_buf_append_str(b, ", CASE WHEN s.\"" OP_COL
                                  "\" = 'D' THEN 'Y' ELSE 'N' END");
  rc = rc ? rc : sluice_buf_append_str(b, ")");
  return rc;
}

static int append_sql(struct sfk_dest *d, struct sluice_buf *b)
{
  int flag = flag_mode(d);
  int rc = sluice_buf_printf(b, "INSERT INTO %s (", d->target);

  rc = rc ? rc : column_list(d, "", b);
  if (rc == 0 && flag)
    rc = append_ident(b, ", ", d->c->del_flag_column);
  rc = rc ? rc : sluice_buf_append_str(b, ") SELECT ");
  rc = rc ? rc : column_list(d, "", b);
  if (rc == 0 && flag)
    rc = sluice_buf_append_str(b, ", CASE WHEN \"" OP_COL
                                  "\" = 'D' THEN 'Y' ELSE 'N' END");
  rc = rc ? rc : sluice_buf_printf(b, " FROM %s", d->staging);
  if (rc == 0 && !flag)
    rc = sluice_buf_append_str(b, " WHERE \"" OP_COL "\" = 'U'");
  rc = rc ? rc : sluice_buf_append_str(b, " ORDER BY \"" SEQ_COL "\"");
  return rc;
}

/* --- commit -------------------------------------------------------------- */

static int start_commit(struct sfk_dest *d, struct sluice_error *err)
{
  struct sfk_ctx *c = d->c;
  struct sluice_buf b = SLUICE_BUF_INIT, tmp = SLUICE_BUF_INIT;
  int n = 0, rc = 0;

  if (strcmp(c->write, "replace") == 0) {
    /* Load a new table, then SWAP it in: readers see the old rows or the
     * new, never a mix. */
    char *newname = NULL;
    rc = sluice_buf_printf(&tmp, "%s__SLUICE_NEW", c->table);
    if (rc == 0 && (newname = upper_dup(sluice_buf_cstr(&tmp))) == NULL)
      rc = SLUICE_ENOMEM;
    sluice_buf_reset(&tmp);
    if (rc == 0)
      rc = sfk_sql_table_name(c, newname, &tmp);
    free(newname);
    rc = rc ? rc
            : sluice_buf_printf(&b, "CREATE OR REPLACE TABLE %s",
                                sluice_buf_cstr(&tmp));
    rc = rc ? rc : column_defs(d, flag_mode(d), 0, &b);
    rc =
        rc ? rc
           : sluice_buf_printf(&b, "; INSERT INTO %s (", sluice_buf_cstr(&tmp));
    rc = rc ? rc : column_list(d, "", &b);
    if (rc == 0 && flag_mode(d))
      rc = append_ident(&b, ", ", c->del_flag_column);
    rc = rc ? rc : sluice_buf_append_str(&b, ") SELECT ");
    rc = rc ? rc : column_list(d, "s.", &b);
    if (rc == 0 && flag_mode(d))
      rc = sluice_buf_append_str(&b, ", 'N'");
    rc = rc ? rc : sluice_buf_append_str(&b, " FROM ");
    if (rc == 0 && c->key.n > 0)
      rc = deduped_source(d, 1, &b);
    else if (rc == 0)
      rc = sluice_buf_printf(&b, "%s AS s WHERE s.\"" OP_COL "\" = 'U'",
                             d->staging);
    rc = rc ? rc
            : sluice_buf_printf(&b,
                                "; ALTER TABLE %s SWAP WITH %s; "
                                "DROP TABLE %s",
                                sluice_buf_cstr(&tmp), d->target,
                                sluice_buf_cstr(&tmp));
    n = 4;
  } else {
    rc = sluice_buf_append_str(&b, "BEGIN; ");
    if (rc == 0)
      rc =
          strcmp(c->write, "merge") == 0 ? merge_sql(d, &b) : append_sql(d, &b);
    n = 2;
  }
  if (rc == 0 && d->audit != NULL) {
    rc = sluice_buf_append_str(&b, "; ");
    rc = rc ? rc : audit_insert_sql(d, &b);
    n++;
  }
  if (rc == 0 && strcmp(c->write, "replace") != 0) {
    rc = sluice_buf_append_str(&b, "; COMMIT");
    n++;
  }
  rc = rc ? rc : sluice_buf_printf(&b, "; DROP TABLE IF EXISTS %s", d->staging);
  n++;
  sluice_buf_free(&tmp);
  if (rc < 0) {
    sluice_buf_free(&b);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  return run(d, STEP_COMMIT, c->write, &b, NULL, n, err);
}

/* --- open ---------------------------------------------------------------- */

static int read_columns(struct sfk_dest *d, json_t *body,
                        struct sluice_error *err)
{
  json_t *data = json_object_get(body, "data"), *row;
  size_t i;

  d->nhave = 0;
  if ((d->have = calloc(json_array_size(data) + 1, sizeof *d->have)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  json_array_foreach(data, i, row)
  {
    const char *name = json_string_value(json_array_get(row, 0));
    const char *type = json_string_value(json_array_get(row, 1));
    const char *p = json_string_value(json_array_get(row, 2));
    const char *s = json_string_value(json_array_get(row, 3));
    struct existing_col *e = &d->have[d->nhave];
    if (name == NULL || type == NULL)
      continue;
    e->name = strdup(name);
    e->type = strdup(type);
    if (e->name == NULL || e->type == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    e->precision = p ? atoi(p) : 0;
    e->scale = s ? atoi(s) : 0;
    d->nhave++;
  }
  d->table_exists = d->nhave > 0;
  return 0;
}

/* "<what> <name> <type>": one drift event, logged and kept for the audit
 * row. */
static int drift_event(struct sfk_dest *d, const char *what, const char *name,
                       const char *type)
{
  char text[300];
  json_t *s;
  char *j;
  int rc;

  snprintf(text, sizeof text, "%s %s%s%s", what, name, *type ? " " : "", type);
  SLUICE_LOG_I(d->c->host, d->c->ins, "schema drift: %s", text);
  if ((s = json_string(text)) == NULL ||
      (j = json_dumps(s, JSON_ENCODE_ANY)) == NULL) {
    json_decref(s);
    return SLUICE_ENOMEM;
  }
  rc = sluice_buf_printf(&d->drift, "%s%s", d->ndrift ? "," : "[", j);
  free(j);
  json_decref(s);
  d->ndrift++;
  return rc;
}

/* The fields earlier runs wrote (the instance's state) that the source no
 * longer gives: fail naming them. */
static int vanished_fields(struct sfk_dest *d, struct sluice_error *err)
{
  struct sfk_ctx *c = d->c;
  char *prev = NULL;
  json_t *j, *v;
  size_t i, k;
  int rc = 0;

  if (c->host->state_get(c->ins, "columns", &prev) < 0 || prev == NULL)
    return 0;
  j = json_loads(prev, 0, NULL);
  c->host->free(prev);
  json_array_foreach(j, i, v)
  {
    const char *name = json_string_value(v);
    for (k = 0; name && k < d->nfields; k++)
      if (strcmp(d->colnames[k], name) == 0)
        break;
    if (name && k == d->nfields) {
      rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                            "schema drift: column %s of %s, written by "
                            "earlier runs, has no field in the source any "
                            "more (a field removed or renamed?): map it, "
                            "or drop the column and the pipeline's state "
                            "to accept it",
                            name, d->target);
      break;
    }
  }
  json_decref(j);
  return rc;
}

static int plan_ddl(struct sfk_dest *d, struct sluice_buf *b, int *n,
                    struct sluice_error *err)
{
  struct sfk_ctx *c = d->c;
  char tbuf[32];
  size_t i;
  int rc = 0;

  *n = 0;
  if (!d->table_exists) {
    if (!c->create_table)
      return sluice_error_set(err, SLUICE_ENOTFOUND, 0,
                              "table %s does not exist (create_table is "
                              "false)",
                              d->target);
    rc = sluice_buf_printf(b, "CREATE TABLE IF NOT EXISTS %s", d->target);
    rc = rc ? rc : column_defs(d, flag_mode(d), 0, b);
    if (rc == 0)
      rc = drift_event(d, "created table", d->target, "");
    *n = 1;
    return rc < 0 ? sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory")
                  : 0;
  }
  for (i = 0; i < d->nfields && rc == 0; i++) {
    const struct sluice_field *f = sluice_schema_field(d->schema, i);
    const struct existing_col *e = find_have(d, d->colnames[i]);
    const char *t = sfk_sql_column_type(f, tbuf, sizeof tbuf);
    if (e != NULL) {
      if (!sfk_sql_type_fits(f, e->type, e->precision, e->scale))
        return sluice_error_set(
            err, SLUICE_EINVAL, 0,
            "schema drift: column %s of %s is %s, but field %s is now %s "
            "(%s): its type changed; change the column, or map the field "
            "to another",
            d->colnames[i], d->target, e->type, f->name,
            sluice_type_name(f->type), t);
      continue;
    }
    rc = sluice_buf_printf(b, "%sALTER TABLE %s ADD COLUMN ", *n ? "; " : "",
                           d->target);
    rc = rc ? rc : append_ident(b, "", d->colnames[i]);
    rc = rc ? rc : sluice_buf_printf(b, " %s", t);
    rc = rc ? rc : drift_event(d, "added column", d->colnames[i], t);
    (*n)++;
  }
  if (rc == 0 && flag_mode(d) && find_have(d, c->del_flag_column) == NULL) {
    rc = sluice_buf_printf(b, "%sALTER TABLE %s ADD COLUMN ", *n ? "; " : "",
                           d->target);
    rc = rc ? rc : append_ident(b, "", c->del_flag_column);
    rc = rc ? rc : sluice_buf_append_str(b, " VARCHAR(1)");
    rc = rc ? rc
            : drift_event(d, "added column", c->del_flag_column, "VARCHAR(1)");
    (*n)++;
  }
  return rc < 0 ? sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory") : 0;
}

static int start_stage(struct sfk_dest *d, struct sluice_error *err)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  int n = 1, rc;

  rc =
      sluice_buf_printf(&b, "CREATE OR REPLACE TRANSIENT TABLE %s", d->staging);
  rc = rc ? rc : column_defs(d, 0, 1, &b);
  if (rc == 0 && d->audit != NULL) {
    rc = sluice_buf_append_str(&b, "; ");
    rc = rc ? rc : audit_table_sql(d, &b);
    n++;
  }
  if (rc < 0) {
    sluice_buf_free(&b);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  return run(d, STEP_STAGE, "create the staging table", &b, NULL, n, err);
}

/* --- write --------------------------------------------------------------- */

/* INSERTs rows [row_from, ...) of the batch, as many as fit a request. */
static int insert_rows(struct sfk_dest *d, struct sluice_error *err)
{
  struct sluice_batch *bt = d->batch;
  size_t nrows = sluice_batch_nrows(bt), r, i, end;
  size_t per_row =
      sluice_batch_bytes(bt) / (nrows ? nrows : 1) + d->nfields * 12 + 40;
  size_t max_rows = INSERT_BYTES_MAX / per_row;
  struct sluice_buf sql = SLUICE_BUF_INIT, text = SLUICE_BUF_INIT;
  json_t *bindings = json_object(), **arr;
  char key[24];
  int rc = 0;

  if (max_rows == 0)
    max_rows = 1;
  end = d->row_from + max_rows < nrows ? d->row_from + max_rows : nrows;
  arr = calloc(d->nfields + 2, sizeof *arr);
  if (bindings == NULL || arr == NULL) {
    json_decref(bindings);
    free(arr);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  for (i = 0; i < d->nfields + 2; i++) {
    arr[i] = json_array();
    snprintf(key, sizeof key, "%zu", i + 1);
    json_object_set_new(bindings, key,
                        json_pack("{s:s, s:o}", "type",
                                  i < d->nfields
                                      ? d->bindtype[i]
                                      : (i == d->nfields ? "FIXED" : "TEXT"),
                                  "value", arr[i]));
  }
  for (r = d->row_from; r < end && rc == 0; r++) {
    for (i = 0; i < d->nfields && rc == 0; i++) {
      const struct sluice_value *v = sluice_batch_value(bt, r, i);
      if (v == NULL || v->type == SLUICE_TYPE_NULL) {
        rc = json_array_append_new(arr[i], json_null());
        continue;
      }
      sluice_buf_reset(&text);
      rc = sfk_binding_text(v, d->bindtype[i], &text);
      if (rc == 0)
        rc = json_array_append_new(
            arr[i], json_stringn(text.data ? text.data : "", text.len));
      if (rc == 0 && json_array_size(arr[i]) != r - d->row_from + 1)
        rc = sluice_error_set(
            err, SLUICE_EDATA, 0,
            "record %llu: column %s: the value is not "
            "UTF-8 text",
            (unsigned long long)(sluice_batch_first_record(bt) + r),
            d->colnames[i]);
    }
    snprintf(key, sizeof key, "%lld", (long long)++d->seq);
    if (rc == 0)
      rc = json_array_append_new(arr[d->nfields], json_string(key));
    if (rc == 0)
      rc = json_array_append_new(
          arr[d->nfields + 1],
          json_string(sluice_batch_op(bt, r) == SLUICE_OP_DELETE ? "D" : "U"));
    if (sluice_batch_op(bt, r) == SLUICE_OP_DELETE)
      d->staged_deletes++;
  }
  free(arr);
  sluice_buf_free(&text);
  if (rc < 0) {
    json_decref(bindings);
    return err->code ? err->code
                     : sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  d->staged += (int64_t)(end - d->row_from);
  rc = sluice_buf_printf(&sql, "INSERT INTO %s (", d->staging);
  rc = rc ? rc : column_list(d, "", &sql);
  rc = rc ? rc
          : sluice_buf_append_str(&sql, ", \"" SEQ_COL "\", \"" OP_COL
                                        "\") VALUES (");
  for (i = 0; i < d->nfields + 2 && rc == 0; i++)
    rc = sluice_buf_append_str(&sql, i ? ", ?" : "?");
  rc = rc ? rc : sluice_buf_append_str(&sql, ")");
  if (rc < 0) {
    json_decref(bindings);
    sluice_buf_free(&sql);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  d->row_from = end;
  return run(d, STEP_INSERT, "insert into the staging table", &sql, bindings, 1,
             err);
}

/* The loader's answer for a batch. */
static void on_loaded(void *arg, int status, const struct sluice_error *err)
{
  step_done(arg, status, err);
}

/* A batch into the staging table: by the plugin's loader when it has one,
 * else by INSERTs.  Sequence numbers and counts are kept here either way. */
static int write_rows(struct sfk_dest *d, struct sluice_error *err)
{
  const struct sfk_loader *l = d->c->loader;
  size_t r, nrows = sluice_batch_nrows(d->batch);
  int64_t first = d->seq + 1;

  if (l == NULL)
    return insert_rows(d, err);
  for (r = 0; r < nrows; r++)
    if (sluice_batch_op(d->batch, r) == SLUICE_OP_DELETE)
      d->staged_deletes++;
  d->seq += (int64_t)nrows;
  d->staged += (int64_t)nrows;
  return l->write(d->c, &d->st, d->batch, first, on_loaded, d, err);
}

/* After the COMMIT: the loader tidies up, then the commit is done. */
static void on_tidied(void *arg, int status, const struct sluice_error *err)
{
  (void)status;
  (void)err;
  step_done(arg, 0, NULL);
}

static void commit_finished(struct sfk_dest *d)
{
  const struct sfk_loader *l = d->c->loader;
  struct sluice_error e = {0};

  if (l != NULL && l->committed != NULL &&
      l->committed(d->c, on_tidied, d, &e) == 0)
    return;
  step_done(d, 0, NULL);
}

/* --- the steps' answers -------------------------------------------------- */

static void log_counts(struct sfk_dest *d, json_t *body)
{
  struct sfk_ctx *c = d->c;
  SLUICE_LOG_I(c->host, c->ins,
               "%s: %lld rows inserted, %lld updated, %lld deleted", d->target,
               (long long)sfk_result_count(body, "number of rows inserted"),
               (long long)sfk_result_count(body, "number of rows updated"),
               (long long)sfk_result_count(body, "number of rows deleted"));
}

static int save_columns(struct sfk_dest *d, struct sluice_error *err)
{
  json_t *a = json_array();
  char *text;
  size_t i;
  int rc;

  for (i = 0; a && i < d->nfields; i++)
    json_array_append_new(a, json_string(d->colnames[i]));
  text = a ? json_dumps(a, JSON_COMPACT) : NULL;
  json_decref(a);
  if (text == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  rc = d->c->host->state_put(d->c->ins, "columns", text, err);
  free(text);
  return rc;
}

static void on_exec(void *arg, int status, json_t *body,
                    const struct sluice_error *err)
{
  struct sfk_dest *d = arg;
  struct sfk_ctx *c = d->c;
  struct sluice_error e = {0};
  struct sluice_buf b = SLUICE_BUF_INIT;
  int rc = 0, n;

  d->call = NULL;
  if (status < 0) {
    step_done(d, status, err);
    return;
  }
  switch (d->step) {
  case STEP_COLUMNS:
    rc = read_columns(d, body, &e);
    rc = rc ? rc : vanished_fields(d, &e);
    rc = rc ? rc : plan_ddl(d, &b, &n, &e);
    if (rc == 0 && n > 0)
      rc = run(d, STEP_DDL, d->table_exists ? "add columns" : "create table",
               &b, NULL, n, &e);
    else if (rc == 0)
      rc = start_stage(d, &e);
    sluice_buf_free(&b);
    break;
  case STEP_DDL: rc = start_stage(d, &e); break;
  case STEP_STAGE:
    d->stage_ready = 1;
    if (d->batch == NULL) { /* open */
      step_done(d, 0, NULL);
      return;
    }
    rc = write_rows(d, &e); /* a write after a commit */
    if (rc == 0)
      return;
    break;
  case STEP_INSERT:
    if (d->row_from < sluice_batch_nrows(d->batch))
      rc = insert_rows(d, &e);
    else
      step_done(d, 0, NULL);
    if (rc == 0)
      return;
    break;
  case STEP_COMMIT: {
    /* The MERGE's counts are in its child statement (the second). */
    json_t *h = json_object_get(body, "statementHandles");
    const char *mh = json_string_value(json_array_get(h, 1));
    d->stage_ready = 0; /* dropped with the commit */
    d->staged = d->staged_deletes = 0;
    d->ndrift = 0;
    sluice_buf_reset(&d->drift);
    rc = save_columns(d, &e);
    if (rc == 0 && mh != NULL && strcmp(c->write, "replace") != 0) {
      d->step = STEP_COUNTS;
      rc = sfk_fetch(c, "merge counts", mh, -1, on_exec, d, &d->call, &e);
      if (rc == 0)
        return;
      rc = 0; /* the counts are only logged */
    }
    if (rc == 0) {
      commit_finished(d);
      return;
    }
    break;
  }
  case STEP_COUNTS:
    log_counts(d, body);
    commit_finished(d);
    return;
  }
  if (rc < 0)
    step_done(d, rc, &e);
}

/* --- the callbacks ------------------------------------------------------- */

int sfk_dest_open(struct sluice_instance *ins, void *ctx,
                  struct sluice_schema *schema, sluice_done_cb done, void *arg,
                  struct sluice_error *err)
{
  struct sfk_ctx *c = ctx;
  struct sfk_dest *d;
  struct sluice_buf b = SLUICE_BUF_INIT, name = SLUICE_BUF_INIT;
  char tbuf[32];
  size_t i, k;
  int rc = 0;

  (void)ins;
  if (c->dst != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "already open");
  if ((d = calloc(1, sizeof *d)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  c->dst = d;
  d->c = c;
  d->started = time(NULL);
  d->schema = sluice_schema_ref(schema);
  d->nfields = sluice_schema_nfields(schema);
  d->colnames = calloc(d->nfields + 1, sizeof *d->colnames);
  d->bindtype = calloc(d->nfields + 1, sizeof *d->bindtype);
  d->coltypes = calloc(d->nfields + 1, sizeof *d->coltypes);
  if (d->colnames == NULL || d->bindtype == NULL || d->coltypes == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  for (i = 0; i < d->nfields; i++) {
    const struct sluice_field *f = sluice_schema_field(schema, i);
    if ((d->colnames[i] = upper_dup(f->name)) == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    for (k = 0; k < i; k++)
      if (strcmp(d->colnames[k], d->colnames[i]) == 0)
        return sluice_error_set(err, SLUICE_EINVAL, 0,
                                "fields %s and %s would both be column %s "
                                "(Snowflake names are upper-cased): map one "
                                "to another name",
                                sluice_schema_field(schema, k)->name, f->name,
                                d->colnames[i]);
    if (flag_mode(d) && strcasecmp(f->name, c->del_flag_column) == 0)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "field %s is the hard-delete flag column: set "
                              "del_flag_column to another name",
                              f->name);
    d->coltypes[i] = strdup(sfk_sql_column_type(f, tbuf, sizeof tbuf));
    if (d->coltypes[i] == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    d->bindtype[i] = sfk_binding_type(f->type, d->coltypes[i]);
  }
  for (i = 0; i < c->key.n; i++) {
    char *kname = upper_dup(c->key.v[i]);
    for (k = 0; kname != NULL && k < d->nfields; k++)
      if (strcmp(d->colnames[k], kname) == 0)
        break;
    free(kname);
    if (k == d->nfields)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "key: the rows have no field %s (after "
                              "mapping)",
                              c->key.v[i]);
  }
  rc = sfk_sql_table_name(c, c->table, &name);
  if (rc == 0 && (d->target = strdup(sluice_buf_cstr(&name))) == NULL)
    rc = SLUICE_ENOMEM;
  /* The staging table: <TABLE>__SLUICE_STG_<PIPELINE>, the pipeline name
   * in letters, digits and '_'. */
  sluice_buf_reset(&name);
  if (rc == 0) {
    const char *p = c->host->instance_name(c->ins);
    rc = sluice_buf_printf(&b, "%s__SLUICE_STG_", c->table);
    for (; rc == 0 && *p && *p != '/'; p++) {
      char ch = (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
      if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
        ch = '_';
      rc = sluice_buf_append(&b, &ch, 1);
    }
  }
  rc = rc ? rc : sfk_sql_table_name(c, sluice_buf_cstr(&b), &name);
  if (rc == 0 && (d->staging = strdup(sluice_buf_cstr(&name))) == NULL)
    rc = SLUICE_ENOMEM;
  d->st.table = d->staging;
  d->st.schema = d->schema;
  d->st.nfields = d->nfields;
  d->st.colnames = d->colnames;
  d->st.coltypes = (const char *const *)d->coltypes;
  sluice_buf_reset(&name);
  if (rc == 0 && c->audit_table && *c->audit_table) {
    rc = sfk_sql_table_name(c, c->audit_table, &name);
    if (rc == 0 && (d->audit = strdup(sluice_buf_cstr(&name))) == NULL)
      rc = SLUICE_ENOMEM;
  }
  sluice_buf_free(&name);
  sluice_buf_reset(&b);
  if (rc < 0) {
    sluice_buf_free(&b);
    return sluice_error_set(err, rc, 0, "table names: %s",
                            rc == SLUICE_ENOMEM ? "out of memory"
                                                : "a name cannot be quoted");
  }
  /* The table's columns, as the service has them. */
  sluice_buf_free(&name);
  rc = sfk_sql_columns_query(c, c->table, &b);
  if (rc < 0) {
    sluice_buf_free(&b);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  d->done = done;
  d->arg = arg;
  if ((rc = run(d, STEP_COLUMNS, "read the table's columns", &b, NULL, 1,
                err)) < 0)
    d->done = NULL;
  return rc;
}

static void on_empty_batch(void *arg)
{
  struct sfk_dest *d = arg;

  d->c->host->timer_stop(d->timer);
  d->timer = NULL;
  step_done(d, 0, NULL);
}

int sfk_dest_write(struct sluice_instance *ins, void *ctx,
                   struct sluice_batch *batch, sluice_done_cb done, void *arg,
                   struct sluice_error *err)
{
  struct sfk_ctx *c = ctx;
  struct sfk_dest *d = c->dst;
  int rc;

  (void)ins;
  if (d == NULL || d->done != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "write before open");
  d->batch = sluice_batch_ref(batch);
  d->row_from = 0;
  d->done = done;
  d->arg = arg;
  if (sluice_batch_nrows(batch) == 0) {
    /* Nothing to send; done still runs later, from the loop. */
    d->timer = c->host->timer_start(c->ins, 0, 0, on_empty_batch, d);
    rc =
        d->timer ? 0 : sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  } else if (!d->stage_ready) {
    rc = start_stage(d, err); /* then the rows */
  } else {
    rc = write_rows(d, err);
  }
  if (rc < 0) {
    d->done = NULL;
    sluice_batch_unref(d->batch);
    d->batch = NULL;
  }
  return rc;
}

/* The loader has filled the staging table: now the MERGE. */
static void on_flushed(void *arg, int status, const struct sluice_error *err)
{
  struct sfk_dest *d = arg;
  struct sluice_error e = {0};

  if (status < 0) {
    step_done(d, status, err);
    return;
  }
  if ((status = start_commit(d, &e)) < 0)
    step_done(d, status, &e);
}

int sfk_dest_commit(struct sluice_instance *ins, void *ctx, sluice_done_cb done,
                    void *arg, struct sluice_error *err)
{
  struct sfk_ctx *c = ctx;
  struct sfk_dest *d = c->dst;
  int rc;

  (void)ins;
  if (d == NULL || d->done != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "commit before open");
  d->done = done;
  d->arg = arg;
  if (c->loader != NULL)
    rc = c->loader->flush(c, &d->st, d->staged, on_flushed, d, err);
  else
    rc = start_commit(d, err);
  if (rc < 0)
    d->done = NULL;
  return rc;
}

void sfk_dest_free(struct sfk_ctx *c)
{
  struct sfk_dest *d = c->dst;
  size_t i;

  if (d == NULL)
    return;
  if (d->call != NULL)
    sfk_call_cancel(d->call);
  if (d->timer != NULL)
    c->host->timer_stop(d->timer);
  if (d->batch != NULL)
    sluice_batch_unref(d->batch);
  for (i = 0; i < d->nfields && d->colnames; i++)
    free(d->colnames[i]);
  free(d->colnames);
  free(d->bindtype);
  for (i = 0; i < d->nfields && d->coltypes; i++)
    free(d->coltypes[i]);
  free(d->coltypes);
  for (i = 0; i < d->nhave; i++) {
    free(d->have[i].name);
    free(d->have[i].type);
  }
  free(d->have);
  sluice_schema_unref(d->schema);
  free(d->target);
  free(d->staging);
  free(d->audit);
  sluice_buf_free(&d->drift);
  free(d);
  c->dst = NULL;
}
