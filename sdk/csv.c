/* csv.c - the streaming RFC 4180 reader and the writer.
 *
 * The reader is one resumable state machine.  Positions inside the record
 * in progress are "raw offsets": byte counts from the record's first byte,
 * the same whether that byte arrived in this feed or an earlier one.  A
 * record that begins and ends inside one feed is handed to the callback as
 * slices of the caller's bytes; one that straddles feeds has its bytes so
 * far kept in `carry`, so the raw offsets index `carry` once the rest is
 * appended.  Quoted fields with doubled quotes are unescaped into `unesc`,
 * since the caller's bytes are read-only.  Nothing is allocated per record
 * once the buffers have grown to the largest record seen, and none grows
 * past max_record_bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/csv.h"

#define CSV_DEFAULT_MAX_RECORD ((size_t)16 * 1024 * 1024)
#define CSV_INITIAL_FIELDS 16

enum csv_state {
  ST_RECORD,   /* between records */
  ST_FIELD,    /* at the first byte of a field */
  ST_UNQUOTED, /* inside an unquoted field */
  ST_QUOTED,   /* inside a quoted field */
  ST_QUOTE,    /* just after a quote inside a quoted field */
  ST_CR,       /* a record ended with the last byte fed, a CR: is LF next? */
  ST_SKIP      /* a record was found bad: skipping to the end of its line */
};

struct sluice_csv_reader {
  char delim;
  char quote;
  size_t max_record;
  /* Bytes that end a scan: nonzero entries stop the tight loops. */
  unsigned char stop_unquoted[256];
  unsigned char stop_quoted[256];

  sluice_csv_record_cb on_record;
  sluice_csv_bad_record_cb on_bad;
  void *arg;

  enum csv_state state;
  int finished;
  int failed;
  uint64_t abs;         /* stream offset of the next byte to parse */
  uint64_t line;        /* physical line of that byte */
  uint64_t line_start;  /* stream offset of that line's first byte */
  uint64_t next_record; /* the number the next record gets */
  int prev_cr;          /* the last byte parsed was a CR */

  int bom_check;   /* still at offset 0: a BOM may be coming */
  size_t bom_held; /* BOM bytes matched so far, held back */

  /* The record in progress. */
  uint64_t rec_abs;
  uint64_t rec_line;
  size_t field_start;  /* raw offset of the current field's first byte */
  int field_escaped;   /* the current quoted field has a doubled quote */
  int has_escapes;     /* some field of the record has one */
  uint64_t quote_line; /* where the current quoted field opened */
  uint64_t quote_col;
  int bad; /* the record is being skipped as malformed */
  char reason[160];

  struct sluice_buf carry; /* raw bytes of a record begun in earlier feeds */
  struct sluice_buf unesc; /* unescaped quoted fields of the record */

  struct sluice_csv_field *fields;
  size_t *offs; /* raw offset of each field, turned into a pointer late */
  size_t nfields;
  size_t fields_cap;
};

static const unsigned char utf8_bom[3] = {0xEF, 0xBB, 0xBF};

/* --- setup ---------------------------------------------------------- */

static int options_valid(char delim, char quote)
{
  return delim != quote && delim != '\n' && delim != '\r' && quote != '\n' &&
         quote != '\r';
}

static void build_tables(struct sluice_csv_reader *r, int lenient)
{
  unsigned char d = (unsigned char)r->delim, q = (unsigned char)r->quote;

  r->stop_unquoted[d] = 1;
  r->stop_unquoted['\n'] = 1;
  r->stop_unquoted['\r'] = 1;
  if (!lenient)
    r->stop_unquoted[q] = 1;
  r->stop_quoted[q] = 1;
  r->stop_quoted['\n'] = 1; /* only to count lines */
  r->stop_quoted['\r'] = 1;
}

