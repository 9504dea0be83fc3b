/* plugins/snowflake-stage/sfs_copyres.c - reading the result of one COPY
 * INTO (contract 4.3): rowType names are lower-case (file, status,
 * rows_parsed, rows_loaded, ..., first_error_column_name), one row a file.
 * Apart from the loop so that tests/fuzz/fuzz_copy.c can feed it anything:
 * the body comes from the network. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sfs.h"

/* The index of the rowType column named name, or -1. */
static long column_index(json_t *body, const char *name)
{
  json_t *rt = json_object_get(json_object_get(body, "resultSetMetaData"),
                               "rowType"),
         *col;
  size_t i;

  json_array_foreach(rt, i, col)
  {
    const char *n = json_string_value(json_object_get(col, "name"));
    if (n != NULL && strcasecmp(n, name) == 0)
      return (long)i;
  }
  return -1;
}

static const char *cell(json_t *row, long i)
{
  const char *v =
      i < 0 ? NULL : json_string_value(json_array_get(row, (size_t)i));
  return v ? v : "";
}

/* A count of rows: digits only, at most INT64_MAX / 2 (so that summing
 * a statement's files cannot overflow either). */
static int parse_count(const char *s, int64_t *out)
{
  int64_t v = 0;

  if (*s == '\0')
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (INT64_MAX / 2 - 9) / 10)
      return -1;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return 0;
}

int sfs_copy_result(json_t *body, const char *table, const char *stage,
                    const char *rel, int64_t *loaded, struct sluice_error *err)
{
  json_t *data = json_object_get(body, "data"), *row;
  long ifile, istatus, iloaded, ierr, iline, ichar, icol;
  size_t i;
  int64_t n;

  ifile = column_index(body, "file");
  istatus = column_index(body, "status");
  iloaded = column_index(body, "rows_loaded");
  ierr = column_index(body, "first_error");
  iline = column_index(body, "first_error_line");
  ichar = column_index(body, "first_error_character");
  icol = column_index(body, "first_error_column_name");
  if (ifile < 0 || iloaded < 0 || !json_is_array(data))
    /* "Copy executed with 0 files processed.": the files were loaded
     * into this table before, which a fresh staging table never has. */
    return sluice_error_set(
        err, SLUICE_EPROTO, 0,
        "COPY INTO %s from @%s/%s loaded no file (%.200s): the files of this "
        "commit were not found or were loaded before",
        table, stage, rel, cell(json_array_get(data, 0), 0));
  json_array_foreach(data, i, row)
  {
    if (strcmp(cell(row, istatus), "LOADED") != 0)
      return sluice_error_set(
          err, SLUICE_EDATA, 0,
          "COPY INTO %s: file %.300s: %.40s: %.400s (line %.20s, character "
          "%.20s, column %.200s)",
          table, cell(row, ifile), cell(row, istatus), cell(row, ierr),
          cell(row, iline), cell(row, ichar), cell(row, icol));
    if (parse_count(cell(row, iloaded), &n) < 0 || n > INT64_MAX / 2 - *loaded)
      return sluice_error_set(err, SLUICE_EPROTO, 0,
                              "COPY INTO %s: file %.300s: rows_loaded "
                              "'%.40s' is not a count of rows",
                              table, cell(row, ifile), cell(row, iloaded));
    *loaded += n;
  }
  return 0;
}
