/* plugins/csv-file/csv_dest.c - writes one CSV file, atomically.
 *
 * Rows go to a temporary file beside the target; commit flushes, fsyncs
 * and renames it into place, then fsyncs the directory.  A run that dies
 * before commit leaves the target as it was (the temporary file is removed
 * by fini, or by the next run's open if the process was killed).
 * File work runs on the thread pool. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include <sluice/convert.h>

#include "csv_file.h"

#define TMP_SUFFIX ".sluice-tmp-"

struct csv_dest {
  struct csv_ctx *c;
  char *final_path;
  char *tmp_path;
  char *stale_pattern; /* a glob of this pipeline's temp files, any run */
  int fd;
  gzFile gz;
  struct sluice_schema *schema;
  struct sluice_buf out;
  struct sluice_buf text;
  int typed_raw;  /* typed values' text can never need quoting */
  uint64_t bytes; /* written by the current operation */
  int committed;

  /* the operation in flight */
  struct sluice_batch *batch;
  sluice_done_cb done;
  void *done_arg;
  int status;
  struct sluice_error err;
};

static int dest_fail(struct csv_dest *d, const char *what)
{
  d->status = sluice_error_set(&d->err, SLUICE_EIO, 0, "%s: %s: %s",
                               d->final_path, what, strerror(errno));
  return d->status;
}

