/* error.c - the error record every failing SDK call fills. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sluice/error.h"

int sluice_error_setv(struct sluice_error *err, int code, int retryable,
                      const char *fmt, va_list ap)
{
  if (err == NULL)
    return code;
  err->code = code;
  err->retryable = retryable;
  /* vsnprintf truncates and always terminates, which is what we promise. */
  if (vsnprintf(err->message, sizeof err->message, fmt, ap) < 0)
    err->message[0] = '\0';
  return code;
}

int sluice_error_set(struct sluice_error *err, int code, int retryable,
                     const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  sluice_error_setv(err, code, retryable, fmt, ap);
  va_end(ap);
  return code;
}

void sluice_error_prefix(struct sluice_error *err, const char *fmt, ...)
{
  char ctx[SLUICE_ERROR_MSG_MAX];
  size_t ctxlen, msglen, room;
  va_list ap;
  int n;

  if (err == NULL)
    return;
  va_start(ap, fmt);
  n = vsnprintf(ctx, sizeof ctx, fmt, ap);
  va_end(ap);
  if (n <= 0)
    return;
  ctxlen = strlen(ctx);
  msglen = strlen(err->message);
  if (msglen == 0) {
    memcpy(err->message, ctx, ctxlen + 1);
    return;
  }
  /* Shift the old message right in place; its tail is what gets cut when
   * the whole does not fit, since the context is the newer information. */
  if (ctxlen + 2 >= sizeof err->message) {
    memcpy(err->message, ctx, ctxlen + 1);
    return;
  }
  room = sizeof err->message - 1 - (ctxlen + 2);
  if (msglen > room)
    msglen = room;
  memmove(err->message + ctxlen + 2, err->message, msglen);
  err->message[ctxlen + 2 + msglen] = '\0';
  memcpy(err->message, ctx, ctxlen);
  err->message[ctxlen] = ':';
  err->message[ctxlen + 1] = ' ';
}

const char *sluice_strerror(int code)
{
  switch (code) {
  case SLUICE_OK: return "success";
  case SLUICE_EINVAL: return "invalid argument";
  case SLUICE_ENOMEM: return "out of memory";
  case SLUICE_EIO: return "input/output error";
  case SLUICE_EAGAIN: return "try again later";
  case SLUICE_ECANCELED: return "operation cancelled";
  case SLUICE_EPROTO: return "protocol error";
  case SLUICE_EAUTH: return "authentication failed";
  case SLUICE_ELIMIT: return "limit exceeded";
  case SLUICE_ENOTFOUND: return "not found";
  case SLUICE_ETIMEDOUT: return "timed out";
  case SLUICE_EDATA: return "malformed data";
  case SLUICE_ENOTSUP: return "not supported";
  case SLUICE_ESTATE: return "called in the wrong state";
  case SLUICE_EABI: return "ABI mismatch";
  default: return "unknown error";
  }
}
