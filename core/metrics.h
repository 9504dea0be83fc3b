/* core/metrics.h - Prometheus metrics (`sluice run --metrics ADDR:PORT`).
 * A process-wide registry, fed from the loop thread. */
#ifndef SLUICE_CORE_METRICS_H
#define SLUICE_CORE_METRICS_H

#include <stddef.h>

#include <uv.h>

#include "runlog.h"
#include "sluice/buf.h"
#include "sluice/error.h"

struct http_engine;

void metrics_run_started(const char *pipeline);
void metrics_in_flight(const char *pipeline, size_t batches);
void metrics_run_done(const struct run_record *r);
/* The registry as Prometheus text. */
void metrics_text(struct sluice_buf *out);
/* Serves GET /metrics on addr ("127.0.0.1:9464", "[::1]:9464") on the
 * loop; e gives the HTTP retries and the API budgets. */
int metrics_serve(uv_loop_t *loop, const char *addr, struct http_engine *e,
                  struct sluice_error *err);
/* Stops serving and forgets everything (before the loop's last run). */
void metrics_close(void);

#endif
