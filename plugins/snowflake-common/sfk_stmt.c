/* plugins/snowflake-common/sfk_stmt.c - one statement through the SQL API v2
 * (contract section 2).
 *
 * POST /api/v2/statements?requestId=<uuid>&retry=true.  The request id
 * makes the POST safe to send again: the service does not run a statement
 * twice for one id (2.3), so the host's retries on resets and 5xx (and
 * 429 with Retry-After) cannot double a MERGE.  A 202 (asked for or not:
 * the service answers 202 after 45 s) is polled with GET
 * /api/v2/statements/<handle>, 0.25 s doubling to 5 s.  A 401 390144 gets
 * one fresh JWT and one resend.  Every other failure becomes one line:
 * what was being done, Snowflake's code and SQL state, its message, and
 * for the warehouse errors what to do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfk.h"

#define SFK_POLL_FIRST_MS 250
#define SFK_POLL_MAX_MS 5000

struct sfk_call {
  struct sfk_ctx *c; /* NULL once cancelled */
  char *what;
  char *body; /* the POST body; NULL for a GET */
  size_t body_len;
  char *get_path; /* the GET's path and query; for a POST, once polling */
  int resigned;   /* the one fresh JWT after 390144 is spent */
  unsigned poll_ms;
  struct sluice_http_call *http;
  struct sluice_timer *timer;
  sfk_stmt_cb cb;
  void *arg;
};

static void call_free(struct sfk_call *k)
{
  free(k->what);
  free(k->body);
  free(k->get_path);
  free(k);
}

static void call_finish(struct sfk_call *k, int status, json_t *body,
                        const struct sluice_error *err)
{
  if (k->c != NULL && k->timer != NULL) {
    k->c->host->timer_stop(k->timer);
    k->timer = NULL;
  }
  if (k->c != NULL)
    k->cb(k->arg, status, body, err);
  call_free(k);
}

static int send_request(struct sfk_call *k, struct sluice_error *err);

/* Copies s with control characters as spaces, at most 400 bytes. */
static void clean_text(const char *s, char *out, size_t outlen)
{
  size_t j = 0;

  for (; s && *s && j + 1 < outlen && j < 400; s++)
    out[j++] = ((unsigned char)*s < 0x20) ? ' ' : *s;
  out[j] = '\0';
}

/* The failure body {"code","message","sqlState"} into err. */
static int stmt_error(struct sfk_call *k, long status, json_t *j,
                      const char *raw, size_t rawlen, struct sluice_error *err)
{
  struct sfk_ctx *c = k->c;
  const char *code = json_string_value(json_object_get(j, "code"));
  const char *msg = json_string_value(json_object_get(j, "message"));
  const char *state = json_string_value(json_object_get(j, "sqlState"));
  char text[420];
  int sc, retryable = 0;

  switch (status) {
  case 401:
  case 403: sc = SLUICE_EAUTH; break;
  case 404: sc = SLUICE_ENOTFOUND; break;
  case 408: sc = SLUICE_ETIMEDOUT; break;
  case 429:
    sc = SLUICE_ELIMIT;
    retryable = 1;
    break;
  default:
    sc = status >= 500 ? SLUICE_EPROTO : SLUICE_EINVAL;
    retryable = status >= 500;
  }
  if (code == NULL) {
    char snippet[120];
    snprintf(snippet, sizeof snippet, "%.*s",
             (int)(rawlen < 100 ? rawlen : 100), raw ? raw : "");
    clean_text(snippet, text, sizeof text);
    return sluice_error_set(err, sc, retryable, "%s: HTTP %ld%s%s", k->what,
                            status, *text ? ": " : "", text);
  }
  clean_text(msg, text, sizeof text);
  if (strcmp(code, "000606") == 0)
    return sluice_error_set(
        err, sc, 0,
        "%s: no usable warehouse: \"%s\" is suspended (and cannot resume), "
        "missing, or not granted to role \"%s\"; resume it (ALTER WAREHOUSE "
        "... RESUME), or set \"warehouse\" in the connection (Snowflake "
        "000606: %s)",
        k->what, c->warehouse ? c->warehouse : "(none set)",
        c->role ? c->role : "(default)", text);
  if (strcmp(code, "390144") == 0)
    return sluice_error_set(
        err, SLUICE_EAUTH, 0,
        "%s: Snowflake refused the key-pair JWT (390144): check that account "
        "\"%s\" and user \"%s\" are right and that the user's "
        "RSA_PUBLIC_KEY_FP "
        "is %s",
        k->what, c->account, c->user ? c->user : "",
        sluice_buf_cstr(&c->fingerprint));
  return sluice_error_set(err, sc, retryable, "%s: Snowflake %s%s%s%s: %s",
                          k->what, code, state ? " (SQL state " : "",
                          state ? state : "", state ? ")" : "", text);
}

