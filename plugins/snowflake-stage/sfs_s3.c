/* plugins/snowflake-stage/sfs_s3.c - the bucket behind the external stage:
 * object URLs (virtual host or path style), the SigV4-signed PUT of a file
 * and DELETE of a key through the host's HTTP engine, and S3's errors in
 * plain words.
 *
 * The host signs with curl's CURLOPT_AWS_SIGV4.  curl 7.88 adds no
 * x-amz-content-sha256 (and would hash an empty payload), so the header
 * "UNSIGNED-PAYLOAD" is sent here; a session token goes in
 * x-amz-security-token (signed like every x-amz-* header).  Keys are made
 * of [A-Za-z0-9._/-] only (sfs_loader.c), so the path needs no encoding
 * and no query string is ever sent. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfs.h"

int sfs_s3_init(struct sfs_ctx *s, struct sluice_error *err)
{
  const char *u = s->bucket_url, *slash, *ep;
  struct sluice_buf b = SLUICE_BUF_INIT;
  size_t n;
  int rc;

  if (u == NULL || strncmp(u, "s3://", 5) != 0 || u[5] == '\0' || u[5] == '/')
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "bucket_url: give the stage's URL, "
                            "s3://BUCKET/PREFIX/");
  u += 5;
  slash = strchr(u, '/');
  s->bucket = slash ? strndup(u, (size_t)(slash - u)) : strdup(u);
  if (slash != NULL && slash[1] != '\0')
    rc = sluice_buf_printf(&b, "%s%s", slash + 1,
                           slash[strlen(slash) - 1] == '/' ? "" : "/");
  else
    rc = sluice_buf_append_str(&b, "");
  s->key_prefix = rc == 0 ? strdup(sluice_buf_cstr(&b)) : NULL;
  sluice_buf_reset(&b);
  if (s->endpoint != NULL)
    rc = sluice_buf_append_str(&b, s->endpoint);
  else
    rc = sluice_buf_printf(&b, "https://s3.%s.amazonaws.com", s->region);
  ep = sluice_buf_cstr(&b);
  if (rc == 0 && strncmp(ep, "https://", 8) != 0) {
    sluice_buf_free(&b);
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "endpoint: must start with https://");
  }
  n = b.len;
  while (n > 8 && ep[n - 1] == '/')
    n--;
  s->scheme_host = rc == 0 ? strndup(ep, n) : NULL;
  sluice_buf_reset(&b);
  /* Region AND service, given: curl would guess the service from a
   * virtual-host name and S3 would refuse the signature. */
  rc = sluice_buf_printf(&b, "aws:amz:%s:s3", s->region);
  s->sigv4 = rc == 0 ? strdup(sluice_buf_cstr(&b)) : NULL;
  sluice_buf_free(&b);
  if (!s->bucket || !s->key_prefix || !s->scheme_host || !s->sigv4)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  for (n = 0; s->bucket[n]; n++) {
    char ch = s->bucket[n];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
          ch == '.'))
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "bucket_url: '%s' is not an S3 bucket name",
                              s->bucket);
  }
  return 0;
}

void sfs_s3_free(struct sfs_ctx *s)
{
  free(s->bucket);
  free(s->key_prefix);
  free(s->scheme_host);
  free(s->sigv4);
  s->bucket = s->key_prefix = s->scheme_host = s->sigv4 = NULL;
}

int sfs_s3_url(struct sfs_ctx *s, const char *key, struct sluice_buf *out)
{
  if (s->path_style)
    return sluice_buf_printf(out, "%s/%s/%s", s->scheme_host, s->bucket, key);
  /* https://host -> https://BUCKET.host */
  return sluice_buf_printf(out, "https://%s.%s/%s", s->bucket,
                           s->scheme_host + 8, key);
}

struct sfs_s3_req {
  struct sfs_ctx *s;
  struct sluice_http_call *call;
  char *what; /* "upload of s3://bucket/key" */
  sfs_s3_cb cb;
  sfs_s3_list_cb list_cb; /* a listing: gets the body */
  void *arg;
};

/* The text of <Tag>...</Tag> in an S3 error body, or "". */
static void xml_tag(const char *body, size_t len, const char *tag, char *out,
                    size_t outlen)
{
  char open[40], close[40];
  const char *p, *q, *end = body + len;

  out[0] = '\0';
  if (body == NULL)
    return;
  snprintf(open, sizeof open, "<%s>", tag);
  snprintf(close, sizeof close, "</%s>", tag);
  p = memmem(body, len, open, strlen(open));
  if (p == NULL)
    return;
  p += strlen(open);
  q = memmem(p, (size_t)(end - p), close, strlen(close));
  if (q == NULL)
    return;
  snprintf(out, outlen, "%.*s", (int)(q - p), p);
}

static void on_s3_done(void *arg, int status,
                       const struct sluice_http_response *resp,
                       const struct sluice_error *err)
{
  struct sfs_s3_req *q = arg;
  struct sluice_error e = {0};

  if (q->cb == NULL && q->list_cb == NULL) { /* cancelled: nobody waits */
    free(q->what);
    free(q);
    return;
  }
  if (status == 0 && (resp->status < 200 || resp->status > 299)) {
    char code[64], msg[256];
    xml_tag(resp->body, resp->body_len, "Code", code, sizeof code);
    xml_tag(resp->body, resp->body_len, "Message", msg, sizeof msg);
    status =
        sluice_error_set(&e, resp->status == 403 ? SLUICE_EAUTH : SLUICE_EIO, 0,
                         "%s failed: S3 answered HTTP %ld %s%s%s%s", q->what,
                         resp->status, code[0] ? code : "(no code)",
                         msg[0] ? " (" : "", msg, msg[0] ? ")" : "");
    if (strcmp(code, "SignatureDoesNotMatch") == 0 ||
        strcmp(code, "InvalidAccessKeyId") == 0)
      sluice_error_set(&e, SLUICE_EAUTH, 0,
                       "%s failed: S3 answered HTTP %ld %s: check "
                       "access_key_id and secret_access_key for bucket %s",
                       q->what, resp->status, code, q->s->bucket);
    err = &e;
  } else if (status < 0) {
    sluice_error_set(&e, status, 0, "%s failed: %s", q->what,
                     err && err->message[0] ? err->message : "no answer");
    err = &e;
  }
  if (q->list_cb != NULL)
    q->list_cb(q->arg, status, status == 0 ? resp->body : NULL,
               status == 0 ? resp->body_len : 0, status == 0 ? NULL : err);
  else
    q->cb(q->arg, status, status == 0 ? NULL : err);
  free(q->what);
  free(q);
}

