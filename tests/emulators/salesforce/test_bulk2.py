#!/usr/bin/env python3
"""Tests of the emulator's Bulk API 2.0 (contract sections 4, 5, 8, 9.6-9.7),
of the wide object Sluice_Wide__c and of the compound BillingAddress.

Uses test_sfemu's harness: one emulator (25,000 Accounts), reset before
every test.  Standard library only.
"""
import csv
import gzip
import http.client
import io
import os
import sys
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import test_sfemu as base   # noqa: E402
from test_sfemu import EMU, V, ctl, ctl_ok, ssl_ctx   # noqa: E402

setUpModule = base.setUpModule
tearDownModule = base.tearDownModule

TERMINAL = ("JobComplete", "Failed", "Aborted")
QUERY_CREATE_KEYS = ["id", "operation", "object", "createdById", "createdDate", "systemModstamp",
                     "state", "concurrencyMode", "contentType", "apiVersion", "lineEnding",
                     "columnDelimiter"]
QUERY_INFO_KEYS = ["id", "operation", "object", "createdById", "createdDate", "systemModstamp",
                   "state", "concurrencyMode", "contentType", "apiVersion", "jobType",
                   "lineEnding", "columnDelimiter", "numberRecordsProcessed", "retries",
                   "totalProcessingTime", "isPkChunkingSupported"]
INGEST_CREATE_KEYS = ["id", "operation", "object", "createdById", "createdDate",
                      "systemModstamp", "state", "concurrencyMode", "contentType", "apiVersion",
                      "contentUrl", "lineEnding", "columnDelimiter"]
INGEST_INFO_KEYS = ["id", "operation", "object", "createdById", "createdDate", "systemModstamp",
                    "state", "externalIdFieldName", "concurrencyMode", "contentType",
                    "apiVersion", "jobType", "contentUrl", "lineEnding", "columnDelimiter",
                    "numberRecordsProcessed", "numberRecordsFailed", "retries",
                    "totalProcessingTime", "apiActiveProcessingTime", "apexProcessingTime"]
NOT_FOUND = [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]


def parse_csv(text, delim=","):
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))


class BulkTest(base.EmuTest):
    def setUp(self):
        super().setUp()
        # Deterministic pace for most tests: a job finishes at its 2nd poll.
        ctl_ok("POST", "bulk", {"complete_after_seconds": None, "complete_after_polls": 2})

    # -- query helpers ------------------------------------------------------------
    def create_query(self, soql_text, operation="query", **extra):
        body = {"operation": operation, "query": soql_text}
        body.update(extra)
        r = self.api("POST", "jobs/query", body)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def wait(self, kind, jid, polls=20):
        for _ in range(polls):
            r = self.api("GET", "jobs/%s/%s" % (kind, jid))
            self.assertEqual(r.status, 200, r)
            if r.json()["state"] in TERMINAL:
                return r.json()
        self.fail("job %s did not finish" % jid)

    def pages(self, jid, max_records=None, headers=None):
        """Every results page: [(Resp, rows incl. header)]."""
        out, locator = [], None
        while True:
            params = {}
            if locator:
                params["locator"] = locator
            if max_records:
                params["maxRecords"] = max_records
            path = "jobs/query/%s/results" % jid
            if params:
                path += "?" + urllib.parse.urlencode(params)
            r = self.api("GET", path, headers=headers)
            self.assertEqual(r.status, 200, r)
            out.append(r)
            locator = r.headers["sforce-locator"]
            if locator == "null":
                return out

    # -- ingest helpers -----------------------------------------------------------
    def create_ingest(self, obj, operation, ext=None, **extra):
        body = {"object": obj, "operation": operation, "contentType": "CSV"}
        if ext:
            body["externalIdFieldName"] = ext
        body.update(extra)
        r = self.api("POST", "jobs/ingest", body)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def put(self, job, data, ctype="text/csv", headers=None):
        h = {"Content-Type": ctype}
        h.update(headers or {})
        return self.api("PUT", "/" + job["contentUrl"], data, headers=h)

    def close(self, jid, state="UploadComplete"):
        r = self.api("PATCH", "jobs/ingest/" + jid, {"state": state})
        self.assertEqual(r.status, 200, r)
        return r.json()

    def ingest(self, obj, operation, data, ext=None, **extra):
        job = self.create_ingest(obj, operation, ext, **extra)
        r = self.put(job, data.encode() if isinstance(data, str) else data)
        self.assertEqual((r.status, r.raw), (201, b""), r)
        self.close(job["id"])
        return job["id"], self.wait("ingest", job["id"])

    def result(self, jid, kind):
        r = self.api("GET", "jobs/ingest/%s/%s" % (jid, kind))
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("text/csv"))
        return r.raw.decode()


