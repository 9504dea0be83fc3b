/* plugins/salesforce-cdc/sf_cdc_plugin.c - the salesforce-cdc descriptor,
 * its config map, init/fini, and check.
 *
 * check adds to salesforce-common's (log in, /limits, describe) the one
 * thing CDC needs beyond them, and the usual reason hard-delete tracking
 * "does not work": that the object is selected for Change Data Capture.
 * It says so by subscribing to the object's channel for new events only
 * (-1, nothing is read) and disconnecting. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_cdc.h"

#ifndef SF_CDC_VERSION
#define SF_CDC_VERSION "0.1.0"
#endif

#define SF(field) offsetof(struct sf_ctx, field)

static const struct sluice_config_entry cdc_connection_config[] = {
    SF_CONNECTION_CONFIG, {NULL, 0, 0, NULL, NULL, 0, NULL}};

static const struct sluice_config_entry cdc_config[] = {
    {"object", SLUICE_CFG_STRING, SF_REQ, NULL, NULL, SF(object),
     "the sObject whose changes are read: \"Account\""},
    {"fields", SLUICE_CFG_STRLIST, 0, NULL, NULL, SF(fields),
     "the fields to read; empty: every field but base64 ones.  Id, "
     "SystemModstamp and IsDeleted are always read"},
    {"compound_fields", SLUICE_CFG_ENUM, 0, "flatten", "flatten|json|skip",
     SF(compound_fields),
     "when fields is empty, how address and location fields are read "
     "(as salesforce-rest)"},
    {"batch_size", SLUICE_CFG_INT, 0, "2000", NULL, SF(batch_size),
     "records a REST query page (200-2000)"},
    {"max_value_bytes", SLUICE_CFG_SIZE, 0, "1M", NULL, SF(max_value_bytes),
     "the longest text value read; a longer one fails the run naming the "
     "record and the field (0: no limit)"},
    {"mode", SLUICE_CFG_ENUM, 0, "drain", "drain|stream",
     offsetof(struct cdc_ctx, mode),
     "drain: read the changes there are now, then end the run (scheduled "
     "runs); stream: read changes until stopped"},
    {"initial_load", SLUICE_CFG_ENUM, 0, "rest", "rest|bulk2",
     offsetof(struct cdc_ctx, initial_load),
     "how the object is read whole on the first run and on a resync: the "
     "REST API, or a Bulk API 2.0 query job (large objects)"},
    {"fetch_full_records", SLUICE_CFG_BOOL, 0, "true", NULL,
     offsetof(struct cdc_ctx, fetch_full_records),
     "read created and undeleted records whole through REST (true), or "
     "take them from the event (false: fewer API calls).  Updated records "
     "are always read whole: an UPDATE event carries only what changed"},
    {"drain_wait", SLUICE_CFG_DURATION, 0, "5s", NULL,
     offsetof(struct cdc_ctx, drain_wait_ms),
     "drain: the run ends after a connect that waited this long brought "
     "no event"},
    {"channel", SLUICE_CFG_STRING, 0, NULL, NULL,
     offsetof(struct cdc_ctx, channel),
     "the channel to subscribe to (default /data/<Object>ChangeEvent; "
     "/data/ChangeEvents carries every selected object)"},
    {"max_failures", SLUICE_CFG_INT, 0, "10", NULL,
     offsetof(struct cdc_ctx, max_failures),
     "CometD sessions that may fail in a row (each retried after 1 s, "
     "doubling to 30 s) before the run fails"},
    {"max_records", SLUICE_CFG_INT, 0, "50000", NULL,
     offsetof(struct b2_ctx, max_records),
     "initial_load bulk2: records a results page"},
    {"poll_max", SLUICE_CFG_DURATION, 0, "30s", NULL,
     offsetof(struct b2_ctx, poll_max_ms),
     "initial_load bulk2: the longest wait between two polls of the job"},
    {NULL, 0, 0, NULL, NULL, 0, NULL}};

/* The Bulk reader asks this when Bulk refuses the query; the initial load
 * has no REST fallback of its own: initial_load rest is the choice. */
int b2_source_fallback(struct b2_ctx *b, const struct sluice_error *err)
{
  (void)b;
  (void)err;
  return 0;
}

