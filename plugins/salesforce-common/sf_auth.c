/* plugins/salesforce-rest/sf_auth.c - OAuth 2.0 login (client credentials,
 * JWT bearer, refresh token) against login_url/services/oauth2/token, and
 * the cached session (contract section 1).
 *
 * A login is one POST, form-encoded.  The JWT flow first reads the private
 * key on the thread pool (a file), then signs the claims on the loop.  The
 * access token is registered with the host as a secret, so the log masks
 * it; no message here ever contains it. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sf.h"

struct sf_login {
  struct sf_ctx *c; /* NULL once cancelled */
  sf_step_cb cb;
  void *arg;
  struct sluice_buf body;
  struct sluice_http_call *call;
  struct sluice_pkey *key; /* jwt_bearer: read on the thread pool */
  int key_status;
  struct sluice_error key_err;
};

static void login_free(struct sf_login *l)
{
  if (l == NULL)
    return;
  if (l->body.data != NULL)
    memset(l->body.data, 0, l->body.cap); /* a secret or an assertion */
  sluice_buf_free(&l->body);
  sluice_pkey_free(l->key);
  free(l);
}

static int flow_is(const struct sf_ctx *c, const char *flow)
{
  return strcmp(c->auth_flow, flow) == 0;
}

static int missing(const char *s)
{
  return s == NULL || *s == '\0';
}

int sf_auth_validate(struct sf_ctx *c, struct sluice_error *err)
{
  const char *need = NULL;

  if (flow_is(c, "client_credentials")) {
    if (missing(c->client_id))
      need = "client_id";
    else if (missing(c->client_secret))
      need = "client_secret";
  } else if (flow_is(c, "jwt_bearer")) {
    if (missing(c->client_id))
      need = "client_id";
    else if (missing(c->username))
      need = "username";
    else if (missing(c->private_key_file))
      need = "private_key_file";
  } else if (flow_is(c, "refresh_token")) {
    if (missing(c->client_id))
      need = "client_id";
    else if (missing(c->refresh_token))
      need = "refresh_token";
  }
  if (need != NULL)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "auth_flow %s needs %s in the connection",
                            c->auth_flow, need);
  if (strncmp(c->login_url, "https://", 8) != 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "login_url must start with https:// (got '%s')",
                            c->login_url);
  return 0;
}

/* The JWT aud: the login host's name, even when posting to My Domain
 * (contract 1.2): test.salesforce.com for sandboxes, else login. */
static const char *jwt_audience(const struct sf_ctx *c)
{
  if (!missing(c->jwt_audience))
    return c->jwt_audience;
  if (strstr(c->login_url, "test.salesforce.com") != NULL ||
      strstr(c->login_url, ".sandbox.my.salesforce.com") != NULL)
    return "https://test.salesforce.com";
  return "https://login.salesforce.com";
}

static void login_finish(struct sf_login *l, int status,
                         const struct sluice_error *err)
{
  struct sf_ctx *c = l->c;

  if (c != NULL) {
    c->login = NULL;
    l->cb(l->arg, status, err);
  }
  login_free(l);
}

