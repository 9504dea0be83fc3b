/* plugins/snowflake-common/sfk_common.c - what snowflake-sql and
 * snowflake-stage share around the session: the connection's config map,
 * init and release of the connection part of the context, the destination's
 * config check, and the check and count callbacks. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/quote.h>

#include <sluice/path.h>

#include "sfk.h"

#define REQ SLUICE_CFG_REQUIRED
#define SECRET SLUICE_CFG_SECRET

const struct sluice_config_entry sfk_connection_config[] = {
    {"account", SLUICE_CFG_STRING, REQ, NULL, NULL,
     offsetof(struct sfk_ctx, account),
     "the account identifier: \"MYORG-MYACCOUNT\", or a locator with its "
     "region \"xy12345.us-east-2.aws\""},
    {"url", SLUICE_CFG_STRING, 0, NULL, NULL, offsetof(struct sfk_ctx, url),
     "the service's base URL; default https://<account>."
     "snowflakecomputing.com"},
    {"user", SLUICE_CFG_STRING, 0, NULL, NULL, offsetof(struct sfk_ctx, user),
     "keypair: the login name of the user the public key is set on"},
    {"auth_method", SLUICE_CFG_ENUM, 0, "keypair", "keypair|oauth",
     offsetof(struct sfk_ctx, auth_method),
     "keypair: a JWT signed with private_key_file; oauth: oauth_token"},
    {"private_key_file", SLUICE_CFG_STRING, 0, NULL, NULL,
     offsetof(struct sfk_ctx, private_key_file),
     "keypair: the PEM RSA key (PKCS#8, possibly encrypted), mode 0600"},
    {"private_key_passphrase", SLUICE_CFG_STRING, SECRET, NULL, NULL,
     offsetof(struct sfk_ctx, private_key_passphrase),
     "keypair: the passphrase of an encrypted key"},
    {"oauth_token", SLUICE_CFG_STRING, SECRET, NULL, NULL,
     offsetof(struct sfk_ctx, oauth_token), "oauth: the access token"},
    {"warehouse", SLUICE_CFG_STRING, 0, NULL, NULL,
     offsetof(struct sfk_ctx, warehouse),
     "the warehouse statements run on (exact, usually upper case)"},
    {"database", SLUICE_CFG_STRING, 0, NULL, NULL,
     offsetof(struct sfk_ctx, database), "the database of the tables"},
    {"schema", SLUICE_CFG_STRING, 0, NULL, NULL,
     offsetof(struct sfk_ctx, schema), "the schema of the tables"},
    {"role", SLUICE_CFG_STRING, 0, NULL, NULL, offsetof(struct sfk_ctx, role),
     "the role to run as (default: the user's)"},
    {"ca_file", SLUICE_CFG_STRING, 0, NULL, NULL,
     offsetof(struct sfk_ctx, ca_file),
     "a CA bundle to trust instead of the system's (tests)"},
    {"statement_timeout", SLUICE_CFG_DURATION, 0, "1h", NULL,
     offsetof(struct sfk_ctx, statement_timeout_ms),
     "a statement running longer is cancelled by the service"},
    {NULL, 0, 0, NULL, NULL, 0, NULL}};

char *sfk_absolute(struct sfk_ctx *c, const char *path)
{
  return sluice_path_resolve(c->host->base_dir(c->ins), path);
}

/* check: sign in and run a statement that needs the warehouse (SELECT 1
 * does not: it passes with a suspended one): the destination reads its
 * table's columns, the source compiles its query with LIMIT 0. */
struct sfk_check {
  struct sfk_ctx *c;
  sluice_done_cb done;
  void *arg;
};

static void on_check(void *arg, int status, json_t *body,
                     const struct sluice_error *err)
{
  struct sfk_check *k = arg;
  struct sfk_ctx *c = k->c;
  struct sluice_error e = {0};

  if (status == 0 && c->write != NULL) {
    size_t n = json_array_size(json_object_get(body, "data"));
    if (n > 0)
      SLUICE_LOG_I(c->host, c->ins,
                   "warehouse %s runs; table %s has %zu "
                   "columns",
                   c->warehouse ? c->warehouse : "(default)", c->table, n);
    else if (c->create_table)
      SLUICE_LOG_I(c->host, c->ins,
                   "warehouse %s runs; table %s does not "
                   "exist yet: the first run creates it",
                   c->warehouse ? c->warehouse : "(default)", c->table);
    else {
      status = sluice_error_set(&e, SLUICE_ENOTFOUND, 0,
                                "table %s does not exist (create_table is "
                                "false)",
                                c->table);
      err = &e;
    }
  } else if (status == 0) {
    SLUICE_LOG_I(c->host, c->ins, "warehouse %s runs; the query compiles",
                 c->warehouse ? c->warehouse : "(default)");
  }
  k->done(k->arg, status, status == 0 ? NULL : err);
  free(k);
}

