/* plugins/salesforce-common/sf_common.c - what the Salesforce plugins
 * share around their descriptors: init, fini and check. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sluice/quote.h>

#include <sluice/path.h>

#include "sf.h"

char *sf_absolute(struct sf_ctx *c, const char *path)
{
  return sluice_path_resolve(c->host->base_dir(c->ins), path);
}

int sf_common_init(struct sluice_instance *ins, const struct sluice_host *host,
                   struct sf_ctx *c, struct sluice_error *err)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  char *rt = NULL;
  size_t n;
  int rc;

  c->host = host;
  c->ins = ins;
  if ((rc = sf_auth_validate(c, err)) < 0)
    return rc;
  if (c->object == NULL || !sluice_soql_is_identifier(c->object) ||
      strchr(c->object, '.') != NULL)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "object: '%s' is not an sObject name",
                            c->object ? c->object : "");
  /* Source keys are bound (mode has its default) only for a source. */
  if (c->mode != NULL && (c->batch_size < 200 || c->batch_size > 2000))
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "batch_size must be 200 to 2000 (got %lld)",
                            (long long)c->batch_size);
  if (c->lookback_ms < 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "lookback is negative");
  if (c->max_api_usage_percent < 0 || c->max_api_usage_percent > 100)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "max_api_usage_percent must be 0 to 100");
  /* "login_url client_id": one AIMD limiter for every pipeline on it */
  sluice_buf_printf(&b, "%s %s", c->login_url,
                    c->client_id ? c->client_id : "");
  c->rate_key = b.data ? strdup(b.data) : NULL;
  sluice_buf_reset(&b);
  n = strlen(c->login_url);
  while (n > 8 && c->login_url[n - 1] == '/')
    n--;
  sluice_buf_printf(&b, "%.*s/services/oauth2/token", (int)n, c->login_url);
  c->token_url = b.data ? strdup(b.data) : NULL;
  sluice_buf_free(&b);
  c->ca_path = sf_absolute(c, c->ca_file);
  c->key_path = sf_absolute(c, c->private_key_file);
  if (!c->rate_key || !c->token_url || (c->ca_file && !c->ca_path) ||
      (c->private_key_file && !c->key_path))
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  /* A refresh token the server rotated on an earlier run replaces the
   * configured one, which it invalidated. */
  if (strcmp(c->auth_flow, "refresh_token") == 0 &&
      host->state_get(ins, "refresh_token", &rt) == 0 && rt != NULL) {
    c->rotated_refresh_token = strdup(rt);
    host->secret_add(ins, rt);
    memset(rt, 0, strlen(rt));
    host->free(rt);
  }
  return 0;
}

void sf_common_fini(struct sf_ctx *c)
{
  sf_source_free(c);
  sf_auth_free(c);
  free(c->rate_key);
  free(c->token_url);
  free(c->ca_path);
  free(c->key_path);
}

/* check: log in, then one cheap call (the org's limits). */
/* check: log in and read /limits, then describe the object: it exists,
 * the named fields exist (a source), the External ID field exists and is
 * one (an upsert), the object can be written (a destination). */
struct sf_check {
  struct sf_ctx *c;
  sluice_done_cb done;
  void *arg;
};

static void check_end(struct sf_check *k, int status,
                      const struct sluice_error *err)
{
  k->done(k->arg, status, status == 0 ? NULL : err);
  free(k);
}

static json_t *describe_field(json_t *describe, const char *name)
{
  json_t *f;
  size_t i;

  json_array_foreach(json_object_get(describe, "fields"), i, f)
  {
    const char *n = json_string_value(json_object_get(f, "name"));
    if (n != NULL && strcasecmp(n, name) == 0)
      return f;
  }
  return NULL;
}

