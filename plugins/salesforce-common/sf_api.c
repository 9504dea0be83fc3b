/* plugins/salesforce-rest/sf_api.c - one authenticated REST request.
 *
 * Every call: the budget guard before sending (from the last
 * Sforce-Limit-Info any pipeline on the connection saw, kept by the host),
 * Authorization: Bearer, the connection's rate
 * key (one AIMD limiter per login_url + client_id), one count of
 * SLUICE_COUNT_API_CALLS per request answered, the usage header read from
 * every answer, a single re-login and resend on 401 INVALID_SESSION_ID,
 * and REST error bodies ([{"message","errorCode"}], contract section 0)
 * turned into "errorCode: message". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf.h"

#define SF_API_MAX_EXTRA 4

struct sf_api_call {
  struct sf_ctx *c; /* NULL once cancelled */
  const char *method;
  const void *body; /* borrowed until cb */
  size_t body_len;
  uint32_t flags;
  char *path;
  struct sluice_http_header extra[SF_API_MAX_EXTRA];
  size_t nextra;
  sf_api_cb cb;
  void *arg;
  struct sf_api_opts opts; /* accept, body_file, raw, streaming */
  char *body_file;
  char *body_copy; /* opts.copy_body */
  int relogged;    /* the one re-login after INVALID_SESSION_ID is spent */
  int logging_in;
  struct sluice_http_call *http;
};

static void call_free(struct sf_api_call *a)
{
  size_t i;

  if (a == NULL)
    return;
  for (i = 0; i < a->nextra; i++) {
    free((char *)a->extra[i].name);
    free((char *)a->extra[i].value);
  }
  free(a->path);
  free(a->body_file);
  free(a->body_copy);
  free(a);
}

int sf_api_base(struct sf_ctx *c, struct sluice_buf *out)
{
  return sluice_buf_printf(out, "/services/data/v%s", c->api_version);
}

/* "api-usage=N/M" (contract 2.3: tap-salesforce's ^api-usage=(\d+)/(\d+)$;
 * other entries, comma-separated, may come beside it). */
static void read_usage(struct sf_ctx *c, const struct sluice_http_response *r)
{
  const char *v = c->host->http_header(r, "Sforce-Limit-Info");
  const char *p;
  long long used, max;

  if (v == NULL || (p = strstr(v, "api-usage=")) == NULL)
    return;
  if (sscanf(p + 10, "%lld/%lld", &used, &max) == 2 && max > 0 && used >= 0)
    c->host->budget_report(c->ins, c->rate_key, used, max);
}

/* The budget is the connection's (rate_key), shared with every pipeline
 * of the process on it: what they spent counts here too. */
static int budget_check(struct sf_ctx *c, struct sluice_error *err)
{
  int64_t used, max;

  if (c->max_api_usage_percent <= 0 ||
      c->host->budget_get(c->ins, c->rate_key, &used, &max) < 0)
    return 0;
  if (used * 100 < c->max_api_usage_percent * max)
    return 0;
  return sluice_error_set(
      err, SLUICE_ELIMIT, 0,
      "API budget: %" PRId64 " of %" PRId64 " daily requests used (%" PRId64
      "%%), max_api_usage_percent is %" PRId64,
      used, max, used * 100 / max, c->max_api_usage_percent);
}

/* Copies s[0, n) with control characters as '?', at most 300 bytes. */
static void clean_text(const char *s, size_t n, char *out, size_t outlen)
{
  size_t i, j = 0;

  for (i = 0; i < n && j + 1 < outlen && j < 300; i++)
    out[j++] = ((unsigned char)s[i] < 0x20) ? ' ' : s[i];
  out[j] = '\0';
}

