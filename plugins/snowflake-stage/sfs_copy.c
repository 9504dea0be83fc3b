/* plugins/snowflake-stage/sfs_copy.c - COPY INTO the staging table from
 * the files of one commit (contract 4.3), checked before any MERGE:
 *
 *   COPY INTO <staging> FROM @<stage>/<rel> FILES = ('part-000001.csv.gz',
 *     ...) FILE_FORMAT = (...) ON_ERROR = ABORT_STATEMENT
 *
 * at most 1000 files a statement (Snowflake's FILES limit), one statement
 * after the other.  A bad row aborts the statement, and the service's
 * message names the file, the line and the column; every result row must
 * say LOADED, and the rows loaded must add up to the rows written.  The
 * exact FILES (never a PATTERN) mean no other run's file is ever read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sfs.h"

#define COPY_FILES_MAX 1000

/* The format the files are written in (sfs_csvgz.c). */
#define FILE_FORMAT                                                            \
  "FILE_FORMAT = (TYPE = CSV FIELD_OPTIONALLY_ENCLOSED_BY = '\"' "             \
  "SKIP_HEADER = 1 COMPRESSION = GZIP NULL_IF = ('\\\\N') "                    \
  "EMPTY_FIELD_AS_NULL = FALSE)"

struct sfs_copy {
  struct sfs_ctx *s;
  const char *table, *rel;  /* borrowed until cb */
  const char *const *names; /* borrowed until cb */
  size_t n, copied;
  int64_t expect, loaded;
  struct sfk_call *call;
  sfs_copy_cb cb;
  void *arg;
};

static int next_statement(struct sfs_copy *k, struct sluice_error *err);

static void finish(struct sfs_copy *k, int status,
                   const struct sluice_error *err)
{
  sfs_copy_cb cb = k->cb;
  void *arg = k->arg;
  int64_t loaded = k->loaded;

  free(k);
  cb(arg, status, loaded, status == 0 ? NULL : err);
}

/* The index of the rowType column named name, or -1. */
static long column_index(json_t *body, const char *name)
{
  json_t *rt = json_object_get(json_object_get(body, "resultSetMetaData"),
                               "rowType"),
         *col;
  size_t i;

  json_array_foreach(rt, i, col)
  {
    const char *n = json_string_value(json_object_get(col, "name"));
    if (n != NULL && strcasecmp(n, name) == 0)
      return (long)i;
  }
  return -1;
}

static const char *cell(json_t *row, long i)
{
  const char *v =
      i < 0 ? NULL : json_string_value(json_array_get(row, (size_t)i));
  return v ? v : "";
}

static void on_copy(void *arg, int status, json_t *body,
                    const struct sluice_error *err)
{
  struct sfs_copy *k = arg;
  struct sfk_ctx *c = &k->s->k;
  struct sluice_error e = {0};
  json_t *data = json_object_get(body, "data"), *row;
  long ifile, istatus, iloaded, ierr, iline, ichar, icol;
  size_t i;

  k->call = NULL;
  if (status < 0) {
    /* ON_ERROR = ABORT_STATEMENT: the service's message names the file,
     * the line and the column. */
    sluice_error_set(&e, status, err ? err->retryable : 0,
                     "COPY INTO %s from @%s/%s: %s", k->table, k->s->stage,
                     k->rel, err && err->message[0] ? err->message : "failed");
    finish(k, status, &e);
    return;
  }
  ifile = column_index(body, "file");
  istatus = column_index(body, "status");
  iloaded = column_index(body, "rows_loaded");
  ierr = column_index(body, "first_error");
  iline = column_index(body, "first_error_line");
  ichar = column_index(body, "first_error_character");
  icol = column_index(body, "first_error_column_name");
  if (ifile < 0 || iloaded < 0) {
    /* "Copy executed with 0 files processed.": the files were loaded
     * into this table before, which a fresh staging table never has. */
    status = sluice_error_set(
        &e, SLUICE_EPROTO, 0,
        "COPY INTO %s from @%s/%s loaded no file (%s): the files of this "
        "commit were not found or were loaded before",
        k->table, k->s->stage, k->rel, cell(json_array_get(data, 0), 0));
    finish(k, status, &e);
    return;
  }
  json_array_foreach(data, i, row)
  {
    if (strcmp(cell(row, istatus), "LOADED") != 0) {
      status = sluice_error_set(
          &e, SLUICE_EDATA, 0,
          "COPY INTO %s: file %s: %s: %s (line %s, character %s, column %s)",
          k->table, cell(row, ifile), cell(row, istatus), cell(row, ierr),
          cell(row, iline), cell(row, ichar), cell(row, icol));
      finish(k, status, &e);
      return;
    }
    k->loaded += strtoll(cell(row, iloaded), NULL, 10);
  }
  k->copied += json_array_size(data);
  SLUICE_LOG_D(c->host, c->ins, "COPY INTO %s: %zu files loaded", k->table,
               json_array_size(data));
  if (k->copied < k->n) {
    if ((status = next_statement(k, &e)) < 0)
      finish(k, status, &e);
    return;
  }
  if (k->loaded != k->expect) {
    status = sluice_error_set(
        &e, SLUICE_EPROTO, 0,
        "COPY INTO %s loaded %lld rows from %zu files, but %lld were "
        "written: not merging",
        k->table, (long long)k->loaded, k->n, (long long)k->expect);
    finish(k, status, &e);
    return;
  }
  finish(k, 0, NULL);
}

/* One COPY for the next files (at most COPY_FILES_MAX). */
static int next_statement(struct sfs_copy *k, struct sluice_error *err)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  size_t i, end = k->copied + COPY_FILES_MAX;
  int rc;

  if (end > k->n)
    end = k->n;
  rc = sluice_buf_printf(&b, "COPY INTO %s FROM @%s/%s FILES = (", k->table,
                         k->s->stage, k->rel);
  for (i = k->copied; i < end && rc == 0; i++)
    rc =
        sluice_buf_printf(&b, "%s'%s'", i > k->copied ? ", " : "", k->names[i]);
  rc = rc ? rc
          : sluice_buf_append_str(&b, ") " FILE_FORMAT
                                      " ON_ERROR = ABORT_STATEMENT");
  if (rc < 0) {
    sluice_buf_free(&b);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  rc = sfk_exec(&k->s->k, "copy into the staging table", sluice_buf_cstr(&b),
                NULL, 1, on_copy, k, &k->call, err);
  sluice_buf_free(&b);
  return rc;
}

struct sfs_copy *sfs_copy_start(struct sfs_ctx *s, const char *table,
                                const char *rel, const char *const *names,
                                size_t n, int64_t expect_rows, sfs_copy_cb cb,
                                void *arg, struct sluice_error *err)
{
  struct sfs_copy *k = calloc(1, sizeof *k);

  if (k == NULL) {
    sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    return NULL;
  }
  k->s = s;
  k->table = table;
  k->rel = rel;
  k->names = names;
  k->n = n;
  k->expect = expect_rows;
  k->cb = cb;
  k->arg = arg;
  if (next_statement(k, err) < 0) {
    free(k);
    return NULL;
  }
  return k;
}

void sfs_copy_cancel(struct sfs_copy *k)
{
  if (k == NULL)
    return;
  sfk_call_cancel(k->call); /* its callback is not called */
  free(k);
}
