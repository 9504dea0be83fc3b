"""REST API under /services/data (contract sections 0, 2 and 3).

Every call after the versions list needs a valid session and an API
version in the path, counts against the daily API budget and carries
'Sforce-Limit-Info: api-usage=N/M'.
"""
import collections
import email.utils
import re
import secrets

import composite
import soql
import wire

MIN_VERSION = 31.0           # 7.0-30.0 are retired (Summer '25)
LOCATOR_IDLE_MS = 15 * 60 * 1000
MAX_CURSORS_PER_USER = 10
PAGE_DEFAULT, PAGE_MIN, PAGE_MAX = 2000, 200, 2000
LONG_TEXT_PAGE = 200         # two or more custom long text fields selected
DELETED_DAYS, UPDATED_DAYS = 15, 30
MAX_REPLICATION_IDS = 600000
SCHEMA_MODIFIED_MS = 1701388800000   # 2023-12-01: the seeded schema's last change
NOT_FOUND = ("NOT_FOUND", "The requested resource does not exist")


class Response:
    def __init__(self, status, body=None, headers=None, content_type="application/json;charset=UTF-8"):
        self.status = status
        self.body = body                  # bytes, a JSON-able object, or None
        self.headers = list(headers or [])
        self.content_type = content_type

    def payload(self):
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return wire.dumps(self.body)


def error(status, code, message, headers=None):
    return Response(status, wire.rest_error(code, message), headers)


