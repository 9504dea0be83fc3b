/* sluice/convert.h - text <-> typed value conversions, and config units.
 *
 * Parsers are strict: the whole input must be the value (no leading or
 * trailing blanks, no trailing garbage), and they return SLUICE_EINVAL
 * otherwise, leaving *out unchanged.  Pure functions: any thread.
 * Since ABI 1.0.
 */
#ifndef SLUICE_CONVERT_H
#define SLUICE_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/batch.h"
#include "sluice/buf.h"
#include "sluice/error.h"
#include "sluice/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* [+-]digits, range-checked. */
SLUICE_API int sluice_parse_int64(const char *s, size_t len, int64_t *out);
/* strtod syntax without hex, inf or nan; finite only. */
SLUICE_API int sluice_parse_double(const char *s, size_t len, double *out);
/* true/false, t/f, yes/no, y/n, 1/0, in any case. */
SLUICE_API int sluice_parse_bool(const char *s, size_t len, int *out);
/* Exact decimal: [+-]digits[.digits] or with an exponent ("1.5E3").
 * Appends the canonical form (no '+', no exponent, no needless leading
 * zeros, "-0" as "0", trailing fraction zeros kept) to out.  When scale >= 0
 * the value is given exactly that many fraction digits, and fails if that
 * would drop a non-zero digit; when precision > 0, fails if the integer
 * part has more than precision - scale digits. */
SLUICE_API int sluice_parse_decimal(const char *s, size_t len, int precision,
                                    int scale, struct sluice_buf *out);
/* YYYY-MM-DD (years 0001-9999), a real calendar date. */
SLUICE_API int sluice_parse_date(const char *s, size_t len, int32_t *days);
/* HH:MM:SS[.f{1,9}] (fraction truncated to microseconds). */
SLUICE_API int sluice_parse_time(const char *s, size_t len, int64_t *us);
/* ISO 8601: a date, 'T' or ' ', a time, then 'Z', +HH:MM, +HHMM, +HH or
 * nothing (UTC).  "2024-05-01T12:00:00.000+0000" (Salesforce) included.
 * A bare date is midnight UTC. */
SLUICE_API int sluice_parse_timestamp(const char *s, size_t len, int64_t *us);

/* Days since the epoch <-> civil date (proleptic Gregorian). */
SLUICE_API int32_t sluice_days_from_civil(int y, int m, int d);
SLUICE_API void sluice_civil_from_days(int32_t days, int *y, int *m, int *d);

/* Canonical text of a value, appended to out:
 * BOOL "true"/"false"; INT64 decimal; DOUBLE the shortest text that reads
 * back to the same double ("NaN", "Infinity", "-Infinity" when not finite);
 * DECIMAL and STRING as is; DATE "YYYY-MM-DD"; TIME "HH:MM:SS[.ffffff]";
 * TIMESTAMP "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (for both, the fraction only
 * when not zero, 3 digits when whole milliseconds, else 6); BINARY as
 * base64; NULL appends nothing. */
SLUICE_API int sluice_value_format(const struct sluice_value *v,
                                   struct sluice_buf *out);

/* Parses text as type t (per the parsers above; STRING copies; BINARY
 * decodes base64; DECIMAL keeps scale/precision of `field` when given)
 * into row/col of b.  On failure err says "cannot read 'abc' as int64". */
SLUICE_API int sluice_batch_set_text(struct sluice_batch *b, size_t row,
                                     size_t col, enum sluice_type t,
                                     const char *s, size_t len,
                                     struct sluice_error *err);

/* The type named by a pipeline file's type string: "string", "int64"
 * (also "int", "integer", "bigint"), "double" ("float", "real"), "decimal"
 * or "number(p,s)"/"decimal(p,s)" (precision and scale out, -1 when not
 * given), "bool"/"boolean", "date", "time", "timestamp" ("datetime"),
 * "binary".  Case-insensitive.  SLUICE_EINVAL when unknown. */
SLUICE_API int sluice_type_parse(const char *s, enum sluice_type *t,
                                 int *precision, int *scale);

/* Config units: "500ms" "30s" "15m" "2h" "1d" "1w" (a bare number is
 * seconds) into milliseconds; "1048576" "64k" "8M" "1G" (also "KiB",
 * "MB"...: powers of 1024) into bytes. */
SLUICE_API int sluice_parse_duration(const char *s, int64_t *ms);
SLUICE_API int sluice_parse_size(const char *s, int64_t *bytes);

/* Edit distance (Levenshtein, bytes), and the candidate closest to word
 * when it is near enough to be a likely typo (distance <= 2, or <= a third
 * of the word's length when longer, and not every byte different); the
 * first such on a tie; NULL when none is. */
SLUICE_API size_t sluice_edit_distance(const char *a, const char *b);
SLUICE_API const char *sluice_closest(const char *word,
                                      const char *const *candidates, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_CONVERT_H */
