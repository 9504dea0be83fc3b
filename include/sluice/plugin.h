/* sluice/plugin.h - the plugin ABI: the descriptor a plugin exports.
 *
 * A plugin is a shared object that exports exactly one symbol, a function
 * named after the ABI major it was built for:
 *
 *     const struct sluice_plugin *sluice_plugin_v1(void);
 *
 * It is a function, not data, because dlsym is only promised to work on
 * functions.  Write it with SLUICE_PLUGIN_DEFINE (below) and link with
 *     -module -avoid-version -export-symbols-regex '^sluice_plugin_v1$'
 *
 * The host checks the descriptor in this order and refuses the plugin, in
 * one line naming the file, at the first mismatch: magic; abi_major equal to
 * the host's; struct_size at least the 1.0 size; abi_minor not newer than the
 * host's (a newer plugin may use host services this host lacks); the
 * callbacks its kinds require; its config map.  It then copies
 * min(struct_size, sizeof(struct sluice_plugin)) bytes into a zeroed
 * descriptor, so an older plugin runs in a newer host with the fields it
 * does not know set to zero.
 *
 * ABI rules: within a major, fields are only appended, each marked with the
 * minor that added it, and SLUICE_ABI_MINOR is bumped; removing, reordering
 * or retyping anything bumps SLUICE_ABI_MAJOR (and the entry symbol's name).
 *
 * ABI history (append a line for every bump):
 *   1.0  first release.
 *   1.1  count (`sluice reconcile`).
 *   1.2  key sweeps: source_keys, sweep_keys, sweep_open, sweep_write,
 *        sweep_finish (`sluice reconcile --ids`, reconcile_deletes);
 *        the SLUICE_PLUGIN_STREAMING flag; host->http_header_at.
 *
 * Calling conventions, stated once for every callback below:
 *   - Every callback runs on the loop thread and must not block: file and
 *     CPU-heavy work goes through host->work_submit, network through the
 *     host's HTTP service.
 *   - A callback that takes (done, arg) follows libuv's rule: when it returns
 *     0, it calls done(arg, status, err) exactly once, later (never before
 *     it has returned); when it returns a negative SLUICE_E* code it has
 *     filled err and never calls done.
 *   - Pointers the host passes are borrowed for the duration of the call,
 *     except where stated.  Config values bound into ctx live until fini.
 */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/batch.h"
#include "sluice/error.h"
#include "sluice/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_PLUGIN_MAGIC 0x534c4350u /* "SLCP" */
#define SLUICE_ABI_MAJOR 1
#define SLUICE_ABI_MINOR 2

#define SLUICE_STRINGIFY_(x) #x
#define SLUICE_STRINGIFY(x) SLUICE_STRINGIFY_(x)
#define SLUICE_ENTRY_NAME_(major) sluice_plugin_v##major
#define SLUICE_ENTRY_NAME(major) SLUICE_ENTRY_NAME_(major)
/* The entry symbol for this header's major: "sluice_plugin_v1". */
#define SLUICE_ENTRY_SYMBOL                                                    \
  SLUICE_STRINGIFY(SLUICE_ENTRY_NAME(SLUICE_ABI_MAJOR))

struct sluice_instance; /* one configured use of a plugin; host-owned */
struct sluice_host;     /* the services table (sluice/host.h) */

enum sluice_kind {
  SLUICE_KIND_SOURCE = 1u << 0,
  SLUICE_KIND_DESTINATION = 1u << 1
};

/* --- the config map ----------------------------------------------------
 * A plugin declares its keys; the host validates the pipeline file against
 * them before anything runs (unknown keys, types, required keys, choices)
 * and writes each parsed value into the plugin's ctx at `offset`, as the
 * C type given here.  Absent optional keys get `default_value` parsed the
 * same way, or zero/NULL when it is NULL. */
