/* tests/unit/test_sfk_value.c - the Snowflake value codec (snowflake-common) against the
 * cells the real service sends (contract 2.5, the all-types recording) and
 * the binding texts it takes (2.6), compiled from the plugin's own
 * sfk_value.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sfk.h"

/* The rowType of CREATE TABLE t (i NUMBER(38,0), n NUMBER(10,2), f FLOAT,
 * s VARCHAR, b BINARY, bo BOOLEAN, d DATE, tm TIME(9), tn TIMESTAMP_NTZ(9),
 * tl TIMESTAMP_LTZ(9), tz TIMESTAMP_TZ(9), v VARIANT, small NUMBER(9,0)),
 * as the service describes it, and one row of it. */
static const char rowtype[] =
    "[{\"name\":\"I\",\"type\":\"fixed\",\"precision\":38,\"scale\":0},"
    "{\"name\":\"N\",\"type\":\"fixed\",\"precision\":10,\"scale\":2},"
    "{\"name\":\"F\",\"type\":\"real\",\"precision\":null,\"scale\":null},"
    "{\"name\":\"S\",\"type\":\"text\",\"length\":16777216},"
    "{\"name\":\"B\",\"type\":\"binary\"},"
    "{\"name\":\"BO\",\"type\":\"boolean\"},"
    "{\"name\":\"D\",\"type\":\"date\"},"
    "{\"name\":\"TM\",\"type\":\"time\",\"precision\":0,\"scale\":9},"
    "{\"name\":\"TN\",\"type\":\"timestamp_ntz\",\"scale\":9},"
    "{\"name\":\"TL\",\"type\":\"timestamp_ltz\",\"scale\":9},"
    "{\"name\":\"TZ\",\"type\":\"timestamp_tz\",\"scale\":9},"
    "{\"name\":\"V\",\"type\":\"variant\"},"
    "{\"name\":\"SMALL\",\"type\":\"fixed\",\"precision\":9,\"scale\":0}]";

static const char row[] =
    "[\"12345678901234567890123456789012345678\",\"12345678.91\",\"1.5\","
    "\"h\\u00e9llo\",\"DEADBEEF\",\"true\",\"20735\",\"45296.123456789\","
    "\"1791549296.123456789\",\"1791524096.123456789\","
    "\"1791524096.123456789 1860\",\"{\\n  \\\"a\\\": 1\\n}\",\"-42\"]";

static struct sluice_batch *decode(struct sfk_column **cols, size_t *n)
{
  struct sluice_error err = {0};
  json_t *rt = json_loads(rowtype, 0, NULL), *r = json_loads(row, 0, NULL);
  struct sluice_schema *s;
  struct sluice_batch *b;

  assert_int_equal(sfk_columns_from_rowtype(rt, cols, n, &err), 0);
  s = sfk_columns_schema(*cols, *n);
  assert_non_null(s);
  b = sluice_batch_new(s, 0, 0);
  sluice_schema_unref(s);
  assert_int_equal(sfk_row_to_batch(*cols, *n, r, b, &err), 0);
  json_decref(rt);
  json_decref(r);
  return b;
}

static void cells_become_exact_values(void **state)
{
  struct sfk_column *cols;
  size_t n;
  struct sluice_batch *b = decode(&cols, &n);
  const struct sluice_value *v;
  (void)state;

  v = sluice_batch_value(b, 0, 0); /* 38 digits: exact, not a double */
  assert_int_equal(v->type, SLUICE_TYPE_DECIMAL);
  assert_int_equal(v->len, 38);
  assert_memory_equal(v->u.str, "12345678901234567890123456789012345678", 38);
  v = sluice_batch_value(b, 0, 1);
  assert_memory_equal(v->u.str, "12345678.91", 11);
  assert_true(sluice_batch_value(b, 0, 2)->u.d == 1.5);
  v = sluice_batch_value(b, 0, 3);
  assert_int_equal(v->len, 6);
  assert_memory_equal(v->u.str, "h\xc3\xa9llo", 6);
  v = sluice_batch_value(b, 0, 4);
  assert_int_equal(v->type, SLUICE_TYPE_BINARY);
  assert_memory_equal(v->u.str, "\xde\xad\xbe\xef", 4);
  assert_int_equal(sluice_batch_value(b, 0, 5)->u.b, 1);
  assert_int_equal(sluice_batch_value(b, 0, 6)->u.date, 20735); /* 2026-10-09 */
  assert_true(sluice_batch_value(b, 0, 7)->u.time_us == 45296123456LL);
  assert_true(sluice_batch_value(b, 0, 8)->u.ts_us == 1791549296123456LL);
  assert_true(sluice_batch_value(b, 0, 9)->u.ts_us == 1791524096123456LL);
  v = sluice_batch_value(b, 0, 10); /* 1860 - 1440: +07:00, kept */
  assert_true(v->u.ts_us == 1791524096123456LL);
  assert_int_equal(v->flags & SLUICE_VALUE_TZ, SLUICE_VALUE_TZ);
  assert_int_equal(v->tz_min, 420);
  v = sluice_batch_value(b, 0, 11);
  assert_int_equal(v->type, SLUICE_TYPE_STRING);
  assert_memory_equal(v->u.str, "{\n  \"a\": 1\n}", 12);
  v = sluice_batch_value(b, 0, 12); /* NUMBER(9,0): an integer */
  assert_int_equal(v->type, SLUICE_TYPE_INT64);
  assert_true(v->u.i == -42);
  sluice_batch_unref(b);
  sfk_columns_free(cols, n);
}

