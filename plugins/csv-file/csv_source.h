/* plugins/csv-file/csv_source.h - the csv-file source's parts.
 *
 * csv_read.c reads and parses the files into batches on the thread pool,
 * one batch at a time; csv_source.c, on the loop thread, starts those
 * reads and emits the batches, holding a finished one while the host has
 * paused the source.  (Converting on a second thread was measured: on two
 * cores it cost more CPU and memory than it saved, see bench/README.) */
#ifndef SLUICE_CSV_SOURCE_H
#define SLUICE_CSV_SOURCE_H

#include <pthread.h>
#include <stdio.h>

#include <jansson.h>
#include <zlib.h>

#include "csv_file.h"

#define CSV_READ_CHUNK (256u * 1024)

struct col_type {
  enum sluice_type type;
  int precision;
  int scale;
};

/* One batch being read, then waiting to be emitted. */
struct csv_chunk {
  struct csv_source *s;
  const char *file; /* the file its rows come from (one a chunk) */
  struct sluice_batch *batch;
  uint64_t rejected;
  uint64_t bytes_in;
  int status;
  struct sluice_error err;
};

struct csv_source {
  struct csv_ctx *c;
  char **files;
  size_t nfiles;
  size_t cur;        /* the file being read, or nfiles at the end */
  json_t *done;      /* array of the files fully read */
  char *resume_file; /* from the checkpoint: where to continue */
  struct sluice_csv_pos resume_pos;

  /* reading state: touched only by the one read running */
  int file_open; /* a file is being read (fd, or gz when gzip) */
  int fd;
  gzFile gz;
  struct sluice_csv_reader *reader;
  char *buf;
  size_t buf_len, buf_off;
  int in_header;       /* the next record is the file's header */
  char **first_header; /* the first file's header, to compare others */
  const char *first_file;
  struct csv_chunk *reading; /* the chunk the read fills */
  uint64_t blank_lines;
  int eof; /* every file read */

  /* set once the header is known, then read-only */
  struct sluice_schema *schema;
  struct col_type *types;
  size_t ncols;
  size_t null_len;
  size_t max_rows, max_bytes;

  char *reject_path; /* expanded on the loop thread at start */
  FILE *reject;      /* opened at the first reject, appended to */
  pthread_mutex_t reject_lock;

  /* a key sweep (source_keys): only these columns are emitted */
  struct sluice_strlist keys;
  long *key_cols; /* their columns in schema, found at the first batch */
  struct sluice_schema *key_schema;

  /* loop thread only */
  struct csv_chunk *ready; /* read, waiting to be emitted (paused) */
  int filling;
  int paused, stopping, finished;
  int status;
  struct sluice_error err;
};

/* csv_read.c: the reading (work functions) and what it needs. */
void csv_read_header(void *arg);
void csv_read_chunk(void *arg);
void csv_read_close(struct csv_source *s);
int csv_build_schema(struct csv_source *s);
/* Writes one reject line (file, line, error, raw); any thread. */
int csv_reject(struct csv_source *s, struct csv_chunk *k, const char *file,
               uint64_t line, const char *raw, size_t rawlen,
               const char *reason);
/* Opens the reject file for appending (0600; a header when new). */
int csv_open_rejects(struct csv_source *s, struct sluice_error *err);
int csv_chunk_fail(struct csv_source *s, struct csv_chunk *k, int code,
                   const char *fmt, ...) SLUICE_PRINTF(4, 5);

void csv_chunk_free(struct csv_chunk *k);

#endif
