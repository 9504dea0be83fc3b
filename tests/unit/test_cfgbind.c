/* tests/unit/test_cfgbind.c - config maps: validation and binding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfgbind.h"
#include "log.h"

struct ctx {
  const char *path;
  int64_t retries;
  int header;
  double ratio;
  int64_t timeout_ms;
  int64_t chunk;
  const char *mode;
  struct sluice_strlist key;
  const char *types;
  const char *password;
  const char *only_src;
};

static const struct sluice_config_entry map[] = {
    {"path", SLUICE_CFG_STRING, SLUICE_CFG_REQUIRED, NULL, NULL,
     offsetof(struct ctx, path), "where"},
    {"retries", SLUICE_CFG_INT, 0, "3", NULL, offsetof(struct ctx, retries),
     ""},
    {"header", SLUICE_CFG_BOOL, 0, "true", NULL, offsetof(struct ctx, header),
     ""},
    {"ratio", SLUICE_CFG_DOUBLE, 0, "0.5", NULL, offsetof(struct ctx, ratio),
     ""},
    {"timeout", SLUICE_CFG_DURATION, 0, "30s", NULL,
     offsetof(struct ctx, timeout_ms), ""},
    {"chunk", SLUICE_CFG_SIZE, 0, "8M", NULL, offsetof(struct ctx, chunk), ""},
    {"write", SLUICE_CFG_ENUM, 0, "append", "append|merge|replace",
     offsetof(struct ctx, mode), ""},
    {"key", SLUICE_CFG_STRLIST, 0, "[\"Id\"]", NULL, offsetof(struct ctx, key),
     ""},
    {"types", SLUICE_CFG_JSON, 0, NULL, NULL, offsetof(struct ctx, types), ""},
    {"password", SLUICE_CFG_STRING, SLUICE_CFG_SECRET, NULL, NULL,
     offsetof(struct ctx, password), ""},
    {"only_src", SLUICE_CFG_STRING, SLUICE_CFG_SOURCE, NULL, NULL,
     offsetof(struct ctx, only_src), ""},
    {NULL, 0, 0, NULL, NULL, 0, NULL}};

static const char *const host_keys[] = {"plugin", NULL};

static int bind(const char *json, uint32_t role, struct ctx *c,
                struct cfg_allocs *allocs, struct diags *d)
{
  json_t *obj = json_loads(json, 0, NULL);
  assert_non_null(obj);
  struct cfg_bind_args a = {.map = map,
                            .role = role,
                            .obj = obj,
                            .path = "pipelines[0].destination",
                            .host_keys = host_keys,
                            .base_dir = "/tmp",
                            .ctx = c,
                            .allocs = allocs};
  int n = cfg_bind(&a, d);
  json_decref(obj);
  return n;
}

static void binds_every_type_and_defaults(void **state)
{
  struct ctx c = {0};
  struct cfg_allocs al = {0};
  struct diags d = {0};
  (void)state;
  assert_int_equal(bind("{\"plugin\":\"x\",\"path\":\"a.csv\",\"retries\":7,"
                        "\"ratio\":2.25,\"timeout\":\"15m\",\"chunk\":65536,"
                        "\"write\":\"merge\",\"key\":[\"A\",\"B\"],"
                        "\"types\":{\"A\":\"int64\"}}",
                        SLUICE_CFG_DESTINATION, &c, &al, &d),
                   0);
  assert_string_equal(c.path, "a.csv");
  assert_int_equal(c.retries, 7);
  assert_int_equal(c.header, 1); /* default */
  assert_true(c.ratio == 2.25);
  assert_int_equal(c.timeout_ms, 15 * 60 * 1000);
  assert_int_equal(c.chunk, 65536);
  assert_string_equal(c.mode, "merge");
  assert_int_equal(c.key.n, 2);
  assert_string_equal(c.key.v[1], "B");
  assert_string_equal(c.types, "{\"A\":\"int64\"}");
  assert_null(c.password);
  cfg_allocs_free(&al);
  memset(&c, 0, sizeof c);
  assert_int_equal(
      bind("{\"path\":\"p\"}", SLUICE_CFG_DESTINATION, &c, &al, &d), 0);
  assert_int_equal(c.retries, 3);
  assert_int_equal(c.timeout_ms, 30000);
  assert_int_equal(c.chunk, 8 * 1024 * 1024);
  assert_string_equal(c.mode, "append");
  assert_int_equal(c.key.n, 1);
  assert_string_equal(c.key.v[0], "Id");
  cfg_allocs_free(&al);
}

