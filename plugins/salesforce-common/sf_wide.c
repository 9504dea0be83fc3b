/* plugins/salesforce-rest/sf_wide.c - objects too wide for one query.
 *
 * A GET's URI and headers must stay within 16,384 bytes (contract 2.1 and
 * 8): an object with hundreds of fields passes that with one SELECT.  Its
 * fields are then split into groups.  The first group (Id, SystemModstamp,
 * IsDeleted, then as many more as fit) is the query that pages, in cursor
 * order, under the filter and the cursor; every page of it is completed by
 * the other groups, asked for by Id (WHERE Id IN (...), at most
 * SF_WIDE_IDS Ids a request) and joined on Id.  Asking by Id rather than
 * paging each group in the same order keeps the join right when records
 * change between the queries.  A record the other groups no longer return
 * was deleted in between: it is left out of the page with a warning (its
 * deletion reaches the destination with include_deleted or hard_deletes,
 * as any deletion does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf.h"

/* URI budget: 16,384 bytes less room for the request line's method and
 * version and the headers (Host, a ~120-byte Bearer token, Accept,
 * User-Agent, Sforce-Query-Options, Accept-Encoding). */
#define SF_WIDE_PATH_MAX 15360
/* Ids a request of the other groups; an Id costs 27 bytes encoded. */
#define SF_WIDE_IDS 200

struct sf_wide {
  struct sf_ctx *c;
  struct sf_field **groups; /* groups[0] is the first query's */
  size_t *ngroup, ngroups;

  /* the fill under way */
  json_t *records;    /* the page, completed in place */
  json_t *index;      /* Id -> its position in records */
  unsigned char *got; /* per record: how many other groups returned it */
  size_t chunk;       /* first record of the Id chunk under way */
  size_t group;       /* 1 .. ngroups-1 */
  struct sf_api_call *call;
  sf_step_cb cb;
  void *arg;
};

/* The length of the first page's path for fields f. */
static int path_length(struct sf_ctx *c, const struct sf_field *f, size_t n,
                       int has_modstamp, int64_t since_us, size_t *len,
                       struct sluice_buf *soql, struct sluice_error *err)
{
  struct sluice_buf path = SLUICE_BUF_INIT;
  int rc;

  sluice_buf_reset(soql);
  if ((rc = sf_query_soql(c, f, n, has_modstamp, since_us, soql, err)) < 0)
    return rc;
  if (sf_query_first_path(c, sluice_buf_cstr(soql), &path) < 0) {
    sluice_buf_free(&path);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  *len = path.len;
  sluice_buf_free(&path);
  return 0;
}

/* The SOQL of one request of group g for the Ids of records[from, to). */
static int group_soql(struct sf_wide *w, size_t g, json_t *records, size_t from,
                      size_t to, struct sluice_buf *out)
{
  size_t i;
  int rc = sluice_buf_append_str(out, "SELECT Id");

  for (i = 0; i < w->ngroup[g] && rc == 0; i++)
    rc = sluice_buf_printf(out, ",%s", w->groups[g][i].name);
  if (rc == 0)
    rc = sluice_buf_printf(out, " FROM %s WHERE Id IN (", w->c->object);
  for (i = from; i < to && rc == 0; i++) {
    const char *id =
        json_string_value(json_object_get(json_array_get(records, i), "Id"));
    rc = sluice_buf_printf(out, "%s'%.18s'", i > from ? "," : "", id ? id : "");
  }
  if (rc == 0)
    rc = sluice_buf_append_str(out, ")");
  return rc;
}

static int is_required(const struct sf_field *f, int has_modstamp,
                       int include_deleted)
{
  return strcmp(f->name, "Id") == 0 ||
         (has_modstamp && strcmp(f->name, "SystemModstamp") == 0) ||
         (include_deleted && strcmp(f->name, "IsDeleted") == 0);
}

static int add_group(struct sf_wide *w, size_t cap)
{
  struct sf_field **g = realloc(w->groups, (w->ngroups + 1) * sizeof *g);
  size_t *n;

  if (g == NULL)
    return SLUICE_ENOMEM;
  w->groups = g;
  if ((n = realloc(w->ngroup, (w->ngroups + 1) * sizeof *n)) == NULL)
    return SLUICE_ENOMEM;
  w->ngroup = n;
  if ((g[w->ngroups] = calloc(cap, sizeof **g)) == NULL)
    return SLUICE_ENOMEM;
  n[w->ngroups++] = 0;
  return 0;
}

int sf_wide_plan(struct sf_ctx *c, const struct sf_field *f, size_t n,
                 int has_modstamp, int64_t since_us, struct sluice_buf *soql,
                 struct sf_wide **out, struct sluice_error *err)
{
  struct sf_wide *w;
  struct sluice_buf probe = SLUICE_BUF_INIT;
  size_t len, i, g;
  int rc;

