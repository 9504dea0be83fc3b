/* plugins/salesforce-rest/sf_plugin.c - the descriptor, the config maps,
 * init/fini and check. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/quote.h>

#include "sf_rest.h"

#define SRC SLUICE_CFG_SOURCE
#define REQ SLUICE_CFG_REQUIRED
#define SECRET SLUICE_CFG_SECRET
#define DST SLUICE_CFG_DESTINATION

#ifndef SF_REST_VERSION
#define SF_REST_VERSION "0.1.0"
#endif

static const struct sluice_config_entry sf_connection_config[] = {
    {"login_url", SLUICE_CFG_STRING, REQ, NULL, NULL,
     offsetof(struct sf_ctx, login_url),
     "the token endpoint's host: https://login.salesforce.com, "
     "https://test.salesforce.com or the org's My Domain URL "
     "(client_credentials needs My Domain)"},
    {"api_version", SLUICE_CFG_STRING, 0, "61.0", NULL,
     offsetof(struct sf_ctx, api_version), "the REST API version, \"61.0\""},
    {"auth_flow", SLUICE_CFG_ENUM, REQ, NULL,
     "client_credentials|jwt_bearer|refresh_token",
     offsetof(struct sf_ctx, auth_flow), "the OAuth 2.0 flow to log in with"},
    {"client_id", SLUICE_CFG_STRING, 0, NULL, NULL,
     offsetof(struct sf_ctx, client_id), "the connected app's consumer key"},
    {"client_secret", SLUICE_CFG_STRING, SECRET, NULL, NULL,
     offsetof(struct sf_ctx, client_secret),
     "the connected app's consumer secret (client_credentials; "
     "refresh_token when the app requires it)"},
    {"username", SLUICE_CFG_STRING, 0, NULL, NULL,
     offsetof(struct sf_ctx, username),
     "jwt_bearer: the Salesforce user to act as"},
    {"private_key_file", SLUICE_CFG_STRING, 0, NULL, NULL,
     offsetof(struct sf_ctx, private_key_file),
     "jwt_bearer: the PEM RSA key whose certificate the app holds"},
    {"private_key_passphrase", SLUICE_CFG_STRING, SECRET, NULL, NULL,
     offsetof(struct sf_ctx, private_key_passphrase),
     "jwt_bearer: the passphrase of an encrypted key"},
    {"refresh_token", SLUICE_CFG_STRING, SECRET, NULL, NULL,
     offsetof(struct sf_ctx, refresh_token),
     "refresh_token: the refresh token (a rotated one is kept in the "
     "pipeline's state)"},
    {"jwt_audience", SLUICE_CFG_STRING, 0, NULL, NULL,
     offsetof(struct sf_ctx, jwt_audience),
     "jwt_bearer: the aud claim; default https://test.salesforce.com for "
     "sandbox login URLs, else https://login.salesforce.com"},
    {"ca_file", SLUICE_CFG_STRING, 0, NULL, NULL,
     offsetof(struct sf_ctx, ca_file),
     "a CA bundle to trust instead of the system's (tests)"},
    {"max_api_usage_percent", SLUICE_CFG_INT, 0, "80", NULL,
     offsetof(struct sf_ctx, max_api_usage_percent),
     "start no request once this share of the daily API budget is used "
     "(0: no limit)"},
    {NULL, 0, 0, NULL, NULL, 0, NULL}};

static const struct sluice_config_entry sf_config[] = {
    {"object", SLUICE_CFG_STRING, REQ, NULL, NULL,
     offsetof(struct sf_ctx, object),
     "the sObject to read or write: \"Account\""},
    {"fields", SLUICE_CFG_STRLIST, SRC, NULL, NULL,
     offsetof(struct sf_ctx, fields),
     "the fields to read; empty: every field but base64 ones (compound "
     "fields as compound_fields says).  Id and SystemModstamp are always "
     "read"},
    {"compound_fields", SLUICE_CFG_ENUM, SRC, "flatten", "flatten|json|skip",
     offsetof(struct sf_ctx, compound_fields),
     "when fields is empty, how address and location fields are read: "
     "flatten (their components, BillingCity...), json (the compound as "
     "one JSON text column), skip (neither)"},
    {"filter", SLUICE_CFG_STRING, SRC, NULL, NULL,
     offsetof(struct sf_ctx, filter),
     "a SOQL WHERE condition, \"Type = 'Customer'\" (ANDed with the cursor)"},
    {"mode", SLUICE_CFG_ENUM, SRC, "full", "full|incremental",
     offsetof(struct sf_ctx, mode),
     "full: every record each run; incremental: records changed since the "
     "checkpoint (by SystemModstamp)"},
    {"lookback", SLUICE_CFG_DURATION, SRC, "5m", NULL,
     offsetof(struct sf_ctx, lookback_ms),
     "incremental: read again this far before the checkpoint (late commits)"},
    {"include_deleted", SLUICE_CFG_BOOL, SRC, "false", NULL,
     offsetof(struct sf_ctx, include_deleted),
     "use queryAll: deleted records arrive as DELETE rows"},
    {"batch_size", SLUICE_CFG_INT, SRC, "2000", NULL,
     offsetof(struct sf_ctx, batch_size),
     "records a query page (Sforce-Query-Options batchSize, 200-2000)"},
    {"hard_deletes", SLUICE_CFG_BOOL, SRC, "false", NULL,
     offsetof(struct sf_ctx, hard_deletes),
     "incremental: also ask getDeleted for records deleted since the "
     "checkpoint (hard deletes included) and emit them as DELETE rows"},
    {"operation", SLUICE_CFG_ENUM, DST, "upsert", "insert|update|upsert|delete",
     offsetof(struct sf_ctx, operation),
     "destination: how rows are written with sObject Collections (update "
     "and delete need an Id column, upsert external_id)"},
    {"external_id", SLUICE_CFG_STRING, DST, NULL, NULL,
     offsetof(struct sf_ctx, external_id),
     "destination, upsert: the External ID field records are matched by"},
    {"reject_file", SLUICE_CFG_STRING, DST, NULL, NULL,
     offsetof(struct sf_ctx, reject_file),
     "destination: a CSV (mode 0600, appended) of the records Salesforce "
     "refused: their columns, then sf__Operation, sf__StatusCode and "
     "sf__Error (\"STATUS_CODE: message [fields]\")"},
    {"all_or_none", SLUICE_CFG_BOOL, DST, "false", NULL,
     offsetof(struct sf_ctx, all_or_none),
     "destination: a request (up to 200 records) is written whole or not "
     "at all; every record of a refused request is rejected"},
    {NULL, 0, 0, NULL, NULL, 0, NULL}};

char *sf_absolute(struct sf_ctx *c, const char *path)
{
  const char *base = c->host->base_dir(c->ins);
  size_t n;
  char *out;

  if (path == NULL)
    return NULL;
  if (path[0] == '/' || base == NULL)
    return strdup(path);
  n = strlen(base) + strlen(path) + 2;
  if ((out = malloc(n)) != NULL)
    snprintf(out, n, "%s/%s", base, path);
  return out;
}

static int sf_init(struct sluice_instance *ins, const struct sluice_host *host,
                   void *ctx, struct sluice_error *err)
{
  struct sf_ctx *c = ctx;
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

static void sf_fini(struct sluice_instance *ins, void *ctx)
{
  struct sf_ctx *c = ctx;

  (void)ins;
  sf_source_free(c);
  sf_dest_free(c);
  sf_auth_free(c);
  free(c->rate_key);
  free(c->token_url);
  free(c->ca_path);
  free(c->key_path);
}

/* check: log in, then one cheap call (the org's limits). */
struct sf_check {
  struct sf_ctx *c;
  sluice_done_cb done;
  void *arg;
};

