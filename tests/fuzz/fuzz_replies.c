/* tests/fuzz/fuzz_replies.c - the parsers of service replies on any bytes:
 * the first byte picks one, the rest is the reply.
 *   0  an OAuth token reply (sluice_oauth_parse_token), status from byte 1
 *   1  a Snowflake result: rowType and data into a batch (sfk_value.c)
 *   2  a Salesforce query page's records into a batch (sf_query.c)
 * Nothing may crash, leak or read out of bounds; a row that fails must
 * leave no half row behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <sluice/auth.h>

#include "sf.h"
#include "sfk.h"

/* sf_query.c names the REST base through sf_api.c. */
int sf_api_base(struct sf_ctx *c, struct sluice_buf *out)
{
  return sluice_buf_printf(out, "/services/data/v%s", c->api_version);
}

static void oauth(const uint8_t *d, size_t n)
{
  struct sluice_oauth_token t;
  struct sluice_error err = {0};
  long status = n ? 200 + (d[0] % 4) * 100 : 200; /* 200 300 400 500 */

  sluice_oauth_parse_token(status, n ? (const char *)d + 1 : "", n ? n - 1 : 0,
                           "fuzz", &t, &err);
  sluice_oauth_token_free(&t);
}

static void snowflake(json_t *j)
{
  struct sluice_error err = {0};
  struct sfk_column *cols = NULL;
  size_t ncols = 0, i;
  json_t *row;

  if (sfk_columns_from_rowtype(
          json_object_get(json_object_get(j, "resultSetMetaData"), "rowType"),
          &cols, &ncols, &err) == 0) {
    struct sluice_schema *s = sfk_columns_schema(cols, ncols);
    struct sluice_batch *b = s ? sluice_batch_new(s, 0, 0) : NULL;
    json_array_foreach(json_object_get(j, "data"), i, row)
    {
      size_t before = b ? sluice_batch_nrows(b) : 0;
      if (b && sfk_row_to_batch(cols, ncols, row, b, &err) < 0 &&
          sluice_batch_nrows(b) != before)
        abort();
    }
    sluice_batch_unref(b);
    sluice_schema_unref(s);
    sfk_columns_free(cols, ncols);
  }
}

static void salesforce(json_t *j)
{
  static struct sf_field fields[] = {
      {"Id", "id", SLUICE_TYPE_STRING, 0, 0},
      {"Amount__c", "currency", SLUICE_TYPE_DECIMAL, 18, 2},
      {"N__c", "int", SLUICE_TYPE_INT64, 0, 0},
      {"D__c", "double", SLUICE_TYPE_DOUBLE, 0, 0},
      {"B__c", "boolean", SLUICE_TYPE_BOOL, 0, 0},
      {"Day__c", "date", SLUICE_TYPE_DATE, 0, 0},
      {"T__c", "time", SLUICE_TYPE_TIME, 0, 0},
      {"SystemModstamp", "datetime", SLUICE_TYPE_TIMESTAMP, 0, 0},
      {"BillingAddress", "address", SLUICE_TYPE_STRING, 0, 0},
  };
  const size_t n = sizeof fields / sizeof fields[0];
  struct sluice_schema *s = sf_describe_schema(fields, n);
  struct sluice_batch *b = s ? sluice_batch_new(s, 0, 0) : NULL;
  struct sluice_error err = {0};
  json_t *rec;
  size_t i;

  json_array_foreach(json_object_get(j, "records"), i, rec)
  {
    size_t before = b ? sluice_batch_nrows(b) : 0;
    if (b && sf_query_record_to_row(fields, n, rec, 64, b, &err) < 0 &&
        sluice_batch_nrows(b) != before)
      abort();
  }
  sluice_batch_unref(b);
  sluice_schema_unref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  json_t *j;

  if (size == 0)
    return 0;
  if (data[0] % 3 == 0) {
    oauth(data + 1, size - 1);
    return 0;
  }
  j = json_loadb((const char *)data + 1, size - 1, 0, NULL);
  if (j == NULL)
    return 0;
  if (data[0] % 3 == 1)
    snowflake(j);
  else
    salesforce(j);
  json_decref(j);
  return 0;
}
