/* plugins/csv-file/csv_file.h - the csv-file plugin's shared context.
 *
 * One ctx serves either role; the host binds the config keys of the role
 * the pipeline uses it in (see csv_plugin.c for the map). */
#ifndef SLUICE_CSV_FILE_H
#define SLUICE_CSV_FILE_H

#include <sluice/batch.h>
#include <sluice/buf.h>
#include <sluice/csv.h>
#include <sluice/host.h>
#include <sluice/plugin.h>

struct csv_source;
struct csv_dest;

struct csv_ctx {
  const struct sluice_host *host;
  struct sluice_instance *ins;

  /* config, bound by the host */
  const char *path;
  const char *delimiter;
  int header;
  struct sluice_strlist columns;
  const char *types; /* JSON object: column -> type */
  const char *null_value;
  const char *reject_file;
  int lenient_quotes;
  const char *compression; /* auto | none | gzip */
  const char *line_ending; /* lf | crlf */
  int64_t max_record_bytes;

  struct sluice_csv_options csv;
  struct csv_source *src;
  struct csv_dest *dst;
};

/* csv_common.c */
int csv_ctx_setup(struct csv_ctx *c, struct sluice_error *err);
/* Expands {pipeline}, {run_id} and {date} and makes the path absolute. */
char *csv_expand_path(struct csv_ctx *c, const char *tmpl);
/* With for_glob: the same as a glob(3) pattern matching every run's path
 * ({run_id} and {date} as '*', everything else escaped). */
char *csv_expand_path_as(struct csv_ctx *c, const char *tmpl, int for_glob);
/* The pipeline's name (instance_name up to its '/'). */
const char *csv_pipeline_name(struct csv_ctx *c, size_t *len);
int csv_wants_gzip(const struct csv_ctx *c, const char *path);
/* mkdir -p of the directories above path (errno set on failure). */
int csv_make_parent_dirs(const char *path);

/* csv_source.c */
int csv_source_start(struct sluice_instance *ins, void *ctx,
                     const char *checkpoint, struct sluice_error *err);
void csv_source_pause(struct sluice_instance *ins, void *ctx);
void csv_source_resume(struct sluice_instance *ins, void *ctx);
void csv_source_stop(struct sluice_instance *ins, void *ctx);
int csv_source_keys(struct sluice_instance *ins, void *ctx,
                    const struct sluice_strlist *fields,
                    struct sluice_error *err);
void csv_source_free(struct csv_ctx *c);

/* csv_dest.c */
int csv_dest_open(struct sluice_instance *ins, void *ctx,
                  struct sluice_schema *schema, sluice_done_cb done, void *arg,
                  struct sluice_error *err);
int csv_dest_write(struct sluice_instance *ins, void *ctx,
                   struct sluice_batch *batch, sluice_done_cb done, void *arg,
                   struct sluice_error *err);
int csv_dest_commit(struct sluice_instance *ins, void *ctx, sluice_done_cb done,
                    void *arg, struct sluice_error *err);
void csv_dest_free(struct csv_ctx *c);

#endif
