/* test_buf_error.c - the byte buffer and the error record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sluice/path.h>

#include "sluice/buf.h"
#include "sluice/error.h"

/* --- buf ------------------------------------------------------------------ */

static void test_buf_appends(void **state)
{
  struct sluice_buf b = SLUICE_BUF_INIT;

  (void)state;
  assert_int_equal(sluice_buf_append(&b, "ab", 2), 0);
  assert_int_equal(sluice_buf_append_str(&b, "cd"), 0);
  assert_int_equal(sluice_buf_append_char(&b, 'e'), 0);
  assert_int_equal(sluice_buf_append(&b, NULL, 0), 0);
  assert_int_equal(b.len, 5);
  assert_string_equal(b.data, "abcde"); /* always NUL-terminated */
  assert_true(b.cap > b.len);
  sluice_buf_free(&b);
  assert_null(b.data);
  assert_int_equal(b.len, 0);
  assert_int_equal(b.cap, 0);
  sluice_buf_free(&b); /* twice is harmless */
}

static void test_buf_grows(void **state)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  char expect[10000];

  (void)state;
  for (size_t i = 0; i < sizeof expect - 1; i++) {
    expect[i] = (char)('a' + i % 26);
    assert_int_equal(sluice_buf_append_char(&b, expect[i]), 0);
  }
  expect[sizeof expect - 1] = '\0';
  assert_string_equal(b.data, expect);
  assert_int_equal(b.len, sizeof expect - 1);
  sluice_buf_free(&b);
}

static void test_buf_printf(void **state)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  char big[5000];

  (void)state;
  assert_int_equal(sluice_buf_printf(&b, "%d-%s", 42, "x"), 0);
  assert_string_equal(b.data, "42-x");
  /* Larger than the room left: the second vsnprintf pass. */
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(sluice_buf_printf(&b, "[%s]", big), 0);
  assert_int_equal(b.len, 4 + 2 + sizeof big - 1);
  assert_int_equal(b.data[b.len], '\0');
  assert_int_equal(b.data[4], '[');
  assert_int_equal(b.data[b.len - 1], ']');
  /* An empty result leaves a terminated buffer. */
  sluice_buf_reset(&b);
  assert_int_equal(sluice_buf_printf(&b, "%s", ""), 0);
  assert_int_equal(b.len, 0);
  assert_string_equal(b.data, "");
  sluice_buf_free(&b);
}

static void test_buf_cstr_and_reset(void **state)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  size_t cap;

  (void)state;
  assert_string_equal(sluice_buf_cstr(&b), "");
  assert_non_null(b.data); /* the header's promise: data set after cstr */
  assert_int_equal(sluice_buf_append_str(&b, "hello"), 0);
  cap = b.cap;
  sluice_buf_reset(&b);
  assert_int_equal(b.len, 0);
  assert_int_equal(b.cap, cap); /* keeps its memory for reuse */
  assert_string_equal(sluice_buf_cstr(&b), "");
  sluice_buf_reset(&b);
  sluice_buf_free(&b);
  sluice_buf_reset(&b); /* on a freed buffer too */
}

static void test_buf_reserve_overflow(void **state)
{
  struct sluice_buf b = SLUICE_BUF_INIT;

  (void)state;
  assert_int_equal(sluice_buf_append_str(&b, "keep"), 0);
  assert_int_equal(sluice_buf_reserve(&b, SIZE_MAX), SLUICE_ENOMEM);
  assert_int_equal(sluice_buf_reserve(&b, SIZE_MAX - 2), SLUICE_ENOMEM);
  assert_int_equal(sluice_buf_append(&b, "x", SIZE_MAX - 1), SLUICE_ENOMEM);
  assert_string_equal(b.data, "keep"); /* unchanged */
  assert_int_equal(b.len, 4);
  assert_int_equal(sluice_buf_reserve(&b, 1000), 0);
  assert_true(b.cap >= 1005);
  sluice_buf_free(&b);
}

/* --- error -----------------------------------------------------------------
 */

