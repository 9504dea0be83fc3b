/* core/loader.h - finds plugin files, loads them with libltdl and checks
 * their descriptors (the only file that touches the dynamic loader). */
#ifndef SLUICE_CORE_LOADER_H
#define SLUICE_CORE_LOADER_H

#include <stddef.h>

#include "sluice/plugin.h"

struct loaded_plugin {
  struct sluice_plugin desc; /* a checked, zero-extended copy */
  char *path;                /* the file it came from */
  void *handle;              /* lt_dlhandle */
};

struct plugin_set {
  struct loaded_plugin *v;
  size_t n;
  char **refused; /* one line each: "FILE: refused: REASON" */
  size_t nrefused;
};

/* Loads every plugin in dirs (searched in order; the first plugin of a
 * name wins, later ones are refused as duplicates).  Relative dirs and
 * empty entries are skipped: plugins never load from the working
 * directory by accident.  Returns 0, or SLUICE_ENOMEM. */
int loader_load_dirs(struct plugin_set *set, const char *const *dirs,
                     size_t ndirs);
/* Loads one file (exposed for tests).  0, or SLUICE_EABI/EINVAL with the
 * reason in `reason` (no file name). */
int loader_load_file(const char *path, struct loaded_plugin *out, char *reason,
                     size_t reason_len);
const struct loaded_plugin *plugin_set_find(const struct plugin_set *set,
                                            const char *name);
void plugin_set_free(struct plugin_set *set);

/* Checks a descriptor's config map and callbacks; exposed for tests. */
int loader_check_descriptor(const struct sluice_plugin *p, char *reason,
                            size_t reason_len);

/* Size in bytes of the value a config type binds into ctx. */
size_t cfg_type_size(uint32_t type);

#endif
