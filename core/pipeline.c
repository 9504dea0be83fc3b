/* core/pipeline.c - see pipeline.h. */
#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgbind.h"
#include "notify.h"
#include "pipeline.h"
#include "sluice/buf.h"
#include "sluice/convert.h"

const char *const endpoint_host_keys[] = {"plugin", "connection", NULL};

static const char *const top_keys[] = {
    "version", "state_dir",   "plugin_path", "connections", "pipelines",
    "$schema", "description", "notify",      NULL};
static const char *const pipeline_keys[] = {
    "name",   "description",       "enabled", "schedule",
    "source", "destination",       "mapping", "batch",
    "notify", "reconcile_deletes", NULL};
static const char *const batch_keys[] = {"rows", "bytes", "in_flight",
                                         "commit_every", NULL};
static const char *const schedule_keys[] = {"every", "cron", NULL};
static const char *const mapping_keys[] = {"to", "type", "value", NULL};

static size_t count_keys(const char *const *keys)
{
  size_t n = 0;
  while (keys[n] != NULL)
    n++;
  return n;
}

/* Reports keys of obj that are not in `keys`, with a suggestion. */
static void check_keys(json_t *obj, const char *const *keys, const char *path,
                       struct diags *d)
{
  const char *key;
  json_t *v;
  char sub[512];

  json_object_foreach(obj, key, v)
  {
    int known = 0;
    for (const char *const *k = keys; *k; k++)
      if (strcmp(*k, key) == 0)
        known = 1;
    if (known)
      continue;
    const char *near = sluice_closest(key, keys, count_keys(keys));
    path_key(sub, sizeof sub, path, key);
    if (near)
      diag_add(d, sub, "unknown key; did you mean '%s'?", near);
    else
      diag_add(d, sub, "unknown key");
  }
}

static char *absolute_dir_of(const char *file)
{
  char *copy = strdup(file), *slash, cwd[PATH_MAX], *out;
  struct sluice_buf b = SLUICE_BUF_INIT;

  if (copy == NULL)
    return NULL;
  slash = strrchr(copy, '/');
  if (slash == NULL)
    strcpy(copy, ".");
  else if (slash == copy)
    slash[1] = '\0';
  else
    *slash = '\0';
  if (copy[0] == '/') {
    return copy;
  }
  if (getcwd(cwd, sizeof cwd) == NULL) {
    free(copy);
    return NULL;
  }
  if (strcmp(copy, ".") == 0)
    sluice_buf_append_str(&b, cwd);
  else
    sluice_buf_printf(&b, "%s/%s", cwd, copy);
  free(copy);
  out = b.data;
  return out;
}

static char *resolve_path(const char *base, const char *p)
{
  struct sluice_buf b = SLUICE_BUF_INIT;

  if (p[0] == '/')
    sluice_buf_append_str(&b, p);
  else
    sluice_buf_printf(&b, "%s/%s", base, p);
  return b.data;
}

static int valid_pipeline_name(const char *s)
{
  if (*s == '\0' || strlen(s) > 100 || s[0] == '.')
    return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
      return 0;
  return 1;
}

static void load_schedule(json_t *s, const char *path, struct schedule *out,
                          struct diags *d)
{
  json_t *every = json_object_get(s, "every"),
         *cron = json_object_get(s, "cron");
  struct sluice_error err = {0};
  char sub[512];

  out->kind = SCHEDULE_NONE;
  if (!json_is_object(s)) {
    diag_add(d, path,
             "expected an object: {\"every\": \"15m\"} or "
             "{\"cron\": \"0 6 * * 1\"}");
    return;
  }
  check_keys(s, schedule_keys, path, d);
  if ((every != NULL) == (cron != NULL)) {
    diag_add(d, path, "give exactly one of \"every\" or \"cron\"");
    return;
  }
  if (every != NULL) {
    path_key(sub, sizeof sub, path, "every");
    if (!json_is_string(every))
      diag_add(d, sub, "expected a string such as \"15m\"");
    else if (schedule_parse_every(json_string_value(every), &out->every_s,
                                  &err) < 0)
      diag_add(d, sub, "%s", err.message);
    else
      out->kind = SCHEDULE_EVERY;
    return;
  }
  path_key(sub, sizeof sub, path, "cron");
  if (!json_is_string(cron))
    diag_add(d, sub, "expected a string such as \"0 6 * * 1\"");
  else if (cron_parse(json_string_value(cron), &out->cron, &err) < 0)
    diag_add(d, sub, "%s", err.message);
  else
    out->kind = SCHEDULE_CRON;
}

