#!/usr/bin/env python3
"""Tests of stages and COPY INTO (sfkemu.py --s3): files are uploaded with
curl's SigV4 to the in-process S3 emulator, then loaded with COPY through
the control API's SQL endpoint.  Needs SFKEMU_PKI=DIR (make-test-pki.sh).
Run by tests/emulators/s3/run-tests.sh and, through load_tests, by
test_sfkemu.py.
"""
import gzip
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

EMU = {}
FF = ("FILE_FORMAT = (TYPE = CSV FIELD_OPTIONALLY_ENCLOSED_BY = '\"' SKIP_HEADER = 1 "
      "COMPRESSION = GZIP NULL_IF = ('\\\\N') EMPTY_FIELD_AS_NULL = FALSE)")
COLS = ["file", "status", "rows_parsed", "rows_loaded", "error_limit", "errors_seen",
        "first_error", "first_error_line", "first_error_character", "first_error_column_name"]


def setUpModule():
    pki = os.environ.get("SFKEMU_PKI")
    if not pki:
        pki = EMU["tmp_pki"] = tempfile.mkdtemp(prefix="sfkemu-pki-")
        subprocess.run(["sh", os.path.join(HERE, "..", "make-test-pki.sh"), pki], check=True,
                       stdout=subprocess.DEVNULL)
    EMU["work"] = tempfile.mkdtemp(prefix="sfkemu-stage-")
    state = os.path.join(EMU["work"], "state.json")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "sfkemu.py"), "--pki", pki, "--port", "0",
         "--state-file", state, "--control-token", "stage-ctl", "--database", "RAW",
         "--schema", "SF", "--s3", "--stage", "RAW.SF.SFSYNC_STAGE=s3://sluice-stage/sfsync/",
         "--s3-credential", "ASIATMP:tmp-secret:tok-1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    EMU["proc"] = proc
    line = proc.stdout.readline()
    if not line.startswith("sfkemu listening on"):
        proc.kill()
        raise RuntimeError("sfkemu did not start: %r %s" % (line, proc.stderr.read()))
    with open(state) as fh:
        EMU["state"] = json.load(fh)


def tearDownModule():
    proc = EMU.get("proc")
    if proc:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        if "Traceback" in err:
            sys.stderr.write("sfkemu stderr:\n" + err)
    shutil.rmtree(EMU.get("work", ""), ignore_errors=True)
    if EMU.get("tmp_pki"):
        shutil.rmtree(EMU["tmp_pki"], ignore_errors=True)


def sql(text):
    st = EMU["state"]
    c = http.client.HTTPSConnection("127.0.0.1", st["port"], timeout=30,
                                    context=ssl.create_default_context(cafile=st["ca_file"]))
    try:
        c.request("POST", "/__control/sql", body=json.dumps({"sql": text}),
                  headers={"X-Sfkemu-Control-Token": "stage-ctl"})
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


def put(key, text, gz=True, user=None):
    """Upload with curl's SigV4 (what the C plugin does), path style."""
    s3 = EMU["state"]["s3"]
    path = os.path.join(EMU["work"], "up")
    with open(path, "wb") as fh:
        fh.write(gzip.compress(text.encode()) if gz else text.encode())
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                        s3["ca_file"], "--aws-sigv4", "aws:amz:%s:s3" % s3["region"], "--user",
                        user or "%s:%s" % (s3["access_key_id"], s3["secret_access_key"]),
                        "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T", path,
                        "%s/sluice-stage/%s" % (s3["url"], key)],
                       capture_output=True, text=True, timeout=30)
    assert p.stdout == "200", (p.stdout, p.stderr)


def keys():
    s3 = EMU["state"]["s3"]
    c = http.client.HTTPSConnection("127.0.0.1", s3["port"], timeout=30,
                                    context=ssl.create_default_context(cafile=s3["ca_file"]))
    try:
        c.request("GET", "/__control/objects/sluice-stage",
                  headers={"X-S3emu-Control-Token": s3["control_token"]})
        return [o["key"] for o in json.loads(c.getresponse().read())["objects"]]
    finally:
        c.close()


