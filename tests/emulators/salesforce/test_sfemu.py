#!/usr/bin/env python3
"""Tests of the Salesforce emulator: each behaviour the plugins' tests rely on.

Runs one emulator subprocess (started exactly as the README says) with
25,000 Accounts, and resets it to the seed before every test.  Needs the
PKI made by tests/emulators/make-test-pki.sh: SFEMU_PKI=DIR, or a temporary
one is made.  Standard library only.
"""
import base64
import gzip
import hashlib
import hmac
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
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True      # keep the source tree clean (make distcheck)

import data      # noqa: E402
import pki       # noqa: E402
import schema    # noqa: E402
import wire      # noqa: E402

ACCOUNTS = 25000
V = "v62.0"
DT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
CONTRACT_FIELD_KEYS = sorted("""aggregatable autoNumber byteLength calculated calculatedFormula
cascadeDelete caseSensitive compoundFieldName controllerName createable custom defaultValue
defaultValueFormula defaultedOnCreate dependentPicklist deprecatedAndHidden digits
displayLocationInDecimal encrypted externalId extraTypeInfo filterable filteredLookupInfo groupable
highScaleNumber htmlFormatted idLookup inlineHelpText label length mask maskType name nameField
namePointing nillable permissionable picklistValues precision queryByDistance referenceTargetField
referenceTo relationshipName relationshipOrder restrictedDelete restrictedPicklist scale soapType
sortable type unique updateable writeRequiresMasterRead""".split())

EMU = {}     # process, state, pki dir


def setUpModule():
    pki_dir = os.environ.get("SFEMU_PKI")
    if not pki_dir:
        pki_dir = tempfile.mkdtemp(prefix="sfemu-pki-")
        EMU["tmp_pki"] = pki_dir
        subprocess.run([os.path.join(HERE, "..", "make-test-pki.sh"), pki_dir], check=True)
    EMU["pki"] = pki_dir
    work = tempfile.mkdtemp(prefix="sfemu-test-")
    EMU["work"] = work
    state_file = os.path.join(work, "state.json")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "sfemu.py"), "--pki", pki_dir, "--port", "0",
         "--state-file", state_file, "--control-token", "test-control",
         "--accounts", str(ACCOUNTS), "--contacts", "500", "--opportunities", "300",
         "--scores", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    EMU["proc"] = proc
    line = proc.stdout.readline()
    m = re.match(r"^sfemu listening on https://127\.0\.0\.1:(\d+)$", line.strip())
    if not m:
        proc.kill()
        raise RuntimeError("emulator did not start: %r %s" % (line, proc.stderr.read()))
    EMU["startup_s"] = time.monotonic() - started
    with open(state_file) as fh:
        EMU["state"] = json.load(fh)
    EMU["port"] = int(m.group(1))
    assert EMU["state"]["port"] == EMU["port"]


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
            sys.stderr.write("emulator stderr:\n" + err)
    shutil.rmtree(EMU.get("work", ""), ignore_errors=True)
    if EMU.get("tmp_pki"):
        shutil.rmtree(EMU["tmp_pki"], ignore_errors=True)


class Resp:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.raw = raw

    def json(self):
        return json.loads(self.raw)

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


def ssl_ctx():
    ctx = ssl.create_default_context(cafile=os.path.join(EMU["pki"], "ca.crt"))
    return ctx


def request(method, path, body=None, headers=None, host="localhost", timeout=20, conn=None):
    """One HTTPS request; host 'localhost' is the instance/My Domain, '127.0.0.1' the login host."""
    own = conn is None
    if own:
        conn = http.client.HTTPSConnection(host, EMU["port"], context=ssl_ctx(), timeout=timeout)
    try:
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        if r.getheader("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        return Resp(r.status, r.getheaders(), raw)
    finally:
        if own:
            conn.close()


def ctl(method, path, doc=None, token="test-control"):
    r = request(method, "/__control/" + path, body=json.dumps(doc).encode() if doc is not None else None,
                headers={"X-Sfemu-Control-Token": token, "Content-Type": "application/json"})
    return r


def ctl_ok(method, path, doc=None):
    r = ctl(method, path, doc)
    if r.status != 200:
        raise AssertionError("control %s %s: %r" % (method, path, r))
    return r.json()


def form(**kw):
    return urllib.parse.urlencode(kw).encode()


def token_request(params, host="localhost", headers=None):
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    h.update(headers or {})
    return request("POST", "/services/oauth2/token", form(**params), h, host=host)


def cc_token():
    st = EMU["state"]
    r = token_request({"grant_type": "client_credentials", "client_id": st["client_id"],
                       "client_secret": st["client_secret"]})
    assert r.status == 200, r
    return r.json()["access_token"]


def make_jwt(claims, key_file=None, header=None):
    key_file = key_file or os.path.join(EMU["pki"], "client.key")
    with open(key_file) as fh:
        n, d = pki.rsa_private_from_pem(fh.read())
    h = pki.b64url(json.dumps(header or {"alg": "RS256"}).encode())
    c = pki.b64url(json.dumps(claims).encode())
    sig = pki.rsa_sign_sha256(n, d, (h + "." + c).encode())
    return h + "." + c + "." + pki.b64url(sig)


def good_claims(**over):
    st = EMU["state"]
    claims = {"iss": st["client_id"], "sub": st["username"], "aud": "https://login.salesforce.com",
              "exp": int(time.time()) + 180}
    claims.update(over)
    return claims


def jwt_request(assertion, host="127.0.0.1"):
    return token_request({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                          "assertion": assertion}, host=host)


class EmuTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        ctl_ok("POST", "reset")
        self.token = cc_token()

    def api(self, method, path, body=None, headers=None, token=None, **kw):
        h = {"Authorization": "Bearer " + (token or self.token)}
        h.update(headers or {})
        if not path.startswith("/"):
            path = "/services/data/%s/%s" % (V, path)
        return request(method, path, body, h, **kw)

    def query(self, soql_text, all_rows=False, headers=None):
        return self.api("GET", ("queryAll" if all_rows else "query") + "?q=" +
                        urllib.parse.quote_plus(soql_text), headers=headers)

    def rows(self, soql_text, all_rows=False):
        r = self.query(soql_text, all_rows)
        self.assertEqual(r.status, 200, r)
        out, body = [], r.json()
        out.extend(body["records"])
        while not body["done"]:
            r = self.api("GET", body["nextRecordsUrl"])
            self.assertEqual(r.status, 200, r)
            body = r.json()
            out.extend(body["records"])
        return out

    def assertRestError(self, r, status, code, message=None):
        self.assertEqual(r.status, status, r)
        body = r.json()
        self.assertIsInstance(body, list)
        self.assertEqual(body[0]["errorCode"], code, body)
        if message is not None:
            self.assertEqual(body[0]["message"], message)
        return body[0]["message"]

    def assertOAuthError(self, r, error, description):
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json(), {"error": error, "error_description": description})