def release_label(version):
    """'Summer '26' for 67.0: three releases a year, 31.0 was Summer '14."""
    k = int(float(version)) - 31
    season = ("Summer", "Winter", "Spring")[k % 3]
    return "%s '%02d" % (season, 14 + (k + 2) // 3)


class Budget:
    """The rolling 24-hour DailyApiRequests allocation, counted per minute."""

    def __init__(self, clock, maximum):
        self.clock = clock
        self.max = maximum
        self.buckets = collections.deque()   # [minute_ms, count]

    def _expire(self):
        horizon = self.clock.now_ms() - 86400000
        while self.buckets and self.buckets[0][0] <= horizon:
            self.buckets.popleft()

    def used(self):
        self._expire()
        return sum(c for _m, c in self.buckets)

    def _add(self, n):
        minute = self.clock.now_ms() // 60000 * 60000
        if self.buckets and self.buckets[-1][0] >= minute:
            self.buckets[-1][1] += n
        else:
            self.buckets.append([minute, n])

    def add(self, n):
        self._add(n)

    def consume(self):
        if self.used() >= self.max:
            return False
        self._add(1)
        return True

    def set(self, used=None, maximum=None):
        if maximum is not None:
            self.max = int(maximum)
        if used is not None:
            self.buckets.clear()
            if used:
                self._add(int(used))

    def header(self):
        return ("Sforce-Limit-Info", "api-usage=%d/%d" % (self.used(), self.max))


class Cursor:
    def __init__(self, cid, query, rows, user_id, page_size, now_ms):
        self.id = cid
        self.query = query
        self.rows = rows
        self.user_id = user_id
        self.page_size = page_size
        self.last_ms = now_ms
        self.renderers = {}        # API version -> record renderer


class RestApi:
    def __init__(self, store, oauth, clock, budget, max_version):
        self.store = store
        self.schema = store.schema
        self.oauth = oauth
        self.clock = clock
        self.budget = budget
        self.max_version = float(max_version)
        self.cursors = collections.OrderedDict()
        self.collections = composite.Collections(store)
        self.bulk = None            # bulk_jobs.BulkApi, set by sfemu

    def reset(self):
        self.cursors.clear()

    def versions(self):
        out = []
        v = int(MIN_VERSION)
        while v <= self.max_version:
            ver = "%d.0" % v
            out.append({"label": release_label(ver), "url": "/services/data/v" + ver, "version": ver})
            v += 1
        return out

    # -- entry point ----------------------------------------------------------
    def handle(self, req):
        """req: .method .path .query .headers .body .on_login_host"""
        path = req.path
        if path in ("/services/data", "/services/data/"):
            # The versions list needs no session and carries no usage header.
            if req.method != "GET":
                return error(405, "METHOD_NOT_ALLOWED",
                             "HTTP Method '%s' not allowed. Allowed are GET,HEAD" % req.method)
            return Response(200, self.versions())
        session = None if req.on_login_host else self.oauth.authenticate(
            req.headers.get("Authorization"))
        if session is None:
            # The login host does not serve the org's API: only instance_url does.
            return error(401, "INVALID_SESSION_ID", "Session expired or invalid",
                         [("WWW-Authenticate", "Token")])
        if not self.budget.consume():
            resp = error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        else:
            resp = self._versioned(req, session)
        resp.headers.append(self.budget.header())
        return resp

    def _versioned(self, req, session):
        m = re.match(r"^/services/data/v(\d+\.\d)(/.*)?$", req.path)
        if not m:
            return error(404, *NOT_FOUND)
        version, sub = m.group(1), m.group(2) or "/"
        v = float(version)
        if v > self.max_version:
            return error(404, *NOT_FOUND)
        if v < MIN_VERSION:
            return error(410, "GONE", "API version %s has been retired" % version)
        try:
            return self._route(req, session, version, v, sub)
        except composite.RequestError as e:
            return Response(e.status, e.body)

    def _route(self, req, session, version, v, sub):
        method = "GET" if req.method == "HEAD" else req.method
        parts = [p for p in sub.split("/") if p != ""]
        trailing = sub.endswith("/")

        def only(*methods):
            if method not in methods:
                return error(405, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed. Allowed "
                             "are %s" % (method, ",".join(methods + (("HEAD",) if "GET" in methods else ()))))
            return None

        if self.bulk is not None:
            self.bulk.tick()        # due Bulk jobs write before anything reads
        if not parts:
            return only("GET") or Response(200, self.resources(version))
        head = parts[0]
        if head == "jobs" and self.bulk is not None:
            return self.bulk.handle(req, session, version, parts[1:], method)
        if head == "limits" and len(parts) == 1:
            return only("GET") or Response(200, self.limits())
        if head in ("query", "queryAll") and len(parts) <= 2:
            bad = only("GET")
            if bad:
                return bad
            if len(parts) == 2:
                return self.query_more(req, version, parts[1], session)
            if trailing:
                return error(404, *NOT_FOUND)
            return self.query(req, version, head == "queryAll", session)
        if head == "sobjects":
            if len(parts) == 1:
                return only("GET") or Response(200, self.schema.describe_global(version))
            sobj = self.schema.get(parts[1])
            if sobj is None:
                return error(404, *NOT_FOUND)
            if len(parts) == 2:
                return only("GET") or Response(200, {"objectDescribe": sobj.global_entry(version),
                                                      "recentItems": []})
            if len(parts) == 3 and parts[2] == "describe":
                return only("GET") or self.describe(req, sobj, version)
            if len(parts) == 3 and parts[2] in ("deleted", "updated"):
                return only("GET") or self.replication(req, sobj, parts[2])
            if len(parts) == 3:
                return only("GET") or self.get_record(req, sobj, parts[2], version)
            return error(404, *NOT_FOUND)
        if head == "composite" and len(parts) >= 2 and parts[1] == "sobjects":
            if v < 42.0 or (len(parts) == 4 and v < 46.0) or len(parts) not in (2, 4):
                return error(404, *NOT_FOUND)
            if len(parts) == 4:
                bad = only("PATCH") or self._json_content(req)
                return bad or Response(200, self.collections.upsert(
                    parts[2], parts[3], req.body, session.user_id))
            bad = only("POST", "PATCH", "DELETE")
            if bad:
                return bad
            if method == "DELETE":
                q = req.query
                return Response(200, self.collections.delete(
                    (q.get("ids") or [None])[0], (q.get("allOrNone") or [None])[0],
                    session.user_id))
            bad = self._json_content(req)
            if bad:
                return bad
            if method == "POST":
                return Response(200, self.collections.create(req.body, session.user_id))
            return Response(200, self.collections.update(req.body, session.user_id))
        return error(404, *NOT_FOUND)

    @staticmethod
    def _json_content(req):
        ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return error(415, "UNSUPPORTED_MEDIA_TYPE",
                         "Content type '%s' not supported" % (ctype or "none"))
        return None

    # -- simple resources -------------------------------------------------------
    def resources(self, version):
        base = "/services/data/v" + version
        return {k: base + "/" + p for k, p in (
            ("tooling", "tooling"), ("metadata", "metadata"), ("eclair", "eclair"),
            ("folders", "folders"), ("composite", "composite"), ("query", "query"),
            ("queryAll", "queryAll"), ("sobjects", "sobjects"), ("limits", "limits"),
            ("jobs", "jobs"), ("search", "search"))}

    def limits(self):
        used = self.budget.used()
        out = {
            "DailyApiRequests": {"Max": self.budget.max, "Remaining": max(self.budget.max - used, 0)},
            "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyDeliveredPlatformEvents": {"Max": 10000, "Remaining": 10000},
            "DurableStreamingApiConcurrentClients": {"Max": 20, "Remaining": 20},
            "PermissionSets": {"Max": 1500, "Remaining": 1499,
                               "CreateCustom": {"Max": 1000, "Remaining": 999}},
        }
        if self.bulk is not None:
            out.update(self.bulk.limits.rest_limits())
        return out

    def describe(self, req, sobj, version):
        headers = [("Last-Modified", wire.http_date(SCHEMA_MODIFIED_MS))]
        ims = req.headers.get("If-Modified-Since")
        if ims:
            try:
                when = email.utils.parsedate_to_datetime(ims)
                if when is not None and when.timestamp() * 1000 >= SCHEMA_MODIFIED_MS:
                    return Response(304, None, headers)
            except (TypeError, ValueError):
                pass
        return Response(200, sobj.describe(version), headers)

    # -- records ---------------------------------------------------------------
    def encode(self, field, v):
        """Internal value -> REST JSON value (contract section 7)."""
        if v is None:
            return None
        t = field.type
        if t == "datetime":
            return wire.format_datetime(v)
        if t in ("double", "currency", "percent"):
            return wire.render_double(v)
        if t == "int":
            return int(v)
        if t == "address":
            return {k: (wire.render_double(x) if k in ("latitude", "longitude") and x is not None
                        else x) for k, x in v.items()}
        return v

    def render(self, rec, shape, sobj, version):
        return self.renderer(shape, sobj, version)(rec)

    def renderer(self, shape, sobj, version):
        """A function record -> REST JSON dict for a query's select shape:
        attributes first, then the fields in SELECT order, parents nested
        under their relationship name (null when there is no parent)."""
        url = "/services/data/v%s/sobjects/%s/" % (version, sobj.name)
        steps = []
        for entry in shape:
            if entry[0] == "field":
                steps.append((entry[1].name, self._encoder(entry[1])))
            else:
                ref, child = entry[1], entry[2]
                steps.append((ref.relationship_name, self._parent(
                    ref, self.renderer(child, self.schema.get(ref.reference_to), version))))
        typename = sobj.name

        def render(rec):
            out = {"attributes": {"type": typename, "url": url + rec["Id"]}}
            for key, fn in steps:
                out[key] = fn(rec)
            return out
        return render

    def _parent(self, ref, sub):
        name, target, tables = ref.name, ref.reference_to, self.store.tables

        def parent(rec):
            pid = rec.get(name)
            prec = tables[target].recs.get(pid) if pid else None
            return None if prec is None else sub(prec)
        return parent

    def _encoder(self, field):
        """Fast path per type; compound and formula fields go through encode()."""
        name, t = field.name, field.type
        if t == "address" or field.formula is not None:
            store, encode = self.store, self.encode
            return lambda rec: encode(field, store.value(rec, field))
        if t == "datetime":
            fmt = wire.format_datetime
            return lambda rec: None if rec.get(name) is None else fmt(rec[name])
        if t in ("double", "currency", "percent"):
            dbl = wire.render_double
            return lambda rec: None if rec.get(name) is None else dbl(rec[name])
        return lambda rec: rec.get(name)

    def get_record(self, req, sobj, raw_id, version):
        cid = wire.canonical_id(raw_id)
        rec = self.store.tables[sobj.name].recs.get(cid) if cid and cid[:3] == sobj.prefix else None
        if rec is None:
            return error(404, *NOT_FOUND)
        if rec.get("IsDeleted"):
            return error(404, "ENTITY_IS_DELETED", "entity is deleted")
        names = (req.query.get("fields") or [None])[0]
        if names:
            fields = []
            for name in names.split(","):
                f = sobj.field(name.strip())
                if f is None:
                    return error(400, "INVALID_FIELD", soql.MSG_NO_COLUMN % (name.strip(), sobj.name))
                fields.append(f)
        else:
            fields = sobj.fields
        return Response(200, self.render(rec, [("field", f) for f in fields], sobj, version))

    # -- query -------------------------------------------------------------------
    def _page_size(self, req, compiled, default):
        size = default
        opts = req.headers.get("Sforce-Query-Options") or ""
        m = re.search(r"batchSize\s*=\s*(\d+)", opts)
        if m:
            size = min(max(int(m.group(1)), PAGE_MIN), PAGE_MAX)
        if compiled.long_text_custom >= 2:
            size = min(size, LONG_TEXT_PAGE)
        return size

    def query(self, req, version, include_deleted, session):
        q = (req.query.get("q") or [""])[0]
        if not q.strip():
            return error(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            compiled = soql.Query(q, self.schema)
        except soql.SoqlError as e:
            return error(400, e.error_code, e.message)
        rows = compiled.run(self.store, include_deleted)
        if compiled.count_only:
            return Response(200, {"totalSize": len(rows), "done": True, "records": []})
        if compiled.count_field:
            get, alias = compiled.count_field
            n = sum(1 for r in rows if get(r, self.store) is not None)
            return Response(200, {"totalSize": 1, "done": True, "records": [
                {"attributes": {"type": "AggregateResult"}, alias: n}]})
        size = self._page_size(req, compiled, PAGE_DEFAULT)
        cursor = Cursor(None, compiled, rows, session.user_id, size, self.clock.now_ms())
        if len(rows) > size:
            self._open(cursor)
        return Response(200, self._page(cursor, 0, size, version))

    def _open(self, cursor):
        """Register a cursor; a user keeps at most 10, the oldest is released."""
        mine = [c for c in self.cursors.values() if c.user_id == cursor.user_id]
        while len(mine) >= MAX_CURSORS_PER_USER:
            oldest = mine.pop(0)
            del self.cursors[oldest.id]
        while True:
            cid = wire.make_id("01g", secrets.randbelow(62 ** 10))
            if cid not in self.cursors:
                break
        cursor.id = cid
        self.cursors[cid] = cursor

    def _page(self, cursor, offset, size, version):
        rows = cursor.rows[offset:offset + size]
        q = cursor.query
        render = cursor.renderers.get(version)
        if render is None:
            render = cursor.renderers[version] = self.renderer(q.shape, q.sobj, version)
        records = [render(r) for r in rows]
        end = offset + len(rows)
        body = {"totalSize": len(cursor.rows), "done": end >= len(cursor.rows)}
        if not body["done"]:
            # Also for queryAll the locator path is /query/ (section 2.1).
            body["nextRecordsUrl"] = "/services/data/v%s/query/%s-%d" % (version, cursor.id, end)
        body["records"] = records
        return body

    def query_more(self, req, version, locator, session):
        m = re.match(r"^(01g[0-9A-Za-z]{15})-(\d+)$", locator)
        cursor = self.cursors.get(m.group(1)) if m else None
        now = self.clock.now_ms()
        if cursor is not None and now - cursor.last_ms > LOCATOR_IDLE_MS:
            del self.cursors[cursor.id]
            cursor = None
        if cursor is None or cursor.user_id != session.user_id:
            return error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        offset = int(m.group(2))
        if offset >= len(cursor.rows):
            return error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        cursor.last_ms = now
        size = self._page_size(req, cursor.query, cursor.page_size)
        return Response(200, self._page(cursor, offset, size, version))

    # -- getDeleted / getUpdated ------------------------------------------------
    def replication(self, req, sobj, kind):
        """Window rules of section 2.4: UTC, seconds ignored, start < end,
        deleted <= 15 days back, updated <= 30 days back."""
        raw_start = (req.query.get("start") or [None])[0]
        raw_end = (req.query.get("end") or [None])[0]
        if raw_start is None or raw_end is None:
            return error(400, "MISSING_ARGUMENT", "start and end are required parameters")
        start = wire.parse_datetime_input(raw_start)
        end = wire.parse_datetime_input(raw_end)
        if start is None or end is None:
            return error(400, "INVALID_REPLICATION_DATE", "Invalid date format: %s" % (
                raw_start if start is None else raw_end))
        start, end = start // 60000 * 60000, end // 60000 * 60000
        if end <= start:
            return error(400, "INVALID_REPLICATION_DATE",
                         "startDate must chronologically precede endDate by more than one minute")
        now = self.clock.now_ms()
        days = DELETED_DAYS if kind == "deleted" else UPDATED_DAYS
        if start < now - days * 86400000:
            return error(400, "INVALID_REPLICATION_DATE",
                         "startDate cannot be more than %d days ago" % days)
        latest = min(end, now // 60000 * 60000)
        table = self.store.tables[sobj.name]
        if kind == "deleted":
            hits = sorted((d, rid) for rid, d in table.deleted_log.items() if start <= d < latest)
            if len(hits) > MAX_REPLICATION_IDS:
                return error(400, "EXCEEDED_ID_LIMIT", "too many ids, narrow the window")
            earliest = max(now - DELETED_DAYS * 86400000, self.store.delete_log_start_ms)
            return Response(200, {
                "deletedRecords": [{"id": rid, "deletedDate": wire.format_datetime(d)}
                                   for d, rid in hits],
                "earliestDateAvailable": wire.format_datetime(earliest // 60000 * 60000),
                "latestDateCovered": wire.format_datetime(latest)})
        ids = [r["Id"] for r in table.scan(False)
               if start <= (r.get("SystemModstamp") or r.get("LastModifiedDate") or 0) < latest]
        if len(ids) > MAX_REPLICATION_IDS:
            return error(400, "EXCEEDED_ID_LIMIT", "too many ids, narrow the window")
        return Response(200, {"ids": ids, "latestDateCovered": wire.format_datetime(latest)})
