/* core/loader.c - plugin discovery and the descriptor checks (loader.h).
 *
 * The checks run in the order that keeps every read safe: the magic and
 * the ABI major first, because a descriptor from another major may not
 * even have the fields we are about to read (PostgreSQL's lesson). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ltdl.h>

#include "loader.h"
#include "log.h"
#include "sluice/convert.h"

static int ltdl_ready;

size_t cfg_type_size(uint32_t type)
{
  switch (type) {
  case SLUICE_CFG_STRING:
  case SLUICE_CFG_ENUM:
  case SLUICE_CFG_JSON: return sizeof(const char *);
  case SLUICE_CFG_INT:
  case SLUICE_CFG_DURATION:
  case SLUICE_CFG_SIZE: return sizeof(int64_t);
  case SLUICE_CFG_BOOL: return sizeof(int);
  case SLUICE_CFG_DOUBLE: return sizeof(double);
  case SLUICE_CFG_STRLIST: return sizeof(struct sluice_strlist);
  default: return 0;
  }
}

static int valid_name(const char *s, int allow_dash)
{
  if (s == NULL || *s == '\0')
    return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
          (allow_dash && *s == '-')))
      return 0;
  return 1;
}

static int check_config_map(const struct sluice_config_entry *map,
                            size_t ctx_size, const char *which, char *reason,
                            size_t rlen)
{
  if (map == NULL)
    return 0;
  for (size_t i = 0; map[i].key != NULL; i++) {
    const struct sluice_config_entry *e = &map[i];
    size_t size = cfg_type_size(e->type);

    if (!valid_name(e->key, 0)) {
      snprintf(reason, rlen, "%s key '%s' is not [a-z0-9_]+", which, e->key);
      return SLUICE_EINVAL;
    }
    if (size == 0) {
      snprintf(reason, rlen, "%s key '%s' has unknown type %u", which, e->key,
               e->type);
      return SLUICE_EINVAL;
    }
    if (e->offset > ctx_size || ctx_size - e->offset < size) {
      snprintf(reason, rlen,
               "%s key '%s' binds at offset %zu, outside ctx_size %zu", which,
               e->key, e->offset, ctx_size);
      return SLUICE_EINVAL;
    }
    if (e->type == SLUICE_CFG_ENUM &&
        (e->choices == NULL || e->choices[0] == '\0')) {
      snprintf(reason, rlen, "%s key '%s' is an enum without choices", which,
               e->key);
      return SLUICE_EINVAL;
    }
    for (size_t j = 0; j < i; j++)
      if (strcmp(map[j].key, e->key) == 0) {
        snprintf(reason, rlen, "%s key '%s' is declared twice", which, e->key);
        return SLUICE_EINVAL;
      }
  }
  return 0;
}

int loader_check_descriptor(const struct sluice_plugin *p, char *reason,
                            size_t rlen)
{
  int src = (p->kinds & SLUICE_KIND_SOURCE) != 0;
  int dst = (p->kinds & SLUICE_KIND_DESTINATION) != 0;
  int rc;

  if (!valid_name(p->name, 1)) {
    snprintf(reason, rlen, "plugin name '%s' is not [a-z0-9-]+",
             p->name ? p->name : "(null)");
    return SLUICE_EINVAL;
  }
  if ((!src && !dst) ||
      (p->kinds & ~(uint32_t)(SLUICE_KIND_SOURCE | SLUICE_KIND_DESTINATION))) {
    snprintf(reason, rlen, "kinds 0x%x is neither source nor destination",
             p->kinds);
    return SLUICE_EINVAL;
  }
  if (p->init == NULL || p->fini == NULL) {
    snprintf(reason, rlen, "init and fini are required");
    return SLUICE_EINVAL;
  }
  if (src && (p->source_start == NULL || p->source_pause == NULL ||
              p->source_resume == NULL || p->source_stop == NULL)) {
    snprintf(reason, rlen,
             "a source needs source_start, source_pause, "
             "source_resume and source_stop");
    return SLUICE_EINVAL;
  }
  if (dst && (p->dest_open == NULL || p->dest_write == NULL ||
              p->dest_commit == NULL)) {
    snprintf(reason, rlen,
             "a destination needs dest_open, dest_write and dest_commit");
    return SLUICE_EINVAL;
  }
  /* ABI 1.2 key sweeps: a destination's four entries come together (the
   * descriptor was zero-padded for an older plugin: all NULL). */
  {
    int n = (p->sweep_keys != NULL) + (p->sweep_open != NULL) +
            (p->sweep_write != NULL) + (p->sweep_finish != NULL);
    if (n != 0 && (n != 4 || !dst)) {
      snprintf(reason, rlen,
               "a destination's key sweep needs sweep_keys, sweep_open, "
               "sweep_write and sweep_finish together");
      return SLUICE_EINVAL;
    }
    if (p->source_keys != NULL && !src) {
      snprintf(reason, rlen, "source_keys on a plugin that is no source");
      return SLUICE_EINVAL;
    }
  }
  if (p->connection_config != NULL && p->connection_type == NULL) {
    snprintf(reason, rlen, "connection_config without a connection_type");
    return SLUICE_EINVAL;
  }
  rc = check_config_map(p->config, p->ctx_size, "config", reason, rlen);
  if (rc == 0)
    rc = check_config_map(p->connection_config, p->ctx_size,
                          "connection config", reason, rlen);
  return rc;
}

