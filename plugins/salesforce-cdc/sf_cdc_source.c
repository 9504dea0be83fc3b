/* plugins/salesforce-cdc/sf_cdc_source.c - the source: an initial load,
 * then the change stream, with the replay id as the checkpoint.
 *
 * Phases:
 *
 *   describe   the object's fields: the schema of every row, loaded or
 *              streamed (IsDeleted included: deletions are rows too)
 *   note       with no checkpoint: the stream's position before the load,
 *              so that no change made while loading is missed.  Bayeux has
 *              no "where is the stream now", so the retained events are
 *              read (-2) for their last replay id, and nothing else; with
 *              none retained the position is -2 itself
 *   load       the records, read by salesforce-common's REST reader or a
 *              Bulk 2.0 query job (initial_load), with queryAll so that
 *              records in the recycle bin arrive as DELETE rows.  Its
 *              batches carry {"phase": "load", "replay": <position>,
 *              "load": <the reader's checkpoint>}: a killed load goes on
 *              where the reader can (a Bulk job's locator), and in every
 *              case streams from the position noted before it
 *   stream     handshake, subscribe after the position, connect again and
 *              again: each reply's events become rows (sf_cdc_rows.c), the
 *              last batch of a reply carrying {"replay": <its last id>}.
 *              Changes made during the load come again: harmless, rows are
 *              upserts by Id
 *
 * The checkpoint only moves when the destination commits (the host saves
 * it then), so a kill re-reads events from the last committed replay id:
 * nothing lost; nothing doubled, as every write is keyed by Id.
 *
 * Run modes: "drain" connects with a short advised timeout and ends the
 * run once a connect brings nothing new (or an event newer than the run's
 * start: a busy org must not keep a scheduled run going for ever);
 * "stream" runs until stopped, re-handshaking whenever the server forgets
 * the client (403::Unknown client, a pause longer than its 40 s), the
 * token expires (401) or the line drops, from the last replay id read.
 *
 * Resyncs: a replay id outside the retention window (the run was off
 * more than 72 hours), a GAP_OVERFLOW or a wildcard record id mean
 * changes were lost: the object is loaded again, with a warning the run
 * record keeps, then streamed from the position noted before that load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sf_cdc.h"

enum phase { PH_DESCRIBE, PH_NOTE, PH_LOAD, PH_STREAM };

/* What the stream is doing (its one exchange at a time). */
enum step { ST_IDLE, ST_HANDSHAKE, ST_SUBSCRIBE, ST_CONNECT, ST_DISCONNECT };

struct cdc_source {
  struct cdc_ctx *x;
  struct sf_ctx *c;
  struct sf_field *fields;
  size_t nfields;
  struct sluice_schema *schema;
  size_t max_rows, max_bytes;
  int64_t start_ms;

  enum phase phase;
  enum step step;
  int64_t position;      /* replay id the stream goes on after (-2: all) */
  char *load_checkpoint; /* the reader's, to resume a load */
  int resync;            /* the load is a resync, not the first one */
  int64_t overflow_at;   /* >= 0: resync, then stream after this id */

  /* noting the position */
  int64_t noted;
  int noted_any;

  /* the stream */
  struct cdc_bayeux *bx;
  char *client_id;
  int64_t hold_ms;     /* the server's advised connect timeout */
  int64_t interval_ms; /* advice: wait this long between connects */
  int interval_waited;
  int msg_id;
  unsigned failures;         /* consecutive; reset by a good connect */
  unsigned session_connects; /* connects answered in this session */
  struct cdc_rows *rows;
  int building;
  int64_t chunk_last; /* the last replay id of the reply being built */
  int64_t chunk_newest_ms;
  uint64_t events;

  struct sf_api_call *call; /* describe */
  struct sluice_timer *timer;
  struct sluice_batch_queue queue;
  char *checkpoint; /* the position's text */

  int paused, stopping, finished, in_pump, load_running, drained;
};

static void pump(struct cdc_source *s);
static void on_timer(void *arg);
static void disconnect(struct cdc_source *s);
static void stream_begin(struct cdc_source *s);
static void load_begin(struct cdc_source *s);
static void note_begin(struct cdc_source *s);

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void load_stop(struct cdc_source *s);

