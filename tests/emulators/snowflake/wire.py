"""Wire texts of the Snowflake SQL API v2 (contracts/snowflake.md section 2.4).

The real service answers with Jackson's default pretty printer: two-space
indent, '"key" : value', arrays on one line ('[ {', '}, {', ' ]'), and the
`data` member written by its own raw writer: rows compact, joined by ",\n".
Partition pages (>= 1) are compact and hold only `data`.  The recordings are
reproduced byte for byte apart from handles, request ids and times.
"""
import json
import time
import uuid

SUCCESS_MESSAGE = "Statement executed successfully."
ASYNC_MESSAGE = ("Asynchronous execution in progress. Use provided query id to perform "
                 "query monitoring and management.")


class Raw:
    """Text inserted verbatim by pretty() (the `data` member)."""

    def __init__(self, text):
        self.text = text


def _scalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    return json.dumps(v, ensure_ascii=False)


def pretty(value, level=0):
    """Jackson DefaultPrettyPrinter text of value (dicts keep their order)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        if not value:
            return "{ }"
        pad = "  " * (level + 1)
        items = ['%s%s : %s' % (pad, _scalar(k), pretty(v, level + 1)) for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[ ]"
        # Arrays do not indent: objects inside keep the enclosing object's level.
        return "[ " + ", ".join(pretty(v, level) for v in value) + " ]"
    return _scalar(value)


def dumps_pretty(obj):
    return pretty(obj).encode("utf-8")


def data_rows(rows):
    """The `data` member text: '[ ["1","x"],\\n["2","y"] ]' or '[ ]'."""
    if not rows:
        return "[ ]"
    return "[ " + ",\n".join(row_json(r) for r in rows) + " ]"


def row_json(row):
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def partition_body(rows):
    """Partition >= 1: compact, data only (rec#056)."""
    return ('{"data":[' + ",\n".join(row_json(r) for r in rows) + "]}").encode("utf-8")


def now_ms():
    return int(time.time() * 1000)


def new_request_id():
    return str(uuid.uuid4())


def status_url(handle, request_id=None):
    url = "/api/v2/statements/" + handle
    return url + "?requestId=" + request_id if request_id else url


def link_header(handle, partition, count):
    """first / prev / next / last, each with a fresh requestId, ',' between."""
    def one(n, rel):
        return '<%s?requestId=%s&partition=%d>; rel="%s"' % (
            status_url(handle), new_request_id(), n, rel)
    links = [one(0, "first")]
    if partition > 0:
        links.append(one(partition - 1, "prev"))
    if partition < count - 1:
        links.append(one(partition + 1, "next"))
    links.append(one(count - 1, "last"))
    return ",".join(links)


# ---------------------------------------------------------------------------
# Bodies

def error_body(code, message, sql_state, handle):
    return {"code": code, "message": message, "sqlState": sql_state, "statementHandle": handle}


def auth_error_body(code, message):
    return {"code": code, "message": message}


def async_body(handle):
    return {"code": "333334", "message": ASYNC_MESSAGE, "statementHandle": handle,
            "statementStatusUrl": status_url(handle)}


def cancel_body(handle):
    # statementStatusUrl without "v2" here, as recorded (rec#073).
    return {"code": "000604", "sqlState": "57014", "message": "SQL execution canceled",
            "statementHandle": handle, "statementStatusUrl": "/api/statements/" + handle}


def result_body(meta, first_rows, handle, request_id, created_on, stats=None, handles=None):
    body = {"resultSetMetaData": meta, "data": Raw(data_rows(first_rows)), "code": "090001"}
    if handles is not None:
        body["statementHandles"] = list(handles)
    body.update({"statementStatusUrl": status_url(handle, request_id), "requestId": request_id,
                 "sqlState": "00000", "statementHandle": handle, "message": SUCCESS_MESSAGE,
                 "createdOn": created_on})
    if stats is not None:
        body["stats"] = {"numRowsInserted": stats.get("inserted", 0),
                         "numRowsDeleted": stats.get("deleted", 0),
                         "numRowsUpdated": stats.get("updated", 0),
                         "numDmlDuplicates": stats.get("duplicates", 0)}
    return body


# The member order of rowType entries varies on the real service (rec#018 vs
# rec#026); the emulator always uses the rec#026 / rec#087 order.
def row_type_entry(col):
    e = {"name": col.name}
    if col.ext_type:
        e["extTypeName"] = col.ext_type
    e.update({"database": col.database, "schema": col.schema, "table": col.table,
              "collation": None, "precision": col.precision, "scale": col.scale,
              "nullable": col.nullable, "byteLength": col.byte_length, "length": col.length,
              "type": col.type})
    return e