class StageTest(unittest.TestCase):
    def setUp(self):
        st = EMU["state"]
        c = http.client.HTTPSConnection("127.0.0.1", st["port"], timeout=30,
                                        context=ssl.create_default_context(cafile=st["ca_file"]))
        try:
            c.request("POST", "/__control/reset", headers={"X-Sfkemu-Control-Token": "stage-ctl"})
            self.assertEqual(c.getresponse().status, 200)
        finally:
            c.close()
        self.ok('CREATE TABLE "ACCOUNT__STG" ("ID" VARCHAR(18) NOT NULL, "NAME" VARCHAR, '
                '"AMT" NUMBER(38,9), "D" DATE)')

    def ok(self, text):
        status, out = sql(text)
        self.assertEqual(status, 200, out)
        return out

    def fail_with(self, text, code):
        status, out = sql(text)
        self.assertEqual(status, 422, out)
        self.assertTrue(out["error"].startswith(code + " "), out)
        return out["error"]

    def rows(self):
        return self.ok('SELECT * FROM "ACCOUNT__STG" ORDER BY "ID"')["rows"]

    def test_copy_results_and_load_metadata(self):
        put("sfsync/run42/account_0001.csv.gz",
            'ID,NAME,AMT,D\n001A,"Acme, Inc.",1.5,2024-05-01\n001B,\\N,,2024-05-02\n'
            .replace(",,", ',"",'))
        put("sfsync/run42/account_0002.csv.gz", 'ID,NAME,AMT,D\n001C,"say ""hi""",\\N,\\N\n')
        copy = ("COPY INTO RAW.SF.\"ACCOUNT__STG\" FROM @RAW.SF.SFSYNC_STAGE/run42/ FILES = "
                "('account_0001.csv.gz','account_0002.csv.gz') %s ON_ERROR = ABORT_STATEMENT "
                "PURGE = FALSE" % FF)
        st, out = sql(copy)
        self.assertEqual(st, 422, out)       # "" is not a number: nothing loaded
        self.assertIn("Numeric value '' is not recognized\n  File "
                      "'run42/account_0001.csv.gz', line 3, character 9\n  Row 2, column "
                      "\"ACCOUNT__STG\"[\"AMT\":3]\n  If you would like to continue loading", out["error"])
        self.assertEqual(self.rows(), [])
        put("sfsync/run42/account_0001.csv.gz",
            'ID,NAME,AMT,D\n001A,"Acme, Inc.",1.5,2024-05-01\n001B,\\N,\\N,2024-05-02\n')
        out = self.ok(copy)
        self.assertEqual(out["columns"], COLS)
        self.assertEqual(out["types"], ["text", "text", "fixed", "fixed", "fixed", "fixed",
                                        "text", "fixed", "fixed", "text"])
        self.assertEqual(out["rows"], [
            ["s3://sluice-stage/sfsync/run42/account_0001.csv.gz", "LOADED", "2", "2", "1", "0",
             None, None, None, None],
            ["s3://sluice-stage/sfsync/run42/account_0002.csv.gz", "LOADED", "1", "1", "1", "0",
             None, None, None, None]])
        self.assertEqual(self.rows(), [["001A", "Acme, Inc.", "1.500000000", "19844"],
                                       ["001B", None, None, "19845"],
                                       ["001C", 'say "hi"', None, None]])
        # already loaded (same name, same ETag): skipped
        self.assertEqual(self.ok(copy)["rows"], [["Copy executed with 0 files processed."]])
        self.assertEqual(self.ok("COPY INTO \"ACCOUNT__STG\" FROM @SFSYNC_STAGE/run42/ %s" % FF)
                         ["rows"], [["Copy executed with 0 files processed."]])
        # a changed file is new; FORCE loads the other one again
        put("sfsync/run42/account_0002.csv.gz", 'ID,NAME,AMT,D\n001D,x,2,\\N\n')
        out = self.ok("COPY INTO \"ACCOUNT__STG\" FROM @SFSYNC_STAGE/run42/ %s" % FF)
        self.assertEqual([r[0][-19:] for r in out["rows"]], ["account_0002.csv.gz"])
        out = self.ok("COPY INTO \"ACCOUNT__STG\" FROM @SFSYNC_STAGE/run42/ PATTERN = "
                      "'.*_0001[.]csv[.]gz' %s FORCE = TRUE" % FF)
        self.assertEqual([r[1] for r in out["rows"]], ["LOADED"])
        self.assertEqual(len(self.rows()), 6)
        # TRUNCATE forgets load metadata; a rolled back COPY leaves none
        self.ok('TRUNCATE TABLE "ACCOUNT__STG"')
        self.assertEqual(len(self.ok("COPY INTO \"ACCOUNT__STG\" FROM @SFSYNC_STAGE/run42/ %s"
                                     % FF)["rows"]), 2)
        self.ok('TRUNCATE TABLE "ACCOUNT__STG"')
        self.ok("BEGIN; COPY INTO \"ACCOUNT__STG\" FROM @SFSYNC_STAGE/run42/ %s; ROLLBACK" % FF)
        self.assertEqual(len(self.ok("COPY INTO \"ACCOUNT__STG\" FROM @SFSYNC_STAGE/run42/ %s"
                                     % FF)["rows"]), 2)
        # nothing matches
        self.assertEqual(self.ok("COPY INTO \"ACCOUNT__STG\" FROM @SFSYNC_STAGE/none/ %s" % FF)
                         ["rows"], [["Copy executed with 0 files processed."]])

    def test_on_error_continue_and_skip_file(self):
        put("sfsync/r/a.csv.gz", "ID,NAME,AMT,D\n1,a,x,2024-01-01\n2,b,2,2024-01-01\n"
            "3,c,3,2024-13-45\n")
        put("sfsync/r/b.csv.gz", "ID,NAME,AMT,D\n4,d,4\n")
        out = self.ok("COPY INTO \"ACCOUNT__STG\" FROM @SFSYNC_STAGE/r/ %s ON_ERROR = SKIP_FILE"
                      % FF)
        self.assertEqual(out["rows"], [
            ["s3://sluice-stage/sfsync/r/a.csv.gz", "LOAD_FAILED", "3", "0", "1", "2",
             "Numeric value 'x' is not recognized", "2", "5", '"ACCOUNT__STG"["AMT":3]'],
            ["s3://sluice-stage/sfsync/r/b.csv.gz", "LOAD_FAILED", "1", "0", "1", "1",
             "Number of columns in file (3) does not match that of the corresponding table "
             "(4), use file format option error_on_column_count_mismatch=false to ignore this "
             "error", "2", "1", '"ACCOUNT__STG"["D":4]']])
        out = self.ok("COPY INTO \"ACCOUNT__STG\" FROM @SFSYNC_STAGE/r/ %s ON_ERROR = CONTINUE"
                      % FF)
        self.assertEqual([r[1:6] for r in out["rows"]],
                         [["PARTIALLY_LOADED", "3", "1", "3", "2"],
                          ["LOAD_FAILED", "1", "0", "1", "1"]])
        self.assertEqual(self.rows(), [["2", "b", "2.000000000", "19723"]])
        # the partially loaded file is remembered, the failed one is not
        out = self.ok("COPY INTO \"ACCOUNT__STG\" FROM @SFSYNC_STAGE/r/ %s ON_ERROR = CONTINUE"
                      % FF)
        self.assertEqual([r[0][-8:] for r in out["rows"]], ["b.csv.gz"])

    def test_stage_ddl_credentials_purge(self):
        s3 = EMU["state"]["s3"]
        put("sfsync/p/a.csv.gz", "ID,NAME,AMT,D\n1,a,1,\\N\n")
        self.ok("CREATE STAGE S_KEYS URL = 's3://sluice-stage/sfsync/' CREDENTIALS = ("
                "AWS_KEY_ID = '%s' AWS_SECRET_KEY = '%s') FILE_FORMAT = (TYPE = CSV "
                "SKIP_HEADER = 1 NULL_IF = ('\\\\N'))" % (s3["access_key_id"],
                                                          s3["secret_access_key"]))
        self.fail_with("CREATE STAGE S_KEYS URL = 's3://sluice-stage/'", "002002")
        self.ok("CREATE OR REPLACE STAGE S_BAD URL = 's3://sluice-stage/sfsync/' CREDENTIALS = "
                "(AWS_KEY_ID = '%s' AWS_SECRET_KEY = 'wrong')" % s3["access_key_id"])
        self.ok("CREATE STAGE S_TOK URL = 's3://sluice-stage/sfsync/' CREDENTIALS = ("
                "AWS_KEY_ID = 'ASIATMP' AWS_SECRET_KEY = 'tmp-secret' AWS_TOKEN = 'nope')")
        self.ok("CREATE STAGE S_NOBUCKET URL = 's3://no-bucket/x/' STORAGE_INTEGRATION = I")
        err = self.fail_with("COPY INTO \"ACCOUNT__STG\" FROM @S_BAD/p/", "091003")
        self.assertIn("Failure using stage area. Cause: [The request signature we calculated",
                      err)
        self.assertIn("InvalidToken", self.fail_with("COPY INTO \"ACCOUNT__STG\" FROM @S_TOK/p/",
                                                     "091003"))
        self.assertIn("NoSuchBucket", self.fail_with(
            "COPY INTO \"ACCOUNT__STG\" FROM @S_NOBUCKET", "091003"))
        self.assertIn("Stage 'RAW.SF.NOPE' does not exist or not authorized.",
                      self.fail_with("COPY INTO \"ACCOUNT__STG\" FROM @NOPE/p/", "002003"))
        out = self.ok("COPY INTO \"ACCOUNT__STG\" FROM @S_KEYS/p/ PURGE = TRUE")  # stage format
        self.assertEqual(out["rows"][0][:2], ["s3://sluice-stage/sfsync/p/a.csv.gz", "LOADED"])
        self.assertNotIn("sfsync/p/a.csv.gz", keys())
        self.ok("DROP STAGE S_KEYS")
        self.fail_with("COPY INTO \"ACCOUNT__STG\" FROM @S_KEYS/p/", "002003")
        self.ok("DROP STAGE IF EXISTS S_KEYS")
        # a URL with credentials right in the COPY; plain CSV, AUTO compression
        put("direct/x.csv", "9,z,9.25,2024-02-29\n", gz=False)
        out = self.ok("COPY INTO \"ACCOUNT__STG\" FROM 's3://sluice-stage/direct/' CREDENTIALS = "
                      "(AWS_KEY_ID='ASIATMP' AWS_SECRET_KEY='tmp-secret' AWS_TOKEN='tok-1')")
        self.assertEqual(out["rows"][0][:4], ["s3://sluice-stage/direct/x.csv", "LOADED", "1",
                                              "1"])
        # internal stages are always empty
        self.ok("CREATE STAGE S_INTERNAL")
        self.assertEqual(self.ok("COPY INTO \"ACCOUNT__STG\" FROM @S_INTERNAL")["rows"],
                         [["Copy executed with 0 files processed."]])
        self.assertEqual(self.ok("COPY INTO \"ACCOUNT__STG\" FROM @~/x/")["rows"],
                         [["Copy executed with 0 files processed."]])

    def test_match_by_column_name_and_quoting(self):
        put("sfsync/m/a.csv.gz", 'd,id,Extra,NAME\n2024-01-02,7,zz,"multi\nline, with comma"\n')
        out = self.ok("COPY INTO \"ACCOUNT__STG\" FROM @SFSYNC_STAGE/m/ FILE_FORMAT = (TYPE = "
                      "CSV PARSE_HEADER = TRUE FIELD_OPTIONALLY_ENCLOSED_BY = '\"') "
                      "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE")
        self.assertEqual(out["rows"][0][1:4], ["LOADED", "1", "1"])
        self.assertEqual(self.rows(), [["7", "multi\nline, with comma", None, "19724"]])
        self.fail_with("COPY INTO \"ACCOUNT__STG\" FROM @SFSYNC_STAGE/m/ MATCH_BY_COLUMN_NAME = "
                       "CASE_INSENSITIVE", "001003")
        put("sfsync/n/a.csv.gz", 'ID,NAME,AMT,D\n\\N,a,1,\\N\n')
        err = self.fail_with("COPY INTO \"ACCOUNT__STG\" FROM @SFSYNC_STAGE/n/ %s" % FF, "100072")
        self.assertIn("NULL result in a non-nullable column\n  File 'n/a.csv.gz', line 2, "
                      "character 1\n  Row 1, column \"ACCOUNT__STG\"[\"ID\":1]", err)


if __name__ == "__main__":
    unittest.main(verbosity=1)
