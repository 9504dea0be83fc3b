"""Snowflake data types: declarations, stored form, wire text, bindings.

Three forms of a value:
  stored   what SQLite holds (normalize()): NUMBER scale 0 int, scaled NUMBER
           and FLOAT float, BOOLEAN 1/0, DATE 'YYYY-MM-DD', TIME
           'HH:MM:SS.fffffffff', TIMESTAMP_NTZ/LTZ 'YYYY-MM-DD HH:MM:SS.fffffffff'
           (LTZ in UTC), TIMESTAMP_TZ the wall clock plus ' +HH:MM' (text order
           is time order only within one offset), VARIANT/OBJECT/ARRAY compact
           JSON, BINARY bytes.
  wire     the jsonv2 cell text (render(); contracts/snowflake.md 2.5).
  binding  the SQL API bindings' text (decode_binding(); section 2.6).
The session time zone is UTC (the emulated account's TIMEZONE).
Scaled NUMBERs are held as doubles: about 15 significant digits survive.
"""
import datetime
import decimal
import json
import math
import re

from errors import SqlError

JSON_MARK = "\x00J"        # prefix of a text that is already VARIANT JSON (PARSE_JSON)
BIG_MARK = "\x00N"         # prefix of a NUMBER beyond 64 bits
MAX_TEXT = 16777216
EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
# NUMBER(38, s) needs more than the default 28 digits; contexts are per
# thread, so pass this one explicitly.
DEC = decimal.Context(prec=80)


class SfType:
    def __init__(self, kind, precision=None, scale=None, length=None):
        self.kind, self.precision, self.scale, self.length = kind, precision, scale, length

    def sql(self):
        k = self.kind
        if k == "NUMBER":
            return "NUMBER(%d,%d)" % (self.precision, self.scale)
        if k in ("VARCHAR", "BINARY"):
            return "%s(%d)" % (k, self.length)
        if k == "TIME" or k.startswith("TIMESTAMP"):
            return "%s(%d)" % (k, self.scale)
        return k

    def wire(self):
        return {"NUMBER": "fixed", "FLOAT": "real", "VARCHAR": "text"}.get(
            self.kind, self.kind.lower())

    def data_type(self):
        """INFORMATION_SCHEMA.COLUMNS.DATA_TYPE."""
        return "TEXT" if self.kind == "VARCHAR" else self.kind

    def affinity(self):
        if self.kind == "NUMBER":
            return "INTEGER" if self.scale == 0 else "REAL"
        return {"FLOAT": "REAL", "BOOLEAN": "INTEGER", "BINARY": "BLOB"}.get(self.kind, "TEXT")

    def __eq__(self, other):
        return isinstance(other, SfType) and self.sql() == other.sql()

    def __repr__(self):
        return self.sql()


def number(p=38, s=0):
    return SfType("NUMBER", p, s)


def varchar(n=MAX_TEXT):
    return SfType("VARCHAR", length=n)


TEXT = varchar()
FLOAT = SfType("FLOAT")
BOOLEAN = SfType("BOOLEAN")
DATE = SfType("DATE")
VARIANT = SfType("VARIANT")

_SYNONYMS = {
    "NUMBER": "NUMBER", "DECIMAL": "NUMBER", "NUMERIC": "NUMBER", "DEC": "NUMBER",
    "INT": "INT", "INTEGER": "INT", "BIGINT": "INT", "SMALLINT": "INT", "TINYINT": "INT",
    "BYTEINT": "INT",
    "FLOAT": "FLOAT", "FLOAT4": "FLOAT", "FLOAT8": "FLOAT", "DOUBLE": "FLOAT", "REAL": "FLOAT",
    "VARCHAR": "VARCHAR", "STRING": "VARCHAR", "TEXT": "VARCHAR", "NVARCHAR": "VARCHAR",
    "NVARCHAR2": "VARCHAR", "CHAR": "CHAR", "CHARACTER": "CHAR", "NCHAR": "CHAR",
    "BINARY": "BINARY", "VARBINARY": "BINARY", "BOOLEAN": "BOOLEAN", "DATE": "DATE",
    "TIME": "TIME", "DATETIME": "TIMESTAMP_NTZ", "TIMESTAMP": "TIMESTAMP_NTZ",
    "TIMESTAMP_NTZ": "TIMESTAMP_NTZ", "TIMESTAMP_LTZ": "TIMESTAMP_LTZ",
    "TIMESTAMP_TZ": "TIMESTAMP_TZ", "VARIANT": "VARIANT", "OBJECT": "OBJECT", "ARRAY": "ARRAY",
}