static void finish(struct cdc_source *s, int status,
                   const struct sluice_error *err)
{
  struct cdc_ctx *x = s->x;

  if (s->finished)
    return;
  s->finished = 1;
  if (s->call != NULL) {
    sf_api_cancel(s->call);
    s->call = NULL;
  }
  if (s->timer != NULL) {
    x->host->timer_stop(s->timer);
    s->timer = NULL;
  }
  cdc_bayeux_cancel(s->bx);
  cdc_rows_cancel(s->rows);
  s->building = 0;
  sluice_batch_queue_clear(&s->queue);
  if (status == 0)
    SLUICE_LOG_I(x->host, s->c->ins,
                 "%s: %llu change events read; the stream is at replay id "
                 "%lld",
                 s->c->object, (unsigned long long)s->events,
                 (long long)s->position);
  x->host->source_done(s->c->ins, status, status == 0 ? NULL : err);
}

static void fail_nomem(struct cdc_source *s)
{
  struct sluice_error e = {0};
  sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
  finish(s, e.code, &e);
}

/* --- the checkpoint ------------------------------------------------------- */

static int checkpoint_parse(struct cdc_source *s, const char *text,
                            struct sluice_error *err)
{
  json_t *j = json_loads(text, 0, NULL);
  json_t *replay = json_object_get(j, "replay");
  const char *phase = json_string_value(json_object_get(j, "phase"));
  const char *channel = json_string_value(json_object_get(j, "channel"));
  const char *load = json_string_value(json_object_get(j, "load"));
  int rc = 0;

  if (!json_is_integer(replay))
    rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                          "the checkpoint has no \"replay\" id (delete it to "
                          "load everything again)");
  else if (channel != NULL && strcmp(channel, s->x->channel_name) != 0) {
    SLUICE_LOG_W(s->x->host, s->c->ins,
                 "the checkpoint is for channel %s, the pipeline now reads "
                 "%s: loading everything again",
                 channel, s->x->channel_name);
    s->phase = PH_NOTE;
  } else {
    s->position = (int64_t)json_integer_value(replay);
    if (phase != NULL && strcmp(phase, "load") == 0) {
      s->phase = PH_LOAD;
      if (load != NULL && (s->load_checkpoint = strdup(load)) == NULL)
        rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    } else {
      s->phase = PH_STREAM;
    }
  }
  json_decref(j);
  return rc;
}

/* {"replay": N, "channel": C}, or the load's form. */
static char *checkpoint_text(struct cdc_source *s, int64_t replay,
                             const char *load_cp)
{
  json_t *j = json_pack("{s:I, s:s}", "replay", (json_int_t)replay, "channel",
                        s->x->channel_name);
  char *text;

  if (j != NULL && load_cp != NULL) {
    json_object_set_new(j, "phase", json_string("load"));
    json_object_set_new(j, "load", json_string(load_cp));
  }
  text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(j);
  return text;
}

static int position_set(struct cdc_source *s, int64_t replay)
{
  char *t = checkpoint_text(s, replay, NULL);

  if (t == NULL)
    return SLUICE_ENOMEM;
  s->position = replay;
  free(s->checkpoint);
  s->checkpoint = t;
  return 0;
}

/* A batch with no rows that only moves the checkpoint (the host writes
 * nothing for it). */
static int queue_position(struct cdc_source *s)
{
  struct sluice_batch *b = sluice_batch_new(s->schema, 1, s->max_bytes);

  if (b == NULL || sluice_batch_set_checkpoint(b, s->checkpoint) < 0 ||
      sluice_batch_queue_push(&s->queue, b) < 0) {
    if (b != NULL)
      sluice_batch_unref(b);
    return SLUICE_ENOMEM;
  }
  return 0;
}

/* --- emitting ------------------------------------------------------------- */

static void connect_next(struct cdc_source *s);

/* Emits what is queued while not paused; then, when nothing is under way,
 * takes the stream's next step. */
