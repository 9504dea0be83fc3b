/* core/http.c - HTTP on the loop (http.h).
 *
 * A call's life: start (wait for the rate limiter) -> attempt (the easy
 * handle in the multi) -> headers: deliver (on_response) or, for an answer
 * worth retrying, hold back -> body: on_data, or buffered -> done: on_done,
 * or back to start after a backoff.  Every callback into the plugin runs on
 * the loop thread.  curl's own callbacks run inside curl_multi_socket_action,
 * where a handle must not be removed from the multi: cancelling and
 * finishing are therefore deferred to the call's timer. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "sluice/buf.h"
#include "sluice/retry.h"

#define DEFAULT_ATTEMPTS 5
#define DEFAULT_STALL_MS 60000
#define CONNECT_TIMEOUT_MS 30000
#define DEFAULT_MAX_BUFFERED (16u * 1024 * 1024)
/* What is kept of an answer that will be retried: enough to log why. */
#define HELD_BODY_MAX (64u * 1024)

struct limiter {
  struct limiter *next;
  char *key;
  struct sluice_aimd aimd;
  /* The service's daily request budget as last reported for this key,
   * plus one for every attempt sent since (budget_max 0: not known). */
  int64_t budget_used, budget_max;
};

struct http_engine {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  struct limiter *limiters;
  uint64_t rng;
  size_t active; /* calls started and not yet freed */
  uint64_t retries;
  int free_later; /* http_engine_free came while calls were active */
};

struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  struct http_engine *e;
};

/* The response handed to the plugin, and its headers. */
struct http_resp {
  struct sluice_http_response pub;
  struct sluice_buf headers; /* "name\0value\0" pairs of the last block */
  struct sluice_buf body;
};

enum call_state { CALL_WAITING, CALL_RUNNING, CALL_ENDING, CALL_DONE };

struct sluice_http_call {
  struct http_engine *e;
  CURL *easy;
  struct curl_slist *hdrs;
  char *method, *url, *ca_file, *rate_key, *body_file;
  char *aws_sigv4, *aws_key, *aws_secret; /* secrets: wiped when freed */
  const void *body;
  size_t body_len;
  uint32_t flags, timeout_ms, stall_ms;
  unsigned max_attempts;
  size_t max_buffered;
  int (*on_response)(void *arg, const struct sluice_http_response *resp);
  int (*on_data)(void *arg, const char *data, size_t len);
  void (*on_done)(void *arg, int status, const struct sluice_http_response *r,
                  const struct sluice_error *err);
  void *arg;
  void (*released)(void *owner);
  void *owner;
  uint64_t *retries; /* the caller's count, or NULL */
  int insecure;      /* TLS unverified (the connection asked for it) */
  char errbuf[CURL_ERROR_SIZE]; /* curl's detail of a failed attempt */

  FILE *upload;
  uv_timer_t timer; /* rate limit waits, backoffs, deferred endings */
  enum call_state state;
  int in_multi;
  int delivered; /* the answer is the final one (not held for a retry) */
  int seen;      /* the plugin has been given some of it: no resending */
  int buffering; /* the body goes to resp.body, not on_data */
  int held;      /* an answer kept back to be retried */
  int paused;
  int canceled;
  int aborted;     /* a plugin callback asked to stop */
  int in_curl;     /* inside a curl callback: the multi must not change */
  int slot_booked; /* the rate limiter gave this attempt its slot */
  int end_status;
  struct sluice_error err;
  struct http_resp resp;
};

static void attempt(struct sluice_http_call *c);
static void check_multi(struct http_engine *e);

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The URL without its query, for messages: a query may carry a secret. */
static void url_for_message(const char *url, char *out, size_t cap)
{
  size_t n = strcspn(url, "?#");
  snprintf(out, cap, "%.*s", (int)(n < 200 ? n : 200), url);
}

/* --- the engine: curl's multi-uv pattern -----------------------------------
 */

static void on_poll(uv_poll_t *h, int status, int events)
{
  struct sock_ctx *sc = h->data;
  int flags = 0, running;

  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(sc->e->multi, sc->fd, flags, &running);
  check_multi(sc->e);
}

