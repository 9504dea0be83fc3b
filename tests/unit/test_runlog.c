/* tests/unit/test_runlog.c - runs.jsonl: append, load, print. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "runlog.h"
#include "sluice/error.h"

/* 2026-11-23T03:17:00.123456Z */
#define T0 INT64_C(1795403820123456)
#define SEC INT64_C(1000000)

struct fixture {
  char dir[64];
  char path[96]; /* dir/runs.jsonl */
};

static void remove_tree(const char *path)
{
  DIR *d = opendir(path);
  if (d != NULL) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      char child[4096];
      snprintf(child, sizeof child, "%s/%s", path, e->d_name);
      remove_tree(child);
    }
    closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

static int setup(void **state)
{
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/sluice-test-runlog-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/runs.jsonl", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fixture *f = *state;
  remove_tree(f->dir);
  free(f);
  return 0;
}

static char *dup_or_null(const char *s)
{
  if (s == NULL)
    return NULL;
  char *d = strdup(s);
  assert_non_null(d);
  return d;
}

/* A record owning its strings, as the engine would build one. */
static struct run_record make_record(const char *pipeline, const char *run_id,
                                     enum run_status status, int64_t start_us,
                                     int64_t duration_us, uint64_t base,
                                     const char *error)
{
  struct run_record r;
  memset(&r, 0, sizeof r);
  snprintf(r.pipeline, sizeof r.pipeline, "%s", pipeline);
  snprintf(r.run_id, sizeof r.run_id, "%s", run_id);
  r.status = status;
  r.start_us = start_us;
  r.end_us = start_us + duration_us;
  r.rows_read = base;
  r.rows_written = base + 1;
  r.rows_rejected = base + 2;
  r.rows_deleted = base + 3;
  r.bytes_in = base + 4;
  r.bytes_out = base + 5;
  r.api_calls = base + 6;
  r.error = dup_or_null(error);
  r.checkpoint = dup_or_null("{\"offset\":10}");
  r.source = dup_or_null("csv-file");
  r.destination = dup_or_null("postgres");
  return r;
}

static void append_ok(const struct fixture *f, struct run_record *r)
{
  struct sluice_error err = {0};
  if (runlog_append(f->dir, r, &err) != 0)
    fail_msg("runlog_append: %s", err.message);
  run_record_free(r);
}

static void append_raw(const struct fixture *f, const char *text)
{
  int fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
}

static char *slurp(const char *path)
{
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  buf[n] = '\0';
  fclose(fp);
  return buf;
}

static void load_ok(const struct fixture *f, struct run_record **recs,
                    size_t *n, struct runlog_skipped *skipped)
{
  struct sluice_error err = {0};
  if (runlog_load_last(f->dir, recs, n, skipped, &err) != 0)
    fail_msg("runlog_load_last: %s", err.message);
}

static void fill_three_runs(const struct fixture *f)
{
  struct run_record r =
      make_record("orders", "run-1", RUN_SUCCEEDED, T0, 4 * SEC, 10, NULL);
  append_ok(f, &r);
  r = make_record("invoices", "run-2", RUN_FAILED, T0 + 60 * SEC, 1200000, 20,
                  "HTTP 503 from api.example.com");
  append_ok(f, &r);
  r = make_record("orders", "run-3", RUN_REJECTED, T0 + 3600 * SEC, 184 * SEC,
                  30, "3 records rejected");
  append_ok(f, &r);
}

/* ---- append ------------------------------------------------------------ */

static void test_append_writes_one_exact_line(void **state)
{
  struct fixture *f = *state;
  mode_t old = umask(022);
  struct run_record r =
      make_record("orders", "run-1", RUN_SUCCEEDED, T0, 4333 * 1000, 10, NULL);
  append_ok(f, &r);
  umask(old);

  struct stat st;
  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  assert_string_equal(
      slurp(f->path),
      "{\"run_id\":\"run-1\",\"pipeline\":\"orders\",\"status\":\"succeeded\","
      "\"start\":\"2026-11-23T03:17:00.123Z\","
      "\"end\":\"2026-11-23T03:17:04.456Z\",\"duration_ms\":4333,"
      "\"rows_read\":10,\"rows_written\":11,\"rows_rejected\":12,"
      "\"rows_deleted\":13,\"bytes_in\":14,\"bytes_out\":15,\"api_calls\":16,"
      "\"http_retries\":0,"
      "\"source\":\"csv-file\",\"destination\":\"postgres\",\"error\":null,"
      "\"checkpoint\":\"{\\\"offset\\\":10}\"}\n");
}

