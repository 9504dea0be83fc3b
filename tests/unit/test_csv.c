/* test_csv.c - the streaming CSV reader and the writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/csv.h"

/* --- a reader that records everything it is told, as text ------------- */

/* Each record becomes one line of the transcript:
 *   L<line> R<record> O<offset>: [q]<len>:<bytes>| ...
 *   BAD L<line> R<record> O<offset>: <rawlen>:<raw> (<reason>)
 * so two parses can be compared with one string comparison. */
struct transcript {
  struct sluice_buf text;
  int pause_every; /* the record callback returns 1 (pause) when set */
  int abort_at;    /* record number at which to return SLUICE_EIO */
  size_t nrecords;
};

static void put_bytes(struct sluice_buf *b, const char *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];

    if (c >= 0x20 && c < 0x7f && c != '\\')
      sluice_buf_append_char(b, (char)c);
    else
      sluice_buf_printf(b, "\\x%02x", c);
  }
}

static int on_record(void *arg, const struct sluice_csv_field *f, size_t n,
                     const struct sluice_csv_pos *pos)
{
  struct transcript *t = arg;

  t->nrecords++;
  sluice_buf_printf(
      &t->text, "L%llu R%llu O%llu:", (unsigned long long)pos->line,
      (unsigned long long)pos->record, (unsigned long long)pos->offset);
  for (size_t i = 0; i < n; i++) {
    sluice_buf_printf(&t->text, " %s%zu:", f[i].quoted ? "q" : "", f[i].len);
    put_bytes(&t->text, f[i].ptr, f[i].len);
    sluice_buf_append_char(&t->text, '|');
  }
  sluice_buf_append_char(&t->text, '\n');
  if (t->abort_at && pos->record == (uint64_t)t->abort_at)
    return SLUICE_EIO;
  return t->pause_every ? 1 : 0;
}

static int on_bad(void *arg, const char *raw, size_t rawlen,
                  const struct sluice_csv_pos *pos, const char *reason)
{
  struct transcript *t = arg;

  sluice_buf_printf(
      &t->text, "BAD L%llu R%llu O%llu: %zu:", (unsigned long long)pos->line,
      (unsigned long long)pos->record, (unsigned long long)pos->offset, rawlen);
  put_bytes(&t->text, raw, rawlen);
  sluice_buf_printf(&t->text, " (%s)\n", reason);
  return t->pause_every ? 1 : 0;
}

/* Feeds data in pieces ending at the offsets in cuts (ascending), then
 * finishes.  With pause set, re-feeds what each feed did not consume.
 * Returns the transcript (caller frees) and the status in *rc; on error
 * the transcript ends with "ERR <code> <message>". */
static char *parse_cuts(const struct sluice_csv_options *opt, int bad,
                        int pause, const char *data, size_t len,
                        const size_t *cuts, size_t ncuts, int *rc_out)
{
  struct sluice_csv_reader *r = sluice_csv_reader_new(opt);
  struct transcript t = {SLUICE_BUF_INIT, pause, 0, 0};
  struct sluice_error err = {0};
  size_t from = 0;
  int rc = 0;

  assert_non_null(r);
  sluice_csv_reader_set_callbacks(r, on_record, bad ? on_bad : NULL, &t);
  for (size_t i = 0; i <= ncuts && rc == 0; i++) {
    size_t to = i < ncuts ? cuts[i] : len;

    while (from < to) {
      size_t used = 0;

      rc = sluice_csv_reader_feed(r, data + from, to - from, &used, &err);
      assert_true(used <= to - from);
      if (rc != 0)
        break;
      if (!pause)
        assert_int_equal(used, to - from);
      from += used;
    }
  }
  if (rc == 0)
    rc = sluice_csv_reader_finish(r, &err);
  if (rc != 0)
    sluice_buf_printf(&t.text, "ERR %d %s\n", rc, err.message);
  sluice_csv_reader_free(r);
  *rc_out = rc;
  sluice_buf_cstr(&t.text);
  return t.text.data;
}

static char *parse_once(const struct sluice_csv_options *opt, int bad,
                        const char *data, size_t len, int *rc)
{
  return parse_cuts(opt, bad, 0, data, len, NULL, 0, rc);
}

static void expect_parse(const struct sluice_csv_options *opt, int bad,
                         const char *data, const char *want)
{
  int rc;
  char *got = parse_once(opt, bad, data, strlen(data), &rc);

  assert_string_equal(got, want);
  free(got);
}

/* The transcript must not depend on how the input is cut: byte by byte,
 * at every single split point, at every pair of split points (for short
 * inputs), and when every record pauses the feed. */
