/* sluice/csv.h - a streaming RFC 4180 CSV reader and writer.
 *
 * The reader is push-style, so it serves a file read on a worker thread
 * and an HTTP body arriving in pieces alike: feed it bytes as they come,
 * and it calls back once per complete record with the fields as slices.
 * It handles quoted fields, doubled quotes, delimiters and newlines inside
 * quotes, CRLF, LF and lone-CR line ends, a UTF-8 byte-order mark at the
 * very start, and a last record without a line end.  Memory stays bounded
 * by the longest record (max_record_bytes).
 *
 * Threads: a reader is used by one thread at a time; no global state.
 * Since ABI 1.0.
 */
#ifndef SLUICE_CSV_H
#define SLUICE_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/error.h"
#include "sluice/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sluice_csv_options {
  char delimiter;          /* ',' when 0 */
  char quote;              /* '"' when 0 */
  int lenient_quotes;      /* 1: a quote inside an unquoted field is data */
  size_t max_record_bytes; /* one record's size limit; 16 MiB when 0 */
  const char *line_ending; /* writer: "\n" when NULL, or "\r\n" */
};

struct sluice_csv_field {
  const char *ptr; /* unquoted, unescaped bytes; not NUL-terminated */
  size_t len;
  int quoted; /* 1 when the field was quoted in the input */
};

/* Where a record starts. */
struct sluice_csv_pos {
  uint64_t line;   /* 1-based physical line of the record's first byte */
  uint64_t record; /* 1-based record number (the header is record 1) */
  uint64_t offset; /* byte offset of the record's first byte, BOM included */
};

/* Called once per record.  fields are valid during the call only.
 * Return 0 to go on, > 0 to make feed return after this record (the
 * caller feeds the rest later), < 0 to abort (feed returns that code). */
typedef int (*sluice_csv_record_cb)(void *arg,
                                    const struct sluice_csv_field *fields,
                                    size_t nfields,
                                    const struct sluice_csv_pos *pos);

/* Called for a malformed record when set; the reader then skips to the end
 * of the line where the fault was found and goes on.  raw is the record's
 * bytes as read (up to that line end, at most max_record_bytes of them);
 * reason is "line 4, column 9:
 * unexpected 'x' after closing quote".  Same return rule as above.  When
 * NULL, feed fails with SLUICE_EDATA and that reason in err. */
typedef int (*sluice_csv_bad_record_cb)(void *arg, const char *raw,
                                        size_t rawlen,
                                        const struct sluice_csv_pos *pos,
                                        const char *reason);

struct sluice_csv_reader;

/* opt may be NULL (the defaults).  NULL on ENOMEM or a bad option. */
SLUICE_API struct sluice_csv_reader *
sluice_csv_reader_new(const struct sluice_csv_options *opt);
SLUICE_API void sluice_csv_reader_free(struct sluice_csv_reader *r);

SLUICE_API void sluice_csv_reader_set_callbacks(struct sluice_csv_reader *r,
                                                sluice_csv_record_cb record,
                                                sluice_csv_bad_record_cb bad,
                                                void *arg);

/* Parses len bytes.  *consumed (may be NULL) gets how many bytes were used:
 * all of them unless a callback returned > 0; feed the rest again later.
 * Returns 0, or a negative code with err filled (where: line, column). */
SLUICE_API int sluice_csv_reader_feed(struct sluice_csv_reader *r,
                                      const char *data, size_t len,
                                      size_t *consumed,
                                      struct sluice_error *err);
/* End of input: delivers a last record that had no line end; fails with
 * SLUICE_EDATA on a quoted field left open (naming the line it opened). */
SLUICE_API int sluice_csv_reader_finish(struct sluice_csv_reader *r,
                                        struct sluice_error *err);

/* The position the reader has reached: the next record's start. */
SLUICE_API struct sluice_csv_pos
sluice_csv_reader_pos(const struct sluice_csv_reader *r);

/* Makes the reader count lines and records from pos (resuming a file at a
 * saved offset, after seeking there). */
SLUICE_API void sluice_csv_reader_set_pos(struct sluice_csv_reader *r,
                                          const struct sluice_csv_pos *pos);

/* --- writer --------------------------------------------------------- */

/* Appends one field, quoted only when it must be (delimiter, quote, CR or
 * LF inside, a leading/trailing space or tab, or a leading U+FEFF that a
 * reader would take for a byte-order mark), quotes doubled.  An empty
 * field is written empty.  No separator. */
SLUICE_API int sluice_csv_write_field(struct sluice_buf *out, const char *s,
                                      size_t len,
                                      const struct sluice_csv_options *opt);
/* Appends fields separated by the delimiter, then the line ending. */
SLUICE_API int sluice_csv_write_record(struct sluice_buf *out,
                                       const struct sluice_csv_field *fields,
                                       size_t n,
                                       const struct sluice_csv_options *opt);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_CSV_H */