int sfk_check(struct sluice_instance *ins, void *ctx, sluice_done_cb done,
              void *arg, struct sluice_error *err)
{
  struct sfk_ctx *c = ctx;
  struct sfk_check *k = calloc(1, sizeof *k);
  struct sluice_buf sql = SLUICE_BUF_INIT;
  int rc;

  (void)ins;
  if (k == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  k->c = c;
  k->done = done;
  k->arg = arg;
  if (c->write != NULL)
    rc = sfk_sql_columns_query(c, c->table, &sql);
  else if (c->query != NULL) {
    size_t n = strlen(c->query); /* a final ';' cannot go in parentheses */
    while (n > 0 && (c->query[n - 1] == ';' || c->query[n - 1] == ' ' ||
                     c->query[n - 1] == '\n' || c->query[n - 1] == '\t'))
      n--;
    rc = sluice_buf_printf(&sql, "SELECT * FROM (%.*s) AS SLUICE_CHECK LIMIT 0",
                           (int)n, c->query);
  } else {
    rc = sluice_buf_append_str(&sql, "SELECT * FROM ");
    rc = rc ? rc : sfk_sql_table_name(c, c->view, &sql);
    rc = rc ? rc : sluice_buf_append_str(&sql, " LIMIT 0");
  }
  if (rc < 0)
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  else
    rc = sfk_exec(c, "check", sluice_buf_cstr(&sql), NULL, 1, on_check, k, NULL,
                  err);
  sluice_buf_free(&sql);
  if (rc < 0)
    free(k);
  return rc;
}

/* count (`sluice reconcile`): the source's rows, or the destination
 * table's live rows (those not flagged deleted). */
struct sfk_count {
  sluice_count_cb done;
  void *arg;
};

static void on_count(void *arg, int status, json_t *body,
                     const struct sluice_error *err)
{
  struct sfk_count *k = arg;
  const char *v = json_string_value(
      json_array_get(json_array_get(json_object_get(body, "data"), 0), 0));
  struct sluice_error e = {0};

  if (status == 0 && v == NULL) {
    status = sluice_error_set(&e, SLUICE_EPROTO, 0,
                              "count: an answer without a count");
    err = &e;
  }
  k->done(k->arg, status, status == 0 ? strtoll(v, NULL, 10) : 0,
          status == 0 ? NULL : err);
  free(k);
}

int sfk_count(struct sluice_instance *ins, void *ctx, sluice_count_cb done,
              void *arg, struct sluice_error *err)
{
  struct sfk_ctx *c = ctx;
  struct sfk_count *k = calloc(1, sizeof *k);
  struct sluice_buf sql = SLUICE_BUF_INIT;
  int rc;

  (void)ins;
  if (k == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  k->done = done;
  k->arg = arg;
  rc = sluice_buf_append_str(&sql, "SELECT COUNT(*) FROM ");
  if (c->write != NULL) {
    rc = rc ? rc : sfk_sql_table_name(c, c->table, &sql);
    if (rc == 0 && strcmp(c->hard_deletes, "flag") == 0) {
      rc = sluice_buf_append_str(&sql, " WHERE COALESCE(");
      rc = rc ? rc : sluice_sql_quote_ident(c->del_flag_column, &sql);
      rc = rc ? rc : sluice_buf_append_str(&sql, ", 'N') <> 'Y'");
    }
  } else if (c->query != NULL) {
    size_t n = strlen(c->query);
    while (n > 0 && (c->query[n - 1] == ';' || c->query[n - 1] == ' ' ||
                     c->query[n - 1] == '\n' || c->query[n - 1] == '\t'))
      n--;
    rc = rc ? rc
            : sluice_buf_printf(&sql, "(%.*s) AS SLUICE_COUNT", (int)n,
                                c->query);
  } else {
    rc = rc ? rc : sfk_sql_table_name(c, c->view, &sql);
  }
  if (rc < 0)
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  else
    rc = sfk_exec(c, "count", sluice_buf_cstr(&sql), NULL, 1, on_count, k, NULL,
                  err);
  sluice_buf_free(&sql);
  if (rc < 0)
    free(k);
  return rc;
}

int sfk_dest_check_config(struct sfk_ctx *c, struct sluice_error *err)
{
  struct sluice_buf probe = SLUICE_BUF_INIT;
  int rc;

  if (c->table == NULL || *c->table == '\0')
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "table: the destination needs a table");
  if (strcmp(c->write, "merge") == 0 && c->key.n == 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "key: write merge needs the key fields");
  if (strcmp(c->hard_deletes, "delete") == 0 && strcmp(c->write, "merge") != 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "hard_deletes delete needs write merge");
  rc = sluice_sql_quote_ident(c->table, &probe);
  rc = rc ? rc : sluice_sql_quote_ident(c->del_flag_column, &probe);
  sluice_buf_free(&probe);
  if (rc < 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "table or del_flag_column: not a name");
  return 0;
}

int sfk_ctx_init(struct sfk_ctx *c, struct sluice_instance *ins,
                 const struct sluice_host *host, struct sluice_error *err)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  size_t n;
  int rc;

  c->host = host;
  c->ins = ins;
  if (c->url != NULL)
    rc = sluice_buf_append_str(&b, c->url);
  else
    rc = sluice_buf_printf(&b, "https://%s.snowflakecomputing.com", c->account);
  if (rc < 0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  n = b.len;
  while (n > 8 && b.data[n - 1] == '/')
    n--;
  if (strncmp(b.data, "https://", 8) != 0) {
    sluice_buf_free(&b);
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "url: must start with https://");
  }
  c->base_url = strndup(b.data, n);
  sluice_buf_free(&b);
  c->ca_path = sfk_absolute(c, c->ca_file);
  c->key_path = sfk_absolute(c, c->private_key_file);
  if (!c->base_url || (c->ca_file && !c->ca_path) ||
      (c->private_key_file && !c->key_path))
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  else
    rc = sfk_auth_init(c, err);
  if (rc < 0) /* fini runs only after a successful init */
    sfk_ctx_release(c);
  return rc;
}

void sfk_ctx_release(struct sfk_ctx *c)
{
  sfk_sweep_free(c);
  sfk_dest_free(c);
  sfk_auth_free(c);
  free(c->base_url);
  free(c->ca_path);
  free(c->key_path);
  c->base_url = c->ca_path = c->key_path = NULL;
}
