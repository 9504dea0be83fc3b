/* tests/unit/test_batch.c - schemas, batches, arenas and references. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/batch.h"

static struct sluice_schema *two_fields(void)
{
  struct sluice_schema *s = sluice_schema_new(2);
  assert_non_null(s);
  assert_int_equal(sluice_schema_set(s, 0, "Id", SLUICE_TYPE_STRING), 0);
  assert_int_equal(sluice_schema_set(s, 1, "Amount", SLUICE_TYPE_INT64), 0);
  return s;
}

static void schema_fields_and_find(void **state)
{
  struct sluice_schema *s = two_fields();
  (void)state;
  assert_int_equal(sluice_schema_nfields(s), 2);
  assert_string_equal(sluice_schema_field(s, 1)->name, "Amount");
  assert_int_equal(sluice_schema_find(s, "Amount"), 1);
  assert_int_equal(sluice_schema_find(s, "amount"), -1);
  assert_null(sluice_schema_field(s, 2));
  assert_int_equal(sluice_schema_set(s, 2, "x", SLUICE_TYPE_STRING),
                   SLUICE_EINVAL);
  assert_int_equal(sluice_schema_set(s, 0, "x", SLUICE_TYPE_NULL),
                   SLUICE_EINVAL);
  assert_int_equal(sluice_schema_set_decimal(s, 1, 18, 2), 0);
  assert_int_equal(sluice_schema_field(s, 1)->type, SLUICE_TYPE_DECIMAL);
  assert_int_equal(sluice_schema_field(s, 1)->scale, 2);
  assert_int_equal(sluice_schema_set_decimal(s, 1, 4, 5), SLUICE_EINVAL);
  sluice_schema_unref(s);
}

static void rows_values_and_ops(void **state)
{
  struct sluice_schema *s = two_fields();
  struct sluice_batch *b = sluice_batch_new(s, 0, 0);
  size_t row;
  (void)state;
  sluice_schema_unref(s); /* the batch holds its own reference */
  for (int i = 0; i < 1000; i++) {
    char id[16];
    snprintf(id, sizeof id, "id-%d", i);
    assert_int_equal(sluice_batch_add_row(
                         b, i % 3 ? SLUICE_OP_UPSERT : SLUICE_OP_DELETE, &row),
                     0);
    assert_int_equal(row, (size_t)i);
    assert_int_equal(sluice_batch_set_string(b, row, 0, id, strlen(id)), 0);
    if (i % 5)
      assert_int_equal(sluice_batch_set_int64(b, row, 1, i * 10), 0);
  }
  assert_int_equal(sluice_batch_nrows(b), 1000);
  /* Values stay valid while the arena grows: pointers never move. */
  for (int i = 0; i < 1000; i++) {
    const struct sluice_value *v = sluice_batch_value(b, (size_t)i, 0);
    char id[16];
    snprintf(id, sizeof id, "id-%d", i);
    assert_int_equal(v->type, SLUICE_TYPE_STRING);
    assert_int_equal(v->len, strlen(id));
    assert_memory_equal(v->u.str, id, v->len);
    v = sluice_batch_value(b, (size_t)i, 1);
    if (i % 5) {
      assert_int_equal(v->type, SLUICE_TYPE_INT64);
      assert_int_equal(v->u.i, i * 10);
    } else {
      assert_int_equal(v->type, SLUICE_TYPE_NULL);
    }
    assert_int_equal(sluice_batch_op(b, (size_t)i),
                     i % 3 ? SLUICE_OP_UPSERT : SLUICE_OP_DELETE);
  }
  assert_null(sluice_batch_value(b, 1000, 0));
  assert_int_equal(sluice_batch_set_int64(b, 1000, 1, 1), SLUICE_EINVAL);
  assert_int_equal(sluice_batch_set_int64(b, 0, 2, 1), SLUICE_EINVAL);
  sluice_batch_drop_last_row(b);
  assert_int_equal(sluice_batch_nrows(b), 999);
  sluice_batch_unref(b);
}