static void check_split_invariance(const struct sluice_csv_options *opt,
                                   int bad, const char *data, size_t len)
{
  int rc0, rc;
  char *want = parse_once(opt, bad, data, len, &rc0);
  size_t *cuts = malloc((len + 2) * sizeof *cuts);
  char *got;

  assert_non_null(cuts);
  for (size_t i = 0; i < len; i++)
    cuts[i] = i + 1;
  got = parse_cuts(opt, bad, 0, data, len, cuts, len, &rc);
  assert_string_equal(got, want);
  free(got);
  for (size_t a = 0; a <= len; a++) {
    cuts[0] = a;
    got = parse_cuts(opt, bad, 0, data, len, cuts, 1, &rc);
    assert_string_equal(got, want);
    assert_int_equal(rc, rc0);
    free(got);
    for (size_t b = a; len <= 64 && b <= len; b++) {
      cuts[1] = b;
      got = parse_cuts(opt, bad, 0, data, len, cuts, 2, &rc);
      assert_string_equal(got, want);
      free(got);
    }
  }
  got = parse_cuts(opt, bad, 1, data, len, NULL, 0, &rc);
  assert_string_equal(got, want);
  free(got);
  free(cuts);
  free(want);
}

/* --- basics --------------------------------------------------------------- */

static void test_simple_records(void **state)
{
  (void)state;
  expect_parse(NULL, 0, "a,b,c\n1,22,333\n",
               "L1 R1 O0: 1:a| 1:b| 1:c|\n"
               "L2 R2 O6: 1:1| 2:22| 3:333|\n");
  expect_parse(NULL, 0, "", "");
  expect_parse(NULL, 0, "x", "L1 R1 O0: 1:x|\n");
  expect_parse(NULL, 0, "a,", "L1 R1 O0: 1:a| 0:|\n");
  expect_parse(NULL, 0, ",", "L1 R1 O0: 0:| 0:|\n");
  expect_parse(NULL, 0, "a,b", "L1 R1 O0: 1:a| 1:b|\n");
}

static void test_quoted_fields(void **state)
{
  (void)state;
  expect_parse(NULL, 0, "\"a,b\",\"c\"\"d\",\"\",\"\"\"\"\n",
               "L1 R1 O0: q3:a,b| q3:c\"d| q0:| q1:\"|\n");
  expect_parse(NULL, 0, "\"x\"", "L1 R1 O0: q1:x|\n");
  expect_parse(NULL, 0, "\"x\",", "L1 R1 O0: q1:x| 0:|\n");
  expect_parse(NULL, 0, "\"\"\"a\"\"\"\n", "L1 R1 O0: q3:\"a\"|\n");
  /* A quote only opens a field at its first byte. */
  expect_parse(NULL, 0, " \"a\"\n",
               "ERR -11 line 1, column 2: quote inside an unquoted field\n");
  expect_parse(NULL, 0, "a\0b\n", "L1 R1 O0: 1:a|\n"); /* strlen stops at NUL */
}

static void test_nul_bytes_are_data(void **state)
{
  int rc;
  char *got;

  (void)state;
  got = parse_once(NULL, 0, "a\0b,\"\0\"\n", 8, &rc);
  assert_string_equal(got, "L1 R1 O0: 3:a\\x00b| q1:\\x00|\n");
  free(got);
}

static void test_line_ends(void **state)
{
  (void)state;
  expect_parse(NULL, 0, "a\r\nb\r\n", "L1 R1 O0: 1:a|\nL2 R2 O3: 1:b|\n");
  expect_parse(NULL, 0, "a\rb\rc",
               "L1 R1 O0: 1:a|\nL2 R2 O2: 1:b|\nL3 R3 O4: 1:c|\n");
  expect_parse(NULL, 0, "a\n\rb\r\n\nc\n",
               "L1 R1 O0: 1:a|\nL2 R2 O2: 0:|\nL3 R3 O3: 1:b|\n"
               "L4 R4 O6: 0:|\nL5 R5 O7: 1:c|\n");
  /* CR CR is two line ends, LF CR too. */
  expect_parse(NULL, 0, "a\r\rb\n",
               "L1 R1 O0: 1:a|\nL2 R2 O2: 0:|\nL3 R3 O3: 1:b|\n");
}

static void test_empty_lines_are_records(void **state)
{
  (void)state;
  expect_parse(NULL, 0, "a\n\nb\n",
               "L1 R1 O0: 1:a|\nL2 R2 O2: 0:|\nL3 R3 O3: 1:b|\n");
  expect_parse(NULL, 0, "\n", "L1 R1 O0: 0:|\n");
  expect_parse(NULL, 0, "\n\n", "L1 R1 O0: 0:|\nL2 R2 O1: 0:|\n");
  /* No extra record after the final line end. */
  expect_parse(NULL, 0, "a\n", "L1 R1 O0: 1:a|\n");
  expect_parse(NULL, 0, "a\r\n", "L1 R1 O0: 1:a|\n");
  expect_parse(NULL, 0, "a\r", "L1 R1 O0: 1:a|\n");
}

