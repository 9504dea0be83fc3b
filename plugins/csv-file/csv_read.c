/* plugins/csv-file/csv_read.c - the csv-file source's reading: the files
 * parsed into typed rows (work functions: no host calls).
 *
 * A chunk ends when it is full or when a file ends, so that its rows come
 * from one file and the file's "done" mark travels with its last rows. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sluice/convert.h>

#include "csv_source.h"

int csv_chunk_fail(struct csv_source *s, struct csv_chunk *k, int code,
                   const char *fmt, ...)
{
  char msg[SLUICE_ERROR_MSG_MAX];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  k->status = sluice_error_set(&k->err, code, 0, "%s: %s",
                               k->file ? k->file : s->files[s->cur], msg);
  return k->status;
}

int csv_reject(struct csv_source *s, struct csv_chunk *k, const char *file,
               uint64_t line, const char *raw, size_t rawlen,
               const char *reason)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  char num[32];
  int rc = 0;

  if (s->c->reject_file == NULL)
    return csv_chunk_fail(s, k, SLUICE_EDATA, "%s", reason);
  snprintf(num, sizeof num, "%llu", (unsigned long long)line);
  /* Trim the raw record's own line end: the reject file adds its own. */
  while (rawlen > 0 && (raw[rawlen - 1] == '\n' || raw[rawlen - 1] == '\r'))
    rawlen--;
  struct sluice_csv_field f[4] = {{file, strlen(file), 0},
                                  {num, strlen(num), 0},
                                  {reason, strlen(reason), 0},
                                  {raw, rawlen, 0}};
  if (sluice_csv_write_record(&b, f, 4, &s->c->csv) < 0)
    rc = csv_chunk_fail(s, k, SLUICE_ENOMEM, "out of memory");
  pthread_mutex_lock(&s->reject_lock);
  if (rc == 0 && s->reject == NULL && csv_open_rejects(s, &k->err) < 0)
    rc = k->status = k->err.code;
  if (rc == 0 && fwrite(b.data, 1, b.len, s->reject) != b.len)
    rc = csv_chunk_fail(s, k, SLUICE_EIO, "reject file: %s", strerror(errno));
  pthread_mutex_unlock(&s->reject_lock);
  sluice_buf_free(&b);
  if (rc == 0)
    k->rejected++;
  return rc;
}

static int on_bad_record(void *arg, const char *raw, size_t rawlen,
                         const struct sluice_csv_pos *pos, const char *reason)
{
  struct csv_source *s = arg;
  struct csv_chunk *k = s->reading;

  if (s->in_header) /* without a header nothing after it can be read */
    return csv_chunk_fail(s, k, SLUICE_EDATA, "%s", reason);
  return csv_reject(s, k, s->files[s->cur], pos->line, raw, rawlen, reason) < 0
             ? SLUICE_EDATA
             : 0;
}

static int take_header(struct csv_source *s, const struct sluice_csv_field *f,
                       size_t n)
{
  struct csv_chunk *k = s->reading;

  if (s->first_header == NULL) {
    s->first_header = calloc(n + 1, sizeof *s->first_header);
    if (s->first_header == NULL)
      return csv_chunk_fail(s, k, SLUICE_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
      if (f[i].len == 0)
        return csv_chunk_fail(s, k, SLUICE_EDATA,
                              "line 1: column %zu has no name", i + 1);
      s->first_header[i] = strndup(f[i].ptr, f[i].len);
      for (size_t j = 0; j < i; j++)
        if (strcmp(s->first_header[j], s->first_header[i]) == 0)
          return csv_chunk_fail(s, k, SLUICE_EDATA,
                                "line 1: column '%s' appears twice",
                                s->first_header[i]);
    }
    s->ncols = n;
    s->first_file = s->files[s->cur];
    return 0;
  }
  if (n != s->ncols)
    return csv_chunk_fail(s, k, SLUICE_EDATA,
                          "line 1: the header has %zu columns, %s has %zu", n,
                          s->first_file, s->ncols);
  for (size_t i = 0; i < n; i++)
    if (f[i].len != strlen(s->first_header[i]) ||
        memcmp(f[i].ptr, s->first_header[i], f[i].len) != 0)
      return csv_chunk_fail(
          s, k, SLUICE_EDATA, "line 1: column %zu is '%.*s', in %s it is '%s'",
          i + 1, (int)f[i].len, f[i].ptr, s->first_file, s->first_header[i]);
  return 0;
}

