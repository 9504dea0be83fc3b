/* plugins/salesforce-bulk2/sf_bulk2_plugin.c - the salesforce-bulk2
 * descriptor, its config map, init/fini, and which API the source uses.
 *
 * api (source): "bulk2" always runs a Bulk 2.0 query job; "rest" runs
 * salesforce-rest's source (sf_source.c) as is; "auto" first counts the
 * records the extract would read (SELECT COUNT() FROM X WHERE ..., REST,
 * totalSize) and uses Bulk 2.0 above auto_threshold, REST at or below it
 * (Salesforce's own advice: Bulk for large sets, REST for small, section
 * 8), and REST as well when the Bulk job is refused for what Bulk cannot
 * query (section 4.1: an object the Bulk API does not support, compound
 * fields, a non-queryable object).  Both paths share the connection, the
 * login and the API budget, and the same checkpoint {"cursor","id"}. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/convert.h>
#include <sluice/quote.h>

#include "sf_bulk2.h"

#ifndef SF_BULK2_VERSION
#define SF_BULK2_VERSION "0.1.0"
#endif

#define B2 offsetof(struct b2_ctx, sf)

static const struct sluice_config_entry b2_connection_config[] = {
    SF_CONNECTION_CONFIG, {NULL, 0, 0, NULL, NULL, 0, NULL}};

static const struct sluice_config_entry b2_config[] = {
    SF_SOURCE_CONFIG,
    {"api", SLUICE_CFG_ENUM, SF_SRC, "bulk2", "auto|bulk2|rest",
     offsetof(struct b2_ctx, api),
     "source: bulk2 (a Bulk API 2.0 query job), rest (the REST query, as "
     "salesforce-rest), or auto (count first: Bulk above auto_threshold "
     "records and for what REST cannot do, REST at or below it and for "
     "what Bulk cannot query)"},
    {"auto_threshold", SLUICE_CFG_INT, SF_SRC, "50000", NULL,
     offsetof(struct b2_ctx, auto_threshold),
     "source, api auto: more records than this are read with Bulk 2.0"},
    {"soql", SLUICE_CFG_STRING, SF_SRC, NULL, NULL,
     offsetof(struct b2_ctx, soql),
     "source: a whole SOQL query to run instead of one built from fields "
     "and filter (mode full only; columns typed from object's describe)"},
    {"max_records", SLUICE_CFG_INT, SF_SRC, "50000", NULL,
     offsetof(struct b2_ctx, max_records),
     "source: records a results page (maxRecords); the page streams, so "
     "this bounds requests, not memory"},
    {"poll_max", SLUICE_CFG_DURATION, 0, "30s", NULL,
     offsetof(struct b2_ctx, poll_max_ms),
     "the longest wait between two polls of a job (polls start at 250ms "
     "and double)"},
    {"job_timeout", SLUICE_CFG_DURATION, 0, "24h", NULL,
     offsetof(struct b2_ctx, job_timeout_ms),
     "fail the run when a job is not finished after this long"},
    {"operation", SLUICE_CFG_ENUM, SF_DST, "upsert",
     "insert|update|upsert|delete|hardDelete",
     B2 + offsetof(struct sf_ctx, operation),
     "destination: the ingest job's operation (update, delete and "
     "hardDelete need an Id column, upsert external_id)"},
    {"external_id", SLUICE_CFG_STRING, SF_DST, NULL, NULL,
     B2 + offsetof(struct sf_ctx, external_id),
     "destination, upsert: the External ID field records are matched by"},
    {"reject_file", SLUICE_CFG_STRING, SF_DST, NULL, NULL,
     B2 + offsetof(struct sf_ctx, reject_file),
     "destination: a CSV (mode 0600, appended) of the records Salesforce "
     "refused: their columns, then sf__Operation, sf__StatusCode and "
     "sf__Error (as salesforce-rest's)"},
    {"nulls", SLUICE_CFG_ENUM, SF_DST, "set", "set|keep",
     offsetof(struct b2_ctx, nulls),
     "destination: set (a null sets the field to null: #N/A) or keep (a "
     "null leaves the field as it is: an empty cell)"},
    {"max_upload_bytes", SLUICE_CFG_SIZE, SF_DST, "99M", NULL,
     offsetof(struct b2_ctx, max_upload_bytes),
     "destination: the largest CSV uploaded to one job (the service takes "
     "about 100 MB); more data is split over more jobs"},
    {"dry_run", SLUICE_CFG_BOOL, SF_DST, "false", NULL,
     offsetof(struct b2_ctx, dry_run),
     "destination: check and report what would be sent (rows per "
     "operation, the CSV header, uploads, duplicates); send nothing"},
    {"temp_dir", SLUICE_CFG_STRING, SF_DST, NULL, NULL,
     offsetof(struct b2_ctx, temp_dir),
     "destination: where the CSV is staged before upload (default $TMPDIR "
     "or /tmp); files are 0600 and removed after use"},
    {NULL, 0, 0, NULL, NULL, 0, NULL}};

static int b2_init(struct sluice_instance *ins, const struct sluice_host *host,
                   void *ctx, struct sluice_error *err)
{
  struct b2_ctx *b = ctx;
  struct sf_ctx *c = &b->sf;
  int rc;

  if ((rc = sf_common_init(ins, host, c, err)) < 0)
    return rc;
  if (c->mode != NULL) { /* a source */
    if (b->soql != NULL && c->fields.n > 0)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "soql and fields: give one of them");
    if (b->soql != NULL && c->filter != NULL)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "soql and filter: put the condition in soql");
    if (b->soql != NULL && strcmp(c->mode, "incremental") == 0)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "soql: mode incremental builds its own query "
                              "(use object, fields and filter)");
    if (b->soql != NULL && strcmp(b->api, "rest") == 0)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "soql: api rest reads object, fields and "
                              "filter only");
    if (c->hard_deletes && strcmp(b->api, "rest") != 0)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "hard_deletes (getDeleted) needs api rest; "
                              "with Bulk use include_deleted");
    if (b->max_records < 1)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "max_records must be at least 1 (got %lld)",
                              (long long)b->max_records);
    if (b->auto_threshold < 0)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "auto_threshold is negative");
  }
  if (c->operation != NULL) { /* a destination */
    if (b->max_upload_bytes < 4096)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "max_upload_bytes must be at least 4k (got "
                              "%lld)",
                              (long long)b->max_upload_bytes);
    if (b->temp_dir != NULL &&
        (b->temp_path = sf_absolute(c, b->temp_dir)) == NULL)
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  if (b->poll_max_ms < 250)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "poll_max must be at least 250ms");
  return 0;
}

