/* tests/unit/test_sf_query.c - salesforce-rest's SOQL text, query paths
 * and record decoding, compiled from the plugin's own sf_query.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sf.h"

/* sf_query.c names the REST base through sf_api.c; the same one line here
 * keeps the test from pulling in the HTTP and login code. */
int sf_api_base(struct sf_ctx *c, struct sluice_buf *out)
{
  return sluice_buf_printf(out, "/services/data/v%s", c->api_version);
}

static struct sf_field fields[] = {
    {"Id", "id", SLUICE_TYPE_STRING, 0, 0},
    {"Name", "string", SLUICE_TYPE_STRING, 0, 0},
    {"AnnualRevenue", "currency", SLUICE_TYPE_DECIMAL, 18, 2},
    {"Rate__c", "percent", SLUICE_TYPE_DECIMAL, 5, 2},
    {"NumberOfEmployees", "int", SLUICE_TYPE_INT64, 0, 0},
    {"IsActive__c", "boolean", SLUICE_TYPE_BOOL, 0, 0},
    {"CloseDate", "date", SLUICE_TYPE_DATE, 0, 0},
    {"SystemModstamp", "datetime", SLUICE_TYPE_TIMESTAMP, 0, 0},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static void soql_text(void **state)
{
  struct sf_ctx c;
  struct sluice_buf out = SLUICE_BUF_INIT;
  struct sluice_error err = {0};
  (void)state;
  memset(&c, 0, sizeof c);
  c.object = "Account";
  c.filter = "Industry != null";
  /* 2024-05-01T12:00:00.999999Z: the literal rounds down to the second. */
  assert_int_equal(
      sf_query_soql(&c, fields, 2, 1, 1714564800999999LL, &out, &err), 0);
  assert_string_equal(out.data, "SELECT Id,Name FROM Account WHERE (Industry "
                                "!= null) AND SystemModstamp >= "
                                "2024-05-01T12:00:00Z ORDER BY "
                                "SystemModstamp, Id");
  sluice_buf_reset(&out);
  c.filter = NULL;
  assert_int_equal(sf_query_soql(&c, fields, 1, 1, 0, &out, &err), 0);
  assert_string_equal(out.data, "SELECT Id FROM Account WHERE SystemModstamp "
                                ">= 1970-01-01T00:00:00Z ORDER BY "
                                "SystemModstamp, Id");
  sluice_buf_reset(&out);
  assert_int_equal(sf_query_soql(&c, fields, 1, 0, -1, &out, &err), 0);
  assert_string_equal(out.data, "SELECT Id FROM Account ORDER BY Id");
  sluice_buf_free(&out);
}

static void datetime_literal(void **state)
{
  char lit[40];
  (void)state;
  sf_query_datetime_literal(-1, lit, sizeof lit);
  assert_string_equal(lit, "1969-12-31T23:59:59Z");
  sf_query_datetime_literal(951782400LL * 1000000, lit, sizeof lit);
  assert_string_equal(lit, "2000-02-29T00:00:00Z");
}

static void first_path_encodes_the_query(void **state)
{
  struct sf_ctx c;
  struct sluice_buf out = SLUICE_BUF_INIT;
  (void)state;
  memset(&c, 0, sizeof c);
  c.api_version = "61.0";
  assert_int_equal(
      sf_query_first_path(&c, "SELECT Id FROM A WHERE X > 1+2", &out), 0);
  /* '+' must not reach the server as '+' (a space once decoded). */
  assert_string_equal(out.data, "/services/data/v61.0/query?q=SELECT%20Id%20"
                                "FROM%20A%20WHERE%20X%20%3E%201%2B2");
  sluice_buf_reset(&out);
  c.include_deleted = 1;
  assert_int_equal(sf_query_first_path(&c, "SELECT Id FROM A", &out), 0);
  assert_non_null(strstr(out.data, "/services/data/v61.0/queryAll?q="));
  sluice_buf_free(&out);
}

static struct sluice_batch *batch_for_fields(void)
{
  struct sluice_schema *s = sluice_schema_new(NFIELDS);
  struct sluice_batch *b;