/* Looks for an entry symbol of another major, to say which one the plugin
 * was built for instead of "no entry symbol". */
static int other_major(lt_dlhandle h)
{
  char sym[32];

  for (int major = 0; major <= 99; major++) {
    if (major == SLUICE_ABI_MAJOR)
      continue;
    snprintf(sym, sizeof sym, "sluice_plugin_v%d", major);
    if (lt_dlsym(h, sym) != NULL)
      return major;
  }
  return -1;
}

static int check_header(const struct sluice_plugin *p, char *reason,
                        size_t rlen)
{
  if (p->magic != SLUICE_PLUGIN_MAGIC) {
    snprintf(reason, rlen, "not a sluice plugin (bad magic 0x%08x)", p->magic);
    return SLUICE_EABI;
  }
  if (p->abi_major != SLUICE_ABI_MAJOR) {
    snprintf(reason, rlen,
             "built for plugin ABI %u.%u, this sluice has ABI %d.%d",
             p->abi_major, p->abi_minor, SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR);
    return SLUICE_EABI;
  }
  if (p->struct_size < SLUICE_PLUGIN_SIZE_1_0) {
    snprintf(reason, rlen, "truncated descriptor (%u bytes, ABI 1.0 has %zu)",
             p->struct_size, (size_t)SLUICE_PLUGIN_SIZE_1_0);
    return SLUICE_EABI;
  }
  if (p->abi_minor > SLUICE_ABI_MINOR) {
    snprintf(reason, rlen,
             "built for plugin ABI %u.%u, newer than this sluice's %d.%d: "
             "upgrade sluice",
             p->abi_major, p->abi_minor, SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR);
    return SLUICE_EABI;
  }
  return 0;
}

int loader_load_file(const char *path, struct loaded_plugin *out, char *reason,
                     size_t rlen)
{
  const struct sluice_plugin *(*entry)(void);
  const struct sluice_plugin *p;
  lt_dladvise advise;
  lt_dlhandle h;
  int major, rc;

  if (!ltdl_ready) {
    if (lt_dlinit() != 0) {
      snprintf(reason, rlen, "libltdl: %s", lt_dlerror());
      return SLUICE_EINVAL;
    }
    ltdl_ready = 1;
  }
  /* Local binding: one plugin's symbols never satisfy another's. */
  if (lt_dladvise_init(&advise) != 0 || lt_dladvise_local(&advise) != 0) {
    snprintf(reason, rlen, "libltdl: %s", lt_dlerror());
    return SLUICE_EINVAL;
  }
  h = lt_dlopenadvise(path, advise);
  lt_dladvise_destroy(&advise);
  if (h == NULL) {
    snprintf(reason, rlen, "cannot load: %s (a missing library? try ldd)",
             lt_dlerror());
    return SLUICE_EINVAL;
  }
  *(void **)&entry = lt_dlsym(h, SLUICE_ENTRY_SYMBOL);
  if (entry == NULL) {
    if ((major = other_major(h)) >= 0)
      snprintf(reason, rlen,
               "built for plugin ABI %d.x (it exports sluice_plugin_v%d), "
               "this sluice has ABI %d.%d",
               major, major, SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR);
    else
      snprintf(reason, rlen, "not a sluice plugin (no %s symbol)",
               SLUICE_ENTRY_SYMBOL);
    lt_dlclose(h);
    return SLUICE_EABI;
  }
  p = entry();
  if (p == NULL) {
    snprintf(reason, rlen, "%s() returned NULL", SLUICE_ENTRY_SYMBOL);
    lt_dlclose(h);
    return SLUICE_EABI;
  }
  if ((rc = check_header(p, reason, rlen)) < 0) {
    lt_dlclose(h);
    return rc;
  }
  memset(out, 0, sizeof *out);
  memcpy(&out->desc, p,
         p->struct_size < sizeof out->desc ? p->struct_size : sizeof out->desc);
  if ((rc = loader_check_descriptor(&out->desc, reason, rlen)) < 0) {
    lt_dlclose(h);
    return rc;
  }
  out->path = strdup(path);
  out->handle = h;
  if (out->path == NULL) {
    lt_dlclose(h);
    return SLUICE_ENOMEM;
  }
  return 0;
}