static int has_diag(const struct diags *d, const char *needle)
{
  for (size_t i = 0; i < d->n; i++)
    if (strstr(d->v[i], needle) != NULL)
      return 1;
  fprintf(stderr, "no diagnostic contains: %s\n", needle);
  for (size_t i = 0; i < d->n; i++)
    fprintf(stderr, "  have: %s\n", d->v[i]);
  return 0;
}

static void reports_every_mistake_with_its_path(void **state)
{
  struct diags d = {.file = "sync.json"};
  (void)state;
  int n = bind("{\"pth\":\"x\",\"retries\":\"3\",\"header\":1,"
               "\"timeout\":\"15x\",\"chunk\":\"lots\",\"write\":\"merg\","
               "\"key\":[\"Id\",3],\"only_src\":\"y\",\"zzzzzz\":1}",
               SLUICE_CFG_DESTINATION, NULL, NULL, &d);
  assert_int_equal(n, (int)d.n);
  assert_true(has_diag(&d, "sync.json: pipelines[0].destination.pth: unknown "
                           "key; did you mean 'path'?"));
  assert_true(has_diag(&d, "pipelines[0].destination.zzzzzz: unknown key "
                           "(valid keys: path, retries"));
  assert_true(has_diag(&d, "destination.retries: expected an integer"));
  assert_true(has_diag(&d, "destination.header: expected true or false"));
  assert_true(has_diag(&d, "destination.timeout: '15x' is not a duration"));
  assert_true(has_diag(&d, "destination.chunk: 'lots' is not a size"));
  assert_true(has_diag(&d, "destination.write: 'merg' is not one of "
                           "append|merge|replace; did you mean 'merge'?"));
  assert_true(has_diag(&d, "destination.key[1]: expected a string"));
  assert_true(has_diag(&d, "destination.only_src: applies only to sources"));
  assert_true(has_diag(&d, "pipelines[0].destination: missing required key "
                           "'path'"));
  assert_int_equal(d.n, 10);
  diag_free(&d);
}

static void resolves_secret_references(void **state)
{
  struct ctx c = {0};
  struct cfg_allocs al = {0};
  struct diags d = {0};
  char path[] = "/tmp/sluice-secret-XXXXXX";
  int fd = mkstemp(path);
  char json[256];
  (void)state;
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "s3cr3t-from-file\n", 17), 17);
  close(fd);
  setenv("SLUICE_TEST_PW", "s3cr3t-from-env", 1);
  assert_int_equal(bind("{\"path\":\"p\",\"password\":{\"env\":"
                        "\"SLUICE_TEST_PW\"}}",
                        SLUICE_CFG_DESTINATION, &c, &al, &d),
                   0);
  assert_string_equal(c.password, "s3cr3t-from-env");
  cfg_allocs_free(&al);
  snprintf(json, sizeof json, "{\"path\":\"p\",\"password\":{\"file\":\"%s\"}}",
           path);
  assert_int_equal(bind(json, SLUICE_CFG_DESTINATION, &c, &al, &d), 0);
  assert_string_equal(c.password, "s3cr3t-from-file"); /* newline dropped */
  cfg_allocs_free(&al);
  /* Both values are now masked in anything logged. */
  char line[128] = "token s3cr3t-from-env and s3cr3t-from-file end";
  log_mask_secrets(line, sizeof line);
  assert_string_equal(line, "token *** and *** end");
  unlink(path);
  assert_int_equal(bind("{\"path\":\"p\",\"password\":{\"env\":"
                        "\"SLUICE_NOT_SET_ANYWHERE\"}}",
                        SLUICE_CFG_DESTINATION, &c, &al, &d),
                   1);
  assert_true(has_diag(&d, "password.env: environment variable "
                           "SLUICE_NOT_SET_ANYWHERE is not set"));
  assert_int_equal(bind("{\"path\":\"p\",\"password\":{\"vault\":\"x\"}}",
                        SLUICE_CFG_DESTINATION, &c, &al, &d),
                   1);
  assert_true(has_diag(&d, "password.vault: unknown reference"));
  cfg_allocs_free(&al);
  diag_free(&d);
  log_free_secrets();
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(binds_every_type_and_defaults),
      cmocka_unit_test(reports_every_mistake_with_its_path),
      cmocka_unit_test(resolves_secret_references),
  };
  log_setup(SLUICE_LOG_ERROR, LOG_FORMAT_TEXT);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
