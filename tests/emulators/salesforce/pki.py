"""Just enough ASN.1 DER and RSA to check a JWT bearer assertion in pure Python.

The real service verifies the RS256 signature against the certificate that
was uploaded to the connected app.  The emulator does the same without any
crypto library: read the certificate's SubjectPublicKeyInfo with a minimal
DER reader, then RSASSA-PKCS1-v1_5 verify with pow(sig, e, n) (RFC 8017
section 8.2.2).  A signer is included for the emulator's own tests.
"""
import base64
import hashlib
import hmac
import re

OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
# DER of DigestInfo{ AlgorithmIdentifier{ sha256, NULL }, OCTET STRING(32) }
# without the 32 digest bytes (RFC 8017 section 9.2, note 1).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


class DerError(ValueError):
    pass


# ---------------------------------------------------------------------------
# DER reader

def read_tlv(data, pos=0):
    """One DER element at pos: (tag, content_start, content_end).  Only the
    definite-length forms DER allows; single-byte tags suffice for X.509."""
    if pos + 2 > len(data):
        raise DerError("truncated element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte tags are not supported")
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        nbytes = length & 0x7F
        if nbytes == 0 or nbytes > 4 or pos + nbytes > len(data):
            raise DerError("bad length")
        length = int.from_bytes(data[pos:pos + nbytes], "big")
        pos += nbytes
    if pos + length > len(data):
        raise DerError("element runs past its parent")
    return tag, pos, pos + length


def children(data, start, end):
    """The elements inside a constructed element's content, as
    (tag, content_start, content_end, element_start)."""
    out = []
    pos = start
    while pos < end:
        tag, cs, ce = read_tlv(data, pos)
        if ce > end:
            raise DerError("child runs past its parent")
        out.append((tag, cs, ce, pos))
        pos = ce
    return out


def der_int(data, start, end):
    return int.from_bytes(data[start:end], "big", signed=True)


def der_oid(data, start, end):
    raw = data[start:end]
    if not raw:
        raise DerError("empty OID")
    parts = [raw[0] // 40, raw[0] % 40]
    value = 0
    for b in raw[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _expect(tag, want, what):
    if tag != want:
        raise DerError("%s: expected tag 0x%02x, got 0x%02x" % (what, want, tag))


# ---------------------------------------------------------------------------
# PEM

_PEM_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


def pem_blocks(text):
    """[(label, der_bytes)] for every PEM block in text."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    return [(m.group(1), base64.b64decode("".join(m.group(2).split())))
            for m in _PEM_RE.finditer(text)]


# ---------------------------------------------------------------------------
# Public keys

def rsa_public_from_spki(der, start=0):
    """(n, e) from the SubjectPublicKeyInfo element that starts at der[start]."""
    tag, cs, ce = read_tlv(der, start)
    _expect(tag, 0x30, "SubjectPublicKeyInfo")
    alg, bits = children(der, cs, ce)[:2]
    _expect(alg[0], 0x30, "AlgorithmIdentifier")
    oid = children(der, alg[1], alg[2])[0]
    _expect(oid[0], 0x06, "algorithm OID")
    if der_oid(der, oid[1], oid[2]) != OID_RSA_ENCRYPTION:
        raise DerError("not an RSA key")
    _expect(bits[0], 0x03, "subjectPublicKey")
    if der[bits[1]] != 0:
        raise DerError("BIT STRING with unused bits")
    return rsa_public_from_pkcs1(der[bits[1] + 1:bits[2]])


def rsa_public_from_pkcs1(der):
    """(n, e) from RSAPublicKey ::= SEQUENCE { modulus, publicExponent }."""
    tag, cs, ce = read_tlv(der, 0)
    _expect(tag, 0x30, "RSAPublicKey")
    n, e = children(der, cs, ce)[:2]
    _expect(n[0], 0x02, "modulus")
    _expect(e[0], 0x02, "publicExponent")
    return der_int(der, n[1], n[2]), der_int(der, e[1], e[2])


def rsa_public_from_certificate(der):
    """(n, e) from an X.509 Certificate:
    Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
    TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature,
        issuer, validity, subject, subjectPublicKeyInfo, ... }"""
    tag, cs, ce = read_tlv(der, 0)
    _expect(tag, 0x30, "Certificate")
    tbs = children(der, cs, ce)[0]
    _expect(tbs[0], 0x30, "TBSCertificate")
    fields = children(der, tbs[1], tbs[2])
    if fields and fields[0][0] == 0xA0:  # explicit version tag
        fields = fields[1:]
    if len(fields) < 6:
        raise DerError("TBSCertificate too short")
    return rsa_public_from_spki(der, fields[5][3])


def load_rsa_public_key(pem_text):
    """(n, e) from a PEM certificate, PUBLIC KEY or RSA PUBLIC KEY."""
    for label, der in pem_blocks(pem_text):
        if label == "CERTIFICATE":
            return rsa_public_from_certificate(der)
        if label == "PUBLIC KEY":
            return rsa_public_from_spki(der)
        if label == "RSA PUBLIC KEY":
            return rsa_public_from_pkcs1(der)
    raise DerError("no certificate or public key in PEM text")


# ---------------------------------------------------------------------------
# RSASSA-PKCS1-v1_5 with SHA-256

def _emsa_pkcs1_sha256(message, k):
    t = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    if k < len(t) + 11:
        raise ValueError("key too short")
    return b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t


def rsa_verify_sha256(n, e, message, signature):
    """True when signature is a valid RS256 signature of message."""
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    em = pow(s, e, n).to_bytes(k, "big")
    try:
        expected = _emsa_pkcs1_sha256(message, k)
    except ValueError:
        return False
    return hmac.compare_digest(em, expected)


# ---------------------------------------------------------------------------
# Private keys and signing (for tests only; the emulator never signs)

def rsa_private_from_pem(pem_text):
    """(n, d) from an unencrypted 'PRIVATE KEY' (PKCS#8) or 'RSA PRIVATE KEY'."""
    for label, der in pem_blocks(pem_text):
        if label == "RSA PRIVATE KEY":
            return _rsa_private_pkcs1(der)
        if label == "PRIVATE KEY":
            tag, cs, ce = read_tlv(der, 0)
            _expect(tag, 0x30, "PrivateKeyInfo")
            parts = children(der, cs, ce)
            _expect(parts[2][0], 0x04, "privateKey")
            return _rsa_private_pkcs1(der[parts[2][1]:parts[2][2]])
        if label == "ENCRYPTED PRIVATE KEY":
            raise DerError("encrypted key: decrypt it first")
    raise DerError("no private key in PEM text")


def _rsa_private_pkcs1(der):
    tag, cs, ce = read_tlv(der, 0)
    _expect(tag, 0x30, "RSAPrivateKey")
    parts = children(der, cs, ce)
    n = der_int(der, parts[1][1], parts[1][2])
    d = der_int(der, parts[3][1], parts[3][2])
    return n, d


def rsa_sign_sha256(n, d, message):
    k = (n.bit_length() + 7) // 8
    m = int.from_bytes(_emsa_pkcs1_sha256(message, k), "big")
    return pow(m, d, n).to_bytes(k, "big")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    """Strict base64url: the URL-safe alphabet only, padding optional."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url")
    text = text.rstrip("=")
    if len(text) % 4 == 1:
        raise ValueError("bad base64url length")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