static int token_store(struct sf_ctx *c, struct sluice_oauth_token *t,
                       struct sluice_error *err)
{
  sluice_oauth_token_free(&c->token);
  c->token = *t;
  memset(t, 0, sizeof *t);
  c->host->secret_add(c->ins, c->token.access_token);
  if (c->token.instance_url == NULL ||
      strncmp(c->token.instance_url, "https://", 8) != 0) {
    sluice_oauth_token_free(&c->token);
    return sluice_error_set(err, SLUICE_EPROTO, 0,
                            "%s: the token reply has no https instance_url",
                            c->auth_flow);
  }
  /* Drop a trailing '/' so paths join cleanly. */
  size_t n = strlen(c->token.instance_url);
  if (n > 8 && c->token.instance_url[n - 1] == '/')
    c->token.instance_url[n - 1] = '\0';
  if (c->token.refresh_token != NULL) { /* rotation is on: keep the new one */
    c->host->secret_add(c->ins, c->token.refresh_token);
    free(c->rotated_refresh_token);
    c->rotated_refresh_token = strdup(c->token.refresh_token);
    if (c->rotated_refresh_token != NULL)
      c->host->state_put(c->ins, "refresh_token", c->rotated_refresh_token,
                         NULL);
  }
  if (c->auth_header.data != NULL)
    memset(c->auth_header.data, 0, c->auth_header.cap);
  sluice_buf_reset(&c->auth_header);
  if (sluice_buf_printf(&c->auth_header, "Bearer %s", c->token.access_token) <
      0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  return 0;
}

static void on_token_done(void *arg, int status,
                          const struct sluice_http_response *resp,
                          const struct sluice_error *herr)
{
  struct sf_login *l = arg;
  struct sf_ctx *c = l->c;
  struct sluice_error err = {0};
  struct sluice_oauth_token t;
  int rc;

  l->call = NULL;
  if (c == NULL) {
    login_free(l);
    return;
  }
  if (status < 0) {
    err = *herr;
    sluice_error_prefix(&err, "%s: token request", c->auth_flow);
    login_finish(l, status, &err);
    return;
  }
  rc = sluice_oauth_parse_token(resp->status, resp->body, resp->body_len,
                                c->auth_flow, &t, &err);
  if (rc == 0)
    rc = token_store(c, &t, &err);
  sluice_oauth_token_free(&t);
  if (rc == 0)
    SLUICE_LOG_D(c->host, c->ins, "%s: logged in, instance %s", c->auth_flow,
                 c->token.instance_url);
  login_finish(l, rc, rc == 0 ? NULL : &err);
}

static int login_send(struct sf_login *l, struct sluice_error *err)
{
  struct sf_ctx *c = l->c;
  struct sluice_http_request req;
  struct sluice_http_header h[2] = {
      {"Content-Type", "application/x-www-form-urlencoded"},
      {"Accept", "application/json"}};

  memset(&req, 0, sizeof req); /* SLUICE_HTTP_REQUEST_INIT trips
                                   -Wmissing-field-initializers */
  req.struct_size = sizeof req;
  req.method = "POST";
  req.url = c->token_url;
  req.headers = h;
  req.nheaders = 2;
  req.body = l->body.data;
  req.body_len = l->body.len;
  req.ca_file = c->ca_path;
  req.rate_key = c->rate_key;
  /* A grant may be asked again: a lost answer only costs a token. */
  req.flags = SLUICE_HTTP_RETRY_SAFE;
  req.timeout_ms = 120000;
  req.on_done = on_token_done;
  req.arg = l;
  return c->host->http_request(c->ins, &req, &l->call, err);
}

static int form_client(struct sf_ctx *c, struct sluice_buf *b)
{
  int rc = sluice_form_append(b, "client_id", c->client_id);
  if (rc == 0 && !missing(c->client_secret))
    rc = sluice_form_append(b, "client_secret", c->client_secret);
  return rc;
}

static int jwt_body(struct sf_login *l, struct sluice_error *err)
{
  struct sf_ctx *c = l->c;
  struct sluice_buf claims = SLUICE_BUF_INIT, jwt = SLUICE_BUF_INIT;
  int rc;

  rc = sluice_jwt_salesforce_claims(c->client_id, c->username, jwt_audience(c),
                                    (int64_t)time(NULL), &claims);
  if (rc < 0) {
    sluice_error_set(err, rc, 0,
                     "jwt_bearer: cannot build the claims (client_id, "
                     "username and audience must be UTF-8 text)");
    goto out;
  }
  rc = sluice_jwt_sign_rs256(l->key, "{\"alg\":\"RS256\"}",
                             sluice_buf_cstr(&claims), &jwt, err);
  if (rc < 0) {
    sluice_error_prefix(err, "jwt_bearer");
    goto out;
  }
  rc = sluice_form_append(&l->body, "grant_type",
                          "urn:ietf:params:oauth:grant-type:jwt-bearer");
  if (rc == 0)
    rc = sluice_form_append(&l->body, "assertion", sluice_buf_cstr(&jwt));
  if (rc < 0)
    sluice_error_set(err, rc, 0, "out of memory");
out:
  sluice_buf_free(&claims);
  if (jwt.data != NULL)
    memset(jwt.data, 0, jwt.cap);
  sluice_buf_free(&jwt);
  return rc;
}

/* Thread pool: read the key file (file I/O stays off the loop). */
static void key_load_work(void *arg)
{
  struct sf_login *l = arg;

  l->key_status = sluice_pkey_load_file(
      l->c->key_path, l->c->private_key_passphrase, &l->key, &l->key_err);
}

static void key_load_after(void *arg, int status)
{
  struct sf_login *l = arg;
  struct sluice_error err = {0};
  int rc;

  if (l->c == NULL) {
    login_free(l);
    return;
  }
  if (status < 0) {
    sluice_error_set(&err, status, 0, "jwt_bearer: reading the key cancelled");
    login_finish(l, status, &err);
    return;
  }
  if (l->key_status < 0) {
    err = l->key_err;
    sluice_error_prefix(&err, "jwt_bearer: private_key_file");
    login_finish(l, l->key_status, &err);
    return;
  }
  rc = jwt_body(l, &err);
  if (rc == 0)
    rc = login_send(l, &err);
  if (rc < 0)
    login_finish(l, rc, &err);
}

int sf_auth_login(struct sf_ctx *c, sf_step_cb cb, void *arg,
                  struct sluice_error *err)
{
  struct sf_login *l;
  int rc = 0;

