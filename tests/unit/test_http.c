/* tests/unit/test_http.c - HTTP on the loop against a local HTTPS server
 * (tests/http/testserver.py) that misbehaves on request: retries, resets,
 * stalls, pauses, cancels, TLS verification and rate limiting. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <uv.h>

#include "http.h"
#include "log.h"

static uv_loop_t loop;
static struct http_engine *engine;
static char base[64];
static char ca_file[512];
static pid_t server_pid;

struct result {
  int done;
  int status;
  long http;
  unsigned attempts;
  char body[4096];
  size_t body_len;
  size_t streamed;
  uint64_t checksum;
  int pauses_left;
  struct sluice_http_call *call;
  char x_test[32];
  struct sluice_error err;
};

static void on_done(void *arg, int status, const struct sluice_http_response *r,
                    const struct sluice_error *err)
{
  struct result *res = arg;
  const char *x = http_response_header(r, "x-test");

  res->done++;
  res->status = status;
  res->http = r->status;
  res->attempts = r->attempts;
  if (r->body != NULL) {
    res->body_len =
        r->body_len < sizeof res->body - 1 ? r->body_len : sizeof res->body - 1;
    memcpy(res->body, r->body, res->body_len);
  }
  if (x != NULL)
    snprintf(res->x_test, sizeof res->x_test, "%s", x);
  if (err != NULL)
    res->err = *err;
}

static void free_handle(uv_handle_t *h)
{
  free(h);
}

static void resume_soon(uv_timer_t *t)
{
  struct result *res = t->data;
  http_resume(res->call);
  uv_close((uv_handle_t *)t, free_handle);
}

static int on_data(void *arg, const char *data, size_t len)
{
  struct result *res = arg;

  if (res->pauses_left > 0) {
    uv_timer_t *timer = malloc(sizeof *timer);
    assert_non_null(timer);
    res->pauses_left--;
    uv_timer_init(&loop, timer);
    timer->data = res;
    uv_timer_start(timer, resume_soon, 20, 0);
    return SLUICE_EAGAIN; /* this piece must come again */
  }
  for (size_t i = 0; i < len; i++)
    res->checksum = res->checksum * 31 + (unsigned char)data[i];
  res->streamed += len;
  return 0;
}

static void run_until_done(struct result *res)
{
  while (!res->done)
    uv_run(&loop, UV_RUN_ONCE);
  /* Let the call's handles close. */
  uv_run(&loop, UV_RUN_NOWAIT);
}

static void request_as(const char *method, const char *path,
                       struct sluice_http_request *req, struct result *res,
                       const struct http_caller *caller)
{
  char url[256];
  struct sluice_error err = {0};

  snprintf(url, sizeof url, "%s%s", base, path);
  req->struct_size = sizeof *req;
  req->method = method;
  req->url = url;
  if (req->ca_file == NULL)
    req->ca_file = ca_file;
  req->on_done = on_done;
  req->arg = res;
  assert_int_equal(http_start(engine, req, caller, &res->call, &err), 0);
  run_until_done(res);
  assert_int_equal(res->done, 1); /* exactly once */
}

static void request(const char *method, const char *path,
                    struct sluice_http_request *req, struct result *res)
{
  request_as(method, path, req, res, NULL);
}

static long count_of(const char *path)
{
  struct sluice_http_request req = {0};
  struct result res = {0};
  char q[256];

  snprintf(q, sizeof q, "/count?path=%s", path);
  request("GET", q, &req, &res);
  return strtol(res.body, NULL, 10);
}

static void get_ok_with_headers_and_user_agent(void **state)
{
  struct sluice_http_request req = {0};
  struct result res = {0};
  (void)state;
  request("GET", "/ok", &req, &res);
  assert_int_equal(res.status, 0);
  assert_int_equal(res.http, 200);
  assert_int_equal(res.attempts, 1);
  assert_string_equal(res.x_test, "1");
  assert_int_equal(res.body_len, 5);
  assert_memory_equal(res.body, "hello", 5);

  struct sluice_http_header h[] = {{"X-Custom", "yes"}};
  struct sluice_http_request post = {
      .headers = h, .nheaders = 1, .body = "payload", .body_len = 7};
  struct result echo = {0};
  request("POST", "/echo", &post, &echo);
  assert_int_equal(echo.http, 200);
  assert_non_null(strstr(echo.body, "\"User-Agent\": \"sluice/"));
  assert_non_null(strstr(echo.body, "\"X-Custom\": \"yes\""));
  assert_non_null(strstr(echo.body, "\"body\": \"payload\""));
  assert_non_null(strstr(echo.body, "\"method\": \"POST\""));
}

