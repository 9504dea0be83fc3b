/* sluice/batch.h - typed rows travelling from a source to a destination.
 *
 * A batch is a reference-counted schema plus rows.  A row is an operation
 * (UPSERT or DELETE) plus one value per schema field.  Strings, decimals and
 * binaries are copied into the batch's arena: no malloc per value, and they
 * live exactly as long as the batch.
 *
 * Ownership: sluice_*_new returns an object holding one reference; each
 * sluice_*_ref adds one and each sluice_*_unref drops one; the last unref
 * frees.  A batch takes its own reference on its schema.
 *
 * Threads: reference counts are atomic, so a batch may be handed between the
 * loop thread and a worker (host->work_submit).  Anything else on one batch
 * must happen on one thread at a time.  A schema must not be changed once a
 * batch uses it.
 *
 * Since ABI 1.0.
 */
#ifndef SLUICE_BATCH_H
#define SLUICE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"
#include "sluice/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Value types.  Stable within an ABI major: append, never renumber. */
enum sluice_type {
  SLUICE_TYPE_NULL = 0,  /* only as a value's type: the value is null */
  SLUICE_TYPE_BOOL,      /* u.b: 0 or 1 */
  SLUICE_TYPE_INT64,     /* u.i */
  SLUICE_TYPE_DOUBLE,    /* u.d */
  SLUICE_TYPE_DECIMAL,   /* u.str, len: exact text "-123.4500" (no exponent) */
  SLUICE_TYPE_STRING,    /* u.str, len: UTF-8, not NUL-terminated */
  SLUICE_TYPE_DATE,      /* u.date: days since 1970-01-01 */
  SLUICE_TYPE_TIME,      /* u.time_us: microseconds since midnight */
  SLUICE_TYPE_TIMESTAMP, /* u.ts_us: microseconds since the epoch, UTC */
  SLUICE_TYPE_BINARY     /* u.str, len: raw bytes */
};
#define SLUICE_TYPE_COUNT 10

enum sluice_op {
  SLUICE_OP_UPSERT = 0, /* insert or replace the record with this key */
  SLUICE_OP_DELETE = 1  /* the record was deleted at the source */
};

struct sluice_value {
  uint8_t type;   /* enum sluice_type; SLUICE_TYPE_NULL for null */
  uint8_t flags;  /* SLUICE_VALUE_* */
  int16_t tz_min; /* TIMESTAMP with SLUICE_VALUE_TZ: the UTC offset of the
                     source's wall clock, in minutes (-840..840) */
  uint32_t len;   /* bytes at u.str for DECIMAL, STRING, BINARY */
  union {
    int b;
    int64_t i;
    double d;
    const char *str;
    int32_t date;
    int64_t time_us;
    int64_t ts_us;
  } u;
};

/* The timestamp came with a UTC offset (Snowflake TIMESTAMP_TZ, an ISO
 * text with +07:00): u.ts_us is still the instant in UTC; tz_min keeps the
 * offset so that a destination with a zoned type can write it back. */
#define SLUICE_VALUE_TZ 0x01

struct sluice_field {
  const char *name;      /* owned by the schema */
  enum sluice_type type; /* the declared type; values are this or NULL */
  int precision;         /* DECIMAL only: digits in all, 0 when unknown */
  int scale;             /* DECIMAL only: digits after the point */
  const char *origin;    /* the source's own type, "salesforce:reference",
                            or NULL; owned by the schema.  A destination
                            may pick a closer column type from it. */
};

struct sluice_schema;
struct sluice_batch;

/* --- schema --------------------------------------------------------- */

/* A schema of nfields fields, all unnamed STRING until set.  NULL on ENOMEM. */
SLUICE_API struct sluice_schema *sluice_schema_new(size_t nfields);
SLUICE_API struct sluice_schema *sluice_schema_ref(struct sluice_schema *s);
SLUICE_API void sluice_schema_unref(struct sluice_schema *s);

/* Sets field i; the name is copied.  SLUICE_EINVAL when i is out of range or
 * type is NULL or unknown. */
SLUICE_API int sluice_schema_set(struct sluice_schema *s, size_t i,
                                 const char *name, enum sluice_type type);
SLUICE_API int sluice_schema_set_decimal(struct sluice_schema *s, size_t i,
                                         int precision, int scale);

/* Sets field i's origin type ("<system>:<type>", copied). */
SLUICE_API int sluice_schema_set_origin(struct sluice_schema *s, size_t i,
                                        const char *origin);
SLUICE_API size_t sluice_schema_nfields(const struct sluice_schema *s);
SLUICE_API const struct sluice_field *
sluice_schema_field(const struct sluice_schema *s, size_t i);
/* The index of the field with this exact name, or -1. */
SLUICE_API long sluice_schema_find(const struct sluice_schema *s,
                                   const char *name);

/* "string", "int64", ...: the names the pipeline file uses; NULL if unknown. */
SLUICE_API const char *sluice_type_name(enum sluice_type t);

/* --- batch ---------------------------------------------------------- */

#define SLUICE_BATCH_DEFAULT_ROWS 10000
#define SLUICE_BATCH_DEFAULT_BYTES (8u * 1024 * 1024)

/* A batch that reports full at max_rows rows or max_bytes bytes of values,
 * whichever comes first (0: the defaults above).  Takes a schema reference.
 * NULL on ENOMEM. */
