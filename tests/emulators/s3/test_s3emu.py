#!/usr/bin/env python3
"""Tests of the S3 emulator, driven mostly by curl's own SigV4 signer
(curl --aws-sigv4 "aws:amz:us-east-1:s3" --user KEY:SECRET), the libcurl
code the C plugin uses.  One emulator subprocess; needs S3EMU_PKI=DIR from
make-test-pki.sh (run-tests.sh makes one).
"""
import datetime
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
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import sigv4     # noqa: E402

EMU = {}
AK, SK = "SLUICETESTACCESSKEY1", "sluice-test-secret-access-key"
TMP_AK, TMP_SK, TOKEN = "ASIATEMPKEY", "temp-secret", "session-token-123"
UNSIGNED = ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]


def setUpModule():
    pki = os.environ.get("S3EMU_PKI")
    if not pki:
        pki = EMU["tmp_pki"] = tempfile.mkdtemp(prefix="s3emu-pki-")
        subprocess.run(["sh", os.path.join(HERE, "..", "make-test-pki.sh"), pki], check=True,
                       stdout=subprocess.DEVNULL)
    EMU["work"] = tempfile.mkdtemp(prefix="s3emu-test-")
    state = os.path.join(EMU["work"], "state.json")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "s3emu.py"), "--pki", pki,
                             "--port", "0", "--state-file", state, "--control-token", "ctl",
                             "--credential", "%s:%s:%s" % (TMP_AK, TMP_SK, TOKEN),
                             "--bucket", "sluice-stage", "--bucket", "other-bucket"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    EMU["proc"] = proc
    line = proc.stdout.readline()
    m = re.match(r"^s3emu listening on https://127\.0\.0\.1:(\d+)$", line.strip())
    if not m:
        proc.kill()
        raise RuntimeError("s3emu did not start: %r %s" % (line, proc.stderr.read()))
    with open(state) as fh:
        EMU["state"] = json.load(fh)
    EMU["port"] = int(m.group(1))
    EMU["pki"] = pki


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
            sys.stderr.write("s3emu stderr:\n" + err)
    shutil.rmtree(EMU.get("work", ""), ignore_errors=True)
    if EMU.get("tmp_pki"):
        shutil.rmtree(EMU["tmp_pki"], ignore_errors=True)


def url(path, host="127.0.0.1"):
    return "https://%s:%d%s" % (host, EMU["port"], path)


def curl(*args, sigv4_spec="aws:amz:us-east-1:s3", user=(AK, SK), unsigned=True):
    """(status, headers text, body bytes) of one curl run."""
    hdr = os.path.join(EMU["work"], "h.txt")
    cmd = ["curl", "-sS", "--cacert", EMU["state"]["ca_file"], "-D", hdr, "-o", "-"]
    if sigv4_spec:
        cmd += ["--aws-sigv4", sigv4_spec, "--user", "%s:%s" % user]
    if unsigned:
        cmd += UNSIGNED
    p = subprocess.run(cmd + list(args), capture_output=True, timeout=30)
    with open(hdr, "rb") as fh:
        headers = fh.read().decode("latin-1")
    blocks = [b for b in headers.split("\r\n\r\n") if b.strip()]
    last = blocks[-1] if blocks else ""
    m = re.match(r"HTTP/\S+ (\d+)", last)
    return (int(m.group(1)) if m else 0), last, p.stdout


def ctl(method, path, doc=None):
    c = http.client.HTTPSConnection("127.0.0.1", EMU["port"], timeout=30, context=ssl.
                                    create_default_context(cafile=EMU["state"]["ca_file"]))
    try:
        c.request(method, "/__control/" + path, body=json.dumps(doc) if doc is not None else None,
                  headers={"X-S3emu-Control-Token": "ctl"})
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


def xml_field(body, tag):
    m = re.search(r"<%s>(.*?)</%s>" % (tag, tag), body.decode(), re.S)
    return m.group(1) if m else None


class Base(unittest.TestCase):
    def setUp(self):
        self.assertEqual(ctl("POST", "reset")[0], 200)
        self.file = os.path.join(EMU["work"], "up.bin")
        with open(self.file, "wb") as fh:
            fh.write(b"hello, s3\n")

    def assertS3Error(self, res, status, code):
        self.assertEqual(res[0], status, res)
        self.assertEqual(xml_field(res[2], "Code"), code, res[2])
        self.assertTrue(xml_field(res[2], "RequestId"))
        self.assertIn("HostId", res[2].decode())


