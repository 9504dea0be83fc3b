/* plugins/snowflake-common/sfk.h - what the snowflake-sql and
 * snowflake-stage plugins share (libsfkcommon, a convenience library
 * linked into both): the context and the interfaces between the parts.
 *
 *   sfk_common.c   the connection's config map, init/release of the
 *                  session part of the context, check and count
 *   sfk_auth.c     the Authorization header: key-pair JWT (signed once,
 *                  renewed before it expires) or an OAuth token
 *   sfk_stmt.c     one statement through the SQL API v2: submit, poll the
 *                  202s, re-sign once on 390144, errors in plain words;
 *                  partitions and child statements by handle
 *   sfk_value.c    rowType and cells into sluice values; values into
 *                  binding text (contract sections 2.5 and 2.6)
 *   sfk_sql.c      SQL text: identifiers, column types, the DDL, the
 *                  MERGE and the audit row
 *   sfk_sweep.c    the destination's key sweep: keys into a key table,
 *                  then the flagging UPDATE or the side-only lists
 *   sfk_dest.c     the destination: table and drift, staging, MERGE,
 *                  audit; how rows reach the staging table is a loader
 *                  (array-bound INSERTs unless the plugin sets one)
 * and in plugins/snowflake-sql only:
 *   sfk_plugin.c   its descriptor and source keys
 *   sfk_source.c   the source: a query or a view, partitions one at a time
 *
 * Everything runs on the loop thread; nothing blocks; no global state. */
#ifndef SLUICE_SFK_H
#define SLUICE_SFK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <sluice/auth.h>
#include <sluice/batch.h>
#include <sluice/buf.h>
#include <sluice/host.h>
#include <sluice/plugin.h>

struct sfk_source;
struct sfk_dest;
struct sfk_sweep;
struct sfk_call;
struct sfk_ctx;

/* What the staging table looks like, for a loader: the fields' columns
 * (upper case, in schema order) and then the sequence number and the
 * operation ('U' or 'D') of every row. */
struct sfk_staging {
  const char *table; /* "DB"."SCHEMA"."T__SLUICE_STG_P", quoted */
  struct sluice_schema *schema;
  size_t nfields;
  char *const *colnames;
  const char *const *coltypes; /* the Snowflake column type per field */
};

/* How rows get into the staging table.  snowflake-sql uses none (its
 * rows go by array-bound INSERTs in sfk_dest.c); snowflake-stage sets one
 * that writes files to a bucket and COPYs them.  Same done rules as the
 * plugin callbacks: 0 and done later exactly once, or < 0 with err. */
struct sfk_loader {
  /* The rows of one batch, the first with sequence number first_seq; the
   * batch is borrowed until done (take a reference to keep it). */
  int (*write)(struct sfk_ctx *c, const struct sfk_staging *st,
               struct sluice_batch *batch, int64_t first_seq,
               sluice_done_cb done, void *arg, struct sluice_error *err);
  /* Everything written since the last commit into the staging table,
   * before the MERGE runs: rows is how many it must hold. */
  int (*flush)(struct sfk_ctx *c, const struct sfk_staging *st, int64_t rows,
               sluice_done_cb done, void *arg, struct sluice_error *err);
  /* After the COMMIT: tidy up (failures only warn).  May be NULL; a
   * return < 0 means there is nothing to tidy (done is not called). */
  int (*committed)(struct sfk_ctx *c, sluice_done_cb done, void *arg,
                   struct sluice_error *err);
};

struct sfk_ctx {
  const struct sluice_host *host;
  struct sluice_instance *ins;

  /* connection_config, bound by the host */
  const char *account;
  const char *url; /* https://<account>.snowflakecomputing.com by default */
  const char *user;
  const char *auth_method; /* keypair | oauth */
  const char *private_key_file;
  const char *private_key_passphrase;
  const char *oauth_token;
  const char *warehouse;
  const char *database;
  const char *schema;
  const char *role;
  const char *ca_file;
  int64_t statement_timeout_ms;

  /* config (source) */
  const char *query;
  const char *view;

  /* config (destination) */
  const char *table;
  const char *write; /* append | merge | replace */
  struct sluice_strlist key;
  const char *hard_deletes; /* flag | delete | ignore */
  const char *del_flag_column;
  const char *audit_table; /* "" : none */
  int create_table;

  /* derived at init */
  char *base_url; /* no trailing '/' */
  char *ca_path;  /* ca_file made absolute */
  char *key_path; /* private_key_file made absolute */

  /* the session (sfk_auth.c) */
  struct sluice_pkey *pkey;
  struct sluice_buf fingerprint; /* "SHA256:..." */
  struct sluice_buf auth_header; /* "Bearer <jwt>" */
  int64_t jwt_expires;           /* epoch s; 0: none yet */

  struct sfk_source *src;
  struct sfk_dest *dst;
  struct sfk_sweep *sweep;         /* a key sweep (sfk_sweep.c), or NULL */
  const struct sfk_loader *loader; /* NULL: INSERTs */
};

/* The destination's config keys, the same in both plugins (offsets into
 * struct sfk_ctx, which a plugin's own context starts with). */
