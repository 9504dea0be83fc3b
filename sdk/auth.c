/* auth.c - RSA private keys, base64url and RS256 JWT signing (OpenSSL).
 *
 * The OAuth side (claims, form bodies, token replies: jansson) is in
 * auth_oauth.c.  Nothing here writes key material, a passphrase or any
 * OpenSSL error text into a message: OpenSSL's reason strings are safe, but
 * a stable, short message per cause is what a user can act on.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "base64.h"
#include "sluice/auth.h"

#define RSA_MIN_BITS 2048

struct sluice_pkey {
  EVP_PKEY *pkey;
};

/* --- reading PEM ---------------------------------------------------------- */

/* What the PEM labels in a text say, before OpenSSL reads it: OpenSSL's
 * own failures do not tell "a certificate" from "a damaged key", and the
 * user needs to know which. */
struct pem_scan {
  int any_begin;   /* some "-----BEGIN " line */
  int private_key; /* a label ending in "PRIVATE KEY" OpenSSL reads */
  int encrypted;   /* that key is encrypted */
  int openssh;     /* an "OPENSSH PRIVATE KEY" */
};

static const char *find_bytes(const char *s, size_t len, const char *pat)
{
  size_t n = strlen(pat), i;

  if (n > len)
    return NULL;
  for (i = 0; i + n <= len; i++)
    if (s[i] == pat[0] && memcmp(s + i, pat, n) == 0)
      return s + i;
  return NULL;
}

static int label_is(const char *label, size_t n, const char *word)
{
  return strlen(word) == n && memcmp(label, word, n) == 0;
}

static void scan_pem(const char *pem, size_t len, struct pem_scan *sc)
{
  static const char begin[] = "-----BEGIN ";
  const char *p = pem, *end = pem + len;

  memset(sc, 0, sizeof *sc);
  for (;;) {
    const char *label, *stop;
    size_t n;

    p = find_bytes(p, (size_t)(end - p), begin);
    if (p == NULL)
      return;
    sc->any_begin = 1;
    label = p + sizeof begin - 1;
    stop = find_bytes(label, (size_t)(end - label), "-----");
    if (stop == NULL)
      return;
    n = (size_t)(stop - label);
    p = stop;
    if (sc->private_key)
      continue; /* OpenSSL reads the first key block; so do we */
    if (label_is(label, n, "OPENSSH PRIVATE KEY")) {
      sc->openssh = 1;
    } else if (label_is(label, n, "ENCRYPTED PRIVATE KEY")) {
      sc->private_key = 1;
      sc->encrypted = 1;
    } else if (n >= 11 && memcmp(label + n - 11, "PRIVATE KEY", 11) == 0) {
      const char *next = find_bytes(stop, (size_t)(end - stop), "-----END ");
      size_t room = next != NULL ? (size_t)(next - stop) : 0;

      /* "RSA PRIVATE KEY" (and EC, DSA) carry legacy PEM encryption in
       * headers before the base64. */
      sc->private_key = 1;
      sc->encrypted = find_bytes(stop, room, "ENCRYPTED") != NULL;
    }
  }
}

struct pass_ctx {
  const char *pass;
};

/* Always installed, so OpenSSL never falls back to prompting on the
 * terminal (the default callback does, and a daemon has no terminal). */
static int pass_cb(char *buf, int size, int rwflag, void *u)
{
  const struct pass_ctx *pc = u;
  size_t n;

  (void)rwflag;
  if (pc == NULL || pc->pass == NULL || size <= 0)
    return -1;
  n = strlen(pc->pass);
  if (n > (size_t)size)
    return -1; /* truncating would only make a wrong passphrase */
  memcpy(buf, pc->pass, n);
  return (int)n;
}

static int check_key(EVP_PKEY *pkey, struct sluice_error *err)
{
  int bits;

  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
    const char *name = EVP_PKEY_get0_type_name(pkey);

    /* RS256 (Salesforce) and Snowflake's key-pair login both need RSA;
     * RSA-PSS keys cannot make PKCS#1 v1.5 signatures. */
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "not an RSA key (%s): RS256 needs an RSA key",
                            name != NULL ? name : "another type");
  }
  bits = EVP_PKEY_get_bits(pkey);
  if (bits < RSA_MIN_BITS)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "key is shorter than %d bits (%d)", RSA_MIN_BITS,
                            bits);
  return 0;
}

int sluice_pkey_load(const char *pem, size_t len, const char *passphrase,
                     struct sluice_pkey **out, struct sluice_error *err)
{
  struct pass_ctx pc = {passphrase};
  struct sluice_pkey *k;
  struct pem_scan sc;
  EVP_PKEY *pkey;
  BIO *bio;
  int rc;