int sf_api_error(struct sf_ctx *c, long http_status, const char *body,
                 size_t len, const char *what, struct sluice_error *err)
{
  json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
  json_t *e = json_is_array(j) ? json_array_get(j, 0) : j;
  const char *code = json_string_value(json_object_get(e, "errorCode"));
  const char *msg = json_string_value(json_object_get(e, "message"));
  char text[320];
  int sc, retryable = 0;

  if (code == NULL) /* an OAuth-style or unknown body */
    code = json_string_value(json_object_get(e, "error"));
  if (msg == NULL)
    msg = json_string_value(json_object_get(e, "error_description"));
  switch (http_status) {
  case 401: sc = SLUICE_EAUTH; break;
  case 403:
    sc = (code && strcmp(code, "REQUEST_LIMIT_EXCEEDED") == 0) ? SLUICE_ELIMIT
                                                               : SLUICE_EAUTH;
    break;
  case 404: sc = SLUICE_ENOTFOUND; break;
  case 400: sc = SLUICE_EINVAL; break;
  default:
    sc = SLUICE_EPROTO;
    retryable = http_status >= 500 || http_status == 429 ||
                http_status == 420 || http_status == 408;
  }
  if (code && strcmp(code, "REQUEST_LIMIT_EXCEEDED") == 0)
    c->host->http_throttle(c->ins, c->rate_key);
  if (code != NULL) {
    clean_text(msg ? msg : "", msg ? strlen(msg) : 0, text, sizeof text);
    sluice_error_set(err, sc, retryable, "%s: HTTP %ld %s: %s", what,
                     http_status, code, text);
  } else {
    clean_text(body ? body : "", body ? (len < 200 ? len : 200) : 0, text,
               sizeof text);
    sluice_error_set(err, sc, retryable, "%s: HTTP %ld%s%s", what, http_status,
                     *text ? ": " : "", text);
  }
  json_decref(j);
  return sc;
}

static int call_send(struct sf_api_call *a, struct sluice_error *err);

/* The caller sees the headers and body of a 2xx answer only: a 401 is
 * answered by a re-login and a resend, other errors by cb. */
static int on_api_response(void *arg, const struct sluice_http_response *r)
{
  struct sf_api_call *a = arg;

  if (a->c == NULL)
    return SLUICE_ECANCELED;
  if (r->status < 200 || r->status > 299 || a->opts.on_response == NULL)
    return 0;
  return a->opts.on_response(a->arg, r);
}

static int on_api_data(void *arg, const char *data, size_t len)
{
  struct sf_api_call *a = arg;

  if (a->c == NULL)
    return SLUICE_ECANCELED;
  struct sf_ctx *c = a->c;
  int rc = a->opts.on_data(a->arg, data, len);

  if (rc == 0) /* a paused piece comes again: counted then */
    c->host->count(c->ins, SLUICE_COUNT_BYTES_IN, (int64_t)len);
  return rc;
}

static void call_finish(struct sf_api_call *a, int status, json_t *body,
                        const struct sluice_error *err)
{
  if (a->c != NULL)
    a->cb(a->arg, status, body, err);
  call_free(a);
}

static void on_relogin(void *arg, int status, const struct sluice_error *lerr)
{
  struct sf_api_call *a = arg;
  struct sluice_error err = {0};
  int rc;

  a->logging_in = 0;
  if (a->c == NULL) {
    call_free(a);
    return;
  }
  if (status < 0) {
    err = *lerr;
    if (a->relogged)
      sluice_error_prefix(&err, "re-login after INVALID_SESSION_ID failed");
    call_finish(a, status, NULL, &err);
    return;
  }
  if ((rc = call_send(a, &err)) < 0)
    call_finish(a, rc, NULL, &err);
}

static int is_invalid_session(const struct sluice_http_response *r)
{
  static const char code[] = "INVALID_SESSION_ID";
  size_t n = sizeof code - 1, i;

  if (r->status != 401 || r->body == NULL)
    return 0;
  for (i = 0; i + n <= r->body_len; i++)
    if (memcmp(r->body + i, code, n) == 0)
      return 1;
  return 0;
}