enum sluice_cfg_type {
  SLUICE_CFG_STRING = 1, /* const char *                                  */
  SLUICE_CFG_INT,        /* int64_t                                       */
  SLUICE_CFG_BOOL,       /* int (0 or 1)                                  */
  SLUICE_CFG_DOUBLE,     /* double                                        */
  SLUICE_CFG_DURATION,   /* int64_t milliseconds, from "500ms" "30s" "15m" "2h"
                            "1d" "1w" */
  SLUICE_CFG_SIZE, /* int64_t bytes, from 1048576, "64k", "8M", "1G" (powers of
                      1024) */
  SLUICE_CFG_ENUM, /* const char *, one of `choices` ("a|b|c")       */
  SLUICE_CFG_STRLIST, /* struct sluice_strlist                         */
  SLUICE_CFG_JSON     /* const char *: the value as compact JSON text  */
};

enum sluice_cfg_flag {
  SLUICE_CFG_REQUIRED = 1u << 0,   /* absent is an error */
  SLUICE_CFG_SECRET = 1u << 1,     /* never printed; shown as "***" */
  SLUICE_CFG_SOURCE = 1u << 2,     /* only when used as a source */
  SLUICE_CFG_DESTINATION = 1u << 3 /* only as a destination (neither: both) */
};

struct sluice_strlist {
  size_t n;
  const char *const *v;
};

struct sluice_config_entry {
  const char *key;           /* [a-z0-9_]+; NULL ends the map */
  uint32_t type;             /* enum sluice_cfg_type */
  uint32_t flags;            /* enum sluice_cfg_flag, or'ed */
  const char *default_value; /* as the user would write it, or NULL */
  const char *choices;       /* SLUICE_CFG_ENUM: "append|merge|replace" */
  size_t offset;             /* offsetof(struct my_ctx, field) */
  const char *help;          /* one sentence for `sluice describe` */
};

/* Plugin flags. */
enum sluice_plugin_flag {
  /* The destination can commit only once per run (a file renamed into
   * place): the host never commits it before the source has finished. */
  SLUICE_PLUGIN_COMMIT_ONCE = 1u << 0,
  /* ABI 1.2: the source may run for ever (a change stream), emitting now
   * and then: the host commits whenever the destination has caught up,
   * not only every batch.commit_every batches and at the end.  Older
   * hosts ignore the bit. */
  SLUICE_PLUGIN_STREAMING = 1u << 1
};

typedef void (*sluice_done_cb)(void *arg, int status,
                               const struct sluice_error *err);
/* count's answer: status 0 with the count, or a negative code with err. */
typedef void (*sluice_count_cb)(void *arg, int status, int64_t count,
                                const struct sluice_error *err);

/* ABI 1.2: what a key sweep (sweep_open) is for. */
enum sluice_sweep_action {
  /* Count, and list up to a limit, the keys on each side only. */
  SLUICE_SWEEP_LIST = 1,
  /* Flag every live row whose key the source did not send as deleted (as
   * a DELETE row would: DEL_FLAG = 'Y' and whatever else the destination's
   * hard-delete convention sets), and count them. */
  SLUICE_SWEEP_FLAG_MISSING = 2
};

/* ABI 1.2: a key sweep's outcome (sweep_finish).  A key is given as text,
 * the columns of a composite key joined by " | ".  Borrowed for the
 * duration of the callback. */
struct sluice_sweep_result {
  int64_t source_only; /* distinct keys sent that no live row has */
  int64_t dest_only;   /* live rows whose key was not sent */
  int64_t flagged;     /* FLAG_MISSING: rows flagged deleted now */
  /* LIST: up to `limit` keys of each set, in key order. */
  size_t nsource_only_keys, ndest_only_keys;
  const char *const *source_only_keys;
  const char *const *dest_only_keys;
};

/* sweep_finish's answer: status 0 with the result, or a negative code with
 * err (res NULL). */
typedef void (*sluice_sweep_cb)(void *arg, int status,
                                const struct sluice_sweep_result *res,
                                const struct sluice_error *err);