  *out = NULL;
  if (pem == NULL)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "no PEM private key given");
  if (len > INT_MAX) /* BIO_new_mem_buf takes an int */
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "%zu bytes is too large for a key", len);
  scan_pem(pem, len, &sc);
  if (!sc.private_key) {
    if (sc.openssh)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "an OpenSSH private key: convert it to PKCS#8 "
                              "(ssh-keygen -p -m PKCS8 -f FILE)");
    if (sc.any_begin)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "not a private key (a certificate or public "
                              "key?)");
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "no PEM private key found (no -----BEGIN line)");
  }
  if (sc.encrypted && passphrase == NULL)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "the key is encrypted: a passphrase is needed");

  /* The mark keeps whatever the caller had in OpenSSL's error queue, and
   * drops what this call adds (OpenSSL 3's decoders leave entries behind
   * even when they succeed). */
  ERR_set_mark();
  bio = BIO_new_mem_buf(pem, (int)len);
  if (bio == NULL) {
    ERR_pop_to_mark();
    return sluice_error_set(err, SLUICE_ENOMEM, 1, "out of memory");
  }
  pkey = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, &pc);
  BIO_free(bio);
  ERR_pop_to_mark();
  if (pkey == NULL) {
    if (sc.encrypted)
      return sluice_error_set(err, SLUICE_EINVAL, 0,
                              "wrong passphrase, or a damaged key");
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "a damaged or unsupported private key (OpenSSL "
                            "cannot read it)");
  }
  rc = check_key(pkey, err);
  if (rc < 0) {
    EVP_PKEY_free(pkey);
    return rc;
  }
  k = calloc(1, sizeof *k);
  if (k == NULL) {
    EVP_PKEY_free(pkey);
    return sluice_error_set(err, SLUICE_ENOMEM, 1, "out of memory");
  }
  k->pkey = pkey;
  *out = k;
  return 0;
}

/* Reads all of fd into buf[0, cap), failing when there is more. */
static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
  size_t n = 0;

  for (;;) {
    ssize_t r = read(fd, buf + n, cap - n);

    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (r == 0)
      break;
    n += (size_t)r;
    if (n == cap)
      return -EFBIG;
  }
  *len = n;
  return 0;
}

int sluice_pkey_load_file(const char *path, const char *passphrase,
                          struct sluice_pkey **out, struct sluice_error *err)
{
  /* One more than the limit, so a too-large file is seen without stat
   * (which could lie, for a file still growing). */
  const size_t cap = SLUICE_PKEY_FILE_MAX + 1;
  struct stat st;
  size_t len = 0;
  char *buf;
  int fd, rc, e;

  *out = NULL;
  if (path == NULL)
    return sluice_error_set(err, SLUICE_EINVAL, 0, "no key file given");
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    e = errno;
    return sluice_error_set(err, e == ENOENT ? SLUICE_ENOTFOUND : SLUICE_EIO, 0,
                            "%s: %s", path, strerror(e));
  }
  if (fstat(fd, &st) < 0) {
    e = errno;
    close(fd);
    return sluice_error_set(err, SLUICE_EIO, 0, "%s: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return sluice_error_set(err, SLUICE_EINVAL, 0, "%s: not a regular file",
                            path);
  }
  buf = malloc(cap);
  if (buf == NULL) {
    close(fd);
    return sluice_error_set(err, SLUICE_ENOMEM, 1, "%s: out of memory", path);
  }
  rc = read_all(fd, buf, cap, &len);
  close(fd);
  if (rc == -EFBIG) {
    rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                          "%s: larger than %d bytes: not a key file", path,
                          SLUICE_PKEY_FILE_MAX);
  } else if (rc < 0) {
    rc = sluice_error_set(err, SLUICE_EIO, 0, "%s: %s", path, strerror(-rc));
  } else {
    rc = sluice_pkey_load(buf, len, passphrase, out, err);
    if (rc < 0)
      sluice_error_prefix(err, "%s", path);
  }
  OPENSSL_cleanse(buf, cap);
  free(buf);
  return rc;
}

int sluice_pkey_file_mode_ok(const char *path)
{
  struct stat st;

  if (path == NULL)
    return SLUICE_EINVAL;
  if (stat(path, &st) < 0)
    return errno == ENOENT ? SLUICE_ENOTFOUND : SLUICE_EIO;
  return (st.st_mode & 077) == 0;
}

void sluice_pkey_free(struct sluice_pkey *k)
{
  if (k == NULL)
    return;
  /* OpenSSL clears an RSA key's private numbers as it frees them. */
  EVP_PKEY_free(k->pkey);
  OPENSSL_cleanse(k, sizeof *k);
  free(k);
}