static int is_null(const struct csv_source *s, const struct sluice_csv_field *f)
{
  if (f->quoted || f->len != s->null_len)
    return 0;
  return s->null_len == 0 || memcmp(f->ptr, s->c->null_value, s->null_len) == 0;
}

/* Rebuilds a record's text for the reject file from its fields. */
static int reject_fields(struct csv_source *s, const struct sluice_csv_field *f,
                         size_t n, uint64_t line, const char *reason)
{
  struct sluice_buf raw = SLUICE_BUF_INIT;
  int rc;

  for (size_t i = 0; i < n; i++) {
    if (i > 0)
      sluice_buf_append_char(&raw, s->c->csv.delimiter);
    sluice_csv_write_field(&raw, f[i].ptr, f[i].len, &s->c->csv);
  }
  rc = csv_reject(s, s->reading, s->files[s->cur], line,
                  raw.data ? raw.data : "", raw.len, reason);
  sluice_buf_free(&raw);
  return rc;
}

static int add_row(struct csv_source *s, const struct sluice_csv_field *f,
                   size_t n, const struct sluice_csv_pos *pos)
{
  struct csv_chunk *k = s->reading;
  struct sluice_batch *b = k->batch;
  struct sluice_error err = {0};
  char reason[SLUICE_ERROR_MSG_MAX + 128];
  size_t row;

  if (n != s->ncols) {
    /* A line with nothing on it is not a row; count it, don't fail. */
    if (n == 1 && f[0].len == 0 && !f[0].quoted) {
      s->blank_lines++;
      return 0;
    }
    snprintf(reason, sizeof reason, "line %llu: expected %zu fields, found %zu",
             (unsigned long long)pos->line, s->ncols, n);
    return reject_fields(s, f, n, pos->line, reason);
  }
  if (sluice_batch_add_row(b, SLUICE_OP_UPSERT, &row) < 0)
    return csv_chunk_fail(s, k, SLUICE_ENOMEM, "out of memory");
  if (row == 0)
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
    if (rc == SLUICE_ENOMEM)
      return csv_chunk_fail(s, k, SLUICE_ENOMEM, "out of memory");
    if (rc < 0) {
      sluice_batch_drop_last_row(b);
      snprintf(reason, sizeof reason, "line %llu, field %zu (%s): %s",
               (unsigned long long)pos->line, i + 1,
               sluice_schema_field(s->schema, i)->name, err.message);
      return reject_fields(s, f, n, pos->line, reason);
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
  return sluice_batch_full(s->reading->batch) ? 1 : 0;
}

/* --- input: plain files with read(2), gzip (by its magic) through zlib --- */

static int input_open(struct csv_source *s, const char *path)
{
  unsigned char magic[2];

  s->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (s->fd < 0)
    return csv_chunk_fail(s, s->reading, SLUICE_EIO, "%s", strerror(errno));
  s->file_open = 1;
  if (pread(s->fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    int fd2 = dup(s->fd);
    s->gz = fd2 >= 0 ? gzdopen(fd2, "rb") : NULL;
    if (s->gz == NULL) {
      if (fd2 >= 0)
        close(fd2);
      return csv_chunk_fail(s, s->reading, SLUICE_ENOMEM,
                            "gzip: out of memory");
    }
    gzbuffer(s->gz, CSV_READ_CHUNK);
  }
  return 0;
}

static ssize_t input_read(struct csv_source *s)
{
  ssize_t n;

  if (s->gz != NULL) {
    int zerr = Z_OK;
    n = gzread(s->gz, s->buf, CSV_READ_CHUNK);
    if (n <= 0)
      gzerror(s->gz, &zerr);
    /* zlib ends a cut-off file with what it could decode, then 0 and
     * Z_BUF_ERROR: that is not the end of the data, it is lost data. */
    if (n == 0 && zerr == Z_BUF_ERROR)
      return csv_chunk_fail(s, s->reading, SLUICE_EDATA,
                            "gzip: the file is truncated");
    if (n < 0)
      return csv_chunk_fail(s, s->reading, SLUICE_EIO, "gzip: %s",
                            gzerror(s->gz, &zerr));
  } else {
    do
      n = read(s->fd, s->buf, CSV_READ_CHUNK);
    while (n < 0 && errno == EINTR);
    if (n < 0)
      return csv_chunk_fail(s, s->reading, SLUICE_EIO, "read: %s",
                            strerror(errno));
  }
  s->buf_len = (size_t)n;
  s->buf_off = 0;
  s->reading->bytes_in += (size_t)n;
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

void csv_read_close(struct csv_source *s)
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
    return csv_chunk_fail(s, s->reading, SLUICE_ENOMEM, "out of memory");
  sluice_csv_reader_set_callbacks(s->reader, on_record,
                                  s->c->reject_file ? on_bad_record : NULL, s);
  s->buf_off = s->buf_len = 0;
  return 0;
}

static int seek_to_resume(struct csv_source *s)
{
  if (input_seek(s, s->resume_pos.offset) < 0)
    return csv_chunk_fail(s, s->reading, SLUICE_EIO,
                          "cannot seek to the checkpoint's offset %llu",
                          (unsigned long long)s->resume_pos.offset);
  if (open_reader(s) < 0)
    return s->reading->status;
  sluice_csv_reader_set_pos(s->reader, &s->resume_pos);
  free(s->resume_file);
  s->resume_file = NULL;
  return 0;
}

static int resumes_here(const struct csv_source *s)
{
  return s->resume_file != NULL &&
         strcmp(s->resume_file, s->files[s->cur]) == 0;
}

static int open_file(struct csv_source *s)
{
  if (input_open(s, s->files[s->cur]) < 0 || open_reader(s) < 0)
    return s->reading->status;
  s->in_header = s->c->header;
  if (!s->c->header && resumes_here(s))
    return seek_to_resume(s);
  return 0;
}

static int close_file(struct csv_source *s, int finished)
{
  struct sluice_error err = {0};

  if (finished && sluice_csv_reader_finish(s->reader, &err) < 0)
    return s->reading->status < 0
               ? s->reading->status
               : csv_chunk_fail(s, s->reading, err.code, "%s", err.message);
  if (finished && s->in_header && s->c->header)
    return csv_chunk_fail(s, s->reading, SLUICE_EDATA,
                          "the file is empty: no header line");
  csv_read_close(s);
  if (finished) {
    if (json_array_append_new(s->done, json_string(s->files[s->cur])) != 0)
      return csv_chunk_fail(s, s->reading, SLUICE_ENOMEM, "out of memory");
    s->cur++;
  }
  return 0;
}

/* One step of reading: a chunk of bytes through the parser, or a file
 * opened or finished. */
static int read_step(struct csv_source *s)
{
  struct csv_chunk *k = s->reading;
  struct sluice_error err = {0};
  size_t consumed = 0;
  int was_header, rc;

  if (!s->file_open)
    return open_file(s);
  if (s->buf_off == s->buf_len) {
    ssize_t n = input_read(s);
    if (n < 0)
      return k->status;
    if (n == 0)
      return close_file(s, 1);
  }
  was_header = s->in_header;
  rc = sluice_csv_reader_feed(s->reader, s->buf + s->buf_off,
                              s->buf_len - s->buf_off, &consumed, &err);
  s->buf_off += consumed;
  if (rc < 0)
    return k->status < 0 ? k->status
                         : csv_chunk_fail(s, k, err.code ? err.code : rc, "%s",
                                          err.message);
  if (was_header && !s->in_header) {
    if (s->schema == NULL && csv_build_schema(s) < 0)
      return csv_chunk_fail(s, k, SLUICE_EINVAL, "%s", s->err.message);
    if (resumes_here(s))
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

/* Work function: reads until the header is known (the schema) or the
 * files run out. */
void csv_read_header(void *arg)
{
  struct csv_source *s = arg;

  while (s->reading->status == 0 && s->cur < s->nfiles && s->schema == NULL)
    read_step(s);
  if (s->reading->status == 0 && s->cur >= s->nfiles)
    s->eof = 1;
}

/* Work function: fills s->reading->batch, then sets its checkpoint. */
void csv_read_chunk(void *arg)
{
  struct csv_source *s = arg;
  struct csv_chunk *k = s->reading;

  k->file = NULL;
  while (k->status == 0 && s->cur < s->nfiles && !sluice_batch_full(k->batch)) {
    size_t cur = s->cur;
    if (read_step(s) < 0)
      break;
    if (sluice_batch_nrows(k->batch) > 0 && k->file == NULL)
      k->file = s->files[cur];
    /* A file ended: its rows and its "done" mark leave together. */
    if (!s->file_open && sluice_batch_nrows(k->batch) > 0)
      break;
  }
  if (k->status == 0 && s->cur >= s->nfiles)
    s->eof = 1;
  if (k->status == 0) {
    char *cp = make_checkpoint(s);
    if (cp == NULL || sluice_batch_set_checkpoint(k->batch, cp) < 0)
      csv_chunk_fail(s, k, SLUICE_ENOMEM, "out of memory");
    free(cp);
  }
  if (k->file == NULL)
    k->file = s->cur < s->nfiles ? s->files[s->cur] : "";
  pthread_mutex_lock(&s->reject_lock);
  if (s->reject != NULL && fflush(s->reject) != 0 && k->status == 0)
    csv_chunk_fail(s, k, SLUICE_EIO, "reject file: %s", strerror(errno));
  pthread_mutex_unlock(&s->reject_lock);
}

int csv_build_schema(struct csv_source *s)
{
  json_t *types = NULL;
  json_error_t jerr;
  const char *key;
  json_t *v;
  int rc = 0;

  s->schema = sluice_schema_new(s->ncols);
  s->types = calloc(s->ncols ? s->ncols : 1, sizeof *s->types);
  if (s->schema == NULL || s->types == NULL)
    return sluice_error_set(&s->err, SLUICE_ENOMEM, 0, "out of memory");
  for (size_t i = 0; i < s->ncols; i++) {
    s->types[i].type = SLUICE_TYPE_STRING;
    sluice_schema_set(s->schema, i, s->first_header[i], SLUICE_TYPE_STRING);
  }
  if (s->c->types == NULL)
    return 0;
  types = json_loads(s->c->types, 0, &jerr);
  if (!json_is_object(types)) {
    json_decref(types);
    return sluice_error_set(&s->err, SLUICE_EINVAL, 0,
                            "types: expected an object of column: type");
  }
  json_object_foreach(types, key, v)
  {
    long i = sluice_schema_find(s->schema, key);
    struct col_type *t;
    if (i < 0) {
      const char *near =
          sluice_closest(key, (const char *const *)s->first_header, s->ncols);
      rc = sluice_error_set(
          &s->err, SLUICE_EINVAL, 0, "types.%s: no such column%s%s%s", key,
          near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
      break;
    }
    t = &s->types[i];
    if (!json_is_string(v) || sluice_type_parse(json_string_value(v), &t->type,
                                                &t->precision, &t->scale) < 0) {
      rc = sluice_error_set(&s->err, SLUICE_EINVAL, 0, "types.%s: unknown type",
                            key);
      break;
    }
    sluice_schema_set(s->schema, (size_t)i, key, t->type);
    if (t->type == SLUICE_TYPE_DECIMAL && (t->precision > 0 || t->scale > 0))
      sluice_schema_set_decimal(s->schema, (size_t)i,
                                t->precision < 0 ? 0 : t->precision,
                                t->scale < 0 ? 0 : t->scale);
  }
  json_decref(types);
  return rc;
}
