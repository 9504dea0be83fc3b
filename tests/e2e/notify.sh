#!/bin/sh
# tests/e2e/notify.sh - run notifications: a failed run's record POSTed to
# a webhook (retried after a 500), its header a secret that never shows in
# sluice's output; a pipeline's own "notify" replaces the file's; a bad
# notify block is refused with its JSON path.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }

# A webhook on this machine: the first POST gets 500, the others 200; every
# request is kept, one JSON line each.
cat >hook.py <<'PY'
import http.server, json, sys
seen = []
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        seen.append(1)
        with open(sys.argv[1], "a") as f:
            f.write(json.dumps({"path": self.path, "token": self.headers.get("X-Hook-Token"),
                                "type": self.headers.get("Content-Type"),
                                "body": json.loads(body)}) + "\n")
        self.send_response(500 if len(seen) == 1 else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
python3 hook.py "$WORK/hooks.jsonl" >hook.port 2>hook.err &
HOOK_PID=$!
trap 'kill $HOOK_PID 2>/dev/null; rm -rf "$WORK"' EXIT
i=0
until [ -s hook.port ]; do
  i=$((i + 1)); [ $i -lt 100 ] || fail "the webhook did not start"
  sleep 0.1
done
HOOK="http://127.0.0.1:$(cat hook.port)/sluice"
HOOK_TOKEN=secret-hook-4711
export HOOK_TOKEN

mkdir -p in out
printf 'id,n\n1,2\n2,"unclosed\n' >in/a.csv
cat >p.json <<JSON
{ "version": 1, "state_dir": "state",
  "notify": { "webhook": "$HOOK", "on": ["failure"],
              "headers": { "X-Hook-Token": { "env": "HOOK_TOKEN" } } },
  "pipelines": [
    { "name": "broken",
      "source": { "plugin": "csv-file", "path": "in/*.csv" },
      "destination": { "plugin": "csv-file", "path": "out/b.csv" } },
    { "name": "quiet",
      "notify": { "webhook": "$HOOK", "on": ["success"] },
      "source": { "plugin": "csv-file", "path": "in/*.csv" },
      "destination": { "plugin": "csv-file", "path": "out/q.csv" } } ] }
JSON
expect_exit 1 "$SLUICE" run p.json --once -v
expect_not_in err.txt "$HOOK_TOKEN"
expect_in err.txt "notification sent"
python3 - hooks.jsonl <<'PY' || fail "the webhook's requests"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
# broken: failed, retried once after the 500; quiet: failed too, but it
# asked for success only.
assert len(reqs) == 2, reqs
for r in reqs:
    assert r["path"] == "/sluice" and r["type"] == "application/json", r
    assert r["token"] == "secret-hook-4711", r
    b = r["body"]
    assert b["pipeline"] == "broken" and b["status"] == "failed", b
    assert b["run_id"] and "line 3" in b["error"], b
assert reqs[0]["body"]["run_id"] == reqs[1]["body"]["run_id"]
PY
NCHECK=$((NCHECK + 1))
expect_not_in state/runs.jsonl "$HOOK_TOKEN"

# Mistakes in a notify block name their JSON path.
cat >bad.json <<JSON
{ "version": 1,
  "notify": { "webhook": "http://example.com/x", "on": ["sometimes"], "retry": 3 },
  "pipelines": [ { "name": "p",
      "source": { "plugin": "csv-file", "path": "in/*.csv" },
      "destination": { "plugin": "csv-file", "path": "out/x.csv" } } ] }
JSON
expect_exit 2 "$SLUICE" validate bad.json
expect_in err.txt "notify.webhook: 'http://example.com/x': must be https://"
expect_in err.txt "notify.on[0]: expected failure, rejected, success or interrupted"
expect_in err.txt "unknown key 'retry'"
done_ok