struct sluice_plugin {
  /* ---- header: frozen for every major ---- */
  uint32_t magic;       /* SLUICE_PLUGIN_MAGIC */
  uint16_t abi_major;   /* SLUICE_ABI_MAJOR the plugin was built with */
  uint16_t abi_minor;   /* SLUICE_ABI_MINOR the plugin was built with */
  uint32_t struct_size; /* sizeof(struct sluice_plugin) when built */
  uint32_t kinds;       /* enum sluice_kind, or'ed */

  /* ---- ABI 1.0 ---- */
  const char *name;        /* "csv-file": [a-z0-9-]+, unique on the host */
  const char *version;     /* the plugin's own version, "1.2.0" */
  const char *description; /* one line */
  /* The "type" of connection this plugin uses ("salesforce"), or NULL.
   * The keys of connection_config are read from the connection the
   * pipeline names and bound into the same ctx. */
  const char *connection_type;
  const struct sluice_config_entry *config;
  const struct sluice_config_entry *connection_config;
  size_t ctx_size; /* the host callocs this much and binds config into it */
  uint32_t flags;  /* enum sluice_plugin_flag */

  /* Required.  Config is bound and validated.  Keep host: it is the only
   * way to reach the host's services, and it outlives the instance. */
  int (*init)(struct sluice_instance *ins, const struct sluice_host *host,
              void *ctx, struct sluice_error *err);
  /* Required.  Frees what init and later calls allocated; called once for
   * every successful init, after every done callback has run.  A
   * destination that was never committed drops what it wrote. */
  void (*fini)(struct sluice_instance *ins, void *ctx);

  /* Optional: authenticate and make one cheap call ("Save & Test"). */
  int (*check)(struct sluice_instance *ins, void *ctx, sluice_done_cb done,
               void *arg, struct sluice_error *err);

  /* SOURCE.  Start reading after `checkpoint` (NULL: from the beginning).
   * Hand rows over with host->emit; end with host->source_done. */
  int (*source_start)(struct sluice_instance *ins, void *ctx,
                      const char *checkpoint, struct sluice_error *err);
  /* SOURCE.  Backpressure: emit nothing between pause and resume. */
  void (*source_pause)(struct sluice_instance *ins, void *ctx);
  void (*source_resume)(struct sluice_instance *ins, void *ctx);
  /* SOURCE.  Finish early (SIGTERM): emit what is ready, then call
   * host->source_done(ins, 0, NULL) soon. */
  void (*source_stop)(struct sluice_instance *ins, void *ctx);

  /* DESTINATION.  The schema every following batch has (after mapping). */
  int (*dest_open)(struct sluice_instance *ins, void *ctx,
                   struct sluice_schema *schema, sluice_done_cb done, void *arg,
                   struct sluice_error *err);
  /* DESTINATION.  Write one batch; batches arrive one at a time, in order.
   * The batch is borrowed until done; take a reference to keep it. */
  int (*dest_write)(struct sluice_instance *ins, void *ctx,
                    struct sluice_batch *batch, sluice_done_cb done, void *arg,
                    struct sluice_error *err);
  /* DESTINATION.  Make everything written so far durable and visible.
   * After done(0) the host saves the source's checkpoint. */
  int (*dest_commit)(struct sluice_instance *ins, void *ctx,
                     sluice_done_cb done, void *arg, struct sluice_error *err);

  /* ---- ABI 1.1 ---- */

  /* Optional (`sluice reconcile`).  A source: how many records a full read
   * would give now (its filter applied, deleted records not counted).  A
   * destination: how many live rows it holds (rows flagged deleted not
   * counted).  The same rules as every done callback. */
  int (*count)(struct sluice_instance *ins, void *ctx, sluice_count_cb done,
               void *arg, struct sluice_error *err);

  /* ---- ABI 1.2: key sweeps ----
   * A key sweep compares every key the source has now with the
   * destination's live rows, without holding either set in the host: the
   * source streams keys (source_keys) through the mapping into the
   * destination (sweep_open, sweep_write...), which compares them where
   * its rows are (sweep_finish).  All five are optional; a plugin gives a
   * source's one, or all four of a destination's, or none.  A sweep that
   * is stopped or fails never reaches sweep_finish, so nothing is flagged
   * from a partial list of keys. */

