/* plugins/snowflake-stage/sfs_csvgz.c - rows into one gzip CSV file, in
 * the format the COPY reads (sfs_loader.c): a header line, every non-null
 * value enclosed in '"' (so that no backslash or empty string is ever read
 * as an escape or a NULL: ESCAPE_UNENCLOSED_FIELD applies only to
 * unenclosed fields), NULL as the unenclosed \N of NULL_IF (and the
 * text \N as the unenclosed, escaped \\N), then the sequence number and
 * 'U' or 'D'.
 *
 * The text is compressed a chunk at a time with libdeflate, each chunk a
 * gzip member of its own: a gzip file is a series of members (RFC 1952,
 * 2.2), which every gzip reader, COPY's included, reads as one stream.
 * libdeflate compresses whole buffers about twice as fast as zlib's
 * streaming deflate at the same level (bench/README), and the chunk bounds
 * the memory.
 *
 * Runs on a worker thread only: no host service, no global state. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libdeflate.h>

#include <sluice/convert.h>

#include "sfs.h"

#define RAW_CHUNK (1024u * 1024) /* CSV text compressed as one member */

struct sfs_csvgz {
  int fd;
  char *path;
  struct libdeflate_compressor *z;
  struct sluice_buf raw;     /* CSV text not yet compressed */
  struct sluice_buf scratch; /* one value's text */
  unsigned char *out;        /* one member's compressed bytes */
  size_t out_cap;
  unsigned char *keeps_tz; /* per field: the column keeps an offset */
  uint64_t raw_bytes, gz_bytes;
};

static int fail(char *errbuf, size_t errlen, const char *what, const char *path,
                int e)
{
  snprintf(errbuf, errlen, "%s %s: %s", what, path, strerror(e));
  return SLUICE_EIO;
}

