/* plugins/salesforce-bulk2/sf_bulk2_ingest.c - the destination: Bulk API
 * 2.0 ingest jobs (contract section 5).
 *
 * Rows are formatted as Bulk CSV on the loop thread (cheap: one batch)
 * and appended to staged files on the thread pool, one stream for the
 * operation and one for DELETE rows (a "delete" job by Id).  A file that
 * would pass max_upload_bytes is closed and sent at once; the rest are
 * sent at dest_commit.  Each file is one job, since a job takes one PUT
 * (5.2): POST /jobs/ingest -> PUT contentUrl -> PATCH UploadComplete ->
 * poll with backoff -> failedResults (and unprocessedrecords for a job
 * that Failed or was Aborted).
 *
 * Values: null as #N/A when nulls is "set" (an empty cell leaves the field
 * unchanged, 5.2), as an empty cell when "keep"; an empty string is a null
 * (Salesforce stores no empty text); booleans true/false; dates
 * yyyy-MM-dd; datetimes yyyy-MM-ddTHH:mm:ss.SSSZ (UTC); times
 * HH:mm:ss.SSSZ; decimals their exact text.  The Id column is left out of
 * insert and upsert (as salesforce-rest does); delete and hardDelete send
 * the Id column only.
 *
 * Duplicates: the service fails every row of a key that appears twice in
 * one job (DUPLICATE_VALUE).  Keys (the External ID for upsert, Id for
 * update and deletes) are counted per file; before upload the rows of a
 * duplicated key are taken out of the file and sent to the reject file.
 *
 * Rejects (same format as salesforce-rest's): the row's columns (the
 * uploaded text, #N/A shown as empty), sf__Operation, sf__StatusCode and
 * sf__Error (the service's "CODE:message:fields --").  Rows that failed
 * UNABLE_TO_LOCK_ROW are sent once more, a second later, in a job of their
 * own (smaller, so less contention); what fails again is rejected.
 *
 * Rerunning after a crash is safe for upsert, update and deletes (the
 * same key gives the same record); an insert job that ran before the crash
 * inserts again.  A job is Open from its create to its UploadComplete; a
 * run that dies or fails in between (a refused upload) leaves it Open, to
 * clutter the org until the service deletes it.  The state
 * "bulk2_ingest_open" lists the jobs created and not yet closed, and the
 * next dest_open aborts those still Open (their rows were never committed:
 * the rerun sends them again). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sluice/convert.h>
#include <sluice/csv.h>
#include <sluice/quote.h>

#include "sf_bulk2.h"

#define B2_OPEN_KEY "bulk2_ingest_open"

enum b2_op { OP_INSERT, OP_UPDATE, OP_UPSERT, OP_DELETE, OP_HARDDELETE };
static const char *const op_names[] = {"insert", "update", "upsert", "delete",
                                       "hardDelete"};

/* --- a set of keys with counts (open addressing) ------------------------- */

struct b2_keys {
  char **k;
  uint32_t *n;
  size_t cap, len;
};