static size_t size_value(json_t *v, const char *path, size_t min, size_t max,
                         int is_bytes, struct diags *d)
{
  int64_t n = -1;

  if (json_is_integer(v))
    n = json_integer_value(v);
  else if (is_bytes && json_is_string(v) &&
           sluice_parse_size(json_string_value(v), &n) < 0)
    n = -1;
  if (n < (int64_t)min || n > (int64_t)max) {
    diag_add(d, path, "expected %s from %zu to %zu",
             is_bytes ? "a size" : "a whole number", min, max);
    return 0;
  }
  return (size_t)n;
}

static void load_batch(json_t *b, const char *path, struct pipeline *p,
                       struct diags *d)
{
  json_t *v;
  char sub[512];

  if (!json_is_object(b)) {
    diag_add(d, path,
             "expected an object with rows, bytes, in_flight, commit_every");
    return;
  }
  check_keys(b, batch_keys, path, d);
  if ((v = json_object_get(b, "rows")) != NULL)
    p->batch_rows = size_value(v, path_key(sub, sizeof sub, path, "rows"), 1,
                               1000000, 0, d);
  if ((v = json_object_get(b, "bytes")) != NULL)
    p->batch_bytes = size_value(v, path_key(sub, sizeof sub, path, "bytes"),
                                4096, (size_t)1 << 30, 1, d);
  if ((v = json_object_get(b, "in_flight")) != NULL)
    p->max_in_flight = size_value(
        v, path_key(sub, sizeof sub, path, "in_flight"), 1, 64, 0, d);
  if ((v = json_object_get(b, "commit_every")) != NULL)
    p->commit_every = size_value(
        v, path_key(sub, sizeof sub, path, "commit_every"), 0, 1000000, 0, d);
}

static void load_mapping(json_t *m, const char *path, struct diags *d)
{
  const char *key;
  json_t *v;
  char sub[512], sub2[600];

  if (!json_is_object(m)) {
    diag_add(d, path, "expected an object: {\"SourceField\": \"DEST_COLUMN\"}");
    return;
  }
  json_object_foreach(m, key, v)
  {
    path_key(sub, sizeof sub, path, key);
    if (strcmp(key, "*") == 0) {
      if (!json_is_null(v))
        diag_add(d, sub, "only null is allowed here (drop unmapped fields)");
      continue;
    }
    if (json_is_null(v))
      continue;
    if (json_is_string(v)) {
      if (json_string_length(v) == 0)
        diag_add(d, sub, "the new name is empty");
      continue;
    }
    if (!json_is_object(v)) {
      diag_add(d, sub,
               "expected a new name, null (drop), or an object "
               "with \"to\", \"type\" or \"value\"");
      continue;
    }
    check_keys(v, mapping_keys, sub, d);
    json_t *to = json_object_get(v, "to"), *type = json_object_get(v, "type");
    json_t *value = json_object_get(v, "value");
    if (to != NULL && (!json_is_string(to) || json_string_length(to) == 0))
      diag_add(d, path_key(sub2, sizeof sub2, sub, "to"),
               "expected a column name");
    if (type != NULL) {
      enum sluice_type t;
      int prec, scale;
      if (!json_is_string(type) ||
          sluice_type_parse(json_string_value(type), &t, &prec, &scale) < 0)
        diag_add(d, path_key(sub2, sizeof sub2, sub, "type"),
                 "unknown type; use string, int64, double, decimal, "
                 "number(p,s), bool, date, time, timestamp or binary");
    }
    if (value != NULL && to != NULL)
      diag_add(d, sub, "a constant column is named by its key; drop \"to\"");
    if (value != NULL && !json_is_string(value) && !json_is_number(value) &&
        !json_is_boolean(value) && !json_is_null(value))
      diag_add(d, path_key(sub2, sizeof sub2, sub, "value"),
               "a constant must be a string, number, boolean or null");
  }
}

static void load_endpoint(json_t *e, const char *path, json_t *connections,
                          struct endpoint *ep, struct diags *d)
{
  json_t *plugin, *conn;
  char sub[512];

