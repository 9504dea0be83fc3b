/* tests/fuzz/fuzz_bulk2.c - a Bulk API 2.0 query result page (CSV) on any
 * bytes, through what salesforce-bulk2 does with one: the SDK's CSV
 * reader (the page fed in two pieces, split where the first byte says),
 * the first record as the header naming the columns, and every value
 * typed into a batch by b2_set_text.  Nothing may crash, leak or read out
 * of bounds; a value that fails must leave no half row behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sluice/csv.h>

#include "sf_bulk2.h"

static struct sf_field fields[] = {
    {"Id", "id", SLUICE_TYPE_STRING, 0, 0},
    {"Name", "string", SLUICE_TYPE_STRING, 0, 0},
    {"Amount__c", "currency", SLUICE_TYPE_DECIMAL, 18, 2},
    {"N__c", "int", SLUICE_TYPE_INT64, 0, 0},
    {"D__c", "double", SLUICE_TYPE_DOUBLE, 0, 0},
    {"IsDeleted", "boolean", SLUICE_TYPE_BOOL, 0, 0},
    {"Day__c", "date", SLUICE_TYPE_DATE, 0, 0},
    {"T__c", "time", SLUICE_TYPE_TIME, 0, 0},
    {"SystemModstamp", "datetime", SLUICE_TYPE_TIMESTAMP, 0, 0},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

struct page {
  struct sluice_batch *b;
  long colmap[64]; /* CSV column -> field, -1: not read */
  size_t ncols;
  long col_deleted;
  int header_seen;
};

static int on_record(void *arg, const struct sluice_csv_field *f, size_t n,
                     const struct sluice_csv_pos *pos)
{
  struct page *p = arg;
  size_t row, i, before;
  enum sluice_op op = SLUICE_OP_UPSERT;

  (void)pos;
  if (!p->header_seen) { /* as on_header: columns by name */
    if (n > sizeof p->colmap / sizeof p->colmap[0])
      return -1;
    p->ncols = n;
    p->col_deleted = -1;
    for (i = 0; i < n; i++) {
      p->colmap[i] = -1;
      for (size_t k = 0; k < NFIELDS; k++)
        if (strlen(fields[k].name) == f[i].len &&
            strncasecmp(fields[k].name, f[i].ptr, f[i].len) == 0)
          p->colmap[i] = (long)k;
      if (p->colmap[i] >= 0 &&
          strcmp(fields[p->colmap[i]].name, "IsDeleted") == 0)
        p->col_deleted = (long)i;
    }
    p->header_seen = 1;
    return 0;
  }
  if (n != p->ncols)
    return 0; /* the plugin fails the run here */
  if (p->col_deleted >= 0 && f[p->col_deleted].len == 4 &&
      memcmp(f[p->col_deleted].ptr, "true", 4) == 0)
    op = SLUICE_OP_DELETE;
  before = sluice_batch_nrows(p->b);
  if (sluice_batch_add_row(p->b, op, &row) < 0)
    return -1;
  for (i = 0; i < n; i++) {
    long k = p->colmap[i];
    if (k < 0 || f[i].len == 0)
      continue;
    if (b2_set_text(p->b, row, (size_t)k, &fields[k], f[i].ptr, f[i].len) < 0) {
      sluice_batch_drop_last_row(p->b);
      if (sluice_batch_nrows(p->b) != before)
        abort();
      return 0;
    }
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct sluice_schema *s = sf_describe_schema(fields, NFIELDS);
  struct sluice_csv_options opt = {0};
  struct sluice_csv_reader *rd;
  struct sluice_error err = {0};
  struct page p = {0};
  const char *text = (const char *)data + 1;
  size_t len, split, used = 0;

  if (size == 0 || s == NULL) {
    sluice_schema_unref(s);
    return 0;
  }
  len = size - 1;
  split = len ? data[0] % (len + 1) : 0;
  opt.max_record_bytes = 4096; /* small, so that the limit is reached too */
  p.b = sluice_batch_new(s, 0, 0);
  rd = sluice_csv_reader_new(&opt);
  if (p.b != NULL && rd != NULL) {
    sluice_csv_reader_set_callbacks(rd, on_record, NULL, &p);
    if (sluice_csv_reader_feed(rd, text, split, &used, &err) == 0 &&
        sluice_csv_reader_feed(rd, text + split, len - split, &used, &err) == 0)
      sluice_csv_reader_finish(rd, &err);
  }
  sluice_csv_reader_free(rd);
  sluice_batch_unref(p.b);
  sluice_schema_unref(s);
  return 0;
}