static void sock_closed(uv_handle_t *h)
{
  free(h->data);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp,
                     void *socketp)
{
  struct http_engine *e = userp;
  struct sock_ctx *sc = socketp;
  int events = 0;

  (void)easy;
  if (what == CURL_POLL_REMOVE) {
    if (sc != NULL) {
      uv_poll_stop(&sc->poll);
      uv_close((uv_handle_t *)&sc->poll, sock_closed);
      curl_multi_assign(e->multi, s, NULL);
    }
    return 0;
  }
  if (sc == NULL) {
    sc = calloc(1, sizeof *sc);
    if (sc == NULL)
      return -1;
    sc->fd = s;
    sc->e = e;
    if (uv_poll_init_socket(e->loop, &sc->poll, s) != 0) {
      free(sc);
      return -1;
    }
    sc->poll.data = sc;
    curl_multi_assign(e->multi, s, sc);
  }
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
    events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
    events |= UV_WRITABLE;
  uv_poll_start(&sc->poll, events, on_poll);
  return 0;
}

static void on_engine_timer(uv_timer_t *t)
{
  struct http_engine *e = t->data;
  int running;

  curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_multi(e);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
  struct http_engine *e = userp;

  (void)multi;
  if (timeout_ms < 0)
    uv_timer_stop(&e->timer);
  else /* 0 means "now", but not from inside this callback */
    uv_timer_start(&e->timer, on_engine_timer,
                   timeout_ms == 0 ? 1 : (uint64_t)timeout_ms, 0);
  return 0;
}

struct http_engine *http_engine_new(uv_loop_t *loop)
{
  struct http_engine *e = calloc(1, sizeof *e);

  if (e == NULL)
    return NULL;
  e->loop = loop;
  e->multi = curl_multi_init();
  if (e->multi == NULL) {
    free(e);
    return NULL;
  }
  e->rng = (uint64_t)now_ms() ^ (uint64_t)(uintptr_t)e;
  uv_timer_init(loop, &e->timer);
  e->timer.data = e;
  curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
  curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
  return e;
}

static void engine_timer_closed(uv_handle_t *h)
{
  struct http_engine *e = h->data;
  struct limiter *l, *next;

  for (l = e->limiters; l != NULL; l = next) {
    next = l->next;
    free(l->key);
    free(l);
  }
  free(e);
}

static void engine_release(struct http_engine *e)
{
  /* curl closes its cached connections here, through on_socket: the loop
   * must run afterwards for those handles to close. */
  curl_multi_cleanup(e->multi);
  uv_close((uv_handle_t *)&e->timer, engine_timer_closed);
}

void http_engine_free(struct http_engine *e)
{
  if (e == NULL)
    return;
  /* A call the core started on its own (a notification) may outlive the
   * runs: the engine goes when it ends. */
  if (e->active > 0) {
    e->free_later = 1;
    return;
  }
  engine_release(e);
}

/* --- rate limiting
 * ------------------------------------------------------------ */

static struct limiter *limiter_of(struct http_engine *e, const char *key)
{
  struct limiter *l;

  if (key == NULL)
    return NULL;
  for (l = e->limiters; l != NULL; l = l->next)
    if (strcmp(l->key, key) == 0)
      return l;
  l = calloc(1, sizeof *l);
  if (l == NULL || (l->key = strdup(key)) == NULL) {
    free(l);
    return NULL;
  }
  /* Start at 2 requests/s, gain 0.2/s per success, halve on throttling;
   * never under one a minute, never over 1000/s. */
  sluice_aimd_init(&l->aimd, 2.0, 1.0 / 60, 1000.0, 0.2);
  l->next = e->limiters;
  e->limiters = l;
  return l;
}

void http_throttle(struct http_engine *e, const char *rate_key)
{
  struct limiter *l = limiter_of(e, rate_key);

  if (l != NULL)
    sluice_aimd_on_throttle(&l->aimd);
}

void http_budget_report(struct http_engine *e, const char *rate_key,
                        int64_t used, int64_t max)
{
  struct limiter *l = limiter_of(e, rate_key);

  if (l != NULL && max > 0 && used >= 0) {
    l->budget_used = used;
    l->budget_max = max;
  }
}

uint64_t http_retries(const struct http_engine *e)
{
  return e->retries;
}

