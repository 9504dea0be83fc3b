/* sluice/auth.h - private keys, JWTs, form bodies and OAuth token replies.
 *
 * What a connector needs to log in to Salesforce (OAuth 2.0: client
 * credentials, JWT bearer, refresh token) and Snowflake (key-pair JWT),
 * without the plugin touching OpenSSL or jansson itself.  Everything but
 * sluice_pkey_load_file and sluice_pkey_file_mode_ok is pure (no I/O); all
 * of it may run on any thread.
 *
 * Secrets: no message this header's functions write ever contains key
 * material, a passphrase, an access or refresh token, or a client secret.
 * Key memory is wiped when freed; token strings are wiped by
 * sluice_oauth_token_free.
 *
 * Since ABI 1.0.
 */
#ifndef SLUICE_AUTH_H
#define SLUICE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/error.h"
#include "sluice/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- RSA private keys ----------------------------------------------------- */

/* An RSA private key of at least 2048 bits, ready to sign RS256. */
struct sluice_pkey;

/* The largest key file sluice_pkey_load_file reads. */
#define SLUICE_PKEY_FILE_MAX (64 * 1024)

/* Reads a PEM private key from pem[0, len): PKCS#1 ("BEGIN RSA PRIVATE
 * KEY", also the legacy encrypted form), PKCS#8 ("BEGIN PRIVATE KEY") or
 * encrypted PKCS#8 ("BEGIN ENCRYPTED PRIVATE KEY").  Other PEM blocks in the
 * text (a certificate beside the key) are skipped.  passphrase may be NULL
 * for an unencrypted key; OpenSSL's terminal prompt never runs.
 * Errors are SLUICE_EINVAL (a configuration to fix; SLUICE_ENOMEM aside),
 * retryable 0, and say which of these it is:
 *   "no PEM private key found (no -----BEGIN line)"
 *   "the key is encrypted: a passphrase is needed"
 *   "wrong passphrase, or a damaged key"
 *   "not a private key (a certificate or public key?)"
 *   "an OpenSSH private key: convert it to PKCS#8 (...)"
 *   "a damaged or unsupported private key (OpenSSL cannot read it)"
 *   "not an RSA key (EC): RS256 needs an RSA key" (Snowflake too: RSA only)
 *   "key is shorter than 2048 bits (1024)"
 * OpenSSL's error queue is left as the caller had it.
 * On success *out is a new key for sluice_pkey_free. */
SLUICE_API int sluice_pkey_load(const char *pem, size_t len,
                                const char *passphrase,
                                struct sluice_pkey **out,
                                struct sluice_error *err);

/* sluice_pkey_load on the contents of the file at path (a regular file of
 * at most SLUICE_PKEY_FILE_MAX bytes); every message starts with the path.
 * The bytes read are wiped before return. */
SLUICE_API int sluice_pkey_load_file(const char *path, const char *passphrase,
                                     struct sluice_pkey **out,
                                     struct sluice_error *err);

/* 1 when the file at path has no permission bits for group or others
 * (mode & 077 == 0, as ssh requires of private keys), 0 when it has some
 * (the host should warn: "key file is readable by others; chmod 600"), or a
 * negative SLUICE_E* code when it cannot be examined (SLUICE_ENOTFOUND,
 * SLUICE_EIO). */
SLUICE_API int sluice_pkey_file_mode_ok(const char *path);

/* Frees k and wipes its key material; NULL is harmless. */
SLUICE_API void sluice_pkey_free(struct sluice_pkey *k);

/* Key size in bits. */
SLUICE_API int sluice_pkey_bits(const struct sluice_pkey *k);

/* Appends "SHA256:" and the standard base64 (44 characters, '=' padded) of
 * the SHA-256 of the DER SubjectPublicKeyInfo of k's public key: exactly
 * Snowflake's RSA_PUBLIC_KEY_FP from DESC USER. */
SLUICE_API int sluice_pkey_fingerprint_sha256(const struct sluice_pkey *k,
                                              struct sluice_buf *out);

/* Appends the public key as PEM ("BEGIN PUBLIC KEY", SubjectPublicKeyInfo),
 * for "ALTER USER ... SET RSA_PUBLIC_KEY" and for tests. */
SLUICE_API int sluice_pkey_public_pem(const struct sluice_pkey *k,
                                      struct sluice_buf *out);

/* --- base64url (RFC 4648 section 5) --------------------------------------- */

/* Appends base64url of p[0, n) without '=' padding.  0 or SLUICE_ENOMEM. */
SLUICE_API int sluice_base64url_encode(const void *p, size_t n,
                                       struct sluice_buf *out);
/* Appends the bytes of base64url text s[0, len).  Padding is optional but
 * must be right when present; anything else outside the alphabet, a length
 * of 4k+1, or non-zero unused bits in the last character give SLUICE_EINVAL
 * and leave out unchanged. */
SLUICE_API int sluice_base64url_decode(const char *s, size_t len,
                                       struct sluice_buf *out);

/* --- JWT ------------------------------------------------------------------ */

/* Appends base64url(header_json) "." base64url(claims_json) "."
 * base64url(RSASSA-PKCS1-v1_5 SHA-256 signature over the first two parts).
 * The JSON texts are used byte for byte (build them with the claim builders
 * below and a header such as {"alg":"RS256","typ":"JWT"}). */
SLUICE_API int sluice_jwt_sign_rs256(const struct sluice_pkey *k,
                                     const char *header_json,
                                     const char *claims_json,
                                     struct sluice_buf *out,
                                     struct sluice_error *err);

/* Salesforce JWT bearer flow: exp is now + this many seconds; the help
 * pages require the assertion to expire "within 3 minutes". */
