"""Python functions registered in SQLite: Snowflake semantics that SQLite
lacks (checked conversions, exact division, JSON values, session facts).

A function that must fail raises SqlError; SQLite only reports "user-defined
function raised exception", so the error is parked in `state.error` for the
engine to report instead.
"""
import datetime
import decimal
import hashlib
import json
import math
import uuid

import sftypes as T
from errors import SqlError, division_by_zero


class FuncState:
    def __init__(self):
        self.error = None
        self.now = None                   # statement start: CURRENT_TIMESTAMP is fixed per statement
        self.ctx = {}                     # DATABASE, SCHEMA, WAREHOUSE, ROLE, USER, ACCOUNT, VERSION


def _parse_type(spec):
    name, _, args = spec.partition("(")
    nums = [int(a) for a in args.rstrip(")").split(",") if a.strip()] if args else []
    return T.make_type(name, nums)


def register(conn, state):
    types = {}

    def guarded(fn):
        def wrapper(*args):
            try:
                return fn(*args)
            except SqlError as e:
                state.error = e
                raise
        return wrapper

    def norm(spec, value):
        t = types.get(spec)
        if t is None:
            t = types[spec] = _parse_type(spec)
        return T.normalize(t, value)

    def try_cast(spec, value):
        try:
            return norm(spec, value)
        except SqlError:
            return None

    def div(a, b):
        if a is None or b is None:
            return None
        if isinstance(a, str) or isinstance(b, str):
            a, b = T.normalize(T.FLOAT, a), T.normalize(T.FLOAT, b)
        if b == 0:
            raise division_by_zero()
        if isinstance(a, int) and isinstance(b, int):
            q = decimal.Decimal(a) / decimal.Decimal(b)
            return float(q.quantize(decimal.Decimal("0.000001"), rounding=decimal.ROUND_HALF_UP))
        return a / b

    def now():
        return T.format_ts(state.now)

    def today():
        return T.format_ts(state.now)[:10]

    def parse_json(text):
        if text is None:
            return None
        try:
            doc = json.loads(T._as_text(text))
        except ValueError:
            raise SqlError("100069", "22P02", "Error parsing JSON: %s" % str(text)[:60])
        return T.JSON_MARK + json.dumps(doc, ensure_ascii=False, separators=(",", ":"))

    def try_parse_json(text):
        try:
            return parse_json(text)
        except SqlError:
            return None

    def to_variant(v):
        if v is None:
            return None
        if isinstance(v, str) and v.startswith(T.JSON_MARK):
            return v
        return T.JSON_MARK + json.dumps(v if not isinstance(v, bytes) else v.hex().upper(),
                                        ensure_ascii=False)

    def _json_value(v):
        if isinstance(v, str) and v.startswith(T.JSON_MARK):
            return json.loads(v[len(T.JSON_MARK):])
        return v.hex().upper() if isinstance(v, bytes) else v

    def object_construct(*args):
        doc = {}
        for k, v in zip(args[::2], args[1::2]):
            if k is not None and v is not None:
                doc[str(k)] = _json_value(v)
        return T.JSON_MARK + json.dumps(doc, ensure_ascii=False, separators=(",", ":"))

    def array_construct(*args):
        return T.JSON_MARK + json.dumps([_json_value(v) for v in args], ensure_ascii=False,
                                        separators=(",", ":"))

    def to_varchar(v, *fmt):
        return None if v is None else T._as_text(v)

    def to_number(v, *ps):
        p = ps[0] if ps else 38
        s = ps[1] if len(ps) > 1 else 0
        return T.normalize(T.number(p, s), v)

    def concat(*args):
        if any(a is None for a in args):
            return None
        return "".join(T._as_text(a) for a in args)

    def hash_(*args):
        h = hashlib.sha256(repr(args).encode()).digest()
        return int.from_bytes(h[:8], "big", signed=True)

    class CountIf:
        def __init__(self):
            self.n = 0

        def step(self, v):
            if v:
                self.n += 1

        def finalize(self):
            return self.n

    fns = {
        "sfk_norm": (2, norm), "sfk_cast": (2, lambda v, spec: norm(spec, v)),
        "sfk_try_cast": (2, lambda v, spec: try_cast(spec, v)), "sfk_div": (2, div),
        "sfk_now": (0, now), "sfk_today": (0, today),
        "sfk_parse_json": (1, parse_json), "sfk_try_parse_json": (1, try_parse_json),
        "sfk_to_variant": (1, to_variant), "sfk_object_construct": (-1, object_construct),
        "sfk_array_construct": (-1, array_construct), "sfk_to_varchar": (-1, to_varchar),
        "sfk_to_number": (-1, to_number),
        "sfk_to_double": (1, lambda v: T.normalize(T.FLOAT, v)),
        "sfk_to_boolean": (1, lambda v: T.normalize(T.BOOLEAN, v)),
        "sfk_to_date": (-1, lambda v, *f: T.normalize(T.DATE, v)),
        "sfk_to_ts_ntz": (-1, lambda v, *f: T.normalize(T.SfType("TIMESTAMP_NTZ", 0, 9), v)),
        "sfk_to_ts_ltz": (-1, lambda v, *f: T.normalize(T.SfType("TIMESTAMP_LTZ", 0, 9), v)),
        "sfk_to_ts_tz": (-1, lambda v, *f: T.normalize(T.SfType("TIMESTAMP_TZ", 0, 9), v)),
        "sfk_uuid": (0, lambda: str(uuid.uuid4())),
        "sfk_md5": (1, lambda v: None if v is None else hashlib.md5(
            T._as_text(v).encode()).hexdigest()),
        "sfk_hash": (-1, hash_), "sfk_concat": (-1, concat),
        "sfk_zeroifnull": (1, lambda v: 0 if v is None else v),
        "sfk_floor": (-1, lambda v, *s: None if v is None else math.floor(v)),
        "sfk_ceil": (-1, lambda v, *s: None if v is None else math.ceil(v)),
        "sfk_mod": (2, lambda a, b: None if a is None or b is None else math.fmod(a, b)
                    if isinstance(a, float) or isinstance(b, float) else
                    int(math.copysign(abs(a) % abs(b), a)) if b else _raise(division_by_zero())),
    }
    for key in ("DATABASE", "SCHEMA", "WAREHOUSE", "ROLE", "USER", "ACCOUNT", "VERSION"):
        fns["sfk_ctx_" + key.lower()] = (0, (lambda k: lambda: state.ctx.get(k))(key))
    for name, (nargs, fn) in fns.items():
        deterministic = name not in ("sfk_uuid", "sfk_now", "sfk_today")
        conn.create_function(name, nargs, guarded(fn), deterministic=deterministic)
    conn.create_aggregate("sfk_count_if", 1, CountIf)


def _raise(e):
    raise e


def epoch_ns_now():
    d = datetime.datetime.now(datetime.timezone.utc)
    return int(d.timestamp()) * 1000000000 + d.microsecond * 1000
