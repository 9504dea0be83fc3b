/* plugins/snowflake-sql/sfk_plugin.c - the descriptor, the source's
 * config keys, init/fini (the rest is in plugins/snowflake-common). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/quote.h>

#include "sfk.h"

#define SRC SLUICE_CFG_SOURCE

#ifndef SFK_VERSION
#define SFK_VERSION "0.1.0"
#endif

static const struct sluice_config_entry sfk_config[] = {
    {"query", SLUICE_CFG_STRING, SRC, NULL, NULL,
     offsetof(struct sfk_ctx, query),
     "source: the SELECT to read (or give view)"},
    {"view", SLUICE_CFG_STRING, SRC, NULL, NULL, offsetof(struct sfk_ctx, view),
     "source: a view or table to read whole (or give query)"},
    SFK_DEST_CONFIG_ENTRIES,
    {NULL, 0, 0, NULL, NULL, 0, NULL}};

static int check_config(struct sfk_ctx *c, struct sluice_error *err)
{
  /* Source keys are bound only for a source, destination keys (with
   * their defaults) only for a destination. */
  if (c->write == NULL && (c->query != NULL) == (c->view != NULL))
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "give query or view (one of them)");
  return c->write != NULL ? sfk_dest_check_config(c, err) : 0;
}

static int sfk_init(struct sluice_instance *ins, const struct sluice_host *host,
                    void *ctx, struct sluice_error *err)
{
  struct sfk_ctx *c = ctx;
  int rc;

  c->host = host;
  c->ins = ins;
  if ((rc = check_config(c, err)) < 0)
    return rc;
  return sfk_ctx_init(c, ins, host, err);
}

static void sfk_fini(struct sluice_instance *ins, void *ctx)
{
  (void)ins;
  sfk_source_free(ctx);
  sfk_ctx_release(ctx);
}

static const struct sluice_plugin sfk_plugin = {
    SLUICE_PLUGIN_HEADER(SLUICE_KIND_SOURCE | SLUICE_KIND_DESTINATION),
    .name = "snowflake-sql",
    .version = SFK_VERSION,
    .description = "Snowflake SQL API v2: reads a query's result partitions; "
                   "writes by array-bound INSERTs into a staging table and "
                   "one MERGE",
    .connection_type = "snowflake",
    .config = sfk_config,
    .connection_config = sfk_connection_config,
    .ctx_size = sizeof(struct sfk_ctx),
    .init = sfk_init,
    .fini = sfk_fini,
    .check = sfk_check,
    .source_start = sfk_source_start,
    .source_pause = sfk_source_pause,
    .source_resume = sfk_source_resume,
    .source_stop = sfk_source_stop,
    .dest_open = sfk_dest_open,
    .dest_write = sfk_dest_write,
    .dest_commit = sfk_dest_commit,
    .count = sfk_count,
    .source_keys = sfk_source_keys,
    .sweep_keys = sfk_sweep_keys,
    .sweep_open = sfk_sweep_open,
    .sweep_write = sfk_sweep_write,
    .sweep_finish = sfk_sweep_finish,
};

SLUICE_PLUGIN_DEFINE(sfk_plugin)
