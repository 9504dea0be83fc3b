/* tests/abi/abi_fixture.c - plugins built wrong on purpose, one per
 * FIXTURE_* macro, each of which the host must refuse in one clear line
 * (tests/e2e/abi_refusals.sh).  FIXTURE_GOOD is the control: it loads.
 * FIXTURE_OLD_MINOR is a plugin built for ABI 1.0: it loads, and the host
 * reads nothing past its 1.0 descriptor (neither 1.1's count nor 1.2's key
 * sweep). */
#include <stddef.h>

#include <sluice/host.h>
#include <sluice/plugin.h>

struct fixture_ctx {
  const char *path;
};

static const struct sluice_config_entry fixture_config[] = {
    {"path", SLUICE_CFG_STRING, 0, NULL, NULL,
     offsetof(struct fixture_ctx, path), "unused"},
    {NULL, 0, 0, NULL, NULL, 0, NULL}};

static int fixture_init(struct sluice_instance *ins,
                        const struct sluice_host *host, void *ctx,
                        struct sluice_error *err)
{
  (void)ins, (void)host, (void)ctx, (void)err;
  return 0;
}

static void fixture_fini(struct sluice_instance *ins, void *ctx)
{
  (void)ins, (void)ctx;
}

#if !defined(FIXTURE_NO_CALLBACKS)
static int fixture_open(struct sluice_instance *ins, void *ctx,
                        struct sluice_schema *schema, sluice_done_cb done,
                        void *arg, struct sluice_error *err)
{
  (void)ins, (void)ctx, (void)schema, (void)done, (void)arg;
  return sluice_error_set(err, SLUICE_ENOTSUP, 0, "fixture");
}

static int fixture_write(struct sluice_instance *ins, void *ctx,
                         struct sluice_batch *b, sluice_done_cb done, void *arg,
                         struct sluice_error *err)
{
  (void)ins, (void)ctx, (void)b, (void)done, (void)arg;
  return sluice_error_set(err, SLUICE_ENOTSUP, 0, "fixture");
}

static int fixture_commit(struct sluice_instance *ins, void *ctx,
                          sluice_done_cb done, void *arg,
                          struct sluice_error *err)
{
  (void)ins, (void)ctx, (void)done, (void)arg;
  return sluice_error_set(err, SLUICE_ENOTSUP, 0, "fixture");
}
#endif

#if defined(FIXTURE_OLD_MINOR)
#include <stdlib.h>
/* Past the 1.0 descriptor's end: a host that calls it did not honour
 * struct_size. */
static int fixture_count_trap(struct sluice_instance *ins, void *ctx,
                              sluice_count_cb done, void *arg,
                              struct sluice_error *err)
{
  (void)ins, (void)ctx, (void)done, (void)arg, (void)err;
  abort();
}
/* ABI 1.2's key sweep, past the end too. */
static int fixture_sweep_keys_trap(struct sluice_instance *ins, void *ctx,
                                   struct sluice_strlist *keys,
                                   struct sluice_error *err)
{
  (void)ins, (void)ctx, (void)keys, (void)err;
  abort();
}
static int fixture_sweep_open_trap(struct sluice_instance *ins, void *ctx,
                                   uint32_t action,
                                   struct sluice_schema *schema,
                                   sluice_done_cb done, void *arg,
                                   struct sluice_error *err)
{
  (void)ins, (void)ctx, (void)action, (void)schema, (void)done, (void)arg,
      (void)err;
  abort();
}
#endif

#if defined(FIXTURE_MAJOR2)
#define NAME "abi-major2"
#elif defined(FIXTURE_LIES_MAJOR)
#define NAME "abi-lies-major"
#elif defined(FIXTURE_NEWER_MINOR)
#define NAME "abi-newer-minor"
#elif defined(FIXTURE_BAD_MAGIC)
#define NAME "abi-bad-magic"
#elif defined(FIXTURE_SHORT_SIZE)
#define NAME "abi-short-size"
#elif defined(FIXTURE_NO_CALLBACKS)
#define NAME "abi-no-callbacks"
#elif defined(FIXTURE_OLD_MINOR)
#define NAME "abi-old-minor"
#else
#define NAME "abi-good"
#endif

static const struct sluice_plugin fixture = {
#if defined(FIXTURE_BAD_MAGIC)
    .magic = 0x12345678u,
#else
    .magic = SLUICE_PLUGIN_MAGIC,
#endif
#if defined(FIXTURE_MAJOR2) || defined(FIXTURE_LIES_MAJOR)
    .abi_major = SLUICE_ABI_MAJOR + 1,
#else
    .abi_major = SLUICE_ABI_MAJOR,
#endif
#if defined(FIXTURE_NEWER_MINOR)
    .abi_minor = SLUICE_ABI_MINOR + 1,
#elif defined(FIXTURE_OLD_MINOR)
    .abi_minor = 0,
#else
    .abi_minor = SLUICE_ABI_MINOR,
#endif
#if defined(FIXTURE_SHORT_SIZE)
    .struct_size = 24,
#elif defined(FIXTURE_OLD_MINOR)
    /* What a plugin built against the 1.0 header says of itself: the
     * host must read nothing past it (count below is a trap). */
    .struct_size = SLUICE_PLUGIN_SIZE_1_0,
#else
    .struct_size = sizeof(struct sluice_plugin),
#endif
    .kinds = SLUICE_KIND_DESTINATION,
    .name = NAME,
    .version = "0.0.1",
    .description = "an ABI test fixture",
    .config = fixture_config,
    .ctx_size = sizeof(struct fixture_ctx),
    .init = fixture_init,
    .fini = fixture_fini,
#if !defined(FIXTURE_NO_CALLBACKS)
    .dest_open = fixture_open,
    .dest_write = fixture_write,
    .dest_commit = fixture_commit,
#endif
#if defined(FIXTURE_OLD_MINOR)
    .count = fixture_count_trap,
    /* Not a complete set: a host that read them would refuse the plugin. */
    .sweep_keys = fixture_sweep_keys_trap,
    .sweep_open = fixture_sweep_open_trap,
#endif
};

#if defined(FIXTURE_MAJOR2)
/* What a plugin built against a future major-2 header would export. */
SLUICE_API const struct sluice_plugin *sluice_plugin_v2(void);
SLUICE_API const struct sluice_plugin *sluice_plugin_v2(void)
{
  return &fixture;
}
#elif defined(FIXTURE_NO_ENTRY)
SLUICE_API const struct sluice_plugin *not_a_plugin(void);
SLUICE_API const struct sluice_plugin *not_a_plugin(void)
{
  return &fixture;
}
#else
SLUICE_PLUGIN_DEFINE(fixture)
#endif