static void test_newlines_inside_quotes_count_lines(void **state)
{
  (void)state;
  expect_parse(NULL, 0, "\"x\r\ny\",z\r\nnext,1\r\n",
               "L1 R1 O0: q4:x\\x0d\\x0ay| 1:z|\nL3 R2 O10: 4:next| 1:1|\n");
  expect_parse(NULL, 0, "\"a\rb\nc\r\n\r\nd\"\ne\n",
               "L1 R1 O0: q10:a\\x0db\\x0ac\\x0d\\x0a\\x0d\\x0ad|\n"
               "L6 R2 O13: 1:e|\n");
  /* Columns after a quoted line end count from that line's start. */
  expect_parse(NULL, 0, "a,\"b\nxy\"z\n",
               "ERR -11 line 2, column 4: unexpected 'z' after closing "
               "quote\n");
}

/* --- BOM ---------------------------------------------------------------- */

static void test_bom(void **state)
{
  (void)state;
  expect_parse(NULL, 0,
               "\xEF\xBB\xBF"
               "a,b\nc\n",
               "L1 R1 O3: 1:a| 1:b|\nL2 R2 O7: 1:c|\n");
  expect_parse(NULL, 0, "\xEF\xBB\xBF", "");
  expect_parse(NULL, 0, "\xEF\xBB\xBF\n", "L1 R1 O3: 0:|\n");
  /* A prefix of a BOM that is not one is data. */
  expect_parse(NULL, 0, "\xEF\xBBx\n", "L1 R1 O0: 3:\\xef\\xbbx|\n");
  expect_parse(NULL, 0, "\xEF", "L1 R1 O0: 1:\\xef|\n");
  expect_parse(NULL, 0, "\xEF\xBB", "L1 R1 O0: 2:\\xef\\xbb|\n");
  /* Only at offset 0. */
  expect_parse(NULL, 0,
               "a\n\xEF\xBB\xBF"
               "b\n",
               "L1 R1 O0: 1:a|\nL2 R2 O2: 4:\\xef\\xbb\\xbfb|\n");
  expect_parse(NULL, 0, "\xEF\xBB\xBF\xEF\xBB\xBF\n",
               "L1 R1 O3: 3:\\xef\\xbb\\xbf|\n");
  /* Columns count from after the BOM. */
  expect_parse(NULL, 0, "\xEF\xBB\xBF\"a\"b\n",
               "ERR -11 line 1, column 4: unexpected 'b' after closing "
               "quote\n");
}

static void test_bom_split_across_feeds(void **state)
{
  static const char *samples[] = {"\xEF\xBB\xBF"
                                  "a,b\nc\n",
                                  "\xEF\xBB"
                                  "x\n",
                                  "\xEF"
                                  "x,\"y\"\n",
                                  "\xEF\xBB\xBF",
                                  "\xEF\xBB",
                                  "\xEF",
                                  "\xEF\xBB\xBF\"q\"\"\"\r\n"};

  (void)state;
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++)
    check_split_invariance(NULL, 0, samples[i], strlen(samples[i]));
}

/* --- faults ----------------------------------------------------------- */

static void test_errors_say_where(void **state)
{
  (void)state;
  expect_parse(NULL, 0, "h1,h2\n1,2\nx,y\n\"abcd\"x,1\n",
               "L1 R1 O0: 2:h1| 2:h2|\nL2 R2 O6: 1:1| 1:2|\n"
               "L3 R3 O10: 1:x| 1:y|\n"
               "ERR -11 line 4, column 7: unexpected 'x' after closing "
               "quote\n");
  expect_parse(NULL, 0, "a,b\n\"c\" ,d\n",
               "L1 R1 O0: 1:a| 1:b|\n"
               "ERR -11 line 2, column 4: unexpected ' ' after closing "
               "quote\n");
  expect_parse(NULL, 0, "\"a\"\x01\n",
               "ERR -11 line 1, column 4: unexpected byte 0x01 after "
               "closing quote\n");
  expect_parse(NULL, 0, "a\nb\n\"open,\nmore\n",
               "L1 R1 O0: 1:a|\nL2 R2 O2: 1:b|\n"
               "ERR -11 line 3, column 1: quoted field opened here is never "
               "closed\n");
  expect_parse(NULL, 0, "a,b\nc,d\nabcdefghi,jk\"l\n",
               "L1 R1 O0: 1:a| 1:b|\nL2 R2 O4: 1:c| 1:d|\n"
               "ERR -11 line 3, column 13: quote inside an unquoted field\n");
  /* The closing quote's line ends are not lost in the count. */
  expect_parse(NULL, 0, "x\n\"a\n\n\nb\n",
               "L1 R1 O0: 1:x|\n"
               "ERR -11 line 2, column 1: quoted field opened here is never "
               "closed\n");
}

