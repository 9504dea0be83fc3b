/* core/scheduler.c - see scheduler.h. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "http.h"
#include "log.h"
#include "run.h"
#include "runlog.h"
#include "metrics.h"
#include "progress.h"
#include "scheduler.h"

/* A pipeline: its runs on `schedule`, its delete sweeps on
 * `reconcile_deletes`; one at a time (both take the pipeline's lock).  A
 * timer that fires while the other is busy marks its work due, and that
 * starts when the busy one ends. */
struct slot {
  struct sched *s;
  struct pipeline *p;
  uv_timer_t timer;
  uv_timer_t sweep_timer;
  struct run *run; /* the run or sweep in progress, or NULL */
  int running;
  int sweeping; /* what is running is a sweep */
  int run_due, sweep_due;
  int64_t last_start;
  int64_t sweep_last_start;
};

struct sched {
  uv_loop_t *loop;
  struct pipeline_file *pf;
  struct slot *slots;
  size_t n;
  int once;
  int starting; /* scheduler_main is still starting slots */
  int stopping;
  int running;
  uv_signal_t sigterm, sigint;
  struct http_engine *http; /* shared by every run: one connection pool */
  int worst;                /* the exit code so far */
};

static void arm(struct slot *sl);
static void arm_sweep(struct slot *sl);
static void start_sweep(struct slot *sl);

static int64_t now_s(void)
{
  return (int64_t)time(NULL);
}

static void note_status(struct sched *s, enum run_status st)
{
  int code = st == RUN_FAILED ? 1 : st == RUN_REJECTED ? 3 : 0;

  /* A failure outranks rejects, which outrank success. */
  if (code == 1 || (code == 3 && s->worst == 0))
    s->worst = code;
}

static void close_all(struct sched *s)
{
  metrics_close();
  progress_close();
  http_engine_free(s->http);
  s->http = NULL;
  for (size_t i = 0; i < s->n; i++) {
    if (!uv_is_closing((uv_handle_t *)&s->slots[i].timer))
      uv_close((uv_handle_t *)&s->slots[i].timer, NULL);
    if (!uv_is_closing((uv_handle_t *)&s->slots[i].sweep_timer))
      uv_close((uv_handle_t *)&s->slots[i].sweep_timer, NULL);
  }
  if (!uv_is_closing((uv_handle_t *)&s->sigterm))
    uv_close((uv_handle_t *)&s->sigterm, NULL);
  if (!uv_is_closing((uv_handle_t *)&s->sigint))
    uv_close((uv_handle_t *)&s->sigint, NULL);
}

static int nothing_left(struct sched *s)
{
  if (s->running > 0 || s->starting)
    return 0;
  if (s->stopping || s->once)
    return 1;
  for (size_t i = 0; i < s->n; i++)
    if (s->slots[i].p->schedule.kind != SCHEDULE_NONE ||
        s->slots[i].p->reconcile_deletes.kind != SCHEDULE_NONE)
      return 0;
  return 1;
}

static void start_run(struct slot *sl);

static void on_run_done(void *arg, enum run_status st)
{
  struct slot *sl = arg;
  struct sched *s = sl->s;

  int was_sweep = sl->sweeping;

  sl->running = 0;
  sl->sweeping = 0;
  sl->run = NULL;
  s->running--;
  note_status(s, st);
  if (nothing_left(s)) {
    close_all(s);
    return;
  }
  if (s->stopping || s->once)
    return;
  if (was_sweep)
    arm_sweep(sl);
  else
    arm(sl);
  /* What came due meanwhile; a sweep first: it waited for a run. */
  if (sl->sweep_due) {
    sl->sweep_due = 0;
    start_sweep(sl);
  } else if (sl->run_due) {
    sl->run_due = 0;
    start_run(sl);
  }
}

