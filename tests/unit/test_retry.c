/* test_retry.c - backoff, retryable statuses, Retry-After and AIMD pacing,
 * all under a simulated clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/retry.h"

/* --- PRNG ----------------------------------------------------------------- */

static void test_rng(void **state)
{
  uint64_t a = 42, b = 42, z = 0;
  int i, j, bits[64] = {0};

  (void)state;
  /* Deterministic for a seed. */
  for (i = 0; i < 100; i++)
    assert_true(sluice_rng_next(&a) == sluice_rng_next(&b));
  /* splitmix64's reference sequence from seed 0. */
  assert_true(sluice_rng_next(&z) == UINT64_C(0xE220A8397B1DCDAF));
  assert_true(sluice_rng_next(&z) == UINT64_C(0x6E789E6AA1B965F4));
  assert_true(sluice_rng_next(&z) == UINT64_C(0x06C45D188009454F));
  /* Every bit gets used. */
  for (i = 0; i < 1000; i++) {
    uint64_t r = sluice_rng_next(&a);

    for (j = 0; j < 64; j++)
      bits[j] += (int)(r >> j & 1);
  }
  for (j = 0; j < 64; j++)
    assert_true(bits[j] > 420 && bits[j] < 580);
}

/* --- backoff -------------------------------------------------------------- */

static void test_backoff_full_jitter(void **state)
{
  const struct sluice_retry_policy p = SLUICE_RETRY_POLICY_DEFAULT;
  /* The upper bound after each failed attempt: 0.5, 1, 2, 4 s. */
  static const int64_t cap[] = {0, 500, 1000, 2000, 4000};
  enum { N = 20000 };
  int64_t lo[5], hi[5];
  double sum[5] = {0};
  uint64_t rng = 7;
  unsigned attempt;
  int i;

  (void)state;
  assert_int_equal(p.max_attempts, 5);
  assert_int_equal(p.base_ms, 500);
  assert_int_equal(p.max_ms, 30000);
  for (attempt = 1; attempt <= 4; attempt++) {
    lo[attempt] = INT64_MAX;
    hi[attempt] = 0;
  }
  for (i = 0; i < N; i++) {
    for (attempt = 1; attempt <= 4; attempt++) {
      int64_t w = sluice_retry_backoff_ms(&p, attempt, -1, &rng);

      assert_true(w >= 0 && w <= cap[attempt]);
      if (w < lo[attempt])
        lo[attempt] = w;
      if (w > hi[attempt])
        hi[attempt] = w;
      sum[attempt] += (double)w;
    }
  }
  /* Full jitter: the whole range [0, cap] is used, the mean is cap / 2. */
  for (attempt = 1; attempt <= 4; attempt++) {
    double mean = sum[attempt] / N;

    assert_true(lo[attempt] <= cap[attempt] / 100);
    assert_true(hi[attempt] >= cap[attempt] - cap[attempt] / 100);
    assert_true(mean > cap[attempt] * 0.48 && mean < cap[attempt] * 0.52);
  }
  /* The fifth attempt was the last; so is anything after it. */
  assert_int_equal(sluice_retry_backoff_ms(&p, 5, -1, &rng), -1);
  assert_int_equal(sluice_retry_backoff_ms(&p, 6, 1000, &rng), -1);
  assert_int_equal(sluice_retry_backoff_ms(&p, UINT32_MAX, -1, &rng), -1);
}

static void test_backoff_deterministic(void **state)
{
  const struct sluice_retry_policy p = SLUICE_RETRY_POLICY_DEFAULT;
  uint64_t r1 = 99, r2 = 99;
  unsigned attempt;

  (void)state;
  for (attempt = 1; attempt < 5; attempt++)
    assert_int_equal(sluice_retry_backoff_ms(&p, attempt, -1, &r1),
                     sluice_retry_backoff_ms(&p, attempt, -1, &r2));
  /* No generator: the upper bound, no jitter. */
  assert_int_equal(sluice_retry_backoff_ms(&p, 1, -1, NULL), 500);
  assert_int_equal(sluice_retry_backoff_ms(&p, 4, -1, NULL), 4000);
  /* Attempt 0 is read as the first. */
  assert_int_equal(sluice_retry_backoff_ms(&p, 0, -1, NULL), 500);
}

