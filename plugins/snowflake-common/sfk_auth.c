/* plugins/snowflake-common/sfk_auth.c - the Authorization header (contract
 * section 3).
 *
 * Key-pair: the RSA key is read once at init (PKCS#8, encrypted with a
 * passphrase secret, or PKCS#1); a JWT is signed on first use for 59
 * minutes (the service allows an hour) and signed again once less than
 * five minutes are left, or when the service refused it (390144: a clock
 * skew, a key rotated under us).  OAuth: the configured token as is. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sfk.h"

#define SFK_JWT_LIFETIME_S 3540
#define SFK_JWT_RENEW_S 300

int sfk_auth_init(struct sfk_ctx *c, struct sluice_error *err)
{
  struct sluice_buf probe = SLUICE_BUF_INIT;
  int rc;

  if (strcmp(c->auth_method, "oauth") == 0) {
    if (c->oauth_token == NULL || *c->oauth_token == '\0')
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "auth_method oauth needs oauth_token");
    return 0;
  }
  if (c->user == NULL || *c->user == '\0')
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "auth_method keypair needs user");
  if (c->key_path == NULL)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "auth_method keypair needs private_key_file");
  /* The account must make a JWT issuer before anything is sent. */
  rc = sluice_snowflake_account_for_jwt(c->account, &probe);
  sluice_buf_free(&probe);
  if (rc < 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "account '%s' is not a Snowflake account "
                            "identifier (\"MYORG-MYACCOUNT\" or a locator "
                            "such as \"xy12345.us-east-2.aws\")",
                            c->account);
  if (sluice_pkey_file_mode_ok(c->key_path) == 0)
    SLUICE_LOG_W(c->host, c->ins, "%s is readable by other users: chmod 600 it",
                 c->key_path);
  rc = sluice_pkey_load_file(c->key_path, c->private_key_passphrase, &c->pkey,
                             err);
  if (rc < 0) {
    sluice_error_prefix(err, "keypair");
    return rc;
  }
  if (sluice_pkey_fingerprint_sha256(c->pkey, &c->fingerprint) < 0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  SLUICE_LOG_D(c->host, c->ins, "key-pair fingerprint %s",
               sluice_buf_cstr(&c->fingerprint));
  return 0;
}

const char *sfk_auth_token_type(const struct sfk_ctx *c)
{
  return strcmp(c->auth_method, "oauth") == 0 ? "OAUTH" : "KEYPAIR_JWT";
}

const char *sfk_auth_header(struct sfk_ctx *c, int force,
                            struct sluice_error *err)
{
  struct sluice_buf claims = SLUICE_BUF_INIT, jwt = SLUICE_BUF_INIT;
  int64_t now = (int64_t)time(NULL);
  int rc;

  if (strcmp(c->auth_method, "oauth") == 0) {
    if (c->auth_header.len == 0 &&
        sluice_buf_printf(&c->auth_header, "Bearer %s", c->oauth_token) < 0) {
      sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
      return NULL;
    }
    return sluice_buf_cstr(&c->auth_header);
  }
  if (!force && c->auth_header.len > 0 &&
      c->jwt_expires - now > SFK_JWT_RENEW_S)
    return sluice_buf_cstr(&c->auth_header);
  rc = sluice_jwt_snowflake_claims(c->account, c->user,
                                   sluice_buf_cstr(&c->fingerprint), now,
                                   SFK_JWT_LIFETIME_S, &claims, err);
  if (rc == 0)
    rc = sluice_jwt_sign_rs256(c->pkey, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
                               sluice_buf_cstr(&claims), &jwt, err);
  sluice_buf_free(&claims);
  if (rc < 0) {
    sluice_buf_free(&jwt);
    sluice_error_prefix(err, "keypair JWT");
    return NULL;
  }
  c->host->secret_add(c->ins, sluice_buf_cstr(&jwt));
  sluice_buf_reset(&c->auth_header);
  rc = sluice_buf_printf(&c->auth_header, "Bearer %s", sluice_buf_cstr(&jwt));
  memset(jwt.data, 0, jwt.len);
  sluice_buf_free(&jwt);
  if (rc < 0) {
    sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    return NULL;
  }
  c->jwt_expires = now + SFK_JWT_LIFETIME_S;
  return sluice_buf_cstr(&c->auth_header);
}

void sfk_auth_free(struct sfk_ctx *c)
{
  sluice_pkey_free(c->pkey);
  c->pkey = NULL;
  if (c->auth_header.data != NULL)
    memset(c->auth_header.data, 0, c->auth_header.len);
  sluice_buf_free(&c->auth_header);
  sluice_buf_free(&c->fingerprint);
}
