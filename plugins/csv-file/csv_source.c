/* plugins/csv-file/csv_source.c - reads a glob of CSV files.
 *
 * The reading and parsing run on the thread pool (fill_batch), one batch
 * at a time; the loop thread only emits finished batches (after_fill).
 * The checkpoint records the files already read and, inside the current
 * file, the byte offset after the last row of the batch, so a run that
 * stopped part way resumes exactly there. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include <sluice/convert.h>

#include "csv_file.h"

#define READ_CHUNK (256u * 1024)

struct col_type {
  enum sluice_type type;
  int precision;
  int scale;
};

struct csv_source {
  struct csv_ctx *c;
  char **files;
  size_t nfiles;
  size_t cur;            /* the file being read, or nfiles at the end */
  json_t *done;          /* array of the files fully read */
  char *resume_file;     /* from the checkpoint: where to continue */
  struct sluice_csv_pos resume_pos;

  int file_open;         /* a file is being read (fd, or gz when gzip) */
  int fd;
  gzFile gz;
  struct sluice_csv_reader *reader;
  char *buf;
  size_t buf_len, buf_off;
  int in_header;         /* the next record is the file's header */

  struct sluice_schema *schema;
  struct col_type *types;
  size_t ncols;
  char **first_header;   /* the first file's header, to compare others */
  const char *first_file;

  size_t max_rows, max_bytes;
  struct sluice_batch *batch; /* filled by the worker */
  uint64_t rejected;          /* in the current fill */
  uint64_t bytes_in;
  uint64_t blank_lines;
  size_t null_len;
  FILE *reject;
  struct sluice_buf scratch;

  int working, paused, stopping, finished;
  int eof;               /* every file read */
  int status;
  struct sluice_error err;
};

/* --- the worker side: no host calls here ------------------------------- */

static int fail_at(struct csv_source *s, int code, const char *fmt, ...)
    SLUICE_PRINTF(3, 4);
static int fail_at(struct csv_source *s, int code, const char *fmt, ...)
{
  va_list ap;
  char msg[SLUICE_ERROR_MSG_MAX];

  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  s->status = sluice_error_set(&s->err, code, 0, "%s: %s", s->files[s->cur],
                               msg);
  return s->status;
}

static int reject_row(struct csv_source *s, uint64_t line, const char *raw,
                      size_t rawlen, const char *reason)
{
  struct sluice_buf *b = &s->scratch;
  char num[32];

  if (s->reject == NULL)
    return fail_at(s, SLUICE_EDATA, "%s", reason);
  sluice_buf_reset(b);
  snprintf(num, sizeof num, "%llu", (unsigned long long)line);
  /* Trim the raw record's own line end: the reject file adds its own. */
  while (rawlen > 0 && (raw[rawlen - 1] == '\n' || raw[rawlen - 1] == '\r'))
    rawlen--;
  struct sluice_csv_field f[4] = {
      {s->files[s->cur], strlen(s->files[s->cur]), 0},
      {num, strlen(num), 0},
      {reason, strlen(reason), 0},
      {raw, rawlen, 0}};
  if (sluice_csv_write_record(b, f, 4, &s->c->csv) < 0 ||
      fwrite(b->data, 1, b->len, s->reject) != b->len)
    return fail_at(s, SLUICE_EIO, "reject file: %s", strerror(errno));
  s->rejected++;
  return 0;
}

static int on_bad_record(void *arg, const char *raw, size_t rawlen,
                         const struct sluice_csv_pos *pos, const char *reason)
{
  struct csv_source *s = arg;

  if (s->in_header) /* without a header nothing after it can be read */
    return fail_at(s, SLUICE_EDATA, "%s", reason);
  return reject_row(s, pos->line, raw, rawlen, reason) < 0 ? SLUICE_EDATA : 0;
}