static void test_backoff_cap(void **state)
{
  const struct sluice_retry_policy p = {100, 500, 30000};
  const struct sluice_retry_policy huge = {UINT32_MAX, 1, INT64_MAX};
  const struct sluice_retry_policy zero = {10, 0, 30000};
  uint64_t rng = 1;
  unsigned attempt;

  (void)state;
  /* 500 * 2^6 = 32000 is past the 30 s cap. */
  assert_int_equal(sluice_retry_backoff_ms(&p, 6, -1, NULL), 16000);
  assert_int_equal(sluice_retry_backoff_ms(&p, 7, -1, NULL), 30000);
  assert_int_equal(sluice_retry_backoff_ms(&p, 99, -1, NULL), 30000);
  for (attempt = 1; attempt < 100; attempt++) {
    int64_t w = sluice_retry_backoff_ms(&p, attempt, -1, &rng);

    assert_true(w >= 0 && w <= 30000);
  }
  /* No overflow however far it doubles: 2^62, then saturated. */
  assert_true(sluice_retry_backoff_ms(&huge, 63, -1, NULL) == INT64_C(1) << 62);
  assert_true(sluice_retry_backoff_ms(&huge, 64, -1, NULL) == INT64_MAX);
  assert_true(sluice_retry_backoff_ms(&huge, 4000000000u, -1, NULL) ==
              INT64_MAX);
  assert_true(sluice_retry_backoff_ms(&huge, 4000000000u, -1, &rng) >= 0);
  assert_int_equal(sluice_retry_backoff_ms(&zero, 3, -1, &rng), 0);
}

static void test_backoff_retry_after(void **state)
{
  const struct sluice_retry_policy p = SLUICE_RETRY_POLICY_DEFAULT;
  uint64_t rng = 3;
  int i;

  (void)state;
  for (i = 0; i < 1000; i++) {
    /* Never less than the server asked, even beyond max_ms... */
    assert_true(sluice_retry_backoff_ms(&p, 1, 2000, &rng) == 2000);
    assert_true(sluice_retry_backoff_ms(&p, 4, 120000, &rng) == 120000);
    /* ...but a small hint does not shorten the backoff either. */
    assert_true(sluice_retry_backoff_ms(&p, 4, 0, &rng) <= 4000);
    assert_true(sluice_retry_backoff_ms(&p, 4, 100, &rng) >= 100);
  }
  assert_int_equal(sluice_retry_backoff_ms(&p, 4, 0, NULL), 4000);
  /* A hint past the hard limit is cut to it. */
  assert_int_equal(sluice_retry_backoff_ms(&p, 1, INT64_C(86400000), &rng),
                   SLUICE_RETRY_AFTER_MAX_MS);
  assert_int_equal(SLUICE_RETRY_AFTER_MAX_MS, 600000);
  assert_int_equal(sluice_retry_backoff_ms(&p, 1, INT64_MAX, &rng),
                   SLUICE_RETRY_AFTER_MAX_MS);
}

/* --- statuses ------------------------------------------------------------- */

static void test_status_retryable(void **state)
{
  static const long yes[] = {408, 425, 429, 500, 502, 503, 504};
  static const long no[] = {0,   100, 200, 201, 204, 301, 304, 400,
                            401, 403, 404, 405, 409, 410, 413, 414,
                            415, 422, 431, 501, 505, 599, -1,  999};
  size_t i;

  (void)state;
  for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
    assert_int_equal(sluice_http_status_retryable(yes[i]), 1);
  for (i = 0; i < sizeof no / sizeof no[0]; i++)
    assert_int_equal(sluice_http_status_retryable(no[i]), 0);
}

/* --- Retry-After ---------------------------------------------------------- */

