/* tests/fuzz/fuzz_cometd.c - salesforce-cdc's reading of Bayeux replies on
 * any bytes: the reply parsed (meta message and events), every event's
 * record ids added to a chunk of rows, the chunk dropped.  Nothing may
 * crash, leak or read out of bounds, and an id that passes must be one a
 * SOQL literal can hold. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sf_cdc.h"

int sf_api_base(struct sf_ctx *c, struct sluice_buf *out)
{
  return sluice_buf_printf(out, "/services/data/v%s", c->api_version);
}
int sf_api_get(struct sf_ctx *c, const char *path,
               const struct sluice_http_header *h, size_t nh, sf_api_cb cb,
               void *arg, struct sf_api_call **out, struct sluice_error *err)
{
  (void)c, (void)path, (void)h, (void)nh, (void)cb, (void)arg, (void)out;
  return sluice_error_set(err, SLUICE_ENOTSUP, 0, "no API in the fuzzer");
}
void sf_api_cancel(struct sf_api_call *call)
{
  (void)call;
}

static int on_event(void *arg, const struct cdc_event *ev,
                    struct sluice_error *err)
{
  size_t i;
  json_t *id;

  json_array_foreach(ev->record_ids, i, id)
  {
    if (strchr(json_string_value(id), '\'') != NULL)
      abort(); /* would escape its SOQL quotes */
  }
  (void)cdc_change_name(ev->change);
  return cdc_rows_add(arg, ev, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct cdc_ctx ctx;
  static struct sluice_schema *schema;
  struct sluice_error err = {0};
  struct cdc_meta meta;
  struct cdc_rows *rows;
  json_t *j = json_loadb((const char *)data, size, 0, NULL);

  if (j == NULL)
    return 0;
  if (schema == NULL && (schema = sluice_schema_new(1)) != NULL)
    sluice_schema_set(schema, 0, "Id", SLUICE_TYPE_STRING);
  ctx.fetch_full_records = size % 2;
  rows = cdc_rows_new(&ctx, NULL, 0, schema);
  if (rows != NULL) {
    (void)cdc_reply_parse(j, "/meta/connect", &meta, on_event, rows, &err);
    (void)cdc_error_is_replay_invalid(meta.error);
    cdc_rows_free(rows);
  }
  json_decref(j);
  return 0;
}
