/* tests/unit/test_sf_cdc.c - salesforce-cdc's messages and rows: Bayeux
 * replies and change events as the contract (section 6) shows them, the
 * refusals that name the message, and a chunk of events into rows (each
 * record once, with its last change; records read back by Id with
 * queryAll, deleted or vanished ones turned into DELETE rows; only the
 * last batch carrying the chunk's checkpoint).  The REST calls are
 * answered by a fake that reads the SOQL it is sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sf_cdc.h"

/* --- fakes: the REST API and the host's timer ---------------------------- */

int sf_api_base(struct sf_ctx *c, struct sluice_buf *out)
{
  return sluice_buf_printf(out, "/services/data/v%s", c->api_version);
}

static struct {
  sf_api_cb cb;
  void *arg;
  char *path;
  size_t calls;
  const char *deleted; /* an Id queryAll returns with IsDeleted */
  const char *gone;    /* an Id no query returns (hard deleted) */
} api;

int sf_api_get(struct sf_ctx *c, const char *path,
               const struct sluice_http_header *h, size_t nh, sf_api_cb cb,
               void *arg, struct sf_api_call **out, struct sluice_error *err)
{
  (void)c, (void)h, (void)nh, (void)err;
  assert_null(api.cb);
  api.cb = cb;
  api.arg = arg;
  api.path = strdup(path);
  api.calls++;
  *out = (struct sf_api_call *)&api;
  return 0;
}

void sf_api_cancel(struct sf_api_call *call)
{
  (void)call;
  free(api.path);
  api.path = NULL;
  api.cb = NULL;
}

static struct {
  void (*cb)(void *);
  void *arg;
} timer;

static struct sluice_timer *fake_timer_start(struct sluice_instance *ins,
                                             uint64_t t, uint64_t r,
                                             void (*cb)(void *), void *arg)
{
  (void)ins, (void)t, (void)r;
  timer.cb = cb;
  timer.arg = arg;
  return (struct sluice_timer *)&timer;
}

static void fake_timer_stop(struct sluice_timer *t)
{
  (void)t;
  timer.cb = NULL;
}

static int hexval(char ch)
{
  return ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10;
}

static char *decode_q(const char *path)
{
  const char *q = strstr(path, "?q=") + 3;
  char *out = malloc(strlen(q) + 1), *o = out;

  for (; *q; q++) {
    if (*q == '%') {
      *o++ = (char)(hexval(q[1]) * 16 + hexval(q[2]));
      q += 2;
    } else
      *o++ = *q;
  }
  *o = '\0';
  return out;
}

/* Answers the pending query: each Id asked for, as it is "now". */
static void answer(void)
{
  char *soql = decode_q(api.path), *in = strstr(soql, "Id IN (");
  json_t *body = json_object(), *recs = json_array();
  sf_api_cb cb = api.cb;

  assert_non_null(strstr(api.path, "/queryAll?"));
  assert_non_null(in);
  for (char *p = in + 7; (p = strchr(p, '\'')) != NULL;) {
    char *q = strchr(p + 1, '\'');
    char id[19];
    snprintf(id, sizeof id, "%.*s", (int)(q - p - 1), p + 1);
    p = q + 1;
    if (api.gone && strcmp(id, api.gone) == 0)
      continue;
    char name[64];
    snprintf(name, sizeof name, "now %s", id);
    json_array_append_new(
        recs,
        json_pack("{s:s, s:s, s:b, s:s}", "Id", id, "Name", name, "IsDeleted",
                  api.deleted && strcmp(id, api.deleted) == 0, "SystemModstamp",
                  "2024-05-01T10:00:00.000+0000"));
  }
  json_object_set_new(body, "done", json_true());
  json_object_set_new(body, "records", recs);
  free(soql);
  free(api.path);
  api.path = NULL;
  api.cb = NULL;
  cb(api.arg, 0, body, NULL);
  json_decref(body);
}

static void log_ignore(struct sluice_instance *ins, enum sluice_log_level l,
                       const char *fmt, ...)
{
  (void)ins, (void)l, (void)fmt;
}

/* --- messages ------------------------------------------------------------- */

struct seen {
  struct cdc_event ev[8];
  char ids[8][64];
  size_t n;
};

static int keep_event(void *arg, const struct cdc_event *ev,
                      struct sluice_error *err)
{
  struct seen *s = arg;
  (void)err;
  assert_true(s->n < 8);
  s->ev[s->n] = *ev;
  snprintf(s->ids[s->n], sizeof s->ids[0], "%s",
           json_string_value(json_array_get(ev->record_ids, 0)));
  s->n++;
  return 0;
}

