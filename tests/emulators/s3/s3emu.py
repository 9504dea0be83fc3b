#!/usr/bin/env python3
"""s3emu: a strict S3-compatible object store for Sluice's tests (Python 3
standard library and the openssl CLI only).

    python3 s3emu.py --pki DIR [--port 0] [--state-file FILE] [--control-token T]
                     [--region us-east-1] [--access-key AK --secret-key SK
                     [--session-token TOK]] [--bucket NAME ...]

Serves HTTPS on 127.0.0.1 and prints one line once it is ready:
    s3emu listening on https://127.0.0.1:PORT
Every request must carry a valid AWS Signature V4 (Authorization header).
sfkemu.py --s3 runs the same server inside its own process (start_server).
See README in this directory.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.server
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import sigv4            # noqa: E402
from store import Store, BUCKET_RE   # noqa: E402

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_BODY = 256 * 1024 * 1024
FAULT_KINDS = ("status", "reset", "reset_after", "reset_mid_body", "stall", "slow")
LOGGED_HEADERS = ("Host", "User-Agent", "Content-Type", "Content-Length", "Content-MD5",
                  "Range", "Expect", "x-amz-content-sha256", "x-amz-date", "Connection")
STATUS_TEXT = {500: ("InternalError", "We encountered an internal error. Please try again."),
               503: ("SlowDown", "Please reduce your request rate."),
               502: ("BadGateway", "Bad Gateway"),
               504: ("GatewayTimeout", "Gateway Timeout")}
DEFAULT_SETTINGS = {"max_skew_seconds": 900, "clock_offset_seconds": 0.0,
                    "wrong_region_error": "malformed", "expired_tokens": []}


class S3Error(Exception):
    def __init__(self, status, code, message, **fields):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields


def iso_ms(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"


def http_date(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(t))


def error_xml(err, request_id, host_id):
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
             % (err.code, escape(err.message))]
    for k, v in err.fields.items():
        parts.append("<%s>%s</%s>" % (k, escape(str(v)), k))
    parts.append("<RequestId>%s</RequestId><HostId>%s</HostId></Error>" % (request_id, host_id))
    return "".join(parts).encode()


# ---------------------------------------------------------------------------
# Faults and the request log (the conventions of the other emulators)

class Fault:
    _ids = itertools.count(1)

    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        self.kind = spec.get("kind", "status")
        if self.kind not in FAULT_KINDS:
            raise ValueError("kind must be one of " + ", ".join(FAULT_KINDS))
        self.count = int(spec.get("count", 1))
        self.after = int(spec.get("after", 0))
        self.path_prefix = spec.get("path_prefix") or "/"
        self.method = (spec.get("method") or "").upper() or None
        self.status = int(spec.get("status", 503))
        self.seconds = float(spec.get("seconds", 5.0))
        self.bytes_per_second = int(spec.get("bytes_per_second", 65536))
        self.retry_after = spec.get("retry_after")
        if self.count < 1 or self.after < 0:
            raise ValueError("count must be >= 1 and after >= 0")
        self.id = next(self._ids)
        self.fired = 0

    def describe(self):
        return {"id": self.id, "kind": self.kind, "count": self.count, "after": self.after,
                "path_prefix": self.path_prefix, "method": self.method, "status": self.status,
                "seconds": self.seconds, "bytes_per_second": self.bytes_per_second,
                "fired": self.fired}


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.pending = []

    def add(self, spec):
        f = Fault(spec)
        with self.lock:
            self.pending.append(f)
        return f

    def clear(self):
        with self.lock:
            self.pending = []

    def list(self):
        with self.lock:
            return [f.describe() for f in self.pending]

    def take(self, method, path):
        with self.lock:
            for f in self.pending:
                if not path.startswith(f.path_prefix) or (f.method and f.method != method):
                    continue
                if f.after > 0:
                    f.after -= 1
                    continue
                f.fired += 1
                f.count -= 1
                if f.count <= 0:
                    self.pending.remove(f)
                return f
        return None


class RequestLog:
    def __init__(self):
        self.lock = threading.Lock()
        self.entries, self.seq = [], 0

    def clear(self):
        with self.lock:
            self.entries = []

    def add(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.entries.append(entry)
            del self.entries[:max(0, len(self.entries) - 20000)]

    def query(self, since=0, path_prefix=None, method=None):
        with self.lock:
            return [e for e in self.entries if e["seq"] > since
                    and (not path_prefix or e["path"].startswith(path_prefix))
                    and (not method or e["method"] == method)]


# ---------------------------------------------------------------------------
# The S3 service (HTTP-independent)

class Reply:
    def __init__(self, status, body=b"", headers=None, content_type="application/xml"):
        self.status, self.body = status, body
        self.headers = list(headers or [])
        self.content_type = content_type
        self.error_code = None


class S3Service:
    def __init__(self, region="us-east-1", credentials=None, buckets=(), vhost_suffixes=None,
                 store=None, control_token=None):
        self.region = region
        self.base_credentials = dict(credentials or {})   # access key -> (secret, token|None)
        self.base_buckets = list(buckets)
        self.vhost_suffixes = [s.lower() for s in (vhost_suffixes or ["localhost"])]
        self.store = store or Store()
        self.control_token = control_token or secrets.token_hex(16)
        self.faults = Faults()
        self.log = RequestLog()
        self.stop_event = threading.Event()
        self.reset()

    def reset(self):
        self.credentials = dict(self.base_credentials)
        self.settings = json.loads(json.dumps(DEFAULT_SETTINGS))
        self.store.reset(self.base_buckets)
        self.faults.clear()
        self.log.clear()

    def now(self):
        return time.time() + float(self.settings["clock_offset_seconds"])

    # -- credentials, as sfkemu's stages use them ------------------------------------------
    def check_credentials(self, access_key, secret, token):
        """None if the key/secret/token triple would work, else an S3Error."""
        cred = self.credentials.get(access_key)
        if cred is None or (cred[1] and not token):
            return S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does "
                           "not exist in our records.", AWSAccessKeyId=access_key)
        if token and token != cred[1]:
            return S3Error(400, "InvalidToken", "The provided token is malformed or otherwise "
                           "invalid.", **{"Token-0": token})
        if token and token in self.settings["expired_tokens"]:
            return S3Error(400, "ExpiredToken", "The provided token has expired.",
                           **{"Token-0": token})
        if not hmac.compare_digest(secret.encode(), cred[0].encode()):
            return S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated "
                           "does not match the signature you provided. Check your key and "
                           "signing method.", AWSAccessKeyId=access_key)
        return None

    # -- addressing -------------------------------------------------------------------------
    def address(self, host, raw_path):
        """(bucket or None, key or None, style)."""
        h = (host or "").strip().lower()
        if h.startswith("["):
            h = h[:h.find("]") + 1]
        elif ":" in h:
            h = h.rsplit(":", 1)[0]
        path = urllib.parse.unquote(raw_path)
        for suffix in self.vhost_suffixes:
            if h.endswith("." + suffix):
                label = h[:-len(suffix) - 1]
                if label.endswith(".s3"):
                    label = label[:-3]
                if label and label != "s3":
                    key = path[1:] if path.startswith("/") else path
                    return label, key or None, "virtual"
        parts = path[1:].split("/", 1) if path.startswith("/") else [path]
        bucket = parts[0] or None
        key = parts[1] if len(parts) > 1 and parts[1] else None
        return bucket, key, "path"

    # -- authentication ---------------------------------------------------------------------
    def authenticate(self, method, raw_path, raw_query, headers, body):
        """headers: {lower name: [values]}.  Raises S3Error; returns the access key."""
        query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        auth = (headers.get("authorization") or [None])[0]
        if auth is None:
            if "X-Amz-Algorithm" in query or "X-Amz-Signature" in query:
                raise S3Error(501, "NotImplemented", "A header you provided implies "
                              "functionality that is not implemented",
                              Header="X-Amz-Algorithm")
            raise S3Error(403, "AccessDenied", "Access Denied")
        if auth.startswith("AWS "):
            raise S3Error(400, "InvalidRequest", "The authorization mechanism you have provided "
                          "is not supported. Please use AWS4-HMAC-SHA256.")
        try:
            parsed = sigv4.parse_authorization(auth)
        except ValueError as e:
            if str(e) == "unsupported":
                raise S3Error(400, "InvalidArgument", "Unsupported Authorization Type",
                              ArgumentName="Authorization", ArgumentValue=auth[:40])
            raise S3Error(400, "AuthorizationHeaderMalformed",
                          "The authorization header is malformed; " + str(e))
        access_key, cdate, cregion, cservice, _ = parsed["credential"]
        amz_date = (headers.get("x-amz-date") or [None])[0]
        if amz_date is None or not re.fullmatch(r"\d{8}T\d{6}Z", amz_date):
            raise S3Error(403, "AccessDenied", "AWS authentication requires a valid Date or "
                          "x-amz-date header")
        token = (headers.get("x-amz-security-token") or [None])[0]
        cred = self.credentials.get(access_key)
        if cred is None or (cred[1] and token is None):
            raise S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does "
                          "not exist in our records.", AWSAccessKeyId=access_key)
        if token is not None and (token != cred[1]):
            raise S3Error(400, "InvalidToken", "The provided token is malformed or otherwise "
                          "invalid.", **{"Token-0": token})
        if token is not None and token in self.settings["expired_tokens"]:
            raise S3Error(400, "ExpiredToken", "The provided token has expired.",
                          **{"Token-0": token})
        if cdate != amz_date[:8]:
            raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is "
                          "malformed; Invalid credential date. Date is not the same as "
                          "X-Amz-Date.")
        if cregion != self.region and self.settings["wrong_region_error"] == "malformed":
            raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is "
                          "malformed; the region '%s' is wrong; expecting '%s'"
                          % (cregion, self.region), Region=self.region)
        payload = (headers.get("x-amz-content-sha256") or [None])[0]
        if payload is None:
            raise S3Error(400, "InvalidRequest", "Missing required header for this request: "
                          "x-amz-content-sha256")
        if payload.startswith("STREAMING-"):
            raise S3Error(501, "NotImplemented", "A header you provided implies functionality "
                          "that is not implemented", Header="x-amz-content-sha256")
        if payload != sigv4.UNSIGNED and not re.fullmatch(r"[0-9a-f]{64}", payload):
            raise S3Error(400, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                          "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                          "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
                          "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, "
                          "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 "
                          "value.", ArgumentName="x-amz-content-sha256", ArgumentValue=payload)
        signed = parsed["signed_headers"]
        unsigned = [h for h in sorted(headers) if (h.startswith("x-amz-") or h == "host"
                                                   or h == "content-md5") and h not in signed]
        if unsigned:
            raise S3Error(403, "AccessDenied", "There were headers present in the request which "
                          "were not signed", HeadersNotSigned=", ".join(unsigned))
        creq = sigv4.canonical_request(method, raw_path, raw_query, headers, signed, payload)
        scope = "/".join(parsed["credential"][1:])
        sts = sigv4.string_to_sign(amz_date, scope, creq)
        expected = sigv4.signature(cred[0], cdate, self.region, "s3", sts)
        if not hmac.compare_digest(expected, parsed["signature"]):
            raise S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated "
                          "does not match the signature you provided. Check your key and signing "
                          "method.", AWSAccessKeyId=access_key, StringToSign=sts,
                          SignatureProvided=parsed["signature"],
                          StringToSignBytes=" ".join("%02x" % b for b in sts.encode()),
                          CanonicalRequest=creq,
                          CanonicalRequestBytes=" ".join("%02x" % b for b in creq.encode()))
        t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        max_skew = int(self.settings["max_skew_seconds"])
        if abs(t - self.now()) > max_skew:
            raise S3Error(403, "RequestTimeTooSkewed", "The difference between the request time "
                          "and the current time is too large.", RequestTime=amz_date,
                          ServerTime=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now())),
                          MaxAllowedSkewMilliseconds=max_skew * 1000)
        if payload != sigv4.UNSIGNED:
            computed = hashlib.sha256(body).hexdigest()
            if computed != payload:
                raise S3Error(400, "XAmzContentSHA256Mismatch", "The provided "
                              "'x-amz-content-sha256' header does not match what was computed.",
                              ClientComputedContentSHA256=payload,
                              S3ComputedContentSHA256=computed)
        return access_key

    # -- operations ---------------------------------------------------------------------------
    def handle(self, method, raw_path, raw_query, headers, body, entry):
        bucket, key, style = self.address((headers.get("host") or [""])[0], raw_path)
        entry.update({"bucket": bucket, "key": key, "style": style,
                      "path": "/" + (bucket or "") + ("/" + key if key else "")})
        self.authenticate(method, raw_path, raw_query, headers, body)
        query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        if bucket is None:
            if method != "GET":
                raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed "
                              "against this resource.", Method=method, ResourceType="SERVICE")
            return self.list_buckets()
        if key is None:
            return self.bucket_op(method, bucket, query)
        b = self.store.bucket(bucket)
        if b is None:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist",
                          BucketName=bucket)
        for sub in ("uploads", "uploadId", "partNumber", "acl", "tagging", "versionId",
                    "retention", "legal-hold", "torrent", "restore", "select", "attributes"):
            if sub in query:
                raise S3Error(501, "NotImplemented", "A header you provided implies "
                              "functionality that is not implemented", Header=sub)
        if method == "PUT":
            return self.put_object(bucket, key, headers, body)
        if method in ("GET", "HEAD"):
            return self.get_object(bucket, key, headers, method == "HEAD")
        if method == "DELETE":
            self.store.delete(bucket, key)
            return Reply(204)
        raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed against "
                      "this resource.", Method=method, ResourceType="OBJECT")

    def list_buckets(self):
        with self.store.lock:
            names = sorted(self.store.buckets.items())
        items = "".join("<Bucket><Name>%s</Name><CreationDate>%s</CreationDate></Bucket>"
                        % (escape(n), iso_ms(b["created"])) for n, b in names)
        return Reply(200, ('<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult '
                           'xmlns="%s"><Owner><ID>s3emu</ID><DisplayName>s3emu</DisplayName>'
                           '</Owner><Buckets>%s</Buckets></ListAllMyBucketsResult>'
                           % (XMLNS, items)).encode())

    def bucket_op(self, method, bucket, query):
        if method == "PUT" and not query:
            if not BUCKET_RE.match(bucket) or ".." in bucket:
                raise S3Error(400, "InvalidBucketName", "The specified bucket is not valid.",
                              BucketName=bucket)
            if not self.store.create_bucket(bucket) and self.region != "us-east-1":
                raise S3Error(409, "BucketAlreadyOwnedByYou", "Your previous request to create "
                              "the named bucket succeeded and you already own it.",
                              BucketName=bucket)
            return Reply(200, headers=[("Location", "/" + bucket)])
        b = self.store.bucket(bucket)
        if b is None:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist",
                          BucketName=bucket)
        if method == "HEAD":
            return Reply(200, headers=[("x-amz-bucket-region", self.region)])
        if method == "DELETE" and not query:
            if b["objects"]:
                raise S3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not "
                              "empty", BucketName=bucket)
            self.store.delete_bucket(bucket)
            return Reply(204)
        if method == "GET" and "location" in query:
            loc = "" if self.region == "us-east-1" else escape(self.region)
            return Reply(200, ('<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint '
                               'xmlns="%s">%s</LocationConstraint>' % (XMLNS, loc)).encode())
        if method == "GET" and not (set(query) - {"list-type", "prefix", "delimiter", "max-keys",
                                                  "continuation-token", "start-after",
                                                  "encoding-type", "fetch-owner", "marker"}):
            return self.list_objects(bucket, query)
        raise S3Error(501, "NotImplemented", "A header you provided implies functionality that "
                      "is not implemented", Header=",".join(sorted(query)) or method)

    def list_objects(self, bucket, query):
        q = {k: v[0] for k, v in query.items()}
        v2 = q.get("list-type") == "2"
        if "list-type" in q and not v2:
            raise S3Error(400, "InvalidArgument", "Invalid List Type specified",
                          ArgumentName="list-type", ArgumentValue=q["list-type"])
        prefix, delim = q.get("prefix", ""), q.get("delimiter", "")
        try:
            max_keys = int(q.get("max-keys", "1000"))
            if max_keys < 0:
                raise ValueError
        except ValueError:
            raise S3Error(400, "InvalidArgument", "Provided max-keys not an integer or within "
                          "integer range", ArgumentName="max-keys",
                          ArgumentValue=q.get("max-keys"))
        max_keys = min(max_keys, 1000)
        enc = q.get("encoding-type")
        if enc not in (None, "url"):
            raise S3Error(400, "InvalidArgument", "Invalid Encoding Method specified in Request",
                          ArgumentName="encoding-type", ArgumentValue=enc)
        after = ""
        if v2 and "continuation-token" in q:
            try:
                after = base64.urlsafe_b64decode(q["continuation-token"].encode()).decode()
                if not after.startswith("s3emu:"):
                    raise ValueError
                after = after[6:]
            except (ValueError, UnicodeDecodeError):
                raise S3Error(400, "InvalidArgument", "The continuation token provided is "
                              "incorrect", ArgumentName="continuation-token")
        elif v2:
            after = q.get("start-after", "")
        else:
            after = q.get("marker", "")
        contents, prefixes, truncated, last = [], [], False, None
        for o in self.store.list(bucket, prefix, after):
            if delim:
                i = o.key.find(delim, len(prefix))
                if i >= 0:
                    cp = o.key[:i + len(delim)]
                    if prefixes and prefixes[-1] == cp:
                        continue
                    if after.startswith(cp):
                        continue
                    if len(contents) + len(prefixes) >= max_keys:
                        truncated = True
                        break
                    prefixes.append(cp)
                    last = cp
                    continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            contents.append(o)
            last = o.key

        def k(s):
            return escape(sigv4.uri_encode(s, keep_slash=True) if enc else s)
        out = ['<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="%s">' % XMLNS,
               "<Name>%s</Name><Prefix>%s</Prefix>" % (escape(bucket), k(prefix))]
        if v2:
            if "continuation-token" in q:
                out.append("<ContinuationToken>%s</ContinuationToken>"
                           % escape(q["continuation-token"]))
            if "start-after" in q:
                out.append("<StartAfter>%s</StartAfter>" % k(q["start-after"]))
            out.append("<KeyCount>%d</KeyCount>" % (len(contents) + len(prefixes)))
        else:
            out.append("<Marker>%s</Marker>" % k(q.get("marker", "")))
        out.append("<MaxKeys>%d</MaxKeys>" % max_keys)
        if delim:
            out.append("<Delimiter>%s</Delimiter>" % k(delim))
        if enc:
            out.append("<EncodingType>url</EncodingType>")
        out.append("<IsTruncated>%s</IsTruncated>" % ("true" if truncated else "false"))
        if truncated and v2:
            out.append("<NextContinuationToken>%s</NextContinuationToken>" % base64.
                       urlsafe_b64encode(("s3emu:" + last).encode()).decode())
        elif truncated and delim:
            out.append("<NextMarker>%s</NextMarker>" % k(last))
        for o in contents:
            out.append("<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>%s</ETag>"
                       "<Size>%d</Size>%s<StorageClass>STANDARD</StorageClass></Contents>"
                       % (k(o.key), iso_ms(o.last_modified), escape(o.etag), len(o.data),
                          "<Owner><ID>s3emu</ID><DisplayName>s3emu</DisplayName></Owner>"
                          if (not v2 or q.get("fetch-owner") == "true") else ""))
        for p in prefixes:
            out.append("<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>" % k(p))
        out.append("</ListBucketResult>")
        return Reply(200, "".join(out).encode())

    def put_object(self, bucket, key, headers, body):
        if "x-amz-copy-source" in headers:
            raise S3Error(501, "NotImplemented", "A header you provided implies functionality "
                          "that is not implemented", Header="x-amz-copy-source")
        if len(key.encode()) > 1024:
            raise S3Error(400, "KeyTooLongError", "Your key is too long")
        md5 = (headers.get("content-md5") or [None])[0]
        if md5 is not None:
            try:
                want = base64.b64decode(md5, validate=True)
            except ValueError:
                want = b""
            if len(want) != 16:
                raise S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.",
                              **{"Content-MD5": md5})
            if want != hashlib.md5(body).digest():
                raise S3Error(400, "BadDigest", "The Content-MD5 you specified did not match "
                              "what we received.", ExpectedDigest=md5,
                              CalculatedDigest=base64.b64encode(hashlib.md5(body).digest())
                              .decode())
        meta = {k[len("x-amz-meta-"):]: v[0] for k, v in headers.items()
                if k.startswith("x-amz-meta-")}
        obj = self.store.put(bucket, key, body, (headers.get("content-type") or [None])[0], meta)
        return Reply(200, headers=[("ETag", obj.etag)])

    def get_object(self, bucket, key, headers, head):
        o = self.store.get(bucket, key)
        if o is None:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.", Key=key)
        hdrs = [("Last-Modified", http_date(o.last_modified)), ("ETag", o.etag),
                ("Accept-Ranges", "bytes")] + [("x-amz-meta-" + k, v) for k, v in o.meta.items()]
        data = o.data
        status = 200
        rng = (headers.get("range") or [None])[0]
        if rng:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if m and (m.group(1) or m.group(2)):
                n = len(data)
                if m.group(1):
                    a = int(m.group(1))
                    b = min(int(m.group(2)), n - 1) if m.group(2) else n - 1
                else:
                    a, b = max(0, n - int(m.group(2))), n - 1
                if a >= n or a > b:
                    raise S3Error(416, "InvalidRange", "The requested range is not satisfiable",
                                  RangeRequested=rng, ActualObjectSize=n)
                hdrs.append(("Content-Range", "bytes %d-%d/%d" % (a, b, n)))
                data, status = data[a:b + 1], 206
        r = Reply(status, data, hdrs, o.content_type)
        r.head_length = len(data) if head else None
        return r


# ---------------------------------------------------------------------------
# Control API

class Control:
    def __init__(self, svc, info):
        self.svc, self.info = svc, info

    def authorized(self, headers):
        token = headers.get("X-S3emu-Control-Token") or ""
        return hmac.compare_digest(token.encode(), self.svc.control_token.encode())

    def handle(self, method, path, query, body):
        parts = [urllib.parse.unquote(p) for p in path[len("/__control"):].split("/") if p]
        doc = {}
        if body:
            try:
                doc = json.loads(body)
            except ValueError:
                return 400, {"error": "bad JSON"}
        svc = self.svc
        try:
            what = parts[0] if parts else ""
            if what == "info":
                return 200, self.info()
            if what == "reset" and method == "POST":
                svc.reset()
                return 200, {"reset": True}
            if what == "settings":
                if method == "POST":
                    for k in DEFAULT_SETTINGS:
                        if k in doc:
                            svc.settings[k] = doc[k]
                    if svc.settings["wrong_region_error"] not in ("malformed", "signature"):
                        svc.settings["wrong_region_error"] = "malformed"
                        return 400, {"error": "wrong_region_error: malformed | signature"}
                return 200, dict(svc.settings)
            if what == "faults":
                if method == "POST":
                    added = [svc.faults.add(s).describe()
                             for s in (doc if isinstance(doc, list) else [doc])]
                    return 200, {"added": added}
                if method == "DELETE":
                    svc.faults.clear()
                    return 200, {"cleared": True}
                return 200, {"pending": svc.faults.list()}
            if what == "requests":
                if method == "DELETE":
                    svc.log.clear()
                    return 200, {"cleared": True}
                since = int((query.get("since") or ["0"])[0])
                return 200, {"requests": svc.log.query(since, (query.get("path_prefix") or
                                                              [None])[0],
                                                       (query.get("method") or [None])[0]),
                             "last_seq": svc.log.seq}
            if what == "credentials":
                if method == "POST":
                    svc.credentials[doc["access_key"]] = (doc["secret_key"],
                                                          doc.get("session_token"))
                elif method == "DELETE" and len(parts) == 2:
                    svc.credentials.pop(parts[1], None)
                return 200, {"access_keys": sorted(svc.credentials)}
            if what == "buckets":
                if method == "POST":
                    svc.store.create_bucket(doc["name"])
                with svc.store.lock:
                    return 200, {"buckets": sorted(svc.store.buckets)}
            if what == "objects" and len(parts) >= 2:
                bucket, key = parts[1], "/".join(parts[2:])
                if svc.store.bucket(bucket) is None:
                    return 404, {"error": "no such bucket"}
                if not key:
                    prefix = (query.get("prefix") or [""])[0]
                    return 200, {"objects": [o.summary() for o in svc.store.list(bucket, prefix)]}
                if method in ("POST", "PUT"):
                    data = base64.b64decode(doc["base64"]) if "base64" in doc else \
                        doc.get("text", "").encode()
                    if doc.get("gzip"):
                        import gzip
                        data = gzip.compress(data)
                    return 200, svc.store.put(bucket, key, data, doc.get("content_type")).summary()
                if method == "DELETE":
                    return 200, {"deleted": svc.store.delete(bucket, key)}
                o = svc.store.get(bucket, key)
                if o is None:
                    return 404, {"error": "no such key"}
                return 200, dict(o.summary(), base64=base64.b64encode(o.data).decode())
            return 404, {"error": "no such control resource: " + path}
        except (ValueError, TypeError, KeyError) as e:
            return 400, {"error": "%s: %s" % (type(e).__name__, e)}


# ---------------------------------------------------------------------------
# HTTP

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300

    def version_string(self):
        return "AmazonS3"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("s3emu: %s - %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def dispatch(self):
        svc = self.server.svc
        started = time.monotonic()
        raw_path, _, raw_query = self.path.partition("?")
        if raw_path.startswith("/__control"):
            body = self._read_body()
            if body is None:
                return
            if not self.server.control.authorized(self.headers):
                return self._send(Reply(403, b'{"error":"bad control token"}', [],
                                        "application/json"))
            status, out = self.server.control.handle(
                self.command, raw_path, urllib.parse.parse_qs(raw_query), body)
            return self._send(Reply(status, json.dumps(out).encode(), [], "application/json"))
        request_id = secrets.token_hex(8).upper()
        host_id = base64.b64encode(secrets.token_bytes(48)).decode()
        headers = {}
        for k, v in self.headers.items():
            headers.setdefault(k.lower(), []).append(v)
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "method": self.command, "raw_path": raw_path, "query": raw_query,
                 "host": self.headers.get("Host"),
                 "headers": {k: self.headers.get(k) for k in LOGGED_HEADERS
                             if self.headers.get(k) is not None},
                 "status": None, "error": None, "fault": None, "path": raw_path}
        auth = self.headers.get("Authorization")
        if auth:
            entry["headers"]["Authorization"] = re.sub(r"Signature=[0-9a-fA-F]*",
                                                       "Signature=<redacted>", auth)
        if self.headers.get("x-amz-security-token") is not None:
            entry["headers"]["x-amz-security-token"] = "<redacted>"
        bucket, key, _ = svc.address(self.headers.get("Host"), raw_path)
        fault_path = "/" + (bucket or "") + ("/" + key if key else "")
        fault = svc.faults.take(self.command, fault_path)
        if fault is not None:
            entry["fault"] = fault.kind
            if fault.kind == "reset":
                entry["status"] = 0
                entry["path"] = fault_path
                svc.log.add(entry)
                return self._abort()
            if fault.kind == "status":
                code, msg = STATUS_TEXT.get(fault.status, ("ServiceUnavailable",
                                                           "Service is unable to handle "
                                                           "request."))
                if fault.status != 503 and fault.status not in STATUS_TEXT:
                    code, msg = "InternalError", "We encountered an internal error. Please " \
                                                 "try again."
                err = S3Error(fault.status, code, msg)
                self._read_body()
                entry.update(status=fault.status, error=code, path=fault_path)
                svc.log.add(entry)
                hdrs = [("x-amz-request-id", request_id), ("x-amz-id-2", host_id)]
                if fault.retry_after is not None:
                    hdrs.append(("Retry-After", str(fault.retry_after)))
                return self._send(Reply(fault.status, error_xml(err, request_id, host_id), hdrs))
            if fault.kind == "stall":
                svc.stop_event.wait(fault.seconds)
        body = self._read_body()
        if body is None:
            return
        entry["bytes_in"] = len(body)
        try:
            reply = svc.handle(self.command, raw_path, raw_query, headers, body, entry)
        except S3Error as e:
            reply = Reply(e.status, b"" if self.command == "HEAD" else
                          error_xml(e, request_id, host_id))
            reply.error_code = e.code
        except Exception:
            traceback.print_exc()
            e = S3Error(500, "InternalError", "We encountered an internal error. Please try "
                        "again.")
            reply = Reply(500, error_xml(e, request_id, host_id))
            reply.error_code = e.code
        reply.headers += [("x-amz-request-id", request_id), ("x-amz-id-2", host_id)]
        entry.update(status=reply.status, error=reply.error_code,
                     ms=int((time.monotonic() - started) * 1000))
        svc.log.add(entry)
        if fault is not None and fault.kind == "reset_after":
            return self._abort()
        self._send(reply, mid_body_reset=fault is not None and fault.kind == "reset_mid_body",
                   rate=fault.bytes_per_second if fault is not None and fault.kind == "slow"
                   else None)

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        try:
            if te == "chunked":
                out = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()
                    if len(out) > MAX_BODY:
                        raise ValueError
            n = int(self.headers.get("Content-Length") or 0)
            if n > MAX_BODY:
                raise ValueError
            return self.rfile.read(n) if n else b""
        except (ValueError, OSError):
            self.close_connection = True
            try:
                self.send_response(400)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass
            return None

    def _send(self, reply, mid_body_reset=False, rate=None):
        payload = reply.body
        try:
            self.send_response(reply.status)
            for k, v in reply.headers:
                self.send_header(k, v)
            if reply.content_type and (payload or getattr(reply, "head_length", None)
                                       is not None):
                self.send_header("Content-Type", reply.content_type)
            length = getattr(reply, "head_length", None)
            if reply.status != 204:
                self.send_header("Content-Length", str(length if length is not None
                                                       else len(payload)))
            self.end_headers()
            if self.command == "HEAD" or not payload:
                return
            if mid_body_reset:
                self.wfile.write(payload[:max(1, len(payload) // 2)])
                self.wfile.flush()
                time.sleep(0.05)
                return self._abort()
            if rate:
                step = max(1, rate // 10)
                for i in range(0, len(payload), step):
                    self.wfile.write(payload[i:i + step])
                    self.wfile.flush()
                    time.sleep(0.1)
                return
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def _abort(self):
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, svc, ssl_ctx, verbose=False):
        self.svc, self.ssl_ctx, self.verbose = svc, ssl_ctx, verbose
        self.control = None
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        try:
            request.settimeout(30)
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
            tls.settimeout(Handler.timeout)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def vhost_certificate(pki, buckets, suffixes, workdir):
    """A server certificate signed by the test CA whose SANs also name the
    virtual-host bucket names (bucket.localhost, bucket.s3.localhost,
    *.s3.localhost), so https://bucket.localhost:PORT verifies.  Needs
    DIR/ca.key and the openssl CLI; returns (crt, key) or None."""
    ca_crt, ca_key = os.path.join(pki, "ca.crt"), os.path.join(pki, "ca.key")
    if not (os.path.exists(ca_key) and shutil.which("openssl")):
        return None
    sans = ["DNS:localhost", "IP:127.0.0.1"]
    for s in suffixes:
        sans += ["DNS:s3.%s" % s, "DNS:*.s3.%s" % s]
        sans += ["DNS:%s.%s" % (b, s) for b in buckets]
    crt, key = os.path.join(workdir, "s3emu.crt"), os.path.join(workdir, "s3emu.key")
    ext = os.path.join(workdir, "ext.cnf")
    with open(ext, "w") as fh:
        fh.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,"
                 "keyEncipherment\nextendedKeyUsage=serverAuth\n" % ",".join(sans))
    csr = os.path.join(workdir, "s3emu.csr")
    run = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", csr, "-subj", "/CN=localhost"], **run)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
                        "-CAcreateserial", "-CAserial", os.path.join(workdir, "ca.srl"),
                        "-days", "30", "-sha256", "-extfile", ext, "-out", crt], **run)
    except (subprocess.CalledProcessError, OSError):
        return None
    return crt, key


def start_server(pki, port=0, region="us-east-1", credentials=None, buckets=(),
                 control_token=None, vhost_suffixes=None, verbose=False, store=None,
                 vhost_cert=True):
    """Start an S3 server thread; returns (server, service, info()).  Used by
    main() and by sfkemu.py --s3."""
    suffixes = vhost_suffixes or ["localhost"]
    svc = S3Service(region, credentials, buckets, suffixes, store, control_token)
    workdir = tempfile.mkdtemp(prefix="s3emu-")
    pair = vhost_certificate(pki, buckets, suffixes, workdir) if vhost_cert else None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if pair:
        ctx.load_cert_chain(*pair)
    else:
        ctx.load_cert_chain(os.path.join(pki, "server.crt"), os.path.join(pki, "server.key"))
    shutil.rmtree(workdir, ignore_errors=True)
    server = Server(("127.0.0.1", port), svc, ctx, verbose)
    p = server.server_address[1]
    creds = list(svc.base_credentials.items())    # --access-key first

    def info():
        url = "https://127.0.0.1:%d" % p
        first = creds[0] if creds else (None, (None, None))
        return {"port": p, "pid": os.getpid(), "url": url, "endpoint": url,
                "path_style_url": url + "/{bucket}/{key}",
                "virtual_host_url": "https://{bucket}.%s:%d/{key}" % (suffixes[0], p),
                "virtual_host_suffixes": suffixes, "virtual_host_certificate": bool(pair),
                "region": svc.region, "service": "s3",
                "access_key_id": first[0], "secret_access_key": first[1][0],
                "session_token": first[1][1],
                "credentials": [{"access_key_id": k, "secret_access_key": s, "session_token": t}
                                for k, (s, t) in creds],
                "buckets": list(svc.base_buckets),
                "ca_file": os.path.join(os.path.abspath(pki), "ca.crt"),
                "control_url": url + "/__control", "control_token": svc.control_token,
                "control_header": "X-S3emu-Control-Token"}
    server.control = Control(svc, info)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                     daemon=True).start()
    return server, svc, info


def add_arguments(p, prefix=""):
    """The S3 options (sfkemu.py adds them with prefix "s3-")."""
    p.add_argument("--%sregion" % prefix, default="us-east-1")
    p.add_argument("--%saccess-key" % prefix, default="SLUICETESTACCESSKEY1",
                   help="access key id (default SLUICETESTACCESSKEY1)")
    p.add_argument("--%ssecret-key" % prefix, default="sluice-test-secret-access-key",
                   help="its secret (default sluice-test-secret-access-key)")
    p.add_argument("--%ssession-token" % prefix,
                   help="require this x-amz-security-token with the access key")
    p.add_argument("--%scredential" % prefix, action="append", default=[],
                   help="another AK:SECRET[:TOKEN], repeatable")
    p.add_argument("--%sbucket" % prefix, action="append",
                   help="a bucket that exists (repeatable; default sluice-stage)")
    p.add_argument("--%svirtual-host-suffix" % prefix, action="append",
                   help="Host suffix for virtual-host style (default localhost)")


def credentials_from(args, prefix=""):
    g = lambda name: getattr(args, prefix + name)   # noqa: E731
    creds = {g("access_key"): (g("secret_key"), g("session_token"))}
    for c in g("credential"):
        parts = c.split(":", 2)
        if len(parts) < 2:
            raise SystemExit("--credential wants AK:SECRET[:TOKEN]")
        creds[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else None)
    return creds


def main(argv=None):
    p = argparse.ArgumentParser(description="Strict S3 emulator with SigV4 (stdlib only).")
    p.add_argument("--pki", required=True, help="dir made by make-test-pki.sh")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--state-file")
    p.add_argument("--control-token")
    p.add_argument("--no-vhost-cert", action="store_true",
                   help="serve DIR/server.crt (no bucket names in the SAN)")
    p.add_argument("--verbose", action="store_true")
    add_arguments(p)
    args = p.parse_args(argv)
    server, svc, info = start_server(
        args.pki, args.port, args.region, credentials_from(args), args.bucket or ["sluice-stage"],
        args.control_token, args.virtual_host_suffix, args.verbose,
        vhost_cert=not args.no_vhost_cert)
    if args.state_file:
        write_state(args.state_file, info())
    done = threading.Event()

    def stop(*_):
        svc.stop_event.set()
        done.set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("s3emu listening on https://127.0.0.1:%d" % server.server_address[1], flush=True)
    while not done.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0


def write_state(path, doc):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=2)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
