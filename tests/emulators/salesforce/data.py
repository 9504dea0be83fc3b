"""The emulated org's records: the clock, the in-memory store and the seed.

Records live per object in a dict keyed by Id plus a list of Ids in creation
order (which is also Id order, because Ids are made from a counter).  A
record dict is never changed in place: every write stores a new dict.  That
makes a query cursor a cheap snapshot (it keeps references to the versions
it matched) and lets reset() restore the seed by reference.
"""
import random
import time

import schema as sch
import wire

SEED_BASE_MS = 1704067200000   # 2024-01-01T00:00:00Z: seeded history starts here
SEED_SPAN_MS = 540 * 86400000  # and stays within ~18 months after it


class Clock:
    """The emulator clock: real time plus an offset that the control API can
    advance.  --frozen-clock makes it move only when told to."""

    def __init__(self, start_ms=None, frozen=False):
        self.frozen = frozen
        self.start_ms = start_ms if start_ms is not None else wire.now_ms()
        self.mono0 = time.monotonic()
        self.offset_ms = 0

    def now_ms(self):
        t = self.start_ms + self.offset_ms
        if not self.frozen:
            t += int((time.monotonic() - self.mono0) * 1000)
        return t

    def stamp_ms(self):
        """Record timestamps have whole seconds, as on the real service
        (values always end in .000), so two writes in one second tie."""
        return self.now_ms() // 1000 * 1000

    def advance(self, seconds):
        self.offset_ms += int(seconds * 1000)

    def set(self, ms):
        self.offset_ms += ms - self.now_ms()

    def reset(self):
        self.offset_ms = 0


class Table:
    def __init__(self, sobj):
        self.sobj = sobj
        self.recs = {}
        self.order = []
        self.counter = 0
        self.autonumber = 0
        self.deleted_log = {}   # id -> deletedDate ms (soft and hard deletes)
        self.index_fields = [f for f in sobj.fields if f.external_id or f.unique]
        self.index = {f.name: {} for f in self.index_fields}

    def live(self, rec):
        return not rec.get("IsDeleted")

    def index_key(self, field, value):
        if value is None:
            return None
        return value if field.case_sensitive else str(value).casefold()

    def index_add(self, rec):
        if not self.live(rec):
            return
        for f in self.index_fields:
            k = self.index_key(f, rec.get(f.name))
            if k is not None:
                self.index[f.name].setdefault(k, set()).add(rec["Id"])

    def index_remove(self, rec):
        for f in self.index_fields:
            k = self.index_key(f, rec.get(f.name))
            if k is not None:
                ids = self.index[f.name].get(k)
                if ids:
                    ids.discard(rec["Id"])
                    if not ids:
                        del self.index[f.name][k]

    def lookup(self, field, value):
        """Ids of live records whose indexed field equals value."""
        k = self.index_key(field, value)
        return sorted(self.index[field.name].get(k, ())) if k is not None else []

    def put(self, rec):
        old = self.recs.get(rec["Id"])
        if old is not None:
            self.index_remove(old)
        self.recs[rec["Id"]] = rec
        self.index_add(rec)

    def drop(self, rid):
        old = self.recs.pop(rid, None)
        if old is not None:
            self.index_remove(old)

    def rebuild_index(self):
        self.index = {f.name: {} for f in self.index_fields}
        for rec in self.recs.values():
            self.index_add(rec)

    def next_id(self):
        self.counter += 1
        return wire.make_id(self.sobj.prefix, self.counter)

    def scan(self, include_deleted):
        """Records in Id order."""
        recs = self.recs
        for rid in self.order:
            rec = recs.get(rid)
            if rec is not None and (include_deleted or not rec.get("IsDeleted")):
                yield rec


