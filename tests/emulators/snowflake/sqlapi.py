"""The SQL API v2 resource: POST /api/v2/statements, GET .../{handle}
[?partition=N], POST .../{handle}/cancel (contracts/snowflake.md section 2).

Every POST becomes a Statement executed by its own thread; the request
thread waits for it up to the synchronous wait (45 s like the real service,
--sync-wait) unless async=true, then answers 200/422/408 or 202.  Each
request is one session of the engine (sqlengine.Session).
"""
import gzip
import itertools
import json
import re
import threading
import time

import errors
import sqlengine
import sqlfuncs
import sqllex
import wire
from errors import SqlError
from sftypes import Col
import sftypes as T

ACCEPTED_PARAMETERS = {"BINARY_OUTPUT_FORMAT", "CLIENT_RESULT_CHUNK_SIZE", "DATE_OUTPUT_FORMAT",
                       "MULTI_STATEMENT_COUNT", "QUERY_TAG", "ROWS_PER_RESULTSET",
                       "TIME_OUTPUT_FORMAT", "TIMESTAMP_LTZ_OUTPUT_FORMAT",
                       "TIMESTAMP_NTZ_OUTPUT_FORMAT", "TIMESTAMP_OUTPUT_FORMAT",
                       "TIMESTAMP_TZ_OUTPUT_FORMAT", "TIMEZONE", "USE_CACHED_RESULT"}
# Output formats change the wire text of values; the emulator only speaks the defaults.
FORMAT_PARAMETERS = {p for p in ACCEPTED_PARAMETERS if p.endswith("_FORMAT")}
MAX_TIMEOUT = 604800
JERSEY_400 = ('{\n"servlet":"com.sun.jersey.spi.container.servlet.ServletContainer-53c8845f",\n'
              '"message":"Bad Request",\n"url":"/api/v2/statements",\n"status":"400"\n}')
HANDLE_RE = re.compile(r"^/api/v2/statements/([^/]+)(/cancel)?$")


class Reply:
    def __init__(self, status, body=None, headers=(), raw=None, force_gzip=False,
                 content_type="application/json"):
        self.status, self.body, self.headers = status, body, list(headers)
        self.raw, self.force_gzip, self.content_type = raw, force_gzip, content_type

    def payload(self):
        if self.raw is not None:
            return self.raw
        return wire.dumps_pretty(self.body) if self.body is not None else b""


def error_reply(status, code, message, sql_state=None, handle=None, auth_style=False):
    if auth_style:
        return Reply(status, wire.auth_error_body(code, message))
    return Reply(status, wire.error_body(code, message, sql_state, handle))


class Statement:
    def __init__(self, handle, request_id, text, nullable, timeout):
        self.handle, self.request_id, self.text = handle, request_id, text
        self.created_on = wire.now_ms()
        self.nullable, self.timeout = nullable, timeout
        self.status = "running"           # running | done | failed | canceled
        self.error = None                 # SqlError
        self.cols, self.partitions, self.stats = None, None, None
        self.children = None              # handles of a multi-statement parent
        self.dml_counts = False
        self.done = threading.Event()
        self.cancel = threading.Event()


class Handles:
    """Query ids shaped like the real ones: 01c79a10-0001-ac43-0000-d07900024c1a."""

    def __init__(self):
        self._n = itertools.count(0x24c1a, 4)
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            n = next(self._n)
        return "01%06x-0001-ac43-0000-d079%08x" % (int(time.time()) & 0xFFFFFF, n)