static void test_failed_reader_stays_failed(void **state)
{
  struct sluice_csv_reader *r = sluice_csv_reader_new(NULL);
  struct sluice_error err = {0};
  size_t used;

  (void)state;
  assert_int_equal(sluice_csv_reader_feed(r, "\"a\"b\n", 5, &used, &err),
                   SLUICE_EDATA);
  memset(&err, 0, sizeof err);
  assert_int_equal(sluice_csv_reader_feed(r, "c\n", 2, &used, &err),
                   SLUICE_EDATA);
  assert_string_equal(err.message,
                      "line 1, column 4: unexpected 'b' after closing quote");
  assert_int_equal(sluice_csv_reader_finish(r, &err), SLUICE_EDATA);
  sluice_csv_reader_free(r);
}

static void test_lenient_quotes(void **state)
{
  struct sluice_csv_options opt = {0};

  (void)state;
  opt.lenient_quotes = 1;
  expect_parse(&opt, 0, "ab\"c,5\" tall\n\"q\"\n",
               "L1 R1 O0: 4:ab\"c| 7:5\" tall|\nL2 R2 O13: q1:q|\n");
  /* A quote at a field's start still opens a quoted field. */
  expect_parse(&opt, 0, "\"a\"x\n",
               "ERR -11 line 1, column 4: unexpected 'x' after closing "
               "quote\n");
}

static void test_bad_record_callback_resyncs(void **state)
{
  (void)state;
  expect_parse(NULL, 1, "a,b\n\"x\"y,z\nc,d\n",
               "L1 R1 O0: 1:a| 1:b|\n"
               "BAD L2 R2 O4: 6:\"x\"y,z (line 2, column 4: unexpected 'y' "
               "after closing quote)\n"
               "L3 R3 O11: 1:c| 1:d|\n");
  /* The skip starts on the faulty line, not the record's first line. */
  expect_parse(NULL, 1, "\"a\nb\"x,\"1\nc\n",
               "BAD L1 R1 O0: 9:\"a\\x0ab\"x,\"1 (line 2, column 3: "
               "unexpected 'x' after closing quote)\n"
               "L3 R2 O10: 1:c|\n");
  expect_parse(NULL, 1, "ab\"c\r\nok\r\n",
               "BAD L1 R1 O0: 4:ab\"c (line 1, column 3: quote inside an "
               "unquoted field)\nL2 R2 O6: 2:ok|\n");
  /* A bad last line without a line end is still reported. */
  expect_parse(NULL, 1, "ok\n\"a\"b",
               "L1 R1 O0: 2:ok|\nBAD L2 R2 O3: 4:\"a\"b (line 2, column 4: "
               "unexpected 'b' after closing quote)\n");
  /* An unclosed quote at the end is an error even then. */
  expect_parse(NULL, 1, "ok\n\"abc\n",
               "L1 R1 O0: 2:ok|\nERR -11 line 2, column 1: quoted field "
               "opened here is never closed\n");
}

static void test_max_record_bytes(void **state)
{
  struct sluice_csv_options opt = {0};

  (void)state;
  opt.max_record_bytes = 10;
  expect_parse(&opt, 0, "0123456789\n", "L1 R1 O0: 10:0123456789|\n");
  expect_parse(&opt, 0, "0123456789", "L1 R1 O0: 10:0123456789|\n");
  expect_parse(&opt, 0, "01234,6789\r\n", "L1 R1 O0: 5:01234| 4:6789|\n");
  expect_parse(&opt, 0, "\"12345678\"\n", "L1 R1 O0: q8:12345678|\n");
  expect_parse(&opt, 0, "012345678,\n", "L1 R1 O0: 9:012345678| 0:|\n");
  expect_parse(
      &opt, 0, "a\n0123456789A\n",
      "L1 R1 O0: 1:a|\nERR -11 line 2, field 1: record exceeds 10 bytes\n");
  expect_parse(&opt, 0, "0123456789,\n",
               "ERR -11 line 1, field 1: record exceeds 10 bytes\n");
  expect_parse(
      &opt, 1, "x\n\"01234567\n9\"\nok\n",
      "L1 R1 O0: 1:x|\n"
      "BAD L2 R2 O2: 10:\"01234567\\x0a (line 2, field 1: record exceeds "
      "10 bytes)\nL4 R3 O15: 2:ok|\n");
  expect_parse(
      &opt, 1, "0123456789abcdefghij\nok\n",
      "BAD L1 R1 O0: 10:0123456789 (line 1, field 1: record exceeds 10 "
      "bytes)\nL2 R2 O21: 2:ok|\n");

  opt.max_record_bytes = 0;
  {
    /* The default is 16 MiB, and the message says so. */
    size_t n = (size_t)16 * 1024 * 1024 + 1;
    char *big = malloc(n + 1);
    int rc;
    char *got;

    assert_non_null(big);
    memset(big, 'x', n);
    big[n] = '\n';
    got = parse_once(NULL, 0, big, n + 1, &rc);
    assert_int_equal(rc, SLUICE_EDATA);
    assert_string_equal(
        got, "ERR -11 line 1, field 1: record exceeds 16777216 bytes\n");
    free(got);
    got = parse_once(NULL, 0, big, n - 1, &rc);
    assert_int_equal(rc, 0);
    free(got);
    free(big);
  }
}

