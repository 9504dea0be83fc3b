/* tests/fuzz/fuzz_quote.c - a property of the quoting functions: no input
 * escapes its quotes.  A Snowflake literal, read back by Snowflake's rules
 * ('' and \x escapes), gives the input; an identifier's inner quotes are
 * doubled; a SOQL literal has no unescaped quote or backslash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/quote.h>

static void check_sql_literal(const char *in, size_t len)
{
  struct sluice_buf out = SLUICE_BUF_INIT, back = SLUICE_BUF_INIT;
  size_t i;

  if (sluice_sql_quote_string(in, len, &out) != 0)
    return; /* refused (NUL, bad UTF-8): nothing written to check */
  if (out.len < 2 || out.data[0] != '\'' || out.data[out.len - 1] != '\'')
    abort();
  for (i = 1; i + 1 < out.len; i++) {
    char c = out.data[i];
    if (c == '\'') {
      if (i + 2 >= out.len || out.data[i + 1] != '\'')
        abort(); /* a lone quote ends the literal early */
      sluice_buf_append(&back, "'", 1);
      i++;
    } else if (c == '\\') {
      if (i + 2 >= out.len)
        abort();
      sluice_buf_append(&back, &out.data[++i], 1);
    } else {
      sluice_buf_append(&back, &c, 1);
    }
  }
  if (back.len != len || (len && memcmp(back.data, in, len) != 0))
    abort();
  sluice_buf_free(&out);
  sluice_buf_free(&back);
}

static void check_ident(const char *in, size_t len)
{
  struct sluice_buf out = SLUICE_BUF_INIT;
  char *z = malloc(len + 1);
  size_t i;

  memcpy(z, in, len);
  z[len] = '\0';
  if (memchr(in, '\0', len) == NULL && sluice_sql_quote_ident(z, &out) == 0) {
    if (out.len < 2 || out.data[0] != '"' || out.data[out.len - 1] != '"')
      abort();
    for (i = 1; i + 1 < out.len; i++)
      if (out.data[i] == '"') {
        if (out.data[i + 1] != '"' || i + 2 >= out.len)
          abort();
        i++;
      }
  }
  free(z);
  sluice_buf_free(&out);
}

static void check_soql(const char *in, size_t len)
{
  struct sluice_buf out = SLUICE_BUF_INIT;
  size_t i;

  if (sluice_soql_quote_string(in, len, &out) == 0) {
    if (out.len < 2 || out.data[0] != '\'' || out.data[out.len - 1] != '\'')
      abort();
    for (i = 1; i + 1 < out.len; i++) {
      if (out.data[i] == '\\') {
        i++; /* an escape: the next byte is data */
        if (i + 1 >= out.len)
          abort();
      } else if (out.data[i] == '\'') {
        abort();
      }
    }
  }
  sluice_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *s = (const char *)data;

  check_sql_literal(s, size);
  check_ident(s, size);
  check_soql(s, size);
  return 0;
}
