/* core/diag.c - see diag.h. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "sluice/buf.h"

void diag_add(struct diags *d, const char *path, const char *fmt, ...)
{
  struct sluice_buf line = SLUICE_BUF_INIT;
  char msg[1024];
  char **grown;
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (d->file != NULL)
    sluice_buf_printf(&line, "%s: ", d->file);
  if (path != NULL && *path != '\0')
    sluice_buf_printf(&line, "%s: ", path);
  sluice_buf_append_str(&line, msg);
  if (sluice_buf_cstr(&line) == NULL)
    return;
  for (size_t i = 0; i < d->n; i++)
    if (strcmp(d->v[i], line.data) == 0) {
      sluice_buf_free(&line);
      return;
    }
  grown = realloc(d->v, (d->n + 1) * sizeof *grown);
  if (grown == NULL) {
    sluice_buf_free(&line);
    return;
  }
  d->v = grown;
  d->v[d->n++] = line.data; /* the buffer's memory moves to the list */
}

void diag_print(const struct diags *d, FILE *out)
{
  for (size_t i = 0; i < d->n; i++)
    fprintf(out, "%s\n", d->v[i]);
}

void diag_free(struct diags *d)
{
  for (size_t i = 0; i < d->n; i++)
    free(d->v[i]);
  free(d->v);
  d->v = NULL;
  d->n = 0;
}

const char *path_key(char *buf, size_t cap, const char *path, const char *key)
{
  if (path == NULL || *path == '\0')
    snprintf(buf, cap, "%s", key);
  else
    snprintf(buf, cap, "%s.%s", path, key);
  return buf;
}

const char *path_index(char *buf, size_t cap, const char *path, size_t i)
{
  snprintf(buf, cap, "%s[%zu]", path ? path : "", i);
  return buf;
}
