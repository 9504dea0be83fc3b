/* core/runlog.c - appending, loading and printing run records. */
#include "runlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cron.h"
#include "sluice/buf.h"
#include "sluice/error.h"

#define RUNLOG_FILE_MODE 0600
#define RUNLOG_ERROR_WIDTH 60 /* characters of an error the table shows */

static const char *const runlog_status_names[] = {
    [RUN_SUCCEEDED] = "succeeded",
    [RUN_FAILED] = "failed",
    [RUN_REJECTED] = "rejected",
    [RUN_INTERRUPTED] = "interrupted",
};

#define RUNLOG_NSTATUS                                                         \
  (sizeof runlog_status_names / sizeof runlog_status_names[0])

const char *run_status_name(enum run_status status)
{
  if ((size_t)status >= RUNLOG_NSTATUS)
    return "unknown";
  return runlog_status_names[status];
}

static bool runlog_status_parse(const char *name, enum run_status *out)
{
  for (size_t i = 0; i < RUNLOG_NSTATUS; i++) {
    if (strcmp(name, runlog_status_names[i]) == 0) {
      *out = (enum run_status)i;
      return true;
    }
  }
  return false;
}

void run_record_free(struct run_record *r)
{
  if (r == NULL)
    return;
  free(r->error);
  free(r->checkpoint);
  free(r->source);
  free(r->destination);
  free(r->warnings);
  r->error = r->checkpoint = r->source = r->destination = r->warnings = NULL;
}

void runlog_free_records(struct run_record *recs, size_t n)
{
  for (size_t i = 0; i < n; i++)
    run_record_free(&recs[i]);
  free(recs);
}