/* The contract's CREATE example (6.5) and connect reply (6.2). */
static const char connect_reply[] =
    "[{\"data\":{\"schema\":\"V2MGwDA2aIP0yQS98S2L6Q\",\"payload\":{"
    "\"LastModifiedDate\":\"2024-04-09T20:26:27.000Z\",\"Description\":"
    "\"Sample account record.\",\"ChangeEventHeader\":{\"commitNumber\":"
    "1082990428293,\"commitUser\":\"0055f000005mc66AAA\",\"sequenceNumber\":1,"
    "\"entityName\":\"Account\",\"changeType\":\"CREATE\",\"changedFields\":[],"
    "\"changeOrigin\":\"\",\"transactionKey\":\"0001ae4b\",\"commitTimestamp\":"
    "1712694387000,\"recordIds\":[\"0015f00002J9YaUAAV\"]},\"Name\":\"Acme\"},"
    "\"event\":{\"replayId\":37904280}},\"channel\":\"/data/"
    "AccountChangeEvent\"},"
    "{\"data\":{\"payload\":{\"Name\":null,\"ChangeEventHeader\":{"
    "\"entityName\":\"Account\",\"changeType\":\"UPDATE\",\"changedFields\":["
    "\"Name\",\"LastModifiedDate\"],\"recordIds\":[\"0015f00002J9YaUAAV\","
    "\"0015f00002J9YaVAAV\"]}},\"event\":{\"replayId\":37904299}},"
    "\"channel\":\"/data/AccountChangeEvent\"},"
    "{\"clientId\":\"41kdiuvgig2tfxdh9weakuiwyh\",\"channel\":\"/meta/"
    "connect\",\"id\":\"3\",\"successful\":true,\"advice\":{\"interval\":0,"
    "\"timeout\":110000,\"reconnect\":\"retry\"}}]";

static void connect_reply_parses(void **state)
{
  struct sluice_error err = {0};
  struct cdc_meta meta;
  struct seen s = {0};
  json_t *j = json_loads(connect_reply, 0, NULL);

  (void)state;
  assert_int_equal(
      cdc_reply_parse(j, "/meta/connect", &meta, keep_event, &s, &err), 0);
  assert_true(meta.found && meta.successful);
  assert_int_equal(meta.advice_timeout, 110000);
  assert_string_equal(meta.reconnect, "retry");
  assert_int_equal(s.n, 2);
  assert_int_equal(s.ev[0].replay_id, 37904280);
  assert_int_equal(s.ev[0].change, CDC_CREATE);
  assert_string_equal(s.ev[0].entity, "Account");
  assert_int_equal(s.ev[0].commit_ms, 1712694387000LL);
  assert_string_equal(s.ids[0], "0015f00002J9YaUAAV");
  assert_int_equal(s.ev[1].change, CDC_UPDATE);
  assert_int_equal(json_array_size(s.ev[1].record_ids), 2); /* merged */
  assert_int_equal(s.ev[1].commit_ms, -1);
  json_decref(j);
}

static void errors_and_advice(void **state)
{
  struct sluice_error err = {0};
  struct cdc_meta meta;
  json_t *j;

  (void)state;
  /* The contract's real 403 and handshake refusal (6.6). */
  j = json_loads("[{\"channel\":\"/meta/connect\",\"id\":\"83\",\"error\":"
                 "\"403::Unknown client\",\"successful\":false,\"advice\":{"
                 "\"interval\":0,\"reconnect\":\"handshake\"}}]",
                 0, NULL);
  assert_int_equal(cdc_reply_parse(j, "/meta/connect", &meta, NULL, NULL, &err),
                   0);
  assert_false(meta.successful);
  assert_string_equal(meta.error, "403::Unknown client");
  assert_string_equal(meta.reconnect, "handshake");
  json_decref(j);
  j = json_loads(
      "[{\"ext\":{\"sfdc\":{\"failureReason\":\"401::Authentication "
      "invalid\"},\"replay\":true},\"advice\":{\"reconnect\":\"none\"},"
      "\"channel\":\"/meta/handshake\",\"error\":\"403::Handshake denied\","
      "\"successful\":false}]",
      0, NULL);
  assert_int_equal(
      cdc_reply_parse(j, "/meta/handshake", &meta, NULL, NULL, &err), 0);
  assert_string_equal(meta.failure_reason, "401::Authentication invalid");
  assert_true(meta.replay);
  json_decref(j);
  /* The exact replayId refusal (two spaces after "invalid."). */
  assert_true(cdc_error_is_replay_invalid(
      "400::The replayId {1553783} you provided was invalid.  Please provide "
      "a valid ID, -2 to replay all events, or -1 to replay only new "
      "events."));
  assert_false(cdc_error_is_replay_invalid("403::Unknown client"));
  assert_false(cdc_error_is_replay_invalid(NULL));
}

