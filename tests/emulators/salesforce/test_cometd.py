#!/usr/bin/env python3
"""Tests of the emulator's Streaming API (CometD long polling) and Change
Data Capture (contract section 6, checklist 9.8).

Shares test_sfemu's emulator (started as the README says) and resets it
before each test; the long-poll hold is made short through the control API.
"""
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import test_bulk2           # noqa: E402
import test_sfemu as base   # noqa: E402
from test_sfemu import EMU, ctl, ctl_ok, ssl_ctx   # noqa: E402

setUpModule = base.setUpModule
tearDownModule = base.tearDownModule

HOLD_MS = 500
MSG_REPLAY = ("400::The replayId {%s} you provided was invalid.  Please provide a valid ID, "
              "-2 to replay all events, or -1 to replay only new events.")
ACC = "/data/AccountChangeEvent"
HEADER_KEYS = sorted(["commitNumber", "commitUser", "sequenceNumber", "entityName", "changeType",
                      "changedFields", "changeOrigin", "transactionKey", "commitTimestamp",
                      "recordIds"])


class Reply:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw

    def json(self):
        return json.loads(self.raw)

    def cookies(self):
        return [v for k, v in self.headers if k.lower() == "set-cookie"]

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:400])


def post(path, body, headers, timeout=20, port=None):
    conn = http.client.HTTPSConnection("localhost", port or EMU["port"], context=ssl_ctx(),
                                       timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers=headers)
        r = conn.getresponse()
        return Reply(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


class Bayeux:
    """A minimal long-polling client that keeps its cookies, as libcurl's
    cookie engine would."""

    def __init__(self, token, version="62.0", port=None):
        self.token, self.path, self.port = token, "/cometd/" + version, port
        self.cookies, self.client_id, self.n = {}, None, 0

    def send(self, msgs, cookies=True, headers=None, raw=None, timeout=20):
        h = {"Content-Type": "application/json", "Authorization": "Bearer " + self.token}
        if cookies and self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        h.update(headers or {})
        r = post(self.path, raw if raw is not None else json.dumps(msgs).encode(), h,
                 timeout, self.port)
        for value in r.cookies():
            name, _, val = value.split(";")[0].partition("=")
            self.cookies[name] = val
        return r

    def msg(self, channel, **kw):
        self.n += 1
        m = {"id": str(self.n), "channel": channel}
        if self.client_id and channel != "/meta/handshake":
            m["clientId"] = self.client_id
        m.update(kw)
        return m

    def one(self, channel, **kw):
        r = self.send([self.msg(channel, **kw)])
        assert r.status == 200, r
        out = r.json()
        assert isinstance(out, list), r
        return out

    def handshake(self):
        out = self.one("/meta/handshake", version="1.0", minimumVersion="1.0",
                       supportedConnectionTypes=["long-polling"], ext={"replay": True})
        assert out[0]["successful"], out
        self.client_id = out[0]["clientId"]
        return out[0]

    def subscribe(self, channel, replay=None):
        kw = {"subscription": channel}
        if replay is not None:
            kw["ext"] = {"replay": {channel: replay}}
        return self.one("/meta/subscribe", **kw)[0]

    def connect(self, timeout=20):
        r = self.send([self.msg("/meta/connect", connectionType="long-polling")], timeout=timeout)
        assert r.status == 200, r
        out = r.json()
        meta = [m for m in out if m["channel"] == "/meta/connect"]
        assert len(meta) == 1, out
        return [m for m in out if m["channel"] != "/meta/connect"], meta[0]

    def events(self, timeout=20):
        evs, meta = self.connect(timeout)
        assert meta["successful"], meta
        return evs

    def drain(self):
        """Connect until a reply brings nothing."""
        out = []
        while True:
            evs = self.events()
            if not evs:
                return out
            out.extend(evs)


def records(*ops, merge=False):
    doc = {"ops": list(ops)}
    if merge:
        doc["cdc_merge"] = True
    return [r["id"] for r in ctl_ok("POST", "records", doc)["results"]]


def create(obj, **fields):
    return records({"op": "create", "object": obj, "fields": fields})[0]


def payload(ev):
    return ev["data"]["payload"]


def header(ev):
    return ev["data"]["payload"]["ChangeEventHeader"]


class CometdTest(base.EmuTest):
    def setUp(self):
        super().setUp()
        ctl_ok("POST", "cometd", {"hold_ms": HOLD_MS})

    def client(self, subscribe=None, replay=None):
        c = Bayeux(self.token)
        c.handshake()
        if subscribe:
            self.assertTrue(c.subscribe(subscribe, replay)["successful"])
        c.events()          # the first connect is answered at once
        return c


# ---------------------------------------------------------------------------
class TestTransport(CometdTest):
    def test_handshake_reply_and_cookies(self):
        c = Bayeux(self.token)
        r = c.send([c.msg("/meta/handshake", version="1.0", minimumVersion="1.0",
                          supportedConnectionTypes=["long-polling"], ext={"replay": True})])
        self.assertEqual(r.status, 200, r)
        m = r.json()[0]
        self.assertEqual(m["ext"], {"replay": True, "payload.format": True})
        self.assertEqual((m["channel"], m["id"], m["version"], m["minimumVersion"],
                          m["successful"], m["reestablish"], m["supportedConnectionTypes"]),
                         ("/meta/handshake", "1", "1.0", "1.0", True, False, ["long-polling"]))
        self.assertRegex(m["clientId"], r"^[0-9a-z]{26}$")
        names = sorted(v.split("=")[0] for v in r.cookies())
        self.assertEqual(names, ["BAYEUX_BROWSER", "BrowserId"])
        for v in r.cookies():
            self.assertIn("; Path=/", v)
            self.assertIn("; Secure", v)

    def test_cookies_are_required(self):
        c = Bayeux(self.token)
        c.handshake()
        for channel, extra in (("/meta/subscribe", {"subscription": ACC}),
                               ("/meta/connect", {"connectionType": "long-polling"})):
            r = c.send([c.msg(channel, **extra)], cookies=False)
            self.assertEqual(r.status, 400, r)
            m = r.json()[0]
            self.assertEqual(m["error"], "400::Client %s has established a session, but no "
                             "BAYEUX_BROWSER cookie present" % c.client_id)
            self.assertFalse(m["successful"])
            self.assertEqual((m["channel"], m["clientId"]), (channel, c.client_id))
        # one cookie of two is not enough
        r = c.send([c.msg("/meta/connect", connectionType="long-polling")], cookies=False,
                   headers={"Cookie": "BAYEUX_BROWSER=" + c.cookies["BAYEUX_BROWSER"]})
        self.assertEqual(r.status, 400, r)
        self.assertIn("but no BrowserId cookie present", r.json()[0]["error"])
        self.assertTrue(c.events() == [])

    def test_http_level_refusals(self):
        c = Bayeux(self.token, version="36.0")
        r = c.send([c.msg("/meta/handshake", supportedConnectionTypes=["long-polling"])])
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()[0]["error"], "400::Unsupported API version. Only API versions "
                         "'37.0' and later are supported. URI format: '/cometd/66.0'")
        c = Bayeux(self.token)
        big = [c.msg("/meta/handshake", supportedConnectionTypes=["long-polling"],
                     pad="x" * 33000)]
        r = c.send(big)
        self.assertEqual((r.status, r.json()[0]["error"]),
                         (413, "413::Maximum Request Size Exceeded"))
        r = c.send(None, raw=json.dumps(c.msg("/meta/handshake")).encode())   # not an array
        self.assertEqual(r.status, 400, r)
        self.assertIsInstance(r.json(), list)
        r = c.send(None, raw=b"[{", headers={})
        self.assertEqual(r.status, 400, r)
        r = c.send([c.msg("/meta/handshake", supportedConnectionTypes=["long-polling"])],
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 400, r)
        # websocket is not offered
        r = c.send([c.msg("/meta/handshake", supportedConnectionTypes=["websocket"])])
        self.assertEqual((r.status, r.json()[0]["error"]), (400, "400::Invalid connection type"))
        c.handshake()
        r = c.send([c.msg("/meta/connect", connectionType="websocket")])
        self.assertEqual((r.status, r.json()[0]["error"]), (400, "400::Invalid connection type"))
        # the CometD Java client appends the message type to the URL
        c2 = Bayeux(self.token, version="62.0/handshake")
        self.assertTrue(c2.handshake()["successful"])

    def test_handshake_denied(self):
        for auth, reason in (("Bearer nope", "401::Authentication invalid"),
                             (None, "401::Request requires authentication")):
            h = {"Content-Type": "application/json"}
            if auth:
                h["Authorization"] = auth
            r = post("/cometd/62.0", json.dumps([{"id": "1", "channel": "/meta/handshake",
                                                  "supportedConnectionTypes": ["long-polling"]}])
                     .encode(), h)
            self.assertEqual(r.status, 200, r)
            m = r.json()[0]
            self.assertEqual(m, {"channel": "/meta/handshake", "id": "1",
                                 "ext": {"sfdc": {"failureReason": reason}, "replay": True,
                                         "payload.format": True},
                                 "advice": {"reconnect": "none"},
                                 "error": "403::Handshake denied", "successful": False})
            self.assertEqual(r.cookies(), [])
        # OAuth scheme works as for REST
        c = Bayeux(self.token)
        r = c.send([c.msg("/meta/handshake", supportedConnectionTypes=["long-polling"])],
                   headers={"Authorization": "OAuth " + self.token})
        self.assertTrue(r.json()[0]["successful"])

    def test_expired_token_on_connect(self):
        c = self.client(ACC)
        ctl_ok("POST", "tokens/expire")
        evs, meta = c.connect()
        self.assertEqual(meta["error"], "401::Authentication invalid")
        self.assertEqual(meta["advice"], {"reconnect": "none", "interval": 0})
        self.assertFalse(meta["successful"])

    def test_connect_holds_then_answers(self):
        c = self.client(ACC)
        t0 = time.monotonic()
        evs, meta = c.connect()
        held = time.monotonic() - t0
        self.assertEqual(evs, [])
        self.assertGreaterEqual(held, HOLD_MS / 1000 - 0.05)
        self.assertLess(held, 5)
        self.assertEqual(meta["advice"], {"interval": 0, "timeout": HOLD_MS, "reconnect": "retry"})
        self.assertEqual((meta["clientId"], meta["successful"]), (c.client_id, True))
        # An event ends a held connect early.
        ctl_ok("POST", "cometd", {"hold_ms": 20000})
        threading.Timer(0.3, lambda: create("Account", Name="Wake")).start()
        t0 = time.monotonic()
        evs = c.events()
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(payload(evs[0])["Name"], "Wake")

    def test_client_advised_timeout_shortens_the_hold(self):
        ctl_ok("POST", "cometd", {"hold_ms": 20000})
        c = self.client(ACC)
        c.connect()  # the first connect is answered at once
        t0 = time.monotonic()
        r = c.send([c.msg("/meta/connect", connectionType="long-polling",
                          advice={"timeout": 300})])
        held = time.monotonic() - t0
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(held, 0.25)
        self.assertLess(held, 5)

    def test_default_hold_is_110_seconds(self):
        ctl_ok("POST", "reset")
        self.assertEqual(ctl_ok("GET", "cometd")["settings"],
                         {"hold_ms": 110000, "client_timeout_seconds": 40.0,
                          "max_events_per_connect": 200, "view_all_data": True})

    def test_unknown_client_and_expiry(self):
        c = Bayeux(self.token)
        c.handshake()
        real = c.client_id
        c.client_id = "nosuchclient0000000000000a"
        evs, meta = c.connect()
        self.assertEqual(meta, {"channel": "/meta/connect", "id": str(c.n),
                                "error": "403::Unknown client", "successful": False,
                                "advice": {"interval": 0, "reconnect": "handshake"}})
        c.client_id = real
        c.events()
        # 40 s of emulator clock without a connect: the client is gone
        ctl_ok("POST", "clock", {"advance_seconds": 41})
        evs, meta = c.connect()
        self.assertEqual(meta["error"], "403::Unknown client")

    def test_unsubscribe_and_disconnect(self):
        c = self.client(ACC)
        m = c.one("/meta/unsubscribe", subscription=ACC)[0]
        self.assertEqual((m["successful"], m["subscription"]), (True, ACC))
        create("Account", Name="Unheard")
        self.assertEqual(c.events(), [])
        m = c.one("/meta/disconnect")[0]
        self.assertTrue(m["successful"])
        evs, meta = c.connect()
        self.assertEqual(meta["error"], "403::Unknown client")

    def test_faults_apply_to_cometd(self):
        c = self.client(ACC)
        ctl_ok("POST", "faults", {"kind": "status", "status": 503, "path_prefix": "/cometd/"})
        r = c.send([c.msg("/meta/connect", connectionType="long-polling")])
        self.assertEqual(r.status, 503)
        ctl_ok("POST", "faults", {"kind": "stall", "seconds": 1, "path_prefix": "/cometd/"})
        create("Account", Name="Slow")
        t0 = time.monotonic()
        self.assertEqual(len(c.events()), 1)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        log = ctl_ok("GET", "requests?path_prefix=/cometd/")["requests"]
        self.assertIn("/meta/connect", log[-1]["body"])


