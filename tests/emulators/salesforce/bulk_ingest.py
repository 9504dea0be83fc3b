"""Bulk API 2.0 ingest jobs: /services/data/vXX.X/jobs/ingest (contract section 5).

Create (Open, contentUrl without a leading slash) -> one PUT of CSV (201,
empty body) -> PATCH UploadComplete -> processing at the pace of
bulk_jobs.Settings -> JobComplete (row failures included) or Failed (a
job-level problem: line ending, unknown header field, ...).  Nothing is
written before the job's time comes.  Rows go through the same validation
as sObject Collections (composite.py) into the same store, so REST sees
them; an empty cell leaves a field unchanged, #N/A sets it null.
"""
import hashlib
import re

import bulk_csv
import bulk_jobs
import bulk_query
import composite
import rest
import wire
from bulk_jobs import BulkError
from composite import RecordError

CREATE_KEYS = ("object", "operation", "externalIdFieldName", "contentType", "columnDelimiter",
               "lineEnding", "assignmentRuleId")
OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
RECORDS_PER_BATCH = 10000       # internal batches: what DailyBulkApiBatches counts
LOCK_MSG = "unable to obtain exclusive access to this record"
MULTIPLE_PUT_MSG = ("Found multiple contents for job: <%s>, please 'Close' / 'Abort' / 'Delete' "
                    "the current Job then create a new Job and make sure you only do 'PUT' once "
                    "on a given Job.")


class RowResult:
    __slots__ = ("number", "cells", "sf_id", "created", "error")

    def __init__(self, number, cells, sf_id=None, created=False, error=None):
        self.number, self.cells, self.sf_id = number, cells, sf_id
        self.created, self.error = created, error


