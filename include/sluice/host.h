/* sluice/host.h - the services the host offers a plugin.
 *
 * A plugin reaches the host only through this table, received in init();
 * it links libsluice-sdk and never the host, so it builds out of tree with
 * `pkg-config --cflags --libs sluice-sdk` alone.  No libuv, libcurl,
 * jansson or OpenSSL type appears here: their ABIs stay the host's.
 *
 * The table is append-only within an ABI major (see plugin.h).  A plugin
 * built for minor N may call a service added in minor N only after checking
 * SLUICE_HOST_HAS(host, field), because an older host is allowed to load
 * a plugin as long as the plugin's minor is not newer than the host's.
 *
 * Every service is called on the loop thread unless it says otherwise.
 *
 * Since ABI 1.0.
 */
#ifndef SLUICE_HOST_H
#define SLUICE_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/batch.h"
#include "sluice/error.h"
#include "sluice/export.h"
#include "sluice/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sluice_log_level {
  SLUICE_LOG_ERROR = 0,
  SLUICE_LOG_WARN = 1,
  SLUICE_LOG_INFO = 2,
  SLUICE_LOG_DEBUG = 3
};

/* Run counters a plugin reports; the host counts rows read (emitted),
 * written and deleted itself. */
enum sluice_counter {
  SLUICE_COUNT_REJECTED = 0, /* rows refused and sent to a reject file */
  SLUICE_COUNT_BYTES_IN,     /* bytes read from the source system */
  SLUICE_COUNT_BYTES_OUT,    /* bytes sent to the destination system */
  SLUICE_COUNT_API_CALLS,    /* requests that count against a quota */
  /* ABI 1.1: the records the source expects to give in this run, when it
   * knows (a query's total): for progress.  Add it once. */
  SLUICE_COUNT_EXPECTED
};

struct sluice_timer;     /* host-owned */
struct sluice_http_call; /* host-owned; valid until its on_done returns */

/* --- HTTP on the loop --------------------------------------------------
 * One request, asynchronous, its response streamed.  The host owns
 * connections (keep-alive, HTTP/2 where offered, gzip, proxies from the
 * usual environment variables), TLS (verified, unless the pipeline file
 * sets the connection's insecure_skip_tls_verify), timeouts, retries with
 * backoff and jitter (Retry-After honoured) and per-key AIMD rate
 * limiting.  Retries happen only before anything of the response reached
 * the plugin, and only for requests safe to resend: GET, HEAD, PUT,
 * DELETE, or any request flagged SLUICE_HTTP_RETRY_SAFE. */

struct sluice_http_header {
  const char *name;
  const char *value;
};

enum sluice_http_flag {
  /* The service deduplicates this POST/PATCH (a request id, an upsert):
   * the host may send it again after a failure. */
  SLUICE_HTTP_RETRY_SAFE = 1u << 0,
  /* Never send it twice, even a GET. */
  SLUICE_HTTP_NO_RETRY = 1u << 1
};

struct sluice_http_response {
  long status;      /* 200, 404, ...; 0 when no answer arrived */
  const char *body; /* the buffered body (see on_data), or NULL */
  size_t body_len;
  unsigned attempts; /* requests sent, retries included */
  const char *url;   /* the effective URL */
};

struct sluice_http_request {
  size_t struct_size; /* sizeof(struct sluice_http_request): see INIT */
  const char *method; /* "GET", "POST", "PATCH", "PUT", "DELETE", "HEAD" */
  const char *url;    /* https://... (copied) */
  const struct sluice_http_header *headers; /* copied */
  size_t nheaders;
  /* The body: in memory (borrowed until on_done), or read from a file in
   * small pieces (its path is copied); neither for no body. */
  const void *body;
  size_t body_len;
  const char *body_file;
  const char *ca_file;   /* a CA bundle to trust instead of the system's */
  const char *rate_key;  /* requests with one key share a rate limiter that
                            starts at 2 requests/s, adds on success and
                            halves on 429/503 (NULL: not limited) */
  uint32_t flags;        /* enum sluice_http_flag */
  uint32_t timeout_ms;   /* the whole exchange; 0: no limit */
  uint32_t stall_ms;     /* no byte for this long fails it; 0: 60 s */
  unsigned max_attempts; /* 0: the host's default (5) */
  size_t max_buffered;   /* the largest body buffered for on_done; 0: 16 MiB */