static void test_max_record_bytes_split(void **state)
{
  static const char *samples[] = {"0123456789\n0123456789\r\nab\n",
                                  "0123456789\r",
                                  "0123456789\r\n",
                                  "\"0123456\"\"\"\n",
                                  "x\n\"01234567\n9\"\nok\n",
                                  "0123456789abcdefghij\nok\n",
                                  "0123456789abc\r\nok\r\n",
                                  "012345678,\n",
                                  "0123456789,\n"};
  struct sluice_csv_options opt = {0};

  (void)state;
  opt.max_record_bytes = 10;
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
    check_split_invariance(&opt, 1, samples[i], strlen(samples[i]));
    check_split_invariance(&opt, 0, samples[i], strlen(samples[i]));
  }
}

/* --- streaming ----------------------------------------------------------- */

static const char *const tricky[] = {
    "a,b,c\n1,2,3\n",          "\"a,b\",\"c\"\"d\",\"\"\n\"e\nf\",g\r\n",
    "x\r\ny\rz\n\n\r\n,\n",    "\"x\r\ny\",z\r\nnext,1\r\n\"\"\"\"",
    "\"a\rb\nc\r\n\r\nd\"\ne", "\xEF\xBB\xBFh1,h2\r\n\"v\"\"1\",v2\r\n",
    "a,\"b\"x,c\nd,e\n",       "ab\"c\nok\n\"q\"z\r\n\"\"",
    "\"a\nb\"x,\"1\nc\n",      "\"unterminated\nstill,\"\"going",
    ",,,\n,\"\",\n",
};

static void test_every_split_matches_one_shot(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof tricky / sizeof *tricky; i++) {
    check_split_invariance(NULL, 0, tricky[i], strlen(tricky[i]));
    check_split_invariance(NULL, 1, tricky[i], strlen(tricky[i]));
  }
}

static uint64_t rng(void);

/* Random inputs made of the bytes that matter, with a small record limit
 * so that every fault path is hit at every feed boundary. */
static void test_random_inputs_split_invariance(void **state)
{
  static const char alphabet[] = "a,\"\r\n\xEF\xBB\xBF";
  struct sluice_csv_options opt = {0};

  (void)state;
  for (int i = 0; i < 3000; i++) {
    char in[24];
    size_t len = rng() % sizeof in;

    for (size_t k = 0; k < len; k++)
      in[k] = alphabet[rng() % (sizeof alphabet - 1)];
    opt.max_record_bytes = 1 + rng() % 12;
    opt.lenient_quotes = (int)(rng() % 2);
    check_split_invariance(&opt, (int)(rng() % 2), in, len);
  }
}

static void test_custom_delimiters(void **state)
{
  struct sluice_csv_options opt = {0};
  const char delims[] = {';', '\t', '|'};

  (void)state;
  for (size_t i = 0; i < sizeof delims; i++) {
    char in[64], want[128];

    opt.delimiter = delims[i];
    snprintf(in, sizeof in, "a%cb,c%c\"d%ce\"\n", delims[i], delims[i],
             delims[i]);
    snprintf(want, sizeof want, "L1 R1 O0: 1:a| 3:b,c| q3:d%se|\n",
             delims[i] == '\t' ? "\\x09" : (char[]){delims[i], 0});
    expect_parse(&opt, 0, in, want);
    check_split_invariance(&opt, 1, in, strlen(in));
  }
  opt.delimiter = ';';
  opt.quote = '\'';
  expect_parse(&opt, 0, "'a;b';'it''s';\"x\"\n",
               "L1 R1 O0: q3:a;b| q4:it's| 3:\"x\"|\n");
}