SLUICE_API struct sluice_batch *sluice_batch_new(struct sluice_schema *schema,
                                                 size_t max_rows,
                                                 size_t max_bytes);
SLUICE_API struct sluice_batch *sluice_batch_ref(struct sluice_batch *b);
SLUICE_API void sluice_batch_unref(struct sluice_batch *b);

/* Borrowed: valid while the batch lives. */
SLUICE_API struct sluice_schema *
sluice_batch_schema(const struct sluice_batch *b);
SLUICE_API size_t sluice_batch_nrows(const struct sluice_batch *b);
/* Bytes held by values and the arena: what backpressure counts. */
SLUICE_API size_t sluice_batch_bytes(const struct sluice_batch *b);
/* 1 once the row or byte limit is reached.  Adding more rows still works;
 * a source should emit the batch and start a new one. */
SLUICE_API int sluice_batch_full(const struct sluice_batch *b);

/* Appends a row whose values are all null; its index goes to *row. */
SLUICE_API int sluice_batch_add_row(struct sluice_batch *b, enum sluice_op op,
                                    size_t *row);
/* Drops the last row (a source that found the row bad after starting it). */
SLUICE_API void sluice_batch_drop_last_row(struct sluice_batch *b);
SLUICE_API enum sluice_op sluice_batch_op(const struct sluice_batch *b,
                                          size_t row);

/* Setters: row and col must be in range (checked: SLUICE_EINVAL).  The
 * pointer setters copy len bytes into the arena. */
SLUICE_API int sluice_batch_set_null(struct sluice_batch *b, size_t row,
                                     size_t col);
SLUICE_API int sluice_batch_set_bool(struct sluice_batch *b, size_t row,
                                     size_t col, int v);
SLUICE_API int sluice_batch_set_int64(struct sluice_batch *b, size_t row,
                                      size_t col, int64_t v);
SLUICE_API int sluice_batch_set_double(struct sluice_batch *b, size_t row,
                                       size_t col, double v);
SLUICE_API int sluice_batch_set_date(struct sluice_batch *b, size_t row,
                                     size_t col, int32_t days);
SLUICE_API int sluice_batch_set_time(struct sluice_batch *b, size_t row,
                                     size_t col, int64_t us);
SLUICE_API int sluice_batch_set_timestamp(struct sluice_batch *b, size_t row,
                                          size_t col, int64_t us);
/* A timestamp (the instant, UTC) with the offset of its wall clock,
 * minutes east of UTC (-840..840, else SLUICE_EINVAL). */
SLUICE_API int sluice_batch_set_timestamp_tz(struct sluice_batch *b, size_t row,
                                             size_t col, int64_t us,
                                             int tz_min);
SLUICE_API int sluice_batch_set_string(struct sluice_batch *b, size_t row,
                                       size_t col, const char *s, size_t len);
SLUICE_API int sluice_batch_set_decimal(struct sluice_batch *b, size_t row,
                                        size_t col, const char *s, size_t len);
SLUICE_API int sluice_batch_set_binary(struct sluice_batch *b, size_t row,
                                       size_t col, const void *p, size_t len);
/* Copies v (and the bytes it points at) into the batch. */
SLUICE_API int sluice_batch_set_value(struct sluice_batch *b, size_t row,
                                      size_t col, const struct sluice_value *v);

/* Borrowed: valid until the batch is freed or another row is added. */
SLUICE_API const struct sluice_value *
sluice_batch_value(const struct sluice_batch *b, size_t row, size_t col);

/* --- a queue of batches ---------------------------------------------- */

/* The batches a source has built and not yet handed over (a page becomes
 * several batches; the host may pause the source in between).  FIFO;
 * zero-initialise it; it owns one reference to each batch in it.  Since
 * ABI 1.1. */
struct sluice_batch_queue {
  struct sluice_batch **v;
  size_t head, len, cap;
};
/* Takes the caller's reference to b; SLUICE_ENOMEM leaves it with the
 * caller. */
SLUICE_API int sluice_batch_queue_push(struct sluice_batch_queue *q,
                                       struct sluice_batch *b);
/* The oldest batch and its reference, or NULL when empty. */
SLUICE_API struct sluice_batch *
sluice_batch_queue_pop(struct sluice_batch_queue *q);
/* Drops every batch and the storage; q is empty (and reusable) after. */
SLUICE_API void sluice_batch_queue_clear(struct sluice_batch_queue *q);

/* Arena memory for a plugin's own per-batch data; freed with the batch. */
SLUICE_API void *sluice_batch_alloc(struct sluice_batch *b, size_t size);

/* The source position that is true once every row of this batch (and of
 * every batch before it) is written: an opaque string (JSON is usual).
 * The host saves it only after the destination commits.  Copied. */
SLUICE_API int sluice_batch_set_checkpoint(struct sluice_batch *b,
                                           const char *checkpoint);
/* NULL when none was set. */
SLUICE_API const char *sluice_batch_checkpoint(const struct sluice_batch *b);

/* The 1-based number of the batch's first record in the source's stream,
 * so errors can say "record 1234".  0 when unknown. */
SLUICE_API void sluice_batch_set_first_record(struct sluice_batch *b,
                                              uint64_t n);
SLUICE_API uint64_t sluice_batch_first_record(const struct sluice_batch *b);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_BATCH_H */
