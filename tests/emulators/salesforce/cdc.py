"""Change Data Capture: the org's change event bus (contract section 6.3-6.5).

Every committed record change of a CDC-enabled object becomes one change
event with a replayId; the bus keeps them for the retention window (72 h of
emulator clock by default) and renders them as CometD delivers them:
{"schema", "payload": {fields..., "ChangeEventHeader"}, "event": {"replayId"}}.
Record dicts are never changed in place (data.py), so an event keeps
references to the old and new versions and renders its payload only when
it is delivered: bulk loads stay cheap.
"""
import base64
import bisect
import hashlib
import secrets

import wire

OVERFLOW_ID = "000000000000000AAA"     # recordIds of a GAP_OVERFLOW event (section 6.5)
GAP_KINDS = ("GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE")
REPLAY_BASE = 37904280                  # the doc example's order of magnitude
COMMIT_NUMBER_BASE = 1082990428293
NOT_IN_PAYLOAD = {"Id", "IsDeleted", "SystemModstamp"}


def channel_name(entity):
    """Account -> AccountChangeEvent, Foo__c -> Foo__ChangeEvent (section 6.4)."""
    return (entity[:-3] + "__" if entity.endswith("__c") else entity) + "ChangeEvent"


def encode(field, v):
    """Internal value -> CometD JSON: datetimes in the Z form, dates as text,
    doubles as Java prints them (section 6.5)."""
    if v is None:
        return None
    t = field.type
    if t == "datetime":
        return wire.format_datetime_z(v)
    if t in ("double", "currency", "percent"):
        return wire.render_double(v)
    if t == "int":
        return int(v)
    return v


class Event:
    __slots__ = ("replay_id", "entity", "kind", "ids", "old", "new", "user", "origin",
                 "txn_key", "seq", "commit_ms", "commit_number", "fields", "changed")

    def __init__(self, entity, kind, ids, old=None, new=None, user=None, fields=None):
        self.entity, self.kind, self.ids = entity, kind, ids
        self.old, self.new, self.user = old, new, user
        self.fields = fields           # rendered record fields, when known already
        self.changed = []              # and then its changedFields
        self.replay_id = self.seq = self.commit_ms = self.commit_number = None
        self.origin = self.txn_key = ""


