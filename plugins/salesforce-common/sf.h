/* plugins/salesforce-rest/sf_rest.h - the salesforce-rest plugin's shared
 * context and the interfaces between its parts.
 *
 *   sf_plugin.c    the descriptor, config maps, init/fini, check
 *   sf_auth.c      the three OAuth flows, the cached token, re-login
 *   sf_api.c       one authenticated REST GET: budget guard, usage
 *                  header, counting, one re-login on INVALID_SESSION_ID,
 *                  REST error bodies into messages
 *   sf_describe.c  describe -> selected fields, their types, the schema
 *   sf_query.c     SOQL text, paging, records -> batch rows
 *   sf_wide.c      objects too wide for one query: field groups joined
 *                  on Id
 *   sf_source.c    the source lifecycle: start, pause/resume/stop,
 *                  emitting, the checkpoint, hard deletes (getDeleted)
 *   sf_dest.c      the destination: sObject Collections insert, update,
 *                  upsert by external id and delete, per-record errors
 *                  into the reject file
 *
 * Everything runs on the loop thread; nothing blocks; no global state. */
#ifndef SLUICE_SF_REST_H
#define SLUICE_SF_REST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <sluice/auth.h>
#include <sluice/batch.h>
#include <sluice/buf.h>
#include <sluice/host.h>
#include <sluice/plugin.h>

struct sf_source;
struct sf_dest;
struct sf_tap;
struct sf_keys;

/* Called when an asynchronous step is over: status 0, or a negative code
 * with err filled. */
typedef void (*sf_step_cb)(void *arg, int status,
                           const struct sluice_error *err);

/* One selected field: its describe type and the sluice type it becomes. */
struct sf_field {
  char *name;
  char *sf_type; /* describe "type": "currency", "datetime", ... */
  enum sluice_type type;
  int precision, scale; /* DECIMAL */
};

struct sf_ctx {
  const struct sluice_host *host;
  struct sluice_instance *ins;

  /* connection_config, bound by the host */
  const char *login_url;
  const char *api_version;
  const char *auth_flow; /* client_credentials | jwt_bearer | refresh_token */
  const char *client_id;
  const char *client_secret;
  const char *username;
  const char *private_key_file;
  const char *private_key_passphrase;
  const char *refresh_token;
  const char *jwt_audience;
  const char *ca_file;
  int64_t max_api_usage_percent;

  /* config (source), bound by the host */
  const char *object;
  struct sluice_strlist fields;
  const char *filter;
  const char *mode; /* full | incremental */
  int64_t lookback_ms;
  int include_deleted;
  int64_t batch_size;
  int64_t max_value_bytes;
  int hard_deletes;
  const char *compound_fields; /* flatten | json | skip */

  /* config (destination), bound by the host */
  const char *operation; /* insert | update | upsert | delete */
  const char *external_id;
  const char *reject_file;
  int all_or_none;

  /* derived at init */
  char *rate_key;  /* login_url + client_id: one AIMD limiter a connection */
  char *token_url; /* login_url/services/oauth2/token */
  char *ca_path;   /* ca_file made absolute against base_dir */
  char *key_path;  /* private_key_file made absolute */

  /* the session (sf_auth.c) */
  struct sluice_oauth_token token; /* access_token NULL: not logged in */
  char *rotated_refresh_token;     /* a refresh token the server rotated */
  struct sluice_buf auth_header;   /* "Bearer <token>" */
  struct sf_login *login;          /* the login under way, or NULL */

  struct sf_source *src;
  struct sf_dest *dst;
  /* A plugin that wraps the readers (salesforce-cdc's initial load) takes
   * their batches and end here; NULL: straight to the host. */
  const struct sf_tap *tap;
  struct sf_keys *keys; /* a key sweep's reader (sf_keys.c), or NULL */
};

struct sf_tap {
  int (*emit)(struct sf_ctx *c, struct sluice_batch *b,
              struct sluice_error *err);
  void (*done)(struct sf_ctx *c, int status, const struct sluice_error *err);
};

