/* plugins/salesforce-bulk2/sf_bulk2_text.c - one value of a Bulk 2.0
 * query result page (CSV text) into a batch.  Pure, apart from the
 * loop, so that tests/fuzz/fuzz_bulk2.c feeds it what a page may hold. */
#include <string.h>

#include <sluice/buf.h>
#include <sluice/convert.h>

#include "sf_bulk2.h"

/* One value of Bulk CSV text into the row, typed as sf_query.c types the
 * same field in REST JSON. */
int b2_set_text(struct sluice_batch *bt, size_t row, size_t col,
                const struct sf_field *f, const char *s, size_t len)
{
  struct sluice_buf dec = SLUICE_BUF_INIT;
  int64_t i64, us;
  int32_t days;
  double d;
  int v, rc;

  switch (f->type) {
  case SLUICE_TYPE_BOOL:
    if (len == 4 && memcmp(s, "true", 4) == 0)
      return sluice_batch_set_bool(bt, row, col, 1);
    if (len == 5 && memcmp(s, "false", 5) == 0)
      return sluice_batch_set_bool(bt, row, col, 0);
    if (sluice_parse_bool(s, len, &v) == 0)
      return sluice_batch_set_bool(bt, row, col, v);
    return SLUICE_EDATA;
  case SLUICE_TYPE_INT64:
    if (sluice_parse_int64(s, len, &i64) == 0)
      return sluice_batch_set_int64(bt, row, col, i64);
    /* "12.0" in an int field (contract 4.3: Estuary falls back).  The
     * range first: converting a double outside int64 (1e19) to int64 is
     * undefined behaviour (found by fuzz_bulk2). */
    if (sluice_parse_double(s, len, &d) == 0 && d > -9.2e18 && d < 9.2e18 &&
        d == (double)(int64_t)d)
      return sluice_batch_set_int64(bt, row, col, (int64_t)d);
    return SLUICE_EDATA;
  case SLUICE_TYPE_DOUBLE:
    if (sluice_parse_double(s, len, &d) == 0)
      return sluice_batch_set_double(bt, row, col, d);
    return SLUICE_EDATA;
  case SLUICE_TYPE_DECIMAL:
    rc = sluice_parse_decimal(s, len, f->precision, f->scale, &dec);
    if (rc == 0)
      rc = sluice_batch_set_decimal(bt, row, col, dec.data ? dec.data : "0",
                                    dec.len ? dec.len : 1);
    else
      rc = SLUICE_EDATA;
    sluice_buf_free(&dec);
    return rc;
  case SLUICE_TYPE_DATE:
    if (sluice_parse_date(s, len, &days) == 0)
      return sluice_batch_set_date(bt, row, col, days);
    return SLUICE_EDATA;
  case SLUICE_TYPE_TIMESTAMP:
    if (sluice_parse_timestamp(s, len, &us) == 0)
      return sluice_batch_set_timestamp(bt, row, col, us);
    return SLUICE_EDATA;
  case SLUICE_TYPE_TIME:
    if (len > 0 && s[len - 1] == 'Z') /* the time of day, in UTC */
      len--;
    if (sluice_parse_time(s, len, &us) == 0)
      return sluice_batch_set_time(bt, row, col, us);
    return SLUICE_EDATA;
  default: return sluice_batch_set_string(bt, row, col, s, len);
  }
}