/* --- api auto: count, then choose ---------------------------------------- */

struct b2_choose {
  struct b2_ctx *b;
  char *checkpoint;
  struct sf_api_call *call;
  int paused;
};

static void choose_free(struct b2_ctx *b)
{
  struct b2_choose *k = b->choose;

  if (k == NULL)
    return;
  if (k->call != NULL)
    sf_api_cancel(k->call);
  free(k->checkpoint);
  free(k);
  b->choose = NULL;
}

static int start_rest(struct b2_ctx *b, const char *checkpoint,
                      struct sluice_error *err)
{
  int paused = b->choose != NULL && b->choose->paused;
  int rc;

  b->use_rest = 1;
  rc = sf_source_start(b->sf.ins, &b->sf, checkpoint, err);
  if (rc == 0 && paused)
    sf_source_pause(b->sf.ins, &b->sf);
  return rc;
}

static int start_bulk(struct b2_ctx *b, const char *checkpoint,
                      struct sluice_error *err)
{
  int paused = b->choose != NULL && b->choose->paused;
  int rc = b2_query_start(b, checkpoint, err);

  if (rc == 0 && paused)
    b2_query_pause(b);
  return rc;
}

int b2_source_fallback(struct b2_ctx *b, const struct sluice_error *why)
{
  struct sf_ctx *c = &b->sf;
  struct sluice_error err = {0};
  int rc;

  if (strcmp(b->api, "auto") != 0 || b->choose == NULL ||
      (strstr(why->message, "is not supported by the Bulk API") == NULL &&
       strstr(why->message, "compound data not supported") == NULL &&
       strstr(why->message, "does not support query") == NULL))
    return 0;
  SLUICE_LOG_I(c->host, c->ins, "%s: Bulk 2.0 refused the query (%s): REST",
               c->object, why->message);
  if ((rc = start_rest(b, b->choose->checkpoint, &err)) < 0)
    c->host->source_done(c->ins, rc, &err);
  return 1;
}

