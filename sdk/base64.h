/* sdk/base64.h - base64 for the SDK's own use (not exported): the standard
 * alphabet, padded (BINARY values), and the URL-safe one, unpadded (JWTs,
 * RFC 7515).  Decoding is canonical: the unused bits of the last character
 * must be zero, so every byte string has exactly one encoding. */
#ifndef SLUICE_SDK_BASE64_H
#define SLUICE_SDK_BASE64_H

#include <stddef.h>

#include "sluice/buf.h"

enum b64_variant {
  B64_STANDARD, /* '+' '/', padding required */
  B64_URL       /* '-' '_', padding optional (and never written) */
};

/* Append to out.  0, SLUICE_ENOMEM, or (decode) SLUICE_EINVAL. */
int sdk_base64_encode(const void *p, size_t n, enum b64_variant v,
                      struct sluice_buf *out);
int sdk_base64_decode(const char *s, size_t len, enum b64_variant v,
                      struct sluice_buf *out);

#endif