static int write_all(struct sfs_csvgz *f, const unsigned char *p, size_t n,
                     char *errbuf, size_t errlen)
{
  while (n > 0) {
    ssize_t w = write(f->fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return fail(errbuf, errlen, "write", f->path, errno);
    p += w;
    n -= (size_t)w;
    f->gz_bytes += (uint64_t)w;
  }
  return 0;
}

/* Compresses the pending text as one gzip member and writes it. */
static int deflate_raw(struct sfs_csvgz *f, char *errbuf, size_t errlen)
{
  size_t bound, n;
  int rc;

  if (f->raw.len == 0)
    return 0;
  bound = libdeflate_gzip_compress_bound(f->z, f->raw.len);
  if (bound > f->out_cap) { /* a row longer than a chunk */
    unsigned char *grown = realloc(f->out, bound);
    if (grown == NULL) {
      snprintf(errbuf, errlen, "out of memory");
      return SLUICE_ENOMEM;
    }
    f->out = grown;
    f->out_cap = bound;
  }
  n = libdeflate_gzip_compress(f->z, f->raw.data, f->raw.len, f->out,
                               f->out_cap);
  if (n == 0) {
    snprintf(errbuf, errlen, "gzip %s: compression failed", f->path);
    return SLUICE_EIO;
  }
  if ((rc = write_all(f, f->out, n, errbuf, errlen)) < 0)
    return rc;
  f->raw_bytes += f->raw.len;
  sluice_buf_reset(&f->raw);
  return 0;
}

/* '"', s with every '"' doubled, '"' into p, which has 2n + 2 bytes. */
static char *put_quoted(char *p, const char *s, size_t n)
{
  const char *q;

  *p++ = '"';
  while ((q = memchr(s, '"', n)) != NULL) {
    size_t k = (size_t)(q - s) + 1; /* up to the '"' */
    memcpy(p, s, k);
    p += k;
    *p++ = '"'; /* doubled */
    n -= k;
    s = q + 1;
  }
  memcpy(p, s, n);
  p += n;
  *p++ = '"';
  return p;
}

/* days since 1970-01-01 into y-m-d (H. Hinnant's civil_from_days). */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
  int64_t era, yy;
  unsigned doe, yoe, doy, mp;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = (unsigned)(z - era * 146097);
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  yy = (int64_t)yoe + era * 400;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

static int64_t floordiv(int64_t a, int64_t b)
{
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* Digits without printf: formatting is a fair share of the worker's time
 * beside deflate.  put_digits writes v in at least width digits. */
static char *put_digits(char *p, uint64_t v, int width)
{
  static const char pairs[] =
      "00010203040506070809101112131415161718192021222324"
      "25262728293031323334353637383940414243444546474849"
      "50515253545556575859606162636465666768697071727374"
      "75767778798081828384858687888990919293949596979899";
  char tmp[24];
  int n = 24;

  /* Two digits a step: a division by 100 in place of two by 10. */
  while (v >= 100) {
    unsigned k = (unsigned)(v % 100) * 2;
    v /= 100;
    tmp[--n] = pairs[k + 1];
    tmp[--n] = pairs[k];
  }
  if (v >= 10) {
    tmp[--n] = pairs[v * 2 + 1];
    tmp[--n] = pairs[v * 2];
  } else {
    tmp[--n] = (char)('0' + v);
  }
  while (24 - n < width)
    tmp[--n] = '0';
  memcpy(p, tmp + n, (size_t)(24 - n));
  return p + (24 - n);
}

static char *put_int(char *p, int64_t v)
{
  if (v < 0) {
    *p++ = '-';
    return put_digits(p, (uint64_t)0 - (uint64_t)v, 1);
  }
  return put_digits(p, (uint64_t)v, 1);
}

/* YYYY-MM-DD (a year before 1 as -YYYY, as Snowflake prints it). */
static char *put_date(char *p, int64_t days)
{
  int64_t y;
  unsigned m, d;

  civil(days, &y, &m, &d);
  if (y < 0) {
    *p++ = '-';
    y = -y;
  }
  p = put_digits(p, (uint64_t)y, 4);
  *p++ = '-';
  p = put_digits(p, m, 2);
  *p++ = '-';
  return put_digits(p, d, 2);
}

/* HH:MM:SS.ffffff of microseconds since midnight. */
static char *put_clock(char *p, int64_t us)
{
  p = put_digits(p, (uint64_t)(us / 3600000000LL), 2);
  *p++ = ':';
  p = put_digits(p, (uint64_t)(us / 60000000LL % 60), 2);
  *p++ = ':';
  p = put_digits(p, (uint64_t)(us / 1000000LL % 60), 2);
  *p++ = '.';
  return put_digits(p, (uint64_t)(us % 1000000LL), 6);
}

/* The most bytes put_value writes for v (its text is in scratch for the
 * types the SDK formats). */
static size_t value_room(const struct sluice_value *v,
                         const struct sluice_buf *scratch)
{
  switch ((enum sluice_type)v->type) {
  case SLUICE_TYPE_STRING:
  case SLUICE_TYPE_DECIMAL: return 2 * (size_t)v->len + 4;
  case SLUICE_TYPE_BINARY: return 2 * (size_t)v->len + 2;
  case SLUICE_TYPE_BOOL:
  case SLUICE_TYPE_INT64:
  case SLUICE_TYPE_DATE:
  case SLUICE_TYPE_TIME:
  case SLUICE_TYPE_TIMESTAMP: return 96;
  default: return 2 * scratch->len + 2;
  }
}

/* One non-null value as CSV text into p (value_room bytes); tz: the
 * column keeps an offset.  Returns the end. */
static char *put_value(char *p, const struct sluice_buf *scratch,
                       const struct sluice_value *v, int tz)
{
  switch ((enum sluice_type)v->type) {
  case SLUICE_TYPE_BOOL:
    if (v->u.b) {
      memcpy(p, "\"true\"", 6);
      return p + 6;
    }
    memcpy(p, "\"false\"", 7);
    return p + 7;
  case SLUICE_TYPE_INT64:
    *p++ = '"';
    p = put_int(p, v->u.i);
    break;
  case SLUICE_TYPE_DATE:
    *p++ = '"';
    p = put_date(p, v->u.date);
    break;
  case SLUICE_TYPE_TIME:
    *p++ = '"';
    p = put_clock(p, v->u.time_us);
    break;
  case SLUICE_TYPE_TIMESTAMP: {
    /* The wall clock of the offset the value came with (UTC without
     * one), and the offset itself when the column keeps it. */
    int off = (tz && (v->flags & SLUICE_VALUE_TZ)) ? v->tz_min : 0;
    int64_t us = v->u.ts_us + (int64_t)off * 60000000LL;
    int64_t days = floordiv(us, 86400000000LL);
    *p++ = '"';
    p = put_date(p, days);
    *p++ = ' ';
    p = put_clock(p, us - days * 86400000000LL);
    if (tz) {
      *p++ = ' ';
      *p++ = off < 0 ? '-' : '+';
      p = put_digits(p, (uint64_t)(abs(off) / 60), 2);
      *p++ = ':';
      p = put_digits(p, (uint64_t)(abs(off) % 60), 2);
    }
    break;
  }
  case SLUICE_TYPE_BINARY: {
    static const char hex[] = "0123456789ABCDEF";
    *p++ = '"';
    for (uint32_t i = 0; i < v->len; i++) {
      *p++ = hex[(unsigned char)v->u.str[i] >> 4];
      *p++ = hex[(unsigned char)v->u.str[i] & 15];
    }
    break;
  }
  case SLUICE_TYPE_STRING:
    /* The text \N itself would match NULL_IF even enclosed: unenclosed,
     * its backslash escaped, it loads as the two characters. */
    if (v->len == 2 && v->u.str[0] == '\\' && v->u.str[1] == 'N') {
      memcpy(p, "\\\\N", 3);
      return p + 3;
    }
    return put_quoted(p, v->u.str, v->len);
  case SLUICE_TYPE_DECIMAL: return put_quoted(p, v->u.str, v->len);
  default: /* DOUBLE and anything later: the SDK's text, in scratch */
    return put_quoted(p, scratch->data ? scratch->data : "", scratch->len);
  }
  *p++ = '"';
  return p;
}

struct sfs_csvgz *sfs_csvgz_open(const char *path, int level,
                                 const struct sfk_staging *st, char *errbuf,
                                 size_t errlen)
{
  struct sfs_csvgz *f = calloc(1, sizeof *f);
  size_t i;
  int rc = 0;

  if (f != NULL)
    f->fd = -1;
  if (f == NULL || (f->path = strdup(path)) == NULL) {
    snprintf(errbuf, errlen, "out of memory");
    goto fail;
  }
  f->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (f->fd < 0) {
    fail(errbuf, errlen, "create", path, errno);
    goto fail;
  }
  /* libdeflate's levels are 1 (fastest) to 12; zlib's 0..9 map on. */
  if ((f->z = libdeflate_alloc_compressor(level < 1    ? 1
                                          : level > 12 ? 12
                                                       : level)) == NULL) {
    snprintf(errbuf, errlen, "gzip: out of memory");
    goto fail;
  }
  if ((f->keeps_tz = calloc(st->nfields + 1, 1)) == NULL) {
    snprintf(errbuf, errlen, "out of memory");
    goto fail;
  }
  for (i = 0; i < st->nfields; i++)
    f->keeps_tz[i] = strncmp(st->coltypes[i], "TIMESTAMP_NTZ", 13) != 0;
  for (i = 0; i < st->nfields && rc == 0; i++) {
    size_t n = strlen(st->colnames[i]);
    rc = sluice_buf_reserve(&f->raw, 2 * n + 3);
    if (rc == 0) {
      char *p = f->raw.data + f->raw.len;
      if (i)
        *p++ = ',';
      p = put_quoted(p, st->colnames[i], n);
      f->raw.len = (size_t)(p - f->raw.data);
    }
  }
  rc = rc ? rc
          : sluice_buf_append_str(&f->raw,
                                  ",\"__SLUICE_SEQ\",\"__SLUICE_OP\"\n");
  if (rc == 0)
    return f;
  snprintf(errbuf, errlen, "out of memory");
fail:
  sfs_csvgz_abandon(f);
  return NULL;
}

int sfs_csvgz_row(struct sfs_csvgz *f, const struct sfk_staging *st,
                  struct sluice_batch *b, size_t r, int64_t seq, char *errbuf,
                  size_t errlen)
{
  char t[48], *p = t;
  size_t i;
  int rc = 0;

  for (i = 0; i < st->nfields && rc == 0; i++) {
    const struct sluice_value *v = sluice_batch_value(b, r, i);
    char *w;
    if (v == NULL || v->type == SLUICE_TYPE_NULL) {
      rc = sluice_buf_append(&f->raw, i ? ",\\N" : "\\N", i ? 3 : 2);
      continue;
    }
    if (v->type == SLUICE_TYPE_DOUBLE || v->type >= SLUICE_TYPE_COUNT) {
      sluice_buf_reset(&f->scratch);
      if ((rc = sluice_value_format(v, &f->scratch)) < 0)
        break;
    }
    /* One reservation a value; the text goes straight in. */
    if ((rc = sluice_buf_reserve(&f->raw, value_room(v, &f->scratch) + 1)) < 0)
      break;
    w = f->raw.data + f->raw.len;
    if (i)
      *w++ = ',';
    w = put_value(w, &f->scratch, v, f->keeps_tz[i]);
    f->raw.len = (size_t)(w - f->raw.data);
  }
  *p++ = ',';
  *p++ = '"';
  p = put_int(p, seq);
  memcpy(p, "\",\"", 3);
  p += 3;
  *p++ = sluice_batch_op(b, r) == SLUICE_OP_DELETE ? 'D' : 'U';
  memcpy(p, "\"\n", 2);
  p += 2;
  rc = rc ? rc : sluice_buf_append(&f->raw, t, (size_t)(p - t));
  if (rc < 0) {
    snprintf(errbuf, errlen, "out of memory");
    return rc;
  }
  return f->raw.len >= RAW_CHUNK ? deflate_raw(f, errbuf, errlen) : 0;
}

uint64_t sfs_csvgz_raw_bytes(const struct sfs_csvgz *f)
{
  return f->raw_bytes + f->raw.len;
}

static void release(struct sfs_csvgz *f)
{
  if (f->z != NULL)
    libdeflate_free_compressor(f->z);
  if (f->fd >= 0)
    close(f->fd);
  sluice_buf_free(&f->raw);
  sluice_buf_free(&f->scratch);
  free(f->keeps_tz);
  free(f->out);
  free(f->path);
  free(f);
}

int sfs_csvgz_close(struct sfs_csvgz *f, uint64_t *gz_bytes, char *errbuf,
                    size_t errlen)
{
  int rc = deflate_raw(f, errbuf, errlen);

  *gz_bytes = f->gz_bytes;
  /* The upload reads the file next: its bytes must be complete. */
  if (rc == 0 && close(f->fd) != 0)
    rc = fail(errbuf, errlen, "close", f->path, errno);
  f->fd = -1;
  if (rc < 0)
    unlink(f->path);
  release(f);
  return rc;
}

void sfs_csvgz_abandon(struct sfs_csvgz *f)
{
  if (f == NULL)
    return;
  if (f->fd >= 0)
    unlink(f->path);
  release(f);
}