def make_type(name, args):
    """SfType of a declaration: name as written (upper-cased) and its integer
    arguments; None when the emulator does not know the type."""
    kind = _SYNONYMS.get(name.upper())
    if kind is None:
        return None
    if kind == "NUMBER":
        p = args[0] if args else 38
        s = args[1] if len(args) > 1 else 0
        if not 1 <= p <= 38 or not 0 <= s <= p:
            raise SqlError("001003", "42000", "SQL compilation error:\nInvalid precision/scale "
                           "for NUMBER(%d,%d)." % (p, s))  # wording invented
        return number(p, s)
    if kind == "INT":
        return number(38, 0)
    if kind == "VARCHAR":
        return varchar(args[0] if args else MAX_TEXT)
    if kind == "CHAR":
        return varchar(args[0] if args else 1)
    if kind == "BINARY":
        return SfType("BINARY", length=args[0] if args else 8388608)
    if kind == "TIME" or kind.startswith("TIMESTAMP"):
        return SfType(kind, 0, args[0] if args else 9)
    return SfType(kind)


# ---------------------------------------------------------------------------
# Column metadata for rowType

class Col:
    def __init__(self, name, sftype, nullable=True, origin=None, byte_length=None, length=None):
        self.name = name
        self.sftype = sftype
        self.nullable = nullable
        self.database, self.schema, self.table = origin or ("", "", "")
        self.ext_type = None
        self.type = sftype.wire()
        t = sftype
        self.precision = self.scale = self.length = self.byte_length = None
        if t.kind == "NUMBER":
            self.precision, self.scale = t.precision, t.scale
        elif t.kind == "TIME" or t.kind.startswith("TIMESTAMP"):
            self.precision, self.scale = 0, t.scale
        elif t.kind == "VARCHAR":
            self.length = length if length is not None else t.length
            self.byte_length = byte_length if byte_length is not None else min(
                4 * t.length, 4 * MAX_TEXT)
        elif t.kind == "BINARY":
            self.length = self.byte_length = t.length


# ---------------------------------------------------------------------------
# Parsing texts

_TS_RE = re.compile(r"^\s*(-?\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})"
                    r"(?:\.(\d{0,9})\d*)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$", re.I)
_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{0,9})\d*)?)?\s*$")


def _offset_minutes(zone):
    if not zone or zone.upper() == "Z":
        return 0
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + int(digits[2:4] or 0))


