/* plugins/snowflake-stage/sfs_loader.c - the staging table filled from
 * files in the external stage (contract 4.3):
 *
 * write:  each batch becomes CSV rows deflated into the current file, on
 *         the thread pool (host->work_submit); a file that reaches
 *         file_size bytes of CSV is closed and its upload starts at once,
 *         while the next batches go into the next file.  At most
 *         max_uploads PUTs run at a time; a batch's done waits while a
 *         closed file cannot start uploading (so the files on disk, and
 *         the memory, stay bounded).
 * flush:  the last file is closed and uploaded; then COPY INTO the staging
 *         table with the exact FILES of this commit (sfs_copy.c): one bad
 *         row fails it, naming the file, line and column, and the MERGE
 *         never runs.
 * committed: the staged objects are deleted (cleanup = true).
 *
 * Files are named <prefix><pipeline>/<run id>/part-NNNNNN.csv.gz: a run
 * never shares a file name with another, and the staging table is
 * re-created by every run's open, so a rerun after kill -9 (during the
 * uploads or the COPY) neither loads an earlier run's file nor finds its
 * rows in the staging table.  A killed run's objects are deleted by the
 * next run (state key "stale_prefix"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sfs.h"

struct staged_file {
  char *name;  /* "part-000001.csv.gz" */
  char *local; /* the spool file, until it is uploaded */
  uint64_t raw_bytes;
  uint64_t gz_bytes;
  int state; /* FILE_* */
  struct sfs_s3_req *call;
  struct sfs_load *ld;
};

enum { FILE_CLOSED, FILE_UPLOADING, FILE_UPLOADED, FILE_DELETING };

/* One worker job: rows of a batch into files, or closing the last file. */
struct job {
  struct sfs_load *ld;
  struct sluice_batch *batch; /* NULL: close the current file */
  int64_t first_seq;
  char **closed; /* local paths of files this job closed */
  uint64_t *closed_raw, *closed_gz;
  size_t nclosed, capclosed;
  int rc;
  int64_t cpu_ns; /* the worker's CPU time for this job */
  char errmsg[SLUICE_ERROR_MSG_MAX];
};

struct sfs_load {
  struct sfs_ctx *s;
  char *rel;             /* "<pipeline>/<run id>/": under the stage */
  char *key_dir;         /* key_prefix + rel: under the bucket */
  struct sfk_staging st; /* copied at the first write (same for the run) */
  int have_st;

  /* worker-owned while a job runs */
  struct sfs_csvgz *cur;
  char *cur_path;
  unsigned next_part; /* the next file's number */

  struct staged_file **files; /* this commit's files (stable addresses:
                                requests point at them) */
  size_t nfiles, capfiles;
  size_t in_flight;    /* PUTs running */
  size_t waiting;      /* closed, not yet uploading */
  int64_t expect_rows; /* rows written since the last commit */
  int job_running;
  int failed;
  struct sluice_error ferr;
  int marked; /* state "stale_prefix" names this run's files */

  struct sfs_sweep *sweep; /* deleting a killed run's files */
  int swept;

  sluice_done_cb wdone, fdone, cdone; /* write, flush, committed */
  void *warg, *farg, *carg;
  struct sfs_copy *copy;
  const char **names; /* the files' names, for the COPY */
  size_t deleting;
  struct sluice_timer *timer;
  uint64_t raw_total, gz_total;
  int64_t cpu_ns;   /* CSV and gzip work, all jobs of this commit */
  int64_t began_ms; /* the first write of this commit (loop clock) */
};

