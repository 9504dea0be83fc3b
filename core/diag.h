/* core/diag.h - configuration diagnostics, collected so that one pass
 * reports every mistake: "sync.json: pipelines[1].destination.key: ..." */
#ifndef SLUICE_CORE_DIAG_H
#define SLUICE_CORE_DIAG_H

#include <stdio.h>

#include "sluice/export.h"

struct diags {
  const char *file; /* the pipeline file, as the user named it */
  char **v;
  size_t n;
};

/* Adds "file: path: message" (path may be NULL or ""); an identical line
 * already present is not added twice. */
void diag_add(struct diags *d, const char *path, const char *fmt, ...)
    SLUICE_PRINTF(3, 4);
void diag_print(const struct diags *d, FILE *out);
void diag_free(struct diags *d);

/* Appends ".key" or "[i]" to a JSON path, into a caller buffer. */
const char *path_key(char *buf, size_t cap, const char *path, const char *key);
const char *path_index(char *buf, size_t cap, const char *path, size_t i);

#endif
