/* plugins/salesforce-rest/sf_plugin.c - the salesforce-rest descriptor
 * and its destination's config map (sObject Collections). */
#include <stddef.h>

#include "sf.h"

#ifndef SF_REST_VERSION
#define SF_REST_VERSION "0.1.0"
#endif

static const struct sluice_config_entry sf_connection_config[] = {
    SF_CONNECTION_CONFIG, {NULL, 0, 0, NULL, NULL, 0, NULL}};

static const struct sluice_config_entry sf_config[] = {
    SF_SOURCE_CONFIG,
    {"operation", SLUICE_CFG_ENUM, SF_DST, "upsert",
     "insert|update|upsert|delete", offsetof(struct sf_ctx, operation),
     "destination: how rows are written with sObject Collections (update "
     "and delete need an Id column, upsert external_id)"},
    {"external_id", SLUICE_CFG_STRING, SF_DST, NULL, NULL,
     offsetof(struct sf_ctx, external_id),
     "destination, upsert: the External ID field records are matched by"},
    {"reject_file", SLUICE_CFG_STRING, SF_DST, NULL, NULL,
     offsetof(struct sf_ctx, reject_file),
     "destination: a CSV (mode 0600, appended) of the records Salesforce "
     "refused: their columns, then sf__Operation, sf__StatusCode and "
     "sf__Error (\"STATUS_CODE: message [fields]\")"},
    {"all_or_none", SLUICE_CFG_BOOL, SF_DST, "false", NULL,
     offsetof(struct sf_ctx, all_or_none),
     "destination: a request (up to 200 records) is written whole or not "
     "at all; every record of a refused request is rejected"},
    {NULL, 0, 0, NULL, NULL, 0, NULL}};

static int sf_init(struct sluice_instance *ins, const struct sluice_host *host,
                   void *ctx, struct sluice_error *err)
{
  return sf_common_init(ins, host, ctx, err);
}

static void sf_fini(struct sluice_instance *ins, void *ctx)
{
  (void)ins;
  sf_dest_free(ctx);
  sf_common_fini(ctx);
}

static const struct sluice_plugin sf_plugin = {
    SLUICE_PLUGIN_HEADER(SLUICE_KIND_SOURCE | SLUICE_KIND_DESTINATION),
    .name = "salesforce-rest",
    .version = SF_REST_VERSION,
    .description = "Salesforce REST API: SOQL query/queryAll of one "
                   "sObject, full or incremental by SystemModstamp; "
                   "writes with sObject Collections",
    .connection_type = "salesforce",
    .config = sf_config,
    .connection_config = sf_connection_config,
    .ctx_size = sizeof(struct sf_ctx),
    .init = sf_init,
    .fini = sf_fini,
    .check = sf_common_check,
    .source_start = sf_source_start,
    .source_pause = sf_source_pause,
    .source_resume = sf_source_resume,
    .source_stop = sf_source_stop,
    .dest_open = sf_dest_open,
    .dest_write = sf_dest_write,
    .dest_commit = sf_dest_commit,
    .count = sf_common_count,
    .source_keys = sf_source_keys,
};

SLUICE_PLUGIN_DEFINE(sf_plugin)
