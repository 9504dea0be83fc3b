/* plugins/snowflake-common/sfk_sql.c - pieces of SQL text (contract section
 * 5): qualified names, column types, type checks for drift. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sluice/quote.h>

#include "sfk.h"

int sfk_sql_table_name(struct sfk_ctx *c, const char *name,
                       struct sluice_buf *out)
{
  int rc = 0;

  if (c->database && *c->database) {
    rc = sluice_sql_quote_ident(c->database, out);
    if (rc == 0)
      rc = sluice_buf_append_str(out, ".");
  }
  if (rc == 0 && c->schema && *c->schema) {
    rc = sluice_sql_quote_ident(c->schema, out);
    if (rc == 0)
      rc = sluice_buf_append_str(out, ".");
  }
  if (rc == 0)
    rc = sluice_sql_quote_ident(name, out);
  return rc;
}

int sfk_sql_literal(const char *text, struct sluice_buf *out)
{
  if (text == NULL)
    return sluice_buf_append_str(out, "NULL");
  return sluice_sql_quote_string(text, strlen(text), out);
}

/* Salesforce describe types (contract 5.4).  NULL: go by the sluice
 * type. */
static const char *salesforce_type(const char *t)
{
  if (strcmp(t, "id") == 0 || strcmp(t, "reference") == 0)
    return "VARCHAR(18)";
  if (strcmp(t, "int") == 0 || strcmp(t, "long") == 0)
    return "NUMBER(38,0)";
  if (strcmp(t, "datetime") == 0)
    return "TIMESTAMP_TZ";
  return NULL;
}

const char *sfk_sql_column_type(const struct sluice_field *f, char *buf,
                                size_t buflen)
{
  const char *t;

  if (f->origin != NULL && strncmp(f->origin, "salesforce:", 11) == 0 &&
      (t = salesforce_type(f->origin + 11)) != NULL)
    return t;
  switch (f->type) {
  case SLUICE_TYPE_BOOL: return "BOOLEAN";
  case SLUICE_TYPE_INT64: return "NUMBER(38,0)";
  case SLUICE_TYPE_DOUBLE: return "FLOAT";
  case SLUICE_TYPE_DECIMAL:
    snprintf(buf, buflen, "NUMBER(%d,%d)", f->precision > 0 ? f->precision : 38,
             f->scale);
    return buf;
  case SLUICE_TYPE_DATE: return "DATE";
  case SLUICE_TYPE_TIME: return "TIME";
  case SLUICE_TYPE_TIMESTAMP:
    /* A zone-less origin (Snowflake NTZ) stays zone-less. */
    if (f->origin && strcmp(f->origin, "snowflake:timestamp_ntz") == 0)
      return "TIMESTAMP_NTZ";
    if (f->origin && strcmp(f->origin, "snowflake:timestamp_ltz") == 0)
      return "TIMESTAMP_LTZ";
    return "TIMESTAMP_TZ";
  case SLUICE_TYPE_BINARY: return "BINARY";
  default: return "VARCHAR";
  }
}

int sfk_sql_type_fits(const struct sluice_field *f, const char *have,
                      int precision, int scale)
{
  (void)precision;
  switch (f->type) {
  case SLUICE_TYPE_BOOL: return strcasecmp(have, "BOOLEAN") == 0;
  case SLUICE_TYPE_INT64: return strcasecmp(have, "NUMBER") == 0 && scale == 0;
  case SLUICE_TYPE_DECIMAL:
    return strcasecmp(have, "NUMBER") == 0 && scale >= f->scale;
  case SLUICE_TYPE_DOUBLE:
    return strcasecmp(have, "FLOAT") == 0 || strcasecmp(have, "REAL") == 0 ||
           strcasecmp(have, "DOUBLE") == 0;
  case SLUICE_TYPE_DATE: return strcasecmp(have, "DATE") == 0;
  case SLUICE_TYPE_TIME: return strcasecmp(have, "TIME") == 0;
  case SLUICE_TYPE_TIMESTAMP: return strncasecmp(have, "TIMESTAMP", 9) == 0;
  case SLUICE_TYPE_BINARY: return strcasecmp(have, "BINARY") == 0;
  default:
    return strcasecmp(have, "TEXT") == 0 ||
           strncasecmp(have, "VARCHAR", 7) == 0 ||
           strcasecmp(have, "VARIANT") == 0;
  }
}

int sfk_sql_columns_query(struct sfk_ctx *c, const char *table,
                          struct sluice_buf *out)
{
  char up[256];
  size_t i;
  int rc = 0;

  /* Unquoted names are upper case in the catalog, and sluice quotes
   * every name upper-cased. */
  for (i = 0; table[i] && i + 1 < sizeof up; i++)
    up[i] =
        (table[i] >= 'a' && table[i] <= 'z') ? (char)(table[i] - 32) : table[i];
  up[i] = '\0';
  rc = sluice_buf_append_str(out, "SELECT COLUMN_NAME, DATA_TYPE, "
                                  "NUMERIC_PRECISION, NUMERIC_SCALE FROM ");
  if (rc == 0 && c->database && *c->database) {
    rc = sluice_sql_quote_ident(c->database, out);
    rc = rc ? rc : sluice_buf_append_str(out, ".");
  }
  rc = rc ? rc
          : sluice_buf_append_str(out, "INFORMATION_SCHEMA.COLUMNS WHERE "
                                       "TABLE_NAME = ");
  rc = rc ? rc : sfk_sql_literal(up, out);
  if (rc == 0 && c->schema && *c->schema) {
    char sch[256];
    for (i = 0; c->schema[i] && i + 1 < sizeof sch; i++)
      sch[i] = (c->schema[i] >= 'a' && c->schema[i] <= 'z')
                   ? (char)(c->schema[i] - 32)
                   : c->schema[i];
    sch[i] = '\0';
    rc = sluice_buf_append_str(out, " AND TABLE_SCHEMA = ");
    rc = rc ? rc : sfk_sql_literal(sch, out);
  }
  return rc ? rc : sluice_buf_append_str(out, " ORDER BY ORDINAL_POSITION");
}