class Txn:
    """Undo log of one API call, so allOrNone can roll everything back; and
    the record changes it made, handed to Store.on_commit on commit()."""

    def __init__(self, store):
        self.store = store
        self.before = {}    # (obj name, id) -> previous record or None
        self.log_before = {}
        # (obj, id) -> [kind, old, new, user]: one change per record per
        # transaction, of the first kind, with the data at commit (as CDC does).
        self.changes = {}

    def changed(self, kind, obj, old, new, user_id):
        key = (obj, (new or old)["Id"])
        entry = self.changes.get(key)
        if entry is None:
            self.changes[key] = [kind, old, new, user_id]
        else:
            entry[2] = new
            if new is None:         # gone for good within the transaction
                entry[0] = "DELETE"

    def commit(self, merge=False):
        """merge: changes of one object that are alike become one event
        carrying several recordIds (the control API asks for it)."""
        changes = [(kind, obj, old, new, user)
                   for (obj, _rid), (kind, old, new, user) in self.changes.items()]
        self.changes = {}
        if changes and self.store.on_commit is not None:
            self.store.on_commit(changes, merge, self.store.origin)

    def touch(self, table, rid):
        key = (table.sobj.name, rid)
        if key not in self.before:
            self.before[key] = table.recs.get(rid)
            self.log_before[key] = table.deleted_log.get(rid)

    def rollback(self):
        self.changes = {}
        for (obj, rid), prev in self.before.items():
            table = self.store.tables[obj]
            if prev is None:
                table.drop(rid)
            else:
                table.put(prev)
            logged = self.log_before[(obj, rid)]
            if logged is None:
                table.deleted_log.pop(rid, None)
            else:
                table.deleted_log[rid] = logged


