/* core/http.h - HTTP on the loop: the engine behind host->http_request.
 *
 * One engine per loop: a CURLM driven by curl_multi_socket_action, a
 * uv_poll_t per socket and one uv_timer_t (curl's multi-uv pattern).
 * Lifetime: http_engine_new with the loop; http_engine_free must run while
 * the loop can still run (closing handles is asynchronous), before
 * uv_loop_close.  Calls still under way then (the core's notifications;
 * plugins' calls have all ended) finish first, and the engine goes after
 * the last. */
#ifndef SLUICE_CORE_HTTP_H
#define SLUICE_CORE_HTTP_H

#include <uv.h>

#include "sluice/host.h"

struct http_engine;

struct http_engine *http_engine_new(uv_loop_t *loop);
void http_engine_free(struct http_engine *e);

/* Who a call is for: the host's side of a request, which the plugin's
 * struct sluice_http_request does not carry. */
struct http_caller {
  /* released(owner) runs after on_done has returned (the caller's count
   * of outstanding work); may be NULL. */
  void (*released)(void *owner);
  void *owner;
  /* Counts the attempts this caller's calls sent again (the run record's
   * http_retries); may be NULL.  Must outlive the call. */
  uint64_t *retries;
  /* The connection's "insecure_skip_tls_verify": neither the peer's
   * certificate nor its name is checked.  Off unless a pipeline file asks
   * for it, per connection. */
  int insecure_skip_tls_verify;
};

/* Starts req for caller (NULL: nobody to tell, verified TLS).  0, or a
 * negative code with err (nothing else happens then). */
int http_start(struct http_engine *e, const struct sluice_http_request *req,
               const struct http_caller *caller, struct sluice_http_call **call,
               struct sluice_error *err);
void http_cancel(struct sluice_http_call *call);
void http_resume(struct sluice_http_call *call);
/* The i-th value of a header that may repeat, or NULL. */
const char *http_response_header_at(const struct sluice_http_response *resp,
                                    const char *name, size_t i);
const char *http_response_header(const struct sluice_http_response *resp,
                                 const char *name);
void http_throttle(struct http_engine *e, const char *rate_key);
/* The API budget of a rate key (host.h: budget_report, budget_get). */
void http_budget_report(struct http_engine *e, const char *rate_key,
                        int64_t used, int64_t max);
int http_budget_get(struct http_engine *e, const char *rate_key, int64_t *used,
                    int64_t *max);
/* Every key's budget known (metrics). */
void http_budget_foreach(struct http_engine *e,
                         void (*cb)(void *arg, const char *rate_key,
                                    int64_t used, int64_t max),
                         void *arg);
/* Attempts sent again after a failure, since the engine started. */
uint64_t http_retries(const struct http_engine *e);

#endif
