/* core/instance.c - plugin instances and the host services table. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "instance.h"
#include "log.h"
#include "pipeline.h"
#include "sluice/buf.h"
#include "state.h"

/* --- services ----------------------------------------------------------- */

static void host_log(struct sluice_instance *ins, enum sluice_log_level level,
                     const char *fmt, ...) SLUICE_PRINTF(3, 4);
static void host_log(struct sluice_instance *ins, enum sluice_log_level level,
                     const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  if (level == SLUICE_LOG_WARN && ins != NULL && ins->run != NULL) {
    char text[1024];
    va_list copy;
    va_copy(copy, ap);
    vsnprintf(text, sizeof text, fmt, copy);
    va_end(copy);
    log_mask_secrets(text, sizeof text);
    run_add_warning(ins->run, text);
  }
  log_msgv(level, ins ? ins->log_context : NULL, fmt, ap);
  va_end(ap);
}

static const char *host_instance_name(struct sluice_instance *ins)
{
  return ins->name;
}

static const char *host_run_id(struct sluice_instance *ins)
{
  return run_id_of(ins->run);
}

static const char *host_base_dir(struct sluice_instance *ins)
{
  return run_base_dir(ins->run);
}

static void release(struct sluice_instance *ins)
{
  if (--ins->pending == 0)
    run_instance_idle(ins->run);
}

struct work_req {
  uv_work_t req;
  struct sluice_instance *ins;
  void (*work)(void *arg);
  void (*after)(void *arg, int status);
  void *arg;
};

static void work_run(uv_work_t *req)
{
  struct work_req *w = req->data;
  w->work(w->arg);
}

static void work_after(uv_work_t *req, int status)
{
  struct work_req *w = req->data;
  struct sluice_instance *ins = w->ins;

  w->after(w->arg, status == UV_ECANCELED ? SLUICE_ECANCELED : 0);
  free(w);
  release(ins);
}

static int host_work_submit(struct sluice_instance *ins,
                            void (*work)(void *arg),
                            void (*after)(void *arg, int status), void *arg)
{
  struct work_req *w = calloc(1, sizeof *w);

  if (w == NULL)
    return SLUICE_ENOMEM;
  w->req.data = w;
  w->ins = ins;
  w->work = work;
  w->after = after;
  w->arg = arg;
  if (uv_queue_work(run_loop(ins->run), &w->req, work_run, work_after) != 0) {
    free(w);
    return SLUICE_EIO;
  }
  ins->pending++;
  return 0;
}

/* Timers are the host's: they do not hold the run open (a plugin may keep
 * one until fini), and whatever is still open after fini is closed here. */
struct sluice_timer {
  uv_timer_t handle;
  struct sluice_timer *next, *prev; /* the instance's open timers */
  struct sluice_instance *ins;
  void (*cb)(void *arg);
  void *arg;
};

static void timer_fire(uv_timer_t *h)
{
  struct sluice_timer *t = h->data;
  t->cb(t->arg);
}

static struct sluice_timer *host_timer_start(struct sluice_instance *ins,
                                             uint64_t timeout_ms,
                                             uint64_t repeat_ms,
                                             void (*cb)(void *arg), void *arg)
{
  struct sluice_timer *t = calloc(1, sizeof *t);

  if (t == NULL)
    return NULL;
  uv_timer_init(run_loop(ins->run), &t->handle);
  t->handle.data = t;
  t->ins = ins;
  t->cb = cb;
  t->arg = arg;
  t->next = ins->timers;
  if (ins->timers != NULL)
    ins->timers->prev = t;
  ins->timers = t;
  uv_timer_start(&t->handle, timer_fire, timeout_ms, repeat_ms);
  return t;
}

static void timer_closed(uv_handle_t *h)
{
  free(h->data);
}

static void host_timer_stop(struct sluice_timer *t)
{
  if (t == NULL || uv_is_closing((uv_handle_t *)&t->handle))
    return;
  /* Unlinked now: the instance may be gone before the close completes. */
  if (t->prev != NULL)
    t->prev->next = t->next;
  else
    t->ins->timers = t->next;
  if (t->next != NULL)
    t->next->prev = t->prev;
  uv_timer_stop(&t->handle);
  uv_close((uv_handle_t *)&t->handle, timer_closed);
}

