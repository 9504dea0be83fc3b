/* tests/unit/test_mapping.c - rename, cast, drop and constant columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mapping.h"
#include "sluice/convert.h"

static struct sluice_batch *source_batch(void)
{
  struct sluice_schema *s = sluice_schema_new(4);
  struct sluice_batch *b;
  size_t row;

  sluice_schema_set(s, 0, "Id", SLUICE_TYPE_STRING);
  sluice_schema_set(s, 1, "Revenue", SLUICE_TYPE_STRING);
  sluice_schema_set(s, 2, "Created", SLUICE_TYPE_TIMESTAMP);
  sluice_schema_set(s, 3, "Junk", SLUICE_TYPE_STRING);
  b = sluice_batch_new(s, 0, 0);
  sluice_schema_unref(s);
  sluice_batch_add_row(b, SLUICE_OP_UPSERT, &row);
  sluice_batch_set_string(b, row, 0, "001", 3);
  sluice_batch_set_string(b, row, 1, "1250.5", 6);
  sluice_batch_set_timestamp(b, row, 2, 1700000000LL * 1000000);
  sluice_batch_set_string(b, row, 3, "x", 1);
  sluice_batch_add_row(b, SLUICE_OP_DELETE, &row);
  sluice_batch_set_string(b, row, 0, "002", 3);
  sluice_batch_set_first_record(b, 10);
  sluice_batch_set_checkpoint(b, "cp-1");
  return b;
}

static void renames_casts_drops_and_adds(void **state)
{
  struct sluice_batch *in = source_batch(), *out;
  struct sluice_error err = {0};
  struct mapping *m;
  json_t *spec = json_loads(
      "{\"Id\":\"ACCOUNT_ID\",\"Revenue\":{\"to\":\"REV\",\"type\":"
      "\"number(18,2)\"},\"Created\":{\"type\":\"date\"},\"Junk\":null,"
      "\"SRC\":{\"value\":\"sf\"},\"N\":{\"value\":7}}",
      0, NULL);
  (void)state;
  assert_int_equal(
      mapping_compile(spec, "mapping", sluice_batch_schema(in), &m, &err), 0);
  struct sluice_schema *os = mapping_output_schema(m);
  assert_int_equal(sluice_schema_nfields(os), 5);
  assert_string_equal(sluice_schema_field(os, 0)->name, "ACCOUNT_ID");
  assert_string_equal(sluice_schema_field(os, 1)->name, "REV");
  assert_int_equal(sluice_schema_field(os, 1)->type, SLUICE_TYPE_DECIMAL);
  assert_int_equal(sluice_schema_field(os, 1)->scale, 2);
  assert_string_equal(sluice_schema_field(os, 2)->name, "Created");
  assert_int_equal(sluice_schema_field(os, 2)->type, SLUICE_TYPE_DATE);
  assert_string_equal(sluice_schema_field(os, 3)->name, "SRC");
  assert_int_equal(sluice_schema_field(os, 4)->type, SLUICE_TYPE_INT64);
  assert_int_equal(mapping_apply(m, in, &out, &err), 0);
  assert_int_equal(sluice_batch_nrows(out), 2);
  const struct sluice_value *v = sluice_batch_value(out, 0, 1);
  assert_int_equal(v->type, SLUICE_TYPE_DECIMAL);
  assert_int_equal(v->len, 7);
  assert_memory_equal(v->u.str, "1250.50", 7);
  v = sluice_batch_value(out, 0, 2);
  assert_int_equal(v->type, SLUICE_TYPE_DATE);
  assert_int_equal(v->u.date, 19675); /* 2023-11-14 */
  v = sluice_batch_value(out, 1, 3);
  assert_memory_equal(v->u.str, "sf", 2);
  assert_int_equal(sluice_batch_value(out, 1, 4)->u.i, 7);
  assert_int_equal(sluice_batch_value(out, 1, 1)->type, SLUICE_TYPE_NULL);
  assert_int_equal(sluice_batch_op(out, 1), SLUICE_OP_DELETE);
  assert_string_equal(sluice_batch_checkpoint(out), "cp-1");
  /* The input may go: the output keeps the arena it points into. */
  sluice_batch_unref(in);
  assert_memory_equal(sluice_batch_value(out, 1, 0)->u.str, "002", 3);
  sluice_batch_unref(out);
  mapping_free(m);
  json_decref(spec);
}

static void drop_rest_and_identity(void **state)
{
  struct sluice_batch *in = source_batch(), *out;
  struct sluice_error err = {0};
  struct mapping *m;
  json_t *spec = json_loads("{\"Id\":\"ID\",\"*\":null}", 0, NULL);
  (void)state;
  assert_int_equal(
      mapping_compile(spec, "m", sluice_batch_schema(in), &m, &err), 0);
  assert_int_equal(sluice_schema_nfields(mapping_output_schema(m)), 1);
  mapping_free(m);
  assert_int_equal(
      mapping_compile(NULL, "m", sluice_batch_schema(in), &m, &err), 0);
  assert_int_equal(mapping_apply(m, in, &out, &err), 0);
  assert_ptr_equal(out, in); /* nothing to do: no copy */
  sluice_batch_unref(out);
  mapping_free(m);
  sluice_batch_unref(in);
  json_decref(spec);
}

