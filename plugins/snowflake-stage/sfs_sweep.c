/* plugins/snowflake-stage/sfs_sweep.c - deleting the objects a killed run
 * left under its prefix: one listing (ListObjectsV2, up to 1000 keys: a
 * run's files), then one DELETE at a time, in the background.  Nothing can
 * load those files again (every COPY names its own run's files), so a
 * failure here only warns. */
#include <stdlib.h>
#include <string.h>

#include "sfs.h"

struct sfs_sweep {
  struct sfs_ctx *s;
  char *body; /* the listing */
  size_t len, pos;
  struct sfs_s3_req *req;
  void (*done)(void *arg);
  void *arg;
};

static void finish(struct sfs_sweep *w)
{
  void (*done)(void *arg) = w->done;
  void *arg = w->arg;

  free(w->body);
  free(w);
  done(arg);
}

static void warn(struct sfs_sweep *w, const char *what)
{
  struct sfk_ctx *c = &w->s->k;
  SLUICE_LOG_W(c->host, c->ins, "the staged files an earlier run left: %s",
               what);
}

static void delete_next(struct sfs_sweep *w);

static void on_deleted(void *arg, int status, const struct sluice_error *err)
{
  struct sfs_sweep *w = arg;

  w->req = NULL;
  if (status < 0) {
    warn(w, err->message);
    finish(w);
    return;
  }
  delete_next(w);
}

static void delete_next(struct sfs_sweep *w)
{
  struct sluice_error e = {0};
  char key[1024];

  if (sfs_s3_next_key(w->body, w->len, &w->pos, key, sizeof key)) {
    if (sfs_s3_delete(w->s, key, on_deleted, w, &w->req, &e) == 0)
      return;
    warn(w, e.message);
  }
  finish(w);
}

static void on_listed(void *arg, int status, const char *body, size_t len,
                      const struct sluice_error *err)
{
  struct sfs_sweep *w = arg;
  struct sfk_ctx *c = &w->s->k;

  w->req = NULL;
  if (status < 0) {
    warn(w, err->message);
    finish(w);
    return;
  }
  if ((w->body = malloc(len + 1)) == NULL) {
    finish(w);
    return;
  }
  memcpy(w->body, body, len);
  w->body[len] = '\0';
  w->len = len;
  SLUICE_LOG_I(c->host, c->ins,
               "deleting the staged files an earlier run left behind");
  delete_next(w);
}

struct sfs_sweep *sfs_sweep_start(struct sfs_ctx *s, const char *prefix,
                                  void (*done)(void *arg), void *arg)
{
  struct sfs_sweep *w = calloc(1, sizeof *w);
  struct sluice_error e = {0};

  if (w == NULL)
    return NULL;
  w->s = s;
  w->done = done;
  w->arg = arg;
  if (sfs_s3_list(s, prefix, on_listed, w, &w->req, &e) < 0) {
    warn(w, e.message);
    free(w);
    return NULL;
  }
  return w;
}

void sfs_sweep_cancel(struct sfs_sweep *w)
{
  if (w == NULL)
    return;
  if (w->req != NULL)
    sfs_s3_cancel(w->req); /* its callback is not called */
  free(w->body);
  free(w);
}