static void test_retry_after(void **state)
{
  /* 1994-11-06T08:49:37Z, RFC 9110's example date. */
  const int64_t t = 784111777;

  (void)state;
  assert_int_equal(sluice_parse_retry_after_ms("120", t), 120000);
  assert_int_equal(sluice_parse_retry_after_ms("0", t), 0);
  assert_int_equal(sluice_parse_retry_after_ms(" 5\t", t), 5000);
  assert_int_equal(sluice_parse_retry_after_ms("007", t), 7000);
  assert_int_equal(sluice_parse_retry_after_ms("99999999999999999999999", t),
                   INT64_C(1) << 40);

  assert_int_equal(
      sluice_parse_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", t - 30),
      30000);
  assert_int_equal(
      sluice_parse_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", t), 0);
  assert_int_equal(
      sluice_parse_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", t + 99), 0);
  assert_int_equal(sluice_parse_retry_after_ms(
                       "  Thu, 29 Feb 2024 23:59:59 GMT ", 1709251199 - 2),
                   2000);
  assert_int_equal(
      sluice_parse_retry_after_ms("Sat, 01 Jan 2000 00:00:00 GMT", 946684000),
      800000);
  assert_int_equal(
      sluice_parse_retry_after_ms("Sat, 01 Jan 2000 00:00:00 GMT", INT64_MIN),
      INT64_C(1) << 40);
  /* A leap second. */
  assert_int_equal(
      sluice_parse_retry_after_ms("Sat, 31 Dec 2016 23:59:60 GMT", 1483228799),
      1000);

  static const char *bad[] = {
      "",
      "   ",
      "-5",
      "+5",
      "1.5",
      "5s",
      "12 34",
      "Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850 */
      "Sun Nov  6 08:49:37 1994",       /* asctime */
      "Sun, 06 Nov 1994 08:49:37 UTC",
      "Sun, 6 Nov 1994 08:49:37 GMT",
      "Sun, 06 nov 1994 08:49:37 GMT",
      "Xyz, 06 Nov 1994 08:49:37 GMT",
      "Sun, 31 Nov 1994 08:49:37 GMT",
      "Sun, 29 Feb 2023 08:49:37 GMT",
      "Sun, 00 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT",
      "Sun, 06 Nov 1994 08:60:00 GMT",
      "Sun, 06 Nov 1994 08:49:61 GMT",
      "Sun, 06 Nov 1994 08:49:37 GMTx",
      "Sun, 06 Nov 1994 08:49:3a GMT",
      "Sun,  06 Nov 1994 08:49:37 GMT",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (sluice_parse_retry_after_ms(bad[i], t) != -1)
      fail_msg("accepted '%s'", bad[i]);
  assert_int_equal(sluice_parse_retry_after_ms(NULL, t), -1);
}

/* --- AIMD ----------------------------------------------------------------- */

/* Runs a client that sends as fast as the pacer lets it for duration_ms
 * from *now, calling on_success after each request; returns requests sent. */
static int run_for(struct sluice_aimd *a, int64_t *now, int64_t duration_ms,
                   int succeed)
{
  int64_t end = *now + duration_ms;
  int n = 0;

  for (;;) {
    int64_t wait = sluice_aimd_acquire_ms(a, *now);

    assert_true(wait >= 0);
    if (*now + wait >= end)
      break;
    *now += wait;
    n++;
    if (succeed)
      sluice_aimd_on_success(a);
  }
  *now = end;
  return n;
}

static void test_aimd_start_pacing(void **state)
{
  struct sluice_aimd a;
  int64_t now = 1000000, waits[5];
  int i;

  (void)state;
  sluice_aimd_init(&a, 2, 0.5, 50, 0.1);
  assert_true(a.rate == 2);
  /* 2 req/s: the first at once, then one every 500 ms. */
  for (i = 0; i < 5; i++)
    waits[i] = sluice_aimd_acquire_ms(&a, now);
  assert_int_equal(waits[0], 0);
  assert_int_equal(waits[1], 500);
  assert_int_equal(waits[2], 1000);
  assert_int_equal(waits[3], 1500);
  assert_int_equal(waits[4], 2000);

  /* Without successes the rate stays: 10 s from a fresh start gives 20. */
  sluice_aimd_init(&a, 2, 0.5, 50, 0.1);
  now = 0;
  assert_int_equal(run_for(&a, &now, 10000, 0), 20);
}

static void test_aimd_no_burst_after_idle(void **state)
{
  struct sluice_aimd a;
  int64_t now = 0;

  (void)state;
  sluice_aimd_init(&a, 2, 0.5, 50, 0);
  assert_int_equal(sluice_aimd_acquire_ms(&a, now), 0);
  /* An hour idle saves up nothing: one now, the next 500 ms later. */
  now += 3600000;
  assert_int_equal(sluice_aimd_acquire_ms(&a, now), 0);
  assert_int_equal(sluice_aimd_acquire_ms(&a, now), 500);
  assert_int_equal(sluice_aimd_acquire_ms(&a, now), 1000);
}

static void test_aimd_catch_up(void **state)
{
  struct sluice_aimd a;
  int64_t now = 0, last = 0;
  int i;

  (void)state;
  sluice_aimd_init(&a, 2, 0.5, 50, 0);
  assert_int_equal(sluice_aimd_acquire_ms(&a, now), 0); /* slot 0 */
  /* Late by 200 ms for slot 500: it goes at once, and slot 1000 stays. */
  now = 700;
  assert_int_equal(sluice_aimd_acquire_ms(&a, now), 0);
  assert_int_equal(sluice_aimd_acquire_ms(&a, now), 300);
  /* A client whose work takes 700 and 100 ms in turn is late for every
   * other slot, yet keeps 2 req/s: strict pacing from its arrival would
   * give it 1.67. */
  sluice_aimd_init(&a, 2, 0.5, 50, 0);
  now = 0;
  for (i = 0; i < 120; i++) {
    now += sluice_aimd_acquire_ms(&a, now); /* request i starts */
    last = now;
    now += i % 2 == 0 ? 700 : 100;
  }
  assert_int_equal(last, 118 * 500 + 700);
}

static void test_aimd_increase_and_throttle(void **state)
{
  struct sluice_aimd a;
  int64_t now = 0;
  int first, second, third, i;
  double before;

  (void)state;
  sluice_aimd_init(&a, 2, 0.5, 20, 0.05);
  /* Under success the throughput rises minute over minute... */
  first = run_for(&a, &now, 60000, 1);
  second = run_for(&a, &now, 60000, 1);
  assert_true(first > 120);
  assert_true(second > first);
  /* ...up to max_rate and no further. */
  third = run_for(&a, &now, 600000, 1);
  assert_true(a.rate == 20);
  assert_true(third <= 20 * 600 + 1);

  /* A throttle halves the rate, and the pacing follows. */
  before = a.rate;
  sluice_aimd_on_throttle(&a);
  assert_true(a.rate == before / 2);
  first = run_for(&a, &now, 60000, 0);
  assert_true(first >= 10 * 60 - 1 && first <= 10 * 60 + 1);

  /* Never below min_rate however often it is throttled. */
  for (i = 0; i < 100; i++)
    sluice_aimd_on_throttle(&a);
  assert_true(a.rate == 0.5);
  first = run_for(&a, &now, 60000, 0);
  assert_true(first >= 29 && first <= 31);
  /* And it recovers additively. */
  sluice_aimd_on_success(&a);
  assert_true(a.rate > 0.549 && a.rate < 0.551);
}

static void test_aimd_init_clamps(void **state)
{
  struct sluice_aimd a;

  (void)state;
  sluice_aimd_init(&a, 100, 1, 10, 0.1);
  assert_true(a.rate == 10);
  sluice_aimd_init(&a, 0.1, 1, 10, 0.1);
  assert_true(a.rate == 1);
  sluice_aimd_init(&a, 2, 0, 10, -1);
  assert_true(a.min_rate > 0);
  assert_true(a.increase == 0);
  sluice_aimd_init(&a, 2, 5, 1, 0.1);
  assert_true(a.max_rate == 5 && a.rate == 5);
  /* The first request goes at once on any clock, negative included. */
  sluice_aimd_init(&a, 2, 1, 10, 0.1);
  assert_int_equal(sluice_aimd_acquire_ms(&a, -5000), 0);
  assert_int_equal(sluice_aimd_acquire_ms(&a, -5000), 500);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rng),
      cmocka_unit_test(test_backoff_full_jitter),
      cmocka_unit_test(test_backoff_deterministic),
      cmocka_unit_test(test_backoff_cap),
      cmocka_unit_test(test_backoff_retry_after),
      cmocka_unit_test(test_status_retryable),
      cmocka_unit_test(test_retry_after),
      cmocka_unit_test(test_aimd_start_pacing),
      cmocka_unit_test(test_aimd_no_burst_after_idle),
      cmocka_unit_test(test_aimd_catch_up),
      cmocka_unit_test(test_aimd_increase_and_throttle),
      cmocka_unit_test(test_aimd_init_clamps),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
