/* core/cfgbind.c - see cfgbind.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfgbind.h"
#include "log.h"
#include "sluice/buf.h"
#include "sluice/convert.h"

/* A secret file bigger than this is a mistake (a key is a few KiB). */
#define SECRET_FILE_MAX (1024 * 1024)

const char *cfg_type_label(uint32_t type)
{
  switch (type) {
  case SLUICE_CFG_STRING: return "string";
  case SLUICE_CFG_INT: return "integer";
  case SLUICE_CFG_BOOL: return "boolean";
  case SLUICE_CFG_DOUBLE: return "number";
  case SLUICE_CFG_DURATION: return "duration";
  case SLUICE_CFG_SIZE: return "size";
  case SLUICE_CFG_ENUM: return "enum";
  case SLUICE_CFG_STRLIST: return "list";
  case SLUICE_CFG_JSON: return "json";
  default: return "?";
  }
}

static void *remember(struct cfg_allocs *a, void *p)
{
  void **grown;

  if (p == NULL || a == NULL)
    return p;
  grown = realloc(a->v, (a->n + 1) * sizeof *grown);
  if (grown == NULL) {
    free(p);
    return NULL;
  }
  a->v = grown;
  a->v[a->n++] = p;
  return p;
}

void cfg_allocs_free(struct cfg_allocs *a)
{
  for (size_t i = 0; i < a->n; i++)
    free(a->v[i]);
  free(a->v);
  a->v = NULL;
  a->n = 0;
}

static char *read_secret_file(const char *file, const char *path,
                              const char *base_dir, struct diags *d)
{
  struct sluice_buf full = SLUICE_BUF_INIT, data = SLUICE_BUF_INIT;
  struct stat st;
  char chunk[4096];
  size_t n;
  FILE *f;

  if (file[0] != '/' && base_dir != NULL)
    sluice_buf_printf(&full, "%s/%s", base_dir, file);
  else
    sluice_buf_append_str(&full, file);
  f = fopen(sluice_buf_cstr(&full), "rb");
  if (f == NULL) {
    diag_add(d, path, "cannot read secret file %s: %s", full.data,
             strerror(errno));
    sluice_buf_free(&full);
    return NULL;
  }
  if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
    log_warn("%s: secret file %s is readable by group or others "
             "(chmod 600 it)",
             path, full.data);
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 &&
         data.len <= SECRET_FILE_MAX)
    sluice_buf_append(&data, chunk, n);
  fclose(f);
  if (data.len > SECRET_FILE_MAX) {
    diag_add(d, path, "secret file %s is larger than 1 MiB", full.data);
    sluice_buf_free(&full);
    sluice_buf_free(&data);
    return NULL;
  }
  sluice_buf_free(&full);
  /* One trailing line end is how editors save files, not part of it. */
  if (data.len > 0 && data.data[data.len - 1] == '\n')
    data.data[--data.len] = '\0';
  if (data.len > 0 && data.data[data.len - 1] == '\r')
    data.data[--data.len] = '\0';
  if (sluice_buf_cstr(&data) == NULL)
    return NULL;
  return data.data;
}

char *cfg_resolve_string(json_t *v, const char *path, const char *base_dir,
                         struct diags *d, int *was_ref)
{
  const char *key;
  json_t *ref;

  *was_ref = 0;
  if (json_is_string(v))
    return strdup(json_string_value(v));
  if (!json_is_object(v) || json_object_size(v) != 1) {
    diag_add(d, path,
             "expected a string, or {\"env\": NAME} or "
             "{\"file\": PATH}");
    return NULL;
  }
  json_object_foreach(v, key, ref)
  {
    char sub[512];

    path_key(sub, sizeof sub, path, key);
    if (!json_is_string(ref)) {
      diag_add(d, sub, "expected a string");
      return NULL;
    }
    *was_ref = 1;
    if (strcmp(key, "env") == 0) {
      const char *val = getenv(json_string_value(ref));
      if (val == NULL) {
        diag_add(d, sub, "environment variable %s is not set",
                 json_string_value(ref));
        return NULL;
      }
      return strdup(val);
    }
    if (strcmp(key, "file") == 0)
      return read_secret_file(json_string_value(ref), sub, base_dir, d);
    diag_add(d, sub, "unknown reference: use \"env\" or \"file\"");
    return NULL;
  }
  return NULL;
}

static int in_choices(const char *choices, const char *s)
{
  size_t len = strlen(s);

  for (const char *p = choices; *p;) {
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    if (n == len && strncmp(p, s, n) == 0)
      return 1;
    if (bar == NULL)
      break;
    p = bar + 1;
  }
  return 0;
}

