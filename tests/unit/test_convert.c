/* test_convert.c - parsers, formatters, calendar, units, suggestions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/convert.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* --- int64 ---------------------------------------------------------------- */

static void test_parse_int64(void **state)
{
  static const struct {
    const char *s;
    int64_t want;
  } ok[] = {{"0", 0},
            {"-0", 0},
            {"+5", 5},
            {"007", 7},
            {"-42", -42},
            {"9223372036854775807", INT64_MAX},
            {"-9223372036854775808", INT64_MIN},
            {"+9223372036854775807", INT64_MAX}};
  static const char *const bad[] = {"",
                                    "+",
                                    "-",
                                    " 1",
                                    "1 ",
                                    "1a",
                                    "9223372036854775808",
                                    "-9223372036854775809",
                                    "1.0",
                                    "0x10",
                                    "--1",
                                    "+-1",
                                    "99999999999999999999",
                                    "1e3",
                                    "١"};
  int64_t v;

  (void)state;
  for (size_t i = 0; i < N_ELEMS(ok); i++) {
    assert_int_equal(sluice_parse_int64(ok[i].s, strlen(ok[i].s), &v), 0);
    assert_true(v == ok[i].want);
  }
  for (size_t i = 0; i < N_ELEMS(bad); i++) {
    v = 12345;
    assert_int_equal(sluice_parse_int64(bad[i], strlen(bad[i]), &v),
                     SLUICE_EINVAL);
    assert_true(v == 12345); /* untouched on failure */
  }
  /* Only len bytes are read: no NUL needed. */
  assert_int_equal(sluice_parse_int64("12abc", 2, &v), 0);
  assert_true(v == 12);
}

/* --- doubles ------------------------------------------------------------ */

static void test_parse_double_table(void **state)
{
  static const struct {
    const char *s;
    double want;
  } ok[] = {{"0", 0.0},
            {"1.5", 1.5},
            {".5", 0.5},
            {"5.", 5.0},
            {"1e10", 1e10},
            {"1E-5", 1e-5},
            {"+1.5e+3", 1500.0},
            {"123.456", 123.456},
            {"-0.1", -0.1},
            {"1e308", 1e308},
            {"4.9e-324", 4.9e-324},
            {"1e-400", 0.0},
            {"00012.50", 12.5},
            {"3.14159265358979323846264338327950288", 3.14159265358979323846},
            {"9007199254740993", 9007199254740993.0},
            {"1.7976931348623157e308", DBL_MAX}};
  static const char *const bad[] = {
      "",      " 1",    "1 ",     "inf", "-inf", "nan",   "NaN",  "infinity",
      "0x1p3", "0x10",  "1e",     "1e+", ".",    "-",     "+",    "e5",
      "1.5.5", "1e309", "-1e309", "--1", "1,5",  "1e5.5", "1 e5", "1d"};
  double d;

  (void)state;
  for (size_t i = 0; i < N_ELEMS(ok); i++) {
    assert_int_equal(sluice_parse_double(ok[i].s, strlen(ok[i].s), &d), 0);
    assert_true(d == ok[i].want);
  }
  assert_int_equal(sluice_parse_double("-0", 2, &d), 0);
  assert_true(d == 0 && signbit(d));
  assert_int_equal(sluice_parse_double("-0.0e5", 6, &d), 0);
  assert_true(d == 0 && signbit(d));
  for (size_t i = 0; i < N_ELEMS(bad); i++) {
    d = 7.0;
    assert_int_equal(sluice_parse_double(bad[i], strlen(bad[i]), &d),
                     SLUICE_EINVAL);
    assert_true(d == 7.0);
  }
  /* A long input goes through the heap copy. */
  {
    char big[400];

    memset(big, '0', sizeof big);
    big[0] = '1';
    big[1] = '.';
    assert_int_equal(sluice_parse_double(big, sizeof big, &d), 0);
    assert_true(d == 1.0);
  }
}

/* The fast path must agree with strtod bit for bit. */
static void test_parse_double_matches_strtod(void **state)
{
  (void)state;
  for (int i = 0; i < 200000; i++) {
    char s[64];
    int n = 0, digits = 1 + (int)(rng() % 20), point = (int)(rng() % 22);
    double got, want;

    if (rng() % 2)
      s[n++] = '-';
    for (int k = 0; k < digits; k++) {
      if (k == point)
        s[n++] = '.';
      s[n++] = (char)('0' + rng() % 10);
    }
    if (rng() % 3 == 0)
      n += snprintf(s + n, sizeof s - (size_t)n, "e%d", (int)(rng() % 60) - 30);
    s[n] = '\0';
    want = strtod(s, NULL);
    assert_int_equal(sluice_parse_double(s, (size_t)n, &got), 0);
    if (memcmp(&got, &want, sizeof got) != 0)
      fail_msg("%s: got %.17g, strtod %.17g", s, got, want);
  }
}

static char *format_value(const struct sluice_value *v)
{
  struct sluice_buf b = SLUICE_BUF_INIT;

  assert_int_equal(sluice_value_format(v, &b), 0);
  sluice_buf_cstr(&b);
  return b.data;
}

static char *format_double(double d)
{
  struct sluice_value v = {0};

  v.type = SLUICE_TYPE_DOUBLE;
  v.u.d = d;
  return format_value(&v);
}

static void expect_double_text(double d, const char *want)
{
  char *got = format_double(d);

  assert_string_equal(got, want);
  free(got);
}

static void test_format_double_table(void **state)
{
  (void)state;
  expect_double_text(0.1, "0.1");
  expect_double_text(0.1 + 0.2, "0.30000000000000004");
  expect_double_text(1.5, "1.5");
  expect_double_text(100, "100");
  expect_double_text(-2.25, "-2.25");
  expect_double_text(0.0, "0");
  expect_double_text(-0.0, "-0");
  expect_double_text(1e21, "1e+21");
  expect_double_text(1e15, "1e+15");
  expect_double_text(123456789012345.0, "123456789012345");
  expect_double_text(1e-5, "1e-05");
  expect_double_text(0.0001, "0.0001");
  expect_double_text(123456789012345680.0, "1.2345678901234568e+17");
  /* %.15g already reads back for the smallest denormal. */
  expect_double_text(5e-324, "4.94065645841247e-324");
  expect_double_text(DBL_MAX, "1.7976931348623157e+308");
  expect_double_text(1.0 / 3, "0.3333333333333333");
  expect_double_text(2.0 / 3, "0.6666666666666666");
  expect_double_text(NAN, "NaN");
  expect_double_text(INFINITY, "Infinity");
  expect_double_text(-INFINITY, "-Infinity");
}