struct sluice_csv_reader *
sluice_csv_reader_new(const struct sluice_csv_options *opt)
{
  struct sluice_csv_reader *r;
  char delim = opt && opt->delimiter ? opt->delimiter : ',';
  char quote = opt && opt->quote ? opt->quote : '"';

  if (!options_valid(delim, quote))
    return NULL;
  r = calloc(1, sizeof *r);
  if (r == NULL)
    return NULL;
  r->delim = delim;
  r->quote = quote;
  r->max_record = opt && opt->max_record_bytes ? opt->max_record_bytes
                                               : CSV_DEFAULT_MAX_RECORD;
  build_tables(r, opt ? opt->lenient_quotes : 0);
  r->fields = malloc(CSV_INITIAL_FIELDS * sizeof *r->fields);
  r->offs = malloc(CSV_INITIAL_FIELDS * sizeof *r->offs);
  if (r->fields == NULL || r->offs == NULL) {
    sluice_csv_reader_free(r);
    return NULL;
  }
  r->fields_cap = CSV_INITIAL_FIELDS;
  r->state = ST_RECORD;
  r->line = 1;
  r->next_record = 1;
  r->bom_check = 1;
  return r;
}

void sluice_csv_reader_free(struct sluice_csv_reader *r)
{
  if (r == NULL)
    return;
  sluice_buf_free(&r->carry);
  sluice_buf_free(&r->unesc);
  free(r->fields);
  free(r->offs);
  free(r);
}

void sluice_csv_reader_set_callbacks(struct sluice_csv_reader *r,
                                     sluice_csv_record_cb record,
                                     sluice_csv_bad_record_cb bad, void *arg)
{
  r->on_record = record;
  r->on_bad = bad;
  r->arg = arg;
}

struct sluice_csv_pos sluice_csv_reader_pos(const struct sluice_csv_reader *r)
{
  struct sluice_csv_pos pos;

  /* Mid-record, the record's start is the only safe place to resume. */
  if (r->state == ST_RECORD) {
    pos.line = r->line;
    pos.offset = r->abs;
  } else {
    pos.line = r->rec_line;
    pos.offset = r->rec_abs;
  }
  pos.record = r->next_record;
  return pos;
}

void sluice_csv_reader_set_pos(struct sluice_csv_reader *r,
                               const struct sluice_csv_pos *pos)
{
  r->state = ST_RECORD;
  r->finished = 0;
  r->failed = 0;
  r->abs = pos->offset;
  r->line = pos->line;
  r->line_start = pos->offset;
  r->next_record = pos->record;
  r->prev_cr = 0;
  r->bom_check = pos->offset == 0;
  r->bom_held = 0;
  r->nfields = 0;
  r->bad = 0;
  sluice_buf_reset(&r->carry);
}

/* --- the record in progress ----------------------------------------- */

static int grow_fields(struct sluice_csv_reader *r)
{
  size_t cap = r->fields_cap * 2;
  struct sluice_csv_field *f;
  size_t *o;

  if (cap > SIZE_MAX / sizeof *f)
    return SLUICE_ENOMEM;
  f = realloc(r->fields, cap * sizeof *f);
  if (f == NULL)
    return SLUICE_ENOMEM;
  r->fields = f;
  o = realloc(r->offs, cap * sizeof *o);
  if (o == NULL)
    return SLUICE_ENOMEM;
  r->offs = o;
  r->fields_cap = cap;
  return 0;
}

/* quoted: 0 plain, 1 quoted, 2 quoted with doubled quotes to collapse. */
static inline int push_field(struct sluice_csv_reader *r, size_t off,
                             size_t len, int quoted)
{
  size_t i = r->nfields;

  if (i == r->fields_cap && grow_fields(r) < 0)
    return SLUICE_ENOMEM;
  r->offs[i] = off;
  r->fields[i].len = len;
  r->fields[i].quoted = quoted;
  r->nfields = i + 1;
  if (quoted == 2)
    r->has_escapes = 1;
  return 0;
}

/* The current field ends at raw offset `at` (its delimiter or line end). */
static inline int end_unquoted(struct sluice_csv_reader *r, size_t at)
{
  return push_field(r, r->field_start, at - r->field_start, 0);
}

/* The current quoted field's closing quote is at raw offset `quote_at`. */
static inline int end_quoted(struct sluice_csv_reader *r, size_t quote_at)
{
  return push_field(r, r->field_start, quote_at - r->field_start,
                    r->field_escaped ? 2 : 1);
}

/* Keeps [from, to) of the caller's bytes, as much as fits the record limit
 * (only a skipped record can be longer, and its tail is not needed). */
static int stash(struct sluice_csv_reader *r, const char *from, const char *to)
{
  size_t n = (size_t)(to - from);
  size_t room = r->max_record - r->carry.len;

  return sluice_buf_append(&r->carry, from, n < room ? n : room);
}