static void test_append_keeps_awkward_strings_on_one_line(void **state)
{
  struct fixture *f = *state;
  struct run_record r = make_record("orders", "run-1", RUN_FAILED, T0, SEC, 0,
                                    "bad row:\n\"caf\xE9\"\t\xFF end");
  append_ok(f, &r);
  /* One line: the only newline is the one that ends it. */
  char *nl = strchr(slurp(f->path), '\n');
  assert_non_null(nl);
  assert_int_equal(nl[1], '\0');

  struct run_record *recs;
  size_t n;
  load_ok(f, &recs, &n, NULL);
  assert_int_equal(n, 1);
  /* Invalid UTF-8 bytes are replaced, the rest survives. */
  assert_string_equal(recs[0].error,
                      "bad row:\n\"caf\xEF\xBF\xBD\"\t\xEF\xBF\xBD end");
  runlog_free_records(recs, n);
}

static void test_append_into_missing_dir_fails(void **state)
{
  struct fixture *f = *state;
  char dir[128];
  snprintf(dir, sizeof dir, "%s/missing", f->dir);
  struct run_record r =
      make_record("orders", "run-1", RUN_SUCCEEDED, T0, SEC, 0, NULL);
  struct sluice_error err = {0};
  assert_int_equal(runlog_append(dir, &r, &err), SLUICE_EIO);
  run_record_free(&r);
  char want[256];
  snprintf(want, sizeof want, "%s/runs.jsonl: open: No such file or directory",
           dir);
  assert_string_equal(err.message, want);
}

/* ---- load -------------------------------------------------------------- */

static void test_load_keeps_last_per_pipeline(void **state)
{
  struct fixture *f = *state;
  fill_three_runs(f);

  struct run_record *recs;
  size_t n;
  struct runlog_skipped skipped = {99, 99};
  load_ok(f, &recs, &n, &skipped);
  assert_int_equal(skipped.count, 0);
  assert_int_equal(skipped.first_line, 0);
  assert_int_equal(n, 2);

  /* Order of first appearance; values of the last record. */
  const struct run_record *o = &recs[0], *inv = &recs[1];
  assert_string_equal(o->pipeline, "orders");
  assert_string_equal(o->run_id, "run-3");
  assert_int_equal(o->status, RUN_REJECTED);
  /* Milliseconds survive, microseconds do not. */
  assert_true(o->start_us == T0 + 3600 * SEC - 456);
  assert_true(o->end_us == T0 + 3784 * SEC - 456);
  assert_int_equal(o->rows_read, 30);
  assert_int_equal(o->rows_written, 31);
  assert_int_equal(o->rows_rejected, 32);
  assert_int_equal(o->rows_deleted, 33);
  assert_int_equal(o->bytes_in, 34);
  assert_int_equal(o->bytes_out, 35);
  assert_int_equal(o->api_calls, 36);
  assert_string_equal(o->error, "3 records rejected");
  assert_string_equal(o->checkpoint, "{\"offset\":10}");
  assert_string_equal(o->source, "csv-file");
  assert_string_equal(o->destination, "postgres");

  assert_string_equal(inv->pipeline, "invoices");
  assert_string_equal(inv->run_id, "run-2");
  assert_int_equal(inv->status, RUN_FAILED);
  assert_int_equal(inv->rows_read, 20);
  assert_string_equal(inv->error, "HTTP 503 from api.example.com");
  runlog_free_records(recs, n);
}

static void test_load_missing_file_is_empty(void **state)
{
  struct fixture *f = *state;
  struct run_record *recs = (struct run_record *)1;
  size_t n = 7;
  load_ok(f, &recs, &n, NULL);
  assert_null(recs);
  assert_int_equal(n, 0);
}

static void test_load_ignores_torn_last_line(void **state)
{
  struct fixture *f = *state;
  fill_three_runs(f);
  append_raw(f, "{\"run_id\":\"run-4\",\"pipeline\":\"ord");

  struct run_record *recs;
  size_t n;
  struct runlog_skipped skipped;
  load_ok(f, &recs, &n, &skipped);
  assert_int_equal(n, 2);
  assert_int_equal(skipped.count, 0);
  assert_string_equal(recs[0].run_id, "run-3");
  runlog_free_records(recs, n);

  /* The next append starts a line of its own; the fragment is now a bad
   * line in the middle, reported, and the new record is not lost. */
  struct run_record r = make_record("orders", "run-5", RUN_SUCCEEDED,
                                    T0 + 7200 * SEC, SEC, 50, NULL);
  append_ok(f, &r);
  load_ok(f, &recs, &n, &skipped);
  assert_int_equal(n, 2);
  assert_string_equal(recs[0].run_id, "run-5");
  assert_int_equal(skipped.count, 1);
  assert_int_equal(skipped.first_line, 4);
  runlog_free_records(recs, n);
}

