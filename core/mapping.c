/* core/mapping.c - see mapping.h. */
#include <stdlib.h>
#include <string.h>

#include "../sdk/batch_internal.h"
#include "mapping.h"
#include "sluice/buf.h"
#include "sluice/convert.h"

struct mapping_col {
  long src;         /* source column, or -1 for a constant */
  int cast;         /* 1 when the value must be converted */
  json_t *constant; /* borrowed from the spec */
};

struct mapping {
  int identity;
  struct sluice_schema *in;
  struct sluice_schema *out;
  struct mapping_col *cols;
  size_t ncols;
  struct sluice_buf scratch;
};

int schema_equal(const struct sluice_schema *a, const struct sluice_schema *b)
{
  size_t n = sluice_schema_nfields(a);

  if (a == b)
    return 1;
  if (n != sluice_schema_nfields(b))
    return 0;
  for (size_t i = 0; i < n; i++) {
    const struct sluice_field *fa = sluice_schema_field(a, i);
    const struct sluice_field *fb = sluice_schema_field(b, i);
    if (fa->type != fb->type || strcmp(fa->name, fb->name) != 0 ||
        fa->scale != fb->scale || fa->precision != fb->precision)
      return 0;
  }
  return 1;
}

static int set_out_field(struct sluice_schema *out, size_t i, const char *name,
                         const struct sluice_field *src, json_t *type_j)
{
  enum sluice_type t = src ? src->type : SLUICE_TYPE_STRING;
  int prec = src ? src->precision : 0, scale = src ? src->scale : 0;
  int rc;

  if (type_j != NULL &&
      sluice_type_parse(json_string_value(type_j), &t, &prec, &scale) < 0)
    return SLUICE_EINVAL;
  if ((rc = sluice_schema_set(out, i, name, t)) < 0)
    return rc;
  /* The source's own type still describes the column unless cast. */
  if (type_j == NULL && src != NULL && src->origin != NULL &&
      (rc = sluice_schema_set_origin(out, i, src->origin)) < 0)
    return rc;
  if (t == SLUICE_TYPE_DECIMAL && (prec > 0 || scale > 0))
    return sluice_schema_set_decimal(out, i, prec < 0 ? 0 : prec,
                                     scale < 0 ? 0 : scale);
  return 0;
}

static int constant_type_of(json_t *v)
{
  if (json_is_integer(v))
    return SLUICE_TYPE_INT64;
  if (json_is_real(v))
    return SLUICE_TYPE_DOUBLE;
  if (json_is_boolean(v))
    return SLUICE_TYPE_BOOL;
  return SLUICE_TYPE_STRING;
}

static int check_unknown_fields(json_t *spec, const char *path,
                                struct sluice_schema *in,
                                struct sluice_error *err)
{
  const char *key;
  json_t *v;

  json_object_foreach(spec, key, v)
  {
    int is_constant = json_is_object(v) && json_object_get(v, "value");

    if (strcmp(key, "*") == 0)
      continue;
    if (sluice_schema_find(in, key) >= 0) {
      if (!is_constant)
        continue;
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "%s.%s: the source has a field '%s'; a constant "
                              "column needs a name of its own",
                              path, key, key);
    }
    if (is_constant)
      continue;
    const char *names[256];
    size_t n = sluice_schema_nfields(in);
    for (size_t i = 0; i < n && i < 256; i++)
      names[i] = sluice_schema_field(in, i)->name;
    const char *near = sluice_closest(key, names, n < 256 ? n : 256);
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "%s.%s: the source has no field '%s'%s%s%s", path,
                            key, key, near ? "; did you mean '" : "",
                            near ? near : "", near ? "'?" : "");
  }
  return 0;
}

int mapping_compile(json_t *spec, const char *path, struct sluice_schema *in,
                    struct mapping **out, struct sluice_error *err)
{
  struct mapping *m = calloc(1, sizeof *m);
  size_t nin = sluice_schema_nfields(in), n = 0;
  int drop_rest = spec && json_object_get(spec, "*") != NULL;
  const char *key;
  json_t *v;
  int rc;

