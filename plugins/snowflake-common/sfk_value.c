/* plugins/snowflake-common/sfk_value.c - Snowflake values on the wire
 * (contract sections 2.5 and 2.6).
 *
 * Cells come as strings (jsonv2): NUMBER as its digits (up to 38: never
 * through a double), DATE as days, TIME and TIMESTAMP_NTZ/LTZ as seconds
 * with a fraction, TIMESTAMP_TZ as "<seconds> <offset minutes + 1440>",
 * BINARY as upper-case hex, BOOLEAN as true/false, semi-structured values
 * as their JSON text.  Fractions past the microsecond (Snowflake keeps
 * nanoseconds) are cut: sluice time values are microseconds.
 *
 * Bindings go the other way: DATE in epoch milliseconds, TIME and
 * TIMESTAMP_* in nanoseconds (TIMESTAMP_TZ with its biased offset),
 * exact decimals as TEXT (the column converts them; FIXED is meant for
 * integers). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sluice/convert.h>

#include "sfk.h"

/* --- rowType ------------------------------------------------------------- */

static int map_column(struct sfk_column *col)
{
  const char *t = col->type;

  if (strcmp(t, "fixed") == 0) {
    if (col->scale == 0 && col->precision > 0 && col->precision <= 18)
      col->stype = SLUICE_TYPE_INT64;
    else
      col->stype = SLUICE_TYPE_DECIMAL;
  } else if (strcmp(t, "real") == 0)
    col->stype = SLUICE_TYPE_DOUBLE;
  else if (strcmp(t, "boolean") == 0)
    col->stype = SLUICE_TYPE_BOOL;
  else if (strcmp(t, "date") == 0)
    col->stype = SLUICE_TYPE_DATE;
  else if (strcmp(t, "time") == 0)
    col->stype = SLUICE_TYPE_TIME;
  else if (strncmp(t, "timestamp_", 10) == 0)
    col->stype = SLUICE_TYPE_TIMESTAMP;
  else if (strcmp(t, "binary") == 0)
    col->stype = SLUICE_TYPE_BINARY;
  else if (strcmp(t, "text") == 0 || strcmp(t, "variant") == 0 ||
           strcmp(t, "object") == 0 || strcmp(t, "array") == 0 ||
           strcmp(t, "vector") == 0 || strcmp(t, "geography") == 0 ||
           strcmp(t, "geometry") == 0)
    col->stype = SLUICE_TYPE_STRING; /* semi-structured: its JSON text */
  else
    return SLUICE_ENOTSUP;
  return 0;
}