# ---------------------------------------------------------------------------
class TestBulkQuery(BulkTest):
    def test_create_poll_and_states(self):
        ctl_ok("POST", "bulk", {"complete_after_polls": 3})
        r = self.api("POST", "jobs/query", {
            "operation": "query", "query": "SELECT Id, Name FROM Account WHERE Industry = "
            "'Banking'", "contentType": "CSV", "columnDelimiter": "COMMA", "lineEnding": "LF"})
        self.assertEqual(r.status, 200)                     # 200, not 201
        job = r.json()
        self.assertEqual(list(job), QUERY_CREATE_KEYS)
        self.assertEqual((job["state"], job["object"], job["operation"], job["concurrencyMode"],
                          job["contentType"]),
                         ("UploadComplete", "Account", "query", "Parallel", "CSV"))
        self.assertIn(b'"apiVersion":62.0', r.raw)           # a JSON number
        self.assertTrue(job["id"].startswith("750") and len(job["id"]) == 18)
        self.assertRegex(job["createdDate"], base.DT_RE)
        self.assertIn("sforce-limit-info", r.headers)
        early = self.api("GET", "jobs/query/%s/results" % job["id"])
        self.assertRestError(early, 400, "JOB_NOT_COMPLETE")
        self.assertIn("Current status: ", early.json()[0]["message"])
        states = []
        for _ in range(3):
            info = self.api("GET", "jobs/query/" + job["id"]).json()
            states.append(info["state"])
        self.assertEqual(states, ["InProgress", "InProgress", "JobComplete"])
        self.assertEqual(list(info), QUERY_INFO_KEYS)
        self.assertEqual((info["jobType"], info["retries"], info["isPkChunkingSupported"]),
                         ("V2Query", 0, True))
        banking = self.query("SELECT COUNT() FROM Account WHERE Industry = 'Banking'").json()
        self.assertEqual(info["numberRecordsProcessed"], banking["totalSize"])
        listed = self.api("GET", "jobs/query").json()
        self.assertEqual((listed["done"], [j["id"] for j in listed["records"]]),
                         (True, [job["id"]]))

    def test_pages_locators_counts_and_query_all(self):
        live = ctl_ok("GET", "info")["counts"]["Account"]
        job = self.create_query("SELECT Id, Name FROM Account", operation="queryAll")
        info = self.wait("query", job["id"])
        pages = self.pages(job["id"], max_records=7000)
        self.assertEqual(len(pages), -(-live // 7000))
        ids = []
        for p in pages:
            rows = parse_csv(p.raw.decode())
            self.assertEqual(rows[0], ["Id", "Name"])          # header on every page
            self.assertEqual(int(p.headers["sforce-numberofrecords"]), len(rows) - 1)
            ids.extend(r[0] for r in rows[1:])
        self.assertEqual(pages[-1].headers["sforce-locator"], "null")
        self.assertNotIn(pages[0].headers["sforce-locator"], ("", "null", "7000"))
        self.assertEqual(len(ids), live)
        self.assertEqual(len(set(ids)), live)
        self.assertEqual(info["numberRecordsProcessed"], live)
        self.assertEqual(len(self.rows("SELECT Id FROM Account", all_rows=True)), live)
        # a page can be fetched again while the job exists
        loc = pages[0].headers["sforce-locator"]
        again = [self.api("GET", "jobs/query/%s/results?locator=%s&maxRecords=7000"
                          % (job["id"], loc)) for _ in range(2)]
        self.assertEqual(again[0].raw, again[1].raw)
        self.assertEqual(again[0].raw, pages[1].raw)
        # query (not queryAll) leaves soft-deleted rows out
        q = self.create_query("SELECT Id, IsDeleted FROM Account")
        self.assertLess(self.wait("query", q["id"])["numberRecordsProcessed"], live)
        rows = [r for p in self.pages(q["id"], max_records=50000)
                for r in parse_csv(p.raw.decode())[1:]]
        self.assertEqual({r[1] for r in rows}, {"false"})
        # without maxRecords the page size is the server's (10,000 by default)
        first = self.api("GET", "jobs/query/%s/results" % q["id"])
        self.assertEqual(first.headers["sforce-numberofrecords"], "10000")

    def test_gzip_results(self):
        job = self.create_query("SELECT Id, Name, Description FROM Account")
        self.wait("query", job["id"])
        path = "/services/data/%s/jobs/query/%s/results?maxRecords=3000" % (V, job["id"])
        conn = http.client.HTTPSConnection("localhost", EMU["port"], context=ssl_ctx(), timeout=20)
        conn.request("GET", path, headers={"Authorization": "Bearer " + self.token,
                                           "Accept": "text/csv", "Accept-Encoding": "gzip"})
        r = conn.getresponse()
        raw = r.read()
        conn.close()
        self.assertEqual(r.getheader("Content-Encoding"), "gzip")
        self.assertEqual(r.getheader("Sforce-NumberOfRecords"), "3000")
        plain = self.api("GET", path).raw
        self.assertEqual(gzip.decompress(raw), plain)

    def test_csv_values_delimiter_and_line_ending(self):
        job = self.create_query(
            "SELECT Id, Name, Score__c, Amount__c, Active__c, Scored_At__c, Scored_On__c, "
            "Notes__c, Tags__c, Account__r.Name FROM Sluice_Score__c ORDER BY Name",
            columnDelimiter="PIPE", lineEnding="CRLF")
        self.assertEqual((job["columnDelimiter"], job["lineEnding"]), ("PIPE", "CRLF"))
        self.wait("query", job["id"])
        text = self.pages(job["id"], max_records=100000)[0].raw.decode()
        self.assertTrue(text.startswith('"Id"|"Name"|"Score__c"|"Amount__c"|"Active__c"|'
                                        '"Scored_At__c"|"Scored_On__c"|"Notes__c"|"Tags__c"|'
                                        '"Account__r.Name"\r\n'))
        self.assertTrue(text.endswith("\r\n"))
        rows = parse_csv(text, "|")[1:]
        rest_rows = {x["Id"]: x for x in self.rows(
            "SELECT Id, Score__c, Amount__c, Active__c, Scored_At__c, Scored_On__c, Notes__c, "
            "Account__r.Name FROM Sluice_Score__c")}
        self.assertEqual(len(rows), len(rest_rows))
        for row in rows:
            want = rest_rows[row[0]]
            self.assertIn(row[4], ("true", "false"))
            self.assertEqual(row[4] == "true", want["Active__c"])
            self.assertRegex(row[5], r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
            self.assertEqual(row[5][:-1], want["Scored_At__c"][:-5])
            self.assertEqual(row[6], want["Scored_On__c"] or "")
            self.assertEqual(row[7], want["Notes__c"] or "")
            self.assertEqual(row[9], (want["Account__r"] or {}).get("Name") or "")
            if want["Score__c"] is None:
                self.assertEqual(row[2], "")
            else:
                self.assertEqual(float(row[2]), want["Score__c"])
                self.assertNotIn("E", row[2])
        self.assertIn("|35000000.0|", text.replace('"', ""))   # plain decimal, no 3.5E7
        self.assertIn('"multi\nline, ""quoted"" text"', text)    # newline kept, quotes doubled
        self.assertRegex(text, r"\|\|")                         # a null: empty, unquoted

    def test_refusals(self):
        def refused(body, status, code, message=None):
            r = self.api("POST", "jobs/query", body)
            return self.assertRestError(r, status, code, message)
        refused({"operation": "query", "query": "SELECT Id, BillingAddress FROM Account"},
                400, "API_ERROR", "Selecting compound data not supported in Bulk Query")
        refused({"operation": "query", "query": "SELECT Id, Account.BillingAddress FROM Contact"},
                400, "API_ERROR", "Selecting compound data not supported in Bulk Query")
        refused({"operation": "query", "query": "SELECT COUNT() FROM Account"}, 400, "API_ERROR")
        refused({"operation": "query", "query": "SELECT Id FROM Account LIMIT 5 OFFSET 0"},
                400, "API_ERROR")
        refused({"operation": "query", "query": "SELECT Id FROM Account GROUP BY Id"},
                400, "MALFORMED_QUERY")
        refused({"operation": "query", "query": "SELECT Id FROM Nope__c"}, 400, "INVALID_TYPE")
        refused({"operation": "query", "query": "SELECT Nope FROM Account"}, 400, "INVALID_FIELD")
        refused({"operation": "select", "query": "SELECT Id FROM Account"}, 400, "INVALIDJOB")
        refused({"operation": "query"}, 400, "INVALIDJOB")
        refused({"operation": "query", "query": "SELECT Id FROM Account",
                 "columnDelimiter": "COLON"}, 400, "INVALIDJOB")
        refused({"operation": "query", "query": "SELECT Id FROM Account",
                 "lineEnding": "CR"}, 400, "INVALIDJOB")
        refused({"operation": "query", "query": "SELECT Id FROM Account",
                 "contentType": "JSON"}, 400, "INVALIDJOB")
        refused({"operation": "query", "query": "SELECT Id FROM Account", "object": "Account"},
                400, "JSON_PARSER_ERROR")
        r = self.api("POST", "jobs/query", b'{"operation":"query"}',
                     headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415)
        # child-to-parent paths and ORDER BY/LIMIT are fine
        self.create_query("SELECT Id, Account.Name FROM Contact ORDER BY LastName LIMIT 10")
        self.assertIn(self.api("GET", "jobs/query").json()["records"][0]["state"],
                      ("UploadComplete", "InProgress"))

    def test_abort_delete_and_not_found(self):
        job = self.create_query("SELECT Id FROM Account")
        r = self.api("PATCH", "jobs/query/" + job["id"], {"state": "Aborted"})
        self.assertEqual((r.status, r.json()["state"]), (200, "Aborted"))
        self.assertRestError(self.api("PATCH", "jobs/query/" + job["id"], {"state": "Aborted"}),
                             400, "INVALIDJOBSTATE")
        self.assertEqual(self.api("GET", "jobs/query/" + job["id"]).json()["state"], "Aborted")
        self.assertRestError(self.api("GET", "jobs/query/%s/results" % job["id"]), 400,
                             "JOB_NOT_COMPLETE")
        r = self.api("DELETE", "jobs/query/" + job["id"])
        self.assertEqual((r.status, r.raw), (204, b""))
        for path in ("jobs/query/" + job["id"], "jobs/query/%s/results" % job["id"],
                     "jobs/query/750000000000000AAA", "jobs/ingest/" + job["id"]):
            r = self.api("GET", path)
            self.assertEqual((r.status, r.json()), (404, NOT_FOUND), path)
        self.assertEqual(self.api("DELETE", "jobs/query/" + job["id"]).status, 404)
        done = self.create_query("SELECT Id FROM Account LIMIT 3")
        self.wait("query", done["id"])
        self.assertRestError(self.api("PATCH", "jobs/query/" + done["id"], {"state": "Aborted"}),
                             400, "INVALIDJOBSTATE", "Aborting already Completed Job not allowed")

    def test_failures_locators_purge_and_version(self):
        ctl_ok("POST", "bulk", {"fail_next_query_jobs": 1, "fail_message": "boom: retry later"})
        bad = self.create_query("SELECT Id FROM Account")
        info = self.wait("query", bad["id"])
        self.assertEqual((info["state"], info["errorMessage"]), ("Failed", "boom: retry later"))
        msg = self.assertRestError(self.api("GET", "jobs/query/%s/results" % bad["id"]), 400,
                                   "JOB_NOT_COMPLETE")
        self.assertTrue(msg.endswith("Current status: FAILED"), msg)
        good = self.create_query("SELECT Id FROM Account")
        self.assertEqual(self.wait("query", good["id"])["state"], "JobComplete")
        self.assertNotIn("errorMessage", self.api("GET", "jobs/query/" + good["id"]).json())
        first = self.api("GET", "jobs/query/%s/results?maxRecords=1000" % good["id"])
        loc = first.headers["sforce-locator"]
        ok = self.api("GET", "jobs/query/%s/results?maxRecords=1000&locator=%s" % (good["id"], loc))
        self.assertEqual(ok.status, 200)
        ctl_ok("POST", "bulk/jobs/%s/expire-locators" % good["id"])
        self.assertRestError(self.api("GET", "jobs/query/%s/results?locator=%s" % (good["id"], loc)),
                             400, "INVALID_QUERY_LOCATOR")
        self.assertRestError(self.api("GET", "jobs/query/%s/results?locator=bogus" % good["id"]),
                             400, "INVALID_QUERY_LOCATOR")
        self.assertRestError(self.api("GET", "jobs/query/%s/results?maxRecords=0" % good["id"]),
                             400, "INVALIDJOB")
        other = self.api("GET", "/services/data/v61.0/jobs/query/%s/results" % good["id"])
        self.assertEqual(other.status, 409)
        ctl_ok("POST", "bulk/jobs/%s/purge-results" % good["id"])
        r = self.api("GET", "jobs/query/%s/results" % good["id"])
        self.assertEqual((r.status, r.json()), (404, NOT_FOUND))
        # a control fault can fail one running job too
        slow = self.create_query("SELECT Id FROM Contact")
        ctl_ok("POST", "bulk/jobs/%s/fail" % slow["id"], {"error_message": "InternalServerError"})
        self.assertEqual(self.api("GET", "jobs/query/" + slow["id"]).json()["errorMessage"],
                         "InternalServerError")

    def test_default_pace(self):
        ctl_ok("POST", "reset")                     # undo BulkTest.setUp's pace
        self.token = base.cc_token()

        settings = ctl_ok("GET", "bulk")["settings"]
        self.assertEqual((settings["complete_after_seconds"], settings["complete_after_polls"],
                          settings["default_max_records"], settings["upload_limit_bytes"]),
                         (1.5, 3, 10000, 100 * 1024 * 1024))
        job = self.create_query("SELECT Id FROM Account LIMIT 5")
        states = [self.api("GET", "jobs/query/" + job["id"]).json()["state"] for _ in range(3)]
        self.assertEqual(states, ["InProgress", "InProgress", "JobComplete"])   # 3 quick polls
        slow = self.create_query("SELECT Id FROM Account LIMIT 5")
        self.assertEqual(self.api("GET", "jobs/query/" + slow["id"]).json()["state"],
                         "InProgress")
        base.time.sleep(1.6)                        # or 1.5 s, however few the polls
        self.assertEqual(self.api("GET", "jobs/query/" + slow["id"]).json()["state"],
                         "JobComplete")

    def test_pace_follows_the_emulator_clock(self):

        ctl_ok("POST", "bulk", {"complete_after_seconds": 120, "complete_after_polls": None})
        job = self.create_query("SELECT Id FROM Opportunity")
        for _ in range(5):
            self.assertEqual(self.api("GET", "jobs/query/" + job["id"]).json()["state"],
                             "InProgress")
        ctl_ok("POST", "clock", {"advance_seconds": 121})
        info = self.api("GET", "jobs/query/" + job["id"]).json()
        self.assertEqual(info["state"], "JobComplete")
        self.assertGreaterEqual(info["totalProcessingTime"], 120000)
        ctl_ok("POST", "bulk", {"complete_after_seconds": 0})
        quick = self.create_query("SELECT Id FROM Opportunity")
        self.assertEqual(self.api("GET", "jobs/query/" + quick["id"]).json()["state"],
                         "JobComplete")

    def test_limits_and_api_budget(self):
        def limits():
            return self.api("GET", "limits").json()
        before = limits()
        for key in ("DailyBulkV2QueryJobs", "DailyBulkV2QueryFileStorageMB", "DailyBulkApiBatches"):
            self.assertIn(key, before)
        self.assertEqual(before["DailyBulkV2QueryJobs"], {"Max": 10000, "Remaining": 10000})
        self.assertEqual(before["DailyBulkV2QueryFileStorageMB"]["Max"], 976562)
        used0 = before["DailyApiRequests"]["Max"] - before["DailyApiRequests"]["Remaining"]
        job = self.create_query("SELECT Id, Name, Description FROM Account")
        self.wait("query", job["id"])                               # 2 polls
        pages = self.pages(job["id"], max_records=20000)
        after = limits()
        used1 = after["DailyApiRequests"]["Max"] - after["DailyApiRequests"]["Remaining"]
        # create + 2 polls + the result pages + this /limits: one unit each
        self.assertEqual(len(pages), 2)
        self.assertEqual(used1 - used0, 1 + 2 + len(pages) + 1)
        self.assertEqual(after["DailyBulkV2QueryJobs"]["Remaining"], 9999)
        self.assertLess(after["DailyBulkV2QueryFileStorageMB"]["Remaining"], 976562)
        ctl_ok("POST", "bulk", {"limits": {"query_jobs": {"used": 10000}}})
        self.assertRestError(self.api("POST", "jobs/query", {"operation": "query",
                                                            "query": "SELECT Id FROM Account"}),
                             400, "LIMIT_EXCEEDED",
                             "Max bulk v2 query jobs (10000) per 24 hrs has been reached")
        ctl_ok("POST", "bulk", {"limits": {"query_jobs": {"used": 0},
                                           "storage_kb": {"used": 1000000000}}})
        self.assertRestError(self.api("POST", "jobs/query", {"operation": "query",
                                                            "query": "SELECT Id FROM Account"}),
                             400, "LIMIT_EXCEEDED", "Max bulk v2 query result size stored "
                             "(1000000000) kb per 24 hrs has been exceeded")
        ctl_ok("POST", "budget", {"used": 100000})
        r = self.api("POST", "jobs/query", {"operation": "query", "query": "SELECT Id FROM Account"})
        self.assertRestError(r, 403, "REQUEST_LIMIT_EXCEEDED")
        # a day later everything is back
        ctl_ok("POST", "clock", {"advance_seconds": 86400 + 120})
        self.token = base.cc_token()          # the old session timed out meanwhile
        self.assertEqual(limits()["DailyBulkV2QueryJobs"]["Remaining"], 10000)


# ---------------------------------------------------------------------------
class TestBulkIngest(BulkTest):
    def test_insert_lifecycle(self):
        ctl_ok("POST", "bulk", {"complete_after_seconds": 30, "complete_after_polls": None})
        r = self.api("POST", "jobs/ingest", {"object": "Sluice_Score__c", "operation": "insert",
                                             "contentType": "CSV", "columnDelimiter": "COMMA",
                                             "lineEnding": "LF"})
        self.assertEqual(r.status, 200)
        job = r.json()
        self.assertEqual(list(job), INGEST_CREATE_KEYS)
        self.assertEqual(job["state"], "Open")
        self.assertEqual(job["contentUrl"], "services/data/v62.0/jobs/ingest/%s/batches" % job["id"])
        acc = self.rows("SELECT Ext_Id__c FROM Account WHERE Ext_Id__c != null ORDER BY Id "
                        "LIMIT 1")[0]["Ext_Id__c"]
        data = ('Ext_Id__c,Score__c,Active__c,Scored_At__c,Scored_On__c,Notes__c,Account__r.Ext_Id__c\n'
                'BULK-1,12.5,true,2024-05-01T10:00:00.000Z,2024-05-01,"two\nlines, ""q""",%s\n'
                'BULK-2,,false,2024-05-02T10:00:00+02:00,,plain,\n' % acc)
        r = self.put(job, data.encode())
        self.assertEqual((r.status, r.raw), (201, b""))
        count = "SELECT COUNT() FROM Sluice_Score__c WHERE Ext_Id__c LIKE 'BULK-%'"
        self.assertEqual(self.query(count).json()["totalSize"], 0)
        closed = self.close(job["id"])
        self.assertEqual(closed["state"], "UploadComplete")
        ctl_ok("POST", "clock", {"advance_seconds": 10})
        self.assertEqual(self.query(count).json()["totalSize"], 0)   # not yet processed
        self.assertEqual(self.api("GET", "jobs/ingest/" + job["id"]).json()["state"], "InProgress")
        ctl_ok("POST", "clock", {"advance_seconds": 25})
        now = ctl_ok("GET", "clock")["now_ms"]
        rows = self.rows("SELECT Id, Ext_Id__c, Score__c, Active__c, Scored_At__c, Notes__c, "
                         "Account__r.Ext_Id__c, SystemModstamp FROM Sluice_Score__c WHERE "
                         "Ext_Id__c LIKE 'BULK-%' ORDER BY Ext_Id__c")
        self.assertEqual([x["Ext_Id__c"] for x in rows], ["BULK-1", "BULK-2"])
        self.assertEqual((rows[0]["Score__c"], rows[0]["Active__c"], rows[0]["Notes__c"]),
                         (12.5, True, 'two\nlines, "q"'))
        self.assertEqual(rows[0]["Scored_At__c"], "2024-05-01T10:00:00.000+0000")
        self.assertEqual(rows[1]["Scored_At__c"], "2024-05-02T08:00:00.000+0000")
        self.assertEqual(rows[0]["Account__r"]["Ext_Id__c"], acc)
        stamp = base.wire.parse_datetime_input(rows[0]["SystemModstamp"])
        self.assertLessEqual(abs(stamp - now), 2000)        # the emulator clock, not the seed
        info = self.api("GET", "jobs/ingest/" + job["id"]).json()
        self.assertEqual(list(info), [k for k in INGEST_INFO_KEYS if k != "externalIdFieldName"])
        self.assertEqual((info["state"], info["jobType"], info["numberRecordsProcessed"],
                          info["numberRecordsFailed"]), ("JobComplete", "V2Ingest", 2, 0))
        ok = self.result(job["id"], "successfulResults")
        lines = ok.split("\n")
        self.assertEqual(lines[0], '"sf__Id","sf__Created",' + data.split("\n")[0])
        got = parse_csv(ok)
        self.assertEqual(sorted((r[1], r[2]) for r in got[1:]),
                         [("true", "BULK-1"), ("true", "BULK-2")])
        self.assertEqual({r[0] for r in got[1:]}, {x["Id"] for x in rows})
        self.assertEqual(self.result(job["id"], "failedResults"),
                         '"sf__Id","sf__Error",' + data.split("\n")[0] + "\n")
        self.assertEqual(self.result(job["id"], "unprocessedrecords"), data.split("\n")[0] + "\n")
        self.assertEqual(self.result(job["id"], "unprocessedRecords/"), data.split("\n")[0] + "\n")
        # what the client sent is on record, byte for byte
        detail = ctl_ok("GET", "bulk/jobs/" + job["id"])
        self.assertEqual([u["csv"] for u in detail["uploads"]], [data])
        self.assertEqual([r["sf__Created"] for r in detail["rows"]], [True, True])
        self.assertEqual(self.api("GET", "limits").json()["DailyBulkApiBatches"]["Remaining"],
                         14999)

    def test_upsert_semantics_and_row_errors(self):
        live = self.rows("SELECT Id, Ext_Id__c FROM Sluice_Score__c ORDER BY Id LIMIT 1")[0]
        key = live["Ext_Id__c"]
        before = ctl_ok("GET", "records/" + live["Id"])
        data = ("Ext_Id__c,Score__c,Grade__c,Notes__c,Rank__c\n"
                + key + ",,B,#N/A,\n"               # empty: unchanged; #N/A: null
                "NEW-1,1.5,A,n,7\n"
                "DUP-1,1,A,x,1\n"
                "NEW-2,abc,A,x,1\n"
                "DUP-1,2,A,y,2\n"
                "NEW-3,1,Z,x,1\n"
                "NEW-4,1,A,x\n"
                ",1,A,x,1\n")
        jid, info = self.ingest("Sluice_Score__c", "upsert", data, ext="Ext_Id__c")
        self.assertEqual(list(info), INGEST_INFO_KEYS)
        self.assertEqual((info["state"], info["externalIdFieldName"],
                          info["numberRecordsProcessed"], info["numberRecordsFailed"]),
                         ("JobComplete", "Ext_Id__c", 8, 6))
        rid = before["Id"]
        after = ctl_ok("GET", "records/" + rid)
        self.assertEqual((after["Score__c"], after["Rank__c"], after["Grade__c"], after["Notes__c"]),
                         (before["Score__c"], before["Rank__c"], "B", None))
        self.assertNotEqual(after["SystemModstamp"], before["SystemModstamp"])
        ok = {r[2]: r for r in parse_csv(self.result(jid, "successfulResults"))[1:]}
        self.assertEqual(sorted(ok), sorted(["NEW-1", key]))
        self.assertEqual((ok[key][0], ok[key][1]), (rid, "false"))
        self.assertEqual(ok["NEW-1"][1], "true")
        text = self.result(jid, "failedResults")
        self.assertTrue(text.startswith('"sf__Id","sf__Error",Ext_Id__c,Score__c,'))
        failed = parse_csv(text)[1:]
        errors = sorted((r[2], r[1]) for r in failed)
        self.assertEqual(errors, [
            ("", "MISSING_ARGUMENT:Ext_Id__c not specified:--"),
            ("DUP-1", "DUPLICATE_VALUE:Duplicate external id specified: DUP-1:Ext_Id__c --"),
            ("DUP-1", "DUPLICATE_VALUE:Duplicate external id specified: DUP-1:Ext_Id__c --"),
            ("NEW-2", "INVALID_TYPE_ON_FIELD_IN_RECORD:Score: value not of required type: abc:"
                      "Score__c --"),
            ("NEW-3", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Grade: bad value for restricted "
                      "picklist field: Z:Grade__c --"),
            ("NEW-4", "INVALID_FIELD:Incorrect number of fields in the row: 4, the header has "
                      "5:--")])
        self.assertTrue(all(r[0] == "" for r in failed))        # failed inserts: no sf__Id
        # Bulk and REST share one store: what Bulk wrote, REST reads, and back
        self.assertEqual(self.rows("SELECT Rank__c FROM Sluice_Score__c WHERE Ext_Id__c = "
                                   "'NEW-1'")[0]["Rank__c"], 7.0)
        r = self.api("PATCH", "composite/sobjects/Sluice_Score__c/Ext_Id__c", {
            "records": [{"attributes": {"type": "Sluice_Score__c"}, "Ext_Id__c": "NEW-1",
                         "Rank__c": 9}]})
        self.assertTrue(r.json()[0]["success"])
        q = self.create_query("SELECT Ext_Id__c, Rank__c FROM Sluice_Score__c WHERE "
                              "Ext_Id__c = 'NEW-1'")
        self.wait("query", q["id"])
        self.assertEqual(parse_csv(self.pages(q["id"])[0].raw.decode())[1], ["NEW-1", "9.0"])

    def test_update_delete_and_hard_delete(self):
        accts = self.rows("SELECT Id, Name FROM Account ORDER BY Id LIMIT 3")
        gone = self.rows("SELECT Id FROM Account WHERE IsDeleted = true LIMIT 1", True)[0]["Id"]
        data = ("Id,Name,NumberOfEmployees\n"
                "%s,Renamed One,#N/A\n"
                "%s,#N/A,5\n"
                "%s,Ghost,1\n"
                "001xx,Bad,1\n"
                "%s,Missing,1\n"
                ",NoId,1\n" % (accts[0]["Id"], accts[1]["Id"], gone,
                                base.wire.make_id("001", 10 ** 9)))
        jid, info = self.ingest("Account", "update", data)
        self.assertEqual((info["numberRecordsProcessed"], info["numberRecordsFailed"]), (6, 5))
        rec = ctl_ok("GET", "records/" + accts[0]["Id"])
        self.assertEqual((rec["Name"], rec["NumberOfEmployees"]), ("Renamed One", None))
        errors = {r[3]: r[1] for r in parse_csv(self.result(jid, "failedResults"))[1:]}
        self.assertEqual(errors["#N/A"], "REQUIRED_FIELD_MISSING:Required fields are missing: "
                                         "[Name]:Name --")
        self.assertEqual(errors["Ghost"], "ENTITY_IS_DELETED:entity is deleted:--")
        self.assertEqual(errors["Bad"], "MALFORMED_ID:Account ID: id value of incorrect type: "
                                        "001xx:Id --")
        self.assertEqual(errors["Missing"], "INVALID_CROSS_REFERENCE_KEY:invalid cross reference "
                                            "id:--")
        self.assertEqual(errors["NoId"], "MISSING_ARGUMENT:Id not specified in an update call:--")
        failed_ids = {r[3]: r[0] for r in parse_csv(self.result(jid, "failedResults"))[1:]}
        self.assertEqual(failed_ids["#N/A"], accts[1]["Id"])
        # delete (recycle bin, queryAll still sees it) and hardDelete (gone)
        jid, info = self.ingest("Account", "delete", "Id\n%s\n%s\n" % (accts[0]["Id"], gone))
        self.assertEqual(info["numberRecordsFailed"], 1)
        self.assertTrue(ctl_ok("GET", "records/" + accts[0]["Id"])["IsDeleted"])
        jid, info = self.ingest("Account", "hardDelete", "Id\n%s\n" % accts[2]["Id"])
        self.assertEqual(info["numberRecordsFailed"], 0)
        self.assertEqual(ctl("GET", "records/" + accts[2]["Id"]).status, 404)
        self.assertEqual(parse_csv(self.result(jid, "successfulResults"))[1][:2],
                         [accts[2]["Id"], "false"])
        # a delete job takes an Id column only
        _jid, info = self.ingest("Account", "delete", "Id,Name\n%s,x\n" % accts[1]["Id"])
        self.assertEqual(info["state"], "Failed")

    def test_job_level_failures(self):
        data = "Ext_Id__c,Nope__c\nA,1\n"
        jid, info = self.ingest("Sluice_Score__c", "insert", data)
        self.assertEqual((info["state"], info["errorMessage"]),
                         ("Failed", "InvalidBatch : Field name not found : Nope__c"))
        self.assertEqual(self.result(jid, "unprocessedrecords"), data)
        jid, info = self.ingest("Sluice_Score__c", "insert", "Ext_Id__c,Score__c\r\nA,1\r\n")
        self.assertEqual((info["state"], info["errorMessage"]),
                         ("Failed", "ClientInputError : LineEnding is invalid on user data. "
                                    "Current LineEnding setting is LF"))
        jid, info = self.ingest("Sluice_Score__c", "insert", "Ext_Id__c,Score__c\nA,1\n",
                                lineEnding="CRLF")
        self.assertEqual(info["errorMessage"], "ClientInputError : LineEnding is invalid on user "
                                               "data. Current LineEnding setting is CRLF")
        self.assertEqual(self.query("SELECT COUNT() FROM Sluice_Score__c WHERE Ext_Id__c = 'A'")
                         .json()["totalSize"], 0)

    def test_create_and_upload_rules(self):
        def refused(body, code, message=None):
            return self.assertRestError(self.api("POST", "jobs/ingest", body), 400, code, message)
        refused({"object": "Nope__c", "operation": "insert"}, "INVALIDJOB")
        refused({"object": "Account", "operation": "merge"}, "INVALIDJOB")
        refused({"object": "Account", "operation": "upsert"}, "INVALIDJOB",
                "InvalidJob : External ID was blank for Account. An External ID must be "
                "specified for upsert.")
        refused({"object": "Account", "operation": "upsert", "externalIdFieldName": "Name"},
                "INVALIDJOB")
        refused({"object": "Account", "operation": "insert", "batchSize": 5}, "JSON_PARSER_ERROR")
        job = self.create_ingest("Contact", "insert")
        self.assertEqual(self.put(job, b"LastName\nX\n", ctype="application/json").status, 415)
        ctl_ok("POST", "bulk", {"upload_limit_bytes": 64})
        big = "LastName\n" + "".join("Name%03d\n" % i for i in range(20))
        self.assertRestError(self.put(job, big.encode()), 400, "INVALIDJOB")
        ctl_ok("POST", "bulk", {"upload_limit_bytes": 1 << 20})
        self.assertRestError(self.api("DELETE", "jobs/ingest/" + job["id"]), 400,
                             "INVALIDJOBSTATE")                     # Open: not deletable
        r = self.put(job, gzip.compress(b"LastName,Email\nBulkGz,gz@example.com\n"),
                     headers={"Content-Encoding": "gzip"})
        self.assertEqual(r.status, 201)
        msg = self.assertRestError(self.put(job, b"LastName\nAgain\n"), 400, "INVALIDJOBSTATE")
        self.assertIn("only do 'PUT' once", msg)
        self.close(job["id"])
        self.assertRestError(self.api("PATCH", "jobs/ingest/" + job["id"],
                                      {"state": "UploadComplete"}), 400, "INVALIDJOBSTATE")
        self.assertEqual(self.wait("ingest", job["id"])["numberRecordsProcessed"], 1)
        uploads = ctl_ok("GET", "bulk/jobs/" + job["id"])["uploads"]
        self.assertEqual([(u["accepted"], u["bytes"] > 0) for u in uploads],
                         [(False, True), (False, True), (True, True), (False, True)])
        self.assertEqual(uploads[2]["csv"], "LastName,Email\nBulkGz,gz@example.com\n")
        r = self.api("DELETE", "jobs/ingest/" + job["id"])
        self.assertEqual(r.status, 204)
        self.assertEqual(self.api("GET", "jobs/ingest/" + job["id"]).json(), NOT_FOUND)

    def test_abort_and_results_before_the_end(self):
        job = self.create_ingest("Contact", "insert")
        self.put(job, b"LastName\nAborted\n")
        self.assertRestError(self.api("GET", "jobs/ingest/%s/successfulResults" % job["id"]),
                             400, "INVALIDJOBSTATE")
        self.assertEqual(self.close(job["id"], "Aborted")["state"], "Aborted")
        self.assertEqual(self.result(job["id"], "unprocessedrecords"), "LastName\nAborted\n")
        self.assertEqual(self.result(job["id"], "successfulResults"), '"sf__Id","sf__Created"\n')
        for _ in range(4):
            self.assertEqual(self.api("GET", "jobs/ingest/" + job["id"]).json()["state"],
                             "Aborted")
        self.assertEqual(self.query("SELECT COUNT() FROM Contact WHERE LastName = 'Aborted'")
                         .json()["totalSize"], 0)
        listed = self.api("GET", "jobs/ingest").json()["records"]
        self.assertEqual([j["id"] for j in listed], [job["id"]])

    def test_unable_to_lock_row_fault_and_delimiters(self):
        ctl_ok("POST", "bulk/lock-rows", {"keys": ["SC-000002"]})
        data = ('Ext_Id__c;Notes__c\r\n'
                'SC-000002;"semi; colon"\r\n'
                'SC-000003;"line\nbreak"\r\n')
        jid, info = self.ingest("Sluice_Score__c", "upsert", data, ext="Ext_Id__c",
                                columnDelimiter="SEMICOLON", lineEnding="CRLF")
        self.assertEqual(info["numberRecordsFailed"], 1)
        failed = self.result(jid, "failedResults")
        self.assertTrue(failed.startswith('"sf__Id";"sf__Error";Ext_Id__c;Notes__c\r\n'), failed)
        row = parse_csv(failed, ";")[1]
        self.assertEqual(row[1:3], ["UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this "
                                    "record:--", "SC-000002"])
        self.assertEqual(ctl_ok("GET", "bulk/lock-rows")["lock_rows"], {})   # once
        ok = parse_csv(self.result(jid, "successfulResults"), ";")
        self.assertEqual(ok[1][2:], ["SC-000003", "line\nbreak"])
        jid, info = self.ingest("Sluice_Score__c", "upsert", data, ext="Ext_Id__c",
                                columnDelimiter="SEMICOLON", lineEnding="CRLF")
        self.assertEqual(info["numberRecordsFailed"], 0)
        self.assertEqual(self.rows("SELECT Notes__c FROM Sluice_Score__c WHERE Ext_Id__c = "
                                   "'SC-000002'")[0]["Notes__c"], "semi; colon")


# ---------------------------------------------------------------------------
class TestWideAndCompound(base.EmuTest):
    def test_wide_object_needs_split_selects(self):
        r = self.api("GET", "sobjects/Sluice_Wide__c/describe")
        fields = r.json()["fields"]
        measures = [f for f in fields if f["name"].startswith("Measurement_Value_")]
        self.assertEqual(len(measures), 700)
        self.assertEqual(measures[0]["name"], "Measurement_Value_0001__c")
        self.assertEqual({f["type"] for f in measures},
                         {"string", "double", "currency", "boolean", "date", "datetime",
                          "picklist"})
        cur = next(f for f in measures if f["type"] == "currency")
        self.assertEqual((cur["precision"], cur["scale"]), (16, 2))
        for name in ("Id", "Name", "CreatedDate", "LastModifiedDate", "SystemModstamp",
                     "IsDeleted"):
            self.assertIn(name, [f["name"] for f in fields])
        names = [f["name"] for f in fields]
        q = "SELECT %s FROM Sluice_Wide__c" % ", ".join(names)
        path = "/services/data/%s/query?q=%s" % (V, urllib.parse.quote_plus(q))
        self.assertGreater(len(path), 16384)
        r = self.api("GET", path)
        self.assertEqual(r.status, 414)
        self.assertTrue(r.headers["content-type"].startswith("text/plain"))
        self.assertLess(len(r.raw), 100)
        self.assertNotIn(b"<", r.raw)
        # split the SELECT list; each chunk carries Id; the halves join on Id
        half = len(names) // 2
        chunks = [["Id"] + names[1:half], ["Id"] + names[half:]]
        merged = {}
        for chunk in chunks:
            rows = self.rows("SELECT %s FROM Sluice_Wide__c" % ", ".join(chunk))
            self.assertEqual(len(rows), len([x for x in self.rows(
                "SELECT Id FROM Sluice_Wide__c")]))
            for x in rows:
                merged.setdefault(x["Id"], {}).update(x)
        live = len(self.rows("SELECT Id FROM Sluice_Wide__c"))
        self.assertEqual(len(merged), live)
        self.assertEqual(len(self.rows("SELECT Id FROM Sluice_Wide__c", all_rows=True)),
                         ctl_ok("GET", "info")["counts"]["Sluice_Wide__c"])

        one = next(iter(merged.values()))
        self.assertEqual(len([k for k in one if k.startswith("Measurement_Value_")]), 700)
        self.assertIsInstance(one["Measurement_Value_0004__c"], bool)

    def test_request_line_over_64k_gets_a_plain_414(self):
        conn = http.client.HTTPSConnection("localhost", EMU["port"], context=ssl_ctx(), timeout=20)
        conn.request("GET", "/services/data/%s/query?q=%s" % (V, "x" * 70000))
        r = conn.getresponse()
        raw = r.read()
        conn.close()
        self.assertEqual(r.status, 414)
        self.assertEqual(r.getheader("Content-Type"), "text/plain")
        self.assertNotIn(b"<", raw)

    def test_compound_billing_address(self):
        fields = {f["name"]: f for f in
                  self.api("GET", "sobjects/Account/describe").json()["fields"]}
        self.assertEqual((fields["BillingAddress"]["type"], fields["BillingAddress"]["soapType"],
                          fields["BillingAddress"]["compoundFieldName"]),
                         ("address", "urn:address", None))
        for comp in ("BillingStreet", "BillingCity", "BillingState", "BillingPostalCode",
                     "BillingCountry", "BillingLatitude", "BillingLongitude"):
            self.assertEqual(fields[comp]["compoundFieldName"], "BillingAddress", comp)
        self.assertEqual((fields["BillingLatitude"]["type"], fields["BillingCity"]["type"]),
                         ("double", "string"))
        rows = self.rows("SELECT Id, BillingAddress, BillingStreet, BillingCity, BillingState, "
                         "BillingPostalCode, BillingCountry, BillingLatitude, BillingLongitude "
                         "FROM Account WHERE BillingCity != null LIMIT 20")
        for x in rows:
            addr = x["BillingAddress"]
            self.assertEqual((addr["street"], addr["city"], addr["state"], addr["postalCode"],
                              addr["country"], addr["latitude"], addr["longitude"]),
                             (x["BillingStreet"], x["BillingCity"], x["BillingState"],
                              x["BillingPostalCode"], x["BillingCountry"], x["BillingLatitude"],
                              x["BillingLongitude"]))
        r = self.api("POST", "jobs/query", {"operation": "queryAll",
                                            "query": "SELECT Id, BillingAddress FROM Account"})
        self.assertRestError(r, 400, "API_ERROR",
                             "Selecting compound data not supported in Bulk Query")
        job = self.api("POST", "jobs/query", {
            "operation": "query", "query": "SELECT Id, BillingCity, BillingLatitude FROM Account"})
        self.assertEqual(job.status, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