  if (m == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  m->in = sluice_schema_ref(in);
  if (spec == NULL || json_object_size(spec) == 0) {
    m->identity = 1;
    m->out = sluice_schema_ref(in);
    *out = m;
    return 0;
  }
  if ((rc = check_unknown_fields(spec, path, in, err)) < 0)
    goto fail;
  m->cols = calloc(nin + json_object_size(spec), sizeof *m->cols);
  m->out = sluice_schema_new(nin + json_object_size(spec));
  if (m->cols == NULL || m->out == NULL) {
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < nin; i++) {
    const struct sluice_field *f = sluice_schema_field(in, i);
    json_t *rule = json_object_get(spec, f->name);
    const char *name = f->name;
    json_t *type_j = NULL;

    if (rule == NULL && drop_rest)
      continue;
    if (rule != NULL && json_is_null(rule))
      continue;
    if (json_is_string(rule))
      name = json_string_value(rule);
    else if (json_is_object(rule)) {
      if (json_is_string(json_object_get(rule, "to")))
        name = json_string_value(json_object_get(rule, "to"));
      type_j = json_object_get(rule, "type");
    }
    m->cols[n].src = (long)i;
    if ((rc = set_out_field(m->out, n, name, f, type_j)) < 0) {
      sluice_error_set(err, rc, 0, "%s.%s: bad type", path, f->name);
      goto fail;
    }
    m->cols[n].cast = sluice_schema_field(m->out, n)->type != f->type ||
                      sluice_schema_field(m->out, n)->scale != f->scale;
    n++;
  }
  json_object_foreach(spec, key, v)
  {
    json_t *c;
    if (!json_is_object(v) || (c = json_object_get(v, "value")) == NULL ||
        sluice_schema_find(in, key) >= 0)
      continue;
    struct sluice_field fake = {.type = (enum sluice_type)constant_type_of(c)};
    m->cols[n].src = -1;
    m->cols[n].constant = c;
    if ((rc = set_out_field(m->out, n, key, &fake,
                            json_object_get(v, "type"))) < 0) {
      sluice_error_set(err, rc, 0, "%s.%s: bad type", path, key);
      goto fail;
    }
    n++;
  }
  /* Shrink the schema to the columns kept. */
  struct sluice_schema *exact = sluice_schema_new(n);
  if (exact == NULL) {
    rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < n; i++) {
    const struct sluice_field *f = sluice_schema_field(m->out, i);
    for (size_t j = 0; j < i; j++)
      if (strcmp(sluice_schema_field(exact, j)->name, f->name) == 0) {
        sluice_schema_unref(exact);
        rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                              "%s: two columns would be named '%s'", path,
                              f->name);
        goto fail;
      }
    sluice_schema_set(exact, i, f->name, f->type);
    sluice_schema_set_origin(exact, i, f->origin);
    if (f->type == SLUICE_TYPE_DECIMAL)
      sluice_schema_set_decimal(exact, i, f->precision, f->scale);
  }
  sluice_schema_unref(m->out);
  m->out = exact;
  m->ncols = n;
  *out = m;
  return 0;
fail:
  mapping_free(m);
  return rc;
}

struct sluice_schema *mapping_output_schema(const struct mapping *m)
{
  return m->out;
}

int mapping_accepts(const struct mapping *m, const struct sluice_schema *in)
{
  return schema_equal(m->in, in);
}

/* Converts through canonical text, the one path every type pair shares;
 * the few pairs text cannot carry are handled first. */
static int cast_value(struct mapping *m, const struct sluice_value *v,
                      struct sluice_batch *b, size_t row, size_t col,
                      struct sluice_error *err)
{
  const struct sluice_field *f = sluice_schema_field(b->schema, col);

  if (v->type == SLUICE_TYPE_NULL)
    return 0;
  if (v->type == SLUICE_TYPE_TIMESTAMP && f->type == SLUICE_TYPE_DATE) {
    int64_t day_us = 86400LL * 1000000;
    int64_t q = v->u.ts_us / day_us - (v->u.ts_us % day_us < 0);
    return sluice_batch_set_date(b, row, col, (int32_t)q);
  }
  if (v->type == SLUICE_TYPE_BOOL && f->type == SLUICE_TYPE_INT64)
    return sluice_batch_set_int64(b, row, col, v->u.b);
  sluice_buf_reset(&m->scratch);
  if (sluice_value_format(v, &m->scratch) < 0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  return sluice_batch_set_text(b, row, col, f->type,
                               m->scratch.data ? m->scratch.data : "",
                               m->scratch.len, err);
}

static int set_constant(struct mapping *m, json_t *c, struct sluice_batch *b,
                        size_t row, size_t col, struct sluice_error *err)
{
  char num[64];

  if (json_is_null(c))
    return 0;
  if (json_is_string(c))
    return sluice_batch_set_text(
        b, row, col, sluice_schema_field(b->schema, col)->type,
        json_string_value(c), json_string_length(c), err);
  if (json_is_boolean(c))
    snprintf(num, sizeof num, "%s", json_is_true(c) ? "true" : "false");
  else if (json_is_integer(c))
    snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(c));
  else
    snprintf(num, sizeof num, "%.17g", json_real_value(c));
  (void)m;
  return sluice_batch_set_text(b, row, col,
                               sluice_schema_field(b->schema, col)->type, num,
                               strlen(num), err);
}

int mapping_apply(struct mapping *m, struct sluice_batch *in,
                  struct sluice_batch **out, struct sluice_error *err)
{
  struct sluice_batch *b;
  size_t nrows = in->nrows;
  int rc;

