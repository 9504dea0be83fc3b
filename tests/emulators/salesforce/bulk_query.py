"""Bulk API 2.0 query jobs: /services/data/vXX.X/jobs/query (contract section 4).

Create answers 200 with state UploadComplete; the job then runs at the pace
of bulk_jobs.Settings.  The SOQL runs when the job completes (what a slow
real job sees is the data of that moment), through soql.py, and the rows
become CSV pages: header row on every page, SELECT order, the job's
delimiter and line ending, Sforce-Locator (opaque; literal "null" on the
last page) and Sforce-NumberOfRecords.  Bulk refuses what REST accepts but
it cannot do: COUNT(), OFFSET, compound (address/location) fields.
"""
import base64
import json
import re

import bulk_csv
import bulk_jobs
import rest
import soql
from bulk_jobs import BulkError

CREATE_KEYS = ("operation", "query", "contentType", "columnDelimiter", "lineEnding")
STATUS_WORDS = {"UploadComplete": "UPLOAD_COMPLETE", "InProgress": "IN_PROGRESS",
                "Failed": "FAILED", "Aborted": "ABORTED", "JobComplete": "JOB_COMPLETE"}
COMPOUND_MSG = "Selecting compound data not supported in Bulk Query"


class QueryJob(bulk_jobs.Job):
    def __init__(self, bulk, operation, compiled, version, user_id, delim_name, eol_name):
        super().__init__(bulk, "query", operation, compiled.sobj, version, user_id,
                         delim_name, eol_name)
        self.compiled = compiled
        self.query_text = compiled.text
        self.forced_failure = None           # errorMessage a control fault imposed
        self.lines = None                    # CSV records of the results (no line ending)
        self.header = None
        self.result_bytes = 0
        self.locators = {}                   # token -> offset
        self.locator_epoch = 0
        self.results_purged = False

    def finish(self):
        if self.forced_failure is not None:
            self.fail(self.forced_failure)
            return
        store = self.bulk.store
        rows = self.compiled.run(store, self.operation == "queryAll")
        cols = self.compiled.columns
        delim = self.delim
        self.header = bulk_csv.line([h for h, _f, _g in cols], delim)
        self.lines = [bulk_csv.line([bulk_csv.result_value(f, get(r, store))
                                     for _h, f, get in cols], delim) for r in rows]
        eol = len(self.eol)
        self.result_bytes = sum(len(x.encode("utf-8")) + eol for x in self.lines)
        self.bulk.limits.storage_kb.add(-(-self.result_bytes // 1024))
        self.set_state("JobComplete")

    def locator_for(self, offset):
        for token, off in self.locators.items():
            if off == offset:
                return token
        # Looks like the real ones (base64 text, no padding); opaque to clients.
        raw = "%d:%s:%d" % (self.locator_epoch, self.id[:15], offset)
        token = base64.b64encode(raw.encode()).decode().rstrip("=")
        self.locators[token] = offset
        return token


def info(job, full=True):
    out = job.head()
    out.update({"concurrencyMode": "Parallel", "contentType": "CSV",
                "apiVersion": float(job.version)})
    if full:
        out["jobType"] = "V2Query"
    out.update({"lineEnding": job.eol_name, "columnDelimiter": job.delim_name})
    if full:
        out.update({"numberRecordsProcessed": len(job.lines) if job.lines is not None else 0,
                    "retries": 0, "totalProcessingTime": job.processing_ms(),
                    "isPkChunkingSupported": True})
        if job.error_message is not None:
            out["errorMessage"] = job.error_message
    return out


def allow_methods(method, *allowed):
    if method not in allowed:
        raise BulkError(405, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed. Allowed are %s"
                        % (method, ",".join(allowed)))


def json_body(req):
    """The JSON object of a job request, or the errors the platform gives."""
    ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise BulkError(415, "UNSUPPORTED_MEDIA_TYPE",
                        "Content type '%s' not supported" % (ctype or "none"))
    try:
        doc = json.loads(req.body.decode("utf-8") if req.body else "")
    except (UnicodeDecodeError, ValueError) as e:
        raise BulkError(400, "JSON_PARSER_ERROR", "Unexpected request body: %s" % e)
    if not isinstance(doc, dict):
        raise BulkError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return doc


def check_keys(doc, known):
    for key in doc:
        if key not in known:
            raise BulkError(400, "JSON_PARSER_ERROR", 'Unrecognized field "%s"' % key)


def format_options(doc):
    """(delimiter name, line ending name) after checking them and contentType."""
    if doc.get("contentType", "CSV") != "CSV":
        raise BulkError(400, "INVALIDJOB", "InvalidJob : Unsupported content type: %s"
                        % doc.get("contentType"))
    delim = doc.get("columnDelimiter", "COMMA")
    if delim not in bulk_csv.DELIMITERS:
        raise BulkError(400, "INVALIDJOB", "InvalidJob : Invalid column delimiter: %s" % delim)
    eol = doc.get("lineEnding", "LF")
    if eol not in bulk_csv.LINE_ENDINGS:
        raise BulkError(400, "INVALIDJOB", "InvalidJob : Invalid line ending: %s" % eol)
    return delim, eol


# ---------------------------------------------------------------------------

def route(bulk, req, session, version, parts, method):
    if not parts:
        allow_methods(method, "GET", "POST")
        if method == "GET":
            return bulk.listing("query", version)
        return create(bulk, req, session, version)
    job = bulk.job("query", parts[0])
    if len(parts) == 1:
        allow_methods(method, "GET", "PATCH", "DELETE")
        if method == "GET":
            job.polls += 1
            job.advance()
            return rest.Response(200, info(job))
        if method == "PATCH":
            return abort(req, job)
        if job.state not in ("UploadComplete",) + bulk_jobs.TERMINAL:
            raise BulkError(400, "INVALIDJOBSTATE",
                            "InvalidJobState : Cannot delete a job in state %s" % job.state)
        bulk.delete(job)
        return rest.Response(204)
    if len(parts) == 2 and parts[1] == "results":
        allow_methods(method, "GET")
        return results(bulk, req, job, version)
    raise bulk_jobs.not_found()


def create(bulk, req, session, version):
    doc = json_body(req)
    check_keys(doc, CREATE_KEYS)
    operation = doc.get("operation")
    if operation not in ("query", "queryAll"):
        raise BulkError(400, "INVALIDJOB", "InvalidJob : Invalid operation: %s" % operation)
    text = doc.get("query")
    if not isinstance(text, str) or not text.strip():
        raise BulkError(400, "INVALIDJOB", "InvalidJob : The query must be specified")
    delim, eol = format_options(doc)
    lim = bulk.limits
    if lim.query_jobs.used() >= lim.query_jobs.max:
        raise BulkError(400, "LIMIT_EXCEEDED", "Max bulk v2 query jobs (%d) per 24 hrs has been "
                        "reached" % lim.query_jobs.max)
    if lim.storage_kb.used() >= lim.storage_kb.max:
        raise BulkError(400, "LIMIT_EXCEEDED", "Max bulk v2 query result size stored (%d) kb per "
                        "24 hrs has been exceeded" % lim.storage_kb.max)
    try:
        compiled = soql.Query(text, bulk.schema)
    except soql.SoqlError as e:
        raise BulkError(400, e.error_code, e.message)
    refuse_unsupported(compiled)
    lim.query_jobs.add(1)
    job = QueryJob(bulk, operation, compiled, version, session.user_id, delim, eol)
    s = bulk.settings
    if s.fail_next_query_jobs > 0:
        s.fail_next_query_jobs -= 1
        job.forced_failure = s.fail_message
    job.set_state("UploadComplete")
    bulk.add(job)
    return rest.Response(200, info(job, full=False))


def refuse_unsupported(compiled):
    """What Bulk query cannot do though REST SOQL can (section 4.1).  The
    compound message is verbatim; the other texts are the emulator's."""
    if compiled.count_only or compiled.count_field:
        raise BulkError(400, "API_ERROR", "Aggregate queries are not supported by Bulk Query")
    if compiled.has_offset:
        raise BulkError(400, "API_ERROR", "OFFSET is not supported by Bulk Query")
    for _h, field, _g in compiled.columns:
        if field.type in ("address", "location"):
            raise BulkError(400, "API_ERROR", COMPOUND_MSG)


def abort(req, job):
    doc = json_body(req)
    check_keys(doc, ("state",))
    if doc.get("state") != "Aborted":
        raise BulkError(400, "INVALIDJOBSTATE", "InvalidJobState : A query job can only be "
                        "changed to state Aborted")
    if job.state in bulk_jobs.TERMINAL:
        word = "Completed" if job.state == "JobComplete" else job.state
        raise BulkError(400, "INVALIDJOBSTATE", "Aborting already %s Job not allowed" % word)
    job.set_state("Aborted")
    return rest.Response(200, info(job, full=False))


def results(bulk, req, job, version):
    if version != job.version:
        raise BulkError(409, "API_ERROR", "The job was created with API version %s; get its "
                        "results with the same version" % job.version)
    if job.state != "JobComplete":
        raise BulkError(400, "JOB_NOT_COMPLETE", "can only download query results of "
                        "successfully completed bulk job with status: JOB_COMPLETE. Current "
                        "status: %s" % STATUS_WORDS[job.state])
    if job.results_purged:
        raise bulk_jobs.not_found()
    accept = (req.headers.get("Accept") or "*/*").lower()
    if not any(t in accept for t in ("text/csv", "text/*", "*/*")):
        raise BulkError(406, "NOT_ACCEPTABLE", "Results are available as text/csv only")
    raw_max = (req.query.get("maxRecords") or [None])[0]
    size = bulk.settings.default_max_records
    if raw_max is not None:
        if not re.fullmatch(r"\d{1,10}", raw_max) or int(raw_max) < 1:
            raise BulkError(400, "INVALIDJOB", "InvalidJob : maxRecords must be a positive "
                            "integer: %s" % raw_max)
        size = int(raw_max)
    locator = (req.query.get("locator") or [None])[0]
    offset = 0
    if locator is not None:
        offset = job.locators.get(locator)
        if offset is None:
            raise BulkError(400, "INVALID_QUERY_LOCATOR", "Invalid query locator: %s" % locator)
    page = job.lines[offset:offset + size]
    end = offset + len(page)
    nxt = job.locator_for(end) if end < len(job.lines) else "null"
    eol = job.eol
    body = "".join(x + eol for x in [job.header] + page).encode("utf-8")
    return rest.Response(200, body, [("Sforce-Locator", nxt),
                                     ("Sforce-NumberOfRecords", str(len(page)))],
                         content_type="text/csv; charset=UTF-8")