static void on_count(void *arg, int status, json_t *body,
                     const struct sluice_error *err)
{
  struct b2_choose *k = arg;
  struct b2_ctx *b = k->b;
  struct sf_ctx *c = &b->sf;
  struct sluice_error e = {0};
  json_t *total = json_object_get(body, "totalSize");
  int rc;

  k->call = NULL;
  if (status < 0) {
    e = *err;
    sluice_error_prefix(&e, "%s: api auto: counting the records", c->object);
    c->host->source_done(c->ins, status, &e);
    return;
  }
  if (!json_is_integer(total)) {
    sluice_error_set(&e, SLUICE_EPROTO, 0,
                     "%s: api auto: the count has no totalSize", c->object);
    c->host->source_done(c->ins, e.code, &e);
    return;
  }
  SLUICE_LOG_I(
      c->host, c->ins, "%s: api auto: %lld records to read, threshold %lld: %s",
      c->object, (long long)json_integer_value(total),
      (long long)b->auto_threshold,
      json_integer_value(total) > b->auto_threshold ? "Bulk 2.0" : "REST");
  if (json_integer_value(total) > b->auto_threshold)
    rc = start_bulk(b, k->checkpoint, &e);
  else
    rc = start_rest(b, k->checkpoint, &e);
  if (rc < 0)
    c->host->source_done(c->ins, rc, &e);
}

/* SELECT COUNT() FROM X [WHERE (filter) [AND SystemModstamp >= since]]:
 * the rows the extract would read (queryAll counts deleted ones too). */
static int request_count(struct b2_ctx *b, const char *checkpoint,
                         struct sluice_error *err)
{
  struct sf_ctx *c = &b->sf;
  struct sluice_buf soql = SLUICE_BUF_INIT, path = SLUICE_BUF_INIT;
  json_t *cp = checkpoint ? json_loads(checkpoint, 0, NULL) : NULL;
  const char *cur = json_string_value(json_object_get(cp, "cursor"));
  int64_t us;
  char lit[40];
  int rc;

  rc = sluice_buf_printf(&soql, "SELECT COUNT() FROM %s", c->object);
  if (rc == 0 && c->filter != NULL && *c->filter != '\0')
    rc = sluice_buf_printf(&soql, " WHERE (%s)", c->filter);
  if (rc == 0 && strcmp(c->mode, "incremental") == 0 && cur != NULL &&
      sluice_parse_timestamp(cur, strlen(cur), &us) == 0) {
    sf_query_datetime_literal(us - c->lookback_ms * 1000, lit, sizeof lit);
    rc = sluice_buf_printf(&soql, "%s SystemModstamp >= %s",
                           (c->filter && *c->filter) ? " AND" : " WHERE", lit);
  }
  json_decref(cp);
  if (rc == 0)
    rc = sf_query_first_path(c, sluice_buf_cstr(&soql), &path);
  if (rc < 0)
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  else
    rc = sf_api_get(c, sluice_buf_cstr(&path), NULL, 0, on_count, b->choose,
                    &b->choose->call, err);
  sluice_buf_free(&soql);
  sluice_buf_free(&path);
  return rc;
}