int sluice_pkey_bits(const struct sluice_pkey *k)
{
  return EVP_PKEY_get_bits(k->pkey);
}

int sluice_pkey_fingerprint_sha256(const struct sluice_pkey *k,
                                   struct sluice_buf *out)
{
  unsigned char md[32], *der = NULL;
  char b64[4 * ((sizeof md + 2) / 3) + 1];
  unsigned int mdlen = 0;
  int derlen, ok;

  ERR_set_mark();
  derlen = i2d_PUBKEY(k->pkey, &der); /* the SubjectPublicKeyInfo */
  ok = derlen > 0 &&
       EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha256(), NULL) == 1 &&
       mdlen == sizeof md;
  OPENSSL_free(der);
  ERR_pop_to_mark();
  if (!ok)
    return SLUICE_ENOMEM;
  /* Standard base64 with padding: what DESC USER shows, not base64url. */
  EVP_EncodeBlock((unsigned char *)b64, md, (int)sizeof md);
  if (sluice_buf_append_str(out, "SHA256:") < 0 ||
      sluice_buf_append_str(out, b64) < 0)
    return SLUICE_ENOMEM;
  return 0;
}

int sluice_pkey_public_pem(const struct sluice_pkey *k, struct sluice_buf *out)
{
  BIO *bio;
  char *p;
  long n;
  int rc = SLUICE_ENOMEM;

  ERR_set_mark();
  bio = BIO_new(BIO_s_mem());
  if (bio != NULL && PEM_write_bio_PUBKEY(bio, k->pkey) == 1) {
    n = BIO_get_mem_data(bio, &p);
    if (n > 0)
      rc = sluice_buf_append(out, p, (size_t)n);
  }
  BIO_free(bio);
  ERR_pop_to_mark();
  return rc;
}

/* --- base64url ------------------------------------------------------------ */

int sluice_base64url_encode(const void *p, size_t n, struct sluice_buf *out)
{
  return sdk_base64_encode(p, n, B64_URL, out);
}

int sluice_base64url_decode(const char *s, size_t len, struct sluice_buf *out)
{
  return sdk_base64_decode(s, len, B64_URL, out);
}

/* --- RS256 ---------------------------------------------------------------- */

int sluice_jwt_sign_rs256(const struct sluice_pkey *k, const char *header_json,
                          const char *claims_json, struct sluice_buf *out,
                          struct sluice_error *err)
{
  size_t start = out->len, input_len, siglen = 0;
  unsigned char *sig = NULL;
  EVP_MD_CTX *ctx = NULL;
  int rc = 0;

  if (k == NULL || header_json == NULL || claims_json == NULL)
    return sluice_error_set(err, SLUICE_EINVAL, 0,
                            "jwt: a key, a header and claims are needed");
  if (sluice_base64url_encode(header_json, strlen(header_json), out) < 0 ||
      sluice_buf_append_char(out, '.') < 0 ||
      sluice_base64url_encode(claims_json, strlen(claims_json), out) < 0) {
    rc = sluice_error_set(err, SLUICE_ENOMEM, 1, "jwt: out of memory");
    goto done;
  }
  input_len = out->len - start;

  ERR_set_mark();
  /* EVP_sha256 with an RSA key and no padding set: RSASSA-PKCS1-v1_5. */
  ctx = EVP_MD_CTX_new();
  if (ctx == NULL ||
      EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
      EVP_DigestSign(ctx, NULL, &siglen,
                     (const unsigned char *)out->data + start,
                     input_len) != 1 ||
      (sig = OPENSSL_malloc(siglen)) == NULL ||
      EVP_DigestSign(ctx, sig, &siglen,
                     (const unsigned char *)out->data + start,
                     input_len) != 1) {
    ERR_pop_to_mark();
    rc = sluice_error_set(err, SLUICE_EINVAL, 0,
                          "jwt: RS256 signing failed (OpenSSL)");
    goto done;
  }
  ERR_pop_to_mark();
  if (sluice_buf_append_char(out, '.') < 0 ||
      sluice_base64url_encode(sig, siglen, out) < 0)
    rc = sluice_error_set(err, SLUICE_ENOMEM, 1, "jwt: out of memory");

done:
  OPENSSL_free(sig);
  EVP_MD_CTX_free(ctx);
  if (rc < 0) {
    out->len = start;
    if (out->data != NULL)
      out->data[start] = '\0';
  }
  return rc;
}

/* --- randomness ----------------------------------------------------------- */

int sluice_random_bytes(void *buf, size_t n)
{
  if (n > INT_MAX || RAND_bytes(buf, (int)n) != 1) {
    memset(buf, 0, n);
    ERR_clear_error();
    return SLUICE_EIO;
  }
  return 0;
}
