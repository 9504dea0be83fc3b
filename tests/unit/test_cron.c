/* tests/unit/test_cron.c - cron_parse and cron_next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "sluice/error.h"

/* Unix seconds for a UTC date and time, computed by gmtime's inverse in
 * the test's own terms so that the code under test is not its own oracle. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
  struct cron_civil c = {y, mo, d, h, mi, 0, 0};
  int64_t t = cron_civil_to_unix(&c);
  struct tm tm;
  time_t tt = (time_t)t;
  assert_non_null(gmtime_r(&tt, &tm));
  assert_int_equal(tm.tm_year + 1900, y);
  assert_int_equal(tm.tm_mon + 1, mo);
  assert_int_equal(tm.tm_mday, d);
  assert_int_equal(tm.tm_hour, h);
  assert_int_equal(tm.tm_min, mi);
  return t;
}

static struct cron_expr parse_ok(const char *expr)
{
  struct cron_expr c;
  struct sluice_error err = {0};
  int rc = cron_parse(expr, &c, &err);
  if (rc != 0)
    fail_msg("cron_parse(\"%s\"): %s", expr, err.message);
  return c;
}

static void expect_next(const char *expr, int64_t after, int64_t want)
{
  struct cron_expr c = parse_ok(expr);
  int64_t got = cron_next(&c, after);
  if (got != want)
    fail_msg("cron_next(\"%s\", %lld) = %lld, want %lld", expr,
             (long long)after, (long long)got, (long long)want);
}

/* ---- parse ------------------------------------------------------------- */

