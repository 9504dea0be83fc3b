/* plugins/csv-file/csv_common.c - what both roles share. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "csv_file.h"

int csv_ctx_setup(struct csv_ctx *c, struct sluice_error *err)
{
  const char *d = c->delimiter;

  if (strcmp(d, "\\t") == 0 || strcmp(d, "tab") == 0)
    c->csv.delimiter = '\t';
  else if (strlen(d) == 1 && d[0] != '"' && d[0] != '\r' && d[0] != '\n')
    c->csv.delimiter = d[0];
  else
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "delimiter: '%s' must be one character (not a "
                            "quote or a line end), or \"\\t\"",
                            d);
  c->csv.quote = '"';
  c->csv.lenient_quotes = c->lenient_quotes;
  c->csv.max_record_bytes = (size_t)c->max_record_bytes;
  c->csv.line_ending =
      c->line_ending && strcmp(c->line_ending, "crlf") == 0 ? "\r\n" : "\n";
  return 0;
}

const char *csv_pipeline_name(struct csv_ctx *c, size_t *len)
{
  const char *name = c->host->instance_name(c->ins);
  const char *slash = strchr(name, '/');

  *len = slash ? (size_t)(slash - name) : strlen(name);
  return name;
}

static void append_literal(struct sluice_buf *b, const char *s, size_t n,
                           int for_glob)
{
  for (size_t i = 0; i < n; i++) {
    if (for_glob && strchr("*?[]\\", s[i]) != NULL)
      sluice_buf_append_char(b, '\\');
    sluice_buf_append_char(b, s[i]);
  }
}

char *csv_expand_path_as(struct csv_ctx *c, const char *tmpl, int for_glob)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  const char *p = tmpl;
  const char *base = c->host->base_dir(c->ins);

  if (tmpl[0] != '/') {
    append_literal(&b, base, strlen(base), for_glob);
    sluice_buf_append_char(&b, '/');
  }
  while (*p) {
    size_t len;
    if (strncmp(p, "{pipeline}", 10) == 0) {
      const char *name = csv_pipeline_name(c, &len);
      append_literal(&b, name, len, for_glob);
      p += 10;
    } else if (strncmp(p, "{run_id}", 8) == 0) {
      if (for_glob)
        sluice_buf_append_char(&b, '*');
      else
        sluice_buf_append_str(&b, c->host->run_id(c->ins));
      p += 8;
    } else if (strncmp(p, "{date}", 6) == 0) {
      time_t now = time(NULL);
      struct tm tm;
      char day[16];
      gmtime_r(&now, &tm);
      strftime(day, sizeof day, "%Y-%m-%d", &tm);
      sluice_buf_append_str(&b, for_glob ? "*" : day);
      p += 6;
    } else {
      append_literal(&b, p++, 1, for_glob);
    }
  }
  return b.data;
}

char *csv_expand_path(struct csv_ctx *c, const char *tmpl)
{
  return csv_expand_path_as(c, tmpl, 0);
}

int csv_wants_gzip(const struct csv_ctx *c, const char *path)
{
  size_t n = strlen(path);

  if (strcmp(c->compression, "gzip") == 0)
    return 1;
  if (strcmp(c->compression, "none") == 0)
    return 0;
  return n > 3 && strcmp(path + n - 3, ".gz") == 0;
}

int csv_make_parent_dirs(const char *path)
{
  char *copy = strdup(path);
  int rc = 0;

  if (copy == NULL)
    return -1;
  /* Each prefix ending before a '/', shortest first: mkdir -p. */
  for (char *p = copy + 1; *p && rc == 0; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(copy, 0777) != 0 && errno != EEXIST)
      rc = -1;
    *p = '/';
  }
  free(copy);
  return rc;
}