#define SLUICE_JWT_SALESFORCE_LIFETIME_S 180

/* Appends the claims {"iss":client_id,"sub":username,"aud":audience,
 * "exp":now+180} as compact JSON (exp an integer NumericDate).  audience is
 * the login host, "https://login.salesforce.com" or
 * "https://test.salesforce.com" (or an Experience Cloud site URL), even when
 * the token request goes to a My Domain host.  SLUICE_EINVAL for a NULL or
 * empty argument or text that is not UTF-8. */
SLUICE_API int sluice_jwt_salesforce_claims(const char *client_id,
                                            const char *username,
                                            const char *audience, int64_t now,
                                            struct sluice_buf *out);

/* Snowflake's key-pair JWT allows at most an hour. */
#define SLUICE_JWT_SNOWFLAKE_MAX_LIFETIME_S 3600

/* Appends the account part of Snowflake's JWT iss/sub claims, upper-cased:
 *   "xy12345.us-east-2.aws" -> "XY12345" (a locator: the region after the
 *   first dot is dropped, as is any ".snowflakecomputing.com"),
 *   "myorg-myaccount" -> "MYORG-MYACCOUNT" (an org-account name stays
 *   whole), "xy12345-abcdef.global" -> "XY12345" (a global URL: the
 *   "-<id>" before ".global" is dropped).
 * SLUICE_EINVAL when the result is empty or has a character other than a
 * letter, digit, '_' or '-' (a URL with a scheme, a space...); out is then
 * unchanged. */
SLUICE_API int sluice_snowflake_account_for_jwt(const char *account,
                                                struct sluice_buf *out);

/* Appends Snowflake key-pair JWT claims:
 *   {"iss":"ACCOUNT.USER.SHA256:fp","sub":"ACCOUNT.USER",
 *    "iat":now,"exp":now+lifetime_s}
 * ACCOUNT per sluice_snowflake_account_for_jwt, USER the login name
 * upper-cased (ASCII letters only: give a non-ASCII name already in upper
 * case).  fingerprint is sluice_pkey_fingerprint_sha256's text, with or
 * without its "SHA256:" prefix.  lifetime_s is 1..3600.  SLUICE_EINVAL with
 * a message otherwise. */
SLUICE_API int sluice_jwt_snowflake_claims(
    const char *account, const char *user, const char *fingerprint, int64_t now,
    int64_t lifetime_s, struct sluice_buf *out, struct sluice_error *err);

/* --- randomness ----------------------------------------------------------- */

/* Fills buf with n bytes from the system's CSPRNG (request ids, nonces).
 * 0, or SLUICE_EIO when it cannot (buf is then zeroed). */
SLUICE_API int sluice_random_bytes(void *buf, size_t n);

/* --- application/x-www-form-urlencoded ------------------------------------ */

/* Appends key=value to a form body, with '&' before it when b is not empty
 * (so b must hold only the form).  Both are percent-encoded but for the RFC
 * 3986 unreserved characters (A-Z a-z 0-9 - . _ ~), as curl_easy_escape
 * does; a space becomes "%20", which every form decoder reads as a space
 * ('+' would not survive a decoder that only undoes percent-escapes).
 * 0 or SLUICE_ENOMEM; SLUICE_EINVAL for a NULL key or value. */
SLUICE_API int sluice_form_append(struct sluice_buf *b, const char *key,
                                  const char *value);

/* --- OAuth 2.0 token replies ---------------------------------------------- */

/* The fields of a token endpoint's success reply.  A string absent from the
 * reply is NULL; a number absent is -1.  Salesforce sends no expires_in (the
 * session timeout is an org setting: assume about an hour and refresh on a
 * 401), gives issued_at as epoch milliseconds in a string, and a
 * refresh_token only when refresh-token rotation is on. */
struct sluice_oauth_token {
  char *access_token;  /* secret: never log it */
  char *instance_url;  /* Salesforce: the host for every API call */
  char *refresh_token; /* secret; a rotated refresh token, to persist */
  char *token_type;    /* "Bearer" */
  char *scope;
  int64_t issued_at_ms;
  int64_t expires_in_s;
};

/* Wipes the secrets, frees the strings and zeroes *t; NULL is harmless. */
SLUICE_API void sluice_oauth_token_free(struct sluice_oauth_token *t);

/* Reads a token endpoint reply body[0, len) with HTTP status http_status.
 * flow names the grant in messages ("jwt_bearer", "client_credentials",
 * "refresh_token"; NULL: "oauth").  *out is always initialised (zeroed,
 * numbers -1) and on success filled; the caller frees it with
 * sluice_oauth_token_free.  Outcomes:
 *   2xx with a JSON object holding a non-empty access_token: 0;
 *   an OAuth error body {"error":..,"error_description":..} with a 4xx:
 *     SLUICE_EAUTH, retryable 0, "jwt_bearer: invalid_grant: user hasn't
 *     approved this consumer";
 *   429: SLUICE_ELIMIT, retryable 1;
 *   5xx, 408, 425, or a body that is not JSON: SLUICE_EPROTO, retryable 1
 *     (for bad JSON the message gives jansson's byte offset, never the
 *     text near it, which could be a token);
 *   a 2xx JSON reply without an access_token, or any other JSON:
 *     SLUICE_EPROTO, retryable 0.
 * Text from the server in a message is cut to 200 bytes and control
 * characters are replaced by '?'. */
SLUICE_API int sluice_oauth_parse_token(long http_status, const char *body,
                                        size_t len, const char *flow,
                                        struct sluice_oauth_token *out,
                                        struct sluice_error *err);

#ifdef __cplusplus
}
#endif
#endif /* SLUICE_AUTH_H */
