"""Wire-level encodings shared by the emulator modules.

Salesforce IDs (15/18 characters), the REST datetime text, Java's rendering of
doubles, and a JSON encoder that can emit such numbers verbatim.  Everything
here follows contracts/salesforce.md sections 0 and 7.
"""
import calendar
import datetime
import functools
import json
import re
import time

# ---------------------------------------------------------------------------
# IDs

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_CHARS = re.compile(r"^[0-9A-Za-z]+$")


def id_suffix(id15):
    """The 3-character case-safe suffix: one character per block of five,
    whose 5 bits say which characters of the block are upper-case letters."""
    out = []
    for block in range(3):
        bits = 0
        for i, ch in enumerate(id15[block * 5:block * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_SUFFIX[bits])
    return "".join(out)


def make_id(prefix, number, pod="5g"):
    """An 18-character ID: key prefix (3) + pod (2) + a base62 counter (10).
    Base62 digits are in ASCII order, so IDs sort like their counters."""
    digits = []
    n = number
    for _ in range(10):
        n, r = divmod(n, 62)
        digits.append(BASE62[r])
    if n:
        raise ValueError("id counter overflow")
    id15 = prefix + pod + "".join(reversed(digits))
    return id15 + id_suffix(id15)


def canonical_id(text):
    """The canonical 18-character form of a 15- or 18-character ID, or None
    when the text is not an ID.  For 18 characters the suffix restores the
    case of the first 15 (that is what makes the long form case-safe), so
    an ID whose suffix disagrees with its body is malformed."""
    if not isinstance(text, str) or len(text) not in (15, 18) or not _ID_CHARS.match(text):
        return None
    if len(text) == 15:
        return text + id_suffix(text)
    body, suffix = text[:15], text[15:].upper()
    chars = list(body)
    for block in range(3):
        pos = _SUFFIX.find(suffix[block])
        if pos < 0:
            return None
        for i in range(5):
            c = chars[block * 5 + i]
            if c.isalpha():
                chars[block * 5 + i] = c.upper() if pos & (1 << i) else c.lower()
    fixed = "".join(chars)
    if id_suffix(fixed) != suffix:
        return None
    return fixed + suffix


def key_prefix(id18):
    return id18[:3]


# ---------------------------------------------------------------------------
# Time.  Internally a datetime is an int of epoch milliseconds (UTC); a date
# is the text 'YYYY-MM-DD'.

def now_ms():
    return int(time.time() * 1000)


@functools.lru_cache(maxsize=65536)
def format_datetime(ms):
    """REST form: '2023-05-06T04:10:41.000+0000' (contract section 7)."""
    secs, msec = divmod(int(ms), 1000)
    t = time.gmtime(secs)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000" % (
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, msec)


def format_datetime_z(ms):
    """CometD/Bulk form with a 'Z'."""
    return format_datetime(ms)[:-5] + "Z"


def ms_from_parts(year, month, day, hour=0, minute=0, second=0, msec=0, offset_minutes=0):
    """Epoch ms of a civil time; raises ValueError for impossible dates."""
    datetime.datetime(year, month, day, hour, minute, second)  # validates ranges
    secs = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    return (secs - offset_minutes * 60) * 1000 + msec


_DT_INPUT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3})\d*)?"
    r"(Z|[+-]\d{2}:?\d{2})?$")
_DATE_INPUT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_datetime_input(text):
    """A datetime value written by a client (JSON body or control API).
    Accepts ...Z, ...+hh:mm, ...+hhmm, with or without milliseconds; a value
    without a zone is read as UTC (Salesforce does the same for the API user
    with a UTC locale).  Returns epoch ms or None when malformed."""
    m = _DT_INPUT.match(text) if isinstance(text, str) else None
    if not m:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    offset = 0
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 60 + int(digits[2:]))
    msec = int((frac or "0").ljust(3, "0"))
    try:
        return ms_from_parts(int(y), int(mo), int(d), int(h), int(mi), int(s), msec, offset)
    except ValueError:
        return None


def parse_date_input(text):
    m = _DATE_INPUT.match(text) if isinstance(text, str) else None
    if not m:
        return None
    try:
        datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    return text


def date_of_ms(ms):
    t = time.gmtime(ms // 1000)
    return "%04d-%02d-%02d" % (t.tm_year, t.tm_mon, t.tm_mday)


def http_date(ms):
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ms // 1000))


# ---------------------------------------------------------------------------
# Numbers.  The real service is Java: a double is printed by
# Double.toString, e.g. 360.0, 0.0, 3.5E7, 1.0E-4.  Clients must cope with
# that (contract section 7), so the emulator prints doubles the same way.

@functools.lru_cache(maxsize=65536)
def java_double(x):
    x = float(x)
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("not a finite double")
    if x == 0:
        return "-0.0" if str(x).startswith("-") else "0.0"
    sign = "-" if x < 0 else ""
    r = repr(abs(x))  # shortest round-trip digits, like Java's algorithm
    if "e" in r:
        mant, exp = r.split("e")
        exp = int(exp)
    else:
        mant, exp = r, 0
    if "." in mant:
        ip, fp = mant.split(".")
    else:
        ip, fp = mant, ""
    digits = (ip + fp).lstrip("0")
    # decimal exponent of the first significant digit
    lead_zeros = len(ip + fp) - len((ip + fp).lstrip("0"))
    point = len(ip) + exp - lead_zeros  # digits before the decimal point
    digits = digits.rstrip("0") or "0"
    mag = point - 1
    if -3 <= mag < 7:
        if point <= 0:
            return sign + "0." + "0" * (-point) + digits
        if point >= len(digits):
            return sign + digits + "0" * (point - len(digits)) + ".0"
        return sign + digits[:point] + "." + digits[point:]
    frac = digits[1:] or "0"
    return "%s%s.%sE%d" % (sign, digits[0], frac, mag)


# JSON with verbatim numbers: render_double() returns a marker string that
# dumps() replaces by the bare number text after the C encoder has run.
_MARK = "\x00D"
_MARK_RE = re.compile(r'"\\u0000D([-0-9.E]+)\\u0000"')


def render_double(x):
    x = float(x)
    if x == 0 or 1e-3 <= abs(x) < 1e7:
        return x          # here Python's float repr is Java's text already
    return _MARK + java_double(x) + "\x00"


def dumps(obj):
    """Compact UTF-8 JSON bytes, with render_double() markers unwrapped."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if "\\u0000D" in text:
        text = _MARK_RE.sub(r"\1", text)
    return text.encode("utf-8")


# ---------------------------------------------------------------------------
# Error bodies (contract section 0).

def rest_error(error_code, message, fields=None):
    """The REST error envelope: a JSON array of {message, errorCode[, fields]}."""
    item = {"message": message, "errorCode": error_code}
    if fields is not None:
        item["fields"] = fields
    return [item]


def record_error(status_code, message, fields=None):
    """A Collections per-record error: uses statusCode, not errorCode."""
    return {"statusCode": status_code, "message": message, "fields": list(fields or [])}