static int cdc_init(struct sluice_instance *ins, const struct sluice_host *host,
                    void *ctx, struct sluice_error *err)
{
  struct cdc_ctx *x = ctx;
  struct sf_ctx *c = &x->b2.sf;
  struct sluice_buf ch = SLUICE_BUF_INIT;
  int rc;

  x->host = host;
  /* The readers of the load: every record, deleted ones flagged. */
  c->mode = "full";
  c->include_deleted = 1;
  x->b2.api = "bulk2";
  x->b2.job_timeout_ms = 24 * 3600 * 1000LL;
  if ((rc = sf_common_init(ins, host, c, err)) < 0)
    return rc;
  if (x->drain_wait_ms < 0 || x->drain_wait_ms > 110000)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "drain_wait must be 0 to 110s (the server holds "
                            "a connect 110 s at most)");
  if (x->max_failures < 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "max_failures is negative");
  if (x->b2.max_records < 1)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "max_records must be at least 1");
  if (x->b2.poll_max_ms < 250)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "poll_max must be at least 250ms");
  if (x->channel != NULL && strncmp(x->channel, "/data/", 6) != 0)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "channel: '%s' is not a /data/ channel",
                            x->channel);
  rc = x->channel ? sluice_buf_append_str(&ch, x->channel)
                  : cdc_channel_for(c->object, &ch);
  x->channel_name = rc == 0 ? strdup(sluice_buf_cstr(&ch)) : NULL;
  sluice_buf_free(&ch);
  if (x->channel_name == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  return 0;
}

/* --- check: is CDC enabled for the object? ---------------------------------
 */

struct cdc_check {
  struct cdc_ctx *x;
  struct cdc_bayeux *bx;
  sluice_done_cb done;
  void *arg;
  char *client_id;
  int status;
  struct sluice_error err;
};

static void check_free(struct cdc_check *k)
{
  if (k == NULL)
    return;
  cdc_bayeux_free(k->bx);
  free(k->client_id);
  k->x->chk = NULL;
  free(k);
}

static void check_end(struct cdc_check *k, int status,
                      const struct sluice_error *err)
{
  sluice_done_cb done = k->done;
  void *arg = k->arg;
  struct sluice_error e = {0};

  if (err != NULL)
    e = *err;
  check_free(k);
  done(arg, status, status < 0 ? &e : NULL);
}

static json_t *check_message(struct cdc_check *k, const char *channel)
{
  json_t *m = json_pack("{s:s}", "channel", channel);

  if (m != NULL && k->client_id != NULL)
    json_object_set_new(m, "clientId", json_string(k->client_id));
  return m;
}

static void check_send(struct cdc_check *k, json_t *m, cdc_bayeux_cb cb)
{
  struct sluice_error e = {0};
  int rc = m ? cdc_bayeux_send(k->bx, m, 0, SLUICE_HTTP_RETRY_SAFE, cb, k, &e)
             : sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");

  json_decref(m);
  if (rc < 0)
    check_end(k, rc, &e);
}

static void on_check_disconnect(void *arg, int status, json_t *reply,
                                const struct sluice_error *err)
{
  struct cdc_check *k = arg;

  (void)status;
  (void)reply;
  (void)err;
  check_end(k, k->status, &k->err);
}

static void on_check_subscribe(void *arg, int status, json_t *reply,
                               const struct sluice_error *err)
{
  struct cdc_check *k = arg;
  struct sf_ctx *c = &k->x->b2.sf;
  struct cdc_meta meta;

  if (status < 0 || cdc_reply_parse(reply, "/meta/subscribe", &meta, NULL, NULL,
                                    &k->err) < 0) {
    if (status < 0)
      k->err = *err;
    check_end(k, k->err.code ? k->err.code : status, &k->err);
    return;
  }
  if (meta.successful) {
    SLUICE_LOG_I(k->x->host, c->ins,
                 "Change Data Capture is enabled for %s (%s)", c->object,
                 k->x->channel_name);
    k->status = 0;
  } else if (meta.error != NULL && strstr(meta.error, "doesn't exist")) {
    k->status = sluice_error_set(
        &k->err, SLUICE_ENOTFOUND, 0,
        "%s: Change Data Capture is not enabled for this object: select it "
        "in Setup > Integrations > Change Data Capture (deletions cannot be "
        "tracked without it); the server said: %s",
        c->object, meta.error);
  } else {
    k->status = sluice_error_set(
        &k->err, SLUICE_EAUTH, 0, "%s: subscribing to %s: %s", c->object,
        k->x->channel_name, meta.error ? meta.error : "refused");
  }
  check_send(k, check_message(k, "/meta/disconnect"), on_check_disconnect);
}

