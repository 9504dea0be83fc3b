/* test_quote.c - SOQL and Snowflake quoting, with a property test: for
 * 100,000 random byte strings, quoting either fails cleanly (only for text
 * it must refuse, leaving the output as it was) or gives a literal that an
 * unquoting routine written here, from the languages' rules and not from
 * quote.c, reads back to exactly the input, with its closing quote as the
 * very last byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/quote.h"

/* --- unit cases ----------------------------------------------------------- */

static void quoted_is(int (*fn)(const char *, size_t, struct sluice_buf *),
                      const char *in, size_t len, const char *want)
{
  struct sluice_buf b = SLUICE_BUF_INIT;

  assert_int_equal(fn(in, len, &b), 0);
  assert_string_equal(sluice_buf_cstr(&b), want);
  sluice_buf_free(&b);
}

static void refused(int (*fn)(const char *, size_t, struct sluice_buf *),
                    const char *in, size_t len)
{
  struct sluice_buf b = SLUICE_BUF_INIT;

  assert_int_equal(sluice_buf_append_str(&b, "x = "), 0);
  assert_int_equal(fn(in, len, &b), SLUICE_EINVAL);
  assert_int_equal(b.len, 4);
  assert_string_equal(b.data, "x = ");
  sluice_buf_free(&b);
}

#define Q(fn, lit, want) quoted_is(fn, lit, sizeof lit - 1, want)
#define R(fn, lit) refused(fn, lit, sizeof lit - 1)

static void test_soql_quote(void **state)
{
  (void)state;
  Q(sluice_soql_quote_string, "", "''");
  Q(sluice_soql_quote_string, "Acme", "'Acme'");
  /* The Salesforce docs' own example. */
  Q(sluice_soql_quote_string, "Bob's BBQ", "'Bob\\'s BBQ'");
  Q(sluice_soql_quote_string, "a\"b\\c", "'a\\\"b\\\\c'");
  Q(sluice_soql_quote_string, "\n\r\t\b\f", "'\\n\\r\\t\\b\\f'");
  /* LIKE wildcards stay wildcards; \% and \_ are errors outside LIKE. */
  Q(sluice_soql_quote_string, "50%_off", "'50%_off'");
  Q(sluice_soql_quote_string, "caf\xc3\xa9 \xf0\x9f\x98\x80",
    "'caf\xc3\xa9 \xf0\x9f\x98\x80'");
  /* The classic injection stays inside the literal. */
  Q(sluice_soql_quote_string, "x' OR Name != '", "'x\\' OR Name != \\''");
  Q(sluice_soql_quote_string, "\\' OR 1=1", "'\\\\\\' OR 1=1'");
  /* len is what counts, not a NUL. */
  quoted_is(sluice_soql_quote_string, "abc", 2, "'ab'");
  R(sluice_soql_quote_string, "a\0b");
  R(sluice_soql_quote_string, "\xff");
  R(sluice_soql_quote_string, "\xc3");
  R(sluice_soql_quote_string, "\xed\xa0\x80");
  refused(sluice_soql_quote_string, NULL, 1);
  quoted_is(sluice_soql_quote_string, NULL, 0, "''");
}

static void test_soql_identifier(void **state)
{
  static const char *yes[] = {
      "Id",
      "Account",
      "SystemModstamp",
      "Custom_Field__c",
      "Custom__c",
      "ns__Obj__c",
      "ns__Field_2__c",
      "Parent__r",
      "Owner.Name",
      "Parent__r.Owner.Profile.Name",
      "Account.Owner.Manager.Manager.Name",
      "AccountChangeEvent",
      "Custom__ChangeEvent",
      "Type__mdt",
      "Event__e",
      "a1",
  };
  static const char *no[] = {
      "",      "1abc",  "_abc",    "abc_",     "a__",         "a___b",
      "a__1",  "a b",   "a-b",     "a.",       ".a",          "a..b",
      "Name'", "Name)", "Name,Id", "a;DELETE", "caf\xc3\xa9", "Owner.1Name",
      "a.b__", "__c",   "Name\n",
  };
  char longname[300];
  size_t i;

  (void)state;
  for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
    if (sluice_soql_is_identifier(yes[i]) != 1)
      fail_msg("refused '%s'", yes[i]);
  for (i = 0; i < sizeof no / sizeof no[0]; i++)
    if (sluice_soql_is_identifier(no[i]) != 0)
      fail_msg("accepted '%s'", no[i]);
  assert_int_equal(sluice_soql_is_identifier(NULL), 0);
  memset(longname, 'a', 255);
  longname[255] = '\0';
  assert_int_equal(sluice_soql_is_identifier(longname), 1);
  longname[255] = 'a';
  longname[256] = '\0';
  assert_int_equal(sluice_soql_is_identifier(longname), 0);
}

