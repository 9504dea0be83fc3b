/* convert.c - text <-> typed values, and the config units.
 *
 * Everything here runs once per value of every row, so the common cases
 * (integers, short decimals, ISO dates) are parsed and printed by hand; the
 * C library is used only where exactness needs it (strtod and printf for
 * doubles the fast paths cannot prove exact).
 */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "sluice/convert.h"

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SEC)

/* The longest canonical decimal we produce: far beyond any database's
 * NUMERIC, and it keeps "1E999999999" from asking for a gigabyte. */
#define DECIMAL_MAX_CHARS 4096

static int is_digit(char c)
{
  return c >= '0' && c <= '9';
}

static char lower(char c)
{
  return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Equal ignoring ASCII case: s[0, len) against the C string word. */
static int word_is(const char *s, size_t len, const char *word)
{
  size_t i;

  for (i = 0; i < len; i++)
    if (word[i] == '\0' || lower(s[i]) != word[i])
      return 0;
  return word[i] == '\0';
}

/* --- the C numeric locale -------------------------------------------- */

/* strtod and printf follow LC_NUMERIC: a host that called setlocale()
 * would otherwise read "1.5" as 1 in a comma locale.  Both run under a
 * private "C" locale object, which uselocale() sets for this thread only. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
  c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static locale_t enter_c_locale(void)
{
  pthread_once(&c_locale_once, make_c_locale);
  return c_locale != (locale_t)0 ? uselocale(c_locale) : (locale_t)0;
}

static void leave_c_locale(locale_t old)
{
  if (old != (locale_t)0)
    uselocale(old);
}

/* --- integers -------------------------------------------------------- */

int sluice_parse_int64(const char *s, size_t len, int64_t *out)
{
  uint64_t v = 0, limit;
  size_t i = 0;
  int neg = 0;

  if (len > 0 && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    i = 1;
  }
  /* The magnitude of INT64_MIN is one more than INT64_MAX. */
  limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  if (i == len)
    return SLUICE_EINVAL;
  for (; i < len; i++) {
    unsigned d = (unsigned)((unsigned char)s[i] - '0');

    if (d > 9 || v > (limit - d) / 10)
      return SLUICE_EINVAL;
    v = v * 10 + d;
  }
  if (!neg)
    *out = (int64_t)v;
  else
    *out = v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v;
  return 0;
}

/* Digits are written two at a time: half the divisions. */
static const char digit_pairs[] = "0001020304050607080910111213141516171819"
                                  "2021222324252627282930313233343536373839"
                                  "4041424344454647484950515253545556575859"
                                  "6061626364656667686970717273747576777879"
                                  "8081828384858687888990919293949596979899";

/* v as exactly `width` digits (v < 10^width). */
static void format_fixed(uint64_t v, int width, char *buf)
{
  while (width >= 2) {
    width -= 2;
    memcpy(buf + width, digit_pairs + 2 * (v % 100), 2);
    v /= 100;
  }
  if (width == 1)
    buf[0] = (char)('0' + v);
}

static int count_digits(uint64_t v)
{
  int n = 1;

  for (; v >= 10000; v /= 10000)
    n += 4;
  return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

static size_t format_u64(uint64_t v, char *buf)
{
  int n = count_digits(v);

  format_fixed(v, n, buf);
  return (size_t)n;
}

static size_t format_i64(int64_t v, char *buf)
{
  if (v >= 0)
    return format_u64((uint64_t)v, buf);
  buf[0] = '-';
  return 1 + format_u64(0 - (uint64_t)v, buf + 1);
}

/* --- number syntax shared by double and decimal ------------------------ */

struct number {
  int neg;
  const char *int_digits;
  size_t n_int;
  const char *frac_digits;
  size_t n_frac;
  int64_t exp; /* saturated at +-EXP_LIMIT */
};

#define EXP_LIMIT INT64_C(1000000000)

/* [+-] digits [. digits] [(e|E) [+-] digits], at least one mantissa digit;
 * ".5" and "5." are accepted, as strtod does. */
static int scan_number(const char *s, size_t len, struct number *n)
{
  size_t i = 0;

  memset(n, 0, sizeof *n);
  if (i < len && (s[i] == '+' || s[i] == '-'))
    n->neg = s[i++] == '-';
  n->int_digits = s + i;
  while (i < len && is_digit(s[i]))
    i++;
  n->n_int = (size_t)(s + i - n->int_digits);
  n->frac_digits = s + i;
  if (i < len && s[i] == '.') {
    n->frac_digits = s + ++i;
    while (i < len && is_digit(s[i]))
      i++;
    n->n_frac = (size_t)(s + i - n->frac_digits);
  }
  if (n->n_int + n->n_frac == 0)
    return SLUICE_EINVAL;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    int eneg = 0;
    size_t start;

    i++;
    if (i < len && (s[i] == '+' || s[i] == '-'))
      eneg = s[i++] == '-';
    start = i;
    for (; i < len && is_digit(s[i]); i++)
      if (n->exp < EXP_LIMIT)
        n->exp = n->exp * 10 + (s[i] - '0');
    if (i == start)
      return SLUICE_EINVAL;
    if (eneg)
      n->exp = -n->exp;
  }
  return i == len ? 0 : SLUICE_EINVAL;
}

/* The i-th mantissa digit, counting the integer digits then the fraction
 * digits as one string. */
static char mantissa_digit(const struct number *n, size_t i)
{
  return i < n->n_int ? n->int_digits[i] : n->frac_digits[i - n->n_int];
}

/* --- doubles ---------------------------------------------------------- */

static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Accumulates one mantissa digit; 0 once there are too many to be exact. */
static int add_digit(uint64_t *m, int *sig, char c)
{
  if (*m == 0 && c == '0') /* leading zeros are not significant */
    return 1;
  if (++*sig > 19)
    return 0;
  *m = *m * 10 + (uint64_t)(c - '0');
  return 1;
}

/* The usual case in one pass: the syntax of scan_number() with at most 19
 * significant digits, then Clinger's fast path (a mantissa below 2^53
 * scaled by an exact power of ten is one correctly rounded operation).
 * Returns 1 with *out set, or 0 to leave the input (including any syntax
 * error) to the careful path.  Needs double arithmetic without extended
 * precision. */
static int parse_double_fast(const char *s, size_t len, double *out)
{
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
  const char *p = s, *end = s + len;
  uint64_t m = 0;
  int sig = 0, neg = 0, ndigits = 0;
  int64_t e10 = 0;
  double d;

  if (p < end && (*p == '+' || *p == '-'))
    neg = *p++ == '-';
  for (; p < end && is_digit(*p); p++, ndigits++)
    if (!add_digit(&m, &sig, *p))
      return 0;
  if (p < end && *p == '.')
    for (p++; p < end && is_digit(*p); p++, ndigits++, e10--)
      if (!add_digit(&m, &sig, *p))
        return 0;
  if (ndigits == 0)
    return 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    int64_t x = 0;
    int eneg = 0;
    const char *start;

    if (++p < end && (*p == '+' || *p == '-'))
      eneg = *p++ == '-';
    for (start = p; p < end && is_digit(*p); p++)
      if (x < 100000)
        x = x * 10 + (*p - '0');
    if (p == start)
      return 0;
    e10 += eneg ? -x : x;
  }
  if (p != end)
    return 0;
  if (m == 0) {
    *out = neg ? -0.0 : 0.0;
    return 1;
  }
  if (m > (UINT64_C(1) << 53) || e10 < -22 || e10 > 22)
    return 0;
  d = (double)m;
  d = e10 < 0 ? d / pow10_exact[-e10] : d * pow10_exact[e10];
  *out = neg ? -d : d;
  return 1;
#else
  (void)s;
  (void)len;
  (void)out;
  return 0;
#endif
}

