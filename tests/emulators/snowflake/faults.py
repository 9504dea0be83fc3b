"""Fault injection and the request log.

A fault applies to the next `count` requests that match (method, path
prefix, optional regex on the statement text), after letting `after`
matches through:
  status          answer `status` instead (429: Snowflake's 390505 body and
                  Retry-After; 500/502/503/504: empty body; "body" overrides)
  reset           close the connection without an answer (TCP RST)
  reset_after     execute the request, then close without an answer: the
                  client must resend with the same requestId and retry=true
  reset_mid_body  headers and half of the real body, then close
  stall           wait `seconds`, then answer normally
"""
import itertools
import json
import re
import threading

KINDS = ("status", "reset", "reset_after", "reset_mid_body", "stall")
LOGGED_HEADERS = ("User-Agent", "Content-Type", "Accept", "Accept-Encoding", "Content-Encoding",
                  "Content-Length", "X-Snowflake-Authorization-Token-Type", "Connection", "Host")
MAX_LOG = 20000


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
        self.path_prefix = spec.get("path_prefix") or "/api/"
        self.method = (spec.get("method") or "").upper() or None
        self.statement_regex = spec.get("statement_regex")
        self.rx = re.compile(self.statement_regex, re.I) if self.statement_regex else None
        self.status = int(spec.get("status", 503))
        self.retry_after = spec.get("retry_after", 1 if self.status in (429, 503) else None)
        self.seconds = float(spec.get("seconds", 5.0))
        self.body = spec.get("body")
        if self.count < 1 or self.after < 0:
            raise FaultSpecError("count must be >= 1 and after >= 0")
        self.id = next(self._ids)
        self.fired = 0

    def describe(self):
        return {"id": self.id, "kind": self.kind, "count": self.count, "after": self.after,
                "path_prefix": self.path_prefix, "method": self.method,
                "statement_regex": self.statement_regex, "status": self.status,
                "retry_after": self.retry_after, "seconds": self.seconds, "fired": self.fired}

    def response(self):
        """(status, content type, body bytes, headers) of a 'status' fault."""
        headers = []
        if self.retry_after is not None:
            headers.append(("Retry-After", str(self.retry_after)))
        if self.body is not None:
            if isinstance(self.body, str):
                return self.status, "text/plain", self.body.encode(), headers
            return self.status, "application/json", json.dumps(self.body).encode(), headers
        if self.status == 429:
            import wire
            body = wire.dumps_pretty(wire.auth_error_body("390505", "Too many requests."))
            return 429, "application/json", body, headers
        return self.status, "text/plain", b"", headers


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

    def take(self, method, path, statement):
        with self.lock:
            for f in self.pending:
                if not path.startswith(f.path_prefix) or (f.method and f.method != method):
                    continue
                if f.rx is not None and not (isinstance(statement, str)
                                             and f.rx.search(statement)):
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
            del self.entries[:max(0, len(self.entries) - MAX_LOG)]

    def query(self, since=0, path_prefix=None, method=None):
        with self.lock:
            return [e for e in self.entries if e["seq"] > since
                    and (not path_prefix or e["path"].startswith(path_prefix))
                    and (not method or e["method"] == method)]


def logged_headers(headers):
    out = {name: headers.get(name) for name in LOGGED_HEADERS if headers.get(name) is not None}
    auth = headers.get("Authorization")
    if auth is not None:
        scheme = auth.split(None, 1)[0] if auth.strip() else ""
        out["Authorization"] = scheme + " <redacted>"
    return out