int sfk_columns_from_rowtype(json_t *rowtype, struct sfk_column **out,
                             size_t *n, struct sluice_error *err)
{
  size_t i, len = json_array_size(rowtype);
  struct sfk_column *v;
  json_t *rt;

  if (!json_is_array(rowtype) || len == 0)
    return sluice_error_set(err, SLUICE_EPROTO, 0,
                            "a result without rowType columns");
  if ((v = calloc(len, sizeof *v)) == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  json_array_foreach(rowtype, i, rt)
  {
    const char *name = json_string_value(json_object_get(rt, "name"));
    const char *type = json_string_value(json_object_get(rt, "type"));
    size_t k;

    if (name == NULL || type == NULL) {
      sfk_columns_free(v, i);
      return sluice_error_set(err, SLUICE_EPROTO, 0,
                              "rowType column %zu has no name or type", i + 1);
    }
    v[i].name = strdup(name);
    v[i].type = strdup(type);
    if (v[i].name == NULL || v[i].type == NULL) {
      sfk_columns_free(v, i + 1);
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    }
    for (k = 0; v[i].type[k]; k++)
      if (v[i].type[k] >= 'A' && v[i].type[k] <= 'Z')
        v[i].type[k] = (char)(v[i].type[k] - 'A' + 'a');
    v[i].precision = (int)json_integer_value(json_object_get(rt, "precision"));
    v[i].scale = (int)json_integer_value(json_object_get(rt, "scale"));
    if (map_column(&v[i]) < 0) {
      sluice_error_set(err, SLUICE_ENOTSUP, 0,
                       "column %s: Snowflake type '%s' is not known", name,
                       type);
      sfk_columns_free(v, i + 1);
      return SLUICE_ENOTSUP;
    }
    /* A precision 0 NUMBER (a computed column) keeps its digits exactly. */
    if (v[i].stype == SLUICE_TYPE_DECIMAL &&
        (v[i].precision <= 0 || v[i].precision > 38))
      v[i].precision = 38;
  }
  *out = v;
  *n = len;
  return 0;
}

struct sluice_schema *sfk_columns_schema(const struct sfk_column *col, size_t n)
{
  struct sluice_schema *s = sluice_schema_new(n);
  size_t i;

  for (i = 0; s != NULL && i < n; i++) {
    char origin[64];
    snprintf(origin, sizeof origin, "snowflake:%s", col[i].type);
    if (sluice_schema_set(s, i, col[i].name, col[i].stype) < 0 ||
        sluice_schema_set_origin(s, i, origin) < 0 ||
        (col[i].stype == SLUICE_TYPE_DECIMAL &&
         sluice_schema_set_decimal(s, i, col[i].precision, col[i].scale) < 0)) {
      sluice_schema_unref(s);
      return NULL;
    }
  }
  return s;
}

void sfk_columns_free(struct sfk_column *col, size_t n)
{
  size_t i;

  if (col == NULL)
    return;
  for (i = 0; i < n; i++) {
    free(col[i].name);
    free(col[i].type);
  }
  free(col);
}

/* --- cells into values --------------------------------------------------- */

/* "[-]seconds[.fraction]" into microseconds (the fraction cut past six
 * digits); *end after it. */
static int parse_seconds(const char *s, int64_t *us, const char **end)
{
  int neg = 0, digits = 0, fd = 0;
  int64_t secs = 0, frac = 0;

  if (*s == '-') {
    neg = 1;
    s++;
  }
  for (; *s >= '0' && *s <= '9'; s++, digits++) {
    if (secs > (INT64_MAX / 1000000 - 9) / 10)
      return SLUICE_EINVAL;
    secs = secs * 10 + (*s - '0');
  }
  if (digits == 0)
    return SLUICE_EINVAL;
  if (*s == '.') {
    for (s++; *s >= '0' && *s <= '9'; s++)
      if (fd < 6) {
        frac = frac * 10 + (*s - '0');
        fd++;
      }
  }
  for (; fd < 6; fd++)
    frac *= 10;
  *us = secs * 1000000 + frac;
  if (neg)
    *us = -*us;
  *end = s;
  return 0;
}

static int hexval(int ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

static int set_binary(struct sluice_batch *b, size_t row, size_t col,
                      const char *s, size_t len)
{
  unsigned char *p;
  size_t i;
  int rc;

  if (len % 2 != 0)
    return SLUICE_EINVAL;
  if ((p = malloc(len / 2 + 1)) == NULL)
    return SLUICE_ENOMEM;
  for (i = 0; i < len; i += 2) {
    int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
    if (hi < 0 || lo < 0) {
      free(p);
      return SLUICE_EINVAL;
    }
    p[i / 2] = (unsigned char)(hi * 16 + lo);
  }
  rc = sluice_batch_set_binary(b, row, col, p, len / 2);
  free(p);
  return rc;
}

static int set_cell(const struct sfk_column *c, const char *s, size_t len,
                    struct sluice_batch *b, size_t row, size_t col)
{
  struct sluice_buf dec = SLUICE_BUF_INIT;
  const char *end;
  int64_t i64;
  double d;
  int rc;

  switch (c->stype) {
  case SLUICE_TYPE_INT64:
    if (sluice_parse_int64(s, len, &i64) < 0)
      return SLUICE_EINVAL;
    return sluice_batch_set_int64(b, row, col, i64);
  case SLUICE_TYPE_DECIMAL:
    rc = sluice_parse_decimal(s, len, c->precision, c->scale, &dec);
    if (rc == 0)
      rc = sluice_batch_set_decimal(b, row, col, dec.data ? dec.data : "0",
                                    dec.len ? dec.len : 1);
    sluice_buf_free(&dec);
    return rc;
  case SLUICE_TYPE_DOUBLE:
    if (strcmp(s, "NaN") == 0)
      d = NAN;
    else if (strcmp(s, "inf") == 0)
      d = INFINITY;
    else if (strcmp(s, "-inf") == 0)
      d = -INFINITY;
    else if (sluice_parse_double(s, len, &d) < 0)
      return SLUICE_EINVAL;
    return sluice_batch_set_double(b, row, col, d);
  case SLUICE_TYPE_BOOL:
    if (strcmp(s, "true") == 0)
      return sluice_batch_set_bool(b, row, col, 1);
    if (strcmp(s, "false") == 0)
      return sluice_batch_set_bool(b, row, col, 0);
    return SLUICE_EINVAL;
  case SLUICE_TYPE_DATE:
    if (sluice_parse_int64(s, len, &i64) < 0 || i64 < INT32_MIN ||
        i64 > INT32_MAX)
      return SLUICE_EINVAL;
    return sluice_batch_set_date(b, row, col, (int32_t)i64);
  case SLUICE_TYPE_TIME:
    if (parse_seconds(s, &i64, &end) < 0 || *end != '\0' || i64 < 0 ||
        i64 >= 86400LL * 1000000)
      return SLUICE_EINVAL;
    return sluice_batch_set_time(b, row, col, i64);
  case SLUICE_TYPE_TIMESTAMP:
    if (parse_seconds(s, &i64, &end) < 0)
      return SLUICE_EINVAL;
    if (strcmp(c->type, "timestamp_tz") == 0) {
      /* "<seconds> <offset + 1440>" */
      char *e2;
      long biased;
      if (*end != ' ')
        return SLUICE_EINVAL;
      biased = strtol(end + 1, &e2, 10);
      if (*e2 != '\0' || e2 == end + 1 || biased < 1440 - 840 ||
          biased > 1440 + 840)
        return SLUICE_EINVAL;
      return sluice_batch_set_timestamp_tz(b, row, col, i64,
                                           (int)(biased - 1440));
    }
    if (*end != '\0')
      return SLUICE_EINVAL;
    return sluice_batch_set_timestamp(b, row, col, i64);
  case SLUICE_TYPE_BINARY: return set_binary(b, row, col, s, len);
  default: return sluice_batch_set_string(b, row, col, s, len);
  }
}

int sfk_row_to_batch(const struct sfk_column *col, size_t n, json_t *row,
                     struct sluice_batch *b, struct sluice_error *err)
{
  size_t r, i;
  int rc;

  if (!json_is_array(row) || json_array_size(row) != n)
    return sluice_error_set(err, SLUICE_EPROTO, 0,
                            "a result row with %zu values for %zu columns",
                            json_array_size(row), n);
  if ((rc = sluice_batch_add_row(b, SLUICE_OP_UPSERT, &r)) < 0)
    return sluice_error_set(err, rc, 0, "out of memory");
  for (i = 0; i < n; i++) {
    json_t *v = json_array_get(row, i);
    const char *s = json_string_value(v);
    if (json_is_null(v))
      continue;
    if (s == NULL)
      rc = SLUICE_EINVAL;
    else
      rc = set_cell(&col[i], s, json_string_length(v), b, r, i);
    if (rc < 0) {
      sluice_batch_drop_last_row(b);
      if (rc == SLUICE_ENOMEM)
        return sluice_error_set(err, rc, 0, "out of memory");
      return sluice_error_set(
          err, SLUICE_EPROTO, 0, "column %s (%s): '%.60s' is not a %s value",
          col[i].name, col[i].type, s ? s : "?", col[i].type);
    }
  }
  return 0;
}

/* --- values into bindings ------------------------------------------------ */

const char *sfk_binding_type(enum sluice_type t, const char *coltype)
{
  switch (t) {
  case SLUICE_TYPE_BOOL: return "BOOLEAN";
  case SLUICE_TYPE_INT64: return "FIXED";
  case SLUICE_TYPE_DOUBLE: return "REAL";
  case SLUICE_TYPE_DATE: return "DATE";
  case SLUICE_TYPE_TIME: return "TIME";
  case SLUICE_TYPE_BINARY: return "BINARY";
  case SLUICE_TYPE_TIMESTAMP:
    if (coltype && strncasecmp(coltype, "TIMESTAMP_TZ", 12) == 0)
      return "TIMESTAMP_TZ";
    if (coltype && strncasecmp(coltype, "TIMESTAMP_LTZ", 13) == 0)
      return "TIMESTAMP_LTZ";
    return "TIMESTAMP_NTZ";
  default: return "TEXT"; /* STRING, DECIMAL */
  }
}

int sfk_binding_text(const struct sluice_value *v, const char *btype,
                     struct sluice_buf *out)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t i;
  int rc = 0;

  switch ((enum sluice_type)v->type) {
  case SLUICE_TYPE_DATE:
    return sluice_buf_printf(out, "%lld",
                             (long long)v->u.date * 86400LL * 1000);
  case SLUICE_TYPE_TIME:
    return sluice_buf_printf(out, "%lld", (long long)v->u.time_us * 1000);
  case SLUICE_TYPE_TIMESTAMP:
    if (strcmp(btype, "TIMESTAMP_TZ") == 0)
      return sluice_buf_printf(
          out, "%lld %d", (long long)v->u.ts_us * 1000,
          1440 + ((v->flags & SLUICE_VALUE_TZ) ? v->tz_min : 0));
    return sluice_buf_printf(out, "%lld", (long long)v->u.ts_us * 1000);
  case SLUICE_TYPE_BINARY:
    for (i = 0; i < v->len && rc == 0; i++) {
      char two[2] = {hex[(unsigned char)v->u.str[i] >> 4],
                     hex[(unsigned char)v->u.str[i] & 15]};
      rc = sluice_buf_append(out, two, 2);
    }
    return rc;
  case SLUICE_TYPE_DOUBLE:
    if (isnan(v->u.d))
      return sluice_buf_append_str(out, "NaN");
    if (isinf(v->u.d))
      return sluice_buf_append_str(out, v->u.d > 0 ? "inf" : "-inf");
    return sluice_value_format(v, out);
  default: return sluice_value_format(v, out);
  }
}
