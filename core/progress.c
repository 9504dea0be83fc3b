/* core/progress.c - one updating line per running pipeline on a terminal.
 *
 * Only when stderr is a TTY, the log is text and not --quiet: otherwise
 * the log lines say what happens and nothing here runs.  The lines are
 * redrawn every second; a log line first erases them (log.c calls
 * progress_erase), and the next tick draws them again below it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "log.h"
#include "progress.h"

struct item {
  struct item *next;
  char *name;
  uint64_t read, written, expected;
  uint64_t start_ms;
};

static struct {
  int enabled;
  uv_timer_t timer;
  int timer_on;
  struct item *items;
  int drawn; /* lines on screen now */
} pg;

static void redraw(uv_timer_t *t);

void progress_setup(uv_loop_t *loop, int wanted)
{
  pg.enabled = wanted && isatty(STDERR_FILENO);
  if (!pg.enabled)
    return;
  uv_timer_init(loop, &pg.timer);
  uv_timer_start(&pg.timer, redraw, 1000, 1000);
  uv_unref((uv_handle_t *)&pg.timer); /* never keeps the loop alive */
  pg.timer_on = 1;
  log_set_erase_hook(progress_erase);
}

static struct item *item_of(const char *name)
{
  struct item *it;

  for (it = pg.items; it != NULL; it = it->next)
    if (strcmp(it->name, name) == 0)
      return it;
  return NULL;
}

void progress_start(const char *pipeline, uint64_t now_ms)
{
  struct item *it;

  if (!pg.enabled)
    return;
  if ((it = item_of(pipeline)) == NULL) {
    if ((it = calloc(1, sizeof *it)) == NULL ||
        (it->name = strdup(pipeline)) == NULL) {
      free(it);
      return;
    }
    it->next = pg.items;
    pg.items = it;
  }
  it->read = it->written = it->expected = 0;
  it->start_ms = now_ms;
}

void progress_update(const char *pipeline, uint64_t read, uint64_t written,
                     uint64_t expected)
{
  struct item *it;

  if (!pg.enabled || (it = item_of(pipeline)) == NULL)
    return;
  it->read = read;
  it->written = written;
  it->expected = expected;
}

void progress_end(const char *pipeline)
{
  struct item **p, *it;

  if (!pg.enabled)
    return;
  progress_erase();
  for (p = &pg.items; (it = *p) != NULL; p = &it->next)
    if (strcmp(it->name, pipeline) == 0) {
      *p = it->next;
      free(it->name);
      free(it);
      return;
    }
}

void progress_erase(void)
{
  /* Up one line and clear it, for each line drawn. */
  for (; pg.drawn > 0; pg.drawn--)
    fputs("\033[1A\r\033[2K", stderr);
  fflush(stderr);
}

static void redraw(uv_timer_t *t)
{
  uint64_t now = uv_now(t->loop);
  struct item *it;

  progress_erase();
  for (it = pg.items; it != NULL; it = it->next) {
    double secs = (double)(now - it->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)it->read / secs : 0;
    char pct[16] = "";
    if (it->expected > 0)
      snprintf(pct, sizeof pct, "  %3d%%",
               (int)(it->read * 100 / it->expected > 100
                         ? 100
                         : it->read * 100 / it->expected));
    fprintf(stderr,
            "%-24.24s %12" PRIu64 " read %12" PRIu64
            " written %10.0f rows/s%s\n",
            it->name, it->read, it->written, rate, pct);
    pg.drawn++;
  }
  fflush(stderr);
}

void progress_close(void)
{
  struct item *it, *next;

  if (!pg.enabled)
    return;
  progress_erase();
  log_set_erase_hook(NULL);
  if (pg.timer_on)
    uv_close((uv_handle_t *)&pg.timer, NULL);
  pg.timer_on = 0;
  for (it = pg.items; it != NULL; it = next) {
    next = it->next;
    free(it->name);
    free(it);
  }
  pg.items = NULL;
  pg.enabled = 0;
}
