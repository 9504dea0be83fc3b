/* core/main.c - the sluice command line. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "config.h"
#include "cfgbind.h"
#include "loader.h"
#include "log.h"
#include "pipeline.h"
#include "runlog.h"
#include "status.h"
#include "scheduler.h"

#ifndef SLUICE_PLUGIN_DIR
#define SLUICE_PLUGIN_DIR "/usr/local/lib/sluice/plugins"
#endif

enum exit_code {
  EXIT_OK = 0,
  EXIT_RUN_FAILED = 1,
  EXIT_USAGE = 2,
  EXIT_REJECTED = 3
};

struct options {
  int once;
  int json;
  size_t ids;       /* reconcile --ids N */
  int flag_deletes; /* reconcile --flag-deletes */
  const char *pipeline;
  const char *state_dir;
  const char *metrics;
  const char *plugin_dirs[16];
  size_t nplugin_dirs;
};

static void usage(FILE *out)
{
  fputs(
      "Usage: sluice [OPTIONS] COMMAND [ARGS]\n"
      "\n"
      "Commands:\n"
      "  validate FILE            check a pipeline file; every mistake, with "
      "its JSON path\n"
      "  check FILE [--pipeline NAME]\n"
      "                           connect and authenticate every plugin "
      "(\"Save & Test\")\n"
      "  reconcile FILE [--pipeline NAME] [--ids N | --flag-deletes]\n"
      "                           count the source's records and the "
      "destination's live rows;\n"
      "                           --ids N lists up to N keys found on one "
      "side only;\n"
      "                           --flag-deletes flags the rows whose key "
      "the source\n"
      "                           no longer has (a delete sweep)\n"
      "  run FILE [--once] [--pipeline NAME]\n"
      "                           run pipelines on their schedules (or once)\n"
      "  status [FILE] [--json]   each pipeline's last run, checkpoint and "
      "next run\n"
      "  plugins [--json]         the plugins found, their versions and ABI\n"
      "  describe PLUGIN [--json] a plugin's configuration keys\n"
      "\n"
      "Options:\n"
      "  --plugin-dir DIR         look for plugins in DIR first (repeatable)\n"
      "  --metrics ADDR:PORT      (run) serve Prometheus metrics on "
      "http://ADDR:PORT/metrics\n"
      "  --state-dir DIR          (status) where runs.jsonl is\n"
      "  -v, --verbose            debug logging\n"
      "  -q, --quiet              errors only\n"
      "      --log-format FMT     text (default) or json\n"
      "  -h, --help               this help\n"
      "  -V, --version            the version\n"
      "\n"
      "Plugins are looked for in --plugin-dir, the pipeline file's "
      "\"plugin_path\",\n$SLUICE_PLUGIN_PATH (colon-separated, absolute "
      "paths), then " SLUICE_PLUGIN_DIR ".\n"
      "Exit codes: 0 success, 1 a run failed, 2 usage or configuration "
      "error,\n3 finished with rejected records.\n",
      out);
}

/* The search order: command line, pipeline file, environment, built in. */
static void load_plugins(struct plugin_set *set, const struct options *o,
                         const struct pipeline_file *pf)
{
  const char *dirs[64];
  size_t n = 0;
  char *env = getenv("SLUICE_PLUGIN_PATH")
                  ? strdup(getenv("SLUICE_PLUGIN_PATH"))
                  : NULL;

  for (size_t i = 0; i < o->nplugin_dirs && n < 64; i++)
    dirs[n++] = o->plugin_dirs[i];
  for (size_t i = 0; pf != NULL && i < pf->nplugin_dirs && n < 64; i++)
    dirs[n++] = pf->plugin_dirs[i];
  for (char *tok = env ? strtok(env, ":") : NULL; tok && n < 63;
       tok = strtok(NULL, ":"))
    dirs[n++] = tok;
  dirs[n++] = SLUICE_PLUGIN_DIR;
  loader_load_dirs(set, dirs, n);
  for (size_t i = 0; i < set->nrefused; i++)
    log_warn("%s", set->refused[i]);
  free(env);
}

/* Loads and checks a pipeline file and its plugins; 0 or EXIT_USAGE. */
static int open_pipeline_file(const char *path, const struct options *o,
                              struct pipeline_file *pf, struct plugin_set *set)
{
  struct diags d = {.file = path};

  if (pipeline_file_load(path, pf, &d) == 0) {
    load_plugins(set, o, pf);
    pipeline_file_resolve(pf, set, &d);
  }
  if (o->pipeline != NULL && pf->v != NULL &&
      pipeline_file_find(pf, o->pipeline) == NULL)
    diag_add(&d, "pipelines", "no pipeline named '%s'", o->pipeline);
  if (d.n > 0) {
    diag_print(&d, stderr);
    fprintf(stderr, "%s: %zu error%s\n", path, d.n, d.n == 1 ? "" : "s");
    diag_free(&d);
    return EXIT_USAGE;
  }
  return 0;
}

