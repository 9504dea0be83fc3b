/* plugins/salesforce-rest/sf_query.c - the SOQL text, the query paths, and
 * query records into batch rows (contract sections 2.1 and 7).
 *
 * Exact decimals: jansson reads JSON numbers into a double (or an int64)
 * and keeps no text.  A DECIMAL value is written from the shortest text
 * that reads back to the same double (%.15g, else %.16g, else %.17g), then
 * given the field's scale by sluice_parse_decimal.  That is the number's
 * own text whenever it has at most 15 significant digits, which covers
 * every currency value below 10^13 at scale 2 (Salesforce stores number
 * fields as doubles in its API, so more digits never come back exactly
 * anyway); a value with more digits than its scale allows is rounded to
 * the scale with %.*f. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/convert.h>
#include <sluice/quote.h>

#include "sf.h"

void sf_query_datetime_literal(int64_t us, char *out, size_t outlen)
{
  int64_t s = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
  int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
  int64_t sod = s - days * 86400;
  int y, m, d;

  sluice_civil_from_days((int32_t)days, &y, &m, &d);
  snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
           (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
}

int sf_query_soql(struct sf_ctx *c, const struct sf_field *f, size_t n,
                  int has_modstamp, int64_t since_us, struct sluice_buf *out,
                  struct sluice_error *err)
{
  char lit[40];
  size_t i;
  int rc = sluice_buf_append_str(out, "SELECT ");

  for (i = 0; i < n && rc == 0; i++)
    rc = sluice_buf_printf(out, "%s%s", i ? "," : "", f[i].name);
  if (rc == 0)
    rc = sluice_buf_printf(out, " FROM %s", c->object);
  if (rc == 0 && c->filter != NULL && *c->filter != '\0')
    rc = sluice_buf_printf(out, " WHERE (%s)", c->filter);
  if (rc == 0 && since_us >= 0 && has_modstamp) {
    sf_query_datetime_literal(since_us, lit, sizeof lit);
    rc = sluice_buf_printf(out, "%s SystemModstamp >= %s",
                           (c->filter && *c->filter) ? " AND" : " WHERE", lit);
  }
  if (rc == 0)
    rc = sluice_buf_append_str(
        out, has_modstamp ? " ORDER BY SystemModstamp, Id" : " ORDER BY Id");
  if (rc < 0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  return 0;
}

int sf_query_first_path(struct sf_ctx *c, const char *soql,
                        struct sluice_buf *out)
{
  struct sluice_buf q = SLUICE_BUF_INIT;
  int rc = sf_api_base(c, out);

  if (rc == 0)
    rc = sluice_buf_append_str(out,
                               c->include_deleted ? "/queryAll?" : "/query?");
  /* form encoding percent-encodes all but A-Z a-z 0-9 - . _ ~: a '+' in
   * the query cannot turn into a space.  (A buffer of its own: appended
   * to `out` it would start with '&'.) */
  if (rc == 0)
    rc = sluice_form_append(&q, "q", soql);
  if (rc == 0)
    rc = sluice_buf_append(out, q.data, q.len);
  sluice_buf_free(&q);
  return rc;
}

/* The shortest text that reads back to d. */
static void double_text(double d, char *out, size_t outlen)
{
  int prec;

  for (prec = 15; prec <= 17; prec++) {
    snprintf(out, outlen, "%.*g", prec, d);
    if (strtod(out, NULL) == d)
      return;
  }
}

static int set_decimal(struct sluice_batch *b, size_t row, size_t col,
                       const struct sf_field *f, json_t *v,
                       struct sluice_error *err, const char **why)
{
  struct sluice_buf dec = SLUICE_BUF_INIT;
  char text[64];
  int rc;

  if (json_is_integer(v))
    snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
  else if (json_is_real(v))
    double_text(json_real_value(v), text, sizeof text);
  else if (json_is_string(v))
    snprintf(text, sizeof text, "%.60s", json_string_value(v));
  else {
    *why = "not a number";
    return SLUICE_EDATA;
  }
  rc = sluice_parse_decimal(text, strlen(text), f->precision, f->scale, &dec);
  if (rc == SLUICE_EINVAL && json_is_real(v)) {
    /* More fraction digits than the scale: round to it. */
    snprintf(text, sizeof text, "%.*f", f->scale, json_real_value(v));
    sluice_buf_reset(&dec);
    rc = sluice_parse_decimal(text, strlen(text), f->precision, f->scale, &dec);
  }
  if (rc == 0)
    rc = sluice_batch_set_decimal(b, row, col, dec.data ? dec.data : "0",
                                  dec.len ? dec.len : 1);
  else
    *why = "does not fit the field's precision and scale";
  (void)err;
  sluice_buf_free(&dec);
  return rc;
}

