/* core/cfgbind.h - validates a JSON object against a plugin's config map
 * and binds the values into the plugin's ctx (Fluent Bit's config_map). */
#ifndef SLUICE_CORE_CFGBIND_H
#define SLUICE_CORE_CFGBIND_H

#include <jansson.h>

#include "diag.h"
#include "sluice/plugin.h"

/* Memory for the values bound into one ctx: freed after the plugin's fini. */
struct cfg_allocs {
  void **v;
  size_t n;
};

struct cfg_bind_args {
  const struct sluice_config_entry *map;
  uint32_t role;    /* SLUICE_CFG_SOURCE or SLUICE_CFG_DESTINATION */
  json_t *obj;      /* the object to read */
  const char *path; /* its JSON path, for messages */
  const char *const *host_keys; /* keys the host reads itself; NULL-ended */
  const char *base_dir;         /* for {"file": "relative/path"} secrets */
  void *ctx;                    /* where values go; NULL to only validate */
  struct cfg_allocs *allocs;
};

/* Adds a diagnostic for every problem; returns the number added. */
int cfg_bind(const struct cfg_bind_args *a, struct diags *d);

/* Resolves a string value: a JSON string as is, or {"env": "NAME"} /
 * {"file": "PATH"}.  Returns a malloc'ed string, or NULL with a diagnostic.
 * *was_ref is set when the value came through a reference. */
char *cfg_resolve_string(json_t *v, const char *path, const char *base_dir,
                         struct diags *d, int *was_ref);

void cfg_allocs_free(struct cfg_allocs *a);

/* "string", "integer", ... as `sluice describe` shows a type. */
const char *cfg_type_label(uint32_t type);

#endif
