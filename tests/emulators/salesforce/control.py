"""The control API: plain JSON under /__control/, a path the real service
never uses, guarded by the token given with --control-token (header
'X-Sfemu-Control-Token').  It changes the emulator's world behind the
client's back: records, clock, budget, faults, sessions; and it shows the
request log so tests can assert what the client sent.
"""
import hmac

import bulk_control
import cdc_control
import composite
import data
import faults as flt
import wire

SYSTEM_STAMPS = {"created_date": "CreatedDate", "last_modified_date": "LastModifiedDate",
                 "system_modstamp": "SystemModstamp"}


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Control:
    def __init__(self, emu):
        self.emu = emu

    def authorized(self, headers):
        token = headers.get("X-Sfemu-Control-Token") or ""
        return hmac.compare_digest(token.encode(), self.emu.control_token.encode())

    def handle(self, method, path, query, doc):
        """(status, JSON object)."""
        parts = [p for p in path[len("/__control"):].split("/") if p]
        route = "/".join(parts[:1])
        try:
            fn = getattr(self, "do_" + route.replace("-", "_"), None) if route else None
            if fn is None:
                raise ControlError(404, "no such control resource: " + path)
            return 200, fn(method, parts[1:], query, doc if doc is not None else {})
        except ControlError as e:
            return e.status, {"error": str(e)}
        except (ValueError, TypeError, KeyError) as e:
            return 400, {"error": "%s: %s" % (type(e).__name__, e)}

    # -- resources ------------------------------------------------------------
    def do_info(self, method, rest, query, doc):
        return self.emu.info()

    def do_reset(self, method, rest, query, doc):
        _need(method, "POST")
        self.emu.reset()
        return {"reset": True}

    def do_clock(self, method, rest, query, doc):
        clock = self.emu.clock
        if method == "POST":
            if "advance_seconds" in doc:
                clock.advance(float(doc["advance_seconds"]))
            elif "set" in doc:
                ms = wire.parse_datetime_input(doc["set"])
                if ms is None:
                    raise ControlError(400, "set: not a datetime: %r" % doc["set"])
                clock.set(ms)
            else:
                raise ControlError(400, "give advance_seconds or set")
        now = clock.now_ms()
        return {"now_ms": now, "now": wire.format_datetime(now)}

    def do_budget(self, method, rest, query, doc):
        b = self.emu.budget
        if method == "POST":
            b.set(doc.get("used"), doc.get("max"))
        return {"used": b.used(), "max": b.max}

    def do_settings(self, method, rest, query, doc):
        emu = self.emu
        if method == "POST":
            if "rotate_refresh_tokens" in doc:
                emu.oauth.rotate_refresh = bool(doc["rotate_refresh_tokens"])
            if "session_timeout_seconds" in doc:
                emu.oauth.session_timeout_ms = int(float(doc["session_timeout_seconds"]) * 1000)
            if "refresh_requires_secret" in doc:
                for app in emu.oauth.apps.values():
                    app.secret_required_for_refresh = bool(doc["refresh_requires_secret"])
            if "jwt_max_lifetime_seconds" in doc:
                emu.oauth.jwt_max_lifetime_s = float(doc["jwt_max_lifetime_seconds"])
            if "delete_log_start" in doc:
                ms = wire.parse_datetime_input(doc["delete_log_start"])
                if ms is None:
                    raise ControlError(400, "delete_log_start: not a datetime")
                emu.store.delete_log_start_ms = ms
        return {"rotate_refresh_tokens": emu.oauth.rotate_refresh,
                "refresh_requires_secret": all(a.secret_required_for_refresh
                                               for a in emu.oauth.apps.values()),
                "session_timeout_seconds": emu.oauth.session_timeout_ms / 1000,
                "jwt_max_lifetime_seconds": emu.oauth.jwt_max_lifetime_s,
                "delete_log_start": wire.format_datetime(emu.store.delete_log_start_ms)}

    def do_tokens(self, method, rest, query, doc):
        _need(method, "POST")
        if rest == ["expire"]:
            return {"expired": self.emu.oauth.expire_all()}
        raise ControlError(404, "POST /__control/tokens/expire")

    def do_refresh_tokens(self, method, rest, query, doc):
        _need(method, "POST")
        emu = self.emu
        username = doc.get("username", emu.username)
        user = emu.oauth._user_by_name(username)
        if user is None:
            raise ControlError(400, "unknown username %r" % username)
        client_id = doc.get("client_id", emu.client_id)
        if client_id not in emu.oauth.apps:
            raise ControlError(400, "unknown client_id")
        return {"refresh_token": emu.oauth.mint_refresh_token(client_id, user["Id"])}

    def do_faults(self, method, rest, query, doc):
        f = self.emu.faults
        if method == "POST":
            specs = doc if isinstance(doc, list) else [doc]
            try:
                added = [f.add(s).describe() for s in specs]
            except flt.FaultSpecError as e:
                raise ControlError(400, str(e))
            return {"added": added}
        if method == "DELETE":
            f.clear()
            return {"cleared": True}
        return {"pending": f.list()}

    def do_requests(self, method, rest, query, doc):
        log = self.emu.log
        if method == "DELETE":
            log.clear()
            return {"cleared": True}
        since = int((query.get("since") or ["0"])[0])
        entries = log.query(since, (query.get("path_prefix") or [None])[0],
                            (query.get("method") or [None])[0])
        return {"requests": entries, "last_seq": log.seq}

    def do_bulk(self, method, rest, query, doc):
        return bulk_control.handle(self.emu.bulk, method, rest, doc, ControlError)

    def do_cdc(self, method, rest, query, doc):
        return cdc_control.handle_cdc(self.emu, method, rest, query, doc, ControlError)

    def do_cometd(self, method, rest, query, doc):
        return cdc_control.handle_cometd(self.emu, method, rest, query, doc, ControlError)

    def do_records(self, method, rest, query, doc):
        if method == "GET":
            if not rest and query.get("object"):
                # Every record of one object (deleted ones too), Id order:
                # for tests that compare a whole destination.
                table = self.emu.store.table(query["object"][0])
                if table is None:
                    raise ControlError(404, "no object %s" % query["object"][0])
                return {"records": [self._raw(r["Id"]) for r in table.scan(True)]}
            if len(rest) != 1:
                raise ControlError(404, "GET /__control/records/{id} or ?object=X")
            return self._raw(rest[0])
        _need(method, "POST")
        ops = doc.get("ops") if "ops" in doc else [doc]
        if not isinstance(ops, list):
            raise ControlError(400, "ops must be a list")
        # One call is one transaction for Change Data Capture (one
        # transactionKey); the ops done before a failing one stay done.
        txn = data.Txn(self.emu.store)
        try:
            return {"results": [self._op(op, txn) for op in ops]}
        finally:
            txn.commit(merge=bool(doc.get("cdc_merge")))

    # -- record operations --------------------------------------------------------
    def _raw(self, rid):
        table, rec = self.emu.store.find(rid)
        if rec is None:
            raise ControlError(404, "no record %s" % rid)
        out = {"attributes": {"type": table.sobj.name}}
        for f in table.sobj.fields:
            out[f.name] = self.emu.rest.encode(f, self.emu.store.value(rec, f))
        return out

    def _op(self, op, txn):
        """One control write.  Fields are given as REST JSON values; unlike
        the API, any stored field may be set (also read-only ones), so tests
        can build any state.  system_modstamp etc. set the stamps exactly."""
        store = self.emu.store
        kind = op.get("op")
        user_id = self.emu.user_id
        system = {}
        for key, field in SYSTEM_STAMPS.items():
            if op.get(key) is not None:
                ms = wire.parse_datetime_input(op[key])
                if ms is None:
                    raise ControlError(400, "%s: not a datetime: %r" % (key, op[key]))
                system[field] = ms
        if kind == "create":
            table = store.table(op.get("object") or "")
            if table is None:
                raise ControlError(400, "unknown object %r" % op.get("object"))
            vals = self._values(table.sobj, op.get("fields") or {})
            return {"id": store.insert(table.sobj.name, vals, user_id, txn, system=system or None)}
        table, rec = store.find(op.get("id") or "")
        if rec is None:
            raise ControlError(404, "no record %r" % op.get("id"))
        name, rid = table.sobj.name, rec["Id"]
        if kind == "update":
            vals = self._values(table.sobj, op.get("fields") or {})
            store.update(name, rid, vals, user_id, txn, system=system or None)
        elif kind == "delete":
            if rec.get("IsDeleted"):
                raise ControlError(409, "already deleted")
            store.soft_delete(name, rid, user_id, txn, system=system or None)
        elif kind == "undelete":
            if not rec.get("IsDeleted"):
                raise ControlError(409, "not deleted")
            store.undelete(name, rid, user_id, txn, system=system or None)
        elif kind == "hard_delete":
            store.hard_delete(name, rid, txn)
        else:
            raise ControlError(400, "op must be create, update, delete, undelete or hard_delete")
        return {"id": rid}

    def _values(self, sobj, fields):
        out = {}
        for key, value in fields.items():
            f = sobj.field(key)
            if f is None or f.type == "address" or f.calculated or f.name == "Id":
                raise ControlError(400, "cannot set %s.%s" % (sobj.name, key))
            try:
                raw = composite.Collections._deserialize(f, value)
            except composite.RequestError as e:
                raise ControlError(400, e.body[0]["message"])
            if f.type == "reference" and raw is not None:
                raw = wire.canonical_id(raw)
                if raw is None:
                    raise ControlError(400, "%s: not an id: %r" % (f.name, value))
            out[f.name] = raw
        return out


def _need(method, want):
    if method != want:
        raise ControlError(405, "use " + want)