const struct loaded_plugin *plugin_set_find(const struct plugin_set *set,
                                            const char *name)
{
  for (size_t i = 0; i < set->n; i++)
    if (strcmp(set->v[i].desc.name, name) == 0)
      return &set->v[i];
  return NULL;
}

static int add_refusal(struct plugin_set *set, const char *path,
                       const char *reason)
{
  char **grown = realloc(set->refused, (set->nrefused + 1) * sizeof *grown);
  size_t len = strlen(path) + strlen(reason) + 16;

  if (grown == NULL)
    return SLUICE_ENOMEM;
  set->refused = grown;
  if ((grown[set->nrefused] = malloc(len)) == NULL)
    return SLUICE_ENOMEM;
  snprintf(grown[set->nrefused], len, "%s: refused: %s", path, reason);
  set->nrefused++;
  return 0;
}

static int has_suffix(const char *s, const char *suffix)
{
  size_t n = strlen(s), m = strlen(suffix);
  return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Sorted names of the plugin files in dir: "x.la", or "x.so" when no
 * "x.la" is beside it (libtool's .la knows where the real object is). */
static int list_plugin_files(const char *dir, char ***names, size_t *n)
{
  struct dirent **ents;
  int count = scandir(dir, &ents, NULL, alphasort);

  *names = NULL;
  *n = 0;
  if (count < 0)
    return errno == ENOENT || errno == ENOTDIR ? 0 : SLUICE_EIO;
  *names = calloc((size_t)count + 1, sizeof **names);
  for (int i = 0; i < count; i++) {
    const char *name = ents[i]->d_name;
    int take = 0;

    if (name[0] != '.' && has_suffix(name, ".la"))
      take = 1;
    else if (name[0] != '.' && has_suffix(name, ".so")) {
      char la[1024];
      snprintf(la, sizeof la, "%.*s.la", (int)(strlen(name) - 3), name);
      take = 1;
      for (int j = 0; j < count; j++)
        if (strcmp(ents[j]->d_name, la) == 0)
          take = 0;
    }
    if (take && *names != NULL && ((*names)[*n] = strdup(name)) != NULL)
      (*n)++;
  }
  /* Freed only now: the ".la beside it" test above reads every entry. */
  for (int i = 0; i < count; i++)
    free(ents[i]);
  free(ents);
  return *names == NULL ? SLUICE_ENOMEM : 0;
}

static int load_dir(struct plugin_set *set, const char *dir)
{
  char **names, reason[512], path[4096];
  size_t n;
  int rc = list_plugin_files(dir, &names, &n);

  if (rc < 0) {
    log_warn("plugin directory %s: %s", dir, strerror(errno));
    return 0;
  }
  for (size_t i = 0; i < n && rc == 0; i++) {
    struct loaded_plugin lp;
    const struct loaded_plugin *dup;

    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (loader_load_file(path, &lp, reason, sizeof reason) < 0) {
      rc = add_refusal(set, path, reason);
      continue;
    }
    if ((dup = plugin_set_find(set, lp.desc.name)) != NULL) {
      snprintf(reason, sizeof reason, "plugin '%s' is already loaded from %s",
               lp.desc.name, dup->path);
      lt_dlclose((lt_dlhandle)lp.handle);
      free(lp.path);
      rc = add_refusal(set, path, reason);
      continue;
    }
    struct loaded_plugin *grown = realloc(set->v, (set->n + 1) * sizeof *grown);
    if (grown == NULL) {
      lt_dlclose((lt_dlhandle)lp.handle);
      free(lp.path);
      rc = SLUICE_ENOMEM;
      break;
    }
    set->v = grown;
    set->v[set->n++] = lp;
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  return rc;
}

int loader_load_dirs(struct plugin_set *set, const char *const *dirs,
                     size_t ndirs)
{
  int rc = 0;

  for (size_t i = 0; i < ndirs && rc == 0; i++) {
    if (dirs[i] == NULL || dirs[i][0] == '\0')
      continue;
    if (dirs[i][0] != '/') {
      log_warn("plugin directory '%s' ignored: it must be an absolute path",
               dirs[i]);
      continue;
    }
    rc = load_dir(set, dirs[i]);
  }
  return rc;
}

void plugin_set_free(struct plugin_set *set)
{
  for (size_t i = 0; i < set->n; i++) {
    lt_dlclose((lt_dlhandle)set->v[i].handle);
    free(set->v[i].path);
  }
  for (size_t i = 0; i < set->nrefused; i++)
    free(set->refused[i]);
  free(set->v);
  free(set->refused);
  memset(set, 0, sizeof *set);
  if (ltdl_ready) {
    lt_dlexit();
    ltdl_ready = 0;
  }
}