class Store:
    def __init__(self, schema, clock):
        self.schema = schema
        self.clock = clock
        self.tables = {o.name: Table(o) for o in schema.objects}
        self._saved = None
        # getDeleted's earliestDateAvailable never precedes this (control API
        # can move it forward to simulate a purged delete log).
        self.delete_log_start_ms = 0
        # Change Data Capture listens here: on_commit(changes, merge, origin)
        # with changes [(kind, obj, old, new, user_id)], kind CREATE, UPDATE,
        # DELETE or UNDELETE; origin is the changeOrigin of the API call.
        self.on_commit = None
        self.origin = ""

    def _changed(self, txn, kind, obj, old, new, user_id):
        if self.on_commit is None:
            return
        if txn is not None:
            txn.changed(kind, obj, old, new, user_id)
        else:
            self.on_commit([(kind, obj, old, new, user_id)], False, self.origin)

    def _in_txn(self, fn, *args, **kw):
        """Run a cascading write in a transaction of its own, so that the
        record and its cascaded children commit together."""
        txn = Txn(self)
        out = fn(*args, txn=txn, **kw)
        txn.commit()
        return out

    def table(self, name):
        o = self.schema.get(name)
        return self.tables[o.name] if o else None

    def find(self, rid):
        """(Table, record) for any Id, or (None, None)."""
        cid = wire.canonical_id(rid) if isinstance(rid, str) else None
        if not cid:
            return None, None
        o = self.schema.for_id(cid)
        if not o:
            return None, None
        t = self.tables[o.name]
        return t, t.recs.get(cid)

    # -- computed values ----------------------------------------------------
    def value(self, rec, field):
        """A field's internal value, computing compound and formula fields."""
        t = field.type
        if t == "address":
            parts = {key: rec.get(comp) for key, comp in field.address_parts}
            return parts if any(v is not None for v in parts.values()) else None
        if field.formula is not None:
            if field.name == "Revenue_Per_Employee__c":
                rev, emp = rec.get("AnnualRevenue"), rec.get("NumberOfEmployees")
                if rev is None or not emp:
                    return None
                return round(rev / emp, 2)
            return None
        return rec.get(field.name)

    # -- writes -------------------------------------------------------------
    def _derive(self, sobj, rec, changed):
        """Fields the platform computes on save."""
        if sobj.name == "Contact" and ({"FirstName", "LastName"} & changed):
            rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)
        if sobj.name == "Opportunity":
            stage = rec.get("StageName")
            prob, closed, won = sch.STAGES.get(stage, (None, False, False))
            if "StageName" in changed:
                rec["IsClosed"], rec["IsWon"] = closed, won
                if "Probability" not in changed and prob is not None:
                    rec["Probability"] = float(prob)
            amount, p = rec.get("Amount"), rec.get("Probability")
            rec["ExpectedRevenue"] = None if amount is None or p is None else round(amount * p / 100, 2)
        if sobj.name == "User" and ({"FirstName", "LastName"} & changed):
            rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)

    def insert(self, obj, values, user_id, txn=None, system=None):
        """Store a new record.  values: already validated internal values.
        system: optional explicit CreatedDate/LastModifiedDate/SystemModstamp."""
        table = self.tables[obj]
        sobj = table.sobj
        now = self.clock.stamp_ms()
        rid = table.next_id()
        if txn:
            txn.touch(table, rid)
        rec = {"Id": rid}
        if sobj.has_is_deleted:
            rec["IsDeleted"] = False
        for f in sobj.fields:
            if f.type == "boolean" and f.createable and f.default is not None:
                rec[f.name] = f.default
        rec.update(values)
        if sobj.field("OwnerId") and not rec.get("OwnerId"):
            rec["OwnerId"] = user_id
        if sobj.field("Name") and sobj.field("Name").auto_number:
            table.autonumber += 1
            rec["Name"] = "SCORE-%06d" % table.autonumber
        rec.update({"CreatedDate": now, "CreatedById": user_id, "LastModifiedDate": now,
                    "LastModifiedById": user_id, "SystemModstamp": now})
        if system:
            rec.update(system)
        self._derive(sobj, rec, set(rec))
        table.order.append(rid)
        table.put(rec)
        self._changed(txn, "CREATE", obj, None, rec, user_id)
        return rid

    def update(self, obj, rid, values, user_id, txn=None, system=None):
        table = self.tables[obj]
        old = table.recs[rid]
        if txn:
            txn.touch(table, rid)
        now = self.clock.stamp_ms()
        rec = dict(old)
        rec.update(values)
        rec.update({"LastModifiedDate": now, "LastModifiedById": user_id, "SystemModstamp": now})
        if system:
            rec.update(system)
        self._derive(table.sobj, rec, set(values))
        table.put(rec)
        self._changed(txn, "UPDATE", obj, old, rec, user_id)
        return rec

    def _children(self, parent_obj, rid):
        """(Table, record, Field) of live and deleted child records."""
        for child_name, field, _rel in self.schema.get(parent_obj).children:
            table = self.tables[child_name]
            for rec in table.recs.values():
                if rec.get(field.name) == rid:
                    yield table, rec, field

    def soft_delete(self, obj, rid, user_id, txn=None, system=None, _cascade_from=None):
        """Move a record to the recycle bin.  Contacts and Opportunities of a
        deleted Account go with it (cascade); other lookups are cleared."""
        if txn is None:
            return self._in_txn(self.soft_delete, obj, rid, user_id, system=system)
        table = self.tables[obj]
        old = table.recs[rid]
        txn.touch(table, rid)
        now = self.clock.stamp_ms()
        rec = dict(old)
        rec.update({"IsDeleted": True, "LastModifiedDate": now, "LastModifiedById": user_id,
                    "SystemModstamp": now})
        if _cascade_from:
            rec["__deleted_with"] = _cascade_from
        if system:
            rec.update(system)
        table.put(rec)
        table.deleted_log[rid] = rec["SystemModstamp"]
        self._changed(txn, "DELETE", obj, old, rec, user_id)
        for ctable, crec, field in list(self._children(obj, rid)):
            if crec.get("IsDeleted"):
                continue
            if field.cascade_delete:
                self.soft_delete(ctable.sobj.name, crec["Id"], user_id, txn, system, rid)
            else:
                self.update(ctable.sobj.name, crec["Id"], {field.name: None}, user_id, txn)
        return rec

    def undelete(self, obj, rid, user_id, txn=None, system=None):
        if txn is None:
            return self._in_txn(self.undelete, obj, rid, user_id, system=system)
        table = self.tables[obj]
        old = table.recs[rid]
        if txn:
            txn.touch(table, rid)
        now = self.clock.stamp_ms()
        rec = dict(old)
        rec.pop("__deleted_with", None)
        rec.update({"IsDeleted": False, "LastModifiedDate": now, "LastModifiedById": user_id,
                    "SystemModstamp": now})
        if system:
            rec.update(system)
        table.put(rec)
        table.deleted_log.pop(rid, None)
        self._changed(txn, "UNDELETE", obj, old, rec, user_id)
        for ctable, crec, _field in list(self._children(obj, rid)):
            if crec.get("__deleted_with") == rid:
                self.undelete(ctable.sobj.name, crec["Id"], user_id, txn, system)
        return rec

    def hard_delete(self, obj, rid, txn=None):
        """Remove a record for good (empty the recycle bin).  It stays in the
        delete log, as getDeleted reports hard deletes too.  Only a live
        record makes a DELETE change event: emptying the recycle bin makes
        none (CDC considerations)."""
        if txn is None:
            return self._in_txn(self.hard_delete, obj, rid)
        table = self.tables[obj]
        old = table.recs[rid]
        txn.touch(table, rid)
        if not old.get("IsDeleted"):
            table.deleted_log[rid] = self.clock.stamp_ms()
            self._changed(txn, "DELETE", obj, old, None, old.get("LastModifiedById"))
        # Children that live or went to the recycle bin with this record go too.
        for ctable, crec, field in list(self._children(obj, rid)):
            if field.cascade_delete and crec["Id"] in ctable.recs and \
                    (not crec.get("IsDeleted") or crec.get("__deleted_with") == rid):
                self.hard_delete(ctable.sobj.name, crec["Id"], txn)
        table.drop(rid)

    # -- snapshot -----------------------------------------------------------
    def save_seed(self):
        self._saved = {name: (dict(t.recs), list(t.order), t.counter, t.autonumber,
                              dict(t.deleted_log))
                       for name, t in self.tables.items()}

    def reset(self):
        self.delete_log_start_ms = 0
        for name, (recs, order, counter, autonumber, log) in self._saved.items():
            t = self.tables[name]
            t.recs, t.order, t.counter, t.autonumber = dict(recs), list(order), counter, autonumber
            t.deleted_log = dict(log)
            t.rebuild_index()


