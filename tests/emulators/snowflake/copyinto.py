"""COPY INTO <table> from an external S3 stage (contract section 4.3),
reading the objects of the in-process S3 emulator (sfkemu.py --s3).

  COPY INTO [db.][schema.]table
    FROM @[db.][schema.]stage[/path] | '@stage/path' | 's3://bucket/path'
         [CREDENTIALS = (AWS_KEY_ID='..' AWS_SECRET_KEY='..' [AWS_TOKEN='..'])]
         [STORAGE_INTEGRATION = x]                    (the last two: URL form only)
    [FILES = ('name', ...)] | [PATTERN = 'regex']
    [FILE_FORMAT = (TYPE = CSV [FIELD_DELIMITER = ','] [FIELD_OPTIONALLY_ENCLOSED_BY = '"'|NONE]
        [SKIP_HEADER = n] [COMPRESSION = AUTO|GZIP|NONE] [NULL_IF = ('\\N', ...)]
        [EMPTY_FIELD_AS_NULL = TRUE|FALSE] [ERROR_ON_COLUMN_COUNT_MISMATCH = TRUE|FALSE]
        [ESCAPE_UNENCLOSED_FIELD = '\\'|NONE] [ESCAPE = NONE|'c'] [TRIM_SPACE = bool]
        [PARSE_HEADER = bool] [SKIP_BLANK_LINES = bool] [RECORD_DELIMITER = '\n']
        [ENCODING = UTF8] [DATE_FORMAT|TIME_FORMAT|TIMESTAMP_FORMAT = AUTO])]
    [ON_ERROR = ABORT_STATEMENT | CONTINUE | SKIP_FILE | SKIP_FILE_n | 'SKIP_FILE_n%']
    [PURGE = bool] [FORCE = bool] [MATCH_BY_COLUMN_NAME = CASE_SENSITIVE|CASE_INSENSITIVE|NONE]

Columns are loaded by position (or by header name with MATCH_BY_COLUMN_NAME
and PARSE_HEADER = TRUE).  Values go through the same conversion as every
other write (sftypes.normalize).  Load metadata (table, file, ETag) lives in
the SQLite store, so it rolls back with the statement or transaction;
TRUNCATE TABLE forgets it, as on Snowflake.
"""
import gzip
import math
import re
import sqlite3
import zlib

import errors
import sftypes as T
import stage as stg
from catalog import quote
from errors import SqlError
from sftypes import Col

RESULT_COLS = ("file", "status", "rows_parsed", "rows_loaded", "error_limit", "errors_seen",
               "first_error", "first_error_line", "first_error_character",
               "first_error_column_name")
NO_FILES = "Copy executed with 0 files processed."
ABORT_HINT = ("  If you would like to continue loading when an error is encountered, use other "
              "values such as 'SKIP_FILE' or 'CONTINUE' for the ON_ERROR option. For more "
              "information on loading options, please run 'info loading_data' in a SQL client.")
FORMAT_DEFAULTS = {"TYPE": "CSV", "FIELD_DELIMITER": ",", "RECORD_DELIMITER": "\n",
                   "FIELD_OPTIONALLY_ENCLOSED_BY": "NONE", "SKIP_HEADER": "0",
                   "COMPRESSION": "AUTO", "NULL_IF": ["\\N"], "EMPTY_FIELD_AS_NULL": "TRUE",
                   "ERROR_ON_COLUMN_COUNT_MISMATCH": "TRUE", "ESCAPE_UNENCLOSED_FIELD": "\\",
                   "ESCAPE": "NONE", "TRIM_SPACE": "FALSE", "PARSE_HEADER": "FALSE",
                   "SKIP_BLANK_LINES": "FALSE", "ENCODING": "UTF8", "DATE_FORMAT": "AUTO",
                   "TIME_FORMAT": "AUTO", "TIMESTAMP_FORMAT": "AUTO", "BINARY_FORMAT": "HEX",
                   "REPLACE_INVALID_CHARACTERS": "FALSE", "FILE_EXTENSION": "NONE",
                   "VALIDATE_UTF8": "TRUE"}
