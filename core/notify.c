/* core/notify.c - run notifications (see notify.h).
 *
 * The POST goes through the same HTTP engine as the plugins' requests: TLS
 * always verified, retries with backoff on resets, 5xx and 429.  A webhook
 * may see a record twice after a retry (it carries the run_id to dedupe
 * on); it never delays or fails the run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfgbind.h"
#include "diag.h"
#include "http.h"
#include "log.h"
#include "notify.h"

static const char *const notify_keys[] = {"webhook", "on", "headers", NULL};

/* http:// only to this machine: anything else must be TLS. */
static int loopback_http(const char *url)
{
  static const char *const ok[] = {"http://127.0.0.1", "http://localhost",
                                   "http://[::1]"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    size_t n = strlen(ok[i]);
    if (strncmp(url, ok[i], n) == 0 &&
        (url[n] == ':' || url[n] == '/' || url[n] == '\0'))
      return 1;
  }
  return 0;
}

static int status_of(const char *s)
{
  static const char *const names[] = {[RUN_SUCCEEDED] = "success",
                                      [RUN_FAILED] = "failure",
                                      [RUN_REJECTED] = "rejected",
                                      [RUN_INTERRUPTED] = "interrupted"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i] && strcmp(s, names[i]) == 0)
      return (int)i;
  return -1;
}

void notify_load(json_t *v, const char *path, const char *base_dir,
                 struct notify *n, struct diags *d)
{
  char sub[600], sub2[700];
  json_t *w, *x;
  const char *key;
  size_t i;

  memset(n, 0, sizeof *n);
  if (!json_is_object(v)) {
    diag_add(d, path, "expected an object with webhook, on, headers");
    return;
  }
  json_object_foreach(v, key, x)
  {
    for (i = 0; notify_keys[i]; i++)
      if (strcmp(key, notify_keys[i]) == 0)
        break;
    if (notify_keys[i] == NULL)
      diag_add(d, path, "unknown key '%s' (webhook, on, headers)", key);
  }
  snprintf(sub, sizeof sub, "%s.webhook", path);
  w = json_object_get(v, "webhook");
  if (!json_is_string(w))
    diag_add(d, sub, w ? "expected a URL" : "missing: the URL to POST to");
  else if (strncmp(json_string_value(w), "https://", 8) != 0 &&
           !loopback_http(json_string_value(w)))
    diag_add(d, sub, "'%s': must be https:// (http:// only to this machine)",
             json_string_value(w));
  else
    n->url = strdup(json_string_value(w));
  snprintf(sub, sizeof sub, "%s.on", path);
  w = json_object_get(v, "on");
  if (w == NULL) {
    n->on = 1u << RUN_FAILED;
  } else if (!json_is_array(w) || json_array_size(w) == 0) {
    diag_add(d, sub,
             "expected a list: [\"failure\", \"rejected\", "
             "\"success\", \"interrupted\"]");
  } else {
    json_array_foreach(w, i, x)
    {
      int st = json_is_string(x) ? status_of(json_string_value(x)) : -1;
      snprintf(sub2, sizeof sub2, "%s[%zu]", sub, i);
      if (st < 0)
        diag_add(d, sub2,
                 "expected failure, rejected, success or "
                 "interrupted");
      else
        n->on |= 1u << st;
    }
  }
  snprintf(sub, sizeof sub, "%s.headers", path);
  w = json_object_get(v, "headers");
  if (w != NULL && !json_is_object(w)) {
    diag_add(d, sub, "expected an object of header names and values");
    return;
  }
  if (w == NULL || json_object_size(w) == 0)
    return;
  n->names = calloc(json_object_size(w), sizeof *n->names);
  n->values = calloc(json_object_size(w), sizeof *n->values);
  if (n->names == NULL || n->values == NULL)
    return;
  json_object_foreach(w, key, x)
  {
    int was_ref = 0;
    char *val;
    snprintf(sub2, sizeof sub2, "%s.%s", sub, key);
    if (strpbrk(key, ":\r\n ") != NULL || *key == '\0') {
      diag_add(d, sub2, "not a header name");
      continue;
    }
    val = cfg_resolve_string(x, sub2, base_dir, d, &was_ref);
    if (val == NULL)
      continue;
    if (strpbrk(val, "\r\n") != NULL) {
      diag_add(d, sub2, "a header value cannot hold a line break");
      free(val);
      continue;
    }
    /* Any header may carry a credential: every value is masked. */
    log_add_secret(val);
    n->names[n->nheaders] = strdup(key);
    n->values[n->nheaders++] = val;
  }
}

void notify_free(struct notify *n)
{
  for (size_t i = 0; i < n->nheaders; i++) {
    free(n->names[i]);
    free(n->values[i]);
  }
  free(n->names);
  free(n->values);
  free(n->url);
  memset(n, 0, sizeof *n);
}

struct notify_call {
  char *body;
  char pipeline[128];
};

static void on_notified(void *arg, int status,
                        const struct sluice_http_response *resp,
                        const struct sluice_error *err)
{
  struct notify_call *k = arg;

  if (status < 0)
    log_msg(SLUICE_LOG_WARN, k->pipeline, "notification not sent: %s",
            err->message);
  else if (resp->status < 200 || resp->status > 299)
    log_msg(SLUICE_LOG_WARN, k->pipeline,
            "notification refused: the webhook answered HTTP %ld",
            resp->status);
  else
    log_msg(SLUICE_LOG_DEBUG, k->pipeline, "notification sent");
  free(k->body);
  free(k);
}

void notify_send(struct http_engine *e, const struct notify *n,
                 const struct run_record *rec)
{
  struct sluice_http_request req;
  struct sluice_http_header *h;
  struct sluice_error err = {0};
  struct notify_call *k;
  json_t *j;

  if (n == NULL || n->url == NULL || !(n->on & (1u << rec->status)))
    return;
  if ((k = calloc(1, sizeof *k)) == NULL ||
      (h = calloc(n->nheaders + 1, sizeof *h)) == NULL) {
    free(k);
    return;
  }
  snprintf(k->pipeline, sizeof k->pipeline, "%s", rec->pipeline);
  j = runlog_record_to_json(rec);
  k->body = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(j);
  h[0].name = "Content-Type";
  h[0].value = "application/json";
  for (size_t i = 0; i < n->nheaders; i++) {
    h[i + 1].name = n->names[i];
    h[i + 1].value = n->values[i];
  }
  memset(&req, 0, sizeof req);
  req.struct_size = sizeof req;
  req.method = "POST";
  req.url = n->url;
  req.headers = h;
  req.nheaders = n->nheaders + 1;
  req.body = k->body;
  req.body_len = k->body ? strlen(k->body) : 0;
  /* The record carries its run_id: a webhook can drop a repeat. */
  req.flags = SLUICE_HTTP_RETRY_SAFE;
  req.timeout_ms = 30000;
  req.on_done = on_notified;
  req.arg = k;
  if (k->body == NULL || http_start(e, &req, NULL, NULL, &err) < 0) {
    log_msg(SLUICE_LOG_WARN, rec->pipeline, "notification not sent: %s",
            k->body ? err.message : "out of memory");
    free(k->body);
    free(k);
  }
  free(h);
}