static int s3_request(struct sfs_ctx *s, const char *method, const char *verb,
                      const char *key, const char *path, sfs_s3_cb cb,
                      sfs_s3_list_cb list_cb, void *arg,
                      struct sfs_s3_req **out, struct sluice_error *err)
{
  struct sfk_ctx *c = &s->k;
  struct sluice_http_request req = SLUICE_HTTP_REQUEST_INIT;
  struct sluice_http_header h[3];
  struct sluice_buf url = SLUICE_BUF_INIT, what = SLUICE_BUF_INIT;
  struct sfs_s3_req *q = calloc(1, sizeof *q);
  size_t nh = 0;
  int rc;

  if (q == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  rc = sfs_s3_url(s, key, &url);
  rc = rc ? rc
          : sluice_buf_printf(&what, "%s of s3://%s/%s", verb, s->bucket, key);
  if (rc < 0 || (q->what = strdup(sluice_buf_cstr(&what))) == NULL) {
    sluice_buf_free(&url);
    sluice_buf_free(&what);
    free(q);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  sluice_buf_free(&what);
  q->s = s;
  q->cb = cb;
  q->list_cb = list_cb;
  q->arg = arg;
  h[nh++] =
      (struct sluice_http_header){"x-amz-content-sha256", "UNSIGNED-PAYLOAD"};
  if (s->session_token != NULL && *s->session_token)
    h[nh++] =
        (struct sluice_http_header){"x-amz-security-token", s->session_token};
  if (path != NULL)
    h[nh++] = (struct sluice_http_header){"Content-Type", "application/gzip"};
  req.method = method;
  req.url = sluice_buf_cstr(&url);
  req.headers = h;
  req.nheaders = nh;
  req.body_file = path;
  req.ca_file = c->ca_path;
  req.rate_key = NULL; /* S3 takes thousands of requests a second */
  req.max_buffered = list_cb ? 4u << 20 : 64u * 1024;
  req.on_done = on_s3_done;
  req.arg = q;
  req.aws_sigv4 = s->sigv4;
  req.aws_access_key_id = s->access_key_id;
  req.aws_secret_access_key = s->secret_access_key;
  rc = c->host->http_request(c->ins, &req, &q->call, err);
  sluice_buf_free(&url);
  if (rc < 0) {
    free(q->what);
    free(q);
    return rc;
  }
  if (out != NULL)
    *out = q;
  return 0;
}

int sfs_s3_put_file(struct sfs_ctx *s, const char *key, const char *path,
                    sfs_s3_cb cb, void *arg, struct sfs_s3_req **out,
                    struct sluice_error *err)
{
  return s3_request(s, "PUT", "upload", key, path, cb, NULL, arg, out, err);
}

int sfs_s3_delete(struct sfs_ctx *s, const char *key, sfs_s3_cb cb, void *arg,
                  struct sfs_s3_req **out, struct sluice_error *err)
{
  return s3_request(s, "DELETE", "delete", key, NULL, cb, NULL, arg, out, err);
}

int sfs_s3_list(struct sfs_ctx *s, const char *prefix, sfs_s3_list_cb cb,
                void *arg, struct sfs_s3_req **out, struct sluice_error *err)
{
  struct sluice_buf q = SLUICE_BUF_INIT;
  const char *p;
  int rc;

  /* curl 7.88 signs the query as written: the names sorted, the value
   * AWS-encoded ('/' too). */
  rc = sluice_buf_append_str(&q, "?list-type=2&prefix=");
  for (p = prefix; rc == 0 && *p; p++) {
    unsigned char ch = (unsigned char)*p;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
        ch == '~')
      rc = sluice_buf_append(&q, p, 1);
    else
      rc = sluice_buf_printf(&q, "%%%02X", ch);
  }
  if (rc < 0) {
    sluice_buf_free(&q);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  rc = s3_request(s, "GET", "listing", sluice_buf_cstr(&q), NULL, NULL, cb, arg,
                  out, err);
  sluice_buf_free(&q);
  return rc;
}

int sfs_s3_next_key(const char *body, size_t len, size_t *pos, char *key,
                    size_t keylen)
{
  const char *p, *q;

  if (body == NULL || *pos >= len)
    return 0;
  p = memmem(body + *pos, len - *pos, "<Key>", 5);
  if (p == NULL)
    return 0;
  p += 5;
  q = memmem(p, len - (size_t)(p - body), "</Key>", 6);
  if (q == NULL || (size_t)(q - p) >= keylen)
    return 0;
  memcpy(key, p, (size_t)(q - p));
  key[q - p] = '\0';
  *pos = (size_t)(q - body) + 6;
  return 1;
}

void sfs_s3_cancel(struct sfs_s3_req *q)
{
  /* The host answers a cancel later, from the loop: the request frees
   * itself then, and cb is never called. */
  q->cb = NULL;
  q->list_cb = NULL;
  q->s->k.host->http_cancel(q->call);
}