COPY_OPTIONS = ("FILES", "PATTERN", "FILE_FORMAT", "ON_ERROR", "PURGE", "FORCE",
                "MATCH_BY_COLUMN_NAME", "CREDENTIALS", "STORAGE_INTEGRATION", "ENCRYPTION")
_ESC = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0"}


class RowError(Exception):
    def __init__(self, code, state, message, char, column):
        super().__init__(message)
        self.code, self.state, self.message = code, state, message
        self.char, self.column = char, column


def _bool(v, name):
    s = str(v).upper()
    if s in ("TRUE", "1"):
        return True
    if s in ("FALSE", "0"):
        return False
    raise errors.compilation("invalid value '%s' for property '%s'" % (v, name))


def check_format(ff):
    for name, value in ff.items():
        if name == "FORMAT_NAME":
            raise errors.unsupported("FORMAT_NAME (named file formats)")
        if name not in FORMAT_DEFAULTS:
            raise errors.compilation("invalid property '%s' for 'FILE_FORMAT'" % name)
    if str(ff.get("TYPE", "CSV")).upper() != "CSV":
        raise errors.unsupported("FILE_FORMAT TYPE = %s (only CSV)" % ff.get("TYPE"))
    for name, allowed in (("RECORD_DELIMITER", ("\n", "\\n")), ("ENCODING", ("UTF8", "UTF-8")),
                          ("DATE_FORMAT", ("AUTO",)), ("TIME_FORMAT", ("AUTO",)),
                          ("TIMESTAMP_FORMAT", ("AUTO",)), ("BINARY_FORMAT", ("HEX",)),
                          ("REPLACE_INVALID_CHARACTERS", ("FALSE",))):
        if name in ff and str(ff[name]).upper() not in allowed and ff[name] not in allowed:
            raise errors.unsupported("FILE_FORMAT %s = %s" % (name, ff[name]))
    comp = str(ff.get("COMPRESSION", "AUTO")).upper()
    if comp not in ("AUTO", "GZIP", "NONE"):
        raise errors.unsupported("COMPRESSION = %s" % comp)


class Format:
    def __init__(self, ff):
        check_format(ff)
        o = dict(FORMAT_DEFAULTS)
        o.update(ff)
        self.delim = o["FIELD_DELIMITER"]
        if len(self.delim) != 1:
            raise errors.unsupported("A FIELD_DELIMITER of more than one character")
        enc = o["FIELD_OPTIONALLY_ENCLOSED_BY"]
        self.enclosed = None if str(enc).upper() == "NONE" else enc
        esc = o["ESCAPE_UNENCLOSED_FIELD"]
        self.escape_unenclosed = None if str(esc).upper() == "NONE" else esc
        esc = o["ESCAPE"]
        self.escape = None if str(esc).upper() == "NONE" else esc
        self.skip_header = int(o["SKIP_HEADER"])
        self.compression = str(o["COMPRESSION"]).upper()
        nul = o["NULL_IF"]
        self.null_if = nul if isinstance(nul, list) else [nul]
        self.empty_as_null = _bool(o["EMPTY_FIELD_AS_NULL"], "EMPTY_FIELD_AS_NULL")
        self.count_mismatch = _bool(o["ERROR_ON_COLUMN_COUNT_MISMATCH"],
                                    "ERROR_ON_COLUMN_COUNT_MISMATCH")
        self.trim = _bool(o["TRIM_SPACE"], "TRIM_SPACE")
        self.parse_header = _bool(o["PARSE_HEADER"], "PARSE_HEADER")
        self.skip_blank = _bool(o["SKIP_BLANK_LINES"], "SKIP_BLANK_LINES")
        if self.parse_header and self.skip_header:
            raise errors.compilation("SKIP_HEADER and PARSE_HEADER cannot be used together.")


