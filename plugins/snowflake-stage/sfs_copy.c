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

static void on_copy(void *arg, int status, json_t *body,
                    const struct sluice_error *err)
{
  struct sfs_copy *k = arg;
  struct sfk_ctx *c = &k->s->k;
  struct sluice_error e = {0};
  json_t *data = json_object_get(body, "data");

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
  status = sfs_copy_result(body, k->table, k->s->stage, k->rel, &k->loaded, &e);
  if (status < 0) {
    finish(k, status, &e);
    return;
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