  ep->path = strdup(path);
  if (!json_is_object(e)) {
    diag_add(d, path, "expected an object with \"plugin\" and its settings");
    return;
  }
  ep->config = e;
  plugin = json_object_get(e, "plugin");
  if (!json_is_string(plugin))
    diag_add(d, path_key(sub, sizeof sub, path, "plugin"),
             plugin ? "expected a plugin name" : "missing (which plugin?)");
  else
    ep->plugin_name = json_string_value(plugin);
  conn = json_object_get(e, "connection");
  if (conn == NULL)
    return;
  path_key(sub, sizeof sub, path, "connection");
  if (!json_is_string(conn)) {
    diag_add(d, sub, "expected the name of a connection");
    return;
  }
  ep->connection_name = json_string_value(conn);
  ep->connection = json_object_get(connections, ep->connection_name);
  if (ep->connection == NULL) {
    const char *names[64];
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(connections, key, v)
    {
      if (n < 64)
        names[n++] = key;
    }
    const char *near = sluice_closest(ep->connection_name, names, n);
    if (near)
      diag_add(d, sub, "no connection '%s'; did you mean '%s'?",
               ep->connection_name, near);
    else
      diag_add(d, sub, "no connection '%s' in \"connections\"",
               ep->connection_name);
    return;
  }
  path_key(sub, sizeof sub, "connections", ep->connection_name);
  ep->connection_path = strdup(sub);
}

static void load_pipeline(json_t *pj, size_t i, struct pipeline_file *pf,
                          json_t *connections, struct diags *d)
{
  struct pipeline *p = &pf->v[i];
  char path[64], sub[512];
  json_t *v;

  p->index = i;
  p->enabled = 1;
  p->max_in_flight = 4;
  path_index(path, sizeof path, "pipelines", i);
  if (!json_is_object(pj)) {
    diag_add(d, path, "expected an object");
    return;
  }
  check_keys(pj, pipeline_keys, path, d);
  v = json_object_get(pj, "name");
  path_key(sub, sizeof sub, path, "name");
  if (!json_is_string(v))
    diag_add(d, sub,
             v ? "expected a string"
               : "missing (every pipeline needs "
                 "a name)");
  else if (!valid_pipeline_name(json_string_value(v)))
    diag_add(d, sub,
             "'%s': use letters, digits, '-', '_' and '.' (at most 100)",
             json_string_value(v));
  else {
    p->name = strdup(json_string_value(v));
    for (size_t j = 0; j < i; j++)
      if (pf->v[j].name && strcmp(pf->v[j].name, p->name) == 0)
        diag_add(d, sub, "'%s' is also the name of pipelines[%zu]", p->name, j);
  }
  if ((v = json_object_get(pj, "enabled")) != NULL) {
    if (!json_is_boolean(v))
      diag_add(d, path_key(sub, sizeof sub, path, "enabled"),
               "expected true or false");
    p->enabled = json_is_true(v) || !json_is_boolean(v);
  }
  if ((v = json_object_get(pj, "schedule")) != NULL)
    load_schedule(v, path_key(sub, sizeof sub, path, "schedule"), &p->schedule,
                  d);
  if ((v = json_object_get(pj, "reconcile_deletes")) != NULL) {
    path_key(sub, sizeof sub, path, "reconcile_deletes");
    p->reconcile_deletes_path = strdup(sub);
    /* "weekly" and the other cron shorthands as a plain string too. */
    if (json_is_string(v)) {
      struct sluice_error err = {0};
      char text[16];
      const char *t = json_string_value(v);
      static const char *const words[] = {"hourly",  "daily",  "weekly",
                                          "monthly", "yearly", NULL};
      for (const char *const *w = words; *w; w++)
        if (strcmp(t, *w) == 0) {
          text[0] = '@';
          memcpy(text + 1, *w, strlen(*w) + 1);
          t = text;
        }
      if (cron_parse(t, &p->reconcile_deletes.cron, &err) < 0)
        diag_add(d, sub,
                 "%s (a schedule: \"weekly\", \"@daily\", a 5-field cron, "
                 "or {\"every\": \"1w\"} / {\"cron\": \"0 3 * * 0\"})",
                 err.message);
      else
        p->reconcile_deletes.kind = SCHEDULE_CRON;
    } else {
      load_schedule(v, sub, &p->reconcile_deletes, d);
    }
  }
  if ((v = json_object_get(pj, "batch")) != NULL)
    load_batch(v, path_key(sub, sizeof sub, path, "batch"), p, d);
  if ((v = json_object_get(pj, "notify")) != NULL)
    notify_load(v, path_key(sub, sizeof sub, path, "notify"), pf->base_dir,
                &p->notify, d);
  v = json_object_get(pj, "source");
  path_key(sub, sizeof sub, path, "source");
  if (v == NULL)
    diag_add(d, path, "missing required key 'source'");
  else
    load_endpoint(v, sub, connections, &p->source, d);
  v = json_object_get(pj, "destination");
  path_key(sub, sizeof sub, path, "destination");
  if (v == NULL)
    diag_add(d, path, "missing required key 'destination'");
  else
    load_endpoint(v, sub, connections, &p->destination, d);
  if ((v = json_object_get(pj, "mapping")) != NULL) {
    path_key(sub, sizeof sub, path, "mapping");
    p->mapping = v;
    p->mapping_path = strdup(sub);
    load_mapping(v, sub, d);
  }
}