static int host_emit(struct sluice_instance *ins, struct sluice_batch *batch,
                     struct sluice_error *err)
{
  if (ins->role != SLUICE_KIND_SOURCE) {
    sluice_batch_unref(batch);
    return sluice_error_set(err, SLUICE_ESTATE, 0,
                            "emit called by a destination");
  }
  return run_emit(ins->run, batch, err);
}

static void host_source_done(struct sluice_instance *ins, int status,
                             const struct sluice_error *err)
{
  if (ins->role == SLUICE_KIND_SOURCE)
    run_source_done(ins->run, status, err);
}

static void host_count(struct sluice_instance *ins, enum sluice_counter c,
                       int64_t n)
{
  if ((unsigned)c < sizeof ins->counters / sizeof ins->counters[0] && n > 0)
    ins->counters[c] += (uint64_t)n;
}

static int load_state(struct sluice_instance *ins)
{
  char *data;
  size_t len;
  struct sluice_error err = {0};

  if (ins->state != NULL)
    return 0;
  if (state_read_file(ins->state_path, &data, &len, &err) == 0) {
    ins->state = json_loadb(data, len, 0, NULL);
    free(data);
  }
  if (ins->state == NULL || !json_is_object(ins->state)) {
    json_decref(ins->state);
    ins->state = json_object();
  }
  return ins->state ? 0 : SLUICE_ENOMEM;
}

static int host_state_get(struct sluice_instance *ins, const char *key,
                          char **value)
{
  json_t *v;

  if (load_state(ins) < 0)
    return SLUICE_ENOMEM;
  v = json_object_get(ins->state, key);
  if (!json_is_string(v))
    return SLUICE_ENOTFOUND;
  *value = strdup(json_string_value(v));
  return *value ? 0 : SLUICE_ENOMEM;
}