  /* SOURCE, optional.  Like source_start from the beginning (no
   * checkpoint, no incremental cursor, the configured filter applied):
   * emits only `fields` (the source's names, borrowed for the call) of
   * every live record; deleted records are never emitted.  Batches carry
   * no checkpoint.  Emit, source_done, pause, resume and stop as for
   * source_start. */
  int (*source_keys)(struct sluice_instance *ins, void *ctx,
                     const struct sluice_strlist *fields,
                     struct sluice_error *err);
  /* DESTINATION, optional.  The columns rows are matched on (names after
   * the mapping), into *keys, borrowed until fini; SLUICE_ENOTSUP with err
   * when it matches rows on no key (an append-only table). */
  int (*sweep_keys)(struct sluice_instance *ins, void *ctx,
                    struct sluice_strlist *keys, struct sluice_error *err);
  /* DESTINATION.  A sweep begins (instead of dest_open): every following
   * batch of sweep_write has `schema` (the key fields after the mapping;
   * it may hold other columns, to be ignored).  action is an enum
   * sluice_sweep_action; a destination refuses one it cannot do (no
   * hard-delete flag) here, before any key is read. */
  int (*sweep_open)(struct sluice_instance *ins, void *ctx, uint32_t action,
                    struct sluice_schema *schema, sluice_done_cb done,
                    void *arg, struct sluice_error *err);
  /* DESTINATION.  One batch of keys (possibly repeated keys), borrowed
   * until done. */
  int (*sweep_write)(struct sluice_instance *ins, void *ctx,
                     struct sluice_batch *batch, sluice_done_cb done, void *arg,
                     struct sluice_error *err);
  /* DESTINATION.  Every key has been written: compare, and for
   * FLAG_MISSING flag (durably, at once), then answer.  limit: how many
   * keys of each side-only set LIST returns (0: counts only). */
  int (*sweep_finish)(struct sluice_instance *ins, void *ctx, size_t limit,
                      sluice_sweep_cb done, void *arg,
                      struct sluice_error *err);

  /* ---- ABI 1.3 and later: append below only ---- */
};

/* Size of the 1.0 descriptor: the smallest struct_size the host accepts. */
#define SLUICE_PLUGIN_SIZE_1_0                                                 \
  (offsetof(struct sluice_plugin, dest_commit) +                               \
   sizeof(((struct sluice_plugin *)0)->dest_commit))

/* Size of the 1.1 descriptor (through count). */
#define SLUICE_PLUGIN_SIZE_1_1                                                 \
  (offsetof(struct sluice_plugin, count) +                                     \
   sizeof(((struct sluice_plugin *)0)->count))

/* Fills the frozen header: start every descriptor with it. */
#define SLUICE_PLUGIN_HEADER(kinds_)                                           \
  .magic = SLUICE_PLUGIN_MAGIC, .abi_major = SLUICE_ABI_MAJOR,                 \
  .abi_minor = SLUICE_ABI_MINOR,                                               \
  .struct_size = (uint32_t)sizeof(struct sluice_plugin), .kinds = (kinds_)

/* Exports the entry function returning `var`:
 *   static const struct sluice_plugin csv_plugin = {
 *     SLUICE_PLUGIN_HEADER(SLUICE_KIND_SOURCE), .name = "...", ... };
 *   SLUICE_PLUGIN_DEFINE(csv_plugin)
 */
#define SLUICE_PLUGIN_DEFINE(var)                                              \
  SLUICE_API const struct sluice_plugin *SLUICE_ENTRY_NAME(SLUICE_ABI_MAJOR)(  \
      void);                                                                   \
  SLUICE_API const struct sluice_plugin *SLUICE_ENTRY_NAME(SLUICE_ABI_MAJOR)(  \
      void)                                                                    \
  {                                                                            \
    return &(var);                                                             \
  }

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_PLUGIN_H */
