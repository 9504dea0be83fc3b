/* tests/unit/test_pipeline.c - every class of pipeline-file mistake is
 * reported, with its JSON path, in one pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "pipeline.h"

struct fake_ctx {
  const char *path;
  struct sluice_strlist key;
  const char *write;
  const char *login_url;
  const char *secret;
};

static const struct sluice_config_entry fake_config[] = {
    {"path", SLUICE_CFG_STRING, SLUICE_CFG_REQUIRED, NULL, NULL,
     offsetof(struct fake_ctx, path), "file"},
    {"key", SLUICE_CFG_STRLIST, SLUICE_CFG_DESTINATION, NULL, NULL,
     offsetof(struct fake_ctx, key), "key columns"},
    {"write", SLUICE_CFG_ENUM, SLUICE_CFG_DESTINATION, "append", "append|merge",
     offsetof(struct fake_ctx, write), ""},
    {NULL, 0, 0, NULL, NULL, 0, NULL}};

static const struct sluice_config_entry fake_conn_config[] = {
    {"login_url", SLUICE_CFG_STRING, SLUICE_CFG_REQUIRED, NULL, NULL,
     offsetof(struct fake_ctx, login_url), ""},
    {"client_secret", SLUICE_CFG_STRING, SLUICE_CFG_SECRET, NULL, NULL,
     offsetof(struct fake_ctx, secret), ""},
    {NULL, 0, 0, NULL, NULL, 0, NULL}};

static struct loaded_plugin fakes[2];
static struct plugin_set set = {.v = fakes, .n = 2};

static void setup_fakes(void)
{
  fakes[0].desc.name = "fake-file";
  fakes[0].desc.kinds = SLUICE_KIND_SOURCE | SLUICE_KIND_DESTINATION;
  fakes[0].desc.config = fake_config;
  fakes[0].desc.ctx_size = sizeof(struct fake_ctx);
  fakes[1].desc.name = "fake-crm";
  fakes[1].desc.kinds = SLUICE_KIND_DESTINATION;
  fakes[1].desc.config = fake_config;
  fakes[1].desc.connection_type = "crm";
  fakes[1].desc.connection_config = fake_conn_config;
  fakes[1].desc.ctx_size = sizeof(struct fake_ctx);
}

/* Writes json to a temporary file, loads and resolves it. */
static void check(const char *json, struct pipeline_file *pf, struct diags *d)
{
  char path[] = "/tmp/sluice-pipeline-XXXXXX";
  int fd = mkstemp(path);
  size_t len = strlen(json);

  assert_true(fd >= 0);
  assert_int_equal(write(fd, json, len), (ssize_t)len);
  close(fd);
  d->file = "sync.json";
  if (pipeline_file_load(path, pf, d) == 0)
    pipeline_file_resolve(pf, &set, d);
  unlink(path);
}

static int has(const struct diags *d, const char *needle)
{
  for (size_t i = 0; i < d->n; i++)
    if (strstr(d->v[i], needle) != NULL)
      return 1;
  fprintf(stderr, "missing: %s\n", needle);
  for (size_t i = 0; i < d->n; i++)
    fprintf(stderr, "  have: %s\n", d->v[i]);
  return 0;
}

static void a_good_file_has_no_diagnostics(void **state)
{
  struct pipeline_file pf;
  struct diags d = {0};
  (void)state;
  check("{\"version\":1,\"connections\":{\"c\":{\"type\":\"crm\","
        "\"login_url\":\"https://x\"}},\"pipelines\":[{\"name\":\"a\","
        "\"schedule\":{\"every\":\"15m\"},\"source\":{\"plugin\":\"fake-file\","
        "\"path\":\"in.csv\"},\"destination\":{\"plugin\":\"fake-crm\","
        "\"connection\":\"c\",\"path\":\"x\",\"key\":[\"Id\"]},"
        "\"batch\":{\"rows\":500,\"bytes\":\"1M\",\"in_flight\":2}}]}",
        &pf, &d);
  for (size_t i = 0; i < d.n; i++)
    fprintf(stderr, "unexpected: %s\n", d.v[i]);
  assert_int_equal(d.n, 0);
  assert_int_equal(pf.n, 1);
  assert_string_equal(pf.v[0].name, "a");
  assert_int_equal(pf.v[0].schedule.kind, SCHEDULE_EVERY);
  assert_int_equal(pf.v[0].schedule.every_s, 900);
  assert_int_equal(pf.v[0].batch_rows, 500);
  assert_int_equal(pf.v[0].batch_bytes, 1024 * 1024);
  assert_int_equal(pf.v[0].max_in_flight, 2);
  assert_ptr_equal(pf.v[0].destination.plugin, &fakes[1]);
  assert_non_null(strstr(pf.state_dir, "/state"));
  pipeline_file_free(&pf);
}