static void test_bad_options(void **state)
{
  struct sluice_csv_options opt = {0};

  (void)state;
  opt.delimiter = '"';
  assert_null(sluice_csv_reader_new(&opt));
  opt.delimiter = '\n';
  assert_null(sluice_csv_reader_new(&opt));
  opt.delimiter = ',';
  opt.quote = '\r';
  assert_null(sluice_csv_reader_new(&opt));
}

static void test_pause_reports_consumed(void **state)
{
  const char *in = "a\r\nbb\r\n\"c\nc\"\r\n";
  const size_t len = strlen(in);
  struct sluice_csv_reader *r = sluice_csv_reader_new(NULL);
  struct transcript t = {SLUICE_BUF_INIT, 1, 0, 0};
  struct sluice_error err = {0};
  struct sluice_csv_pos pos;
  size_t used, off = 0;

  (void)state;
  sluice_csv_reader_set_callbacks(r, on_record, NULL, &t);
  /* Offsets, not `in += used; strlen(in)`: GCC 12.2 at -O1 and above
   * miscompiles that pattern (it reuses a stale `used`). */
  assert_int_equal(sluice_csv_reader_feed(r, in, len, &used, &err), 0);
  assert_int_equal(used, 3); /* the whole CRLF belongs to the record */
  pos = sluice_csv_reader_pos(r);
  assert_int_equal(pos.offset, 3);
  assert_int_equal(pos.line, 2);
  assert_int_equal(pos.record, 2);
  off += used;
  assert_int_equal(sluice_csv_reader_feed(r, in + off, len - off, &used, &err),
                   0);
  assert_int_equal(used, 4);
  off += used;
  assert_int_equal(sluice_csv_reader_feed(r, in + off, len - off, &used, &err),
                   0);
  assert_int_equal(used, 7);
  pos = sluice_csv_reader_pos(r);
  assert_int_equal(pos.line, 5);
  assert_int_equal(pos.record, 4);
  assert_int_equal(pos.offset, 14);
  assert_int_equal(sluice_csv_reader_finish(r, &err), 0);
  assert_int_equal(t.nrecords, 3);
  sluice_csv_reader_free(r);
  sluice_buf_free(&t.text);
}

static void test_abort_from_callback(void **state)
{
  const char *in = "a\nb\nc\n";
  struct sluice_csv_reader *r = sluice_csv_reader_new(NULL);
  struct transcript t = {SLUICE_BUF_INIT, 0, 2, 0};
  struct sluice_error err = {0};
  size_t used;

  (void)state;
  sluice_csv_reader_set_callbacks(r, on_record, NULL, &t);
  assert_int_equal(sluice_csv_reader_feed(r, in, strlen(in), &used, &err),
                   SLUICE_EIO);
  assert_int_equal(used, 4);
  assert_int_equal(err.code, SLUICE_EIO);
  assert_non_null(strstr(err.message, "line 2"));
  assert_int_equal(t.nrecords, 2);
  sluice_csv_reader_free(r);
  sluice_buf_free(&t.text);
}

static void test_pos_and_set_pos_resume(void **state)
{
  const char *in = "h\r\n\"multi\nline\"\r\nx,y\r\nlast\r\n";
  struct sluice_csv_reader *r = sluice_csv_reader_new(NULL);
  struct transcript t = {SLUICE_BUF_INIT, 1, 0, 0};
  struct sluice_error err = {0};
  struct sluice_csv_pos pos;
  size_t used, off = 0;
  char *whole;
  int rc;

  (void)state;
  whole = parse_once(NULL, 0, in, strlen(in), &rc);
  sluice_csv_reader_set_callbacks(r, on_record, NULL, &t);
  /* Read two records, then resume a fresh reader where they ended. */
  for (int i = 0; i < 2; i++) {
    assert_int_equal(
        sluice_csv_reader_feed(r, in + off, strlen(in) - off, &used, &err), 0);
    off += used;
  }
  pos = sluice_csv_reader_pos(r);
  assert_int_equal(pos.offset, off);
  assert_int_equal(pos.line, 4);
  assert_int_equal(pos.record, 3);
  sluice_csv_reader_free(r);

  r = sluice_csv_reader_new(NULL);
  sluice_csv_reader_set_callbacks(r, on_record, NULL, &t);
  sluice_csv_reader_set_pos(r, &pos);
  t.pause_every = 0;
  assert_int_equal(
      sluice_csv_reader_feed(r, in + off, strlen(in) - off, &used, &err), 0);
  assert_int_equal(sluice_csv_reader_finish(r, &err), 0);
  assert_string_equal(sluice_buf_cstr(&t.text), whole);

  /* Mid-record, _pos is the record's start. */
  sluice_csv_reader_free(r);
  r = sluice_csv_reader_new(NULL);
  assert_int_equal(sluice_csv_reader_feed(r, in, 8, &used, &err), 0);
  pos = sluice_csv_reader_pos(r);
  assert_int_equal(pos.offset, 3);
  assert_int_equal(pos.line, 2);
  sluice_csv_reader_free(r);
  sluice_buf_free(&t.text);
  free(whole);
}

