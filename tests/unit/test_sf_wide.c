/* tests/unit/test_sf_wide.c - salesforce-rest's wide-object split
 * (sf_wide.c): the field groups stay under the URI limit, cover every
 * field once, and pages are completed by Id; a record a group no longer
 * returns is left out.  The REST calls are answered by a fake that reads
 * the SOQL it is sent, as the service would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sf.h"

#define NWIDE 700
#define NRECS 450 /* three Id chunks of at most 200 */

int sf_api_base(struct sf_ctx *c, struct sluice_buf *out)
{
  return sluice_buf_printf(out, "/services/data/v%s", c->api_version);
}

/* --- the fake API: one call pending at a time -------------------------- */

static struct {
  sf_api_cb cb;
  void *arg;
  char *path;
  size_t calls, longest;
  const char *gone; /* an Id the groups do not return (deleted meanwhile) */
} api;

int sf_api_get(struct sf_ctx *c, const char *path,
               const struct sluice_http_header *h, size_t nh, sf_api_cb cb,
               void *arg, struct sf_api_call **out, struct sluice_error *err)
{
  (void)c, (void)h, (void)nh, (void)err;
  assert_null(api.cb); /* one call in flight */
  api.cb = cb;
  api.arg = arg;
  api.path = strdup(path);
  api.calls++;
  if (strlen(path) > api.longest)
    api.longest = strlen(path);
  *out = (struct sf_api_call *)&api;
  return 0;
}

void sf_api_cancel(struct sf_api_call *call)
{
  (void)call;
  free(api.path);
  api.path = NULL;
  api.cb = NULL;
}

static void log_ignore(struct sluice_instance *ins, enum sluice_log_level l,
                       const char *fmt, ...)
{
  (void)ins, (void)l, (void)fmt;
}

static int hexval(char ch)
{
  return ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10;
}

/* The SOQL of a path's q= parameter. */
static char *decode_q(const char *path)
{
  const char *q = strstr(path, "?q=") + 3;
  char *out = malloc(strlen(q) + 1), *o = out;

  for (; *q; q++) {
    if (*q == '%') {
      *o++ = (char)(hexval(q[1]) * 16 + hexval(q[2]));
      q += 2;
    } else
      *o++ = *q;
  }
  *o = '\0';
  return out;
}

static char *rec_id(size_t i)
{
  static char id[19];
  snprintf(id, sizeof id, "001%012zuAAA", i);
  return id;
}

/* Answers the pending call as Salesforce would: every selected field of
 * every Id asked for (the value names field and record), but api.gone. */