static int cmd_validate(const char *path, const struct options *o)
{
  struct pipeline_file pf;
  struct plugin_set set = {0};
  int rc = open_pipeline_file(path, o, &pf, &set);

  if (rc == 0)
    printf("%s: OK (%zu pipeline%s)\n", path, pf.n, pf.n == 1 ? "" : "s");
  pipeline_file_free(&pf);
  plugin_set_free(&set);
  return rc;
}

static int cmd_run(const char *path, const struct options *o)
{
  struct pipeline_file pf;
  struct plugin_set set = {0};
  int rc = open_pipeline_file(path, o, &pf, &set);

  if (rc == 0)
    rc = scheduler_main(&pf, o->pipeline, o->once, o->metrics);
  pipeline_file_free(&pf);
  plugin_set_free(&set);
  return rc;
}

static int cmd_check(const char *path, const struct options *o)
{
  struct pipeline_file pf;
  struct plugin_set set = {0};
  int rc = open_pipeline_file(path, o, &pf, &set);

  if (rc == 0)
    rc = scheduler_check(&pf, o->pipeline);
  pipeline_file_free(&pf);
  plugin_set_free(&set);
  return rc;
}

static int cmd_reconcile(const char *path, const struct options *o)
{
  struct pipeline_file pf;
  struct plugin_set set = {0};
  int rc = open_pipeline_file(path, o, &pf, &set);

  if (rc == 0 && o->flag_deletes && o->pipeline == NULL) {
    size_t n = 0;
    for (size_t i = 0; i < pf.n; i++)
      n += pf.v[i].enabled && pf.v[i].reconcile_deletes.kind != SCHEDULE_NONE;
    if (n == 0) {
      fprintf(stderr,
              "sluice: %s: no pipeline has \"reconcile_deletes\": "
              "name the one to sweep with --pipeline\n",
              path);
      rc = EXIT_USAGE;
    }
  }
  if (rc == 0)
    rc = scheduler_reconcile(&pf, o->pipeline, o->ids, o->flag_deletes);
  pipeline_file_free(&pf);
  plugin_set_free(&set);
  return rc;
}

static const char *kinds_label(uint32_t kinds)
{
  if ((kinds & SLUICE_KIND_SOURCE) && (kinds & SLUICE_KIND_DESTINATION))
    return "source,destination";
  return (kinds & SLUICE_KIND_SOURCE) ? "source" : "destination";
}

static int cmd_plugins(const struct options *o)
{
  struct plugin_set set = {0};
  json_t *arr = json_array();

  load_plugins(&set, o, NULL);
  if (!o->json)
    printf("%-20s %-9s %-19s %-5s %s\n", "NAME", "VERSION", "KINDS", "ABI",
           "FILE");
  for (size_t i = 0; i < set.n; i++) {
    const struct sluice_plugin *p = &set.v[i].desc;
    char abi[16];
    snprintf(abi, sizeof abi, "%u.%u", p->abi_major, p->abi_minor);
    if (o->json)
      json_array_append_new(
          arr,
          json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", p->name,
                    "version", p->version ? p->version : "", "description",
                    p->description ? p->description : "", "kinds",
                    kinds_label(p->kinds), "abi", abi, "file", set.v[i].path));
    else
      printf("%-20s %-9s %-19s %-5s %s\n", p->name,
             p->version ? p->version : "-", kinds_label(p->kinds), abi,
             set.v[i].path);
  }
  if (o->json)
    json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER),
        putchar('\n');
  json_decref(arr);
  plugin_set_free(&set);
  return 0;
}

static const char *role_label(uint32_t flags)
{
  if (flags & SLUICE_CFG_SOURCE)
    return "source";
  if (flags & SLUICE_CFG_DESTINATION)
    return "destination";
  return "both";
}

static void describe_map(const struct sluice_config_entry *map,
                         const char *section, json_t *arr, int as_json)
{
  for (; map != NULL && map->key != NULL; map++) {
    const char *def = map->default_value ? map->default_value : "-";
    if (as_json) {
      json_t *e =
          json_pack("{s:s, s:s, s:s, s:b, s:b, s:s, s:s}", "key", map->key,
                    "section", section, "type", cfg_type_label(map->type),
                    "required", (map->flags & SLUICE_CFG_REQUIRED) != 0,
                    "secret", (map->flags & SLUICE_CFG_SECRET) != 0, "role",
                    role_label(map->flags), "help", map->help ? map->help : "");
      if (map->default_value)
        json_object_set_new(e, "default", json_string(map->default_value));
      if (map->choices)
        json_object_set_new(e, "choices", json_string(map->choices));
      json_array_append_new(arr, e);
      continue;
    }
    printf("  %-20s %-10s %-12s %-8s %-6s %-11s %s%s%s%s\n", map->key,
           cfg_type_label(map->type), *def ? def : "\"\"",
           (map->flags & SLUICE_CFG_REQUIRED) ? "yes" : "no",
           (map->flags & SLUICE_CFG_SECRET) ? "yes" : "no",
           role_label(map->flags), map->help ? map->help : "",
           map->choices ? " (" : "", map->choices ? map->choices : "",
           map->choices ? ")" : "");
  }
}

