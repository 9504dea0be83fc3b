/* core/log.c - the program's log (see log.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"

static enum sluice_log_level max_level = SLUICE_LOG_INFO;
static enum log_format log_format = LOG_FORMAT_TEXT;
static char **secrets;
static size_t nsecrets;
static void (*erase_hook)(void); /* takes progress lines off the screen */

#define SECRET_MIN_LEN 4
#define LINE_MAX_BYTES 8192

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_setup(enum sluice_log_level level, enum log_format format)
{
  max_level = level;
  log_format = format;
}

enum sluice_log_level log_max_level(void)
{
  return max_level;
}

int log_is_text(void)
{
  return log_format == LOG_FORMAT_TEXT;
}

void log_set_erase_hook(void (*hook)(void))
{
  erase_hook = hook;
}

void log_add_secret(const char *value)
{
  char **grown;

  if (value == NULL || strlen(value) < SECRET_MIN_LEN)
    return;
  for (size_t i = 0; i < nsecrets; i++)
    if (strcmp(secrets[i], value) == 0)
      return;
  grown = realloc(secrets, (nsecrets + 1) * sizeof *secrets);
  if (grown == NULL)
    return;
  secrets = grown;
  if ((secrets[nsecrets] = strdup(value)) != NULL)
    nsecrets++;
}

void log_free_secrets(void)
{
  for (size_t i = 0; i < nsecrets; i++) {
    /* Wipe before free: a core dump should not carry them either. */
    volatile char *p = secrets[i];
    while (*p)
      *p++ = 0;
    free(secrets[i]);
  }
  free(secrets);
  secrets = NULL;
  nsecrets = 0;
}

void log_mask_secrets(char *s, size_t cap)
{
  for (size_t i = 0; i < nsecrets; i++) {
    size_t slen = strlen(secrets[i]);
    char *hit;

    while ((hit = strstr(s, secrets[i])) != NULL) {
      size_t tail = strlen(hit + slen) + 1;
      /* "***" is never longer than a masked secret, so this only shrinks. */
      memcpy(hit, "***", 3);
      memmove(hit + 3, hit + slen, tail);
    }
  }
  (void)cap;
}

static void format_now(char *out, size_t cap)
{
  struct timeval tv;
  struct tm tm;

  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
           (int)(tv.tv_usec / 1000));
}

/* One write(2) a line, so lines never interleave. */
static void write_line(const char *line, size_t len)
{
  if (erase_hook != NULL)
    erase_hook();
  while (len > 0) {
    ssize_t n = write(STDERR_FILENO, line, len);
    if (n <= 0)
      return;
    line += n;
    len -= (size_t)n;
  }
}

void log_msgv(enum sluice_log_level level, const char *context, const char *fmt,
              va_list ap)
{
  char msg[LINE_MAX_BYTES], ts[96], line[LINE_MAX_BYTES + 256];
  int n;

  if (level > max_level)
    return;
  vsnprintf(msg, sizeof msg, fmt, ap);
  log_mask_secrets(msg, sizeof msg);
  format_now(ts, sizeof ts);
  if (log_format == LOG_FORMAT_JSON) {
    json_t *o = json_pack("{s:s, s:s, s:s}", "ts", ts, "level",
                          level_names[level], "msg", msg);
    char *text;

    if (o == NULL)
      return;
    if (context != NULL)
      json_object_set_new(o, "context", json_string(context));
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text == NULL)
      return;
    n = snprintf(line, sizeof line, "%s\n", text);
    free(text);
  } else if (context != NULL) {
    n = snprintf(line, sizeof line, "%s %-5s [%s] %s\n", ts, level_names[level],
                 context, msg);
  } else {
    n = snprintf(line, sizeof line, "%s %-5s %s\n", ts, level_names[level],
                 msg);
  }
  if (n < 0)
    return;
  if ((size_t)n >= sizeof line) {
    n = (int)sizeof line - 1;
    line[n - 1] = '\n';
  }
  write_line(line, (size_t)n);
}

void log_msg(enum sluice_log_level level, const char *context, const char *fmt,
             ...)
{
  va_list ap;

  va_start(ap, fmt);
  log_msgv(level, context, fmt, ap);
  va_end(ap);
}