  /* The final response's status line and headers are in (read headers
   * with host->http_header).  Not called for an answer that is retried.
   * Return < 0 to cancel the request. */
  int (*on_response)(void *arg, const struct sluice_http_response *resp);
  /* Pieces of a 2xx body.  NULL: the body is buffered and handed to
   * on_done.  Return 0 to go on, SLUICE_EAGAIN to pause the transfer
   * (this piece is not consumed: it comes again after http_resume), or
   * another negative code to cancel.  Non-2xx bodies are always buffered. */
  int (*on_data)(void *arg, const char *data, size_t len);
  /* Called exactly once when http_request returned 0: status 0 for a
   * complete exchange whatever the HTTP status (read resp->status), or a
   * negative code (no answer, a reset, a timeout, cancelled) with err. */
  void (*on_done)(void *arg, int status,
                  const struct sluice_http_response *resp,
                  const struct sluice_error *err);
  void *arg;

  /* ---- ABI 1.1 (read only when struct_size covers them) ---- */

  /* AWS Signature V4, as curl's CURLOPT_AWS_SIGV4 ("aws:amz:REGION:s3":
   * give the region and the service), signed with aws_access_key_id and
   * aws_secret_access_key (copied; never logged).  A session token goes
   * in an "x-amz-security-token" header, and a streamed body needs an
   * "x-amz-content-sha256: UNSIGNED-PAYLOAD" header (some curl versions
   * add none and S3 then refuses the request). */
  const char *aws_sigv4;
  const char *aws_access_key_id;
  const char *aws_secret_access_key;
};

#define SLUICE_HTTP_REQUEST_INIT                                               \
  {                                                                            \
    .struct_size = sizeof(struct sluice_http_request)                          \
  }

struct sluice_host {
  /* ---- header: frozen for every major ---- */
  uint32_t magic; /* SLUICE_PLUGIN_MAGIC */
  uint16_t abi_major;
  uint16_t abi_minor;
  uint32_t struct_size; /* sizeof(struct sluice_host) in the host */

  /* ---- ABI 1.0 ---- */

  /* One log line, prefixed with the instance ("[pipeline source csv-file]").
   * Known secret values are masked before anything is written. */
  void (*log)(struct sluice_instance *ins, enum sluice_log_level level,
              const char *fmt, ...) SLUICE_PRINTF(3, 4);

  /* "pipeline-name/source"; borrowed, lives as long as the instance. */
  const char *(*instance_name)(struct sluice_instance *ins);
  /* The current run's id ("20261123T031700Z-1a2b"); borrowed, for the run. */
  const char *(*run_id)(struct sluice_instance *ins);
  /* The directory relative paths in the pipeline file are resolved from. */
  const char *(*base_dir)(struct sluice_instance *ins);

  /* Runs work(arg) on the thread pool, then after(arg, status) on the
   * loop thread; status is SLUICE_ECANCELED when the work never ran.
   * work must not call any host service.  Returns 0, or a negative code
   * (and then neither callback runs). */
  int (*work_submit)(struct sluice_instance *ins, void (*work)(void *arg),
                     void (*after)(void *arg, int status), void *arg);

  /* Calls cb(arg) after timeout_ms, then every repeat_ms when that is not
   * 0.  The host owns the timer; after timer_stop, cb never runs again.  A
   * one-shot timer must still be stopped (this frees it); timers left open
   * when fini returns are stopped by the host.  A running timer does not
   * keep a run from ending.  NULL on ENOMEM. */
  struct sluice_timer *(*timer_start)(struct sluice_instance *ins,
                                      uint64_t timeout_ms, uint64_t repeat_ms,
                                      void (*cb)(void *arg), void *arg);
  void (*timer_stop)(struct sluice_timer *t);

  /* SOURCE: hands a batch to the pipeline; the host takes the caller's
   * reference.  The host may call source_pause before it returns. */
  int (*emit)(struct sluice_instance *ins, struct sluice_batch *batch,
              struct sluice_error *err);
  /* SOURCE: the stream is over.  status 0: every row was emitted; else err
   * says why it failed, and no checkpoint after the failure is saved. */
  void (*source_done)(struct sluice_instance *ins, int status,
                      const struct sluice_error *err);