static char *runlog_path(const char *state_dir)
{
  size_t size = strlen(state_dir) + sizeof "/" RUNLOG_FILE;
  char *path = malloc(size);
  if (path != NULL)
    snprintf(path, size, "%s/%s", state_dir, RUNLOG_FILE);
  return path;
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at p (1-4), or 0 when p starts
 * an invalid one (overlong, surrogate, past U+10FFFF or cut short).  Never
 * reads past a NUL. */
static size_t runlog_utf8_len(const unsigned char *p)
{
  unsigned char lo = 0x80, hi = 0xBF;
  size_t n;
  if (p[0] < 0x80)
    return 1;
  if (p[0] < 0xC2)
    return 0;
  if (p[0] < 0xE0) {
    n = 2;
  } else if (p[0] < 0xF0) {
    n = 3;
    if (p[0] == 0xE0)
      lo = 0xA0;
    else if (p[0] == 0xED)
      hi = 0x9F;
  } else if (p[0] < 0xF5) {
    n = 4;
    if (p[0] == 0xF0)
      lo = 0x90;
    else if (p[0] == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  if (p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if ((p[i] & 0xC0) != 0x80)
      return 0;
  return n;
}

/* A JSON string for s even when s is not valid UTF-8 (an error message
 * quoting a bad input row), which json_string() refuses: each bad byte
 * becomes U+FFFD.  NULL s is JSON null. */
static json_t *runlog_json_text(const char *s)
{
  if (s == NULL)
    return json_null();
  json_t *j = json_string(s);
  if (j != NULL)
    return j;
  size_t len = strlen(s);
  char *clean = malloc(len * 3 + 1);
  if (clean == NULL)
    return NULL;
  const unsigned char *p = (const unsigned char *)s;
  size_t used = 0;
  while (*p != '\0') {
    size_t n = runlog_utf8_len(p);
    if (n == 0) {
      memcpy(clean + used, "\xEF\xBF\xBD", 3);
      used += 3;
      p++;
    } else {
      memcpy(clean + used, p, n);
      used += n;
      p += n;
    }
  }
  clean[used] = '\0';
  j = json_string(clean);
  free(clean);
  return j;
}

/* ---- time -------------------------------------------------------------- */

static int64_t runlog_floor_div(int64_t a, int64_t b)
{
  return a / b - (a % b < 0);
}

/* "2026-11-23T03:17:00.123Z" (with_ms) or "2026-11-23T03:17:00Z". */
static void runlog_format_time(int64_t us, bool with_ms, char *buf, size_t size)
{
  int64_t secs = runlog_floor_div(us, 1000000);
  int ms = (int)((us - secs * 1000000) / 1000);
  struct cron_civil c;
  cron_civil_from_unix(secs, &c);
  if (with_ms)
    snprintf(buf, size, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year,
             c.month, c.day, c.hour, c.minute, c.second, ms);
  else
    snprintf(buf, size, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02dZ", c.year,
             c.month, c.day, c.hour, c.minute, c.second);
}

/* Reads exactly n digits at *p as a number no greater than max. */
static bool runlog_digits(const char **p, int n, int max, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    char ch = (*p)[i];
    if (ch < '0' || ch > '9')
      return false;
    v = v * 10 + (ch - '0');
  }
  if (v > max)
    return false;
  *p += n;
  *out = v;
  return true;
}

static bool runlog_expect(const char **p, char ch)
{
  if (**p != ch)
    return false;
  (*p)++;
  return true;
}

/* Parses what runlog_format_time writes, with any number of fractional
 * digits (or none), so that a hand-edited file still reads. */
static bool runlog_parse_time(const char *s, int64_t *us)
{
  struct cron_civil c = {0};
  int year;
  const char *p = s;
  if (!runlog_digits(&p, 4, 9999, &year) || !runlog_expect(&p, '-') ||
      !runlog_digits(&p, 2, 12, &c.month) || !runlog_expect(&p, '-') ||
      !runlog_digits(&p, 2, 31, &c.day) || !runlog_expect(&p, 'T') ||
      !runlog_digits(&p, 2, 23, &c.hour) || !runlog_expect(&p, ':') ||
      !runlog_digits(&p, 2, 59, &c.minute) || !runlog_expect(&p, ':') ||
      !runlog_digits(&p, 2, 59, &c.second))
    return false;
  c.year = year;
  if (c.month < 1 || c.day < 1 || c.day > cron_days_in_month(year, c.month))
    return false;
  int64_t frac = 0, scale = 1000000;
  if (*p == '.') {
    p++;
    if (*p < '0' || *p > '9')
      return false;
    for (; *p >= '0' && *p <= '9'; p++) {
      scale /= 10; /* digits past microseconds are dropped */
      frac += (*p - '0') * scale;
    }
  }
  if (!runlog_expect(&p, 'Z') || *p != '\0')
    return false;
  *us = cron_civil_to_unix(&c) * 1000000 + frac;
  return true;
}

/* ---- encoding ---------------------------------------------------------- */

/* end - start, never negative (the wall clock may step back) and never
 * overflowing. */
static int64_t runlog_duration_us(const struct run_record *r)
{
  if (r->end_us <= r->start_us)
    return 0;
  uint64_t d = (uint64_t)r->end_us - (uint64_t)r->start_us;
  return d > INT64_MAX ? INT64_MAX : (int64_t)d;
}

static json_t *runlog_json_count(uint64_t v)
{
  return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* "a\nb" as ["a", "b"]. */
static json_t *runlog_json_lines(const char *text)
{
  json_t *a = json_array();
  const char *p = text, *nl;

  while (a != NULL && *p != '\0') {
    nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    char *line = strndup(p, len);
    if (line == NULL || json_array_append_new(a, runlog_json_text(line)) < 0) {
      free(line);
      json_decref(a);
      return NULL;
    }
    free(line);
    p += len + (nl != NULL);
  }
  return a;
}

json_t *runlog_record_to_json(const struct run_record *r)
{
  char start[40], end[40];
  runlog_format_time(r->start_us, true, start, sizeof start);
  runlog_format_time(r->end_us, true, end, sizeof end);
  int64_t duration_ms = runlog_duration_us(r) / 1000;

  json_t *o = json_object();
  if (o == NULL)
    return NULL;
  /* json_object_set_new takes (and on failure frees) the value, NULL
   * included, so a failed allocation anywhere shows up as bad != 0. */
  int bad = 0;
  bad |= json_object_set_new(o, "run_id", runlog_json_text(r->run_id));
  bad |= json_object_set_new(o, "pipeline", runlog_json_text(r->pipeline));
  bad |=
      json_object_set_new(o, "status", json_string(run_status_name(r->status)));
  bad |= json_object_set_new(o, "start", json_string(start));
  bad |= json_object_set_new(o, "end", json_string(end));
  bad |= json_object_set_new(o, "duration_ms", json_integer(duration_ms));
  bad |= json_object_set_new(o, "rows_read", runlog_json_count(r->rows_read));
  bad |= json_object_set_new(o, "rows_written",
                             runlog_json_count(r->rows_written));
  bad |= json_object_set_new(o, "rows_rejected",
                             runlog_json_count(r->rows_rejected));
  bad |= json_object_set_new(o, "rows_deleted",
                             runlog_json_count(r->rows_deleted));
  bad |= json_object_set_new(o, "bytes_in", runlog_json_count(r->bytes_in));
  bad |= json_object_set_new(o, "bytes_out", runlog_json_count(r->bytes_out));
  bad |= json_object_set_new(o, "api_calls", runlog_json_count(r->api_calls));
  bad |= json_object_set_new(o, "http_retries",
                             runlog_json_count(r->http_retries));
  bad |= json_object_set_new(o, "source", runlog_json_text(r->source));
  bad |=
      json_object_set_new(o, "destination", runlog_json_text(r->destination));
  bad |= json_object_set_new(o, "error", runlog_json_text(r->error));
  bad |= json_object_set_new(o, "checkpoint", runlog_json_text(r->checkpoint));
  if (r->warnings != NULL)
    bad |= json_object_set_new(o, "warnings", runlog_json_lines(r->warnings));
  if (r->sweep) {
    bad |= json_object_set_new(o, "kind", json_string("delete_sweep"));
    bad |= json_object_set_new(o, "rows_flagged",
                               runlog_json_count(r->rows_flagged));
  }
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* ---- append ------------------------------------------------------------ */

/* Whether the file lacks a final newline: a previous append was torn by a
 * crash.  The next line must then start on a line of its own, or it
 * would be glued to the fragment and lost with it. */
static bool runlog_ends_torn(int fd)
{
  struct stat st;
  char last;
  return fstat(fd, &st) == 0 && st.st_size > 0 &&
         pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n';
}

/* One write(2), so that concurrent appenders never interleave inside a
 * line. */
static int runlog_write_line(int fd, const char *path, const char *line,
                             size_t len, struct sluice_error *err)
{
  ssize_t n;
  while ((n = write(fd, line, len)) < 0 && errno == EINTR)
    ;
  if (n < 0)
    return sluice_error_set(err, SLUICE_EIO, 0, "%s: write: %s", path,
                            strerror(errno));
  if ((size_t)n != len)
    return sluice_error_set(err, SLUICE_EIO, 0,
                            "%s: write: only %zd of %zu bytes written (is "
                            "the disk full?)",
                            path, n, len);
  return 0;
}

/* json, with a newline, as one line at the end of the file at path. */
static int runlog_append_line(const char *path, const char *json,
                              struct sluice_error *err)
{
  size_t len = strlen(json);
  char *line = malloc(len + 2 + 1);
  if (line == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "%s: out of memory", path);
  /* O_RDWR rather than O_WRONLY only so that runlog_ends_torn can pread;
   * O_APPEND still puts every write at the end. */
  int fd =
      open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, RUNLOG_FILE_MODE);
  if (fd < 0) {
    free(line);
    return sluice_error_set(err, SLUICE_EIO, 0, "%s: open: %s", path,
                            strerror(errno));
  }
  size_t used = 0;
  if (runlog_ends_torn(fd))
    line[used++] = '\n';
  memcpy(line + used, json, len);
  used += len;
  line[used++] = '\n';

  int rc = runlog_write_line(fd, path, line, used, err);
  if (rc == 0 && fsync(fd) != 0)
    rc = sluice_error_set(err, SLUICE_EIO, 0, "%s: fsync: %s", path,
                          strerror(errno));
  if (close(fd) != 0 && rc == 0)
    rc = sluice_error_set(err, SLUICE_EIO, 0, "%s: close: %s", path,
                          strerror(errno));
  free(line);
  return rc;
}

int runlog_append(const char *state_dir, const struct run_record *r,
                  struct sluice_error *err)
{
  char *path = runlog_path(state_dir);
  json_t *o = runlog_record_to_json(r);
  /* COMPACT keeps it on one line: jansson escapes newlines in strings. */
  char *json =
      o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  int rc;
  if (path == NULL || json == NULL)
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0,
                          "%s/%s: out of memory encoding a run record",
                          state_dir, RUNLOG_FILE);
  else
    rc = runlog_append_line(path, json, err);
  free(json);
  json_decref(o);
  free(path);
  return rc;
}

/* ---- load -------------------------------------------------------------- */

/* Copies an optional string member: absent or null is NULL.  False when
 * it is something else or memory runs out. */
static bool runlog_get_text(json_t *o, const char *key, char **out)
{
  json_t *v = json_object_get(o, key);
  *out = NULL;
  if (v == NULL || json_is_null(v))
    return true;
  if (!json_is_string(v))
    return false;
  *out = strdup(json_string_value(v));
  return *out != NULL;
}

/* An optional array of strings, joined with newlines into *out. */
static bool runlog_get_lines(json_t *o, const char *key, char **out)
{
  json_t *v = json_object_get(o, key), *e;
  struct sluice_buf b = SLUICE_BUF_INIT;
  size_t i;

  *out = NULL;
  if (v == NULL || json_is_null(v))
    return true;
  if (!json_is_array(v))
    return false;
  json_array_foreach(v, i, e)
  {
    if (!json_is_string(e) || (i > 0 && sluice_buf_append_char(&b, '\n') < 0) ||
        sluice_buf_append_str(&b, json_string_value(e)) < 0) {
      sluice_buf_free(&b);
      return false;
    }
  }
  *out = b.len ? strdup(sluice_buf_cstr(&b)) : NULL;
  sluice_buf_free(&b);
  return b.len == 0 || *out != NULL;
}

/* Copies a required string member into a fixed array; false when it is
 * missing, empty or too long. */
static bool runlog_get_name(json_t *o, const char *key, char *out, size_t size)
{
  const char *s = json_string_value(json_object_get(o, key));
  size_t len = s != NULL ? strlen(s) : 0;
  if (len == 0 || len >= size)
    return false;
  memcpy(out, s, len + 1);
  return true;
}

/* An optional counter: absent is 0; negative or not an integer is false. */
static bool runlog_get_count(json_t *o, const char *key, uint64_t *out)
{
  json_t *v = json_object_get(o, key);
  *out = 0;
  if (v == NULL)
    return true;
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return false;
  *out = (uint64_t)json_integer_value(v);
  return true;
}

static bool runlog_get_time(json_t *o, const char *key, int64_t *us)
{
  const char *s = json_string_value(json_object_get(o, key));
  return s != NULL && runlog_parse_time(s, us);
}

/* "kind": absent for a run, "delete_sweep" for a sweep; false for
 * anything else. */
static bool runlog_get_kind(json_t *o, struct run_record *r)
{
  json_t *k = json_object_get(o, "kind");
  if (k == NULL)
    return true;
  if (!json_is_string(k) || strcmp(json_string_value(k), "delete_sweep") != 0)
    return false;
  r->sweep = 1;
  return runlog_get_count(o, "rows_flagged", &r->rows_flagged);
}

/* Fills r from one decoded line.  On false, r may own strings: free it. */
static bool runlog_record_from_json(json_t *o, struct run_record *r)
{
  const char *status = json_string_value(json_object_get(o, "status"));
  memset(r, 0, sizeof *r);
  return json_is_object(o) && runlog_get_kind(o, r) &&
         runlog_get_name(o, "run_id", r->run_id, sizeof r->run_id) &&
         runlog_get_name(o, "pipeline", r->pipeline, sizeof r->pipeline) &&
         status != NULL && runlog_status_parse(status, &r->status) &&
         runlog_get_time(o, "start", &r->start_us) &&
         runlog_get_time(o, "end", &r->end_us) &&
         runlog_get_count(o, "rows_read", &r->rows_read) &&
         runlog_get_count(o, "rows_written", &r->rows_written) &&
         runlog_get_count(o, "rows_rejected", &r->rows_rejected) &&
         runlog_get_count(o, "rows_deleted", &r->rows_deleted) &&
         runlog_get_count(o, "bytes_in", &r->bytes_in) &&
         runlog_get_count(o, "bytes_out", &r->bytes_out) &&
         runlog_get_count(o, "api_calls", &r->api_calls) &&
         runlog_get_count(o, "http_retries", &r->http_retries) &&
         runlog_get_text(o, "error", &r->error) &&
         runlog_get_text(o, "checkpoint", &r->checkpoint) &&
         runlog_get_text(o, "source", &r->source) &&
         runlog_get_text(o, "destination", &r->destination) &&
         runlog_get_lines(o, "warnings", &r->warnings);
}

/* The last record per pipeline, in order of first appearance; index maps
 * a pipeline name to its slot so that long histories stay linear. */
struct runlog_latest {
  struct run_record *recs;
  size_t n, cap;
  json_t *index;
};

/* Takes r (moves its strings); false when out of memory (r freed). */
static bool runlog_latest_put(struct runlog_latest *l, struct run_record *r)
{
  /* A sweep's slot is apart from the runs' ('/' is in no pipeline name). */
  char key[sizeof r->pipeline + 8];
  snprintf(key, sizeof key, "%s%s", r->pipeline, r->sweep ? "/sweep" : "");
  json_t *slot = json_object_get(l->index, key);
  if (slot != NULL) {
    struct run_record *old = &l->recs[json_integer_value(slot)];
    run_record_free(old);
    *old = *r;
    return true;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap == 0 ? 8 : l->cap * 2;
    struct run_record *p = realloc(l->recs, cap * sizeof *p);
    if (p == NULL)
      goto nomem;
    l->recs = p;
    l->cap = cap;
  }
  if (json_object_set_new(l->index, key, json_integer((json_int_t)l->n)) != 0)
    goto nomem;
  l->recs[l->n++] = *r;
  return true;
nomem:
  run_record_free(r);
  return false;
}

static void runlog_note_skipped(struct runlog_skipped *s, size_t line_no)
{
  if (s->count++ == 0)
    s->first_line = line_no;
}

/* Handles one line (newline stripped).  Returns false only when out of
 * memory; a line that is not a record is counted in skipped, unless it is
 * a torn last line (no newline at the end of the file). */
static bool runlog_load_line(struct runlog_latest *l, const char *line,
                             size_t len, bool complete, size_t line_no,
                             struct runlog_skipped *skipped)
{
  if (len == 0)
    return true;
  json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
  struct run_record r;
  bool ok = o != NULL && runlog_record_from_json(o, &r);
  json_decref(o);
  if (ok)
    return runlog_latest_put(l, &r);
  if (o != NULL)
    run_record_free(&r);
  if (complete)
    runlog_note_skipped(skipped, line_no);
  return true;
}

static int runlog_read_stream(FILE *fp, const char *path,
                              struct runlog_latest *l,
                              struct runlog_skipped *skipped,
                              struct sluice_error *err)
{
  char *line = NULL;
  size_t size = 0, line_no = 0;
  ssize_t len;
  int rc = 0;

  while ((len = getline(&line, &size, fp)) >= 0) {
    bool complete = len > 0 && line[len - 1] == '\n';
    size_t body = (size_t)len - complete;
    if (!runlog_load_line(l, line, body, complete, ++line_no, skipped)) {
      rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "%s: out of memory", path);
      break;
    }
  }
  /* getline returns -1 for EOF and for failures alike. */
  int e = errno;
  if (rc == 0 && !feof(fp))
    rc = e == ENOMEM ? sluice_error_set(err, SLUICE_ENOMEM, 0,
                                        "%s: out of memory", path)
                     : sluice_error_set(err, SLUICE_EIO, 0, "%s: read: %s",
                                        path, strerror(e));
  free(line);
  return rc;
}

int runlog_load_last(const char *state_dir, struct run_record **recs, size_t *n,
                     struct runlog_skipped *skipped, struct sluice_error *err)
{
  struct runlog_skipped ignored;
  struct runlog_latest l = {NULL, 0, 0, json_object()};
  char *path = runlog_path(state_dir);
  FILE *fp = NULL;
  int fd, rc = 0;

  if (skipped == NULL)
    skipped = &ignored;
  memset(skipped, 0, sizeof *skipped);
  *recs = NULL;
  *n = 0;
  if (path == NULL || l.index == NULL) {
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "%s/%s: out of memory",
                          state_dir, RUNLOG_FILE);
    goto out;
  }
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    goto out; /* no run yet */
  if (fd < 0 || (fp = fdopen(fd, "r")) == NULL) {
    rc = sluice_error_set(err, SLUICE_EIO, 0, "%s: open: %s", path,
                          strerror(errno));
    if (fd >= 0)
      close(fd);
    goto out;
  }
  rc = runlog_read_stream(fp, path, &l, skipped, err);
out:
  if (fp != NULL)
    fclose(fp);
  if (rc == 0) {
    *recs = l.recs;
    *n = l.n;
  } else {
    runlog_free_records(l.recs, l.n);
  }
  json_decref(l.index);
  free(path);
  return rc;
}

/* ---- printing ---------------------------------------------------------- */

enum runlog_col {
  COL_PIPELINE,
  COL_STATUS,
  COL_STARTED,
  COL_DURATION,
  COL_READ,
  COL_WRITTEN,
  COL_REJECTED,
  COL_DELETED,
  COL_ERROR,
  RUNLOG_NCOLS
};

static const struct {
  const char *title;
  bool right; /* numbers align right */
} runlog_cols[RUNLOG_NCOLS] = {
    {"PIPELINE", false}, {"STATUS", false}, {"STARTED", false},
    {"DURATION", true},  {"READ", true},    {"WRITTEN", true},
    {"REJECTED", true},  {"DELETED", true}, {"ERROR", false},
};

/* Room for the widest cell, a pipeline name: 127 characters of up to 4
 * bytes each. */
#define RUNLOG_CELL_SIZE (127 * 4 + 1)

struct runlog_row {
  char cell[RUNLOG_NCOLS][RUNLOG_CELL_SIZE];
  size_t width[RUNLOG_NCOLS]; /* in characters, not bytes */
};

/* The bytes of the character at p: an invalid byte counts as one. */
static size_t runlog_char_len(const unsigned char *p)
{
  size_t n = runlog_utf8_len(p);
  return n != 0 ? n : 1;
}

/* Copies the character at *p into out for a terminal, advancing both:
 * control characters (C0, DEL, C1) become spaces and invalid UTF-8 '?',
 * so that no stored string can move the cursor or change colours. */
static size_t runlog_cell_char(char *out, const unsigned char **p)
{
  const unsigned char *c = *p;
  size_t n = runlog_utf8_len(c);
  *p += n != 0 ? n : 1;
  if (n == 0) {
    *out = '?';
    return 1;
  }
  if ((n == 1 && (c[0] < 0x20 || c[0] == 0x7F)) ||
      (n == 2 && c[0] == 0xC2 && c[1] < 0xA0)) {
    *out = ' ';
    return 1;
  }
  memcpy(out, c, n);
  return n;
}

/* Copies s into a cell: at most max characters, ending in "..." when cut.
 * out holds max * 4 + 1 bytes.  Returns the width in characters. */
static size_t runlog_cell_text(char *out, const char *s, size_t max)
{
  const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
  size_t total = 0, used = 0;
  for (const unsigned char *q = p; *q != '\0'; q += runlog_char_len(q))
    total++;
  size_t keep = total <= max ? total : max - 3;
  for (size_t i = 0; i < keep; i++)
    used += runlog_cell_char(out + used, &p);
  if (keep < total) {
    memcpy(out + used, "...", 3);
    used += 3;
  }
  out[used] = '\0';
  return keep < total ? max : total;
}

static void runlog_format_duration(int64_t us, char *buf, size_t size)
{
  int64_t ms = us / 1000;
  if (ms < 60 * 1000)
    snprintf(buf, size, "%d.%ds", (int)(ms / 1000), (int)(ms % 1000 / 100));
  else if (ms < 3600 * 1000)
    snprintf(buf, size, "%dm%02ds", (int)(ms / 60000), (int)(ms / 1000 % 60));
  else
    snprintf(buf, size, "%" PRId64 "h%02dm", ms / 3600000,
             (int)(ms / 60000 % 60));
}

static void runlog_fill_row(struct runlog_row *row, const struct run_record *r)
{
  char text[64];
  const uint64_t counts[] = {r->rows_read, r->rows_written, r->rows_rejected,
                             r->rows_deleted};

  char name[sizeof r->pipeline + 16];
  snprintf(name, sizeof name, "%s%s", r->pipeline,
           r->sweep ? " (delete sweep)" : "");
  row->width[COL_PIPELINE] =
      runlog_cell_text(row->cell[COL_PIPELINE], name, 127);
  row->width[COL_STATUS] =
      runlog_cell_text(row->cell[COL_STATUS], run_status_name(r->status), 20);
  runlog_format_time(r->start_us, false, text, sizeof text);
  row->width[COL_STARTED] = runlog_cell_text(row->cell[COL_STARTED], text, 40);
  runlog_format_duration(runlog_duration_us(r), text, sizeof text);
  row->width[COL_DURATION] =
      runlog_cell_text(row->cell[COL_DURATION], text, 40);
  for (int i = 0; i < 4; i++) {
    snprintf(text, sizeof text, "%" PRIu64, counts[i]);
    row->width[COL_READ + i] =
        runlog_cell_text(row->cell[COL_READ + i], text, 40);
  }
  row->width[COL_ERROR] =
      runlog_cell_text(row->cell[COL_ERROR], r->error, RUNLOG_ERROR_WIDTH);
}

static void runlog_print_row(FILE *out, const struct runlog_row *row,
                             const size_t *widths)
{
  for (int c = 0; c < RUNLOG_NCOLS; c++) {
    size_t pad = widths[c] - row->width[c];
    bool last = c == RUNLOG_NCOLS - 1;
    if (last && row->width[c] == 0)
      break; /* no trailing blanks for an empty last cell */
    if (c > 0)
      fputs("  ", out);
    if (runlog_cols[c].right)
      fprintf(out, "%*s", (int)pad, "");
    fputs(row->cell[c], out);
    if (!runlog_cols[c].right && !last)
      fprintf(out, "%*s", (int)pad, "");
  }
  fputc('\n', out);
}

int runlog_print_table(FILE *out, const struct run_record *recs, size_t n)
{
  /* Row 0 is the header. */
  struct runlog_row *rows = calloc(n + 1, sizeof *rows);
  size_t widths[RUNLOG_NCOLS] = {0};
  if (rows == NULL)
    return SLUICE_ENOMEM;
  for (int c = 0; c < RUNLOG_NCOLS; c++)
    rows[0].width[c] =
        runlog_cell_text(rows[0].cell[c], runlog_cols[c].title, 20);
  for (size_t i = 0; i < n; i++)
    runlog_fill_row(&rows[i + 1], &recs[i]);
  for (size_t i = 0; i <= n; i++)
    for (int c = 0; c < RUNLOG_NCOLS; c++)
      if (rows[i].width[c] > widths[c])
        widths[c] = rows[i].width[c];
  for (size_t i = 0; i <= n; i++)
    runlog_print_row(out, &rows[i], widths);
  free(rows);
  return ferror(out) ? SLUICE_EIO : 0;
}

int runlog_print_json(FILE *out, const struct run_record *recs, size_t n)
{
  json_t *array = json_array();
  int rc = array == NULL ? SLUICE_ENOMEM : 0;
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (json_array_append_new(array, runlog_record_to_json(&recs[i])) != 0)
      rc = SLUICE_ENOMEM;
  if (rc == 0 &&
      (json_dumpf(array, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
       fputc('\n', out) == EOF || ferror(out)))
    rc = SLUICE_EIO;
  json_decref(array);
  return rc;
}