/* --- sf_common.c: what every Salesforce plugin shares --- */
#define SF_REQ SLUICE_CFG_REQUIRED
#define SF_SECRET SLUICE_CFG_SECRET
#define SF_SRC SLUICE_CFG_SOURCE
#define SF_DST SLUICE_CFG_DESTINATION
/* The entries of the connection's config map ("type": "salesforce"). */
#define SF_CONNECTION_CONFIG                                                   \
  {"login_url",                                                                \
   SLUICE_CFG_STRING,                                                          \
   SF_REQ,                                                                     \
   NULL,                                                                       \
   NULL,                                                                       \
   offsetof(struct sf_ctx, login_url),                                         \
   "the token endpoint's host: https://login.salesforce.com, "                 \
   "https://test.salesforce.com or the org's My Domain URL "                   \
   "(client_credentials needs My Domain)"},                                    \
      {"api_version",                                                          \
       SLUICE_CFG_STRING,                                                      \
       0,                                                                      \
       "61.0",                                                                 \
       NULL,                                                                   \
       offsetof(struct sf_ctx, api_version),                                   \
       "the REST API version, \"61.0\""},                                      \
      {"auth_flow",                                                            \
       SLUICE_CFG_ENUM,                                                        \
       SF_REQ,                                                                 \
       NULL,                                                                   \
       "client_credentials|jwt_bearer|refresh_token",                          \
       offsetof(struct sf_ctx, auth_flow),                                     \
       "the OAuth 2.0 flow to log in with"},                                   \
      {"client_id",                                                            \
       SLUICE_CFG_STRING,                                                      \
       0,                                                                      \
       NULL,                                                                   \
       NULL,                                                                   \
       offsetof(struct sf_ctx, client_id),                                     \
       "the connected app's consumer key"},                                    \
      {"client_secret",                                                        \
       SLUICE_CFG_STRING,                                                      \
       SF_SECRET,                                                              \
       NULL,                                                                   \
       NULL,                                                                   \
       offsetof(struct sf_ctx, client_secret),                                 \
       "the connected app's consumer secret (client_credentials; "             \
       "refresh_token when the app requires it)"},                             \
      {"username",                                                             \
       SLUICE_CFG_STRING,                                                      \
       0,                                                                      \
       NULL,                                                                   \
       NULL,                                                                   \
       offsetof(struct sf_ctx, username),                                      \
       "jwt_bearer: the Salesforce user to act as"},                           \
      {"private_key_file",                                                     \
       SLUICE_CFG_STRING,                                                      \
       0,                                                                      \
       NULL,                                                                   \
       NULL,                                                                   \
       offsetof(struct sf_ctx, private_key_file),                              \
       "jwt_bearer: the PEM RSA key whose certificate the app holds"},         \
      {"private_key_passphrase",                                               \
       SLUICE_CFG_STRING,                                                      \
       SF_SECRET,                                                              \
       NULL,                                                                   \
       NULL,                                                                   \
       offsetof(struct sf_ctx, private_key_passphrase),                        \
       "jwt_bearer: the passphrase of an encrypted key"},                      \
      {"refresh_token",                                                        \
       SLUICE_CFG_STRING,                                                      \
       SF_SECRET,                                                              \
       NULL,                                                                   \
       NULL,                                                                   \
       offsetof(struct sf_ctx, refresh_token),                                 \
       "refresh_token: the refresh token (a rotated one is kept in the "       \
       "pipeline's state)"},                                                   \
      {"jwt_audience",                                                         \
       SLUICE_CFG_STRING,                                                      \
       0,                                                                      \
       NULL,                                                                   \
       NULL,                                                                   \
       offsetof(struct sf_ctx, jwt_audience),                                  \
       "jwt_bearer: the aud claim; default https://test.salesforce.com for "   \
       "sandbox login URLs, else https://login.salesforce.com"},               \
      {"ca_file",                                                              \
       SLUICE_CFG_STRING,                                                      \
       0,                                                                      \
       NULL,                                                                   \
       NULL,                                                                   \
       offsetof(struct sf_ctx, ca_file),                                       \
       "a CA bundle to trust instead of the system's (tests)"},                \
  {                                                                            \
    "max_api_usage_percent", SLUICE_CFG_INT, 0, "80", NULL,                    \
        offsetof(struct sf_ctx, max_api_usage_percent),                        \
        "start no request once this share of the daily API budget is used "    \
        "(0: no limit)"                                                        \
  }