static void on_poll_timer(void *arg)
{
  struct sfk_call *k = arg;
  struct sluice_error err = {0};
  int rc;

  k->c->host->timer_stop(k->timer);
  k->timer = NULL;
  if ((rc = send_request(k, &err)) < 0)
    call_finish(k, rc, NULL, &err);
}

/* A 202: poll the handle. */
static int poll_later(struct sfk_call *k, json_t *j, struct sluice_error *err)
{
  const char *h = json_string_value(json_object_get(j, "statementHandle"));
  size_t i;

  if (k->get_path == NULL) {
    char path[200];
    if (h == NULL || strlen(h) > 100)
      return sluice_error_set(err, SLUICE_EPROTO, 0,
                              "%s: a 202 answer without a statementHandle",
                              k->what);
    for (i = 0; h[i]; i++)
      if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'z') ||
            (h[i] >= 'A' && h[i] <= 'Z') || h[i] == '-'))
        return sluice_error_set(err, SLUICE_EPROTO, 0,
                                "%s: a statementHandle that is not one",
                                k->what);
    snprintf(path, sizeof path, "/api/v2/statements/%s", h);
    if ((k->get_path = strdup(path)) == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    free(k->body);
    k->body = NULL;
    SLUICE_LOG_D(k->c->host, k->c->ins, "%s: running as %s", k->what, h);
  }
  k->poll_ms = k->poll_ms ? k->poll_ms * 2 : SFK_POLL_FIRST_MS;
  if (k->poll_ms > SFK_POLL_MAX_MS)
    k->poll_ms = SFK_POLL_MAX_MS;
  k->timer =
      k->c->host->timer_start(k->c->ins, k->poll_ms, 0, on_poll_timer, k);
  if (k->timer == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  return 0;
}

static void on_http_done(void *arg, int status,
                         const struct sluice_http_response *resp,
                         const struct sluice_error *herr)
{
  struct sfk_call *k = arg;
  struct sfk_ctx *c = k->c;
  struct sluice_error err = {0};
  json_error_t jerr;
  json_t *j;
  int rc;

  k->http = NULL;
  if (c == NULL) {
    call_free(k);
    return;
  }
  if (status < 0) {
    err = *herr;
    sluice_error_prefix(&err, "%s", k->what);
    call_finish(k, status, NULL, &err);
    return;
  }
  c->host->count(c->ins, SLUICE_COUNT_API_CALLS, 1);
  c->host->count(c->ins, SLUICE_COUNT_BYTES_IN, (int64_t)resp->body_len);
  j = json_loadb(resp->body ? resp->body : "", resp->body_len, 0, &jerr);
  if (resp->status == 200 && j != NULL) {
    call_finish(k, 0, j, NULL);
    json_decref(j);
    return;
  }
  if (resp->status == 202 && j != NULL) {
    rc = poll_later(k, j, &err);
    json_decref(j);
    if (rc < 0)
      call_finish(k, rc, NULL, &err);
    return;
  }
  if (resp->status == 401 && !k->resigned &&
      strcmp(sfk_auth_token_type(c), "KEYPAIR_JWT") == 0 &&
      json_is_string(json_object_get(j, "code")) &&
      strcmp(json_string_value(json_object_get(j, "code")), "390144") == 0) {
    json_decref(j);
    SLUICE_LOG_I(c->host, c->ins, "JWT refused (390144): signing a new one");
    k->resigned = 1;
    if (sfk_auth_header(c, 1, &err) == NULL || (rc = send_request(k, &err)) < 0)
      call_finish(k, err.code ? err.code : SLUICE_EAUTH, NULL, &err);
    return;
  }
  if (resp->status == 200 || resp->status == 202) /* not JSON */
    rc = sluice_error_set(&err, SLUICE_EPROTO, 1,
                          "%s: the answer is not JSON (byte %d: %s)", k->what,
                          jerr.position, jerr.text);
  else
    rc = stmt_error(k, resp->status, j, resp->body, resp->body_len, &err);
  json_decref(j);
  call_finish(k, rc, NULL, &err);
}