# ---------------------------------------------------------------------------
class TestPkiAndWire(unittest.TestCase):
    def test_certificate_public_key_matches_openssl(self):
        cert = os.path.join(EMU["pki"], "client.crt")
        with open(cert) as fh:
            n, e = pki.load_rsa_public_key(fh.read())
        out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-modulus"],
                             capture_output=True, text=True, check=True).stdout
        self.assertEqual(int(out.strip().split("=", 1)[1], 16), n)
        self.assertEqual(e, 65537)

    def test_rsa_verify_against_openssl_signature(self):
        key = os.path.join(EMU["pki"], "client.key")
        with open(os.path.join(EMU["pki"], "client.crt")) as fh:
            n, e = pki.load_rsa_public_key(fh.read())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=b"payload",
                             capture_output=True, check=True).stdout
        self.assertTrue(pki.rsa_verify_sha256(n, e, b"payload", sig))
        self.assertFalse(pki.rsa_verify_sha256(n, e, b"payloaD", sig))
        bad = bytes([sig[0] ^ 1]) + sig[1:]
        self.assertFalse(pki.rsa_verify_sha256(n, e, b"payload", bad))
        with open(os.path.join(EMU["pki"], "wrong.crt")) as fh:
            wn, we = pki.load_rsa_public_key(fh.read())
        self.assertFalse(pki.rsa_verify_sha256(wn, we, b"payload", sig))
        # the pure-Python signer (used for JWTs here) equals OpenSSL's
        with open(key) as fh:
            kn, kd = pki.rsa_private_from_pem(fh.read())
        self.assertEqual(pki.rsa_sign_sha256(kn, kd, b"payload"), sig)

    def test_pki_files_and_idempotence(self):
        d = EMU["pki"]
        for name in ("ca.key", "server.key", "client.key", "client.p8", "client.pkcs1.key",
                     "wrong.key", "client.passphrase"):
            self.assertEqual(os.stat(os.path.join(d, name)).st_mode & 0o777, 0o600, name)
        with open(os.path.join(d, "client.p8")) as fh:
            self.assertIn("BEGIN ENCRYPTED PRIVATE KEY", fh.read())

        def digest():
            out = {}
            for f in sorted(os.listdir(d)):
                with open(os.path.join(d, f), "rb") as fh:
                    out[f] = hashlib.sha256(fh.read()).hexdigest()
            return out
        before = digest()
        subprocess.run([os.path.join(HERE, "..", "make-test-pki.sh"), d], check=True)
        self.assertEqual(digest(), before)
        san = subprocess.run(["openssl", "x509", "-in", os.path.join(d, "server.crt"), "-noout",
                              "-ext", "subjectAltName"], capture_output=True, text=True).stdout
        self.assertIn("DNS:localhost", san)
        self.assertIn("IP Address:127.0.0.1", san)

    def test_ids(self):
        # Ids quoted in the contract carry valid case-safe suffixes.
        for rid in ("001xx0000004GxDAAU", "003RO0000035WQgYAM", "0015f00002J9YaUAAV"):
            self.assertEqual(wire.canonical_id(rid), rid)
            self.assertEqual(wire.canonical_id(rid.lower()), rid)
            self.assertEqual(wire.canonical_id(rid[:15]), rid)
        self.assertIsNone(wire.canonical_id("001xx0000004GxDAAV"))
        self.assertIsNone(wire.canonical_id("001xx0000004GxD!A"))
        self.assertEqual(wire.make_id("001", 1)[:3], "001")
        self.assertLess(wire.make_id("001", 61), wire.make_id("001", 62))

    def test_java_doubles(self):
        cases = {360: "360.0", 0: "0.0", 3.5e7: "3.5E7", 1e-4: "1.0E-4", 12.0: "12.0",
                 9999999.0: "9999999.0", 1e7: "1.0E7", 0.001: "0.001", 123.456: "123.456",
                 -2.5e-5: "-2.5E-5"}
        for x, want in cases.items():
            self.assertEqual(wire.java_double(x), want)

    def test_seed_is_deterministic(self):
        def snapshot(seed):
            st = data.Store(schema.Schema(), data.Clock())
            data.seed(st, data.SeedConfig(seed=seed, accounts=300, contacts=50, opportunities=20,
                                          scores=20))
            return {n: [st.tables[n].recs[i] for i in st.tables[n].order] for n in st.tables}
        a, b, c = snapshot(7), snapshot(7), snapshot(8)
        self.assertEqual(a, b)
        self.assertNotEqual(a["Account"], c["Account"])


# ---------------------------------------------------------------------------
class TestOAuth(EmuTest):
    def test_jwt_good_assertion(self):
        r = jwt_request(make_jwt(good_claims()))
        self.assertEqual(r.status, 200, r)
        body = r.json()
        # exactly the documented JWT response: no expires_in, no issued_at/signature
        self.assertEqual(sorted(body), ["access_token", "id", "instance_url", "scope", "token_type"])
        self.assertEqual(body["instance_url"], "https://localhost:%d" % EMU["port"])
        self.assertEqual(body["token_type"], "Bearer")
        self.assertTrue(body["id"].endswith("/id/%s/%s" % (EMU["state"]["org_id"],
                                                            EMU["state"]["user_id"])))
        self.assertEqual(self.api("GET", "limits", token=body["access_token"]).status, 200)
        # also accepted on the My Domain host, with the aud still login.salesforce.com
        self.assertEqual(jwt_request(make_jwt(good_claims()), host="localhost").status, 200)

    def test_jwt_exp_as_string_is_accepted(self):
        r = jwt_request(make_jwt(good_claims(exp=str(int(time.time()) + 120))))
        self.assertEqual(r.status, 200, r)

    def test_jwt_wrong_key(self):
        r = jwt_request(make_jwt(good_claims(), key_file=os.path.join(EMU["pki"], "wrong.key")))
        self.assertOAuthError(r, "invalid_grant", "invalid assertion")

    def test_jwt_tampered_claims(self):
        good = make_jwt(good_claims())
        h, c, s = good.split(".")
        evil = pki.b64url(json.dumps(good_claims(sub="analyst@sluice.example")).encode())
        self.assertOAuthError(jwt_request(h + "." + evil + "." + s), "invalid_grant",
                              "invalid assertion")

    def test_jwt_expired(self):
        r = jwt_request(make_jwt(good_claims(exp=int(time.time()) - 5)))
        self.assertOAuthError(r, "invalid_grant", "expired authorization code")

    def test_jwt_exp_too_far(self):
        r = jwt_request(make_jwt(good_claims(exp=int(time.time()) + 3600)))
        self.assertOAuthError(r, "invalid_grant", "invalid assertion")

    def test_jwt_wrong_aud(self):
        for aud in ("https://test.salesforce.com", "https://127.0.0.1:%d" % EMU["port"],
                    "https://login.salesforce.com/"):
            r = jwt_request(make_jwt(good_claims(aud=aud)))
            self.assertOAuthError(r, "invalid_grant", "Audience validation failed")

    def test_jwt_alg_and_format(self):
        self.assertOAuthError(jwt_request(make_jwt(good_claims(), header={"alg": "RS512"})),
                              "invalid_grant", "invalid assertion")
        none = pki.b64url(b'{"alg":"none"}') + "." + pki.b64url(json.dumps(good_claims()).encode()) + "."
        self.assertOAuthError(jwt_request(none), "invalid_grant", "invalid assertion")
        self.assertOAuthError(jwt_request("not-a-jwt"), "invalid_grant", "invalid assertion")

    def test_jwt_unknown_issuer_and_users(self):
        self.assertOAuthError(jwt_request(make_jwt(good_claims(iss="3MVG9nope"))),
                              "invalid_client_id", "client identifier invalid")
        self.assertOAuthError(jwt_request(make_jwt(good_claims(sub="nobody@x.example"))),
                              "invalid_grant", "user hasn't approved this consumer")
        self.assertOAuthError(jwt_request(make_jwt(good_claims(sub="analyst@sluice.example"))),
                              "invalid_grant", "user hasn't approved this consumer")
        self.assertOAuthError(jwt_request(make_jwt(good_claims(sub="inactive@sluice.example"))),
                              "invalid_grant", "inactive user")

    def test_client_credentials(self):
        st = EMU["state"]
        r = token_request({"grant_type": "client_credentials", "client_id": st["client_id"],
                           "client_secret": st["client_secret"]})
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertNotIn("expires_in", body)
        self.assertNotIn("refresh_token", body)
        self.assertRegex(body["issued_at"], r"^\d{13}$")
        self.assertLess(abs(int(body["issued_at"]) - time.time() * 1000), 60000)
        want = base64.b64encode(hmac.new(st["client_secret"].encode(),
                                         (body["id"] + body["issued_at"]).encode(),
                                         hashlib.sha256).digest()).decode()
        self.assertEqual(body["signature"], want)
        # HTTP Basic works too
        basic = base64.b64encode(("%s:%s" % (st["client_id"], st["client_secret"])).encode()).decode()
        r = token_request({"grant_type": "client_credentials"},
                          headers={"Authorization": "Basic " + basic})
        self.assertEqual(r.status, 200, r)

    def test_client_credentials_errors(self):
        st = EMU["state"]
        ok = {"grant_type": "client_credentials", "client_id": st["client_id"],
              "client_secret": st["client_secret"]}
        self.assertOAuthError(token_request(ok, host="127.0.0.1"), "invalid_grant",
                              "request not supported on this domain")
        self.assertOAuthError(token_request(dict(ok, client_secret="nope")), "invalid_client",
                              "invalid client credentials")
        self.assertOAuthError(token_request(dict(ok, client_id="3MVG9nope")), "invalid_client_id",
                              "client identifier invalid")

    def test_refresh_token(self):
        st = EMU["state"]
        params = {"grant_type": "refresh_token", "client_id": st["client_id"],
                  "client_secret": st["client_secret"], "refresh_token": st["refresh_token"]}
        r = token_request(params, host="127.0.0.1")
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertNotIn("refresh_token", body)
        for key in ("access_token", "signature", "scope", "instance_url", "id", "token_type",
                    "issued_at"):
            self.assertIn(key, body)
        self.assertOAuthError(token_request(dict(params, refresh_token="5Aep861bogus")),
                              "invalid_grant", "expired access/refresh token")
        self.assertOAuthError(token_request(dict(params, client_secret="x")), "invalid_client",
                              "invalid client credentials")
        no_secret = {k: v for k, v in params.items() if k != "client_secret"}
        self.assertOAuthError(token_request(no_secret), "invalid_client", "invalid client credentials")
        ctl_ok("POST", "settings", {"refresh_requires_secret": False})
        self.assertEqual(token_request(no_secret).status, 200)

    def test_refresh_token_rotation(self):
        st = EMU["state"]
        ctl_ok("POST", "settings", {"rotate_refresh_tokens": True})
        params = {"grant_type": "refresh_token", "client_id": st["client_id"],
                  "client_secret": st["client_secret"], "refresh_token": st["refresh_token"]}
        r = token_request(params)
        self.assertEqual(r.status, 200, r)
        new = r.json()["refresh_token"]
        self.assertNotEqual(new, st["refresh_token"])
        self.assertOAuthError(token_request(params), "invalid_grant", "expired access/refresh token")
        self.assertEqual(token_request(dict(params, refresh_token=new)).status, 200)

    def test_grant_errors(self):
        self.assertOAuthError(token_request({"client_id": "x"}), "invalid_request",
                              "grant type is missing")
        self.assertOAuthError(token_request({"grant_type": "password"}), "unsupported_grant_type",
                              "grant type not supported")
        # JSON is not form-encoded: the grant is not seen at all
        r = request("POST", "/services/oauth2/token", {"grant_type": "client_credentials"})
        self.assertOAuthError(r, "invalid_request", "grant type is missing")
        r = request("GET", "/services/oauth2/token?grant_type=client_credentials")
        self.assertOAuthError(r, "unsupported_grant_type", "grant type not supported")

    def test_session_timeout_slides_and_expires(self):
        tok = cc_token()
        ctl_ok("POST", "clock", {"advance_seconds": 3600})
        self.assertEqual(self.api("GET", "limits", token=tok).status, 200)   # extends it
        ctl_ok("POST", "clock", {"advance_seconds": 3600})
        self.assertEqual(self.api("GET", "limits", token=tok).status, 200)
        ctl_ok("POST", "clock", {"advance_seconds": 7201})
        r = self.api("GET", "limits", token=tok)
        self.assertRestError(r, 401, "INVALID_SESSION_ID", "Session expired or invalid")
        self.assertEqual(r.headers.get("www-authenticate"), "Token")
        self.assertNotIn("sforce-limit-info", r.headers)

    def test_expire_all_tokens(self):
        self.assertEqual(ctl_ok("POST", "tokens/expire")["expired"], 1)
        self.assertRestError(self.api("GET", "limits"), 401, "INVALID_SESSION_ID")
        self.assertEqual(self.api("GET", "limits", token=cc_token()).status, 200)

    def test_auth_header_forms(self):
        r = request("GET", "/services/data/%s/limits" % V, headers={"Authorization": "OAuth " + self.token})
        self.assertEqual(r.status, 200)
        for h in ({}, {"Authorization": "Basic " + self.token}, {"Authorization": "Bearer"}):
            r = request("GET", "/services/data/%s/limits" % V, headers=h)
            self.assertRestError(r, 401, "INVALID_SESSION_ID", "Session expired or invalid")

    def test_login_host_does_not_serve_the_api(self):
        r = self.api("GET", "limits", host="127.0.0.1")
        self.assertRestError(r, 401, "INVALID_SESSION_ID")