static void diag_bad_choice(struct diags *d, const char *path,
                            const char *choices, const char *s)
{
  char *copy = strdup(choices);
  const char *list[32];
  size_t n = 0;
  const char *near;

  if (copy == NULL)
    return;
  for (char *tok = strtok(copy, "|"); tok && n < 32; tok = strtok(NULL, "|"))
    list[n++] = tok;
  near = sluice_closest(s, list, n);
  if (near != NULL)
    diag_add(d, path, "'%s' is not one of %s; did you mean '%s'?", s, choices,
             near);
  else
    diag_add(d, path, "'%s' is not one of %s", s, choices);
  free(copy);
}

/* Parses text (a default, or a string value) into the ctx slot. */
static int bind_text(const struct sluice_config_entry *e, const char *text,
                     void *slot, struct cfg_allocs *allocs, const char *path,
                     struct diags *d)
{
  int64_t i64;
  char *end;

  switch (e->type) {
  case SLUICE_CFG_STRING:
  case SLUICE_CFG_JSON:
  case SLUICE_CFG_ENUM:
    if (e->type == SLUICE_CFG_ENUM && !in_choices(e->choices, text)) {
      diag_bad_choice(d, path, e->choices, text);
      return -1;
    }
    if (slot != NULL)
      *(const char **)slot = remember(allocs, strdup(text));
    return 0;
  case SLUICE_CFG_INT:
    errno = 0;
    i64 = strtoll(text, &end, 10);
    if (errno || *end || end == text) {
      diag_add(d, path, "expected an integer, got '%s'", text);
      return -1;
    }
    if (slot != NULL)
      *(int64_t *)slot = i64;
    return 0;
  case SLUICE_CFG_BOOL: {
    int b;
    if (sluice_parse_bool(text, strlen(text), &b) < 0) {
      diag_add(d, path, "expected true or false, got '%s'", text);
      return -1;
    }
    if (slot != NULL)
      *(int *)slot = b;
    return 0;
  }
  case SLUICE_CFG_DOUBLE: {
    double x;
    if (sluice_parse_double(text, strlen(text), &x) < 0) {
      diag_add(d, path, "expected a number, got '%s'", text);
      return -1;
    }
    if (slot != NULL)
      *(double *)slot = x;
    return 0;
  }
  case SLUICE_CFG_DURATION:
    if (sluice_parse_duration(text, &i64) < 0) {
      diag_add(d, path,
               "'%s' is not a duration (e.g. \"500ms\", \"30s\", "
               "\"15m\", \"2h\", \"1d\")",
               text);
      return -1;
    }
    if (slot != NULL)
      *(int64_t *)slot = i64;
    return 0;
  case SLUICE_CFG_SIZE:
    if (sluice_parse_size(text, &i64) < 0) {
      diag_add(d, path,
               "'%s' is not a size (e.g. 65536, \"64k\", \"8M\", "
               "\"1G\")",
               text);
      return -1;
    }
    if (slot != NULL)
      *(int64_t *)slot = i64;
    return 0;
  default: diag_add(d, path, "cannot take a text value"); return -1;
  }
}

static int bind_strlist(json_t *v, void *slot, struct cfg_allocs *allocs,
                        const char *path, struct diags *d)
{
  size_t i, n;
  const char **items;
  json_t *item;

  if (!json_is_array(v)) {
    diag_add(d, path, "expected an array of strings");
    return -1;
  }
  n = json_array_size(v);
  json_array_foreach(v, i, item)
  {
    if (!json_is_string(item)) {
      char sub[512];
      diag_add(d, path_index(sub, sizeof sub, path, i), "expected a string");
      return -1;
    }
  }
  if (slot == NULL)
    return 0;
  items = remember(allocs, calloc(n + 1, sizeof *items));
  if (items == NULL)
    return -1;
  json_array_foreach(v, i, item)
  {
    items[i] = remember(allocs, strdup(json_string_value(item)));
  }
  ((struct sluice_strlist *)slot)->n = n;
  ((struct sluice_strlist *)slot)->v = items;
  return 0;
}