  if (m->identity) {
    *out = sluice_batch_ref(in);
    return 0;
  }
  b = sluice_batch_new(m->out, in->max_rows, in->max_bytes);
  if (b == NULL || sluice__batch_reserve(b, nrows) < 0) {
    sluice_batch_unref(b);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  /* Values that need no cast keep pointing into the input's arena. */
  sluice__batch_share_arena(b, in);
  memcpy(b->ops, in->ops, nrows);
  b->nrows = nrows;
  for (size_t r = 0; r < nrows; r++) {
    const struct sluice_value *src = &in->values[r * in->ncols];
    struct sluice_value *dst = &b->values[r * m->ncols];

    for (size_t c = 0; c < m->ncols; c++) {
      const struct mapping_col *mc = &m->cols[c];

      memset(&dst[c], 0, sizeof dst[c]);
      if (mc->src < 0)
        rc = set_constant(m, mc->constant, b, r, c, err);
      else if (mc->cast)
        rc = cast_value(m, &src[mc->src], b, r, c, err);
      else {
        dst[c] = src[mc->src];
        rc = 0;
      }
      if (rc < 0) {
        uint64_t first = sluice_batch_first_record(in);
        if (first > 0)
          sluice_error_prefix(err, "record %llu, column %s",
                              (unsigned long long)(first + r),
                              sluice_schema_field(m->out, c)->name);
        else
          sluice_error_prefix(err, "column %s",
                              sluice_schema_field(m->out, c)->name);
        sluice_batch_unref(b);
        return rc;
      }
    }
  }
  sluice_batch_set_checkpoint(b, sluice_batch_checkpoint(in));
  sluice_batch_set_first_record(b, sluice_batch_first_record(in));
  *out = b;
  return 0;
}

void mapping_free(struct mapping *m)
{
  if (m == NULL)
    return;
  sluice_schema_unref(m->in);
  sluice_schema_unref(m->out);
  sluice_buf_free(&m->scratch);
  free(m->cols);
  free(m);
}

/* The name the mapping gives source field `src` under `rule` (NULL: the
 * field is dropped); *constant set when the entry is a constant column. */
static const char *mapped_name(const char *src, json_t *rule, int *constant)
{
  *constant = 0;
  if (json_is_null(rule))
    return NULL;
  if (json_is_string(rule))
    return json_string_value(rule);
  if (json_is_object(rule)) {
    if (json_object_get(rule, "value") != NULL) {
      *constant = 1;
      return src;
    }
    if (json_is_string(json_object_get(rule, "to")))
      return json_string_value(json_object_get(rule, "to"));
  }
  return src;
}

static int strcase_eq(const char *a, const char *b)
{
  for (; *a && *b; a++, b++) {
    char x = *a >= 'a' && *a <= 'z' ? (char)(*a - 'a' + 'A') : *a;
    char y = *b >= 'a' && *b <= 'z' ? (char)(*b - 'a' + 'A') : *b;
    if (x != y)
      return 0;
  }
  return *a == *b;
}

int mapping_key_fields(json_t *spec, const struct sluice_strlist *keys,
                       char ***fields, json_t **key_spec,
                       struct sluice_error *err)
{
  char **out = calloc(keys->n + 1, sizeof *out);
  json_t *sub = json_object();
  int rc = 0;

  *fields = NULL;
  *key_spec = NULL;
  if (out == NULL || sub == NULL) {
    free(out);
    json_decref(sub);
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  for (size_t i = 0; i < keys->n && rc == 0; i++) {
    const char *k = keys->v[i], *src = NULL, *e;
    json_t *rule = NULL, *r;
    int constant;

    json_object_foreach(spec, e, r)
    {
      const char *name;
      if (strcmp(e, "*") == 0 ||
          (name = mapped_name(e, r, &constant)) == NULL || !strcase_eq(name, k))
        continue;
      if (constant) {
        rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                              "key column %s is a constant of the mapping: "
                              "the source has no keys to compare",
                              k);
        break;
      }
      src = e;
      rule = r;
      break;
    }
    if (rc < 0)
      break;
    if (src == NULL) {
      /* An unnamed field passes through under its own name, unless the
       * mapping renames or drops it, or drops every unnamed field. */
      json_t *own = NULL;
      json_object_foreach(spec, e, r)
      {
        if (strcase_eq(e, k))
          own = r;
      }
      if (own != NULL || json_object_get(spec, "*") != NULL) {
        rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                              "key column %s: no source field becomes it "
                              "(the mapping %s)",
                              k,
                              own != NULL ? "renames or drops the field"
                                          : "drops unnamed fields, \"*\"");
        break;
      }
      src = k;
    }
    for (size_t j = 0; j < i; j++)
      if (out[j] != NULL && strcmp(out[j], src) == 0)
        src = NULL; /* two key columns from one field: ask for it once */
    if (src == NULL)
      continue;
    if ((out[i] = strdup(src)) == NULL ||
        (rule != NULL && json_object_set(sub, src, rule) < 0))
      rc = sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  }
  if (rc < 0) {
    for (size_t i = 0; i < keys->n; i++)
      free(out[i]);
    free(out);
    json_decref(sub);
    return rc;
  }
  /* Compact: the NULL slots (repeated fields) removed. */
  size_t n = 0;
  for (size_t i = 0; i < keys->n; i++)
    if (out[i] != NULL)
      out[n++] = out[i];
  out[n] = NULL;
  *fields = out;
  if (json_object_size(sub) > 0)
    *key_spec = sub;
  else
    json_decref(sub);
  return 0;
}

void mapping_key_fields_free(char **fields)
{
  for (size_t i = 0; fields != NULL && fields[i] != NULL; i++)
    free(fields[i]);
  free(fields);
}
