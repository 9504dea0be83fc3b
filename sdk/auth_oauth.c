/* auth_oauth.c - JWT claims, form bodies and OAuth token replies (jansson).
 *
 * The key and signing side is in auth.c.  The rules here follow
 * shared/contracts/salesforce.md section 1 and snowflake.md section 3.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sluice/auth.h"

/* Server text quoted in a message: at most this many bytes. */
#define QUOTE_MAX 200

static char upper(char c)
{
  return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static void truncate_to(struct sluice_buf *b, size_t len)
{
  b->len = len;
  if (b->data != NULL)
    b->data[len] = '\0';
}

/* Appends the compact JSON of obj (keys in insertion order) and frees obj. */
static int append_json(json_t *obj, struct sluice_buf *out)
{
  char *s;
  int rc;

  if (obj == NULL)
    return SLUICE_ENOMEM;
  s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(obj);
  if (s == NULL)
    return SLUICE_ENOMEM;
  rc = sluice_buf_append_str(out, s);
  free(s);
  return rc;
}

/* json_string refuses text that is not UTF-8 (NULL): that, and no memory,
 * both end in set_string failing; the callers check UTF-8 first. */
static int set_string(json_t *obj, const char *key, const char *value)
{
  json_t *v = json_string(value);

  return v != NULL && json_object_set_new(obj, key, v) == 0 ? 0 : -1;
}

static int set_int(json_t *obj, const char *key, int64_t value)
{
  json_t *v = json_integer((json_int_t)value);

  return v != NULL && json_object_set_new(obj, key, v) == 0 ? 0 : -1;
}

static int is_utf8(const char *s)
{
  json_t *v = json_string(s);

  if (v == NULL)
    return 0;
  json_decref(v);
  return 1;
}

/* --- Salesforce JWT bearer ------------------------------------------------ */

int sluice_jwt_salesforce_claims(const char *client_id, const char *username,
                                 const char *audience, int64_t now,
                                 struct sluice_buf *out)
{
  json_t *obj;

  if (client_id == NULL || username == NULL || audience == NULL ||
      *client_id == '\0' || *username == '\0' || *audience == '\0' ||
      !is_utf8(client_id) || !is_utf8(username) || !is_utf8(audience) ||
      now < 0 || now > INT64_MAX - SLUICE_JWT_SALESFORCE_LIFETIME_S)
    return SLUICE_EINVAL;
  obj = json_object();
  if (obj == NULL)
    return SLUICE_ENOMEM;
  /* exp as a JSON number (RFC 7519 NumericDate); simple-salesforce sends a
   * string, which Salesforce also takes, but the number is the standard. */
  if (set_string(obj, "iss", client_id) < 0 ||
      set_string(obj, "sub", username) < 0 ||
      set_string(obj, "aud", audience) < 0 ||
      set_int(obj, "exp", now + SLUICE_JWT_SALESFORCE_LIFETIME_S) < 0) {
    json_decref(obj);
    return SLUICE_ENOMEM;
  }
  return append_json(obj, out);
}

/* --- Snowflake key-pair JWT ----------------------------------------------- */

static int account_char_ok(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int word_is_ci(const char *s, size_t len, const char *word)
{
  size_t i;

  for (i = 0; i < len; i++)
    if (word[i] == '\0' || upper(s[i]) != upper(word[i]))
      return 0;
  return word[i] == '\0';
}

int sluice_snowflake_account_for_jwt(const char *account,
                                     struct sluice_buf *out)
{
  const char *dot, *label2, *end;
  size_t n, i;

  if (account == NULL)
    return SLUICE_EINVAL;
  dot = strchr(account, '.');
  n = dot != NULL ? (size_t)(dot - account) : strlen(account);
  if (dot != NULL) {
    /* A global URL, "<account>-<id>.global[.snowflakecomputing.com]":
     * the python connector's parse_account keeps what is before the LAST
     * '-' of the first label (rfind), so an org-account name in it stays
     * whole.  Its keypair.py cuts at the first '-' instead, but only ever
     * sees the account parse_account already cut; the contract's "first
     * '-'" comes from reading keypair.py alone. */
    label2 = dot + 1;
    end = strchr(label2, '.');
    if (word_is_ci(label2,
                   end != NULL ? (size_t)(end - label2) : strlen(label2),
                   "global")) {
      const char *dash = NULL;

      for (i = 0; i < n; i++)
        if (account[i] == '-')
          dash = account + i;
      if (dash != NULL)
        n = (size_t)(dash - account);
    }
  }
  /* Everything else is cut at the first dot (region, cloud, domain), and
   * an org-account name keeps its '-': Snowflake's doc sample also cuts at
   * '-' when there is no dot, which breaks MYORG-MYACCOUNT; no driver does
   * that. */
  if (n == 0)
    return SLUICE_EINVAL;
  for (i = 0; i < n; i++)
    if (!account_char_ok(account[i]))
      return SLUICE_EINVAL;
  if (sluice_buf_reserve(out, n) < 0)
    return SLUICE_ENOMEM;
  for (i = 0; i < n; i++)
    out->data[out->len + i] = upper(account[i]);
  out->len += n;
  out->data[out->len] = '\0';
  return 0;
}

/* Standard base64's alphabet (isalnum would follow the locale). */
static int is_b64(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* fp is 43 base64 characters and one '=' (32 bytes). */
static int fingerprint_ok(const char *fp)
{
  size_t i;

  if (strlen(fp) != 44 || fp[43] != '=')
    return 0;
  for (i = 0; i < 43; i++)
    if (!is_b64(fp[i]))
      return 0;
  /* The last character before '=' carries 4 bits, 2 of them unused. */
  return strchr("AEIMQUYcgkosw048", fp[42]) != NULL;
}

int sluice_jwt_snowflake_claims(const char *account, const char *user,
                                const char *fingerprint, int64_t now,
                                int64_t lifetime_s, struct sluice_buf *out,
                                struct sluice_error *err)
{
  struct sluice_buf sub = SLUICE_BUF_INIT, iss = SLUICE_BUF_INIT;
  json_t *obj = NULL;
  size_t i;
  int rc;

  if (account == NULL || user == NULL || fingerprint == NULL)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "snowflake jwt: an account, a user and a key "
                            "fingerprint are needed");
  if (lifetime_s <= 0 || lifetime_s > SLUICE_JWT_SNOWFLAKE_MAX_LIFETIME_S)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "snowflake jwt: lifetime %lld s is not within "
                            "1..%d s",
                            (long long)lifetime_s,
                            SLUICE_JWT_SNOWFLAKE_MAX_LIFETIME_S);
  if (now < 0 || now > INT64_MAX - lifetime_s)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "snowflake jwt: the time %lld is out of range",
                            (long long)now);
  if (strncmp(fingerprint, "SHA256:", 7) == 0)
    fingerprint += 7;
  if (!fingerprint_ok(fingerprint))
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "snowflake jwt: the key fingerprint is not "
                            "\"SHA256:\" and 44 base64 characters");
  if (*user == '\0' || !is_utf8(user))
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "snowflake jwt: the user name is empty or not "
                            "UTF-8");

  rc = sluice_snowflake_account_for_jwt(account, &sub);
  if (rc == SLUICE_EINVAL) {
    rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                          "snowflake jwt: account \"%.100s\" is not an "
                          "account identifier (letters, digits, '_' and "
                          "'-', like MYORG-MYACCOUNT or "
                          "xy12345.us-east-2.aws)",
                          account);
    goto done;
  }
  if (rc < 0 || sluice_buf_append_char(&sub, '.') < 0)
    goto nomem;
  /* Drivers use the login name upper-cased (python str.upper, Go
   * strings.ToUpper); only ASCII is folded here, see the header. */
  for (i = 0; user[i] != '\0'; i++)
    if (sluice_buf_append_char(&sub, upper(user[i])) < 0)
      goto nomem;
  if (sluice_buf_append(&iss, sub.data, sub.len) < 0 ||
      sluice_buf_printf(&iss, ".SHA256:%s", fingerprint) < 0)
    goto nomem;

  obj = json_object();
  if (obj == NULL || set_string(obj, "iss", iss.data) < 0 ||
      set_string(obj, "sub", sub.data) < 0 || set_int(obj, "iat", now) < 0 ||
      set_int(obj, "exp", now + lifetime_s) < 0)
    goto nomem;
  rc = append_json(obj, out);
  obj = NULL;
  if (rc < 0)
    goto nomem;
  goto done;