class SqlApi:
    def __init__(self, emu):
        self.emu = emu
        self.handles = Handles()
        self.lock = threading.Lock()
        self.statements = {}
        self.by_request_id = {}
        self.slow = []                    # [{"seconds", "pattern", "count"}]

    def reset(self):
        with self.lock:
            for s in self.statements.values():
                s.cancel.set()
            self.statements, self.by_request_id, self.slow = {}, {}, []

    # -- POST /api/v2/statements ---------------------------------------------------------
    def post(self, headers, query, body, log):
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return Reply(400, raw=JERSEY_400.encode(), content_type="application/json",
                         headers=[("Cache-Control", "must-revalidate,no-cache,no-store")])
        denied = self._common_checks(headers)
        if denied:
            return denied
        try:
            doc = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            doc = None
        if not isinstance(doc, dict):
            return error_reply(400, "390142", "Incoming request does not contain a valid payload.",
                               auth_style=True)
        emu = self.emu
        role = doc.get("role") or emu.role
        if role not in (emu.role, "PUBLIC"):
            return error_reply(400, "390186", "Role '%s' specified in the connect string is not "
                               "granted to this user, or is not permitted for the credentials "
                               "being used. Contact your local system administrator, or attempt "
                               "to login with another role, e.g. PUBLIC." % role, auth_style=True)
        text = doc.get("statement")
        log["statement"] = text
        bindings = doc.get("bindings")
        log["bindings_count"] = len(bindings) if isinstance(bindings, dict) else 0
        if isinstance(bindings, dict):
            log["binding_rows"] = max([len(b["value"]) for b in bindings.values()
                                       if isinstance(b, dict) and isinstance(b.get("value"), list)]
                                      or [1])
        params = doc.get("parameters") or {}
        log["parameters"] = params
        request_id = (query.get("requestId") or [None])[0]
        is_async = (query.get("async") or ["false"])[0].lower() == "true"
        nullable = (query.get("nullable") or ["true"])[0].lower() != "false"
        log.update({"request_id": request_id, "async": is_async,
                    "retry": (query.get("retry") or ["false"])[0].lower() == "true"})
        if request_id:
            with self.lock:
                old = self.by_request_id.get(request_id)
            if old is not None and old.status != "failed" and old.status != "canceled":
                log["statement_handle"] = old.handle
                log["replayed"] = True
                old.done.wait(0 if is_async else emu.settings["sync_wait_seconds"])
                return self.state_reply(old)
        if not isinstance(text, str) or not text.strip():
            return error_reply(400, "000900", "SQL compilation error:\nEmpty SQL statement.",
                               "42601", None)
        stmt = Statement(self.handles.next(), request_id or wire.new_request_id(), text,
                         nullable, MAX_TIMEOUT)
        log["statement_handle"] = stmt.handle
        with self.lock:
            self.statements[stmt.handle] = stmt
            self.by_request_id[stmt.request_id] = stmt
        try:
            plan = self._plan(stmt, doc, params, bindings)
        except SqlError as e:
            self._fail(stmt, e)
            return self.state_reply(stmt)
        if plan is None:                  # a lexer error etc. already recorded
            return self.state_reply(stmt)
        threading.Thread(target=self._execute, args=(stmt,) + plan, daemon=True).start()
        stmt.done.wait(0 if is_async else emu.settings["sync_wait_seconds"])
        return self.state_reply(stmt)

    def _common_checks(self, headers):
        ua = headers.get("User-Agent")
        if ua is None or not ua.strip():
            return error_reply(400, "391903", "Invalid or empty User-Agent header set: %s"
                               % ("null" if ua is None else ua), auth_style=True)
        failure = self.emu.auth.authenticate(headers)
        if failure:
            status, code, message = failure
            return error_reply(status, code, message, auth_style=True)
        return None

    def _plan(self, stmt, doc, params, bindings):
        """Checks that come before execution; (pieces, session args, bindings)."""
        if not isinstance(params, dict):
            raise errors.compilation("parameters must be a JSON object")
        upper = {str(k).upper(): v for k, v in params.items()}
        for k, v in upper.items():
            if k not in ACCEPTED_PARAMETERS:
                raise SqlError("391910", "22023", "Unsupported parameter: %s" % k)   # invented
            if k in FORMAT_PARAMETERS or (k == "TIMEZONE" and str(v).upper() != "UTC"):
                raise errors.unsupported("The parameter %s=%s" % (k, v))
        timeout = doc.get("timeout", 0 if "timeout" not in doc else doc["timeout"])
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0:
            raise SqlError("391901", "22023", "Invalid timeout: %s" % json.dumps(timeout))
        stmt.timeout = timeout or MAX_TIMEOUT if "timeout" in doc else \
            self.emu.settings["default_timeout_seconds"]
        count_text = upper.get("MULTI_STATEMENT_COUNT", "1")
        try:
            want = int(str(count_text))
        except ValueError:
            raise SqlError("391908", "22023", "Invalid MULTI_STATEMENT_COUNT: %s" % count_text)
        pieces = sqllex.split_statements(stmt.text)
        if not pieces:
            raise SqlError("000900", "42601", "SQL compilation error:\nEmpty SQL statement.")
        if want != 0 and len(pieces) != want:
            raise SqlError("000008", "0A000", "Actual statement count %d did not match the "
                           "desired statement count %d." % (len(pieces), want))
        multi = len(pieces) > 1
        for _, toks in pieces:
            kind = sqlengine.api_refusal(toks)
            if kind in ("PUT", "GET") or (kind and not multi):
                raise errors.not_supported_by_api(kind)
        if multi and bindings:
            raise SqlError("000002", "0A000", "Unsupported feature 'bind variables in a "
                           "multi-statement request'.")   # wording invented
        if bindings is not None and not isinstance(bindings, dict):
            raise SqlError("002049", "22000", "SQL compilation error:\nbindings must be an object")
        session_args = (doc.get("database") or self.emu.database, doc.get("schema") or
                        ("PUBLIC" if doc.get("database") else self.emu.schema),
                        doc.get("warehouse") or self.emu.warehouse,
                        doc.get("role") or self.emu.role)
        return pieces, session_args, bindings or None

    # -- execution ------------------------------------------------------------------------------
    def _execute(self, stmt, pieces, session_args, bindings):
        emu = self.emu
        engine = emu.engine
        deadline = time.monotonic() + stmt.timeout
        multi = len(pieces) > 1
        db, schema, warehouse, role = session_args
        session = sqlengine.Session(stmt.handle, db, schema, warehouse, role, emu.user,
                                    emu.account, emu.warehouse_ok)
        children = []
        held = False
        try:
            if multi and not emu.warehouse_ok(warehouse):
                raise errors.no_warehouse()
            for text, toks in pieces:
                delay = self._delay(text, toks)
                if delay:
                    if held and not session.in_txn:
                        engine.lock.release()
                        held = False
                    self._wait(stmt, delay, deadline)
                if stmt.cancel.is_set():
                    raise _Canceled()
                if not held:
                    engine.lock.acquire()
                    held = True
                engine.begin_statement(session, sqlfuncs.epoch_ns_now())
                result = engine.run(toks, bindings)
                if multi:
                    child = Statement(self.handles.next(), wire.new_request_id(), text,
                                      stmt.nullable, stmt.timeout)
                    self._finish(child, result)
                    with self.lock:
                        self.statements[child.handle] = child
                    children.append(child.handle)
            if multi:
                summary = sqlengine.Result(
                    [Col("multiple statement execution", T.TEXT, False, byte_length=134217728,
                         length=134217728)],
                    [["Multiple statements executed successfully."]], dml_counts=True)
                stmt.children = children
                self._finish(stmt, summary)
            else:
                self._finish(stmt, result)
        except _Canceled:
            self._fail(stmt, SqlError("000604", "57014", "SQL execution canceled"), "canceled")
        except _TimedOut:
            self._fail(stmt, SqlError("000630", "57014", "Statement reached its statement or "
                                      "warehouse timeout of %d second(s) and was canceled."
                                      % stmt.timeout, status=408))
        except SqlError as e:
            self._fail(stmt, e)
        except Exception as e:            # an emulator bug: say so, never hang the client
            import traceback
            traceback.print_exc()
            self._fail(stmt, errors.compilation("internal error of the Sluice Snowflake "
                                                "emulator: %s" % e))
        finally:
            if not held:
                engine.lock.acquire()
            try:
                engine.end_session(session)   # rollback of an open transaction, TEMP tables
            finally:
                engine.lock.release()

    def _delay(self, text, toks):
        seconds = 0.0
        w = sqlengine.wait_seconds(toks)
        if w is not None:
            seconds += w[0]
        with self.lock:
            for rule in list(self.slow):
                if rule["pattern"] is None or rule["pattern"].search(text):
                    seconds += rule["seconds"]
                    if rule["count"] is not None:
                        rule["count"] -= 1
                        if rule["count"] <= 0:
                            self.slow.remove(rule)
                    break
        return seconds

    def _wait(self, stmt, seconds, deadline):
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if stmt.cancel.is_set():
                raise _Canceled()
            if now >= deadline:
                raise _TimedOut()
            if now >= end:
                return
            stmt.cancel.wait(min(end, deadline) - now)

    def _finish(self, stmt, result):
        rows = result.rows
        if not stmt.nullable:
            rows = [["null" if v is None else v for v in r] for r in rows]
        size = max(1, self.emu.settings["partition_rows"])
        parts = [rows[i:i + size] for i in range(0, len(rows), size)] or [[]]
        stmt.cols, stmt.partitions, stmt.stats = result.cols, parts, result.stats
        stmt.dml_counts = result.dml_counts
        stmt.status = "done"
        stmt.done.set()

    @staticmethod
    def _fail(stmt, err, status="failed"):
        stmt.error, stmt.status = err, status
        stmt.done.set()

    # -- replies ---------------------------------------------------------------------------------
    def state_reply(self, stmt, partition=None):
        if stmt.status == "running":
            return Reply(202, wire.async_body(stmt.handle))
        if stmt.status in ("failed", "canceled"):
            e = stmt.error
            return error_reply(e.status, e.code, e.message, e.sql_state, stmt.handle)
        n = len(stmt.partitions)
        link = ("Link", wire.link_header(stmt.handle, partition or 0, n))
        if partition:
            return Reply(200, raw=wire.partition_body(stmt.partitions[partition]),
                         headers=[link], force_gzip=True)
        info = []
        for p in stmt.partitions:
            size = sum(len(wire.row_json(r).encode()) for r in p) + max(0, len(p) - 1)
            if p and stmt.dml_counts:
                size += 11                # what the real service reports for these
            entry = {"rowCount": len(p), "uncompressedSize": size}
            if n > 1:
                entry["compressedSize"] = len(gzip.compress(wire.partition_body(p), 6))
            info.append(entry)
        meta = {"numRows": sum(len(p) for p in stmt.partitions), "format": "jsonv2",
                "partitionInfo": info, "rowType": [wire.row_type_entry(c) for c in stmt.cols]}
        body = wire.result_body(meta, stmt.partitions[0], stmt.handle, stmt.request_id,
                                stmt.created_on, stmt.stats, stmt.children)
        return Reply(200, body, headers=[link])

    # -- GET and cancel ----------------------------------------------------------------------------
    def get_or_cancel(self, method, path, headers, query, log):
        m = HANDLE_RE.match(path)
        if not m:
            return Reply(404)
        handle, cancel = m.group(1), bool(m.group(2))
        if (method == "GET") == cancel or method not in ("GET", "POST"):
            return Reply(405)
        denied = self._common_checks(headers)
        if denied:
            return denied
        log["statement_handle"] = handle
        with self.lock:
            stmt = self.statements.get(handle)
        if stmt is None:
            status = 422 if cancel else 400
            return error_reply(status, "000709", "Statement %s not found" % handle, "02000",
                               handle)
        if cancel:
            if stmt.status == "running":
                stmt.cancel.set()
            return Reply(200, wire.cancel_body(handle))
        part = (query.get("partition") or [None])[0]
        if part is not None and stmt.status == "done":
            last = len(stmt.partitions) - 1
            if not re.fullmatch(r"-?\d+", part) or not 0 <= int(part) <= last:
                return error_reply(400, "391922", "Invalid partition parameter. The partition "
                                   "must be long type parsable and between 0 and %d, but '%s' is "
                                   "specified." % (last, part), "22023", handle)
            return self.state_reply(stmt, int(part))
        return self.state_reply(stmt)


class _Canceled(Exception):
    pass


class _TimedOut(Exception):
    pass