/* The reference: the first of %.15g, %.16g, %.17g that reads back. */
static void shortest_reference(double d, char *buf, size_t size)
{
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, size, "%.*g", prec, d);
    if (strtod(buf, NULL) == d)
      return;
  }
}

static void check_double_round_trip(double d)
{
  char want[40], *got;
  double back;

  if (!isfinite(d))
    return;
  got = format_double(d);
  shortest_reference(d, want, sizeof want);
  if (d == 0)
    strcpy(want, signbit(d) ? "-0" : "0");
  if (strcmp(got, want) != 0)
    fail_msg("%.17g: got %s, want %s", d, got, want);
  assert_int_equal(sluice_parse_double(got, strlen(got), &back), 0);
  assert_memory_equal(&back, &d, sizeof d);
  free(got);
}

static void test_double_round_trip(void **state)
{
  static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};

  (void)state;
  /* Any bit pattern. */
  for (int i = 0; i < 100000; i++) {
    uint64_t bits = rng();
    double d;

    memcpy(&d, &bits, sizeof d);
    check_double_round_trip(d);
  }
  /* Values people type: short decimals, where the fast path applies. */
  for (int i = 0; i < 200000; i++) {
    double d = (double)(int64_t)(rng() % 100000000000ull) /
               pow10[rng() % N_ELEMS(pow10)];

    check_double_round_trip(rng() % 2 ? d : -d);
  }
  check_double_round_trip(DBL_MIN);
  check_double_round_trip(DBL_EPSILON);
  check_double_round_trip(9.999999999999999e-5);
  check_double_round_trip(999999999999999.9);
  check_double_round_trip(0.000123);
}

/* A host that set a comma locale must not change how doubles read or
 * print (the slow paths use strtod and printf). */
static void test_double_ignores_global_locale(void **state)
{
  static const char *const comma_locales[] = {"de_DE.UTF-8", "de_DE.utf8",
                                              "fr_FR.UTF-8", "ru_RU.UTF-8"};
  const char *set = NULL;
  double d;

  (void)state;
  for (size_t i = 0; i < N_ELEMS(comma_locales) && set == NULL; i++)
    set = setlocale(LC_NUMERIC, comma_locales[i]);
  if (set == NULL || strcmp(localeconv()->decimal_point, ",") != 0) {
    setlocale(LC_NUMERIC, "C");
    skip(); /* no comma locale installed here */
  }
  assert_int_equal(
      sluice_parse_double("3.14159265358979323846264338327950288", 37, &d), 0);
  assert_true(d == 3.141592653589793);
  expect_double_text(0.1 + 0.2, "0.30000000000000004");
  expect_double_text(1e-7, "1e-07");
  setlocale(LC_NUMERIC, "C");
}

/* --- bool --------------------------------------------------------------- */

static void test_parse_bool(void **state)
{
  static const char *const yes[] = {"true", "TRUE", "True", "t", "T",
                                    "yes",  "YES",  "y",    "Y", "1"};
  static const char *const no[] = {"false", "FALSE", "f", "F", "no",
                                   "No",    "n",     "N", "0"};
  static const char *const bad[] = {"",     "2",     "tru",   "truee",
                                    "yess", " true", "true ", "on",
                                    "off",  "-1",    "00",    "nope"};
  int b;

  (void)state;
  for (size_t i = 0; i < N_ELEMS(yes); i++) {
    b = 0;
    assert_int_equal(sluice_parse_bool(yes[i], strlen(yes[i]), &b), 0);
    assert_int_equal(b, 1);
  }
  for (size_t i = 0; i < N_ELEMS(no); i++) {
    b = 1;
    assert_int_equal(sluice_parse_bool(no[i], strlen(no[i]), &b), 0);
    assert_int_equal(b, 0);
  }
  for (size_t i = 0; i < N_ELEMS(bad); i++) {
    b = 7;
    assert_int_equal(sluice_parse_bool(bad[i], strlen(bad[i]), &b),
                     SLUICE_EINVAL);
    assert_int_equal(b, 7);
  }
}

/* --- decimal ------------------------------------------------------------ */

