/* sluice/buf.h - a growable byte buffer.
 * Ownership: the caller owns the struct; sluice_buf_free releases data.
 * Since ABI 1.0. */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stddef.h>

#include "sluice/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sluice_buf {
  char *data; /* NUL-terminated when len > 0 or after sluice_buf_cstr */
  size_t len;
  size_t cap;
};

#define SLUICE_BUF_INIT                                                        \
  {                                                                            \
    NULL, 0, 0                                                                 \
  }

/* 0, or SLUICE_ENOMEM (the buffer is unchanged). */
SLUICE_API int sluice_buf_reserve(struct sluice_buf *b, size_t extra);
SLUICE_API int sluice_buf_append(struct sluice_buf *b, const void *p,
                                 size_t len);
SLUICE_API int sluice_buf_append_str(struct sluice_buf *b, const char *s);
SLUICE_API int sluice_buf_append_char(struct sluice_buf *b, char c);
SLUICE_API int sluice_buf_printf(struct sluice_buf *b, const char *fmt, ...)
    SLUICE_PRINTF(2, 3);
/* data as a C string ("" when empty); never NULL unless out of memory. */
SLUICE_API const char *sluice_buf_cstr(struct sluice_buf *b);
SLUICE_API void sluice_buf_reset(struct sluice_buf *b); /* len = 0 */
SLUICE_API void sluice_buf_free(struct sluice_buf *b);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_BUF_H */
