/* plugins/csv-file/csv_source.c - the csv-file source on the loop thread:
 * lifecycle, backpressure, and emitting what csv_read.c reads, in order.
 *
 * The checkpoint records the files already read and, inside the current
 * file, the byte offset after the last row of the batch, so a run that
 * stopped part way resumes exactly there. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sluice/quote.h>

#include "csv_source.h"

static void advance(struct csv_source *s);

void csv_chunk_free(struct csv_chunk *k)
{
  if (k == NULL)
    return;
  sluice_batch_unref(k->batch);
  free(k);
}

static struct csv_chunk *chunk_new(struct csv_source *s)
{
  struct csv_chunk *k = calloc(1, sizeof *k);

  if (k == NULL)
    return NULL;
  k->s = s;
  if (s->schema != NULL) {
    k->batch = sluice_batch_new(s->schema, s->max_rows, s->max_bytes);
    if (k->batch == NULL) {
      free(k);
      return NULL;
    }
  }
  return k;
}

static void set_failed(struct csv_source *s, const struct sluice_error *err)
{
  if (s->status < 0)
    return;
  s->status = err->code < 0 ? err->code : SLUICE_EIO;
  s->err = *err;
}

/* Takes a finished stage's counts and status; 0 when the chunk is good. */
static int take_chunk(struct csv_source *s, struct csv_chunk *k, int status)
{
  const struct sluice_host *h = s->c->host;

  h->count(s->c->ins, SLUICE_COUNT_REJECTED, (int64_t)k->rejected);
  h->count(s->c->ins, SLUICE_COUNT_BYTES_IN, (int64_t)k->bytes_in);
  k->rejected = k->bytes_in = 0;
  if (status < 0 && k->status == 0)
    k->status = sluice_error_set(&k->err, status, 0, "read cancelled");
  if (k->status < 0) {
    set_failed(s, &k->err);
    csv_chunk_free(k);
    return -1;
  }
  return 0;
}

static void finish(struct csv_source *s)
{
  const struct sluice_host *h = s->c->host;

  if (s->finished)
    return;
  s->finished = 1;
  if (s->blank_lines > 0)
    h->log(s->c->ins, SLUICE_LOG_WARN, "%llu blank line%s skipped",
           (unsigned long long)s->blank_lines, s->blank_lines == 1 ? "" : "s");
  h->source_done(s->c->ins, s->status, s->status < 0 ? &s->err : NULL);
}

static void after_read(void *arg, int status)
{
  struct csv_source *s = arg;
  struct csv_chunk *k = s->reading;

  s->reading = NULL;
  s->filling = 0;
  if (take_chunk(s, k, status) == 0) {
    if (k->batch != NULL)
      s->ready = k;
    else
      csv_chunk_free(k); /* the header read: it carries no rows */
  }
  advance(s);
}

static int submit(struct csv_source *s, void (*work)(void *),
                  void (*after)(void *, int), void *arg)
{
  struct sluice_error err = {0};
  int rc = s->c->host->work_submit(s->c->ins, work, after, arg);

  if (rc < 0) {
    sluice_error_set(&err, rc, 0, "cannot queue work");
    set_failed(s, &err);
  }
  return rc;
}

static void start_read(struct csv_source *s)
{
  struct sluice_error err = {0};

  s->reading = chunk_new(s);
  if (s->reading == NULL) {
    set_failed(
        s, (sluice_error_set(&err, SLUICE_ENOMEM, 0, "out of memory"), &err));
    return;
  }
  s->filling = 1;
  if (submit(s, s->schema ? csv_read_chunk : csv_read_header, after_read, s) <
      0) {
    s->filling = 0;
    csv_chunk_free(s->reading);
    s->reading = NULL;
  }
}

/* A key sweep's batch: b's key columns only (b is taken). */
static struct sluice_batch *project_keys(struct csv_source *s,
                                         struct sluice_batch *b,
                                         struct sluice_error *err)
{
  size_t n = sluice_batch_nrows(b), row;
  struct sluice_batch *kb;

