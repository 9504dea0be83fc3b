/* sdk/batch.c - schemas and batches (include/sluice/batch.h). */
#include <stdlib.h>
#include <string.h>

#include "batch_internal.h"

#define ARENA_BLOCK_MIN (64u * 1024)

static const char *const type_names[SLUICE_TYPE_COUNT] = {
    "null",   "bool", "int64", "double",    "decimal",
    "string", "date", "time",  "timestamp", "binary"};

SLUICE_API const char *sluice_type_name(enum sluice_type t)
{
  if ((unsigned)t >= SLUICE_TYPE_COUNT)
    return NULL;
  return type_names[t];
}

/* --- schema --------------------------------------------------------- */

SLUICE_API struct sluice_schema *sluice_schema_new(size_t nfields)
{
  struct sluice_schema *s;

  if (nfields > (SIZE_MAX - sizeof *s) / sizeof s->fields[0])
    return NULL;
  s = calloc(1, sizeof *s + nfields * sizeof s->fields[0]);
  if (s == NULL)
    return NULL;
  atomic_init(&s->refs, 1);
  s->nfields = nfields;
  for (size_t i = 0; i < nfields; i++)
    s->fields[i].type = SLUICE_TYPE_STRING;
  return s;
}

SLUICE_API struct sluice_schema *sluice_schema_ref(struct sluice_schema *s)
{
  if (s != NULL)
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  return s;
}