static void bad_cells_name_the_column(void **state)
{
  struct sluice_error err = {0};
  struct sfk_column *cols;
  size_t n;
  struct sluice_batch *b = decode(&cols, &n);
  json_t *r = json_loads(row, 0, NULL);
  (void)state;

  json_array_set_new(r, 5, json_string("1")); /* BOOLEAN is true/false */
  assert_int_equal(sfk_row_to_batch(cols, n, r, b, &err), SLUICE_EPROTO);
  assert_non_null(strstr(err.message, "column BO (boolean): '1'"));
  assert_int_equal(sluice_batch_nrows(b), 1); /* no half row */
  json_array_set_new(r, 5, json_string("true"));
  json_array_set_new(r, 10, json_string("1791524096.5"));
  assert_int_equal(sfk_row_to_batch(cols, n, r, b, &err), SLUICE_EPROTO);
  assert_non_null(strstr(err.message, "column TZ"));
  json_array_remove(r, 0);
  assert_int_equal(sfk_row_to_batch(cols, n, r, b, &err), SLUICE_EPROTO);
  assert_non_null(strstr(err.message, "12 values for 13 columns"));
  json_decref(r);
  sluice_batch_unref(b);
  sfk_columns_free(cols, n);
}

static void unknown_types_are_refused(void **state)
{
  struct sluice_error err = {0};
  struct sfk_column *cols = NULL;
  size_t n = 0;
  json_t *rt = json_loads("[{\"name\":\"X\",\"type\":\"quantum\"}]", 0, NULL);
  (void)state;
  assert_int_equal(sfk_columns_from_rowtype(rt, &cols, &n, &err),
                   SLUICE_ENOTSUP);
  assert_non_null(strstr(err.message, "column X: Snowflake type 'quantum'"));
  json_decref(rt);
}

static void expect_binding(const struct sluice_value *v, enum sluice_type t,
                           const char *coltype, const char *btype,
                           const char *text)
{
  struct sluice_buf out = SLUICE_BUF_INIT;
  const char *bt = sfk_binding_type(t, coltype);
  assert_string_equal(bt, btype);
  assert_int_equal(sfk_binding_text(v, bt, &out), 0);
  assert_string_equal(sluice_buf_cstr(&out), text);
  sluice_buf_free(&out);
}

static void values_become_binding_texts(void **state)
{
  struct sfk_column *cols;
  size_t n;
  struct sluice_batch *b = decode(&cols, &n);
  (void)state;

  /* DATE in epoch milliseconds (days would silently be day 0). */
  expect_binding(sluice_batch_value(b, 0, 6), SLUICE_TYPE_DATE, "DATE", "DATE",
                 "1791504000000");
  /* TIME and timestamps in nanoseconds; TIMESTAMP_TZ with its offset. */
  expect_binding(sluice_batch_value(b, 0, 7), SLUICE_TYPE_TIME, "TIME", "TIME",
                 "45296123456000");
  expect_binding(sluice_batch_value(b, 0, 8), SLUICE_TYPE_TIMESTAMP,
                 "TIMESTAMP_NTZ", "TIMESTAMP_NTZ", "1791549296123456000");
  expect_binding(sluice_batch_value(b, 0, 10), SLUICE_TYPE_TIMESTAMP,
                 "TIMESTAMP_TZ", "TIMESTAMP_TZ", "1791524096123456000 1860");
  expect_binding(sluice_batch_value(b, 0, 9), SLUICE_TYPE_TIMESTAMP,
                 "TIMESTAMP_TZ", "TIMESTAMP_TZ", "1791524096123456000 1440");
  expect_binding(sluice_batch_value(b, 0, 4), SLUICE_TYPE_BINARY, "BINARY",
                 "BINARY", "DEADBEEF");
  expect_binding(sluice_batch_value(b, 0, 5), SLUICE_TYPE_BOOL, "BOOLEAN",
                 "BOOLEAN", "true");
  /* Exact decimals as text: the column converts them. */
  expect_binding(sluice_batch_value(b, 0, 1), SLUICE_TYPE_DECIMAL,
                 "NUMBER(10,2)", "TEXT", "12345678.91");
  expect_binding(sluice_batch_value(b, 0, 12), SLUICE_TYPE_INT64,
                 "NUMBER(38,0)", "FIXED", "-42");
  sluice_batch_unref(b);
  sfk_columns_free(cols, n);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(cells_become_exact_values),
      cmocka_unit_test(bad_cells_name_the_column),
      cmocka_unit_test(unknown_types_are_refused),
      cmocka_unit_test(values_become_binding_texts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