static void on_api_done(void *arg, int status,
                        const struct sluice_http_response *resp,
                        const struct sluice_error *herr)
{
  struct sf_api_call *a = arg;
  struct sf_ctx *c = a->c;
  struct sluice_error err = {0};
  json_error_t jerr;
  json_t *j;
  int rc;

  a->http = NULL;
  if (c == NULL) {
    call_free(a);
    return;
  }
  if (status < 0) {
    call_finish(a, status, NULL, herr);
    return;
  }
  c->host->count(c->ins, SLUICE_COUNT_API_CALLS, 1);
  c->host->count(c->ins, SLUICE_COUNT_BYTES_IN, (int64_t)resp->body_len);
  read_usage(c, resp);
  if (is_invalid_session(resp)) {
    if (a->relogged) {
      sf_api_error(c, resp->status, resp->body, resp->body_len, a->path, &err);
      sluice_error_prefix(&err, "the session was refused again after a "
                                "fresh login");
      call_finish(a, SLUICE_EAUTH, NULL, &err);
      return;
    }
    SLUICE_LOG_I(c->host, c->ins,
                 "session expired (INVALID_SESSION_ID): logging in again");
    a->relogged = 1;
    a->logging_in = 1;
    if ((rc = sf_auth_login(c, on_relogin, a, &err)) < 0) {
      a->logging_in = 0;
      call_finish(a, rc, NULL, &err);
    }
    return;
  }
  if (resp->status < 200 || resp->status > 299) {
    /* Named by its path without the query: that can be 200 record ids. */
    char what[256];
    snprintf(what, sizeof what, "%s %.*s", a->method,
             (int)strcspn(a->path, "?"), a->path);
    rc = sf_api_error(c, resp->status, resp->body, resp->body_len, what, &err);
    call_finish(a, rc, NULL, &err);
    return;
  }
  if (a->opts.raw) { /* CSV streamed through on_data, or an empty 201 */
    call_finish(a, 0, NULL, NULL);
    return;
  }
  j = json_loadb(resp->body ? resp->body : "", resp->body_len, 0, &jerr);
  if (j == NULL) {
    sluice_error_set(&err, SLUICE_EPROTO, 1,
                     "%s: the answer is not JSON (byte %d: %s)", a->path,
                     jerr.position, jerr.text);
    call_finish(a, SLUICE_EPROTO, NULL, &err);
    return;
  }
  call_finish(a, 0, j, NULL);
  json_decref(j);
}

