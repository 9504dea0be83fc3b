/* retry.c - backoff with full jitter, Retry-After, and AIMD pacing.
 *
 * All of it is arithmetic on the caller's state and the caller's clock, so
 * the host decides when to sleep and tests decide what time it is.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sluice/retry.h"

/* Retry-After values beyond this are not worth the overflow checks. */
#define RETRY_AFTER_CAP_MS (INT64_C(1) << 40)

/* The lowest rate an AIMD pacer goes to when given none (one request per
 * 100 s): above zero, so a slot is always finite. */
#define AIMD_FLOOR_RATE 0.01

/* --- PRNG ----------------------------------------------------------------- */

/* splitmix64 (Steele, Lea, Flood): one add and a mix; every seed works,
 * which xorshift cannot say of 0. */
uint64_t sluice_rng_next(uint64_t *state)
{
  uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));

  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* Uniform in [0, bound] without the bias of a plain modulo. */
static uint64_t rng_upto(uint64_t *state, uint64_t bound)
{
  uint64_t n, r, threshold;

  if (bound == UINT64_MAX)
    return sluice_rng_next(state);
  n = bound + 1;
  threshold = (0 - n) % n; /* 2^64 mod n: the values to throw away */
  do
    r = sluice_rng_next(state);
  while (r < threshold);
  return r % n;
}

/* --- backoff -------------------------------------------------------------- */

int64_t sluice_retry_backoff_ms(const struct sluice_retry_policy *p,
                                unsigned attempt, int64_t retry_after_ms,
                                uint64_t *rng_state)
{
  int64_t cap, limit, wait;
  unsigned i;

  if (attempt == 0)
    attempt = 1;
  if (attempt >= p->max_attempts)
    return -1;
  limit = p->max_ms > 0 ? p->max_ms : 0;
  cap = p->base_ms > 0 ? p->base_ms : 0;
  /* base * 2^(attempt-1), doubling only while it matters, so a large
   * attempt number neither loops long nor overflows. */
  for (i = 1; i < attempt && cap > 0 && cap < limit; i++)
    cap = cap > INT64_MAX / 2 ? INT64_MAX : cap * 2;
  if (cap > limit)
    cap = limit;
  wait = rng_state != NULL ? (int64_t)rng_upto(rng_state, (uint64_t)cap) : cap;
  if (retry_after_ms >= 0) {
    if (retry_after_ms > SLUICE_RETRY_AFTER_MAX_MS)
      retry_after_ms = SLUICE_RETRY_AFTER_MAX_MS;
    if (wait < retry_after_ms)
      wait = retry_after_ms;
  }
  return wait;
}

int sluice_http_status_retryable(long status)
{
  switch (status) {
  case 408: /* Request Timeout */
  case 425: /* Too Early */
  case 429: /* Too Many Requests */
  case 500: /* Internal Server Error */
  case 502: /* Bad Gateway */
  case 503: /* Service Unavailable */
  case 504: /* Gateway Timeout */ return 1;
  default: return 0;
  }
}

/* --- Retry-After ---------------------------------------------------------- */

static int is_blank(char c)
{
  return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
  return c >= '0' && c <= '9';
}