static void test_feed_after_finish(void **state)
{
  struct sluice_csv_reader *r = sluice_csv_reader_new(NULL);
  struct sluice_error err = {0};
  size_t used = 99;

  (void)state;
  assert_int_equal(sluice_csv_reader_feed(r, "", 0, &used, &err), 0);
  assert_int_equal(used, 0);
  assert_int_equal(sluice_csv_reader_finish(r, &err), 0);
  assert_int_equal(sluice_csv_reader_feed(r, "a", 1, &used, &err),
                   SLUICE_ESTATE);
  sluice_csv_reader_free(r);
  sluice_csv_reader_free(NULL);
}

static void test_many_fields_and_long_records(void **state)
{
  struct sluice_buf in = SLUICE_BUF_INIT, want = SLUICE_BUF_INIT;
  size_t cuts[64], n = 0;
  char *got;
  int rc;

  (void)state;
  /* 3000 fields grow the field array; a 300 kB quoted field with doubled
   * quotes straddles many feeds. */
  for (int i = 0; i < 3000; i++)
    sluice_buf_printf(&in, "%s%d", i ? "," : "", i);
  sluice_buf_append_str(&in, "\n\"");
  for (int i = 0; i < 100000; i++)
    sluice_buf_append_str(&in, "ab\"\"");
  sluice_buf_append_str(&in, "\"\n");
  for (size_t c = 4093; c < in.len && n < 64; c += 4096 + n)
    cuts[n++] = c;
  got = parse_cuts(NULL, 0, 0, in.data, in.len, cuts, n, &rc);
  assert_int_equal(rc, 0);
  sluice_buf_append_str(&want, "L1 R1 O0:");
  for (int i = 0; i < 3000; i++)
    sluice_buf_printf(&want, " %zu:%d|", (size_t)snprintf(NULL, 0, "%d", i), i);
  sluice_buf_printf(&want, "\nL2 R2 O%zu: q300000:", (size_t)13890);
  for (int i = 0; i < 100000; i++)
    sluice_buf_append_str(&want, "ab\"");
  sluice_buf_append_str(&want, "|\n");
  assert_string_equal(got, want.data);
  free(got);
  sluice_buf_free(&in);
  sluice_buf_free(&want);
}

/* --- writer ----------------------------------------------------------------
 */

static void expect_field(const struct sluice_csv_options *opt, const char *s,
                         const char *want)
{
  struct sluice_buf out = SLUICE_BUF_INIT;

  assert_int_equal(sluice_csv_write_field(&out, s, strlen(s), opt), 0);
  assert_string_equal(sluice_buf_cstr(&out), want);
  sluice_buf_free(&out);
}

static void test_writer_quotes_only_when_needed(void **state)
{
  struct sluice_csv_options opt = {0};

  (void)state;
  expect_field(NULL, "plain", "plain");
  expect_field(NULL, "", "");
  expect_field(NULL, "a,b", "\"a,b\"");
  expect_field(NULL, "say \"hi\"", "\"say \"\"hi\"\"\"");
  expect_field(NULL, "\"", "\"\"\"\"");
  expect_field(NULL, "x\ny", "\"x\ny\"");
  expect_field(NULL, "x\r", "\"x\r\"");
  expect_field(NULL, " lead", "\" lead\"");
  expect_field(NULL, "trail\t", "\"trail\t\"");
  expect_field(NULL, "in side", "in side");
  expect_field(NULL, "semi;colon", "semi;colon");
  opt.delimiter = ';';
  expect_field(&opt, "a,b", "a,b");
  expect_field(&opt, "a;b", "\"a;b\"");
  opt.quote = '\'';
  expect_field(&opt, "it's", "'it''s'");
  expect_field(&opt, "\"x\"", "\"x\"");
}

