/* sluice/path.h - file paths as pipeline files give them.
 * Since ABI 1.1. */
#ifndef SLUICE_PATH_H
#define SLUICE_PATH_H

#include "sluice/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* path made absolute against base_dir (host->base_dir: the pipeline
 * file's directory), as a new string for free(): an absolute path, or a
 * NULL base_dir, gives a copy.  NULL for a NULL path or on ENOMEM. */
SLUICE_API char *sluice_path_resolve(const char *base_dir, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_PATH_H */
