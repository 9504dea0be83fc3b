/* plugins/salesforce-cdc/sf_cdc_bayeux.c - one Bayeux exchange: POST
 * [message] to {instance_url}/cometd/{version}, the JSON array back.
 *
 * Cookies: the service ties a client id to the cookies it set at the
 * handshake and refuses a later message without them (contract 6.1), so
 * every Set-Cookie is kept (name=value; its attributes are the server's
 * business on this one host) and sent back on every message until the
 * next handshake.  A 401 means the token expired: log in once more and
 * send again; anything else is the caller's to judge.  Streaming calls
 * are not REST API calls: they do not count against the daily budget. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_cdc.h"

#define CDC_MAX_COOKIES 16

struct cdc_cookie {
  char *name, *value;
};

struct cdc_bayeux {
  struct sf_ctx *c;
  struct cdc_cookie cookies[CDC_MAX_COOKIES];
  size_t ncookies;

  /* the exchange under way */
  char *body;
  int64_t hold_ms;
  uint32_t flags;
  cdc_bayeux_cb cb;
  void *arg;
  struct sluice_http_call *call;
  int logging_in;
  int relogged;
};

struct cdc_bayeux *cdc_bayeux_new(struct sf_ctx *c)
{
  struct cdc_bayeux *bx = calloc(1, sizeof *bx);

  if (bx != NULL)
    bx->c = c;
  return bx;
}

void cdc_bayeux_reset(struct cdc_bayeux *bx)
{
  for (size_t i = 0; i < bx->ncookies; i++) {
    free(bx->cookies[i].name);
    free(bx->cookies[i].value);
    bx->cookies[i].name = bx->cookies[i].value = NULL;
  }
  bx->ncookies = 0;
}

static void exchange_end(struct cdc_bayeux *bx)
{
  free(bx->body);
  bx->body = NULL;
  bx->cb = NULL;
  bx->call = NULL;
  bx->relogged = 0;
}

void cdc_bayeux_cancel(struct cdc_bayeux *bx)
{
  if (bx == NULL)
    return;
  if (bx->logging_in) {
    sf_auth_cancel(bx->c);
    bx->logging_in = 0;
  }
  if (bx->call != NULL) {
    struct sluice_http_call *call = bx->call;
    bx->cb = NULL; /* on_done (cancelled) reports to no one */
    bx->call = NULL;
    bx->c->host->http_cancel(call);
  }
  exchange_end(bx);
}

void cdc_bayeux_free(struct cdc_bayeux *bx)
{
  if (bx == NULL)
    return;
  cdc_bayeux_cancel(bx);
  cdc_bayeux_reset(bx);
  free(bx);
}

int cdc_bayeux_busy(const struct cdc_bayeux *bx)
{
  return bx != NULL && bx->cb != NULL;
}

/* "NAME=VALUE; Path=/; Secure" -> NAME, VALUE (replacing a kept one). */
static void cookie_keep(struct cdc_bayeux *bx, const char *set_cookie)
{
  const char *eq = strchr(set_cookie, '='), *end;
  size_t i;

  if (eq == NULL || eq == set_cookie)
    return;
  end = strchr(eq, ';');
  if (end == NULL)
    end = eq + strlen(eq);
  for (i = 0; i < bx->ncookies; i++)
    if (strlen(bx->cookies[i].name) == (size_t)(eq - set_cookie) &&
        strncmp(bx->cookies[i].name, set_cookie, (size_t)(eq - set_cookie)) ==
            0)
      break;
  if (i == CDC_MAX_COOKIES)
    return;
  if (i == bx->ncookies) {
    bx->cookies[i].name = strndup(set_cookie, (size_t)(eq - set_cookie));
    if (bx->cookies[i].name == NULL)
      return;
    bx->ncookies++;
  }
  free(bx->cookies[i].value);
  bx->cookies[i].value = strndup(eq + 1, (size_t)(end - eq - 1));
}

static int on_response(void *arg, const struct sluice_http_response *resp)
{
  struct cdc_bayeux *bx = arg;
  const struct sluice_host *h = bx->c->host;
  const char *sc;

  if (!SLUICE_HOST_HAS(h, http_header_at)) {
    if ((sc = h->http_header(resp, "Set-Cookie")) != NULL)
      cookie_keep(bx, sc);
    return 0;
  }
  for (size_t i = 0; (sc = h->http_header_at(resp, "Set-Cookie", i)) != NULL;
       i++)
    cookie_keep(bx, sc);
  return 0;
}

static int post(struct cdc_bayeux *bx, struct sluice_error *err);

static void on_login(void *arg, int status, const struct sluice_error *err)
{
  struct cdc_bayeux *bx = arg;
  cdc_bayeux_cb cb = bx->cb;
  struct sluice_error e = {0};
  int rc;

  bx->logging_in = 0;
  if (status < 0) {
    exchange_end(bx);
    cb(bx->arg, status, NULL, err);
    return;
  }
  if ((rc = post(bx, &e)) < 0) {
    exchange_end(bx);
    cb(bx->arg, rc, NULL, &e);
  }
}