static void full_by_rows_and_by_bytes(void **state)
{
  struct sluice_schema *s = two_fields();
  struct sluice_batch *by_rows = sluice_batch_new(s, 3, 0);
  struct sluice_batch *by_bytes = sluice_batch_new(s, 0, 200 * 1024);
  char big[100 * 1024];
  size_t row;
  (void)state;
  memset(big, 'x', sizeof big);
  for (int i = 0; i < 3; i++) {
    assert_false(sluice_batch_full(by_rows));
    sluice_batch_add_row(by_rows, SLUICE_OP_UPSERT, &row);
  }
  assert_true(sluice_batch_full(by_rows));
  sluice_batch_add_row(by_bytes, SLUICE_OP_UPSERT, &row);
  sluice_batch_set_string(by_bytes, row, 0, big, sizeof big);
  assert_false(sluice_batch_full(by_bytes));
  sluice_batch_add_row(by_bytes, SLUICE_OP_UPSERT, &row);
  sluice_batch_set_string(by_bytes, row, 0, big, sizeof big);
  assert_true(sluice_batch_full(by_bytes));
  assert_true(sluice_batch_bytes(by_bytes) >= 2 * sizeof big);
  assert_memory_equal(sluice_batch_value(by_bytes, 0, 0)->u.str, big,
                      sizeof big);
  sluice_batch_unref(by_rows);
  sluice_batch_unref(by_bytes);
  sluice_schema_unref(s);
}

static void checkpoint_copy_and_refs(void **state)
{
  struct sluice_schema *s = two_fields();
  struct sluice_batch *b = sluice_batch_new(s, 0, 0);
  char cp[] = "{\"offset\":12}";
  struct sluice_value v = {.type = SLUICE_TYPE_STRING, .len = 3};
  size_t row;
  (void)state;
  assert_null(sluice_batch_checkpoint(b));
  sluice_batch_set_checkpoint(b, cp);
  cp[2] = 'X'; /* copied, not borrowed */
  assert_string_equal(sluice_batch_checkpoint(b), "{\"offset\":12}");
  sluice_batch_set_first_record(b, 42);
  assert_int_equal(sluice_batch_first_record(b), 42);
  sluice_batch_add_row(b, SLUICE_OP_UPSERT, &row);
  v.u.str = "abc";
  assert_int_equal(sluice_batch_set_value(b, row, 0, &v), 0);
  assert_ptr_not_equal(sluice_batch_value(b, row, 0)->u.str, v.u.str);
  assert_ptr_equal(sluice_batch_ref(b), b);
  sluice_batch_unref(b);
  assert_int_equal(sluice_batch_nrows(b), 1); /* still alive */
  sluice_batch_unref(b);
  assert_string_equal(sluice_type_name(SLUICE_TYPE_TIMESTAMP), "timestamp");
  assert_null(sluice_type_name((enum sluice_type)99));
  sluice_schema_unref(s);
}

/* The queue keeps order across growth and wrap-around, and owns its
 * references. */
static void queue_is_fifo(void **state)
{
  struct sluice_schema *sc = sluice_schema_new(1);
  struct sluice_batch_queue q = {0};
  struct sluice_batch *b[20], *got;
  (void)state;

  sluice_schema_set(sc, 0, "x", SLUICE_TYPE_INT64);
  for (int i = 0; i < 20; i++) {
    b[i] = sluice_batch_new(sc, 0, 0);
    sluice_batch_set_first_record(b[i], (uint64_t)i);
  }
  for (int i = 0; i < 6; i++)
    assert_int_equal(sluice_batch_queue_push(&q, b[i]), 0);
  for (int i = 0; i < 4; i++) { /* head moves: the next growth wraps */
    got = sluice_batch_queue_pop(&q);
    assert_ptr_equal(got, b[i]);
    sluice_batch_unref(got);
  }
  for (int i = 6; i < 20; i++)
    assert_int_equal(sluice_batch_queue_push(&q, b[i]), 0);
  assert_int_equal(q.len, 16);
  for (int i = 4; i < 10; i++) {
    got = sluice_batch_queue_pop(&q);
    assert_int_equal(sluice_batch_first_record(got), i);
    sluice_batch_unref(got);
  }
  sluice_batch_queue_clear(&q); /* the other 10 references */
  assert_int_equal(q.len, 0);
  assert_null(sluice_batch_queue_pop(&q));
  sluice_schema_unref(sc);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(queue_is_fifo),
      cmocka_unit_test(schema_fields_and_find),
      cmocka_unit_test(rows_values_and_ops),
      cmocka_unit_test(full_by_rows_and_by_bytes),
      cmocka_unit_test(checkpoint_copy_and_refs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