class TestInjectedFailures(CometdTest):
    def test_unknown_client_forces_rehandshake_which_drops_subscriptions(self):
        c = self.client(ACC)
        ctl_ok("POST", "cometd/fail", {"kind": "unknown_client"})
        evs, meta = c.connect()
        self.assertEqual(meta["error"], "403::Unknown client")
        self.assertEqual(meta["advice"], {"interval": 0, "reconnect": "handshake"})
        c.handshake()
        c.events()
        create("Account", Name="Missed")
        self.assertEqual(c.events(), [])          # no subscription survives a handshake
        self.assertEqual(ctl_ok("GET", "cometd")["clients"][0]["subscriptions"], {})

    def test_unknown_client_releases_a_held_connect(self):
        c = self.client(ACC)
        ctl_ok("POST", "cometd", {"hold_ms": 20000})
        threading.Timer(0.3, lambda: ctl_ok("POST", "cometd/fail",
                                            {"kind": "unknown_client"})).start()
        t0 = time.monotonic()
        evs, meta = c.connect()
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(meta["error"], "403::Unknown client")

    def test_auth_failure(self):
        c = self.client(ACC)
        ctl_ok("POST", "cometd/fail", {"kind": "auth", "count": 2})
        for _ in range(2):
            evs, meta = c.connect()
            self.assertEqual((meta["error"], meta["advice"]["reconnect"]),
                             ("401::Authentication invalid", "none"))
        self.assertEqual(c.events(), [])

    def test_drop_mid_poll(self):
        c = self.client(ACC)
        create("Account", Name="Kept")
        ctl_ok("POST", "cometd/fail", {"kind": "drop", "after_ms": 300})
        t0 = time.monotonic()
        with self.assertRaises((ConnectionError, http.client.HTTPException, ssl.SSLError,
                                socket.error)):
            c.connect()
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)
        # a dropped poll delivered nothing: the event is still there
        self.assertEqual(payload(c.events()[0])["Name"], "Kept")
        log = ctl_ok("GET", "requests?path_prefix=/cometd/")["requests"]
        self.assertEqual(log[-2]["status"], 0)