static void on_done(void *arg, int status,
                    const struct sluice_http_response *resp,
                    const struct sluice_error *err)
{
  struct cdc_bayeux *bx = arg;
  cdc_bayeux_cb cb = bx->cb;
  void *cb_arg = bx->arg;
  struct sluice_error e = {0};
  json_t *reply = NULL;
  json_error_t je;
  int rc;

  bx->call = NULL;
  if (cb == NULL) /* cancelled */
    return;
  if (status < 0) {
    e = *err;
    sluice_error_prefix(&e, "CometD");
    exchange_end(bx);
    cb(cb_arg, status, NULL, &e);
    return;
  }
  if (resp->status == 401 && !bx->relogged) {
    /* The token expired: one login, then the same message again. */
    bx->relogged = 1;
    sf_auth_forget(bx->c);
    if ((rc = sf_auth_login(bx->c, on_login, bx, &e)) == 0) {
      bx->logging_in = 1;
      return;
    }
  } else if (resp->status < 200 || resp->status >= 300) {
    /* An error may still be a Bayeux array (400 for a bad replay id):
     * the caller reads it; anything else is an HTTP failure. */
    reply = json_loadb(resp->body ? resp->body : "", resp->body_len, 0, &je);
    if (!json_is_array(reply)) {
      rc = sf_api_error(bx->c, resp->status, resp->body, resp->body_len,
                        "CometD", &e);
      json_decref(reply);
      reply = NULL;
    } else
      rc = 0;
  } else {
    reply = json_loadb(resp->body ? resp->body : "", resp->body_len, 0, &je);
    rc = reply ? 0
               : sluice_error_set(&e, SLUICE_EPROTO, 0,
                                  "CometD reply: not JSON (line %d, column "
                                  "%d: %s)",
                                  je.line, je.column, je.text);
  }
  exchange_end(bx);
  cb(cb_arg, rc, reply, rc < 0 ? &e : NULL);
  json_decref(reply);
}

static int post(struct cdc_bayeux *bx, struct sluice_error *err)
{
  struct sf_ctx *c = bx->c;
  struct sluice_http_request req = SLUICE_HTTP_REQUEST_INIT;
  struct sluice_http_header hdr[4];
  struct sluice_buf url = SLUICE_BUF_INIT, cookie = SLUICE_BUF_INIT;
  size_t nh = 0;
  int rc = 0;

  if (c->token.access_token == NULL) { /* log in first */
    if ((rc = sf_auth_login(c, on_login, bx, err)) == 0)
      bx->logging_in = 1;
    return rc;
  }
  for (size_t i = 0; i < bx->ncookies && rc == 0; i++)
    if (bx->cookies[i].value != NULL)
      rc = sluice_buf_printf(&cookie, "%s%s=%s", cookie.len ? "; " : "",
                             bx->cookies[i].name, bx->cookies[i].value);
  if (rc == 0)
    rc = sluice_buf_printf(&url, "%s/cometd/%s", c->token.instance_url,
                           c->api_version);
  if (rc < 0) {
    sluice_buf_free(&url);
    sluice_buf_free(&cookie);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  hdr[nh++] = (struct sluice_http_header){"Authorization",
                                          sluice_buf_cstr(&c->auth_header)};
  hdr[nh++] = (struct sluice_http_header){"Content-Type", "application/json"};
  hdr[nh++] = (struct sluice_http_header){"Accept", "application/json"};
  if (cookie.len > 0)
    hdr[nh++] = (struct sluice_http_header){"Cookie", sluice_buf_cstr(&cookie)};
  req.method = "POST";
  req.url = sluice_buf_cstr(&url);
  req.headers = hdr;
  req.nheaders = nh;
  req.body = bx->body;
  req.body_len = strlen(bx->body);
  req.ca_file = c->ca_path;
  req.flags = bx->flags;
  /* The server holds a connect up to its timeout; a network delay on top
   * (EMP's maxNetworkDelay is 15 s) before a silent line is a dead one. */
  req.stall_ms = (uint32_t)(bx->hold_ms + 30000);
  req.on_response = on_response;
  req.on_done = on_done;
  req.arg = bx;
  rc = c->host->http_request(c->ins, &req, &bx->call, err);
  sluice_buf_free(&url);
  sluice_buf_free(&cookie);
  return rc;
}

int cdc_bayeux_send(struct cdc_bayeux *bx, json_t *msg, int64_t hold_ms,
                    uint32_t flags, cdc_bayeux_cb cb, void *arg,
                    struct sluice_error *err)
{
  json_t *arr;
  int rc;

  if (bx->cb != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0,
                            "CometD: an exchange is under way");
  arr = json_pack("[O]", msg);
  bx->body = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
  json_decref(arr);
  if (bx->body == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  bx->hold_ms = hold_ms < 0 ? 0 : hold_ms;
  bx->flags = flags;
  bx->cb = cb;
  bx->arg = arg;
  if ((rc = post(bx, err)) < 0)
    exchange_end(bx);
  return rc;
}
