/* plugins/salesforce-cdc/sf_cdc_message.c - Bayeux replies and change
 * events (contract section 6), parsed and checked.
 *
 * A reply is an array of messages; the one on the meta channel we wrote to
 * answers our request, the ones on /data/ channels are events.  An event
 * is trusted only as far as the sync needs it: a replay id (the
 * checkpoint), a change type, and record ids.  A reply that lacks one of
 * them is refused whole, naming the message: skipping an event would lose
 * the change, and a replay id past it would make the loss permanent. */
#include <stdio.h>
#include <string.h>

#include <sluice/buf.h>
#include <sluice/error.h>

#include "sf_cdc.h"

static const char *const change_names[] = {
    [CDC_CREATE] = "CREATE",
    [CDC_UPDATE] = "UPDATE",
    [CDC_DELETE] = "DELETE",
    [CDC_UNDELETE] = "UNDELETE",
    [CDC_GAP_CREATE] = "GAP_CREATE",
    [CDC_GAP_UPDATE] = "GAP_UPDATE",
    [CDC_GAP_DELETE] = "GAP_DELETE",
    [CDC_GAP_UNDELETE] = "GAP_UNDELETE",
    [CDC_GAP_OVERFLOW] = "GAP_OVERFLOW",
    [CDC_OTHER] = "OTHER",
};

const char *cdc_change_name(enum cdc_change c)
{
  return c <= CDC_OTHER ? change_names[c] : "OTHER";
}

static enum cdc_change change_parse(const char *s)
{
  for (int i = CDC_CREATE; i < CDC_OTHER; i++)
    if (strcmp(s, change_names[i]) == 0)
      return (enum cdc_change)i;
  return CDC_OTHER;
}

int cdc_error_is_replay_invalid(const char *error)
{
  return error != NULL && strncmp(error, "400::The replayId", 17) == 0 &&
         strstr(error, "invalid") != NULL;
}

int cdc_channel_for(const char *object, struct sluice_buf *out)
{
  size_t n = strlen(object);

  sluice_buf_reset(out);
  if (n > 3 && strcmp(object + n - 3, "__c") == 0)
    return sluice_buf_printf(out, "/data/%.*s__ChangeEvent", (int)(n - 3),
                             object);
  return sluice_buf_printf(out, "/data/%sChangeEvent", object);
}

static int bad(struct sluice_error *err, size_t i, const char *what)
{
  return sluice_error_set(err, SLUICE_EPROTO, 0,
                          "CometD reply, message %zu: %s", i + 1, what);
}

static int event_parse(json_t *m, size_t i, struct cdc_event *ev,
                       struct sluice_error *err)
{
  json_t *data = json_object_get(m, "data");
  json_t *rid = json_object_get(json_object_get(data, "event"), "replayId");
  json_t *payload = json_object_get(data, "payload");
  json_t *h = json_object_get(payload, "ChangeEventHeader");
  const char *ct = json_string_value(json_object_get(h, "changeType"));
  json_t *ids = json_object_get(h, "recordIds"), *id;
  json_t *ts = json_object_get(h, "commitTimestamp");
  size_t k;

  memset(ev, 0, sizeof *ev);
  if (!json_is_object(data) || !json_is_integer(rid))
    return bad(err, i, "an event without data.event.replayId (an integer)");
  if (!json_is_object(payload) || !json_is_object(h))
    return bad(err, i, "an event without payload.ChangeEventHeader");
  if (ct == NULL)
    return bad(err, i, "ChangeEventHeader without changeType");
  if (!json_is_array(ids) || json_array_size(ids) == 0)
    return bad(err, i, "ChangeEventHeader without recordIds");
  json_array_foreach(ids, k, id)
  {
    const char *s = json_string_value(id);
    /* Ids are alphanumeric; a wildcard ("001*") names a whole key prefix
     * after some field conversions (contract 6.5). */
    if (s == NULL || *s == '\0' || strlen(s) > 18 ||
        strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "abcdefghijklmnopqrstuvwxyz*") != strlen(s))
      return bad(err, i, "recordIds holds something that is not a record id");
  }
  ev->replay_id = (int64_t)json_integer_value(rid);
  ev->change = change_parse(ct);
  ev->entity = json_string_value(json_object_get(h, "entityName"));
  ev->record_ids = ids;
  ev->payload = payload;
  ev->commit_ms = json_is_integer(ts) ? (int64_t)json_integer_value(ts) : -1;
  return 0;
}

static void meta_parse(json_t *m, struct cdc_meta *meta)
{
  json_t *adv = json_object_get(m, "advice");
  json_t *t = json_object_get(adv, "timeout");
  json_t *iv = json_object_get(adv, "interval");
  json_t *ext = json_object_get(m, "ext");

  meta->found = 1;
  meta->successful = json_is_true(json_object_get(m, "successful"));
  meta->error = json_string_value(json_object_get(m, "error"));
  meta->failure_reason = json_string_value(
      json_object_get(json_object_get(ext, "sfdc"), "failureReason"));
  meta->client_id = json_string_value(json_object_get(m, "clientId"));
  meta->reconnect = json_string_value(json_object_get(adv, "reconnect"));
  meta->advice_timeout = json_is_integer(t) ? json_integer_value(t) : -1;
  meta->advice_interval = json_is_integer(iv) ? json_integer_value(iv) : 0;
  meta->replay = json_is_true(json_object_get(ext, "replay"));
}

int cdc_reply_parse(json_t *reply, const char *meta_channel,
                    struct cdc_meta *meta, cdc_event_cb on_event, void *arg,
                    struct sluice_error *err)
{
  size_t i;
  json_t *m;
  int rc;

  memset(meta, 0, sizeof *meta);
  meta->advice_timeout = -1;
  if (!json_is_array(reply))
    return sluice_error_set(err, SLUICE_EPROTO, 0,
                            "CometD reply: not a JSON array of messages");
  json_array_foreach(reply, i, m)
  {
    const char *ch = json_string_value(json_object_get(m, "channel"));
    if (!json_is_object(m) || ch == NULL)
      return bad(err, i, "not a message with a channel");
    if (strncmp(ch, "/data/", 6) == 0) {
      struct cdc_event ev;
      if ((rc = event_parse(m, i, &ev, err)) < 0)
        return rc;
      if (on_event != NULL && (rc = on_event(arg, &ev, err)) < 0)
        return rc;
    } else if (meta_channel != NULL && strcmp(ch, meta_channel) == 0) {
      meta_parse(m, meta);
    }
    /* other meta channels (a late answer) carry nothing we act on */
  }
  return 0;
}