/* object (both roles) and the source's entries of the config map. */
#define SF_SOURCE_CONFIG                                                       \
  {"object",                                                                   \
   SLUICE_CFG_STRING,                                                          \
   SF_REQ,                                                                     \
   NULL,                                                                       \
   NULL,                                                                       \
   offsetof(struct sf_ctx, object),                                            \
   "the sObject to read or write: \"Account\""},                               \
      {"fields",                                                               \
       SLUICE_CFG_STRLIST,                                                     \
       SF_SRC,                                                                 \
       NULL,                                                                   \
       NULL,                                                                   \
       offsetof(struct sf_ctx, fields),                                        \
       "the fields to read; empty: every field but base64 ones (compound "     \
       "fields as compound_fields says).  Id and SystemModstamp are always "   \
       "read"},                                                                \
      {"compound_fields",                                                      \
       SLUICE_CFG_ENUM,                                                        \
       SF_SRC,                                                                 \
       "flatten",                                                              \
       "flatten|json|skip",                                                    \
       offsetof(struct sf_ctx, compound_fields),                               \
       "when fields is empty, how address and location fields are read: "      \
       "flatten (their components, BillingCity...), json (the compound as "    \
       "one JSON text column), skip (neither)"},                               \
      {"filter",                                                               \
       SLUICE_CFG_STRING,                                                      \
       SF_SRC,                                                                 \
       NULL,                                                                   \
       NULL,                                                                   \
       offsetof(struct sf_ctx, filter),                                        \
       "a SOQL WHERE condition, \"Type = 'Customer'\" (ANDed with the "        \
       "cursor)"},                                                             \
      {"mode",                                                                 \
       SLUICE_CFG_ENUM,                                                        \
       SF_SRC,                                                                 \
       "full",                                                                 \
       "full|incremental",                                                     \
       offsetof(struct sf_ctx, mode),                                          \
       "full: every record each run; incremental: records changed since the "  \
       "checkpoint (by SystemModstamp)"},                                      \
      {"lookback",                                                             \
       SLUICE_CFG_DURATION,                                                    \
       SF_SRC,                                                                 \
       "5m",                                                                   \
       NULL,                                                                   \
       offsetof(struct sf_ctx, lookback_ms),                                   \
       "incremental: read again this far before the checkpoint (late "         \
       "commits)"},                                                            \
      {"include_deleted",                                                      \
       SLUICE_CFG_BOOL,                                                        \
       SF_SRC,                                                                 \
       "false",                                                                \
       NULL,                                                                   \
       offsetof(struct sf_ctx, include_deleted),                               \
       "use queryAll: deleted records arrive as DELETE rows"},                 \
      {"batch_size",                                                           \
       SLUICE_CFG_INT,                                                         \
       SF_SRC,                                                                 \
       "2000",                                                                 \
       NULL,                                                                   \
       offsetof(struct sf_ctx, batch_size),                                    \
       "records a query page (Sforce-Query-Options batchSize, 200-2000)"},     \
      {"max_value_bytes",                                                      \
       SLUICE_CFG_SIZE,                                                        \
       SF_SRC,                                                                 \
       "1M",                                                                   \
       NULL,                                                                   \
       offsetof(struct sf_ctx, max_value_bytes),                               \
       "the largest text value a REST query record may hold (Salesforce's "    \
       "longest text field holds 131,072 characters); a larger one fails "     \
       "the run naming the record and the field"},                             \
  {                                                                            \
    "hard_deletes", SLUICE_CFG_BOOL, SF_SRC, "false", NULL,                    \
        offsetof(struct sf_ctx, hard_deletes),                                 \
        "incremental: also ask getDeleted for records deleted since the "      \
        "checkpoint (hard deletes included) and emit them as DELETE rows"      \
  }
char *sf_absolute(struct sf_ctx *c, const char *path);
/* A reader's output: host->emit and host->source_done, or c->tap's. */
int sf_emit(struct sf_ctx *c, struct sluice_batch *b, struct sluice_error *err);
void sf_source_end(struct sf_ctx *c, int status,
                   const struct sluice_error *err);
/* init: checks the connection and object, derives the paths and keys. */
int sf_common_init(struct sluice_instance *ins, const struct sluice_host *host,
                   struct sf_ctx *c, struct sluice_error *err);
/* fini of what sf_common_init and the source made. */
void sf_common_fini(struct sf_ctx *c);
/* count (sf_count.c): SELECT COUNT() of the object, under the source's
 * filter. */