static void pump(struct cdc_source *s)
{
  struct cdc_ctx *x = s->x;
  struct sluice_error err = {0};
  int rc;

  if (s->in_pump || s->finished)
    return;
  s->in_pump = 1;
  while (!s->paused && s->queue.len > 0 && !s->finished) {
    struct sluice_batch *b = sluice_batch_queue_pop(&s->queue);
    if ((rc = x->host->emit(s->c->ins, b, &err)) < 0) {
      s->in_pump = 0;
      finish(s, rc, &err);
      return;
    }
  }
  s->in_pump = 0;
  if (s->finished || s->queue.len > 0 || s->building || s->phase != PH_STREAM)
    return;
  if (s->drained && !s->stopping && s->client_id != NULL &&
      s->step == ST_IDLE) {
    disconnect(s); /* the server may forget the client now */
    return;
  }
  if (s->stopping || x->host->stopping(s->c->ins) || s->drained) {
    if (!s->paused)
      finish(s, 0, NULL);
    return;
  }
  if (s->paused || s->step != ST_IDLE || s->timer != NULL)
    return;
  if (s->overflow_at >= 0) { /* the events before it are out: resync */
    s->position = s->overflow_at;
    s->overflow_at = -1;
    s->resync = 1;
    s->phase = PH_LOAD;
    load_begin(s);
    return;
  }
  if (s->client_id == NULL) { /* no session yet, or it was given up */
    stream_begin(s);
    return;
  }
  if (s->interval_ms > 0 && !s->interval_waited) { /* the server's advice */
    s->interval_waited = 1;
    s->timer = x->host->timer_start(s->c->ins, (uint64_t)s->interval_ms, 0,
                                    on_timer, s);
    if (s->timer == NULL)
      fail_nomem(s);
    return;
  }
  s->interval_waited = 0;
  connect_next(s);
}

/* --- Bayeux messages ------------------------------------------------------ */

static json_t *message(struct cdc_source *s, const char *channel)
{
  char id[24];
  json_t *m;

  snprintf(id, sizeof id, "%d", ++s->msg_id);
  m = json_pack("{s:s, s:s}", "channel", channel, "id", id);
  if (m != NULL && s->client_id != NULL)
    json_object_set_new(m, "clientId", json_string(s->client_id));
  return m;
}

static void send_msg(struct cdc_source *s, json_t *m, int64_t hold_ms,
                     uint32_t flags, cdc_bayeux_cb cb)
{
  struct sluice_error e = {0};
  int rc;

  if (m == NULL) {
    fail_nomem(s);
    return;
  }
  rc = cdc_bayeux_send(s->bx, m, hold_ms, flags, cb, s, &e);
  json_decref(m);
  if (rc < 0)
    finish(s, rc, &e);
}

static void handshake(struct cdc_source *s);

static void on_timer(void *arg)
{
  struct cdc_source *s = arg;

  s->x->host->timer_stop(s->timer);
  s->timer = NULL;
  if (s->client_id == NULL)
    handshake(s);
  else
    pump(s);
}

/* Something failed that a new session may cure: wait (1 s, doubling to
 * 30 s), then handshake again and subscribe from the position.  The run
 * fails after max_failures in a row. */
static void retry_later(struct cdc_source *s, const char *why)
{
  struct cdc_ctx *x = s->x;
  struct sluice_error e = {0};
  uint64_t wait_ms = 1000;

  s->step = ST_IDLE;
  free(s->client_id);
  s->client_id = NULL;
  if (++s->failures > (unsigned)x->max_failures) {
    sluice_error_set(&e, SLUICE_EIO, 0, "%s: CometD: %s (%u times in a row)",
                     s->c->object, why, s->failures);
    finish(s, e.code, &e);
    return;
  }
  for (unsigned i = 1; i < s->failures && wait_ms < 30000; i++)
    wait_ms *= 2;
  if (wait_ms > 30000)
    wait_ms = 30000;
  SLUICE_LOG_I(x->host, s->c->ins,
               "CometD: %s; a new session in %.1f s (from replay id %lld)", why,
               (double)wait_ms / 1000, (long long)s->position);
  if (s->stopping || x->host->stopping(s->c->ins)) {
    pump(s);
    return;
  }
  s->timer = x->host->timer_start(s->c->ins, wait_ms, 0, on_timer, s);
  if (s->timer == NULL)
    fail_nomem(s);
}