/* A version 4 UUID (random), for requestId. */
static void uuid4(char out[37])
{
  unsigned char r[16];
  static const char hex[] = "0123456789abcdef";
  size_t i, j = 0;

  sluice_random_bytes(r, sizeof r);
  r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
  r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
  for (i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out[j++] = '-';
    out[j++] = hex[r[i] >> 4];
    out[j++] = hex[r[i] & 15];
  }
  out[j] = '\0';
}

static int send_request(struct sfk_call *k, struct sluice_error *err)
{
  struct sfk_ctx *c = k->c;
  struct sluice_http_request req;
  struct sluice_http_header h[4];
  struct sluice_buf url = SLUICE_BUF_INIT;
  const char *auth = sfk_auth_header(c, 0, err);
  int rc;

  if (auth == NULL)
    return err->code ? err->code : SLUICE_EAUTH;
  if (k->get_path != NULL) {
    rc = sluice_buf_printf(&url, "%s%s", c->base_url, k->get_path);
  } else {
    char id[37];
    uuid4(id);
    rc = sluice_buf_printf(&url, "%s/api/v2/statements?requestId=%s&retry=true",
                           c->base_url, id);
  }
  if (rc < 0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  h[0].name = "Authorization";
  h[0].value = auth;
  h[1].name = "X-Snowflake-Authorization-Token-Type";
  h[1].value = sfk_auth_token_type(c);
  h[2].name = "Accept";
  h[2].value = "application/json";
  h[3].name = "Content-Type";
  h[3].value = "application/json";
  memset(&req, 0, sizeof req);
  req.struct_size = sizeof req;
  req.method = k->get_path ? "GET" : "POST";
  req.url = sluice_buf_cstr(&url);
  req.headers = h;
  req.nheaders = k->get_path ? 3 : 4;
  req.body = k->get_path ? NULL : k->body;
  req.body_len = k->get_path ? 0 : k->body_len;
  req.flags = SLUICE_HTTP_RETRY_SAFE; /* requestId: run at most once */
  req.ca_file = c->ca_path;
  /* No rate key: the SQL API limits concurrency, not a request rate; a
   * 429 (390505) is retried with backoff by the host. */
  req.timeout_ms = 10u * 60 * 1000; /* a synchronous wait is 45 s at most */
  req.max_buffered = 512u * 1024 * 1024;
  req.on_done = on_http_done;
  req.arg = k;
  if (k->body != NULL && k->get_path == NULL)
    c->host->count(c->ins, SLUICE_COUNT_BYTES_OUT, (int64_t)k->body_len);
  rc = c->host->http_request(c->ins, &req, &k->http, err);
  sluice_buf_free(&url);
  return rc;
}

static struct sfk_call *call_new(struct sfk_ctx *c, const char *what,
                                 sfk_stmt_cb cb, void *arg)
{
  struct sfk_call *k = calloc(1, sizeof *k);

  if (k == NULL || (k->what = strdup(what)) == NULL) {
    free(k);
    return NULL;
  }
  k->c = c;
  k->cb = cb;
  k->arg = arg;
  return k;
}

int sfk_exec(struct sfk_ctx *c, const char *what, const char *sql,
             json_t *bindings, int nstatements, sfk_stmt_cb cb, void *arg,
             struct sfk_call **out, struct sluice_error *err)
{
  struct sfk_call *k = call_new(c, what, cb, arg);
  json_t *body = json_object(), *params = json_object();
  char count[24], tag[300];
  int rc;

  if (k == NULL || body == NULL || params == NULL) {
    json_decref(bindings);
    json_decref(body);
    json_decref(params);
    if (k)
      call_free(k);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  json_object_set_new(body, "statement", json_string(sql));
  json_object_set_new(
      body, "timeout",
      json_integer((json_int_t)(c->statement_timeout_ms / 1000)));
  if (c->database)
    json_object_set_new(body, "database", json_string(c->database));
  if (c->schema)
    json_object_set_new(body, "schema", json_string(c->schema));
  if (c->warehouse)
    json_object_set_new(body, "warehouse", json_string(c->warehouse));
  if (c->role)
    json_object_set_new(body, "role", json_string(c->role));
  if (bindings != NULL)
    json_object_set_new(body, "bindings", bindings);
  snprintf(count, sizeof count, "%d", nstatements);
  json_object_set_new(params, "MULTI_STATEMENT_COUNT", json_string(count));
  /* The run in QUERY_HISTORY. */
  snprintf(tag, sizeof tag, "sluice:%s:%s", c->host->instance_name(c->ins),
           c->host->run_id(c->ins));
  json_object_set_new(params, "QUERY_TAG", json_string(tag));
  json_object_set_new(body, "parameters", params);
  k->body = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  if (k->body == NULL) {
    call_free(k);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  k->body_len = strlen(k->body);
  SLUICE_LOG_D(c->host, c->ins, "%s: %.300s", what, sql);
  if ((rc = send_request(k, err)) < 0) {
    call_free(k);
    return rc;
  }
  if (out != NULL)
    *out = k;
  return 0;
}

int sfk_fetch(struct sfk_ctx *c, const char *what, const char *handle,
              long partition, sfk_stmt_cb cb, void *arg, struct sfk_call **out,
              struct sluice_error *err)
{
  struct sfk_call *k;
  struct sluice_buf path = SLUICE_BUF_INIT;
  int rc;

  if (handle == NULL || strpbrk(handle, "/?&#% ") != NULL)
    return sluice_error_set(err, SLUICE_EPROTO, 0,
                            "%s: a statement handle that is not one", what);
  if ((k = call_new(c, what, cb, arg)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  rc = sluice_buf_printf(&path, "/api/v2/statements/%s", handle);
  if (rc == 0 && partition >= 0)
    rc = sluice_buf_printf(&path, "?partition=%ld", partition);
  if (rc < 0 || (k->get_path = strdup(sluice_buf_cstr(&path))) == NULL) {
    sluice_buf_free(&path);
    call_free(k);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  sluice_buf_free(&path);
  if ((rc = send_request(k, err)) < 0) {
    call_free(k);
    return rc;
  }
  if (out != NULL)
    *out = k;
  return 0;
}

void sfk_call_cancel(struct sfk_call *k)
{
  struct sfk_ctx *c;

  if (k == NULL || (c = k->c) == NULL)
    return;
  k->c = NULL;
  if (k->http != NULL) {
    c->host->http_cancel(k->http); /* on_http_done frees it */
  } else {
    if (k->timer != NULL)
      c->host->timer_stop(k->timer);
    call_free(k);
  }
}

int64_t sfk_result_count(json_t *body, const char *column)
{
  json_t *rt =
      json_object_get(json_object_get(body, "resultSetMetaData"), "rowType");
  json_t *row = json_array_get(json_object_get(body, "data"), 0), *col;
  size_t i;

  json_array_foreach(rt, i, col)
  {
    const char *name = json_string_value(json_object_get(col, "name"));
    if (name != NULL && strcmp(name, column) == 0) {
      const char *v = json_string_value(json_array_get(row, i));
      return v ? strtoll(v, NULL, 10) : 0;
    }
  }
  return 0;
}