static void gzip_is_decoded(void **state)
{
  struct sluice_http_request req = {0};
  struct result res = {0};
  (void)state;
  request("GET", "/gzip", &req, &res);
  assert_int_equal(res.body_len, 10);
  assert_memory_equal(res.body, "hello gzip", 10);
}

static uint64_t pattern_checksum(size_t n)
{
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i++)
    sum = sum * 31 + (unsigned char)(i % 256);
  return sum;
}

static void streams_and_pauses(void **state)
{
  struct sluice_http_request req = {.on_data = on_data};
  struct result res = {.pauses_left = 3};
  (void)state;
  request("GET", "/big?n=3000000", &req, &res);
  assert_int_equal(res.status, 0);
  assert_int_equal(res.http, 200);
  assert_int_equal(res.streamed, 3000000);
  assert_int_equal(res.pauses_left, 0);
  /* Paused pieces came again, in order: the bytes are exactly right. */
  assert_true(res.checksum == pattern_checksum(3000000));
  assert_int_equal(res.body_len, 0); /* streamed, not buffered */
}

static void retries_idempotent_requests(void **state)
{
  struct sluice_http_request req = {0};
  struct result res = {0};
  (void)state;
  request("GET", "/flaky/2?key=get", &req, &res);
  assert_int_equal(res.http, 200);
  assert_int_equal(res.attempts, 3);
  assert_memory_equal(res.body, "recovered", 9);
  assert_int_equal(count_of("/flaky/2?key=get"), 3);

  /* A POST is not resent unless the plugin says it is safe. */
  struct result once = {0};
  struct sluice_http_request post = {.body = "x", .body_len = 1};
  request("POST", "/flaky/1?key=post", &post, &once);
  assert_int_equal(once.status, 0);
  assert_int_equal(once.http, 503);
  assert_int_equal(once.attempts, 1);
  assert_non_null(strstr(once.body, "try later")); /* the error body */

  struct result safe = {0};
  struct sluice_http_request post2 = {
      .body = "x", .body_len = 1, .flags = SLUICE_HTTP_RETRY_SAFE};
  request("POST", "/flaky/1?key=safe", &post2, &safe);
  assert_int_equal(safe.http, 200);
  assert_int_equal(safe.attempts, 2);

  /* Out of attempts: the last answer is the answer. */
  struct result tired = {0};
  struct sluice_http_request few = {.max_attempts = 2};
  request("GET", "/flaky/5?key=few", &few, &tired);
  assert_int_equal(tired.status, 0);
  assert_int_equal(tired.http, 503);
  assert_int_equal(tired.attempts, 2);
}

static void client_errors_are_not_retried(void **state)
{
  struct sluice_http_request req = {0};
  struct result res = {0};
  (void)state;
  request("GET", "/status/404", &req, &res);
  assert_int_equal(res.status, 0);
  assert_int_equal(res.http, 404);
  assert_int_equal(res.attempts, 1);
  assert_non_null(strstr(res.body, "404"));
}

static void retry_after_is_honoured(void **state)
{
  struct sluice_http_request req = {0};
  struct result res = {0};
  uint64_t start = uv_hrtime();
  (void)state;
  request("GET", "/retry-after/1", &req, &res);
  assert_int_equal(res.http, 200);
  assert_int_equal(res.attempts, 2);
  /* A lower bound only: it must have waited the second it was told. */
  assert_true(uv_hrtime() - start >= 950 * 1000000ULL);
}

static void resets_fail_clearly(void **state)
{
  struct sluice_http_request req = {.max_attempts = 2};
  struct result res = {0};
  (void)state;
  request("GET", "/reset", &req, &res);
  assert_true(res.status < 0);
  assert_int_equal(res.attempts, 2);
  assert_int_equal(res.err.retryable, 1);
  assert_non_null(strstr(res.err.message, "GET https://127.0.0.1:"));
  assert_non_null(strstr(res.err.message, "/reset: "));

  /* Mid-body with the body buffered: nothing reached the plugin yet, so
   * the GET is sent again (here it fails every time). */
  struct sluice_http_request buffered = {.max_attempts = 2};
  struct result again = {0};
  request("GET", "/reset-mid?key=buffered", &buffered, &again);
  assert_true(again.status < 0);
  assert_int_equal(again.attempts, 2);
  assert_non_null(strstr(again.err.message, "in the middle of the answer"));

  /* Mid-body: data reached the plugin, so no silent resend. */
  struct sluice_http_request mid = {.on_data = on_data};
  struct result half = {0};
  request("GET", "/reset-mid", &mid, &half);
  assert_true(half.status < 0);
  assert_int_equal(half.attempts, 1);
  assert_non_null(strstr(half.err.message, "in the middle of the answer"));
}