static void cdc_not_enabled(struct cdc_source *s, const char *error,
                            struct sluice_error *e)
{
  sluice_error_set(e, SLUICE_ENOTFOUND, 0,
                   "%s: Change Data Capture is not enabled for this object "
                   "(select it in Setup > Integrations > Change Data "
                   "Capture); the server said: %s",
                   s->c->object, error);
}

static void on_connect(void *arg, int status, json_t *reply,
                       const struct sluice_error *err);

static void connect_next(struct cdc_source *s)
{
  json_t *m = message(s, "/meta/connect");
  int64_t hold = s->hold_ms;

  if (m != NULL)
    json_object_set_new(m, "connectionType", json_string("long-polling"));
  /* Draining: ask the server not to hold the connect longer than
   * drain_wait (a client may advise a timeout; CometD servers honour it). */
  if (m != NULL && (s->phase == PH_NOTE || strcmp(s->x->mode, "drain") == 0)) {
    hold = s->x->drain_wait_ms;
    json_object_set_new(m, "advice",
                        json_pack("{s:I}", "timeout", (json_int_t)hold));
  }
  s->step = ST_CONNECT;
  /* A connect is never resent by the host: events in a lost answer come
   * back through a new session from the position. */
  send_msg(s, m, hold, SLUICE_HTTP_NO_RETRY, on_connect);
}

/* note phase: only the replay ids count */
static int on_note_event(void *arg, const struct cdc_event *ev,
                         struct sluice_error *err)
{
  struct cdc_source *s = arg;

  (void)err;
  if (!s->noted_any || ev->replay_id > s->noted)
    s->noted = ev->replay_id;
  s->noted_any = 1;
  return 0;
}

static int on_stream_event(void *arg, const struct cdc_event *ev,
                           struct sluice_error *err)
{
  struct cdc_source *s = arg;
  struct cdc_ctx *x = s->x;
  size_t i;
  json_t *id;

  if (s->overflow_at >= 0) /* after an overflow: read again later */
    return 0;
  s->events++;
  if (ev->commit_ms > s->chunk_newest_ms)
    s->chunk_newest_ms = ev->commit_ms;
  if (ev->entity != NULL && strcmp(ev->entity, s->c->object) != 0) {
    s->chunk_last = ev->replay_id; /* another object's (ChangeEvents) */
    return 0;
  }
  json_array_foreach(ev->record_ids, i, id)
  {
    if (strchr(json_string_value(id), '*') != NULL)
      break;
  }
  if (ev->change == CDC_GAP_OVERFLOW || i < json_array_size(ev->record_ids)) {
    SLUICE_LOG_W(x->host, s->c->ins,
                 "%s: %s at replay id %lld: changes were not sent one by "
                 "one; loading the object again",
                 s->c->object,
                 ev->change == CDC_GAP_OVERFLOW ? "GAP_OVERFLOW"
                                                : "a wildcard record id",
                 (long long)ev->replay_id);
    s->overflow_at = ev->replay_id;
    return 0;
  }
  if (ev->change >= CDC_GAP_CREATE && ev->change <= CDC_GAP_UNDELETE)
    SLUICE_LOG_I(x->host, s->c->ins,
                 "%s: %s for %zu records at replay id %lld: reading them",
                 s->c->object, cdc_change_name(ev->change),
                 json_array_size(ev->record_ids), (long long)ev->replay_id);
  s->chunk_last = ev->replay_id;
  return cdc_rows_add(s->rows, ev, err);
}

static void on_rows_built(void *arg, int status, const struct sluice_error *err)
{
  struct cdc_source *s = arg;

  s->building = 0;
  if (status < 0) {
    finish(s, status, err);
    return;
  }
  if (position_set(s, s->chunk_last) < 0) {
    fail_nomem(s);
    return;
  }
  pump(s);
}

static void on_disconnect(void *arg, int status, json_t *reply,
                          const struct sluice_error *err)
{
  struct cdc_source *s = arg;

  (void)status;
  (void)reply;
  (void)err;
  s->step = ST_IDLE;
  free(s->client_id);
  s->client_id = NULL;
  if (s->phase == PH_NOTE) {
    s->phase = PH_LOAD;
    load_begin(s);
  } else {
    pump(s);
  }
}

