/* core/notify.h - run notifications: a webhook POSTed the run record.
 *
 *   "notify": { "webhook": "https://hooks.example/sluice",
 *               "on": ["failure", "rejected"],
 *               "headers": { "Authorization": { "env": "HOOK_TOKEN" } } }
 *
 * at the top of the pipeline file (every pipeline) or in a pipeline (it
 * replaces the top one).  Header values may be secret references; they
 * are masked in every output like configured secrets. */
#ifndef SLUICE_CORE_NOTIFY_H
#define SLUICE_CORE_NOTIFY_H

#include <jansson.h>

#include "runlog.h"

struct diags;
struct http_engine;

struct notify {
  char *url;
  unsigned on; /* 1 << enum run_status */
  char **names, **values;
  size_t nheaders;
};

/* Reads a "notify" object at JSON path `path` into *n (zeroed first);
 * problems become diagnostics.  base_dir resolves {"file"} references. */
void notify_load(json_t *v, const char *path, const char *base_dir,
                 struct notify *n, struct diags *d);
void notify_free(struct notify *n);

/* POSTs the run record as JSON when n asks for its status; retried with
 * backoff; failures are logged, never fatal.  Nothing to wait for: the
 * request holds the loop until it ends. */
void notify_send(struct http_engine *e, const struct notify *n,
                 const struct run_record *rec);

#endif