  *out = NULL;
  if ((rc = path_length(c, f, n, has_modstamp, since_us, &len, soql, err)) < 0)
    return rc;
  if (len <= SF_WIDE_PATH_MAX)
    return 0; /* one query */
  if ((w = calloc(1, sizeof *w)) == NULL || add_group(w, n) < 0) {
    sf_wide_free(w);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  w->c = c;
  /* The first group: what the cursor and deletes need... */
  for (i = 0; i < n; i++)
    if (is_required(&f[i], has_modstamp, c->include_deleted))
      w->groups[0][w->ngroup[0]++] = f[i];
  rc = path_length(c, w->groups[0], w->ngroup[0], has_modstamp, since_us, &len,
                   soql, err);
  /* ...then fields while they fit (a name adds itself and "%2C"), then
   * the other groups, each sized for a full Id list. */
  g = 0;
  for (i = 0; i < n && rc == 0; i++) {
    size_t add = strlen(f[i].name) + 3;
    if (is_required(&f[i], has_modstamp, c->include_deleted))
      continue;
    if (len + add > SF_WIDE_PATH_MAX) {
      size_t k;
      json_t *fake = json_array();
      if (fake == NULL || add_group(w, n) < 0) {
        json_decref(fake);
        rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
        break;
      }
      g = w->ngroups - 1;
      for (k = 0; k < SF_WIDE_IDS; k++)
        json_array_append_new(fake,
                              json_pack("{s:s}", "Id", "001000000000000AAA"));
      sluice_buf_reset(&probe);
      sluice_buf_reset(soql);
      if (json_array_size(fake) != SF_WIDE_IDS ||
          group_soql(w, g, fake, 0, SF_WIDE_IDS, &probe) < 0 ||
          sf_query_first_path(c, sluice_buf_cstr(&probe), soql) < 0)
        rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
      len = soql->len;
      json_decref(fake);
      if (rc == 0 && len + add > SF_WIDE_PATH_MAX)
        rc = sluice_error_set(err, SLUICE_ENOTSUP, 0,
                              "%s: field %s alone does not fit in a query",
                              c->object, f[i].name);
    }
    if (rc == 0) {
      w->groups[g][w->ngroup[g]++] = f[i];
      len += add;
    }
  }
  if (rc == 0)
    rc = path_length(c, w->groups[0], w->ngroup[0], has_modstamp, since_us,
                     &len, soql, err);
  sluice_buf_free(&probe);
  if (rc < 0) {
    sf_wide_free(w);
    return rc;
  }
  SLUICE_LOG_I(c->host, c->ins,
               "%s: %zu fields pass the URI limit in one query: read in %zu "
               "queries joined on Id",
               c->object, n, w->ngroups);
  *out = w;
  return 0;
}

static void fill_clear(struct sf_wide *w)
{
  json_decref(w->index);
  w->index = NULL;
  free(w->got);
  w->got = NULL;
  w->records = NULL;
  w->cb = NULL;
}

static void fill_end(struct sf_wide *w, int status,
                     const struct sluice_error *err)
{
  sf_step_cb cb = w->cb;
  void *arg = w->arg;

  fill_clear(w);
  cb(arg, status, err);
}

/* An Id goes into the SOQL text: it must be one (15 or 18 letters and
 * digits), whatever the answer said. */
static int is_record_id(const char *id)
{
  size_t n = id ? strlen(id) : 0, i;

  if (n != 15 && n != 18)
    return 0;
  for (i = 0; i < n; i++)
    if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') ||
          (id[i] >= 'A' && id[i] <= 'Z')))
      return 0;
  return 1;
}

/* Every group has answered: records some group did not return go. */
static void fill_done(struct sf_wide *w)
{
  struct sf_ctx *c = w->c;
  size_t i = json_array_size(w->records);

  while (i-- > 0) {
    if (w->got[i] == w->ngroups - 1)
      continue;
    json_t *rec = json_array_get(w->records, i);
    const char *id = json_string_value(json_object_get(rec, "Id"));
    SLUICE_LOG_W(c->host, c->ins,
                 "%s: record %s was deleted while it was being read: left "
                 "out",
                 c->object, id ? id : "?");
    json_array_remove(w->records, i);
  }
  fill_end(w, 0, NULL);
}