static void answer(void)
{
  char *soql = decode_q(api.path), *sel, *from, *tok, *save = NULL;
  char *in = strstr(soql, "Id IN (");
  json_t *body = json_object(), *recs = json_array();
  sf_api_cb cb = api.cb;

  assert_non_null(in);
  sel = soql + 7;
  from = strstr(sel, " FROM ");
  *from = '\0';
  for (char *p = in + 7; (p = strchr(p, '\'')) != NULL; p += 20) {
    char id[19];
    memcpy(id, p + 1, 18);
    id[18] = '\0';
    if (api.gone && strcmp(id, api.gone) == 0)
      continue;
    json_t *r = json_object();
    char *fields = strdup(sel);
    for (tok = strtok_r(fields, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
      char v[80];
      snprintf(v, sizeof v, "%s of %s", tok, id);
      json_object_set_new(r, tok,
                          strcmp(tok, "Id") ? json_string(v) : json_string(id));
    }
    free(fields);
    json_array_append_new(recs, r);
  }
  json_object_set_new(body, "done", json_true());
  json_object_set_new(body, "records", recs);
  free(soql);
  free(api.path);
  api.path = NULL;
  api.cb = NULL;
  cb(api.arg, 0, body, NULL);
  json_decref(body);
}

/* --- the test ----------------------------------------------------------- */

static struct sf_field *wide_fields(void)
{
  struct sf_field *f = calloc(NWIDE + 2, sizeof *f);
  f[0] =
      (struct sf_field){strdup("Id"), strdup("id"), SLUICE_TYPE_STRING, 0, 0};
  for (size_t i = 1; i <= NWIDE; i++) {
    char name[40];
    snprintf(name, sizeof name, "Measurement_Value_%04zu__c", i);
    f[i] = (struct sf_field){strdup(name), strdup("string"), SLUICE_TYPE_STRING,
                             0, 0};
  }
  f[NWIDE + 1] = (struct sf_field){strdup("SystemModstamp"), strdup("datetime"),
                                   SLUICE_TYPE_TIMESTAMP, 0, 0};
  return f;
}

static int filled_status = 1;
static void on_filled(void *arg, int status, const struct sluice_error *err)
{
  (void)arg, (void)err;
  filled_status = status;
}

static void wide_pages_are_joined_on_id(void **state)
{
  struct sluice_host host = {.log = log_ignore};
  struct sf_ctx c;
  struct sf_field *f = wide_fields();
  struct sluice_buf soql = SLUICE_BUF_INIT, path = SLUICE_BUF_INIT;
  struct sluice_error err = {0};
  struct sf_wide *w = NULL;
  json_t *page = json_array();
  size_t i;
  (void)state;

  memset(&c, 0, sizeof c);
  c.host = &host;
  c.object = "Sluice_Wide__c";
  c.api_version = "62.0";
  c.filter = "Name != null";
  assert_int_equal(sf_wide_plan(&c, f, NWIDE + 2, 1, 0, &soql, &w, &err), 0);
  assert_non_null(w);
  /* The query that pages keeps the filter, the cursor and the order, and
   * fits. */
  assert_non_null(strstr(soql.data, "SELECT Id,"));
  assert_non_null(strstr(soql.data, "SystemModstamp"));
  assert_non_null(strstr(soql.data, "WHERE (Name != null) AND SystemModstamp"));
  assert_non_null(strstr(soql.data, "ORDER BY SystemModstamp, Id"));
  assert_int_equal(sf_query_first_path(&c, soql.data, &path), 0);
  assert_true(path.len <= 15360);

  /* A page of the first query: Id, SystemModstamp and the first group. */
  for (i = 0; i < NRECS; i++)
    json_array_append_new(page, json_pack("{s:s, s:s}", "Id", rec_id(i),
                                          "SystemModstamp",
                                          "2024-05-01T00:00:00.000+0000"));
  api.gone = "001000000000007AAA";
  assert_int_equal(sf_wide_fill(w, page, on_filled, NULL, &err), 0);
  assert_int_equal(filled_status, 1); /* not before returning */
  while (api.cb != NULL)
    answer();
  assert_int_equal(filled_status, 0);
  /* Every path stayed under the limit, Ids went 200 at a time. */
  assert_true(api.longest <= 15360);
  assert_true(api.calls >= 3 && api.calls % 3 == 0);
  /* The deleted record is gone; every other has every field, once. */
  assert_int_equal(json_array_size(page), NRECS - 1);
  for (i = 0; i < json_array_size(page); i++) {
    json_t *r = json_array_get(page, i);
    const char *id = json_string_value(json_object_get(r, "Id"));
    assert_string_not_equal(id, api.gone);
    for (size_t k = 1; k <= NWIDE; k++) {
      const char *v = json_string_value(json_object_get(r, f[k].name));
      char want[80];
      if (v == NULL) { /* the fake page lacks the first group's fields */
        assert_non_null(strstr(soql.data, f[k].name));
        continue;
      }
      snprintf(want, sizeof want, "%s of %s", f[k].name, id);
      assert_non_null(v);
      assert_string_equal(v, want);
    }
  }

  /* Cancelling a fill under way calls nothing back. */
  filled_status = 1;
  assert_int_equal(sf_wide_fill(w, page, on_filled, NULL, &err), 0);
  sf_wide_cancel(w);
  assert_null(api.cb);
  assert_int_equal(filled_status, 1);

  sf_wide_free(w);
  json_decref(page);
  sluice_buf_free(&soql);
  sluice_buf_free(&path);
  sf_fields_free(f, NWIDE + 2);
}

static void narrow_objects_take_one_query(void **state)
{
  struct sluice_host host = {.log = log_ignore};
  struct sf_ctx c;
  struct sf_field *f = wide_fields();
  struct sluice_buf soql = SLUICE_BUF_INIT;
  struct sluice_error err = {0};
  struct sf_wide *w = (struct sf_wide *)&c;
  (void)state;

  memset(&c, 0, sizeof c);
  c.host = &host;
  c.object = "Account";
  c.api_version = "62.0";
  assert_int_equal(sf_wide_plan(&c, f, 50, 1, -1, &soql, &w, &err), 0);
  assert_null(w);
  assert_non_null(strstr(soql.data, "Measurement_Value_0049__c FROM Account"));
  sluice_buf_free(&soql);
  sf_fields_free(f, NWIDE + 2);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(wide_pages_are_joined_on_id),
      cmocka_unit_test(narrow_objects_take_one_query),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