def parse_timestamp(text):
    """(epoch nanoseconds of the wall clock, offset minutes or None) or None."""
    m = _TS_RE.match(text)
    if not m:
        if re.fullmatch(r"\s*-?\d+\s*", text):       # epoch seconds/ms/us/ns by magnitude
            n = int(text)
            scale = 1 if abs(n) < 31536000000 else 1000 if abs(n) < 31536000000000 else \
                1000000 if abs(n) < 31536000000000000 else 1000000000
            return n * (1000000000 // scale), None
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    try:
        days = datetime.date(int(y), int(mo), int(d)).toordinal() - EPOCH_ORDINAL
    except ValueError:
        return None
    h, mi, s = int(h or 0), int(mi or 0), int(s or 0)
    if h > 23 or mi > 59 or s > 59:
        return None
    ns = ((days * 86400 + h * 3600 + mi * 60 + s) * 1000000000
          + int((frac or "").ljust(9, "0")))
    return ns, (_offset_minutes(zone) if zone else None)


def format_ts(ns):
    secs, frac = divmod(ns, 1000000000)
    days, rem = divmod(secs, 86400)
    d = datetime.date.fromordinal(days + EPOCH_ORDINAL)
    return "%s %02d:%02d:%02d.%09d" % (d.isoformat(), rem // 3600, rem // 60 % 60, rem % 60, frac)


def format_offset(minutes):
    sign = "-" if minutes < 0 else "+"
    return "%s%02d:%02d" % (sign, abs(minutes) // 60, abs(minutes) % 60)


def _nanos_text(ns, scale):
    """'secs.fffffffff' of a signed count of nanoseconds, with `scale` digits."""
    sign = "-" if ns < 0 else ""
    secs, frac = divmod(abs(ns), 1000000000)
    if scale <= 0:
        return sign + str(secs)
    return "%s%d.%s" % (sign, secs, ("%09d" % frac)[:scale])


# ---------------------------------------------------------------------------
# normalize: any value -> stored form of a column type (raises SqlError)

def _bad(code, state, what, value):
    return SqlError(code, state, "%s '%s' is not recognized" % (what, value))


def _as_text(value):
    if isinstance(value, str):
        return value[2:] if value.startswith((JSON_MARK, BIG_MARK)) else value
    if isinstance(value, float):
        return render_float(value)
    if isinstance(value, bytes):
        return value.hex().upper()
    return str(value)


def normalize(t, value):
    if value is None:
        return None
    k = t.kind
    if k == "NUMBER":
        return _norm_number(t, value)
    if k == "FLOAT":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        try:
            f = float(_as_text(value).strip())
        except ValueError:
            raise _bad("100038", "22018", "Numeric value", _as_text(value))
        return "NaN" if math.isnan(f) else f      # SQLite would turn a NaN into NULL
    if k == "VARCHAR":
        s = _as_text(value)
        if len(s) > t.length:
            raise SqlError("100074", "22001", "String '%s' is too long and would be truncated"
                           % (s if len(s) <= 60 else s[:60] + "..."))
        return s
    if k == "BOOLEAN":
        if isinstance(value, (int, float)):
            return 1 if value else 0
        s = _as_text(value).strip().lower()
        if s in ("true", "t", "yes", "y", "on", "1"):
            return 1
        if s in ("false", "f", "no", "n", "off", "0"):
            return 0
        raise _bad("100037", "22018", "Boolean value", _as_text(value))
    if k == "DATE":
        parsed = parse_timestamp(_as_text(value)) if not isinstance(value, (int, float)) else \
            (int(value) * 1000000000, None)
        if parsed is None:
            raise _bad("100040", "22007", "Date", _as_text(value))
        return format_ts(parsed[0])[:10]
    if k == "TIME":
        s = _as_text(value)
        m = _TIME_RE.match(s)
        if not m:
            p = parse_timestamp(s)
            if p is None or not re.search(r"\d:\d", s):
                raise _bad("100108", "22007", "Time", s)
            return format_ts(p[0])[11:]
        h, mi, sec, frac = m.groups()
        if int(h) > 23 or int(mi) > 59 or int(sec or 0) > 59:
            raise _bad("100108", "22007", "Time", s)
        return "%02d:%02d:%02d.%s" % (int(h), int(mi), int(sec or 0), (frac or "").ljust(9, "0"))
    if k.startswith("TIMESTAMP"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parsed = (int(value * 1000000000), None)
        else:
            parsed = parse_timestamp(_as_text(value))
        if parsed is None:
            raise _bad("100035", "22007", "Timestamp", _as_text(value))
        ns, off = parsed
        if k == "TIMESTAMP_NTZ":
            return format_ts(ns)
        if k == "TIMESTAMP_LTZ":
            return format_ts(ns - (off or 0) * 60000000000)
        # TZ keeps the wall clock and its offset, so normalize() is idempotent.
        return format_ts(ns) + " " + format_offset(off or 0)
    if k in ("VARIANT", "OBJECT", "ARRAY"):
        if isinstance(value, str) and value.startswith(JSON_MARK):
            doc = json.loads(value[len(JSON_MARK):])
        elif isinstance(value, str) and k != "VARIANT":
            try:
                doc = json.loads(value)
            except ValueError:
                raise SqlError("100069", "22P02", "Error parsing JSON: %s" % value[:60])
        elif isinstance(value, bytes):
            doc = value.hex().upper()
        else:
            doc = value
        if k == "OBJECT" and not isinstance(doc, dict) or k == "ARRAY" and not isinstance(doc, list):
            raise SqlError("002023", "22000", "SQL compilation error:\nExpression type does not "
                           "match column data type, expecting %s but got VARIANT" % k)
        # Stored with the mark, so that normalizing again (the triggers may) is a no-op.
        return JSON_MARK + json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    if k == "BINARY":
        if isinstance(value, bytes):
            b = value
        else:
            s = _as_text(value)
            try:
                b = bytes.fromhex(s)
            except ValueError:
                raise SqlError("100115", "22000",
                               "The following string is not a legal hex-encoded value: '%s'" % s)
        if len(b) > t.length:
            raise SqlError("100145", "22001", "Binary value is too long and would be truncated")
        return b
    raise SqlError("001003", "42000", "SQL compilation error:\nunsupported type %s" % k)


def _norm_number(t, value):
    if isinstance(value, bool):
        value = int(value)
    try:
        if isinstance(value, float):
            if math.isnan(value) or math.isinf(value):
                raise ValueError
            d = decimal.Decimal(repr(value))
        elif isinstance(value, int):
            d = decimal.Decimal(value)
        else:
            d = decimal.Decimal(_as_text(value).strip())
            if not d.is_finite():
                raise ValueError
    except (ValueError, decimal.InvalidOperation):
        raise _bad("100038", "22018", "Numeric value", _as_text(value))
    q = d.quantize(decimal.Decimal(1).scaleb(-t.scale), rounding=decimal.ROUND_HALF_UP, context=DEC)
    if len(q.as_tuple().digits) - max(0, -q.as_tuple().exponent) > t.precision - t.scale \
            and q != 0:
        raise SqlError("100046", "22003", "Number out of representable range: type "
                       "FIXED[SB16](%d,%d){nullable}, value %s" % (t.precision, t.scale, d))
    if t.scale == 0:
        n = int(q)
        # Beyond 64 bits SQLite would turn even a text into a double: hide it
        # behind a mark (such values still print exactly, but compare as text).
        return n if -(1 << 63) <= n < (1 << 63) else BIG_MARK + str(n)
    return float(q)


# ---------------------------------------------------------------------------
# render: stored value -> jsonv2 cell text

def render_float(f):
    if isinstance(f, str):
        return f
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if f == int(f) and abs(f) < 1e15:
        return "%d" % f
    return repr(f)


def render(t, v):
    if v is None:
        return None
    k = t.kind
    if isinstance(v, str) and v.startswith(JSON_MARK):
        v = v[len(JSON_MARK):]
        if k in ("VARIANT", "OBJECT", "ARRAY"):
            return json.dumps(json.loads(v), indent=2, ensure_ascii=False)
    try:
        if k == "NUMBER":
            if isinstance(v, str):
                v = decimal.Decimal(_as_text(v).strip())
            d = decimal.Decimal(repr(v)) if isinstance(v, float) else decimal.Decimal(v)
            q = d.quantize(decimal.Decimal(1).scaleb(-t.scale), rounding=decimal.ROUND_HALF_UP, context=DEC)
            return "{:f}".format(q)
        if k == "FLOAT":
            return render_float(float(v) if not isinstance(v, str) else v)
        if k == "BOOLEAN":
            if isinstance(v, str):
                return "true" if normalize(BOOLEAN, v) else "false"
            return "true" if v else "false"
        if k == "DATE":
            ns = parse_timestamp(normalize(DATE, v))[0]
            return str(ns // 86400000000000)
        if k == "TIME":
            hms = normalize(SfType("TIME", 0, 9), v)
            h, m, s = hms.split(":")
            sec, frac = s.split(".")
            return _nanos_text((int(h) * 3600 + int(m) * 60 + int(sec)) * 1000000000
                               + int(frac), t.scale)
        if k in ("TIMESTAMP_NTZ", "TIMESTAMP_LTZ"):
            ns = parse_timestamp(normalize(t, v))[0]
            return _nanos_text(ns, t.scale)
        if k == "TIMESTAMP_TZ":
            wall, off = parse_timestamp(normalize(t, v))
            utc = wall - off * 60000000000
            return "%s %d" % (_nanos_text(utc, t.scale), off + 1440)
        if k in ("VARIANT", "OBJECT", "ARRAY"):
            doc = json.loads(v) if isinstance(v, str) else v
            return json.dumps(doc, indent=2, ensure_ascii=False)
        if k == "BINARY":
            return (v if isinstance(v, bytes) else bytes.fromhex(str(v))).hex().upper()
    except (SqlError, ValueError, TypeError, decimal.InvalidOperation):
        pass
    return _as_text(v)


def guess_type(values):
    """The type of an expression column known only from its values."""
    kinds = {type(v) for v in values if v is not None}
    if any(isinstance(v, str) and v.startswith(JSON_MARK) for v in values):
        return VARIANT
    if kinds <= {int}:
        return number(38, 0)
    if kinds <= {int, float}:
        return FLOAT
    if kinds <= {bytes}:
        return SfType("BINARY", length=8388608)
    return TEXT


# ---------------------------------------------------------------------------
# Bindings (section 2.6)

def _bind_error(value, btype):
    return SqlError("002086", "22000", "SQL compilation error:\nInvalid bind value (%s) for type "
                    "(%s)." % (value, btype))


BINDING_TYPES = {
    "FIXED": number(38, 0), "REAL": FLOAT, "TEXT": SfType("VARCHAR", length=134217728),
    "BOOLEAN": BOOLEAN, "DATE": DATE, "TIME": SfType("TIME", 0, 9),
    "TIMESTAMP_NTZ": SfType("TIMESTAMP_NTZ", 0, 9), "TIMESTAMP_LTZ": SfType("TIMESTAMP_LTZ", 0, 9),
    "TIMESTAMP_TZ": SfType("TIMESTAMP_TZ", 0, 9), "BINARY": SfType("BINARY", length=8388608),
}


def decode_binding(btype, value):
    """Stored-form value of one binding element."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bind_error(json.dumps(value), btype)
    v = value.strip()
    try:
        if btype == "FIXED":
            if re.fullmatch(r"[+-]?\d+", v):
                return int(v)
            if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+)([eE][+-]?\d+)?", v):
                return float(v)
            raise ValueError
        if btype == "REAL":
            return normalize(FLOAT, v)
        if btype == "TEXT":
            return value
        if btype == "BOOLEAN":
            s = v.lower()
            if s in ("true", "1"):
                return 1
            if s in ("false", "0"):
                return 0
            raise ValueError
        if btype == "DATE":
            return format_ts(int(v) * 1000000)[:10]
        if btype == "TIME":
            return format_ts(int(v))[11:]
        if btype in ("TIMESTAMP_NTZ", "TIMESTAMP_LTZ"):
            return format_ts(int(v))
        if btype == "TIMESTAMP_TZ":
            ns, off = v.split()
            off = int(off) - 1440
            return format_ts(int(ns) + off * 60000000000) + " " + format_offset(off)
        if btype == "BINARY":
            return bytes.fromhex(v)
    except (ValueError, SqlError):
        raise _bind_error(value, btype)
    raise SqlError("002040", "22000", "SQL compilation error:\nUnsupported data type '%s'."
                   % btype)