#define SFK_DEST_CONFIG_ENTRIES                                                \
  {"table",                                                                    \
   SLUICE_CFG_STRING,                                                          \
   SLUICE_CFG_DESTINATION,                                                     \
   NULL,                                                                       \
   NULL,                                                                       \
   offsetof(struct sfk_ctx, table),                                            \
   "destination: the table to write (upper-cased, quoted)"},                   \
      {"write",                                                                \
       SLUICE_CFG_ENUM,                                                        \
       SLUICE_CFG_DESTINATION,                                                 \
       "merge",                                                                \
       "append|merge|replace",                                                 \
       offsetof(struct sfk_ctx, write),                                        \
       "destination: merge (upsert on key), append, or replace (load a new "   \
       "table, then SWAP it in)"},                                             \
      {"key",                                                                  \
       SLUICE_CFG_STRLIST,                                                     \
       SLUICE_CFG_DESTINATION,                                                 \
       NULL,                                                                   \
       NULL,                                                                   \
       offsetof(struct sfk_ctx, key),                                          \
       "destination: the fields rows are matched on: [\"Id\"]"},               \
      {"hard_deletes",                                                         \
       SLUICE_CFG_ENUM,                                                        \
       SLUICE_CFG_DESTINATION,                                                 \
       "flag",                                                                 \
       "flag|delete|ignore",                                                   \
       offsetof(struct sfk_ctx, hard_deletes),                                 \
       "destination: what a DELETE row does: flag (del_flag_column set to "    \
       "'Y'; 'N' on live rows), delete (the row goes), ignore"},               \
      {"del_flag_column",                                                      \
       SLUICE_CFG_STRING,                                                      \
       SLUICE_CFG_DESTINATION,                                                 \
       "DEL_FLAG",                                                             \
       NULL,                                                                   \
       offsetof(struct sfk_ctx, del_flag_column),                              \
       "destination: the hard-delete flag column"},                            \
      {"audit_table",                                                          \
       SLUICE_CFG_STRING,                                                      \
       SLUICE_CFG_DESTINATION,                                                 \
       "SLUICE_AUDIT",                                                         \
       NULL,                                                                   \
       offsetof(struct sfk_ctx, audit_table),                                  \
       "destination: a row for every committed run, in the same "              \
       "transaction (\"\": none)"},                                            \
  {                                                                            \
    "create_table", SLUICE_CFG_BOOL, SLUICE_CFG_DESTINATION, "true", NULL,     \
        offsetof(struct sfk_ctx, create_table),                                \
        "destination: create the table when it does not exist"                 \
  }

/* --- sfk_common.c --- */
extern const struct sluice_config_entry sfk_connection_config[];
/* Binds the session part (base URL, CA and key paths, the key); on
 * failure it has released what it made. */
int sfk_ctx_init(struct sfk_ctx *c, struct sluice_instance *ins,
                 const struct sluice_host *host, struct sluice_error *err);
/* Frees the destination and the session part. */
void sfk_ctx_release(struct sfk_ctx *c);
/* The destination keys' rules (table, key for merge, ...). */
int sfk_dest_check_config(struct sfk_ctx *c, struct sluice_error *err);
int sfk_check(struct sluice_instance *ins, void *ctx, sluice_done_cb done,
              void *arg, struct sluice_error *err);
int sfk_count(struct sluice_instance *ins, void *ctx, sluice_count_cb done,
              void *arg, struct sluice_error *err);

char *sfk_absolute(struct sfk_ctx *c, const char *path);

/* --- sfk_auth.c --- */
/* Checks the auth config and loads the key (init). */
int sfk_auth_init(struct sfk_ctx *c, struct sluice_error *err);
/* The Authorization value ("Bearer ..."), signing a new JWT when there is
 * none, it expires within five minutes, or force is set (after a 390144).
 * Borrowed until the next call. */
const char *sfk_auth_header(struct sfk_ctx *c, int force,
                            struct sluice_error *err);
/* "KEYPAIR_JWT" or "OAUTH". */
const char *sfk_auth_token_type(const struct sfk_ctx *c);
void sfk_auth_free(struct sfk_ctx *c);

/* --- sfk_stmt.c --- */
/* A finished statement: status 0 with the 200 body (borrowed during the
 * callback), or a negative code with err. */
typedef void (*sfk_stmt_cb)(void *arg, int status, json_t *body,
                            const struct sluice_error *err);
/* Runs sql.  bindings (stolen; NULL for none) as the contract's
 * {"1": {"type":..,"value":..}}; nstatements 1 for one statement, else the
 * exact count of a multi-statement request (bindings must be NULL).  A
 * 202 is polled until the statement ends.  `what` names the step in
 * errors ("create table ACCOUNT").  *out (may be NULL) cancels. */
int sfk_exec(struct sfk_ctx *c, const char *what, const char *sql,
             json_t *bindings, int nstatements, sfk_stmt_cb cb, void *arg,
             struct sfk_call **out, struct sluice_error *err);