  if (c->login != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "a login is under way");
  l = calloc(1, sizeof *l);
  if (l == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  l->c = c;
  l->cb = cb;
  l->arg = arg;
  sf_auth_forget(c);

  if (flow_is(c, "jwt_bearer")) {
    rc = c->host->work_submit(c->ins, key_load_work, key_load_after, l);
    if (rc < 0) {
      login_free(l);
      return sluice_error_set(err, rc, 0, "jwt_bearer: cannot read the key");
    }
    c->login = l;
    return 0;
  }
  if (flow_is(c, "client_credentials")) {
    rc = sluice_form_append(&l->body, "grant_type", "client_credentials");
    if (rc == 0)
      rc = form_client(c, &l->body);
  } else { /* refresh_token */
    const char *rt =
        c->rotated_refresh_token ? c->rotated_refresh_token : c->refresh_token;
    rc = sluice_form_append(&l->body, "grant_type", "refresh_token");
    if (rc == 0)
      rc = form_client(c, &l->body);
    if (rc == 0)
      rc = sluice_form_append(&l->body, "refresh_token", rt);
  }
  if (rc < 0) {
    login_free(l);
    return sluice_error_set(err, rc, 0, "%s: cannot build the request",
                            c->auth_flow);
  }
  rc = login_send(l, err);
  if (rc < 0) {
    login_free(l);
    return rc;
  }
  c->login = l;
  return 0;
}

void sf_auth_forget(struct sf_ctx *c)
{
  sluice_oauth_token_free(&c->token);
  if (c->auth_header.data != NULL)
    memset(c->auth_header.data, 0, c->auth_header.cap);
  sluice_buf_reset(&c->auth_header);
}

void sf_auth_cancel(struct sf_ctx *c)
{
  struct sf_login *l = c->login;

  if (l == NULL)
    return;
  c->login = NULL;
  l->c = NULL; /* its callbacks free it and report nothing */
  if (l->call != NULL)
    c->host->http_cancel(l->call);
}

void sf_auth_free(struct sf_ctx *c)
{
  sf_auth_cancel(c);
  sf_auth_forget(c);
  sluice_buf_free(&c->auth_header);
  if (c->rotated_refresh_token != NULL) {
    memset(c->rotated_refresh_token, 0, strlen(c->rotated_refresh_token));
    free(c->rotated_refresh_token);
    c->rotated_refresh_token = NULL;
  }
}