static void bad_messages_are_named(void **state)
{
  static const struct {
    const char *json, *says;
  } bad[] = {
      {"{\"channel\":\"/meta/connect\"}", "not a JSON array"},
      {"[{\"channel\":\"/meta/connect\"},{\"data\":{}}]",
       "message 2: not a message with a channel"},
      {"[{\"channel\":\"/data/X\",\"data\":{\"event\":{}}}]",
       "message 1: an event without data.event.replayId"},
      {"[{\"channel\":\"/data/X\",\"data\":{\"event\":{\"replayId\":1},"
       "\"payload\":{}}}]",
       "without payload.ChangeEventHeader"},
      {"[{\"channel\":\"/data/X\",\"data\":{\"event\":{\"replayId\":1},"
       "\"payload\":{\"ChangeEventHeader\":{\"changeType\":\"CREATE\","
       "\"recordIds\":[]}}}}]",
       "without recordIds"},
      /* an id that would break out of a SOQL literal */
      {"[{\"channel\":\"/data/X\",\"data\":{\"event\":{\"replayId\":1},"
       "\"payload\":{\"ChangeEventHeader\":{\"changeType\":\"CREATE\","
       "\"recordIds\":[\"001' OR Name != '\"]}}}}]",
       "not a record id"},
  };
  struct cdc_meta meta;

  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct sluice_error err = {0};
    json_t *j = json_loads(bad[i].json, 0, NULL);
    assert_int_equal(
        cdc_reply_parse(j, "/meta/connect", &meta, NULL, NULL, &err),
        SLUICE_EPROTO);
    if (strstr(err.message, bad[i].says) == NULL)
      fail_msg("%zu: '%s' does not say '%s'", i, err.message, bad[i].says);
    json_decref(j);
  }
}

static void channels(void **state)
{
  struct sluice_buf b = SLUICE_BUF_INIT;

  (void)state;
  assert_int_equal(cdc_channel_for("Account", &b), 0);
  assert_string_equal(sluice_buf_cstr(&b), "/data/AccountChangeEvent");
  assert_int_equal(cdc_channel_for("Sluice_Score__c", &b), 0);
  assert_string_equal(sluice_buf_cstr(&b), "/data/Sluice_Score__ChangeEvent");
  sluice_buf_free(&b);
}

/* --- rows ------------------------------------------------------------------
 */

static struct cdc_ctx ctx;
static struct sluice_host host;
static struct sf_field fields[4];
static struct sluice_schema *schema;

static int setup(void **state)
{
  (void)state;
  memset(&ctx, 0, sizeof ctx);
  memset(&api, 0, sizeof api);
  host.log = log_ignore;
  host.timer_start = fake_timer_start;
  host.timer_stop = fake_timer_stop;
  ctx.host = &host;
  ctx.b2.sf.host = &host;
  ctx.b2.sf.api_version = "61.0";
  ctx.b2.sf.object = "Account";
  ctx.b2.sf.include_deleted = 1;
  ctx.fetch_full_records = 1;
  const char *names[] = {"Id", "Name", "IsDeleted", "SystemModstamp"};
  const char *types[] = {"id", "string", "boolean", "datetime"};
  for (int i = 0; i < 4; i++) {
    fields[i].name = (char *)names[i];
    fields[i].sf_type = (char *)types[i];
    sf_describe_map_type(types[i], 0, 0, &fields[i]);
  }
  schema = sf_describe_schema(fields, 4);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  sluice_schema_unref(schema);
  return 0;
}

static void add(struct cdc_rows *r, enum cdc_change c, const char *ids_json,
                const char *payload_json)
{
  struct sluice_error err = {0};
  struct cdc_event ev = {.change = c, .commit_ms = 1714557600000LL};
  ev.record_ids = json_loads(ids_json, 0, NULL);
  ev.payload = json_loads(payload_json ? payload_json : "{}", 0, NULL);
  assert_int_equal(cdc_rows_add(r, &ev, &err), 0);
  json_decref(ev.record_ids);
  json_decref(ev.payload);
}

static int built_status = 1;
static void on_built(void *arg, int status, const struct sluice_error *err)
{
  (void)arg, (void)err;
  built_status = status;
}

/* The row for id in q's batches: its op and Name (NULL when null). */
static int find(struct sluice_batch_queue *q, const char *id,
                enum sluice_op *op, const char **name)
{
  int found = 0;
  for (size_t k = 0; k < q->len; k++) {
    struct sluice_batch *b = q->v[(q->head + k) % q->cap];
    for (size_t i = 0; i < sluice_batch_nrows(b); i++) {
      const struct sluice_value *v = sluice_batch_value(b, i, 0);
      if (v->type == SLUICE_TYPE_STRING && v->len == strlen(id) &&
          memcmp(v->u.str, id, v->len) == 0) {
        static char copy[64];
        const struct sluice_value *n = sluice_batch_value(b, i, 1);
        *op = sluice_batch_op(b, i);
        snprintf(copy, sizeof copy, "%.*s", (int)n->len, n->u.str);
        *name = n->type == SLUICE_TYPE_NULL ? NULL : copy;
        found++;
      }
    }
  }
  return found;
}

