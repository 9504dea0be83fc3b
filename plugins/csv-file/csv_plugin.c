/* plugins/csv-file/csv_plugin.c - the descriptor and config map. */
#include <stddef.h>
#include <stdlib.h>

#include "config.h"
#include "csv_file.h"

#define SRC SLUICE_CFG_SOURCE
#define DST SLUICE_CFG_DESTINATION

static const struct sluice_config_entry csv_config[] = {
    {"path", SLUICE_CFG_STRING, SLUICE_CFG_REQUIRED, NULL, NULL,
     offsetof(struct csv_ctx, path),
     "source: a file or a glob (\"in/*.csv\"); destination: the file to "
     "write, may use {pipeline}, {run_id}, {date}"},
    {"delimiter", SLUICE_CFG_STRING, 0, ",", NULL,
     offsetof(struct csv_ctx, delimiter),
     "the field separator: one character, or \"\\t\""},
    {"header", SLUICE_CFG_BOOL, 0, "true", NULL,
     offsetof(struct csv_ctx, header),
     "the first line names the columns (read, or written)"},
    {"columns", SLUICE_CFG_STRLIST, SRC, NULL, NULL,
     offsetof(struct csv_ctx, columns),
     "column names when the files have no header line"},
    {"types", SLUICE_CFG_JSON, SRC, NULL, NULL, offsetof(struct csv_ctx, types),
     "column types, {\"Amount\": \"decimal(18,2)\"}; others are strings"},
    {"null_value", SLUICE_CFG_STRING, 0, "", NULL,
     offsetof(struct csv_ctx, null_value),
     "the unquoted text that means null (a quoted \"\" is an empty string)"},
    {"reject_file", SLUICE_CFG_STRING, SRC, NULL, NULL,
     offsetof(struct csv_ctx, reject_file),
     "malformed rows go here (file, line, error, raw) instead of failing "
     "the run"},
    {"lenient_quotes", SLUICE_CFG_BOOL, SRC, "false", NULL,
     offsetof(struct csv_ctx, lenient_quotes),
     "accept a quote inside an unquoted field as data"},
    {"max_record_bytes", SLUICE_CFG_SIZE, SRC, "16M", NULL,
     offsetof(struct csv_ctx, max_record_bytes),
     "a longer record is malformed (bounds memory)"},
    {"compression", SLUICE_CFG_ENUM, DST, "auto", "auto|none|gzip",
     offsetof(struct csv_ctx, compression),
     "gzip the file; auto: when the path ends in .gz (sources detect gzip "
     "by its magic bytes)"},
    {"line_ending", SLUICE_CFG_ENUM, DST, "lf", "lf|crlf",
     offsetof(struct csv_ctx, line_ending), "line ending of written files"},
    {NULL, 0, 0, NULL, NULL, 0, NULL}};

static int csv_init(struct sluice_instance *ins, const struct sluice_host *host,
                    void *ctx, struct sluice_error *err)
{
  struct csv_ctx *c = ctx;

  c->host = host;
  c->ins = ins;
  return csv_ctx_setup(c, err);
}

static void csv_fini(struct sluice_instance *ins, void *ctx)
{
  struct csv_ctx *c = ctx;

  (void)ins;
  csv_source_free(c);
  csv_dest_free(c);
}

static const struct sluice_plugin csv_plugin = {
    SLUICE_PLUGIN_HEADER(SLUICE_KIND_SOURCE | SLUICE_KIND_DESTINATION),
    .name = "csv-file",
    .version = PACKAGE_VERSION,
    .description = "CSV files (RFC 4180, gzip): a glob of files in, one "
                   "file out, written atomically",
    .config = csv_config,
    .ctx_size = sizeof(struct csv_ctx),
    .flags = SLUICE_PLUGIN_COMMIT_ONCE,
    .init = csv_init,
    .fini = csv_fini,
    .source_start = csv_source_start,
    .source_pause = csv_source_pause,
    .source_resume = csv_source_resume,
    .source_stop = csv_source_stop,
    .source_keys = csv_source_keys,
    .dest_open = csv_dest_open,
    .dest_write = csv_dest_write,
    .dest_commit = csv_dest_commit,
};

SLUICE_PLUGIN_DEFINE(csv_plugin)