static void test_parse_decimal(void **state)
{
  static const struct {
    const char *s;
    int precision, scale;
    const char *want; /* NULL: refused */
  } cases[] = {
      {"123.4500", 0, -1, "123.4500"},
      {"+1", 0, -1, "1"},
      {"-0.00", 0, -1, "0.00"},
      {"-0", 0, -1, "0"},
      {"007.50", 0, -1, "7.50"},
      {"-007.50", 0, -1, "-7.50"},
      {".5", 0, -1, "0.5"},
      {"5.", 0, -1, "5"},
      {"0.000", 0, -1, "0.000"},
      {"1.5E3", 0, -1, "1500"},
      {"1.50E1", 0, -1, "15.0"},
      {"1.5e-3", 0, -1, "0.0015"},
      {"-1.5E+2", 0, -1, "-150"},
      {"0E5", 0, -1, "0"},
      {"0.00E1", 0, -1, "0.0"},
      {"1E-2", 0, -1, "0.01"},
      {"-0E-3", 0, -1, "0.000"},
      {"12345678901234567890123456789.123456789", 0, -1,
       "12345678901234567890123456789.123456789"},
      /* scale */
      {"1.5", 0, 3, "1.500"},
      {"1.505", 0, 2, NULL},
      {"1.500", 0, 2, "1.50"},
      {"1.5", 0, 0, NULL},
      {"2", 0, 2, "2.00"},
      {"-0.001", 0, 2, NULL},
      {"-0.000", 0, 2, "0.00"},
      {"1.5E-1", 0, 2, "0.15"},
      {"15E-2", 0, 1, NULL},
      {"1.2E5", 0, 1, "120000.0"},
      {"0E-1000000", 0, 2, "0.00"},
      /* precision */
      {"12345.6", 5, 2, NULL},
      {"123.45", 5, 2, "123.45"},
      {"-999.99", 5, 2, "-999.99"},
      {"1000", 5, 2, NULL},
      {"0.99", 2, 2, "0.99"},
      {"1.5", 1, -1, "1.5"},
      {"12", 1, -1, NULL},
      {"1E3", 3, 0, NULL},
      {"1E2", 3, 0, "100"},
      {"0001.0", 2, 1, "1.0"},
      {"1.0", 1, 1, NULL},
      {"0.5", 1, 1, "0.5"},
      {"99999999999999999999", 20, 0, "99999999999999999999"},
      {"100000000000000000000", 20, 0, NULL},
      /* syntax and limits */
      {"", 0, -1, NULL},
      {"abc", 0, -1, NULL},
      {"1.2.3", 0, -1, NULL},
      {"1e", 0, -1, NULL},
      {"e1", 0, -1, NULL},
      {" 1", 0, -1, NULL},
      {"1 ", 0, -1, NULL},
      {"0x1", 0, -1, NULL},
      {"inf", 0, -1, NULL},
      {"1,5", 0, -1, NULL},
      {"+", 0, -1, NULL},
      {"-", 0, -1, NULL},
      {".", 0, -1, NULL},
      {"1E99999", 0, -1, NULL},
      {"1E-99999", 0, -1, NULL},
      {"1E9999999999999999999999", 0, -1, NULL},
      {"0E99999", 0, -1, "0"},
  };

  (void)state;
  for (size_t i = 0; i < N_ELEMS(cases); i++) {
    struct sluice_buf b = SLUICE_BUF_INIT;
    int rc;

    sluice_buf_append_str(&b, "<");
    rc = sluice_parse_decimal(cases[i].s, strlen(cases[i].s),
                              cases[i].precision, cases[i].scale, &b);
    if (cases[i].want == NULL) {
      if (rc != SLUICE_EINVAL)
        fail_msg("'%s' (%d,%d): accepted as %s", cases[i].s, cases[i].precision,
                 cases[i].scale, b.data);
      assert_string_equal(b.data, "<"); /* unchanged */
    } else {
      char want[128];

      if (rc != 0)
        fail_msg("'%s' (%d,%d): refused", cases[i].s, cases[i].precision,
                 cases[i].scale);
      snprintf(want, sizeof want, "<%s", cases[i].want);
      assert_string_equal(b.data, want); /* appended */
    }
    sluice_buf_free(&b);
  }
}

/* --- dates and times ------------------------------------------------------ */

static void test_parse_date(void **state)
{
  static const struct {
    const char *s;
    int32_t days;
  } ok[] = {{"1970-01-01", 0},       {"2000-01-01", 10957},
            {"2000-02-29", 11016},   {"2024-02-29", 19782},
            {"0001-01-01", -719162}, {"9999-12-31", 2932896},
            {"1600-01-01", -135140}, {"1969-12-31", -1}};
  static const char *const bad[] = {
      "2023-02-29",  "2024-02-30",  "1900-02-29",
      "2100-02-29",  "0000-01-01",  "2024-13-01",
      "2024-00-10",  "2024-04-31",  "2024-01-00",
      "2024-1-01",   "2024-01-01 ", " 2024-01-01",
      "2024/01/01",  "20240101",    "",
      "+2024-01-01", "2024-01-0a",  "2024-01-01T00:00:00Z",
      "10000-01-01", "-001-01-01"};
  int32_t d;

  (void)state;
  for (size_t i = 0; i < N_ELEMS(ok); i++) {
    assert_int_equal(sluice_parse_date(ok[i].s, strlen(ok[i].s), &d), 0);
    assert_int_equal(d, ok[i].days);
  }
  for (size_t i = 0; i < N_ELEMS(bad); i++) {
    d = 77;
    if (sluice_parse_date(bad[i], strlen(bad[i]), &d) != SLUICE_EINVAL)
      fail_msg("date '%s' accepted", bad[i]);
    assert_int_equal(d, 77);
  }
}

static void test_parse_time(void **state)
{
  static const struct {
    const char *s;
    int64_t us;
  } ok[] = {{"00:00:00", 0},
            {"23:59:59", 86399000000},
            {"23:59:59.999999", 86399999999},
            {"12:34:56.7", 45296700000},
            {"12:34:56.123456789", 45296123456},
            {"01:02:03.000", 3723000000},
            {"00:00:00.000001", 1},
            {"00:00:00.0000009", 0}};
  static const char *const bad[] = {
      "24:00:00",  "24:00:01", "23:60:00",  "23:59:60",
      "1:02:03",   "12:34",    "12:34:56.", "12:34:56.1234567890",
      "12:34:56Z", "",         "12-34-56",  " 12:34:56",
      "12:34:56 ", "12:34:5a", "99:00:00",  "12:34:56,5"};
  int64_t us;

  (void)state;
  for (size_t i = 0; i < N_ELEMS(ok); i++) {
    assert_int_equal(sluice_parse_time(ok[i].s, strlen(ok[i].s), &us), 0);
    assert_true(us == ok[i].us);
  }
  for (size_t i = 0; i < N_ELEMS(bad); i++) {
    us = 5;
    if (sluice_parse_time(bad[i], strlen(bad[i]), &us) != SLUICE_EINVAL)
      fail_msg("time '%s' accepted", bad[i]);
    assert_true(us == 5);
  }
}

