"""The control API: plain JSON under /__control/ (a path the real service
never uses), guarded by header X-Sfkemu-Control-Token.  Tests use it to
change the world behind the client's back (faults, slow statements, the
warehouse, JWT expiry), to read and write tables directly, and to see what
the client sent.  Control requests are neither faulted nor logged.
"""
import hmac
import re

import faults as flt
import sqlengine
import sqlfuncs
import sqllex
from errors import SqlError


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Control:
    def __init__(self, emu):
        self.emu = emu

    def authorized(self, headers):
        token = headers.get("X-Sfkemu-Control-Token") or ""
        return hmac.compare_digest(token.encode(), self.emu.control_token.encode())

    def handle(self, method, path, query, doc):
        parts = [p for p in path[len("/__control"):].split("/") if p]
        fn = getattr(self, "do_" + parts[0].replace("-", "_"), None) if parts else None
        try:
            if fn is None:
                raise ControlError(404, "no such control resource: " + path)
            return 200, fn(method, parts[1:], query, doc if doc is not None else {})
        except ControlError as e:
            return e.status, {"error": str(e)}
        except (ValueError, TypeError, KeyError, re.error) as e:
            return 400, {"error": "%s: %s" % (type(e).__name__, e)}

    def do_info(self, method, rest, query, doc):
        return self.emu.info()

    def do_reset(self, method, rest, query, doc):
        _need(method, "POST")
        self.emu.reset()
        return {"reset": True}

    def do_settings(self, method, rest, query, doc):
        s = self.emu.settings
        if method == "POST":
            for key in ("sync_wait_seconds", "partition_rows", "default_timeout_seconds"):
                if key in doc:
                    s[key] = type(s[key])(doc[key])
        return dict(s)

    def do_faults(self, method, rest, query, doc):
        f = self.emu.faults
        if method == "POST":
            try:
                added = [f.add(spec).describe() for spec in (doc if isinstance(doc, list)
                                                             else [doc])]
            except flt.FaultSpecError as e:
                raise ControlError(400, str(e))
            return {"added": added}
        if method == "DELETE":
            f.clear()
            return {"cleared": True}
        return {"pending": f.list()}

    def do_slow(self, method, rest, query, doc):
        api = self.emu.api
        with api.lock:
            if method == "POST":
                pattern = doc.get("pattern")
                api.slow.append({"seconds": float(doc.get("seconds", 5)),
                                 "pattern": re.compile(pattern, re.I | re.S) if pattern else None,
                                 "count": int(doc["count"]) if doc.get("count") else None,
                                 "text": pattern})
            elif method == "DELETE":
                api.slow = []
            return {"slow": [{"seconds": r["seconds"], "pattern": r["text"], "count": r["count"]}
                             for r in api.slow]}

    def do_warehouse(self, method, rest, query, doc):
        w = self.emu.warehouse_state
        if method == "POST":
            if "state" in doc:
                state = str(doc["state"]).upper()
                if state not in ("STARTED", "SUSPENDED"):
                    raise ControlError(400, "state must be STARTED or SUSPENDED")
                w["state"] = state
            for key in ("exists", "auto_resume"):
                if key in doc:
                    w[key] = bool(doc[key])
        return dict(w)

    def do_tokens(self, method, rest, query, doc):
        _need(method, "POST")
        auth = self.emu.auth
        if rest == ["expire"]:
            return auth.expire(doc.get("count"))
        if rest == ["clock"]:
            auth.clock_offset = float(doc.get("offset_seconds", 0))
            return {"offset_seconds": auth.clock_offset}
        raise ControlError(404, "POST /__control/tokens/expire | /__control/tokens/clock")

    def do_requests(self, method, rest, query, doc):
        log = self.emu.log
        if method == "DELETE":
            log.clear()
            return {"cleared": True}
        since = int((query.get("since") or ["0"])[0])
        entries = log.query(since, (query.get("path_prefix") or [None])[0],
                            (query.get("method") or [None])[0])
        return {"requests": entries, "last_seq": log.seq}

    def do_statements(self, method, rest, query, doc):
        api = self.emu.api
        with api.lock:
            return {"statements": [{"handle": s.handle, "status": s.status, "text": s.text,
                                    "request_id": s.request_id,
                                    "code": s.error.code if s.error else None}
                                   for s in api.statements.values()]}

    def do_sql(self, method, rest, query, doc):
        """Run SQL straight against the store (no warehouse, no auth, no log):
        {"sql": "...", "database": .., "schema": .., "bindings": {..}} ->
        {"columns", "types", "rows" (wire text), "stats"} of the last statement."""
        _need(method, "POST")
        emu = self.emu
        text = doc.get("sql")
        if not isinstance(text, str):
            raise ControlError(400, "give sql")
        engine = emu.engine
        session = sqlengine.Session("control", doc.get("database") or emu.database,
                                    doc.get("schema") or emu.schema, emu.warehouse, emu.role,
                                    emu.user, emu.account, lambda name: True)
        with engine.lock:
            try:
                result = None
                for _, toks in sqllex.split_statements(text):
                    engine.begin_statement(session, sqlfuncs.epoch_ns_now())
                    result = engine.run(toks, doc.get("bindings"))
                engine.end_session(session)
            except SqlError as e:
                engine.end_session(session)
                raise ControlError(422, "%s %s: %s" % (e.code, e.sql_state, e.message))
        if result is None:
            raise ControlError(400, "no statement")
        return {"columns": [c.name for c in result.cols], "types": [c.type for c in result.cols],
                "rows": result.rows, "stats": result.stats}


def _need(method, want):
    if method != want:
        raise ControlError(405, "use " + want)
