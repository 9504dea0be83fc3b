/* core/metrics.c - Prometheus metrics for `sluice run --metrics ADDR:PORT`.
 *
 * One registry for the process (runs report into it from the loop
 * thread), served as Prometheus text (exposition format 0.0.4) by a
 * small HTTP/1.1 server on the same loop: GET /metrics, one answer a
 * connection, then close.  Label values pass through the secret mask: a
 * connection's rate key holds its client id, which may be a secret. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "http.h"
#include "log.h"
#include "metrics.h"
#include "sluice/buf.h"

#define REQUEST_MAX 8192

struct pipeline_metrics {
  struct pipeline_metrics *next;
  char *name;
  uint64_t runs[RUN_STATUS_COUNT];
  uint64_t rows_read, rows_written, rows_rejected, rows_deleted;
  uint64_t api_calls, bytes_in, bytes_out;
  int64_t last_success_s; /* 0: never */
  int running;
  size_t in_flight;
};

static struct {
  struct pipeline_metrics *pipelines;
  struct http_engine *http;
  uv_tcp_t server;
  int serving;
} reg;

struct conn {
  uv_tcp_t tcp;
  char req[REQUEST_MAX];
  size_t len;
  uv_write_t wr;
  struct sluice_buf out;
};

static struct pipeline_metrics *of(const char *name)
{
  struct pipeline_metrics *p;

  for (p = reg.pipelines; p != NULL; p = p->next)
    if (strcmp(p->name, name) == 0)
      return p;
  if ((p = calloc(1, sizeof *p)) == NULL || (p->name = strdup(name)) == NULL) {
    free(p);
    return NULL;
  }
  p->next = reg.pipelines;
  reg.pipelines = p;
  return p;
}

void metrics_run_started(const char *pipeline)
{
  struct pipeline_metrics *p = of(pipeline);
  if (p != NULL)
    p->running = 1;
}

void metrics_in_flight(const char *pipeline, size_t batches)
{
  struct pipeline_metrics *p = of(pipeline);
  if (p != NULL)
    p->in_flight = batches;
}

void metrics_run_done(const struct run_record *r)
{
  struct pipeline_metrics *p = of(r->pipeline);

  if (p == NULL)
    return;
  p->running = 0;
  p->in_flight = 0;
  if ((unsigned)r->status < RUN_STATUS_COUNT)
    p->runs[r->status]++;
  p->rows_read += r->rows_read;
  p->rows_written += r->rows_written;
  p->rows_rejected += r->rows_rejected;
  p->rows_deleted += r->rows_deleted;
  p->api_calls += r->api_calls;
  p->bytes_in += r->bytes_in;
  p->bytes_out += r->bytes_out;
  if (r->status == RUN_SUCCEEDED || r->status == RUN_REJECTED)
    p->last_success_s = r->end_us / 1000000;
}

/* A label value: masked, with \ " and newlines escaped. */
static void label(struct sluice_buf *b, const char *v)
{
  char masked[512];

  snprintf(masked, sizeof masked, "%s", v);
  log_mask_secrets(masked, sizeof masked);
  sluice_buf_append_str(b, "\"");
  for (const char *s = masked; *s; s++) {
    if (*s == '\\' || *s == '"')
      sluice_buf_printf(b, "\\%c", *s);
    else if (*s == '\n')
      sluice_buf_append_str(b, "\\n");
    else
      sluice_buf_append(b, s, 1);
  }
  sluice_buf_append_str(b, "\"");
}