static void on_check_limits(void *arg, int status, json_t *body,
                            const struct sluice_error *err)
{
  struct sf_check *k = arg;
  json_t *d = json_object_get(body, "DailyApiRequests");

  if (status == 0 && json_is_object(d))
    SLUICE_LOG_I(k->c->host, k->c->ins,
                 "logged in (%s); daily API requests remaining: %lld of %lld",
                 k->c->auth_flow,
                 (long long)json_integer_value(json_object_get(d, "Remaining")),
                 (long long)json_integer_value(json_object_get(d, "Max")));
  k->done(k->arg, status, status == 0 ? NULL : err);
  free(k);
}

static int sf_check(struct sluice_instance *ins, void *ctx, sluice_done_cb done,
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

static const struct sluice_plugin sf_plugin = {
    SLUICE_PLUGIN_HEADER(SLUICE_KIND_SOURCE | SLUICE_KIND_DESTINATION),
    .name = "salesforce-rest",
    .version = SF_REST_VERSION,
    .description = "Salesforce REST API: SOQL query/queryAll of one "
                   "sObject, full or incremental by SystemModstamp; "
                   "writes with sObject Collections",
    .connection_type = "salesforce",
    .config = sf_config,
    .connection_config = sf_connection_config,
    .ctx_size = sizeof(struct sf_ctx),
    .init = sf_init,
    .fini = sf_fini,
    .check = sf_check,
    .source_start = sf_source_start,
    .source_pause = sf_source_pause,
    .source_resume = sf_source_resume,
    .source_stop = sf_source_stop,
    .dest_open = sf_dest_open,
    .dest_write = sf_dest_write,
    .dest_commit = sf_dest_commit,
};

SLUICE_PLUGIN_DEFINE(sf_plugin)