class EventBus:
    def __init__(self, store, clock, enabled, retention_hours, default_user):
        self.store = store
        self.schema = store.schema
        self.clock = clock
        self.default_user = default_user
        self.initial = (tuple(enabled), retention_hours)
        self.events, self.ids = [], []      # in replay order; ids for bisect
        self.next_replay = REPLAY_BASE
        self.commits = 0
        self.layouts = {}
        self.on_publish = None              # called after events were added
        self.reset()
        store.on_commit = self.commit

    def reset(self):
        """Back to the command line's settings, with an empty bus.  Replay ids
        keep growing, so an id from before a reset is unknown afterwards."""
        enabled, hours = self.initial
        self.enabled = set()
        for name in enabled:
            self.enable(name, True)
        self.retention_ms = int(hours * 3600 * 1000)
        self.events, self.ids = [], []

    def enable(self, name, on):
        sobj = self.schema.get(name)
        if sobj is None:
            raise ValueError("unknown object %r" % name)
        (self.enabled.add if on else self.enabled.discard)(sobj.name)
        return sobj.name

    def entity_of_channel(self, channel):
        """'/data/ChangeEvents' -> '' (all), '/data/AccountChangeEvent' ->
        'Account'; None for anything that is not the channel of an enabled
        object (the service says the channel does not exist)."""
        if channel == "/data/ChangeEvents":
            return ""
        for name in self.enabled:
            if channel == "/data/" + channel_name(name):
                return name
        return None

    # -- publishing ----------------------------------------------------------------
    def commit(self, changes, merge, origin):
        """Store.on_commit: one transaction's changes."""
        events = []
        for kind, obj, old, new, user in changes:
            if obj in self.enabled:
                rec = new if new is not None else old
                events.append(Event(obj, kind, [rec["Id"]], old, new, user))
        if merge:
            events = self._merge(events)
        self.publish(events, origin)

    def _merge(self, events):
        """Alike changes (same object, change type and field values) as one
        event with several recordIds, as the service does within one
        transaction."""
        out, by_key = [], {}
        for ev in events:
            ev.fields, ev.changed = self.render_fields(ev)
            # The stamps of one transaction may straddle a second: the
            # service merges changes within a second, so ignore them here.
            alike = {k: v for k, v in ev.fields.items() if k != "LastModifiedDate"}
            key = (ev.entity, ev.kind, wire.dumps(alike))
            first = by_key.get(key)
            if first is None:
                by_key[key] = ev
                out.append(ev)
            else:
                first.ids.extend(ev.ids)
        return out

    def publish(self, events, origin=""):
        if not events:
            return
        self.prune()
        self.commits += 1
        txn_key = "%08x-%04x-%04x-%04x-%012x" % tuple(
            secrets.randbits(b) for b in (32, 16, 16, 16, 48))
        now = self.clock.now_ms()
        for seq, ev in enumerate(events, 1):
            # Replay ids grow but are not contiguous (section 6.3): never
            # let a client compute one from another.
            self.next_replay += 1 + (self.next_replay % 3)
            ev.replay_id, ev.seq, ev.txn_key, ev.origin = self.next_replay, seq, txn_key, origin
            ev.commit_ms, ev.commit_number = now, COMMIT_NUMBER_BASE + self.commits * 7
            self.events.append(ev)
            self.ids.append(ev.replay_id)
        if self.on_publish:
            self.on_publish()

    def gap(self, kind, rids):
        """GAP_* events for the given records, one per record, header only."""
        events = []
        for rid in rids:
            table, rec = self.store.find(rid)
            if rec is None:
                raise ValueError("no record %r" % rid)
            if table.sobj.name not in self.enabled:
                raise ValueError("%s is not enabled for Change Data Capture" % table.sobj.name)
            events.append(Event(table.sobj.name, kind, [rec["Id"]], fields={}))
        self.publish(events)
        return [ev.replay_id for ev in events]

    def overflow(self, name):
        sobj = self.schema.get(name)
        if sobj is None or sobj.name not in self.enabled:
            raise ValueError("%r is not an object enabled for Change Data Capture" % name)
        ev = Event(sobj.name, "GAP_OVERFLOW", [OVERFLOW_ID], fields={})
        self.publish([ev])
        return ev.replay_id

    # -- retention -----------------------------------------------------------------
    def prune(self):
        """Drop events older than the retention window (emulator clock)."""
        horizon = self.clock.now_ms() - self.retention_ms
        n = 0
        while n < len(self.events) and self.events[n].commit_ms < horizon:
            n += 1
        if n:
            del self.events[:n], self.ids[:n]

    def purge(self, through_replay_id=None, older_than_ms=None):
        """Drop events up to an id, or older than an age, or all; returns how many."""
        before = len(self.events)
        if through_replay_id is not None:
            n = bisect.bisect_right(self.ids, through_replay_id)
        elif older_than_ms is not None:
            horizon = self.clock.now_ms() - older_than_ms
            n = next((i for i, ev in enumerate(self.events) if ev.commit_ms >= horizon),
                     len(self.events))
        else:
            n = len(self.events)
        del self.events[:n], self.ids[:n]
        return before - len(self.events)

    # -- reading ---------------------------------------------------------------------
    def last_id(self):
        self.prune()
        return self.ids[-1] if self.ids else 0

    def retained(self, replay_id):
        """Is this the id of an event still on the bus?"""
        self.prune()
        i = bisect.bisect_left(self.ids, replay_id)
        return i < len(self.ids) and self.ids[i] == replay_id

    def after(self, replay_id):
        """Events with a larger replay id, oldest first."""
        self.prune()
        for i in range(bisect.bisect_right(self.ids, replay_id), len(self.events)):
            yield self.events[i]

    def has_after(self, replay_id, entity):
        for ev in reversed(self.events):
            if ev.replay_id <= replay_id:
                return False
            if not entity or ev.entity == entity:
                return True
        return False

    # -- rendering -------------------------------------------------------------------
    def data(self, ev):
        """The 'data' member of a delivered message."""
        if ev.fields is None:
            fields, changed = self.render_fields(ev)
        else:
            fields, changed = ev.fields, ev.changed
        user = ev.user or self.default_user
        payload = {"ChangeEventHeader": {
            "commitNumber": ev.commit_number, "commitUser": user, "sequenceNumber": ev.seq,
            "entityName": ev.entity, "changeType": ev.kind,
            "changedFields": changed,
            "changeOrigin": ev.origin, "transactionKey": ev.txn_key,
            "commitTimestamp": ev.commit_ms, "recordIds": list(ev.ids)}}
        payload.update(fields)
        return {"schema": self.schema_id(ev.entity), "payload": payload,
                "event": {"replayId": ev.replay_id}}

    @staticmethod
    def schema_id(entity):
        digest = hashlib.sha256(("schema-" + entity).encode()).digest()
        return base64.urlsafe_b64encode(digest).decode()[:22]

    def layout(self, entity):
        """[(key, subkey or None, Field)] of the fields a change event carries:
        no Id/IsDeleted/SystemModstamp, no formulas; compound fields (addresses,
        Contact.Name) as nested objects of their components, e.g.
        BillingAddress.Street for BillingStreet, Name.FirstName."""
        out = self.layouts.get(entity)
        if out is not None:
            return out
        sobj = self.schema.get(entity)
        compounds = {f.compound for f in sobj.fields if f.compound}
        out = []
        for f in sobj.fields:
            if f.name in NOT_IN_PAYLOAD or f.formula is not None or f.name in compounds:
                continue
            if f.compound and f.compound.endswith("Address"):
                out.append((f.compound, f.name[len(f.compound) - len("Address"):], f))
            elif f.compound:
                out.append((f.compound, f.name, f))
            else:
                out.append((f.name, None, f))
        self.layouts[entity] = out
        return out

    def render_fields(self, ev):
        """(record fields, changedFields) of an event (section 6.5 body rules):
        CREATE/UNDELETE all non-null fields; UPDATE the changed ones (nulls
        explicit) plus LastModifiedDate; DELETE and gaps none."""
        fields, changed = {}, []
        if ev.kind in ("CREATE", "UNDELETE"):
            for key, sub, f in self.layout(ev.entity):
                v = ev.new.get(f.name)
                if v is None:
                    continue
                if sub:
                    fields.setdefault(key, {})[sub] = encode(f, v)
                else:
                    fields[key] = encode(f, v)
        elif ev.kind == "UPDATE":
            for key, sub, f in self.layout(ev.entity):
                v = ev.new.get(f.name)
                if f.name != "LastModifiedDate" and v == ev.old.get(f.name):
                    continue
                if sub:
                    fields.setdefault(key, {})[sub] = encode(f, v)
                    changed.append(key + "." + sub)
                else:
                    fields[key] = encode(f, v)
                    changed.append(f.name)
            changed.sort(key=lambda name: name != "LastModifiedDate")
        return fields, changed
