/* core/schedule.h - when a pipeline runs: every N minutes/hours/days/weeks,
 * on a cron expression, or only when asked. */
#ifndef SLUICE_CORE_SCHEDULE_H
#define SLUICE_CORE_SCHEDULE_H

#include <stdint.h>

#include "cron.h"

struct sluice_error;

enum schedule_kind {
  SCHEDULE_NONE,  /* runs only when started by hand */
  SCHEDULE_EVERY, /* every every_s seconds after the last start */
  SCHEDULE_CRON   /* at the minutes cron matches (UTC) */
};

struct schedule {
  enum schedule_kind kind;
  int64_t every_s;
  struct cron_expr cron;
};

/* The bounds of an "every" interval, in seconds (1m and 4w). */
#define SCHEDULE_EVERY_MIN INT64_C(60)
#define SCHEDULE_EVERY_MAX (INT64_C(28) * 86400)

/* Parses an interval: a whole number and one unit of m, h, d or w ("15m",
 * "2h", "1d", "4w"), from 1m to 4w inclusive.  Returns 0, or SLUICE_EINVAL
 * with a message that quotes s and says why ("'30s': units are m, h, d or
 * w", "'5w': at most 4w"). */
int schedule_parse_every(const char *s, int64_t *seconds,
                         struct sluice_error *err);

/* When the next run should start, in unix seconds (never before now); -1
 * when it never should (SCHEDULE_NONE, or a cron expression that matches
 * nothing).  last_start < 0 means the pipeline never ran:
 *   EVERY: now.
 *   CRON:  the first matching minute at or after now.
 * Otherwise:
 *   EVERY: last_start + every_s.
 *   CRON:  the first matching minute strictly after last_start.
 * Runs missed while sluice was down or the previous run was busy collapse
 * into one: a time already in the past becomes now, never a burst. */
int64_t schedule_next(const struct schedule *s, int64_t last_start,
                      int64_t now);

#endif /* SLUICE_CORE_SCHEDULE_H */