static const char *carry_base(const struct sluice_csv_reader *r)
{
  return r->carry.data != NULL ? r->carry.data : "";
}

/* Where the scan must stop for the record's size limit to be checked: the
 * byte at raw offset max_record, when this feed reaches it. */
static const char *limit_stop(const struct sluice_csv_reader *r, const char *rs,
                              size_t carried, const char *end)
{
  size_t room = r->max_record - carried;

  return (size_t)(end - rs) > room ? rs + room : end;
}

/* Collapses doubled quotes; in a well-formed quoted field every quote is
 * the first of a pair. */
static size_t unescape_quotes(char *dst, const char *src, size_t len, char q)
{
  const char *end = src + len;
  size_t n = 0;

  while (src < end) {
    const char *hit = memchr(src, q, (size_t)(end - src));
    size_t take = hit ? (size_t)(hit - src) + 1 : (size_t)(end - src);

    memcpy(dst + n, src, take);
    n += take;
    src += take + (hit != NULL);
  }
  return n;
}

static int point_fields(struct sluice_csv_reader *r, const char *base)
{
  size_t i, need = 0;

  if (!r->has_escapes) {
    for (i = 0; i < r->nfields; i++)
      r->fields[i].ptr = base + r->offs[i];
    return 0;
  }
  for (i = 0; i < r->nfields; i++)
    if (r->fields[i].quoted == 2)
      need += r->fields[i].len;
  sluice_buf_reset(&r->unesc);
  if (sluice_buf_reserve(&r->unesc, need) < 0)
    return SLUICE_ENOMEM;
  for (i = 0; i < r->nfields; i++) {
    struct sluice_csv_field *f = &r->fields[i];

    if (f->quoted != 2) {
      f->ptr = base + r->offs[i];
      continue;
    }
    f->ptr = r->unesc.data + r->unesc.len;
    f->len = unescape_quotes(r->unesc.data + r->unesc.len, base + r->offs[i],
                             f->len, r->quote);
    f->quoted = 1;
    r->unesc.len += f->len;
  }
  return 0;
}

/* Hands the finished record (or the bad one) to its callback.  base holds
 * the record's raw bytes.  Returns the callback's answer. */
static int deliver(struct sluice_csv_reader *r, const char *base, size_t rawlen,
                   struct sluice_error *err)
{
  struct sluice_csv_pos pos;
  int rc = 0;

  pos.line = r->rec_line;
  pos.record = r->next_record++;
  pos.offset = r->rec_abs;
  if (r->bad) {
    if (rawlen > r->max_record)
      rawlen = r->max_record;
    if (r->on_bad != NULL) /* it may have been unset since the fault */
      rc = r->on_bad(r->arg, base, rawlen, &pos, r->reason);
  } else {
    if (point_fields(r, base) < 0) {
      r->failed = 1;
      snprintf(r->reason, sizeof r->reason, "out of memory");
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    }
    if (r->on_record != NULL)
      rc = r->on_record(r->arg, r->fields, r->nfields, &pos);
  }
  /* A callback that failed without saying why still leaves a message;
   * err must be zeroed before use, so a set code means it said why. */
  if (rc < 0 && err != NULL && err->code == 0)
    sluice_error_set(err, rc, 0, "line %llu: the %s handler failed: %s",
                     (unsigned long long)pos.line,
                     r->bad ? "bad-record" : "record", sluice_strerror(rc));
  r->bad = 0;
  r->nfields = 0;
  r->has_escapes = 0;
  sluice_buf_reset(&r->carry);
  return rc;
}

/* --- faults ----------------------------------------------------------- */

static void describe_byte(char *out, size_t size, unsigned char c)
{
  if (c >= 0x20 && c < 0x7f)
    snprintf(out, size, "'%c'", c);
  else
    snprintf(out, size, "byte 0x%02x", c);
}

static void fault_after_quote(struct sluice_csv_reader *r, uint64_t line,
                              uint64_t col, unsigned char c)
{
  char what[16];

  describe_byte(what, sizeof what, c);
  snprintf(r->reason, sizeof r->reason,
           "line %llu, column %llu: unexpected %s after closing quote",
           (unsigned long long)line, (unsigned long long)col, what);
}

static void fault_quote_in_field(struct sluice_csv_reader *r, uint64_t line,
                                 uint64_t col)
{
  snprintf(r->reason, sizeof r->reason,
           "line %llu, column %llu: quote inside an unquoted field",
           (unsigned long long)line, (unsigned long long)col);
}