static void on_check_describe(void *arg, int status, json_t *body,
                              const struct sluice_error *err)
{
  struct sf_check *k = arg;
  struct sf_ctx *c = k->c;
  struct sluice_error e = {0};
  json_t *f;
  size_t i;

  if (status < 0) {
    e = *err;
    if (status == SLUICE_ENOTFOUND)
      sluice_error_prefix(&e,
                          "object %s does not exist or is not visible "
                          "to this user",
                          c->object);
    check_end(k, status, &e);
    return;
  }
  for (i = 0; c->mode != NULL && i < c->fields.n; i++)
    if (describe_field(body, c->fields.v[i]) == NULL) {
      sluice_error_set(&e, SLUICE_ENOTFOUND, 0,
                       "%s has no field %s (or this user cannot read it)",
                       c->object, c->fields.v[i]);
      check_end(k, e.code, &e);
      return;
    }
  if (c->operation != NULL) {
    const char *need = strcmp(c->operation, "insert") == 0   ? "createable"
                       : strcmp(c->operation, "upsert") == 0 ? "createable"
                       : strcmp(c->operation, "update") == 0 ? "updateable"
                                                             : "deletable";
    if (!json_is_true(json_object_get(body, need))) {
      sluice_error_set(&e, SLUICE_EAUTH, 0,
                       "this user cannot %s %s records (describe: %s is "
                       "false)",
                       c->operation, c->object, need);
      check_end(k, e.code, &e);
      return;
    }
  }
  if (c->operation != NULL && strcmp(c->operation, "upsert") == 0 &&
      c->external_id != NULL && strcasecmp(c->external_id, "Id") != 0) {
    f = describe_field(body, c->external_id);
    if (f == NULL || !(json_is_true(json_object_get(f, "externalId")) ||
                       json_is_true(json_object_get(f, "idLookup")))) {
      sluice_error_set(&e, SLUICE_ENOTFOUND, 0,
                       "%s.%s %s: upsert needs an External ID field", c->object,
                       c->external_id,
                       f ? "is not an External ID field" : "does not exist");
      check_end(k, e.code, &e);
      return;
    }
  }
  SLUICE_LOG_I(c->host, c->ins, "%s: %zu fields visible", c->object,
               json_array_size(json_object_get(body, "fields")));
  check_end(k, 0, NULL);
}

static void on_check_limits(void *arg, int status, json_t *body,
                            const struct sluice_error *err)
{
  struct sf_check *k = arg;
  struct sf_ctx *c = k->c;
  json_t *d = json_object_get(body, "DailyApiRequests");
  struct sluice_buf path = SLUICE_BUF_INIT;
  struct sluice_error e = {0};
  int rc;

  if (status < 0) {
    check_end(k, status, err);
    return;
  }
  if (json_is_object(d))
    SLUICE_LOG_I(c->host, c->ins,
                 "logged in (%s); daily API requests remaining: %lld of %lld",
                 c->auth_flow,
                 (long long)json_integer_value(json_object_get(d, "Remaining")),
                 (long long)json_integer_value(json_object_get(d, "Max")));
  rc = sf_api_base(c, &path);
  rc = rc ? rc : sluice_buf_printf(&path, "/sobjects/%s/describe", c->object);
  if (rc < 0)
    rc = sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
  else
    rc = sf_api_get(c, sluice_buf_cstr(&path), NULL, 0, on_check_describe, k,
                    NULL, &e);
  sluice_buf_free(&path);
  if (rc < 0)
    check_end(k, rc, &e);
}

int sf_common_check(struct sluice_instance *ins, void *ctx, sluice_done_cb done,
                    void *arg, struct sluice_error *err)
{
  struct sf_ctx *c = ctx;
  struct sf_check *k = calloc(1, sizeof *k);
  struct sluice_buf path = SLUICE_BUF_INIT;
  int rc;

  (void)ins;
  if (k == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  k->c = c;
  k->done = done;
  k->arg = arg;
  rc = sf_api_base(c, &path);
  if (rc == 0)
    rc = sluice_buf_append_str(&path, "/limits");
  if (rc < 0)
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  else
    rc = sf_api_get(c, sluice_buf_cstr(&path), NULL, 0, on_check_limits, k,
                    NULL, err);
  sluice_buf_free(&path);
  if (rc < 0)
    free(k);
  return rc;
}

int sf_emit(struct sf_ctx *c, struct sluice_batch *b, struct sluice_error *err)
{
  if (c->tap != NULL)
    return c->tap->emit(c, b, err);
  return c->host->emit(c->ins, b, err);
}

void sf_source_end(struct sf_ctx *c, int status, const struct sluice_error *err)
{
  if (c->tap != NULL)
    c->tap->done(c, status, err);
  else
    c->host->source_done(c->ins, status, err);
}
