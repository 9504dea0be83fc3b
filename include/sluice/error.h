/* sluice/error.h - error codes and the error record filled by failing calls.
 *
 * Every SDK and plugin function that can fail returns 0 on success or a
 * negative SLUICE_E* code (never -1 with errno, never exit()).  When the
 * caller passed a struct sluice_error, the failing call also fills it with a
 * message that says what failed and where, and whether trying again may help.
 *
 * Since ABI 1.0.
 */
#ifndef SLUICE_ERROR_H
#define SLUICE_ERROR_H

#include <stdarg.h>

#include "sluice/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Codes are stable within an ABI major: append new ones, never renumber. */
enum sluice_errcode {
  SLUICE_OK = 0,
  SLUICE_EINVAL = -1,     /* a bad argument or configuration value */
  SLUICE_ENOMEM = -2,     /* out of memory */
  SLUICE_EIO = -3,        /* a file or socket operation failed */
  SLUICE_EAGAIN = -4,     /* not now; try again later (backpressure) */
  SLUICE_ECANCELED = -5,  /* the operation was cancelled (shutdown) */
  SLUICE_EPROTO = -6,     /* a peer answered something we cannot decode */
  SLUICE_EAUTH = -7,      /* authentication or authorisation failed */
  SLUICE_ELIMIT = -8,     /* a quota or API budget is exhausted */
  SLUICE_ENOTFOUND = -9,  /* a file, object, field or plugin does not exist */
  SLUICE_ETIMEDOUT = -10, /* a deadline passed */
  SLUICE_EDATA = -11,     /* a record is malformed (see the message: where) */
  SLUICE_ENOTSUP = -12,   /* the plugin or peer cannot do this */
  SLUICE_ESTATE = -13,    /* called in the wrong state (a bug in the caller) */
  SLUICE_EABI = -14       /* a plugin's ABI does not match the host's */
};

#define SLUICE_ERROR_MSG_MAX 512

/* Filled by a failing call; zero-initialise it before use.
 * retryable: 1 when the same call may succeed later (a 503, a reset),
 * 0 when it will fail again until something is changed (a bad key). */
struct sluice_error {
  int code;
  int retryable;
  char message[SLUICE_ERROR_MSG_MAX];
};

/* Fills err (when not NULL) and returns code, so a failing path can read
 *   return sluice_error_set(err, SLUICE_EIO, 0, "%s: %s", path, strerror(e));
 * The message is truncated to fit; it must never contain a secret. */
SLUICE_API int sluice_error_set(struct sluice_error *err, int code,
                                int retryable, const char *fmt, ...)
    SLUICE_PRINTF(4, 5);
SLUICE_API int sluice_error_setv(struct sluice_error *err, int code,
                                 int retryable, const char *fmt, va_list ap)
    SLUICE_PRINTF(4, 0);

/* Prefixes the existing message with "context: " (for adding where). */
SLUICE_API void sluice_error_prefix(struct sluice_error *err, const char *fmt,
                                    ...) SLUICE_PRINTF(2, 3);

/* A short English name for a code ("invalid argument"); never NULL. */
SLUICE_API const char *sluice_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_ERROR_H */