static void fault_too_long(struct sluice_csv_reader *r)
{
  /* The field being read when the limit was reached: where to look. */
  snprintf(r->reason, sizeof r->reason,
           "line %llu, field %zu: record exceeds %zu bytes",
           (unsigned long long)r->rec_line, r->nfields + 1, r->max_record);
}

/* --- the state machine ----------------------------------------------- */

/* Parses data[0, len).  Returns 0 when it is all used, 1 when a callback
 * asked to pause, or a negative code.  *used: bytes parsed. */
static int parse(struct sluice_csv_reader *r, const char *data, size_t len,
                 size_t *used, struct sluice_error *err)
{
  const char *p = data, *end = data + len, *rs = data, *stop = end, *le, *base;
  const unsigned char *unq = r->stop_unquoted, *qtd = r->stop_quoted;
  const char delim = r->delim, quote = r->quote;
  const uint64_t base_abs = r->abs;
  uint64_t line = r->line, line_start = r->line_start;
  /* A record continued from an earlier feed has its bytes so far in carry
   * (at least one: a record starts with its first byte). */
  size_t carried = r->carry.len, rawlen;
  enum csv_state state = r->state;
  int rc = 0;
  unsigned char c;

#define RAW(ptr) (carried + (size_t)((ptr)-rs))
#define ABS(ptr) (base_abs + (uint64_t)((ptr)-data))

  if (state == ST_FIELD || state == ST_UNQUOTED || state == ST_QUOTED ||
      state == ST_QUOTE)
    stop = limit_stop(r, rs, carried, end);
  switch (state) {
  case ST_RECORD: goto record_start;
  case ST_FIELD: goto field_start;
  case ST_UNQUOTED: goto unquoted;
  case ST_QUOTED: goto quoted;
  case ST_QUOTE: goto quote_seen;
  case ST_CR: goto pending_cr;
  case ST_SKIP: goto skip;
  }

record_start:
  if (p == end) {
    state = ST_RECORD;
    goto out;
  }
  rs = p;
  carried = 0;
  r->rec_abs = ABS(p);
  r->rec_line = line;
  stop = limit_stop(r, rs, 0, end);

field_start:
  if (p == stop) {
    state = ST_FIELD;
    goto boundary;
  }
  if (*p == quote) {
    r->quote_line = line;
    r->quote_col = ABS(p) - line_start + 1;
    p++;
    r->field_start = RAW(p);
    r->field_escaped = 0;
    goto quoted;
  }
  r->field_start = RAW(p);

unquoted:
  while (p < stop && !unq[(unsigned char)*p])
    p++;
  if (p == stop) {
    state = ST_UNQUOTED;
    goto boundary;
  }
  if (*p == quote) {
    fault_quote_in_field(r, line, ABS(p) - line_start + 1);
    goto fault;
  }
  if (end_unquoted(r, RAW(p)) < 0)
    goto nomem;
  if (*p == delim) {
    p++;
    goto field_start;
  }
  goto line_end;

quoted:
  for (;;) {
    while (p < stop && !qtd[(unsigned char)*p])
      p++;
    if (p == stop) {
      state = ST_QUOTED;
      goto boundary;
    }
    if (*p == quote)
      break;
    /* A line end inside quotes is data, but the next record's line
     * number must count it; CRLF counts once. */
    if (!(*p == '\n' && (p > data ? p[-1] == '\r' : r->prev_cr)))
      line++;
    p++;
    line_start = ABS(p);
  }
  p++;

quote_seen:
  if (p == stop) {
    state = ST_QUOTE;
    goto boundary;
  }
  c = (unsigned char)*p;
  if (c == (unsigned char)quote) {
    r->field_escaped = 1;
    p++;
    goto quoted;
  }
  if (c != (unsigned char)delim && c != '\n' && c != '\r') {
    fault_after_quote(r, line, ABS(p) - line_start + 1, c);
    goto fault;
  }
  if (end_quoted(r, RAW(p) - 1) < 0)
    goto nomem;
  if (c == (unsigned char)delim) {
    p++;
    goto field_start;
  }
  goto line_end;

skip:
  while (p < end && *p != '\n' && *p != '\r')
    p++;
  if (p == end) {
    state = ST_SKIP;
    goto boundary;
  }
  /* fall into line_end */

line_end:
  /* p is at the CR or LF that ends the record. */
  le = p;
  if (*le == '\r' && le + 1 == end) {
    /* Deliver once we know whether an LF follows, so that the next
     * record's offset never points into the middle of a CRLF. */
    if (stash(r, rs, le) < 0)
      goto nomem;
    p = end;
    state = ST_CR;
    goto out;
  }
  p++;
  if (*le == '\r' && *p == '\n')
    p++;
  line++;
  line_start = ABS(p);
  base = rs;
  rawlen = (size_t)(le - rs);
  if (carried > 0) {
    if (stash(r, rs, le) < 0)
      goto nomem;
    base = carry_base(r);
    rawlen = r->carry.len;
  }
  r->state = ST_RECORD; /* so that _pos() inside the callback is right */
  r->abs = ABS(p);
  r->line = line;
  r->line_start = line_start;
  rc = deliver(r, base, rawlen, err);
  if (rc != 0) {
    state = ST_RECORD;
    goto out;
  }
  goto record_start;

pending_cr:
  if (p == end) {
    state = ST_CR;
    goto out;
  }
  if (*p == '\n')
    p++;
  line++;
  line_start = ABS(p);
  r->state = ST_RECORD;
  r->abs = ABS(p);
  r->line = line;
  r->line_start = line_start;
  rc = deliver(r, carry_base(r), r->carry.len, err);
  if (rc != 0) {
    state = ST_RECORD;
    goto out;
  }
  goto record_start;

boundary:
  /* p == stop: either the feed is used up or the record hit its limit. */
  if (p == end) {
    if (stash(r, rs, end) < 0)
      goto nomem;
    goto out;
  }
  /* The byte at the limit may still end the record, outside quotes. */
  if ((*p == '\n' || *p == '\r') && state != ST_QUOTED) {
    if (state == ST_FIELD)
      r->field_start = RAW(p);
    if ((state == ST_QUOTE ? end_quoted(r, RAW(p) - 1)
                           : end_unquoted(r, RAW(p))) < 0)
      goto nomem;
    goto line_end;
  }
  fault_too_long(r);

fault:
  if (r->on_bad == NULL) {
    r->failed = 1;
    state = ST_SKIP; /* keeps _pos() at the bad record's start */
    rc = sluice_error_set(err, SLUICE_EDATA, 0, "%s", r->reason);
    goto out;
  }
  r->bad = 1;
  goto skip;

nomem:
  r->failed = 1;
  snprintf(r->reason, sizeof r->reason, "out of memory");
  rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");

out:
  if (p > data)
    r->prev_cr = p[-1] == '\r';
  r->state = state;
  r->abs = ABS(p);
  r->line = line;
  r->line_start = line_start;
  *used = (size_t)(p - data);
  return rc;
#undef RAW
#undef ABS
}

