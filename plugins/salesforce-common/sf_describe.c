/* plugins/salesforce-rest/sf_describe.c - from an sObject describe to the
 * fields to select and their sluice types (contract sections 2.2 and 7). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sluice/convert.h>
#include <sluice/quote.h>

#include "sf.h"

/* Describe "type" -> sluice type (contract section 7).  Numbers with a
 * declared precision are exact DECIMALs with the field's scale. */
void sf_describe_map_type(const char *t, int precision, int scale,
                          struct sf_field *f)
{
  f->type = SLUICE_TYPE_STRING;
  f->precision = f->scale = 0;
  if (strcmp(t, "boolean") == 0)
    f->type = SLUICE_TYPE_BOOL;
  else if (strcmp(t, "int") == 0 || strcmp(t, "long") == 0)
    f->type = SLUICE_TYPE_INT64;
  else if (strcmp(t, "double") == 0 || strcmp(t, "currency") == 0 ||
           strcmp(t, "percent") == 0) {
    if (precision > 0 && scale >= 0 && scale <= precision) {
      f->type = SLUICE_TYPE_DECIMAL;
      f->precision = precision;
      f->scale = scale;
    } else {
      f->type = SLUICE_TYPE_DOUBLE; /* no declared precision to keep */
    }
  } else if (strcmp(t, "date") == 0)
    f->type = SLUICE_TYPE_DATE;
  else if (strcmp(t, "datetime") == 0)
    f->type = SLUICE_TYPE_TIMESTAMP;
  else if (strcmp(t, "time") == 0)
    f->type = SLUICE_TYPE_TIME;
  /* id, reference, string, textarea, picklist, multipicklist, combobox,
   * email, phone, url, encryptedstring, anyType, base64 (a URL in REST),
   * address/location (as JSON text): STRING */
}

/* Which fields are read when none are named (contract 7): base64 ones
 * never (REST gives a URL to the blob, not the bytes).  A compound field
 * (address, location) and its components (BillingCity... whose describe
 * names the compound in compoundFieldName) carry the same values, so one
 * side is read, by compound_fields: "flatten" the components, "json" the
 * compound as one JSON text, "skip" neither. */
static int selected_by_default(const struct sf_ctx *c, json_t *fd)
{
  const char *t = json_string_value(json_object_get(fd, "type"));
  int compound, component;

  if (t == NULL || strcmp(t, "base64") == 0)
    return 0;
  compound = strcmp(t, "address") == 0 || strcmp(t, "location") == 0;
  component = json_is_string(json_object_get(fd, "compoundFieldName"));
  if (strcmp(c->compound_fields, "json") == 0)
    return !component;
  if (strcmp(c->compound_fields, "skip") == 0)
    return !compound && !component;
  return !compound; /* flatten */
}

static json_t *find_field(json_t *fields, const char *name)
{
  size_t i;
  json_t *fd;

  json_array_foreach(fields, i, fd)
  {
    const char *n = json_string_value(json_object_get(fd, "name"));
    if (n != NULL && strcasecmp(n, name) == 0)
      return fd;
  }
  return NULL;
}

static int add_field(struct sf_field *v, size_t *n, json_t *fd)
{
  const char *name = json_string_value(json_object_get(fd, "name"));
  const char *type = json_string_value(json_object_get(fd, "type"));
  size_t i;

  if (name == NULL || type == NULL)
    return 0;
  for (i = 0; i < *n; i++)
    if (strcmp(v[i].name, name) == 0)
      return 0; /* named twice: selected once */
  v[*n].name = strdup(name);
  v[*n].sf_type = strdup(type);
  if (v[*n].name == NULL || v[*n].sf_type == NULL) {
    free(v[*n].name);
    free(v[*n].sf_type);
    return SLUICE_ENOMEM;
  }
  sf_describe_map_type(
      type, (int)json_integer_value(json_object_get(fd, "precision")),
      (int)json_integer_value(json_object_get(fd, "scale")), &v[*n]);
  (*n)++;
  return 0;
}

static int unknown_fields(struct sf_ctx *c, json_t *fields,
                          struct sluice_error *err)
{
  struct sluice_buf msg = SLUICE_BUF_INIT;
  const char **names;
  size_t i, j, nnames = json_array_size(fields), bad = 0;
  json_t *fd;