static void syntax_errors_say_line_and_column(void **state)
{
  struct pipeline_file pf;
  struct diags d = {0};
  (void)state;
  check("{\"version\": 1,\n  \"pipelines\": [\n    {\"name\": \"a\",,}\n]}",
        &pf, &d);
  assert_int_equal(d.n, 1);
  assert_true(has(&d, "sync.json: line 3, column "));
  pipeline_file_free(&pf);
  diag_free(&d);
  check("{\"version\":1,\"version\":1,\"pipelines\":[]}", &pf, &d);
  assert_true(has(&d, "duplicate object key"));
  pipeline_file_free(&pf);
  diag_free(&d);
}

static void every_mistake_in_one_pass(void **state)
{
  struct pipeline_file pf;
  struct diags d = {0};
  (void)state;
  check("{\"version\":2,\"pipeline\":[],\"connections\":{\"c\":{\"type\":"
        "\"crm\",\"client_secret\":\"x\",\"loginurl\":\"u\"},\"bad\":{}},"
        "\"pipelines\":["
        "{\"name\":\"a b\",\"schedule\":{\"every\":\"30s\"},"
        "\"source\":{\"plugin\":\"fake-fil\",\"path\":\"x\"},"
        "\"destination\":{\"plugin\":\"fake-crm\",\"connection\":\"cc\","
        "\"path\":\"y\"},\"mapping\":{\"A\":3,\"B\":{\"type\":\"varchar\"}}},"
        "{\"name\":\"b\",\"schedule\":{\"cron\":\"0 25 * * *\"},"
        "\"source\":{\"plugin\":\"fake-crm\"},\"destination\":{\"plugin\":"
        "\"fake-crm\",\"connection\":\"c\",\"key\":\"Id\",\"write\":\"upsert\","
        "\"path\":\"p\"},\"batch\":{\"rows\":0,\"in_flight\":100}},"
        "{\"name\":\"b\",\"source\":{\"plugin\":\"fake-file\",\"path\":\"x\","
        "\"key\":[\"Id\"]},\"destination\":{\"plugin\":\"fake-file\","
        "\"path\":\"y\",\"connection\":\"c\"},\"enabled\":\"yes\"}]}",
        &pf, &d);
  assert_true(has(&d, "sync.json: version: this sluice reads version 1"));
  assert_true(has(&d, "sync.json: pipeline: unknown key; did you mean "
                      "'pipelines'?"));
  assert_true(has(&d, "connections.bad: missing \"type\""));
  assert_true(has(&d, "pipelines[0].name: 'a b': use letters"));
  assert_true(has(&d, "pipelines[0].schedule.every: "));
  assert_true(has(&d, "pipelines[0].source.plugin: no plugin 'fake-fil'; did "
                      "you mean 'fake-file'?"));
  assert_true(has(&d, "pipelines[0].destination.connection: no connection "
                      "'cc'; did you mean 'c'?"));
  assert_true(has(&d, "pipelines[0].mapping.A: expected a new name"));
  assert_true(has(&d, "pipelines[0].mapping.B.type: unknown type"));
  assert_true(has(&d, "pipelines[1].schedule.cron: "));
  assert_true(has(&d, "pipelines[1].source.plugin: plugin 'fake-crm' cannot "
                      "be a source"));
  assert_true(has(&d, "pipelines[1].destination.key: expected an array of "
                      "strings"));
  assert_true(has(&d, "pipelines[1].destination.write: 'upsert' is not one "
                      "of append|merge"));
  assert_true(has(&d, "connections.c.loginurl: unknown key; did you mean "
                      "'login_url'?"));
  assert_true(has(&d, "connections.c: missing required key 'login_url'"));
  assert_true(has(&d, "pipelines[1].batch.rows: expected a whole number "
                      "from 1"));
  assert_true(has(&d, "pipelines[1].batch.in_flight: expected a whole number "
                      "from 1 to 64"));
  assert_true(has(&d, "pipelines[2].name: 'b' is also the name of "
                      "pipelines[1]"));
  assert_true(has(&d, "pipelines[2].source.key: applies only to "
                      "destinations"));
  assert_true(has(&d, "pipelines[2].destination.connection: plugin "
                      "'fake-file' takes no connection"));
  assert_true(has(&d, "pipelines[2].enabled: expected true or false"));
  /* The connection's mistakes are reported once, not once per use. */
  size_t seen = 0;
  for (size_t i = 0; i < d.n; i++)
    if (strstr(d.v[i], "connections.c.loginurl") != NULL)
      seen++;
  assert_int_equal(seen, 1);
  pipeline_file_free(&pf);
  diag_free(&d);
}

