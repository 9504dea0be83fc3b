/* plugins/csv-file/csv_convert.c - stage 2 of the csv-file source: turn a
 * chunk's text into the declared types (a work function: no host calls).
 *
 * A value that does not convert rejects its whole row, with the file, the
 * line and the field, as the reader rejects rows that are not CSV. */
#include <stdio.h>
#include <string.h>

#include <sluice/convert.h>

#include "csv_source.h"

/* The row as CSV again, for the reject file (the text is all that is left
 * of it). */
static void row_text(const struct csv_source *s, const struct sluice_batch *b,
                     size_t row, struct sluice_buf *out)
{
  for (size_t i = 0; i < s->ncols; i++) {
    const struct sluice_value *v = sluice_batch_value(b, row, i);
    if (i > 0)
      sluice_buf_append_char(out, s->c->csv.delimiter);
    if (v->type == SLUICE_TYPE_NULL)
      sluice_buf_append_str(out, s->c->null_value);
    else if (v->len == 0)
      sluice_buf_append(out, "\"\"", 2);
    else
      sluice_csv_write_field(out, v->u.str, v->len, &s->c->csv);
  }
}

static int reject_row(struct csv_source *s, struct csv_chunk *k, size_t row,
                      size_t col, const struct sluice_error *err)
{
  struct sluice_buf raw = SLUICE_BUF_INIT;
  char reason[SLUICE_ERROR_MSG_MAX + 128];
  int rc;

  snprintf(reason, sizeof reason, "line %llu, field %zu (%s): %s",
           (unsigned long long)k->lines[row], col + 1,
           sluice_schema_field(s->schema, col)->name,
           err->message[0] ? err->message : "out of memory");
  row_text(s, k->text, row, &raw);
  rc = csv_reject(s, k, k->file, k->lines[row], raw.data ? raw.data : "",
                  raw.len, reason);
  sluice_buf_free(&raw);
  return rc;
}

/* 0, or < 0 when the row had a value that does not convert. */
static int convert_row(struct csv_source *s, struct sluice_batch *out,
                       const struct sluice_batch *text, size_t row,
                       size_t *bad_col, struct sluice_error *err)
{
  size_t orow;

  if (sluice_batch_add_row(out, SLUICE_OP_UPSERT, &orow) < 0)
    return sluice_error_set(err, SLUICE_ENOMEM, 0, "out of memory");
  for (size_t i = 0; i < s->ncols; i++) {
    const struct sluice_value *v = sluice_batch_value(text, row, i);
    int rc;

    if (v->type == SLUICE_TYPE_NULL)
      continue;
    if (s->types[i].type == SLUICE_TYPE_STRING)
      rc = sluice_batch_set_string(out, orow, i, v->u.str, v->len);
    else
      rc = sluice_batch_set_text(out, orow, i, s->types[i].type, v->u.str,
                                 v->len, err);
    if (rc < 0) {
      sluice_batch_drop_last_row(out);
      *bad_col = i;
      return rc;
    }
  }
  return 0;
}

void csv_convert_chunk(void *arg)
{
  struct csv_chunk *k = arg;
  struct csv_source *s = k->s;
  size_t nrows = sluice_batch_nrows(k->text);
  struct sluice_batch *out;

  out = sluice_batch_new(s->schema, s->max_rows, s->max_bytes);
  if (out == NULL) {
    csv_chunk_fail(s, k, SLUICE_ENOMEM, "out of memory");
    return;
  }
  for (size_t r = 0; r < nrows && k->status == 0; r++) {
    struct sluice_error err = {0};
    size_t bad_col = 0;
    if (convert_row(s, out, k->text, r, &bad_col, &err) < 0) {
      if (err.code == SLUICE_ENOMEM)
        csv_chunk_fail(s, k, SLUICE_ENOMEM, "out of memory");
      else
        reject_row(s, k, r, bad_col, &err);
    }
  }
  sluice_batch_set_first_record(out, sluice_batch_first_record(k->text));
  if (k->status == 0 &&
      sluice_batch_set_checkpoint(out, sluice_batch_checkpoint(k->text)) < 0)
    csv_chunk_fail(s, k, SLUICE_ENOMEM, "out of memory");
  pthread_mutex_lock(&s->reject_lock);
  if (s->reject != NULL)
    fflush(s->reject);
  pthread_mutex_unlock(&s->reject_lock);
  k->out = out;
  /* The text is not needed any more: give its memory back now rather than
   * when the batch is emitted (bounded memory is the point). */
  sluice_batch_unref(k->text);
  k->text = NULL;
}
