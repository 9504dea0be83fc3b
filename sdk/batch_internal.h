/* sdk/batch_internal.h - the batch and schema layouts, shared by sdk/batch.c
 * and the host's mapping step (core/mapping.c), which rebuilds rows without
 * copying the strings they point at.  Not installed: plugins use batch.h. */
#ifndef SLUICE_BATCH_INTERNAL_H
#define SLUICE_BATCH_INTERNAL_H

#include <stdatomic.h>

#include "sluice/batch.h"

struct sluice_schema {
  atomic_uint refs;
  size_t nfields;
  struct sluice_field fields[]; /* names are malloc'ed */
};

/* Arena blocks are never moved, so value pointers stay valid while rows
 * are added.  A batch may share another batch's arena (mapping), holding a
 * reference on that batch in `arena_owner`. */
struct arena_block {
  struct arena_block *next;
  size_t used;
  size_t size;
  char data[];
};

struct sluice_batch {
  atomic_uint refs;
  struct sluice_schema *schema;
  size_t ncols;
  size_t nrows;
  size_t cap_rows; /* allocated rows in values/ops */
  size_t max_rows;
  size_t max_bytes;
  size_t arena_bytes;
  struct sluice_value *values; /* nrows * ncols, row-major */
  unsigned char *ops;          /* enum sluice_op per row */
  struct arena_block *arena;
  struct sluice_batch *arena_owner; /* a batch whose arena values point into */
  char *checkpoint;
  uint64_t first_record;
};

/* Private to the SDK and the host: exported only because the host links
 * the shared SDK; not part of the API, may change in any release.
 * Makes `b` keep `owner` alive (values of b point into owner's arena). */
SLUICE_API void sluice__batch_share_arena(struct sluice_batch *b,
                                          struct sluice_batch *owner);
/* Grows b to hold at least rows rows. */
SLUICE_API int sluice__batch_reserve(struct sluice_batch *b, size_t rows);

#endif