static void test_parse_accepts(void **state)
{
  (void)state;
  static const char *const ok[] = {
      "* * * * *",
      "*/15 * * * *",
      "0 6 * * 1",
      "0 0 1 * *",
      "5,10,15-20/2 * * * *",
      "0 0 29 2 *",
      "0 0 * jan-mar MON-fri",
      "0 0 * * 7",
      "0 0 * * 0-7",
      "59 23 31 12 6",
      "  0\t0  *  *  *  ",
      "0 0 1-31/10 * *",
      "@hourly",
      "@DAILY",
      "@weekly",
      "@monthly",
      "@yearly",
      "@annually",
      "@midnight",
      "0 0 * * sun,Sat",
      "*/7 */5 */3 */2 */2",
      "0-59/60 0 1 1 *",
      "000 00 01 01 0",
      "0 0 * * *\n",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    parse_ok(ok[i]);
}

static void test_parse_bits(void **state)
{
  (void)state;
  struct cron_expr c = parse_ok("5,10,15-20/2 */6 1-7 JAN,jun-aug 5-7");
  assert_true(c.minutes ==
              ((UINT64_C(1) << 5) | (UINT64_C(1) << 10) | (UINT64_C(1) << 15) |
               (UINT64_C(1) << 17) | (UINT64_C(1) << 19)));
  assert_int_equal(c.hours, (1u << 0) | (1u << 6) | (1u << 12) | (1u << 18));
  assert_int_equal(c.days, 0xfeu);
  assert_int_equal(c.months, (1u << 1) | (1u << 6) | (1u << 7) | (1u << 8));
  /* 7 is Sunday: Fri, Sat, Sun. */
  assert_int_equal(c.weekdays, (1u << 0) | (1u << 5) | (1u << 6));
  assert_false(c.dom_star);
  assert_false(c.dow_star);

  c = parse_ok("0 0 */2 * *");
  assert_true(c.dom_star);
  assert_true(c.dow_star);
  assert_int_equal(c.weekdays, 0x7f);

  struct cron_expr weekly = parse_ok("@weekly");
  struct cron_expr spelled = parse_ok("0 0 * * 0");
  assert_memory_equal(&weekly, &spelled, sizeof weekly);
}

struct reject_case {
  const char *expr;
  const char *message; /* exact text, or NULL to only check the code */
};

static void test_parse_rejects(void **state)
{
  (void)state;
  static const struct reject_case bad[] = {
      {"0 25 * * *", "field 2 (hour): 25 is out of range 0-23"},
      {"0 0 * * * *", "expected 5 fields, found 6"},
      {"0 0 * *", "expected 5 fields, found 4"},
      {"", "expected 5 fields, found 0"},
      {"60 * * * *", "field 1 (minute): 60 is out of range 0-59"},
      {"* * 0 * *", "field 3 (day-of-month): 0 is out of range 1-31"},
      {"* * 32 * *", "field 3 (day-of-month): 32 is out of range 1-31"},
      {"* * * 13 *", "field 4 (month): 13 is out of range 1-12"},
      {"* * * * 8", "field 5 (day-of-week): 8 is out of range 0-7"},
      {"* * * FOO *", "field 4 (month): 'FOO' is not a month name (JAN-DEC)"},
      {"* * * * MONDAY",
       "field 5 (day-of-week): 'MONDAY' is not a day name (SUN-SAT)"},
      {"* MON * * *", "field 2 (hour): 'MON' is not a number"},
      {"*/0 * * * *", "field 1 (minute): '*/0': a step must be at least 1"},
      {"5/15 * * * *",
       "field 1 (minute): '5/15': a step needs '*' or a range (as in 5-59/n)"},
      {"10-5 * * * *", "field 1 (minute): '10-5': the range runs backwards"},
      {"1,,2 * * * *", "field 1 (minute): empty list item"},
      {"1, * * * *", NULL},
      {"1- * * * *", "field 1 (minute): a value is missing"},
      {"*/ * * * *", "field 1 (minute): '*/': a step must be a number"},
      {"** * * * *", "field 1 (minute): '**': unexpected '*'"},
      {"-1 * * * *", "field 1 (minute): unexpected '-'"},
      {"1.5 * * * *", "field 1 (minute): '1.5': unexpected '.'"},
      {"5\xC3\xA9 * * * *",
       "field 1 (minute): '5\xC3\xA9': unexpected byte 0xC3"},
      {"99999999999999999999 * * * *",
       "field 1 (minute): 99999999999999999999 is out of range 0-59"},
      {"@fortnightly",
       "unknown macro '@fortnightly' (use @hourly, @daily, @weekly, "
       "@monthly or @yearly)"},
      {"@daily 5", NULL},
      {"0 0 * * SAT-SUN", NULL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct cron_expr c;
    struct sluice_error err = {0};
    int rc = cron_parse(bad[i].expr, &c, &err);
    if (rc != SLUICE_EINVAL)
      fail_msg("cron_parse(\"%s\") = %d, want SLUICE_EINVAL", bad[i].expr, rc);
    assert_int_equal(err.code, SLUICE_EINVAL);
    assert_true(err.message[0] != '\0');
    if (bad[i].message != NULL)
      assert_string_equal(err.message, bad[i].message);
  }
  struct cron_expr c;
  assert_int_equal(cron_parse(NULL, &c, NULL), SLUICE_EINVAL);
  assert_int_equal(cron_parse("bogus", &c, NULL), SLUICE_EINVAL);
}

/* ---- next: known cases ------------------------------------------------- */

static void test_next_every_15_minutes(void **state)
{
  (void)state;
  expect_next("*/15 * * * *", utc(2026, 11, 23, 3, 17),
              utc(2026, 11, 23, 3, 30));
  /* Strictly after: on a match, the next one. */
  expect_next("*/15 * * * *", utc(2026, 11, 23, 3, 30),
              utc(2026, 11, 23, 3, 45));
  /* Seconds into a matching minute still move on. */
  expect_next("*/15 * * * *", utc(2026, 11, 23, 3, 30) + 59,
              utc(2026, 11, 23, 3, 45));
  expect_next("*/15 * * * *", utc(2026, 11, 23, 3, 45),
              utc(2026, 11, 23, 4, 0));
  expect_next("* * * * *", utc(2026, 11, 23, 3, 17) + 1,
              utc(2026, 11, 23, 3, 18));
}

static void test_next_weekly_monday(void **state)
{
  (void)state;
  /* 2026-11-23 is a Monday. */
  expect_next("0 6 * * 1", utc(2026, 11, 23, 3, 17), utc(2026, 11, 23, 6, 0));
  expect_next("0 6 * * 1", utc(2026, 11, 23, 6, 0), utc(2026, 11, 30, 6, 0));
  expect_next("0 6 * * MON", utc(2026, 11, 24, 0, 0), utc(2026, 11, 30, 6, 0));
}

static void test_next_monthly(void **state)
{
  (void)state;
  expect_next("0 0 1 * *", utc(2026, 11, 23, 3, 17), utc(2026, 12, 1, 0, 0));
  expect_next("@monthly", utc(2026, 12, 1, 0, 0), utc(2027, 1, 1, 0, 0));
  /* The 31st skips 30-day months. */
  expect_next("0 12 31 * *", utc(2026, 3, 31, 12, 0), utc(2026, 5, 31, 12, 0));
}

static void test_next_leap_day(void **state)
{
  (void)state;
  expect_next("0 0 29 2 *", utc(2026, 11, 23, 3, 17), utc(2028, 2, 29, 0, 0));
  expect_next("0 0 29 2 *", utc(2028, 2, 29, 0, 0), utc(2032, 2, 29, 0, 0));
  /* 2100 is not a leap year: eight years without one. */
  expect_next("0 0 29 2 *", utc(2096, 3, 1, 0, 0), utc(2104, 2, 29, 0, 0));
}

static void test_next_dom_or_dow(void **state)
{
  (void)state;
  /* Both restricted: the 13th OR any Friday.  2026-11-23 is a Monday; the
   * next Friday (Nov 27) comes before Dec 13. */
  expect_next("0 0 13 * 5", utc(2026, 11, 23, 3, 17), utc(2026, 11, 27, 0, 0));
  /* 2026-12-11 is a Friday; Sunday Dec 13 matches by day-of-month. */
  expect_next("0 0 13 * 5", utc(2026, 12, 11, 0, 0), utc(2026, 12, 13, 0, 0));
  /* A '*'-started day-of-month (even stepped) means AND: odd days that are
   * Fridays.  Nov 27 is odd; after it, Dec 11 (Fri, odd). */
  expect_next("0 0 */2 * 5", utc(2026, 11, 23, 0, 0), utc(2026, 11, 27, 0, 0));
  expect_next("0 0 */2 * 5", utc(2026, 11, 27, 0, 0), utc(2026, 12, 11, 0, 0));
  /* Only day-of-week restricted: Fridays only. */
  expect_next("0 0 * * 5", utc(2026, 11, 23, 3, 17), utc(2026, 11, 27, 0, 0));
}

static void test_next_year_rollover(void **state)
{
  (void)state;
  expect_next("0 0 1 1 *", utc(2026, 12, 31, 23, 59), utc(2027, 1, 1, 0, 0));
  expect_next("* * * * *", utc(2026, 12, 31, 23, 59), utc(2027, 1, 1, 0, 0));
  expect_next("30 23 31 12 *", utc(2026, 12, 31, 23, 30),
              utc(2027, 12, 31, 23, 30));
  expect_next("@yearly", utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0));
}

static void test_next_weekly_macro(void **state)
{
  (void)state;
  /* @weekly is Sunday 00:00; 2026-11-29 is a Sunday. */
  expect_next("@weekly", utc(2026, 11, 23, 3, 17), utc(2026, 11, 29, 0, 0));
  expect_next("@weekly", utc(2026, 11, 29, 0, 0), utc(2026, 12, 6, 0, 0));
  expect_next("0 0 * * 7", utc(2026, 11, 23, 3, 17), utc(2026, 11, 29, 0, 0));
  expect_next("@hourly", utc(2026, 11, 23, 3, 17), utc(2026, 11, 23, 4, 0));
  expect_next("@daily", utc(2026, 11, 23, 3, 17), utc(2026, 11, 24, 0, 0));
}

static void test_next_never(void **state)
{
  (void)state;
  expect_next("0 0 30 2 *", utc(2026, 11, 23, 3, 17), -1);
  expect_next("0 0 31 4,6,9,11 *", utc(2026, 1, 1, 0, 0), -1);
  /* Outside the supported years. */
  expect_next("* * * * *", INT64_MAX, -1);
  expect_next("* * * * *", INT64_MIN, -1);
}

static void test_next_before_epoch(void **state)
{
  (void)state;
  /* Floor, not truncation, toward the previous minute. */
  expect_next("* * * * *", -30, 0);
  expect_next("0 0 1 1 *", utc(1969, 6, 1, 0, 0), 0);
}

/* ---- next: brute-force cross-check ------------------------------------- */

/* An independent, obviously correct matcher on gmtime's broken-down time. */
static int naive_matches(const struct cron_expr *c, int64_t t)
{
  struct tm tm;
  time_t tt = (time_t)t;
  assert_non_null(gmtime_r(&tt, &tm));
  int dom = (int)(c->days >> tm.tm_mday & 1);
  int dow = (int)(c->weekdays >> tm.tm_wday & 1);
  int day = (c->dom_star || c->dow_star) ? dom && dow : dom || dow;
  return (c->minutes >> tm.tm_min & 1) && (c->hours >> tm.tm_hour & 1) &&
         (c->months >> (tm.tm_mon + 1) & 1) && day;
}

static int64_t naive_next(const struct cron_expr *c, int64_t after,
                          int64_t limit)
{
  int64_t t = after - after % 60 + 60; /* after >= 0 here */
  for (; t <= limit; t += 60)
    if (naive_matches(c, t))
      return t;
  return -1;
}

static unsigned rnd(unsigned n)
{
  return (unsigned)rand() % n;
}

static int rnd_in(int lo, int hi)
{
  return lo + (int)rnd((unsigned)(hi - lo + 1));
}

/* One random field: mostly small sets so that matches are not every
 * minute, with every syntax form represented. */
static void random_field(char *out, size_t size, int lo, int hi)
{
  size_t used = 0;
  int items = 1 + (int)rnd(3);
  for (int i = 0; i < items; i++) {
    int a = rnd_in(lo, hi), b = rnd_in(a, hi), step = rnd_in(1, 9);
    const char *sep = i > 0 ? "," : "";
    int n;
    switch (rnd(6)) {
    case 0: n = snprintf(out + used, size - used, "%s*", sep); break;
    case 1: n = snprintf(out + used, size - used, "%s*/%d", sep, step); break;
    case 2: n = snprintf(out + used, size - used, "%s%d-%d", sep, a, b); break;
    case 3:
      n = snprintf(out + used, size - used, "%s%d-%d/%d", sep, a, b, step);
      break;
    default: n = snprintf(out + used, size - used, "%s%d", sep, a); break;
    }
    assert_true(n > 0 && (size_t)n < size - used);
    used += (size_t)n;
  }
}

static void test_next_matches_brute_force(void **state)
{
  (void)state;
  const int64_t window = 60 * 86400;
  srand(20261123);
  for (int i = 0; i < 200; i++) {
    char f[5][64], expr[400];
    random_field(f[0], sizeof f[0], 0, 59);
    random_field(f[1], sizeof f[1], 0, 23);
    random_field(f[2], sizeof f[2], 1, 31);
    random_field(f[3], sizeof f[3], 1, 12);
    random_field(f[4], sizeof f[4], 0, 7);
    snprintf(expr, sizeof expr, "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
    struct cron_expr c = parse_ok(expr);
    /* Any second between 2000 and 2099. */
    int64_t after =
        946684800 + (int64_t)rnd(100u * 365u) * 86400 + (int64_t)rnd(86400);
    int64_t want = naive_next(&c, after, after + window);
    int64_t got = cron_next(&c, after);
    if (want >= 0 ? got != want : (got >= 0 && got <= after + window))
      fail_msg("\"%s\" after %lld: cron_next %lld, brute force %lld", expr,
               (long long)after, (long long)got, (long long)want);
    /* Whatever cron_next found beyond the window must really match. */
    if (got >= 0)
      assert_true(naive_matches(&c, got) && got > after && got % 60 == 0);
  }
}

static void test_civil_round_trip(void **state)
{
  (void)state;
  for (int64_t t = -86400 * 800; t < INT64_C(4102444800);
       t += 86400 * 13 + 3599) {
    struct cron_civil c;
    struct tm tm;
    time_t tt = (time_t)t;
    cron_civil_from_unix(t, &c);
    assert_non_null(gmtime_r(&tt, &tm));
    assert_int_equal(c.year, tm.tm_year + 1900);
    assert_int_equal(c.month, tm.tm_mon + 1);
    assert_int_equal(c.day, tm.tm_mday);
    assert_int_equal(c.hour, tm.tm_hour);
    assert_int_equal(c.minute, tm.tm_min);
    assert_int_equal(c.second, tm.tm_sec);
    assert_int_equal(c.weekday, tm.tm_wday);
    assert_true(cron_civil_to_unix(&c) == t);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_accepts),
      cmocka_unit_test(test_parse_bits),
      cmocka_unit_test(test_parse_rejects),
      cmocka_unit_test(test_next_every_15_minutes),
      cmocka_unit_test(test_next_weekly_monday),
      cmocka_unit_test(test_next_monthly),
      cmocka_unit_test(test_next_leap_day),
      cmocka_unit_test(test_next_dom_or_dow),
      cmocka_unit_test(test_next_year_rollover),
      cmocka_unit_test(test_next_weekly_macro),
      cmocka_unit_test(test_next_never),
      cmocka_unit_test(test_next_before_epoch),
      cmocka_unit_test(test_next_matches_brute_force),
      cmocka_unit_test(test_civil_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
