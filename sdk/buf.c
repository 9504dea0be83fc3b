/* buf.c - a growable byte buffer that keeps a NUL after its bytes. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/buf.h"
#include "sluice/error.h"

#define BUF_MIN_CAP 64

/* cap counts the byte kept for the terminating NUL, so the usable room is
 * cap - 1: that way data[len] can always be written without a check. */
int sluice_buf_reserve(struct sluice_buf *b, size_t extra)
{
  size_t need, cap;
  char *p;

  if (extra > SIZE_MAX - 1 - b->len)
    return SLUICE_ENOMEM;
  need = b->len + extra + 1;
  if (need <= b->cap)
    return 0;
  /* Doubling keeps appends amortised O(1). */
  cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  p = realloc(b->data, cap);
  if (p == NULL)
    return SLUICE_ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int sluice_buf_append(struct sluice_buf *b, const void *p, size_t len)
{
  if (len == 0)
    return 0;
  if (sluice_buf_reserve(b, len) < 0)
    return SLUICE_ENOMEM;
  memcpy(b->data + b->len, p, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

int sluice_buf_append_str(struct sluice_buf *b, const char *s)
{
  return sluice_buf_append(b, s, strlen(s));
}

int sluice_buf_append_char(struct sluice_buf *b, char c)
{
  if (sluice_buf_reserve(b, 1) < 0)
    return SLUICE_ENOMEM;
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
  return 0;
}

int sluice_buf_printf(struct sluice_buf *b, const char *fmt, ...)
{
  va_list ap;
  size_t room;
  int n;

  /* Try the room already there first: most messages fit. */
  room = b->cap > b->len ? b->cap - b->len : 0;
  va_start(ap, fmt);
  n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
  va_end(ap);
  if (n < 0) {
    if (b->data != NULL)
      b->data[b->len] = '\0';
    return SLUICE_EINVAL;
  }
  if ((size_t)n >= room) {
    if (sluice_buf_reserve(b, (size_t)n) < 0) {
      if (b->data != NULL)
        b->data[b->len] = '\0';
      return SLUICE_ENOMEM;
    }
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->data[b->len] = '\0';
      return SLUICE_EINVAL;
    }
  }
  b->len += (size_t)n;
  return 0;
}

const char *sluice_buf_cstr(struct sluice_buf *b)
{
  if (b->data == NULL) {
    if (sluice_buf_reserve(b, 0) < 0)
      return NULL;
    b->data[0] = '\0';
  }
  return b->data;
}

void sluice_buf_reset(struct sluice_buf *b)
{
  b->len = 0;
  if (b->data != NULL)
    b->data[0] = '\0';
}

void sluice_buf_free(struct sluice_buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}
