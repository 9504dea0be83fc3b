/* tests/unit/test_schedule.c - "every" intervals and schedule_next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "schedule.h"
#include "sluice/error.h"

/* 2026-11-23T03:17:00Z, a Monday. */
#define NOW INT64_C(1795403820)

static void test_every_accepts(void **state)
{
  (void)state;
  static const struct {
    const char *text;
    int64_t seconds;
  } ok[] = {
      {"1m", 60},          {"15m", 900},      {"90m", 5400},
      {"2h", 7200},        {"1d", 86400},     {"4w", 28 * 86400},
      {"28d", 28 * 86400}, {"672h", 2419200}, {"0015m", 900},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int64_t got = -1;
    struct sluice_error err = {0};
    if (schedule_parse_every(ok[i].text, &got, &err) != 0)
      fail_msg("'%s': %s", ok[i].text, err.message);
    assert_true(got == ok[i].seconds);
  }
}

static void test_every_rejects(void **state)
{
  (void)state;
  static const struct {
    const char *text;
    const char *message;
  } bad[] = {
      {"30s", "'30s': units are m, h, d or w"},
      {"5w", "'5w': at most 4w"},
      {"29d", "'29d': at most 4w"},
      {"40321m", "'40321m': at most 4w"},
      {"99999999999999999999999w", "'99999999999999999999999w': at most 4w"},
      {"0m", "'0m': at least 1m"},
      {"15", "'15': the unit is missing (m, h, d or w)"},
      {"", "'': expected a whole number and a unit, as in 15m, 2h, 1d or 4w"},
      {"m", "'m': expected a whole number and a unit, as in 15m, 2h, 1d or 4w"},
      {"1.5h",
       "'1.5h': expected a whole number and a unit, as in 15m, 2h, 1d or 4w"},
      {"-5m",
       "'-5m': expected a whole number and a unit, as in 15m, 2h, 1d or 4w"},
      {"15 m",
       "'15 m': expected a whole number and a unit, as in 15m, 2h, 1d or 4w"},
      {"15min",
       "'15min': expected a whole number and a unit, as in 15m, 2h, 1d or 4w"},
      {"2H", "'2H': units are m, h, d or w"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t got = 12345;
    struct sluice_error err = {0};
    assert_int_equal(schedule_parse_every(bad[i].text, &got, &err),
                     SLUICE_EINVAL);
    assert_string_equal(err.message, bad[i].message);
    assert_true(got == 12345); /* untouched on failure */
  }
  int64_t got;
  assert_int_equal(schedule_parse_every(NULL, &got, NULL), SLUICE_EINVAL);
}

static struct schedule every(int64_t seconds)
{
  struct schedule s = {.kind = SCHEDULE_EVERY, .every_s = seconds};
  return s;
}

static struct schedule cron(const char *expr)
{
  struct schedule s = {.kind = SCHEDULE_CRON};
  assert_int_equal(cron_parse(expr, &s.cron, NULL), 0);
  return s;
}

static void test_next_none(void **state)
{
  (void)state;
  struct schedule s = {.kind = SCHEDULE_NONE};
  assert_true(schedule_next(&s, -1, NOW) == -1);
  assert_true(schedule_next(&s, NOW - 60, NOW) == -1);
}

static void test_next_every(void **state)
{
  (void)state;
  struct schedule s = every(900);
  /* Never ran: now. */
  assert_true(schedule_next(&s, -1, NOW) == NOW);
  /* On time: one interval after the last start, not after now. */
  assert_true(schedule_next(&s, NOW - 600, NOW) == NOW + 300);
  assert_true(schedule_next(&s, NOW, NOW) == NOW + 900);
  /* Due exactly now. */
  assert_true(schedule_next(&s, NOW - 900, NOW) == NOW);
  /* Late by many intervals (down for a day): once, now. */
  assert_true(schedule_next(&s, NOW - 86400, NOW) == NOW);
  assert_true(schedule_next(&s, 0, NOW) == NOW);
  /* A nonsensical interval must not spin. */
  s.every_s = 0;
  assert_true(schedule_next(&s, NOW, NOW) == NOW + 60);
  s.every_s = INT64_MAX;
  assert_true(schedule_next(&s, NOW, NOW) == INT64_MAX);
}

static void test_next_cron(void **state)
{
  (void)state;
  struct schedule s = cron("*/15 * * * *");
  /* Never ran: the first matching minute at or after now. */
  assert_true(schedule_next(&s, -1, NOW) == NOW + 13 * 60);
  assert_true(schedule_next(&s, -1, NOW + 13 * 60) == NOW + 13 * 60);
  assert_true(schedule_next(&s, -1, NOW + 13 * 60 + 1) == NOW + 28 * 60);
  /* On time: the match after the last start. */
  assert_true(schedule_next(&s, NOW - 2 * 60, NOW) == NOW + 13 * 60);
  /* Late by many matches: once, now. */
  assert_true(schedule_next(&s, NOW - 7 * 86400, NOW) == NOW);
  /* Due exactly now. */
  assert_true(schedule_next(&s, NOW - 2 * 60, NOW + 13 * 60) == NOW + 13 * 60);

  struct schedule monday = cron("0 6 * * 1");
  assert_true(schedule_next(&monday, -1, NOW) == NOW + 2 * 3600 + 43 * 60);
  /* Ran this morning at 06:00: next Monday. */
  int64_t six = NOW + 2 * 3600 + 43 * 60;
  assert_true(schedule_next(&monday, six, six + 3600) == six + 7 * 86400);
  /* Missed three Mondays while down: once, now. */
  assert_true(schedule_next(&monday, six - 21 * 86400, six + 3600) ==
              six + 3600);
}

static void test_next_cron_never(void **state)
{
  (void)state;
  struct schedule s = cron("0 0 30 2 *");
  assert_true(schedule_next(&s, -1, NOW) == -1);
  assert_true(schedule_next(&s, NOW - 60, NOW) == -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_accepts),
      cmocka_unit_test(test_every_rejects),
      cmocka_unit_test(test_next_none),
      cmocka_unit_test(test_next_every),
      cmocka_unit_test(test_next_cron),
      cmocka_unit_test(test_next_cron_never),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
