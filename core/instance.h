/* core/instance.h - one configured use of a plugin in one run, and the
 * host services table (struct sluice_host) the plugin reaches it through. */
#ifndef SLUICE_CORE_INSTANCE_H
#define SLUICE_CORE_INSTANCE_H

#include <jansson.h>
#include <uv.h>

#include "cfgbind.h"
#include "loader.h"
#include "sluice/host.h"

struct run;

struct sluice_instance {
  struct run *run;
  const struct loaded_plugin *plugin;
  const struct sluice_plugin *desc; /* &plugin->desc */
  uint32_t role;                    /* SLUICE_KIND_SOURCE or _DESTINATION */
  void *ctx;
  struct cfg_allocs allocs;
  char *name;        /* "pipeline/source" */
  char *log_context; /* "pipeline/source csv-file" */
  int inited;
  unsigned pending;            /* work items and HTTP calls not yet released */
  struct sluice_timer *timers; /* still open: closed by the host at the end */
  uint64_t counters[5];        /* enum sluice_counter */
  json_t *state;               /* the key-value state, loaded on first use */
  char *state_path;
  uint64_t http_retries;        /* attempts its HTTP calls sent again */
  int insecure_skip_tls_verify; /* its connection's TLS escape hatch */
};

extern const struct sluice_host host_table;

/* Binds config and calls the plugin's init.  0, or a negative code. */
int instance_init(struct sluice_instance *ins, struct run *run,
                  const struct loaded_plugin *lp, uint32_t role,
                  const char *pipeline, json_t *config, const char *path,
                  json_t *connection, const char *connection_path,
                  const char *base_dir, const char *state_dir,
                  struct sluice_error *err);
/* Calls fini (when init succeeded) and frees everything. */
void instance_destroy(struct sluice_instance *ins);

/* Hooks the run implements (run.c). */
uv_loop_t *run_loop(struct run *r);
struct http_engine *run_http(struct run *r);
const char *run_id_of(struct run *r);
/* Keeps a warning (secrets already masked) for the run record. */
void run_add_warning(struct run *r, const char *text);
const char *run_base_dir(struct run *r);
int run_is_stopping(struct run *r);
void run_batch_limits(struct run *r, size_t *rows, size_t *bytes);
int run_emit(struct run *r, struct sluice_batch *b, struct sluice_error *err);
void run_source_done(struct run *r, int status, const struct sluice_error *err);
void run_instance_idle(struct run *r); /* an instance's pending reached 0 */

#endif