static int64_t clock_ns(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pump(struct sfs_load *ld);

/* The spool file of part n: <dir>/sluice-stage-<pipeline>_<run>_-NNNNNN.csv.gz
 * (the run's '/' flattened; the number after the last '-'). */
static char *spool_path(const char *dir, const char *rel, unsigned n)
{
  size_t len = strlen(dir) + strlen(rel) + 64, i;
  char *p = malloc(len), *q;

  if (p == NULL)
    return NULL;
  snprintf(p, len, "%s/sluice-stage-", dir);
  q = p + strlen(p);
  for (i = 0; rel[i]; i++)
    *q++ = rel[i] == '/' ? '_' : rel[i];
  snprintf(q, len - (size_t)(q - p), "-%06u.csv.gz", n);
  return p;
}

static struct sfs_load *load_get(struct sfs_ctx *s, struct sluice_error *err)
{
  struct sfk_ctx *c = &s->k;
  struct sfs_load *ld = s->ld;
  struct sluice_buf b = SLUICE_BUF_INIT;
  const char *p;
  int rc = 0;

  if (ld != NULL)
    return ld;
  if ((ld = calloc(1, sizeof *ld)) == NULL) {
    sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    return NULL;
  }
  s->ld = ld;
  ld->s = s;
  ld->next_part = 1;
  /* The pipeline's name and the run id, in [A-Za-z0-9._-] (no key
   * needs URL encoding then). */
  for (p = c->host->instance_name(c->ins); rc == 0 && *p && *p != '/'; p++) {
    char ch = *p;
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
      ch = '_';
    rc = sluice_buf_append(&b, &ch, 1);
  }
  rc = rc ? rc : sluice_buf_append(&b, "/", 1);
  for (p = c->host->run_id(c->ins); rc == 0 && *p; p++) {
    char ch = *p;
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
      ch = '_';
    rc = sluice_buf_append(&b, &ch, 1);
  }
  rc = rc ? rc : sluice_buf_append(&b, "/", 1);
  if (rc == 0)
    ld->rel = strdup(sluice_buf_cstr(&b));
  sluice_buf_reset(&b);
  if (rc == 0 && ld->rel != NULL &&
      sluice_buf_printf(&b, "%s%s", s->key_prefix, ld->rel) == 0)
    ld->key_dir = strdup(sluice_buf_cstr(&b));
  sluice_buf_free(&b);
  if (ld->rel == NULL || ld->key_dir == NULL) {
    sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    return NULL;
  }
  return ld;
}

/* --- the worker side --------------------------------------------------- */

static int job_closed(struct job *j, char *path, uint64_t raw, uint64_t gz)
{
  if (j->nclosed == j->capclosed) {
    size_t cap = j->capclosed ? 2 * j->capclosed : 4;
    char **p = realloc(j->closed, cap * sizeof *p);
    uint64_t *r;
    if (p == NULL)
      return SLUICE_ENOMEM;
    j->closed = p;
    if ((r = realloc(j->closed_raw, cap * sizeof *r)) == NULL)
      return SLUICE_ENOMEM;
    j->closed_raw = r;
    if ((r = realloc(j->closed_gz, cap * sizeof *r)) == NULL)
      return SLUICE_ENOMEM;
    j->closed_gz = r;
    j->capclosed = cap;
  }
  j->closed[j->nclosed] = path;
  j->closed_gz[j->nclosed] = gz;
  j->closed_raw[j->nclosed++] = raw;
  return 0;
}

static int close_current(struct job *j)
{
  struct sfs_load *ld = j->ld;
  uint64_t raw = sfs_csvgz_raw_bytes(ld->cur), gz;
  int rc;

  rc = sfs_csvgz_close(ld->cur, &gz, j->errmsg, sizeof j->errmsg);
  ld->cur = NULL;
  if (rc == 0) {
    ld->raw_total += raw;
    ld->gz_total += gz;
    rc = job_closed(j, ld->cur_path, raw, gz);
  }
  if (rc < 0)
    free(ld->cur_path);
  ld->cur_path = NULL;
  return rc;
}

static void work(void *arg)
{
  struct job *j = arg;
  struct sfs_load *ld = j->ld;
  struct sfs_ctx *s = ld->s;
  size_t r, n = j->batch ? sluice_batch_nrows(j->batch) : 0;
  int64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  int rc = 0;

  for (r = 0; r < n && rc == 0; r++) {
    if (ld->cur == NULL) {
      ld->cur_path = spool_path(s->spool, ld->rel, ld->next_part);
      if (ld->cur_path == NULL) {
        rc = SLUICE_ENOMEM;
        snprintf(j->errmsg, sizeof j->errmsg, "out of memory");
        break;
      }
      ld->cur = sfs_csvgz_open(ld->cur_path, (int)s->compression_level, &ld->st,
                               j->errmsg, sizeof j->errmsg);
      if (ld->cur == NULL) {
        free(ld->cur_path);
        ld->cur_path = NULL;
        rc = SLUICE_EIO;
        break;
      }
      ld->next_part++;
    }
    rc = sfs_csvgz_row(ld->cur, &ld->st, j->batch, r, j->first_seq + (int64_t)r,
                       j->errmsg, sizeof j->errmsg);
    if (rc == 0 && sfs_csvgz_raw_bytes(ld->cur) >= (uint64_t)s->file_size)
      rc = close_current(j);
  }
  if (rc == 0 && j->batch == NULL && ld->cur != NULL)
    rc = close_current(j);
  j->rc = rc;
  j->cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
}

/* --- uploads ----------------------------------------------------------- */

static void fail_load(struct sfs_load *ld, int code,
                      const struct sluice_error *e)
{
  if (!ld->failed) {
    ld->failed = 1;
    ld->ferr = *e;
    ld->ferr.code = code;
  }
}

/* Removes a spool file on the thread pool (the loop never touches disk). */
static void unlink_work(void *arg)
{
  unlink(arg);
}

static void unlink_after(void *arg, int status)
{
  if (status == SLUICE_ECANCELED)
    unlink(arg); /* shutting down: the pool will not run it */
  free(arg);
}

static void drop_local(struct sfs_load *ld, struct staged_file *f)
{
  struct sfk_ctx *c = &ld->s->k;

  if (f->local == NULL)
    return;
  if (c->host->work_submit(c->ins, unlink_work, unlink_after, f->local) < 0) {
    unlink(f->local);
    free(f->local);
  }
  f->local = NULL;
}

static void settle(struct sfs_load *ld);

static void on_uploaded(void *arg, int status, const struct sluice_error *err)
{
  struct staged_file *f = arg;
  struct sfs_load *ld = f->ld;
  struct sfk_ctx *c = &ld->s->k;

  f->call = NULL;
  ld->in_flight--;
  if (status == 0) {
    f->state = FILE_UPLOADED;
    c->host->count(c->ins, SLUICE_COUNT_BYTES_OUT, (int64_t)f->gz_bytes);
    SLUICE_LOG_D(c->host, c->ins, "uploaded %s%s", ld->key_dir, f->name);
    drop_local(ld, f);
  } else {
    f->state = FILE_CLOSED;
    fail_load(ld, status, err);
  }
  pump(ld);
  settle(ld);
}

static void pump(struct sfs_load *ld)
{
  struct sfs_ctx *s = ld->s;
  struct sluice_error e = {0};
  struct sluice_buf key = SLUICE_BUF_INIT;
  size_t i;

  for (i = 0;
       i < ld->nfiles && !ld->failed && ld->in_flight < (size_t)s->max_uploads;
       i++) {
    struct staged_file *f = ld->files[i];
    int rc;
    if (f->state != FILE_CLOSED)
      continue;
    sluice_buf_reset(&key);
    rc = sluice_buf_printf(&key, "%s%s", ld->key_dir, f->name);
    if (rc == 0)
      rc = sfs_s3_put_file(s, sluice_buf_cstr(&key), f->local, on_uploaded, f,
                           &f->call, &e);
    else
      rc = sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
    if (rc < 0) {
      fail_load(ld, rc, &e);
      break;
    }
    f->state = FILE_UPLOADING;
    ld->waiting--;
    ld->in_flight++;
  }
  sluice_buf_free(&key);
}

static int add_file(struct sfs_load *ld, char *local, uint64_t raw, uint64_t gz)
{
  struct staged_file *f;
  const char *base = strrchr(local, '-'); /* "-000001.csv.gz" */
  char name[64];

  if (ld->nfiles == ld->capfiles) {
    size_t cap = ld->capfiles ? 2 * ld->capfiles : 16;
    struct staged_file **p = realloc(ld->files, cap * sizeof *p);
    if (p == NULL)
      return SLUICE_ENOMEM;
    ld->files = p;
    ld->capfiles = cap;
  }
  snprintf(name, sizeof name, "part%s", base ? base : "-x.csv.gz");
  if ((f = calloc(1, sizeof *f)) == NULL)
    return SLUICE_ENOMEM;
  if ((f->name = strdup(name)) == NULL) {
    free(f);
    return SLUICE_ENOMEM;
  }
  ld->files[ld->nfiles] = f;
  f->local = local;
  f->raw_bytes = raw;
  f->gz_bytes = gz;
  f->state = FILE_CLOSED;
  f->ld = ld;
  ld->nfiles++;
  ld->waiting++;
  return 0;
}

/* --- the COPY (sfs_copy.c) ---------------------------------------------- */

static void copy_done(struct sfs_load *ld, int status,
                      const struct sluice_error *err)
{
  sluice_done_cb done = ld->fdone;

  ld->fdone = NULL;
  done(ld->farg, status, status == 0 ? NULL : err);
}

static void on_copied(void *arg, int status, int64_t rows,
                      const struct sluice_error *err)
{
  struct sfs_load *ld = arg;
  struct sfk_ctx *c = &ld->s->k;

  ld->copy = NULL;
  free(ld->names);
  ld->names = NULL;
  if (status == 0)
    SLUICE_LOG_I(c->host, c->ins,
                 "staged %lld rows in %zu files (%llu bytes of CSV, %llu "
                 "gzip) and loaded them into %s",
                 (long long)rows, ld->nfiles, (unsigned long long)ld->raw_total,
                 (unsigned long long)ld->gz_total, ld->st.table);
  copy_done(ld, status, err);
}

static int start_copy(struct sfs_load *ld, struct sluice_error *err)
{
  size_t i;

  if ((ld->names = calloc(ld->nfiles, sizeof *ld->names)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  for (i = 0; i < ld->nfiles; i++)
    ld->names[i] = ld->files[i]->name;
  ld->copy = sfs_copy_start(ld->s, ld->st.table, ld->rel, ld->names, ld->nfiles,
                            ld->expect_rows, on_copied, ld, err);
  if (ld->copy == NULL) {
    free(ld->names);
    ld->names = NULL;
    return err->code;
  }
  return 0;
}

/* --- where the loader stands, after a job or an upload ------------------ */

/* What bench/stage reads: the bytes, the wall time since the first
 * write, and the CSV+gzip CPU time (per core: the worker is one thread). */
static void log_uploaded(struct sfs_load *ld)
{
  struct sfk_ctx *c = &ld->s->k;
  double wall =
             (double)(clock_ns(CLOCK_MONOTONIC) / 1000000 - ld->began_ms) / 1e3,
         cpu = (double)ld->cpu_ns / 1e9, mb = (double)ld->raw_total / 1e6;

  SLUICE_LOG_I(c->host, c->ins,
               "uploaded %zu files: %.1f MB of CSV, %.1f MB gzip, in %.2f s "
               "(%.1f MB/s); CSV and gzip took %.2f CPU s (%.1f MB/s per "
               "core)",
               ld->nfiles, mb, (double)ld->gz_total / 1e6, wall,
               wall > 0 ? mb / wall : 0.0, cpu, cpu > 0 ? mb / cpu : 0.0);
}

static void settle(struct sfs_load *ld)
{
  struct sluice_error e = {0};
  int rc;

  if (ld->job_running)
    return;
  if (ld->wdone != NULL && (ld->failed || ld->waiting == 0)) {
    sluice_done_cb done = ld->wdone;
    ld->wdone = NULL;
    done(ld->warg, ld->failed ? ld->ferr.code : 0,
         ld->failed ? &ld->ferr : NULL);
    return;
  }
  if (ld->fdone == NULL || ld->copy != NULL)
    return;
  if (ld->failed) {
    copy_done(ld, ld->ferr.code, &ld->ferr);
    return;
  }
  if (ld->waiting > 0 || ld->in_flight > 0)
    return;
  if (ld->nfiles == 0) { /* nothing written since the last commit */
    copy_done(ld, 0, NULL);
    return;
  }
  log_uploaded(ld);
  if ((rc = start_copy(ld, &e)) < 0)
    copy_done(ld, rc, &e);
}

static void after_work(void *arg, int status)
{
  struct job *j = arg;
  struct sfs_load *ld = j->ld;
  struct sluice_error e = {0};
  size_t i;

  ld->job_running = 0;
  ld->cpu_ns += j->cpu_ns;
  if (j->batch != NULL)
    sluice_batch_unref(j->batch);
  if (status == 0 && j->rc < 0) {
    sluice_error_set(&e, j->rc, 0, "writing the staged files: %s", j->errmsg);
    fail_load(ld, j->rc, &e);
  } else if (status < 0) {
    sluice_error_set(&e, status, 0, "writing the staged files: cancelled");
    fail_load(ld, status, &e);
  }
  for (i = 0; i < j->nclosed; i++) {
    if (add_file(ld, j->closed[i], j->closed_raw[i], j->closed_gz[i]) < 0) {
      unlink(j->closed[i]);
      free(j->closed[i]);
      sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
      fail_load(ld, SLUICE_ENOMEM, &e);
    }
  }
  free(j->closed);
  free(j->closed_raw);
  free(j->closed_gz);
  free(j);
  pump(ld);
  settle(ld);
}

static int submit(struct sfs_load *ld, struct sluice_batch *batch,
                  int64_t first_seq, struct sluice_error *err)
{
  struct sfk_ctx *c = &ld->s->k;
  struct job *j = calloc(1, sizeof *j);
  int rc;

  if (j == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  j->ld = ld;
  j->batch = batch ? sluice_batch_ref(batch) : NULL;
  j->first_seq = first_seq;
  rc = c->host->work_submit(c->ins, work, after_work, j);
  if (rc < 0) {
    if (batch != NULL)
      sluice_batch_unref(batch);
    free(j);
    return sluice_error_set(err, rc, 0, "the thread pool refused the work");
  }
  ld->job_running = 1;
  return 0;
}

/* --- a killed run's files (sfs_sweep.c) -------------------------------- */

static void on_swept(void *arg)
{
  struct sfs_load *ld = arg;
  ld->sweep = NULL;
}

/* Before this run stages its first file: sweep the last killed run's
 * files, and record this run's prefix until its cleanup is done. */
static void mark_run(struct sfs_load *ld)
{
  struct sfk_ctx *c = &ld->s->k;
  struct sluice_error e = {0};
  char *old = NULL;

  if (ld->marked || !ld->s->cleanup)
    return;
  ld->marked = 1;
  if (!ld->swept && c->host->state_get(c->ins, "stale_prefix", &old) == 0) {
    ld->swept = 1;
    /* A run killed before its cleanup left these; nothing can load them
     * again (every COPY names its own files), they only take room. */
    if (old[0] != '\0' && strcmp(old, ld->key_dir) != 0)
      ld->sweep = sfs_sweep_start(ld->s, old, on_swept, ld);
    c->host->free(old);
  }
  ld->swept = 1;
  if (c->host->state_put(c->ins, "stale_prefix", ld->key_dir, &e) < 0)
    SLUICE_LOG_W(c->host, c->ins, "state: %s", e.message);
}

static void unmark_run(struct sfs_load *ld)
{
  struct sfk_ctx *c = &ld->s->k;
  struct sluice_error e = {0};

  if (!ld->marked)
    return;
  ld->marked = 0;
  if (c->host->state_put(c->ins, "stale_prefix", NULL, &e) < 0)
    SLUICE_LOG_W(c->host, c->ins, "state: %s", e.message);
}

/* --- the sfk_loader ------------------------------------------------------ */

static int loader_write(struct sfk_ctx *c, const struct sfk_staging *st,
                        struct sluice_batch *batch, int64_t first_seq,
                        sluice_done_cb done, void *arg,
                        struct sluice_error *err)
{
  struct sfs_ctx *s = (struct sfs_ctx *)c;
  struct sfs_load *ld = load_get(s, err);
  int rc;

  if (ld == NULL)
    return err->code;
  if (ld->failed) {
    *err = ld->ferr;
    return ld->ferr.code;
  }
  ld->st = *st;
  if (ld->began_ms == 0)
    ld->began_ms = clock_ns(CLOCK_MONOTONIC) / 1000000;
  mark_run(ld);
  if ((rc = submit(ld, batch, first_seq, err)) < 0)
    return rc;
  ld->wdone = done;
  ld->warg = arg;
  return 0;
}

static int loader_flush(struct sfk_ctx *c, const struct sfk_staging *st,
                        int64_t rows, sluice_done_cb done, void *arg,
                        struct sluice_error *err)
{
  struct sfs_ctx *s = (struct sfs_ctx *)c;
  struct sfs_load *ld = load_get(s, err);
  int rc;

  if (ld == NULL)
    return err->code;
  if (ld->failed) {
    *err = ld->ferr;
    return ld->ferr.code;
  }
  ld->st = *st;
  ld->expect_rows = rows;
  /* Closing the last file is disk work: the pool does it, and done then
   * comes later even when there is nothing to close. */
  if ((rc = submit(ld, NULL, 0, err)) < 0)
    return rc;
  ld->fdone = done;
  ld->farg = arg;
  return 0;
}

static void forget_files(struct sfs_load *ld)
{
  size_t i;

  for (i = 0; i < ld->nfiles; i++) {
    drop_local(ld, ld->files[i]);
    free(ld->files[i]->name);
    free(ld->files[i]);
  }
  ld->nfiles = ld->waiting = 0;
  ld->raw_total = ld->gz_total = 0;
  ld->cpu_ns = ld->began_ms = 0;
}

static void on_deleted(void *arg, int status, const struct sluice_error *err)
{
  struct staged_file *f = arg;
  struct sfs_load *ld = f->ld;
  struct sfk_ctx *c = &ld->s->k;

  f->call = NULL;
  if (status < 0)
    SLUICE_LOG_W(c->host, c->ins, "cleanup: %s", err->message);
  if (--ld->deleting == 0) {
    sluice_done_cb done = ld->cdone;
    forget_files(ld);
    unmark_run(ld);
    ld->cdone = NULL;
    done(ld->carg, 0, NULL);
  }
}

static int loader_committed(struct sfk_ctx *c, sluice_done_cb done, void *arg,
                            struct sluice_error *err)
{
  struct sfs_ctx *s = (struct sfs_ctx *)c;
  struct sfs_load *ld = s->ld;
  struct sluice_buf key = SLUICE_BUF_INIT;
  size_t i;

  if (ld == NULL || ld->nfiles == 0)
    return sluice_error_set(err, SLUICE_ENOTFOUND, 0, "nothing staged");
  if (!s->cleanup) {
    forget_files(ld);
    return sluice_error_set(err, SLUICE_ENOTFOUND, 0, "cleanup is off");
  }
  ld->cdone = done;
  ld->carg = arg;
  /* Deleting every object at once: DELETEs are small, and the host's
   * connection pool bounds what really runs in parallel. */
  for (i = 0; i < ld->nfiles; i++) {
    struct staged_file *f = ld->files[i];
    struct sluice_error e = {0};
    sluice_buf_reset(&key);
    if (sluice_buf_printf(&key, "%s%s", ld->key_dir, f->name) < 0 ||
        sfs_s3_delete(s, sluice_buf_cstr(&key), on_deleted, f, &f->call, &e) <
            0) {
      SLUICE_LOG_W(c->host, c->ins, "cleanup of %s%s: %s", ld->key_dir, f->name,
                   e.message[0] ? e.message : "out of memory");
      continue;
    }
    f->state = FILE_DELETING;
    ld->deleting++;
  }
  sluice_buf_free(&key);
  if (ld->deleting == 0) {
    ld->cdone = NULL;
    forget_files(ld);
    return sluice_error_set(err, SLUICE_EIO, 0, "no cleanup started");
  }
  return 0;
}

const struct sfk_loader sfs_loader = {
    .write = loader_write,
    .flush = loader_flush,
    .committed = loader_committed,
};

void sfs_loader_free(struct sfs_ctx *s)
{
  struct sfs_load *ld = s->ld;
  size_t i;

  if (ld == NULL)
    return;
  sfs_copy_cancel(ld->copy);
  free(ld->names);
  sfs_sweep_cancel(ld->sweep);
  for (i = 0; i < ld->nfiles; i++) {
    if (ld->files[i]->call != NULL)
      sfs_s3_cancel(ld->files[i]->call);
  }
  /* A run that never committed: its spool files go (fini runs on the
   * loop, after every done: the pool holds no job of ours now). */
  for (i = 0; i < ld->nfiles; i++) {
    if (ld->files[i]->local != NULL) {
      unlink(ld->files[i]->local);
      free(ld->files[i]->local);
    }
    free(ld->files[i]->name);
    free(ld->files[i]);
  }
  sfs_csvgz_abandon(ld->cur);
  free(ld->cur_path);
  free(ld->files);
  free(ld->rel);
  free(ld->key_dir);
  free(ld);
  s->ld = NULL;
}
