/* plugins/salesforce-common/sf_count.c - count (`sluice reconcile`): SELECT
 * COUNT() FROM the object under the pipeline's filter, by the REST query
 * (its totalSize; deleted records are not counted by /query). */
#include <stdlib.h>

#include "sf.h"

struct sf_count {
  sluice_count_cb done;
  void *arg;
};

static void on_count(void *arg, int status, json_t *body,
                     const struct sluice_error *err)
{
  struct sf_count *k = arg;
  json_t *total = json_object_get(body, "totalSize");
  struct sluice_error e = {0};

  if (status == 0 && !json_is_integer(total)) {
    status = sluice_error_set(&e, SLUICE_EPROTO, 0,
                              "count: an answer without totalSize");
    err = &e;
  }
  k->done(k->arg, status, status == 0 ? (int64_t)json_integer_value(total) : 0,
          status == 0 ? NULL : err);
  free(k);
}

int sf_common_count(struct sluice_instance *ins, void *ctx,
                    sluice_count_cb done, void *arg, struct sluice_error *err)
{
  struct sf_ctx *c = ctx;
  struct sf_count *k = calloc(1, sizeof *k);
  struct sluice_buf soql = SLUICE_BUF_INIT, path = SLUICE_BUF_INIT;
  struct sluice_buf q = SLUICE_BUF_INIT;
  int rc;

  (void)ins;
  if (k == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  k->done = done;
  k->arg = arg;
  rc = sluice_buf_printf(&soql, "SELECT COUNT() FROM %s", c->object);
  /* The filter narrows a source only. */
  if (rc == 0 && c->mode != NULL && c->filter != NULL && *c->filter != '\0')
    rc = sluice_buf_printf(&soql, " WHERE (%s)", c->filter);
  rc = rc ? rc : sf_api_base(c, &path);
  rc = rc ? rc : sluice_buf_append_str(&path, "/query?");
  /* A buffer of its own: appended to `path` it would start with '&'. */
  rc = rc ? rc : sluice_form_append(&q, "q", sluice_buf_cstr(&soql));
  rc = rc ? rc : sluice_buf_append(&path, q.data, q.len);
  if (rc < 0)
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  else
    rc = sf_api_get(c, sluice_buf_cstr(&path), NULL, 0, on_count, k, NULL, err);
  sluice_buf_free(&soql);
  sluice_buf_free(&path);
  sluice_buf_free(&q);
  if (rc < 0)
    free(k);
  return rc;
}