static int take_header(struct csv_source *s,
                       const struct sluice_csv_field *f, size_t n)
{
  if (s->first_header == NULL) {
    s->first_header = calloc(n + 1, sizeof *s->first_header);
    if (s->first_header == NULL)
      return fail_at(s, SLUICE_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
      if (f[i].len == 0)
        return fail_at(s, SLUICE_EDATA, "line 1: column %zu has no name",
                       i + 1);
      s->first_header[i] = strndup(f[i].ptr, f[i].len);
      for (size_t j = 0; j < i; j++)
        if (strcmp(s->first_header[j], s->first_header[i]) == 0)
          return fail_at(s, SLUICE_EDATA, "line 1: column '%s' appears twice",
                         s->first_header[i]);
    }
    s->ncols = n;
    s->first_file = s->files[s->cur];
    return 0;
  }
  if (n != s->ncols)
    return fail_at(s, SLUICE_EDATA,
                   "line 1: the header has %zu columns, %s has %zu", n,
                   s->first_file, s->ncols);
  for (size_t i = 0; i < n; i++)
    if (f[i].len != strlen(s->first_header[i]) ||
        memcmp(f[i].ptr, s->first_header[i], f[i].len) != 0)
      return fail_at(s, SLUICE_EDATA,
                     "line 1: column %zu is '%.*s', in %s it is '%s'", i + 1,
                     (int)f[i].len, f[i].ptr, s->first_file,
                     s->first_header[i]);
  return 0;
}

static int is_null(const struct csv_source *s, const struct sluice_csv_field *f)
{
  size_t nlen;

  if (f->quoted)
    return 0;
  nlen = s->null_len;
  return f->len == nlen && (nlen == 0 || memcmp(f->ptr, s->c->null_value,
                                                nlen) == 0);
}

/* Rebuilds a row's text for the reject file (the reader's slices are all
 * that is left of it). */
static void raw_of(struct csv_source *s, const struct sluice_csv_field *f,
                   size_t n, struct sluice_buf *out)
{
  for (size_t i = 0; i < n; i++) {
    if (i > 0)
      sluice_buf_append_char(out, s->c->csv.delimiter);
    sluice_csv_write_field(out, f[i].ptr, f[i].len, &s->c->csv);
  }
}

static int bad_row(struct csv_source *s, const struct sluice_csv_field *f,
                   size_t n, uint64_t line, const char *reason)
{
  struct sluice_buf raw = SLUICE_BUF_INIT;
  int rc;

  raw_of(s, f, n, &raw);
  rc = reject_row(s, line, raw.data ? raw.data : "", raw.len, reason);
  sluice_buf_free(&raw);
  return rc;
}

static int add_row(struct csv_source *s, const struct sluice_csv_field *f,
                   size_t n, const struct sluice_csv_pos *pos)
{
  struct sluice_batch *b = s->batch;
  struct sluice_error err = {0};
  char reason[SLUICE_ERROR_MSG_MAX + 64];
  size_t row;

  if (n != s->ncols) {
    /* A line with nothing on it is not a row; count it, don't fail. */
    if (n == 1 && f[0].len == 0 && !f[0].quoted) {
      s->blank_lines++;
      return 0;
    }
    snprintf(reason, sizeof reason, "line %llu: expected %zu fields, found %zu",
             (unsigned long long)pos->line, s->ncols, n);
    return bad_row(s, f, n, pos->line, reason);
  }
  if (sluice_batch_add_row(b, SLUICE_OP_UPSERT, &row) < 0)
    return fail_at(s, SLUICE_ENOMEM, "out of memory");
  if (sluice_batch_nrows(b) == 1)
    sluice_batch_set_first_record(b, pos->record - (s->c->header ? 1 : 0));
  for (size_t i = 0; i < n; i++) {
    int rc;
    if (is_null(s, &f[i]))
      continue;
    if (s->types[i].type == SLUICE_TYPE_STRING)
      rc = sluice_batch_set_string(b, row, i, f[i].ptr, f[i].len);
    else
      rc = sluice_batch_set_text(b, row, i, s->types[i].type, f[i].ptr,
                                 f[i].len, &err);
    if (rc < 0) {
      sluice_batch_drop_last_row(b);
      snprintf(reason, sizeof reason, "line %llu, field %zu (%s): %s",
               (unsigned long long)pos->line, i + 1,
               sluice_schema_field(s->schema, i)->name,
               err.message[0] ? err.message : "out of memory");
      return bad_row(s, f, n, pos->line, reason);
    }
  }
  return 0;
}