static void test_load_counts_bad_middle_lines(void **state)
{
  struct fixture *f = *state;
  struct run_record r =
      make_record("orders", "run-1", RUN_SUCCEEDED, T0, SEC, 10, NULL);
  append_ok(f, &r);
  append_raw(f, "this is not json\n");
  append_raw(f, "\n"); /* blank: not worth a warning */
  append_raw(f, "{\"pipeline\":\"orders\",\"status\":\"succeeded\"}\n");
  append_raw(f, "{\"run_id\":\"x\",\"pipeline\":\"orders\",\"status\":"
                "\"exploded\",\"start\":\"2026-11-23T03:17:00.123Z\","
                "\"end\":\"2026-11-23T03:17:00.123Z\"}\n");
  append_raw(f, "{\"run_id\":\"x\",\"pipeline\":\"orders\",\"status\":"
                "\"failed\",\"start\":\"2026-02-30T03:17:00Z\","
                "\"end\":\"2026-11-23T03:17:00Z\"}\n");
  append_raw(f, "{\"run_id\":\"x\",\"pipeline\":\"orders\",\"status\":"
                "\"failed\",\"start\":\"2026-11-23T03:17:00Z\","
                "\"end\":\"2026-11-23T03:17:00Z\",\"rows_read\":-1}\n");
  r = make_record("invoices", "run-2", RUN_SUCCEEDED, T0, SEC, 20, NULL);
  append_ok(f, &r);
  /* A hand-written line with no fraction and few fields still reads. */
  append_raw(f, "{\"run_id\":\"run-3\",\"pipeline\":\"orders\",\"status\":"
                "\"interrupted\",\"start\":\"2026-11-23T04:00:00Z\","
                "\"end\":\"2026-11-23T04:00:01.5Z\"}\n");

  struct run_record *recs;
  size_t n;
  struct runlog_skipped skipped;
  load_ok(f, &recs, &n, &skipped);
  assert_int_equal(skipped.count, 5);
  assert_int_equal(skipped.first_line, 2);
  assert_int_equal(n, 2);
  assert_string_equal(recs[0].run_id, "run-3");
  assert_int_equal(recs[0].status, RUN_INTERRUPTED);
  assert_true(recs[0].end_us - recs[0].start_us == 1500000);
  assert_null(recs[0].error);
  assert_null(recs[0].source);
  assert_int_equal(recs[0].rows_read, 0);
  assert_string_equal(recs[1].run_id, "run-2");
  runlog_free_records(recs, n);
}

/* ---- print ------------------------------------------------------------- */

static char *print_table(const struct run_record *recs, size_t n)
{
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  assert_non_null(out);
  assert_int_equal(runlog_print_table(out, recs, n), 0);
  fclose(out);
  return text;
}

static void test_table(void **state)
{
  (void)state;
  struct run_record recs[3] = {
      make_record("orders", "r1", RUN_SUCCEEDED, T0, 1250000, 10, NULL),
      make_record("invoices-eu", "r2", RUN_FAILED, T0 + 60 * SEC, 184 * SEC,
                  123456, "HTTP 503 from api.example.com"),
      make_record("x", "r3", RUN_INTERRUPTED, T0 + 3600 * SEC,
                  (2 * 3600 + 61) * SEC, 0,
                  "a very long error message that goes on and on\nand on "
                  "past sixty characters for sure"),
  };
  char *text = print_table(recs, 3);
  const char *want =
      "PIPELINE     STATUS       STARTED               DURATION    READ  "
      "WRITTEN  REJECTED  DELETED  ERROR\n"
      "orders       succeeded    2026-11-23T03:17:00Z      1.2s      10  "
      "     11        12       13\n"
      "invoices-eu  failed       2026-11-23T03:18:00Z     3m04s  123456  "
      " 123457    123458   123459  HTTP 503 from api.example.com\n"
      "x            interrupted  2026-11-23T04:17:00Z     2h01m       0  "
      "      1         2        3  a very long error message that goes on "
      "and on and on past...\n";
  assert_string_equal(text, want);
  free(text);
  for (int i = 0; i < 3; i++)
    run_record_free(&recs[i]);

  text = print_table(NULL, 0);
  assert_string_equal(text, "PIPELINE  STATUS  STARTED  DURATION  READ  "
                            "WRITTEN  REJECTED  DELETED  ERROR\n");
  free(text);
}

