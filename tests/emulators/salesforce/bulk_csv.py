"""CSV as Bulk API 2.0 writes and reads it (contract sections 4.3, 5.2, 5.5, 7).

Writing: RFC 4180 with the job's delimiter and line ending; every value is
double-quoted (the documented examples quote everything) except null, which
is an empty unquoted field (the contract leaves "" vs empty open; clients
must accept both, and this one keeps them apart).

Reading an upload is strict, as the service is: the line ending must be the
job's (else the whole job fails), values are not trimmed, and a quote in the
wrong place spoils that row only.
"""
import decimal
import re

import wire

DELIMITERS = {"BACKQUOTE": "`", "CARET": "^", "COMMA": ",", "PIPE": "|",
              "SEMICOLON": ";", "TAB": "\t"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
NULL_MARKER = "#N/A"            # ingest: set the field to null (empty = unchanged)
MAX_HEADER_CHARS = 32000


class LineEndingError(Exception):
    pass


def quote(text):
    return '"' + text.replace('"', '""') + '"'


def line(values, delim, quote_all=True):
    """One CSV record (no line ending).  None is an empty, unquoted field."""
    out = []
    for v in values:
        if v is None:
            out.append("")
        elif quote_all:
            out.append(quote(v))
        else:
            out.append(v)
    return delim.join(out)


# ---------------------------------------------------------------------------
# Query results: internal value -> CSV text

def plain_double(x):
    """Decimal text without an exponent ('35000000.0', '0.0001'): the
    contract says Bulk numbers are plain decimal text; the '.0' on whole
    numbers is what makes clients fall back from int to float."""
    text = format(decimal.Decimal(repr(float(x))), "f")
    return text if "." in text else text + ".0"


def result_value(field, v):
    if v is None:
        return None
    t = field.type
    if t == "datetime":
        return wire.format_datetime_z(v)          # 'Z' form in Bulk (section 7)
    if t in ("double", "currency", "percent"):
        return plain_double(v)
    if t == "int":
        return str(int(v))
    if t == "boolean":
        return "true" if v else "false"
    return str(v)


# ---------------------------------------------------------------------------
# Uploads: CSV text -> records

class Record:
    __slots__ = ("number", "cells", "error")

    def __init__(self, number, cells, error):
        self.number = number        # 1-based record number, header = 0
        self.cells = cells
        self.error = error          # text of a quoting problem, or None


def parse(text, delim, eol):
    """All records of an upload (header first).  Raises LineEndingError when
    a record ends with another line ending than the job's."""
    records = []
    i, n = 0, len(text)
    stops = re.compile("[%s\r\n]" % re.escape(delim))

    def at_end(k):
        return k >= n or text[k] == "\n" or text.startswith("\r\n", k)

    while i < n:
        cells, err = [], None
        while True:
            if i < n and text[i] == '"':
                i += 1
                buf = []
                while True:
                    j = text.find('"', i)
                    if j < 0:
                        buf.append(text[i:])
                        i = n
                        err = err or "unterminated quoted value"
                        break
                    buf.append(text[i:j])
                    if text.startswith('""', j):
                        buf.append('"')
                        i = j + 2
                        continue
                    i = j + 1
                    break
                cell = "".join(buf)
                if i < n and not text.startswith(delim, i) and not at_end(i):
                    # e.g. '"a" ,b': a space after the closing quote
                    err = err or "unexpected text after a closing quote"
                    while i < n and not text.startswith(delim, i) and not at_end(i):
                        i += 1
            else:
                j = i
                while True:
                    m = stops.search(text, j)
                    j = m.start() if m else n
                    # a lone CR (not before LF) is data in LF jobs
                    if j < n and text[j] == "\r" and not text.startswith("\r\n", j):
                        j += 1
                        continue
                    break
                cell = text[i:j]
                i = j
                if '"' in cell:
                    err = err or "a quote inside an unquoted value"
            cells.append(cell)
            if i < n and text.startswith(delim, i):
                i += len(delim)
                continue
            break
        if i < n:
            if text.startswith("\r\n", i):
                if eol != "\r\n":
                    raise LineEndingError()
                i += 2
            elif text[i] == "\n":
                if eol != "\n":
                    raise LineEndingError()
                i += 1
        if cells == [""] and err is None:
            continue                    # blank line
        records.append(Record(len(records), cells, err))
    return records
