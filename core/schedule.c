/* core/schedule.c - parsing "every" intervals and computing the next run. */
#include "schedule.h"

#include <stdbool.h>
#include <stddef.h>

#include "sluice/error.h"

static int64_t schedule_unit_seconds(char unit)
{
  switch (unit) {
  case 'm': return 60;
  case 'h': return 3600;
  case 'd': return 86400;
  case 'w': return 7 * 86400;
  default: return 0;
  }
}

static int schedule_every_error(struct sluice_error *err, const char *s,
                                const char *reason)
{
  return sluice_error_set(err, SLUICE_EINVAL, 0, "'%s': %s", s, reason);
}

static bool schedule_is_letter(char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

int schedule_parse_every(const char *s, int64_t *seconds,
                         struct sluice_error *err)
{
  static const char usage[] =
      "expected a whole number and a unit, as in 15m, 2h, 1d or 4w";
  int64_t n = 0;
  const char *p;

  if (s == NULL)
    s = "";
  for (p = s; *p >= '0' && *p <= '9'; p++)
    if (n <= SCHEDULE_EVERY_MAX) /* past any valid count: stop, no overflow */
      n = n * 10 + (*p - '0');
  if (p == s)
    return schedule_every_error(err, s, usage);
  if (*p == '\0')
    return schedule_every_error(err, s, "the unit is missing (m, h, d or w)");
  int64_t unit = schedule_unit_seconds(*p);
  if (unit == 0 && schedule_is_letter(*p))
    return schedule_every_error(err, s, "units are m, h, d or w");
  if (unit == 0 || p[1] != '\0')
    return schedule_every_error(err, s, usage);
  if (n * unit > SCHEDULE_EVERY_MAX)
    return schedule_every_error(err, s, "at most 4w");
  if (n * unit < SCHEDULE_EVERY_MIN)
    return schedule_every_error(err, s, "at least 1m");
  *seconds = n * unit;
  return 0;
}

int64_t schedule_next(const struct schedule *s, int64_t last_start, int64_t now)
{
  int64_t due;

  switch (s->kind) {
  case SCHEDULE_EVERY: {
    /* A hand-built schedule with no interval must not make the scheduler
     * spin: treat it as the shortest valid one. */
    int64_t every =
        s->every_s < SCHEDULE_EVERY_MIN ? SCHEDULE_EVERY_MIN : s->every_s;
    if (last_start < 0)
      return now;
    due = last_start > INT64_MAX - every ? INT64_MAX : last_start + every;
    break;
  }
  case SCHEDULE_CRON:
    /* now - 1: cron_next is strictly after, and now itself may match. */
    due = cron_next(&s->cron, last_start < 0 ? now - 1 : last_start);
    if (due < 0)
      return -1;
    break;
  case SCHEDULE_NONE:
  default: return -1;
  }
  return due < now ? now : due;
}
