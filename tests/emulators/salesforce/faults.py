"""Fault injection and the request log.

A fault applies to the next `count` requests that match (method, path
prefix), after skipping the first `after` matches:

  status           answer `status` with a realistic body (+ Retry-After)
  reset            close the connection without answering (TCP RST)
  reset_mid_body   send the headers and half of the real body, then close
  stall            wait `seconds`, then answer normally
  stall_mid_body   send the headers and half of the body, wait `seconds`,
                   then the rest
Faulted requests that never reach the API (status, reset, stall before the
answer is computed) do not count against the API budget.
"""
import itertools
import threading

import wire

KINDS = ("status", "reset", "reset_mid_body", "stall", "stall_mid_body")
LOGGED_HEADERS = ("User-Agent", "Content-Type", "Accept", "Accept-Encoding", "Content-Encoding",
                  "Content-Length", "Transfer-Encoding", "Expect", "Sforce-Query-Options",
                  "Sforce-Call-Options", "If-Modified-Since", "Connection", "Host")
MAX_LOG = 20000
MAX_LOGGED_BODY = 65536


class FaultSpecError(ValueError):
    pass


class Fault:
    _ids = itertools.count(1)

    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise FaultSpecError("a fault is a JSON object")
        self.kind = spec.get("kind", "status")
        if self.kind not in KINDS:
            raise FaultSpecError("kind must be one of " + ", ".join(KINDS))
        self.count = int(spec.get("count", 1))
        self.after = int(spec.get("after", 0))
        self.path_prefix = spec.get("path_prefix") or "/"
        self.method = (spec.get("method") or "").upper() or None
        self.status = int(spec.get("status", 503))
        self.retry_after = spec.get("retry_after",
                                    1 if self.kind == "status" and self.status in (429, 503) else None)
        self.seconds = float(spec.get("seconds", 5.0))
        self.body = spec.get("body")           # optional override (JSON value or text)
        self.rst = bool(spec.get("rst", self.kind == "reset"))
        if self.count < 1 or self.after < 0:
            raise FaultSpecError("count must be >= 1 and after >= 0")
        self.id = next(self._ids)
        self.fired = 0

    def describe(self):
        return {"id": self.id, "kind": self.kind, "count": self.count, "after": self.after,
                "path_prefix": self.path_prefix, "method": self.method, "status": self.status,
                "retry_after": self.retry_after, "seconds": self.seconds, "fired": self.fired}

    def response(self, path):
        """(status, content_type, body bytes, headers) of a 'status' fault."""
        headers = []
        if self.retry_after is not None:
            headers.append(("Retry-After", str(self.retry_after)))
        if self.body is not None:
            if isinstance(self.body, str):
                return self.status, "text/plain;charset=UTF-8", self.body.encode(), headers
            return self.status, "application/json;charset=UTF-8", wire.dumps(self.body), headers
        if path.startswith("/services/oauth2/"):
            body = {"error": "unknown_error", "error_description": "retry your request"}
            return self.status, "application/json;charset=UTF-8", wire.dumps(body), headers
        if self.status == 502:
            html = b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"
            return 502, "text/html", html, headers
        code, msg = {
            500: ("UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId "
                                       "if you contact support: 1928374650-12345 (-1234567890)"),
            503: ("SERVER_UNAVAILABLE", "Server Unavailable"),
            429: ("TOO_MANY_REQUESTS", "Too Many Requests"),
            420: ("REQUEST_RUNNING_TOO_LONG", "Request was routed but could not be served "
                                              "in time"),
        }.get(self.status, ("UNKNOWN_EXCEPTION", "Injected fault %d" % self.status))
        return (self.status, "application/json;charset=UTF-8",
                wire.dumps(wire.rest_error(code, msg)), headers)


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
        """The fault to apply to this request, if any (first match wins)."""
        with self.lock:
            for f in self.pending:
                if not path.startswith(f.path_prefix):
                    continue
                if f.method and f.method != method:
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
        self.entries = []
        self.seq = 0

    def clear(self):
        with self.lock:
            self.entries = []

    def add(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.entries.append(entry)
            if len(self.entries) > MAX_LOG:
                del self.entries[:len(self.entries) - MAX_LOG]
        return entry

    def query(self, since=0, path_prefix=None, method=None):
        with self.lock:
            return [e for e in self.entries if e["seq"] > since
                    and (not path_prefix or e["path"].startswith(path_prefix))
                    and (not method or e["method"] == method)]


def logged_headers(headers):
    out = {}
    for name in LOGGED_HEADERS:
        v = headers.get(name)
        if v is not None:
            out[name] = v
    auth = headers.get("Authorization")
    if auth is not None:
        scheme = auth.split(None, 1)[0] if auth.strip() else ""
        out["Authorization"] = scheme + " <redacted>"
    return out