static void family(struct sluice_buf *b, const char *name, const char *type,
                   const char *help)
{
  sluice_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void budget_line(void *arg, const char *rate_key, int64_t used,
                        int64_t max)
{
  struct sluice_buf *b = arg;

  sluice_buf_append_str(b, "sluice_api_budget_remaining{connection=");
  label(b, rate_key);
  sluice_buf_printf(b, "} %" PRId64 "\n", max > used ? max - used : 0);
}

void metrics_text(struct sluice_buf *b)
{
  static const char *const status[] = {[RUN_SUCCEEDED] = "succeeded",
                                       [RUN_FAILED] = "failed",
                                       [RUN_REJECTED] = "rejected",
                                       [RUN_INTERRUPTED] = "interrupted"};
  struct pipeline_metrics *p;

  family(b, "sluice_runs_total", "counter", "Runs ended, by status.");
  for (p = reg.pipelines; p; p = p->next)
    for (int s = 0; s < RUN_STATUS_COUNT; s++) {
      sluice_buf_append_str(b, "sluice_runs_total{pipeline=");
      label(b, p->name);
      sluice_buf_printf(b, ",status=\"%s\"} %" PRIu64 "\n", status[s],
                        p->runs[s]);
    }
  family(b, "sluice_rows_total", "counter",
         "Rows of ended runs: read, written (committed), rejected, deleted.");
  for (p = reg.pipelines; p; p = p->next) {
    const char *kinds[] = {"read", "written", "rejected", "deleted"};
    uint64_t v[] = {p->rows_read, p->rows_written, p->rows_rejected,
                    p->rows_deleted};
    for (int k = 0; k < 4; k++) {
      sluice_buf_append_str(b, "sluice_rows_total{pipeline=");
      label(b, p->name);
      sluice_buf_printf(b, ",kind=\"%s\"} %" PRIu64 "\n", kinds[k], v[k]);
    }
  }
  family(b, "sluice_api_calls_total", "counter",
         "Requests that count against a service's quota.");
  for (p = reg.pipelines; p; p = p->next) {
    sluice_buf_append_str(b, "sluice_api_calls_total{pipeline=");
    label(b, p->name);
    sluice_buf_printf(b, "} %" PRIu64 "\n", p->api_calls);
  }
  family(b, "sluice_last_success_timestamp_seconds", "gauge",
         "When the pipeline's last successful run ended (0: never).");
  for (p = reg.pipelines; p; p = p->next) {
    sluice_buf_append_str(b, "sluice_last_success_timestamp_seconds{pipeline=");
    label(b, p->name);
    sluice_buf_printf(b, "} %" PRId64 "\n", p->last_success_s);
  }
  family(b, "sluice_running", "gauge", "1 while the pipeline runs.");
  for (p = reg.pipelines; p; p = p->next) {
    sluice_buf_append_str(b, "sluice_running{pipeline=");
    label(b, p->name);
    sluice_buf_printf(b, "} %d\n", p->running);
  }
  family(b, "sluice_batches_in_flight", "gauge",
         "Batches between the source and the destination.");
  for (p = reg.pipelines; p; p = p->next) {
    sluice_buf_append_str(b, "sluice_batches_in_flight{pipeline=");
    label(b, p->name);
    sluice_buf_printf(b, "} %zu\n", p->in_flight);
  }
  if (reg.http != NULL) {
    family(b, "sluice_http_retries_total", "counter",
           "HTTP requests sent again after a failure.");
    sluice_buf_printf(b, "sluice_http_retries_total %" PRIu64 "\n",
                      http_retries(reg.http));
    family(b, "sluice_api_budget_remaining", "gauge",
           "Requests left in a connection's daily API budget.");
    http_budget_foreach(reg.http, budget_line, b);
  }
}

/* --- the server ---------------------------------------------------------- */

static void on_closed(uv_handle_t *h)
{
  struct conn *c = h->data;
  sluice_buf_free(&c->out);
  free(c);
}

static void on_written(uv_write_t *w, int status)
{
  struct conn *c = w->data;
  (void)status;
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void respond(struct conn *c)
{
  struct sluice_buf body = SLUICE_BUF_INIT;
  const char *st = "200 OK";
  uv_buf_t buf;

  uv_read_stop((uv_stream_t *)&c->tcp);
  if (strncmp(c->req, "GET /metrics ", 13) == 0 ||
      strncmp(c->req, "GET /metrics?", 13) == 0)
    metrics_text(&body);
  else if (strncmp(c->req, "GET ", 4) == 0) {
    st = "404 Not Found";
    sluice_buf_append_str(&body, "see /metrics\n");
  } else {
    st = "405 Method Not Allowed";
    sluice_buf_append_str(&body, "GET /metrics\n");
  }
  sluice_buf_printf(&c->out,
                    "HTTP/1.1 %s\r\nContent-Type: text/plain; "
                    "version=0.0.4; charset=utf-8\r\nContent-Length: "
                    "%zu\r\nConnection: close\r\n\r\n",
                    st, body.len);
  sluice_buf_append(&c->out, body.data ? body.data : "", body.len);
  sluice_buf_free(&body);
  buf = uv_buf_init(c->out.data, (unsigned)c->out.len);
  c->wr.data = c;
  if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &buf, 1, on_written) < 0)
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf)
{
  struct conn *c = h->data;
  (void)want;
  *buf = uv_buf_init(c->req + c->len, (unsigned)(REQUEST_MAX - 1 - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  struct conn *c = s->data;
  (void)buf;
  if (n < 0) {
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    return;
  }
  c->len += (size_t)n;
  c->req[c->len] = '\0';
  /* The request line is all that matters; a request too big is answered
   * as it stands. */
  if (strstr(c->req, "\r\n\r\n") != NULL || c->len >= REQUEST_MAX - 1)
    respond(c);
}

static void on_connection(uv_stream_t *server, int status)
{
  struct conn *c;

  if (status < 0 || (c = calloc(1, sizeof *c)) == NULL)
    return;
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

int metrics_serve(uv_loop_t *loop, const char *addr, struct http_engine *e,
                  struct sluice_error *err)
{
  char host[64];
  const char *colon = strrchr(addr, ':');
  struct sockaddr_storage sa;
  long port;
  char *end;
  int rc;

  if (colon == NULL || (size_t)(colon - addr) >= sizeof host ||
      (port = strtol(colon + 1, &end, 10)) <= 0 || port > 65535 || *end)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "--metrics %s: expected ADDRESS:PORT "
                            "(127.0.0.1:9464)",
                            addr);
  snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
  if (host[0] == '[' && host[strlen(host) - 1] == ']') {
    memmove(host, host + 1, strlen(host));
    host[strlen(host) - 1] = '\0';
  }
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&sa) != 0 &&
      uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&sa) != 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "--metrics %s: '%s' is not an IP address", addr,
                            host);
  uv_tcp_init(loop, &reg.server);
  if ((rc = uv_tcp_bind(&reg.server, (struct sockaddr *)&sa, 0)) < 0 ||
      (rc = uv_listen((uv_stream_t *)&reg.server, 16, on_connection)) < 0) {
    uv_close((uv_handle_t *)&reg.server, NULL);
    return sluice_error_set(err, SLUICE_EIO, 0, "--metrics %s: %s", addr,
                            uv_strerror(rc));
  }
  reg.serving = 1;
  reg.http = e;
  log_msg(SLUICE_LOG_INFO, NULL, "metrics on http://%s/metrics", addr);
  return 0;
}

void metrics_close(void)
{
  struct pipeline_metrics *p, *next;

  if (reg.serving && !uv_is_closing((uv_handle_t *)&reg.server))
    uv_close((uv_handle_t *)&reg.server, NULL);
  reg.serving = 0;
  reg.http = NULL;
  for (p = reg.pipelines; p != NULL; p = next) {
    next = p->next;
    free(p->name);
    free(p);
  }
  reg.pipelines = NULL;
}
