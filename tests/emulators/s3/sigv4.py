"""AWS Signature Version 4 as S3 checks it (header form, Authorization:
AWS4-HMAC-SHA256 ...), plus the signer the tests and sfkemu use.

Canonical request (S3 flavour: the path is URI-encoded once, never
normalized):
    METHOD \n /canonical/uri \n canonical&query \n name:value\n... \n
    signed;headers \n payload-hash
String to sign:
    AWS4-HMAC-SHA256 \n YYYYMMDDTHHMMSSZ \n date/region/service/aws4_request \n
    hex(sha256(canonical request))
Key: HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request".
"""
import hashlib
import hmac
import re
import urllib.parse

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


def uri_encode(text, keep_slash=False):
    """AWS URI encoding: unreserved characters as they are, everything else
    %XX (upper-case hex) of its UTF-8 bytes; '/' kept in paths."""
    safe = _UNRESERVED + ("/" if keep_slash else "")
    return "".join(c if c in safe else "".join("%%%02X" % b for b in c.encode("utf-8"))
                   for c in text)


def canonical_uri(raw_path):
    """The path as sent, decoded once and encoded again (S3: no dot-segment
    removal, no double encoding)."""
    return uri_encode(urllib.parse.unquote(raw_path or "/"), keep_slash=True) or "/"


def canonical_query(raw_query):
    pairs = []
    for part in (raw_query or "").split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        pairs.append((uri_encode(urllib.parse.unquote(k)), uri_encode(urllib.parse.unquote(v))))
    pairs.sort()
    return "&".join("%s=%s" % kv for kv in pairs)


def canonical_header_value(v):
    return re.sub(r"\s+", " ", v.strip())


def canonical_request(method, raw_path, raw_query, headers, signed, payload_hash):
    """headers: {lower-case name: [values]}; signed: list of lower-case names."""
    lines = []
    for name in signed:
        vals = headers.get(name, [])
        lines.append("%s:%s\n" % (name, ",".join(canonical_header_value(v) for v in vals)))
    return "\n".join([method, canonical_uri(raw_path), canonical_query(raw_query),
                      "".join(lines), ";".join(signed), payload_hash])


def signing_key(secret, date, region, service):
    k = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def string_to_sign(amz_date, scope, creq):
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])


def signature(secret, date, region, service, sts):
    return hmac.new(signing_key(secret, date, region, service), sts.encode(),
                    hashlib.sha256).hexdigest()


_AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256\s+(.*)$", re.S)


def parse_authorization(value):
    """{'credential': [...5 parts], 'signed_headers': [...], 'signature': hex}
    or raises ValueError(message) in S3's words."""
    m = _AUTH_RE.match(value.strip())
    if not m:
        raise ValueError("unsupported")
    fields = {}
    for item in re.split(r"\s*,\s*", m.group(1).strip()):
        k, sep, v = item.partition("=")
        if sep:
            fields[k.strip()] = v.strip()
    if not all(k in fields for k in ("Credential", "SignedHeaders", "Signature")):
        raise ValueError("the authorization header requires three components: Credential, "
                         "SignedHeaders, and Signature.")
    cred = fields["Credential"].split("/")
    if len(cred) != 5 or cred[4] != "aws4_request" or not re.fullmatch(r"\d{8}", cred[1]):
        raise ValueError('the Credential is mal-formed; expecting '
                         '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".')
    return {"credential": cred, "signed_headers": fields["SignedHeaders"].split(";"),
            "signature": fields["Signature"]}


def sign(method, url_path, query, headers, access_key, secret, region, amz_date,
         service="s3", payload_hash=UNSIGNED, token=None):
    """Headers (dict) to add to a request: x-amz-date, x-amz-content-sha256,
    [x-amz-security-token], Authorization.  `headers` must hold Host."""
    h = {k.lower(): [v] for k, v in headers.items()}
    h["x-amz-date"] = [amz_date]
    h["x-amz-content-sha256"] = [payload_hash]
    if token:
        h["x-amz-security-token"] = [token]
    signed = sorted(h)
    creq = canonical_request(method, url_path, query, h, signed, payload_hash)
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    sig = signature(secret, amz_date[:8], region, service, string_to_sign(amz_date, scope, creq))
    out = {"x-amz-date": amz_date, "x-amz-content-sha256": payload_hash,
           "Authorization": "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
               ALGORITHM, access_key, scope, ";".join(signed), sig)}
    if token:
        out["x-amz-security-token"] = token
    return out