class ObjectTest(Base):
    def test_put_get_head_delete_path_style(self):
        st, h, _ = curl("-T", self.file, url("/sluice-stage/run1/a%20b.txt"))
        self.assertEqual(st, 200)
        etag = re.search(r'(?i)etag: ("[0-9a-f]{32}")', h).group(1)
        st, h, body = curl(url("/sluice-stage/run1/a%20b.txt"))
        self.assertEqual((st, body), (200, b"hello, s3\n"))
        st, h, body = curl("-I", url("/sluice-stage/run1/a%20b.txt"))
        self.assertEqual(st, 200)
        self.assertIn("Content-Length: 10", h)
        self.assertIn(etag, h)
        st, h, body = curl("-H", "Range: bytes=0-4", url("/sluice-stage/run1/a%20b.txt"))
        self.assertEqual((st, body), (206, b"hello"))
        self.assertEqual(curl("-X", "DELETE", url("/sluice-stage/run1/a%20b.txt"))[0], 204)
        self.assertS3Error(curl(url("/sluice-stage/run1/a%20b.txt")), 404, "NoSuchKey")
        self.assertEqual(curl("-I", url("/sluice-stage/run1/a%20b.txt"))[0], 404)
        self.assertS3Error(curl(url("/no-such-bucket/k")), 404, "NoSuchBucket")
        # what the plugin sees in the store, through the control API
        curl("-T", self.file, url("/sluice-stage/x.gz"))
        st, out = ctl("GET", "objects/sluice-stage/x.gz")
        self.assertEqual((st, out["size"]), (200, 10))

    def test_virtual_host_style(self):
        # bucket.localhost resolves to 127.0.0.1 in curl and the emulator's
        # certificate names it: a real virtual-host URL
        st, _, _ = curl("-T", self.file, url("/vh/k1.txt", host="sluice-stage.localhost"))
        self.assertEqual(st, 200)
        st, _, body = curl(url("/vh/k1.txt", host="sluice-stage.s3.localhost"))
        self.assertEqual((st, body), (200, b"hello, s3\n"))
        # or a Host header on a path-less URL to 127.0.0.1 (curl signs that Host)
        st, _, body = curl("-H", "Host: sluice-stage.localhost:%d" % EMU["port"],
                           url("/vh/k1.txt"))
        self.assertEqual((st, body), (200, b"hello, s3\n"))
        st, _, body = curl(url("/sluice-stage/vh/k1.txt"))
        self.assertEqual(st, 200)
        log = ctl("GET", "requests")[1]["requests"]
        self.assertEqual([e["style"] for e in log], ["virtual", "virtual", "virtual", "path"])
        self.assertEqual({e["path"] for e in log}, {"/sluice-stage/vh/k1.txt"})

    def test_list_v2_prefix_and_continuation(self):
        for k in ("run1/a.csv.gz", "run1/b.csv.gz", "run1/c.csv.gz", "run2/a.csv.gz"):
            self.assertEqual(curl("-T", self.file, url("/sluice-stage/" + k))[0], 200)
        # curl 7.88 signs the query string as written: give it sorted and
        # AWS-encoded ('/' as %2F), as the plugin must
        st, _, body = curl(url("/sluice-stage?list-type=2&max-keys=2&prefix=run1%2F"))
        self.assertEqual(st, 200, body)
        keys = re.findall(r"<Key>(.*?)</Key>", body.decode())
        self.assertEqual(keys, ["run1/a.csv.gz", "run1/b.csv.gz"])
        self.assertEqual(xml_field(body, "IsTruncated"), "true")
        self.assertEqual(xml_field(body, "KeyCount"), "2")
        token = xml_field(body, "NextContinuationToken")
        st, _, body = curl(url("/sluice-stage?continuation-token=%s&list-type=2&max-keys=2&"
                               "prefix=run1%%2F" % sigv4.uri_encode(token)))
        self.assertEqual(st, 200, body)
        self.assertEqual(re.findall(r"<Key>(.*?)</Key>", body.decode()), ["run1/c.csv.gz"])
        self.assertEqual(xml_field(body, "IsTruncated"), "false")
        st, _, body = curl(url("/sluice-stage?delimiter=%2F&list-type=2"))
        self.assertEqual(re.findall(r"<Prefix>(.*?)</Prefix>", body.decode()),
                         ["", "run1/", "run2/"])
        # an unsorted or unencoded query is signed differently by curl 7.88: refused
        self.assertS3Error(curl(url("/sluice-stage?prefix=run1/&list-type=2")), 403,
                           "SignatureDoesNotMatch")