static void disconnect(struct cdc_source *s)
{
  s->step = ST_DISCONNECT;
  send_msg(s, message(s, "/meta/disconnect"), 0, 0, on_disconnect);
}

static void on_connect(void *arg, int status, json_t *reply,
                       const struct sluice_error *err)
{
  struct cdc_source *s = arg;
  struct cdc_ctx *x = s->x;
  struct sluice_error e = {0};
  struct cdc_meta meta;
  size_t before = s->events;
  int rc;

  s->step = ST_IDLE;
  if (status < 0) {
    retry_later(s, err->message);
    return;
  }
  s->chunk_last = s->position;
  s->chunk_newest_ms = -1;
  rc = cdc_reply_parse(reply, "/meta/connect", &meta,
                       s->phase == PH_NOTE ? on_note_event : on_stream_event, s,
                       &e);
  if (rc < 0) {
    cdc_rows_cancel(s->rows);
    sluice_error_prefix(&e, "%s", s->c->object);
    finish(s, rc, &e);
    return;
  }
  if (meta.found && !meta.successful) {
    /* Events in a failed reply are not kept: the new session reads them
     * again from the position. */
    cdc_rows_cancel(s->rows);
    s->events = before;
    s->overflow_at = -1;
    if (meta.error != NULL && strncmp(meta.error, "401", 3) == 0)
      sf_auth_forget(s->c); /* the token: a new login first */
    retry_later(s, meta.error ? meta.error : "connect refused");
    return;
  }
  s->failures = 0;
  /* A server answers a session's first connect at once: only a later one,
   * held, says that nothing more is there. */
  s->session_connects++;
  if (meta.advice_timeout >= 0)
    s->hold_ms = meta.advice_timeout;
  s->interval_ms = meta.advice_interval > 60000 ? 60000
                   : meta.advice_interval > 0   ? meta.advice_interval
                                                : 0;
  if (s->phase == PH_NOTE) {
    if (json_array_size(reply) > 1 || s->session_connects < 2)
      connect_next(s); /* more may be retained */
    else {
      SLUICE_LOG_I(x->host, s->c->ins,
                   "%s: the stream is at %s before the load", s->c->object,
                   s->noted_any ? "the retained events' end" : "its start");
      s->position = s->noted_any ? s->noted : -2;
      disconnect(s);
    }
    return;
  }
  if (cdc_rows_pending(s->rows) > 0) {
    char *before_cp = s->checkpoint ? strdup(s->checkpoint) : NULL;
    char *after_cp = checkpoint_text(s, s->chunk_last, NULL);
    if (after_cp == NULL) {
      free(before_cp);
      fail_nomem(s);
      return;
    }
    s->building = 1;
    rc = cdc_rows_build(s->rows, &s->queue, s->max_rows, s->max_bytes,
                        before_cp, after_cp, on_rows_built, s, &e);
    free(before_cp);
    free(after_cp);
    if (rc < 0) {
      s->building = 0;
      finish(s, rc, &e);
      return;
    }
  } else if (s->chunk_last != s->position) { /* other objects' events */
    if (position_set(s, s->chunk_last) < 0 || queue_position(s) < 0) {
      fail_nomem(s);
      return;
    }
  }
  if (strcmp(x->mode, "drain") == 0 && s->overflow_at < 0 &&
      ((s->events == before && s->session_connects > 1) ||
       s->chunk_newest_ms >= s->start_ms))
    s->drained = 1; /* caught up, or past the run's start */
  pump(s);
}