static int cmd_describe(const char *name, const struct options *o)
{
  struct plugin_set set = {0};
  const struct loaded_plugin *lp;

  load_plugins(&set, o, NULL);
  lp = plugin_set_find(&set, name);
  if (lp == NULL) {
    fprintf(stderr, "sluice: no plugin '%s' (see `sluice plugins`)\n", name);
    plugin_set_free(&set);
    return EXIT_USAGE;
  }
  const struct sluice_plugin *p = &lp->desc;
  if (o->json) {
    json_t *keys = json_array();
    describe_map(p->config, "plugin", keys, 1);
    describe_map(p->connection_config, "connection", keys, 1);
    json_t *root =
        json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", p->name, "version",
                  p->version ? p->version : "", "description",
                  p->description ? p->description : "", "kinds",
                  kinds_label(p->kinds), "config", keys);
    if (p->connection_type)
      json_object_set_new(root, "connection_type",
                          json_string(p->connection_type));
    json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    putchar('\n');
    json_decref(root);
  } else {
    printf("%s %s: %s\nkinds: %s   ABI %u.%u   file: %s\n\n", p->name,
           p->version ? p->version : "", p->description ? p->description : "",
           kinds_label(p->kinds), p->abi_major, p->abi_minor, lp->path);
    printf("  %-20s %-10s %-12s %-8s %-6s %-11s %s\n", "KEY", "TYPE", "DEFAULT",
           "REQUIRED", "SECRET", "ROLE", "HELP");
    describe_map(p->config, "plugin", NULL, 0);
    if (p->connection_config != NULL) {
      printf("\nconnection (type \"%s\"):\n", p->connection_type);
      describe_map(p->connection_config, "connection", NULL, 0);
    }
  }
  plugin_set_free(&set);
  return 0;
}

static int cmd_status(const char *file, const struct options *o)
{
  struct pipeline_file pf = {0};
  struct diags d = {.file = file};
  struct run_record *recs = NULL;
  struct sluice_error err = {0};
  const char *dir = o->state_dir;
  struct runlog_skipped bad = {0};
  size_t n = 0;
  int rc = 0;

  if (dir == NULL && file != NULL) {
    if (pipeline_file_load(file, &pf, &d) < 0) {
      diag_print(&d, stderr);
      diag_free(&d);
      return EXIT_USAGE;
    }
    dir = pf.state_dir;
  }
  if (dir == NULL)
    dir = getenv("SLUICE_STATE_DIR") ? getenv("SLUICE_STATE_DIR") : "state";
  if (runlog_load_last(dir, &recs, &n, &bad, &err) < 0) {
    fprintf(stderr, "sluice: %s\n", err.message);
    rc = EXIT_RUN_FAILED;
  } else {
    if (bad.count > 0)
      fprintf(stderr,
              "sluice: %s/runs.jsonl:%zu: not a run record (skipped; "
              "%zu such line%s)\n",
              dir, bad.first_line, bad.count, bad.count == 1 ? "" : "s");
    if (file != NULL && o->state_dir == NULL)
      status_print(stdout, &pf, recs, n, o->json);
    else if (o->json)
      runlog_print_json(stdout, recs, n);
    else if (n == 0)
      printf("no runs recorded in %s/runs.jsonl\n", dir);
    else
      runlog_print_table(stdout, recs, n);
  }
  runlog_free_records(recs, n);
  diag_free(&d);
  pipeline_file_free(&pf);
  return rc;
}

/* One option; returns -1 for a bad one.  Shared by the options before the
 * command and those after it ("sluice run f.json --once"). */
