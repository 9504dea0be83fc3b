/* core/run.c - the executor (run.h).
 *
 * Everything happens on the loop thread.  The run keeps a queue of mapped
 * batches, at most max_in_flight long: when it is full the source is
 * paused, and it is resumed once the queue has drained to half.  The
 * destination sees one call at a time (open, write, write, ..., commit), so
 * batches are written in the order the source emitted them.
 *
 * A run ends (finish) only when nothing is outstanding: the source has
 * called source_done, the destination has no call in flight, and neither
 * instance has a work item or timer left.  Only then are the plugins'
 * fini called, so no callback ever reaches a freed instance. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "instance.h"
#include "log.h"
#include "mapping.h"
#include "metrics.h"
#include "progress.h"
#include "notify.h"
#include "run.h"
#include "sluice/buf.h"
#include "state.h"

struct run {
  uv_loop_t *loop;
  struct http_engine *http;
  struct pipeline_file *pf;
  struct pipeline *p;
  char id[64];
  int64_t start_us;
  int lock_fd;
  run_done_cb on_done;
  void *on_done_arg;

  uv_timer_t finish_timer; /* defers the end out of plugin callbacks */

  struct sluice_instance src;
  struct sluice_instance dst;
  struct mapping *map;

  struct sluice_batch **queue; /* ring of mapped batches */
  size_t qcap, qhead, qlen;

  int src_running; /* source_start succeeded, source_done not yet */
  int src_paused;
  int src_stop_sent;
  int dst_opened;
  int dst_busy; /* a destination call is in flight */
  int dirty;    /* written since the last commit */
  size_t batches_uncommitted;
  int failed;
  int checking; /* a check ("Save & Test") or a reconcile, not a run */
  int checks_pending;
  int reconciling;  /* counts, not checks */
  int64_t count[2]; /* source, destination */
  int counted[2];
  int stopping;
  int finishing;

  /* A key sweep (run_sweep): the source's keys into the destination's
   * sweep_open/sweep_write/sweep_finish instead of a run. */
  int sweep;
  uint32_t sweep_action; /* enum sluice_sweep_action */
  size_t sweep_limit;
  int sweep_report;  /* print the outcome on stdout */
  char **key_fields; /* the source's fields the key columns come from */
  json_t *key_spec;  /* the mapping's entries for them, or NULL */
  int src_complete;  /* source_done(0) after every key, not a stop */
  int64_t flagged;   /* FLAG_MISSING: rows flagged */

  char *written_checkpoint; /* of the last batch written */
  char *saved_checkpoint;   /* the last one saved */

  uint64_t rows_read;
  /* Written, then committed: only committed rows count as written. */
  uint64_t rows_pending, deleted_pending, rows_delivered, rows_deleted;
  uint64_t batches, pauses; /* where time goes: many pauses = slow sink */
  uint64_t src_counts[5], dst_counts[5]; /* kept from the instances' end */
  uint64_t http_retries;                 /* both instances', likewise */
  struct sluice_error err;
  struct sluice_buf warnings; /* for the run record, one a line */
  unsigned nwarnings;
};

static void pump(struct run *r);
static void try_finish(struct run *r);

uv_loop_t *run_loop(struct run *r)
{
  return r->loop;
}
struct http_engine *run_http(struct run *r)
{
  return r->http;
}
const char *run_id_of(struct run *r)
{
  return r->id;
}
const char *run_base_dir(struct run *r)
{
  return r->pf->base_dir;
}
/* The run record keeps the first RUN_MAX_WARNINGS; a plugin that warns
 * per row must not grow it without bound. */
#define RUN_MAX_WARNINGS 20

void run_add_warning(struct run *r, const char *text)
{
  size_t at = r->warnings.len;

  if (r->nwarnings++ >= RUN_MAX_WARNINGS)
    return;
  if (at > 0)
    sluice_buf_append_char(&r->warnings, '\n');
  for (; *text != '\0'; text++) /* one line each */
    sluice_buf_append_char(&r->warnings, *text == '\n' ? ' ' : *text);
}

int run_is_stopping(struct run *r)
{
  return r->stopping || r->failed;
}

void run_batch_limits(struct run *r, size_t *rows, size_t *bytes)
{
  *rows = r->p->batch_rows ? r->p->batch_rows : SLUICE_BATCH_DEFAULT_ROWS;
  *bytes = r->p->batch_bytes ? r->p->batch_bytes : SLUICE_BATCH_DEFAULT_BYTES;
}

