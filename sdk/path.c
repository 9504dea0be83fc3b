/* path.c - file paths as pipeline files give them (sluice/path.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/path.h"

char *sluice_path_resolve(const char *base_dir, const char *path)
{
  size_t n;
  char *out;

  if (path == NULL)
    return NULL;
  if (path[0] == '/' || base_dir == NULL)
    return strdup(path);
  n = strlen(base_dir) + strlen(path) + 2;
  if ((out = malloc(n)) != NULL)
    snprintf(out, n, "%s/%s", base_dir, path);
  return out;
}