# ---------------------------------------------------------------------------
# CSV records: (line, [(text, enclosed, character)], parse error or None)

def records(text, fmt):
    d, q = fmt.delim, fmt.enclosed
    i, n, line, line_start = 0, len(text), 1, 0
    while i < n:
        rec_line, fields, err = line, [], None
        while True:
            char = i - line_start + 1
            if q and i < n and text[i] == q:
                i += 1
                buf = []
                closed = False
                while i < n:
                    c = text[i]
                    if fmt.escape and c == fmt.escape and i + 1 < n and text[i + 1] in (
                            q, fmt.escape):
                        buf.append(text[i + 1])
                        i += 2
                        continue
                    if c == q:
                        if i + 1 < n and text[i + 1] == q:
                            buf.append(q)
                            i += 2
                            continue
                        i += 1
                        closed = True
                        break
                    if c == "\n":
                        line, line_start = line + 1, i + 1
                    buf.append(c)
                    i += 1
                fields.append(("".join(buf), True, char))
                if not closed:
                    err = ("100069", "22000", "End of record reached while expected to parse "
                           "column", char, len(fields))
                    break
                if i < n and text[i] == d:
                    i += 1
                    continue
                if i >= n or text[i] == "\n" or text.startswith("\r\n", i):
                    i += 2 if text.startswith("\r\n", i) else 1
                    if i <= n:
                        line, line_start = line + 1, i
                    break
                err = ("100066", "22000", "Found character '%s' instead of field delimiter "
                       "'%s'" % (text[i], d), i - line_start + 1, len(fields))
                j = text.find("\n", i)
                i = n if j < 0 else j + 1
                line, line_start = line + 1, i
                break
            buf = []
            while i < n and text[i] != d and text[i] != "\n":
                c = text[i]
                if fmt.escape_unenclosed and c == fmt.escape_unenclosed and i + 1 < n:
                    if text[i + 1] == "\n":
                        line, line_start = line + 1, i + 2
                    buf.append(c + text[i + 1])
                    i += 2
                    continue
                buf.append(c)
                i += 1
            raw = "".join(buf)
            at_end = i >= n or text[i] == "\n"
            if at_end and raw.endswith("\r"):
                raw = raw[:-1]
            fields.append((raw, False, char))
            if i < n and text[i] == d:
                i += 1
                continue
            i += 1
            line, line_start = line + 1, i
            break
        yield rec_line, fields, err


def unescape(raw, esc):
    if not esc or esc not in raw:
        return raw
    out, k = [], 0
    while k < len(raw):
        c = raw[k]
        if c == esc and k + 1 < len(raw):
            out.append(_ESC.get(raw[k + 1], raw[k + 1]))
            k += 2
        else:
            out.append(c)
            k += 1
    return "".join(out)


# ---------------------------------------------------------------------------
# COPY

def parse_source(self, toks, i):
    """({"kind": "internal"} | {"kind": "stage", "stage": Stage, "path": str} |
    {"kind": "url", "url": str}, next i)."""
    t = toks[i]
    if t.kind == "str":
        text = t.value
        if text.startswith("s3://") or text.startswith("S3://"):
            return {"kind": "url", "url": "s3://" + text[5:]}, i + 1
        if not text.startswith("@"):
            raise errors.unsupported("COPY INTO from %s" % t.text)
        name, _, path = text[1:].partition("/")
        return _stage_ref(self, name, _split_name(name), path), i + 1
    if t.text == "(":
        raise errors.unsupported("COPY INTO with a transformation (FROM (SELECT ...))")
    if t.text != "@":
        raise errors.syntax(t.text, t.line, t.col)
    j = i + 1
    raw = "@"
    while j < len(toks) and toks[j].pos == toks[j - 1].pos + len(toks[j - 1].text):
        raw += toks[j].text
        j += 1
    name_toks, k = [], i + 1
    while k < j and toks[k].text != "/":
        name_toks.append(toks[k])
        k += 1
    name_text, _, path = raw[1:].partition("/")
    parts = [x.value for x in name_toks if x.text != "."]
    return _stage_ref(self, name_text, parts, path), j


