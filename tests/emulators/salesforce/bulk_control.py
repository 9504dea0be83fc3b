"""The control API's /__control/bulk resources (see tests/emulators/README).

Tests use them to set the pace of Bulk jobs, to make jobs fail, to expire
result locators, to make rows fail with UNABLE_TO_LOCK_ROW, to move the
daily Bulk limits, and to see exactly what a client uploaded and what each
row became.
"""
import base64

import bulk_ingest
import bulk_query


def handle(bulk, method, parts, doc, error):
    """(JSON answer) for /__control/bulk/<parts>; error(status, text) makes
    the exception the control API turns into an error answer."""
    if not parts:
        if method == "POST":
            configure(bulk, doc)
        return {"settings": bulk.settings.describe(), "limits": bulk.limits.describe(),
                "jobs": [summary(j) for j in bulk.jobs.values()]}
    if parts == ["lock-rows"]:
        locks = bulk.settings.locks
        if method == "POST":
            keys = doc.get("keys")
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise error(400, "keys: a list of Id or External ID values")
            times = int(doc.get("times", 1))
            for k in keys:
                locks[k] = locks.get(k, 0) + times
        elif method == "DELETE":
            locks.clear()
        return {"lock_rows": dict(locks)}
    if parts[0] != "jobs":
        raise error(404, "no such control resource: /__control/bulk/" + "/".join(parts))
    if len(parts) == 1:
        return {"jobs": [summary(j) for j in bulk.jobs.values()]}
    job = bulk.jobs.get(parts[1])
    if job is None:
        raise error(404, "no job %s" % parts[1])
    if len(parts) == 2:
        return detail(job)
    if method != "POST" or len(parts) != 3:
        raise error(405, "POST /__control/bulk/jobs/{id}/{action}")
    action = parts[2]
    if action == "expire-locators" and job.kind == "query":
        job.locators.clear()
        job.locator_epoch += 1
    elif action == "purge-results" and job.kind == "query":
        job.results_purged = True
    elif action == "fail":
        if job.state in ("JobComplete", "Failed", "Aborted"):
            raise error(409, "job %s is already %s" % (job.id, job.state))
        job.fail(doc.get("error_message") or bulk.settings.fail_message)
    elif action == "complete":
        if job.state not in ("UploadComplete", "InProgress"):
            raise error(409, "job %s is %s, not UploadComplete/InProgress" % (job.id, job.state))
        job.finish()
    else:
        raise error(404, "no action %s for a %s job" % (action, job.kind))
    return detail(job)


def configure(bulk, doc):
    s = bulk.settings
    if "complete_after_seconds" in doc:
        v = doc["complete_after_seconds"]
        s.complete_after_seconds = None if v is None else float(v)
    if "complete_after_polls" in doc:
        v = doc["complete_after_polls"]
        s.complete_after_polls = None if v is None else int(v)
    if "default_max_records" in doc:
        s.default_max_records = int(doc["default_max_records"])
    if "upload_limit_bytes" in doc:
        s.upload_limit = int(doc["upload_limit_bytes"])
    if "fail_next_query_jobs" in doc:
        s.fail_next_query_jobs = int(doc["fail_next_query_jobs"])
    if "fail_message" in doc:
        s.fail_message = str(doc["fail_message"])
    if isinstance(doc.get("limits"), dict):
        bulk.limits.set(doc["limits"])


def summary(job):
    return {"id": job.id, "kind": job.kind, "object": job.sobj.name,
            "operation": job.operation, "state": job.state, "api_version": job.version,
            "polls": job.polls}


def detail(job):
    out = summary(job)
    mod = bulk_query if job.kind == "query" else bulk_ingest
    out["info"] = mod.info(job, full=True)
    if job.kind == "query":
        out.update({"query": job.query_text,
                    "result_rows": None if job.lines is None else len(job.lines),
                    "result_bytes": job.result_bytes, "locators": dict(job.locators),
                    "results_purged": job.results_purged})
        return out
    out["uploads"] = [{"seq": u["seq"], "content_type": u["content_type"], "bytes": u["bytes"],
                       "accepted": u["accepted"],
                       "csv": u["data"].decode("utf-8", "replace"),
                       "base64": base64.b64encode(u["data"]).decode()}
                      for u in job.uploads]
    out["rows"] = None if job.results is None else [
        {"record": r.number, "cells": list(r.cells), "sf__Id": r.sf_id,
         "sf__Created": r.created, "sf__Error": r.error} for r in job.results]
    return out