/* n digits at s as a number; -1 when one is not a digit. */
static int digits(const char *s, int n)
{
  int v = 0, i;

  for (i = 0; i < n; i++) {
    if (!is_digit(s[i]))
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* Index of the 3-letter name at s in names (exact case, as RFC 9110's
 * grammar has it), or -1. */
static int name_index(const char *s, const char *const *names, int count)
{
  int i;

  for (i = 0; i < count; i++)
    if (memcmp(s, names[i], 3) == 0)
      return i;
  return -1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
  static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

  return m == 2 && leap ? 29 : dim[m - 1];
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" (exactly 29 bytes) to Unix seconds. */
static int parse_imf_fixdate(const char *s, size_t len, int64_t *out)
{
  static const char *const wkday[7] = {"Mon", "Tue", "Wed", "Thu",
                                       "Fri", "Sat", "Sun"};
  static const char *const month[12] = {"Jan", "Feb", "Mar", "Apr",
                                        "May", "Jun", "Jul", "Aug",
                                        "Sep", "Oct", "Nov", "Dec"};
  int day, mon, year, hh, mm, ss;

  if (len != 29 || name_index(s, wkday, 7) < 0 || memcmp(s + 3, ", ", 2) ||
      s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || memcmp(s + 25, " GMT", 4) != 0)
    return -1;
  day = digits(s + 5, 2);
  mon = name_index(s + 8, month, 12) + 1;
  year = digits(s + 12, 4);
  hh = digits(s + 17, 2);
  mm = digits(s + 20, 2);
  ss = digits(s + 23, 2);
  /* A leap second (60) is allowed by the grammar; it counts as :59 + 1. */
  if (day < 1 || mon < 1 || year < 0 || hh < 0 || hh > 23 || mm < 0 ||
      mm > 59 || ss < 0 || ss > 60 || day > days_in_month(year, mon))
    return -1;
  *out = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
  return 0;
}

int64_t sluice_parse_retry_after_ms(const char *value, int64_t now_unix_s)
{
  const char *s = value, *end;
  int64_t secs = 0, when;
  size_t len, i;

  if (value == NULL)
    return -1;
  while (is_blank(*s))
    s++;
  end = s + strlen(s);
  while (end > s && is_blank(end[-1]))
    end--;
  len = (size_t)(end - s);
  if (len == 0)
    return -1;

  if (is_digit(s[0])) {
    /* delta-seconds = 1*DIGIT; saturate rather than overflow. */
    for (i = 0; i < len; i++) {
      if (!is_digit(s[i]))
        return -1;
      if (secs <= RETRY_AFTER_CAP_MS / 1000)
        secs = secs * 10 + (s[i] - '0');
    }
    return secs > RETRY_AFTER_CAP_MS / 1000 ? RETRY_AFTER_CAP_MS : secs * 1000;
  }

  if (parse_imf_fixdate(s, len, &when) < 0)
    return -1;
  if (now_unix_s >= when)
    return 0;
  if (now_unix_s < when - RETRY_AFTER_CAP_MS / 1000)
    return RETRY_AFTER_CAP_MS;
  return (when - now_unix_s) * 1000;
}

/* --- AIMD ----------------------------------------------------------------- */

void sluice_aimd_init(struct sluice_aimd *a, double start_rate, double min_rate,
                      double max_rate, double increase)
{
  /* !(x > 0) also catches NaN. */
  if (!(min_rate > 0))
    min_rate = AIMD_FLOOR_RATE;
  if (!(max_rate >= min_rate))
    max_rate = min_rate;
  if (!(start_rate >= min_rate))
    start_rate = min_rate;
  if (start_rate > max_rate)
    start_rate = max_rate;
  a->rate = start_rate;
  a->min_rate = min_rate;
  a->max_rate = max_rate;
  a->increase = increase > 0 ? increase : 0;
  /* No request yet: the first one goes at once, whatever the clock. */
  a->next_ms = -DBL_MAX;
}

void sluice_aimd_on_success(struct sluice_aimd *a)
{
  a->rate += a->increase;
  if (a->rate > a->max_rate)
    a->rate = a->max_rate;
}

void sluice_aimd_on_throttle(struct sluice_aimd *a)
{
  a->rate /= 2;
  if (a->rate < a->min_rate)
    a->rate = a->min_rate;
}

int64_t sluice_aimd_acquire_ms(struct sluice_aimd *a, int64_t now_ms)
{
  double now = (double)now_ms, spacing, slot;

  spacing = 1000.0 / (a->rate > 0 ? a->rate : AIMD_FLOOR_RATE);
  if (a->next_ms > now) {
    slot = a->next_ms;
  } else if (now - a->next_ms < spacing) {
    /* Late by less than a slot: stay on the schedule, so the caller's own
     * delays do not slowly lower the rate.  At most one slot is caught up
     * this way, never a burst. */
    slot = a->next_ms;
  } else {
    slot = now; /* idle: the schedule starts again from now */
  }
  a->next_ms = slot + spacing;
  return slot > now ? (int64_t)ceil(slot - now) : 0;
}