def _split_name(text):
    parts = []
    for p in re.findall(r'"(?:[^"]|"")*"|[^.]+', text):
        parts.append(p[1:-1].replace('""', '"') if p.startswith('"') else p.upper())
    return parts


def _stage_ref(self, name_text, parts, path):
    if name_text.startswith("~") or name_text.startswith("%"):
        return {"kind": "internal"}
    st = stg.lookup(self, parts)
    if st.url is None:
        return {"kind": "internal"}
    return {"kind": "stage", "stage": st, "path": path}


def do_copy(self, toks, types, rows):
    from ddl import _name, _status
    if not toks[1].is_kw("INTO"):
        raise errors.syntax(toks[1].text, toks[1].line, toks[1].col)
    parts, i = _name(toks, 2)
    table = self.resolve_table(parts, verb="COPY", kind="table")
    self._require_warehouse()
    if i < len(toks) and toks[i].text == "(":
        raise errors.unsupported("COPY INTO t (column list) without a transformation")
    if i >= len(toks) or not toks[i].is_kw("FROM"):
        t = toks[min(i, len(toks) - 1)]
        raise errors.syntax(t.text if i < len(toks) else "<EOF>", t.line, t.col)
    src, i = parse_source(self, toks, i + 1)
    opts, i = stg.parse_options(toks, i)
    for name in opts:
        if name not in COPY_OPTIONS:
            raise errors.unsupported("The COPY option %s" % name)
    if src["kind"] == "internal":
        return _status(NO_FILES)
    ff = {}
    if src["kind"] == "stage":
        st = src["stage"]
        if "CREDENTIALS" in opts or "STORAGE_INTEGRATION" in opts:
            raise errors.compilation("CREDENTIALS and STORAGE_INTEGRATION cannot be given for "
                                     "a named stage.")
        bucket, base = st.bucket, st.prefix
        rel_path = src["path"]
        creds, integration = st.credentials, st.integration
        ff.update(st.file_format)
        merged = dict(st.copy_options)
        merged.update(opts)
        opts = merged
        location = "s3://%s/%s" % (bucket, base)
    else:
        bucket, rel_path = stg.split_url(src["url"])
        base = ""
        creds, integration = opts.get("CREDENTIALS"), opts.get("STORAGE_INTEGRATION")
        location = "s3://%s/" % bucket
    ff_copy = opts.get("FILE_FORMAT") or {}
    if not isinstance(ff_copy, dict):
        raise errors.unsupported("FILE_FORMAT = <name> (give the options in parentheses)")
    ff.update(ff_copy)
    fmt = Format(ff)
    on_error = str(opts.get("ON_ERROR", "ABORT_STATEMENT")).upper()
    m = re.fullmatch(r"SKIP_FILE(?:_(\d+)(%?))?|CONTINUE|ABORT_STATEMENT", on_error)
    if not m:
        raise errors.compilation("invalid value '%s' for property 'ON_ERROR'" % on_error)
    purge = _bool(opts.get("PURGE", "FALSE"), "PURGE")
    force = _bool(opts.get("FORCE", "FALSE"), "FORCE")
    match = str(opts.get("MATCH_BY_COLUMN_NAME", "NONE")).upper()
    if match not in ("NONE", "CASE_SENSITIVE", "CASE_INSENSITIVE"):
        raise errors.compilation("invalid value '%s' for property 'MATCH_BY_COLUMN_NAME'"
                                 % match)
    if match != "NONE" and not fmt.parse_header:
        raise errors.compilation("MATCH_BY_COLUMN_NAME with CSV requires the file format "
                                 "option PARSE_HEADER = TRUE.")
    files, pattern = opts.get("FILES"), opts.get("PATTERN")
    if files is not None and pattern is not None:
        raise errors.unsupported("FILES and PATTERN together")
    svc = getattr(self, "s3", None)
    if svc is None:
        raise stage_failure("Access Denied (Status Code: 403; Error Code: AccessDenied)",
                            "no S3 store: start sfkemu.py with --s3")
    if not integration:
        if not creds:
            raise stage_failure("Access Denied (Status Code: 403; Error Code: AccessDenied)")
        err = svc.check_credentials(creds.get("AWS_KEY_ID", ""), creds.get("AWS_SECRET_KEY", ""),
                                    creds.get("AWS_TOKEN"))
        if err is not None:
            raise stage_failure("%s (Status Code: %d; Error Code: %s)"
                                % (err.message, err.status, err.code))
    if svc.store.bucket(bucket) is None:
        raise stage_failure("The specified bucket does not exist (Status Code: 404; Error "
                            "Code: NoSuchBucket)")
    prefix = base + rel_path
    missing = []
    if files is not None:
        if not isinstance(files, list):
            files = [files]
        chosen = []
        for name in files:
            key = prefix + ("" if not prefix or prefix.endswith("/") else "/") + name
            o = svc.store.get(bucket, key)
            if o is None:
                missing.append(key)
            else:
                chosen.append(o)
    else:
        chosen = [o for o in svc.store.list(bucket, prefix) if not o.key.endswith("/")]
        if pattern is not None:
            try:
                rx = re.compile(pattern)
            except re.error:
                raise errors.compilation("invalid regular expression '%s' for PATTERN" % pattern)
            chosen = [o for o in chosen if rx.fullmatch(o.key[len(base):])]
    _log_s3(svc, "GET", bucket, prefix, "list")
    _history_table(self)
    uid = _table_uid(self, table)
    if not force:
        done = dict(self.conn.execute("SELECT file, etag FROM sfk_load_history WHERE "
                                      "table_uid = ?", (uid,)).fetchall())
        chosen = [o for o in chosen if done.get(o.key) != o.etag]
    if not chosen and not missing:
        return _status(NO_FILES)
    results = []
    for key in missing:
        url = "s3://%s/%s" % (bucket, key)
        msg = "Remote file '%s' was not found. There are several potential causes. The file " \
              "might not exist. The required credentials may be missing or invalid. If you " \
              "are running a copy command, please make sure files are not deleted when they " \
              "are being loaded or files are not being loaded into two different tables " \
              "concurrently with auto purge option." % url
        if on_error == "ABORT_STATEMENT":
            raise SqlError("100052", "22000", msg)
        results.append([url, "LOAD_FAILED", 0, 0, 1, 1, msg, None, None, None])
    loaded_keys = []
    for o in sorted(chosen, key=lambda o: o.key):
        _log_s3(svc, "GET", bucket, o.key, "get")
        row, data_rows = load_file(self, table, fmt, o, bucket, base, on_error, m, match)
        if data_rows:
            cols = [c for c in table.columns]
            sql = "INSERT INTO %s (%s) VALUES (%s)" % (
                quote(table.physical), ", ".join(quote(c.name) for c in cols),
                ", ".join("?" * len(cols)))
            self.funcs.error = None
            try:
                self.conn.executemany(sql, data_rows)
            except sqlite3.Error as e:
                raise self._map_error(e, sql)
        results.append(row)
        if row[1] in ("LOADED", "PARTIALLY_LOADED"):
            self.conn.execute("INSERT OR REPLACE INTO sfk_load_history (table_uid, file, etag) "
                              "VALUES (?, ?, ?)", (uid, o.key, o.etag))
            loaded_keys.append(o.key)
    if purge:
        for key in loaded_keys:
            svc.store.delete(bucket, key)
            _log_s3(svc, "DELETE", bucket, key, "purge")
    del location
    return result(sorted(results, key=lambda r: r[0]))


