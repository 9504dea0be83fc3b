/* plugins/salesforce-cdc/sf_cdc.h - the salesforce-cdc plugin's context and
 * the interfaces between its parts.
 *
 *   sf_cdc_plugin.c   the descriptor, config map, init/fini, check (is CDC
 *                     enabled for the object?)
 *   sf_cdc_message.c  Bayeux replies and change events, parsed and checked
 *                     (no I/O: fuzzed and unit-tested alone)
 *   sf_cdc_bayeux.c   one Bayeux exchange over HTTPS: the session's token,
 *                     the cookies the server set, the JSON array both ways
 *   sf_cdc_rows.c     change events into rows: records read whole by Id
 *                     (queryAll, so deleted ones come back flagged), or
 *                     built from the event
 *   sf_cdc_source.c   the source: the initial load, the stream, the
 *                     checkpoint (the replay id), resyncs, drain/stream
 *
 * The connection, login, describe and the REST and Bulk 2.0 readers used
 * for the initial load are salesforce-common's and salesforce-bulk2's.
 * Everything runs on the loop thread; nothing blocks; no global state. */
#ifndef SLUICE_SF_CDC_H
#define SLUICE_SF_CDC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../salesforce-bulk2/sf_bulk2.h"

struct cdc_source;
struct cdc_check;

struct cdc_ctx {
  struct b2_ctx b2; /* first: sf_ctx's keys bind through b2.sf */

  /* config, bound by the host */
  const char *mode;         /* drain | stream */
  const char *initial_load; /* rest | bulk2 */
  int fetch_full_records;
  int64_t drain_wait_ms;
  const char *channel; /* NULL: /data/<Object>ChangeEvent */
  int64_t max_failures;

  /* derived at init */
  char *channel_name;
  const struct sluice_host *host;

  struct cdc_source *src;
  struct cdc_check *chk;
};

/* --- sf_cdc_message.c --- */
enum cdc_change {
  CDC_CREATE,
  CDC_UPDATE,
  CDC_DELETE,
  CDC_UNDELETE,
  CDC_GAP_CREATE,
  CDC_GAP_UPDATE,
  CDC_GAP_DELETE,
  CDC_GAP_UNDELETE,
  CDC_GAP_OVERFLOW,
  CDC_OTHER /* SNAPSHOT or a type this version does not know: re-read */
};

/* One change event, its JSON borrowed from the reply. */
struct cdc_event {
  int64_t replay_id;
  enum cdc_change change;
  const char *entity;
  json_t *record_ids; /* array of strings, not empty */
  json_t *payload;    /* the record fields and ChangeEventHeader */
  int64_t commit_ms;  /* commitTimestamp */
};

/* The answer to the meta message we sent (its channel). */
struct cdc_meta {
  int found;
  int successful;
  const char *error;          /* "403::Unknown client", or NULL */
  const char *failure_reason; /* ext.sfdc.failureReason, or NULL */
  const char *client_id;
  const char *reconnect;  /* advice: retry | handshake | none, or NULL */
  int64_t advice_timeout; /* ms; -1 when not given */
  int64_t advice_interval;
  int replay; /* handshake: ext.replay is true */
};

typedef int (*cdc_event_cb)(void *arg, const struct cdc_event *ev,
                            struct sluice_error *err);
/* Reads a reply (a JSON array): the message answering meta_channel into
 * *meta, and every data message on a /data/ channel handed to on_event in
 * order.  A malformed message fails naming its index and what is wrong. */
int cdc_reply_parse(json_t *reply, const char *meta_channel,
                    struct cdc_meta *meta, cdc_event_cb on_event, void *arg,
                    struct sluice_error *err);
const char *cdc_change_name(enum cdc_change c);
/* 1 when a subscribe error says the replay id is outside retention. */
int cdc_error_is_replay_invalid(const char *error);
/* "/data/AccountChangeEvent", "/data/Foo__ChangeEvent" for Foo__c. */
int cdc_channel_for(const char *object, struct sluice_buf *out);

/* --- sf_cdc_bayeux.c --- */
struct cdc_bayeux;
/* A reply: status 0 and the JSON array (borrowed during the callback), or
 * a negative code with err (no answer, an HTTP error, not an array). */
typedef void (*cdc_bayeux_cb)(void *arg, int status, json_t *reply,
                              const struct sluice_error *err);
struct cdc_bayeux *cdc_bayeux_new(struct sf_ctx *c);
void cdc_bayeux_free(struct cdc_bayeux *bx);
/* Forgets the cookies (a new handshake gets new ones). */
void cdc_bayeux_reset(struct cdc_bayeux *bx);
/* POSTs [msg] to /cometd/<api_version>, logging in first when there is no
 * session.  hold_ms: how long the server may hold the request (connect);
 * flags as for host->http_request.  One exchange at a time. */
int cdc_bayeux_send(struct cdc_bayeux *bx, json_t *msg, int64_t hold_ms,
                    uint32_t flags, cdc_bayeux_cb cb, void *arg,
                    struct sluice_error *err);
/* Cancels the exchange under way; its cb is not called. */
void cdc_bayeux_cancel(struct cdc_bayeux *bx);
int cdc_bayeux_busy(const struct cdc_bayeux *bx);

/* --- sf_cdc_rows.c --- */
struct cdc_rows;
/* The rows of a chunk of events: each record id once, with its last
 * change; DELETE rows for deletions, records read whole (or built from
 * the event) for the rest. */
struct cdc_rows *cdc_rows_new(struct cdc_ctx *x, const struct sf_field *f,
                              size_t nfields, struct sluice_schema *schema);
void cdc_rows_free(struct cdc_rows *r);
/* Adds an event's changes (in replay order). */
int cdc_rows_add(struct cdc_rows *r, const struct cdc_event *ev,
                 struct sluice_error *err);
size_t cdc_rows_pending(const struct cdc_rows *r);
/* Reads what must be read, then queues the rows as batches into q: every
 * batch but the last carries checkpoint_before, the last checkpoint_after
 * (a kill between them re-reads the chunk).  cb follows, never before
 * returning. */
int cdc_rows_build(struct cdc_rows *r, struct sluice_batch_queue *q,
                   size_t max_rows, size_t max_bytes,
                   const char *checkpoint_before, const char *checkpoint_after,
                   sf_step_cb cb, void *arg, struct sluice_error *err);
void cdc_rows_cancel(struct cdc_rows *r);

/* --- sf_cdc_source.c --- */
int cdc_source_start(struct sluice_instance *ins, void *ctx,
                     const char *checkpoint, struct sluice_error *err);
void cdc_source_pause(struct sluice_instance *ins, void *ctx);
void cdc_source_resume(struct sluice_instance *ins, void *ctx);
void cdc_source_stop(struct sluice_instance *ins, void *ctx);
void cdc_source_free(struct cdc_ctx *x);

#endif