# ---------------------------------------------------------------------------
class TestRestBasics(EmuTest):
    def test_versions_list(self):
        r = request("GET", "/services/data/")
        self.assertEqual(r.status, 200)
        versions = r.json()
        self.assertIn({"label": "Summer '26", "url": "/services/data/v67.0", "version": "67.0"},
                      versions)
        self.assertNotIn("sforce-limit-info", r.headers)
        self.assertEqual(ctl_ok("GET", "budget")["used"], 0)

    def test_api_version_required_and_checked(self):
        self.assertRestError(self.api("GET", "/services/data/v99.0/limits"), 404, "NOT_FOUND",
                             "The requested resource does not exist")
        self.assertRestError(self.api("GET", "/services/data/v62/limits"), 404, "NOT_FOUND")
        self.assertRestError(self.api("GET", "/services/data/limits"), 404, "NOT_FOUND")
        self.assertRestError(self.api("GET", "/services/data/v20.0/limits"), 410, "GONE")
        self.assertEqual(self.api("GET", "/services/data/v67.0/limits").status, 200)
        # Collections arrived in 42.0, upsert in 46.0
        self.assertRestError(self.api("POST", "/services/data/v41.0/composite/sobjects",
                                      {"records": []}), 404, "NOT_FOUND")

    def test_limit_header_counts_every_call(self):
        seen = []
        for _ in range(3):
            r = self.api("GET", "limits")
            seen.append(r.headers["sforce-limit-info"])
        self.assertEqual(seen, ["api-usage=1/100000", "api-usage=2/100000", "api-usage=3/100000"])
        self.assertEqual(r.json()["DailyApiRequests"], {"Max": 100000, "Remaining": 99997})
        r = self.query("SELECT Nope FROM Account")          # errors count too
        self.assertEqual(r.headers["sforce-limit-info"], "api-usage=4/100000")
        r = self.api("GET", "sobjects/Nope/describe")
        self.assertEqual(r.headers["sforce-limit-info"], "api-usage=5/100000")

    def test_budget_exhaustion(self):
        ctl_ok("POST", "budget", {"used": 998, "max": 1000})
        self.assertEqual(self.api("GET", "limits").headers["sforce-limit-info"], "api-usage=999/1000")
        r = self.api("GET", "limits")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["sforce-limit-info"], "api-usage=1000/1000")
        self.assertEqual(r.json()["DailyApiRequests"], {"Max": 1000, "Remaining": 0})
        for _ in range(2):
            r = self.query("SELECT Id FROM Account LIMIT 1")
            self.assertRestError(r, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self.assertEqual(r.headers["sforce-limit-info"], "api-usage=1000/1000")
        # the allocation is a rolling 24 hours
        ctl_ok("POST", "clock", {"advance_seconds": 86401})
        self.token = cc_token()
        r = self.api("GET", "limits")
        self.assertEqual(r.headers["sforce-limit-info"], "api-usage=1/1000")

    def test_gzip_on_request(self):
        plain = self.api("GET", "sobjects/Account/describe")
        conn = http.client.HTTPSConnection("localhost", EMU["port"], context=ssl_ctx(), timeout=10)
        conn.request("GET", "/services/data/%s/sobjects/Account/describe" % V,
                     headers={"Authorization": "Bearer " + self.token, "Accept-Encoding": "gzip"})
        r = conn.getresponse()
        raw = r.read()
        conn.close()
        self.assertEqual(r.getheader("Content-Encoding"), "gzip")
        self.assertEqual(json.loads(gzip.decompress(raw)), plain.json())

    def test_keep_alive(self):
        conn = http.client.HTTPSConnection("localhost", EMU["port"], context=ssl_ctx(), timeout=10)
        try:
            for i in range(3):
                r = request("GET", "/services/data/%s/limits" % V, conn=conn,
                            headers={"Authorization": "Bearer " + self.token})
                self.assertEqual(r.status, 200)
        finally:
            conn.close()

    def test_uri_too_long(self):
        q = "SELECT Id FROM Account WHERE Name IN (%s)" % ",".join(["'x%05d'" % i for i in range(2500)])
        r = self.query(q)
        self.assertEqual(r.status, 414)

    def test_unknown_paths(self):
        self.assertRestError(self.api("GET", "nothing/here"), 404, "NOT_FOUND")
        self.assertEqual(self.api("POST", "limits", {}).status, 405)
        self.assertRestError(request("GET", "/elsewhere"), 404, "NOT_FOUND")

    def test_get_record(self):
        rid = self.rows("SELECT Id FROM Account ORDER BY Id LIMIT 1")[0]["Id"]
        r = self.api("GET", "sobjects/Account/%s?fields=Name,AnnualRevenue" % rid)
        self.assertEqual(r.status, 200)
        self.assertEqual(list(r.json()), ["attributes", "Name", "AnnualRevenue"])
        self.assertRestError(self.api("GET", "sobjects/Account/0015g00000ZZZZZAAA"), 404, "NOT_FOUND")


# ---------------------------------------------------------------------------
class TestDescribe(EmuTest):
    def fields(self, obj):
        r = self.api("GET", "sobjects/%s/describe/" % obj)
        self.assertEqual(r.status, 200, r)
        return {f["name"]: f for f in r.json()["fields"]}

    def test_every_field_has_the_real_keys(self):
        for obj in ("Account", "Contact", "Opportunity", "Sluice_Score__c", "User"):
            for f in self.fields(obj).values():
                self.assertEqual(sorted(f), CONTRACT_FIELD_KEYS, f["name"])

    def test_account_fields(self):
        f = self.fields("Account")
        self.assertEqual((f["Id"]["type"], f["Id"]["soapType"], f["Id"]["length"],
                          f["Id"]["idLookup"], f["Id"]["nillable"]), ("id", "tns:ID", 18, True, False))
        self.assertEqual((f["Name"]["type"], f["Name"]["length"], f["Name"]["nillable"],
                          f["Name"]["nameField"]), ("string", 255, False, True))
        self.assertEqual(f["BillingCity"]["compoundFieldName"], "BillingAddress")
        self.assertEqual((f["BillingAddress"]["type"], f["BillingAddress"]["soapType"],
                          f["BillingAddress"]["filterable"]), ("address", "urn:address", False))
        self.assertEqual((f["AnnualRevenue"]["type"], f["AnnualRevenue"]["soapType"]),
                         ("currency", "xsd:double"))
        self.assertEqual((f["NumberOfEmployees"]["type"], f["NumberOfEmployees"]["soapType"],
                          f["NumberOfEmployees"]["digits"]), ("int", "xsd:int", 8))
        self.assertEqual((f["SystemModstamp"]["type"], f["SystemModstamp"]["soapType"],
                          f["SystemModstamp"]["updateable"]), ("datetime", "xsd:dateTime", False))
        self.assertEqual((f["Ext_Id__c"]["externalId"], f["Ext_Id__c"]["idLookup"],
                          f["Ext_Id__c"]["custom"]), (True, True, True))
        rpe = f["Revenue_Per_Employee__c"]
        self.assertEqual((rpe["calculated"], rpe["createable"], rpe["updateable"], rpe["type"]),
                         (True, False, False, "currency"))
        self.assertIsNotNone(rpe["calculatedFormula"])
        self.assertEqual((f["ParentId"]["referenceTo"], f["ParentId"]["relationshipName"]),
                         (["Account"], "Parent"))
        self.assertIn("Banking", [p["value"] for p in f["Industry"]["picklistValues"]])
        self.assertEqual((f["Description"]["type"], f["Description"]["filterable"],
                          f["Description"]["sortable"]), ("textarea", False, False))
        self.assertEqual(f["Website"]["type"], "url")
        self.assertEqual(f["Phone"]["type"], "phone")

    def test_custom_object(self):
        r = self.api("GET", "sobjects/Sluice_Score__c/describe")
        body = r.json()
        self.assertEqual((body["name"], body["custom"], body["keyPrefix"]),
                         ("Sluice_Score__c", True, "a0B"))
        f = {x["name"]: x for x in body["fields"]}
        self.assertEqual((f["Ext_Id__c"]["externalId"], f["Ext_Id__c"]["unique"]), (True, True))
        self.assertEqual((f["Score__c"]["type"], f["Score__c"]["precision"], f["Score__c"]["scale"]),
                         ("double", 18, 2))
        self.assertEqual(f["Weight__c"]["type"], "percent")
        self.assertEqual(f["Contact_Email__c"]["type"], "email")
        self.assertEqual((f["Name"]["autoNumber"], f["Name"]["createable"]), (True, False))
        self.assertEqual((f["Grade__c"]["restrictedPicklist"], f["Tags__c"]["type"]),
                         (True, "multipicklist"))
        self.assertEqual((f["Account__c"]["referenceTo"], f["Account__c"]["relationshipName"]),
                         (["Account"], "Account__r"))
        self.assertEqual((f["Scored_On__c"]["type"], f["Scored_At__c"]["type"]), ("date", "datetime"))

    def test_global_and_not_modified(self):
        r = self.api("GET", "sobjects/")
        names = [o["name"] for o in r.json()["sobjects"]]
        for n in ("Account", "Contact", "Opportunity", "Sluice_Score__c"):
            self.assertIn(n, names)
        self.assertEqual(r.json()["maxBatchSize"], 200)
        r = self.api("GET", "sobjects/Account/describe",
                     headers={"If-Modified-Since": "Mon, 30 Nov 2026 08:34:54 MST"})
        self.assertEqual((r.status, r.raw), (304, b""))
        r = self.api("GET", "sobjects/Account/describe",
                     headers={"If-Modified-Since": "Mon, 30 Nov 2020 08:34:54 MST"})
        self.assertEqual(r.status, 200)
        self.assertRestError(self.api("GET", "sobjects/Nope__c/describe"), 404, "NOT_FOUND",
                             "The requested resource does not exist")


# ---------------------------------------------------------------------------
class TestQuery(EmuTest):
    def test_paging_25000_accounts_with_batch_size(self):
        live = ctl_ok("GET", "info")["counts"]["Account"]
        t0 = time.monotonic()
        r = self.query("SELECT Id, Name, SystemModstamp FROM Account",
                       headers={"Sforce-Query-Options": "batchSize=1000"})
        body = r.json()
        total = body["totalSize"]
        ids, pages, offset = [], 0, 0
        while True:
            pages += 1
            self.assertEqual(body["totalSize"], total)
            self.assertLessEqual(len(body["records"]), 1000)
            ids.extend(x["Id"] for x in body["records"])
            offset += len(body["records"])
            if body["done"]:
                self.assertNotIn("nextRecordsUrl", body)
                break
            self.assertRegex(body["nextRecordsUrl"],
                             r"^/services/data/v62\.0/query/01g[0-9A-Za-z]{15}-%d$" % offset)
            r = self.api("GET", body["nextRecordsUrl"],
                         headers={"Sforce-Query-Options": "batchSize=1000"})
            self.assertEqual(r.status, 200, r)
            body = r.json()
        elapsed = time.monotonic() - t0
        self.assertEqual(len(ids), total)
        self.assertEqual(len(set(ids)), total)
        self.assertEqual(ids, sorted(ids))
        self.assertLess(total, live)       # soft-deleted rows are not in query
        self.assertGreater(total, ACCOUNTS * 0.95)
        self.assertEqual(pages, (total + 999) // 1000)
        self.assertLess(elapsed, 15, "paging 25k rows took %.1fs" % elapsed)

    def test_batch_size_default_and_clamping(self):
        for header, want in ((None, 2000), ("batchSize=50", 200), ("batchSize=5000", 2000),
                             ("batchSize=700", 700)):
            r = self.query("SELECT Id FROM Account",
                           headers={"Sforce-Query-Options": header} if header else None)
            self.assertEqual(len(r.json()["records"]), want, header)

    def test_two_long_text_fields_cap_the_page(self):
        r = self.query("SELECT Id, Notes__c, Details__c FROM Sluice_Score__c")
        body = r.json()
        self.assertEqual(len(body["records"]), 200)
        self.assertFalse(body["done"])

    def test_query_all_includes_deleted(self):
        q = "SELECT Id, IsDeleted FROM Account WHERE IsDeleted = true"
        self.assertEqual(self.query(q).json()["totalSize"], 0)
        body = self.query(q, all_rows=True).json()
        self.assertGreater(body["totalSize"], 100)
        self.assertTrue(all(x["IsDeleted"] for x in body["records"]))
        big = self.query("SELECT Id FROM Account", all_rows=True).json()
        self.assertEqual(big["totalSize"], ctl_ok("GET", "info")["counts"]["Account"])
        self.assertIn("/query/01g", big["nextRecordsUrl"])   # /query/, not /queryAll/
        rows = self.rows("SELECT Id, IsDeleted FROM Account", all_rows=True)
        self.assertEqual(len(rows), big["totalSize"])
        self.assertGreater(sum(1 for x in rows if x["IsDeleted"]), 100)

    def test_value_encodings(self):
        rows = self.rows("SELECT Id, Name, AnnualRevenue, NumberOfEmployees, CreatedDate, "
                         "Customer_Since__c, Is_Partner__c, BillingAddress, Owner.Name, "
                         "Parent.Name FROM Account ORDER BY Id LIMIT 200")
        r0 = rows[0]
        self.assertEqual(list(r0), ["attributes", "Id", "Name", "AnnualRevenue", "NumberOfEmployees",
                                    "CreatedDate", "Customer_Since__c", "Is_Partner__c",
                                    "BillingAddress", "Owner", "Parent"])
        self.assertEqual(r0["attributes"], {"type": "Account", "url": "/services/data/v62.0/sobjects/"
                                            "Account/" + r0["Id"]})
        self.assertTrue(all(DT_RE.match(x["CreatedDate"]) for x in rows))
        self.assertTrue(all(isinstance(x["Is_Partner__c"], bool) for x in rows))
        self.assertTrue(any(x["Customer_Since__c"] and re.match(r"^\d{4}-\d{2}-\d{2}$",
                                                                 x["Customer_Since__c"]) for x in rows))
        addr = next(x["BillingAddress"] for x in rows if x["BillingAddress"])
        self.assertEqual(sorted(addr), ["city", "country", "geocodeAccuracy", "latitude", "longitude",
                                        "postalCode", "state", "street"])
        self.assertIn(None, [x["BillingAddress"] for x in rows])
        owner = r0["Owner"]
        self.assertEqual(owner["attributes"]["type"], "User")
        self.assertIn(None, [x["Parent"] for x in rows])
        self.assertTrue(any(x["Parent"] for x in rows))
        # doubles print as Java does (3.5E7), ints as integers
        raw = self.query("SELECT AnnualRevenue, NumberOfEmployees FROM Account WHERE "
                         "AnnualRevenue >= 10000000 AND NumberOfEmployees != null LIMIT 5").raw.decode()
        self.assertRegex(raw, r'"AnnualRevenue":\d\.\d+E\d+')
        self.assertRegex(raw, r'"NumberOfEmployees":\d+[,}]')
        raw = self.query("SELECT Rank__c FROM Sluice_Score__c LIMIT 3").raw.decode()
        self.assertRegex(raw, r'"Rank__c":\d+\.0[,}]')

    def test_where_operators(self):
        n = lambda q: self.query(q).json()["totalSize"]   # noqa: E731
        total = n("SELECT COUNT() FROM Account")
        banking = n("SELECT COUNT() FROM Account WHERE Industry = 'Banking'")
        self.assertEqual(banking, n("SELECT COUNT() FROM Account WHERE Industry = 'bAnKiNg'"))
        null = n("SELECT COUNT() FROM Account WHERE Industry = null")
        self.assertEqual(n("SELECT COUNT() FROM Account WHERE Industry != 'Banking'"), total - banking)
        self.assertEqual(n("SELECT COUNT() FROM Account WHERE Industry <> null"), total - null)
        both = n("SELECT COUNT() FROM Account WHERE Industry IN ('Banking', 'Energy')")
        energy = n("SELECT COUNT() FROM Account WHERE Industry = 'Energy'")
        self.assertEqual(both, banking + energy)
        self.assertEqual(n("SELECT COUNT() FROM Account WHERE Industry NOT IN ('Banking', 'Energy')"),
                         total - both)
        self.assertEqual(n("SELECT COUNT() FROM Account WHERE NOT (Industry = 'Banking' OR "
                           "Industry = 'Energy')"), total - both)
        self.assertEqual(n("SELECT COUNT() FROM Account WHERE (Industry = 'Banking' OR Industry = "
                           "'Energy') AND Is_Partner__c = true") +
                         n("SELECT COUNT() FROM Account WHERE (Industry = 'Banking' OR Industry = "
                           "'Energy') AND Is_Partner__c = false"), both)
        self.assertGreater(n("SELECT COUNT() FROM Account WHERE Name LIKE 'blue%'"), 0)
        self.assertEqual(n("SELECT COUNT() FROM Account WHERE Name LIKE 'O\\'Brien%'"),
                         n("SELECT COUNT() FROM Account WHERE Name = 'O\\'Brien & Sons, \"Ltd\"'"))
        self.assertGreater(n("SELECT COUNT() FROM Account WHERE Name = 'O\\'Brien & Sons, \"Ltd\"'"), 0)
        self.assertGreater(n("SELECT COUNT() FROM Account WHERE Name = '東京商事株式会社'"), 0)
        self.assertEqual(n("SELECT COUNT() FROM Account WHERE AnnualRevenue > 100 AND "
                           "AnnualRevenue <= 100"), 0)
        self.assertEqual(n("SELECT COUNT() FROM Account LIMIT 10"), 10)
        self.assertEqual(n("SELECT COUNT() FROM Contact WHERE Account.Industry = 'Banking'"),
                         len([c for c in self.rows("SELECT Account.Industry FROM Contact")
                              if c["Account"] and c["Account"]["Industry"] == "Banking"]))
        r = self.query("SELECT COUNT(Id) cnt FROM Account").json()
        self.assertEqual(r["records"][0], {"attributes": {"type": "AggregateResult"}, "cnt": total})

    def test_datetime_and_date_literals(self):
        rows = self.rows("SELECT Id, SystemModstamp FROM Account ORDER BY Id LIMIT 50")
        t = rows[20]["SystemModstamp"]                      # 2024-...T..:..:...000+0000
        z = t[:19] + "Z"
        plus_one = wire.format_datetime(wire.parse_datetime_input(z) + 3600000)
        offset_form = plus_one[:19] + "+01:00"              # the same instant as z
        n = lambda q: self.query(q).json()["totalSize"]     # noqa: E731
        at = n("SELECT COUNT() FROM Account WHERE SystemModstamp = %s" % z)
        self.assertGreaterEqual(at, 1)
        self.assertEqual(n("SELECT COUNT() FROM Account WHERE SystemModstamp = %s" % offset_form), at)
        self.assertEqual(n("SELECT COUNT() FROM Account WHERE SystemModstamp = %s" %
                           (plus_one[:23] + "+0100")), at)
        self.assertEqual(n("SELECT COUNT() FROM Account WHERE SystemModstamp = %s" % t[:23] + "Z"), at)
        day = t[:10]
        self.assertGreater(n("SELECT COUNT() FROM Opportunity WHERE CloseDate >= %s" % day), 0)

    def test_order_by_and_ties(self):
        rows = self.rows("SELECT Id, SystemModstamp FROM Account ORDER BY SystemModstamp DESC, Id "
                         "ASC LIMIT 3000")
        for a, b in zip(rows, rows[1:]):
            self.assertTrue(a["SystemModstamp"] > b["SystemModstamp"] or
                            (a["SystemModstamp"] == b["SystemModstamp"] and a["Id"] < b["Id"]))
        stamps = [x["SystemModstamp"] for x in rows]
        self.assertLess(len(set(stamps)), len(stamps), "seed must contain SystemModstamp ties")
        rows = self.rows("SELECT Id, Industry FROM Account WHERE Is_Partner__c = true "
                         "ORDER BY Industry NULLS LAST, Id")
        inds = [x["Industry"] for x in rows]
        first_null = inds.index(None)
        self.assertTrue(all(v is None for v in inds[first_null:]))
        self.assertEqual(inds[:first_null], sorted(inds[:first_null], key=str.casefold))
        rows = self.rows("SELECT Id FROM Account ORDER BY Id LIMIT 5 OFFSET 3")
        all5 = self.rows("SELECT Id FROM Account ORDER BY Id LIMIT 8")
        self.assertEqual([x["Id"] for x in rows], [x["Id"] for x in all5[3:]])

    def test_malformed_query_bodies(self):
        cases = [
            ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY",
             "\nSELECT Id FROM Account WHERE\n                            ^\nERROR at Row:1:Column:29\n"
             "unexpected token: '<EOF>'"),
            ("SELECT Id, FROM Account", "MALFORMED_QUERY",
             "\nSELECT Id, FROM Account\n           ^\nERROR at Row:1:Column:12\nunexpected token: 'FROM'"),
            ("SELECT * FROM Account", "MALFORMED_QUERY",
             "\nSELECT * FROM Account\n       ^\nERROR at Row:1:Column:8\nunexpected token: '*'"),
            ("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", "MALFORMED_QUERY",
             "\nSELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'\n" + " " * 55 +
             "^\nERROR at Row:1:Column:56\nunexpected token: 'OR'"),
            # '+' sent unencoded arrives as a space (contract section 0)
            ("SELECT Id FROM Account WHERE SystemModstamp > 2024-01-01T00:00:00.000 0000",
             "MALFORMED_QUERY",
             "\nSELECT Id FROM Account WHERE SystemModstamp > 2024-01-01T00:00:00.000 0000\n" +
             " " * 69 + "^\nERROR at Row:1:Column:69\nline 1:69 no viable alternative at character ' '"),
            ("SELECT Id,Invalid__x FROM Contact LIMIT 1", "INVALID_FIELD",
             "\nSELECT Id,Invalid__x FROM Contact LIMIT 1\n          ^\nERROR at Row:1:Column:11\n"
             "No such column 'Invalid__x' on entity 'Contact'. If you are attempting to use a custom "
             "field, be sure to append the '__c' after the custom field name. Please reference your "
             "WSDL or the describe call for the appropriate names."),
            ("SELECT Id FROM no_such_object", "INVALID_TYPE",
             "\nSELECT Id FROM no_such_object\n               ^\nERROR at Row:1:Column:16\n"
             "sObject type 'no_such_object' is not supported. If you are attempting to use a custom "
             "object, be sure to append the '__c' after the entity name. Please reference your WSDL "
             "or the describe call for the appropriate names."),
            ("SELECT Id FROM Account WHERE CreatedDate > '2024-01-01T00:00:00Z'", "INVALID_FIELD",
             "\nSELECT Id FROM Account WHERE CreatedDate > '2024-01-01T00:00:00Z'\n" + " " * 43 +
             "^\nERROR at Row:1:Column:44\nvalue of filter criterion for field 'CreatedDate' must be "
             "of type dateTime and should not be enclosed in quotes"),
            ("SELECT Id FROM Account WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR",
             "\nSELECT Id FROM Account WHERE Id = 'abc'\n" + " " * 34 +
             "^\nERROR at Row:1:Column:35\ninvalid ID field: abc"),
            ("SELECT Id, Name, name FROM Account", "MALFORMED_QUERY",
             "\nSELECT Id, Name, name FROM Account\n" + " " * 17 +
             "^\nERROR at Row:1:Column:18\nduplicate field selected: Name"),
            ("SELECT Id FROM Account WHERE Description = 'x'", "INVALID_FIELD",
             "\nSELECT Id FROM Account WHERE Description = 'x'\n" + " " * 29 +
             "^\nERROR at Row:1:Column:30\nfield 'Description' can not be filtered in query call"),
        ]
        for q, code, msg in cases:
            with self.subTest(q=q):
                self.assertRestError(self.query(q), 400, code, msg)
        for q in ("SELECT Id FROM Account GROUP BY Name", "SELECT Id FROM Account WHERE "
                  "CreatedDate = TODAY", "SELECT (SELECT Id FROM Contacts) FROM Account",
                  "SELECT Id FROM Account WHERE Name = 'unterminated", "SELECT Id FROM Account "
                  "WHERE Name = 'bad \\q escape'", "DELETE FROM Account"):
            with self.subTest(q=q):
                self.assertRestError(self.query(q), 400, "MALFORMED_QUERY")
        self.assertRestError(self.api("GET", "query"), 400, "MALFORMED_QUERY")
        self.assertRestError(self.query("SELECT Id FROM Account OFFSET 2001"), 400,
                             "NUMBER_OUTSIDE_VALID_RANGE")

    def test_locator_rules(self):
        self.assertRestError(self.api("GET", "query/01g5g0000000000AAA-2000"), 400,
                             "INVALID_QUERY_LOCATOR")
        body = self.query("SELECT Id FROM Account").json()
        url = body["nextRecordsUrl"]
        self.assertEqual(self.api("GET", url).status, 200)
        self.assertEqual(self.api("GET", url).status, 200)       # a retry may re-read a page
        self.assertRestError(self.api("GET", url.rsplit("-", 1)[0] + "-99999"), 400,
                             "INVALID_QUERY_LOCATOR")
        # a locator expires after 15 minutes without use
        ctl_ok("POST", "clock", {"advance_seconds": 16 * 60})
        self.token = cc_token()
        self.assertRestError(self.api("GET", url), 400, "INVALID_QUERY_LOCATOR")
        # at most 10 open cursors per user: the 11th releases the oldest
        urls = [self.query("SELECT Id FROM Account").json()["nextRecordsUrl"] for _ in range(11)]
        self.assertRestError(self.api("GET", urls[0]), 400, "INVALID_QUERY_LOCATOR")
        self.assertEqual(self.api("GET", urls[1]).status, 200)
        self.assertEqual(self.api("GET", urls[10]).status, 200)

    def test_cursor_is_a_snapshot(self):
        body = self.query("SELECT Id, Name FROM Account ORDER BY Id").json()
        second_page_first = self.rows("SELECT Id FROM Account ORDER BY Id LIMIT 2001")[2000]["Id"]
        ctl_ok("POST", "records", {"op": "update", "id": second_page_first,
                                   "fields": {"Name": "Changed later"}})
        page2 = self.api("GET", body["nextRecordsUrl"]).json()
        self.assertEqual(page2["records"][0]["Id"], second_page_first)
        self.assertNotEqual(page2["records"][0]["Name"], "Changed later")


# ---------------------------------------------------------------------------
class TestReplication(EmuTest):
    def window(self, kind, start_ms, end_ms, obj="Account"):
        q = urllib.parse.urlencode({"start": wire.format_datetime(start_ms)[:19] + "+00:00",
                                    "end": wire.format_datetime(end_ms)[:19] + "+00:00"})
        return self.api("GET", "sobjects/%s/%s/?%s" % (obj, kind, q))

    def test_deleted_window(self):
        now = ctl_ok("GET", "clock")["now_ms"]
        ids = [x["Id"] for x in self.rows("SELECT Id FROM Account ORDER BY Id LIMIT 3")]
        ctl_ok("POST", "records", {"ops": [{"op": "delete", "id": ids[0]},
                                           {"op": "delete", "id": ids[1]}]})
        ctl_ok("POST", "records", {"op": "hard_delete", "id": ids[2]})
        ctl_ok("POST", "clock", {"advance_seconds": 120})
        self.token = cc_token()
        r = self.window("deleted", now - 3600000, now + 3600000)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(sorted(x["id"] for x in body["deletedRecords"]), sorted(ids))
        for x in body["deletedRecords"]:
            self.assertRegex(x["deletedDate"], DT_RE)
        self.assertRegex(body["earliestDateAvailable"], r":00\.000\+0000$")
        latest = wire.parse_datetime_input(body["latestDateCovered"])
        self.assertLessEqual(latest, ctl_ok("GET", "clock")["now_ms"])
        self.assertEqual(latest % 60000, 0)
        # a soft-deleted record is in queryAll; the hard-deleted one is gone
        got = {x["Id"] for x in self.rows("SELECT Id FROM Account WHERE Id IN ('%s')" % "','".join(ids),
                                           all_rows=True)}
        self.assertEqual(got, set(ids[:2]))
        # undelete takes it out of the delete log
        ctl_ok("POST", "records", {"op": "undelete", "id": ids[0]})
        body = self.window("deleted", now - 3600000, now + 3600000).json()
        self.assertNotIn(ids[0], [x["id"] for x in body["deletedRecords"]])

    def test_window_rules(self):
        now = ctl_ok("GET", "clock")["now_ms"]
        self.assertRestError(self.window("deleted", now, now - 60000), 400, "INVALID_REPLICATION_DATE")
        # seconds are ignored: 12:30:15 .. 12:30:45 is an empty window
        base = now // 60000 * 60000 - 600000
        self.assertRestError(self.window("deleted", base + 15000, base + 45000), 400,
                             "INVALID_REPLICATION_DATE")
        self.assertRestError(self.window("deleted", now - 16 * 86400000, now), 400,
                             "INVALID_REPLICATION_DATE")
        self.assertEqual(self.window("updated", now - 16 * 86400000, now).status, 200)
        self.assertRestError(self.window("updated", now - 31 * 86400000, now), 400,
                             "INVALID_REPLICATION_DATE")
        r = self.api("GET", "sobjects/Account/deleted/?start=yesterday&end=today")
        self.assertRestError(r, 400, "INVALID_REPLICATION_DATE")

    def test_updated(self):
        now = ctl_ok("GET", "clock")["now_ms"]
        rid = self.rows("SELECT Id FROM Contact ORDER BY Id LIMIT 1")[0]["Id"]
        ctl_ok("POST", "records", {"op": "update", "id": rid, "fields": {"Title": "New"}})
        ctl_ok("POST", "clock", {"advance_seconds": 120})
        self.token = cc_token()
        body = self.window("updated", now - 600000, now + 600000, "Contact").json()
        self.assertEqual(body["ids"], [rid])


# ---------------------------------------------------------------------------
class TestCollections(EmuTest):
    def post(self, records, all_or_none=False, method="POST", path="composite/sobjects"):
        return self.api(method, path, {"allOrNone": all_or_none, "records": records})

    def test_create_then_query(self):
        now = ctl_ok("GET", "clock")["now_ms"] // 1000 * 1000
        recs = [{"attributes": {"type": "Account"}, "Name": "New %d" % i, "AnnualRevenue": 1.5e7,
                 "Industry": "Banking", "Ext_Id__c": "NEW-%d" % i} for i in range(3)]
        recs.append({"attributes": {"type": "Contact"}, "LastName": "Solo", "Email": "s@x.example"})
        r = self.post(recs)
        self.assertEqual(r.status, 200, r)
        res = r.json()
        self.assertEqual([x["success"] for x in res], [True] * 4)
        self.assertEqual(res[0]["errors"], [])
        self.assertEqual([x["id"][:3] for x in res], ["001", "001", "001", "003"])
        got = self.rows("SELECT Id, Name, CreatedDate, SystemModstamp, IsDeleted, OwnerId FROM Account "
                        "WHERE Ext_Id__c LIKE 'NEW-%' ORDER BY Name")
        self.assertEqual([x["Name"] for x in got], ["New 0", "New 1", "New 2"])
        stamp = wire.parse_datetime_input(got[0]["SystemModstamp"])
        self.assertLess(abs(stamp - now), 5000)
        self.assertEqual(got[0]["CreatedDate"], got[0]["SystemModstamp"])
        self.assertEqual(got[0]["OwnerId"], EMU["state"]["user_id"])
        self.assertEqual(self.rows("SELECT Name FROM Contact WHERE Id = '%s'" % res[3]["id"])[0]["Name"],
                         "Solo")
        # a lookup given by the parent's external id
        res = self.post([{"attributes": {"type": "Contact"}, "LastName": "Linked",
                          "Account": {"Ext_Id__c": "NEW-1"}},
                         {"attributes": {"type": "Contact"}, "LastName": "Orphan",
                          "Account": {"Ext_Id__c": "NO-SUCH"}}]).json()
        self.assertTrue(res[0]["success"])
        self.assertEqual(res[1]["errors"][0], {
            "statusCode": "INVALID_FIELD", "message": "Foreign key external ID: NO-SUCH not found "
            "for field Ext_Id__c in entity Account", "fields": []})
        linked = self.rows("SELECT Account.Name FROM Contact WHERE Id = '%s'" % res[0]["id"])[0]
        self.assertEqual(linked["Account"]["Name"], "New 1")

    def test_partial_failure_and_all_or_none(self):
        recs = [{"attributes": {"type": "Account"}, "Name": "Good one"},
                {"attributes": {"type": "Account"}, "Industry": "Banking"},
                {"attributes": {"type": "Account"}, "Name": "Good two"}]
        res = self.post(recs).json()
        self.assertEqual([x["success"] for x in res], [True, False, True])
        self.assertNotIn("id", res[1])
        self.assertEqual(res[1]["errors"], [{"statusCode": "REQUIRED_FIELD_MISSING",
                                             "message": "Required fields are missing: [Name]",
                                             "fields": ["Name"]}])
        before = self.query("SELECT COUNT() FROM Account").json()["totalSize"]
        res = self.post(recs, all_or_none=True).json()
        self.assertEqual(res[1]["errors"][0]["statusCode"], "REQUIRED_FIELD_MISSING")
        for x in (res[0], res[2]):
            self.assertFalse(x["success"])
            self.assertEqual(x["errors"], [{
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the request "
                           "was using AllOrNone header", "fields": []}])
        self.assertEqual(self.query("SELECT COUNT() FROM Account").json()["totalSize"], before)

    def test_update(self):
        accs = self.rows("SELECT Id, SystemModstamp FROM Account ORDER BY Id LIMIT 5")
        acc = accs[0]
        ctl_ok("POST", "clock", {"advance_seconds": 5})
        recs = [{"attributes": {"type": "Account"}, "id": acc["Id"], "Name": "Renamed"},
                {"attributes": {"type": "Contact"}, "id": accs[1]["Id"], "LastName": "X"},
                {"attributes": {"type": "Account"}, "id": accs[2]["Id"][:15], "Name": "Z" * 256},
                {"attributes": {"type": "Account"}, "Id": wire.make_id("001", 9999999),
                 "Rating": "Hot"},
                {"attributes": {"type": "Account"}, "id": accs[3]["Id"], "SystemModstamp":
                 "2020-01-01T00:00:00.000+0000"},
                {"attributes": {"type": "Sluice_Score__c"},
                 "id": self.rows("SELECT Id FROM Sluice_Score__c LIMIT 1")[0]["Id"], "Grade__c": "Z"},
                {"attributes": {"type": "Account"}, "id": accs[4]["Id"], "Name": ""}]
        res = self.post(recs, method="PATCH").json()
        self.assertEqual(res[0], {"id": acc["Id"], "success": True, "errors": []})
        self.assertEqual(res[1], {"success": False, "errors": [{
            "statusCode": "MALFORMED_ID", "message": "Contact ID: id value of incorrect type: %s"
            % accs[1]["Id"], "fields": ["Id"]}]})
        self.assertEqual(res[2]["errors"][0]["statusCode"], "STRING_TOO_LONG")
        self.assertEqual(res[2]["errors"][0]["fields"], ["Name"])
        self.assertEqual(res[3]["errors"][0]["statusCode"], "INVALID_CROSS_REFERENCE_KEY")
        self.assertEqual(res[4]["errors"][0], {
            "statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
            "message": "Unable to create/update fields: SystemModstamp. Please check the security "
                       "settings of this field and verify that it is read/write for your profile or "
                       "permission set.", "fields": ["SystemModstamp"]})
        self.assertEqual(res[5]["errors"][0]["statusCode"], "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
        # '' is null on the platform, and Name is required
        self.assertEqual(res[6]["errors"][0]["statusCode"], "REQUIRED_FIELD_MISSING")
        after = self.rows("SELECT Name, SystemModstamp FROM Account WHERE Id = '%s'" % acc["Id"])[0]
        self.assertEqual(after["Name"], "Renamed")
        self.assertGreater(after["SystemModstamp"], acc["SystemModstamp"])
        # the same Id twice in one call
        res = self.post([{"attributes": {"type": "Account"}, "id": acc["Id"], "Rating": "Hot"},
                         {"attributes": {"type": "Account"}, "id": acc["Id"], "Rating": "Cold"}],
                        method="PATCH").json()
        self.assertEqual([x["errors"][0]["statusCode"] for x in res], ["DUPLICATE_VALUE"] * 2)

    def test_upsert_by_external_id(self):
        path = "composite/sobjects/Sluice_Score__c/Ext_Id__c"
        existing = self.rows("SELECT Id, Ext_Id__c FROM Sluice_Score__c ORDER BY Id LIMIT 1")[0]
        recs = [{"attributes": {"type": "Sluice_Score__c"}, "Ext_Id__c": existing["Ext_Id__c"].lower(),
                 "Score__c": 99.5},
                {"attributes": {"type": "Sluice_Score__c"}, "Ext_Id__c": "BRAND-NEW", "Score__c": 1}]
        res = self.post(recs, method="PATCH", path=path).json()
        self.assertEqual(res[0], {"id": existing["Id"], "success": True, "errors": [], "created": False})
        self.assertTrue(res[1]["success"])
        self.assertTrue(res[1]["created"])
        self.assertEqual(self.rows("SELECT Score__c FROM Sluice_Score__c WHERE Id = '%s'" %
                                   existing["Id"])[0]["Score__c"], 99.5)
        # the same key twice in one request: every row with it fails
        dup = [{"attributes": {"type": "Sluice_Score__c"}, "Ext_Id__c": "DUP-1", "Score__c": 1},
               {"attributes": {"type": "Sluice_Score__c"}, "Ext_Id__c": "DUP-1", "Score__c": 2},
               {"attributes": {"type": "Sluice_Score__c"}, "Ext_Id__c": "OK-1", "Score__c": 3}]
        res = self.post(dup, method="PATCH", path=path).json()
        for x in res[:2]:
            self.assertEqual(x, {"success": False, "errors": [{
                "statusCode": "DUPLICATE_VALUE", "message": "Duplicate external id specified: DUP-1",
                "fields": ["Ext_Id__c"]}]})
        self.assertTrue(res[2]["success"])
        # a key matching more than one existing record (Account.Ext_Id__c is not unique)
        two = [x["Id"] for x in self.rows("SELECT Id FROM Account ORDER BY Id LIMIT 2")]
        ctl_ok("POST", "records", {"ops": [{"op": "update", "id": i, "fields": {"Ext_Id__c": "SHARED"}}
                                           for i in two]})
        res = self.post([{"attributes": {"type": "Account"}, "Ext_Id__c": "SHARED", "Name": "x"}],
                        method="PATCH", path="composite/sobjects/Account/Ext_Id__c").json()
        self.assertEqual(res[0]["errors"][0]["statusCode"], "DUPLICATE_EXTERNAL_ID")
        # a unique field clash on update
        other = self.rows("SELECT Id, Ext_Id__c FROM Sluice_Score__c ORDER BY Id LIMIT 2")[1]
        res = self.post([{"attributes": {"type": "Sluice_Score__c"}, "id": existing["Id"],
                          "Ext_Id__c": other["Ext_Id__c"]}], method="PATCH").json()
        self.assertEqual(res[0]["errors"][0], {
            "statusCode": "DUPLICATE_VALUE", "message": "duplicate value found: Ext_Id__c duplicates "
            "value on record with id: %s" % other["Id"], "fields": []})
        # not an external id field / unknown field
        self.assertRestError(self.post([], method="PATCH", path="composite/sobjects/Account/Name"),
                             400, "INVALID_FIELD")
        self.assertRestError(self.post([], method="PATCH", path="composite/sobjects/Account/Nope__c"),
                             404, "NOT_FOUND")

    def test_request_level_errors(self):
        too_many = [{"attributes": {"type": "Account"}, "Name": "n%d" % i} for i in range(201)]
        self.assertRestError(self.post(too_many), 400, "EXCEEDED_ID_LIMIT",
                             "record limit reached. cannot submit more than 200 records into this call")
        self.assertRestError(self.post([{"attributes": {"type": "Account"}, "Nope__c": 1}]), 400,
                             "INVALID_FIELD", "No such column 'Nope__c' on sobject of type Account")
        self.assertRestError(self.post([{"Name": "untyped"}]), 400, "INVALID_TYPE",
                             "Must send a concrete entity type.")
        self.assertRestError(self.post([{"attributes": {"type": "Account"}, "Name": "n",
                                         "NumberOfEmployees": "many"}]), 400, "JSON_PARSER_ERROR")
        r = self.api("POST", "composite/sobjects", b"{not json", {"Content-Type": "application/json"})
        self.assertRestError(r, 400, "JSON_PARSER_ERROR")
        r = self.api("POST", "composite/sobjects", b"{}", {"Content-Type": "text/plain"})
        self.assertRestError(r, 415, "UNSUPPORTED_MEDIA_TYPE")

    def test_delete(self):
        ids = [x["Id"] for x in self.rows("SELECT Id FROM Opportunity ORDER BY Id LIMIT 2")]
        r = self.api("DELETE", "composite/sobjects?ids=%s,%s,bogus&allOrNone=false" % tuple(ids))
        res = r.json()
        self.assertEqual(res[:2], [{"id": i, "success": True, "errors": []} for i in ids])
        self.assertFalse(res[2]["success"])
        self.assertEqual(res[2]["errors"][0]["statusCode"], "MALFORMED_ID")
        got = self.rows("SELECT Id, IsDeleted FROM Opportunity WHERE Id IN ('%s','%s')" % tuple(ids),
                        all_rows=True)
        self.assertEqual([x["IsDeleted"] for x in got], [True, True])
        again = self.api("DELETE", "composite/sobjects?ids=%s" % ids[0]).json()
        self.assertEqual(again[0]["errors"][0]["statusCode"], "ENTITY_IS_DELETED")

    def test_account_delete_cascades(self):
        con = self.rows("SELECT Id, AccountId FROM Contact WHERE AccountId != null ORDER BY Id LIMIT 1")[0]
        self.api("DELETE", "composite/sobjects?ids=%s" % con["AccountId"])
        got = self.rows("SELECT Id, IsDeleted FROM Contact WHERE Id = '%s'" % con["Id"], all_rows=True)
        self.assertTrue(got[0]["IsDeleted"])
        ctl_ok("POST", "records", {"op": "undelete", "id": con["AccountId"]})
        got = self.rows("SELECT Id, IsDeleted FROM Contact WHERE Id = '%s'" % con["Id"], all_rows=True)
        self.assertFalse(got[0]["IsDeleted"])


# ---------------------------------------------------------------------------
class TestControlAndFaults(EmuTest):
    LIMITS = "/services/data/%s/limits" % V

    def test_control_needs_token(self):
        self.assertEqual(ctl("GET", "info", token="wrong").status, 403)

    def test_control_writes_and_explicit_modstamp(self):
        stamp = "2024-03-01T10:00:00.000+0000"
        res = ctl_ok("POST", "records", {"ops": [
            {"op": "create", "object": "Account", "fields": {"Name": "Tie A"}, "system_modstamp": stamp},
            {"op": "create", "object": "Account", "fields": {"Name": "Tie B"}, "system_modstamp": stamp}]})
        ids = [x["id"] for x in res["results"]]
        rows = self.rows("SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp = "
                         "2024-03-01T10:00:00Z ORDER BY Id")
        self.assertTrue(set(ids) <= {x["Id"] for x in rows})
        self.assertEqual({x["SystemModstamp"] for x in rows}, {stamp})
        raw = ctl_ok("GET", "records/" + ids[0])
        self.assertEqual(raw["Name"], "Tie A")
        # an update bumps SystemModstamp to the emulator clock
        ctl_ok("POST", "clock", {"set": "2026-06-01T00:00:00Z"})
        ctl_ok("POST", "records", {"op": "update", "id": ids[0], "fields": {"Rating": "Hot"}})
        bumped = wire.parse_datetime_input(ctl_ok("GET", "records/" + ids[0])["SystemModstamp"])
        set_ms = wire.parse_datetime_input("2026-06-01T00:00:00Z")
        self.assertTrue(set_ms <= bumped < set_ms + 5000, bumped)   # whole seconds, clock runs

    def test_reset_restores_seed(self):
        first = self.rows("SELECT Id, Name FROM Account ORDER BY Id LIMIT 1")[0]
        ctl_ok("POST", "records", {"op": "update", "id": first["Id"], "fields": {"Name": "Mutated"}})
        ctl_ok("POST", "records", {"op": "create", "object": "Account", "fields": {"Name": "Extra"}})
        ctl_ok("POST", "reset")
        self.token = cc_token()
        self.assertEqual(self.rows("SELECT Id, Name FROM Account ORDER BY Id LIMIT 1")[0], first)
        self.assertEqual(self.query("SELECT COUNT() FROM Account WHERE Name = 'Extra'").json()["totalSize"], 0)

    def test_status_faults_with_retry_after(self):
        ctl_ok("DELETE", "requests")
        ctl_ok("POST", "faults", {"kind": "status", "status": 503, "count": 2, "retry_after": 3,
                                  "path_prefix": self.LIMITS})
        used_before = ctl_ok("GET", "budget")["used"]
        ua = {"User-Agent": "sluice-test/1.0"}
        for _ in range(2):
            r = self.api("GET", "limits", headers=ua)
            self.assertRestError(r, 503, "SERVER_UNAVAILABLE")
            self.assertEqual(r.headers["retry-after"], "3")
        self.assertEqual(self.api("GET", "limits", headers=ua).status, 200)
        self.assertEqual(ctl_ok("GET", "budget")["used"], used_before + 1)   # faults are free
        log = ctl_ok("GET", "requests?path_prefix=" + self.LIMITS)["requests"]
        self.assertEqual([e["status"] for e in log], [503, 503, 200])
        self.assertEqual([e["fault"] for e in log], ["status", "status", None])
        self.assertEqual(log[0]["headers"]["User-Agent"], "sluice-test/1.0")
        self.assertEqual(log[0]["headers"]["Authorization"], "Bearer <redacted>")
        self.assertEqual(log[0]["method"], "GET")

    def test_429_500_and_token_endpoint_faults(self):
        ctl_ok("POST", "faults", [{"status": 429, "path_prefix": self.LIMITS},
                                  {"status": 500, "path_prefix": self.LIMITS, "after": 1}])
        r = self.api("GET", "limits")
        self.assertEqual((r.status, r.headers.get("retry-after")), (429, "1"))
        r = self.api("GET", "limits")
        self.assertEqual(r.status, 200)             # 'after': the 500 skips one match
        self.assertRestError(self.api("GET", "limits"), 500, "UNKNOWN_EXCEPTION")
        ctl_ok("POST", "faults", {"status": 503, "path_prefix": "/services/oauth2/token"})
        r = token_request({"grant_type": "client_credentials"})
        self.assertEqual((r.status, r.json()), (503, {"error": "unknown_error",
                                                     "error_description": "retry your request"}))

    def test_reset_connection(self):
        ctl_ok("POST", "faults", {"kind": "reset", "path_prefix": self.LIMITS})
        with self.assertRaises((OSError, http.client.HTTPException)):
            self.api("GET", "limits")
        self.assertEqual(self.api("GET", "limits").status, 200)
        log = ctl_ok("GET", "requests?path_prefix=" + self.LIMITS)["requests"]
        self.assertEqual([(e["fault"], e["status"]) for e in log], [("reset", 0), (None, 200)])

    def test_reset_mid_body(self):
        ctl_ok("POST", "faults", {"kind": "reset_mid_body",
                                  "path_prefix": "/services/data/%s/sobjects/Account/describe" % V})
        conn = http.client.HTTPSConnection("localhost", EMU["port"], context=ssl_ctx(), timeout=10)
        conn.request("GET", "/services/data/%s/sobjects/Account/describe" % V,
                     headers={"Authorization": "Bearer " + self.token})
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        with self.assertRaises((http.client.IncompleteRead, OSError)):
            r.read()
        conn.close()

    def test_stall_before_answer(self):
        ctl_ok("POST", "faults", {"kind": "stall", "seconds": 2, "path_prefix": self.LIMITS})
        t0 = time.monotonic()
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.api("GET", "limits", timeout=0.5)
        self.assertLess(time.monotonic() - t0, 1.5)
        # a patient client gets the answer after the stall
        ctl_ok("POST", "faults", {"kind": "stall", "seconds": 0.5, "path_prefix": self.LIMITS})
        t0 = time.monotonic()
        self.assertEqual(self.api("GET", "limits", timeout=5).status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.45)

    def test_stall_mid_body(self):
        path = "/services/data/%s/sobjects/Account/describe" % V
        ctl_ok("POST", "faults", {"kind": "stall_mid_body", "seconds": 2, "path_prefix": path})
        conn = http.client.HTTPSConnection("localhost", EMU["port"], context=ssl_ctx(), timeout=0.5)
        conn.request("GET", path, headers={"Authorization": "Bearer " + self.token})
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        with self.assertRaises((socket.timeout, TimeoutError)):
            r.read()
        conn.close()
        ctl_ok("POST", "faults", {"kind": "stall_mid_body", "seconds": 0.5, "path_prefix": path})
        r = self.api("GET", path, timeout=5)
        self.assertEqual(r.json()["name"], "Account")

    def test_fault_list_and_clear(self):
        ctl_ok("POST", "faults", {"status": 500, "count": 5, "method": "POST"})
        pending = ctl_ok("GET", "faults")["pending"]
        self.assertEqual((len(pending), pending[0]["method"]), (1, "POST"))
        self.assertEqual(self.api("GET", "limits").status, 200)   # GET does not match
        ctl_ok("DELETE", "faults")
        self.assertEqual(ctl_ok("GET", "faults")["pending"], [])
        self.assertEqual(ctl("POST", "faults", {"kind": "explode"}).status, 400)


if __name__ == "__main__":
    unittest.main(verbosity=2)