static void start_run(struct slot *sl)
{
  struct sched *s = sl->s;
  struct sluice_error err = {0};

  sl->last_start = now_s();
  sl->running = 1;
  s->running++;
  if (run_start(s->loop, s->http, s->pf, sl->p, on_run_done, sl, &sl->run,
                &err) < 0) {
    sl->run = NULL;
    log_msg(SLUICE_LOG_ERROR, sl->p->name, "%s", err.message);
    on_run_done(sl, RUN_FAILED);
  }
}

static void on_timer(uv_timer_t *t)
{
  struct slot *sl = t->data;

  /* The timer is armed only between runs (on_run_done arms it), so runs of
   * one pipeline never overlap; a late slot starts once, not per miss.  A
   * sweep in progress makes the run wait for it. */
  if (sl->s->stopping)
    return;
  if (sl->running)
    sl->run_due = 1;
  else
    start_run(sl);
}

static void start_sweep(struct slot *sl)
{
  struct sched *s = sl->s;
  struct sluice_error err = {0};

  sl->sweep_last_start = now_s();
  sl->running = 1;
  sl->sweeping = 1;
  s->running++;
  if (run_sweep(s->loop, s->http, s->pf, sl->p, SLUICE_SWEEP_FLAG_MISSING, 0, 0,
                on_run_done, sl, &sl->run, &err) < 0) {
    sl->run = NULL;
    log_msg(SLUICE_LOG_ERROR, sl->p->name, "delete sweep: %s", err.message);
    on_run_done(sl, RUN_FAILED);
  }
}

static void on_sweep_timer(uv_timer_t *t)
{
  struct slot *sl = t->data;

  if (sl->s->stopping)
    return;
  if (sl->running)
    sl->sweep_due = 1;
  else
    start_sweep(sl);
}

/* The next delete sweep, by reconcile_deletes, after the last one.  A
 * pipeline never swept waits for its schedule's first slot (an "every"
 * one a whole interval): a daemon's start is no time to flag deletes. */
static void arm_sweep(struct slot *sl)
{
  int64_t now = now_s();
  const struct schedule *sc = &sl->p->reconcile_deletes;
  int64_t last = sl->sweep_last_start;
  int64_t next;

  if (sc->kind == SCHEDULE_NONE)
    return;
  if (last < 0 && sc->kind == SCHEDULE_EVERY)
    last = now;
  next = schedule_next(sc, last, now);
  if (next < 0)
    return;
  if (next < now)
    next = now;
  log_msg(SLUICE_LOG_DEBUG, sl->p->name, "next delete sweep in %llds",
          (long long)(next - now));
  uv_timer_start(&sl->sweep_timer, on_sweep_timer,
                 (uint64_t)(next - now) * 1000, 0);
}

static void arm(struct slot *sl)
{
  int64_t now = now_s();
  int64_t next = schedule_next(&sl->p->schedule, sl->last_start, now);

  if (next < 0)
    return;
  if (next < now)
    next = now;
  log_msg(SLUICE_LOG_DEBUG, sl->p->name, "next run in %llds",
          (long long)(next - now));
  uv_timer_start(&sl->timer, on_timer, (uint64_t)(next - now) * 1000, 0);
}

static void on_signal(uv_signal_t *h, int signum)
{
  struct sched *s = h->data;

  if (s->stopping) {
    log_warn("second %s: exiting now without waiting for runs",
             signum == SIGINT ? "SIGINT" : "SIGTERM");
    _Exit(1);
  }
  log_info("%s: finishing the batches in flight, then exiting",
           signum == SIGINT ? "SIGINT" : "SIGTERM");
  s->stopping = 1;
  for (size_t i = 0; i < s->n; i++) {
    uv_timer_stop(&s->slots[i].timer);
    uv_timer_stop(&s->slots[i].sweep_timer);
    if (s->slots[i].run != NULL)
      run_stop(s->slots[i].run);
  }
  if (nothing_left(s))
    close_all(s);
}

/* The last start of each pipeline, from the run log, so a restarted
 * daemon keeps the rhythm instead of running everything at once. */