static int on_record(void *arg, const struct sluice_csv_field *f, size_t n,
                     const struct sluice_csv_pos *pos)
{
  struct csv_source *s = arg;

  if (s->in_header) {
    s->in_header = 0;
    /* Stop after the header: a resumed file seeks before reading on. */
    return take_header(s, f, n) < 0 ? SLUICE_EDATA : 1;
  }
  if (add_row(s, f, n, pos) < 0)
    return SLUICE_EDATA;
  return sluice_batch_full(s->batch) ? 1 : 0;
}

/* Input: plain files are read with read(2) straight into the parse
 * buffer; gzip (known by its magic bytes, whatever the name) through zlib. */
static int input_open(struct csv_source *s, const char *path)
{
  unsigned char magic[2];

  s->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (s->fd < 0)
    return fail_at(s, SLUICE_EIO, "%s", strerror(errno));
  s->file_open = 1;
  if (pread(s->fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    int fd2 = dup(s->fd);
    s->gz = fd2 >= 0 ? gzdopen(fd2, "rb") : NULL;
    if (s->gz == NULL) {
      if (fd2 >= 0)
        close(fd2);
      return fail_at(s, SLUICE_ENOMEM, "gzip: out of memory");
    }
    gzbuffer(s->gz, READ_CHUNK);
  }
  return 0;
}

static ssize_t input_read(struct csv_source *s)
{
  ssize_t n;

  if (s->gz != NULL) {
    int zerr;
    n = gzread(s->gz, s->buf, READ_CHUNK);
    if (n < 0)
      return fail_at(s, SLUICE_EIO, "gzip: %s", gzerror(s->gz, &zerr));
  } else {
    do
      n = read(s->fd, s->buf, READ_CHUNK);
    while (n < 0 && errno == EINTR);
    if (n < 0)
      return fail_at(s, SLUICE_EIO, "read: %s", strerror(errno));
  }
  s->buf_len = (size_t)n;
  s->buf_off = 0;
  s->bytes_in += (size_t)n;
  return n;
}

/* Offsets are of the uncompressed stream (gzseek decompresses up to it). */
static int input_seek(struct csv_source *s, uint64_t offset)
{
  if (s->gz != NULL ? gzseek(s->gz, (z_off_t)offset, SEEK_SET) < 0
                    : lseek(s->fd, (off_t)offset, SEEK_SET) < 0)
    return -1;
  s->buf_off = s->buf_len = 0;
  return 0;
}

static void input_close(struct csv_source *s)
{
  if (s->gz != NULL)
    gzclose(s->gz);
  if (s->file_open)
    close(s->fd);
  s->gz = NULL;
  s->fd = -1;
  s->file_open = 0;
}

static int open_reader(struct csv_source *s)
{
  sluice_csv_reader_free(s->reader);
  s->reader = sluice_csv_reader_new(&s->c->csv);
  if (s->reader == NULL)
    return fail_at(s, SLUICE_ENOMEM, "out of memory");
  sluice_csv_reader_set_callbacks(s->reader, on_record,
                                  s->c->reject_file ? on_bad_record : NULL, s);
  s->buf_off = s->buf_len = 0;
  return 0;
}

static int seek_to_resume(struct csv_source *s)
{
  if (input_seek(s, s->resume_pos.offset) < 0)
    return fail_at(s, SLUICE_EIO, "cannot seek to the checkpoint's offset %llu",
                   (unsigned long long)s->resume_pos.offset);
  if (open_reader(s) < 0)
    return s->status;
  sluice_csv_reader_set_pos(s->reader, &s->resume_pos);
  free(s->resume_file);
  s->resume_file = NULL;
  return 0;
}

static int open_file(struct csv_source *s)
{
  const char *path = s->files[s->cur];

  if (input_open(s, path) < 0)
    return s->status;
  if (open_reader(s) < 0)
    return s->status;
  s->in_header = s->c->header;
  if (!s->c->header && s->resume_file && strcmp(s->resume_file, path) == 0)
    return seek_to_resume(s);
  return 0;
}

static int close_file(struct csv_source *s, int finished)
{
  struct sluice_error err = {0};

  if (finished && sluice_csv_reader_finish(s->reader, &err) < 0)
    return fail_at(s, err.code, "%s", err.message);
  if (finished && s->in_header && s->c->header)
    return fail_at(s, SLUICE_EDATA, "the file is empty: no header line");
  input_close(s);
  if (finished) {
    json_array_append_new(s->done, json_string(s->files[s->cur]));
    s->cur++;
  }
  return 0;
}

static int build_schema(struct csv_source *s);

/* One step of reading: a chunk fed to the parser, or a file boundary. */
static int read_step(struct csv_source *s)
{
  struct sluice_error err = {0};
  size_t consumed = 0;
  int was_header, rc;

  if (!s->file_open)
    return open_file(s);
  if (s->buf_off == s->buf_len) {
    ssize_t n = input_read(s);
    if (n < 0)
      return s->status;
    if (n == 0)
      return close_file(s, 1);
  }
  was_header = s->in_header;
  rc = sluice_csv_reader_feed(s->reader, s->buf + s->buf_off,
                              s->buf_len - s->buf_off, &consumed, &err);
  s->buf_off += consumed;
  if (rc < 0)
    return s->status < 0 ? s->status
                         : fail_at(s, err.code ? err.code : rc, "%s",
                                   err.message);
  if (was_header && !s->in_header) {
    if (s->schema == NULL && build_schema(s) < 0)
      return s->status;
    if (s->resume_file && strcmp(s->resume_file, s->files[s->cur]) == 0)
      return seek_to_resume(s);
  }
  return 0;
}

static char *make_checkpoint(struct csv_source *s)
{
  json_t *cp = json_pack("{s:i, s:O}", "version", 1, "done", s->done);
  char *text;

  if (cp != NULL && s->file_open) {
    struct sluice_csv_pos pos = sluice_csv_reader_pos(s->reader);
    json_object_set_new(cp, "file", json_string(s->files[s->cur]));
    json_object_set_new(cp, "offset", json_integer((json_int_t)pos.offset));
    json_object_set_new(cp, "line", json_integer((json_int_t)pos.line));
    json_object_set_new(cp, "record", json_integer((json_int_t)pos.record));
  }
  text = cp ? json_dumps(cp, JSON_COMPACT) : NULL;
  json_decref(cp);
  return text;
}

static void fill_batch(void *arg)
{
  struct csv_source *s = arg;
  char *cp;

  s->rejected = 0;
  s->bytes_in = 0;
  while (s->status == 0 && s->cur < s->nfiles &&
         (s->batch == NULL || !sluice_batch_full(s->batch))) {
    if (read_step(s) < 0)
      break;
    /* A file ended or was opened: a batch carries at most one file's end,
     * so that a file's rows and its "done" mark travel together. */
    if (s->batch != NULL && !s->file_open && sluice_batch_nrows(s->batch) > 0)
      break;
  }
  if (s->status == 0 && s->cur >= s->nfiles)
    s->eof = 1;
  if (s->status == 0 && s->batch != NULL) {
    cp = make_checkpoint(s);
    if (cp == NULL || sluice_batch_set_checkpoint(s->batch, cp) < 0)
      s->status = sluice_error_set(&s->err, SLUICE_ENOMEM, 0, "out of memory");
    free(cp);
  }
  if (s->reject != NULL && fflush(s->reject) != 0 && s->status == 0)
    s->status = sluice_error_set(&s->err, SLUICE_EIO, 0, "%s: %s",
                                 s->c->reject_file, strerror(errno));
}

/* --- the loop side --------------------------------------------------------- */

static int build_schema(struct csv_source *s)
{
  json_t *types = NULL;
  json_error_t jerr;
  const char *key;
  json_t *v;

  s->schema = sluice_schema_new(s->ncols);
  s->types = calloc(s->ncols ? s->ncols : 1, sizeof *s->types);
  if (s->schema == NULL || s->types == NULL)
    return fail_at(s, SLUICE_ENOMEM, "out of memory");
  for (size_t i = 0; i < s->ncols; i++) {
    s->types[i].type = SLUICE_TYPE_STRING;
    sluice_schema_set(s->schema, i, s->first_header[i], SLUICE_TYPE_STRING);
  }
  if (s->c->types == NULL)
    return 0;
  types = json_loads(s->c->types, 0, &jerr);
  if (!json_is_object(types)) {
    json_decref(types);
    return fail_at(s, SLUICE_EINVAL, "types: expected an object of "
                                     "column: type");
  }
  json_object_foreach(types, key, v) {
    long i = sluice_schema_find(s->schema, key);
    struct col_type *t;
    if (i < 0) {
      const char *near = sluice_closest(key, (const char *const *)s->first_header,
                                        s->ncols);
      json_decref(types);
      return fail_at(s, SLUICE_EINVAL, "types.%s: no such column%s%s%s", key,
                     near ? "; did you mean '" : "", near ? near : "",
                     near ? "'?" : "");
    }
    t = &s->types[i];
    if (!json_is_string(v) ||
        sluice_type_parse(json_string_value(v), &t->type, &t->precision,
                          &t->scale) < 0) {
      json_decref(types);
      return fail_at(s, SLUICE_EINVAL, "types.%s: unknown type", key);
    }
    sluice_schema_set(s->schema, (size_t)i, key, t->type);
    if (t->type == SLUICE_TYPE_DECIMAL && (t->precision > 0 || t->scale > 0))
      sluice_schema_set_decimal(s->schema, (size_t)i,
                                t->precision < 0 ? 0 : t->precision,
                                t->scale < 0 ? 0 : t->scale);
  }
  json_decref(types);
  return 0;
}

static void submit_fill(struct csv_source *s);

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

static void after_fill(void *arg, int status)
{
  struct csv_source *s = arg;
  const struct sluice_host *h = s->c->host;
  struct sluice_batch *b = s->batch;
  struct sluice_error err = {0};

  s->working = 0;
  s->batch = NULL;
  if (status < 0 && s->status == 0)
    s->status = sluice_error_set(&s->err, status, 0, "read cancelled");
  h->count(s->c->ins, SLUICE_COUNT_REJECTED, (int64_t)s->rejected);
  h->count(s->c->ins, SLUICE_COUNT_BYTES_IN, (int64_t)s->bytes_in);
  if (s->status < 0) {
    sluice_batch_unref(b);
    finish(s);
    return;
  }
  if (b != NULL && h->emit(s->c->ins, b, &err) < 0) {
    /* The host has failed the run; it still waits for source_done. */
    s->status = err.code;
    s->err = err;
    finish(s);
    return;
  }
  if (s->eof || s->stopping) {
    finish(s);
    return;
  }
  if (!s->paused)
    submit_fill(s);
}

static void submit_fill(struct csv_source *s)
{
  const struct sluice_host *h = s->c->host;
  int rc;

  if (s->working || s->finished)
    return;
  if (s->schema != NULL) {
    s->batch = sluice_batch_new(s->schema, s->max_rows, s->max_bytes);
    if (s->batch == NULL) {
      s->status = sluice_error_set(&s->err, SLUICE_ENOMEM, 0, "out of memory");
      finish(s);
      return;
    }
  }
  s->working = 1;
  rc = h->work_submit(s->c->ins, fill_batch, after_fill, s);
  if (rc < 0) {
    s->working = 0;
    s->status = sluice_error_set(&s->err, rc, 0, "cannot queue work");
    finish(s);
  }
}

/* The first fill has no schema yet (no header read): it runs until the
 * header is known, and after_fill starts the real batches. */
static void first_fill(void *arg)
{
  struct csv_source *s = arg;

  while (s->status == 0 && s->cur < s->nfiles && s->schema == NULL)
    read_step(s);
  if (s->status == 0 && s->schema == NULL && s->cur >= s->nfiles)
    s->eof = 1;
}

static void after_first_fill(void *arg, int status)
{
  struct csv_source *s = arg;

  s->working = 0;
  s->c->host->count(s->c->ins, SLUICE_COUNT_BYTES_IN, (int64_t)s->bytes_in);
  s->bytes_in = 0;
  if (status < 0 && s->status == 0)
    s->status = sluice_error_set(&s->err, status, 0, "read cancelled");
  if (s->status < 0 || s->stopping || (s->eof && s->schema == NULL)) {
    finish(s);
    return;
  }
  submit_fill(s);
}

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
  json_array_foreach(s->done, j, v) {
    json_object_set(seen, json_string_value(v), json_true());
  }
  for (size_t i = 0; i < g->gl_pathc; i++) {
    const char *path = g->gl_pathv[i];
    struct stat st;

    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
      continue;
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
    return 0;
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
    s->resume_pos.line = (uint64_t)json_integer_value(json_object_get(cp, "line"));
    s->resume_pos.record =
        (uint64_t)json_integer_value(json_object_get(cp, "record"));
  }
  json_decref(cp);
  return 0;
}