static void on_subscribe(void *arg, int status, json_t *reply,
                         const struct sluice_error *err)
{
  struct cdc_source *s = arg;
  struct cdc_ctx *x = s->x;
  struct sluice_error e = {0};
  struct cdc_meta meta;
  int rc;

  s->step = ST_IDLE;
  if (status < 0) {
    retry_later(s, err->message);
    return;
  }
  if ((rc = cdc_reply_parse(reply, "/meta/subscribe", &meta, NULL, NULL, &e)) <
      0) {
    finish(s, rc, &e);
    return;
  }
  if (meta.successful) {
    connect_next(s);
    return;
  }
  if (cdc_error_is_replay_invalid(meta.error) && s->phase == PH_STREAM) {
    SLUICE_LOG_W(x->host, s->c->ins,
                 "%s: replay id %lld is no longer retained (the stream keeps "
                 "72 hours): changes since may be lost, loading the object "
                 "again",
                 s->c->object, (long long)s->position);
    free(s->client_id);
    s->client_id = NULL;
    s->resync = 1;
    note_begin(s);
    return;
  }
  if (meta.error != NULL && strstr(meta.error, "doesn't exist") != NULL)
    cdc_not_enabled(s, meta.error, &e);
  else if (meta.error != NULL && strncmp(meta.error, "403", 3) == 0)
    sluice_error_set(&e, SLUICE_EAUTH, 0, "%s: subscribing to %s: %s",
                     s->c->object, x->channel_name, meta.error);
  else
    sluice_error_set(&e, SLUICE_EPROTO, 0, "%s: subscribing to %s: %s",
                     s->c->object, x->channel_name,
                     meta.error ? meta.error : "refused");
  finish(s, e.code, &e);
}

static void subscribe(struct cdc_source *s)
{
  json_t *m = message(s, "/meta/subscribe");
  int64_t from = s->phase == PH_NOTE ? -2 : s->position;

  if (m != NULL) {
    json_object_set_new(m, "subscription", json_string(s->x->channel_name));
    json_object_set_new(
        m, "ext",
        json_pack("{s:{s:I}}", "replay", s->x->channel_name, (json_int_t)from));
  }
  s->step = ST_SUBSCRIBE;
  send_msg(s, m, 0, SLUICE_HTTP_RETRY_SAFE, on_subscribe);
}

static void on_handshake(void *arg, int status, json_t *reply,
                         const struct sluice_error *err)
{
  struct cdc_source *s = arg;
  struct sluice_error e = {0};
  struct cdc_meta meta;
  int rc;

  s->step = ST_IDLE;
  if (status < 0) {
    retry_later(s, err->message);
    return;
  }
  if ((rc = cdc_reply_parse(reply, "/meta/handshake", &meta, NULL, NULL, &e)) <
      0) {
    finish(s, rc, &e);
    return;
  }
  if (!meta.successful || meta.client_id == NULL) {
    const char *why = meta.failure_reason ? meta.failure_reason
                      : meta.error        ? meta.error
                                          : "handshake refused";
    if (strncmp(why, "401", 3) == 0)
      sf_auth_forget(s->c);
    retry_later(s, why);
    return;
  }
  if (!meta.replay) {
    sluice_error_set(&e, SLUICE_EPROTO, 0,
                     "CometD: the server does not offer the replay "
                     "extension: changes could be lost between runs");
    finish(s, e.code, &e);
    return;
  }
  free(s->client_id);
  if ((s->client_id = strdup(meta.client_id)) == NULL) {
    fail_nomem(s);
    return;
  }
  subscribe(s);
}

static void handshake(struct cdc_source *s)
{
  json_t *m;

  free(s->client_id);
  s->client_id = NULL;
  s->session_connects = 0;
  cdc_bayeux_reset(s->bx); /* the new session's cookies only */
  m = message(s, "/meta/handshake");
  if (m != NULL) {
    json_object_set_new(m, "version", json_string("1.0"));
    json_object_set_new(m, "minimumVersion", json_string("1.0"));
    json_object_set_new(m, "supportedConnectionTypes",
                        json_pack("[s]", "long-polling"));
    json_object_set_new(
        m, "advice", json_pack("{s:i, s:i}", "timeout", 60000, "interval", 0));
    json_object_set_new(m, "ext", json_pack("{s:b}", "replay", 1));
  }
  s->step = ST_HANDSHAKE;
  send_msg(s, m, 0, SLUICE_HTTP_RETRY_SAFE, on_handshake);
}

static void note_begin(struct cdc_source *s)
{
  s->phase = PH_NOTE;
  s->noted_any = 0;
  SLUICE_LOG_I(s->x->host, s->c->ins,
               "%s: noting the stream's position before the load",
               s->c->object);
  handshake(s);
}

static void stream_begin(struct cdc_source *s)
{
  s->phase = PH_STREAM;
  SLUICE_LOG_I(s->x->host, s->c->ins, "%s: streaming %s after replay id %lld",
               s->c->object, s->x->channel_name, (long long)s->position);
  handshake(s);
}