static void load_plugin_path(json_t *v, struct pipeline_file *pf,
                             struct diags *d)
{
  size_t i;
  json_t *item;
  char sub[64];

  if (json_is_string(v)) {
    pf->plugin_dirs = calloc(1, sizeof *pf->plugin_dirs);
    if (pf->plugin_dirs)
      pf->plugin_dirs[pf->nplugin_dirs++] =
          resolve_path(pf->base_dir, json_string_value(v));
    return;
  }
  if (!json_is_array(v)) {
    diag_add(d, "plugin_path", "expected a directory or an array of them");
    return;
  }
  pf->plugin_dirs = calloc(json_array_size(v) + 1, sizeof *pf->plugin_dirs);
  json_array_foreach(v, i, item)
  {
    if (!json_is_string(item))
      diag_add(d, path_index(sub, sizeof sub, "plugin_path", i),
               "expected a directory");
    else if (pf->plugin_dirs)
      pf->plugin_dirs[pf->nplugin_dirs++] =
          resolve_path(pf->base_dir, json_string_value(item));
  }
}

static void load_connections(json_t *conns, struct diags *d)
{
  const char *name;
  json_t *c;
  char sub[512];

  json_object_foreach(conns, name, c)
  {
    path_key(sub, sizeof sub, "connections", name);
    if (!json_is_object(c)) {
      diag_add(d, sub, "expected an object with a \"type\"");
      continue;
    }
    if (!json_is_string(json_object_get(c, "type")))
      diag_add(d, sub, "missing \"type\" (e.g. \"salesforce\", \"snowflake\")");
    json_t *insecure = json_object_get(c, CONN_INSECURE_KEY);
    if (insecure != NULL && !json_is_boolean(insecure)) {
      char key[512];
      diag_add(d, path_key(key, sizeof key, sub, CONN_INSECURE_KEY),
               "expected true or false");
    }
  }
}

int pipeline_file_load(const char *path, struct pipeline_file *pf,
                       struct diags *d)
{
  json_error_t jerr;
  json_t *root, *v, *pipes, *conns;
  size_t i;

  memset(pf, 0, sizeof *pf);
  pf->path = strdup(path);
  pf->base_dir = absolute_dir_of(path);
  root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL) {
    if (jerr.line <= 0)
      diag_add(d, NULL, "%s", jerr.text);
    else
      diag_add(d, NULL, "line %d, column %d: %s", jerr.line, jerr.column,
               jerr.text);
    return SLUICE_EINVAL;
  }
  pf->root = root;
  if (!json_is_object(root)) {
    diag_add(d, NULL, "expected a JSON object at the top");
    return SLUICE_EINVAL;
  }
  check_keys(root, top_keys, "", d);
  v = json_object_get(root, "version");
  if (v == NULL)
    diag_add(d, NULL, "missing \"version\": %d", PIPELINE_FILE_VERSION);
  else if (!json_is_integer(v) ||
           json_integer_value(v) != PIPELINE_FILE_VERSION)
    diag_add(d, "version", "this sluice reads version %d",
             PIPELINE_FILE_VERSION);
  v = json_object_get(root, "state_dir");
  if (v != NULL && !json_is_string(v))
    diag_add(d, "state_dir", "expected a directory");
  pf->state_dir = resolve_path(
      pf->base_dir, json_is_string(v) ? json_string_value(v) : "state");
  if ((v = json_object_get(root, "plugin_path")) != NULL)
    load_plugin_path(v, pf, d);
  conns = json_object_get(root, "connections");
  if (conns != NULL && !json_is_object(conns)) {
    diag_add(d, "connections", "expected an object of named connections");
    conns = NULL;
  }
  if (conns != NULL)
    load_connections(conns, d);
  if ((v = json_object_get(root, "notify")) != NULL)
    notify_load(v, "notify", pf->base_dir, &pf->notify, d);
  pipes = json_object_get(root, "pipelines");
  if (!json_is_array(pipes) || json_array_size(pipes) == 0) {
    diag_add(d, "pipelines",
             pipes ? "expected a non-empty array" : "missing (nothing to run)");
    return 0;
  }
  pf->n = json_array_size(pipes);
  pf->v = calloc(pf->n, sizeof *pf->v);
  if (pf->v == NULL)
    return SLUICE_ENOMEM;
  json_array_foreach(pipes, i, v)
  {
    load_pipeline(v, i, pf, conns, d);
  }
  return 0;
}