nomem:
  rc = sluice_error_set(err, SLUICE_ENOMEM, 1, "snowflake jwt: out of memory");
done:
  json_decref(obj);
  sluice_buf_free(&sub);
  sluice_buf_free(&iss);
  return rc;
}

/* --- form bodies ---------------------------------------------------------- */

static int form_escape(struct sluice_buf *b, const char *s)
{
  static const char hex[] = "0123456789ABCDEF";

  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;

    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      if (sluice_buf_append_char(b, (char)c) < 0)
        return SLUICE_ENOMEM;
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};

      if (sluice_buf_append(b, e, 3) < 0)
        return SLUICE_ENOMEM;
    }
  }
  return 0;
}

int sluice_form_append(struct sluice_buf *b, const char *key, const char *value)
{
  size_t start = b->len;

  if (key == NULL || value == NULL)
    return SLUICE_EINVAL;
  if ((b->len > 0 && sluice_buf_append_char(b, '&') < 0) ||
      form_escape(b, key) < 0 || sluice_buf_append_char(b, '=') < 0 ||
      form_escape(b, value) < 0) {
    truncate_to(b, start);
    return SLUICE_ENOMEM;
  }
  return 0;
}

/* --- token replies -------------------------------------------------------- */

void sluice_oauth_token_free(struct sluice_oauth_token *t)
{
  if (t == NULL)
    return;
  if (t->access_token != NULL)
    memset(t->access_token, 0, strlen(t->access_token));
  if (t->refresh_token != NULL)
    memset(t->refresh_token, 0, strlen(t->refresh_token));
  free(t->access_token);
  free(t->instance_url);
  free(t->refresh_token);
  free(t->token_type);
  free(t->scope);
  memset(t, 0, sizeof *t);
  t->issued_at_ms = -1;
  t->expires_in_s = -1;
}