static int b2_source_start(struct sluice_instance *ins, void *ctx,
                           const char *checkpoint, struct sluice_error *err)
{
  struct b2_ctx *b = ctx;

  (void)ins;
  if (strcmp(b->api, "rest") == 0)
    return start_rest(b, checkpoint, err);
  /* the choice (and a fallback to REST) needs the checkpoint later */
  if ((b->choose = calloc(1, sizeof *b->choose)) == NULL ||
      (checkpoint != NULL &&
       (b->choose->checkpoint = strdup(checkpoint)) == NULL))
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  b->choose->b = b;
  if (strcmp(b->api, "bulk2") == 0 || b->soql != NULL)
    return start_bulk(b, checkpoint, err);
  return request_count(b, checkpoint, err);
}

static void b2_source_pause(struct sluice_instance *ins, void *ctx)
{
  struct b2_ctx *b = ctx;

  if (b->choose != NULL)
    b->choose->paused = 1;
  if (b->use_rest)
    sf_source_pause(ins, &b->sf);
  else
    b2_query_pause(b);
}

static void b2_source_resume(struct sluice_instance *ins, void *ctx)
{
  struct b2_ctx *b = ctx;

  if (b->choose != NULL)
    b->choose->paused = 0;
  if (b->use_rest)
    sf_source_resume(ins, &b->sf);
  else
    b2_query_resume(b);
}

static void b2_source_stop(struct sluice_instance *ins, void *ctx)
{
  struct b2_ctx *b = ctx;

  if (b->use_rest) {
    sf_source_stop(ins, &b->sf);
  } else if (b->q != NULL) {
    b2_query_stop(b);
  } else if (b->choose != NULL && b->choose->call != NULL) {
    sf_api_cancel(b->choose->call); /* still counting: nothing read */
    b->choose->call = NULL;
    b->sf.host->source_done(ins, 0, NULL);
  }
}

/* Keys (ABI 1.2 key sweeps) come by the REST query on the same
 * connection: a key sweep needs no job, and pause/resume/stop go the REST
 * way. */
static int b2_source_keys(struct sluice_instance *ins, void *ctx,
                          const struct sluice_strlist *fields,
                          struct sluice_error *err)
{
  struct b2_ctx *b = ctx;

  b->use_rest = 1;
  return sf_source_keys(ins, &b->sf, fields, err);
}

static void b2_fini(struct sluice_instance *ins, void *ctx)
{
  struct b2_ctx *b = ctx;

  (void)ins;
  choose_free(b);
  b2_query_free(b);
  b2_ingest_free(b);
  free(b->temp_path);
  sf_common_fini(&b->sf);
}

static const struct sluice_plugin b2_plugin = {
    SLUICE_PLUGIN_HEADER(SLUICE_KIND_SOURCE | SLUICE_KIND_DESTINATION),
    .name = "salesforce-bulk2",
    .version = SF_BULK2_VERSION,
    .description = "Salesforce Bulk API 2.0: query jobs streamed into "
                   "batches (full or incremental by SystemModstamp; REST "
                   "below a threshold with api auto); ingest jobs for "
                   "insert, update, upsert, delete and hardDelete",
    .connection_type = "salesforce",
    .config = b2_config,
    .connection_config = b2_connection_config,
    .ctx_size = sizeof(struct b2_ctx),
    .init = b2_init,
    .fini = b2_fini,
    .check = sf_common_check,
    .source_start = b2_source_start,
    .source_pause = b2_source_pause,
    .source_resume = b2_source_resume,
    .source_stop = b2_source_stop,
    .dest_open = b2_ingest_open,
    .dest_write = b2_ingest_write,
    .dest_commit = b2_ingest_commit,
    .count = sf_common_count,
    .source_keys = b2_source_keys,
};

SLUICE_PLUGIN_DEFINE(b2_plugin)