# ---------------------------------------------------------------------------
# Deterministic seed

ADJ = ["Northwind", "Blue", "Granite", "Silver", "Evergreen", "Summit", "Harbor", "Crimson",
       "Golden", "Pioneer", "Cobalt", "Maple", "Atlas", "Orion", "Quantum", "Redwood"]
NOUN = ["Traders", "Logistics", "Systems", "Foods", "Energy", "Partners", "Labs", "Works",
        "Holdings", "Dynamics", "Media", "Textiles", "Robotics", "Outfitters"]
SPECIAL_NAMES = ['O\'Brien & Sons, "Ltd"', "Müller Bäckerei GmbH", "東京商事株式会社",
                 "Café Olé; S.A.", "Zoë's <Test> Shop", "Semi;colon|Pipe Co", "Tab\tSeparated Inc"]
FIRST = ["Ada", "Grace", "Linus", "Ken", "Barbara", "Dennis", "Margaret", "Alan", "Frances",
         "Edsger", "Radia", "Niklaus", "Sophie", "José", "Zoë", "Łukasz", "Aiko", "Chidi"]
LAST = ["Lovelace", "Hopper", "Torvalds", "Thompson", "Liskov", "Ritchie", "Hamilton",
        "Turing", "Allen", "Dijkstra", "Perlman", "Wirth", "Wilson", "García", "O'Neil",
        "Nakamura", "Okafor", "Kowalski"]
CITIES = [("San Francisco", "CA", "94105", "USA", 37.7897, -122.3972),
          ("Austin", "TX", "78701", "USA", 30.2672, -97.7431),
          ("Paris", None, "75002", "France", 48.8686, 2.3414),
          ("Berlin", None, "10115", "Germany", 52.5321, 13.3849),
          ("Tokyo", None, "100-0005", "Japan", 35.6812, 139.7671),
          ("Toronto", "ON", "M5H 2N2", "Canada", 43.6511, -79.3839)]