static int bind_value(const struct cfg_bind_args *a,
                      const struct sluice_config_entry *e, json_t *v,
                      void *slot, const char *path, struct diags *d)
{
  char num[64];
  int was_ref, rc;
  char *s;

  switch (e->type) {
  case SLUICE_CFG_STRING:
  case SLUICE_CFG_ENUM:
    s = cfg_resolve_string(v, path, a->base_dir, d, &was_ref);
    if (s == NULL)
      return -1;
    if ((e->flags & SLUICE_CFG_SECRET) || was_ref)
      log_add_secret(s);
    rc = bind_text(e, s, slot, a->allocs, path, d);
    free(s);
    return rc;
  case SLUICE_CFG_JSON:
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (s == NULL)
      return -1;
    rc = bind_text(e, s, slot, a->allocs, path, d);
    free(s);
    return rc;
  case SLUICE_CFG_INT:
    if (!json_is_integer(v)) {
      diag_add(d, path, "expected an integer");
      return -1;
    }
    snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return bind_text(e, num, slot, a->allocs, path, d);
  case SLUICE_CFG_BOOL:
    if (!json_is_boolean(v)) {
      diag_add(d, path, "expected true or false");
      return -1;
    }
    return bind_text(e, json_is_true(v) ? "true" : "false", slot, a->allocs,
                     path, d);
  case SLUICE_CFG_DOUBLE:
    if (!json_is_number(v)) {
      diag_add(d, path, "expected a number");
      return -1;
    }
    snprintf(num, sizeof num, "%.17g", json_number_value(v));
    return bind_text(e, num, slot, a->allocs, path, d);
  case SLUICE_CFG_DURATION:
  case SLUICE_CFG_SIZE:
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
      snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
      return bind_text(e, num, slot, a->allocs, path, d);
    }
    if (!json_is_string(v)) {
      diag_add(d, path, "expected a %s string or a whole number",
               cfg_type_label(e->type));
      return -1;
    }
    return bind_text(e, json_string_value(v), slot, a->allocs, path, d);
  case SLUICE_CFG_STRLIST: return bind_strlist(v, slot, a->allocs, path, d);
  default: return -1;
  }
}

static int is_host_key(const char *const *host_keys, const char *key)
{
  for (; host_keys != NULL && *host_keys != NULL; host_keys++)
    if (strcmp(*host_keys, key) == 0)
      return 1;
  return 0;
}

static const struct sluice_config_entry *
find_entry(const struct sluice_config_entry *map, const char *key)
{
  for (; map != NULL && map->key != NULL; map++)
    if (strcmp(map->key, key) == 0)
      return map;
  return NULL;
}

static void diag_unknown_key(const struct cfg_bind_args *a, const char *key,
                             const char *path, struct diags *d)
{
  const char *cands[128];
  size_t n = 0;
  struct sluice_buf valid = SLUICE_BUF_INIT;
  const char *near;

  for (const struct sluice_config_entry *e = a->map; e && e->key && n < 100;
       e++)
    if (!(e->flags & (SLUICE_CFG_SOURCE | SLUICE_CFG_DESTINATION)) ||
        (e->flags & a->role))
      cands[n++] = e->key;
  for (const char *const *h = a->host_keys; h && *h && n < 128; h++)
    cands[n++] = *h;
  near = sluice_closest(key, cands, n);
  if (near != NULL) {
    diag_add(d, path, "unknown key; did you mean '%s'?", near);
    return;
  }
  for (size_t i = 0; i < n; i++)
    sluice_buf_printf(&valid, "%s%s", i ? ", " : "", cands[i]);
  diag_add(d, path, "unknown key (valid keys: %s)",
           valid.len ? valid.data : "none");
  sluice_buf_free(&valid);
}

int cfg_bind(const struct cfg_bind_args *a, struct diags *d)
{
  size_t before = d->n;
  const char *key;
  json_t *v;
  char sub[512];

  json_object_foreach(a->obj, key, v)
  {
    const struct sluice_config_entry *e = find_entry(a->map, key);

    if (is_host_key(a->host_keys, key))
      continue;
    path_key(sub, sizeof sub, a->path, key);
    if (e == NULL) {
      diag_unknown_key(a, key, sub, d);
      continue;
    }
    if ((e->flags & (SLUICE_CFG_SOURCE | SLUICE_CFG_DESTINATION)) &&
        !(e->flags & a->role)) {
      diag_add(d, sub, "applies only to %s",
               (e->flags & SLUICE_CFG_SOURCE) ? "sources" : "destinations");
      continue;
    }
    bind_value(a, e, v, a->ctx ? (char *)a->ctx + e->offset : NULL, sub, d);
  }
  for (const struct sluice_config_entry *e = a->map; e && e->key; e++) {
    if ((e->flags & (SLUICE_CFG_SOURCE | SLUICE_CFG_DESTINATION)) &&
        !(e->flags & a->role))
      continue;
    if (json_object_get(a->obj, e->key) != NULL)
      continue;
    if (e->flags & SLUICE_CFG_REQUIRED) {
      diag_add(d, a->path, "missing required key '%s' (%s: %s)", e->key,
               cfg_type_label(e->type), e->help ? e->help : "");
      continue;
    }
    if (e->default_value == NULL)
      continue;
    path_key(sub, sizeof sub, a->path, e->key);
    if (e->type == SLUICE_CFG_STRLIST) {
      json_t *list = json_loads(e->default_value, 0, NULL);
      if (list != NULL)
        bind_strlist(list, a->ctx ? (char *)a->ctx + e->offset : NULL,
                     a->allocs, sub, d);
      json_decref(list);
      continue;
    }
    bind_text(e, e->default_value, a->ctx ? (char *)a->ctx + e->offset : NULL,
              a->allocs, sub, d);
  }
  return (int)(d->n - before);
}