def result(rows):
    from sqlengine import Result
    text = dict(byte_length=16777216, length=16777216)
    cols = []
    for name in RESULT_COLS:
        if name in ("rows_parsed", "rows_loaded", "error_limit", "errors_seen"):
            cols.append(Col(name, T.number(19, 0), False))
        elif name in ("first_error_line", "first_error_character"):
            cols.append(Col(name, T.number(19, 0), True))
        else:
            cols.append(Col(name, T.TEXT, name not in ("file", "status"), **text))
    out = [[None if v is None else str(v) for v in r] for r in rows]
    return Result(cols, out)


def load_file(self, table, fmt, obj, bucket, base, on_error, m, match):
    """(result row, [values per loaded row]); raises SqlError on ABORT_STATEMENT."""
    url = "s3://%s/%s" % (bucket, obj.key)
    shown = obj.key[len(base):]
    data = obj.data
    gz = data[:2] == b"\x1f\x8b"
    limit_for = _limit(on_error, m)
    if fmt.compression == "GZIP" or (fmt.compression == "AUTO" and gz):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            msg = "Invalid data encountered during decompression for file: '%s',compression " \
                  "type used: 'GZIP', cause: 'Not in GZIP format'" % shown
            if on_error == "ABORT_STATEMENT":
                raise SqlError("100076", "22000", msg)
            return [url, "LOAD_FAILED", 0, 0, limit_for(0), 1, msg, None, None, None], []
    text = data.decode("utf-8", "surrogateescape")
    tname = table.name
    ncols = len(table.columns)
    parsed = errors_seen = 0
    first = None
    loaded = []
    header_map = None
    skip = fmt.skip_header
    for line, fields, perr in records(text, fmt):
        if skip > 0:
            skip -= 1
            continue
        if fmt.parse_header and header_map is None:
            header_map = _header_map(table, [f[0] for f in fields], match)
            continue
        if fmt.skip_blank and len(fields) == 1 and fields[0][0] == "" and not fields[0][1]:
            continue
        parsed += 1
        try:
            if perr is not None:
                code, state, msg, char, pos = perr
                raise RowError(code, state, msg, char, _colname(table, min(pos, ncols)))
            values = convert_row(table, fmt, fields, header_map)
            loaded.append(values)
        except RowError as e:
            errors_seen += 1
            if first is None:
                first = (e, line, parsed)
            if on_error == "ABORT_STATEMENT":
                raise SqlError(e.code, e.state, "%s\n  File '%s', line %d, character %d\n  Row "
                               "%d, column %s\n%s" % (e.message, shown, line, e.char, parsed,
                                                      e.column, ABORT_HINT))
    limit = limit_for(parsed)
    if errors_seen == 0:
        status = "LOADED"
    elif on_error == "CONTINUE":
        status = "PARTIALLY_LOADED" if loaded else "LOAD_FAILED"
    elif errors_seen >= limit:
        status, loaded = "LOAD_FAILED", []
    else:
        status = "PARTIALLY_LOADED" if loaded else "LOAD_FAILED"
    row = [url, status, parsed, len(loaded), limit, errors_seen]
    if first is None:
        row += [None, None, None, None]
    else:
        e, line, _ = first
        row += [e.message, line, e.char, e.column]
    return row, loaded