static int ident(const char *s, size_t len, struct sluice_buf *out)
{
  (void)len;
  return sluice_sql_quote_ident(s, out);
}

static void test_sql_quote_ident(void **state)
{
  char name[600];
  size_t i;

  (void)state;
  Q(ident, "Account", "\"ACCOUNT\"");
  Q(ident, "Custom__c", "\"CUSTOM__C\"");
  /* Salesforce objects that are reserved words in Snowflake. */
  Q(ident, "Case", "\"CASE\"");
  Q(ident, "Order", "\"ORDER\"");
  Q(ident, "Group", "\"GROUP\"");
  Q(ident, "a\"b", "\"A\"\"B\"");
  Q(ident, "\"", "\"\"\"\"");
  Q(ident, "x\" ; DROP TABLE t; --", "\"X\"\" ; DROP TABLE T; --\"");
  Q(ident, "caf\xc3\xa9 1", "\"CAF\xc3\xa9 1\"");
  R(ident, "");
  refused(ident, NULL, 0);
  R(ident, "\xc3(");

  /* 255 characters, counted as characters, not bytes. */
  memset(name, 'a', 255);
  name[255] = '\0';
  assert_true(strlen(name) == 255);
  {
    struct sluice_buf b = SLUICE_BUF_INIT;

    assert_int_equal(sluice_sql_quote_ident(name, &b), 0);
    assert_int_equal(b.len, 257);
    name[255] = 'a';
    name[256] = '\0';
    assert_int_equal(sluice_sql_quote_ident(name, &b), SLUICE_EINVAL);
    assert_int_equal(b.len, 257);
    sluice_buf_free(&b);
  }
  for (i = 0; i < 255; i++)
    memcpy(name + 2 * i, "\xc3\xa9", 2);
  name[510] = '\0';
  {
    struct sluice_buf b = SLUICE_BUF_INIT;

    assert_int_equal(sluice_sql_quote_ident(name, &b), 0);
    memcpy(name + 510, "\xc3\xa9", 3);
    assert_int_equal(sluice_sql_quote_ident(name, &b), SLUICE_EINVAL);
    sluice_buf_free(&b);
  }
}

static void test_sql_quote_string(void **state)
{
  (void)state;
  Q(sluice_sql_quote_string, "", "''");
  Q(sluice_sql_quote_string, "O'Brien", "'O''Brien'");
  Q(sluice_sql_quote_string, "C:\\dir\\", "'C:\\\\dir\\\\'");
  /* Without the doubled backslash, \' would escape the quote. */
  Q(sluice_sql_quote_string, "\\'", "'\\\\'''");
  Q(sluice_sql_quote_string, "x'); DROP TABLE t; --",
    "'x''); DROP TABLE t; --'");
  Q(sluice_sql_quote_string, "line\nbreak\t\"q\"", "'line\nbreak\t\"q\"'");
  Q(sluice_sql_quote_string, "\xe2\x82\xac", "'\xe2\x82\xac'");
  R(sluice_sql_quote_string, "a\0");
  R(sluice_sql_quote_string, "\x80");
  R(sluice_sql_quote_string, "\xc0\xaf"); /* an overlong '/' */
}