static int call_send(struct sf_api_call *a, struct sluice_error *err)
{
  struct sf_ctx *c = a->c;
  struct sluice_http_request req;
  struct sluice_http_header h[2 + SF_API_MAX_EXTRA];
  struct sluice_buf url = SLUICE_BUF_INIT;
  size_t i;
  int rc;

  if ((rc = budget_check(c, err)) < 0)
    return rc;
  if (c->token.access_token == NULL) { /* first call: log in first */
    a->logging_in = 1;
    rc = sf_auth_login(c, on_relogin, a, err);
    if (rc < 0)
      a->logging_in = 0;
    return rc;
  }
  if (sluice_buf_printf(&url, "%s%s", c->token.instance_url, a->path) < 0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  h[0].name = "Authorization";
  h[0].value = sluice_buf_cstr(&c->auth_header);
  h[1].name = "Accept";
  h[1].value = a->opts.accept ? a->opts.accept : "application/json";
  for (i = 0; i < a->nextra; i++)
    h[2 + i] = a->extra[i];
  memset(&req, 0, sizeof req); /* SLUICE_HTTP_REQUEST_INIT trips
                                   -Wmissing-field-initializers */
  req.struct_size = sizeof req;
  req.method = a->method;
  req.body = a->body;
  req.body_len = a->body_len;
  req.flags = a->flags;
  req.url = sluice_buf_cstr(&url);
  req.headers = h;
  req.nheaders = 2 + a->nextra;
  req.ca_file = c->ca_path;
  req.rate_key = c->rate_key;
  req.timeout_ms = 15u * 60 * 1000; /* REST calls time out at 10 min */
  req.max_buffered = 256u * 1024 * 1024;
  req.body_file = a->body_file;
  if (a->opts.on_response != NULL || a->opts.on_data != NULL)
    req.on_response = on_api_response;
  if (a->opts.on_data != NULL) {
    req.on_data = on_api_data;
    /* A paused transfer (backpressure) may rest for as long as the
     * destination needs; the whole-exchange limit would cut it. */
    req.timeout_ms = 0;
    req.stall_ms = 30u * 60 * 1000;
  }
  req.on_done = on_api_done;
  req.arg = a;
  rc = c->host->http_request(c->ins, &req, &a->http, err);
  sluice_buf_free(&url);
  return rc;
}

int sf_api_request(struct sf_ctx *c, const char *method, const char *path,
                   const void *body, size_t body_len, uint32_t flags,
                   const struct sluice_http_header *extra_headers,
                   size_t nextra, sf_api_cb cb, void *arg,
                   struct sf_api_call **out, struct sluice_error *err)
{
  return sf_api_request_opts(c, method, path, body, body_len, flags,
                             extra_headers, nextra, NULL, cb, arg, out, err);
}

int sf_api_request_opts(struct sf_ctx *c, const char *method, const char *path,
                        const void *body, size_t body_len, uint32_t flags,
                        const struct sluice_http_header *extra_headers,
                        size_t nextra, const struct sf_api_opts *opts,
                        sf_api_cb cb, void *arg, struct sf_api_call **out,
                        struct sluice_error *err)
{
  struct sf_api_call *a;
  size_t i;
  int rc;

  if (nextra > SF_API_MAX_EXTRA)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "too many headers");
  if ((rc = budget_check(c, err)) < 0)
    return rc;
  a = calloc(1, sizeof *a);
  if (a == NULL || (a->path = strdup(path)) == NULL) {
    free(a);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  a->c = c;
  if (opts != NULL) {
    a->opts = *opts;
    if (opts->body_file != NULL &&
        (a->body_file = strdup(opts->body_file)) == NULL) {
      call_free(a);
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    }
  }
  a->method = method;
  a->body = body;
  a->body_len = body_len;
  if (opts != NULL && opts->copy_body && body != NULL) {
    if ((a->body_copy = malloc(body_len ? body_len : 1)) == NULL) {
      call_free(a);
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    }
    memcpy(a->body_copy, body, body_len);
    a->body = a->body_copy;
  }
  a->flags = flags;
  a->cb = cb;
  a->arg = arg;
  for (i = 0; i < nextra; i++) {
    a->extra[i].name = strdup(extra_headers[i].name);
    a->extra[i].value = strdup(extra_headers[i].value);
    a->nextra++;
    if (!a->extra[i].name || !a->extra[i].value) {
      call_free(a);
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    }
  }
  if ((rc = call_send(a, err)) < 0) {
    call_free(a);
    return rc;
  }
  if (out != NULL)
    *out = a;
  return 0;
}

int sf_api_get(struct sf_ctx *c, const char *path,
               const struct sluice_http_header *extra_headers, size_t nextra,
               sf_api_cb cb, void *arg, struct sf_api_call **out,
               struct sluice_error *err)
{
  return sf_api_request(c, "GET", path, NULL, 0, 0, extra_headers, nextra, cb,
                        arg, out, err);
}

void sf_api_resume(struct sf_api_call *a)
{
  if (a != NULL && a->c != NULL && a->http != NULL)
    a->c->host->http_resume(a->http);
}

void sf_api_cancel(struct sf_api_call *a)
{
  struct sf_ctx *c;

  if (a == NULL || (c = a->c) == NULL)
    return;
  a->c = NULL;
  if (a->http != NULL) {
    c->host->http_cancel(a->http); /* on_api_done frees it */
  } else if (a->logging_in) {
    sf_auth_cancel(c); /* on_relogin never runs: free it here */
    call_free(a);
  }
}