  /* Adds n to one of the run's counters. */
  void (*count)(struct sluice_instance *ins, enum sluice_counter c, int64_t n);

  /* Durable per-instance key-value state (beside the checkpoint), saved
   * atomically at once.  state_get returns SLUICE_ENOTFOUND when unset;
   * *value is NUL-terminated and freed with host->free. */
  int (*state_get)(struct sluice_instance *ins, const char *key, char **value);
  int (*state_put)(struct sluice_instance *ins, const char *key,
                   const char *value, struct sluice_error *err);

  /* Frees what a host service returned. */
  void (*free)(void *p);

  /* Registers a secret learnt at run time (an access token) so that the
   * log masks it as it masks configured secrets.  Copied. */
  void (*secret_add)(struct sluice_instance *ins, const char *value);

  /* 1 once the host is shutting down (SIGTERM): finish quickly. */
  int (*stopping)(struct sluice_instance *ins);

  /* SOURCE: the pipeline's batch limits, for sluice_batch_new (rows,
   * bytes); a source builds batches no bigger than this. */
  void (*batch_limits)(struct sluice_instance *ins, size_t *max_rows,
                       size_t *max_bytes);

  /* HTTP (see above).  *call, when not NULL, is the handle for cancel and
   * resume, valid until on_done returns. */
  int (*http_request)(struct sluice_instance *ins,
                      const struct sluice_http_request *req,
                      struct sluice_http_call **call, struct sluice_error *err);
  /* on_done follows with SLUICE_ECANCELED (unless it already ran). */
  void (*http_cancel)(struct sluice_http_call *call);
  /* Resumes a transfer on_data paused. */
  void (*http_resume)(struct sluice_http_call *call);
  /* A response header's value (case-insensitive name; the last one when
   * repeated), or NULL; valid during the callback that got resp. */
  const char *(*http_header)(const struct sluice_http_response *resp,
                             const char *name);
  /* Reports a throttle signal only the service's body shows (Salesforce's
   * REQUEST_LIMIT_EXCEEDED): the key's limiter halves its rate. */
  void (*http_throttle)(struct sluice_instance *ins, const char *rate_key);

  /* A service's daily request budget, shared by every instance in the
   * process that uses the same rate key (one connection): budget_report
   * records the figures the service gave last (used of max); budget_get
   * returns them plus one for each request sent since with that key, or
   * SLUICE_ENOTFOUND while nothing was reported.  A plugin checks it
   * before each request so that no pipeline spends what another one has
   * already used up. */
  void (*budget_report)(struct sluice_instance *ins, const char *rate_key,
                        int64_t used, int64_t max);
  int (*budget_get)(struct sluice_instance *ins, const char *rate_key,
                    int64_t *used, int64_t *max);

  /* ---- ABI 1.2 ---- */

  /* The i-th (from 0) value of a response header that may repeat
   * (Set-Cookie), or NULL past the last; valid as http_header's.  Check
   * SLUICE_HOST_HAS(host, http_header_at) first. */
  const char *(*http_header_at)(const struct sluice_http_response *resp,
                                const char *name, size_t i);

  /* ---- ABI 1.3 and later: append below only ---- */
};

/* True when the host's table has field f (it was built with a minor that
 * has it). */
#define SLUICE_HOST_HAS(h, f)                                                  \
  (offsetof(struct sluice_host, f) + sizeof((h)->f) <= (h)->struct_size)

/* Logging shorthands; `host` and `ins` must be in scope as named. */
#define SLUICE_LOG_E(host, ins, ...)                                           \
  (host)->log((ins), SLUICE_LOG_ERROR, __VA_ARGS__)
#define SLUICE_LOG_W(host, ins, ...)                                           \
  (host)->log((ins), SLUICE_LOG_WARN, __VA_ARGS__)
#define SLUICE_LOG_I(host, ins, ...)                                           \
  (host)->log((ins), SLUICE_LOG_INFO, __VA_ARGS__)
#define SLUICE_LOG_D(host, ins, ...)                                           \
  (host)->log((ins), SLUICE_LOG_DEBUG, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_HOST_H */