int sf_common_count(struct sluice_instance *ins, void *ctx,
                    sluice_count_cb done, void *arg, struct sluice_error *err);
/* check: log in, then GET /limits. */
int sf_common_check(struct sluice_instance *ins, void *ctx, sluice_done_cb done,
                    void *arg, struct sluice_error *err);

/* --- sf_auth.c --- */
/* Checks the connection config for the chosen flow (init). */
int sf_auth_validate(struct sf_ctx *c, struct sluice_error *err);
/* Logs in (again) with the configured flow, then calls cb.  A login that
 * fails names the flow and the reason. */
int sf_auth_login(struct sf_ctx *c, sf_step_cb cb, void *arg,
                  struct sluice_error *err);
/* Forgets the session (after a 401). */
void sf_auth_forget(struct sf_ctx *c);
/* Cancels a login under way (fini); its cb is not called. */
void sf_auth_cancel(struct sf_ctx *c);
void sf_auth_free(struct sf_ctx *c);

/* --- sf_api.c --- */
/* A finished API call: status 0 and a parsed JSON body (a borrowed
 * reference, valid during the callback), or a negative code with err. */
typedef void (*sf_api_cb)(void *arg, int status, json_t *body,
                          const struct sluice_error *err);
struct sf_api_call;
/* GETs path (relative to instance_url, "/services/data/...") with the
 * session's Authorization header (logging in first when there is no
 * session), extra_headers added.  Fails with SLUICE_ELIMIT before sending
 * when the known API usage is at max_api_usage_percent or above. */
int sf_api_get(struct sf_ctx *c, const char *path,
               const struct sluice_http_header *extra_headers, size_t nextra,
               sf_api_cb cb, void *arg, struct sf_api_call **out,
               struct sluice_error *err);
/* The same for any method: body (borrowed until cb) sent as is, flags as
 * for host->http_request (SLUICE_HTTP_RETRY_SAFE for idempotent writes).
 * method must be a string constant. */
int sf_api_request(struct sf_ctx *c, const char *method, const char *path,
                   const void *body, size_t body_len, uint32_t flags,
                   const struct sluice_http_header *extra_headers,
                   size_t nextra, sf_api_cb cb, void *arg,
                   struct sf_api_call **out, struct sluice_error *err);
/* What Bulk API 2.0 calls need beyond sf_api_request (zeroed: none). */
struct sf_api_opts {
  const char *accept;    /* the Accept header; NULL: application/json */
  const char *body_file; /* a file sent as the body (copied path) */
  int raw;               /* a 2xx body is not JSON: cb gets body NULL */
  int copy_body;         /* the call keeps a copy of body (else borrowed) */
  /* A 2xx answer's status line and headers (read them with
   * host->http_header); < 0 cancels.  Error answers never come here. */
  int (*on_response)(void *arg, const struct sluice_http_response *resp);
  /* Pieces of a 2xx body, as host on_data (SLUICE_EAGAIN pauses: resume
   * with sf_api_resume); the body is then not handed to cb. */
  int (*on_data)(void *arg, const char *data, size_t len);
};
int sf_api_request_opts(struct sf_ctx *c, const char *method, const char *path,
                        const void *body, size_t body_len, uint32_t flags,
                        const struct sluice_http_header *extra_headers,
                        size_t nextra, const struct sf_api_opts *opts,
                        sf_api_cb cb, void *arg, struct sf_api_call **out,
                        struct sluice_error *err);
/* Resumes a transfer on_data paused (it may deliver a piece at once). */
void sf_api_resume(struct sf_api_call *call);
/* Cancels a call; its cb is not called. */
void sf_api_cancel(struct sf_api_call *call);
/* "/services/data/v61.0" */
int sf_api_base(struct sf_ctx *c, struct sluice_buf *out);
/* Fills err from a REST error body ([{"message","errorCode"}]) or an
 * HTTP status; names `what`. */
int sf_api_error(struct sf_ctx *c, long http_status, const char *body,
                 size_t len, const char *what, struct sluice_error *err);

/* --- sf_describe.c --- */
/* The fields to select: the configured ones checked against describe, or
 * every field but base64 ones, compound fields as compound_fields says; Id,
 * SystemModstamp (when the object has it) and, with include_deleted,
 * IsDeleted are added when missing.  Fails naming unknown fields. */
