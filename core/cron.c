/* core/cron.c - cron expression parsing and next-run computation (UTC). */
#include "cron.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sluice/error.h"

/* How far cron_next looks before deciding an expression never matches.
 * Eight years, not five: Feb 29 goes eight years without a match around
 * 2100, and such an expression is rare but not wrong. */
#define CRON_HORIZON_DAYS (8 * 366)

/* cron_next's domain: years 1 to 9990, so the civil arithmetic below can
 * neither overflow nor walk past year 9999 within the horizon. */
#define CRON_TIME_MIN INT64_C(-62135596800)
#define CRON_TIME_MAX INT64_C(253086768000)

#define CRON_FIELDS 5

struct cron_field {
  const char *name;
  int min, max;
  const char *const *names; /* names[i] is value min_named + i, or NULL */
  int min_named;
  const char *names_hint;
};

static const char *const cron_month_names[] = {
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
    "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const cron_day_names[] = {"SUN", "MON", "TUE", "WED",
                                             "THU", "FRI", "SAT", NULL};

static const struct cron_field cron_fields[CRON_FIELDS] = {
    {"minute", 0, 59, NULL, 0, NULL},
    {"hour", 0, 23, NULL, 0, NULL},
    {"day-of-month", 1, 31, NULL, 0, NULL},
    {"month", 1, 12, cron_month_names, 1, "a month name (JAN-DEC)"},
    /* 7 is accepted as Sunday and folded onto 0 after parsing. */
    {"day-of-week", 0, 7, cron_day_names, 0, "a day name (SUN-SAT)"},
};

struct cron_macro {
  const char *name;
  const char *expansion;
};