class AuthTest(Base):
    def test_wrong_secret_region_service(self):
        res = curl(url("/sluice-stage/k"), user=(AK, "wrong"))
        self.assertS3Error(res, 403, "SignatureDoesNotMatch")
        self.assertEqual(xml_field(res[2], "AWSAccessKeyId"), AK)
        self.assertIn("AWS4-HMAC-SHA256\n", xml_field(res[2], "StringToSign"))
        self.assertIn("x-amz-content-sha256:UNSIGNED-PAYLOAD",
                      xml_field(res[2], "CanonicalRequest"))
        self.assertTrue(xml_field(res[2], "SignatureProvided"))
        res = curl(url("/sluice-stage/k"), sigv4_spec="aws:amz:eu-west-1:s3")
        self.assertS3Error(res, 400, "AuthorizationHeaderMalformed")
        self.assertEqual(xml_field(res[2], "Region"), "us-east-1")
        self.assertIn("the region 'eu-west-1' is wrong; expecting 'us-east-1'", res[2].decode())
        self.assertS3Error(curl(url("/sluice-stage/k"), sigv4_spec="aws:amz:us-east-1:ec2"),
                           403, "SignatureDoesNotMatch")
        ctl("POST", "settings", {"wrong_region_error": "signature"})
        self.assertS3Error(curl(url("/sluice-stage/k"), sigv4_spec="aws:amz:eu-west-1:s3"),
                           403, "SignatureDoesNotMatch")
        self.assertS3Error(curl(url("/sluice-stage/k"), user=("NOSUCHKEY", SK)), 403,
                           "InvalidAccessKeyId")
        self.assertS3Error(curl(url("/sluice-stage/k"), sigv4_spec=None), 403, "AccessDenied")

    def test_payload_hash(self):
        # curl 7.88 sends no x-amz-content-sha256 by itself: S3 wants one
        res = curl("-T", self.file, url("/sluice-stage/k"), unsigned=False)
        self.assertS3Error(res, 400, "InvalidRequest")
        self.assertIn("x-amz-content-sha256", xml_field(res[2], "Message"))
        # a real hash is checked against the body (signed with the Python signer)
        body = b"payload"
        for sha, want in ((sigv4.EMPTY_SHA256, "XAmzContentSHA256Mismatch"),
                          (__import__("hashlib").sha256(body).hexdigest(), None)):
            st, raw = raw_request("PUT", "/sluice-stage/k2", body, payload_hash=sha)
            if want:
                self.assertEqual((st, xml_field(raw, "Code")), (400, want))
            else:
                self.assertEqual(st, 200, raw)
        st, raw = raw_request("GET", "/sluice-stage/k2", b"", payload_hash="bogus")
        self.assertEqual((st, xml_field(raw, "Code")), (400, "InvalidArgument"))

    def test_session_token(self):
        curl("-T", self.file, url("/sluice-stage/k"))
        ok = curl("-H", "x-amz-security-token: " + TOKEN, url("/sluice-stage/k"),
                  user=(TMP_AK, TMP_SK))
        self.assertEqual(ok[0], 200)
        self.assertS3Error(curl(url("/sluice-stage/k"), user=(TMP_AK, TMP_SK)), 403,
                           "InvalidAccessKeyId")
        res = curl("-H", "x-amz-security-token: nope", url("/sluice-stage/k"),
                   user=(TMP_AK, TMP_SK))
        self.assertS3Error(res, 400, "InvalidToken")
        self.assertEqual(xml_field(res[2], "Token-0"), "nope")
        self.assertS3Error(curl("-H", "x-amz-security-token: " + TOKEN, url("/sluice-stage/k")),
                           400, "InvalidToken")
        ctl("POST", "settings", {"expired_tokens": [TOKEN]})
        self.assertS3Error(curl("-H", "x-amz-security-token: " + TOKEN, url("/sluice-stage/k"),
                                user=(TMP_AK, TMP_SK)), 400, "ExpiredToken")
        # an x-amz-* header that is not signed
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        h = sigv4.sign("GET", "/sluice-stage/k", "", {"Host": "127.0.0.1:%d" % EMU["port"]}, AK,
                       SK, "us-east-1", amz_date)
        h["x-amz-meta-extra"] = "1"
        st, raw = raw_request("GET", "/sluice-stage/k", b"", headers=h)
        self.assertEqual((st, xml_field(raw, "Code"), xml_field(raw, "HeadersNotSigned")),
                         (403, "AccessDenied", "x-amz-meta-extra"))

    def test_clock_skew(self):
        curl("-T", self.file, url("/sluice-stage/k"))
        ctl("POST", "settings", {"clock_offset_seconds": 901})
        res = curl(url("/sluice-stage/k"))
        self.assertS3Error(res, 403, "RequestTimeTooSkewed")
        self.assertEqual(xml_field(res[2], "MaxAllowedSkewMilliseconds"), "900000")
        ctl("POST", "settings", {"clock_offset_seconds": 840})
        self.assertEqual(curl(url("/sluice-stage/k"))[0], 200)
        ctl("POST", "settings", {"clock_offset_seconds": 0})
        old = (datetime.datetime.utcnow() - datetime.timedelta(minutes=16)).strftime(
            "%Y%m%dT%H%M%SZ")
        h = sigv4.sign("GET", "/sluice-stage/k", "", {"Host": "127.0.0.1:%d" % EMU["port"]}, AK,
                       SK, "us-east-1", old)
        st, raw = raw_request("GET", "/sluice-stage/k", b"", headers=h)
        self.assertEqual((st, xml_field(raw, "Code"), xml_field(raw, "RequestTime")),
                         (403, "RequestTimeTooSkewed", old))