static int64_t now_us(void)
{
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void make_run_id(struct run *r)
{
  time_t t = (time_t)(r->start_us / 1000000);
  struct tm tm;
  unsigned rnd;
  FILE *f = fopen("/dev/urandom", "rb");

  if (f == NULL || fread(&rnd, sizeof rnd, 1, f) != 1)
    rnd = (unsigned)r->start_us ^ (unsigned)getpid();
  if (f != NULL)
    fclose(f);
  gmtime_r(&t, &tm);
  snprintf(r->id, sizeof r->id, "%04d%02d%02dT%02d%02d%02dZ-%04x",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
           tm.tm_sec, rnd & 0xffff);
}

/* The first failure is the one reported; later ones are consequences. */
static void fail(struct run *r, const struct sluice_error *err)
{
  if (!r->failed) {
    r->failed = 1;
    if (err != NULL && err->code != 0)
      r->err = *err;
    else
      sluice_error_set(&r->err, SLUICE_EIO, 0, "failed (no reason given)");
    log_msg(SLUICE_LOG_ERROR, r->p->name, "%s", r->err.message);
  }
  /* Drop what is queued: it will never be written.  The head stays while
   * the destination is writing it: on_written still needs it. */
  while (r->qlen > (r->dst_busy && r->dst_opened ? 1u : 0u)) {
    size_t last = (r->qhead + r->qlen - 1) % r->qcap;
    sluice_batch_unref(r->queue[last]);
    r->qlen--;
  }
  if (r->src_running && !r->src_stop_sent) {
    r->src_stop_sent = 1;
    r->src.desc->source_stop(&r->src, r->src.ctx);
  }
  try_finish(r);
}

/* --- checkpoint ---------------------------------------------------------- */

static char *checkpoint_path(struct run *r)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  sluice_buf_printf(&b, "%s/%s.checkpoint.json", r->pf->state_dir, r->p->name);
  return b.data;
}

static int load_checkpoint(struct run *r, char **out, struct sluice_error *err)
{
  char *path = checkpoint_path(r), *data;
  size_t len;
  json_error_t jerr;
  json_t *root, *cp;
  int rc;

  *out = NULL;
  rc = state_read_file(path, &data, &len, err);
  if (rc == SLUICE_ENOTFOUND) {
    free(path);
    memset(err, 0, sizeof *err);
    return 0;
  }
  if (rc < 0) {
    free(path);
    return rc;
  }
  root = json_loadb(data, len, 0, &jerr);
  free(data);
  cp = json_object_get(root, "checkpoint");
  if (root == NULL ||
      (cp != NULL && !json_is_string(cp) && !json_is_null(cp))) {
    rc = sluice_error_set(err, SLUICE_EDATA, 0,
                          "%s: not a checkpoint file (%s); move it away to "
                          "start from the beginning",
                          path, root ? "no \"checkpoint\" string" : jerr.text);
  } else if (json_is_string(cp)) {
    *out = strdup(json_string_value(cp));
  }
  json_decref(root);
  free(path);
  return rc;
}