static int parse_double_slow(const char *s, size_t len, double *out)
{
  char small[64], *copy = small, *end;
  locale_t old;
  double d;

  if (len >= sizeof small && (copy = malloc(len + 1)) == NULL)
    return SLUICE_ENOMEM;
  memcpy(copy, s, len);
  copy[len] = '\0';
  old = enter_c_locale();
  d = strtod(copy, &end);
  leave_c_locale(old);
  if (copy != small)
    free(copy);
  /* ERANGE on underflow still gives the nearest double, which we keep. */
  if (end != copy + len || !isfinite(d))
    return SLUICE_EINVAL;
  *out = d;
  return 0;
}

int sluice_parse_double(const char *s, size_t len, double *out)
{
  struct number n;

  if (parse_double_fast(s, len, out))
    return 0;
  if (scan_number(s, len, &n) < 0)
    return SLUICE_EINVAL;
  return parse_double_slow(s, len, out);
}

/* Fixed notation for m / 10^k, m > 0, no trailing fraction zeros. */
static size_t format_scaled(int neg, uint64_t m, int k, char *buf)
{
  char digits[20];
  size_t nd = format_u64(m, digits), n = 0;

  if (neg)
    buf[n++] = '-';
  if ((size_t)k >= nd) {
    buf[n++] = '0';
    buf[n++] = '.';
    memset(buf + n, '0', (size_t)k - nd);
    n += (size_t)k - nd;
    memcpy(buf + n, digits, nd);
    return n + nd;
  }
  memcpy(buf + n, digits, nd - (size_t)k);
  n += nd - (size_t)k;
  if (k > 0) {
    buf[n++] = '.';
    memcpy(buf + n, digits + nd - (size_t)k, (size_t)k);
    n += (size_t)k;
  }
  return n;
}

