/* tests/unit/test_sfs_csvgz.c - snowflake-stage's gzip CSV writer, compiled
 * from the plugin's own sfs_csvgz.c: every type as the COPY's FILE_FORMAT
 * reads it (non-null values enclosed, NULL as the bare \N, quotes doubled,
 * dates and timestamps before 1970, offsets kept only for zoned columns),
 * the sequence and operation columns, a gzip stream zlib reads back, and a
 * file created 0600 that must not exist yet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "sfs.h"

static char *const colnames[] = {"ID", "S",  "I",  "D",  "B", "DT",
                                 "TM", "TS", "TN", "BI", "F"};
static const char *const coltypes[] = {
    "VARCHAR",       "VARCHAR", "NUMBER(38,0)", "NUMBER(12,4)",
    "BOOLEAN",       "DATE",    "TIME",         "TIMESTAMP_TZ",
    "TIMESTAMP_NTZ", "BINARY",  "FLOAT"};
#define NF (sizeof colnames / sizeof *colnames)

static struct sluice_batch *make_batch(void)
{
  static const enum sluice_type t[NF] = {
      SLUICE_TYPE_STRING,  SLUICE_TYPE_STRING,    SLUICE_TYPE_INT64,
      SLUICE_TYPE_DECIMAL, SLUICE_TYPE_BOOL,      SLUICE_TYPE_DATE,
      SLUICE_TYPE_TIME,    SLUICE_TYPE_TIMESTAMP, SLUICE_TYPE_TIMESTAMP,
      SLUICE_TYPE_BINARY,  SLUICE_TYPE_DOUBLE};
  struct sluice_schema *s = sluice_schema_new(NF);
  struct sluice_batch *b;
  size_t i, r;
  const char *str = "say \"hi\", x\\N\n";

  for (i = 0; i < NF; i++)
    assert_int_equal(sluice_schema_set(s, i, colnames[i], t[i]), 0);
  b = sluice_batch_new(s, 0, 0);
  sluice_schema_unref(s);
  assert_int_equal(sluice_batch_add_row(b, SLUICE_OP_UPSERT, &r), 0);
  sluice_batch_set_string(b, r, 0, "A1", 2);
  sluice_batch_set_string(b, r, 1, str, strlen(str));
  sluice_batch_set_int64(b, r, 2, -42);
  sluice_batch_set_decimal(b, r, 3, "-123.4500", 9);
  sluice_batch_set_bool(b, r, 4, 1);
  sluice_batch_set_date(b, r, 5, -1);
  sluice_batch_set_time(b, r, 6, 45296123456LL);
  /* 2024-04-15T15:05:12Z, written from a +02:00 wall clock */
  sluice_batch_set_timestamp_tz(b, r, 7, 1713193512000000LL, 120);
  sluice_batch_set_timestamp_tz(b, r, 8, 1713193512000000LL, 120);
  sluice_batch_set_binary(b, r, 9, "\xde\xad", 2);
  sluice_batch_set_double(b, r, 10, 1.5);
  assert_int_equal(sluice_batch_add_row(b, SLUICE_OP_DELETE, &r), 0);
  sluice_batch_set_string(b, r, 0, "A2", 2);
  sluice_batch_set_string(b, r, 1, "", 0); /* empty, not NULL */
  sluice_batch_set_timestamp(b, r, 7, -1); /* a microsecond before 1970 */
  assert_int_equal(sluice_batch_add_row(b, SLUICE_OP_UPSERT, &r), 0);
  sluice_batch_set_string(b, r, 0, "A3", 2);
  sluice_batch_set_string(b, r, 1, "\\N", 2); /* the text, not NULL */
  return b;
}

static const char expected[] =
    "\"ID\",\"S\",\"I\",\"D\",\"B\",\"DT\",\"TM\",\"TS\",\"TN\",\"BI\",\"F\","
    "\"__SLUICE_SEQ\",\"__SLUICE_OP\"\n"
    "\"A1\",\"say \"\"hi\"\", x\\N\n\",\"-42\",\"-123.4500\",\"true\","
    "\"1969-12-31\",\"12:34:56.123456\","
    "\"2024-04-15 17:05:12.000000 +02:00\",\"2024-04-15 15:05:12.000000\","
    "\"DEAD\",\"1.5\",\"7\",\"U\"\n"
    "\"A2\",\"\",\\N,\\N,\\N,\\N,\\N,\"1969-12-31 23:59:59.999999 +00:00\","
    "\\N,\\N,\\N,\"8\",\"D\"\n"
    "\"A3\",\\\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\"9\",\"U\"\n";

static void test_rows(void **state)
{
  struct sfk_staging st = {"\"T\"", NULL, NF, colnames, coltypes};
  char path[] = "/tmp/test_sfs_csvgz.XXXXXX", err[256], text[4096];
  struct sluice_batch *b = make_batch();
  struct sfs_csvgz *f;
  struct stat sb;
  uint64_t gz = 0;
  gzFile in;
  int fd, n;

  (void)state;
  fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  /* An existing file is never overwritten. */
  assert_null(sfs_csvgz_open(path, 1, &st, err, sizeof err));
  assert_non_null(strstr(err, "create"));
  unlink(path);
  f = sfs_csvgz_open(path, 1, &st, err, sizeof err);
  assert_non_null(f);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  assert_int_equal(sfs_csvgz_row(f, &st, b, 0, 7, err, sizeof err), 0);
  assert_int_equal(sfs_csvgz_row(f, &st, b, 1, 8, err, sizeof err), 0);
  assert_int_equal(sfs_csvgz_row(f, &st, b, 2, 9, err, sizeof err), 0);
  uint64_t raw = sfs_csvgz_raw_bytes(f);
  assert_int_equal(sfs_csvgz_close(f, &gz, err, sizeof err), 0);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal((uint64_t)sb.st_size, gz);
  in = gzopen(path, "rb");
  assert_non_null(in);
  n = gzread(in, text, sizeof text - 1);
  gzclose(in);
  assert_true(n > 0);
  text[n] = '\0';
  assert_string_equal(text, expected);
  assert_int_equal(raw, strlen(expected));
  unlink(path);
  sluice_batch_unref(b);
}

/* A file given up (a failed run) is removed. */
static void test_abandon(void **state)
{
  struct sfk_staging st = {"\"T\"", NULL, NF, colnames, coltypes};
  char path[] = "/tmp/test_sfs_csvgz_ab.XXXXXX", err[256];
  struct sfs_csvgz *f;
  int fd;

  (void)state;
  fd = mkstemp(path);
  close(fd);
  unlink(path);
  f = sfs_csvgz_open(path, 1, &st, err, sizeof err);
  assert_non_null(f);
  sfs_csvgz_abandon(f);
  assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_rows),
                                     cmocka_unit_test(test_abandon)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