/* A server's text made fit for a message: at most QUOTE_MAX bytes, cut on
 * a UTF-8 boundary, control characters as '?'. */
static void quote_server_text(const char *s, char *dst, size_t cap)
{
  size_t n = strlen(s), i;

  if (n > QUOTE_MAX)
    n = QUOTE_MAX;
  if (n > cap - 1)
    n = cap - 1;
  if (n < strlen(s))
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];

    dst[i] = c < 0x20 || c == 0x7F ? '?' : (char)c;
  }
  dst[n] = '\0';
}

static const char *json_reason(const json_error_t *je)
{
  switch (json_error_code(je)) {
  case json_error_out_of_memory: return "out of memory";
  case json_error_stack_overflow: return "nested too deeply";
  case json_error_invalid_utf8: return "invalid UTF-8";
  case json_error_premature_end_of_input: return "it ends too early";
  case json_error_end_of_input_expected: return "text after the JSON value";
  case json_error_null_character: return "a NUL character";
  case json_error_null_byte_in_key: return "a NUL byte in a key";
  case json_error_duplicate_key: return "a duplicate key";
  case json_error_numeric_overflow: return "a number out of range";
  default: return "a syntax error";
  }
}

/* Copies a string member when it is one (NULL otherwise).  -1: no memory. */
static int take_string(json_t *obj, const char *key, char **dst)
{
  json_t *v = json_object_get(obj, key);
  size_t n;

  *dst = NULL;
  if (!json_is_string(v))
    return 0;
  n = json_string_length(v);
  *dst = malloc(n + 1);
  if (*dst == NULL)
    return -1;
  memcpy(*dst, json_string_value(v), n);
  (*dst)[n] = '\0';
  return 0;
}

/* A number member that is a JSON integer or a string of digits (Salesforce
 * sends issued_at as "1699999999999"); -1 when absent or not one. */
static int64_t take_int(json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);
  const char *s;
  int64_t n = 0;

  if (json_is_integer(v))
    return json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
  if (!json_is_string(v))
    return -1;
  s = json_string_value(v);
  if (*s == '\0')
    return -1;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9' || n > (INT64_MAX - (*s - '0')) / 10)
      return -1;
    n = n * 10 + (*s - '0');
  }
  return n;
}

/* jansson keeps its own copy of every string it parsed and frees it
 * without clearing; clear the secret ones first.  The storage is jansson's
 * own heap block, so writing to it is fine. */
static void wipe_member(json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);

  if (json_is_string(v))
    memset((char *)json_string_value(v), 0, json_string_length(v));
}