  for (size_t i = 0; i < NFIELDS; i++) {
    sluice_schema_set(s, i, fields[i].name, fields[i].type);
    if (fields[i].type == SLUICE_TYPE_DECIMAL)
      sluice_schema_set_decimal(s, i, fields[i].precision, fields[i].scale);
  }
  b = sluice_batch_new(s, 0, 0);
  sluice_schema_unref(s);
  return b;
}

static void records_become_typed_rows(void **state)
{
  struct sluice_batch *b = batch_for_fields();
  struct sluice_error err = {0};
  const struct sluice_value *v;
  json_t *rec = json_loads(
      "{\"attributes\":{\"type\":\"Account\"},\"Id\":\"001000000000001AAA\","
      "\"Name\":\"Acme\",\"AnnualRevenue\":1250000.5,\"Rate__c\":3.14159,"
      "\"NumberOfEmployees\":12.0,\"IsActive__c\":true,"
      "\"CloseDate\":\"2024-05-01\","
      "\"SystemModstamp\":\"2024-05-01T12:00:00.000+0000\"}",
      0, NULL);
  (void)state;
  assert_int_equal(sf_query_record_to_row(fields, NFIELDS, rec, 0, b, &err), 0);
  assert_int_equal(sluice_batch_op(b, 0), SLUICE_OP_UPSERT);
  v = sluice_batch_value(b, 0, 2); /* exact, at the field's scale */
  assert_int_equal(v->type, SLUICE_TYPE_DECIMAL);
  assert_int_equal(v->len, 10);
  assert_memory_equal(v->u.str, "1250000.50", 10);
  v = sluice_batch_value(b, 0, 3); /* more digits than the scale: rounded */
  assert_memory_equal(v->u.str, "3.14", 4);
  assert_int_equal(sluice_batch_value(b, 0, 4)->u.i, 12);
  assert_int_equal(sluice_batch_value(b, 0, 5)->u.b, 1);
  assert_int_equal(sluice_batch_value(b, 0, 6)->u.date, 19844);
  assert_true(sluice_batch_value(b, 0, 7)->u.ts_us == 1714564800000000LL);
  json_decref(rec);

  /* IsDeleted rows (queryAll) are DELETE rows; absent fields stay null. */
  rec =
      json_loads("{\"Id\":\"001000000000002AAA\",\"IsDeleted\":true}", 0, NULL);
  assert_int_equal(sf_query_record_to_row(fields, NFIELDS, rec, 0, b, &err), 0);
  assert_int_equal(sluice_batch_op(b, 1), SLUICE_OP_DELETE);
  assert_int_equal(sluice_batch_value(b, 1, 2)->type, SLUICE_TYPE_NULL);
  json_decref(rec);

  /* A value of the wrong kind names the record and the field, and leaves
   * no half row behind. */
  rec = json_loads("{\"Id\":\"001000000000003AAA\",\"IsActive__c\":\"yes\"}", 0,
                   NULL);
  assert_int_equal(sf_query_record_to_row(fields, NFIELDS, rec, 0, b, &err),
                   SLUICE_EDATA);
  assert_non_null(strstr(err.message, "record 001000000000003AAA: field "
                                      "IsActive__c (boolean)"));
  assert_int_equal(sluice_batch_nrows(b), 2);
  json_decref(rec);

  /* A text value over max_value_bytes names the record and the field. */
  rec = json_loads(
      "{\"Id\":\"001000000000004AAA\",\"Name\":\"0123456789012345678\"}", 0,
      NULL);
  assert_int_equal(sf_query_record_to_row(fields, NFIELDS, rec, 18, b, &err),
                   SLUICE_EDATA);
  assert_non_null(strstr(err.message, "record 001000000000004AAA: field Name "
                                      "(string): a value of 19 bytes, over "
                                      "max_value_bytes (18)"));
  assert_int_equal(sluice_batch_nrows(b), 2);
  assert_int_equal(sf_query_record_to_row(fields, NFIELDS, rec, 19, b, &err),
                   0);
  json_decref(rec);
  sluice_batch_unref(b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(soql_text),
      cmocka_unit_test(datetime_literal),
      cmocka_unit_test(first_path_encodes_the_query),
      cmocka_unit_test(records_become_typed_rows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