TITLES = ["CEO", "CTO", "VP Sales", "Engineer", "Buyer", "Analyst", None]


class SeedConfig:
    def __init__(self, seed=42, accounts=200, contacts=300, opportunities=150, scores=100,
                 deleted_share=0.02, wide=50):
        self.seed = seed
        self.wide = wide
        self.accounts = accounts
        self.contacts = contacts
        self.opportunities = opportunities
        self.scores = scores
        self.deleted_share = deleted_share


USERS = [  # (username, first, last, active)
    ("sync@sluice.example", "Sync", "Integration", True),
    ("analyst@sluice.example", "Ana", "Lyst", True),
    ("inactive@sluice.example", "Old", "Timer", False),
]


def _timeline(rng, n):
    """(created, last_modified, modstamp) ms triples for n records, created in
    Id order.  About one record in seven shares its SystemModstamp with the
    previous one, so cursor tie-breaks get exercised."""
    out = []
    step_max = max(2, min(400, SEED_SPAN_MS // 2 // max(n, 1) // 1000 * 2))
    end = SEED_BASE_MS + SEED_SPAN_MS
    created = SEED_BASE_MS
    for i in range(n):
        created += rng.randint(1, step_max) * 1000
        lm = created if rng.random() < 0.5 else min(created + rng.randint(1, 60 * 86400) * 1000, end)
        ms = lm if rng.random() < 0.9 else min(lm + rng.randint(1, 86400) * 1000, end)
        if i % 7 == 3 and out:
            ms = lm = out[-1][2]
            created = min(created, ms)
        out.append((created, lm, ms))
    return out


def seed(store, cfg):
    """Fill the store with deterministic records (same seed, same data)."""
    rng = random.Random(cfg.seed)
    users = store.tables["User"]
    user_ids = []
    for i, (uname, first, last, active) in enumerate(USERS):
        rid = users.next_id()
        stamp = SEED_BASE_MS - (10 - i) * 86400000
        rec = {"Id": rid, "Username": uname, "FirstName": first, "LastName": last,
               "Name": first + " " + last, "Email": uname, "IsActive": active,
               "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp}
        user_ids.append(rid)
        users.order.append(rid)
        users.put(rec)
    for rid in user_ids:
        rec = dict(users.recs[rid], CreatedById=user_ids[0], LastModifiedById=user_ids[0])
        users.put(rec)
    owners = user_ids[:2]

    def base(table, times, i):
        created, lm, ms = times[i]
        owner = owners[i % 2]
        return {"Id": table.next_id(), "IsDeleted": False, "OwnerId": owner,
                "CreatedDate": created, "CreatedById": owner, "LastModifiedDate": lm,
                "LastModifiedById": owner, "SystemModstamp": ms}

    def finish(table, rec, deleted):
        if deleted:
            when = min(rec["SystemModstamp"] + rng.randint(60, 7 * 86400) * 1000,
                       SEED_BASE_MS + SEED_SPAN_MS)
            rec.update(IsDeleted=True, LastModifiedDate=when, SystemModstamp=when)
            table.deleted_log[rec["Id"]] = when
        table.order.append(rec["Id"])
        table.put(rec)

    # Accounts
    acc = store.tables["Account"]
    times = _timeline(rng, cfg.accounts)
    live_accounts = []
    for i in range(cfg.accounts):
        rec = base(acc, times, i)
        if i % 97 == 5:
            name = SPECIAL_NAMES[(i // 97) % len(SPECIAL_NAMES)]
        else:
            name = "%s %s %d" % (rng.choice(ADJ), rng.choice(NOUN), i + 1)
        city = rng.choice(CITIES) if rng.random() < 0.8 else None
        revenue = rng.choice([None, rng.randint(1, 500) * 100000.0, rng.randint(1, 9) * 1.0e8])
        rec.update({
            "Name": name,
            "Type": rng.choice(sch.ACCOUNT_TYPES + [None]),
            "ParentId": rng.choice(live_accounts) if live_accounts and rng.random() < 0.1 else None,
            "BillingStreet": ("%d Market St\nSuite %d" % (rng.randint(1, 999), rng.randint(1, 99)))
            if city else None,
            "BillingCity": city[0] if city else None,
            "BillingState": city[1] if city else None,
            "BillingPostalCode": city[2] if city else None,
            "BillingCountry": city[3] if city else None,
            "BillingLatitude": city[4] if city else None,
            "BillingLongitude": city[5] if city else None,
            "BillingGeocodeAccuracy": "Address" if city else None,
            "Phone": "+1 415 555 %04d" % rng.randint(0, 9999) if rng.random() < 0.7 else None,
            "Fax": None,
            "AccountNumber": "AN-%07d" % (i + 1),
            "Website": "https://www.example.com/a/%d" % (i + 1) if rng.random() < 0.6 else None,
            "Industry": rng.choice(sch.INDUSTRIES + [None]),
            "AnnualRevenue": revenue,
            "NumberOfEmployees": rng.choice([None, 0, rng.randint(1, 250000)]),
            "Description": rng.choice([None, "Key account.", "Line one\nLine \"two\", with comma",
                                       "Ünïcödé — ok"]),
            "Rating": rng.choice(sch.RATINGS + [None]),
            "LastActivityDate": None,
            "Ext_Id__c": "ACC-%06d" % (i + 1) if rng.random() < 0.8 else None,
            "Customer_Since__c": wire.date_of_ms(rec["CreatedDate"]) if rng.random() < 0.5 else None,
            "Is_Partner__c": rng.random() < 0.2,
        })
        deleted = rng.random() < cfg.deleted_share
        finish(acc, rec, deleted)
        if not deleted:
            live_accounts.append(rec["Id"])

    def some_account(p):
        return rng.choice(live_accounts) if live_accounts and rng.random() < p else None

    con = store.tables["Contact"]
    times = _timeline(rng, cfg.contacts)
    for i in range(cfg.contacts):
        rec = base(con, times, i)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        if rng.random() < 0.1:
            first = None
        city = rng.choice(CITIES) if rng.random() < 0.5 else None
        rec.update({
            "AccountId": some_account(0.85), "FirstName": first, "LastName": last,
            "Salutation": rng.choice(sch.SALUTATIONS + [None]),
            "Name": " ".join(p for p in (first, last) if p),
            "MailingStreet": "%d Main St" % rng.randint(1, 999) if city else None,
            "MailingCity": city[0] if city else None, "MailingState": city[1] if city else None,
            "MailingPostalCode": city[2] if city else None,
            "MailingCountry": city[3] if city else None,
            "MailingLatitude": None, "MailingLongitude": None, "MailingGeocodeAccuracy": None,
            "Phone": "+1 212 555 %04d" % rng.randint(0, 9999) if rng.random() < 0.6 else None,
            "MobilePhone": None,
            "Email": ("c%d.%s@example.com" % (i + 1, last.lower().replace("'", "")))
            if rng.random() < 0.9 else None,
            "Title": rng.choice(TITLES), "Department": None,
            "Birthdate": "19%02d-%02d-%02d" % (rng.randint(50, 99), rng.randint(1, 12),
                                               rng.randint(1, 28)) if rng.random() < 0.3 else None,
            "LeadSource": rng.choice(sch.LEAD_SOURCES + [None]),
            "HasOptedOutOfEmail": rng.random() < 0.1, "DoNotCall": rng.random() < 0.05,
            "Description": None,
            "Ext_Id__c": "CON-%06d" % (i + 1),
        })
        finish(con, rec, rng.random() < cfg.deleted_share)

    opp = store.tables["Opportunity"]
    times = _timeline(rng, cfg.opportunities)
    for i in range(cfg.opportunities):
        rec = base(opp, times, i)
        stage = rng.choice(list(sch.STAGES))
        prob, closed, won = sch.STAGES[stage]
        amount = rng.choice([None, rng.randint(1, 10000) * 25.5])
        rec.update({
            "AccountId": some_account(0.95), "Name": "Deal %d" % (i + 1),
            "Description": None, "StageName": stage, "Amount": amount,
            "Probability": float(prob),
            "ExpectedRevenue": None if amount is None else round(amount * prob / 100, 2),
            "CloseDate": wire.date_of_ms(rec["CreatedDate"] + rng.randint(1, 180) * 86400000),
            "Type": rng.choice(sch.OPP_TYPES + [None]), "NextStep": None,
            "LeadSource": rng.choice(sch.LEAD_SOURCES + [None]),
            "IsClosed": closed, "IsWon": won,
        })
        finish(opp, rec, rng.random() < cfg.deleted_share)

    sc = store.tables["Sluice_Score__c"]
    times = _timeline(rng, cfg.scores)
    for i in range(cfg.scores):
        rec = base(sc, times, i)
        sc.autonumber += 1
        tags = sorted(rng.sample(sch.TAGS, rng.randint(0, 3)), key=sch.TAGS.index)
        rec.update({
            "Name": "SCORE-%06d" % sc.autonumber, "Ext_Id__c": "SC-%06d" % (i + 1),
            "Account__c": some_account(0.9),
            "Score__c": rng.choice([None, round(rng.uniform(0, 100), 2)]),
            "Weight__c": round(rng.uniform(0, 100), 2),
            "Rank__c": float(rng.randint(1, 500)),
            "Amount__c": rng.choice([None, 0.0, round(rng.uniform(1, 1e7), 2), 35000000.0]),
            "Grade__c": rng.choice(sch.GRADES + [None]),
            "Tags__c": ";".join(tags) if tags else None,
            "Active__c": rng.random() < 0.7,
            "Scored_At__c": rec["CreatedDate"] + rng.randint(0, 86400) * 1000,
            "Scored_On__c": wire.date_of_ms(rec["CreatedDate"]),
            "Contact_Email__c": "score%d@example.com" % (i + 1) if rng.random() < 0.5 else None,
            "Website__c": None, "Phone__c": None,
            "Notes__c": rng.choice([None, "short", "multi\nline, \"quoted\" text"]),
            "Details__c": rng.choice([None, "<p>Rich <b>text</b></p>"]),
        })
        finish(sc, rec, rng.random() < cfg.deleted_share)
    if "Sluice_Wide__c" in store.tables:
        _seed_wide(store.tables["Sluice_Wide__c"], cfg, base, finish)
    store.save_seed()
    return user_ids


def _seed_wide(table, cfg, base, finish):
    """Sluice_Wide__c records, from their own random stream so that the
    other objects' data does not depend on the wide object's size."""
    rng = random.Random(cfg.seed * 7919 + 13)
    times = _timeline(rng, cfg.wide)
    measures = [f for f in table.sobj.fields if f.name.startswith("Measurement_Value_")]
    for i in range(cfg.wide):
        rec = base(table, times, i)
        rec["Name"] = "Wide %d" % (i + 1)
        for f in measures:
            t = f.type
            if t == "boolean":
                rec[f.name] = rng.random() < 0.5
                continue
            if rng.random() < 0.1:
                rec[f.name] = None
            elif t == "string":
                rec[f.name] = "%s r%d %s" % (f.name[18:22], i + 1, rng.choice(ADJ))
            elif t == "double":
                rec[f.name] = round(rng.uniform(-1e6, 1e6), 4)
            elif t == "currency":
                rec[f.name] = round(rng.uniform(0, 1e9), 2)
            elif t == "date":
                rec[f.name] = wire.date_of_ms(rec["CreatedDate"] + rng.randint(0, 900) * 86400000)
            elif t == "datetime":
                rec[f.name] = rec["CreatedDate"] + rng.randint(0, 86400 * 90) * 1000
            else:
                rec[f.name] = rng.choice(f.picklist)
        finish(table, rec, rng.random() < cfg.deleted_share)
