"""Bulk API 2.0: what query and ingest jobs share (contract sections 4, 5, 8).

The job registry, the routing of /services/data/vXX.X/jobs/..., the pace at
which jobs move through their states, and the daily Bulk limits.  Query and
ingest specifics live in bulk_query.py and bulk_ingest.py.

Pace.  A job that is UploadComplete finishes (JobComplete or Failed) once
`complete_after_seconds` of emulator clock have passed since then, OR once
it has been polled (GET job info) `complete_after_polls` times, whichever
comes first (None disables a rule).  Before that a poll shows InProgress.
Jobs are advanced lazily, on every authenticated API call, so data an
ingest job writes becomes visible to REST once its time has come even if
nobody polls it.  Settings apply to running jobs too.
"""
import itertools

import bulk_csv
import rest
import wire

NOT_FOUND = ("NOT_FOUND", "The requested resource does not exist")
TERMINAL = ("JobComplete", "Failed", "Aborted")


class BulkError(Exception):
    """A whole call fails: HTTP status + REST error array (section 0)."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.response = rest.error(status, code, message)


def not_found():
    return BulkError(404, *NOT_FOUND)


class Settings:
    def __init__(self, args):
        self.args = args
        self.reset()

    def reset(self):
        a = self.args
        self.complete_after_seconds = a.bulk_complete_seconds
        self.complete_after_polls = a.bulk_complete_polls if a.bulk_complete_polls > 0 else None
        self.default_max_records = a.bulk_max_records
        self.upload_limit = a.bulk_upload_limit
        self.fail_next_query_jobs = 0
        self.fail_message = DEFAULT_FAIL_MESSAGE
        self.locks = {}                 # key text -> remaining failures (UNABLE_TO_LOCK_ROW)

    def describe(self):
        return {"complete_after_seconds": self.complete_after_seconds,
                "complete_after_polls": self.complete_after_polls,
                "default_max_records": self.default_max_records,
                "upload_limit_bytes": self.upload_limit,
                "fail_next_query_jobs": self.fail_next_query_jobs,
                "fail_message": self.fail_message,
                "lock_rows": dict(self.locks)}


DEFAULT_FAIL_MESSAGE = ("InternalServerError : Retried more than 15 times. Consider adding "
                        "filters to reduce the size of the query.")


class Limits:
    """The Bulk daily allocations, rolling 24 h on the emulator clock, with
    rest.Budget doing the bookkeeping.  Query result storage is counted in
    KB: its error message quotes the KB limit (1,000,000,000, section 4.1)
    while /limits shows MB (976562)."""

    def __init__(self, clock):
        self.clock = clock
        self.query_jobs = rest.Budget(clock, 10000)
        self.storage_kb = rest.Budget(clock, 1000000000)
        self.batches = rest.Budget(clock, 15000)
        self.records = rest.Budget(clock, 150000000)

    def reset(self):
        self.__init__(self.clock)

    def table(self):
        return {"query_jobs": self.query_jobs, "storage_kb": self.storage_kb,
                "batches": self.batches, "records": self.records}

    def describe(self):
        return {k: {"used": b.used(), "max": b.max} for k, b in self.table().items()}

    def set(self, doc):
        for key, b in self.table().items():
            spec = doc.get(key)
            if isinstance(spec, dict):
                b.set(spec.get("used"), spec.get("max"))

    def rest_limits(self):
        """The /limits entries (section 2.3)."""
        def entry(b, div=1):
            return {"Max": b.max // div, "Remaining": max(b.max - b.used(), 0) // div}
        return {"DailyBulkApiBatches": entry(self.batches),
                "DailyBulkV2QueryFileStorageMB": entry(self.storage_kb, 1024),
                "DailyBulkV2QueryJobs": entry(self.query_jobs)}


class Job:
    """State common to both kinds.  Times are emulator-clock ms."""
    _serial = itertools.count(1)

    def __init__(self, bulk, kind, operation, sobj, version, user_id, delim_name, eol_name):
        self.bulk = bulk
        self.kind = kind                     # "query" | "ingest"
        self.id = wire.make_id("750", bulk.id_base + next(self._serial))
        self.operation = operation
        self.sobj = sobj
        self.version = version               # text, e.g. "62.0"
        self.user_id = user_id
        self.delim_name, self.eol_name = delim_name, eol_name
        now = bulk.clock.stamp_ms()
        self.created_ms = self.modstamp_ms = now
        self.state = None
        self.ready_ms = None                 # when it became UploadComplete
        self.finished_ms = None
        self.polls = 0
        self.error_message = None

    @property
    def delim(self):
        return bulk_csv.DELIMITERS[self.delim_name]

    @property
    def eol(self):
        return bulk_csv.LINE_ENDINGS[self.eol_name]

    def set_state(self, state):
        self.state = state
        self.modstamp_ms = self.bulk.clock.stamp_ms()
        if state == "UploadComplete":
            self.ready_ms = self.bulk.clock.now_ms()
            self.polls = 0
        if state in TERMINAL:
            self.finished_ms = self.bulk.clock.now_ms()

    def due(self):
        """Has its processing time come (see the module comment)?"""
        s = self.bulk.settings
        elapsed = self.bulk.clock.now_ms() - self.ready_ms
        if s.complete_after_seconds is not None and elapsed >= s.complete_after_seconds * 1000:
            return True
        return s.complete_after_polls is not None and self.polls >= s.complete_after_polls

    def advance(self):
        if self.state not in ("UploadComplete", "InProgress"):
            return
        if self.due():
            self.finish()
        elif self.polls or self.bulk.clock.now_ms() > self.ready_ms:
            if self.state != "InProgress":
                self.set_state("InProgress")

    def fail(self, message):
        self.error_message = message
        self.set_state("Failed")

    def processing_ms(self):
        if self.ready_ms is None:
            return 0
        end = self.finished_ms if self.finished_ms is not None else self.bulk.clock.now_ms()
        return max(int(end - self.ready_ms), 0)

    def head(self):
        """The first fields of every job info body, in the real order."""
        return {"id": self.id, "operation": self.operation, "object": self.sobj.name,
                "createdById": self.user_id,
                "createdDate": wire.format_datetime(self.created_ms),
                "systemModstamp": wire.format_datetime(self.modstamp_ms),
                "state": self.state}

    def finish(self):
        raise NotImplementedError


class BulkApi:
    def __init__(self, store, clock, settings, kinds):
        self.kinds = kinds                    # {"query": module, "ingest": module}
        self.store = store
        self.schema = store.schema
        self.clock = clock
        self.settings = settings
        self.limits = Limits(clock)
        self.jobs = {}                        # id -> Job (insertion order = age)
        # Ids stay unique across resets: a job from before a reset is a 404.
        self.id_base = (wire.now_ms() // 1000) % (62 ** 6) * 1000

    def reset(self):
        self.jobs.clear()
        self.settings.reset()
        self.limits.reset()

    def tick(self):
        for job in list(self.jobs.values()):
            job.advance()

    def job(self, kind, raw_id):
        cid = wire.canonical_id(raw_id)
        job = self.jobs.get(cid) if cid else None
        if job is None or job.kind != kind:
            raise not_found()
        return job

    def add(self, job):
        self.jobs[job.id] = job
        return job

    def delete(self, job):
        self.jobs.pop(job.id, None)

    # -- routing ---------------------------------------------------------------
    def handle(self, req, session, version, parts, method):
        """parts: the path after /jobs, e.g. ["query", "750...", "results"]."""
        try:
            api = self.kinds.get(parts[0]) if parts else None
            # Ingest came with API 41.0, query jobs with 47.0 (sections 4, 5).
            if api is None or float(version) < (47.0 if parts[0] == "query" else 41.0):
                raise not_found()
            return api.route(self, req, session, version, parts[1:], method)
        except BulkError as e:
            return e.response

    def listing(self, kind, version):
        """GET /jobs/query and /jobs/ingest: one page with every job."""
        mod = self.kinds[kind]
        records = [mod.info(j, full=True) for j in self.jobs.values() if j.kind == kind]
        return rest.Response(200, {"done": True, "records": records, "nextRecordsUrl": None})
