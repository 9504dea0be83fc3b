/* plugins/snowflake-stage/sfs_plugin.c - the descriptor, the config keys
 * (the bucket behind the external stage and the files), init/fini. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfs.h"

#define DST SLUICE_CFG_DESTINATION
#define REQ SLUICE_CFG_REQUIRED
#define SECRET SLUICE_CFG_SECRET

#ifndef SFK_VERSION
#define SFK_VERSION "0.1.0"
#endif

static const struct sluice_config_entry sfs_config[] = {
    SFK_DEST_CONFIG_ENTRIES,
    {"stage", SLUICE_CFG_STRING, DST | REQ, NULL, NULL,
     offsetof(struct sfs_ctx, stage),
     "the external stage over the bucket: \"RAW.SF.SFSYNC_STAGE\""},
    {"bucket_url", SLUICE_CFG_STRING, DST | REQ, NULL, NULL,
     offsetof(struct sfs_ctx, bucket_url),
     "the stage's URL, where the files go: \"s3://my-bucket/sfsync/\""},
    {"region", SLUICE_CFG_STRING, DST, "us-east-1", NULL,
     offsetof(struct sfs_ctx, region), "the bucket's AWS region"},
    {"endpoint", SLUICE_CFG_STRING, DST, NULL, NULL,
     offsetof(struct sfs_ctx, endpoint),
     "the S3 endpoint; default https://s3.<region>.amazonaws.com"},
    {"path_style", SLUICE_CFG_BOOL, DST, "false", NULL,
     offsetof(struct sfs_ctx, path_style),
     "true: https://endpoint/BUCKET/KEY; false: https://BUCKET.endpoint/KEY"},
    {"access_key_id", SLUICE_CFG_STRING, DST | REQ, NULL, NULL,
     offsetof(struct sfs_ctx, access_key_id),
     "the AWS access key id that may write and delete in the bucket"},
    {"secret_access_key", SLUICE_CFG_STRING, DST | REQ | SECRET, NULL, NULL,
     offsetof(struct sfs_ctx, secret_access_key), "its secret access key"},
    {"session_token", SLUICE_CFG_STRING, DST | SECRET, NULL, NULL,
     offsetof(struct sfs_ctx, session_token),
     "the session token of temporary (STS) credentials"},
    {"file_size", SLUICE_CFG_SIZE, DST, "128M", NULL,
     offsetof(struct sfs_ctx, file_size),
     "uncompressed CSV bytes per staged file"},
    {"max_uploads", SLUICE_CFG_INT, DST, "4", NULL,
     offsetof(struct sfs_ctx, max_uploads),
     "files uploaded at the same time while the next is written"},
    {"compression_level", SLUICE_CFG_INT, DST, "1", NULL,
     offsetof(struct sfs_ctx, compression_level),
     "gzip level 1 (fastest) to 9 (smallest)"},
    {"cleanup", SLUICE_CFG_BOOL, DST, "true", NULL,
     offsetof(struct sfs_ctx, cleanup),
     "delete the staged files once their rows are merged"},
    {"spool_dir", SLUICE_CFG_STRING, DST, NULL, NULL,
     offsetof(struct sfs_ctx, spool_dir),
     "where files are written before upload; default $TMPDIR or /tmp"},
    {NULL, 0, 0, NULL, NULL, 0, NULL}};

static int check_config(struct sfs_ctx *s, struct sluice_error *err)
{
  const char *p;

  if (s->file_size < 1024)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "file_size: at least 1k");
  /* S3's single PUT ends at 5 GB; gzip never grows CSV much. */
  if (s->file_size > (int64_t)4 << 30)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "file_size: at most 4G");
  if (s->max_uploads < 1 || s->max_uploads > 64)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "max_uploads: 1 to 64");
  if (s->compression_level < 1 || s->compression_level > 9)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "compression_level: 1 to 9");
  /* The stage goes into the COPY as written: a (possibly quoted, dotted)
   * name, nothing that could end the statement. */
  for (p = s->stage; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '$' ||
          *p == '"'))
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "stage: '%s' is not a stage name", s->stage);
  return sfk_dest_check_config(&s->k, err);
}

static void sfs_release(struct sfs_ctx *s)
{
  sfs_loader_free(s);
  sfk_ctx_release(&s->k);
  sfs_s3_free(s);
  free(s->spool);
  s->spool = NULL;
}

static int sfs_init(struct sluice_instance *ins, const struct sluice_host *host,
                    void *ctx, struct sluice_error *err)
{
  struct sfs_ctx *s = ctx;
  const char *spool = s->spool_dir;
  int rc;

  s->k.host = host;
  s->k.ins = ins;
  s->k.loader = &sfs_loader;
  if (!SLUICE_HOST_HAS(host, http_request) || host->abi_minor < 1)
    return sluice_error_set(err, SLUICE_ENOTSUP, 0,
                            "this host cannot sign S3 requests (ABI 1.1)");
  if ((rc = check_config(s, err)) < 0)
    return rc;
  if ((rc = sfs_s3_init(s, err)) < 0) {
    sfs_s3_free(s);
    return rc;
  }
  if (spool == NULL || *spool == '\0')
    spool = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  if ((s->spool = sfk_absolute(&s->k, spool)) == NULL) {
    sfs_s3_free(s);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  if ((rc = sfk_ctx_init(&s->k, ins, host, err)) < 0) {
    sfs_s3_free(s);
    free(s->spool);
    s->spool = NULL;
  }
  return rc;
}

static void sfs_fini(struct sluice_instance *ins, void *ctx)
{
  (void)ins;
  sfs_release(ctx);
}

static const struct sluice_plugin sfs_plugin = {
    SLUICE_PLUGIN_HEADER(SLUICE_KIND_DESTINATION),
    .name = "snowflake-stage",
    .version = SFK_VERSION,
    .description = "Snowflake through an S3 external stage: gzip CSV files "
                   "uploaded while the next is written, COPY INTO a staging "
                   "table, one MERGE",
    .connection_type = "snowflake",
    .config = sfs_config,
    .connection_config = sfk_connection_config,
    .ctx_size = sizeof(struct sfs_ctx),
    .init = sfs_init,
    .fini = sfs_fini,
    .check = sfk_check,
    .dest_open = sfk_dest_open,
    .dest_write = sfk_dest_write,
    .dest_commit = sfk_dest_commit,
    .count = sfk_count,
    .sweep_keys = sfk_sweep_keys,
    .sweep_open = sfk_sweep_open,
    .sweep_write = sfk_sweep_write,
    .sweep_finish = sfk_sweep_finish,
};

SLUICE_PLUGIN_DEFINE(sfs_plugin)