/* --- feeding ------------------------------------------------------------ */

/* Replays BOM-prefix bytes held back by earlier feeds once they turn out
 * to be data.  They cannot complete a record, so no callback runs. */
static int replay_held_bom(struct sluice_csv_reader *r,
                           struct sluice_error *err)
{
  size_t n = r->bom_held, used;

  r->bom_check = 0;
  r->bom_held = 0;
  if (n == 0)
    return 0;
  return parse(r, (const char *)utf8_bom, n, &used, err);
}

/* Matches the stream's first bytes against the BOM.  *skip gets how many
 * bytes of data the BOM used: all of them while it may still be coming. */
static int check_bom(struct sluice_csv_reader *r, const char *data, size_t len,
                     size_t *skip, struct sluice_error *err)
{
  size_t i = 0;

  while (r->bom_held + i < sizeof utf8_bom && i < len &&
         (unsigned char)data[i] == utf8_bom[r->bom_held + i])
    i++;
  if (r->bom_held + i == sizeof utf8_bom) {
    r->bom_check = 0;
    r->bom_held = 0;
    r->abs += sizeof utf8_bom;
    r->line_start = r->abs;
    *skip = i;
    return 0;
  }
  if (i == len) {
    r->bom_held += i;
    *skip = len;
    return 0;
  }
  /* Not a BOM: this feed's matched bytes are data, parsed from 0. */
  *skip = 0;
  return replay_held_bom(r, err);
}