class IngestJob(bulk_jobs.Job):
    def __init__(self, bulk, operation, sobj, ext_field, version, user_id, delim_name, eol_name):
        super().__init__(bulk, "ingest", operation, sobj, version, user_id, delim_name, eol_name)
        self.ext_field = ext_field          # Field (upsert only)
        self.uploads = []                   # every PUT, for the control API
        self.data = None                    # the accepted upload (bytes)
        self.header_raw = None              # header line as uploaded
        self.results = None                 # [RowResult] once processed

    @property
    def failed(self):
        return sum(1 for r in self.results or () if r.error)

    def finish(self):
        try:
            self.process()
        except JobFailure as e:
            self.fail(str(e))
            return
        self.set_state("JobComplete")

    # -- processing ---------------------------------------------------------------
    def process(self):
        if self.data is None:
            raise JobFailure("InvalidBatch : No data was uploaded for this job")
        try:
            text = self.data.decode("utf-8")
        except UnicodeDecodeError:
            raise JobFailure("InvalidBatch : The uploaded data is not valid UTF-8")
        if text.startswith("\ufeff"):
            text = text[1:]
        try:
            records = bulk_csv.parse(text, self.delim, self.eol)
        except bulk_csv.LineEndingError:
            raise JobFailure("ClientInputError : LineEnding is invalid on user data. Current "
                             "LineEnding setting is %s" % self.eol_name)
        if not records:
            raise JobFailure("InvalidBatch : The uploaded data has no header row")
        self.header_raw = text.split(self.eol, 1)[0]
        if len(self.header_raw) > bulk_csv.MAX_HEADER_CHARS:
            raise JobFailure("InvalidBatch : The header row is longer than 32,000 characters")
        columns = self.resolve_header(records[0].cells)
        rows = records[1:]
        self.take_quota(len(rows))
        rowset = Rowset(self, columns, rows)
        # Rows are applied during whatever API call advances the job; their
        # change events must still say they came from the Bulk API.
        store, saved = self.bulk.store, self.bulk.store.origin
        store.origin = "com/salesforce/api/bulkapi/%s" % self.version
        try:
            self.results = [rowset.apply(rec) for rec in rows]
        finally:
            store.origin = saved

    def take_quota(self, n):
        lim = self.bulk.limits
        if lim.records.used() + n > lim.records.max:
            raise JobFailure("ExceededQuota : Max bulk api records (%d) per 24 hrs would be "
                             "exceeded" % lim.records.max)
        batches = max(1, -(-n // RECORDS_PER_BATCH))
        if lim.batches.used() + batches > lim.batches.max:
            raise JobFailure("ExceededQuota : Max bulk api batches (%d) per 24 hrs has been "
                             "reached" % lim.batches.max)
        lim.records.add(n)
        lim.batches.add(batches)

    def resolve_header(self, names):
        """[(kind, Field, ext Field)] per column; unknown names fail the job."""
        sobj, out, seen = self.sobj, [], set()
        for name in names:
            if name.lower() in seen:
                raise JobFailure("InvalidBatch : Duplicate field name: %s" % name)
            seen.add(name.lower())
            if self.operation in ("delete", "hardDelete") and name.lower() != "id":
                raise JobFailure("InvalidBatch : Field name not valid for %s: %s; the data "
                                 "must have an Id column only" % (self.operation, name))
            if name.lower() == "id":
                out.append(("id", sobj.field("Id"), None))
                continue
            if "." in name:
                rel_name, ext_name = name.split(".", 1)
                rel = sobj.relationships.get(rel_name.lower())
                target = self.bulk.schema.get(rel.reference_to) if rel else None
                ext = target.field(ext_name) if target else None
                if ext is None or not ext.external_id:
                    raise JobFailure("InvalidBatch : Field name not found : %s" % name)
                out.append(("ref", rel, ext))
                continue
            field = sobj.field(name)
            if field is None:
                raise JobFailure("InvalidBatch : Field name not found : %s" % name)
            out.append(("field", field, None))
        return out


class JobFailure(Exception):
    """A job-level failure: the job ends Failed with this errorMessage."""


class Rowset:
    """Applies the rows of one job.  Keys that appear twice in the job
    (external ids of an upsert, Ids of an update/delete) fail every row
    that carries them, as the service does within one batch."""

    def __init__(self, job, columns, rows):
        self.job = job
        self.columns = columns
        self.store = job.bulk.store
        self.coll = composite.Collections(self.store)
        self.table = self.store.tables[job.sobj.name]
        self.width = len(columns)
        self.key_col = None
        if job.operation == "upsert":
            self.key_col = next((i for i, c in enumerate(columns)
                                 if c[0] != "ref" and c[1] is job.ext_field), None)
        else:
            self.key_col = next((i for i, c in enumerate(columns) if c[0] == "id"), None)
        self.counts = {}
        for rec in rows:
            k = self.key(rec)
            if k is not None:
                self.counts[k] = self.counts.get(k, 0) + 1

    def key(self, rec):
        if self.key_col is None or rec.error or len(rec.cells) != self.width:
            return None
        cell = rec.cells[self.key_col]
        if cell in ("", bulk_csv.NULL_MARKER):
            return None
        if self.job.operation == "upsert" and self.job.ext_field.name != "Id":
            return self.table.index_key(self.job.ext_field, cell)
        return wire.canonical_id(cell) or cell

    def apply(self, rec):
        result = RowResult(rec.number, rec.cells)
        try:
            self._apply(rec, result)
        except RecordError as e:
            err = e.error
            fields = ",".join(err["fields"])
            result.error = "%s:%s:%s" % (err["statusCode"], err["message"],
                                         fields + " --" if fields else "--")
            result.created = False
        return result

    def _values(self, rec):
        """(row Id text or None, {field: raw value}) of a row."""
        row_id, values = None, {}
        for (kind, field, ext), cell in zip(self.columns, rec.cells):
            if cell == "":
                continue                       # empty: leave the field unchanged
            if kind == "id":
                row_id = cell
            elif kind == "ref":
                values[field.name] = None if cell == bulk_csv.NULL_MARKER else \
                    ("__by_ext_id", field, {ext.name: cell})
            else:
                values[field.name] = None if cell == bulk_csv.NULL_MARKER else \
                    typed(field, cell)
        return row_id, values

    def _lock(self, rec):
        """The UNABLE_TO_LOCK_ROW fault: keys are matched against the row's Id
        and External ID cells."""
        locks = self.job.bulk.settings.locks
        if not locks:
            return
        for (kind, field, _e), cell in zip(self.columns, rec.cells):
            if (kind == "id" or field.external_id) and locks.get(cell, 0) > 0:
                locks[cell] -= 1
                if not locks[cell]:
                    del locks[cell]
                raise RecordError("UNABLE_TO_LOCK_ROW", LOCK_MSG)

    def _apply(self, rec, result):
        job, coll, sobj = self.job, self.coll, self.job.sobj
        if rec.error:
            raise RecordError("INVALID_FIELD", "Failed to parse CSV: %s" % rec.error)
        if len(rec.cells) != self.width:
            raise RecordError("INVALID_FIELD", "Incorrect number of fields in the row: %d, the "
                              "header has %d" % (len(rec.cells), self.width))
        key = self.key(rec)
        row_id, values = self._values(rec)
        op = job.operation
        user = job.user_id
        if op == "upsert" and job.ext_field.name == "Id":
            op = "update" if row_id else "insert"
        if op == "insert":
            coll._check_object(sobj, "insert")
            if row_id:
                raise RecordError("INVALID_FIELD_FOR_INSERT_UPDATE",
                                  "cannot specify Id in an insert call", ["Id"])
            vals = coll._check_values(sobj, values, creating=True)
            coll._check_unique(sobj, vals, None)
            self._lock(rec)
            result.sf_id = self.store.insert(sobj.name, vals, user)
            result.created = True
            return
        if op == "upsert":
            coll._check_object(sobj, "upsert")
            ext = job.ext_field
            if row_id:
                raise RecordError("INVALID_FIELD", "Id field cannot be specified in an upsert "
                                  "call; use the external id field %s" % ext.name, ["Id"])
            if key is None:
                raise RecordError("MISSING_ARGUMENT", "%s not specified" % ext.name)
            if self.counts.get(key, 0) > 1:
                raise RecordError("DUPLICATE_VALUE", "Duplicate external id specified: %s"
                                  % rec.cells[self.key_col], [ext.name])
            matches = self.table.lookup(ext, values[ext.name])
            if len(matches) > 1:
                raise RecordError("DUPLICATE_EXTERNAL_ID", "%s: more than one record found for "
                                  "external id field: [%s]" % (ext.name, ", ".join(matches)),
                                  [ext.name])
            if matches:
                result.sf_id = matches[0]
                vals = coll._check_values(sobj, values, creating=False)
                coll._check_unique(sobj, vals, matches[0])
                self._lock(rec)
                self.store.update(sobj.name, matches[0], vals, user)
                return
            vals = coll._check_values(sobj, values, creating=True)
            coll._check_unique(sobj, vals, None)
            self._lock(rec)
            result.sf_id = self.store.insert(sobj.name, vals, user)
            result.created = True
            return
        # update, delete, hardDelete: by Id
        coll._check_object(sobj, "update" if op == "update" else "delete")
        if not row_id:
            raise RecordError("MISSING_ARGUMENT", "Id not specified in an %s call" % op)
        cid = coll._target(sobj, row_id)
        result.sf_id = cid
        if self.counts.get(key, 0) > 1:
            raise RecordError("DUPLICATE_VALUE", "Duplicate id in list: %s" % cid)
        if op == "update":
            vals = coll._check_values(sobj, values, creating=False)
            coll._check_unique(sobj, vals, cid)
            self._lock(rec)
            self.store.update(sobj.name, cid, vals, user)
        elif op == "delete":
            self._lock(rec)
            self.store.soft_delete(sobj.name, cid, user)
        else:
            self._lock(rec)
            self.store.hard_delete(sobj.name, cid)


_INT = re.compile(r"^-?\d+$")
_NUM = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_DT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$")


def typed(field, text):
    """CSV text -> internal value for the field's type (section 7's ingest
    column), or INVALID_TYPE_ON_FIELD_IN_RECORD."""
    t = field.type
    value = None
    if t == "boolean":
        value = {"true": True, "1": True, "false": False, "0": False}.get(text.lower())
    elif t == "int":
        value = int(text) if _INT.match(text) else None
    elif t in ("double", "currency", "percent"):
        value = float(text) if _NUM.match(text) else None
    elif t == "date":
        value = wire.parse_date_input(text)
    elif t == "datetime":
        value = wire.parse_datetime_input(text) if _DT.match(text) else None
    else:
        return text
    if value is None:
        raise RecordError("INVALID_TYPE_ON_FIELD_IN_RECORD", "%s: value not of required type: %s"
                          % (field.label, text), [field.name])
    return value


# ---------------------------------------------------------------------------
# HTTP

def info(job, full=True):
    out = job.head()
    if job.ext_field is not None:
        out["externalIdFieldName"] = job.ext_field.name
    out.update({"concurrencyMode": "Parallel", "contentType": "CSV",
                "apiVersion": float(job.version)})
    if full:
        out["jobType"] = "V2Ingest"
    out.update({"contentUrl": "services/data/v%s/jobs/ingest/%s/batches" % (job.version, job.id),
                "lineEnding": job.eol_name, "columnDelimiter": job.delim_name})
    if full:
        busy = job.processing_ms()
        out.update({"numberRecordsProcessed": len(job.results or ()),
                    "numberRecordsFailed": job.failed, "retries": 0,
                    "totalProcessingTime": busy, "apiActiveProcessingTime": busy * 2 // 5,
                    "apexProcessingTime": 0})
        if job.error_message is not None:
            out["errorMessage"] = job.error_message
    return out


def route(bulk, req, session, version, parts, method):
    if not parts:
        bulk_query.allow_methods(method, "GET", "POST")
        if method == "GET":
            return bulk.listing("ingest", version)
        return create(bulk, req, session, version)
    job = bulk.job("ingest", parts[0])
    if len(parts) == 1:
        bulk_query.allow_methods(method, "GET", "PATCH", "DELETE")
        if method == "GET":
            job.polls += 1
            job.advance()
            return rest.Response(200, info(job))
        if method == "PATCH":
            return change_state(req, job)
        if job.state not in ("UploadComplete",) + bulk_jobs.TERMINAL:
            raise BulkError(400, "INVALIDJOBSTATE",
                            "InvalidJobState : Cannot delete a job in state %s" % job.state)
        bulk.delete(job)
        return rest.Response(204)
    if len(parts) == 2 and parts[1] == "batches":
        bulk_query.allow_methods(method, "PUT")
        return upload(bulk, req, job)
    kind = parts[1].lower() if len(parts) == 2 else None
    if kind in ("successfulresults", "failedresults", "unprocessedrecords") and \
            (kind == "unprocessedrecords" or parts[1] in ("successfulResults", "failedResults")):
        bulk_query.allow_methods(method, "GET")
        return result_csv(job, kind)
    raise bulk_jobs.not_found()


def create(bulk, req, session, version):
    doc = bulk_query.json_body(req)
    bulk_query.check_keys(doc, CREATE_KEYS)
    name = doc.get("object")
    if not isinstance(name, str) or not name:
        raise BulkError(400, "INVALIDJOB", "InvalidJob : The object must be specified")
    sobj = bulk.schema.get(name)
    if sobj is None:
        raise BulkError(400, "INVALIDJOB", "InvalidJob : Unable to find object: %s" % name)
    op = doc.get("operation")
    if op not in OPERATIONS:
        raise BulkError(400, "INVALIDJOB", "InvalidJob : Invalid operation: %s" % op)
    ext = None
    ext_name = doc.get("externalIdFieldName")
    if op == "upsert":
        if not isinstance(ext_name, str) or not ext_name:
            raise BulkError(400, "INVALIDJOB", "InvalidJob : External ID was blank for %s. An "
                            "External ID must be specified for upsert." % sobj.name)
        ext = sobj.field(ext_name)
        if ext is None or not (ext.external_id or ext.name == "Id"):
            raise BulkError(400, "INVALIDJOB", "InvalidJob : Field name provided, %s is not an "
                            "External ID or indexed field for %s" % (ext_name, sobj.name))
    delim, eol = bulk_query.format_options(doc)
    lim = bulk.limits
    if lim.batches.used() >= lim.batches.max:
        raise BulkError(400, "LIMIT_EXCEEDED", "ExceededQuota : Max bulk api batches (%d) per "
                        "24 hrs has been reached" % lim.batches.max)
    job = IngestJob(bulk, op, sobj, ext, version, session.user_id, delim, eol)
    job.set_state("Open")
    bulk.add(job)
    return rest.Response(200, info(job, full=False))


def upload(bulk, req, job):
    ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    entry = {"seq": len(job.uploads) + 1, "content_type": req.headers.get("Content-Type"),
             "bytes": len(req.body), "data": req.body, "accepted": False}
    job.uploads.append(entry)
    if ctype != "text/csv":
        raise BulkError(415, "UNSUPPORTED_MEDIA_TYPE",
                        "Content type '%s' not supported" % (ctype or "none"))
    if job.data is not None:
        raise BulkError(400, "INVALIDJOBSTATE", MULTIPLE_PUT_MSG % job.id)
    if job.state != "Open":
        raise BulkError(400, "INVALIDJOBSTATE", "InvalidJobState : Data can only be uploaded to "
                        "a job in state Open; this job is %s" % job.state)
    limit = bulk.settings.upload_limit
    if len(req.body) > limit:
        raise BulkError(400, "INVALIDJOB", "InvalidJob : The upload of %d bytes exceeds the "
                        "limit of %d bytes per job; split the data over several jobs"
                        % (len(req.body), limit))
    job.data = req.body
    entry["accepted"] = True
    return rest.Response(201)


def change_state(req, job):
    doc = bulk_query.json_body(req)
    bulk_query.check_keys(doc, ("state",))
    want = doc.get("state")
    if want == "UploadComplete":
        if job.state != "Open":
            raise BulkError(400, "INVALIDJOBSTATE", "InvalidJobState : Job is in state %s, "
                            "only an Open job can be closed" % job.state)
        job.set_state("UploadComplete")
    elif want == "Aborted":
        if job.state in bulk_jobs.TERMINAL:
            word = "Completed" if job.state == "JobComplete" else job.state
            raise BulkError(400, "INVALIDJOBSTATE", "Aborting already %s Job not allowed" % word)
        job.set_state("Aborted")
    else:
        raise BulkError(400, "INVALIDJOBSTATE", "InvalidJobState : Invalid state: %s" % want)
    return rest.Response(200, info(job, full=False))


def result_csv(job, kind):
    """successfulResults / failedResults / unprocessedrecords (section 5.5):
    sf__ columns quoted, then the header as uploaded; values quoted.  The
    row order is deliberately not the upload order (as on the service)."""
    if job.state not in bulk_jobs.TERMINAL:
        raise BulkError(400, "INVALIDJOBSTATE", "InvalidJobState : Results are available once "
                        "the job is JobComplete, Failed or Aborted; it is %s" % job.state)
    delim, eol = job.delim, job.eol
    if kind == "unprocessedrecords":
        if job.results is None and job.data is not None:
            return csv_response(job.data)          # nothing ran: the upload, verbatim
        return csv_response((job.header_raw + eol).encode() if job.header_raw else b"")
    failed = kind == "failedresults"
    first = ["sf__Id", "sf__Error" if failed else "sf__Created"]
    head = bulk_csv.line(first, delim)
    if job.header_raw is not None:
        head += delim + job.header_raw
    rows = [r for r in job.results or () if bool(r.error) == failed]
    rows.sort(key=lambda r: hashlib.md5(("%s:%d" % (job.id, r.number)).encode()).digest())
    lines = [head]
    for r in rows:
        second = r.error if failed else ("true" if r.created else "false")
        lines.append(bulk_csv.line([r.sf_id or "", second] + list(r.cells), delim))
    return csv_response("".join(x + eol for x in lines).encode("utf-8"))


def csv_response(body):
    return rest.Response(200, body, content_type="text/csv; charset=UTF-8")