class ControlTest(Base):
    def test_faults_and_log(self):
        curl("-T", self.file, url("/sluice-stage/k"))
        self.assertEqual(ctl("POST", "faults", {"kind": "status", "status": 503, "count": 1,
                                                "path_prefix": "/sluice-stage/"})[0], 200)
        self.assertS3Error(curl(url("/sluice-stage/k", host="sluice-stage.localhost")), 503,
                           "SlowDown")
        self.assertEqual(curl(url("/sluice-stage/k"))[0], 200)
        ctl("POST", "faults", {"kind": "status", "status": 500})
        self.assertS3Error(curl(url("/sluice-stage/k")), 500, "InternalError")
        ctl("POST", "faults", {"kind": "reset"})
        self.assertEqual(curl(url("/sluice-stage/k"))[0], 0)
        ctl("POST", "faults", {"kind": "reset_mid_body", "method": "GET"})
        self.assertEqual(curl(url("/sluice-stage/k"))[2], b"hello")
        ctl("POST", "faults", {"kind": "stall", "seconds": 0.6})
        t = time.monotonic()
        self.assertEqual(curl(url("/sluice-stage/k"))[0], 200)
        self.assertGreater(time.monotonic() - t, 0.5)
        ctl("POST", "faults", {"kind": "slow", "bytes_per_second": 20})
        t = time.monotonic()
        self.assertEqual(curl(url("/sluice-stage/k"))[2], b"hello, s3\n")
        self.assertGreater(time.monotonic() - t, 0.35)
        log = ctl("GET", "requests?method=GET")[1]["requests"]
        self.assertEqual([e["fault"] for e in log],
                         ["status", None, "status", "reset", "reset_mid_body", "stall", "slow"])
        put = ctl("GET", "requests?method=PUT")[1]["requests"][0]
        self.assertEqual(put["headers"]["x-amz-content-sha256"], "UNSIGNED-PAYLOAD")
        self.assertIn("Signature=<redacted>", put["headers"]["Authorization"])
        self.assertIn("Credential=%s/" % AK, put["headers"]["Authorization"])
        self.assertEqual(put["bytes_in"], 10)

    def test_control_token_and_state(self):
        c = http.client.HTTPSConnection("127.0.0.1", EMU["port"], timeout=10, context=ssl.
                                        create_default_context(cafile=EMU["state"]["ca_file"]))
        c.request("GET", "/__control/info", headers={"X-S3emu-Control-Token": "bad"})
        self.assertEqual(c.getresponse().status, 403)
        st = EMU["state"]
        self.assertEqual((st["access_key_id"], st["secret_access_key"], st["region"]),
                         (AK, SK, "us-east-1"))
        self.assertEqual(st["virtual_host_url"], "https://{bucket}.localhost:%d/{key}"
                         % EMU["port"])
        self.assertEqual(oct(os.stat(os.path.join(EMU["work"], "state.json")).st_mode & 0o777),
                         "0o600")
        st, out = ctl("POST", "objects/sluice-stage/seed/a.csv.gz", {"text": "A\n1\n",
                                                                      "gzip": True})
        self.assertEqual(st, 200)
        self.assertEqual(gzip.decompress(curl(url("/sluice-stage/seed/a.csv.gz"))[2]), b"A\n1\n")


def raw_request(method, path, body, payload_hash=sigv4.UNSIGNED, headers=None):
    if headers is None:
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        headers = sigv4.sign(method, path, "", {"Host": "127.0.0.1:%d" % EMU["port"]}, AK, SK,
                             "us-east-1", amz_date, payload_hash=payload_hash)
    c = http.client.HTTPSConnection("127.0.0.1", EMU["port"], timeout=10, context=ssl.
                                    create_default_context(cafile=EMU["state"]["ca_file"]))
    try:
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


if __name__ == "__main__":
    unittest.main(verbosity=1)
