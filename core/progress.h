/* core/progress.h - one updating line per running pipeline on a terminal
 * (`sluice run` with stderr a TTY, text logs, not --quiet). */
#ifndef SLUICE_CORE_PROGRESS_H
#define SLUICE_CORE_PROGRESS_H

#include <stdint.h>

#include <uv.h>

/* Starts the redraw timer when wanted and stderr is a terminal. */
void progress_setup(uv_loop_t *loop, int wanted);
void progress_start(const char *pipeline, uint64_t now_ms);
/* expected 0: unknown (no percent shown). */
void progress_update(const char *pipeline, uint64_t read, uint64_t written,
                     uint64_t expected);
void progress_end(const char *pipeline);
/* Takes the lines off the screen (before a log line). */
void progress_erase(void);
void progress_close(void);

#endif