void http_budget_foreach(struct http_engine *e,
                         void (*cb)(void *arg, const char *rate_key,
                                    int64_t used, int64_t max),
                         void *arg)
{
  for (struct limiter *l = e->limiters; l != NULL; l = l->next)
    if (l->budget_max > 0)
      cb(arg, l->key, l->budget_used, l->budget_max);
}

int http_budget_get(struct http_engine *e, const char *rate_key, int64_t *used,
                    int64_t *max)
{
  struct limiter *l = limiter_of(e, rate_key);

  if (l == NULL || l->budget_max <= 0)
    return SLUICE_ENOTFOUND;
  *used = l->budget_used;
  *max = l->budget_max;
  return 0;
}

/* --- a call's end
 * ---------------------------------------------------------------- */

static void call_free(struct sluice_http_call *c)
{
  curl_easy_cleanup(c->easy);
  curl_slist_free_all(c->hdrs);
  if (c->upload != NULL)
    fclose(c->upload);
  sluice_buf_free(&c->resp.headers);
  sluice_buf_free(&c->resp.body);
  free(c->method);
  free(c->url);
  free(c->ca_file);
  free(c->rate_key);
  free(c->body_file);
  free(c->aws_sigv4);
  free(c->aws_key);
  if (c->aws_secret != NULL) {
    memset(c->aws_secret, 0, strlen(c->aws_secret));
    free(c->aws_secret);
  }
  free(c);
}

static void engine_release(struct http_engine *e);

static void call_timer_closed(uv_handle_t *h)
{
  struct sluice_http_call *c = h->data;
  struct http_engine *e = c->e;
  void (*released)(void *) = c->released;
  void *owner = c->owner;

  call_free(c);
  if (released != NULL)
    released(owner);
  if (--e->active == 0 && e->free_later)
    engine_release(e);
}

/* Calls on_done, then frees the call (after its timer has closed). */
static void finish(struct sluice_http_call *c)
{
  const struct sluice_error *err = c->end_status < 0 ? &c->err : NULL;

  c->state = CALL_DONE;
  if (c->in_multi) {
    curl_multi_remove_handle(c->e->multi, c->easy);
    c->in_multi = 0;
  }
  c->resp.pub.body = c->resp.body.data;
  c->resp.pub.body_len = c->resp.body.len;
  c->on_done(c->arg, c->end_status, &c->resp.pub, err);
  uv_close((uv_handle_t *)&c->timer, call_timer_closed);
}

static void on_end_timer(uv_timer_t *t)
{
  finish(t->data);
}

/* Ends the call from the loop, never from inside a curl callback. */
static void end_later(struct sluice_http_call *c, int status)
{
  if (c->state == CALL_ENDING || c->state == CALL_DONE)
    return;
  c->state = CALL_ENDING;
  c->end_status = status;
  uv_timer_start(&c->timer, on_end_timer, 0, 0);
}

static int fail_later(struct sluice_http_call *c, int code, int retryable,
                      const char *what)
{
  char url[256];

  url_for_message(c->url, url, sizeof url);
  sluice_error_set(&c->err, code, retryable, "%s %s: %s (%u attempt%s)",
                   c->method, url, what, c->resp.pub.attempts,
                   c->resp.pub.attempts == 1 ? "" : "s");
  end_later(c, code);
  return code;
}

/* --- retries
 * ------------------------------------------------------------------ */

static int may_resend(const struct sluice_http_call *c)
{
  if (c->flags & SLUICE_HTTP_NO_RETRY)
    return 0;
  if (c->flags & SLUICE_HTTP_RETRY_SAFE)
    return 1;
  return strcmp(c->method, "GET") == 0 || strcmp(c->method, "HEAD") == 0 ||
         strcmp(c->method, "PUT") == 0 || strcmp(c->method, "DELETE") == 0;
}

static void on_wait_done(uv_timer_t *t)
{
  attempt(t->data);
}