  if (s->key_schema == NULL) {
    s->key_cols = calloc(s->keys.n, sizeof *s->key_cols);
    s->key_schema = sluice_schema_new(s->keys.n);
    if (s->key_cols == NULL || s->key_schema == NULL) {
      sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
      goto fail;
    }
    for (size_t i = 0; i < s->keys.n; i++) {
      long col = sluice_schema_find(s->schema, s->keys.v[i]);
      const struct sluice_field *f;
      if (col < 0) {
        sluice_error_set(err, SLUICE_EINVAL, 0,
                         "key field '%s' is not a column of the files",
                         s->keys.v[i]);
        goto fail;
      }
      f = sluice_schema_field(s->schema, (size_t)col);
      s->key_cols[i] = col;
      if (sluice_schema_set(s->key_schema, i, f->name, f->type) < 0 ||
          (f->type == SLUICE_TYPE_DECIMAL &&
           sluice_schema_set_decimal(s->key_schema, i, f->precision, f->scale) <
               0)) {
        sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
        goto fail;
      }
    }
  }
  if ((kb = sluice_batch_new(s->key_schema, n ? n : 1,
                             sluice_batch_bytes(b) + 4096)) == NULL) {
    sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    goto fail;
  }
  for (size_t r = 0; r < n; r++) {
    if (sluice_batch_add_row(kb, sluice_batch_op(b, r), &row) < 0)
      break;
    for (size_t i = 0; i < s->keys.n; i++)
      if (sluice_batch_set_value(
              kb, row, i, sluice_batch_value(b, r, (size_t)s->key_cols[i])) <
          0) {
        r = n + 1;
        break;
      }
  }
  if (sluice_batch_nrows(kb) != n) {
    sluice_batch_unref(kb);
    sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    goto fail;
  }
  sluice_batch_unref(b);
  return kb;
fail:
  sluice_batch_unref(b);
  return NULL;
}

static void emit_ready(struct csv_source *s)
{
  struct csv_chunk *k = s->ready;
  struct sluice_batch *b = k->batch;
  struct sluice_error err = {0};

  s->ready = NULL;
  k->batch = NULL;
  csv_chunk_free(k);
  if (s->keys.n > 0 && (b = project_keys(s, b, &err)) == NULL) {
    set_failed(s, &err);
    return;
  }
  /* The host may call pause or stop from inside emit: state is settled. */
  if (s->c->host->emit(s->c->ins, b, &err) < 0)
    set_failed(s, &err);
}

/* Moves everything that can move; called after every event.  One read at
 * a time; a finished batch waits while the host has paused the source. */
static void advance(struct csv_source *s)
{
  while (!s->finished) {
    if (s->ready != NULL && !s->paused && s->status == 0) {
      emit_ready(s);
      continue;
    }
    if (s->status < 0 || s->stopping) {
      if (s->filling)
        return;                 /* its after callback comes back here */
      csv_chunk_free(s->ready); /* not emitted: re-read next run */
      s->ready = NULL;
      finish(s);
      return;
    }
    /* filling is tested before eof: eof is written by the read in flight. */
    if (s->filling || s->ready != NULL)
      return;
    if (s->eof) {
      finish(s);
      return;
    }
    if (!s->paused) {
      start_read(s);
      if (s->status < 0)
        continue;
    }
    return;
  }
}

/* --- start --------------------------------------------------------------- */

/* Keeps the files of the glob not read yet, in order.  The done list is
 * rebuilt from the files that still match, so files removed or rotated
 * away are forgotten and the checkpoint does not grow forever. */
static int list_new_files(struct csv_source *s, glob_t *g,
                          struct sluice_error *err)
{
  json_t *seen = json_object(), *done = json_array(), *v;
  size_t j;

