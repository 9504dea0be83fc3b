/* examples/plugin-template/sequence.c - a complete source plugin, built out
 * of tree with `pkg-config sluice-sdk` alone (see the Makefile beside it).
 *
 * It emits the integers from `start` to `end` in batches, one batch per
 * loop turn (a timer of 0 ms), honours pause/resume/stop, and checkpoints
 * the next number so a rerun continues where the last one committed.
 * Copy it, rename it, and replace the counting with your own reading. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <sluice/batch.h>
#include <sluice/host.h>
#include <sluice/plugin.h>

struct seq_ctx {
  /* config, bound by the host from the map below */
  int64_t start;
  int64_t end;
  /* state */
  const struct sluice_host *host;
  struct sluice_instance *ins;
  struct sluice_schema *schema;
  struct sluice_timer *timer;
  size_t max_rows, max_bytes;
  int64_t next;
  int paused, done;
};

static const struct sluice_config_entry seq_config[] = {
    {"start", SLUICE_CFG_INT, 0, "1", NULL, offsetof(struct seq_ctx, start),
     "the first number"},
    {"end", SLUICE_CFG_INT, SLUICE_CFG_REQUIRED, NULL, NULL,
     offsetof(struct seq_ctx, end), "the last number"},
    {NULL, 0, 0, NULL, NULL, 0, NULL}};

static int seq_init(struct sluice_instance *ins, const struct sluice_host *host,
                    void *ctx, struct sluice_error *err)
{
  struct seq_ctx *c = ctx;

  c->host = host;
  c->ins = ins;
  if (c->end < c->start)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "end is before start");
  c->schema = sluice_schema_new(1);
  if (c->schema == NULL ||
      sluice_schema_set(c->schema, 0, "n", SLUICE_TYPE_INT64) < 0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  return 0;
}

static void seq_fini(struct sluice_instance *ins, void *ctx)
{
  struct seq_ctx *c = ctx;

  (void)ins;
  c->host->timer_stop(c->timer);
  sluice_schema_unref(c->schema);
}

static void seq_finish(struct seq_ctx *c)
{
  if (c->done)
    return;
  c->done = 1;
  c->host->timer_stop(c->timer);
  c->timer = NULL;
  c->host->source_done(c->ins, 0, NULL);
}

/* One batch per timer tick, so the loop stays responsive. */
static void seq_tick(void *arg)
{
  struct seq_ctx *c = arg;
  struct sluice_batch *b;
  struct sluice_error err = {0};
  char cp[32];
  size_t row;

  if (c->paused || c->done)
    return;
  if (c->next > c->end || c->host->stopping(c->ins)) {
    seq_finish(c);
    return;
  }
  b = sluice_batch_new(c->schema, c->max_rows, c->max_bytes);
  if (b == NULL)
    return;
  sluice_batch_set_first_record(b, (uint64_t)(c->next - c->start + 1));
  while (c->next <= c->end && !sluice_batch_full(b)) {
    sluice_batch_add_row(b, SLUICE_OP_UPSERT, &row);
    sluice_batch_set_int64(b, row, 0, c->next++);
  }
  snprintf(cp, sizeof cp, "%lld", (long long)c->next);
  sluice_batch_set_checkpoint(b, cp);
  if (c->host->emit(c->ins, b, &err) < 0)
    seq_finish(c);
}

static int seq_start(struct sluice_instance *ins, void *ctx,
                     const char *checkpoint, struct sluice_error *err)
{
  struct seq_ctx *c = ctx;

  (void)ins;
  c->next = checkpoint ? strtoll(checkpoint, NULL, 10) : c->start;
  c->host->batch_limits(c->ins, &c->max_rows, &c->max_bytes);
  c->timer = c->host->timer_start(c->ins, 0, 1, seq_tick, c);
  if (c->timer == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  return 0;
}

static void seq_pause(struct sluice_instance *ins, void *ctx)
{
  (void)ins;
  ((struct seq_ctx *)ctx)->paused = 1;
}

static void seq_resume(struct sluice_instance *ins, void *ctx)
{
  (void)ins;
  ((struct seq_ctx *)ctx)->paused = 0;
}

static void seq_stop(struct sluice_instance *ins, void *ctx)
{
  (void)ins;
  seq_finish(ctx);
}

static const struct sluice_plugin seq_plugin = {
    SLUICE_PLUGIN_HEADER(SLUICE_KIND_SOURCE),
    .name = "sequence",
    .version = "1.0.0",
    .description = "the integers from start to end (a plugin template)",
    .config = seq_config,
    .ctx_size = sizeof(struct seq_ctx),
    .init = seq_init,
    .fini = seq_fini,
    .source_start = seq_start,
    .source_pause = seq_pause,
    .source_resume = seq_resume,
    .source_stop = seq_stop,
};

SLUICE_PLUGIN_DEFINE(seq_plugin)