static int request_next(struct sf_wide *w, const char *next,
                        struct sluice_error *err);

static void on_group(void *arg, int status, json_t *body,
                     const struct sluice_error *err)
{
  struct sf_wide *w = arg;
  struct sluice_error e = {0};
  json_t *recs = json_object_get(body, "records"), *r;
  const char *next = json_string_value(json_object_get(body, "nextRecordsUrl"));
  size_t i;
  int rc;

  w->call = NULL;
  if (status < 0) {
    fill_end(w, status, err);
    return;
  }
  if (!json_is_array(recs)) {
    sluice_error_set(&e, SLUICE_EPROTO, 0,
                     "%s: a query page without \"records\"", w->c->object);
    fill_end(w, e.code, &e);
    return;
  }
  json_array_foreach(recs, i, r)
  {
    const char *id = json_string_value(json_object_get(r, "Id"));
    json_t *pos = id ? json_object_get(w->index, id) : NULL;
    if (pos == NULL)
      continue; /* not asked for */
    size_t p = (size_t)json_integer_value(pos);
    if (json_object_update(json_array_get(w->records, p), r) < 0) {
      sluice_error_set(&e, SLUICE_ENOMEM, 0, "out of memory");
      fill_end(w, e.code, &e);
      return;
    }
    w->got[p]++;
  }
  if (json_is_true(json_object_get(body, "done")) || next == NULL) {
    next = NULL;
    if (++w->group == w->ngroups) {
      w->group = 1;
      w->chunk += SF_WIDE_IDS;
    }
    if (w->chunk >= json_array_size(w->records)) {
      fill_done(w);
      return;
    }
  }
  if ((rc = request_next(w, next, &e)) < 0)
    fill_end(w, rc, &e);
}

/* Asks for next (a group's further page), or else the group and Id chunk
 * under way. */
static int request_next(struct sf_wide *w, const char *next,
                        struct sluice_error *err)
{
  struct sf_ctx *c = w->c;
  struct sluice_buf soql = SLUICE_BUF_INIT, path = SLUICE_BUF_INIT;
  size_t to = w->chunk + SF_WIDE_IDS;
  int rc = 0;

  if (next != NULL) {
    if (strncmp(next, "/services/", 10) != 0)
      return sluice_error_set(err, SLUICE_EPROTO, 0,
                              "%s: nextRecordsUrl is not a /services/ path",
                              c->object);
    return sf_api_get(c, next, NULL, 0, on_group, w, &w->call, err);
  }
  if (to > json_array_size(w->records))
    to = json_array_size(w->records);
  if (group_soql(w, w->group, w->records, w->chunk, to, &soql) < 0 ||
      sf_query_first_path(c, sluice_buf_cstr(&soql), &path) < 0)
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  if (rc == 0)
    rc = sf_api_get(c, sluice_buf_cstr(&path), NULL, 0, on_group, w, &w->call,
                    err);
  sluice_buf_free(&soql);
  sluice_buf_free(&path);
  return rc;
}

int sf_wide_fill(struct sf_wide *w, json_t *records, sf_step_cb cb, void *arg,
                 struct sluice_error *err)
{
  size_t i, n = json_array_size(records);
  json_t *rec;
  int rc;

  w->records = records;
  w->cb = cb;
  w->arg = arg;
  w->chunk = 0;
  w->group = 1;
  w->index = json_object();
  w->got = calloc(n ? n : 1, 1);
  if (w->index == NULL || w->got == NULL) {
    fill_clear(w);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  json_array_foreach(records, i, rec)
  {
    const char *id = json_string_value(json_object_get(rec, "Id"));
    if (!is_record_id(id)) {
      fill_clear(w);
      return sluice_error_set(err, SLUICE_EPROTO, 0,
                              "%s: a query record without a valid Id",
                              w->c->object);
    }
    if (json_object_set_new(w->index, id, json_integer((json_int_t)i)) < 0) {
      fill_clear(w);
      return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    }
  }
  if ((rc = request_next(w, NULL, err)) < 0)
    fill_clear(w);
  return rc;
}

void sf_wide_cancel(struct sf_wide *w)
{
  if (w == NULL)
    return;
  if (w->call != NULL) {
    sf_api_cancel(w->call);
    w->call = NULL;
  }
  fill_clear(w);
}

void sf_wide_free(struct sf_wide *w)
{
  size_t i;

  if (w == NULL)
    return;
  sf_wide_cancel(w);
  for (i = 0; i < w->ngroups; i++)
    free(w->groups[i]);
  free(w->groups);
  free(w->ngroup);
  free(w);
}