int sf_describe_fields(struct sf_ctx *c, json_t *describe,
                       struct sf_field **out, size_t *nout, int *has_modstamp,
                       struct sluice_error *err);
/* Sets f's sluice type (type, precision, scale) from a describe "type"
 * and the field's precision and scale (contract section 7). */
void sf_describe_map_type(const char *t, int precision, int scale,
                          struct sf_field *f);
/* A schema of the fields, in order. */
struct sluice_schema *sf_describe_schema(const struct sf_field *f, size_t n);
void sf_fields_free(struct sf_field *f, size_t n);

/* --- sf_query.c --- */
/* SELECT ... FROM object [WHERE (filter) [AND] SystemModstamp >= since]
 * ORDER BY SystemModstamp, Id (Id only without SystemModstamp).
 * since_us < 0: no cursor condition. */
int sf_query_soql(struct sf_ctx *c, const struct sf_field *f, size_t n,
                  int has_modstamp, int64_t since_us, struct sluice_buf *out,
                  struct sluice_error *err);
/* The path of the first page: "/services/data/vX/query?q=..." (queryAll
 * with include_deleted). */
int sf_query_first_path(struct sf_ctx *c, const char *soql,
                        struct sluice_buf *out);
/* Appends one record (a JSON object of a query page) to batch b as a row
 * (DELETE when its IsDeleted is true).  Fails naming the field, also for
 * a text value longer than max_value bytes (0: no limit). */
int sf_query_record_to_row(const struct sf_field *f, size_t n, json_t *rec,
                           size_t max_value, struct sluice_batch *b,
                           struct sluice_error *err);
/* Writes a datetime as a SOQL literal: "2024-05-01T12:00:00Z" (whole
 * seconds, rounded down). */
void sf_query_datetime_literal(int64_t us, char *out, size_t outlen);

/* --- sf_wide.c --- */
struct sf_wide;
/* The SOQL of the query that pages, into soql: every field when one query
 * fits the URI limit (*out NULL), else the first group of them, the
 * others in *out for sf_wide_fill. */
int sf_wide_plan(struct sf_ctx *c, const struct sf_field *f, size_t n,
                 int has_modstamp, int64_t since_us, struct sluice_buf *soql,
                 struct sf_wide **out, struct sluice_error *err);
/* Completes a non-empty page of the first query (records, borrowed until
 * cb) with the other groups' fields, joined on Id, in place; records no
 * group returns any more are removed.  Then cb, never before returning. */
int sf_wide_fill(struct sf_wide *w, json_t *records, sf_step_cb cb, void *arg,
                 struct sluice_error *err);
/* Stops a fill under way; its cb is not called. */
void sf_wide_cancel(struct sf_wide *w);
void sf_wide_free(struct sf_wide *w);

/* --- sf_source.c --- */
int sf_source_start(struct sluice_instance *ins, void *ctx,
                    const char *checkpoint, struct sluice_error *err);
void sf_source_pause(struct sluice_instance *ins, void *ctx);
void sf_source_resume(struct sluice_instance *ins, void *ctx);
void sf_source_stop(struct sluice_instance *ins, void *ctx);
void sf_source_free(struct sf_ctx *c);

/* --- sf_keys.c: source_keys (ABI 1.2) --- */
/* Every live record's `fields`, as text, under the filter (REST /query).
 * The sf_source_pause/resume/stop above serve it too. */
int sf_source_keys(struct sluice_instance *ins, void *ctx,
                   const struct sluice_strlist *fields,
                   struct sluice_error *err);
void sf_keys_pause(struct sf_ctx *c);
void sf_keys_resume(struct sf_ctx *c);
void sf_keys_stop(struct sf_ctx *c);
void sf_keys_free(struct sf_ctx *c);

/* --- sf_dest.c --- */
int sf_dest_open(struct sluice_instance *ins, void *ctx,
                 struct sluice_schema *schema, sluice_done_cb done, void *arg,
                 struct sluice_error *err);
int sf_dest_write(struct sluice_instance *ins, void *ctx,
                  struct sluice_batch *batch, sluice_done_cb done, void *arg,
                  struct sluice_error *err);
int sf_dest_commit(struct sluice_instance *ins, void *ctx, sluice_done_cb done,
                   void *arg, struct sluice_error *err);
void sf_dest_free(struct sf_ctx *c);

#endif