class TestChannels(CometdTest):
    def test_enabled_objects_and_refusals(self):
        info = ctl_ok("GET", "cdc")
        self.assertEqual(info["enabled"], ["Account", "Contact", "Sluice_Score__c"])
        self.assertEqual(info["channels"], ["/data/ChangeEvents", "/data/AccountChangeEvent",
                                            "/data/ContactChangeEvent",
                                            "/data/Sluice_Score__ChangeEvent"])
        c = Bayeux(self.token)
        c.handshake()
        for ch in ("/data/OpportunityChangeEvent", "/data/NoSuchChangeEvent", "/topic/Foo",
                   "/data/Sluice_Score__cChangeEvent"):
            m = c.subscribe(ch)
            self.assertFalse(m["successful"])
            self.assertEqual(m["error"],
                             "400::The channel you requested to subscribe to doesn't exist " + ch)
        ctl_ok("POST", "cdc", {"enable": ["Opportunity"], "disable": ["Contact"]})
        self.assertTrue(c.subscribe("/data/OpportunityChangeEvent")["successful"])
        self.assertFalse(c.subscribe("/data/ContactChangeEvent")["successful"])
        ctl_ok("POST", "cometd", {"view_all_data": False})
        m = c.subscribe(ACC)
        self.assertEqual(m["error"],
                         "403::User not allowed to subscribe CDC without View All Data permissions")

    def test_custom_object_and_all_channel(self):
        c = self.client("/data/ChangeEvents")
        self.assertTrue(c.subscribe("/data/Sluice_Score__ChangeEvent")["successful"])
        sid = create("Sluice_Score__c", Ext_Id__c="SC-NEW-1", Score__c=3.5E7)
        aid = create("Account", Name="A1")
        create("Opportunity", Name="Not captured", StageName="Prospecting",
               CloseDate="2026-01-01")
        evs = c.events()
        self.assertEqual([(e["channel"], header(e)["recordIds"][0]) for e in evs],
                         [("/data/ChangeEvents", sid), ("/data/Sluice_Score__ChangeEvent", sid),
                          ("/data/ChangeEvents", aid)])
        self.assertEqual(header(evs[0])["entityName"], "Sluice_Score__c")
        self.assertEqual(evs[0]["data"], evs[1]["data"])
        self.assertEqual(payload(evs[0])["Score__c"], 3.5e7)
        self.assertEqual(payload(evs[0])["Name"][:6], "SCORE-")