static void test_parse_timestamp(void **state)
{
  static const struct {
    const char *s;
    int64_t us;
  } ok[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"1970-01-01", 0},
      {"1970-01-01 00:00:01", 1000000},
      {"1970-01-01t00:00:01z", 1000000},
      {"2024-05-01T12:00:00.000+0000", 1714564800000000},
      {"2024-05-01T12:00:00Z", 1714564800000000},
      {"2024-05-01T12:00:00+02:00", 1714557600000000},
      {"2024-05-01T12:00:00-05:30", 1714584600000000},
      {"2024-05-01T12:00:00-0530", 1714584600000000},
      {"2024-05-01T12:00:00+05", 1714546800000000},
      {"2024-05-01T12:00:00-00:00", 1714564800000000},
      {"1969-12-31T23:59:59.999999Z", -1},
      {"0001-01-01T00:00:00Z", -62135596800000000},
      {"9999-12-31T23:59:59.999999Z", 253402300799999999},
      {"9999-12-31T23:59:59.999999999", 253402300799999999},
      {"2024-02-29T23:59:59.123456", 1709251199123456},
  };
  static const char *const bad[] = {"2024-05-01T",
                                    "2024-05-01T12:00",
                                    "2024-05-01T24:00:00Z",
                                    "2024-05-01T12:00:60Z",
                                    "2024-05-01T12:00:00+24:00",
                                    "2024-05-01T12:00:00+0060",
                                    "2024-05-01T12:00:00+1",
                                    "2024-05-01T12:00:00+123",
                                    "2024-05-01T12:00:00ZZ",
                                    "2024-05-01X12:00:00",
                                    "2024-02-30T00:00:00Z",
                                    "2024-05-01T12:00:00 Z",
                                    "2024-05-01T12:00:00.Z",
                                    "2024-05-01T12:00:00+02:0",
                                    "2024-05-01T12:00:00+02:000",
                                    "2024-05-01T12:00:00.1234567891Z",
                                    "2024-05-01 ",
                                    "",
                                    "2024-05-01T12:00:00Z ",
                                    "0000-12-31T00:00:00Z",
                                    "2024-05-01TT"};
  int64_t us;

  (void)state;
  for (size_t i = 0; i < N_ELEMS(ok); i++) {
    if (sluice_parse_timestamp(ok[i].s, strlen(ok[i].s), &us) != 0)
      fail_msg("timestamp '%s' refused", ok[i].s);
    assert_true(us == ok[i].us);
  }
  for (size_t i = 0; i < N_ELEMS(bad); i++) {
    us = 5;
    if (sluice_parse_timestamp(bad[i], strlen(bad[i]), &us) != SLUICE_EINVAL)
      fail_msg("timestamp '%s' accepted", bad[i]);
    assert_true(us == 5);
  }
}

static void test_civil_every_day_1600_to_2400(void **state)
{
  int32_t days = sluice_days_from_civil(1600, 1, 1);
  static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

  (void)state;
  assert_int_equal(days, -135140);
  for (int y = 1600; y <= 2400; y++) {
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    for (int m = 1; m <= 12; m++) {
      int last = dim[m - 1] + (m == 2 && leap);

      for (int d = 1; d <= last; d++, days++) {
        int yy, mm, dd;

        assert_int_equal(sluice_days_from_civil(y, m, d), days);
        sluice_civil_from_days(days, &yy, &mm, &dd);
        if (yy != y || mm != m || dd != d)
          fail_msg("%d: %d-%d-%d, want %d-%d-%d", days, yy, mm, dd, y, m, d);
      }
    }
  }
  assert_int_equal(days, sluice_days_from_civil(2401, 1, 1));
  assert_int_equal(sluice_days_from_civil(2400, 12, 31), 157419);
}

static void test_civil_extremes(void **state)
{
  (void)state;
  /* Far outside the parsers' range the arithmetic still holds. */
  for (int i = 0; i < 100000; i++) {
    int32_t days = (int32_t)(rng() % 1000000000u) - 500000000;
    int y, m, d;

    sluice_civil_from_days(days, &y, &m, &d);
    assert_int_equal(sluice_days_from_civil(y, m, d), days);
    assert_true(m >= 1 && m <= 12 && d >= 1 && d <= 31);
  }
  {
    int y, m, d;

    sluice_civil_from_days(sluice_days_from_civil(-4713, 11, 24), &y, &m, &d);
    assert_int_equal(y, -4713);
    assert_int_equal(m, 11);
    assert_int_equal(d, 24);
  }
}

static char *format_typed(uint8_t type, int64_t x)
{
  struct sluice_value v = {0};

  v.type = type;
  if (type == SLUICE_TYPE_DATE)
    v.u.date = (int32_t)x;
  else
    v.u.i = x;
  return format_value(&v);
}

static void expect_typed(uint8_t type, int64_t x, const char *want)
{
  char *got = format_typed(type, x);

  assert_string_equal(got, want);
  free(got);
}

static void test_format_dates_and_times(void **state)
{
  (void)state;
  expect_typed(SLUICE_TYPE_DATE, 0, "1970-01-01");
  expect_typed(SLUICE_TYPE_DATE, -719162, "0001-01-01");
  expect_typed(SLUICE_TYPE_DATE, 2932896, "9999-12-31");
  expect_typed(SLUICE_TYPE_DATE, -719163, "0000-12-31");
  expect_typed(SLUICE_TYPE_DATE, 2932897, "+10000-01-01");
  expect_typed(SLUICE_TYPE_DATE, -719162 - 366 - 365, "-0001-01-01");
  expect_typed(SLUICE_TYPE_TIME, 0, "00:00:00");
  expect_typed(SLUICE_TYPE_TIME, 1000, "00:00:00.001");
  expect_typed(SLUICE_TYPE_TIME, 1500, "00:00:00.001500");
  expect_typed(SLUICE_TYPE_TIME, 120000, "00:00:00.120");
  expect_typed(SLUICE_TYPE_TIME, 123456, "00:00:00.123456");
  expect_typed(SLUICE_TYPE_TIME, 86399999999, "23:59:59.999999");
  expect_typed(SLUICE_TYPE_TIMESTAMP, 0, "1970-01-01T00:00:00Z");
  expect_typed(SLUICE_TYPE_TIMESTAMP, -1, "1969-12-31T23:59:59.999999Z");
  expect_typed(SLUICE_TYPE_TIMESTAMP, -1000, "1969-12-31T23:59:59.999Z");
  expect_typed(SLUICE_TYPE_TIMESTAMP, 1714564800000000, "2024-05-01T12:00:00Z");
  expect_typed(SLUICE_TYPE_TIMESTAMP, 1714564800123000,
               "2024-05-01T12:00:00.123Z");
  expect_typed(SLUICE_TYPE_TIMESTAMP, 253402300799999999,
               "9999-12-31T23:59:59.999999Z");
  expect_typed(SLUICE_TYPE_TIMESTAMP, -62135596800000000,
               "0001-01-01T00:00:00Z");
  {
    struct sluice_buf b = SLUICE_BUF_INIT;
    struct sluice_value v = {0};

    v.type = SLUICE_TYPE_TIME;
    v.u.time_us = 86400000000;
    assert_int_equal(sluice_value_format(&v, &b), SLUICE_EINVAL);
    v.u.time_us = -1;
    assert_int_equal(sluice_value_format(&v, &b), SLUICE_EINVAL);
    assert_int_equal(b.len, 0);
    sluice_buf_free(&b);
  }
}