/* The common case without printf: the fewest fraction digits k for which
 * round(|d| * 10^k) / 10^k is exactly d again.  Limited to 15 significant
 * digits, where at most one such decimal exists, so this prints what
 * "%.15g" would (and the magnitude range is where %g uses fixed notation). */
static size_t format_double_fast(double d, char *buf)
{
  double a = fabs(d);
  int k;

  if (!(a >= 1e-4 && a < 1e15))
    return 0;
  for (k = 0; k <= 22; k++) {
    double t = a * pow10_exact[k];
    uint64_t m;

    if (t >= 1e15)
      return 0;
    m = (uint64_t)(t + 0.5);
    /* A decimal that reads back as a lies within about 2^-52 * t of t, so
     * anything farther skips the (slower) division that decides. */
    if (fabs(t - (double)m) > t * 1e-14)
      continue;
    if (m != 0 && (double)m / pow10_exact[k] == a)
      return format_scaled(d < 0, m, k, buf);
  }
  return 0;
}

static size_t format_double_slow(double d, char *buf, size_t size)
{
  locale_t old = enter_c_locale();
  int n = 0;

  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, size, "%.*g", prec, d);
    if (prec == 17 || strtod(buf, NULL) == d)
      break;
  }
  leave_c_locale(old);
  return n > 0 ? (size_t)n : 0;
}

/* The shortest text that reads back as d: "%.15g", "%.16g" or "%.17g",
 * whichever is first to round-trip.  buf holds at least 32 bytes. */
static size_t format_double(double d, char *buf, size_t size)
{
  size_t n;

  if (isnan(d))
    return (size_t)snprintf(buf, size, "NaN");
  if (isinf(d))
    return (size_t)snprintf(buf, size, "%sInfinity", d < 0 ? "-" : "");
  if (d == 0)
    return (size_t)snprintf(buf, size, "%s", signbit(d) ? "-0" : "0");
  n = format_double_fast(d, buf);
  return n > 0 ? n : format_double_slow(d, buf, size);
}

/* --- bool --------------------------------------------------------------- */

int sluice_parse_bool(const char *s, size_t len, int *out)
{
  static const char *const yes[] = {"true", "t", "yes", "y", "1"};
  static const char *const no[] = {"false", "f", "no", "n", "0"};

  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
    if (word_is(s, len, yes[i])) {
      *out = 1;
      return 0;
    }
    if (word_is(s, len, no[i])) {
      *out = 0;
      return 0;
    }
  }
  return SLUICE_EINVAL;
}

/* --- decimal ------------------------------------------------------------ */

/* The canonical decimal, laid out: the mantissa digits D with the point
 * after `point` of them (point may lie outside D: zeros are implied), the
 * integer part starting at the first non-zero digit. */
struct decimal_layout {
  const struct number *n;
  int64_t point;
  int64_t first;   /* index in D of the integer part's first digit */
  int64_t int_len; /* digits before the point, 0 for "0.xxx" */
  int64_t scale;   /* digits after the point in the output */
  int zero;        /* every digit is zero: no sign */
};

static char digit_at(const struct decimal_layout *l, int64_t i)
{
  size_t total = l->n->n_int + l->n->n_frac;

  return i >= 0 && (uint64_t)i < total ? mantissa_digit(l->n, (size_t)i) : '0';
}

/* Fills l and returns the canonical text's length, or a negative code
 * when a non-zero digit would be dropped or precision is exceeded. */
static int64_t decimal_layout(const struct number *n, int precision, int scale,
                              struct decimal_layout *l)
{
  int64_t total = (int64_t)(n->n_int + n->n_frac), natural, i;

  l->n = n;
  l->point = (int64_t)n->n_int + n->exp;
  for (l->first = 0; l->first < total; l->first++)
    if (mantissa_digit(n, (size_t)l->first) != '0')
      break;
  l->zero = l->first == total;
  l->int_len = !l->zero && l->point > l->first ? l->point - l->first : 0;
  natural = total > l->point ? total - l->point : 0;
  l->scale = scale >= 0 ? scale : natural;
  if (l->int_len > DECIMAL_MAX_CHARS || l->scale > DECIMAL_MAX_CHARS)
    return SLUICE_EINVAL;
  /* Digits past the requested scale may only be zeros. */
  for (i = l->point + l->scale > 0 ? l->point + l->scale : 0; i < total; i++)
    if (mantissa_digit(n, (size_t)i) != '0')
      return SLUICE_EINVAL;
  if (precision > 0) {
    int64_t room = (int64_t)precision - (scale > 0 ? scale : 0);

    if (l->int_len > (room > 0 ? room : 0))
      return SLUICE_EINVAL;
  }
  return (!l->zero && n->neg) + (l->int_len ? l->int_len : 1) +
         (l->scale ? 1 + l->scale : 0);
}