class TestEvents(CometdTest):
    def test_create_update_delete_undelete(self):
        c = self.client(ACC)
        aid = create("Account", Name="Acme", Description="Sample account record.",
                     BillingCity="Paris", BillingCountry="France", Phone=None)
        records({"op": "update", "id": aid,
                 "fields": {"Description": None, "BillingCity": "Lyon", "Industry": "Energy"}})
        records({"op": "delete", "id": aid})
        records({"op": "undelete", "id": aid})
        evs = c.events()
        self.assertEqual([header(e)["changeType"] for e in evs],
                         ["CREATE", "UPDATE", "DELETE", "UNDELETE"])
        ids = [e["data"]["event"]["replayId"] for e in evs]
        self.assertEqual(ids, sorted(ids))
        self.assertTrue(any(b - a > 1 for a, b in zip(ids, ids[1:])), ids)   # not contiguous
        user = EMU["state"]["user_id"]
        for e in evs:
            self.assertEqual(e["channel"], ACC)
            self.assertRegex(e["data"]["schema"], r"^[A-Za-z0-9_-]{22}$")
            h = header(e)
            self.assertEqual(sorted(h), HEADER_KEYS)
            self.assertEqual((h["entityName"], h["recordIds"], h["commitUser"],
                              h["sequenceNumber"], h["changeOrigin"]),
                             ("Account", [aid], user, 1, ""))
            self.assertRegex(h["transactionKey"], r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$")
            self.assertIsInstance(h["commitTimestamp"], int)
            self.assertGreater(h["commitTimestamp"], 1700000000000)
        create_p = payload(evs[0])
        self.assertEqual(header(evs[0])["changedFields"], [])
        self.assertEqual(create_p["Name"], "Acme")
        self.assertEqual(create_p["BillingAddress"], {"City": "Paris", "Country": "France"})
        for absent in ("Phone", "Id", "IsDeleted", "SystemModstamp", "BillingCity",
                       "Revenue_Per_Employee__c"):
            self.assertNotIn(absent, create_p)
        for present in ("OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate",
                        "LastModifiedById", "Is_Partner__c"):
            self.assertIn(present, create_p)
        self.assertRegex(create_p["CreatedDate"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$")
        upd = payload(evs[1])
        self.assertEqual(header(evs[1])["changedFields"],
                         ["LastModifiedDate", "BillingAddress.City", "Industry", "Description"])
        self.assertRegex(upd.pop("LastModifiedDate"), r"^\d{4}-.*\.000Z$")
        self.assertEqual({k: v for k, v in upd.items() if k != "ChangeEventHeader"},
                         {"BillingAddress": {"City": "Lyon"}, "Industry": "Energy",
                          "Description": None})
        self.assertEqual(list(payload(evs[2])), ["ChangeEventHeader"])
        self.assertEqual(header(evs[2])["changedFields"], [])
        und = payload(evs[3])
        self.assertEqual((und["Name"], und["Industry"], und["BillingAddress"]),
                         ("Acme", "Energy", {"City": "Lyon", "Country": "France"}))
        self.assertNotIn("Description", und)

    def test_contact_name_is_compound(self):
        c = self.client("/data/ContactChangeEvent")
        cid = create("Contact", FirstName="Shalee", LastName="Jackson", Salutation="Ms.")
        records({"op": "update", "id": cid, "fields": {"FirstName": "Sha"}})
        evs = c.events()
        self.assertEqual(payload(evs[0])["Name"],
                         {"LastName": "Jackson", "FirstName": "Shalee", "Salutation": "Ms."})
        self.assertEqual(payload(evs[1])["Name"], {"FirstName": "Sha"})
        self.assertEqual(header(evs[1])["changedFields"], ["LastModifiedDate", "Name.FirstName"])

    def test_one_transaction_cascade_and_merge(self):
        c = self.client("/data/ChangeEvents")
        a1 = create("Account", Name="Parent")
        k1 = create("Contact", LastName="Child", AccountId=a1)
        c.drain()
        records({"op": "delete", "id": a1})          # the Contact goes with it
        evs = c.events()
        self.assertEqual([(header(e)["entityName"], header(e)["changeType"],
                           header(e)["sequenceNumber"]) for e in evs],
                         [("Account", "DELETE", 1), ("Contact", "DELETE", 2)])
        self.assertEqual(len({header(e)["transactionKey"] for e in evs}), 1)
        self.assertEqual(header(evs[1])["recordIds"], [k1])
        # merged: the same change to several records in one transaction
        ids = records(*[{"op": "create", "object": "Account", "fields": {"Name": "M%d" % i}}
                        for i in range(3)])
        c.drain()
        records(*[{"op": "update", "id": i, "fields": {"Rating": "Hot"}} for i in ids]
                + [{"op": "update", "id": ids[0], "fields": {"Rating": "Hot"}}], merge=True)
        records(*[{"op": "update", "id": i, "fields": {"Rating": "Cold"}} for i in ids])
        evs = c.events()
        self.assertEqual([header(e)["recordIds"] for e in evs],
                         [ids, [ids[0]], [ids[1]], [ids[2]]])
        self.assertEqual(payload(evs[0])["Rating"], "Hot")
        self.assertEqual(header(evs[0])["changedFields"], ["LastModifiedDate", "Rating"])

    def test_rest_writes_make_events_and_rollbacks_do_not(self):
        c = self.client(ACC)
        hdr = {"Sforce-Call-Options": "client=sluice-test"}
        body = {"allOrNone": False, "records": [
            {"attributes": {"type": "Account"}, "Name": "Via REST"}]}
        r = self.api("POST", "composite/sobjects", body, headers=hdr)
        self.assertEqual(r.status, 200, r)
        rid = r.json()[0]["id"]
        body = {"allOrNone": True, "records": [
            {"attributes": {"type": "Account"}, "Name": "Rolled back"},
            {"attributes": {"type": "Account"}}]}        # no Name: fails, all roll back
        r = self.api("POST", "composite/sobjects", body)
        self.assertFalse(r.json()[0]["success"])
        r = self.api("DELETE", "composite/sobjects?ids=" + rid)
        self.assertTrue(r.json()[0]["success"])
        evs = c.events()
        self.assertEqual([(header(e)["changeType"], header(e)["recordIds"][0],
                           header(e)["changeOrigin"]) for e in evs],
                         [("CREATE", rid, "com/salesforce/api/rest/62.0;client=sluice-test"),
                          ("DELETE", rid, "com/salesforce/api/rest/62.0")])

    def test_gap_and_overflow_events(self):
        c = self.client(ACC)
        aid = create("Account", Name="Gappy")
        c.drain()
        out = ctl_ok("POST", "cdc/gap", {"change_type": "GAP_UPDATE", "ids": [aid]})
        self.assertEqual(len(out["replay_ids"]), 1)
        ctl_ok("POST", "cdc/overflow", {"object": "Account"})
        evs = c.events()
        self.assertEqual([(header(e)["changeType"], header(e)["recordIds"]) for e in evs],
                         [("GAP_UPDATE", [aid]), ("GAP_OVERFLOW", ["000000000000000AAA"])])
        for e in evs:
            self.assertEqual(list(payload(e)), ["ChangeEventHeader"])
        for kind in ("GAP_CREATE", "GAP_DELETE", "GAP_UNDELETE"):
            ctl_ok("POST", "cdc/gap", {"change_type": kind, "ids": [aid]})
        self.assertEqual([header(e)["changeType"] for e in c.events()],
                         ["GAP_CREATE", "GAP_DELETE", "GAP_UNDELETE"])
        self.assertEqual(ctl("POST", "cdc/gap", {"change_type": "UPDATE", "ids": [aid]}).status,
                         400)
        self.assertEqual(ctl("POST", "cdc/overflow", {"object": "Opportunity"}).status, 400)

    def test_events_per_connect_are_capped(self):
        ctl_ok("POST", "cometd", {"max_events_per_connect": 5})
        c = self.client(ACC)
        records(*[{"op": "create", "object": "Account", "fields": {"Name": "N%d" % i}}
                  for i in range(12)])
        sizes = [len(c.events()) for _ in range(3)]
        self.assertEqual(sizes, [5, 5, 2])

    def test_default_cap(self):
        c = self.client(ACC)
        records(*[{"op": "create", "object": "Account", "fields": {"Name": "N%d" % i}}
                  for i in range(450)])
        self.assertEqual([len(c.events()) for _ in range(3)], [200, 200, 50])


class TestBulkEvents(test_bulk2.BulkTest):
    def test_bulk_ingest_makes_events(self):
        ctl_ok("POST", "cometd", {"hold_ms": HOLD_MS})
        c = Bayeux(self.token)
        c.handshake()
        c.subscribe(ACC)
        c.events()
        jid, info = self.ingest("Account", "insert", "Name,Industry\nBulk One,Energy\n"
                                "Bulk Two,\n")
        self.assertEqual(info["numberRecordsProcessed"], 2)
        evs = c.events()
        self.assertEqual([payload(e)["Name"] for e in evs], ["Bulk One", "Bulk Two"])
        self.assertEqual(header(evs[0])["changeOrigin"], "com/salesforce/api/bulkapi/62.0")
        self.assertNotIn("Industry", payload(evs[1]))


class TestReplay(CometdTest):
    def make(self, n):
        return records(*[{"op": "create", "object": "Account", "fields": {"Name": "R%d" % i}}
                         for i in range(n)])

    def test_minus_one_minus_two_and_an_id(self):
        self.make(3)
        everything = ctl_ok("GET", "cdc/events")["events"]
        self.assertEqual(len(everything), 3)
        rids = [e["data"]["event"]["replayId"] for e in everything]
        c = self.client(ACC, -1)
        self.assertEqual(c.events(), [])
        c = self.client(ACC)                        # no extension: -1
        self.assertEqual(c.events(), [])
        c = Bayeux(self.token)
        c.handshake()
        c.subscribe(ACC, -2)
        self.assertEqual([e["data"]["event"]["replayId"] for e in c.events()], rids)
        c = Bayeux(self.token)
        c.handshake()
        self.assertTrue(c.subscribe(ACC, rids[0])["successful"])
        self.assertEqual([e["data"]["event"]["replayId"] for e in c.events()], rids[1:])
        self.assertEqual(everything[0]["data"], ctl_ok("GET", "cdc/events")["events"][0]["data"])

    def test_invalid_and_expired_ids(self):
        self.make(2)
        rids = [e["data"]["event"]["replayId"] for e in ctl_ok("GET", "cdc/events")["events"]]
        c = Bayeux(self.token)
        c.handshake()
        for bad in (rids[0] + 1 if rids[0] + 1 not in rids else rids[0] - 1, 1553783, "abc"):
            m = c.subscribe(ACC, bad)
            self.assertEqual((m["successful"], m["error"]), (False, MSG_REPLAY % bad))
            self.assertEqual(m["subscription"], ACC)
        # 72 hours of emulator clock later, both events are gone (the
        # sessions too: a new token each time)
        ctl_ok("POST", "clock", {"advance_seconds": 71 * 3600})
        c = Bayeux(base.cc_token())
        c.handshake()
        self.assertTrue(c.subscribe(ACC, rids[0])["successful"])
        ctl_ok("POST", "clock", {"advance_seconds": 2 * 3600})
        c = Bayeux(base.cc_token())
        c.handshake()
        m = c.subscribe(ACC, rids[0])
        self.assertEqual(m["error"], MSG_REPLAY % rids[0])
        self.assertEqual(ctl_ok("GET", "cdc")["events"], 0)

    def test_purge_and_retention_setting(self):
        self.make(3)
        rids = [e["data"]["event"]["replayId"] for e in ctl_ok("GET", "cdc/events")["events"]]
        out = ctl_ok("POST", "cdc/purge", {"through_replay_id": rids[0]})
        self.assertEqual((out["purged"], out["first_replay_id"]), (1, rids[1]))
        c = Bayeux(self.token)
        c.handshake()
        self.assertFalse(c.subscribe(ACC, rids[0])["successful"])
        c.subscribe(ACC, -2)
        self.assertEqual(len(c.events()), 2)
        ctl_ok("POST", "cdc", {"retention_hours": 1})
        ctl_ok("POST", "clock", {"advance_seconds": 3601})
        self.assertEqual(ctl_ok("GET", "cdc")["events"], 0)
        self.make(1)
        self.assertEqual(ctl_ok("POST", "cdc/purge", {})["purged"], 1)

    def test_resubscribe_with_stored_id_after_rehandshake(self):
        c = self.client(ACC)
        self.make(2)
        last = c.events()[-1]["data"]["event"]["replayId"]
        self.make(2)
        ctl_ok("POST", "cometd/forget-clients")
        evs, meta = c.connect()
        self.assertEqual(meta["error"], "403::Unknown client")
        c.handshake()
        c.subscribe(ACC, last)
        self.assertEqual([payload(e)["Name"] for e in c.events()], ["R0", "R1"])

    def test_reset_empties_the_bus(self):
        self.make(1)
        rid = ctl_ok("GET", "cdc")["last_replay_id"]
        ctl_ok("POST", "reset")             # sessions go too
        ctl_ok("POST", "cometd", {"hold_ms": HOLD_MS})
        self.assertEqual(ctl_ok("GET", "cdc")["events"], 0)
        c = Bayeux(base.cc_token())
        c.handshake()
        self.assertFalse(c.subscribe(ACC, rid)["successful"])
        self.make(1)
        self.assertGreater(ctl_ok("GET", "cdc")["last_replay_id"], rid)


class TestCommandLine(unittest.TestCase):
    """The CLI flags, on a small emulator of its own."""

    def test_flags(self):
        work = tempfile.mkdtemp(prefix="sfemu-cometd-")
        try:
            state_file = os.path.join(work, "state.json")
            proc = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "sfemu.py"), "--pki", EMU["pki"],
                 "--port", "0", "--state-file", state_file, "--control-token", "t",
                 "--accounts", "5", "--contacts", "5", "--opportunities", "5", "--scores", "5",
                 "--wide-fields", "0", "--cometd-hold-ms", "300", "--cometd-max-events", "2",
                 "--cometd-client-timeout", "5", "--cdc-objects", "Opportunity",
                 "--cdc-retention-hours", "1"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                port = int(re.search(r":(\d+)$", proc.stdout.readline().strip()).group(1))
                st = json.load(open(state_file))
                self.assertEqual(st["cometd_path"], "/cometd/62.0")

                def control(path):
                    h = {"X-Sfemu-Control-Token": "t"}
                    conn = http.client.HTTPSConnection("localhost", port, context=ssl_ctx())
                    conn.request("GET", "/__control/" + path, headers=h)
                    return json.loads(conn.getresponse().read())
                self.assertEqual(control("cometd")["settings"],
                                 {"hold_ms": 300, "client_timeout_seconds": 5.0,
                                  "max_events_per_connect": 2, "view_all_data": True})
                self.assertEqual((control("cdc")["enabled"], control("cdc")["retention_hours"]),
                                 (["Opportunity"], 1.0))
            finally:
                proc.terminate()
                proc.wait(10)
                proc.stdout.close()
                proc.stderr.close()
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