static int want_kind(const struct loaded_plugin *lp, uint32_t kind,
                     const char *path, struct diags *d)
{
  if (lp->desc.kinds & kind)
    return 1;
  diag_add(d, path, "plugin '%s' cannot be a %s", lp->desc.name,
           kind == SLUICE_KIND_SOURCE ? "source" : "destination");
  return 0;
}

static void resolve_endpoint(struct pipeline_file *pf, struct endpoint *ep,
                             uint32_t kind, const struct plugin_set *set,
                             struct diags *d)
{
  const struct loaded_plugin *lp;
  struct cfg_allocs allocs = {0};
  const char *names[128];
  char sub[512];
  void *scratch;

  if (ep->plugin_name == NULL)
    return;
  lp = plugin_set_find(set, ep->plugin_name);
  path_key(sub, sizeof sub, ep->path, "plugin");
  if (lp == NULL) {
    size_t n = 0;
    for (size_t i = 0; i < set->n && n < 128; i++)
      names[n++] = set->v[i].desc.name;
    const char *near = sluice_closest(ep->plugin_name, names, n);
    if (near)
      diag_add(d, sub, "no plugin '%s'; did you mean '%s'?", ep->plugin_name,
               near);
    else
      diag_add(d, sub, "no plugin '%s' (see `sluice plugins`)",
               ep->plugin_name);
    return;
  }
  if (!want_kind(lp, kind, sub, d))
    return;
  ep->plugin = lp;
  /* Validation binds into a scratch ctx, so every check (enum choices,
   * units, secret references) is the same code that runs for real. */
  scratch = calloc(1, lp->desc.ctx_size ? lp->desc.ctx_size : 1);
  struct cfg_bind_args a = {
      .map = lp->desc.config,
      .role = kind == SLUICE_KIND_SOURCE ? SLUICE_CFG_SOURCE
                                         : SLUICE_CFG_DESTINATION,
      .obj = ep->config,
      .path = ep->path,
      .host_keys = endpoint_host_keys,
      .base_dir = pf->base_dir,
      .ctx = scratch,
      .allocs = &allocs,
  };
  cfg_bind(&a, d);
  if (lp->desc.connection_type != NULL) {
    static const char *const conn_host_keys[] = {"type", CONN_INSECURE_KEY,
                                                 NULL};
    const char *type;
    if (ep->connection == NULL) {
      if (ep->connection_name == NULL)
        diag_add(d, ep->path, "plugin '%s' needs a \"connection\" of type '%s'",
                 lp->desc.name, lp->desc.connection_type);
    } else if ((type = json_string_value(
                    json_object_get(ep->connection, "type"))) != NULL &&
               strcmp(type, lp->desc.connection_type) != 0) {
      diag_add(d, path_key(sub, sizeof sub, ep->path, "connection"),
               "connection '%s' is of type '%s'; plugin '%s' needs '%s'",
               ep->connection_name, type, lp->desc.name,
               lp->desc.connection_type);
    } else {
      a.map = lp->desc.connection_config;
      a.obj = ep->connection;
      a.path = ep->connection_path;
      a.host_keys = conn_host_keys;
      cfg_bind(&a, d);
    }
  } else if (ep->connection_name != NULL) {
    diag_add(d, path_key(sub, sizeof sub, ep->path, "connection"),
             "plugin '%s' takes no connection", lp->desc.name);
  }
  cfg_allocs_free(&allocs);
  free(scratch);
}