static void decimal_write(const struct decimal_layout *l, char *out)
{
  char *p = out;
  int64_t i;

  if (!l->zero && l->n->neg)
    *p++ = '-';
  if (l->int_len == 0)
    *p++ = '0';
  for (i = 0; i < l->int_len; i++)
    *p++ = digit_at(l, l->first + i);
  if (l->scale > 0) {
    *p++ = '.';
    for (i = 0; i < l->scale; i++)
      *p++ = digit_at(l, l->point + i);
  }
}

/* The canonical text into out[0, cap): its length, or a negative code.
 * When cap is too small nothing is written and the length is returned. */
static int64_t decimal_canonical(const char *s, size_t len, int precision,
                                 int scale, char *out, size_t cap)
{
  struct decimal_layout l;
  struct number n;
  int64_t need;

  if (scan_number(s, len, &n) < 0)
    return SLUICE_EINVAL;
  need = decimal_layout(&n, precision, scale, &l);
  if (need >= 0 && (uint64_t)need <= cap)
    decimal_write(&l, out);
  return need;
}

int sluice_parse_decimal(const char *s, size_t len, int precision, int scale,
                         struct sluice_buf *out)
{
  int64_t need = decimal_canonical(s, len, precision, scale, NULL, 0);

  if (need < 0)
    return (int)need;
  if (sluice_buf_reserve(out, (size_t)need) < 0)
    return SLUICE_ENOMEM;
  decimal_canonical(s, len, precision, scale, out->data + out->len,
                    (size_t)need);
  out->len += (size_t)need;
  out->data[out->len] = '\0';
  return 0;
}

/* --- calendar ---------------------------------------------------------- */

/* Howard Hinnant's days_from_civil / civil_from_days: exact for the whole
 * proleptic Gregorian calendar, no tables, no loops. */
