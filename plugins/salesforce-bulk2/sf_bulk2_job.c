/* plugins/salesforce-bulk2/sf_bulk2_job.c - Bulk API 2.0 jobs, query and
 * ingest alike (contract sections 4.1-4.4 and 5.1-5.4): create, info,
 * state changes, and polling to a terminal state.
 *
 * Polling backs off: 250 ms, doubling, up to poll_max (Estuary starts at
 * 0.2 s and doubles; simple-salesforce and Airbyte cap near 2 s).  Every
 * poll is an API call and counts against the daily budget (whether the
 * service counts it is unconfirmed, section 8: assume it does), so the cap
 * is the user's to raise for big jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_bulk2.h"

#define B2_POLL_FIRST_MS 250

static int job_path(struct sf_ctx *c, const char *kind, const char *id,
                    struct sluice_buf *out)
{
  int rc = sf_api_base(c, out);

  if (rc == 0)
    rc = sluice_buf_printf(out, "/jobs/%s%s%s", kind, id ? "/" : "",
                           id ? id : "");
  return rc;
}

static const struct sluice_http_header b2_json_ctype = {"Content-Type",
                                                        "application/json"};

int b2_job_create(struct sf_ctx *c, const char *kind, const char *body,
                  sf_api_cb cb, void *arg, struct sf_api_call **out,
                  struct sluice_error *err)
{
  struct sluice_buf path = SLUICE_BUF_INIT;
  struct sf_api_opts o = {0};
  int rc = job_path(c, kind, NULL, &path);

  o.copy_body = 1;
  /* Not retry-safe: a resent create makes a second job. */
  if (rc == 0)
    rc = sf_api_request_opts(c, "POST", sluice_buf_cstr(&path), body,
                             strlen(body), 0, &b2_json_ctype, 1, &o, cb, arg,
                             out, err);
  else
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  sluice_buf_free(&path);
  return rc;
}

int b2_job_get(struct sf_ctx *c, const char *kind, const char *id, sf_api_cb cb,
               void *arg, struct sf_api_call **out, struct sluice_error *err)
{
  struct sluice_buf path = SLUICE_BUF_INIT;
  int rc = job_path(c, kind, id, &path);

  if (rc == 0)
    rc = sf_api_get(c, sluice_buf_cstr(&path), NULL, 0, cb, arg, out, err);
  else
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  sluice_buf_free(&path);
  return rc;
}

int b2_job_set_state(struct sf_ctx *c, const char *kind, const char *id,
                     const char *state, sf_api_cb cb, void *arg,
                     struct sf_api_call **out, struct sluice_error *err)
{
  struct sluice_buf path = SLUICE_BUF_INIT;
  struct sf_api_opts o = {0};
  char body[64];
  int rc = job_path(c, kind, id, &path);

  snprintf(body, sizeof body, "{\"state\":\"%s\"}", state);
  o.copy_body = 1;
  /* Setting the same state twice is harmless: retry-safe. */
  if (rc == 0)
    rc = sf_api_request_opts(c, "PATCH", sluice_buf_cstr(&path), body,
                             strlen(body), SLUICE_HTTP_RETRY_SAFE,
                             &b2_json_ctype, 1, &o, cb, arg, out, err);
  else
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  sluice_buf_free(&path);
  return rc;
}

const char *b2_job_error_message(json_t *info)
{
  const char *m = json_string_value(json_object_get(info, "errorMessage"));

  return m && *m ? m : "(the job gives no errorMessage)";
}

/* --- polling --------------------------------------------------------------
 */

struct b2_job_poll {
  struct sf_ctx *c;
  char kind[8];
  char *id;
  int64_t wait_ms, max_ms, deadline_ms, waited_ms;
  sf_api_cb cb;
  void *arg;
  struct sluice_timer *timer;
  struct sf_api_call *call;
};

static void poll_free(struct b2_job_poll *p)
{
  if (p->timer != NULL)
    p->c->host->timer_stop(p->timer);
  free(p->id);
  free(p);
}

static void poll_arm(struct b2_job_poll *p);

static int terminal(const char *state)
{
  return state != NULL &&
         (strcmp(state, "JobComplete") == 0 || strcmp(state, "Failed") == 0 ||
          strcmp(state, "Aborted") == 0);
}

static void on_poll(void *arg, int status, json_t *body,
                    const struct sluice_error *err)
{
  struct b2_job_poll *p = arg;
  const char *state = json_string_value(json_object_get(body, "state"));

  p->call = NULL;
  if (status < 0 || terminal(state)) {
    p->cb(p->arg, status, body, err);
    poll_free(p);
    return;
  }
  SLUICE_LOG_D(p->c->host, p->c->ins, "job %s: %s", p->id,
               state ? state : "(no state)");
  poll_arm(p);
}

static void on_poll_timer(void *arg)
{
  struct b2_job_poll *p = arg;
  struct sluice_error err = {0};
  int rc;

  p->c->host->timer_stop(p->timer);
  p->timer = NULL;
  if ((rc = b2_job_get(p->c, p->kind, p->id, on_poll, p, &p->call, &err)) < 0) {
    p->cb(p->arg, rc, NULL, &err);
    poll_free(p);
  }
}

static void poll_arm(struct b2_job_poll *p)
{
  struct sluice_error err = {0};

  if (p->deadline_ms > 0 && p->waited_ms >= p->deadline_ms) {
    sluice_error_set(&err, SLUICE_ETIMEDOUT, 1,
                     "%s job %s: not finished after %lld s of polling "
                     "(job_timeout)",
                     p->kind, p->id, (long long)(p->waited_ms / 1000));
    p->cb(p->arg, SLUICE_ETIMEDOUT, NULL, &err);
    poll_free(p);
    return;
  }
  p->timer = p->c->host->timer_start(p->c->ins, (uint64_t)p->wait_ms, 0,
                                     on_poll_timer, p);
  if (p->timer == NULL) {
    sluice_error_set(&err, SLUICE_ENOMEM, 0, "out of memory");
    p->cb(p->arg, SLUICE_ENOMEM, NULL, &err);
    poll_free(p);
    return;
  }
  p->waited_ms += p->wait_ms;
  p->wait_ms *= 2;
  if (p->wait_ms > p->max_ms)
    p->wait_ms = p->max_ms;
}

int b2_job_poll_start(struct sf_ctx *c, const char *kind, const char *id,
                      int64_t max_ms, int64_t timeout_ms, sf_api_cb cb,
                      void *arg, struct b2_job_poll **out,
                      struct sluice_error *err)
{
  struct b2_job_poll *p = calloc(1, sizeof *p);

  if (p == NULL || (p->id = strdup(id)) == NULL) {
    free(p);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  p->c = c;
  snprintf(p->kind, sizeof p->kind, "%s", kind);
  p->max_ms = max_ms > B2_POLL_FIRST_MS ? max_ms : B2_POLL_FIRST_MS;
  p->wait_ms = B2_POLL_FIRST_MS;
  p->deadline_ms = timeout_ms;
  p->cb = cb;
  p->arg = arg;
  p->timer =
      c->host->timer_start(c->ins, (uint64_t)p->wait_ms, 0, on_poll_timer, p);
  if (p->timer == NULL) {
    poll_free(p);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  p->waited_ms = p->wait_ms;
  p->wait_ms *= 2;
  if (p->wait_ms > p->max_ms)
    p->wait_ms = p->max_ms;
  *out = p;
  return 0;
}

void b2_job_poll_cancel(struct b2_job_poll *p)
{
  if (p == NULL)
    return;
  if (p->call != NULL)
    sf_api_cancel(p->call);
  poll_free(p);
}