/* GETs /api/v2/statements/<handle>[?partition=N] (partition < 0: none): a
 * further partition ({"data": [...]}) or a child statement's result. */
int sfk_fetch(struct sfk_ctx *c, const char *what, const char *handle,
              long partition, sfk_stmt_cb cb, void *arg, struct sfk_call **out,
              struct sluice_error *err);
/* Cancels a call; its cb is not called. */
void sfk_call_cancel(struct sfk_call *call);
/* The count a DML statement's body reports in its result column named
 * `column` ("number of rows inserted"), or 0. */
int64_t sfk_result_count(json_t *body, const char *column);

/* --- sfk_value.c --- */
/* One result column, from its rowType entry. */
struct sfk_column {
  char *name;
  char *type; /* rowType "type", lower case: fixed, real, text, ... */
  enum sluice_type stype;
  int precision, scale;
};
/* rowType into columns; fails naming a type it cannot read. */
int sfk_columns_from_rowtype(json_t *rowtype, struct sfk_column **out,
                             size_t *n, struct sluice_error *err);
struct sluice_schema *sfk_columns_schema(const struct sfk_column *col,
                                         size_t n);
void sfk_columns_free(struct sfk_column *col, size_t n);
/* One data row (an array of strings and nulls) appended to b. */
int sfk_row_to_batch(const struct sfk_column *col, size_t n, json_t *row,
                     struct sluice_batch *b, struct sluice_error *err);
/* The binding type for values of type t into a column of Snowflake type
 * coltype (upper case, "TIMESTAMP_TZ", "NUMBER(38,0)"). */
const char *sfk_binding_type(enum sluice_type t, const char *coltype);
/* Appends a non-null value as the binding text of binding type btype. */
int sfk_binding_text(const struct sluice_value *v, const char *btype,
                     struct sluice_buf *out);

/* --- sfk_sql.c --- */
/* The Snowflake column type for a field: from its origin (Salesforce
 * describe types, contract 5.4) when known, else from its sluice type. */
const char *sfk_sql_column_type(const struct sluice_field *f, char *buf,
                                size_t buflen);
/* 1 when a column of Snowflake type `have` (INFORMATION_SCHEMA DATA_TYPE,
 * with precision and scale) can take values of field f unchanged. */
int sfk_sql_type_fits(const struct sluice_field *f, const char *have,
                      int precision, int scale);
/* Appends "DB"."SCHEMA"."NAME" (the parts the connection names) quoted. */
int sfk_sql_table_name(struct sfk_ctx *c, const char *name,
                       struct sluice_buf *out);
/* The statement reading a table's columns (name, type, precision, scale)
 * from INFORMATION_SCHEMA, in order; it needs the warehouse. */
int sfk_sql_columns_query(struct sfk_ctx *c, const char *table,
                          struct sluice_buf *out);
/* Appends 'text' as a Snowflake string literal; NULL: NULL. */
int sfk_sql_literal(const char *text, struct sluice_buf *out);

/* --- sfk_source.c (snowflake-sql only) --- */
int sfk_source_start(struct sluice_instance *ins, void *ctx,
                     const char *checkpoint, struct sluice_error *err);
void sfk_source_pause(struct sluice_instance *ins, void *ctx);
void sfk_source_resume(struct sluice_instance *ins, void *ctx);
void sfk_source_stop(struct sluice_instance *ins, void *ctx);
void sfk_source_free(struct sfk_ctx *c);

/* --- sfk_dest.c --- */
int sfk_dest_open(struct sluice_instance *ins, void *ctx,
                  struct sluice_schema *schema, sluice_done_cb done, void *arg,
                  struct sluice_error *err);
int sfk_dest_write(struct sluice_instance *ins, void *ctx,
                   struct sluice_batch *batch, sluice_done_cb done, void *arg,
                   struct sluice_error *err);
int sfk_dest_commit(struct sluice_instance *ins, void *ctx, sluice_done_cb done,
                    void *arg, struct sluice_error *err);
void sfk_dest_free(struct sfk_ctx *c);

/* --- sfk_sweep.c: the destination's key sweep (ABI 1.2) --- */
int sfk_sweep_keys(struct sluice_instance *ins, void *ctx,
                   struct sluice_strlist *keys, struct sluice_error *err);
int sfk_sweep_open(struct sluice_instance *ins, void *ctx, uint32_t action,
                   struct sluice_schema *schema, sluice_done_cb done, void *arg,
                   struct sluice_error *err);
int sfk_sweep_write(struct sluice_instance *ins, void *ctx,
                    struct sluice_batch *batch, sluice_done_cb done, void *arg,
                    struct sluice_error *err);
int sfk_sweep_finish(struct sluice_instance *ins, void *ctx, size_t limit,
                     sluice_sweep_cb done, void *arg, struct sluice_error *err);
void sfk_sweep_free(struct sfk_ctx *c);

/* --- sfk_source.c: source_keys (snowflake-sql, ABI 1.2) --- */
int sfk_source_keys(struct sluice_instance *ins, void *ctx,
                    const struct sluice_strlist *fields,
                    struct sluice_error *err);

#endif