static void test_writer_records(void **state)
{
  struct sluice_csv_options opt = {0};
  struct sluice_csv_field f[3] = {{"a", 1, 0}, {NULL, 0, 0}, {"b,c", 3, 0}};
  struct sluice_buf out = SLUICE_BUF_INIT;

  (void)state;
  assert_int_equal(sluice_csv_write_record(&out, f, 3, NULL), 0);
  assert_string_equal(out.data, "a,,\"b,c\"\n");
  opt.delimiter = '\t';
  opt.line_ending = "\r\n";
  assert_int_equal(sluice_csv_write_record(&out, f, 3, &opt), 0);
  assert_string_equal(out.data, "a,,\"b,c\"\na\t\tb,c\r\n");
  sluice_buf_reset(&out);
  assert_int_equal(sluice_csv_write_record(&out, f, 1, NULL), 0);
  assert_string_equal(out.data, "a\n");
  sluice_buf_free(&out);
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Field bytes with their lengths, so any content compares unambiguously. */
static void put_raw_field(struct sluice_buf *b, const char *p, size_t n)
{
  sluice_buf_printf(b, "%zu:", n);
  sluice_buf_append(b, p, n);
}

static int collect_raw(void *arg, const struct sluice_csv_field *f, size_t n,
                       const struct sluice_csv_pos *pos)
{
  struct sluice_buf *b = arg;

  (void)pos;
  for (size_t i = 0; i < n; i++)
    put_raw_field(b, f[i].ptr, f[i].len);
  sluice_buf_append_char(b, '\n');
  return 0;
}

/* Writes random records, reads them back, and compares. */
static void round_trip(const struct sluice_csv_options *opt, int rounds)
{
  static const char alphabet[] = "ab ,;\t|\"'\r\nz\x80\xff";
  enum { MAXREC = 20, MAXF = 6, MAXLEN = 12 };

  for (int round = 0; round < rounds; round++) {
    char text[MAXREC][MAXF][MAXLEN];
    struct sluice_csv_field rec[MAXF];
    size_t nrec = 1 + rng() % MAXREC;
    struct sluice_buf out = SLUICE_BUF_INIT, want = SLUICE_BUF_INIT;
    struct sluice_buf got = SLUICE_BUF_INIT;
    struct sluice_csv_reader *r = sluice_csv_reader_new(opt);
    struct sluice_error err = {0};
    size_t used;

    assert_non_null(r);
    sluice_csv_reader_set_callbacks(r, collect_raw, NULL, &got);
    for (size_t i = 0; i < nrec; i++) {
      size_t nf = 1 + rng() % MAXF;

      for (size_t j = 0; j < nf; j++) {
        rec[j].ptr = text[i][j];
        rec[j].len = rng() % MAXLEN;
        rec[j].quoted = 0;
        for (size_t k = 0; k < rec[j].len; k++)
          text[i][j][k] = alphabet[rng() % (sizeof alphabet - 1)];
        put_raw_field(&want, rec[j].ptr, rec[j].len);
      }
      sluice_buf_append_char(&want, '\n');
      assert_int_equal(sluice_csv_write_record(&out, rec, nf, opt), 0);
    }
    assert_int_equal(sluice_csv_reader_feed(r, out.data, out.len, &used, &err),
                     0);
    assert_int_equal(sluice_csv_reader_finish(r, &err), 0);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    sluice_csv_reader_free(r);
    sluice_buf_free(&out);
    sluice_buf_free(&want);
    sluice_buf_free(&got);
  }
}

static void test_writer_round_trip(void **state)
{
  struct sluice_csv_options opt = {0};

  (void)state;
  round_trip(NULL, 2000);
  opt.delimiter = ';';
  opt.line_ending = "\r\n";
  round_trip(&opt, 1000);
  opt.delimiter = '\t';
  opt.quote = '\'';
  opt.line_ending = "\r";
  round_trip(&opt, 1000);
  opt.delimiter = '|';
  opt.quote = 0;
  opt.line_ending = NULL;
  round_trip(&opt, 1000);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_simple_records),
      cmocka_unit_test(test_quoted_fields),
      cmocka_unit_test(test_nul_bytes_are_data),
      cmocka_unit_test(test_line_ends),
      cmocka_unit_test(test_empty_lines_are_records),
      cmocka_unit_test(test_newlines_inside_quotes_count_lines),
      cmocka_unit_test(test_bom),
      cmocka_unit_test(test_bom_split_across_feeds),
      cmocka_unit_test(test_errors_say_where),
      cmocka_unit_test(test_failed_reader_stays_failed),
      cmocka_unit_test(test_lenient_quotes),
      cmocka_unit_test(test_bad_record_callback_resyncs),
      cmocka_unit_test(test_max_record_bytes),
      cmocka_unit_test(test_max_record_bytes_split),
      cmocka_unit_test(test_every_split_matches_one_shot),
      cmocka_unit_test(test_random_inputs_split_invariance),
      cmocka_unit_test(test_custom_delimiters),
      cmocka_unit_test(test_bad_options),
      cmocka_unit_test(test_pause_reports_consumed),
      cmocka_unit_test(test_abort_from_callback),
      cmocka_unit_test(test_pos_and_set_pos_resume),
      cmocka_unit_test(test_feed_after_finish),
      cmocka_unit_test(test_many_fields_and_long_records),
      cmocka_unit_test(test_writer_quotes_only_when_needed),
      cmocka_unit_test(test_writer_records),
      cmocka_unit_test(test_writer_round_trip),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