static void load_last_starts(struct sched *s)
{
  struct run_record *recs = NULL;
  size_t n = 0;
  struct sluice_error err = {0};

  if (runlog_load_last(s->pf->state_dir, &recs, &n, NULL, &err) < 0)
    return;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < s->n; j++)
      if (strcmp(recs[i].pipeline, s->slots[j].p->name) != 0)
        continue;
      else if (recs[i].sweep)
        s->slots[j].sweep_last_start = recs[i].start_us / 1000000;
      else
        s->slots[j].last_start = recs[i].start_us / 1000000;
  runlog_free_records(recs, n);
}

int scheduler_main(struct pipeline_file *pf, const char *only, int once,
                   const char *metrics_addr)
{
  struct sched s;
  uv_loop_t loop;

  memset(&s, 0, sizeof s);
  uv_loop_init(&loop);
  s.loop = &loop;
  s.pf = pf;
  s.once = once;
  s.slots = calloc(pf->n, sizeof *s.slots);
  s.http = http_engine_new(&loop);
  if (s.slots == NULL || s.http == NULL) {
    log_error("out of memory");
    free(s.slots);
    http_engine_free(s.http);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 1;
  }
  for (size_t i = 0; i < pf->n; i++) {
    struct pipeline *p = &pf->v[i];
    if (only != NULL ? strcmp(p->name, only) != 0 : !p->enabled)
      continue;
    struct slot *sl = &s.slots[s.n++];
    sl->s = &s;
    sl->p = p;
    sl->last_start = -1;
    sl->sweep_last_start = -1;
    uv_timer_init(&loop, &sl->timer);
    sl->timer.data = sl;
    uv_timer_init(&loop, &sl->sweep_timer);
    sl->sweep_timer.data = sl;
  }
  if (metrics_addr != NULL) {
    struct sluice_error err = {0};
    if (metrics_serve(&loop, metrics_addr, s.http, &err) < 0) {
      log_error("%s", err.message);
      for (size_t i = 0; i < s.n; i++) {
        uv_close((uv_handle_t *)&s.slots[i].timer, NULL);
        uv_close((uv_handle_t *)&s.slots[i].sweep_timer, NULL);
      }
      http_engine_free(s.http);
      uv_run(&loop, UV_RUN_DEFAULT);
      uv_loop_close(&loop);
      free(s.slots);
      return 2;
    }
  }
  /* A line a running pipeline, on a terminal, unless --quiet. */
  progress_setup(&loop, log_is_text() && log_max_level() >= SLUICE_LOG_INFO);
  uv_signal_init(&loop, &s.sigterm);
  uv_signal_init(&loop, &s.sigint);
  s.sigterm.data = s.sigint.data = &s;
  uv_signal_start(&s.sigterm, on_signal, SIGTERM);
  uv_signal_start(&s.sigint, on_signal, SIGINT);
  if (!once)
    load_last_starts(&s);
  /* A run that fails at once must not close the signal handlers and the
   * HTTP engine while the others are still being started. */
  s.starting = 1;
  for (size_t i = 0; i < s.n; i++) {
    struct slot *sl = &s.slots[i];
    if (once || sl->p->schedule.kind == SCHEDULE_NONE)
      start_run(sl);
    else
      arm(sl);
    if (!once)
      arm_sweep(sl);
  }
  s.starting = 0;
  if (nothing_left(&s))
    close_all(&s);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  free(s.slots);
  return s.worst;
}

/* --- sluice check ------------------------------------------------------- */

struct check_all {
  int running;
  int failed;
};

static void on_check_done(void *arg, enum run_status st)
{
  struct check_all *c = arg;

  c->running--;
  if (st == RUN_FAILED)
    c->failed = 1;
}

