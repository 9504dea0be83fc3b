/* plugins/csv-file/csv_source.h - the csv-file source's parts.
 *
 * Reading runs in two stages on the thread pool, so that two cores share
 * it:
 *   csv_read_chunk   (csv_read.c)    reads and parses one batch of rows as
 *                                     text, finds the rows that are not CSV
 *   csv_convert_chunk (csv_convert.c) turns that text into the declared
 *                                     types, finds the values that are not
 * while csv_source.c, on the loop thread, keeps at most one chunk in each
 * stage and emits the finished batches in order.  Stage 1 of chunk k+1
 * runs while stage 2 of chunk k does. */
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

/* One batch on its way through the stages. */
struct csv_chunk {
  struct csv_source *s;
  const char *file;           /* the file its rows come from (one a chunk) */
  struct sluice_batch *text;  /* every column a string (or null), as read */
  uint64_t *lines;            /* the physical line of each row of text */
  size_t lines_cap;
  struct sluice_batch *out;   /* the typed batch (text itself when untyped) */
  uint64_t rejected;
  uint64_t bytes_in;
  int status;
  struct sluice_error err;
};

struct csv_source {
  struct csv_ctx *c;
  char **files;
  size_t nfiles;
  size_t cur;            /* the file being read, or nfiles at the end */
  json_t *done;          /* array of the files fully read */
  char *resume_file;     /* from the checkpoint: where to continue */
  struct sluice_csv_pos resume_pos;

  /* stage 1 state: touched only by the one csv_read_chunk running */
  int file_open;         /* a file is being read (fd, or gz when gzip) */
  int fd;
  gzFile gz;
  struct sluice_csv_reader *reader;
  char *buf;
  size_t buf_len, buf_off;
  int in_header;         /* the next record is the file's header */
  char **first_header;   /* the first file's header, to compare others */
  const char *first_file;
  struct csv_chunk *reading; /* the chunk stage 1 fills */
  uint64_t blank_lines;
  int eof;               /* every file read */

  /* set once the header is known, then read-only */
  struct sluice_schema *text_schema;
  struct sluice_schema *schema; /* the typed one */
  struct col_type *types;
  size_t ncols;
  int typed;             /* some column is not a string */
  size_t null_len;
  size_t max_rows, max_bytes;

  FILE *reject;
  pthread_mutex_t reject_lock; /* both stages write rejects */

  /* loop thread only */
  struct csv_chunk *parsed;    /* read, waiting for conversion */
  struct csv_chunk *ready;     /* converted, waiting to be emitted */
  int filling, converting;
  int paused, stopping, finished;
  int status;
  struct sluice_error err;
};

/* csv_read.c: stage 1 (a work function) and what it needs. */
void csv_read_header(void *arg);
void csv_read_chunk(void *arg);
void csv_read_close(struct csv_source *s);
int csv_build_schema(struct csv_source *s);
/* Writes one reject line (file, line, error, raw); any thread. */
int csv_reject(struct csv_source *s, struct csv_chunk *k, const char *file,
               uint64_t line, const char *raw, size_t rawlen,
               const char *reason);
int csv_chunk_fail(struct csv_source *s, struct csv_chunk *k, int code,
                   const char *fmt, ...) SLUICE_PRINTF(4, 5);

/* csv_convert.c: stage 2 (a work function). */
void csv_convert_chunk(void *arg);

void csv_chunk_free(struct csv_chunk *k);

#endif