static uint64_t hash(const char *s, size_t n)
{
  uint64_t h = 1469598103934665603ull;
  size_t i;

  for (i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static size_t keys_slot(const struct b2_keys *ks, const char *s, size_t n)
{
  size_t i = (size_t)hash(s, n) & (ks->cap - 1);

  while (ks->k[i] != NULL &&
         !(strlen(ks->k[i]) == n && memcmp(ks->k[i], s, n) == 0))
    i = (i + 1) & (ks->cap - 1);
  return i;
}

/* Adds one; returns the new count, or 0 on ENOMEM. */
static uint32_t keys_add(struct b2_keys *ks, const char *s, size_t n)
{
  size_t i;

  if ((ks->len + 1) * 2 > ks->cap) {
    struct b2_keys g = {0};
    g.cap = ks->cap ? ks->cap * 2 : 1024;
    g.k = calloc(g.cap, sizeof *g.k);
    g.n = calloc(g.cap, sizeof *g.n);
    if (g.k == NULL || g.n == NULL) {
      free(g.k);
      free(g.n);
      return 0;
    }
    for (i = 0; i < ks->cap; i++)
      if (ks->k[i] != NULL) {
        size_t j = keys_slot(&g, ks->k[i], strlen(ks->k[i]));
        g.k[j] = ks->k[i];
        g.n[j] = ks->n[i];
      }
    g.len = ks->len;
    free(ks->k);
    free(ks->n);
    *ks = g;
  }
  i = keys_slot(ks, s, n);
  if (ks->k[i] == NULL) {
    if ((ks->k[i] = malloc(n + 1)) == NULL)
      return 0;
    memcpy(ks->k[i], s, n);
    ks->k[i][n] = '\0';
    ks->len++;
  }
  return ++ks->n[i];
}

static uint32_t keys_count(const struct b2_keys *ks, const char *s, size_t n)
{
  size_t i;

  if (ks->cap == 0)
    return 0;
  i = keys_slot(ks, s, n);
  return ks->k[i] ? ks->n[i] : 0;
}

static void keys_free(struct b2_keys *ks)
{
  size_t i;

  for (i = 0; i < ks->cap; i++)
    free(ks->k[i]);
  free(ks->k);
  free(ks->n);
  memset(ks, 0, sizeof *ks);
}

/* --- staged files -------------------------------------------------------- */

struct b2_file {
  char *path;
  int stream;    /* 0: the operation, 1: DELETE rows */
  int attempt;   /* 1: the retry of UNABLE_TO_LOCK_ROW rows */
  int64_t bytes; /* header included */
  int64_t rows, dup_rows;
  struct b2_keys keys;
  struct sluice_buf pending; /* formatted, not yet on disk */
  struct b2_file *next;
};

struct b2_ingest {
  struct b2_ctx *b;
  struct sf_ctx *c;
  enum b2_op op;
  struct sluice_schema *schema;
  long id_col;
  /* the upload's columns, as schema indices, per stream */
  size_t *cols[2];
  size_t ncols[2];
  long keycol[2]; /* the key's position among cols, -1: none */
  struct sluice_buf header[2];
  char *reject_path;
  char *dir;
  unsigned seq;

  struct b2_file *cur[2];     /* filling */
  struct b2_file *ready;      /* closed, to send, in order */
  struct b2_file *sending;    /* the one being sent */
  struct b2_file *all_staged; /* unused */

  /* the call in progress */
  sluice_done_cb done;
  void *done_arg;
  int committing;
  struct sf_api_call *call;
  struct b2_job_poll *poll;
  struct sluice_timer *timer;
  char *job, *content_url;
  json_t *job_info;
  struct sluice_csv_reader *reader;
  int results_kind; /* 0 failedResults, 1 unprocessedrecords */
  int results_header;
  struct sluice_buf retry; /* rows to send again (UNABLE_TO_LOCK_ROW) */
  int64_t nretry;

  /* work on the pool */
  int working, dead;
  void (*after)(struct b2_ingest *in);
  struct sluice_buf rejects; /* lines for the reject file */
  int64_t nrejects;
  char *unlink1, *unlink2, *dedup_src, *dedup_dst;
  struct b2_file *dedup_file;
  char *retry_path;
  int wstatus;
  char werr[320];

  /* counts for the log and dry_run */
  int64_t rows_by_stream[2], uploads, dups_total;

  /* dest_open: jobs an earlier run left Open, to abort */
  json_t *left;
  size_t left_next;
};

static void send_next(struct b2_ingest *in);
static void fail(struct b2_ingest *in, int status,
                 const struct sluice_error *err);

static void file_free(struct b2_file *f)
{
  if (f == NULL)
    return;
  free(f->path);
  keys_free(&f->keys);
  sluice_buf_free(&f->pending);
  free(f);
}

static void ingest_destroy(struct b2_ingest *in)
{
  struct b2_file *f, *nx;
  int i;

  for (i = 0; i < 2; i++) {
    if (in->cur[i] != NULL) {
      unlink(in->cur[i]->path); /* never committed: dropped */
      file_free(in->cur[i]);
    }
    free(in->cols[i]);
    sluice_buf_free(&in->header[i]);
  }
  for (f = in->ready; f != NULL; f = nx) {
    nx = f->next;
    unlink(f->path);
    file_free(f);
  }
  if (in->sending != NULL) {
    unlink(in->sending->path);
    file_free(in->sending);
  }
  if (in->retry_path != NULL)
    unlink(in->retry_path);
  sluice_csv_reader_free(in->reader);
  json_decref(in->job_info);
  json_decref(in->left);
  sluice_schema_unref(in->schema);
  sluice_buf_free(&in->retry);
  sluice_buf_free(&in->rejects);
  free(in->job);
  free(in->content_url);
  free(in->unlink1);
  free(in->unlink2);
  free(in->dedup_src);
  free(in->dedup_dst);
  free(in->retry_path);
  free(in->reject_path);
  free(in->dir);
  free(in);
}

/* --- values as Bulk CSV -------------------------------------------------- */

static int cell_text(struct b2_ingest *in, const struct sluice_value *v,
                     struct sluice_buf *out)
{
  int y, m, d;

  if (v == NULL || v->type == SLUICE_TYPE_NULL ||
      (v->type == SLUICE_TYPE_STRING && v->len == 0))
    return strcmp(in->b->nulls, "set") == 0 ? sluice_buf_append_str(out, "#N/A")
                                            : 0;
  switch (v->type) {
  case SLUICE_TYPE_DATE:
    sluice_civil_from_days(v->u.date, &y, &m, &d);
    return sluice_buf_printf(out, "%04d-%02d-%02d", y, m, d);
  case SLUICE_TYPE_TIME: {
    int64_t ms = v->u.time_us / 1000;
    return sluice_buf_printf(out, "%02d:%02d:%02d.%03dZ", (int)(ms / 3600000),
                             (int)(ms / 60000 % 60), (int)(ms / 1000 % 60),
                             (int)(ms % 1000));
  }
  case SLUICE_TYPE_TIMESTAMP: {
    int64_t us = v->u.ts_us;
    int64_t ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
    int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
    int64_t sod = s - days * 86400;
    sluice_civil_from_days((int32_t)days, &y, &m, &d);
    return sluice_buf_printf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m,
                             d, (int)(sod / 3600), (int)(sod / 60 % 60),
                             (int)(sod % 60), (int)(ms - s * 1000));
  }
  case SLUICE_TYPE_DOUBLE:
    if (!isfinite(v->u.d))
      return sluice_buf_append_str(out, "#N/A");
    return sluice_value_format(v, out);
  default: return sluice_value_format(v, out);
  }
}

/* --- rejects -------------------------------------------------------------- */

/* One reject line: the cells mapped to the schema's columns (#N/A shown
 * as empty: it was a null), then the operation, code and error. */
static void reject_cells(struct b2_ingest *in, int stream,
                         const struct sluice_csv_field *cells, size_t n,
                         const char *opname, const char *code, const char *text)
{
  size_t i, j, nf = sluice_schema_nfields(in->schema);
  struct sluice_csv_field f;

  in->nrejects++;
  if (in->reject_path == NULL) {
    SLUICE_LOG_W(in->c->host, in->c->ins, "%s: a record was rejected (%s): %s",
                 in->c->object, opname, text);
    return;
  }
  for (i = 0; i < nf; i++) {
    f.ptr = "";
    f.len = 0;
    for (j = 0; j < in->ncols[stream] && j < n; j++)
      if (in->cols[stream][j] == i &&
          !(cells[j].len == 4 && memcmp(cells[j].ptr, "#N/A", 4) == 0))
        f = cells[j];
    sluice_csv_write_field(&in->rejects, f.ptr, f.len, NULL);
    sluice_buf_append_char(&in->rejects, ',');
  }
  sluice_csv_write_field(&in->rejects, opname, strlen(opname), NULL);
  sluice_buf_append_char(&in->rejects, ',');
  sluice_csv_write_field(&in->rejects, code, strlen(code), NULL);
  sluice_buf_append_char(&in->rejects, ',');
  sluice_csv_write_field(&in->rejects, text, strlen(text), NULL);
  sluice_buf_append_char(&in->rejects, '\n');
}

static const char *stream_op(struct b2_ingest *in, int stream)
{
  return stream == 1 ? "delete" : op_names[in->op];
}

/* --- the pool: file work ------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int append_file(struct b2_ingest *in, const char *path, const char *p,
                       size_t n, const char *header)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  struct stat st;
  int rc = 0;

  if (fd < 0 || fstat(fd, &st) != 0)
    rc = -1;
  else if (header != NULL && st.st_size == 0 &&
           write_all(fd, header, strlen(header)) < 0)
    rc = -1;
  else if (write_all(fd, p, n) < 0)
    rc = -1;
  if (rc < 0 && in->wstatus == 0) {
    snprintf(in->werr, sizeof in->werr, "%s: %s", path, strerror(errno));
    in->wstatus = SLUICE_EIO;
  }
  if (fd >= 0)
    close(fd);
  return rc;
}

/* dedup: the file without the rows of duplicated keys, those rejected */
struct dedup_ctx {
  struct b2_ingest *in;
  struct b2_file *f;
  struct sluice_buf out;
  int fd;
  int header;
};

static int on_dedup_record(void *arg, const struct sluice_csv_field *cells,
                           size_t n, const struct sluice_csv_pos *pos)
{
  struct dedup_ctx *d = arg;
  struct b2_ingest *in = d->in;
  long k = in->keycol[d->f->stream];
  char text[200];

  (void)pos;
  if (d->header || k < 0 || (size_t)k >= n ||
      keys_count(&d->f->keys, cells[k].ptr, cells[k].len) < 2) {
    d->header = 0;
    sluice_csv_write_record(&d->out, cells, n, NULL);
  } else {
    snprintf(text, sizeof text,
             "DUPLICATE_VALUE:Duplicate %s specified in the data: %.*s "
             "(every row of the key is held back) --",
             k == 0 && in->op != OP_UPSERT ? "id" : "external id",
             (int)(cells[k].len > 100 ? 100 : cells[k].len), cells[k].ptr);
    reject_cells(in, d->f->stream, cells, n, stream_op(in, d->f->stream),
                 "DUPLICATE_VALUE", text);
  }
  if (d->out.len > 1 << 20) {
    if (write_all(d->fd, d->out.data, d->out.len) < 0)
      return SLUICE_EIO;
    sluice_buf_reset(&d->out);
  }
  return 0;
}

static void dedup_work(struct b2_ingest *in)
{
  struct dedup_ctx d = {in, in->dedup_file, SLUICE_BUF_INIT, -1, 1};
  struct sluice_csv_reader *r = sluice_csv_reader_new(NULL);
  struct sluice_error e = {0};
  char buf[65536];
  size_t got;
  FILE *src = fopen(in->dedup_src, "rb");
  int rc = 0;

  d.fd = open(in->dedup_dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (src == NULL || d.fd < 0 || r == NULL) {
    snprintf(in->werr, sizeof in->werr, "staging %s: %s", in->dedup_src,
             strerror(errno));
    in->wstatus = SLUICE_EIO;
  } else {
    sluice_csv_reader_set_callbacks(r, on_dedup_record, NULL, &d);
    while (rc == 0 && (got = fread(buf, 1, sizeof buf, src)) > 0)
      rc = sluice_csv_reader_feed(r, buf, got, NULL, &e);
    if (rc == 0)
      rc = sluice_csv_reader_finish(r, &e);
    if (rc == 0 && write_all(d.fd, d.out.data ? d.out.data : "", d.out.len) < 0)
      rc = SLUICE_EIO;
    if (rc < 0) {
      snprintf(in->werr, sizeof in->werr, "staging %.100s: %.180s",
               in->dedup_src, e.message[0] ? e.message : strerror(errno));
      in->wstatus = SLUICE_EIO;
    }
  }
  if (src != NULL)
    fclose(src);
  if (d.fd >= 0)
    close(d.fd);
  sluice_csv_reader_free(r);
  sluice_buf_free(&d.out);
}

/* Runs on the pool: the pending rows of every staged file, a dedup, the
 * reject lines, the retry file, then removals. */
static void io_work(void *arg)
{
  struct b2_ingest *in = arg;
  struct b2_file *f;
  int i;

  in->wstatus = 0;
  for (i = 0; i < 2; i++)
    if ((f = in->cur[i]) != NULL && f->pending.len > 0 &&
        append_file(in, f->path, f->pending.data, f->pending.len, NULL) == 0)
      sluice_buf_reset(&f->pending);
  for (f = in->ready; f != NULL; f = f->next)
    if (f->pending.len > 0 &&
        append_file(in, f->path, f->pending.data, f->pending.len, NULL) == 0)
      sluice_buf_reset(&f->pending);
  if (in->dedup_file != NULL && in->wstatus == 0)
    dedup_work(in);
  if (in->rejects.len > 0 && in->reject_path != NULL && in->wstatus == 0) {
    struct sluice_buf h = SLUICE_BUF_INIT;
    size_t k, n = sluice_schema_nfields(in->schema);
    for (k = 0; k < n; k++) {
      const char *name = sluice_schema_field(in->schema, k)->name;
      sluice_csv_write_field(&h, name, strlen(name), NULL);
      sluice_buf_append_char(&h, ',');
    }
    sluice_buf_append_str(&h, "sf__Operation,sf__StatusCode,sf__Error\n");
    append_file(in, in->reject_path, in->rejects.data, in->rejects.len,
                sluice_buf_cstr(&h));
    sluice_buf_free(&h);
  }
  if (in->retry.len > 0 && in->retry_path != NULL && in->wstatus == 0)
    append_file(in, in->retry_path, in->retry.data, in->retry.len, NULL);
  if (in->unlink1 != NULL)
    unlink(in->unlink1);
  if (in->unlink2 != NULL)
    unlink(in->unlink2);
}

static void io_after(void *arg, int status)
{
  struct b2_ingest *in = arg;
  struct sluice_error err = {0};
  void (*next)(struct b2_ingest *) = in->after;

  in->working = 0;
  if (in->dead) {
    ingest_destroy(in);
    return;
  }
  free(in->unlink1);
  free(in->unlink2);
  in->unlink1 = in->unlink2 = NULL;
  in->dedup_file = NULL;
  sluice_buf_reset(&in->rejects);
  sluice_buf_reset(&in->retry);
  if (in->nrejects > 0) {
    in->c->host->count(in->c->ins, SLUICE_COUNT_REJECTED, in->nrejects);
    in->nrejects = 0;
  }
  if (status == 0 && in->wstatus < 0)
    status = in->wstatus;
  if (status < 0) {
    sluice_error_set(&err, status, 0, "%s",
                     in->wstatus < 0 ? in->werr : "file work did not run");
    fail(in, status, &err);
    return;
  }
  next(in);
}

static void io_start(struct b2_ingest *in, void (*next)(struct b2_ingest *))
{
  struct sluice_error err = {0};
  int rc;

  in->after = next;
  in->working = 1;
  rc = in->c->host->work_submit(in->c->ins, io_work, io_after, in);
  if (rc < 0) {
    in->working = 0;
    sluice_error_set(&err, rc, 0, "cannot queue file work");
    fail(in, rc, &err);
  }
}

/* --- the call's end ------------------------------------------------------- */

static void dry_run_report(struct b2_ingest *in)
{
  SLUICE_LOG_I(in->c->host, in->c->ins,
               "dry_run: %s %s: %lld rows; delete: %lld rows; %lld uploads; "
               "%lld rows share a key with another (they would be rejected "
               "DUPLICATE_VALUE); nothing was sent",
               in->c->object, op_names[in->op],
               (long long)in->rows_by_stream[0],
               (long long)in->rows_by_stream[1], (long long)in->uploads,
               (long long)in->dups_total);
}

static void finish_call(struct b2_ingest *in, int status,
                        const struct sluice_error *err)
{
  sluice_done_cb done = in->done;

  if (status == 0 && in->committing && in->b->dry_run)
    dry_run_report(in);
  in->done = NULL;
  in->committing = 0;
  if (done != NULL)
    done(in->done_arg, status, status < 0 ? err : NULL);
}

static void fail(struct b2_ingest *in, int status,
                 const struct sluice_error *err)
{
  if (in->call != NULL) {
    sf_api_cancel(in->call);
    in->call = NULL;
  }
  b2_job_poll_cancel(in->poll);
  in->poll = NULL;
  finish_call(in, status, err);
}

/* --- jobs left Open ------------------------------------------------------ */

/* The state's list of ingest jobs created and not closed (a new array). */
static json_t *open_jobs_get(struct b2_ingest *in)
{
  char *text = NULL;
  json_t *a = NULL;

  if (in->c->host->state_get(in->c->ins, B2_OPEN_KEY, &text) == 0 &&
      text != NULL) {
    a = json_loads(text, 0, NULL);
    in->c->host->free(text);
  }
  if (!json_is_array(a)) {
    json_decref(a);
    a = json_array();
  }
  return a;
}

/* Adds id to the list (add) or takes it out.  Only a hint for the next
 * run: a failure to save costs at most a job left Open. */
static void open_jobs_change(struct b2_ingest *in, const char *id, int add)
{
  struct sluice_error e = {0};
  json_t *a = open_jobs_get(in), *v;
  char *text;
  size_t i;

  if (a == NULL)
    return;
  json_array_foreach(a, i, v)
  {
    if (json_string_value(v) && strcmp(json_string_value(v), id) == 0) {
      json_array_remove(a, i);
      break;
    }
  }
  if (add)
    json_array_append_new(a, json_string(id));
  text = json_array_size(a) > 0 ? json_dumps(a, JSON_COMPACT) : NULL;
  if (in->c->host->state_put(in->c->ins, B2_OPEN_KEY, text, &e) < 0)
    SLUICE_LOG_W(in->c->host, in->c->ins,
                 "cannot save the open ingest jobs: %s", e.message);
  free(text);
  json_decref(a);
}

static void abort_left_next(struct b2_ingest *in);

static void on_left_aborted(void *arg, int status, json_t *info,
                            const struct sluice_error *err)
{
  struct b2_ingest *in = arg;
  const char *id = json_string_value(json_array_get(in->left, in->left_next));

  (void)info;
  in->call = NULL;
  if (status < 0)
    SLUICE_LOG_W(in->c->host, in->c->ins,
                 "%s: ingest job %s, left Open by an earlier run: cannot "
                 "abort it: %s",
                 in->c->object, id, err->message);
  else
    SLUICE_LOG_I(in->c->host, in->c->ins,
                 "%s: ingest job %s, left Open by an earlier run: aborted",
                 in->c->object, id);
  open_jobs_change(in, id, 0);
  in->left_next++;
  abort_left_next(in);
}

static void on_left_info(void *arg, int status, json_t *info,
                         const struct sluice_error *err)
{
  struct b2_ingest *in = arg;
  const char *id = json_string_value(json_array_get(in->left, in->left_next));
  const char *state = json_string_value(json_object_get(info, "state"));
  struct sluice_error e = {0};

  in->call = NULL;
  if (status == 0 && state != NULL && strcmp(state, "Open") == 0) {
    if (b2_job_set_state(in->c, "ingest", id, "Aborted", on_left_aborted, in,
                         &in->call, &e) < 0)
      on_left_aborted(in, e.code, NULL, &e);
    return;
  }
  /* closed before the crash (it runs or ran: its rows count as sent, and
   * the rerun sends them again), or gone: nothing to do */
  SLUICE_LOG_D(in->c->host, in->c->ins,
               "ingest job %s of an earlier run: %s: left alone", id,
               status < 0 ? err->message
               : state    ? state
                          : "(no state)");
  open_jobs_change(in, id, 0);
  in->left_next++;
  abort_left_next(in);
}

/* dest_open: the jobs of the list, one after the other, then done. */
static void abort_left_next(struct b2_ingest *in)
{
  struct sluice_error e = {0};
  const char *id;

  while (in->left_next < json_array_size(in->left)) {
    id = json_string_value(json_array_get(in->left, in->left_next));
    if (id != NULL && *id != '\0') {
      if (b2_job_get(in->c, "ingest", id, on_left_info, in, &in->call, &e) == 0)
        return;
      SLUICE_LOG_W(in->c->host, in->c->ins, "ingest job %s: %s", id, e.message);
    }
    in->left_next++;
  }
  finish_call(in, 0, NULL); /* dest_open */
}

/* --- one job: create, PUT, close, poll, results ------------------------- */

static void upload_done(struct b2_ingest *in);

static void results_end(struct b2_ingest *in);

static int on_result_record(void *arg, const struct sluice_csv_field *cells,
                            size_t n, const struct sluice_csv_pos *pos)
{
  struct b2_ingest *in = arg;
  struct b2_file *f = in->sending;
  const char *opname = stream_op(in, f->stream);
  char code[64], text[512];
  size_t skip = in->results_kind == 0 ? 2 : 0, clen;

  (void)pos;
  if (in->results_header) {
    in->results_header = 0;
    return 0;
  }
  if (n < skip)
    return 0;
  if (in->results_kind == 0) {
    snprintf(text, sizeof text, "%.*s", (int)cells[1].len, cells[1].ptr);
    clen = strcspn(text, ":");
    snprintf(code, sizeof code, "%.*s", (int)clen, text);
    if (strcmp(code, "UNABLE_TO_LOCK_ROW") == 0 && f->attempt == 0) {
      in->nretry++;
      return sluice_csv_write_record(&in->retry, cells + 2, n - 2, NULL);
    }
  } else {
    const char *state =
        json_string_value(json_object_get(in->job_info, "state"));
    snprintf(code, sizeof code, "JOB_%s",
             state && strcmp(state, "Aborted") == 0 ? "ABORTED" : "FAILED");
    snprintf(text, sizeof text, "%s: %s (not processed)", code + 4,
             b2_job_error_message(in->job_info));
  }
  reject_cells(in, f->stream, cells + skip, n - skip, opname, code, text);
  return 0;
}

static int on_result_data(void *arg, const char *data, size_t len)
{
  struct b2_ingest *in = arg;
  struct sluice_error e = {0};

  return sluice_csv_reader_feed(in->reader, data, len, NULL, &e) < 0
             ? SLUICE_EPROTO
             : 0;
}

static void on_results(void *arg, int status, json_t *body,
                       const struct sluice_error *err)
{
  struct b2_ingest *in = arg;
  struct sluice_error e = {0};
  const char *state = json_string_value(json_object_get(in->job_info, "state"));

  (void)body;
  in->call = NULL;
  if (status < 0) {
    e = *err;
    sluice_error_prefix(&e, "%s: ingest job %s results", in->c->object,
                        in->job);
    fail(in, status, &e);
    return;
  }
  sluice_csv_reader_finish(in->reader, &e);
  if (in->results_kind == 0 && state != NULL &&
      strcmp(state, "JobComplete") != 0) {
    in->results_kind = 1;
    results_end(in); /* now unprocessedrecords */
    return;
  }
  upload_done(in);
}

/* GETs failedResults, or unprocessedrecords after a job that failed. */
static void results_end(struct b2_ingest *in)
{
  struct sf_ctx *c = in->c;
  struct sluice_error e = {0};
  struct sluice_buf path = SLUICE_BUF_INIT;
  struct sf_api_opts o = {0};
  int rc;

  sluice_csv_reader_free(in->reader);
  if ((in->reader = sluice_csv_reader_new(NULL)) == NULL) {
    sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
    fail(in, e.code, &e);
    return;
  }
  sluice_csv_reader_set_callbacks(in->reader, on_result_record, NULL, in);
  in->results_header = 1;
  rc = sf_api_base(c, &path);
  if (rc == 0)
    rc = sluice_buf_printf(&path, "/jobs/ingest/%s/%s", in->job,
                           in->results_kind == 0 ? "failedResults"
                                                 : "unprocessedrecords");
  o.accept = "text/csv";
  o.raw = 1;
  o.on_data = on_result_data;
  if (rc < 0)
    rc = sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
  else
    rc = sf_api_request_opts(c, "GET", sluice_buf_cstr(&path), NULL, 0, 0, NULL,
                             0, &o, on_results, in, &in->call, &e);
  sluice_buf_free(&path);
  if (rc < 0)
    fail(in, rc, &e);
}

static void on_polled(void *arg, int status, json_t *info,
                      const struct sluice_error *err)
{
  struct b2_ingest *in = arg;
  struct sf_ctx *c = in->c;
  struct sluice_error e = {0};
  const char *state = json_string_value(json_object_get(info, "state"));
  json_int_t failed =
      json_integer_value(json_object_get(info, "numberRecordsFailed"));

  in->poll = NULL;
  if (status < 0) {
    e = *err;
    sluice_error_prefix(&e, "%s: ingest job %s", c->object, in->job);
    fail(in, status, &e);
    return;
  }
  json_decref(in->job_info);
  in->job_info = json_incref(info);
  SLUICE_LOG_I(
      c->host, c->ins,
      "%s: ingest job %s (%s) %s: %lld processed, %lld failed%s%s", c->object,
      in->job, stream_op(in, in->sending->stream), state ? state : "?",
      (long long)json_integer_value(
          json_object_get(info, "numberRecordsProcessed")),
      (long long)failed, strcmp(state ? state : "", "JobComplete") ? ": " : "",
      strcmp(state ? state : "", "JobComplete") ? b2_job_error_message(info)
                                                : "");
  in->results_kind = 0;
  if (failed > 0 || (state != NULL && strcmp(state, "JobComplete") != 0)) {
    results_end(in);
    return;
  }
  upload_done(in);
}

static void on_closed(void *arg, int status, json_t *info,
                      const struct sluice_error *err)
{
  struct b2_ingest *in = arg;
  struct sluice_error e = {0};
  int rc;

  (void)info;
  in->call = NULL;
  if (status < 0 && err != NULL &&
      strstr(err->message, "INVALIDJOBSTATE") != NULL) {
    /* The PATCH is resent when its answer is lost (a reset): the first
     * one was applied, and the service refuses to close a job twice.
     * Whatever closed it, polling tells where the job is (an Aborted or
     * Failed job fails the run there). */
    SLUICE_LOG_I(in->c->host, in->c->ins,
                 "%s: ingest job %s is no longer Open (%s): following it",
                 in->c->object, in->job, err->message);
    status = 0;
  }
  if (status < 0) {
    e = *err;
    sluice_error_prefix(&e, "%s: closing ingest job %s", in->c->object,
                        in->job);
    fail(in, status, &e);
    return;
  }
  open_jobs_change(in, in->job, 0);
  rc = b2_job_poll_start(in->c, "ingest", in->job, in->b->poll_max_ms,
                         in->b->job_timeout_ms, on_polled, in, &in->poll, &e);
  if (rc < 0)
    fail(in, rc, &e);
}

static void on_put(void *arg, int status, json_t *body,
                   const struct sluice_error *err)
{
  struct b2_ingest *in = arg;
  struct sluice_error e = {0};
  int rc;

  (void)body;
  in->call = NULL;
  if (status < 0) {
    e = *err;
    sluice_error_prefix(&e, "%s: uploading to ingest job %s", in->c->object,
                        in->job);
    fail(in, status, &e);
    return;
  }
  in->c->host->count(in->c->ins, SLUICE_COUNT_BYTES_OUT, in->sending->bytes);
  rc = b2_job_set_state(in->c, "ingest", in->job, "UploadComplete", on_closed,
                        in, &in->call, &e);
  if (rc < 0)
    fail(in, rc, &e);
}

static void on_created(void *arg, int status, json_t *info,
                       const struct sluice_error *err)
{
  struct b2_ingest *in = arg;
  struct sf_ctx *c = in->c;
  struct sluice_error e = {0};
  const char *id = json_string_value(json_object_get(info, "id"));
  const char *url = json_string_value(json_object_get(info, "contentUrl"));
  static const struct sluice_http_header csv = {"Content-Type", "text/csv"};
  struct sf_api_opts o = {0};
  struct sluice_buf path = SLUICE_BUF_INIT;
  int rc;

  in->call = NULL;
  if (status < 0) {
    e = *err;
    sluice_error_prefix(&e, "%s: creating an ingest job (%s)", c->object,
                        stream_op(in, in->sending->stream));
    fail(in, status, &e);
    return;
  }
  free(in->job);
  in->job = id ? strdup(id) : NULL;
  if (in->job == NULL || url == NULL) {
    sluice_error_set(&e, SLUICE_EPROTO, 0,
                     "%s: the ingest job's answer has no id or contentUrl",
                     c->object);
    fail(in, e.code, &e);
    return;
  }
  open_jobs_change(in, in->job, 1);
  SLUICE_LOG_I(c->host, c->ins, "%s: ingest job %s (%s): %lld rows, %lld bytes",
               c->object, in->job, stream_op(in, in->sending->stream),
               (long long)(in->sending->rows - in->sending->dup_rows),
               (long long)in->sending->bytes);
  /* contentUrl has no leading slash (section 5.1) */
  rc = sluice_buf_printf(&path, "%s%s", url[0] == '/' ? "" : "/", url);
  o.raw = 1;
  o.body_file = in->sending->dup_rows > 0 ? in->dedup_dst : in->sending->path;
  if (rc < 0)
    rc = sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
  else
    rc = sf_api_request_opts(c, "PUT", sluice_buf_cstr(&path), NULL, 0, 0, &csv,
                             1, &o, on_put, in, &in->call, &e);
  sluice_buf_free(&path);
  if (rc < 0)
    fail(in, rc, &e);
}

static void create_job(struct b2_ingest *in)
{
  struct sf_ctx *c = in->c;
  struct sluice_error e = {0};
  json_t *j =
      json_pack("{s:s, s:s, s:s, s:s, s:s}", "object", c->object, "operation",
                stream_op(in, in->sending->stream), "contentType", "CSV",
                "columnDelimiter", "COMMA", "lineEnding", "LF");
  char *body;
  int rc;

  if (j != NULL && in->op == OP_UPSERT && in->sending->stream == 0)
    json_object_set_new(j, "externalIdFieldName", json_string(c->external_id));
  body = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (body == NULL) {
    sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
    fail(in, e.code, &e);
    return;
  }
  in->uploads++;
  rc = b2_job_create(c, "ingest", body, on_created, in, &in->call, &e);
  free(body);
  if (rc < 0)
    fail(in, rc, &e);
}

static void on_retry_timer(void *arg)
{
  struct b2_ingest *in = arg;

  in->c->host->timer_stop(in->timer);
  in->timer = NULL;
  create_job(in);
}

static void retry_staged(struct b2_ingest *in)
{
  struct b2_file *f = in->sending;
  struct sluice_error e = {0};

  /* the retry file becomes the file being sent, a second later */
  free(in->unlink1);
  in->unlink1 = NULL;
  free(f->path);
  f->path = in->retry_path;
  in->retry_path = NULL;
  f->attempt = 1;
  f->dup_rows = 0;
  f->rows = in->nretry;
  in->nretry = 0;
  in->timer = in->c->host->timer_start(in->c->ins, 1000, 0, on_retry_timer, in);
  if (in->timer == NULL) {
    sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
    fail(in, e.code, &e);
  }
}

static void after_upload_io(struct b2_ingest *in)
{
  if (in->retry_path != NULL) {
    retry_staged(in);
    return;
  }
  file_free(in->sending);
  in->sending = NULL;
  send_next(in);
}

/* The job is over: rejects written, the retry staged, the files removed. */
static void upload_done(struct b2_ingest *in)
{
  struct b2_file *f = in->sending;

  in->unlink1 = strdup(f->path);
  if (f->dup_rows > 0)
    in->unlink2 = strdup(in->dedup_dst);
  if (in->nretry > 0) {
    struct sluice_buf p = SLUICE_BUF_INIT;
    /* the header, as uploaded, before the rows */
    sluice_buf_append(&p, in->header[f->stream].data,
                      in->header[f->stream].len);
    sluice_buf_append(&p, in->retry.data, in->retry.len);
    sluice_buf_free(&in->retry);
    in->retry = p;
    SLUICE_LOG_I(in->c->host, in->c->ins,
                 "%s: %lld rows failed UNABLE_TO_LOCK_ROW: sent again in a "
                 "job of their own",
                 in->c->object, (long long)in->nretry);
    in->retry_path = malloc(strlen(f->path) + 8);
    if (in->retry_path != NULL)
      snprintf(in->retry_path, strlen(f->path) + 8, "%s.retry", f->path);
  }
  io_start(in, after_upload_io);
}

static void after_dedup(struct b2_ingest *in)
{
  create_job(in);
}

/* Sends the ready files one after the other, then ends the call. */
static void send_next(struct b2_ingest *in)
{
  struct b2_file *f = in->ready;

  if (f == NULL) {
    finish_call(in, 0, NULL);
    return;
  }
  in->ready = f->next;
  f->next = NULL;
  in->sending = f;
  if (in->b->dry_run) {
    SLUICE_LOG_I(in->c->host, in->c->ins,
                 "dry_run: would upload %lld rows (%s) in one job: %lld "
                 "bytes, %lld rows held back as duplicates; header: %.*s",
                 (long long)(f->rows - f->dup_rows), stream_op(in, f->stream),
                 (long long)f->bytes, (long long)f->dup_rows,
                 (int)(in->header[f->stream].len - 1),
                 in->header[f->stream].data);
    in->uploads++;
    in->unlink1 = strdup(f->path);
    file_free(f);
    in->sending = NULL;
    io_start(in, send_next);
    return;
  }
  if (f->dup_rows > 0) {
    free(in->dedup_src);
    free(in->dedup_dst);
    in->dedup_src = strdup(f->path);
    in->dedup_dst = malloc(strlen(f->path) + 8);
    if (in->dedup_dst != NULL)
      snprintf(in->dedup_dst, strlen(f->path) + 8, "%s.dedup", f->path);
    in->dedup_file = f;
    io_start(in, after_dedup);
    return;
  }
  create_job(in);
}

/* --- staging rows --------------------------------------------------------- */

static struct b2_file *file_new(struct b2_ingest *in, int stream)
{
  struct b2_file *f = calloc(1, sizeof *f);
  size_t n = strlen(in->dir) + 64;

  if (f == NULL || (f->path = malloc(n)) == NULL) {
    free(f);
    return NULL;
  }
  snprintf(f->path, n, "%s/sluice-bulk2-%ld-%p-%u.csv", in->dir, (long)getpid(),
           (void *)in, ++in->seq);
  f->stream = stream;
  if (sluice_buf_append(&f->pending, in->header[stream].data,
                        in->header[stream].len) < 0) {
    file_free(f);
    return NULL;
  }
  f->bytes = (int64_t)in->header[stream].len;
  return f;
}

static void file_close(struct b2_ingest *in, int stream)
{
  struct b2_file *f = in->cur[stream], **t;

  if (f == NULL)
    return;
  in->cur[stream] = NULL;
  for (t = &in->ready; *t != NULL; t = &(*t)->next)
    ;
  *t = f;
}

/* Valid Id text: 15 or 18 letters and digits. */
static int id_ok(const struct sluice_value *v)
{
  uint32_t i;

  if (v == NULL || v->type != SLUICE_TYPE_STRING ||
      (v->len != 15 && v->len != 18))
    return 0;
  for (i = 0; i < v->len; i++) {
    char ch = v->u.str[i];
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
          (ch >= 'A' && ch <= 'Z')))
      return 0;
  }
  return 1;
}