static void errors_name_the_field_and_record(void **state)
{
  struct sluice_batch *in = source_batch(), *out = NULL;
  struct sluice_error err = {0};
  struct mapping *m;
  json_t *bad_field = json_loads("{\"Revnue\":\"R\"}", 0, NULL);
  json_t *bad_cast = json_loads("{\"Junk\":{\"type\":\"int64\"}}", 0, NULL);
  json_t *dup = json_loads("{\"Id\":\"X\",\"Junk\":\"X\"}", 0, NULL);
  json_t *shadow = json_loads("{\"Id\":{\"value\":\"x\"}}", 0, NULL);
  (void)state;
  assert_int_equal(mapping_compile(bad_field, "pipelines[0].mapping",
                                   sluice_batch_schema(in), &m, &err),
                   SLUICE_EINVAL);
  assert_string_equal(err.message, "pipelines[0].mapping.Revnue: the source "
                                   "has no field 'Revnue'; did you mean "
                                   "'Revenue'?");
  assert_int_equal(mapping_compile(dup, "m", sluice_batch_schema(in), &m, &err),
                   SLUICE_EINVAL);
  assert_string_equal(err.message, "m: two columns would be named 'X'");
  assert_int_equal(
      mapping_compile(shadow, "m", sluice_batch_schema(in), &m, &err),
      SLUICE_EINVAL);
  assert_string_equal(err.message, "m.Id: the source has a field 'Id'; a "
                                   "constant column needs a name of its own");
  json_decref(shadow);
  assert_int_equal(
      mapping_compile(bad_cast, "m", sluice_batch_schema(in), &m, &err), 0);
  assert_true(mapping_apply(m, in, &out, &err) < 0);
  assert_null(out);
  assert_non_null(strstr(err.message, "record 10, column Junk: "));
  assert_non_null(strstr(err.message, "'x'"));
  mapping_free(m);
  sluice_batch_unref(in);
  json_decref(bad_field);
  json_decref(bad_cast);
  json_decref(dup);
}

/* The source fields a key sweep asks for, and the mapping for them. */
static void key_fields_through_the_mapping(void **state)
{
  const char *k1[] = {"ACCOUNT_ID", "Region"};
  struct sluice_strlist keys = {2, k1};
  struct sluice_error err = {0};
  char **fields;
  json_t *sub;
  json_t *spec =
      json_loads("{\"Id\": {\"to\": \"account_id\", \"type\": \"string\"},"
                 " \"Name\": \"ACCOUNT_NAME\", \"Junk\": null}",
                 0, NULL);

  (void)state;
  /* A renamed (and cast) field by its new name, without case; an unnamed
   * one by its own; only the key's entries kept. */
  assert_int_equal(mapping_key_fields(spec, &keys, &fields, &sub, &err), 0);
  assert_string_equal(fields[0], "Id");
  assert_string_equal(fields[1], "Region");
  assert_null(fields[2]);
  assert_int_equal(json_object_size(sub), 1);
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(sub, "Id"), "to")),
      "account_id");
  mapping_key_fields_free(fields);
  json_decref(sub);

  /* No mapping: the key names themselves, no spec. */
  assert_int_equal(mapping_key_fields(NULL, &keys, &fields, &sub, &err), 0);
  assert_string_equal(fields[0], "ACCOUNT_ID");
  assert_null(sub);
  mapping_key_fields_free(fields);

  /* A key no source field becomes. */
  const char *k2[] = {"Name"};
  struct sluice_strlist renamed = {1, k2};
  assert_int_equal(mapping_key_fields(spec, &renamed, &fields, &sub, &err),
                   SLUICE_EINVAL);
  assert_string_equal(err.message, "key column Name: no source field becomes "
                                   "it (the mapping renames or drops the "
                                   "field)");
  const char *k3[] = {"Junk"};
  struct sluice_strlist dropped = {1, k3};
  assert_int_equal(mapping_key_fields(spec, &dropped, &fields, &sub, &err),
                   SLUICE_EINVAL);
  json_t *rest =
      json_loads("{\"*\": null, \"SRC\": {\"value\": \"crm\"}}", 0, NULL);
  assert_int_equal(mapping_key_fields(rest, &dropped, &fields, &sub, &err),
                   SLUICE_EINVAL);
  assert_non_null(strstr(err.message, "drops unnamed fields"));
  const char *k4[] = {"src"};
  struct sluice_strlist constant = {1, k4};
  assert_int_equal(mapping_key_fields(rest, &constant, &fields, &sub, &err),
                   SLUICE_EINVAL);
  assert_non_null(strstr(err.message, "is a constant of the mapping"));
  json_decref(rest);
  json_decref(spec);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(renames_casts_drops_and_adds),
      cmocka_unit_test(drop_rest_and_identity),
      cmocka_unit_test(errors_name_the_field_and_record),
      cmocka_unit_test(key_fields_through_the_mapping),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