/* Schedules the next attempt, or returns -1 when attempts are used up. */
static int retry_later(struct sluice_http_call *c, int64_t retry_after_ms)
{
  struct sluice_retry_policy p = {c->max_attempts, 500, 30000};
  int64_t wait = sluice_retry_backoff_ms(&p, c->resp.pub.attempts,
                                         retry_after_ms, &c->e->rng);

  if (wait < 0)
    return -1;
  log_debug("%s: retrying in %lld ms", c->method, (long long)wait);
  c->state = CALL_WAITING;
  uv_timer_start(&c->timer, on_wait_done, (uint64_t)wait, 0);
  return 0;
}

/* --- curl callbacks (inside curl_multi_socket_action) ------------------------
 */

static void reset_answer(struct sluice_http_call *c)
{
  sluice_buf_reset(&c->resp.headers);
  sluice_buf_reset(&c->resp.body);
  c->resp.pub.status = 0;
  c->delivered = c->held = c->buffering = c->seen = 0;
}

/* The end of a header block: deliver the answer, or hold it back. */
static int headers_complete(struct sluice_http_call *c)
{
  long status = 0;

  curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 100 && status < 200)
    return 0; /* an interim answer: the real one follows */
  c->resp.pub.status = status;
  if (sluice_http_status_retryable(status) && may_resend(c) &&
      c->resp.pub.attempts < c->max_attempts) {
    c->held = 1;
    return 0;
  }
  c->delivered = 1;
  c->buffering = !(status >= 200 && status < 300 && c->on_data != NULL);
  c->seen = c->on_response != NULL;
  c->in_curl = 1;
  int rc = c->on_response != NULL ? c->on_response(c->arg, &c->resp.pub) : 0;
  c->in_curl = 0;
  if (rc < 0) {
    c->aborted = 1;
    return -1;
  }
  return 0;
}

static size_t on_header(char *line, size_t size, size_t n, void *userp)
{
  struct sluice_http_call *c = userp;
  size_t len = size * n, name_len;
  const char *colon, *value, *end;

  if (c->canceled)
    return 0;
  if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
    reset_answer(c); /* a new block: an interim answer came before */
    return len;
  }
  if (len <= 2 && (line[0] == '\r' || line[0] == '\n'))
    return headers_complete(c) < 0 ? 0 : len;
  colon = memchr(line, ':', len);
  if (colon == NULL)
    return len;
  name_len = (size_t)(colon - line);
  value = colon + 1;
  end = line + len;
  while (value < end && (*value == ' ' || *value == '\t'))
    value++;
  while (end > value && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
    end--;
  sluice_buf_append(&c->resp.headers, line, name_len);
  sluice_buf_append_char(&c->resp.headers, '\0');
  sluice_buf_append(&c->resp.headers, value, (size_t)(end - value));
  sluice_buf_append_char(&c->resp.headers, '\0');
  return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
  struct sluice_http_call *c = userp;
  size_t len = size * n;
  int rc;

  if (c->canceled)
    return 0;
  if (c->held) { /* to be retried: keep a little, for the log */
    if (c->resp.body.len < HELD_BODY_MAX)
      sluice_buf_append(&c->resp.body, data,
                        len < HELD_BODY_MAX ? len : HELD_BODY_MAX);
    return len;
  }
  if (c->buffering || !c->delivered) {
    if (c->resp.body.len + len > c->max_buffered) {
      char url[256];
      url_for_message(c->url, url, sizeof url);
      sluice_error_set(&c->err, SLUICE_EPROTO, 0,
                       "%s %s: the answer (HTTP %ld) is larger than %zu "
                       "bytes, the most this request buffers",
                       c->method, url, c->resp.pub.status, c->max_buffered);
      c->aborted = 1;
      return 0;
    }
    return sluice_buf_append(&c->resp.body, data, len) < 0 ? 0 : len;
  }
  c->seen = 1;
  c->in_curl = 1;
  rc = c->on_data(c->arg, data, len);
  c->in_curl = 0;
  if (c->canceled)
    return 0;
  if (rc == SLUICE_EAGAIN) {
    c->paused = 1;
    return CURL_WRITEFUNC_PAUSE;
  }
  if (rc < 0) {
    c->aborted = 1;
    return 0;
  }
  return len;
}

static size_t on_upload(char *buf, size_t size, size_t n, void *userp)
{
  struct sluice_http_call *c = userp;
  size_t got = fread(buf, 1, size * n, c->upload);

  if (got == 0 && ferror(c->upload))
    return CURL_READFUNC_ABORT;
  return got;
}

