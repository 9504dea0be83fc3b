#!/usr/bin/env python3
"""tests/faults/helpers.py - the fault matrix's Python side (matrix.sh).

  helpers.py gen-accounts FILE N       accounts in examples/data's layout
  helpers.py gen-scores FILE FIRST N   Sluice_Score__c rows (the examples'
                                       in/scores-*.csv layout)
  helpers.py csv-rows FILE...          the distinct data rows of CSV files
                                       (one header), sorted: per-run files
  helpers.py sf-records JSON           a Salesforce control-API listing,
                                       volatile fields dropped, sorted by key
  helpers.py sql-rows JSON             the rows of sfkemu's POST /sql, sorted
  helpers.py count JSON                the HTTP requests of a request log
  helpers.py pending JSON              len of "pending" (faults not fired)
  helpers.py record RUNS_JSONL         the last run record: status, retries,
                                       error, tab-separated (or "none")
  helpers.py delays SEED N MAX_MS      N kill delays in ms, seeded
  helpers.py table RESULTS             the pipeline x fault table
"""
import csv
import json
import random
import sys

# Fields of Salesforce records that differ between two clean runs and are
# not data: record Ids (minted by insertion order), the audit stamps (the
# emulator's clock) and the users who wrote.  Everything else is compared.
SF_VOLATILE = {"attributes", "Id", "CreatedDate", "LastModifiedDate",
               "SystemModstamp", "CreatedById", "LastModifiedById",
               "LastReferencedDate", "LastViewedDate"}


def gen_accounts(path, n):
    r = random.Random(7)
    names = ["Acme", "Globex, Inc.", 'say "hi"', "two\nlines", "Zürich ☃", "Initech"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["Id", "Name", "AnnualRevenue", "Employees", "CreatedDate",
                    "IsActive", "InternalNotes"])
        for i in range(n):
            w.writerow(["001G%07d" % i, "%s %d" % (r.choice(names), i),
                        "%d.%02d" % (r.randrange(10**8), r.randrange(100)),
                        r.randrange(1, 10**5),
                        "2024-%02d-%02dT%02d:%02d:00Z" % (r.randrange(1, 13), r.randrange(1, 29),
                                                          r.randrange(24), r.randrange(60)),
                        "true" if i % 3 else "false", "note %d" % i if i % 4 else ""])


def gen_scores(path, first, n):
    r = random.Random(first)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["key", "score", "grade", "email", "scored_on", "active"])
        for i in range(first, first + n):
            w.writerow(["FM-%06d" % i, "%d.%02d" % (r.randrange(1000), r.randrange(100)),
                        r.choice("ABCDE"), "user%d@example.com" % i if i % 5 else "",
                        "2025-%02d-%02d" % (r.randrange(1, 13), r.randrange(1, 29)),
                        "true" if i % 2 else "false"])


def csv_rows(paths):
    head, rows = None, set()
    for p in paths:
        with open(p, newline="") as f:
            rd = list(csv.reader(f))
        if not rd:
            continue
        head = rd[0]
        rows.update(tuple(x) for x in rd[1:])
    print(json.dumps(head))
    for x in sorted(rows):
        print(json.dumps(x, ensure_ascii=False))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "gen-accounts":
        gen_accounts(args[0], int(args[1]))
    elif cmd == "gen-scores":
        gen_scores(args[0], int(args[1]), int(args[2]))
    elif cmd == "csv-rows":
        csv_rows(args)
    elif cmd == "sf-records":
        recs = json.load(open(args[0]))["records"]
        out = [{k: v for k, v in r.items() if k not in SF_VOLATILE} for r in recs]
        out.sort(key=lambda r: json.dumps(r, sort_keys=True))
        for r in out:
            print(json.dumps(r, sort_keys=True, ensure_ascii=False))
    elif cmd == "sql-rows":
        d = json.load(open(args[0]))
        print(json.dumps(d["columns"]))
        for r in sorted(json.dumps(x, ensure_ascii=False) for x in d["rows"]):
            print(r)
    elif cmd == "count":
        try:
            # S3 reads by sfkemu's COPY are logged with "via": they are not
            # requests over HTTP, and faults do not apply to them.
            print(sum(1 for r in json.load(open(args[0]))["requests"] if not r.get("via")))
        except (ValueError, KeyError, OSError):
            print(0)
    elif cmd == "pending":
        try:
            d = json.load(open(args[0]))
            print(len(d["pending"] if isinstance(d, dict) else d))
        except (ValueError, KeyError, OSError):
            print(-1)
    elif cmd == "record":
        last = None
        try:
            for line in open(args[0]):
                try:
                    last = json.loads(line)
                except ValueError:
                    pass  # a torn last line (kill -9 mid-append) is legal
        except OSError:
            pass
        if last is None:
            print("none\t0\t")
        else:
            err = (last.get("error") or "").replace("\t", " ").replace("\n", " ")
            print("%s\t%d\t%s" % (last["status"], last.get("http_retries", 0), err))
    elif cmd == "delays":
        r = random.Random(int(args[0]))
        print(" ".join(str(r.randrange(int(args[2]) + 1)) for _ in range(int(args[1]))))
    elif cmd == "table":
        rows, faults, cells = [], [], {}
        for line in open(args[0]):
            p, f, res = line.rstrip("\n").split("\t")[:3]
            if p not in rows:
                rows.append(p)
            if f not in faults:
                faults.append(f)
            cells[(p, f)] = res
        w0 = max(len(p) for p in rows + ["pipeline"])
        ws = [max(len(f), 4) for f in faults]
        print("%-*s  %s" % (w0, "pipeline", "  ".join("%-*s" % (w, f) for w, f in zip(ws, faults))))
        for p in rows:
            print("%-*s  %s" % (w0, p, "  ".join("%-*s" % (w, cells.get((p, f), "-"))
                                                for w, f in zip(ws, faults))))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