static void chunk_into_rows(void **state)
{
  struct cdc_rows *r = cdc_rows_new(&ctx, fields, 4, schema);
  struct sluice_batch_queue q = {0};
  struct sluice_error err = {0};
  enum sluice_op op;
  const char *name;

  (void)state;
  api.deleted = "001000000000003AAA";
  api.gone = "001000000000004AAA";
  add(r, CDC_CREATE, "[\"001000000000001AAA\"]", "{\"Name\":\"then\"}");
  add(r, CDC_UPDATE, "[\"001000000000001AAA\",\"001000000000002AAA\"]",
      "{\"Name\":null}");
  add(r, CDC_CREATE, "[\"001000000000005AAA\"]", NULL);
  add(r, CDC_DELETE, "[\"001000000000005AAA\"]", NULL); /* last wins */
  add(r, CDC_GAP_UPDATE, "[\"001000000000003AAA\",\"001000000000004AAA\"]",
      NULL);
  assert_int_equal(cdc_rows_pending(r), 5);

  assert_int_equal(cdc_rows_build(r, &q, 2, 1 << 20, "{\"replay\":10}",
                                  "{\"replay\":20}", on_built, r, &err),
                   0);
  assert_int_equal(built_status, 1); /* never before returning */
  assert_non_null(timer.cb);
  timer.cb(timer.arg);
  assert_non_null(api.cb); /* one query for the 4 ids to read */
  answer();
  assert_int_equal(built_status, 0);
  assert_int_equal(api.calls, 1);

  assert_int_equal(find(&q, "001000000000001AAA", &op, &name), 1);
  assert_int_equal(op, SLUICE_OP_UPSERT);
  assert_string_equal(name, "now 001000000000001AAA"); /* read whole */
  assert_int_equal(find(&q, "001000000000002AAA", &op, &name), 1);
  assert_int_equal(op, SLUICE_OP_UPSERT);
  assert_int_equal(find(&q, "001000000000005AAA", &op, &name), 1);
  assert_int_equal(op, SLUICE_OP_DELETE);
  assert_int_equal(find(&q, "001000000000003AAA", &op, &name), 1);
  assert_int_equal(op, SLUICE_OP_DELETE); /* IsDeleted from queryAll */
  assert_int_equal(find(&q, "001000000000004AAA", &op, &name), 1);
  assert_int_equal(op, SLUICE_OP_DELETE); /* not returned: gone */

  /* 5 rows, 2 a batch: 3 batches, only the last with the chunk's end. */
  assert_int_equal(q.len, 3);
  for (size_t k = 0; k < q.len; k++)
    assert_string_equal(sluice_batch_checkpoint(q.v[(q.head + k) % q.cap]),
                        k + 1 < q.len ? "{\"replay\":10}" : "{\"replay\":20}");
  assert_int_equal(cdc_rows_pending(r), 0); /* ready for the next chunk */
  sluice_batch_queue_clear(&q);
  cdc_rows_free(r);
}

static void events_carry_creates_without_fetch(void **state)
{
  struct cdc_rows *r;
  struct sluice_batch_queue q = {0};
  struct sluice_error err = {0};
  enum sluice_op op;
  const char *name;

  (void)state;
  ctx.fetch_full_records = 0;
  r = cdc_rows_new(&ctx, fields, 4, schema);
  add(r, CDC_CREATE, "[\"001000000000007AAA\"]",
      "{\"Name\":\"from the event\",\"ChangeEventHeader\":{}}");
  assert_int_equal(cdc_rows_build(r, &q, 100, 1 << 20, NULL, "{\"replay\":3}",
                                  on_built, r, &err),
                   0);
  timer.cb(timer.arg);
  assert_null(api.cb); /* nothing to read */
  assert_int_equal(built_status, 0);
  assert_int_equal(find(&q, "001000000000007AAA", &op, &name), 1);
  assert_int_equal(op, SLUICE_OP_UPSERT);
  assert_string_equal(name, "from the event");
  /* SystemModstamp from the commit time */
  const struct sluice_value *ms = sluice_batch_value(q.v[q.head], 0, 3);
  assert_int_equal(ms->type, SLUICE_TYPE_TIMESTAMP);
  assert_int_equal(ms->u.ts_us, 1714557600000000LL);
  sluice_batch_queue_clear(&q);
  cdc_rows_free(r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(connect_reply_parses),
      cmocka_unit_test(errors_and_advice),
      cmocka_unit_test(bad_messages_are_named),
      cmocka_unit_test(channels),
      cmocka_unit_test_setup_teardown(chunk_into_rows, setup, teardown),
      cmocka_unit_test_setup_teardown(events_carry_creates_without_fetch, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