static int check_usable(const struct sluice_csv_reader *r,
                        struct sluice_error *err)
{
  if (r->failed)
    return sluice_error_set(err, SLUICE_EDATA, 0, "%s", r->reason);
  if (r->finished)
    return sluice_error_set(err, SLUICE_ESTATE, 0,
                            "the CSV reader was already finished");
  return 0;
}

int sluice_csv_reader_feed(struct sluice_csv_reader *r, const char *data,
                           size_t len, size_t *consumed,
                           struct sluice_error *err)
{
  size_t skip = 0, used = 0;
  int rc;

  if (consumed != NULL)
    *consumed = 0;
  rc = check_usable(r, err);
  if (rc < 0)
    return rc;
  if (len == 0)
    return 0;
  if (data == NULL)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "no data to feed");
  if (r->bom_check) {
    rc = check_bom(r, data, len, &skip, err);
    if (rc < 0)
      return rc;
  }
  if (skip < len)
    rc = parse(r, data + skip, len - skip, &used, err);
  if (consumed != NULL)
    *consumed = skip + used;
  return rc < 0 ? rc : 0;
}

static int finish_open_record(struct sluice_csv_reader *r,
                              struct sluice_error *err)
{
  size_t end = r->carry.len;
  int rc;

  switch (r->state) {
  case ST_RECORD: return 0;
  case ST_QUOTED:
    r->failed = 1;
    snprintf(r->reason, sizeof r->reason,
             "line %llu, column %llu: quoted field opened here is never "
             "closed",
             (unsigned long long)r->quote_line,
             (unsigned long long)r->quote_col);
    return sluice_error_set(err, SLUICE_EDATA, 0, "%s", r->reason);
  case ST_FIELD:
    r->field_start = end;
    rc = end_unquoted(r, end);
    break;
  case ST_UNQUOTED: rc = end_unquoted(r, end); break;
  case ST_QUOTE: rc = end_quoted(r, end - 1); break;
  case ST_CR:
    r->line++;
    r->line_start = r->abs;
    rc = 0;
    break;
  case ST_SKIP:
  default: rc = 0; break;
  }
  if (rc < 0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  r->state = ST_RECORD;
  rc = deliver(r, carry_base(r), r->carry.len, err);
  return rc < 0 ? rc : 0;
}

int sluice_csv_reader_finish(struct sluice_csv_reader *r,
                             struct sluice_error *err)
{
  int rc = check_usable(r, err);