int32_t sluice_days_from_civil(int y, int m, int d)
{
  int64_t yy = (int64_t)y - (m <= 2);
  int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
  int64_t yoe = yy - era * 400;
  int64_t doy = (153 * ((int64_t)m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

  return (int32_t)(era * 146097 + doe - 719468);
}

void sluice_civil_from_days(int32_t days, int *y, int *m, int *d)
{
  int64_t z = (int64_t)days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t mm = mp < 10 ? mp + 3 : mp - 9;

  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)mm;
  *y = (int)(yoe + era * 400 + (mm <= 2));
}

static int is_leap(int y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
  static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30,
                                        31, 31, 30, 31, 30, 31};

  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Two decimal digits at s as 0..99, or -1. */
static int two_digits(const char *s)
{
  unsigned hi = (unsigned)((unsigned char)s[0] - '0');
  unsigned lo = (unsigned)((unsigned char)s[1] - '0');

  return hi <= 9 && lo <= 9 ? (int)(hi * 10 + lo) : -1;
}

/* "YYYY-MM-DD" at s (10 bytes available). */
static int scan_date(const char *s, int32_t *days)
{
  int century = two_digits(s), yy = two_digits(s + 2);
  int m = two_digits(s + 5), d = two_digits(s + 8), y = century * 100 + yy;

  if (century < 0 || yy < 0 || m < 0 || d < 0 || s[4] != '-' || s[7] != '-')
    return SLUICE_EINVAL;
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
    return SLUICE_EINVAL;
  *days = sluice_days_from_civil(y, m, d);
  return 0;
}

int sluice_parse_date(const char *s, size_t len, int32_t *days)
{
  if (len != 10)
    return SLUICE_EINVAL;
  return scan_date(s, days);
}

/* "HH:MM:SS[.f{1,9}]" at the start of s; the bytes used go to *used.
 * Leap seconds (:60) and 24:00:00 are refused: neither is a valid time of
 * day in the microsecond model. */
static int scan_time(const char *s, size_t len, int64_t *us, size_t *used)
{
  int h, m, sec, nd = 0;
  int64_t frac = 0;
  size_t i = 8;

  if (len < 8 || s[2] != ':' || s[5] != ':')
    return SLUICE_EINVAL;
  h = two_digits(s);
  m = two_digits(s + 3);
  sec = two_digits(s + 6);
  if (h < 0 || m < 0 || sec < 0 || h > 23 || m > 59 || sec > 59)
    return SLUICE_EINVAL;
  if (i < len && s[i] == '.') {
    for (i++; i < len && is_digit(s[i]) && nd < 9; i++, nd++)
      if (nd < 6) /* truncate beyond microseconds */
        frac = frac * 10 + (s[i] - '0');
    if (nd == 0)
      return SLUICE_EINVAL;
    for (; nd < 6; nd++)
      frac *= 10;
  }
  *us = ((int64_t)h * 3600 + m * 60 + sec) * US_PER_SEC + frac;
  *used = i;
  return 0;
}

int sluice_parse_time(const char *s, size_t len, int64_t *us)
{
  size_t used;
  int64_t v;

  if (scan_time(s, len, &v, &used) < 0 || used != len)
    return SLUICE_EINVAL;
  *us = v;
  return 0;
}

/* "", "Z", "+HH", "+HHMM" or "+HH:MM" (or '-'), in seconds east of UTC. */
static int scan_offset(const char *s, size_t len, int64_t *secs)
{
  int h, m = 0, sign;

  if (len == 0 || (len == 1 && (s[0] == 'Z' || s[0] == 'z'))) {
    *secs = 0;
    return 0;
  }
  if (s[0] != '+' && s[0] != '-')
    return SLUICE_EINVAL;
  sign = s[0] == '-' ? -1 : 1;
  if (len != 3 && len != 5 && (len != 6 || s[3] != ':'))
    return SLUICE_EINVAL;
  h = two_digits(s + 1);
  if (len > 3)
    m = two_digits(s + len - 2);
  if (h < 0 || m < 0 || h > 23 || m > 59)
    return SLUICE_EINVAL;
  *secs = sign * ((int64_t)h * 3600 + m * 60);
  return 0;
}

int sluice_parse_timestamp(const char *s, size_t len, int64_t *us)
{
  int64_t tod = 0, offset;
  int32_t days;
  size_t used;

  if (len < 10 || scan_date(s, &days) < 0)
    return SLUICE_EINVAL;
  if (len == 10) {
    *us = days * US_PER_DAY;
    return 0;
  }
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
    return SLUICE_EINVAL;
  if (scan_time(s + 11, len - 11, &tod, &used) < 0 ||
      scan_offset(s + 11 + used, len - 11 - used, &offset) < 0)
    return SLUICE_EINVAL;
  *us = days * US_PER_DAY + tod - offset * US_PER_SEC;
  return 0;
}

/* --- formatting values ------------------------------------------------- */

static size_t format_year(int y, char *buf)
{
  size_t n = 0;

  if (y >= 0 && y <= 9999) {
    format_fixed((uint64_t)y, 4, buf);
    return 4;
  }
  /* ISO 8601 expanded years: only reachable through arithmetic. */
  buf[n++] = y < 0 ? '-' : '+';
  if (y < 0 && y > -10000) {
    format_fixed((uint64_t) - (int64_t)y, 4, buf + n);
    return n + 4;
  }
  return n + format_u64(y < 0 ? (uint64_t) - (int64_t)y : (uint64_t)y, buf + n);
}

static size_t format_date(int32_t days, char *buf)
{
  int y, m, d;
  size_t n;

  sluice_civil_from_days(days, &y, &m, &d);
  n = format_year(y, buf);
  buf[n++] = '-';
  format_fixed((uint64_t)m, 2, buf + n);
  buf[n + 2] = '-';
  format_fixed((uint64_t)d, 2, buf + n + 3);
  return n + 5;
}

/* HH:MM:SS, then the fraction only when there is one: 3 digits for whole
 * milliseconds, else 6.  0 <= us < US_PER_DAY. */
static size_t format_time_of_day(int64_t us, char *buf)
{
  int64_t secs = us / US_PER_SEC, frac = us % US_PER_SEC;

  format_fixed((uint64_t)(secs / 3600), 2, buf);
  buf[2] = ':';
  format_fixed((uint64_t)(secs / 60 % 60), 2, buf + 3);
  buf[5] = ':';
  format_fixed((uint64_t)(secs % 60), 2, buf + 6);
  if (frac == 0)
    return 8;
  buf[8] = '.';
  if (frac % 1000 == 0) {
    format_fixed((uint64_t)(frac / 1000), 3, buf + 9);
    return 12;
  }
  format_fixed((uint64_t)frac, 6, buf + 9);
  return 15;
}

/* ISO 8601 in UTC ("...Z"), or with tz (SLUICE_VALUE_TZ) the wall clock
 * at its offset ("...+07:00"): the same instant either way. */
static size_t format_timestamp(int64_t us, int tz, int tz_min, char *buf)
{
  int64_t days, rem;
  size_t n;

  if (tz)
    us += (int64_t)tz_min * 60 * 1000000;
  days = us / US_PER_DAY;
  rem = us % US_PER_DAY;

  if (rem < 0) { /* floor, not truncation, before the epoch */
    rem += US_PER_DAY;
    days--;
  }
  n = format_date((int32_t)days, buf);
  buf[n++] = 'T';
  n += format_time_of_day(rem, buf + n);
  if (tz) {
    int a = tz_min < 0 ? -tz_min : tz_min;
    buf[n++] = tz_min < 0 ? '-' : '+';
    buf[n++] = (char)('0' + a / 600);
    buf[n++] = (char)('0' + a / 60 % 10);
    buf[n++] = ':';
    buf[n++] = (char)('0' + a % 60 / 10);
    buf[n++] = (char)('0' + a % 10);
  } else {
    buf[n++] = 'Z';
  }
  return n;
}

int sluice_value_format(const struct sluice_value *v, struct sluice_buf *out)
{
  char buf[40];
  size_t n;

  switch ((enum sluice_type)v->type) {
  case SLUICE_TYPE_NULL: return 0;
  case SLUICE_TYPE_BOOL:
    return sluice_buf_append_str(out, v->u.b ? "true" : "false");
  case SLUICE_TYPE_INT64: n = format_i64(v->u.i, buf); break;
  case SLUICE_TYPE_DOUBLE: n = format_double(v->u.d, buf, sizeof buf); break;
  case SLUICE_TYPE_DECIMAL:
  case SLUICE_TYPE_STRING: return sluice_buf_append(out, v->u.str, v->len);
  case SLUICE_TYPE_DATE: n = format_date(v->u.date, buf); break;
  case SLUICE_TYPE_TIME:
    if (v->u.time_us < 0 || v->u.time_us >= US_PER_DAY)
      return SLUICE_EINVAL;
    n = format_time_of_day(v->u.time_us, buf);
    break;
  case SLUICE_TYPE_TIMESTAMP:
    n = format_timestamp(v->u.ts_us, v->flags & SLUICE_VALUE_TZ, v->tz_min,
                         buf);
    break;
  case SLUICE_TYPE_BINARY:
    return sdk_base64_encode(v->u.str, v->len, B64_STANDARD, out);
  default: return SLUICE_EINVAL;
  }
  return sluice_buf_append(out, buf, n);
}

/* --- text into a batch -----------------------------------------------------
 */

/* "cannot read '<text>' as <type>", the text cut to a readable length at a
 * UTF-8 character boundary, control bytes shown as '?'. */
static int cannot_read(struct sluice_error *err, const char *s, size_t len,
                       const char *type)
{
  enum { SHOW = 40 };
  char shown[SHOW + 1];
  size_t n = len, i;

  if (n > SHOW) {
    n = SHOW;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--;
  }
  for (i = 0; i < n; i++)
    shown[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
  shown[n] = '\0';
  return sluice_error_set(err, SLUICE_EDATA, 0, "cannot read '%s%s' as %s",
                          shown, n < len ? "..." : "", type);
}

static int set_decimal_text(struct sluice_batch *b, size_t row, size_t col,
                            const char *s, size_t len, struct sluice_error *err)
{
  const struct sluice_field *f =
      sluice_schema_field(sluice_batch_schema(b), col);
  int precision = f != NULL ? f->precision : 0;
  int scale = f != NULL && (f->precision > 0 || f->scale > 0) ? f->scale : -1;
  char small[128], *text = small, type[48];
  int64_t need;
  int rc;

  need = decimal_canonical(s, len, precision, scale, small, sizeof small);
  if (need < 0) {
    if (precision > 0 && scale >= 0)
      snprintf(type, sizeof type, "decimal(%d,%d)", precision, scale);
    else if (precision > 0)
      snprintf(type, sizeof type, "decimal(%d)", precision);
    else
      snprintf(type, sizeof type, "decimal");
    return cannot_read(err, s, len, type);
  }
  if ((size_t)need > sizeof small) {
    text = malloc((size_t)need);
    if (text == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    decimal_canonical(s, len, precision, scale, text, (size_t)need);
  }
  rc = sluice_batch_set_decimal(b, row, col, text, (size_t)need);
  if (text != small)
    free(text);
  return rc;
}

static int set_binary_text(struct sluice_batch *b, size_t row, size_t col,
                           const char *s, size_t len, struct sluice_error *err)
{
  struct sluice_buf bytes = SLUICE_BUF_INIT;
  int rc = sdk_base64_decode(s, len, B64_STANDARD, &bytes);

  if (rc == SLUICE_ENOMEM)
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  else if (rc < 0)
    rc = cannot_read(err, s, len, "binary (base64)");
  else
    rc = sluice_batch_set_binary(b, row, col, bytes.data, bytes.len);
  sluice_buf_free(&bytes);
  return rc;
}

/* Parses s as t and stores it.  1 means the text is not a t. */
static int set_parsed(struct sluice_batch *b, size_t row, size_t col,
                      enum sluice_type t, const char *s, size_t len)
{
  int64_t i64;
  int32_t days;
  double d;
  int flag;

  switch (t) {
  case SLUICE_TYPE_BOOL:
    return sluice_parse_bool(s, len, &flag) < 0
               ? 1
               : sluice_batch_set_bool(b, row, col, flag);
  case SLUICE_TYPE_INT64:
    return sluice_parse_int64(s, len, &i64) < 0
               ? 1
               : sluice_batch_set_int64(b, row, col, i64);
  case SLUICE_TYPE_DOUBLE:
    return sluice_parse_double(s, len, &d) < 0
               ? 1
               : sluice_batch_set_double(b, row, col, d);
  case SLUICE_TYPE_DATE:
    return sluice_parse_date(s, len, &days) < 0
               ? 1
               : sluice_batch_set_date(b, row, col, days);
  case SLUICE_TYPE_TIME:
    return sluice_parse_time(s, len, &i64) < 0
               ? 1
               : sluice_batch_set_time(b, row, col, i64);
  case SLUICE_TYPE_TIMESTAMP:
    return sluice_parse_timestamp(s, len, &i64) < 0
               ? 1
               : sluice_batch_set_timestamp(b, row, col, i64);
  default: return SLUICE_EINVAL;
  }
}

int sluice_batch_set_text(struct sluice_batch *b, size_t row, size_t col,
                          enum sluice_type t, const char *s, size_t len,
                          struct sluice_error *err)
{
  int rc;

  switch (t) {
  case SLUICE_TYPE_NULL: rc = sluice_batch_set_null(b, row, col); break;
  case SLUICE_TYPE_STRING:
    rc = sluice_batch_set_string(b, row, col, s, len);
    break;
  case SLUICE_TYPE_DECIMAL:
    rc = set_decimal_text(b, row, col, s, len, err);
    break;
  case SLUICE_TYPE_BINARY:
    rc = set_binary_text(b, row, col, s, len, err);
    break;
  case SLUICE_TYPE_BOOL:
  case SLUICE_TYPE_INT64:
  case SLUICE_TYPE_DOUBLE:
  case SLUICE_TYPE_DATE:
  case SLUICE_TYPE_TIME:
  case SLUICE_TYPE_TIMESTAMP:
    rc = set_parsed(b, row, col, t, s, len);
    if (rc == 1)
      return cannot_read(err, s, len, sluice_type_name(t));
    break;
  default:
    return sluice_error_set(err, SLUICE_EINVAL, 0, "unknown type %d", (int)t);
  }
  /* A setter's failure (range, memory) that nothing has described yet. */
  if (rc < 0 && err != NULL && err->code == 0)
    sluice_error_set(err, rc, 0, "cannot store a %s value: %s",
                     sluice_type_name(t) ? sluice_type_name(t) : "?",
                     sluice_strerror(rc));
  return rc;
}

/* --- type names -------------------------------------------------------- */

struct type_name {
  const char *name;
  enum sluice_type type;
};

static const struct type_name type_names[] = {
    {"string", SLUICE_TYPE_STRING},       {"int64", SLUICE_TYPE_INT64},
    {"int", SLUICE_TYPE_INT64},           {"integer", SLUICE_TYPE_INT64},
    {"bigint", SLUICE_TYPE_INT64},        {"double", SLUICE_TYPE_DOUBLE},
    {"float", SLUICE_TYPE_DOUBLE},        {"real", SLUICE_TYPE_DOUBLE},
    {"decimal", SLUICE_TYPE_DECIMAL},     {"number", SLUICE_TYPE_DECIMAL},
    {"bool", SLUICE_TYPE_BOOL},           {"boolean", SLUICE_TYPE_BOOL},
    {"date", SLUICE_TYPE_DATE},           {"time", SLUICE_TYPE_TIME},
    {"timestamp", SLUICE_TYPE_TIMESTAMP}, {"datetime", SLUICE_TYPE_TIMESTAMP},
    {"binary", SLUICE_TYPE_BINARY},
};

/* As sluice_schema_set_decimal allows (and most databases). */
#define DECIMAL_MAX_PRECISION 38

/* A small non-negative number at *p, blanks around it allowed. */
static int scan_small_int(const char **p, int *out)
{
  const char *s = *p;
  int v = 0;

  while (*s == ' ')
    s++;
  if (!is_digit(*s))
    return SLUICE_EINVAL;
  for (; is_digit(*s); s++) {
    v = v * 10 + (*s - '0');
    if (v > DECIMAL_MAX_PRECISION)
      return SLUICE_EINVAL;
  }
  while (*s == ' ')
    s++;
  *p = s;
  *out = v;
  return 0;
}

/* "(p)" or "(p,s)" after a decimal type's name. */
static int scan_decimal_args(const char *s, int *precision, int *scale)
{
  int p, sc = -1;

  if (*s++ != '(' || scan_small_int(&s, &p) < 0)
    return SLUICE_EINVAL;
  if (*s == ',') {
    s++;
    if (scan_small_int(&s, &sc) < 0)
      return SLUICE_EINVAL;
  }
  if (*s != ')' || s[1] != '\0' || p < 1 || sc > p)
    return SLUICE_EINVAL;
  *precision = p;
  *scale = sc;
  return 0;
}

int sluice_type_parse(const char *s, enum sluice_type *t, int *precision,
                      int *scale)
{
  size_t namelen;
  int p = -1, sc = -1;

  if (s == NULL || t == NULL)
    return SLUICE_EINVAL;
  namelen = strcspn(s, "(");
  for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++) {
    if (!word_is(s, namelen, type_names[i].name))
      continue;
    if (s[namelen] != '\0' && (type_names[i].type != SLUICE_TYPE_DECIMAL ||
                               scan_decimal_args(s + namelen, &p, &sc) < 0))
      return SLUICE_EINVAL;
    *t = type_names[i].type;
    if (precision != NULL)
      *precision = p;
    if (scale != NULL)
      *scale = sc;
    return 0;
  }
  return SLUICE_EINVAL;
}

/* --- config units ------------------------------------------------------ */

/* Leading decimal digits of s into *v (no sign, no overflow); *end after. */
static int scan_count(const char *s, int64_t *v, const char **end)
{
  int64_t n = 0;

  if (!is_digit(*s))
    return SLUICE_EINVAL;
  for (; is_digit(*s); s++) {
    if (n > (INT64_MAX - (*s - '0')) / 10)
      return SLUICE_EINVAL;
    n = n * 10 + (*s - '0');
  }
  *v = n;
  *end = s;
  return 0;
}

static int scale_checked(int64_t n, int64_t unit, int64_t *out)
{
  if (n > INT64_MAX / unit)
    return SLUICE_EINVAL;
  *out = n * unit;
  return 0;
}

int sluice_parse_duration(const char *s, int64_t *ms)
{
  /* Lower case only: "1M" would read as a month to some, a minute here. */
  static const struct {
    const char *suffix;
    int64_t ms;
  } units[] = {{"", 1000},
               {"ms", 1},
               {"s", 1000},
               {"m", 60 * 1000},
               {"h", 3600 * 1000},
               {"d", 86400 * 1000},
               {"w", 7 * 86400 * 1000}};
  const char *unit;
  int64_t n;

  if (s == NULL || scan_count(s, &n, &unit) < 0)
    return SLUICE_EINVAL;
  for (size_t i = 0; i < sizeof units / sizeof *units; i++)
    if (strcmp(unit, units[i].suffix) == 0)
      return scale_checked(n, units[i].ms, ms);
  return SLUICE_EINVAL;
}

int sluice_parse_size(const char *s, int64_t *bytes)
{
  static const char prefixes[] = "kmgtp";
  const char *unit, *pos;
  int64_t n, mult = 1;
  size_t ulen;

  if (s == NULL || scan_count(s, &n, &unit) < 0)
    return SLUICE_EINVAL;
  ulen = strlen(unit);
  if (ulen == 0 || word_is(unit, ulen, "b"))
    return scale_checked(n, 1, bytes);
  pos = strchr(prefixes, lower(unit[0]));
  if (pos == NULL || *pos == '\0')
    return SLUICE_EINVAL;
  /* k, kb, kib (any case): all powers of 1024, as config files mean. */
  if (!(ulen == 1 || word_is(unit + 1, ulen - 1, "b") ||
        word_is(unit + 1, ulen - 1, "ib")))
    return SLUICE_EINVAL;
  for (const char *q = prefixes; q <= pos; q++)
    mult *= 1024;
  return scale_checked(n, mult, bytes);
}

/* --- typo suggestions --------------------------------------------------- */

size_t sluice_edit_distance(const char *a, const char *b)
{
  size_t la, lb, i, j, result;
  size_t small[64], *row = small;

  a = a ? a : "";
  b = b ? b : "";
  if (strlen(b) > strlen(a)) { /* one row of the shorter string's length */
    const char *t = a;

    a = b;
    b = t;
  }
  la = strlen(a);
  lb = strlen(b);
  if (lb + 1 > sizeof small / sizeof *small &&
      (row = malloc((lb + 1) * sizeof *row)) == NULL)
    return la; /* an upper bound: good enough to refuse a suggestion */
  for (j = 0; j <= lb; j++)
    row[j] = j;
  for (i = 1; i <= la; i++) {
    size_t diag = row[0];

    row[0] = i;
    for (j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);

      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  result = row[lb];
  if (row != small)
    free(row);
  return result;
}

const char *sluice_closest(const char *word, const char *const *candidates,
                           size_t n)
{
  size_t wlen, limit, best_d = SIZE_MAX;
  const char *best = NULL;

  if (word == NULL || candidates == NULL)
    return NULL;
  wlen = strlen(word);
  limit = wlen / 3 > 2 ? wlen / 3 : 2;
  for (size_t i = 0; i < n; i++) {
    size_t d, clen;

    if (candidates[i] == NULL)
      continue;
    d = sluice_edit_distance(word, candidates[i]);
    clen = strlen(candidates[i]);
    /* Every byte changed is a different word, not a typo ("ab" vs "cd"). */
    if (d > limit || d >= (wlen > clen ? wlen : clen))
      continue;
    if (d < best_d) {
      best_d = d;
      best = candidates[i];
    }
  }
  return best;
}