/* --- attempts
 * ----------------------------------------------------------------- */

static void attempt(struct sluice_http_call *c)
{
  struct limiter *l = limiter_of(c->e, c->rate_key);
  int64_t wait;

  if (c->canceled) {
    fail_later(c, SLUICE_ECANCELED, 0, "cancelled");
    return;
  }
  /* One slot per attempt: the wait it returns is the wait for that slot,
   * so coming back from it must not book another. */
  if (l != NULL && !c->slot_booked) {
    c->slot_booked = 1;
    if ((wait = sluice_aimd_acquire_ms(&l->aimd, now_ms())) > 0) {
      c->state = CALL_WAITING;
      uv_timer_start(&c->timer, on_wait_done, (uint64_t)wait, 0);
      return;
    }
  }
  c->slot_booked = 0;
  /* Counted as spent now: another pipeline on the connection must not
   * learn of it only when the answer's usage header comes back. */
  if (l != NULL && l->budget_max > 0)
    l->budget_used++;
  reset_answer(c);
  c->errbuf[0] = '\0';
  if (c->upload != NULL)
    rewind(c->upload);
  if (c->resp.pub.attempts++ > 0) {
    c->e->retries++;
    if (c->retries != NULL)
      (*c->retries)++;
  }
  c->state = CALL_RUNNING;
  if (curl_multi_add_handle(c->e->multi, c->easy) != CURLM_OK) {
    fail_later(c, SLUICE_EIO, 0, "curl refused the request");
    return;
  }
  c->in_multi = 1;
}

/* One attempt is over: decide between done and another attempt. */
static void attempt_done(struct sluice_http_call *c, CURLcode res)
{
  struct limiter *l = limiter_of(c->e, c->rate_key);
  long status = c->resp.pub.status;
  char what[2 * CURL_ERROR_SIZE + 512];

  curl_multi_remove_handle(c->e->multi, c->easy);
  c->in_multi = 0;
  if (c->canceled) {
    fail_later(c, SLUICE_ECANCELED, 0, "cancelled");
    return;
  }
  if (c->aborted) {
    if (c->err.code != 0)
      end_later(c, c->err.code);
    else
      fail_later(c, SLUICE_ECANCELED, 0, "stopped by the plugin");
    return;
  }
  if (res != CURLE_OK) {
    /* A certificate that does not verify will not verify next time. */
    int tls = res == CURLE_PEER_FAILED_VERIFICATION ||
              res == CURLE_SSL_CACERT_BADFILE || res == CURLE_SSL_CERTPROBLEM;
    /* Nothing reached the plugin yet (a buffered body counts as nothing
     * until on_done): sending again is invisible to it. */
    if (!tls && !c->seen && may_resend(c) && retry_later(c, -1) == 0)
      return;
    snprintf(what, sizeof what, "%s%s%s%s%s", tls ? "TLS: " : "",
             curl_easy_strerror(res), c->errbuf[0] ? " (" : "", c->errbuf,
             c->errbuf[0] ? ")" : "");
    if (c->delivered)
      snprintf(what + strlen(what), sizeof what - strlen(what),
               " in the middle of the answer");
    if (tls)
      snprintf(what + strlen(what), sizeof what - strlen(what),
               "; the server's certificate did not verify against %s",
               c->ca_file ? c->ca_file : "the system's CA store");
    fail_later(c,
               res == CURLE_OPERATION_TIMEDOUT ? SLUICE_ETIMEDOUT : SLUICE_EIO,
               1, what);
    return;
  }
  if (c->held) {
    const char *ra = http_response_header(&c->resp.pub, "Retry-After");
    int64_t ra_ms =
        ra ? sluice_parse_retry_after_ms(ra, (int64_t)time(NULL)) : -1;
    if (l != NULL && (status == 429 || status == 503))
      sluice_aimd_on_throttle(&l->aimd);
    log_debug("%s: HTTP %ld, will retry", c->method, status);
    if (retry_later(c, ra_ms) == 0)
      return;
    /* Out of attempts: this answer is the answer. */
    c->held = 0;
    c->delivered = 1;
    c->buffering = 1;
    if (c->on_response != NULL && c->on_response(c->arg, &c->resp.pub) < 0) {
      fail_later(c, SLUICE_ECANCELED, 0, "stopped by the plugin");
      return;
    }
  } else if (l != NULL && status >= 200 && status < 300) {
    sluice_aimd_on_success(&l->aimd);
  }
  end_later(c, 0);
}