static int open_reject_file(struct csv_source *s, struct sluice_error *err)
{
  char *path = csv_expand_path(s->c, s->c->reject_file);
  int fd;

  if (path == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  /* Rejected rows are data the operator may not have meant to share. */
  if (csv_make_parent_dirs(path) != 0)
    fd = -1;
  else
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || (s->reject = fdopen(fd, "w")) == NULL) {
    int rc = sluice_error_set(err, SLUICE_EIO, 0, "reject_file: %s: %s", path,
                              strerror(errno));
    if (fd >= 0)
      close(fd);
    free(path);
    return rc;
  }
  free(path);
  fputs("file,line,error,raw\n", s->reject);
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
  s->null_len = strlen(c->null_value);
  c->host->batch_limits(c->ins, &s->max_rows, &s->max_bytes);
  if (!c->header && c->columns.n == 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "columns: needed when header is false");
  if ((rc = load_checkpoint(s, checkpoint, err)) < 0 ||
      (rc = expand_glob(s, err)) < 0)
    return rc;
  if (c->reject_file != NULL && (rc = open_reject_file(s, err)) < 0)
    return rc;
  s->buf = malloc(READ_CHUNK);
  if (s->buf == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  if (!c->header) {
    s->first_header = calloc(c->columns.n + 1, sizeof *s->first_header);
    if (s->first_header == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    for (size_t i = 0; i < c->columns.n; i++)
      s->first_header[i] = strdup(c->columns.v[i]);
    s->ncols = c->columns.n;
    if (build_schema(s) < 0) {
      *err = s->err;
      return s->status;
    }
  }
  c->host->log(c->ins, SLUICE_LOG_INFO, "%zu file%s to read", s->nfiles,
               s->nfiles == 1 ? "" : "s");
  s->working = 1;
  rc = c->host->work_submit(c->ins, first_fill, after_first_fill, s);
  if (rc < 0) {
    s->working = 0;
    return sluice_error_set(err, rc, 0, "cannot queue work");
  }
  return 0;
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
  if (!c->src->working && !c->src->finished)
    submit_fill(c->src);
}

void csv_source_stop(struct sluice_instance *ins, void *ctx)
{
  struct csv_ctx *c = ctx;
  (void)ins;
  c->src->stopping = 1;
  if (!c->src->working)
    finish(c->src);
}

void csv_source_free(struct csv_ctx *c)
{
  struct csv_source *s = c->src;

  if (s == NULL)
    return;
  input_close(s);
  if (s->reject != NULL)
    fclose(s->reject);
  sluice_csv_reader_free(s->reader);
  sluice_batch_unref(s->batch);
  sluice_schema_unref(s->schema);
  for (size_t i = 0; i < s->nfiles; i++)
    free(s->files[i]);
  for (size_t i = 0; s->first_header && s->first_header[i]; i++)
    free(s->first_header[i]);
  free(s->first_header);
  free(s->files);
  free(s->types);
  free(s->buf);
  free(s->resume_file);
  sluice_buf_free(&s->scratch);
  json_decref(s->done);
  free(s);
  c->src = NULL;
}