static void test_table_blanks_control_characters(void **state)
{
  (void)state;
  struct run_record r = make_record("p", "r", RUN_FAILED, T0, SEC, 0,
                                    "\x1b[31mred\x7f \xC2\x9B x \xFF");
  char *text = print_table(&r, 1);
  assert_non_null(strstr(text, "  [31mred    x ?\n"));
  assert_null(strchr(text, '\x1b'));
  free(text);
  run_record_free(&r);
}

static void test_json(void **state)
{
  (void)state;
  struct run_record recs[2] = {
      make_record("orders", "r1", RUN_SUCCEEDED, T0, 1250000, 10, NULL),
      make_record("invoices", "r2", RUN_FAILED, T0, SEC, 20, "boom"),
  };
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  assert_non_null(out);
  assert_int_equal(runlog_print_json(out, recs, 2), 0);
  fclose(out);

  assert_true(size > 0 && text[size - 1] == '\n');
  json_error_t jerr;
  json_t *array = json_loads(text, 0, &jerr);
  assert_non_null(array);
  assert_true(json_is_array(array));
  assert_int_equal(json_array_size(array), 2);
  json_t *first = json_array_get(array, 0);
  assert_string_equal(json_string_value(json_object_get(first, "pipeline")),
                      "orders");
  assert_string_equal(json_string_value(json_object_get(first, "start")),
                      "2026-11-23T03:17:00.123Z");
  assert_int_equal(json_integer_value(json_object_get(first, "duration_ms")),
                   1250);
  assert_true(json_is_null(json_object_get(first, "error")));
  json_t *second = json_array_get(array, 1);
  assert_string_equal(json_string_value(json_object_get(second, "status")),
                      "failed");
  assert_string_equal(json_string_value(json_object_get(second, "error")),
                      "boom");
  json_decref(array);
  free(text);
  for (int i = 0; i < 2; i++)
    run_record_free(&recs[i]);

  text = NULL;
  out = open_memstream(&text, &size);
  assert_int_equal(runlog_print_json(out, NULL, 0), 0);
  fclose(out);
  assert_string_equal(text, "[]\n");
  free(text);
}

static void test_status_names(void **state)
{
  (void)state;
  assert_string_equal(run_status_name(RUN_SUCCEEDED), "succeeded");
  assert_string_equal(run_status_name(RUN_FAILED), "failed");
  assert_string_equal(run_status_name(RUN_REJECTED), "rejected");
  assert_string_equal(run_status_name(RUN_INTERRUPTED), "interrupted");
  assert_string_equal(run_status_name((enum run_status)42), "unknown");
}

/* A delete sweep's record keeps its kind and count, and is kept apart
 * from the pipeline's last run; a line of another kind is not a record. */
static void test_sweep_records_apart(void **state)
{
  struct fixture *f = *state;
  struct run_record a =
      make_record("orders", "run-1", RUN_SUCCEEDED, T0, SEC, 10, NULL);
  struct run_record s =
      make_record("orders", "sweep-1", RUN_SUCCEEDED, T0 + SEC, SEC, 20, NULL);
  struct run_record b =
      make_record("orders", "run-2", RUN_FAILED, T0 + 2 * SEC, SEC, 30, "boom");
  s.sweep = 1;
  s.rows_flagged = 7;
  append_ok(f, &a);
  append_ok(f, &s);
  append_ok(f, &b);
  assert_non_null(strstr(slurp(f->path),
                         "\"kind\":\"delete_sweep\",\"rows_flagged\":7}\n"));
  assert_null(strstr(strstr(slurp(f->path), "run-2"), "kind"));
  append_raw(f, "{\"run_id\":\"x\",\"pipeline\":\"orders\",\"status\":"
                "\"succeeded\",\"start\":\"2026-11-23T03:17:00Z\",\"end\":"
                "\"2026-11-23T03:17:00Z\",\"kind\":\"other\"}\n");

  struct run_record *recs;
  size_t n;
  struct runlog_skipped skipped;
  load_ok(f, &recs, &n, &skipped);
  assert_int_equal(skipped.count, 1);
  assert_int_equal(n, 2);
  assert_string_equal(recs[0].run_id, "run-2");
  assert_int_equal(recs[0].sweep, 0);
  assert_string_equal(recs[1].run_id, "sweep-1");
  assert_int_equal(recs[1].sweep, 1);
  assert_int_equal(recs[1].rows_flagged, 7);
  runlog_free_records(recs, n);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      T(test_append_writes_one_exact_line),
      T(test_append_keeps_awkward_strings_on_one_line),
      T(test_append_into_missing_dir_fails),
      T(test_load_keeps_last_per_pipeline),
      T(test_load_missing_file_is_empty),
      T(test_load_ignores_torn_last_line),
      T(test_load_counts_bad_middle_lines),
      T(test_sweep_records_apart),
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_table_blanks_control_characters),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_status_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