  names = calloc(nnames + 1, sizeof *names);
  if (names != NULL) {
    json_array_foreach(fields, j, fd)
    {
      names[j] = json_string_value(json_object_get(fd, "name"));
      if (names[j] == NULL)
        names[j] = "";
    }
  }
  for (i = 0; i < c->fields.n; i++) {
    const char *f = c->fields.v[i];
    if (find_field(fields, f) != NULL)
      continue;
    const char *near = names ? sluice_closest(f, names, nnames) : NULL;
    sluice_buf_printf(&msg, "%s%s", bad++ ? ", " : "", f);
    if (near != NULL)
      sluice_buf_printf(&msg, " (did you mean %s?)", near);
  }
  free(names);
  if (bad == 0) {
    sluice_buf_free(&msg);
    return 0;
  }
  sluice_error_set(err, SLUICE_ENOTFOUND, 0, "%s: no such field%s: %s",
                   c->object, bad > 1 ? "s" : "", sluice_buf_cstr(&msg));
  sluice_buf_free(&msg);
  return SLUICE_ENOTFOUND;
}

int sf_describe_fields(struct sf_ctx *c, json_t *describe,
                       struct sf_field **out, size_t *nout, int *has_modstamp,
                       struct sluice_error *err)
{
  json_t *fields = json_object_get(describe, "fields"), *fd;
  struct sf_field *v;
  size_t n = 0, i;
  int rc = 0;
  static const char *const extra[] = {"Id", "SystemModstamp", "IsDeleted"};

  if (!json_is_array(fields))
    return sluice_error_set(err, SLUICE_EPROTO, 0,
                            "%s describe: no \"fields\" array", c->object);
  if ((rc = unknown_fields(c, fields, err)) < 0)
    return rc;
  *has_modstamp = find_field(fields, "SystemModstamp") != NULL;
  if (strcmp(c->mode, "incremental") == 0 && !*has_modstamp)
    return sluice_error_set(err, SLUICE_ENOTSUP, 0,
                            "%s has no SystemModstamp: mode incremental "
                            "needs it",
                            c->object);
  if (c->include_deleted && find_field(fields, "IsDeleted") == NULL)
    return sluice_error_set(err, SLUICE_ENOTSUP, 0,
                            "%s has no IsDeleted: include_deleted needs it",
                            c->object);
  v = calloc(json_array_size(fields) + c->fields.n + 3, sizeof *v);
  if (v == NULL)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  if (c->fields.n > 0) {
    for (i = 0; i < c->fields.n && rc == 0; i++)
      rc = add_field(v, &n, find_field(fields, c->fields.v[i]));
  } else {
    json_array_foreach(fields, i, fd)
    {
      if (rc == 0 && selected_by_default(c, fd))
        rc = add_field(v, &n, fd);
    }
  }
  /* What the query and its checkpoint need, when not chosen already. */
  for (i = 0; i < 3 && rc == 0; i++) {
    if (i == 1 && !*has_modstamp)
      continue;
    if (i == 2 && !c->include_deleted)
      continue;
    if ((fd = find_field(fields, extra[i])) != NULL)
      rc = add_field(v, &n, fd);
  }
  for (i = 0; i < n && rc == 0; i++)
    if (!sluice_soql_is_identifier(v[i].name))
      rc = sluice_error_set(err, SLUICE_EPROTO, 0,
                            "%s describe: '%s' is not a field name", c->object,
                            v[i].name);
  if (rc < 0) {
    if (rc == SLUICE_ENOMEM)
      sluice_error_set(err, rc, 0, "out of memory");
    sf_fields_free(v, n);
    return rc;
  }
  *out = v;
  *nout = n;
  return 0;
}

struct sluice_schema *sf_describe_schema(const struct sf_field *f, size_t n)
{
  struct sluice_schema *s = sluice_schema_new(n);
  size_t i;

  if (s == NULL)
    return NULL;
  for (i = 0; i < n; i++) {
    char origin[64];
    snprintf(origin, sizeof origin, "salesforce:%s", f[i].sf_type);
    if (sluice_schema_set(s, i, f[i].name, f[i].type) < 0 ||
        sluice_schema_set_origin(s, i, origin) < 0 ||
        (f[i].type == SLUICE_TYPE_DECIMAL &&
         sluice_schema_set_decimal(s, i, f[i].precision, f[i].scale) < 0)) {
      sluice_schema_unref(s);
      return NULL;
    }
  }
  return s;
}

void sf_fields_free(struct sf_field *f, size_t n)
{
  size_t i;

  if (f == NULL)
    return;
  for (i = 0; i < n; i++) {
    free(f[i].name);
    free(f[i].sf_type);
  }
  free(f);
}