static int fail_with(struct sluice_error *err, const char *path)
{
  return sluice_error_set(err, SLUICE_EIO, 1, "%s: %s", path, "gone");
}

static void test_error_set(void **state)
{
  struct sluice_error err = {0};

  (void)state;
  assert_int_equal(fail_with(&err, "/tmp/x"), SLUICE_EIO);
  assert_int_equal(err.code, SLUICE_EIO);
  assert_int_equal(err.retryable, 1);
  assert_string_equal(err.message, "/tmp/x: gone");
  /* NULL err: still the code, nothing written. */
  assert_int_equal(fail_with(NULL, "/tmp/x"), SLUICE_EIO);
}

static void test_error_truncates(void **state)
{
  struct sluice_error err = {0};
  char big[2000];

  (void)state;
  memset(big, 'q', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(sluice_error_set(&err, SLUICE_EINVAL, 0, "%s", big),
                   SLUICE_EINVAL);
  assert_int_equal(strlen(err.message), SLUICE_ERROR_MSG_MAX - 1);
}

static void test_error_prefix(void **state)
{
  struct sluice_error err = {0};
  char big[2000];

  (void)state;
  sluice_error_set(&err, SLUICE_EDATA, 0, "cannot read 'x' as int64");
  sluice_error_prefix(&err, "record %d, column %s", 7, "qty");
  assert_string_equal(err.message,
                      "record 7, column qty: cannot read 'x' as int64");
  sluice_error_prefix(&err, "orders.csv");
  assert_string_equal(err.message, "orders.csv: record 7, column qty: "
                                   "cannot read 'x' as int64");
  assert_int_equal(err.code, SLUICE_EDATA); /* code untouched */

  /* An empty message gets the context alone. */
  memset(&err, 0, sizeof err);
  sluice_error_prefix(&err, "where");
  assert_string_equal(err.message, "where");

  /* When the whole does not fit, the old message's tail is cut. */
  memset(big, 'm', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  sluice_error_set(&err, SLUICE_EIO, 0, "%s", big);
  sluice_error_prefix(&err, "ctx");
  assert_int_equal(strlen(err.message), SLUICE_ERROR_MSG_MAX - 1);
  assert_memory_equal(err.message, "ctx: mmm", 8);

  /* A context that alone fills the message replaces it. */
  sluice_error_set(&err, SLUICE_EIO, 0, "old");
  sluice_error_prefix(&err, "%s", big);
  assert_int_equal(strlen(err.message), SLUICE_ERROR_MSG_MAX - 1);
  assert_null(strstr(err.message, "old"));

  sluice_error_prefix(NULL, "ignored");
}

static void test_strerror(void **state)
{
  (void)state;
  for (int code = 0; code >= SLUICE_EABI; code--) {
    const char *s = sluice_strerror(code);

    assert_non_null(s);
    assert_string_not_equal(s, "unknown error");
  }
  assert_string_equal(sluice_strerror(SLUICE_EINVAL), "invalid argument");
  assert_string_equal(sluice_strerror(-999), "unknown error");
  assert_string_equal(sluice_strerror(5), "unknown error");
}

static void path_resolve(void **state)
{
  char *p;
  (void)state;
  p = sluice_path_resolve("/etc/sluice", "keys/sf.key");
  assert_string_equal(p, "/etc/sluice/keys/sf.key");
  free(p);
  p = sluice_path_resolve("/etc/sluice", "/abs/k.pem");
  assert_string_equal(p, "/abs/k.pem");
  free(p);
  p = sluice_path_resolve(NULL, "rel");
  assert_string_equal(p, "rel");
  free(p);
  assert_null(sluice_path_resolve("/x", NULL));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(path_resolve),
      cmocka_unit_test(test_buf_appends),
      cmocka_unit_test(test_buf_grows),
      cmocka_unit_test(test_buf_printf),
      cmocka_unit_test(test_buf_cstr_and_reset),
      cmocka_unit_test(test_buf_reserve_overflow),
      cmocka_unit_test(test_error_set),
      cmocka_unit_test(test_error_truncates),
      cmocka_unit_test(test_error_prefix),
      cmocka_unit_test(test_strerror),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