/* The value a destination's "hard_deletes" key has in the file, or its
 * config map's default; NULL when the plugin has no such key, "" when it
 * is given by reference (known only at run time). */
static const char *hard_deletes_value(const struct endpoint *ep)
{
  const struct sluice_config_entry *e = ep->plugin->desc.config;
  json_t *v = json_object_get(ep->config, "hard_deletes");

  for (; e != NULL && e->key != NULL; e++)
    if (strcmp(e->key, "hard_deletes") == 0)
      break;
  if (e == NULL || e->key == NULL)
    return NULL;
  if (v == NULL)
    return e->default_value ? e->default_value : "";
  return json_is_string(v) ? json_string_value(v) : "";
}

int pipeline_sweep_problem(const struct pipeline *p, int flag, char *msg,
                           size_t msglen)
{
  const struct loaded_plugin *src = p->source.plugin;
  const struct loaded_plugin *dst = p->destination.plugin;
  const char *hd;

  if (src == NULL || dst == NULL)
    return 0; /* already reported */
  if (src->desc.source_keys == NULL) {
    snprintf(msg, msglen,
             "plugin %s cannot list keys (needs ABI 1.2 key sweeps; it has "
             "ABI %u.%u)",
             src->desc.name, src->desc.abi_major, src->desc.abi_minor);
    return SLUICE_ENOTSUP;
  }
  if (dst->desc.sweep_open == NULL) {
    snprintf(msg, msglen,
             "plugin %s cannot compare keys (needs ABI 1.2 key sweeps; it has "
             "ABI %u.%u)",
             dst->desc.name, dst->desc.abi_major, dst->desc.abi_minor);
    return SLUICE_ENOTSUP;
  }
  if (!flag)
    return 0;
  /* Flagging keeps deleted rows, which only a destination that flags
   * deletes does: by convention its config map has "hard_deletes". */
  hd = hard_deletes_value(&p->destination);
  if (hd == NULL) {
    snprintf(msg, msglen,
             "plugin %s keeps no deleted rows flagged (it has no "
             "\"hard_deletes\" setting): a delete sweep needs a destination "
             "with \"hard_deletes\": \"flag\"",
             dst->desc.name);
    return SLUICE_ENOTSUP;
  }
  if (*hd != '\0' && strcmp(hd, "flag") != 0) {
    snprintf(msg, msglen,
             "a delete sweep needs the destination's \"hard_deletes\": "
             "\"flag\" (it is \"%s\": deleted rows are not kept flagged)",
             hd);
    return SLUICE_EINVAL;
  }
  return 0;
}

void pipeline_file_resolve(struct pipeline_file *pf,
                           const struct plugin_set *set, struct diags *d)
{
  char msg[512];

  for (size_t i = 0; i < pf->n; i++) {
    struct pipeline *p = &pf->v[i];
    resolve_endpoint(pf, &p->source, SLUICE_KIND_SOURCE, set, d);
    resolve_endpoint(pf, &p->destination, SLUICE_KIND_DESTINATION, set, d);
    if (p->reconcile_deletes.kind != SCHEDULE_NONE &&
        pipeline_sweep_problem(p, 1, msg, sizeof msg) < 0)
      diag_add(d, p->reconcile_deletes_path, "%s", msg);
  }
}

struct pipeline *pipeline_file_find(struct pipeline_file *pf, const char *name)
{
  for (size_t i = 0; i < pf->n; i++)
    if (pf->v[i].name != NULL && strcmp(pf->v[i].name, name) == 0)
      return &pf->v[i];
  return NULL;
}

static void endpoint_free(struct endpoint *ep)
{
  free(ep->path);
  free(ep->connection_path);
}

void pipeline_file_free(struct pipeline_file *pf)
{
  for (size_t i = 0; i < pf->n; i++) {
    free(pf->v[i].name);
    free(pf->v[i].mapping_path);
    free(pf->v[i].reconcile_deletes_path);
    endpoint_free(&pf->v[i].source);
    endpoint_free(&pf->v[i].destination);
    notify_free(&pf->v[i].notify);
  }
  notify_free(&pf->notify);
  for (size_t i = 0; i < pf->nplugin_dirs; i++)
    free(pf->plugin_dirs[i]);
  free(pf->plugin_dirs);
  free(pf->v);
  free(pf->path);
  free(pf->base_dir);
  free(pf->state_dir);
  json_decref(pf->root);
  memset(pf, 0, sizeof *pf);
}
