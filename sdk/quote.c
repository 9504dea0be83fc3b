/* quote.c - SOQL and Snowflake SQL literals and identifiers.
 *
 * Each quoting function checks the whole input before writing anything, so
 * a refused value leaves the query being built as it was.  The escapes are
 * Salesforce's "Quoted String Escape Sequences" and Snowflake's string
 * constant rules (shared/contracts/snowflake.md section 5.1).
 */
#include <stdint.h>
#include <string.h>

#include "sluice/error.h"
#include "sluice/quote.h"

#define SOQL_NAME_MAX 255

/* Length of the UTF-8 sequence at s[0, len), or 0 when it is not one (or is
 * a NUL).  Follows RFC 3629's table: no overlongs, no surrogates, nothing
 * past U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
  unsigned char c = s[0], lo = 0x80, hi = 0xBF;
  size_t n, i;

  if (c == 0)
    return 0;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0; /* overlong below U+0800 */
    else if (c == 0xED)
      hi = 0x9F; /* U+D800..U+DFFF are surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90; /* overlong below U+10000 */
    else if (c == 0xF4)
      hi = 0x8F; /* past U+10FFFF */
  } else {
    return 0; /* a continuation byte, C0, C1 or F5..FF */
  }
  if (len < n || s[1] < lo || s[1] > hi)
    return 0;
  for (i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xBF)
      return 0;
  return n;
}

int sluice_utf8_valid(const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, n;

  while (i < len) {
    n = utf8_seq(p + i, len - i);
    if (n == 0)
      return 0;
    i += n;
  }
  return 1;
}

static char upper(char c)
{
  return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static int is_alpha(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(char c)
{
  return c >= '0' && c <= '9';
}

/* --- SOQL ----------------------------------------------------------------- */

/* The escape letter for c in a SOQL literal, or 0 when c goes as it is. */
static char soql_escape(char c)
{
  switch (c) {
  case '\'': return '\'';
  case '"': return '"';
  case '\\': return '\\';
  case '\n': return 'n';
  case '\r': return 'r';
  case '\t': return 't';
  case '\b': return 'b'; /* the docs say "bell"; Salesforce means 0x08 */
  case '\f': return 'f';
  default: return 0;
  }
}

int sluice_soql_quote_string(const char *s, size_t len, struct sluice_buf *out)
{
  size_t i, extra = 2;
  char *d;

  if (s == NULL && len > 0)
    return SLUICE_EINVAL;
  if (!sluice_utf8_valid(s, len))
    return SLUICE_EINVAL;
  for (i = 0; i < len; i++)
    extra += soql_escape(s[i]) != 0;
  if (len > SIZE_MAX - extra || sluice_buf_reserve(out, len + extra) < 0)
    return SLUICE_ENOMEM;
  d = out->data + out->len;
  *d++ = '\'';
  for (i = 0; i < len; i++) {
    char e = soql_escape(s[i]);

    if (e != 0) {
      *d++ = '\\';
      *d++ = e;
    } else {
      *d++ = s[i];
    }
  }
  *d++ = '\'';
  out->len += len + extra;
  out->data[out->len] = '\0';
  return 0;
}

/* One name of a path, s[0, n). */
static int soql_name_ok(const char *s, size_t n)
{
  size_t i;

  if (n == 0 || n > SOQL_NAME_MAX || !is_alpha(s[0]) || s[n - 1] == '_')
    return 0;
  for (i = 1; i < n; i++) {
    if (s[i] == '_') {
      /* "__" separates a namespace or a suffix (__c, __r, __mdt...), and
       * what follows it is a name part: a letter first. */
      if (i + 1 < n && s[i + 1] == '_') {
        if (i + 2 >= n || !is_alpha(s[i + 2]))
          return 0;
        i += 1;
      }
    } else if (!is_alpha(s[i]) && !is_digit(s[i])) {
      return 0;
    }
  }
  return 1;
}

int sluice_soql_is_identifier(const char *s)
{
  const char *dot;

  if (s == NULL)
    return 0;
  for (;;) {
    dot = strchr(s, '.');
    if (!soql_name_ok(s, dot != NULL ? (size_t)(dot - s) : strlen(s)))
      return 0;
    if (dot == NULL)
      return 1;
    s = dot + 1;
  }
}

/* --- Snowflake ------------------------------------------------------------ */

int sluice_sql_quote_ident(const char *s, struct sluice_buf *out)
{
  size_t len, i, chars = 0, extra = 2;
  char *d;

  if (s == NULL || *s == '\0')
    return SLUICE_EINVAL;
  len = strlen(s);
  if (!sluice_utf8_valid(s, len))
    return SLUICE_EINVAL;
  for (i = 0; i < len; i++) {
    /* Snowflake counts characters: every byte but a continuation byte
     * starts one. */
    chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    extra += s[i] == '"';
  }
  if (chars > SLUICE_SQL_IDENT_MAX)
    return SLUICE_EINVAL;
  if (sluice_buf_reserve(out, len + extra) < 0)
    return SLUICE_ENOMEM;
  d = out->data + out->len;
  *d++ = '"';
  for (i = 0; i < len; i++) {
    if (s[i] == '"')
      *d++ = '"';
    /* Only ASCII is folded: Snowflake's own folding of unquoted non-ASCII
     * letters is not documented, and a name this writes is always quoted
     * from then on, so it only has to agree with itself. */
    *d++ = upper(s[i]);
  }
  *d++ = '"';
  out->len += len + extra;
  out->data[out->len] = '\0';
  return 0;
}

int sluice_sql_quote_string(const char *s, size_t len, struct sluice_buf *out)
{
  size_t i, extra = 2;
  char *d;

  if (s == NULL && len > 0)
    return SLUICE_EINVAL;
  if (!sluice_utf8_valid(s, len))
    return SLUICE_EINVAL;
  for (i = 0; i < len; i++)
    extra += s[i] == '\'' || s[i] == '\\';
  if (len > SIZE_MAX - extra || sluice_buf_reserve(out, len + extra) < 0)
    return SLUICE_ENOMEM;
  d = out->data + out->len;
  *d++ = '\'';
  for (i = 0; i < len; i++) {
    /* '' is the standard SQL form for a quote; a backslash must be
     * doubled, or "\'" in the value would end up escaping our quote. */
    if (s[i] == '\'' || s[i] == '\\')
      *d++ = s[i];
    *d++ = s[i];
  }
  *d++ = '\'';
  out->len += len + extra;
  out->data[out->len] = '\0';
  return 0;
}