static const struct cron_macro cron_macros[] = {
    {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* A slice of the expression being parsed, for messages that quote it. */
struct cron_text {
  const char *p;
  size_t len;
};

/* ---- civil time -------------------------------------------------------- */

static int64_t cron_floor_div(int64_t a, int64_t b)
{
  return a / b - (a % b < 0);
}

static int64_t cron_floor_mod(int64_t a, int64_t b)
{
  return a - cron_floor_div(a, b) * b;
}

static bool cron_is_leap(int64_t y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int cron_days_in_month(int64_t year, int month)
{
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && cron_is_leap(year))
    return 29;
  return days[month - 1];
}

/* Howard Hinnant's days_from_civil: proleptic Gregorian, exact for any
 * year a 64-bit day count can hold, with no table and no timegm(). */
static int64_t cron_days_from_civil(int64_t y, int m, int d)
{
  y -= m <= 2;
  int64_t era = cron_floor_div(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void cron_civil_from_days(int64_t z, struct cron_civil *out)
{
  z += 719468;
  int64_t era = cron_floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
  out->month = (int)(mp < 10 ? mp + 3 : mp - 9);
  out->year = yoe + era * 400 + (out->month <= 2);
  /* 1970-01-01 was a Thursday. */
  out->weekday = (int)cron_floor_mod(z - 719468 + 4, 7);
}

void cron_civil_from_unix(int64_t t, struct cron_civil *out)
{
  int64_t day = cron_floor_div(t, 86400);
  int64_t sec = t - day * 86400;
  cron_civil_from_days(day, out);
  out->hour = (int)(sec / 3600);
  out->minute = (int)(sec / 60 % 60);
  out->second = (int)(sec % 60);
}

int64_t cron_civil_to_unix(const struct cron_civil *c)
{
  return cron_days_from_civil(c->year, c->month, c->day) * 86400 +
         c->hour * 3600 + c->minute * 60 + c->second;
}

/* ---- parsing ----------------------------------------------------------- */

static bool cron_is_blank(char ch)
{
  return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

static bool cron_is_digit(char ch)
{
  return ch >= '0' && ch <= '9';
}

static bool cron_is_alpha(char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static char cron_upper(char ch)
{
  return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

static int cron_field_error(struct sluice_error *err, int index,
                            const char *fmt, ...) SLUICE_PRINTF(3, 4);

static int cron_field_error(struct sluice_error *err, int index,
                            const char *fmt, ...)
{
  char reason[SLUICE_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  sluice_error_set(err, SLUICE_EINVAL, 0, "field %d (%s): %s", index + 1,
                   cron_fields[index].name, reason);
  return SLUICE_EINVAL;
}

/* Quotes a character for a message: 'x' when printable ASCII, else its
 * byte value, so that a message never holds half a UTF-8 sequence. */
static const char *cron_quote_char(char ch, char *buf, size_t size)
{
  if (ch > ' ' && ch < 0x7f)
    snprintf(buf, size, "'%c'", ch);
  else
    snprintf(buf, size, "byte 0x%02X", (unsigned)(unsigned char)ch);
  return buf;
}

static int cron_lookup_name(const struct cron_field *f, struct cron_text word)
{
  if (f->names == NULL || word.len != 3)
    return -1;
  for (int i = 0; f->names[i] != NULL; i++) {
    const char *n = f->names[i];
    if (cron_upper(word.p[0]) == n[0] && cron_upper(word.p[1]) == n[1] &&
        cron_upper(word.p[2]) == n[2])
      return f->min_named + i;
  }
  return -1;
}

/* Reads one value (a number, or a name where the field has names) at
 * *pos, which it advances. */
static int cron_parse_value(const char **pos, const char *end, int index,
                            int *value, struct sluice_error *err)
{
  const struct cron_field *f = &cron_fields[index];
  struct cron_text word = {*pos, 0};
  char quoted[16];
  while (*pos + word.len < end &&
         (cron_is_digit(word.p[word.len]) || cron_is_alpha(word.p[word.len])))
    word.len++;
  if (word.len == 0) {
    if (*pos == end)
      return cron_field_error(err, index, "a value is missing");
    return cron_field_error(err, index, "unexpected %s",
                            cron_quote_char(**pos, quoted, sizeof quoted));
  }
  *pos += word.len;

  if (cron_is_alpha(word.p[0])) {
    int v = cron_lookup_name(f, word);
    if (v < 0 && f->names != NULL)
      return cron_field_error(err, index, "'%.*s' is not %s", (int)word.len,
                              word.p, f->names_hint);
    if (v < 0)
      return cron_field_error(err, index, "'%.*s' is not a number",
                              (int)word.len, word.p);
    *value = v;
    return 0;
  }

  long n = 0;
  for (size_t i = 0; i < word.len; i++) {
    if (!cron_is_digit(word.p[i]))
      return cron_field_error(err, index, "'%.*s' is not a number",
                              (int)word.len, word.p);
    if (n <= f->max) /* stop growing once out of range: no overflow */
      n = n * 10 + (word.p[i] - '0');
  }
  if (n < f->min || n > f->max)
    return cron_field_error(err, index, "%.*s is out of range %d-%d",
                            (int)word.len, word.p, f->min, f->max);
  *value = (int)n;
  return 0;
}

static int cron_parse_step(const char **pos, const char *end, int index,
                           struct cron_text item, int *step,
                           struct sluice_error *err)
{
  long n = 0;
  const char *p = *pos;
  if (p == end || !cron_is_digit(*p))
    return cron_field_error(err, index, "'%.*s': a step must be a number",
                            (int)item.len, item.p);
  for (; p < end && cron_is_digit(*p); p++)
    if (n <= 60)
      n = n * 10 + (*p - '0');
  if (n == 0)
    return cron_field_error(err, index, "'%.*s': a step must be at least 1",
                            (int)item.len, item.p);
  *step = (int)n;
  *pos = p;
  return 0;
}

/* One list item: '*', a value or a range, optionally with a step. */
static int cron_parse_item(struct cron_text item, int index, uint64_t *bits,
                           struct sluice_error *err)
{
  const struct cron_field *f = &cron_fields[index];
  const char *pos = item.p, *end = item.p + item.len;
  char quoted[16];
  int lo = 0, hi = 0, step = 1, rc;
  bool single = false;

  if (item.len == 0)
    return cron_field_error(err, index, "empty list item");
  if (*pos == '*') {
    pos++;
    lo = f->min;
    /* '*' in day-of-week means 0-6: 7 is only Sunday's other name. */
    hi = index == 4 ? 6 : f->max;
  } else {
    if ((rc = cron_parse_value(&pos, end, index, &lo, err)) != 0)
      return rc;
    hi = lo;
    single = true;
    if (pos < end && *pos == '-') {
      pos++;
      if ((rc = cron_parse_value(&pos, end, index, &hi, err)) != 0)
        return rc;
      single = false;
      if (hi < lo)
        return cron_field_error(err, index, "'%.*s': the range runs backwards",
                                (int)item.len, item.p);
    }
  }
  if (pos < end && *pos == '/') {
    /* Vixie rejects "5/15"; say what was probably meant. */
    if (single)
      return cron_field_error(err, index,
                              "'%.*s': a step needs '*' or a range "
                              "(as in %d-%d/n)",
                              (int)item.len, item.p, lo, f->max);
    pos++;
    if ((rc = cron_parse_step(&pos, end, index, item, &step, err)) != 0)
      return rc;
  }
  if (pos < end)
    return cron_field_error(err, index, "'%.*s': unexpected %s", (int)item.len,
                            item.p,
                            cron_quote_char(*pos, quoted, sizeof quoted));
  for (int v = lo; v <= hi; v += step)
    *bits |= UINT64_C(1) << v;
  return 0;
}

static int cron_parse_field(struct cron_text field, int index, uint64_t *bits,
                            struct sluice_error *err)
{
  const char *p = field.p, *end = field.p + field.len;
  *bits = 0;
  for (;;) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *item_end = comma != NULL ? comma : end;
    struct cron_text item = {p, (size_t)(item_end - p)};
    int rc = cron_parse_item(item, index, bits, err);
    if (rc != 0)
      return rc;
    if (comma == NULL)
      return 0;
    p = comma + 1;
  }
}

/* Splits expr at blanks; returns how many fields there were, storing at
 * most CRON_FIELDS of them. */
static int cron_split(const char *expr, struct cron_text *fields)
{
  int n = 0;
  const char *p = expr;
  for (;;) {
    while (cron_is_blank(*p))
      p++;
    if (*p == '\0')
      return n;
    const char *start = p;
    while (*p != '\0' && !cron_is_blank(*p))
      p++;
    if (n < CRON_FIELDS)
      fields[n] = (struct cron_text){start, (size_t)(p - start)};
    n++;
  }
}

static bool cron_word_equals_nocase(struct cron_text word, const char *s)
{
  size_t len = strlen(s);
  if (word.len != len)
    return false;
  for (size_t i = 0; i < len; i++)
    if (cron_upper(word.p[i]) != cron_upper(s[i]))
      return false;
  return true;
}

/* "@daily" alone in the expression: parse what it stands for. */
static int cron_parse_macro(struct cron_text word, int nfields,
                            struct cron_expr *out, struct sluice_error *err)
{
  if (nfields != 1)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "a macro such as '%.*s' stands alone, found %d "
                            "fields",
                            (int)word.len, word.p, nfields);
  for (size_t i = 0; i < sizeof cron_macros / sizeof cron_macros[0]; i++)
    if (cron_word_equals_nocase(word, cron_macros[i].name))
      return cron_parse(cron_macros[i].expansion, out, err);
  return sluice_error_set(err, SLUICE_EINVAL, 0,
                          "unknown macro '%.*s' (use @hourly, @daily, "
                          "@weekly, @monthly or @yearly)",
                          (int)word.len, word.p);
}

int cron_parse(const char *expr, struct cron_expr *out,
               struct sluice_error *err)
{
  struct cron_text fields[CRON_FIELDS];
  uint64_t bits[CRON_FIELDS];

  if (expr == NULL)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "no cron expression");
  int n = cron_split(expr, fields);
  if (n >= 1 && fields[0].p[0] == '@')
    return cron_parse_macro(fields[0], n, out, err);
  if (n != CRON_FIELDS)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "expected 5 fields, found %d", n);
  for (int i = 0; i < CRON_FIELDS; i++) {
    int rc = cron_parse_field(fields[i], i, &bits[i], err);
    if (rc != 0)
      return rc;
  }

  memset(out, 0, sizeof *out);
  out->minutes = bits[0];
  out->hours = (uint32_t)bits[1];
  out->days = (uint32_t)bits[2];
  out->months = (uint16_t)bits[3];
  out->weekdays = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f);
  out->dom_star = fields[2].p[0] == '*';
  out->dow_star = fields[4].p[0] == '*';
  return 0;
}

/* ---- evaluation -------------------------------------------------------- */

static int cron_next_bit(uint64_t set, int from, int max)
{
  for (int i = from; i <= max; i++)
    if (set >> i & 1)
      return i;
  return -1;
}

static bool cron_day_matches(const struct cron_expr *c,
                             const struct cron_civil *d)
{
  bool dom = c->days >> d->day & 1;
  bool dow = c->weekdays >> d->weekday & 1;
  if (c->dom_star || c->dow_star)
    return dom && dow;
  return dom || dow;
}

/* Walks day by day, skipping whole months whose month does not match and
 * whole days whose date does not; within a matching day the next hour and
 * minute come straight from the bitsets.  At most CRON_HORIZON_DAYS steps. */
int64_t cron_next(const struct cron_expr *c, int64_t after)
{
  if (after < CRON_TIME_MIN || after > CRON_TIME_MAX)
    return -1;
  int64_t t = cron_floor_div(after, 60) * 60 + 60;
  int64_t day = cron_floor_div(t, 86400);
  int hour = (int)(t - day * 86400) / 3600;
  int minute = (int)(t - day * 86400) / 60 % 60;
  int64_t last_day = day + CRON_HORIZON_DAYS;

  for (; day <= last_day; day++, hour = 0, minute = 0) {
    struct cron_civil d;
    cron_civil_from_days(day, &d);
    if (!(c->months >> d.month & 1)) {
      day += cron_days_in_month(d.year, d.month) - d.day; /* to its end */
      continue;
    }
    if (!cron_day_matches(c, &d))
      continue;
    for (int h = cron_next_bit(c->hours, hour, 23); h >= 0;
         h = cron_next_bit(c->hours, h + 1, 23)) {
      int m = cron_next_bit(c->minutes, h == hour ? minute : 0, 59);
      if (m >= 0)
        return day * 86400 + h * 3600 + m * 60;
    }
  }
  return -1;
}