static int take_option(int c, struct options *o, enum sluice_log_level *level,
                       enum log_format *format)
{
  switch (c) {
  case 'o': o->once = 1; return 0;
  case 'I': {
    char *end;
    long v = strtol(optarg, &end, 10);
    if (*optarg == '\0' || *end != '\0' || v < 1 || v > 10000) {
      fprintf(stderr, "sluice: --ids takes a number from 1 to 10000\n");
      return -1;
    }
    o->ids = (size_t)v;
    return 0;
  }
  case 'F': o->flag_deletes = 1; return 0;
  case 'M': o->metrics = optarg; return 0;
  case 'p': o->pipeline = optarg; return 0;
  case 'j': o->json = 1; return 0;
  case 'S': o->state_dir = optarg; return 0;
  case 'P':
    if (o->nplugin_dirs == sizeof o->plugin_dirs / sizeof o->plugin_dirs[0]) {
      fprintf(stderr, "sluice: too many --plugin-dir\n");
      return -1;
    }
    o->plugin_dirs[o->nplugin_dirs++] = optarg;
    return 0;
  case 'v': *level = SLUICE_LOG_DEBUG; return 0;
  case 'q': *level = SLUICE_LOG_ERROR; return 0;
  case 'L':
    if (strcmp(optarg, "json") == 0)
      *format = LOG_FORMAT_JSON;
    else if (strcmp(optarg, "text") == 0)
      *format = LOG_FORMAT_TEXT;
    else {
      fprintf(stderr, "sluice: --log-format is text or json\n");
      return -1;
    }
    return 0;
  default: return -1;
  }
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"once", no_argument, NULL, 'o'},
      {"ids", required_argument, NULL, 'I'},
      {"flag-deletes", no_argument, NULL, 'F'},
      {"metrics", required_argument, NULL, 'M'},
      {"pipeline", required_argument, NULL, 'p'},
      {"json", no_argument, NULL, 'j'},
      {"plugin-dir", required_argument, NULL, 'P'},
      {"state-dir", required_argument, NULL, 'S'},
      {"verbose", no_argument, NULL, 'v'},
      {"quiet", no_argument, NULL, 'q'},
      {"log-format", required_argument, NULL, 'L'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  struct options o;
  enum sluice_log_level level = SLUICE_LOG_INFO;
  enum log_format format = LOG_FORMAT_TEXT;
  const char *cmd, *arg;
  int c, rc;

  memset(&o, 0, sizeof o);
#ifdef M_ARENA_MAX
  /* Batches are built on pool threads and freed on others: per-thread
   * malloc arenas then hold freed memory apart and RSS creeps up. */
  mallopt(M_ARENA_MAX, 2);
#endif
  /* "+": stop at the command; its own options are read after it. */
  while ((c = getopt_long(argc, argv, "+vqhV", longopts, NULL)) != -1) {
    if (c == 'h') {
      usage(stdout);
      return EXIT_OK;
    }
    if (c == 'V') {
      printf("sluice %s (plugin ABI %d.%d)\n", PACKAGE_VERSION,
             SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR);
      return EXIT_OK;
    }
    if (take_option(c, &o, &level, &format) < 0) {
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  /* The command's own options: a second scan over argv from the command
   * on (optind = 0 makes getopt start afresh, permuting as usual). */
  cmd = argv[optind];
  argc -= optind;
  argv += optind;
  optind = 0;
  while ((c = getopt_long(argc, argv, "vq", longopts, NULL)) != -1)
    if (take_option(c, &o, &level, &format) < 0) {
      usage(stderr);
      return EXIT_USAGE;
    }
  if (o.ids > 0 && o.flag_deletes) {
    fprintf(stderr, "sluice: --ids and --flag-deletes: one at a time\n");
    return EXIT_USAGE;
  }
  if ((o.ids > 0 || o.flag_deletes) && strcmp(cmd, "reconcile") != 0) {
    fprintf(stderr, "sluice: --ids and --flag-deletes are options of "
                    "reconcile\n");
    return EXIT_USAGE;
  }
  log_setup(level, format);
  arg = optind < argc ? argv[optind] : NULL;
  if (optind + 1 < argc) {
    fprintf(stderr, "sluice: unexpected argument '%s'\n", argv[optind + 1]);
    return EXIT_USAGE;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (strcmp(cmd, "validate") == 0 && arg)
    rc = cmd_validate(arg, &o);
  else if (strcmp(cmd, "run") == 0 && arg)
    rc = cmd_run(arg, &o);
  else if (strcmp(cmd, "check") == 0 && arg)
    rc = cmd_check(arg, &o);
  else if (strcmp(cmd, "reconcile") == 0 && arg)
    rc = cmd_reconcile(arg, &o);
  else if (strcmp(cmd, "plugins") == 0 && !arg)
    rc = cmd_plugins(&o);
  else if (strcmp(cmd, "describe") == 0 && arg)
    rc = cmd_describe(arg, &o);
  else if (strcmp(cmd, "status") == 0)
    rc = cmd_status(arg, &o);
  else {
    fprintf(stderr, "sluice: unknown command or missing argument: %s\n", cmd);
    usage(stderr);
    rc = EXIT_USAGE;
  }
  curl_global_cleanup();
  log_free_secrets();
  return rc;
}