static void stalls_time_out(void **state)
{
  struct sluice_http_request req = {.stall_ms = 1000, .max_attempts = 1};
  struct result res = {0};
  (void)state;
  request("GET", "/stall?ms=4000&key=t", &req, &res);
  assert_int_equal(res.status, SLUICE_ETIMEDOUT);
  assert_int_equal(res.err.retryable, 1);
}

static void cancel_soon(uv_timer_t *t)
{
  struct result *res = t->data;
  http_cancel(res->call);
  uv_close((uv_handle_t *)t, NULL);
}

static void cancel_ends_once(void **state)
{
  struct sluice_http_request req = {0};
  struct result res = {0};
  struct sluice_error err = {0};
  uv_timer_t t;
  char url[256];
  uint64_t start = uv_hrtime();
  (void)state;
  snprintf(url, sizeof url, "%s/stall?ms=5000&key=c", base);
  req.struct_size = sizeof req;
  req.method = "GET";
  req.url = url;
  req.ca_file = ca_file;
  req.on_done = on_done;
  req.arg = &res;
  assert_int_equal(http_start(engine, &req, NULL, &res.call, &err), 0);
  uv_timer_init(&loop, &t);
  t.data = &res;
  uv_timer_start(&t, cancel_soon, 200, 0);
  run_until_done(&res);
  assert_int_equal(res.status, SLUICE_ECANCELED);
  assert_int_equal(res.done, 1);
  assert_true(uv_hrtime() - start < 3000 * 1000000ULL); /* did not wait */
}

static void tls_is_verified(void **state)
{
  /* The system's CAs do not know the test CA: this must fail. */
  struct sluice_http_request req = {
      .ca_file = "/etc/ssl/certs/ca-certificates.crt", .max_attempts = 1};
  struct result res = {0};
  (void)state;
  request("GET", "/ok", &req, &res);
  assert_true(res.status < 0);
  assert_int_equal(res.http, 0);

  /* Not retried (it cannot get better), and the message says why. */
  struct sluice_http_request again = {.ca_file =
                                          "/etc/ssl/certs/ca-certificates.crt"};
  struct result res2 = {0};
  request("GET", "/ok", &again, &res2);
  assert_true(res2.status < 0);
  assert_int_equal(res2.attempts, 1);
  assert_non_null(strstr(res2.err.message, "TLS: "));
  assert_non_null(strstr(res2.err.message,
                         "did not verify against "
                         "/etc/ssl/certs/ca-certificates.crt"));

  /* A connection's insecure_skip_tls_verify: the same request succeeds,
   * and the caller counts no retry. */
  uint64_t retries = 0;
  struct http_caller insecure = {.retries = &retries,
                                 .insecure_skip_tls_verify = 1};
  struct sluice_http_request req3 = {.ca_file =
                                         "/etc/ssl/certs/ca-certificates.crt"};
  struct result res3 = {0};
  request_as("GET", "/ok", &req3, &res3, &insecure);
  assert_int_equal(res3.status, 0);
  assert_int_equal(res3.http, 200);
  assert_int_equal(retries, 0);
}

static void buffered_answers_are_bounded(void **state)
{
  /* A body past max_buffered fails, naming the request and the limit. */
  struct sluice_http_request req = {.max_buffered = 1000};
  struct result res = {0};
  (void)state;
  request("GET", "/big?n=100000", &req, &res);
  assert_int_equal(res.status, SLUICE_EPROTO);
  assert_non_null(strstr(res.err.message, "GET "));
  assert_non_null(strstr(res.err.message, "/big: the answer (HTTP 200) is "
                                          "larger than 1000 bytes"));
}

static void rate_limit_paces_requests(void **state)
{
  struct sluice_http_request req[5];
  struct result res[5];
  struct sluice_error err = {0};
  char url[256];
  uint64_t start = uv_hrtime();
  (void)state;
  memset(req, 0, sizeof req);
  memset(res, 0, sizeof res);
  snprintf(url, sizeof url, "%s/ok", base);
  for (int i = 0; i < 5; i++) {
    req[i].struct_size = sizeof req[i];
    req[i].method = "GET";
    req[i].url = url;
    req[i].ca_file = ca_file;
    req[i].rate_key = "paced";
    req[i].on_done = on_done;
    req[i].arg = &res[i];
    assert_int_equal(http_start(engine, &req[i], NULL, &res[i].call, &err), 0);
  }
  for (int i = 0; i < 5; i++)
    run_until_done(&res[i]);
  /* 2 requests/s at the start: five take at least about a second and a
   * half (a lower bound, whatever the machine's speed). */
  assert_true(uv_hrtime() - start >= 1400 * 1000000ULL);
  for (int i = 0; i < 5; i++)
    assert_int_equal(res[i].http, 200);
}