static int save_checkpoint(struct run *r, struct sluice_error *err)
{
  char *path, *text;
  json_t *root;
  int rc;

  if (r->written_checkpoint == NULL ||
      (r->saved_checkpoint != NULL &&
       strcmp(r->saved_checkpoint, r->written_checkpoint) == 0))
    return 0;
  root = json_pack("{s:i, s:s, s:s, s:s}", "version", 1, "pipeline", r->p->name,
                   "run_id", r->id, "checkpoint", r->written_checkpoint);
  text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(root);
  path = checkpoint_path(r);
  if (text == NULL || path == NULL) {
    free(text);
    free(path);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  rc = state_write_atomic(path, text, strlen(text), err);
  free(text);
  free(path);
  if (rc == 0) {
    free(r->saved_checkpoint);
    r->saved_checkpoint = strdup(r->written_checkpoint);
  }
  return rc;
}

/* --- the destination chain ------------------------------------------------ */

static void on_committed(void *arg, int status, const struct sluice_error *err)
{
  struct run *r = arg;
  struct sluice_error serr = {0};

  r->dst_busy = 0;
  if (status < 0) {
    fail(r, err);
    return;
  }
  r->dirty = 0;
  r->batches_uncommitted = 0;
  r->rows_delivered += r->rows_pending;
  r->rows_deleted += r->deleted_pending;
  r->rows_pending = r->deleted_pending = 0;
  if (save_checkpoint(r, &serr) < 0) {
    fail(r, &serr);
    return;
  }
  pump(r);
}

static void on_swept(void *arg, int status,
                     const struct sluice_sweep_result *res,
                     const struct sluice_error *err);

static void commit(struct run *r)
{
  struct sluice_error err = {0};
  int rc;

  r->dst_busy = 1;
  if (r->sweep)
    rc = r->dst.desc->sweep_finish(&r->dst, r->dst.ctx, r->sweep_limit,
                                   on_swept, r, &err);
  else
    rc = r->dst.desc->dest_commit(&r->dst, r->dst.ctx, on_committed, r, &err);
  if (rc < 0) {
    r->dst_busy = 0;
    fail(r, &err);
  }
}

static void on_written(void *arg, int status, const struct sluice_error *err)
{
  struct run *r = arg;
  struct sluice_batch *b = r->queue[r->qhead];
  const char *cp = sluice_batch_checkpoint(b);
  size_t n = sluice_batch_nrows(b);

  r->dst_busy = 0;
  r->qhead = (r->qhead + 1) % r->qcap;
  r->qlen--;
  metrics_in_flight(r->p->name, r->qlen);
  if (status < 0) {
    sluice_batch_unref(b);
    fail(r, err);
    return;
  }
  r->rows_pending += n;
  if (!r->sweep)
    progress_update(r->p->name, r->rows_read,
                    r->rows_delivered + r->rows_pending,
                    r->src.counters[SLUICE_COUNT_EXPECTED]);
  for (size_t i = 0; i < n; i++)
    if (sluice_batch_op(b, i) == SLUICE_OP_DELETE)
      r->deleted_pending++;
  if (cp != NULL) {
    free(r->written_checkpoint);
    r->written_checkpoint = strdup(cp);
  }
  sluice_batch_unref(b);
  r->dirty = 1;
  r->batches_uncommitted++;
  if (r->src_paused && r->qlen <= r->p->max_in_flight / 2) {
    r->src_paused = 0;
    if (r->src_running)
      r->src.desc->source_resume(&r->src, r->src.ctx);
  }
  pump(r);
}

static void on_opened(void *arg, int status, const struct sluice_error *err)
{
  struct run *r = arg;

  r->dst_busy = 0;
  if (status < 0) {
    fail(r, err);
    return;
  }
  r->dst_opened = 1;
  /* A sweep ends with sweep_finish even when every batch was empty. */
  if (r->sweep)
    r->dirty = 1;
  pump(r);
}

/* A batch without rows only moves the source's position (a stream read
 * events of other objects, a load ended): nothing to write.  Its
 * checkpoint is saved at once when everything before it is committed,
 * else with the commit that makes those rows durable. */
static void skip_empty(struct run *r)
{
  struct sluice_batch *b = r->queue[r->qhead];
  const char *cp = sluice_batch_checkpoint(b);
  struct sluice_error err = {0};

  r->qhead = (r->qhead + 1) % r->qcap;
  r->qlen--;
  metrics_in_flight(r->p->name, r->qlen);
  if (cp != NULL) {
    free(r->written_checkpoint);
    r->written_checkpoint = strdup(cp);
  }
  sluice_batch_unref(b);
  if (r->src_paused && r->qlen <= r->p->max_in_flight / 2) {
    r->src_paused = 0;
    if (r->src_running)
      r->src.desc->source_resume(&r->src, r->src.ctx);
  }
  if (!r->dirty && save_checkpoint(r, &err) < 0) {
    fail(r, &err);
    return;
  }
  pump(r);
}

static void pump(struct run *r)
{
  struct sluice_error err = {0};
  int rc;

  if (r->dst_busy || r->finishing)
    return;
  if (r->failed) {
    try_finish(r);
    return;
  }
  /* A long run commits as it goes (batch.commit_every), so that a kill
   * loses at most that much work. */
  if (r->dirty && !r->sweep && r->p->commit_every > 0 &&
      r->batches_uncommitted >= r->p->commit_every &&
      !(r->dst.desc->flags & SLUICE_PLUGIN_COMMIT_ONCE)) {
    commit(r);
    return;
  }
  if (r->qlen > 0 && sluice_batch_nrows(r->queue[r->qhead]) == 0) {
    skip_empty(r);
    return;
  }
  if (r->qlen > 0) {
    struct sluice_batch *b = r->queue[r->qhead];
    if (r->sweep && r->dst_opened && sluice_batch_nrows(b) == 0) {
      /* No keys in it (the one a keyless source ends with): skip it. */
      r->qhead = (r->qhead + 1) % r->qcap;
      r->qlen--;
      sluice_batch_unref(b);
      pump(r);
      return;
    }
    r->dst_busy = 1;
    if (!r->dst_opened && r->sweep)
      rc = r->dst.desc->sweep_open(&r->dst, r->dst.ctx, r->sweep_action,
                                   sluice_batch_schema(b), on_opened, r, &err);
    else if (!r->dst_opened)
      rc = r->dst.desc->dest_open(&r->dst, r->dst.ctx, sluice_batch_schema(b),
                                  on_opened, r, &err);
    else if (r->sweep)
      rc =
          r->dst.desc->sweep_write(&r->dst, r->dst.ctx, b, on_written, r, &err);
    else
      rc = r->dst.desc->dest_write(&r->dst, r->dst.ctx, b, on_written, r, &err);
    if (rc < 0) {
      r->dst_busy = 0;
      fail(r, &err);
    }
    return;
  }
  if (r->dirty && (!r->src_running ||
                   ((r->src.desc->flags & SLUICE_PLUGIN_STREAMING) &&
                    !(r->dst.desc->flags & SLUICE_PLUGIN_COMMIT_ONCE)))) {
    /* A sweep stopped part way has only some keys: comparing them would
     * flag rows that still exist.  It ends without sweep_finish. */
    if (!r->src_running && r->sweep && !r->src_complete) {
      r->dirty = 0;
      try_finish(r);
      return;
    }
    commit(r);
    return;
  }
  try_finish(r);
}

/* --- a key sweep's end ---------------------------------------------------- */

/* "  KEY" lines, at most n of total, then "  ... and N more". */
static void print_keys(struct sluice_buf *b, const char *const *keys, size_t n,
                       int64_t total)
{
  for (size_t i = 0; i < n; i++)
    sluice_buf_printf(b, "  %s\n", keys[i]);
  if (total > (int64_t)n)
    sluice_buf_printf(b, "  ... and %lld more\n",
                      (long long)total - (long long)n);
}

static void sweep_report(struct run *r, const struct sluice_sweep_result *res)
{
  struct sluice_buf b = SLUICE_BUF_INIT;

  if (r->sweep_action == SLUICE_SWEEP_LIST) {
    sluice_buf_printf(&b,
                      "%-24s %lld key%s only in the source (missing from the "
                      "destination)\n",
                      r->p->name, (long long)res->source_only,
                      res->source_only == 1 ? "" : "s");
    print_keys(&b, res->source_only_keys, res->nsource_only_keys,
               res->source_only);
    sluice_buf_printf(&b,
                      "%-24s %lld key%s only in the destination (live rows "
                      "deleted or filtered out at the source)\n",
                      r->p->name, (long long)res->dest_only,
                      res->dest_only == 1 ? "" : "s");
    print_keys(&b, res->dest_only_keys, res->ndest_only_keys, res->dest_only);
  } else {
    sluice_buf_printf(&b,
                      "%-24s %llu keys read from the source: %lld live row%s "
                      "flagged deleted\n",
                      r->p->name, (unsigned long long)r->rows_read,
                      (long long)res->flagged, res->flagged == 1 ? "" : "s");
  }
  if (b.data != NULL) {
    log_mask_secrets(b.data, b.len + 1);
    fputs(b.data, stdout);
    fflush(stdout);
  }
  sluice_buf_free(&b);
}

static void on_swept(void *arg, int status,
                     const struct sluice_sweep_result *res,
                     const struct sluice_error *err)
{
  struct run *r = arg;

  r->dst_busy = 0;
  if (status < 0 || res == NULL) {
    fail(r, err);
    return;
  }
  r->dirty = 0;
  r->flagged = res->flagged;
  if (r->sweep_report)
    sweep_report(r, res);
  /* A list that finds keys on either side only is a mismatch. */
  if (r->sweep_action == SLUICE_SWEEP_LIST &&
      (res->source_only > 0 || res->dest_only > 0))
    r->failed = 1;
  pump(r);
}

/* --- the source side ------------------------------------------------------ */

static int queue_push(struct run *r, struct sluice_batch *b)
{
  if (r->qlen == r->qcap) {
    size_t cap = r->qcap ? r->qcap * 2 : 8;
    struct sluice_batch **q = malloc(cap * sizeof *q);
    if (q == NULL)
      return SLUICE_ENOMEM;
    for (size_t i = 0; i < r->qlen; i++)
      q[i] = r->queue[(r->qhead + i) % r->qcap];
    free(r->queue);
    r->queue = q;
    r->qcap = cap;
    r->qhead = 0;
  }
  r->queue[(r->qhead + r->qlen) % r->qcap] = b;
  r->qlen++;
  metrics_in_flight(r->p->name, r->qlen);
  return 0;
}

int run_emit(struct run *r, struct sluice_batch *b, struct sluice_error *err)
{
  struct sluice_batch *mapped;
  int rc;

  if (r->failed || !r->src_running) {
    sluice_batch_unref(b);
    return sluice_error_set(err, SLUICE_ECANCELED, 0, "the run is over");
  }
  if (r->map == NULL) {
    rc = mapping_compile(r->sweep ? r->key_spec : r->p->mapping,
                         r->p->mapping_path, sluice_batch_schema(b), &r->map,
                         err);
    if (rc < 0)
      goto failed;
  } else if (!mapping_accepts(r->map, sluice_batch_schema(b))) {
    rc = sluice_error_set(err, SLUICE_EDATA, 0,
                          "the source changed its fields in the middle of a "
                          "run (a file with another header?)");
    goto failed;
  }
  r->rows_read += sluice_batch_nrows(b);
  if (!r->sweep)
    progress_update(r->p->name, r->rows_read,
                    r->rows_delivered + r->rows_pending,
                    r->src.counters[SLUICE_COUNT_EXPECTED]);
  rc = mapping_apply(r->map, b, &mapped, err);
  if (rc < 0)
    goto failed;
  sluice_batch_unref(b);
  if ((rc = queue_push(r, mapped)) < 0) {
    sluice_batch_unref(mapped);
    sluice_error_set(err, rc, 0, "out of memory");
    fail(r, err);
    return rc;
  }
  r->batches++;
  if (r->qlen >= r->p->max_in_flight && !r->src_paused) {
    r->src_paused = 1;
    r->pauses++;
    r->src.desc->source_pause(&r->src, r->src.ctx);
  }
  pump(r);
  return 0;
failed:
  sluice_batch_unref(b);
  fail(r, err);
  return rc;
}

/* A sweep whose source gave no key at all: a LIST still compares (every
 * live row is then the destination's only), through an empty batch of the
 * key fields as text; FLAG_MISSING refuses, as a filter that matches
 * nothing would otherwise flag every row. */
static int sweep_no_keys(struct run *r, struct sluice_error *err)
{
  struct sluice_schema *sc;
  struct sluice_batch *b;
  size_t n = 0;

  if (r->sweep_action == SLUICE_SWEEP_FLAG_MISSING)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "the source gave no keys at all: nothing is "
                            "flagged (a filter that matches nothing would "
                            "flag every row; flag them by hand if they are "
                            "all gone)");
  while (r->key_fields[n] != NULL)
    n++;
  if ((sc = sluice_schema_new(n)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  for (size_t i = 0; i < n; i++)
    if (sluice_schema_set(sc, i, r->key_fields[i], SLUICE_TYPE_STRING) < 0) {
      sluice_schema_unref(sc);
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    }
  b = sluice_batch_new(sc, 1, 4096);
  sluice_schema_unref(sc);
  if (b == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  return run_emit(r, b, err);
}

void run_source_done(struct run *r, int status, const struct sluice_error *err)
{
  struct sluice_error e = {0};

  if (!r->src_running)
    return;
  if (r->sweep && status == 0 && !r->stopping && !r->src_stop_sent &&
      !r->failed) {
    if (r->map == NULL && sweep_no_keys(r, &e) < 0) {
      r->src_running = 0;
      fail(r, &e);
      return;
    }
    r->src_complete = 1;
  }
  r->src_running = 0;
  if (status < 0) {
    fail(r, err);
    return;
  }
  pump(r);
}

/* --- the end ----------------------------------------------------------------
 */

static enum run_status final_status(struct run *r)
{
  if (r->failed)
    return RUN_FAILED;
  if (r->stopping)
    return RUN_INTERRUPTED;
  if (r->dst_counts[SLUICE_COUNT_REJECTED] +
          r->src_counts[SLUICE_COUNT_REJECTED] >
      0)
    return RUN_REJECTED;
  return RUN_SUCCEEDED;
}

static void write_run_record(struct run *r, enum run_status status)
{
  struct run_record rec;
  struct sluice_error err = {0};
  uint64_t rejected_dst = r->dst_counts[SLUICE_COUNT_REJECTED];

  memset(&rec, 0, sizeof rec);
  snprintf(rec.run_id, sizeof rec.run_id, "%s", r->id);
  snprintf(rec.pipeline, sizeof rec.pipeline, "%s", r->p->name);
  rec.start_us = r->start_us;
  rec.end_us = now_us();
  rec.status = status;
  /* Rows the source refused were read too: read = written + rejected. */
  rec.rows_read = r->rows_read + r->src_counts[SLUICE_COUNT_REJECTED];
  rec.rows_written =
      r->rows_delivered > rejected_dst ? r->rows_delivered - rejected_dst : 0;
  rec.rows_rejected = rejected_dst + r->src_counts[SLUICE_COUNT_REJECTED];
  rec.rows_deleted = r->rows_deleted;
  rec.bytes_in = r->src_counts[SLUICE_COUNT_BYTES_IN];
  rec.bytes_out = r->dst_counts[SLUICE_COUNT_BYTES_OUT];
  rec.api_calls = r->src_counts[SLUICE_COUNT_API_CALLS] +
                  r->dst_counts[SLUICE_COUNT_API_CALLS];
  rec.http_retries = r->http_retries;
  /* Borrowed: the record is written and dropped here, never freed. */
  rec.error = r->failed ? r->err.message : NULL;
  rec.checkpoint = r->saved_checkpoint;
  rec.source = (char *)r->p->source.plugin_name;
  rec.destination = (char *)r->p->destination.plugin_name;
  if (r->nwarnings > RUN_MAX_WARNINGS)
    sluice_buf_printf(&r->warnings, "\n(%u more warnings in the log)",
                      r->nwarnings - RUN_MAX_WARNINGS);
  rec.warnings = r->warnings.len ? (char *)sluice_buf_cstr(&r->warnings) : NULL;
  if (r->sweep) {
    rec.sweep = 1;
    rec.rows_written = 0;
    rec.rows_flagged = rec.rows_deleted = (uint64_t)r->flagged;
  }
  /* The run log is output too: no secret reaches it. */
  char error[SLUICE_ERROR_MSG_MAX];
  char *checkpoint = r->saved_checkpoint ? strdup(r->saved_checkpoint) : NULL;
  if (rec.error != NULL) {
    snprintf(error, sizeof error, "%s", rec.error);
    log_mask_secrets(error, sizeof error);
    rec.error = error;
  }
  if (checkpoint != NULL) {
    log_mask_secrets(checkpoint, strlen(checkpoint) + 1);
    rec.checkpoint = checkpoint;
  }
  if (runlog_append(r->pf->state_dir, &rec, &err) < 0)
    log_msg(SLUICE_LOG_ERROR, r->p->name, "run record not written: %s",
            err.message);
  if (!r->checking && !r->sweep) {
    metrics_run_done(&rec);
    progress_end(r->p->name);
  }
  notify_send(r->http, r->p->notify.url ? &r->p->notify : &r->pf->notify, &rec);
  log_msg(SLUICE_LOG_DEBUG, r->p->name,
          "%" PRIu64 " batches; the source was paused %" PRIu64
          " times (the destination was the slower side)",
          r->batches, r->pauses);
  if (r->sweep)
    log_msg(status == RUN_FAILED ? SLUICE_LOG_ERROR : SLUICE_LOG_INFO,
            r->p->name,
            "delete sweep %s %s: %" PRIu64 " keys read, %" PRIu64
            " rows flagged deleted in %.3fs",
            r->id, run_status_name(status), rec.rows_read, rec.rows_flagged,
            (double)(rec.end_us - rec.start_us) / 1e6);
  else
    log_msg(status == RUN_FAILED ? SLUICE_LOG_ERROR : SLUICE_LOG_INFO,
            r->p->name,
            "run %s %s: %" PRIu64 " read, %" PRIu64 " written, %" PRIu64
            " rejected, %" PRIu64 " deleted in %.3fs",
            r->id, run_status_name(status), rec.rows_read, rec.rows_written,
            rec.rows_rejected, rec.rows_deleted,
            (double)(rec.end_us - rec.start_us) / 1e6);
  free(checkpoint);
}

static void run_free(struct run *r)
{
  sluice_buf_free(&r->warnings);
  while (r->qlen > 0) {
    sluice_batch_unref(r->queue[r->qhead]);
    r->qhead = (r->qhead + 1) % r->qcap;
    r->qlen--;
  }
  free(r->queue);
  mapping_free(r->map);
  free(r->written_checkpoint);
  free(r->saved_checkpoint);
  mapping_key_fields_free(r->key_fields);
  json_decref(r->key_spec);
  if (r->lock_fd >= 0)
    state_unlock(r->lock_fd);
  free(r);
}

/* Ends both plugin instances, keeping their counters for the record. */
static void destroy_instances(struct run *r)
{
  memcpy(r->src_counts, r->src.counters, sizeof r->src_counts);
  memcpy(r->dst_counts, r->dst.counters, sizeof r->dst_counts);
  r->http_retries = r->src.http_retries + r->dst.http_retries;
  instance_destroy(&r->src);
  instance_destroy(&r->dst);
}

static int can_finish(struct run *r)
{
  if (r->finishing || r->src_running || r->dst_busy || r->src.pending ||
      r->dst.pending || r->checks_pending > 0)
    return 0;
  /* A clean end needs the last batches committed first (pump does it). */
  return r->failed || (r->qlen == 0 && !r->dirty);
}

static void on_finish_timer_closed(uv_handle_t *h)
{
  run_free(h->data);
}

/* Runs from the loop, never from inside a plugin's call: destroying an
 * instance while its own callback is still on the stack is how
 * use-after-free bugs are born. */
static void on_finish_timer(uv_timer_t *t)
{
  struct run *r = t->data;
  enum run_status status;

  if (!can_finish(r))
    return;
  r->finishing = 1;
  destroy_instances(r);
  status = final_status(r);
  if (!r->checking)
    write_run_record(r, status);
  /* Unlocked before on_done: the scheduler may start the next run of this
   * pipeline from there, and it must find the lock free. */
  if (r->lock_fd >= 0) {
    state_unlock(r->lock_fd);
    r->lock_fd = -1;
  }
  r->on_done(r->on_done_arg, status);
  uv_close((uv_handle_t *)&r->finish_timer, on_finish_timer_closed);
}

static void try_finish(struct run *r)
{
  if (can_finish(r))
    uv_timer_start(&r->finish_timer, on_finish_timer, 0, 0);
}

void run_instance_idle(struct run *r)
{
  if (r->failed || !r->src_running)
    try_finish(r);
}

void run_stop(struct run *r)
{
  if (r->stopping || r->finishing)
    return;
  r->stopping = 1;
  if (r->src_running && !r->src_stop_sent) {
    r->src_stop_sent = 1;
    r->src.desc->source_stop(&r->src, r->src.ctx);
  }
}

/* --- start ------------------------------------------------------------------
 */

static int start_failed(struct run *r, struct sluice_error *err)
{
  /* Nothing asynchronous has started: end the run here and now. */
  r->failed = 1;
  r->err = *err;
  r->finishing = 1;
  destroy_instances(r);
  if (!r->checking)
    write_run_record(r, RUN_FAILED);
  int rc = err->code ? err->code : SLUICE_EIO;
  uv_close((uv_handle_t *)&r->finish_timer, on_finish_timer_closed);
  return rc;
}

/* A run with its handles, before anything is locked or loaded. */
static struct run *run_new(uv_loop_t *loop, struct http_engine *http,
                           struct pipeline_file *pf, struct pipeline *p,
                           run_done_cb on_done, void *arg)
{
  struct run *r = calloc(1, sizeof *r);

  if (r == NULL)
    return NULL;
  r->loop = loop;
  r->http = http;
  r->pf = pf;
  r->p = p;
  r->on_done = on_done;
  r->on_done_arg = arg;
  r->lock_fd = -1;
  r->start_us = now_us();
  make_run_id(r);
  uv_timer_init(loop, &r->finish_timer);
  r->finish_timer.data = r;
  return r;
}

/* Binds the config of both plugins and calls their init. */
static int init_instances(struct run *r, struct sluice_error *err)
{
  const struct pipeline *p = r->p;
  const struct pipeline_file *pf = r->pf;
  int rc;

  rc = instance_init(&r->src, r, p->source.plugin, SLUICE_KIND_SOURCE, p->name,
                     p->source.config, p->source.path, p->source.connection,
                     p->source.connection_path, pf->base_dir, pf->state_dir,
                     err);
  if (rc == 0)
    rc = instance_init(
        &r->dst, r, p->destination.plugin, SLUICE_KIND_DESTINATION, p->name,
        p->destination.config, p->destination.path, p->destination.connection,
        p->destination.connection_path, pf->base_dir, pf->state_dir, err);
  return rc;
}

int run_start(uv_loop_t *loop, struct http_engine *http,
              struct pipeline_file *pf, struct pipeline *p, run_done_cb on_done,
              void *arg, struct run **out, struct sluice_error *err)
{
  struct run *r;
  char *checkpoint = NULL;
  int rc;

  if ((rc = state_dir_ensure(pf->state_dir, err)) < 0)
    return rc;
  if ((r = run_new(loop, http, pf, p, on_done, arg)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  if ((rc = state_lock(pf->state_dir, p->name, &r->lock_fd, err)) < 0) {
    uv_close((uv_handle_t *)&r->finish_timer, on_finish_timer_closed);
    return rc;
  }
  log_msg(SLUICE_LOG_INFO, p->name, "run %s started", r->id);
  metrics_run_started(p->name);
  progress_start(p->name, uv_now(loop));
  if ((rc = load_checkpoint(r, &checkpoint, err)) < 0)
    return start_failed(r, err);
  r->saved_checkpoint = checkpoint;
  if ((rc = init_instances(r, err)) < 0)
    return start_failed(r, err);
  *out = r;
  r->src_running = 1;
  rc = r->src.desc->source_start(&r->src, r->src.ctx, checkpoint, err);
  if (rc < 0) {
    r->src_running = 0;
    if (r->src.pending == 0) {
      *out = NULL;
      return start_failed(r, err);
    }
    fail(r, err); /* it queued work before failing: let that drain */
  }
  return 0;
}

/* --- check: "Save & Test" ---------------------------------------------- */

static void print_check(struct sluice_instance *ins, const char *what)
{
  char line[SLUICE_ERROR_MSG_MAX + 256];

  snprintf(line, sizeof line, "%-24s %-16s %s", ins->name, ins->desc->name,
           what);
  log_mask_secrets(line, sizeof line);
  printf("%s\n", line);
  fflush(stdout);
}

static void on_checked(void *arg, int status, const struct sluice_error *err)
{
  struct sluice_instance *ins = arg;
  struct run *r = ins->run;
  char what[SLUICE_ERROR_MSG_MAX + 16];

  if (status < 0) {
    snprintf(what, sizeof what, "FAILED: %s",
             err && err->message[0] ? err->message : sluice_strerror(status));
    r->failed = 1;
  } else {
    snprintf(what, sizeof what, "OK");
  }
  print_check(ins, what);
  r->checks_pending--;
  try_finish(r);
}

static void check_instance(struct run *r, struct sluice_instance *ins)
{
  struct sluice_error err = {0};

  if (ins->desc->check == NULL) {
    print_check(ins, "OK (its configuration; no connection to test)");
    return;
  }
  r->checks_pending++;
  if (ins->desc->check(ins, ins->ctx, on_checked, ins, &err) < 0)
    on_checked(ins, err.code ? err.code : SLUICE_EIO, &err);
}

/* --- reconcile: both sides counted ------------------------------------- */

static void reconcile_report(struct run *r)
{
  char what[256];
  int64_t diff;

  if (!r->counted[0] || !r->counted[1])
    return; /* a side failed: it said why */
  diff = r->count[0] - r->count[1];
  if (diff == 0)
    snprintf(what, sizeof what,
             "source %" PRId64 ", destination %" PRId64 ": they match",
             r->count[0], r->count[1]);
  else
    snprintf(what, sizeof what,
             "source %" PRId64 ", destination %" PRId64 ": %" PRId64
             " %s the destination",
             r->count[0], r->count[1], diff > 0 ? diff : -diff,
             diff > 0 ? "missing from" : "more in");
  printf("%-24s %s\n", r->p->name, what);
  fflush(stdout);
  if (diff != 0)
    r->failed = 1;
}

static void on_counted(void *arg, int status, int64_t count,
                       const struct sluice_error *err)
{
  struct sluice_instance *ins = arg;
  struct run *r = ins->run;
  int side = ins == &r->src ? 0 : 1;
  char what[SLUICE_ERROR_MSG_MAX + 32];

  if (status < 0) {
    snprintf(what, sizeof what, "cannot count: %s",
             err && err->message[0] ? err->message : sluice_strerror(status));
    print_check(ins, what);
    r->failed = 1;
  } else {
    r->count[side] = count;
    r->counted[side] = 1;
  }
  if (--r->checks_pending == 0)
    reconcile_report(r);
  try_finish(r);
}

static void count_instance(struct run *r, struct sluice_instance *ins)
{
  struct sluice_error err = {0};

  if (ins->desc->count == NULL) {
    /* An older plugin (ABI 1.0) or one that cannot count. */
    print_check(ins, "cannot count: the plugin has no count");
    r->failed = 1;
    return;
  }
  r->checks_pending++;
  if (ins->desc->count(ins, ins->ctx, on_counted, ins, &err) < 0)
    on_counted(ins, err.code ? err.code : SLUICE_EIO, 0, &err);
}

/* A check or a reconcile: both instances set up, both asked at once
 * (ask), the run over when both have answered. */
static int run_probe(uv_loop_t *loop, struct http_engine *http,
                     struct pipeline_file *pf, struct pipeline *p,
                     int reconciling, run_done_cb on_done, void *arg,
                     struct sluice_error *err)
{
  struct run *r = run_new(loop, http, pf, p, on_done, arg);
  void (*ask)(struct run *, struct sluice_instance *) =
      reconciling ? count_instance : check_instance;
  int rc;

  if (r == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  r->checking = 1;
  r->reconciling = reconciling;
  rc = init_instances(r, err);
  if (rc < 0) {
    destroy_instances(r);
    uv_close((uv_handle_t *)&r->finish_timer, on_finish_timer_closed);
    return rc;
  }
  r->checks_pending++;
  ask(r, &r->src);
  ask(r, &r->dst);
  if (--r->checks_pending == 0 && reconciling)
    reconcile_report(r);
  try_finish(r);
  return 0;
}

int run_reconcile(uv_loop_t *loop, struct http_engine *http,
                  struct pipeline_file *pf, struct pipeline *p,
                  run_done_cb on_done, void *arg, struct sluice_error *err)
{
  return run_probe(loop, http, pf, p, 1, on_done, arg, err);
}

int run_check(uv_loop_t *loop, struct http_engine *http,
              struct pipeline_file *pf, struct pipeline *p, run_done_cb on_done,
              void *arg, struct sluice_error *err)
{
  return run_probe(loop, http, pf, p, 0, on_done, arg, err);
}

/* --- a key sweep ------------------------------------------------------- */

int run_sweep(uv_loop_t *loop, struct http_engine *http,
              struct pipeline_file *pf, struct pipeline *p, uint32_t action,
              size_t limit, int report, run_done_cb on_done, void *arg,
              struct run **out, struct sluice_error *err)
{
  struct sluice_strlist keys = {0, NULL}, fields;
  char msg[SLUICE_ERROR_MSG_MAX];
  struct run *r;
  size_t n = 0;
  int rc;

  if (pipeline_sweep_problem(p, action == SLUICE_SWEEP_FLAG_MISSING, msg,
                             sizeof msg) < 0)
    return sluice_error_set(err, SLUICE_ENOTSUP, 0, "%s", msg);
  if ((rc = state_dir_ensure(pf->state_dir, err)) < 0)
    return rc;
  if ((r = run_new(loop, http, pf, p, on_done, arg)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  r->sweep = 1;
  r->sweep_action = action;
  r->sweep_limit = limit;
  r->sweep_report = report;
  /* Only a delete sweep is recorded; a list is a question, as a check. */
  r->checking = action == SLUICE_SWEEP_LIST;
  /* Never beside a run of the same pipeline: a row its run adds after the
   * keys were read would look deleted. */
  if ((rc = state_lock(pf->state_dir, p->name, &r->lock_fd, err)) < 0) {
    uv_close((uv_handle_t *)&r->finish_timer, on_finish_timer_closed);
    return rc;
  }
  log_msg(SLUICE_LOG_INFO, p->name, "%s %s started",
          action == SLUICE_SWEEP_LIST ? "key list" : "delete sweep", r->id);
  if ((rc = init_instances(r, err)) < 0)
    return start_failed(r, err);
  rc = r->dst.desc->sweep_keys(&r->dst, r->dst.ctx, &keys, err);
  if (rc == 0 && keys.n == 0)
    rc = sluice_error_set(err, SLUICE_ENOTSUP, 0,
                          "plugin %s names no key columns to compare",
                          r->dst.desc->name);
  if (rc == 0)
    rc = mapping_key_fields(p->mapping, &keys, &r->key_fields, &r->key_spec,
                            err);
  if (rc < 0)
    return start_failed(r, err);
  while (r->key_fields[n] != NULL)
    n++;
  fields.n = n;
  fields.v = (const char *const *)r->key_fields;
  *out = r;
  r->src_running = 1;
  rc = r->src.desc->source_keys(&r->src, r->src.ctx, &fields, err);
  if (rc < 0) {
    r->src_running = 0;
    if (r->src.pending == 0) {
      *out = NULL;
      return start_failed(r, err);
    }
    fail(r, err);
  }
  return 0;
}