static int stage_row(struct b2_ingest *in, struct sluice_batch *bt, size_t row,
                     struct sluice_buf *line, struct sluice_buf *cell,
                     struct sluice_error *err)
{
  int del = in->op == OP_DELETE || in->op == OP_HARDDELETE ||
            sluice_batch_op(bt, row) == SLUICE_OP_DELETE;
  int stream = (del && in->op != OP_DELETE && in->op != OP_HARDDELETE) ? 1 : 0;
  struct b2_file *f;
  size_t j;

  if (del && !id_ok(sluice_batch_value(bt, row, (size_t)in->id_col))) {
    struct sluice_csv_field none = {"", 0, 0};
    reject_cells(in, stream, &none, 0, stream_op(in, stream), "SLUICE_NO_ID",
                 "a row to delete has no valid Id (15 or 18 letters and "
                 "digits): records are deleted by Id");
    return 0;
  }
  sluice_buf_reset(line);
  for (j = 0; j < in->ncols[stream]; j++) {
    sluice_buf_reset(cell);
    if (cell_text(in, sluice_batch_value(bt, row, in->cols[stream][j]), cell) <
        0)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    if (j > 0)
      sluice_buf_append_char(line, ',');
    sluice_csv_write_field(line, cell->data ? cell->data : "", cell->len, NULL);
  }
  if (sluice_buf_append_char(line, '\n') < 0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  if ((int64_t)(line->len + in->header[stream].len) > in->b->max_upload_bytes) {
    struct sluice_csv_field none = {"", 0, 0};
    reject_cells(in, stream, &none, 0, stream_op(in, stream), "SLUICE_TOO_BIG",
                 "the row alone is larger than max_upload_bytes");
    return 0;
  }
  f = in->cur[stream];
  if (f != NULL && f->bytes + (int64_t)line->len > in->b->max_upload_bytes) {
    file_close(in, stream);
    f = NULL;
  }
  if (f == NULL && (f = in->cur[stream] = file_new(in, stream)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  if (sluice_buf_append(&f->pending, line->data, line->len) < 0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  f->bytes += (int64_t)line->len;
  f->rows++;
  in->rows_by_stream[stream]++;
  if (in->keycol[stream] >= 0) {
    /* the key cell again (the line holds it quoted, maybe) */
    const struct sluice_value *kv =
        sluice_batch_value(bt, row, in->cols[stream][in->keycol[stream]]);
    uint32_t n;
    sluice_buf_reset(cell);
    cell_text(in, kv, cell);
    if (cell->len == 0 || strcmp(cell->data, "#N/A") == 0)
      return 0; /* no key: the service says MISSING_ARGUMENT */
    if ((n = keys_add(&f->keys, cell->data, cell->len)) == 0)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    if (n == 2) {
      f->dup_rows += 2;
      in->dups_total += 2;
    } else if (n > 2) {
      f->dup_rows++;
      in->dups_total++;
    }
  }
  return 0;
}

static void after_stage(struct b2_ingest *in)
{
  send_next(in); /* files that reached the size limit; then done */
}

static void on_start_timer(void *arg)
{
  struct b2_ingest *in = arg;

  in->c->host->timer_stop(in->timer);
  in->timer = NULL;
  if (in->committing) {
    file_close(in, 0);
    file_close(in, 1);
    io_start(in, after_stage);
    return;
  }
  if (!in->b->dry_run && (in->left = open_jobs_get(in)) != NULL &&
      json_array_size(in->left) > 0) {
    abort_left_next(in);
    return;
  }
  finish_call(in, 0, NULL); /* dest_open */
}

/* --- the callbacks --------------------------------------------------------
 */

static long find_col(struct sluice_schema *s, const char *name)
{
  size_t i, n = sluice_schema_nfields(s);

  for (i = 0; i < n; i++)
    if (strcasecmp(sluice_schema_field(s, i)->name, name) == 0)
      return (long)i;
  return -1;
}

static int plan_columns(struct b2_ingest *in, struct sluice_error *err)
{
  struct sf_ctx *c = in->c;
  size_t i, n = sluice_schema_nfields(in->schema);
  int s;

  for (s = 0; s < 2; s++) {
    int del = s == 1 || in->op == OP_DELETE || in->op == OP_HARDDELETE;
    in->cols[s] = calloc(n + 1, sizeof *in->cols[s]);
    if (in->cols[s] == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    in->keycol[s] = -1;
    for (i = 0; i < n; i++) {
      const char *name = sluice_schema_field(in->schema, i)->name;
      int is_id = (long)i == in->id_col;
      if (del ? !is_id
              : (is_id && in->op != OP_UPDATE &&
                 !(in->op == OP_UPSERT &&
                   strcasecmp(c->external_id, "Id") == 0)))
        continue;
      if (!sluice_soql_is_identifier(name) &&
          strchr(name, '.') == NULL) /* Parent__r.Ext_Id__c is allowed */
        return sluice_error_set(err, SLUICE_EINVAL, 0,
                                "column '%s' is not a Salesforce field name "
                                "(map it to one)",
                                name);
      if ((del || in->op == OP_UPDATE) && is_id)
        in->keycol[s] = (long)in->ncols[s];
      if (!del && in->op == OP_UPSERT && strcasecmp(name, c->external_id) == 0)
        in->keycol[s] = (long)in->ncols[s];
      in->cols[s][in->ncols[s]++] = i;
      if (in->header[s].len > 0)
        sluice_buf_append_char(&in->header[s], ',');
      sluice_csv_write_field(&in->header[s], name, strlen(name), NULL);
    }
    if (sluice_buf_append_char(&in->header[s], '\n') < 0)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    if ((int64_t)in->header[s].len >= in->b->max_upload_bytes / 2)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "max_upload_bytes (%lld) leaves no room for "
                              "rows after the %zu-byte header",
                              (long long)in->b->max_upload_bytes,
                              in->header[s].len);
  }
  return 0;
}

int b2_ingest_open(struct sluice_instance *ins, void *ctx,
                   struct sluice_schema *schema, sluice_done_cb done, void *arg,
                   struct sluice_error *err)
{
  struct b2_ctx *b = ctx;
  struct sf_ctx *c = &b->sf;
  struct b2_ingest *in;
  const char *dir = b->temp_path ? b->temp_path : getenv("TMPDIR");
  int i, rc;

  (void)ins;
  if (b->in != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "already open");
  if ((in = calloc(1, sizeof *in)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  in->b = b;
  in->c = c;
  for (i = 0; i < 5; i++)
    if (strcmp(c->operation, op_names[i]) == 0)
      in->op = (enum b2_op)i;
  in->schema = sluice_schema_ref(schema);
  in->id_col = find_col(schema, "Id");
  in->dir = strdup(dir && *dir ? dir : "/tmp");
  if (in->dir == NULL ||
      (c->reject_file && !(in->reject_path = sf_absolute(c, c->reject_file)))) {
    ingest_destroy(in);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  rc = 0;
  if (in->op == OP_UPSERT) {
    if (c->external_id == NULL || !sluice_soql_is_identifier(c->external_id) ||
        strchr(c->external_id, '.') != NULL)
      rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                            "operation upsert needs external_id: the "
                            "External ID field records are matched by");
    else if (find_col(schema, c->external_id) < 0)
      rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                            "upsert by %s: the rows have no %s column",
                            c->external_id, c->external_id);
  } else if (in->op != OP_INSERT && in->id_col < 0) {
    rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                          "operation %s: the rows have no Id column (map the "
                          "Salesforce record Id to \"Id\")",
                          c->operation);
  }
  if (rc == 0)
    rc = plan_columns(in, err);
  if (rc < 0) {
    ingest_destroy(in);
    return rc;
  }
  in->done = done;
  in->done_arg = arg;
  b->in = in;
  if ((in->timer = c->host->timer_start(c->ins, 0, 0, on_start_timer, in)) ==
      NULL) {
    b->in = NULL;
    ingest_destroy(in);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  SLUICE_LOG_D(c->host, c->ins, "%s: %s with Bulk API 2.0%s", c->object,
               c->operation, b->dry_run ? " (dry_run: nothing is sent)" : "");
  return 0;
}

int b2_ingest_write(struct sluice_instance *ins, void *ctx,
                    struct sluice_batch *batch, sluice_done_cb done, void *arg,
                    struct sluice_error *err)
{
  struct b2_ctx *b = ctx;
  struct b2_ingest *in = b->in;
  struct sluice_buf line = SLUICE_BUF_INIT, cell = SLUICE_BUF_INIT;
  size_t row, n = sluice_batch_nrows(batch);
  int rc = 0;

  (void)ins;
  if (in == NULL || in->done != NULL || in->working)
    return sluice_error_set(err, SLUICE_ESTATE, 0,
                            "write while not open or busy");
  for (row = 0; row < n && rc == 0; row++)
    rc = stage_row(in, batch, row, &line, &cell, err);
  sluice_buf_free(&line);
  sluice_buf_free(&cell);
  if (rc < 0)
    return rc;
  in->done = done;
  in->done_arg = arg;
  /* the pool appends the rows; files that are full are sent, then done */
  in->working = 1;
  in->after = after_stage;
  if ((rc = in->c->host->work_submit(in->c->ins, io_work, io_after, in)) < 0) {
    in->working = 0;
    in->done = NULL;
    return sluice_error_set(err, rc, 0, "cannot queue file work");
  }
  return 0;
}

int b2_ingest_commit(struct sluice_instance *ins, void *ctx,
                     sluice_done_cb done, void *arg, struct sluice_error *err)
{
  struct b2_ctx *b = ctx;
  struct b2_ingest *in = b->in;

  (void)ins;
  if (in == NULL || in->done != NULL || in->working || in->timer != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "commit while busy");
  in->done = done;
  in->done_arg = arg;
  in->committing = 1;
  if ((in->timer = in->c->host->timer_start(in->c->ins, 0, 0, on_start_timer,
                                            in)) == NULL) {
    in->done = NULL;
    in->committing = 0;
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  return 0;
}

void b2_ingest_free(struct b2_ctx *b)
{
  struct b2_ingest *in = b->in;

  if (in == NULL)
    return;
  b->in = NULL;
  if (in->timer != NULL)
    in->c->host->timer_stop(in->timer);
  in->timer = NULL;
  in->done = NULL;
  if (in->call != NULL)
    sf_api_cancel(in->call);
  b2_job_poll_cancel(in->poll);
  if (in->working) {
    in->dead = 1; /* io_after frees it */
    return;
  }
  ingest_destroy(in);
}