SLUICE_API void sluice_schema_unref(struct sluice_schema *s)
{
  if (s == NULL ||
      atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (size_t i = 0; i < s->nfields; i++) {
    free((char *)s->fields[i].name);
    free((char *)s->fields[i].origin);
  }
  free(s);
}

SLUICE_API int sluice_schema_set(struct sluice_schema *s, size_t i,
                                 const char *name, enum sluice_type type)
{
  char *copy;

  if (s == NULL || i >= s->nfields || name == NULL ||
      type == SLUICE_TYPE_NULL || (unsigned)type >= SLUICE_TYPE_COUNT)
    return SLUICE_EINVAL;
  copy = strdup(name);
  if (copy == NULL)
    return SLUICE_ENOMEM;
  free((char *)s->fields[i].name);
  s->fields[i].name = copy;
  s->fields[i].type = type;
  return 0;
}

SLUICE_API int sluice_schema_set_decimal(struct sluice_schema *s, size_t i,
                                         int precision, int scale)
{
  if (s == NULL || i >= s->nfields || precision < 0 || precision > 38 ||
      scale < 0 || (precision > 0 && scale > precision))
    return SLUICE_EINVAL;
  s->fields[i].type = SLUICE_TYPE_DECIMAL;
  s->fields[i].precision = precision;
  s->fields[i].scale = scale;
  return 0;
}

SLUICE_API int sluice_schema_set_origin(struct sluice_schema *s, size_t i,
                                        const char *origin)
{
  char *copy = NULL;

  if (s == NULL || i >= s->nfields)
    return SLUICE_EINVAL;
  if (origin != NULL && (copy = strdup(origin)) == NULL)
    return SLUICE_ENOMEM;
  free((char *)s->fields[i].origin);
  s->fields[i].origin = copy;
  return 0;
}

SLUICE_API size_t sluice_schema_nfields(const struct sluice_schema *s)
{
  return s == NULL ? 0 : s->nfields;
}

SLUICE_API const struct sluice_field *
sluice_schema_field(const struct sluice_schema *s, size_t i)
{
  if (s == NULL || i >= s->nfields)
    return NULL;
  return &s->fields[i];
}

SLUICE_API long sluice_schema_find(const struct sluice_schema *s,
                                   const char *name)
{
  if (s == NULL || name == NULL)
    return -1;
  for (size_t i = 0; i < s->nfields; i++)
    if (s->fields[i].name != NULL && strcmp(s->fields[i].name, name) == 0)
      return (long)i;
  return -1;
}

/* --- batch ---------------------------------------------------------- */

SLUICE_API struct sluice_batch *sluice_batch_new(struct sluice_schema *schema,
                                                 size_t max_rows,
                                                 size_t max_bytes)
{
  struct sluice_batch *b;

  if (schema == NULL)
    return NULL;
  b = calloc(1, sizeof *b);
  if (b == NULL)
    return NULL;
  atomic_init(&b->refs, 1);
  b->schema = sluice_schema_ref(schema);
  b->ncols = schema->nfields;
  b->max_rows = max_rows ? max_rows : SLUICE_BATCH_DEFAULT_ROWS;
  b->max_bytes = max_bytes ? max_bytes : SLUICE_BATCH_DEFAULT_BYTES;
  return b;
}

SLUICE_API struct sluice_batch *sluice_batch_ref(struct sluice_batch *b)
{
  if (b != NULL)
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
  return b;
}

SLUICE_API void sluice_batch_unref(struct sluice_batch *b)
{
  struct arena_block *blk, *next;

  if (b == NULL ||
      atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (blk = b->arena; blk != NULL; blk = next) {
    next = blk->next;
    free(blk);
  }
  sluice_batch_unref(b->arena_owner);
  sluice_schema_unref(b->schema);
  free(b->values);
  free(b->ops);
  free(b->checkpoint);
  free(b);
}

SLUICE_API void sluice__batch_share_arena(struct sluice_batch *b,
                                          struct sluice_batch *owner)
{
  if (owner == b || owner == NULL)
    return;
  sluice_batch_ref(owner);
  sluice_batch_unref(b->arena_owner);
  b->arena_owner = owner;
}

SLUICE_API struct sluice_schema *
sluice_batch_schema(const struct sluice_batch *b)
{
  return b->schema;
}

SLUICE_API size_t sluice_batch_nrows(const struct sluice_batch *b)
{
  return b->nrows;
}

SLUICE_API size_t sluice_batch_bytes(const struct sluice_batch *b)
{
  return b->nrows * (b->ncols * sizeof(struct sluice_value) + 1) +
         b->arena_bytes;
}

SLUICE_API int sluice_batch_full(const struct sluice_batch *b)
{
  return b->nrows >= b->max_rows || sluice_batch_bytes(b) >= b->max_bytes;
}

SLUICE_API int sluice__batch_reserve(struct sluice_batch *b, size_t rows)
{
  size_t cap;
  struct sluice_value *values;
  unsigned char *ops;

  if (rows <= b->cap_rows)
    return 0;
  /* Start at the row limit (when sane): a batch usually fills up, and
   * untouched pages of a large allocation cost no memory, while growing by
   * doubling copies everything several times. */
  cap = b->cap_rows ? b->cap_rows : (b->max_rows <= 65536 ? b->max_rows : 1024);
  if (cap == 0)
    cap = 64;
  while (cap < rows)
    cap *= 2;
  if (b->ncols > 0 && cap > SIZE_MAX / (b->ncols * sizeof *values))
    return SLUICE_ENOMEM;
  /* A zero-column schema still needs a non-NULL values pointer. */
  values = realloc(b->values, (b->ncols ? b->ncols : 1) * cap * sizeof *values);
  if (values == NULL)
    return SLUICE_ENOMEM;
  b->values = values;
  ops = realloc(b->ops, cap);
  if (ops == NULL)
    return SLUICE_ENOMEM;
  b->ops = ops;
  b->cap_rows = cap;
  return 0;
}

SLUICE_API int sluice_batch_add_row(struct sluice_batch *b, enum sluice_op op,
                                    size_t *row)
{
  int rc;

  if (op != SLUICE_OP_UPSERT && op != SLUICE_OP_DELETE)
    return SLUICE_EINVAL;
  rc = sluice__batch_reserve(b, b->nrows + 1);
  if (rc < 0)
    return rc;
  memset(&b->values[b->nrows * b->ncols], 0,
         b->ncols * sizeof(struct sluice_value));
  b->ops[b->nrows] = (unsigned char)op;
  if (row != NULL)
    *row = b->nrows;
  b->nrows++;
  return 0;
}

SLUICE_API void sluice_batch_drop_last_row(struct sluice_batch *b)
{
  /* The row's arena bytes stay allocated until the batch is freed: an
   * arena does not free piecemeal, and dropped rows are rare. */
  if (b->nrows > 0)
    b->nrows--;
}

SLUICE_API enum sluice_op sluice_batch_op(const struct sluice_batch *b,
                                          size_t row)
{
  return row < b->nrows ? (enum sluice_op)b->ops[row] : SLUICE_OP_UPSERT;
}

SLUICE_API void *sluice_batch_alloc(struct sluice_batch *b, size_t size)
{
  struct arena_block *blk = b->arena;
  size_t aligned = (size + 7u) & ~(size_t)7u;
  size_t bsize;

  if (aligned < size)
    return NULL;
  if (blk == NULL || blk->size - blk->used < aligned) {
    bsize = aligned > ARENA_BLOCK_MIN ? aligned : ARENA_BLOCK_MIN;
    if (bsize > SIZE_MAX - sizeof *blk)
      return NULL;
    blk = malloc(sizeof *blk + bsize);
    if (blk == NULL)
      return NULL;
    blk->size = bsize;
    blk->used = 0;
    /* A block bigger than the standard size holds one large value: keep
     * it behind the current block so the current block's space is not
     * abandoned. */
    if (b->arena != NULL && bsize > ARENA_BLOCK_MIN) {
      blk->next = b->arena->next;
      b->arena->next = blk;
    } else {
      blk->next = b->arena;
      b->arena = blk;
    }
    b->arena_bytes += bsize;
  }
  void *p = blk->data + blk->used;
  blk->used += aligned;
  return p;
}

static struct sluice_value *cell(struct sluice_batch *b, size_t row, size_t col)
{
  if (row >= b->nrows || col >= b->ncols)
    return NULL;
  return &b->values[row * b->ncols + col];
}

SLUICE_API const struct sluice_value *
sluice_batch_value(const struct sluice_batch *b, size_t row, size_t col)
{
  if (row >= b->nrows || col >= b->ncols)
    return NULL;
  return &b->values[row * b->ncols + col];
}

#define SET_SCALAR(field, tag, val)                                            \
  do {                                                                         \
    struct sluice_value *v = cell(b, row, col);                                \
    if (v == NULL)                                                             \
      return SLUICE_EINVAL;                                                    \
    v->type = (tag);                                                           \
    v->flags = 0;                                                              \
    v->tz_min = 0;                                                             \
    v->len = 0;                                                                \
    v->u.field = (val);                                                        \
    return 0;                                                                  \
  } while (0)

SLUICE_API int sluice_batch_set_null(struct sluice_batch *b, size_t row,
                                     size_t col)
{
  struct sluice_value *v = cell(b, row, col);

  if (v == NULL)
    return SLUICE_EINVAL;
  memset(v, 0, sizeof *v);
  return 0;
}

SLUICE_API int sluice_batch_set_bool(struct sluice_batch *b, size_t row,
                                     size_t col, int val)
{
  SET_SCALAR(b, SLUICE_TYPE_BOOL, val != 0);
}

SLUICE_API int sluice_batch_set_int64(struct sluice_batch *b, size_t row,
                                      size_t col, int64_t val)
{
  SET_SCALAR(i, SLUICE_TYPE_INT64, val);
}

SLUICE_API int sluice_batch_set_double(struct sluice_batch *b, size_t row,
                                       size_t col, double val)
{
  SET_SCALAR(d, SLUICE_TYPE_DOUBLE, val);
}

SLUICE_API int sluice_batch_set_date(struct sluice_batch *b, size_t row,
                                     size_t col, int32_t days)
{
  SET_SCALAR(date, SLUICE_TYPE_DATE, days);
}

SLUICE_API int sluice_batch_set_time(struct sluice_batch *b, size_t row,
                                     size_t col, int64_t us)
{
  SET_SCALAR(time_us, SLUICE_TYPE_TIME, us);
}

SLUICE_API int sluice_batch_set_timestamp(struct sluice_batch *b, size_t row,
                                          size_t col, int64_t us)
{
  SET_SCALAR(ts_us, SLUICE_TYPE_TIMESTAMP, us);
}

SLUICE_API int sluice_batch_set_timestamp_tz(struct sluice_batch *b, size_t row,
                                             size_t col, int64_t us, int tz_min)
{
  struct sluice_value *v = cell(b, row, col);

  if (v == NULL || tz_min < -840 || tz_min > 840)
    return SLUICE_EINVAL;
  v->type = SLUICE_TYPE_TIMESTAMP;
  v->flags = SLUICE_VALUE_TZ;
  v->tz_min = (int16_t)tz_min;
  v->len = 0;
  v->u.ts_us = us;
  return 0;
}

static int set_bytes(struct sluice_batch *b, size_t row, size_t col,
                     enum sluice_type type, const void *p, size_t len)
{
  struct sluice_value *v = cell(b, row, col);
  char *copy;

  if (v == NULL || len > UINT32_MAX || (p == NULL && len > 0))
    return SLUICE_EINVAL;
  copy = sluice_batch_alloc(b, len ? len : 1);
  if (copy == NULL)
    return SLUICE_ENOMEM;
  if (len > 0)
    memcpy(copy, p, len);
  v->type = (uint8_t)type;
  v->flags = 0;
  v->tz_min = 0;
  v->len = (uint32_t)len;
  v->u.str = copy;
  return 0;
}

SLUICE_API int sluice_batch_set_string(struct sluice_batch *b, size_t row,
                                       size_t col, const char *s, size_t len)
{
  return set_bytes(b, row, col, SLUICE_TYPE_STRING, s, len);
}

SLUICE_API int sluice_batch_set_decimal(struct sluice_batch *b, size_t row,
                                        size_t col, const char *s, size_t len)
{
  return set_bytes(b, row, col, SLUICE_TYPE_DECIMAL, s, len);
}

SLUICE_API int sluice_batch_set_binary(struct sluice_batch *b, size_t row,
                                       size_t col, const void *p, size_t len)
{
  return set_bytes(b, row, col, SLUICE_TYPE_BINARY, p, len);
}

SLUICE_API int sluice_batch_set_value(struct sluice_batch *b, size_t row,
                                      size_t col, const struct sluice_value *v)
{
  struct sluice_value *dst;

  switch (v->type) {
  case SLUICE_TYPE_STRING:
  case SLUICE_TYPE_DECIMAL:
  case SLUICE_TYPE_BINARY:
    return set_bytes(b, row, col, (enum sluice_type)v->type, v->u.str, v->len);
  default:
    if ((unsigned)v->type >= SLUICE_TYPE_COUNT)
      return SLUICE_EINVAL;
    dst = cell(b, row, col);
    if (dst == NULL)
      return SLUICE_EINVAL;
    *dst = *v;
    return 0;
  }
}

SLUICE_API int sluice_batch_set_checkpoint(struct sluice_batch *b,
                                           const char *checkpoint)
{
  char *copy = NULL;

  if (checkpoint != NULL && (copy = strdup(checkpoint)) == NULL)
    return SLUICE_ENOMEM;
  free(b->checkpoint);
  b->checkpoint = copy;
  return 0;
}

SLUICE_API const char *sluice_batch_checkpoint(const struct sluice_batch *b)
{
  return b->checkpoint;
}

SLUICE_API void sluice_batch_set_first_record(struct sluice_batch *b,
                                              uint64_t n)
{
  b->first_record = n;
}

SLUICE_API uint64_t sluice_batch_first_record(const struct sluice_batch *b)
{
  return b->first_record;
}

/* --- a queue of batches ---------------------------------------------- */

SLUICE_API int sluice_batch_queue_push(struct sluice_batch_queue *q,
                                       struct sluice_batch *b)
{
  if (q->len == q->cap) {
    size_t ncap = q->cap ? q->cap * 2 : 8;
    struct sluice_batch **v = malloc(ncap * sizeof *v);
    if (v == NULL)
      return SLUICE_ENOMEM;
    for (size_t i = 0; i < q->len; i++)
      v[i] = q->v[(q->head + i) % q->cap];
    free(q->v);
    q->v = v;
    q->cap = ncap;
    q->head = 0;
  }
  q->v[(q->head + q->len) % q->cap] = b;
  q->len++;
  return 0;
}

SLUICE_API struct sluice_batch *
sluice_batch_queue_pop(struct sluice_batch_queue *q)
{
  struct sluice_batch *b;

  if (q->len == 0)
    return NULL;
  b = q->v[q->head];
  q->head = (q->head + 1) % q->cap;
  q->len--;
  return b;
}

SLUICE_API void sluice_batch_queue_clear(struct sluice_batch_queue *q)
{
  struct sluice_batch *b;

  while ((b = sluice_batch_queue_pop(q)) != NULL)
    sluice_batch_unref(b);
  free(q->v);
  memset(q, 0, sizeof *q);
}