static void test_utf8_valid(void **state)
{
  static const struct {
    const char *s;
    size_t len;
    int ok;
  } v[] = {
      {"", 0, 1},
      {"abc", 3, 1},
      {"\x7f", 1, 1},
      {"\xc2\x80", 2, 1},
      {"\xdf\xbf", 2, 1},
      {"\xe0\xa0\x80", 3, 1},
      {"\xed\x9f\xbf", 3, 1},     /* U+D7FF */
      {"\xee\x80\x80", 3, 1},     /* U+E000 */
      {"\xef\xbf\xbf", 3, 1},     /* U+FFFF */
      {"\xf0\x90\x80\x80", 4, 1}, /* U+10000 */
      {"\xf4\x8f\xbf\xbf", 4, 1}, /* U+10FFFF */
      {"\0", 1, 0},
      {"\x80", 1, 0},
      {"\xbf", 1, 0},
      {"\xc0\x80", 2, 0}, /* overlong NUL */
      {"\xc1\xbf", 2, 0},
      {"\xc2", 1, 0},
      {"\xc2\x41", 2, 0},
      {"\xe0\x9f\xbf", 3, 0}, /* overlong */
      {"\xed\xa0\x80", 3, 0}, /* U+D800 */
      {"\xed\xbf\xbf", 3, 0}, /* U+DFFF */
      {"\xe2\x82", 2, 0},
      {"\xf0\x8f\xbf\xbf", 4, 0}, /* overlong */
      {"\xf4\x90\x80\x80", 4, 0}, /* U+110000 */
      {"\xf5\x80\x80\x80", 4, 0},
      {"\xff", 1, 0},
      {"\xf0\x9f\x98", 3, 0},
  };
  size_t i;

  (void)state;
  for (i = 0; i < sizeof v / sizeof v[0]; i++)
    if (sluice_utf8_valid(v[i].s, v[i].len) != v[i].ok)
      fail_msg("case %zu", i);
}

/* --- the property test ---------------------------------------------------- */

