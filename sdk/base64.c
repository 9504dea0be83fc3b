/* sdk/base64.c - see base64.h. */
#include <stdint.h>

#include "base64.h"
#include "sluice/error.h"

static const char *const alphabets[] = {
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"};

int sdk_base64_encode(const void *p, size_t n, enum b64_variant v,
                      struct sluice_buf *out)
{
  const char *abc = alphabets[v];
  const unsigned char *s = p;
  size_t i, tail = n % 3, outlen;
  char *d;

  if (n > (SIZE_MAX - 4) / 4 * 3)
    return SLUICE_ENOMEM;
  outlen = n / 3 * 4 + (tail == 0 ? 0 : v == B64_STANDARD ? 4 : tail + 1);
  if (sluice_buf_reserve(out, outlen) < 0)
    return SLUICE_ENOMEM;
  d = out->data + out->len;
  for (i = 0; i + 3 <= n; i += 3) {
    uint32_t w = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    *d++ = abc[w >> 18];
    *d++ = abc[w >> 12 & 63];
    *d++ = abc[w >> 6 & 63];
    *d++ = abc[w & 63];
  }
  if (tail > 0) {
    uint32_t w =
        (uint32_t)s[i] << 16 | (tail == 2 ? (uint32_t)s[i + 1] << 8 : 0);
    *d++ = abc[w >> 18];
    *d++ = abc[w >> 12 & 63];
    if (tail == 2)
      *d++ = abc[w >> 6 & 63];
    if (v == B64_STANDARD) {
      if (tail == 1)
        *d++ = '=';
      *d++ = '=';
    }
  }
  out->len = (size_t)(d - out->data);
  out->data[out->len] = '\0';
  return 0;
}

static int value_of(char c, enum b64_variant v)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == (v == B64_STANDARD ? '+' : '-'))
    return 62;
  if (c == (v == B64_STANDARD ? '/' : '_'))
    return 63;
  return -1;
}

int sdk_base64_decode(const char *s, size_t len, enum b64_variant v,
                      struct sluice_buf *out)
{
  uint32_t acc = 0;
  size_t i, pad = 0, bits = 0, start = out->len;
  char *d;

  while (pad < len && pad < 2 && s[len - 1 - pad] == '=')
    pad++;
  /* Padding, when there is some (always for the standard variant), must
   * complete the last group exactly. */
  if ((v == B64_STANDARD || pad > 0) && len % 4 != 0)
    return SLUICE_EINVAL;
  len -= pad;
  if (len % 4 == 1 || (pad > 0 && 4 - len % 4 != pad))
    return SLUICE_EINVAL;
  if (sluice_buf_reserve(out, len / 4 * 3 + 2) < 0)
    return SLUICE_ENOMEM;
  d = out->data + out->len;
  for (i = 0; i < len; i++) {
    int x = value_of(s[i], v);
    if (x < 0)
      goto bad;
    acc = (acc << 6 | (uint32_t)x) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *d++ = (char)(acc >> bits & 0xff);
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
    goto bad;
  out->len = (size_t)(d - out->data);
  out->data[out->len] = '\0';
  return 0;
bad:
  out->len = start;
  out->data[out->len] = '\0';
  return SLUICE_EINVAL;
}
