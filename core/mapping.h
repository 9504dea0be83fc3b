/* core/mapping.h - the pipeline's "mapping": rename, cast, drop and
 * constant columns between the source's schema and the destination's.
 *
 *   "mapping": { "Name": "ACCOUNT_NAME",                 rename
 *                "Revenue": {"to": "REV", "type": "number(18,2)"},  cast
 *                "Junk": null,                           drop
 *                "SOURCE": {"value": "salesforce"},      constant column
 *                "*": null }                             drop the rest
 *
 * Output columns keep the source's order; constants come last, in the
 * order the file gives them. */
#ifndef SLUICE_CORE_MAPPING_H
#define SLUICE_CORE_MAPPING_H

#include <jansson.h>

#include "sluice/batch.h"
#include "sluice/error.h"
#include "sluice/plugin.h"

struct mapping;

/* Compiles spec (may be NULL: identity) against the source's schema.
 * Errors name `path` and the field. */
int mapping_compile(json_t *spec, const char *path, struct sluice_schema *in,
                    struct mapping **out, struct sluice_error *err);
struct sluice_schema *mapping_output_schema(const struct mapping *m);
/* 1 when in is the schema the mapping was compiled for (same fields). */
int mapping_accepts(const struct mapping *m, const struct sluice_schema *in);
/* A new reference to the mapped batch (the same batch when the mapping is
 * the identity).  A value that cannot be cast fails with the record
 * number, the field and the value. */
int mapping_apply(struct mapping *m, struct sluice_batch *in,
                  struct sluice_batch **out, struct sluice_error *err);
void mapping_free(struct mapping *m);

/* For a key sweep: the source fields that the mapping turns into the
 * destination's key columns `keys` (names compared without case, as
 * destinations that upper-case names match them), as a NULL-terminated
 * array of names in *fields (free with mapping_key_fields_free), and the
 * entries of spec that apply to them in *key_spec (a new object, or NULL
 * when none do: the identity).  Fails naming a key column no source field
 * becomes (a constant, a field renamed away or dropped). */
int mapping_key_fields(json_t *spec, const struct sluice_strlist *keys,
                       char ***fields, json_t **key_spec,
                       struct sluice_error *err);
void mapping_key_fields_free(char **fields);

/* 1 when two schemas have the same field names and types. */
int schema_equal(const struct sluice_schema *a, const struct sluice_schema *b);

#endif