/* The test's own generator, so it does not lean on the SDK's. */
static uint64_t rnd(uint64_t *s)
{
  uint64_t x = *s;

  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static unsigned below(uint64_t *s, unsigned n)
{
  return (unsigned)(rnd(s) % n);
}

/* Appends code point cp as UTF-8 (cp valid). */
static size_t put_utf8(unsigned char *d, uint32_t cp)
{
  if (cp < 0x80) {
    d[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    d[0] = (unsigned char)(0xC0 | cp >> 6);
    d[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    d[0] = (unsigned char)(0xE0 | cp >> 12);
    d[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    d[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  d[0] = (unsigned char)(0xF0 | cp >> 18);
  d[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
  d[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
  d[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* The characters that matter to the quoting, often. */
static const char specials[] = "'\"\\\n\r\t\b\f%_ a.;-$";

static uint32_t random_cp(uint64_t *s)
{
  switch (below(s, 6)) {
  case 0:
  case 1:
    return (uint32_t)(unsigned char)specials[below(s, sizeof specials - 1)];
  case 2: return 1 + below(s, 0x7F); /* ASCII but NUL */
  case 3: return 0x80 + below(s, 0x800 - 0x80);
  case 4: {
    uint32_t cp = 0x800 + below(s, 0x10000 - 0x800);

    return cp >= 0xD800 && cp <= 0xDFFF ? cp - 0x800 : cp;
  }
  default: return 0x10000 + below(s, 0x110000 - 0x10000);
  }
}

/* A random input of up to cap bytes: valid text, random bytes, or valid
 * text with one flaw put in. */
static size_t random_input(uint64_t *s, unsigned char *d, size_t cap)
{
  static const char *const flaws[] = {
      "\0",
      "\x80",
      "\xbf",
      "\xc0\xaf",
      "\xc2",
      "\xe2\x82",
      "\xed\xa0\x80",
      "\xf4\x90\x80\x80",
      "\xf0\x8f\xbf\xbf",
      "\xff",
      "\xfe",
      "\xf8\x88\x80",
  };
  static const size_t flaw_len[] = {1, 1, 1, 2, 1, 2, 3, 4, 4, 1, 1, 3};
  unsigned mode = below(s, 10), want = below(s, 48);
  size_t n = 0;

  if (mode < 3) {
    while (n < want && n + 4 <= cap)
      d[n++] = (unsigned char)rnd(s);
    return n;
  }
  while (n < want && n + 4 <= cap)
    n += put_utf8(d + n, random_cp(s));
  if (mode >= 7 && n + 4 <= cap) {
    unsigned f = below(s, sizeof flaw_len / sizeof flaw_len[0]);
    size_t at = n > 0 ? below(s, (unsigned)n + 1) : 0;

    /* Put the flaw between characters, never inside one, so it stays a
     * flaw. */
    while (at < n && (d[at] & 0xC0) == 0x80)
      at++;
    memmove(d + at + flaw_len[f], d + at, n - at);
    memcpy(d + at, flaws[f], flaw_len[f]);
    n += flaw_len[f];
  }
  return n;
}

/* Valid UTF-8 without NUL, decoded the long way: the code point's value,
 * then whether its length was the shortest and its value allowed. */
static int valid_text(const unsigned char *s, size_t n)
{
  size_t i = 0;

  while (i < n) {
    uint32_t cp;
    size_t len, k;

    if (s[i] == 0)
      return 0;
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    if ((s[i] & 0xE0) == 0xC0)
      len = 2, cp = s[i] & 0x1F;
    else if ((s[i] & 0xF0) == 0xE0)
      len = 3, cp = s[i] & 0x0F;
    else if ((s[i] & 0xF8) == 0xF0)
      len = 4, cp = s[i] & 0x07;
    else
      return 0;
    if (i + len > n)
      return 0;
    for (k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80)
        return 0;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += len;
  }
  return 1;
}

/* A SOQL string literal back to its bytes, per Salesforce's table of
 * escapes; -1 when q is not exactly one literal (a quote that ends it early,
 * a stray backslash, an escape SOQL does not have outside LIKE). */
static int soql_unquote(const char *q, size_t n, char *out, size_t *outlen)
{
  size_t i = 1, o = 0;

  if (n < 2 || q[0] != '\'')
    return -1;
  while (i < n) {
    char c = q[i];

    if (c == '\'') /* the end of the literal: it must be the last byte */
      break;
    if (c == '\\') {
      if (i + 1 >= n)
        return -1;
      switch (q[i + 1]) {
      case 'n':
      case 'N': c = '\n'; break;
      case 'r':
      case 'R': c = '\r'; break;
      case 't':
      case 'T': c = '\t'; break;
      case 'b':
      case 'B': c = '\b'; break;
      case 'f':
      case 'F': c = '\f'; break;
      case '"': c = '"'; break;
      case '\'': c = '\''; break;
      case '\\': c = '\\'; break;
      default: return -1;
      }
      i += 2;
    } else {
      i++;
    }
    out[o++] = c;
  }
  if (i != n - 1)
    return -1;
  *outlen = o;
  return 0;
}

/* A Snowflake single-quoted string back to its bytes: '' is a quote, and a
 * backslash starts an escape (\' \" \\ \b \f \n \r \t \0; any other
 * character after it stands for itself). */
static int sql_unquote(const char *q, size_t n, char *out, size_t *outlen)
{
  size_t i = 1, o = 0;

  if (n < 2 || q[0] != '\'')
    return -1;
  while (i < n) {
    char c = q[i];

    if (c == '\'') {
      if (i + 1 < n && q[i + 1] == '\'') {
        out[o++] = '\'';
        i += 2;
        continue;
      }
      break;
    }
    if (c == '\\') {
      if (i + 1 >= n)
        return -1;
      switch (q[i + 1]) {
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'n': c = '\n'; break;
      case 'r': c = '\r'; break;
      case 't': c = '\t'; break;
      case '0': c = '\0'; break;
      default: c = q[i + 1]; break;
      }
      i += 2;
    } else {
      i++;
    }
    out[o++] = c;
  }
  if (i != n - 1)
    return -1;
  *outlen = o;
  return 0;
}

/* A Snowflake quoted identifier back to its name: "" is a quote. */
static int ident_unquote(const char *q, size_t n, char *out, size_t *outlen)
{
  size_t i = 1, o = 0;

  if (n < 2 || q[0] != '"')
    return -1;
  while (i < n) {
    if (q[i] == '"') {
      if (i + 1 < n && q[i + 1] == '"') {
        out[o++] = '"';
        i += 2;
        continue;
      }
      break;
    }
    out[o++] = q[i++];
  }
  if (i != n - 1)
    return -1;
  *outlen = o;
  return 0;
}

static size_t count_chars(const unsigned char *s, size_t n)
{
  size_t i, c = 0;

  for (i = 0; i < n; i++)
    c += (s[i] & 0xC0) != 0x80;
  return c;
}

enum { ROUNDS = 100000, PREFIX_LEN = 6 };

static void test_property_roundtrip(void **state)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  unsigned char in[300];
  char dec[700], up[300];
  uint64_t seed = 0x5EED5EED12345678u;
  size_t n, declen, k, cstrlen;
  int ok_count[3] = {0}, refused_count[3] = {0};
  int r, valid, round;

  (void)state;
  for (round = 0; round < ROUNDS; round++) {
    n = random_input(&seed, in, sizeof in);
    valid = valid_text(in, n);

    /* SOQL string */
    sluice_buf_reset(&b);
    assert_int_equal(sluice_buf_append_str(&b, "q = x "), 0);
    r = sluice_soql_quote_string((const char *)in, n, &b);
    if (r != 0) {
      assert_int_equal(r, SLUICE_EINVAL);
      assert_false(valid);
      assert_int_equal(b.len, PREFIX_LEN);
      assert_string_equal(b.data, "q = x ");
      refused_count[0]++;
    } else {
      assert_true(valid);
      assert_int_equal(strlen(b.data), b.len);
      assert_int_equal(
          soql_unquote(b.data + PREFIX_LEN, b.len - PREFIX_LEN, dec, &declen),
          0);
      assert_int_equal(declen, n);
      assert_memory_equal(dec, in, n);
      ok_count[0]++;
    }

    /* Snowflake string */
    sluice_buf_reset(&b);
    assert_int_equal(sluice_buf_append_str(&b, "q = x "), 0);
    r = sluice_sql_quote_string((const char *)in, n, &b);
    if (r != 0) {
      assert_int_equal(r, SLUICE_EINVAL);
      assert_false(valid);
      assert_int_equal(b.len, PREFIX_LEN);
      refused_count[1]++;
    } else {
      assert_true(valid);
      assert_int_equal(
          sql_unquote(b.data + PREFIX_LEN, b.len - PREFIX_LEN, dec, &declen),
          0);
      assert_int_equal(declen, n);
      assert_memory_equal(dec, in, n);
      ok_count[1]++;
    }

    /* Snowflake identifier, from the input as a C string (up to a NUL). */
    in[n] = '\0';
    cstrlen = strlen((const char *)in);
    sluice_buf_reset(&b);
    assert_int_equal(sluice_buf_append_str(&b, "q = x "), 0);
    r = sluice_sql_quote_ident((const char *)in, &b);
    if (r != 0) {
      assert_int_equal(r, SLUICE_EINVAL);
      assert_true(cstrlen == 0 || !valid_text(in, cstrlen) ||
                  count_chars(in, cstrlen) > SLUICE_SQL_IDENT_MAX);
      assert_int_equal(b.len, PREFIX_LEN);
      refused_count[2]++;
    } else {
      assert_true(cstrlen > 0 && valid_text(in, cstrlen));
      assert_int_equal(
          ident_unquote(b.data + PREFIX_LEN, b.len - PREFIX_LEN, dec, &declen),
          0);
      for (k = 0; k < cstrlen; k++)
        up[k] = in[k] >= 'a' && in[k] <= 'z' ? (char)(in[k] - 32) : (char)in[k];
      assert_int_equal(declen, cstrlen);
      assert_memory_equal(dec, up, cstrlen);
      ok_count[2]++;
    }
  }
  /* Both outcomes were exercised, plenty. */
  for (k = 0; k < 3; k++) {
    assert_true(ok_count[k] > ROUNDS / 4);
    assert_true(refused_count[k] > ROUNDS / 10);
  }
  sluice_buf_free(&b);
}

/* The unquoting routines are strict enough to catch a broken quoter. */
static void test_unquoters_catch_escapes(void **state)
{
  char dec[64];
  size_t n;

  (void)state;
  assert_int_equal(soql_unquote("'a'", 3, dec, &n), 0);
  assert_int_equal(soql_unquote("'a'b'", 5, dec, &n), -1);
  assert_int_equal(soql_unquote("'a\\'", 4, dec, &n), -1);
  assert_int_equal(soql_unquote("'a\\x'", 5, dec, &n), -1);
  assert_int_equal(sql_unquote("'a''b'", 6, dec, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(sql_unquote("'a\\'", 4, dec, &n), -1);
  assert_int_equal(sql_unquote("'a'b'", 5, dec, &n), -1);
  assert_int_equal(ident_unquote("\"a\"\"b\"", 6, dec, &n), 0);
  assert_int_equal(ident_unquote("\"a\"b\"", 5, dec, &n), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_soql_quote),
      cmocka_unit_test(test_soql_identifier),
      cmocka_unit_test(test_sql_quote_ident),
      cmocka_unit_test(test_sql_quote_string),
      cmocka_unit_test(test_utf8_valid),
      cmocka_unit_test(test_unquoters_catch_escapes),
      cmocka_unit_test(test_property_roundtrip),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