static int retryable_status(long status)
{
  return status == 408 || status == 425 || status == 429 ||
         (status >= 500 && status <= 599);
}

int sluice_oauth_parse_token(long http_status, const char *body, size_t len,
                             const char *flow, struct sluice_oauth_token *out,
                             struct sluice_error *err)
{
  char reason[QUOTE_MAX + 1], desc[QUOTE_MAX + 1];
  json_t *root, *jerr;
  json_error_t je;
  int rc = 0;

  memset(out, 0, sizeof *out);
  out->issued_at_ms = -1;
  out->expires_in_s = -1;
  if (flow == NULL)
    flow = "oauth";
  if (body == NULL)
    len = 0;

  root = len > 0 ? json_loadb(body, len, 0, &je) : NULL;
  if (root == NULL) {
    /* Not JSON: a proxy's or load balancer's page, a truncated reply.
     * jansson's text quotes the input near the error, which could be part
     * of a token, so only the offset and a reason of our own go out. */
    if (len == 0)
      return sluice_error_set(err, SLUICE_EPROTO, 1,
                              "%s: the token endpoint sent an empty reply "
                              "(HTTP %ld)",
                              flow, http_status);
    return sluice_error_set(err, SLUICE_EPROTO, 1,
                            "%s: the token endpoint's reply is not JSON "
                            "(HTTP %ld; at byte %d: %s)",
                            flow, http_status, je.position, json_reason(&je));
  }
  jerr = json_object_get(root, "error");
  if (json_is_string(jerr)) {
    json_t *jd = json_object_get(root, "error_description");
    int code = SLUICE_EAUTH, retry = 0;

    quote_server_text(json_string_value(jerr), reason, sizeof reason);
    quote_server_text(json_is_string(jd) ? json_string_value(jd) : "", desc,
                      sizeof desc);
    if (http_status == 429) {
      code = SLUICE_ELIMIT;
      retry = 1;
    } else if (retryable_status(http_status)) {
      code = SLUICE_EPROTO;
      retry = 1;
    }
    if (retry || (http_status >= 200 && http_status <= 299))
      rc = sluice_error_set(err, code, retry, "%s: %s%s%s (HTTP %ld)", flow,
                            reason, *desc != '\0' ? ": " : "", desc,
                            http_status);
    else
      rc = sluice_error_set(err, code, retry, "%s: %s%s%s", flow, reason,
                            *desc != '\0' ? ": " : "", desc);
    goto done;
  }
  if (http_status == 429) {
    rc = sluice_error_set(err, SLUICE_ELIMIT, 1,
                          "%s: the token endpoint is rate limiting (HTTP 429)",
                          flow);
    goto done;
  }
  if (retryable_status(http_status)) {
    rc = sluice_error_set(err, SLUICE_EPROTO, 1,
                          "%s: the token endpoint failed (HTTP %ld)", flow,
                          http_status);
    goto done;
  }
  if (http_status < 200 || http_status > 299) {
    rc = sluice_error_set(err, SLUICE_EPROTO, 0,
                          "%s: the token endpoint answered HTTP %ld without "
                          "an OAuth error",
                          flow, http_status);
    goto done;
  }
  if (!json_is_object(root)) {
    rc = sluice_error_set(err, SLUICE_EPROTO, 0,
                          "%s: the token reply is not a JSON object", flow);
    goto done;
  }
  if (take_string(root, "access_token", &out->access_token) < 0 ||
      take_string(root, "instance_url", &out->instance_url) < 0 ||
      take_string(root, "refresh_token", &out->refresh_token) < 0 ||
      take_string(root, "token_type", &out->token_type) < 0 ||
      take_string(root, "scope", &out->scope) < 0) {
    rc = sluice_error_set(err, SLUICE_ENOMEM, 1, "%s: out of memory", flow);
    goto done;
  }
  if (out->access_token == NULL || out->access_token[0] == '\0') {
    rc = sluice_error_set(err, SLUICE_EPROTO, 0,
                          "%s: the token reply has no access_token", flow);
    goto done;
  }
  out->issued_at_ms = take_int(root, "issued_at");
  out->expires_in_s = take_int(root, "expires_in");

done:
  wipe_member(root, "access_token");
  wipe_member(root, "refresh_token");
  json_decref(root);
  if (rc < 0)
    sluice_oauth_token_free(out);
  return rc;
}
