/* sluice/quote.h - quoting values and names into SOQL and Snowflake SQL.
 *
 * Every piece of text that goes into a query goes through one of these, so
 * no value can end its literal early and inject query text.  Each quoting
 * function appends to out and returns 0, or returns SLUICE_EINVAL (text
 * that cannot be quoted) or SLUICE_ENOMEM with out unchanged.  Pure
 * functions: any thread.
 *
 * Since ABI 1.0.
 */
#ifndef SLUICE_QUOTE_H
#define SLUICE_QUOTE_H

#include <stddef.h>

#include "sluice/buf.h"
#include "sluice/error.h"
#include "sluice/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- SOQL (Salesforce) ---------------------------------------------------- */

/* Appends s[0, len) as a SOQL string literal '...', with the escapes SOQL
 * defines: \' \" \\ \n \r \t \b (backspace, 0x08) \f.  Other bytes go as
 * they are (the literal travels percent-encoded in the URL).  '%' and '_'
 * are not escaped: their \% and \_ escapes are errors outside LIKE, so this
 * literal matches them as wildcards in a LIKE pattern.  SLUICE_EINVAL for a
 * NUL byte or text that is not UTF-8. */
SLUICE_API int sluice_soql_quote_string(const char *s, size_t len,
                                        struct sluice_buf *out);

/* 1 when s is a SOQL field or object name, or a relationship path of them
 * ("Account", "Custom_Field__c", "ns__Obj__c", "Owner.Name",
 * "Parent__r.Owner.Profile.Name"), else 0: every dot-separated name starts
 * with an ASCII letter, has only letters, digits and '_', has no "___",
 * does not end with '_', each part after a "__" starts with a letter, and
 * is at most 255 bytes long.  Such a name can go into a query unquoted. */
SLUICE_API int sluice_soql_is_identifier(const char *s);

/* --- Snowflake SQL -------------------------------------------------------- */

/* The longest Snowflake identifier, in characters. */
#define SLUICE_SQL_IDENT_MAX 255

/* Appends s as a quoted Snowflake identifier: "NAME", with ASCII letters
 * upper-cased (so Account and ACCOUNT are the same column, and reserved
 * words such as Case, Order, Group are safe) and each '"' doubled.
 * SLUICE_EINVAL when s is NULL, empty, not UTF-8, or longer than 255
 * characters. */
SLUICE_API int sluice_sql_quote_ident(const char *s, struct sluice_buf *out);

/* Appends s[0, len) as a Snowflake string literal '...': each ' doubled and
 * each backslash doubled (in a single-quoted Snowflake string the
 * backslash starts an escape sequence).  SLUICE_EINVAL for a NUL byte or
 * text that is not UTF-8 (the SQL API takes the statement as JSON). */
SLUICE_API int sluice_sql_quote_string(const char *s, size_t len,
                                       struct sluice_buf *out);

/* 1 when s[0, len) is valid UTF-8 (no overlong forms, no surrogates, at
 * most U+10FFFF) without NUL bytes, else 0. */
SLUICE_API int sluice_utf8_valid(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_QUOTE_H */
