"""Authentication of SQL API requests (contracts/snowflake.md section 3).

KEYPAIR_JWT: RS256 verified in pure Python (RFC 8017 8.2.2, pow()) against a
registered public key whose fingerprint "SHA256:" + base64(sha256(DER
SubjectPublicKeyInfo)) must be the suffix of `iss`; iss/sub carry the
account and user upper-cased; exp in the future and at most one hour after
iat.  Every failure is the one body the real service gives (rec#078).
OAUTH: the bearer token must be the emulator's token (390303 otherwise).
"""
import base64
import hashlib
import hmac
import json
import re
import threading
import time

SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
JWT_INVALID = (401, "390144", "JWT token is invalid. null")
OAUTH_INVALID = (401, "390303", "Invalid OAuth access token. ")
# No token at all: 390146 per the xo/dbimp notes; status and text UNCONFIRMED.
NO_TOKEN = (401, "390146", "Authentication token has not been provided.")
MAX_LIFETIME = 3600
IAT_SKEW = 60          # an iat this far in the future is refused (clock skew)


# ---------------------------------------------------------------------------
# Keys

def _tlv(der, pos):
    tag, length = der[pos], der[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(der[pos:pos + n], "big")
        pos += n
    return tag, pos, pos + length


def spki_der_from_pem(text):
    m = re.search(r"-----BEGIN PUBLIC KEY-----(.*?)-----END PUBLIC KEY-----", text, re.S)
    if not m:
        raise ValueError("no 'PUBLIC KEY' PEM block (SubjectPublicKeyInfo) found")
    return base64.b64decode("".join(m.group(1).split()))


def rsa_from_spki(der):
    """(n, e) of an RSA SubjectPublicKeyInfo."""
    _, cs, _ = _tlv(der, 0)                 # SEQUENCE
    _, acs, ace = _tlv(der, cs)             # AlgorithmIdentifier
    tag, bcs, bce = _tlv(der, ace)          # BIT STRING
    if tag != 0x03 or der[bcs] != 0:
        raise ValueError("bad subjectPublicKey")
    key = der[bcs + 1:bce]
    _, kcs, _ = _tlv(key, 0)
    _, ncs, nce = _tlv(key, kcs)
    _, ecs, ece = _tlv(key, nce)
    return int.from_bytes(key[ncs:nce], "big"), int.from_bytes(key[ecs:ece], "big")


def fingerprint(spki_der):
    return "SHA256:" + base64.b64encode(hashlib.sha256(spki_der).digest()).decode()


class PublicKey:
    def __init__(self, pem_text):
        der = spki_der_from_pem(pem_text)
        self.n, self.e = rsa_from_spki(der)
        self.fingerprint = fingerprint(der)
        self.pem = pem_text

    def verify(self, message, signature):
        k = (self.n.bit_length() + 7) // 8
        if len(signature) != k:
            return False
        s = int.from_bytes(signature, "big")
        if s >= self.n:
            return False
        em = pow(s, self.e, self.n).to_bytes(k, "big")
        t = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
        expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
        return hmac.compare_digest(em, expected)


def b64url_decode(text):
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text or ""):
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---------------------------------------------------------------------------

class Authenticator:
    def __init__(self, account, user, keys, oauth_token):
        self.account = account.upper()
        self.user = user.upper()
        self.keys = list(keys)            # RSA_PUBLIC_KEY, RSA_PUBLIC_KEY_2
        self.oauth_token = oauth_token
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.clock_offset = 0.0       # seconds added to the wall clock
            self.reject_next = 0          # the next N tokens fail
            self.seen = set()             # digests of accepted JWTs
            self.revoked = set()          # "expire": every token seen so far dies

    def expire(self, count=None):
        with self.lock:
            if count:
                self.reject_next += int(count)
                return {"reject_next": self.reject_next}
            self.revoked |= self.seen
            return {"revoked": len(self.revoked)}

    def now(self):
        return time.time() + self.clock_offset

    def authenticate(self, headers):
        """None when the request may go on, else (status, code, message)."""
        auth = headers.get("Authorization") or ""
        kind = (headers.get("X-Snowflake-Authorization-Token-Type") or "").strip().upper()
        scheme, _, token = auth.strip().partition(" ")
        token = token.strip()
        if not auth.strip() or scheme.lower() != "bearer" or not token:
            return NO_TOKEN
        if not kind:
            # The server inspects the token when the type is not given [DOC].
            kind = "KEYPAIR_JWT" if token.count(".") == 2 else "OAUTH"
        if kind == "KEYPAIR_JWT":
            return None if self._jwt_ok(token) else JWT_INVALID
        if kind == "OAUTH":
            with self.lock:
                if self.reject_next > 0:
                    self.reject_next -= 1
                    return OAUTH_INVALID
            ok = self.oauth_token and hmac.compare_digest(token.encode(), self.oauth_token.encode())
            return None if ok else OAUTH_INVALID
        return JWT_INVALID

    def _jwt_ok(self, token):
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self.lock:
            if self.reject_next > 0:
                self.reject_next -= 1
                return False
            if digest in self.revoked:
                return False
        try:
            h64, p64, s64 = token.split(".")
            header = json.loads(b64url_decode(h64))
            claims = json.loads(b64url_decode(p64))
            sig = b64url_decode(s64)
        except (ValueError, UnicodeDecodeError):
            return False
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            return False
        if not isinstance(claims, dict):
            return False
        iss, sub = claims.get("iss"), claims.get("sub")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not all(isinstance(x, str) for x in (iss, sub)):
            return False
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (iat, exp)):
            return False
        principal = "%s.%s" % (self.account, self.user)
        if sub != principal or not iss.startswith(principal + ".SHA256:"):
            return False
        fp = iss[len(principal) + 1:]
        key = next((k for k in self.keys if k.fingerprint == fp), None)
        if key is None or not key.verify((h64 + "." + p64).encode(), sig):
            return False
        now = self.now()
        if exp <= now or exp - iat > MAX_LIFETIME or iat > now + IAT_SKEW:
            return False
        with self.lock:
            self.seen.add(digest)
        return True