static void probe_failed(struct check_all *all, const char *name,
                         const struct sluice_error *err)
{
  char line[SLUICE_ERROR_MSG_MAX + 160];

  snprintf(line, sizeof line, "%-24s %-16s FAILED: %s", name, "", err->message);
  log_mask_secrets(line, sizeof line);
  printf("%s\n", line);
  fflush(stdout);
  all->failed = 1;
}

/* reconcile --ids: the counts, then the key lists. */
struct probe_list {
  struct check_all *all;
  uv_loop_t *loop;
  struct http_engine *http;
  struct pipeline_file *pf;
  struct pipeline *p;
  size_t ids;
};

static void on_counts_then_list(void *arg, enum run_status st)
{
  struct probe_list *o = arg;
  struct sluice_error err = {0};
  struct run *r;

  if (st == RUN_FAILED)
    o->all->failed = 1;
  if (run_sweep(o->loop, o->http, o->pf, o->p, SLUICE_SWEEP_LIST, o->ids, 1,
                on_check_done, o->all, &r, &err) < 0) {
    probe_failed(o->all, o->p->name, &err);
    o->all->running--;
  }
  free(o);
}

enum probe_kind { PROBE_CHECK, PROBE_COUNT, PROBE_LIST, PROBE_FLAG };

static int probe_one(uv_loop_t *loop, struct http_engine *http,
                     struct pipeline_file *pf, struct pipeline *p,
                     enum probe_kind kind, size_t ids, struct check_all *all,
                     struct sluice_error *err)
{
  struct probe_list *o;
  struct run *r;
  int rc;

  switch (kind) {
  case PROBE_CHECK:
    return run_check(loop, http, pf, p, on_check_done, all, err);
  case PROBE_COUNT:
    return run_reconcile(loop, http, pf, p, on_check_done, all, err);
  case PROBE_FLAG:
    return run_sweep(loop, http, pf, p, SLUICE_SWEEP_FLAG_MISSING, 0, 1,
                     on_check_done, all, &r, err);
  case PROBE_LIST:
  default:
    if ((o = calloc(1, sizeof *o)) == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    *o = (struct probe_list){all, loop, http, pf, p, ids};
    rc = run_reconcile(loop, http, pf, p, on_counts_then_list, o, err);
    if (rc < 0)
      free(o);
    return rc;
  }
}

/* check and reconcile: every pipeline (or only `only`) at once, on one
 * loop; 0 when each succeeded. */
static int scheduler_probe(struct pipeline_file *pf, const char *only,
                           enum probe_kind kind, size_t ids)
{
  struct check_all all = {0, 0};
  struct http_engine *http;
  uv_loop_t loop;

  uv_loop_init(&loop);
  http = http_engine_new(&loop);
  if (http == NULL) {
    log_error("out of memory");
    uv_loop_close(&loop);
    return 1;
  }
  for (size_t i = 0; i < pf->n; i++) {
    struct pipeline *p = &pf->v[i];
    struct sluice_error err = {0};
    if (only != NULL ? strcmp(p->name, only) != 0 : !p->enabled)
      continue;
    /* --flag-deletes without --pipeline: the pipelines that ask for it. */
    if (kind == PROBE_FLAG && only == NULL &&
        p->reconcile_deletes.kind == SCHEDULE_NONE)
      continue;
    if (probe_one(&loop, http, pf, p, kind, ids, &all, &err) < 0) {
      probe_failed(&all, p->name, &err);
      continue;
    }
    all.running++;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  http_engine_free(http);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return all.failed || all.running > 0 ? 1 : 0;
}

int scheduler_check(struct pipeline_file *pf, const char *only)
{
  return scheduler_probe(pf, only, PROBE_CHECK, 0);
}

int scheduler_reconcile(struct pipeline_file *pf, const char *only, size_t ids,
                        int flag_deletes)
{
  if (flag_deletes)
    return scheduler_probe(pf, only, PROBE_FLAG, 0);
  return scheduler_probe(pf, only, ids > 0 ? PROBE_LIST : PROBE_COUNT, ids);
}