static void test_date_time_round_trips(void **state)
{
  const int64_t lo = -62135596800000000, hi = 253402300799999999;

  (void)state;
  for (int i = 0; i < 100000; i++) {
    int64_t us = lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1)), back;
    char *text;

    if (i % 3 == 1)
      us -= us % 1000; /* whole milliseconds */
    else if (i % 3 == 2)
      us -= us % 1000000; /* whole seconds */
    text = format_typed(SLUICE_TYPE_TIMESTAMP, us);
    assert_int_equal(sluice_parse_timestamp(text, strlen(text), &back), 0);
    if (back != us)
      fail_msg("%s: %lld != %lld", text, (long long)back, (long long)us);
    free(text);

    text = format_typed(SLUICE_TYPE_TIME, us % 86400000000 < 0
                                              ? us % 86400000000 + 86400000000
                                              : us % 86400000000);
    assert_int_equal(sluice_parse_time(text, strlen(text), &back), 0);
    free(text);
  }
  for (int32_t d = -719162; d <= 2932896; d += 7) {
    char *text = format_typed(SLUICE_TYPE_DATE, d);
    int32_t back;

    assert_int_equal(sluice_parse_date(text, strlen(text), &back), 0);
    assert_int_equal(back, d);
    free(text);
  }
}

/* --- the other formats ---------------------------------------------------- */

static void test_format_scalars(void **state)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  struct sluice_value v = {0};

  (void)state;
  v.type = SLUICE_TYPE_BOOL;
  v.u.b = 1;
  assert_int_equal(sluice_value_format(&v, &b), 0);
  v.u.b = 0;
  assert_int_equal(sluice_value_format(&v, &b), 0);
  v.type = SLUICE_TYPE_INT64;
  v.u.i = INT64_MIN;
  assert_int_equal(sluice_value_format(&v, &b), 0);
  v.u.i = INT64_MAX;
  assert_int_equal(sluice_value_format(&v, &b), 0);
  v.u.i = 0;
  assert_int_equal(sluice_value_format(&v, &b), 0);
  v.type = SLUICE_TYPE_NULL;
  assert_int_equal(sluice_value_format(&v, &b), 0);
  v.type = SLUICE_TYPE_STRING;
  v.u.str = "héllo,\"x\"";
  v.len = 5;
  assert_int_equal(sluice_value_format(&v, &b), 0);
  v.type = SLUICE_TYPE_DECIMAL;
  v.u.str = "-12.50";
  v.len = 6;
  assert_int_equal(sluice_value_format(&v, &b), 0);
  assert_string_equal(b.data, "truefalse-92233720368547758089223372036854775807"
                              "0héll-12.50");
  v.type = 200;
  assert_int_equal(sluice_value_format(&v, &b), SLUICE_EINVAL);
  sluice_buf_free(&b);
}

static void test_base64(void **state)
{
  static const struct {
    const char *raw, *b64;
  } rfc4648[] = {{"", ""},
                 {"f", "Zg=="},
                 {"fo", "Zm8="},
                 {"foo", "Zm9v"},
                 {"foob", "Zm9vYg=="},
                 {"fooba", "Zm9vYmE="},
                 {"foobar", "Zm9vYmFy"}};
  struct sluice_schema *s = sluice_schema_new(1);
  struct sluice_batch *b;
  struct sluice_error err = {0};
  unsigned char all[256];
  size_t row;

  (void)state;
  assert_int_equal(sluice_schema_set(s, 0, "bin", SLUICE_TYPE_BINARY), 0);
  b = sluice_batch_new(s, 0, 0);
  assert_int_equal(sluice_batch_add_row(b, SLUICE_OP_UPSERT, &row), 0);
  for (size_t i = 0; i < N_ELEMS(rfc4648); i++) {
    struct sluice_value v = {0};
    const struct sluice_value *got;
    char *text;

    v.type = SLUICE_TYPE_BINARY;
    v.u.str = rfc4648[i].raw;
    v.len = (uint32_t)strlen(rfc4648[i].raw);
    text = format_value(&v);
    assert_string_equal(text, rfc4648[i].b64);
    free(text);
    assert_int_equal(sluice_batch_set_text(b, row, 0, SLUICE_TYPE_BINARY,
                                           rfc4648[i].b64,
                                           strlen(rfc4648[i].b64), &err),
                     0);
    got = sluice_batch_value(b, row, 0);
    assert_int_equal(got->type, SLUICE_TYPE_BINARY);
    assert_int_equal(got->len, v.len);
    assert_memory_equal(got->u.str, v.u.str, v.len);
  }
  /* Every byte value, and lengths that go through the heap. */
  for (int i = 0; i < 256; i++)
    all[i] = (unsigned char)(255 - i);
  for (size_t len = 0; len <= 256; len += 1 + len / 4) {
    struct sluice_value v = {0};
    const struct sluice_value *got;
    char *text;

    v.type = SLUICE_TYPE_BINARY;
    v.u.str = (const char *)all;
    v.len = (uint32_t)len;
    text = format_value(&v);
    assert_int_equal(sluice_batch_set_text(b, row, 0, SLUICE_TYPE_BINARY, text,
                                           strlen(text), &err),
                     0);
    got = sluice_batch_value(b, row, 0);
    assert_int_equal(got->len, len);
    assert_memory_equal(got->u.str, all, len);
    free(text);
  }
  {
    static const char *const bad[] = {"Zg=",    "Zg",    "Z===",     "Zh==",
                                      "Zm9=",   "Zm9v=", "Zg==Zg==", "Zm 9v",
                                      "Zm9v\n", "Zm-v",  "=Zm9"};

    for (size_t i = 0; i < N_ELEMS(bad); i++) {
      memset(&err, 0, sizeof err);
      if (sluice_batch_set_text(b, row, 0, SLUICE_TYPE_BINARY, bad[i],
                                strlen(bad[i]), &err) != SLUICE_EDATA)
        fail_msg("base64 '%s' accepted", bad[i]);
    }
  }
  sluice_batch_unref(b);
  sluice_schema_unref(s);
}

/* --- sluice_batch_set_text ----------------------------------------------- */