/* --- the load, through salesforce-common's or salesforce-bulk2's reader --- */

static int use_bulk(const struct cdc_ctx *x)
{
  return strcmp(x->initial_load, "bulk2") == 0;
}

static void load_stop(struct cdc_source *s)
{
  if (!s->load_running)
    return;
  if (use_bulk(s->x))
    b2_query_stop(&s->x->b2);
  else
    sf_source_stop(s->c->ins, s->c);
}

static void load_cleanup(struct cdc_source *s)
{
  s->c->tap = NULL;
  if (use_bulk(s->x))
    b2_query_free(&s->x->b2);
  else
    sf_source_free(s->c);
}

/* The reader's emit: its batch, with the load's checkpoint around the
 * reader's own. */
static int load_emit(struct sf_ctx *c, struct sluice_batch *b,
                     struct sluice_error *err)
{
  struct cdc_ctx *x = (struct cdc_ctx *)c; /* sf is first, in b2, first */
  struct cdc_source *s = x->src;
  const char *inner = sluice_batch_checkpoint(b);
  char *cp = checkpoint_text(s, s->position, inner ? inner : "");

  if (cp == NULL || sluice_batch_set_checkpoint(b, cp) < 0) {
    free(cp);
    sluice_batch_unref(b);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  free(cp);
  return x->host->emit(c->ins, b, err);
}

static void load_done(struct sf_ctx *c, int status,
                      const struct sluice_error *err)
{
  struct cdc_ctx *x = (struct cdc_ctx *)c;
  struct cdc_source *s = x->src;

  s->load_running = 0;
  c->tap = NULL;
  if (status < 0) {
    finish(s, status, err);
    return;
  }
  if (s->stopping || x->host->stopping(c->ins)) { /* the load is not whole */
    finish(s, 0, NULL);
    return;
  }
  SLUICE_LOG_I(x->host, c->ins, "%s: %s over; streaming from replay id %lld",
               c->object, s->resync ? "resync" : "initial load",
               (long long)s->position);
  /* The load is whole: from here on a rerun streams. */
  if (position_set(s, s->position) < 0 || queue_position(s) < 0) {
    fail_nomem(s);
    return;
  }
  free(s->load_checkpoint);
  s->load_checkpoint = NULL;
  s->phase = PH_STREAM;
  pump(s); /* emits the position, then opens the stream */
}

static const struct sf_tap load_tap = {load_emit, load_done};

static void load_begin(struct cdc_source *s)
{
  struct cdc_ctx *x = s->x;
  struct sluice_error e = {0};
  int rc;

  load_cleanup(s); /* a reader from an earlier load */
  s->c->tap = &load_tap;
  s->load_running = 1;
  SLUICE_LOG_I(x->host, s->c->ins, "%s: %s through %s%s", s->c->object,
               s->resync ? "loading again" : "initial load",
               use_bulk(x) ? "a Bulk API 2.0 query job" : "the REST API",
               s->load_checkpoint ? " (resuming)" : "");
  if (use_bulk(x))
    rc = b2_query_start(&x->b2, s->load_checkpoint, &e);
  else
    rc = sf_source_start(s->c->ins, s->c, s->load_checkpoint, &e);
  if (rc < 0) {
    s->load_running = 0;
    s->c->tap = NULL;
    finish(s, rc, &e);
  }
}

/* --- describe, then the first phase ----------------------------------------
 */

static void on_describe(void *arg, int status, json_t *body,
                        const struct sluice_error *err)
{
  struct cdc_source *s = arg;
  struct sluice_error e = {0};
  int has_modstamp, rc;

  s->call = NULL;
  if (status < 0) {
    e = *err;
    if (status == SLUICE_ENOTFOUND)
      sluice_error_prefix(&e, "object %s", s->c->object);
    finish(s, status, &e);
    return;
  }
  rc = sf_describe_fields(s->c, body, &s->fields, &s->nfields, &has_modstamp,
                          &e);
  if (rc == 0 &&
      (s->schema = sf_describe_schema(s->fields, s->nfields)) == NULL)
    rc = sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
  if (rc == 0 &&
      (s->rows = cdc_rows_new(s->x, s->fields, s->nfields, s->schema)) == NULL)
    rc = sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
  if (rc < 0) {
    finish(s, rc, &e);
    return;
  }
  if (s->phase == PH_NOTE)
    note_begin(s);
  else if (s->phase == PH_LOAD)
    load_begin(s);
  else if (position_set(s, s->position) < 0)
    fail_nomem(s);
  else
    pump(s);
}

int cdc_source_start(struct sluice_instance *ins, void *ctx,
                     const char *checkpoint, struct sluice_error *err)
{
  struct cdc_ctx *x = ctx;
  struct cdc_source *s;
  struct sluice_buf path = SLUICE_BUF_INIT;
  int rc;

  (void)ins;
  if (x->src != NULL)
    return sluice_error_set(err, SLUICE_ESTATE, 0, "already started");
  if ((s = calloc(1, sizeof *s)) == NULL ||
      (s->bx = cdc_bayeux_new(&x->b2.sf)) == NULL) {
    free(s);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  s->x = x;
  s->c = &x->b2.sf;
  s->phase = PH_NOTE;
  s->overflow_at = -1;
  s->hold_ms = 110000;
  s->start_ms = now_ms();
  x->src = s;
  x->host->batch_limits(s->c->ins, &s->max_rows, &s->max_bytes);
  if (checkpoint != NULL && (rc = checkpoint_parse(s, checkpoint, err)) < 0)
    return rc;
  rc = sf_api_base(s->c, &path);
  if (rc == 0)
    rc = sluice_buf_printf(&path, "/sobjects/%s/describe", s->c->object);
  if (rc < 0)
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  else
    rc = sf_api_get(s->c, sluice_buf_cstr(&path), NULL, 0, on_describe, s,
                    &s->call, err);
  sluice_buf_free(&path);
  return rc;
}

void cdc_source_pause(struct sluice_instance *ins, void *ctx)
{
  struct cdc_ctx *x = ctx;

  if (x->src == NULL)
    return;
  x->src->paused = 1;
  if (x->src->load_running) {
    if (use_bulk(x))
      b2_query_pause(&x->b2);
    else
      sf_source_pause(ins, &x->b2.sf);
  }
}

void cdc_source_resume(struct sluice_instance *ins, void *ctx)
{
  struct cdc_ctx *x = ctx;

  if (x->src == NULL)
    return;
  x->src->paused = 0;
  if (x->src->load_running) {
    if (use_bulk(x))
      b2_query_resume(&x->b2);
    else
      sf_source_resume(ins, &x->b2.sf);
    return;
  }
  pump(x->src);
}

void cdc_source_stop(struct sluice_instance *ins, void *ctx)
{
  struct cdc_ctx *x = ctx;
  struct cdc_source *s = x->src;

  (void)ins;
  if (s == NULL || s->finished)
    return;
  s->stopping = 1;
  if (s->load_running) {
    load_stop(s);
    return;
  }
  /* What is being read is dropped: the position stays at the last reply
   * queued, and the next run reads from the last one committed. */
  cdc_bayeux_cancel(s->bx);
  s->step = ST_IDLE;
  if (s->building) {
    cdc_rows_cancel(s->rows);
    s->building = 0;
  }
  if (s->timer != NULL) {
    x->host->timer_stop(s->timer);
    s->timer = NULL;
  }
  if (s->call != NULL) {
    sf_api_cancel(s->call);
    s->call = NULL;
  }
  if (s->paused || s->phase != PH_STREAM) /* nothing more to emit */
    finish(s, 0, NULL);
  else
    pump(s);
}

void cdc_source_free(struct cdc_ctx *x)
{
  struct cdc_source *s = x->src;

  if (s == NULL)
    return;
  if (s->call != NULL)
    sf_api_cancel(s->call);
  if (s->timer != NULL)
    x->host->timer_stop(s->timer);
  load_cleanup(s);
  cdc_bayeux_free(s->bx);
  cdc_rows_free(s->rows);
  sluice_batch_queue_clear(&s->queue);
  sf_fields_free(s->fields, s->nfields);
  sluice_schema_unref(s->schema);
  free(s->client_id);
  free(s->checkpoint);
  free(s->load_checkpoint);
  free(s);
  x->src = NULL;
}
