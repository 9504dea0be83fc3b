/* core/log.h - one line an event on stderr, as text or JSON.
 * Every line passes through the secret mask first: a value registered with
 * log_add_secret never reaches the output, whoever logs it. */
#ifndef SLUICE_CORE_LOG_H
#define SLUICE_CORE_LOG_H

#include <stdarg.h>

#include "sluice/host.h"

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

void log_setup(enum sluice_log_level max_level, enum log_format format);
enum sluice_log_level log_max_level(void);
/* 1 when lines are text (not JSON). */
int log_is_text(void);
/* Called before every line is written (progress.c erases its lines). */
void log_set_erase_hook(void (*hook)(void));

/* Registers a value to mask as "***" (copied).  Short values (under 4
 * bytes) are not masked: masking "1" would garble every line. */
void log_add_secret(const char *value);
/* Replaces every registered secret in s (in place, NUL-terminated). */
void log_mask_secrets(char *s, size_t cap);
void log_free_secrets(void);

/* context: "pipeline/source csv-file" or NULL for the program itself. */
void log_msg(enum sluice_log_level level, const char *context, const char *fmt,
             ...) SLUICE_PRINTF(3, 4);
void log_msgv(enum sluice_log_level level, const char *context, const char *fmt,
              va_list ap) SLUICE_PRINTF(3, 0);

#define log_error(...) log_msg(SLUICE_LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(SLUICE_LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...) log_msg(SLUICE_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(SLUICE_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