static void missing_pieces(void **state)
{
  struct pipeline_file pf;
  struct diags d = {0};
  (void)state;
  check("{\"pipelines\":[{\"source\":{},\"destination\":7}]}", &pf, &d);
  assert_true(has(&d, "sync.json: missing \"version\": 1"));
  assert_true(has(&d, "pipelines[0].name: missing"));
  assert_true(has(&d, "pipelines[0].source.plugin: missing"));
  assert_true(has(&d, "pipelines[0].destination: expected an object"));
  pipeline_file_free(&pf);
  diag_free(&d);
  check("[1,2]", &pf, &d);
  assert_true(has(&d, "expected a JSON object at the top"));
  pipeline_file_free(&pf);
  diag_free(&d);
  check("{\"version\":1,\"pipelines\":[]}", &pf, &d);
  assert_true(has(&d, "pipelines: expected a non-empty array"));
  pipeline_file_free(&pf);
  diag_free(&d);
}

static int fake_keys(struct sluice_instance *ins, void *ctx,
                     const struct sluice_strlist *f, struct sluice_error *e)
{
  (void)ins, (void)ctx, (void)f, (void)e;
  return 0;
}

static int fake_sweep_open(struct sluice_instance *ins, void *ctx,
                           uint32_t action, struct sluice_schema *schema,
                           sluice_done_cb done, void *arg,
                           struct sluice_error *e)
{
  (void)ins, (void)ctx, (void)action, (void)schema, (void)done, (void)arg,
      (void)e;
  return 0;
}

/* reconcile_deletes: a schedule (cron words too), checked with its path;
 * plugins without key sweeps, or a destination that keeps no flagged
 * rows, refused by name. */
static void reconcile_deletes_checked(void **state)
{
  struct pipeline_file pf;
  struct diags d = {0};
  static const char file[] =
      "{\"version\":1,\"pipelines\":[{\"name\":\"a\","
      "\"reconcile_deletes\":%s,\"source\":{\"plugin\":\"fake-file\","
      "\"path\":\"in.csv\"},\"destination\":{\"plugin\":\"fake-file\","
      "\"path\":\"x\"}}]}";
  char json[1024];

  (void)state;
  snprintf(json, sizeof json, file, "\"weekly\"");
  check(json, &pf, &d);
  assert_int_equal(pf.v[0].reconcile_deletes.kind, SCHEDULE_CRON);
  assert_true(has(&d, "sync.json: pipelines[0].reconcile_deletes: plugin "
                      "fake-file cannot list keys (needs ABI 1.2 key sweeps"));
  pipeline_file_free(&pf);
  diag_free(&d);
  snprintf(json, sizeof json, file, "{\"every\": \"30s\"}");
  check(json, &pf, &d);
  assert_true(has(&d, "pipelines[0].reconcile_deletes.every: '30s'"));
  pipeline_file_free(&pf);
  diag_free(&d);
  snprintf(json, sizeof json, file, "\"fortnightly\"");
  check(json, &pf, &d);
  assert_true(has(&d, "pipelines[0].reconcile_deletes: "));
  assert_true(has(&d, "a schedule: \"weekly\""));
  pipeline_file_free(&pf);
  diag_free(&d);

  /* With key sweeps, but no "hard_deletes" key in its map. */
  fakes[0].desc.source_keys = fake_keys;
  fakes[0].desc.sweep_open = fake_sweep_open; /* never called here */
  snprintf(json, sizeof json, file, "{\"every\": \"1w\"}");
  check(json, &pf, &d);
  assert_int_equal(pf.v[0].reconcile_deletes.kind, SCHEDULE_EVERY);
  assert_int_equal(pf.v[0].reconcile_deletes.every_s, 7 * 86400);
  assert_true(has(&d, "reconcile_deletes: plugin fake-file keeps no deleted "
                      "rows flagged"));
  pipeline_file_free(&pf);
  diag_free(&d);
  fakes[0].desc.source_keys = NULL;
  fakes[0].desc.sweep_open = NULL;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_good_file_has_no_diagnostics),
      cmocka_unit_test(syntax_errors_say_line_and_column),
      cmocka_unit_test(every_mistake_in_one_pass),
      cmocka_unit_test(missing_pieces),
      cmocka_unit_test(reconcile_deletes_checked),
  };
  setup_fakes();
  log_setup(SLUICE_LOG_ERROR, LOG_FORMAT_TEXT);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