  s->files = calloc(g->gl_pathc + 1, sizeof *s->files);
  if (seen == NULL || done == NULL || s->files == NULL) {
    json_decref(seen);
    json_decref(done);
    globfree(g);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  json_array_foreach(s->done, j, v)
  {
    json_object_set(seen, json_string_value(v), json_true());
  }
  for (size_t i = 0; i < g->gl_pathc; i++) {
    const char *path = g->gl_pathv[i];
    struct stat st;

    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
      continue;
    /* The checkpoint is JSON: a name it cannot hold would be read again
     * on every run. */
    if (!sluice_utf8_valid(path, strlen(path))) {
      int rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                                "path: a matching file's name is not valid "
                                "UTF-8; rename it");
      json_decref(seen);
      json_decref(done);
      globfree(g);
      return rc;
    }
    if (json_object_get(seen, path) != NULL)
      json_array_append_new(done, json_string(path));
    else if ((s->files[s->nfiles] = strdup(path)) != NULL)
      s->nfiles++;
  }
  globfree(g);
  json_decref(seen);
  json_decref(s->done);
  s->done = done;
  return 0;
}

static int expand_glob(struct csv_source *s, struct sluice_error *err)
{
  char *pattern = csv_expand_path(s->c, s->c->path);
  glob_t g;
  int rc;

  if (pattern == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  rc = glob(pattern, GLOB_ERR, NULL, &g);
  if (rc == GLOB_NOMATCH) {
    s->c->host->log(s->c->ins, SLUICE_LOG_INFO, "no file matches %s", pattern);
    free(pattern);
    return 0;
  }
  if (rc != 0) {
    rc = sluice_error_set(err, SLUICE_EIO, 0, "path: cannot list %s", pattern);
    free(pattern);
    return rc;
  }
  free(pattern);
  return list_new_files(s, &g, err);
}

static int load_checkpoint(struct csv_source *s, const char *checkpoint,
                           struct sluice_error *err)
{
  json_t *cp, *done, *file;

  if (checkpoint == NULL) {
    s->done = json_array();
    return s->done ? 0
                   : sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  cp = json_loads(checkpoint, 0, NULL);
  done = json_object_get(cp, "done");
  if (!json_is_array(done)) {
    json_decref(cp);
    return sluice_error_set(err, SLUICE_EDATA, 0,
                            "the checkpoint is not a csv-file checkpoint");
  }
  s->done = json_incref(done);
  file = json_object_get(cp, "file");
  if (json_is_string(file)) {
    s->resume_file = strdup(json_string_value(file));
    s->resume_pos.offset =
        (uint64_t)json_integer_value(json_object_get(cp, "offset"));
    s->resume_pos.line =
        (uint64_t)json_integer_value(json_object_get(cp, "line"));
    s->resume_pos.record =
        (uint64_t)json_integer_value(json_object_get(cp, "record"));
  }
  json_decref(cp);
  return 0;
}

/* Rejects accumulate: a later run (or one that reads nothing) must not
 * wipe the rows an operator has not looked at yet.  Any thread, under
 * reject_lock. */
int csv_open_rejects(struct csv_source *s, struct sluice_error *err)
{
  struct stat st;
  int fd = -1;

  /* Rejected rows are data the operator may not have meant to share. */
  if (csv_make_parent_dirs(s->reject_path) == 0)
    fd = open(s->reject_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0 || fstat(fd, &st) != 0 || (s->reject = fdopen(fd, "a")) == NULL) {
    int rc = sluice_error_set(err, SLUICE_EIO, 0, "reject_file: %s: %s",
                              s->reject_path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return rc;
  }
  if (st.st_size == 0)
    fputs("file,line,error,raw\n", s->reject);
  return 0;
}

static int use_declared_columns(struct csv_source *s, struct sluice_error *err)
{
  const struct csv_ctx *c = s->c;

  s->first_header = calloc(c->columns.n + 1, sizeof *s->first_header);
  if (s->first_header == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  for (size_t i = 0; i < c->columns.n; i++)
    if ((s->first_header[i] = strdup(c->columns.v[i])) == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  s->ncols = c->columns.n;
  if (csv_build_schema(s) < 0) {
    *err = s->err;
    return err->code;
  }
  return 0;
}

int csv_source_start(struct sluice_instance *ins, void *ctx,
                     const char *checkpoint, struct sluice_error *err)
{
  struct csv_ctx *c = ctx;
  struct csv_source *s = calloc(1, sizeof *s);
  int rc;

  (void)ins;
  if (s == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  c->src = s;
  s->c = c;
  s->fd = -1;
  pthread_mutex_init(&s->reject_lock, NULL);
  s->null_len = strlen(c->null_value);
  c->host->batch_limits(c->ins, &s->max_rows, &s->max_bytes);
  if (!c->header && c->columns.n == 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "columns: needed when header is false");
  if ((rc = load_checkpoint(s, checkpoint, err)) < 0 ||
      (rc = expand_glob(s, err)) < 0)
    return rc;
  if (c->reject_file != NULL &&
      (s->reject_path = csv_expand_path(c, c->reject_file)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  s->buf = malloc(CSV_READ_CHUNK);
  if (s->buf == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  if (!c->header && (rc = use_declared_columns(s, err)) < 0)
    return rc;
  c->host->log(c->ins, SLUICE_LOG_INFO, "%zu file%s to read", s->nfiles,
               s->nfiles == 1 ? "" : "s");
  /* Nothing to read: no batch at all, so the destination is not touched. */
  if (s->nfiles == 0)
    s->eof = 1;
  advance(s);
  if (s->status < 0 && !s->finished) {
    *err = s->err;
    return s->status;
  }
  return 0;
}

/* Every row of the files (no checkpoint), its key columns only.  A
 * malformed row fails the sweep, reject_file or not: a key left out would
 * look deleted. */
int csv_source_keys(struct sluice_instance *ins, void *ctx,
                    const struct sluice_strlist *fields,
                    struct sluice_error *err)
{
  struct csv_ctx *c = ctx;
  int rc;

  if (fields->n == 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "no key fields");
  c->reject_file = NULL;
  rc = csv_source_start(ins, ctx, NULL, err);
  if (c->src != NULL)
    c->src->keys = *fields; /* borrowed: the host keeps them for the run */
  return rc;
}

void csv_source_pause(struct sluice_instance *ins, void *ctx)
{
  struct csv_ctx *c = ctx;

  (void)ins;
  c->src->paused = 1;
}

void csv_source_resume(struct sluice_instance *ins, void *ctx)
{
  struct csv_ctx *c = ctx;

  (void)ins;
  c->src->paused = 0;
  advance(c->src);
}

void csv_source_stop(struct sluice_instance *ins, void *ctx)
{
  struct csv_ctx *c = ctx;

  (void)ins;
  c->src->stopping = 1;
  advance(c->src);
}

void csv_source_free(struct csv_ctx *c)
{
  struct csv_source *s = c->src;

  if (s == NULL)
    return;
  csv_read_close(s);
  if (s->reject != NULL)
    fclose(s->reject);
  pthread_mutex_destroy(&s->reject_lock);
  sluice_csv_reader_free(s->reader);
  csv_chunk_free(s->reading);
  csv_chunk_free(s->ready);
  sluice_schema_unref(s->schema);
  sluice_schema_unref(s->key_schema);
  free(s->key_cols);
  for (size_t i = 0; i < s->nfiles; i++)
    free(s->files[i]);
  for (size_t i = 0; s->first_header && s->first_header[i]; i++)
    free(s->first_header[i]);
  free(s->first_header);
  free(s->files);
  free(s->types);
  free(s->buf);
  free(s->resume_file);
  free(s->reject_path);
  json_decref(s->done);
  free(s);
  c->src = NULL;
}