static void on_check_handshake(void *arg, int status, json_t *reply,
                               const struct sluice_error *err)
{
  struct cdc_check *k = arg;
  struct sluice_error e = {0};
  struct cdc_meta meta;
  json_t *m;
  int rc;

  if (status < 0) {
    check_end(k, status, err);
    return;
  }
  if ((rc = cdc_reply_parse(reply, "/meta/handshake", &meta, NULL, NULL, &e)) <
      0) {
    check_end(k, rc, &e);
    return;
  }
  if (!meta.successful || meta.client_id == NULL) {
    sluice_error_set(&e, SLUICE_EAUTH, 0, "CometD handshake refused: %s",
                     meta.failure_reason ? meta.failure_reason
                     : meta.error        ? meta.error
                                         : "no reason given");
    check_end(k, e.code, &e);
    return;
  }
  if ((k->client_id = strdup(meta.client_id)) == NULL) {
    sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
    check_end(k, e.code, &e);
    return;
  }
  m = check_message(k, "/meta/subscribe");
  if (m != NULL) {
    json_object_set_new(m, "subscription", json_string(k->x->channel_name));
    json_object_set_new(
        m, "ext", json_pack("{s:{s:i}}", "replay", k->x->channel_name, -1));
  }
  check_send(k, m, on_check_subscribe);
}

static void on_common_checked(void *arg, int status,
                              const struct sluice_error *err)
{
  struct cdc_check *k = arg;
  json_t *m;

  if (status < 0) {
    check_end(k, status, err);
    return;
  }
  m = json_pack("{s:s, s:s, s:s, s:[s], s:{s:b}}", "channel", "/meta/handshake",
                "version", "1.0", "minimumVersion", "1.0",
                "supportedConnectionTypes", "long-polling", "ext", "replay", 1);
  check_send(k, m, on_check_handshake);
}

static int cdc_check(struct sluice_instance *ins, void *ctx,
                     sluice_done_cb done, void *arg, struct sluice_error *err)
{
  struct cdc_ctx *x = ctx;
  struct cdc_check *k;
  int rc;

  if (x->chk != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "a check is under way");
  if ((k = calloc(1, sizeof *k)) == NULL ||
      (k->bx = cdc_bayeux_new(&x->b2.sf)) == NULL) {
    free(k);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  k->x = x;
  k->done = done;
  k->arg = arg;
  x->chk = k;
  if ((rc = sf_common_check(ins, &x->b2.sf, on_common_checked, k, err)) < 0)
    check_free(k);
  return rc;
}

static void cdc_fini(struct sluice_instance *ins, void *ctx)
{
  struct cdc_ctx *x = ctx;

  (void)ins;
  if (x->chk != NULL)
    check_free(x->chk);
  cdc_source_free(x);
  b2_query_free(&x->b2);
  sf_common_fini(&x->b2.sf);
  free(x->channel_name);
}

static const struct sluice_plugin cdc_plugin = {
    SLUICE_PLUGIN_HEADER(SLUICE_KIND_SOURCE),
    .name = "salesforce-cdc",
    .version = SF_CDC_VERSION,
    .description = "Salesforce Change Data Capture (Streaming API, CometD): "
                   "an initial load, then every create, update, delete and "
                   "undelete of one sObject, resumed by replay id",
    .connection_type = "salesforce",
    .config = cdc_config,
    .connection_config = cdc_connection_config,
    .ctx_size = sizeof(struct cdc_ctx),
    .flags = SLUICE_PLUGIN_STREAMING,
    .init = cdc_init,
    .fini = cdc_fini,
    .check = cdc_check,
    .source_start = cdc_source_start,
    .source_pause = cdc_source_pause,
    .source_resume = cdc_source_resume,
    .source_stop = cdc_source_stop,
    .count = sf_common_count,
};

SLUICE_PLUGIN_DEFINE(cdc_plugin)
