/* core/status.c - `sluice status FILE`: per pipeline of the file, its last
 * run, its checkpoint as saved now, and when its schedule runs it next.
 *
 * Without a file only runs.jsonl is known, and runlog's table is printed
 * instead (main.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "pipeline.h"
#include "runlog.h"
#include "schedule.h"
#include "state.h"
#include "status.h"

/* The last run (sweep 0) or delete sweep (sweep 1) of pipeline name. */
static const struct run_record *last_of(const struct run_record *recs, size_t n,
                                        const char *name, int sweep)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp(recs[i].pipeline, name) == 0 && recs[i].sweep == sweep)
      return &recs[i];
  return NULL;
}

/* The saved checkpoint of pipeline p (malloc'd text), or NULL. */
static char *saved_checkpoint(const struct pipeline_file *pf,
                              const struct pipeline *p)
{
  char path[4096];
  char *data = NULL;
  size_t len = 0;
  struct sluice_error err = {0};

  json_t *j;
  char *inner = NULL;

  snprintf(path, sizeof path, "%s/%s.checkpoint.json", pf->state_dir, p->name);
  if (state_read_file(path, &data, &len, &err) < 0)
    return NULL;
  /* {"version", "pipeline", "run_id", "checkpoint": "<the source's>"} */
  j = json_loadb(data, len, 0, NULL);
  if (json_is_string(json_object_get(j, "checkpoint")))
    inner = strdup(json_string_value(json_object_get(j, "checkpoint")));
  json_decref(j);
  free(data);
  return inner;
}

static void iso_utc(int64_t s, char *out, size_t outlen)
{
  time_t t = (time_t)s;
  struct tm tm;

  gmtime_r(&t, &tm);
  strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "2026-11-23T06:15:00Z", "not scheduled", "disabled", by schedule sc. */
static void next_run(const struct pipeline *p, const struct schedule *sc,
                     const struct run_record *last, int64_t now, char *out,
                     size_t outlen, int64_t *when)
{
  *when = -1;
  if (!p->enabled) {
    snprintf(out, outlen, "disabled");
    return;
  }
  if (sc->kind == SCHEDULE_NONE) {
    snprintf(out, outlen, "not scheduled");
    return;
  }
  *when = schedule_next(sc, last ? last->start_us / 1000000 : (int64_t)-1, now);
  if (*when < 0)
    snprintf(out, outlen, "never");
  else
    iso_utc(*when, out, outlen);
}

static json_t *pipeline_json(const struct pipeline_file *pf,
                             const struct pipeline *p,
                             const struct run_record *last,
                             const struct run_record *sweep, int64_t now)
{
  char next[64], *cp = saved_checkpoint(pf, p);
  json_t *j = json_object(), *cpj;
  int64_t when;

  next_run(p, &p->schedule, last, now, next, sizeof next, &when);
  json_object_set_new(j, "pipeline", json_string(p->name));
  json_object_set_new(j, "last_run",
                      last ? runlog_record_to_json(last) : json_null());
  cpj = cp ? json_loads(cp, 0, NULL) : NULL;
  json_object_set_new(j, "checkpoint",
                      cpj ? cpj : (cp ? json_string(cp) : json_null()));
  json_object_set_new(j, "next_run",
                      when >= 0 ? json_string(next) : json_null());
  json_object_set_new(j, "schedule", json_string(next));
  if (p->reconcile_deletes.kind != SCHEDULE_NONE || sweep != NULL) {
    json_t *sj = json_object();
    next_run(p, &p->reconcile_deletes, sweep, now, next, sizeof next, &when);
    json_object_set_new(sj, "next_run",
                        when >= 0 ? json_string(next) : json_null());
    json_object_set_new(sj, "last_run",
                        sweep ? runlog_record_to_json(sweep) : json_null());
    json_object_set_new(j, "delete_sweep", sj);
  }
  free(cp);
  return j;
}

/* One line of text, at most max bytes, "..." when cut. */
static void cut(const char *s, char *out, size_t max)
{
  size_t n = strlen(s);

  if (n < max) {
    memcpy(out, s, n + 1);
    return;
  }
  memcpy(out, s, max - 4);
  memcpy(out + max - 4, "...", 4);
}

int status_print(FILE *out, const struct pipeline_file *pf,
                 const struct run_record *recs, size_t n, int as_json)
{
  int64_t now = (int64_t)time(NULL);

  if (as_json) {
    json_t *a = json_array();
    for (size_t i = 0; i < pf->n; i++)
      json_array_append_new(
          a, pipeline_json(pf, &pf->v[i], last_of(recs, n, pf->v[i].name, 0),
                           last_of(recs, n, pf->v[i].name, 1), now));
    json_dumpf(a, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(a);
    return ferror(out) ? -1 : 0;
  }
  for (size_t i = 0; i < pf->n; i++) {
    const struct pipeline *p = &pf->v[i];
    const struct run_record *last = last_of(recs, n, p->name, 0);
    const struct run_record *sweep = last_of(recs, n, p->name, 1);
    char next[64], started[64], shown[100], *cp = saved_checkpoint(pf, p);
    int64_t when;

    next_run(p, &p->schedule, last, now, next, sizeof next, &when);
    fprintf(out, "%s\n", p->name);
    if (last == NULL) {
      fprintf(out, "  last run    never\n");
    } else {
      iso_utc(last->start_us / 1000000, started, sizeof started);
      fprintf(out,
              "  last run    %s  %s, %.1fs: %" PRIu64 " read, %" PRIu64
              " written, %" PRIu64 " rejected, %" PRIu64 " deleted, %" PRIu64
              " API calls\n",
              run_status_name(last->status), started,
              (double)(last->end_us - last->start_us) / 1e6, last->rows_read,
              last->rows_written, last->rows_rejected, last->rows_deleted,
              last->api_calls);
      if (last->error != NULL) {
        cut(last->error, shown, sizeof shown);
        fprintf(out, "  error       %s\n", shown);
      }
      for (const char *w = last->warnings; w != NULL && *w != '\0';) {
        const char *nl = strchr(w, '\n');
        int len = nl ? (int)(nl - w) : (int)strlen(w);
        fprintf(out, "  warning     %.*s\n", len > 200 ? 200 : len, w);
        w += len + (nl != NULL);
      }
    }
    cut(cp ? cp : "none (the next run starts from the beginning)", shown,
        sizeof shown);
    fprintf(out, "  checkpoint  %s\n", shown);
    fprintf(out, "  next run    %s%s\n", next,
            when >= 0 && when <= now ? " (due)" : "");
    if (p->reconcile_deletes.kind != SCHEDULE_NONE || sweep != NULL) {
      if (sweep == NULL) {
        fprintf(out, "  last sweep  never\n");
      } else {
        iso_utc(sweep->start_us / 1000000, started, sizeof started);
        fprintf(out,
                "  last sweep  %s  %s, %.1fs: %" PRIu64 " keys read, %" PRIu64
                " flagged deleted\n",
                run_status_name(sweep->status), started,
                (double)(sweep->end_us - sweep->start_us) / 1e6,
                sweep->rows_read, sweep->rows_flagged);
        if (sweep->error != NULL) {
          cut(sweep->error, shown, sizeof shown);
          fprintf(out, "  error       %s\n", shown);
        }
      }
      next_run(p, &p->reconcile_deletes, sweep, now, next, sizeof next, &when);
      fprintf(out, "  next sweep  %s%s\n", next,
              when >= 0 && when <= now ? " (due)" : "");
    }
    free(cp);
  }
  return ferror(out) ? -1 : 0;
}
