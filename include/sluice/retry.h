/* sluice/retry.h - retry backoff, retryable HTTP statuses, Retry-After, and
 * an AIMD request pacer.
 *
 * Pure functions over caller-owned state: no clock, no sleeping, no global
 * state.  The caller passes the time and sleeps for what it is told, so the
 * same code runs under a simulated clock in tests.  A struct is not locked:
 * share one between threads only under the caller's lock.
 *
 * Since ABI 1.0.
 */
#ifndef SLUICE_RETRY_H
#define SLUICE_RETRY_H

#include <stdint.h>

#include "sluice/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- a small PRNG for jitter ---------------------------------------------- */

/* splitmix64: the next pseudo-random number from *state (any seed, 0
 * included).  Not for secrets.  Seed it from the clock and the pid in
 * production, with a constant in tests. */
SLUICE_API uint64_t sluice_rng_next(uint64_t *state);

/* --- backoff -------------------------------------------------------------- */

struct sluice_retry_policy {
  unsigned max_attempts; /* attempts in all, the first included */
  int64_t base_ms;       /* the first retry waits up to this long */
  int64_t max_ms;        /* the computed wait never exceeds this */
};

/* 5 attempts; waits of up to 0.5, 1, 2, 4 s, never more than 30 s. */
#define SLUICE_RETRY_POLICY_DEFAULT                                            \
  {                                                                            \
    5, 500, 30000                                                              \
  }

/* The longest wait a Retry-After header can ask for; a longer one is cut
 * to this (the server's hint outranks max_ms, but not without limit). */
#define SLUICE_RETRY_AFTER_MAX_MS (INT64_C(10) * 60 * 1000)

/* How long to wait before the next attempt, after attempt `attempt`
 * (1-based: the attempt that just failed) failed; -1 when that was the
 * last one (attempt >= max_attempts).
 * "Full jitter": uniform in [0, min(max_ms, base_ms * 2^(attempt-1))], so
 * clients that failed together do not retry together.  retry_after_ms
 * (-1: none) is the server's Retry-After: the wait is then at least that,
 * up to SLUICE_RETRY_AFTER_MAX_MS.  rng_state NULL: no jitter (the upper
 * bound). */
SLUICE_API int64_t sluice_retry_backoff_ms(const struct sluice_retry_policy *p,
                                           unsigned attempt,
                                           int64_t retry_after_ms,
                                           uint64_t *rng_state);

/* 1 for the statuses worth retrying (408 Request Timeout, 425 Too Early,
 * 429 Too Many Requests, 500, 502, 503, 504), else 0.  A 501 or 505 will
 * not change; other 4xx mean the request itself is wrong. */
SLUICE_API int sluice_http_status_retryable(long status);

/* The wait a Retry-After header value asks for, in milliseconds: either
 * delta-seconds ("120") or an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
 * GMT") relative to now_unix_s (a date in the past: 0).  Blanks around the
 * value are ignored.  -1 when the value is neither (the obsolete RFC 850
 * and asctime date forms included).  Large values are capped at
 * INT64_C(1) << 40 ms (about 35 years) rather than overflowing. */
SLUICE_API int64_t sluice_parse_retry_after_ms(const char *value,
                                               int64_t now_unix_s);

/* --- AIMD pacing ---------------------------------------------------------- */

/* Additive increase, multiplicative decrease of a request rate (requests
 * per second), with requests paced 1/rate apart. */
struct sluice_aimd {
  double rate;     /* current requests per second */
  double min_rate; /* never below this (> 0) */
  double max_rate; /* never above this */
  double increase; /* added to rate on each success */
  double next_ms;  /* the earliest start of the next request */
};

/* Sets the rates: start_rate (2 req/s is a polite start for an API with a
 * daily budget), clamped to [min_rate, max_rate].  A min_rate <= 0 becomes
 * 0.01 req/s; a max_rate below min_rate becomes min_rate. */
SLUICE_API void sluice_aimd_init(struct sluice_aimd *a, double start_rate,
                                 double min_rate, double max_rate,
                                 double increase);
/* A request succeeded: rate += increase, up to max_rate. */
SLUICE_API void sluice_aimd_on_success(struct sluice_aimd *a);
/* The server throttled (429, 503, a limit error): rate halves, down to
 * min_rate. */
SLUICE_API void sluice_aimd_on_throttle(struct sluice_aimd *a);
/* Books the next request slot and returns how long to wait before starting
 * it (0: now), given the time now_ms on any monotonic clock.  Slots are
 * 1000/rate ms apart.  A caller that comes late keeps its place on the
 * schedule for up to one slot (so small delays in the caller do not lower
 * the rate); after a longer idle time the schedule restarts at now, so no
 * burst of saved-up requests ever goes out.
 * Call it once per request: the slot is booked when it returns, so after
 * waiting the time it gave, start the request without calling it again (a
 * second call would book, and wait for, a second slot). */
SLUICE_API int64_t sluice_aimd_acquire_ms(struct sluice_aimd *a,
                                          int64_t now_ms);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_RETRY_H */