  if (rc < 0)
    return rc;
  if (r->bom_check) {
    rc = replay_held_bom(r, err);
    if (rc < 0)
      return rc;
  }
  r->finished = 1;
  return finish_open_record(r, err);
}

/* --- writer ---------------------------------------------------------- */

/* The bytes that force quoting anywhere in a field. */
struct quote_set {
  unsigned char special[256];
  uint64_t delim8, quote8; /* the byte repeated in every lane */
};

#define LANES(c) (0x0101010101010101ULL * (uint64_t)(unsigned char)(c))

static void quote_set_init(struct quote_set *qs, char delim, char quote)
{
  memset(qs->special, 0, sizeof qs->special);
  qs->special[(unsigned char)delim] = 1;
  qs->special[(unsigned char)quote] = 1;
  qs->special['\n'] = 1;
  qs->special['\r'] = 1;
  qs->delim8 = LANES(delim);
  qs->quote8 = LANES(quote);
}

static int is_blank(char c)
{
  return c == ' ' || c == '\t';
}

/* Non-zero when some byte of v equals the byte repeated in pat (the
 * classic "has zero byte" test applied to v ^ pat). */
static inline uint64_t has_byte(uint64_t v, uint64_t pat)
{
  uint64_t x = v ^ pat;
  return (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
}

/* Eight bytes a step: this runs on every string field the writer sees. */
static int needs_quotes(const struct quote_set *qs, const char *s, size_t len)
{
  const unsigned char *p, *end;

  if (len == 0) /* s may be NULL then */
    return 0;
  if (is_blank(s[0]) || is_blank(s[len - 1]))
    return 1;
  /* A field that starts with U+FEFF, first in a file, would read back as
   * the byte-order mark a reader drops (found by tests/fuzz/fuzz_csv). */
  if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
    return 1;
  p = (const unsigned char *)s;
  end = p + len;
  while (end - p >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    if (has_byte(v, qs->delim8) | has_byte(v, qs->quote8) |
        has_byte(v, LANES('\n')) | has_byte(v, LANES('\r')))
      return 1;
    p += 8;
  }
  while (p < end && !qs->special[*p])
    p++;
  return p < end;
}

static size_t count_byte(const char *s, size_t len, char c)
{
  const char *end = s + len, *hit;
  size_t n = 0;

  while ((hit = memchr(s, c, (size_t)(end - s))) != NULL) {
    n++;
    s = hit + 1;
  }
  return n;
}

static int write_quoted(struct sluice_buf *out, const char *s, size_t len,
                        char quote)
{
  const char *end = s + len;
  size_t nq = count_byte(s, len, quote);
  char *dst;

  if (nq > SIZE_MAX - 2 - len || sluice_buf_reserve(out, len + nq + 2) < 0)
    return SLUICE_ENOMEM;
  dst = out->data + out->len;
  *dst++ = quote;
  while (s < end) {
    const char *hit = memchr(s, quote, (size_t)(end - s));
    size_t take = hit ? (size_t)(hit - s) + 1 : (size_t)(end - s);

    memcpy(dst, s, take);
    dst += take;
    s += take;
    if (hit != NULL)
      *dst++ = quote;
  }
  *dst++ = quote;
  out->len = (size_t)(dst - out->data);
  out->data[out->len] = '\0';
  return 0;
}

/* Appends without a call when the room is there (the writer's hot path). */
static inline int put(struct sluice_buf *out, const char *s, size_t len)
{
  if (len == 0) /* s may be NULL for an empty field */
    return 0;
  if (out->cap - out->len <= len)
    return sluice_buf_append(out, s, len);
  memcpy(out->data + out->len, s, len);
  out->len += len;
  out->data[out->len] = '\0';
  return 0;
}

static int write_field(struct sluice_buf *out, const struct quote_set *qs,
                       const char *s, size_t len, char quote)
{
  if (!needs_quotes(qs, s, len))
    return put(out, s, len);
  return write_quoted(out, s, len, quote);
}

int sluice_csv_write_field(struct sluice_buf *out, const char *s, size_t len,
                           const struct sluice_csv_options *opt)
{
  /* One table per thread, rebuilt only when the options change: this is
   * called once per field, and a 256-byte memset each time showed up as
   * the writer's biggest cost. */
  static _Thread_local struct quote_set qs;
  static _Thread_local char qs_delim, qs_quote;
  char delim = opt && opt->delimiter ? opt->delimiter : ',';
  char quote = opt && opt->quote ? opt->quote : '"';

  if (qs_delim != delim || qs_quote != quote) {
    quote_set_init(&qs, delim, quote);
    qs_delim = delim;
    qs_quote = quote;
  }
  return write_field(out, &qs, s, len, quote);
}

/* Room for the record when nothing needs quoting: one reserve, then the
 * appends below never reallocate in the common case. */
static size_t plain_size(const struct sluice_csv_field *fields, size_t n,
                         size_t eol_len)
{
  size_t total = n + eol_len, i;

  for (i = 0; i < n; i++) {
    if (fields[i].len > SIZE_MAX / 2 - total)
      return 0; /* absurd: let the appends find out */
    total += fields[i].len;
  }
  return total;
}

int sluice_csv_write_record(struct sluice_buf *out,
                            const struct sluice_csv_field *fields, size_t n,
                            const struct sluice_csv_options *opt)
{
  char delim = opt && opt->delimiter ? opt->delimiter : ',';
  char quote = opt && opt->quote ? opt->quote : '"';
  const char *eol = opt && opt->line_ending ? opt->line_ending : "\n";
  size_t start = out->len, eol_len = strlen(eol), i;
  struct quote_set qs;

  quote_set_init(&qs, delim, quote);
  if (sluice_buf_reserve(out, plain_size(fields, n, eol_len)) < 0)
    goto fail;
  for (i = 0; i < n; i++) {
    if ((i > 0 && put(out, &delim, 1) < 0) ||
        write_field(out, &qs, fields[i].ptr, fields[i].len, quote) < 0)
      goto fail;
  }
  if (put(out, eol, eol_len) < 0)
    goto fail;
  return 0;

fail:
  /* Never leave half a record behind. */
  out->len = start;
  if (out->data != NULL)
    out->data[start] = '\0';
  return SLUICE_ENOMEM;
}
