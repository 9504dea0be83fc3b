/* plugins/snowflake-stage/sfs.h - the snowflake-stage plugin: a Snowflake
 * destination that loads through an S3 external stage (contract 4.3, 4.6).
 *
 *   sfs_plugin.c   the descriptor, the config keys, init/fini
 *   sfs_csvgz.c    rows into a gzip CSV file (worker thread only)
 *   sfs_s3.c       object URLs, the signed PUT and DELETE, S3 errors
 *   sfs_loader.c   the sfk_loader: files written on the thread pool,
 *                  uploaded while the next is written, then the COPY,
 *                  then cleanup
 *   sfs_copy.c     COPY INTO the staging table, checked file by file
 *   sfs_sweep.c    deleting what a killed run left in the bucket
 *
 * Everything else (session, table, drift, MERGE, audit) is
 * plugins/snowflake-common, shared with snowflake-sql. */
#ifndef SLUICE_SFS_H
#define SLUICE_SFS_H

#include <stddef.h>
#include <stdint.h>

#include "sfk.h"

struct sfs_load;
struct sfs_csvgz;

struct sfs_ctx {
  struct sfk_ctx k; /* first: the shared code's config offsets */

  /* config */
  const char *stage;      /* "RAW.SF.SFSYNC_STAGE" */
  const char *bucket_url; /* the stage's URL: "s3://bucket/prefix/" */
  const char *endpoint;   /* "https://s3.<region>.amazonaws.com" */
  const char *region;
  const char *access_key_id;
  const char *secret_access_key;
  const char *session_token;
  int path_style;
  int64_t file_size; /* uncompressed bytes per file */
  int64_t max_uploads;
  int64_t compression_level;
  int cleanup;
  const char *spool_dir;

  /* derived at init */
  char *bucket;
  char *key_prefix;  /* the bucket URL's path: "prefix/" or "" */
  char *scheme_host; /* "https://host[:port]" of the endpoint */
  char *sigv4;       /* "aws:amz:<region>:s3" */
  char *spool;       /* spool_dir made absolute */

  struct sfs_load *ld;
};

/* --- sfs_csvgz.c (no host service: runs on a worker) --- */
/* Opens path (created 0600, must not exist) with a CSV header line. */
struct sfs_csvgz *sfs_csvgz_open(const char *path, int level,
                                 const struct sfk_staging *st, char *errbuf,
                                 size_t errlen);
/* Appends row r of batch b with its sequence number. */
int sfs_csvgz_row(struct sfs_csvgz *f, const struct sfk_staging *st,
                  struct sluice_batch *b, size_t r, int64_t seq, char *errbuf,
                  size_t errlen);
/* Uncompressed bytes written so far. */
uint64_t sfs_csvgz_raw_bytes(const struct sfs_csvgz *f);
/* Finishes the gzip stream and closes (*gz_bytes: the file's size);
 * frees f either way. */
int sfs_csvgz_close(struct sfs_csvgz *f, uint64_t *gz_bytes, char *errbuf,
                    size_t errlen);
/* Closes without finishing (a failed run) and removes the file. */
void sfs_csvgz_abandon(struct sfs_csvgz *f);

/* --- sfs_s3.c --- */
/* Derives bucket, key_prefix, scheme_host and sigv4 from the config. */
int sfs_s3_init(struct sfs_ctx *s, struct sluice_error *err);
void sfs_s3_free(struct sfs_ctx *s);
/* The object's URL for a key relative to the bucket. */
int sfs_s3_url(struct sfs_ctx *s, const char *key, struct sluice_buf *out);
/* A finished S3 request: status 0, or < 0 with err naming the bucket, the
 * key and S3's code. */
typedef void (*sfs_s3_cb)(void *arg, int status,
                          const struct sluice_error *err);
struct sfs_s3_req;
/* PUTs the file at path as key; DELETEs key.  *out (may be NULL) is the
 * request until cb runs, for sfs_s3_cancel. */
int sfs_s3_put_file(struct sfs_ctx *s, const char *key, const char *path,
                    sfs_s3_cb cb, void *arg, struct sfs_s3_req **out,
                    struct sluice_error *err);
int sfs_s3_delete(struct sfs_ctx *s, const char *key, sfs_s3_cb cb, void *arg,
                  struct sfs_s3_req **out, struct sluice_error *err);
/* Lists the keys under prefix (ListObjectsV2, the first 1000): the
 * body to read with sfs_s3_next_key. */
typedef void (*sfs_s3_list_cb)(void *arg, int status, const char *body,
                               size_t len, const struct sluice_error *err);
int sfs_s3_list(struct sfs_ctx *s, const char *prefix, sfs_s3_list_cb cb,
                void *arg, struct sfs_s3_req **out, struct sluice_error *err);
/* The next <Key> of a listing from *pos: 1 with key filled, or 0. */
int sfs_s3_next_key(const char *body, size_t len, size_t *pos, char *key,
                    size_t keylen);
/* Stops a request: its cb is never called. */
void sfs_s3_cancel(struct sfs_s3_req *q);

/* --- sfs_copyres.c: one COPY INTO's result (pure, fuzzed) --- */
/* Checks the result body of a COPY INTO table from @stage/rel: one row a
 * file, each LOADED, rows_loaded a count.  Adds the rows to *loaded.
 * Returns 0, or a negative code with err naming the file, the line and
 * the column of a bad row (or what is wrong with the result). */
int sfs_copy_result(json_t *body, const char *table, const char *stage,
                    const char *rel, int64_t *loaded, struct sluice_error *err);

/* --- sfs_copy.c --- */
struct sfs_copy;
/* status 0 with every file LOADED and rows_loaded == expect_rows, or < 0
 * with err naming the file, line and column. */
typedef void (*sfs_copy_cb)(void *arg, int status, int64_t rows_loaded,
                            const struct sluice_error *err);
/* COPYs names[0..n) (under @stage/rel) into table; the strings are
 * borrowed until cb.  NULL (err filled) when it could not start. */
struct sfs_copy *sfs_copy_start(struct sfs_ctx *s, const char *table,
                                const char *rel, const char *const *names,
                                size_t n, int64_t expect_rows, sfs_copy_cb cb,
                                void *arg, struct sluice_error *err);
/* Stops it: cb is never called. */
void sfs_copy_cancel(struct sfs_copy *k);

/* --- sfs_sweep.c --- */
struct sfs_sweep;
/* Deletes the objects under prefix in the background (failures warn);
 * done(arg) at the end.  NULL when it could not start (warned). */
struct sfs_sweep *sfs_sweep_start(struct sfs_ctx *s, const char *prefix,
                                  void (*done)(void *arg), void *arg);
/* Stops it: done is never called. */
void sfs_sweep_cancel(struct sfs_sweep *w);

/* --- sfs_loader.c --- */
extern const struct sfk_loader sfs_loader;
void sfs_loader_free(struct sfs_ctx *s);

#endif