static int host_state_put(struct sluice_instance *ins, const char *key,
                          const char *value, struct sluice_error *err)
{
  char *text;
  int rc;

  if (load_state(ins) < 0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  if (value == NULL)
    json_object_del(ins->state, key);
  else
    json_object_set_new(ins->state, key, json_string(value));
  text = json_dumps(ins->state, JSON_COMPACT | JSON_SORT_KEYS);
  if (text == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  rc = state_write_atomic(ins->state_path, text, strlen(text), err);
  free(text);
  return rc;
}

static void host_free(void *p)
{
  free(p);
}

static void host_secret_add(struct sluice_instance *ins, const char *value)
{
  (void)ins;
  log_add_secret(value);
}

static int host_stopping(struct sluice_instance *ins)
{
  return run_is_stopping(ins->run);
}

static void host_batch_limits(struct sluice_instance *ins, size_t *max_rows,
                              size_t *max_bytes)
{
  run_batch_limits(ins->run, max_rows, max_bytes);
}

static void http_released(void *owner)
{
  release(owner);
}

static int host_http_request(struct sluice_instance *ins,
                             const struct sluice_http_request *req,
                             struct sluice_http_call **call,
                             struct sluice_error *err)
{
  int rc;
  struct http_caller caller = {
      .released = http_released,
      .owner = ins,
      .retries = &ins->http_retries,
      .insecure_skip_tls_verify = ins->insecure_skip_tls_verify,
  };

  ins->pending++;
  rc = http_start(run_http(ins->run), req, &caller, call, err);
  if (rc < 0)
    ins->pending--;
  return rc;
}

static void host_http_throttle(struct sluice_instance *ins,
                               const char *rate_key)
{
  http_throttle(run_http(ins->run), rate_key);
}

static void host_budget_report(struct sluice_instance *ins,
                               const char *rate_key, int64_t used, int64_t max)
{
  http_budget_report(run_http(ins->run), rate_key, used, max);
}

static int host_budget_get(struct sluice_instance *ins, const char *rate_key,
                           int64_t *used, int64_t *max)
{
  return http_budget_get(run_http(ins->run), rate_key, used, max);
}

const struct sluice_host host_table = {
    .magic = SLUICE_PLUGIN_MAGIC,
    .abi_major = SLUICE_ABI_MAJOR,
    .abi_minor = SLUICE_ABI_MINOR,
    .struct_size = sizeof(struct sluice_host),
    .log = host_log,
    .instance_name = host_instance_name,
    .run_id = host_run_id,
    .base_dir = host_base_dir,
    .work_submit = host_work_submit,
    .timer_start = host_timer_start,
    .timer_stop = host_timer_stop,
    .emit = host_emit,
    .source_done = host_source_done,
    .count = host_count,
    .state_get = host_state_get,
    .state_put = host_state_put,
    .free = host_free,
    .secret_add = host_secret_add,
    .stopping = host_stopping,
    .batch_limits = host_batch_limits,
    .http_request = host_http_request,
    .http_cancel = http_cancel,
    .http_resume = http_resume,
    .http_header = http_response_header,
    .http_throttle = host_http_throttle,
    .budget_report = host_budget_report,
    .budget_get = host_budget_get,
    .http_header_at = http_response_header_at,
};

/* --- lifecycle ----------------------------------------------------------- */

static char *strprintf(const char *fmt, ...) SLUICE_PRINTF(1, 2);
static char *strprintf(const char *fmt, ...)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  char tmp[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  sluice_buf_append_str(&b, tmp);
  return b.data;
}

int instance_init(struct sluice_instance *ins, struct run *run,
                  const struct loaded_plugin *lp, uint32_t role,
                  const char *pipeline, json_t *config, const char *path,
                  json_t *connection, const char *connection_path,
                  const char *base_dir, const char *state_dir,
                  struct sluice_error *err)
{
  const char *role_name = role == SLUICE_KIND_SOURCE ? "source" : "destination";
  struct diags d = {0};
  int rc;

  memset(ins, 0, sizeof *ins);
  ins->run = run;
  ins->plugin = lp;
  ins->desc = &lp->desc;
  ins->role = role;
  ins->name = strprintf("%s/%s", pipeline, role_name);
  ins->log_context = strprintf("%s/%s %s", pipeline, role_name, lp->desc.name);
  ins->state_path =
      strprintf("%s/%s.%s.state.json", state_dir, pipeline, role_name);
  ins->ctx = calloc(1, lp->desc.ctx_size ? lp->desc.ctx_size : 1);
  if (!ins->name || !ins->log_context || !ins->state_path || !ins->ctx)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  struct cfg_bind_args a = {
      .map = lp->desc.config,
      .role = role == SLUICE_KIND_SOURCE ? SLUICE_CFG_SOURCE
                                         : SLUICE_CFG_DESTINATION,
      .obj = config,
      .path = path,
      .host_keys = endpoint_host_keys,
      .base_dir = base_dir,
      .ctx = ins->ctx,
      .allocs = &ins->allocs,
  };
  cfg_bind(&a, &d);
  if (connection != NULL && lp->desc.connection_config != NULL) {
    static const char *const conn_keys[] = {"type", CONN_INSECURE_KEY, NULL};
    a.map = lp->desc.connection_config;
    a.obj = connection;
    a.path = connection_path;
    a.host_keys = conn_keys;
    cfg_bind(&a, &d);
  }
  if (d.n > 0) {
    rc = sluice_error_set(err, SLUICE_EINVAL, 0, "%s", d.v[0]);
    diag_free(&d);
    return rc;
  }
  /* The one way to turn TLS verification off: said on every run, so
   * nobody forgets a connection that has it. */
  if (connection != NULL &&
      json_is_true(json_object_get(connection, CONN_INSECURE_KEY))) {
    ins->insecure_skip_tls_verify = 1;
    log_msg(SLUICE_LOG_WARN, ins->log_context,
            "%s.%s is true: TLS certificates and host names are NOT "
            "verified for this connection's requests",
            connection_path ? connection_path : "connection",
            CONN_INSECURE_KEY);
  }
  rc = lp->desc.init(ins, &host_table, ins->ctx, err);
  if (rc < 0) {
    if (err->code == 0)
      sluice_error_set(err, rc, 0, "init failed");
    sluice_error_prefix(err, "%s", ins->log_context);
    return rc;
  }
  ins->inited = 1;
  return 0;
}

void instance_destroy(struct sluice_instance *ins)
{
  if (ins->inited)
    ins->desc->fini(ins, ins->ctx);
  ins->inited = 0;
  while (ins->timers != NULL)
    host_timer_stop(ins->timers);
  cfg_allocs_free(&ins->allocs);
  json_decref(ins->state);
  free(ins->ctx);
  free(ins->name);
  free(ins->log_context);
  free(ins->state_path);
  memset(ins, 0, sizeof *ins);
}
