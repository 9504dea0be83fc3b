/* core/pipeline.h - the pipeline file: read, checked, and resolved against
 * the loaded plugins.  Every mistake becomes one diagnostic with its JSON
 * path; nothing runs until there are none. */
#ifndef SLUICE_CORE_PIPELINE_H
#define SLUICE_CORE_PIPELINE_H

#include <jansson.h>

#include "notify.h"

#include "diag.h"
#include "loader.h"
#include "schedule.h"

#define PIPELINE_FILE_VERSION 1

/* A host key of every connection (beside "type"): TLS verification off
 * for that connection's requests only.  Boolean, default false. */
#define CONN_INSECURE_KEY "insecure_skip_tls_verify"

struct endpoint {
  char *path;                         /* "pipelines[0].source" */
  const char *plugin_name;            /* borrowed from the JSON tree */
  const struct loaded_plugin *plugin; /* set by pipeline_file_resolve */
  json_t *config;                     /* borrowed */
  const char *connection_name;        /* NULL when none */
  json_t *connection;                 /* borrowed; NULL when none */
  char *connection_path;              /* "connections.sf" */
};

struct pipeline {
  char *name;
  size_t index;
  int enabled;
  struct schedule schedule;
  struct endpoint source;
  struct endpoint destination;
  json_t *mapping; /* borrowed; NULL when none */
  char *mapping_path;
  size_t batch_rows;
  size_t batch_bytes;
  size_t max_in_flight;
  /* Commit (and save the checkpoint) after this many batches written,
   * not only at the end of the run; 0: at the end only.  Ignored for a
   * SLUICE_PLUGIN_COMMIT_ONCE destination. */
  size_t commit_every;
  struct notify notify; /* url NULL: the file's */
  /* "reconcile_deletes": when the daemon runs a delete sweep (a key sweep
   * that flags the rows whose key the source no longer has); kind
   * SCHEDULE_NONE when not set. */
  struct schedule reconcile_deletes;
  char *reconcile_deletes_path; /* "pipelines[0].reconcile_deletes" */
};

struct pipeline_file {
  char *path;         /* as given */
  char *base_dir;     /* absolute directory of the file */
  char *state_dir;    /* absolute */
  char **plugin_dirs; /* absolute, from "plugin_path" */
  size_t nplugin_dirs;
  json_t *root;
  struct pipeline *v;
  size_t n;
  struct notify notify; /* every pipeline's, unless it has its own */
};

/* Reads and checks everything that needs no plugin.  Returns 0 when the
 * file could be read as JSON (diagnostics may still have been added), or
 * a negative code when not even that. */
int pipeline_file_load(const char *path, struct pipeline_file *pf,
                       struct diags *d);
/* Finds each endpoint's plugin and checks its config (and connection)
 * against the plugin's config map. */
void pipeline_file_resolve(struct pipeline_file *pf,
                           const struct plugin_set *set, struct diags *d);
/* Why pipeline p cannot run a key sweep (flag: one that flags deletes),
 * into msg (a sentence naming the plugin), or 0 when it can.  Checked by
 * validation for reconcile_deletes, and before every sweep. */
int pipeline_sweep_problem(const struct pipeline *p, int flag, char *msg,
                           size_t msglen);
struct pipeline *pipeline_file_find(struct pipeline_file *pf, const char *name);
void pipeline_file_free(struct pipeline_file *pf);

/* The keys of a source/destination object the host reads itself. */
extern const char *const endpoint_host_keys[];

#endif