static int set_value(struct sluice_batch *b, size_t row, size_t col,
                     const struct sf_field *f, json_t *v,
                     struct sluice_error *err, const char **why)
{
  const char *s = json_string_value(v);
  size_t len = s ? json_string_length(v) : 0;
  int64_t i64, us;
  int32_t days;
  int rc;

  switch (f->type) {
  case SLUICE_TYPE_BOOL:
    if (!json_is_boolean(v))
      break;
    return sluice_batch_set_bool(b, row, col, json_is_true(v));
  case SLUICE_TYPE_INT64:
    if (json_is_integer(v))
      return sluice_batch_set_int64(b, row, col, json_integer_value(v));
    if (json_is_real(v)) { /* "12.0" in an int field (contract 2.2) */
      double d = json_real_value(v);
      if (d != floor(d) || fabs(d) > 9.2e18)
        break;
      return sluice_batch_set_int64(b, row, col, (int64_t)d);
    }
    if (s && sluice_parse_int64(s, len, &i64) == 0)
      return sluice_batch_set_int64(b, row, col, i64);
    break;
  case SLUICE_TYPE_DOUBLE:
    if (json_is_number(v))
      return sluice_batch_set_double(b, row, col, json_number_value(v));
    break;
  case SLUICE_TYPE_DECIMAL: return set_decimal(b, row, col, f, v, err, why);
  case SLUICE_TYPE_DATE:
    if (s && sluice_parse_date(s, len, &days) == 0)
      return sluice_batch_set_date(b, row, col, days);
    break;
  case SLUICE_TYPE_TIMESTAMP:
    if (s && sluice_parse_timestamp(s, len, &us) == 0)
      return sluice_batch_set_timestamp(b, row, col, us);
    break;
  case SLUICE_TYPE_TIME:
    /* "12:05:00.000Z": the time of day, in UTC */
    if (s && len > 0 && s[len - 1] == 'Z')
      len--;
    if (s && sluice_parse_time(s, len, &us) == 0)
      return sluice_batch_set_time(b, row, col, us);
    break;
  default: /* STRING: text as is; compound values as compact JSON */
    if (s)
      return sluice_batch_set_string(b, row, col, s, len);
    if (json_is_boolean(v))
      return sluice_batch_set_string(b, row, col,
                                     json_is_true(v) ? "true" : "false",
                                     json_is_true(v) ? 4 : 5);
    {
      char *j = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
                                  JSON_REAL_PRECISION(17));
      if (j == NULL)
        return SLUICE_ENOMEM;
      rc = sluice_batch_set_string(b, row, col, j, strlen(j));
      free(j);
      return rc;
    }
  }
  *why = "not of the field's type";
  return SLUICE_EDATA;
}

int sf_query_record_to_row(const struct sf_field *f, size_t n, json_t *rec,
                           size_t max_value, struct sluice_batch *b,
                           struct sluice_error *err)
{
  enum sluice_op op = json_is_true(json_object_get(rec, "IsDeleted"))
                          ? SLUICE_OP_DELETE
                          : SLUICE_OP_UPSERT;
  const char *why = NULL;
  size_t row, i;
  int rc;

  if (!json_is_object(rec))
    return sluice_error_set(err, SLUICE_EPROTO, 0,
                            "a query record is not an object");
  if ((rc = sluice_batch_add_row(b, op, &row)) < 0)
    return sluice_error_set(err, rc, 0, "out of memory");
  for (i = 0; i < n; i++) {
    json_t *v = json_object_get(rec, f[i].name);
    if (v == NULL || json_is_null(v))
      continue; /* rows start all null */
    if (max_value > 0 && json_is_string(v) &&
        json_string_length(v) > max_value) {
      const char *id = json_string_value(json_object_get(rec, "Id"));
      sluice_batch_drop_last_row(b);
      return sluice_error_set(err, SLUICE_EDATA, 0,
                              "record %s: field %s (%s): a value of %zu bytes, "
                              "over max_value_bytes (%zu)",
                              id ? id : "(no Id)", f[i].name, f[i].sf_type,
                              json_string_length(v), max_value);
    }
    rc = set_value(b, row, i, &f[i], v, err, &why);
    if (rc < 0) {
      char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
      const char *id = json_string_value(json_object_get(rec, "Id"));
      sluice_batch_drop_last_row(b);
      sluice_error_set(err, rc == SLUICE_ENOMEM ? rc : SLUICE_EDATA, 0,
                       "record %s: field %s (%s): %.80s %s",
                       id ? id : "(no Id)", f[i].name, f[i].sf_type,
                       text ? text : "?", why ? why : "cannot be stored");
      free(text);
      return err->code;
    }
  }
  return 0;
}