def _limit(on_error, m):
    def limit(parsed):
        if on_error == "CONTINUE":
            return parsed
        if on_error in ("ABORT_STATEMENT", "SKIP_FILE"):
            return 1
        n, pct = int(m.group(1)), m.group(2)
        return max(1, math.ceil(parsed * n / 100.0)) if pct else n
    return limit


def _colname(table, pos):
    pos = max(1, pos)
    c = table.columns[pos - 1] if pos <= len(table.columns) else None
    return '"%s"["%s":%d]' % (table.name, c.name if c else "", pos) if c else \
        '"%s"[%d]' % (table.name, pos)


def _header_map(table, names, match):
    """For each table column, the index of its field (or None)."""
    out = []
    for c in table.columns:
        idx = None
        for k, n in enumerate(names):
            if (n == c.name) if match == "CASE_SENSITIVE" else (n.upper() == c.name.upper()):
                idx = k
                break
        out.append(idx)
    return out


def convert_row(table, fmt, fields, header_map):
    ncols = len(table.columns)
    if header_map is None and len(fields) != ncols and fmt.count_mismatch:
        raise RowError("100080", "22000", "Number of columns in file (%d) does not match that "
                       "of the corresponding table (%d), use file format option "
                       "error_on_column_count_mismatch=false to ignore this error"
                       % (len(fields), ncols), fields[0][2], _colname(table, min(len(fields) + 1,
                                                                              ncols)))
    out = []
    for pos, col in enumerate(table.columns, 1):
        idx = header_map[pos - 1] if header_map is not None else pos - 1
        if idx is None or idx >= len(fields):
            value, char = None, fields[-1][2] if fields else 1
        else:
            raw, enclosed, char = fields[idx]
            value = field_value(raw, enclosed, fmt)
        colname = _colname(table, pos)
        if isinstance(value, str) and any("\udc80" <= ch <= "\udcff" for ch in value):
            bad = value.encode("utf-8", "surrogateescape")
            raise RowError("100069", "22P02", "Invalid UTF8 detected in string '0x%s'"
                           % bad.hex().upper()[:64], char, colname)
        if value is None:
            if not col.nullable:
                raise RowError("100072", "22000", "NULL result in a non-nullable column",
                               char, colname)
            out.append(None)
            continue
        t = col.sftype
        try:
            if t.kind in ("VARIANT", "OBJECT", "ARRAY"):
                import json
                try:
                    doc = json.loads(value)
                except ValueError:
                    raise SqlError("100069", "22P02", "Error parsing JSON: %s" % value[:60])
                value = T.JSON_MARK + json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
            if t.kind == "VARCHAR" and len(value) > t.length:
                raise SqlError("100074", "22001", "User character length limit (%d) exceeded "
                               "by string '%s'" % (t.length, value[:60]))
            out.append(T.normalize(t, value))
        except SqlError as e:
            raise RowError(e.code, e.sql_state, e.message, char, colname)
    return out