static int start_server(void **state)
{
  const char *top = getenv("TOP_SRCDIR") ? getenv("TOP_SRCDIR") : ".";
  char dir[] = "/tmp/sluice-http-XXXXXX", cmd[1024], line[64];
  int fds[2];
  FILE *out;
  (void)state;
  if (mkdtemp(dir) == NULL)
    return -1;
  snprintf(cmd, sizeof cmd, "sh '%s/tests/http/make-cert.sh' '%s'", top, dir);
  if (system(cmd) != 0)
    return -1;
  snprintf(ca_file, sizeof ca_file, "%s/ca.pem", dir);
  if (pipe(fds) != 0)
    return -1;
  server_pid = fork();
  if (server_pid == 0) {
    char script[512], cert[512], key[512];
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    snprintf(script, sizeof script, "%s/tests/http/testserver.py", top);
    snprintf(cert, sizeof cert, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    execlp("python3", "python3", script, cert, key, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  out = fdopen(fds[0], "r");
  if (out == NULL || fgets(line, sizeof line, out) == NULL ||
      strncmp(line, "listening ", 10) != 0)
    return -1;
  snprintf(base, sizeof base, "https://127.0.0.1:%d", atoi(line + 10));
  curl_global_init(CURL_GLOBAL_DEFAULT);
  uv_loop_init(&loop);
  engine = http_engine_new(&loop);
  return engine ? 0 : -1;
}

static int stop_server(void **state)
{
  (void)state;
  http_engine_free(engine);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0); /* every handle closed */
  curl_global_cleanup();
  kill(server_pid, SIGTERM);
  waitpid(server_pid, NULL, 0);
  return 0;
}

/* aws_sigv4: curl signs the request; the secret never travels. */
static void aws_sigv4_signs(void **state)
{
  struct sluice_http_header h[] = {
      {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}};
  struct sluice_http_request req = {.headers = h,
                                    .nheaders = 1,
                                    .body = "data",
                                    .body_len = 4,
                                    .aws_sigv4 = "aws:amz:eu-west-1:s3",
                                    .aws_access_key_id = "AKIDEXAMPLE",
                                    .aws_secret_access_key = "s3cr3t-key"};
  struct result res = {0};
  (void)state;
  request("PUT", "/echo", &req, &res);
  assert_int_equal(res.http, 200);
  assert_non_null(strstr(res.body, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
  assert_non_null(strstr(res.body, "/eu-west-1/s3/aws4_request"));
  assert_non_null(strstr(res.body, "X-Amz-Date"));
  assert_null(strstr(res.body, "s3cr3t-key"));
}

/* The budget of a rate key is the process's: what one caller reports,
 * another reads, plus every request sent with the key since. */
static void budget_is_shared_by_rate_key(void **state)
{
  struct sluice_http_request req = {.rate_key = "budgeted"};
  struct result res = {0};
  int64_t used = -1, max = -1;
  (void)state;

  assert_int_equal(http_budget_get(engine, "budgeted", &used, &max),
                   SLUICE_ENOTFOUND);
  http_budget_report(engine, "budgeted", 790, 1000);
  assert_int_equal(http_budget_get(engine, "budgeted", &used, &max), 0);
  assert_true(used == 790 && max == 1000);
  assert_int_equal(http_budget_get(engine, "another", &used, &max),
                   SLUICE_ENOTFOUND);
  request("GET", "/ok", &req, &res);
  assert_int_equal(res.http, 200);
  assert_int_equal(http_budget_get(engine, "budgeted", &used, &max), 0);
  assert_true(used == 791 && max == 1000);
  /* A nonsense report changes nothing. */
  http_budget_report(engine, "budgeted", 5, 0);
  assert_int_equal(http_budget_get(engine, "budgeted", &used, &max), 0);
  assert_true(used == 791 && max == 1000);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(get_ok_with_headers_and_user_agent),
      cmocka_unit_test(gzip_is_decoded),
      cmocka_unit_test(streams_and_pauses),
      cmocka_unit_test(retries_idempotent_requests),
      cmocka_unit_test(client_errors_are_not_retried),
      cmocka_unit_test(retry_after_is_honoured),
      cmocka_unit_test(resets_fail_clearly),
      cmocka_unit_test(stalls_time_out),
      cmocka_unit_test(cancel_ends_once),
      cmocka_unit_test(tls_is_verified),
      cmocka_unit_test(buffered_answers_are_bounded),
      cmocka_unit_test(rate_limit_paces_requests),
      cmocka_unit_test(budget_is_shared_by_rate_key),
      cmocka_unit_test(aws_sigv4_signs),
  };
  log_setup(SLUICE_LOG_ERROR, LOG_FORMAT_TEXT);
  return cmocka_run_group_tests(tests, start_server, stop_server);
}