static void check_multi(struct http_engine *e)
{
  CURLMsg *msg;
  int left;

  while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
    struct sluice_http_call *c;
    if (msg->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
    /* msg is invalid once the handle leaves the multi: read it first. */
    attempt_done(c, msg->data.result);
  }
}

/* --- the public side
 * ----------------------------------------------------------- */

static int setup_easy(struct sluice_http_call *c,
                      const struct sluice_http_request *req,
                      struct sluice_error *err)
{
  CURL *h = c->easy;
  int has_ua = 0;

  for (size_t i = 0; i < req->nheaders; i++) {
    struct sluice_buf line = SLUICE_BUF_INIT;
    struct curl_slist *grown;
    if (strcasecmp(req->headers[i].name, "User-Agent") == 0)
      has_ua = 1;
    sluice_buf_printf(&line, "%s: %s", req->headers[i].name,
                      req->headers[i].value ? req->headers[i].value : "");
    grown = line.data ? curl_slist_append(c->hdrs, line.data) : NULL;
    sluice_buf_free(&line);
    if (grown == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    c->hdrs = grown;
  }
  /* curl asks "Expect: 100-continue" for big bodies; services answer it
   * unevenly, and it costs a round trip. */
  c->hdrs = curl_slist_append(c->hdrs, "Expect:");
  curl_easy_setopt(h, CURLOPT_URL, c->url);
  curl_easy_setopt(h, CURLOPT_PRIVATE, c);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->hdrs);
  if (!has_ua)
    curl_easy_setopt(h, CURLOPT_USERAGENT, "sluice/" PACKAGE_VERSION);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  /* Verified unless the connection says otherwise (http_caller). */
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
  if (c->ca_file != NULL)
    curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
  if (c->aws_sigv4 != NULL) {
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->aws_sigv4);
    curl_easy_setopt(h, CURLOPT_USERNAME, c->aws_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, c->aws_secret);
  }
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
  if (c->timeout_ms > 0)
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                   (long)((c->stall_ms + 999) / 1000));
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
  if (strcmp(c->method, "GET") == 0 && c->body == NULL && c->upload == NULL) {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(c->method, "HEAD") == 0) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    if (c->upload != NULL) {
      struct stat st;
      if (fstat(fileno(c->upload), &st) != 0)
        return sluice_error_set(err, SLUICE_EIO, 0, "%s: cannot stat",
                                c->body_file);
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
      curl_easy_setopt(h, CURLOPT_READDATA, c);
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
    } else if (c->body != NULL) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
    }
  }
  return 0;
}

static char *dup_or_null(const char *s)
{
  return s ? strdup(s) : NULL;
}

int http_start(struct http_engine *e, const struct sluice_http_request *req,
               const struct http_caller *caller, struct sluice_http_call **out,
               struct sluice_error *err)
{
  struct sluice_http_call *c;
  int rc;