static int write_out(struct csv_dest *d)
{
  const char *p = d->out.data;
  size_t left = d->out.len;

  d->bytes += left;
  if (d->gz != NULL) {
    while (left > 0) {
      unsigned chunk = left > (1u << 30) ? (1u << 30) : (unsigned)left;
      if (gzwrite(d->gz, p, chunk) != (int)chunk) {
        int zerr;
        d->status = sluice_error_set(&d->err, SLUICE_EIO, 0, "%s: gzip: %s",
                                     d->final_path, gzerror(d->gz, &zerr));
        return d->status;
      }
      p += chunk;
      left -= chunk;
    }
  } else {
    while (left > 0) {
      ssize_t n = write(d->fd, p, left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return dest_fail(d, "write");
      p += n;
      left -= (size_t)n;
    }
  }
  sluice_buf_reset(&d->out);
  return 0;
}

/* Null is an empty field; an empty string is "" so the two stay apart. */
static int encode_value(struct csv_dest *d, const struct sluice_value *v)
{
  switch (v->type) {
  case SLUICE_TYPE_NULL: return 0;
  case SLUICE_TYPE_STRING:
    if (v->len == 0)
      return sluice_buf_append(&d->out, "\"\"", 2);
    return sluice_csv_write_field(&d->out, v->u.str, v->len, &d->c->csv);
  case SLUICE_TYPE_DECIMAL:
    if (d->typed_raw)
      return sluice_buf_append(&d->out, v->u.str, v->len);
    return sluice_csv_write_field(&d->out, v->u.str, v->len, &d->c->csv);
  default:
    if (d->typed_raw)
      return sluice_value_format(v, &d->out);
    sluice_buf_reset(&d->text);
    if (sluice_value_format(v, &d->text) < 0)
      return SLUICE_ENOMEM;
    return sluice_csv_write_field(&d->out, d->text.data, d->text.len,
                                  &d->c->csv);
  }
}

static int encode_header(struct csv_dest *d)
{
  size_t n = sluice_schema_nfields(d->schema);

  for (size_t i = 0; i < n; i++) {
    const char *name = sluice_schema_field(d->schema, i)->name;
    if (i > 0)
      sluice_buf_append_char(&d->out, d->c->csv.delimiter);
    sluice_csv_write_field(&d->out, name, strlen(name), &d->c->csv);
  }
  return sluice_buf_append_str(&d->out, d->c->csv.line_ending);
}

/* Removes temporary files a killed run of this pipeline left behind (its
 * path may have held another {run_id} or {date}).  The pipeline lock means
 * no other run of this pipeline is writing one now, and the pipeline's name
 * in the temp name keeps other pipelines' files out of reach. */
static void remove_stale_temps(struct csv_dest *d)
{
  glob_t g;

  if (glob(d->stale_pattern, GLOB_NOSORT, NULL, &g) != 0)
    return;
  for (size_t i = 0; i < g.gl_pathc; i++)
    if (strcmp(g.gl_pathv[i], d->tmp_path) != 0)
      unlink(g.gl_pathv[i]);
  globfree(&g);
}

static void open_work(void *arg)
{
  struct csv_dest *d = arg;

  struct stat st;

  if (csv_make_parent_dirs(d->final_path) != 0) {
    dest_fail(d, "cannot create its directory");
    return;
  }
  /* The commit renames over the target: never over a device or a FIFO
   * (a run pointed at /dev/null must not replace it with a file). */
  if (stat(d->final_path, &st) == 0 && !S_ISREG(st.st_mode)) {
    d->status = sluice_error_set(&d->err, SLUICE_EINVAL, 0,
                                 "%s: not a regular file; refusing to "
                                 "replace it",
                                 d->final_path);
    return;
  }
  remove_stale_temps(d);
  d->fd = open(d->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (d->fd < 0) {
    dest_fail(d, "cannot create a temporary file beside it");
    return;
  }
  if (csv_wants_gzip(d->c, d->final_path)) {
    int fd2 = dup(d->fd);
    /* gzip level 6: zlib's default, the usual size/speed balance. */
    d->gz = fd2 >= 0 ? gzdopen(fd2, "wb6") : NULL;
    if (d->gz == NULL) {
      if (fd2 >= 0)
        close(fd2);
      dest_fail(d, "gzip");
      return;
    }
    gzbuffer(d->gz, 256 * 1024);
  }
  /* Replacing a file keeps its permissions (umask would widen 0600). */
  if (stat(d->final_path, &st) == 0 && fchmod(d->fd, st.st_mode & 07777) != 0) {
    dest_fail(d, "chmod of the temporary file");
    return;
  }
  if (d->c->header && (encode_header(d) < 0 || write_out(d) < 0) &&
      d->status == 0)
    dest_fail(d, "write");
}

static void write_work(void *arg)
{
  struct csv_dest *d = arg;
  struct sluice_batch *b = d->batch;
  size_t nrows = sluice_batch_nrows(b),
         ncols = sluice_schema_nfields(d->schema);
  const char *eol = d->c->csv.line_ending;
  size_t eol_len = strlen(eol);

  for (size_t r = 0; r < nrows && d->status == 0; r++) {
    for (size_t c = 0; c < ncols; c++) {
      if (c > 0 && d->out.cap - d->out.len > 1)
        d->out.data[d->out.len++] = d->c->csv.delimiter;
      else if (c > 0)
        sluice_buf_append_char(&d->out, d->c->csv.delimiter);
      if (encode_value(d, sluice_batch_value(b, r, c)) < 0) {
        d->status =
            sluice_error_set(&d->err, SLUICE_ENOMEM, 0, "out of memory");
        return;
      }
    }
    sluice_buf_append(&d->out, eol, eol_len);
    /* Keep the buffer small: memory stays flat whatever the batch size. */
    if (d->out.len >= 1024 * 1024)
      write_out(d);
  }
  if (d->status == 0)
    write_out(d);
}

static int fsync_dir_of(const char *path)
{
  char *dir = strdup(path), *slash;
  int fd, rc = -1;

  if (dir == NULL)
    return -1;
  slash = strrchr(dir, '/');
  if (slash != NULL)
    *(slash == dir ? slash + 1 : slash) = '\0';
  fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    rc = fsync(fd);
    close(fd);
  }
  free(dir);
  return rc;
}

static void commit_work(void *arg)
{
  struct csv_dest *d = arg;

  if (d->gz != NULL) {
    int zrc = gzclose(d->gz);
    d->gz = NULL;
    if (zrc != Z_OK) {
      d->status =
          sluice_error_set(&d->err, SLUICE_EIO, 0, "%s: gzip close failed (%d)",
                           d->final_path, zrc);
      return;
    }
  }
  if (fsync(d->fd) != 0) {
    dest_fail(d, "fsync");
    return;
  }
  if (close(d->fd) != 0) {
    d->fd = -1;
    dest_fail(d, "close");
    return;
  }
  d->fd = -1;
  if (rename(d->tmp_path, d->final_path) != 0) {
    dest_fail(d, "rename");
    return;
  }
  d->committed = 1;
  if (fsync_dir_of(d->final_path) != 0)
    dest_fail(d, "fsync of its directory");
}

static void after_op(void *arg, int status)
{
  struct csv_dest *d = arg;
  sluice_done_cb done = d->done;
  const struct sluice_host *h = d->c->host;

  if (status < 0 && d->status == 0)
    d->status = sluice_error_set(&d->err, status, 0, "write cancelled");
  h->count(d->c->ins, SLUICE_COUNT_BYTES_OUT, (int64_t)d->bytes);
  d->bytes = 0;
  sluice_batch_unref(d->batch);
  d->batch = NULL;
  d->done = NULL;
  done(d->done_arg, d->status, d->status < 0 ? &d->err : NULL);
}

static int submit(struct csv_dest *d, void (*work)(void *), sluice_done_cb done,
                  void *arg, struct sluice_error *err)
{
  int rc;

  if (d->status < 0) {
    *err = d->err;
    return d->status;
  }
  d->done = done;
  d->done_arg = arg;
  rc = d->c->host->work_submit(d->c->ins, work, after_op, d);
  if (rc < 0) {
    sluice_batch_unref(d->batch);
    d->batch = NULL;
    return sluice_error_set(err, rc, 0, "cannot queue work");
  }
  return 0;
}

int csv_dest_open(struct sluice_instance *ins, void *ctx,
                  struct sluice_schema *schema, sluice_done_cb done, void *arg,
                  struct sluice_error *err)
{
  struct csv_ctx *c = ctx;
  struct csv_dest *d = calloc(1, sizeof *d);
  struct sluice_buf tmp = SLUICE_BUF_INIT, stale = SLUICE_BUF_INIT;
  const char *pipeline;
  char *pattern;
  size_t plen;

  (void)ins;
  if (d == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  c->dst = d;
  d->c = c;
  d->fd = -1;
  d->schema = sluice_schema_ref(schema);
  /* Numbers, dates, times, booleans and base64 are written with these
   * bytes only: a delimiter outside them never forces quotes. */
  d->typed_raw = strchr("0123456789+-.:/=eEINFTZaflnrstuABCDEFGHIJKLMNOPQRS"
                        "TUVWXYZbcdghijkmopqvwxyz ",
                        c->csv.delimiter) == NULL;
  d->final_path = csv_expand_path(c, c->path);
  pipeline = csv_pipeline_name(c, &plen);
  if (d->final_path != NULL)
    sluice_buf_printf(&tmp, "%s" TMP_SUFFIX "%.*s-%s", d->final_path, (int)plen,
                      pipeline, c->host->run_id(c->ins));
  d->tmp_path = tmp.data;
  pattern = csv_expand_path_as(c, c->path, 1);
  if (pattern != NULL) {
    sluice_buf_printf(&stale, "%s" TMP_SUFFIX "%.*s-*", pattern, (int)plen,
                      pipeline);
    free(pattern);
  }
  d->stale_pattern = stale.data;
  if (d->final_path == NULL || d->tmp_path == NULL || d->stale_pattern == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  return submit(d, open_work, done, arg, err);
}

int csv_dest_write(struct sluice_instance *ins, void *ctx,
                   struct sluice_batch *batch, sluice_done_cb done, void *arg,
                   struct sluice_error *err)
{
  struct csv_ctx *c = ctx;

  (void)ins;
  c->dst->batch = sluice_batch_ref(batch);
  return submit(c->dst, write_work, done, arg, err);
}

int csv_dest_commit(struct sluice_instance *ins, void *ctx, sluice_done_cb done,
                    void *arg, struct sluice_error *err)
{
  struct csv_ctx *c = ctx;

  (void)ins;
  if (c->dst->committed)
    return sluice_error_set(err, SLUICE_ESTATE, 0,
                            "%s: already committed (csv-file commits once)",
                            c->dst->final_path);
  return submit(c->dst, commit_work, done, arg, err);
}

void csv_dest_free(struct csv_ctx *c)
{
  struct csv_dest *d = c->dst;

  if (d == NULL)
    return;
  if (d->gz != NULL)
    gzclose(d->gz);
  if (d->fd >= 0)
    close(d->fd);
  if (!d->committed && d->tmp_path != NULL)
    unlink(d->tmp_path);
  sluice_schema_unref(d->schema);
  sluice_batch_unref(d->batch);
  sluice_buf_free(&d->out);
  sluice_buf_free(&d->text);
  free(d->final_path);
  free(d->tmp_path);
  free(d->stale_pattern);
  free(d);
  c->dst = NULL;
}