static void test_set_text(void **state)
{
  static const enum sluice_type types[] = {
      SLUICE_TYPE_BOOL,    SLUICE_TYPE_INT64,     SLUICE_TYPE_DOUBLE,
      SLUICE_TYPE_DECIMAL, SLUICE_TYPE_STRING,    SLUICE_TYPE_DATE,
      SLUICE_TYPE_TIME,    SLUICE_TYPE_TIMESTAMP, SLUICE_TYPE_DECIMAL};
  struct sluice_schema *s = sluice_schema_new(N_ELEMS(types));
  struct sluice_error err = {0};
  const struct sluice_value *v;
  struct sluice_batch *b;
  size_t row;

  (void)state;
  for (size_t i = 0; i < N_ELEMS(types); i++) {
    char name[8];

    snprintf(name, sizeof name, "c%zu", i);
    assert_int_equal(sluice_schema_set(s, i, name, types[i]), 0);
  }
  assert_int_equal(sluice_schema_set_decimal(s, 8, 5, 2), 0);
  b = sluice_batch_new(s, 0, 0);
  assert_int_equal(sluice_batch_add_row(b, SLUICE_OP_UPSERT, &row), 0);

  assert_int_equal(
      sluice_batch_set_text(b, row, 0, SLUICE_TYPE_BOOL, "Yes", 3, &err), 0);
  assert_int_equal(sluice_batch_value(b, row, 0)->u.b, 1);
  assert_int_equal(
      sluice_batch_set_text(b, row, 1, SLUICE_TYPE_INT64, "-42", 3, &err), 0);
  assert_true(sluice_batch_value(b, row, 1)->u.i == -42);
  assert_int_equal(
      sluice_batch_set_text(b, row, 2, SLUICE_TYPE_DOUBLE, "2.5e3", 5, &err),
      0);
  assert_true(sluice_batch_value(b, row, 2)->u.d == 2500.0);
  assert_int_equal(
      sluice_batch_set_text(b, row, 3, SLUICE_TYPE_DECIMAL, "-001.50", 7, &err),
      0);
  v = sluice_batch_value(b, row, 3);
  assert_int_equal(v->type, SLUICE_TYPE_DECIMAL);
  assert_int_equal(v->len, 5);
  assert_memory_equal(v->u.str, "-1.50", 5);
  assert_int_equal(
      sluice_batch_set_text(b, row, 4, SLUICE_TYPE_STRING, " as is ", 7, &err),
      0);
  v = sluice_batch_value(b, row, 4);
  assert_int_equal(v->len, 7);
  assert_memory_equal(v->u.str, " as is ", 7);
  assert_int_equal(sluice_batch_set_text(b, row, 5, SLUICE_TYPE_DATE,
                                         "2000-01-01", 10, &err),
                   0);
  assert_int_equal(sluice_batch_value(b, row, 5)->u.date, 10957);
  assert_int_equal(sluice_batch_set_text(b, row, 6, SLUICE_TYPE_TIME,
                                         "00:00:01.5", 10, &err),
                   0);
  assert_true(sluice_batch_value(b, row, 6)->u.time_us == 1500000);
  assert_int_equal(sluice_batch_set_text(b, row, 7, SLUICE_TYPE_TIMESTAMP,
                                         "1970-01-01T00:00:01+00:00", 25, &err),
                   0);
  assert_true(sluice_batch_value(b, row, 7)->u.ts_us == 1000000);
  /* The field's precision and scale apply. */
  assert_int_equal(
      sluice_batch_set_text(b, row, 8, SLUICE_TYPE_DECIMAL, "1.5", 3, &err), 0);
  v = sluice_batch_value(b, row, 8);
  assert_int_equal(v->len, 4);
  assert_memory_equal(v->u.str, "1.50", 4);
  assert_int_equal(
      sluice_batch_set_text(b, row, 8, SLUICE_TYPE_DECIMAL, "1234.5", 6, &err),
      SLUICE_EDATA);
  assert_string_equal(err.message, "cannot read '1234.5' as decimal(5,2)");
  assert_int_equal(
      sluice_batch_set_text(b, row, 1, SLUICE_TYPE_NULL, "", 0, &err), 0);
  assert_int_equal(sluice_batch_value(b, row, 1)->type, SLUICE_TYPE_NULL);

  /* Failures say what and as what, and leave the value alone. */
  memset(&err, 0, sizeof err);
  assert_int_equal(
      sluice_batch_set_text(b, row, 2, SLUICE_TYPE_DOUBLE, "abc", 3, &err),
      SLUICE_EDATA);
  assert_string_equal(err.message, "cannot read 'abc' as double");
  assert_int_equal(err.code, SLUICE_EDATA);
  assert_true(sluice_batch_value(b, row, 2)->u.d == 2500.0);
  assert_int_equal(
      sluice_batch_set_text(b, row, 1, SLUICE_TYPE_INT64, "1.5", 3, &err),
      SLUICE_EDATA);
  assert_string_equal(err.message, "cannot read '1.5' as int64");
  assert_int_equal(sluice_batch_set_text(b, row, 5, SLUICE_TYPE_DATE,
                                         "2024-02-30", 10, &err),
                   SLUICE_EDATA);
  assert_string_equal(err.message, "cannot read '2024-02-30' as date");
  assert_int_equal(
      sluice_batch_set_text(b, row, 0, SLUICE_TYPE_BOOL, "a\nb\tc", 5, &err),
      SLUICE_EDATA);
  assert_string_equal(err.message, "cannot read 'a?b?c' as bool");
  {
    /* Long text is cut, never in the middle of a UTF-8 character. */
    char text[100];

    memset(text, 'x', sizeof text);
    memcpy(text + 39, "\xC3\xA9", 2);
    assert_int_equal(sluice_batch_set_text(b, row, 1, SLUICE_TYPE_INT64, text,
                                           sizeof text, &err),
                     SLUICE_EDATA);
    assert_string_equal(err.message,
                        "cannot read 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                        "...' as int64");
  }
  assert_int_equal(
      sluice_batch_set_text(b, row, 0, (enum sluice_type)99, "1", 1, &err),
      SLUICE_EINVAL);
  /* A long decimal goes through the heap. */
  {
    char big[300];
    struct sluice_error e2 = {0};

    memset(big, '9', sizeof big);
    assert_int_equal(sluice_batch_set_text(b, row, 3, SLUICE_TYPE_DECIMAL, big,
                                           sizeof big, &e2),
                     0);
    v = sluice_batch_value(b, row, 3);
    assert_int_equal(v->len, sizeof big);
  }
  sluice_batch_unref(b);
  sluice_schema_unref(s);
}

/* --- type names ------------------------------------------------------------
 */

static void test_type_parse(void **state)
{
  static const struct {
    const char *s;
    enum sluice_type t;
    int precision, scale;
  } ok[] = {{"string", SLUICE_TYPE_STRING, -1, -1},
            {"STRING", SLUICE_TYPE_STRING, -1, -1},
            {"int64", SLUICE_TYPE_INT64, -1, -1},
            {"int", SLUICE_TYPE_INT64, -1, -1},
            {"Integer", SLUICE_TYPE_INT64, -1, -1},
            {"bigint", SLUICE_TYPE_INT64, -1, -1},
            {"double", SLUICE_TYPE_DOUBLE, -1, -1},
            {"float", SLUICE_TYPE_DOUBLE, -1, -1},
            {"real", SLUICE_TYPE_DOUBLE, -1, -1},
            {"decimal", SLUICE_TYPE_DECIMAL, -1, -1},
            {"number", SLUICE_TYPE_DECIMAL, -1, -1},
            {"decimal(10,2)", SLUICE_TYPE_DECIMAL, 10, 2},
            {"NUMBER(18, 0)", SLUICE_TYPE_DECIMAL, 18, 0},
            {"number( 5 )", SLUICE_TYPE_DECIMAL, 5, -1},
            {"decimal(38,38)", SLUICE_TYPE_DECIMAL, 38, 38},
            {"bool", SLUICE_TYPE_BOOL, -1, -1},
            {"boolean", SLUICE_TYPE_BOOL, -1, -1},
            {"date", SLUICE_TYPE_DATE, -1, -1},
            {"time", SLUICE_TYPE_TIME, -1, -1},
            {"timestamp", SLUICE_TYPE_TIMESTAMP, -1, -1},
            {"DateTime", SLUICE_TYPE_TIMESTAMP, -1, -1},
            {"binary", SLUICE_TYPE_BINARY, -1, -1}};
  static const char *const bad[] = {"",
                                    "strin",
                                    "strings",
                                    "int(5)",
                                    "decimal(",
                                    "decimal()",
                                    "decimal(0)",
                                    "decimal(5,6)",
                                    "decimal(10,2",
                                    "decimal(10,2))",
                                    "decimal(a)",
                                    "decimal(10,)",
                                    "decimal(-1)",
                                    "decimal(100000)",
                                    "decimal(39,2)",
                                    " string",
                                    "string ",
                                    "null",
                                    "varchar",
                                    "decimal(10,2)x"};

  (void)state;
  for (size_t i = 0; i < N_ELEMS(ok); i++) {
    enum sluice_type t = SLUICE_TYPE_NULL;
    int p = 99, sc = 99;

    if (sluice_type_parse(ok[i].s, &t, &p, &sc) != 0)
      fail_msg("type '%s' refused", ok[i].s);
    assert_int_equal(t, ok[i].t);
    assert_int_equal(p, ok[i].precision);
    assert_int_equal(sc, ok[i].scale);
  }
  for (size_t i = 0; i < N_ELEMS(bad); i++) {
    enum sluice_type t;

    if (sluice_type_parse(bad[i], &t, NULL, NULL) != SLUICE_EINVAL)
      fail_msg("type '%s' accepted", bad[i]);
  }
  {
    enum sluice_type t;

    assert_int_equal(sluice_type_parse("int", &t, NULL, NULL), 0);
    assert_int_equal(sluice_type_parse(NULL, &t, NULL, NULL), SLUICE_EINVAL);
  }
}

/* --- config units ----------------------------------------------------------
 */

static void test_parse_duration(void **state)
{
  static const struct {
    const char *s;
    int64_t ms;
  } ok[] = {{"500ms", 500},
            {"30s", 30000},
            {"15m", 900000},
            {"2h", 7200000},
            {"1d", 86400000},
            {"1w", 604800000},
            {"0", 0},
            {"45", 45000},
            {"0ms", 0},
            {"9223372036854775807ms", INT64_MAX},
            {"15250284452w", 9223372036569600000}};
  static const char *const bad[] = {"15x",
                                    "-1m",
                                    "",
                                    "m",
                                    "1.5h",
                                    " 1s",
                                    "1s ",
                                    "1 s",
                                    "1S",
                                    "1M",
                                    "1ms5",
                                    "+1s",
                                    "1sec",
                                    "9223372036854775807s",
                                    "99999999999999999999",
                                    "15250284453w",
                                    "1e3",
                                    "0x10s"};
  int64_t ms;

  (void)state;
  for (size_t i = 0; i < N_ELEMS(ok); i++) {
    if (sluice_parse_duration(ok[i].s, &ms) != 0)
      fail_msg("duration '%s' refused", ok[i].s);
    assert_true(ms == ok[i].ms);
  }
  for (size_t i = 0; i < N_ELEMS(bad); i++) {
    ms = 3;
    if (sluice_parse_duration(bad[i], &ms) != SLUICE_EINVAL)
      fail_msg("duration '%s' accepted", bad[i]);
    assert_true(ms == 3);
  }
  assert_int_equal(sluice_parse_duration(NULL, &ms), SLUICE_EINVAL);
}

static void test_parse_size(void **state)
{
  static const struct {
    const char *s;
    int64_t bytes;
  } ok[] = {{"1048576", 1048576},
            {"64k", 65536},
            {"64K", 65536},
            {"8M", 8388608},
            {"8m", 8388608},
            {"1G", 1073741824},
            {"2KiB", 2048},
            {"3MB", 3145728},
            {"3mib", 3145728},
            {"1T", 1099511627776},
            {"1TB", 1099511627776},
            {"2p", 2251799813685248},
            {"0", 0},
            {"10b", 10},
            {"10B", 10},
            {"8191P", 9222246136947933184}};
  static const char *const bad[] = {
      "",    "k",    "-1",    "1.5M", " 1k", "1k ",   "1 k",
      "1x",  "1kbb", "1KiBB", "1ib",  "1bk", "8192P", "9223372036854775808",
      "+1k", "1E"};
  int64_t n;

  (void)state;
  for (size_t i = 0; i < N_ELEMS(ok); i++) {
    if (sluice_parse_size(ok[i].s, &n) != 0)
      fail_msg("size '%s' refused", ok[i].s);
    assert_true(n == ok[i].bytes);
  }
  for (size_t i = 0; i < N_ELEMS(bad); i++) {
    n = 3;
    if (sluice_parse_size(bad[i], &n) != SLUICE_EINVAL)
      fail_msg("size '%s' accepted", bad[i]);
    assert_true(n == 3);
  }
}

/* --- suggestions ---------------------------------------------------------- */

static void test_edit_distance(void **state)
{
  char long_a[200], long_b[200];

  (void)state;
  assert_int_equal(sluice_edit_distance("", ""), 0);
  assert_int_equal(sluice_edit_distance("abc", ""), 3);
  assert_int_equal(sluice_edit_distance("", "abc"), 3);
  assert_int_equal(sluice_edit_distance("kitten", "sitting"), 3);
  assert_int_equal(sluice_edit_distance("sitting", "kitten"), 3);
  assert_int_equal(sluice_edit_distance("destinaton", "destination"), 1);
  assert_int_equal(sluice_edit_distance("flaw", "lawn"), 2);
  assert_int_equal(sluice_edit_distance("same", "same"), 0);
  assert_int_equal(sluice_edit_distance(NULL, "ab"), 2);
  /* Longer than the stack row. */
  memset(long_a, 'a', sizeof long_a - 1);
  memset(long_b, 'a', sizeof long_b - 1);
  long_a[199] = long_b[199] = '\0';
  long_b[100] = 'b';
  long_b[150] = '\0';
  assert_int_equal(sluice_edit_distance(long_a, long_b), 50);
}

static void test_closest(void **state)
{
  static const char *const keys[] = {"source",  "destination", "schedule",
                                     "mapping", "batch_size",  "max_retries"};

  (void)state;
  assert_string_equal(sluice_closest("destinaton", keys, N_ELEMS(keys)),
                      "destination");
  assert_string_equal(sluice_closest("sorce", keys, N_ELEMS(keys)), "source");
  assert_string_equal(sluice_closest("schedual", keys, N_ELEMS(keys)),
                      "schedule");
  assert_string_equal(sluice_closest("batchsize", keys, N_ELEMS(keys)),
                      "batch_size");
  assert_string_equal(sluice_closest("mapping", keys, N_ELEMS(keys)),
                      "mapping");
  /* A third of a long word may differ. */
  assert_string_equal(sluice_closest("maximum_retries", keys, N_ELEMS(keys)),
                      "max_retries");
  assert_null(sluice_closest("colour", keys, N_ELEMS(keys)));
  assert_null(sluice_closest("xyz", keys, N_ELEMS(keys)));
  assert_null(sluice_closest("destination", keys, 0));
  assert_null(sluice_closest(NULL, keys, N_ELEMS(keys)));
  {
    static const char *const short_keys[] = {"ab", NULL, "cd"};

    /* Nothing in common is not a typo, however short. */
    assert_null(sluice_closest("xy", short_keys, 3));
    assert_string_equal(sluice_closest("cx", short_keys, 3), "cd");
  }
  {
    /* Ties go to the first candidate. */
    static const char *const tie[] = {"cat", "car"};

    assert_string_equal(sluice_closest("caz", tie, 2), "cat");
  }
}

/* A zoned timestamp keeps its instant and prints its own wall clock. */
static void test_timestamp_with_offset(void **state)
{
  struct sluice_schema *sc = sluice_schema_new(1);
  struct sluice_batch *b;
  struct sluice_buf out = SLUICE_BUF_INIT;
  size_t row;
  (void)state;

  sluice_schema_set(sc, 0, "t", SLUICE_TYPE_TIMESTAMP);
  b = sluice_batch_new(sc, 0, 0);
  assert_int_equal(sluice_batch_add_row(b, SLUICE_OP_UPSERT, &row), 0);
  /* 2026-10-09T05:34:56.123456Z, written at +07:00 */
  assert_int_equal(
      sluice_batch_set_timestamp_tz(b, row, 0, 1791524096123456LL, 420), 0);
  assert_int_equal(sluice_value_format(sluice_batch_value(b, row, 0), &out),
                   0);
  assert_string_equal(sluice_buf_cstr(&out),
                      "2026-10-09T12:34:56.123456+07:00");
  sluice_buf_reset(&out);
  assert_int_equal(
      sluice_batch_set_timestamp_tz(b, row, 0, 1791524096000000LL, -480), 0);
  assert_int_equal(sluice_value_format(sluice_batch_value(b, row, 0), &out),
                   0);
  assert_string_equal(sluice_buf_cstr(&out), "2026-10-08T21:34:56-08:00");
  sluice_buf_reset(&out);
  /* A plain timestamp after it forgets the offset. */
  assert_int_equal(sluice_batch_set_timestamp(b, row, 0, 1791524096000000LL),
                   0);
  assert_int_equal(sluice_value_format(sluice_batch_value(b, row, 0), &out),
                   0);
  assert_string_equal(sluice_buf_cstr(&out), "2026-10-09T05:34:56Z");
  assert_int_equal(sluice_batch_set_timestamp_tz(b, row, 0, 0, 900),
                   SLUICE_EINVAL);
  sluice_buf_free(&out);
  sluice_batch_unref(b);
  sluice_schema_unref(sc);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_int64),
      cmocka_unit_test(test_timestamp_with_offset),
      cmocka_unit_test(test_parse_double_table),
      cmocka_unit_test(test_parse_double_matches_strtod),
      cmocka_unit_test(test_format_double_table),
      cmocka_unit_test(test_double_round_trip),
      cmocka_unit_test(test_double_ignores_global_locale),
      cmocka_unit_test(test_parse_bool),
      cmocka_unit_test(test_parse_decimal),
      cmocka_unit_test(test_parse_date),
      cmocka_unit_test(test_parse_time),
      cmocka_unit_test(test_parse_timestamp),
      cmocka_unit_test(test_civil_every_day_1600_to_2400),
      cmocka_unit_test(test_civil_extremes),
      cmocka_unit_test(test_format_dates_and_times),
      cmocka_unit_test(test_date_time_round_trips),
      cmocka_unit_test(test_format_scalars),
      cmocka_unit_test(test_base64),
      cmocka_unit_test(test_set_text),
      cmocka_unit_test(test_type_parse),
      cmocka_unit_test(test_parse_duration),
      cmocka_unit_test(test_parse_size),
      cmocka_unit_test(test_edit_distance),
      cmocka_unit_test(test_closest),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
