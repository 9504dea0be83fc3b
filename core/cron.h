/* core/cron.h - five-field cron expressions, evaluated in UTC.
 *
 * The syntax is Vixie cron's: "minute hour day-of-month month day-of-week",
 * each field a comma-separated list of '*', numbers, ranges a-b and steps
 * over '*' or a range (a-b/n); months JAN-DEC and days SUN-SAT by name;
 * 7 is Sunday as well as 0; and the macros @hourly, @daily (@midnight),
 * @weekly, @monthly and @yearly (@annually).
 */
#ifndef SLUICE_CORE_CRON_H
#define SLUICE_CORE_CRON_H

#include <stdbool.h>
#include <stdint.h>

struct sluice_error;

/* Bit n of each set is value n: minutes 0-59, hours 0-23, days 1-31,
 * months 1-12, weekdays 0-6 (0 is Sunday). */
struct cron_expr {
  uint64_t minutes;
  uint32_t hours;
  uint32_t days;
  uint16_t months;
  uint8_t weekdays;
  /* Vixie's DOM_STAR/DOW_STAR: the field began with '*', stepped or not.
   * When neither did, a day matches if its day-of-month OR its weekday
   * matches; otherwise both must (as in every cron users know). */
  bool dom_star;
  bool dow_star;
};

/* Parses expr into *out.  Returns 0, or SLUICE_EINVAL with a message that
 * names the field and the reason ("field 2 (hour): 25 is out of range
 * 0-23").  *out is left untouched on failure. */
int cron_parse(const char *expr, struct cron_expr *out,
               struct sluice_error *err);

/* The first minute boundary strictly after `after` (unix seconds) that c
 * matches, or -1 when none does in the next eight years (an expression
 * such as "0 0 30 2 *" that never matches; eight because Feb 29 skips
 * 2100) or `after` is outside years 1-9990. */
int64_t cron_next(const struct cron_expr *c, int64_t after);

/* UTC civil time, the arithmetic cron_next is built on; shared so that
 * other modules format and parse timestamps without timegm() or TZ. */
struct cron_civil {
  int64_t year;
  int month;   /* 1-12 */
  int day;     /* 1-31 */
  int hour;    /* 0-23 */
  int minute;  /* 0-59 */
  int second;  /* 0-59 */
  int weekday; /* 0-6, 0 is Sunday */
};

void cron_civil_from_unix(int64_t t, struct cron_civil *out);
/* Ignores weekday; fields must be in range. */
int64_t cron_civil_to_unix(const struct cron_civil *c);
int cron_days_in_month(int64_t year, int month);

#endif /* SLUICE_CORE_CRON_H */