  if (req == NULL ||
      req->struct_size <
          offsetof(struct sluice_http_request, arg) + sizeof(void *) ||
      req->method == NULL || req->url == NULL || req->on_done == NULL)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "http_request: method, url and on_done are "
                            "required (and struct_size set)");
  c = calloc(1, sizeof *c);
  if (c == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  c->e = e;
  c->method = strdup(req->method);
  c->url = strdup(req->url);
  c->ca_file = dup_or_null(req->ca_file);
  c->rate_key = dup_or_null(req->rate_key);
  c->body_file = dup_or_null(req->body_file);
  if (req->struct_size >=
          offsetof(struct sluice_http_request, aws_secret_access_key) +
              sizeof(const char *) &&
      req->aws_sigv4 != NULL) {
    c->aws_sigv4 = strdup(req->aws_sigv4);
    c->aws_key = dup_or_null(req->aws_access_key_id);
    c->aws_secret = dup_or_null(req->aws_secret_access_key);
    if (!c->aws_sigv4 || !c->aws_key || !c->aws_secret) {
      call_free(c);
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "http_request: aws_sigv4 needs "
                              "aws_access_key_id and aws_secret_access_key");
    }
  }
  c->easy = curl_easy_init();
  if (!c->method || !c->url || !c->easy || (req->ca_file && !c->ca_file) ||
      (req->rate_key && !c->rate_key) || (req->body_file && !c->body_file)) {
    call_free(c); /* before its timer exists */
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  c->body = req->body;
  c->body_len = req->body_len;
  c->flags = req->flags;
  c->timeout_ms = req->timeout_ms;
  c->stall_ms = req->stall_ms ? req->stall_ms : DEFAULT_STALL_MS;
  c->max_attempts = req->max_attempts ? req->max_attempts : DEFAULT_ATTEMPTS;
  c->max_buffered =
      req->max_buffered ? req->max_buffered : DEFAULT_MAX_BUFFERED;
  c->on_response = req->on_response;
  c->on_data = req->on_data;
  c->on_done = req->on_done;
  c->arg = req->arg;
  if (caller != NULL) {
    c->released = caller->released;
    c->owner = caller->owner;
    c->retries = caller->retries;
    c->insecure = caller->insecure_skip_tls_verify;
  }
  if (c->body_file != NULL && (c->upload = fopen(c->body_file, "rb")) == NULL) {
    rc = sluice_error_set(err, SLUICE_EIO, 0, "%s: cannot open", c->body_file);
    call_free(c); /* before its timer exists */
    return rc;
  }
  if ((rc = setup_easy(c, req, err)) < 0) {
    call_free(c); /* before its timer exists */
    return rc;
  }
  uv_timer_init(e->loop, &c->timer);
  c->timer.data = c;
  e->active++;
  if (out != NULL)
    *out = c;
  /* The first attempt starts from the loop too: on_done must never run
   * before http_request has returned. */
  c->state = CALL_WAITING;
  uv_timer_start(&c->timer, on_wait_done, 0, 0);
  return 0;
}

void http_cancel(struct sluice_http_call *c)
{
  if (c == NULL || c->canceled || c->state == CALL_ENDING ||
      c->state == CALL_DONE)
    return;
  c->canceled = 1;
  if (c->state == CALL_WAITING) {
    uv_timer_stop(&c->timer);
    fail_later(c, SLUICE_ECANCELED, 0, "cancelled");
    return;
  }
  /* From inside curl the transfer stops when the callback returns;
   * otherwise it leaves the multi now, whatever the peer is doing. */
  if (!c->in_curl && c->in_multi) {
    curl_multi_remove_handle(c->e->multi, c->easy);
    c->in_multi = 0;
    fail_later(c, SLUICE_ECANCELED, 0, "cancelled");
  }
}

void http_resume(struct sluice_http_call *c)
{
  if (c == NULL || !c->paused)
    return;
  c->paused = 0;
  /* This may deliver the held piece to on_data right here. */
  curl_easy_pause(c->easy, CURLPAUSE_CONT);
  /* With the socket API nothing may wake the transfer (the socket can be
   * quiet, its data already read): drive the multi once from the loop. */
  uv_timer_start(&c->e->timer, on_engine_timer, 1, 0);
}

const char *http_response_header_at(const struct sluice_http_response *resp,
                                    const char *name, size_t i)
{
  const struct http_resp *r = (const struct http_resp *)resp;
  const char *p = r->headers.data, *end = p + r->headers.len;

  while (p != NULL && p < end) {
    const char *value = p + strlen(p) + 1;
    if (strcasecmp(p, name) == 0 && i-- == 0)
      return value;
    p = value + strlen(value) + 1;
  }
  return NULL;
}

const char *http_response_header(const struct sluice_http_response *resp,
                                 const char *name)
{
  const struct http_resp *r = (const struct http_resp *)resp;
  const char *p = r->headers.data, *end = p + r->headers.len, *found = NULL;

  while (p != NULL && p < end) {
    const char *value = p + strlen(p) + 1;
    if (strcasecmp(p, name) == 0)
      found = value; /* the last one wins */
    p = value + strlen(value) + 1;
  }
  return found;
}