def field_value(raw, enclosed, fmt):
    if not enclosed and fmt.trim:
        raw = raw.strip()
    if raw in fmt.null_if:
        return None
    if enclosed:
        return raw
    if raw == "":
        return None if fmt.empty_as_null else ""
    return unescape(raw, fmt.escape_unenclosed)


def stage_failure(cause, hint=None):
    return SqlError("091003", "22000", "Failure using stage area. Cause: [%s]%s"
                    % (cause, " (%s)" % hint if hint else ""))


# ---------------------------------------------------------------------------
# load metadata (transactional: it lives in the SQLite store)

def _history_table(self):
    self.conn.execute("CREATE TABLE IF NOT EXISTS sfk_load_history (table_uid INTEGER, file "
                      "TEXT, etag TEXT, PRIMARY KEY (table_uid, file))")


def _table_uid(self, table):
    uid = getattr(table, "load_uid", None)
    if uid is None:
        self.load_uids = getattr(self, "load_uids", 0) + 1
        uid = table.load_uid = self.load_uids
    return uid


def forget_loads(self, table):
    """TRUNCATE TABLE removes the table's load metadata (Snowflake does)."""
    uid = getattr(table, "load_uid", None)
    if uid is not None:
        _history_table(self)
        self.conn.execute("DELETE FROM sfk_load_history WHERE table_uid = ?", (uid,))


def _log_s3(svc, method, bucket, key, what):
    import time
    svc.log.add({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "method": method,
                 "path": "/%s/%s" % (bucket, key), "bucket": bucket, "key": key,
                 "via": "sfkemu-copy:" + what, "status": 200, "fault": None, "error": None})
