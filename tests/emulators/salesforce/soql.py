"""A SOQL subset: tokenizer, parser, checker and evaluator.

Supported:
  SELECT field[, ...] | COUNT() | COUNT(field) [alias]
  FROM object
  [WHERE cond]        =, !=, <>, <, <=, >, >=, [NOT] IN (...), LIKE, AND, OR, NOT, ( )
  [ORDER BY path [ASC|DESC] [NULLS FIRST|LAST][, ...]]
  [LIMIT n] [OFFSET n]
Fields may be child-to-parent paths (Account.Name, Owner.Username).
Literals: 'strings' with SOQL escapes, numbers, true/false, null, date
literals 2024-01-01 and datetime literals 2024-01-01T00:00:00Z /
...T00:00:00.000+01:00 / ...+0100 (unquoted, as on the real service).

Errors reproduce the real message layout (contract section 2.1 and the
real traces it cites):  "\n<query line>\n<caret>^\nERROR at Row:R:Column:C\n<text>".
Anything outside the subset (GROUP BY, subqueries, date functions, relative
date literals, ...) is refused with MALFORMED_QUERY saying so, rather than
answered wrongly.
"""
import re

import wire

MSG_NO_COLUMN = ("No such column '%s' on entity '%s'. If you are attempting to use a custom "
                 "field, be sure to append the '__c' after the custom field name. Please "
                 "reference your WSDL or the describe call for the appropriate names.")
MSG_NO_RELATION = ("Didn't understand relationship '%s' in field path. If you are attempting "
                   "to use a custom relationship, be sure to append the '__r' after the custom "
                   "relationship name. Please reference your WSDL or the describe call for the "
                   "appropriate names.")
MSG_NO_TYPE = ("sObject type '%s' is not supported. If you are attempting to use a custom "
               "object, be sure to append the '__c' after the entity name. Please reference "
               "your WSDL or the describe call for the appropriate names.")

KEYWORDS = {"AND", "ASC", "BY", "DESC", "EXCLUDES", "FALSE", "FIRST", "FOR", "FROM", "GROUP",
            "HAVING", "IN", "INCLUDES", "LAST", "LIKE", "LIMIT", "NOT", "NULL", "NULLS",
            "OFFSET", "OR", "ORDER", "SELECT", "TRUE", "TYPEOF", "USING", "WHERE", "WITH",
            "UPDATE", "END", "ROLLUP", "CUBE", "FORMAT"}
AGGREGATES = {"AVG", "COUNT_DISTINCT", "MIN", "MAX", "SUM", "CALENDAR_MONTH", "CALENDAR_YEAR",
              "CALENDAR_QUARTER", "DAY_IN_MONTH", "DAY_IN_WEEK", "DAY_IN_YEAR", "DAY_ONLY",
              "FISCAL_MONTH", "FISCAL_QUARTER", "FISCAL_YEAR", "HOUR_IN_DAY", "WEEK_IN_MONTH",
              "WEEK_IN_YEAR", "TOLABEL", "CONVERTCURRENCY", "FORMAT", "GROUPING", "DISTANCE",
              "GEOLOCATION"}
STRINGISH = {"string", "textarea", "picklist", "multipicklist", "email", "phone", "url", "combobox"}
TYPE_WORD = {"int": "integer", "double": "double", "currency": "double", "percent": "double",
             "boolean": "boolean", "date": "date", "datetime": "dateTime"}
OFFSET_MAX = 2000


class SoqlError(Exception):
    def __init__(self, error_code, message):
        super().__init__(message)
        self.error_code = error_code
        self.message = message


class Token:
    __slots__ = ("kind", "text", "value", "row", "col")

    def __init__(self, kind, text, value, row, col):
        self.kind, self.text, self.value, self.row, self.col = kind, text, value, row, col

    @property
    def upper(self):
        return self.text.upper() if self.kind == "ident" else None

    def is_kw(self, *words):
        return self.kind == "ident" and self.text.upper() in words


def _line(query, row):
    lines = query.replace("\r\n", "\n").split("\n")
    return lines[row - 1] if 0 < row <= len(lines) else ""


def positioned(query, row, col, text):
    """The real layout: the offending line, a caret under column col (1-based)."""
    return "\n%s\n%s^\nERROR at Row:%d:Column:%d\n%s" % (
        _line(query, row), " " * max(col - 1, 0), row, col, text)


def lexer_error(query, row, col0, text):
    """Lexer errors report ANTLR's 0-based character position, as in the
    traces 'ERROR at Row:1:Column:87\\nline 1:87 no viable alternative at
    character ' ''."""
    return SoqlError("MALFORMED_QUERY", "\n%s\n%s^\nERROR at Row:%d:Column:%d\nline %d:%d %s" % (
        _line(query, row), " " * col0, row, col0, row, col0, text))


def _shown(ch):
    return "<EOF>" if ch is None else ch


# ---------------------------------------------------------------------------
# Tokenizer

_ESCAPES = {"n": "\n", "N": "\n", "r": "\r", "R": "\r", "t": "\t", "T": "\t", "b": "\b",
            "B": "\b", "f": "\f", "F": "\f", '"': '"', "'": "'", "\\": "\\"}
LIKE_PERCENT, LIKE_UNDERSCORE = "\x01", "\x02"   # \% and \_ inside a string literal


def tokenize(query):
    toks = []
    i, n, row, line_start = 0, len(query), 1, 0

    def peek(j):
        return query[j] if j < n else None

    while i < n:
        c = query[i]
        if c in " \t\r\f":
            i += 1
            continue
        if c == "\n":
            row += 1
            i += 1
            line_start = i
            continue
        col = i - line_start + 1
        start = i
        if c.isalpha() or c == "_":
            while i < n and (query[i].isalnum() or query[i] == "_"):
                i += 1
            toks.append(Token("ident", query[start:i], None, row, col))
        elif c.isdigit() or (c == "-" and peek(i + 1) is not None and peek(i + 1).isdigit()):
            tok, i = _lex_number_or_date(query, i, row, line_start)
            toks.append(tok)
        elif c == "'":
            i += 1
            out = []
            while True:
                ch = peek(i)
                if ch is None:
                    raise lexer_error(query, row, i - line_start,
                                      "mismatched character '<EOF>' expecting '''")
                if ch == "'":
                    i += 1
                    break
                if ch == "\\":
                    nxt = peek(i + 1)
                    if nxt in _ESCAPES:
                        out.append(_ESCAPES[nxt])
                        i += 2
                    elif nxt == "%":
                        out.append(LIKE_PERCENT)
                        i += 2
                    elif nxt == "_":
                        out.append(LIKE_UNDERSCORE)
                        i += 2
                    elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", query[i + 2:i + 6] or ""):
                        out.append(chr(int(query[i + 2:i + 6], 16)))
                        i += 6
                    else:
                        seq = "\\" + (nxt or "")
                        raise SoqlError("MALFORMED_QUERY", positioned(
                            query, row, col, "Invalid string literal '%s'. Illegal character "
                            "sequence '%s' in string literal." % (query[start + 1:i + 2], seq)))
                    continue
                if ch == "\n":
                    row += 1
                    line_start = i + 1
                out.append(ch)
                i += 1
            toks.append(Token("string", query[start:i], "".join(out), row, col))
        elif c in "=<>!":
            two = query[i:i + 2]
            if two in ("!=", "<>", "<=", ">="):
                i += 2
            elif c == "!":
                i += 1
                toks.append(Token("other", "!", None, row, col))
                continue
            else:
                i += 1
            toks.append(Token("op", query[start:i], None, row, col))
        elif c in "(),.":
            i += 1
            toks.append(Token("punct", c, None, row, col))
        else:
            i += 1
            toks.append(Token("other", c, None, row, col))
    last = _line(query, row)
    toks.append(Token("eof", "<EOF>", None, row, len(last) + 1))
    return toks


_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _lex_number_or_date(query, i, row, line_start):
    """A number, a date literal or a datetime literal starting at i.  A
    datetime must end with Z or an offset; anything else is the lexer error
    the real service gives when '+' was not percent-encoded and arrived as
    a space (contract section 0)."""
    n = len(query)
    col = i - line_start + 1
    m = _DATE_RE.match(query, i)
    if m and not query.startswith("-", i):
        j = m.end()
        text = query[i:j]
        if j < n and query[j] == "T":
            # 'Thh:mm:ss' then optional '.fraction', then 'Z' or +hh[:]mm / -hh[:]mm
            pattern = "Tdd:dd:dd"
            for k, p in enumerate(pattern):
                ch = query[j + k] if j + k < n else None
                ok = ch is not None and (ch.isdigit() if p == "d" else ch == p)
                if not ok:
                    raise lexer_error(query, row, j + k - line_start,
                                      "no viable alternative at character '%s'" % _shown(ch))
            j += len(pattern)
            if j < n and query[j] == ".":
                j += 1
                if j >= n or not query[j].isdigit():
                    raise lexer_error(query, row, j - line_start,
                                      "no viable alternative at character '%s'" %
                                      _shown(query[j] if j < n else None))
                while j < n and query[j].isdigit():
                    j += 1
            ch = query[j] if j < n else None
            if ch == "Z":
                j += 1
            elif ch in ("+", "-"):
                j += 1
                for k in range(2):
                    if j >= n or not query[j].isdigit():
                        raise lexer_error(query, row, j - line_start,
                                          "no viable alternative at character '%s'" %
                                          _shown(query[j] if j < n else None))
                    j += 1
                if j < n and query[j] == ":":
                    j += 1
                for k in range(2):
                    if j >= n or not query[j].isdigit():
                        raise lexer_error(query, row, j - line_start,
                                          "no viable alternative at character '%s'" %
                                          _shown(query[j] if j < n else None))
                    j += 1
            else:
                raise lexer_error(query, row, j - line_start,
                                  "no viable alternative at character '%s'" % _shown(ch))
            text = query[i:j]
            ms = wire.parse_datetime_input(text)
            if ms is None:
                raise SoqlError("MALFORMED_QUERY", positioned(
                    query, row, col, "invalid datetime: %s" % text))
            return Token("datetime", text, ms, row, col), j
        if wire.parse_date_input(text) is None:
            raise SoqlError("MALFORMED_QUERY", positioned(query, row, col, "invalid date: %s" % text))
        return Token("date", text, text, row, col), j
    j = i + 1 if query[i] == "-" else i
    while j < n and query[j].isdigit():
        j += 1
    if j + 1 < n and query[j] == "." and query[j + 1].isdigit():
        j += 1
        while j < n and query[j].isdigit():
            j += 1
    text = query[i:j]
    value = float(text) if "." in text else int(text)
    return Token("number", text, value, row, col), j


# ---------------------------------------------------------------------------
# Parser -> a small AST of tuples

class Parser:
    def __init__(self, query):
        self.query = query
        self.toks = tokenize(query)
        self.i = 0

    @property
    def tok(self):
        return self.toks[self.i]

    def next(self):
        t = self.toks[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def unexpected(self, tok=None):
        tok = tok or self.tok
        return SoqlError("MALFORMED_QUERY", positioned(
            self.query, tok.row, tok.col, "unexpected token: '%s'" % tok.text))

    def unsupported(self, what, tok=None):
        tok = tok or self.tok
        return SoqlError("MALFORMED_QUERY", positioned(
            self.query, tok.row, tok.col,
            "%s is not supported by the Sluice Salesforce emulator" % what))

    def expect_kw(self, word):
        if not self.tok.is_kw(word):
            raise self.unexpected()
        return self.next()

    def expect_punct(self, ch):
        if not (self.tok.kind == "punct" and self.tok.text == ch):
            raise self.unexpected()
        return self.next()

    def at_punct(self, ch):
        return self.tok.kind == "punct" and self.tok.text == ch

    def name(self):
        t = self.tok
        if t.kind != "ident" or t.upper in KEYWORDS:
            raise self.unexpected()
        return self.next()

    def path(self):
        parts = [self.name()]
        while self.at_punct("."):
            self.next()
            parts.append(self.name())
        return parts

    def parse(self):
        self.expect_kw("SELECT")
        items = []
        while True:
            t = self.tok
            nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else t
            if t.is_kw("TYPEOF"):
                raise self.unsupported("TYPEOF")
            if self.at_punct("("):
                raise self.unsupported("A parent-to-child relationship subquery")
            if t.kind == "ident" and nxt.kind == "punct" and nxt.text == "(":
                word = t.upper
                if word == "COUNT":
                    self.next()
                    self.next()
                    arg = None if self.at_punct(")") else self.path()
                    self.expect_punct(")")
                    alias = None
                    if self.tok.kind == "ident" and self.tok.upper not in KEYWORDS:
                        alias = self.next()
                    items.append(("count", arg, alias, t))
                elif word == "FIELDS":
                    raise self.unsupported("FIELDS()")
                elif word in AGGREGATES:
                    raise self.unsupported("The function %s()" % word)
                else:
                    raise self.unexpected(nxt)
            else:
                p = self.path()
                items.append(("field", p, None, p[0]))
            if self.at_punct(","):
                self.next()
                continue
            break
        self.expect_kw("FROM")
        obj = self.name()
        if self.tok.kind == "ident" and self.tok.upper not in KEYWORDS:
            raise self.unsupported("An object alias")
        where = order = limit = offset = None
        if self.tok.is_kw("USING"):
            raise self.unsupported("USING SCOPE")
        if self.tok.is_kw("WHERE"):
            self.next()
            where = self.cond()
        if self.tok.is_kw("WITH"):
            raise self.unsupported("WITH")
        if self.tok.is_kw("GROUP"):
            raise self.unsupported("GROUP BY")
        if self.tok.is_kw("HAVING"):
            raise self.unsupported("HAVING")
        if self.tok.is_kw("ORDER"):
            self.next()
            self.expect_kw("BY")
            order = []
            while True:
                p = self.path()
                desc, nulls_first = False, None
                if self.tok.is_kw("ASC", "DESC"):
                    desc = self.next().upper == "DESC"
                if self.tok.is_kw("NULLS"):
                    self.next()
                    if not self.tok.is_kw("FIRST", "LAST"):
                        raise self.unexpected()
                    nulls_first = self.next().upper == "FIRST"
                order.append((p, desc, nulls_first))
                if self.at_punct(","):
                    self.next()
                    continue
                break
        if self.tok.is_kw("LIMIT"):
            self.next()
            limit = self.integer()
        if self.tok.is_kw("OFFSET"):
            self.next()
            tok = self.tok
            offset = self.integer()
            if offset > OFFSET_MAX:
                raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE", positioned(
                    self.query, tok.row, tok.col,
                    "Maximum SOQL offset allowed is %d" % OFFSET_MAX))
        if self.tok.is_kw("FOR", "UPDATE"):
            raise self.unsupported("FOR VIEW/REFERENCE/UPDATE")
        if self.tok.kind != "eof":
            raise self.unexpected()
        return {"items": items, "obj": obj, "where": where, "order": order or [],
                "limit": limit, "offset": offset}

    def integer(self):
        t = self.tok
        if t.kind != "number" or not isinstance(t.value, int) or t.value < 0:
            raise self.unexpected()
        self.next()
        return t.value

    # cond := term (AND term)* | term (OR term)*   -- SOQL has no precedence
    # between AND and OR: mixing them without parentheses is an error.
    def cond(self):
        terms = [self.term()]
        joiner = None
        while self.tok.is_kw("AND", "OR"):
            word = self.tok.upper
            if joiner is None:
                joiner = word
            elif word != joiner:
                raise self.unexpected()
            self.next()
            terms.append(self.term())
        if joiner is None:
            return terms[0]
        return (joiner.lower(), terms)

    def term(self):
        if self.tok.is_kw("NOT"):
            self.next()
            return ("not", self.term())
        if self.at_punct("("):
            self.next()
            c = self.cond()
            self.expect_punct(")")
            return c
        return self.simple()

    def simple(self):
        t = self.tok
        nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else t
        if t.kind == "ident" and nxt.kind == "punct" and nxt.text == "(" and t.upper not in KEYWORDS:
            raise self.unsupported("The function %s() in WHERE" % t.text)
        p = self.path()
        t = self.tok
        if t.kind == "op":
            self.next()
            return ("cmp", p, "!=" if t.text == "<>" else t.text, self.value())
        if t.is_kw("IN"):
            self.next()
            return ("in", p, False, self.value_list())
        if t.is_kw("NOT"):
            self.next()
            self.expect_kw("IN")
            return ("in", p, True, self.value_list())
        if t.is_kw("LIKE"):
            self.next()
            v = self.value()
            return ("like", p, v)
        if t.is_kw("INCLUDES", "EXCLUDES"):
            raise self.unsupported("INCLUDES/EXCLUDES")
        raise self.unexpected()

    def value_list(self):
        self.expect_punct("(")
        if self.tok.is_kw("SELECT"):
            raise self.unsupported("A semi-join subquery")
        vals = [self.value()]
        while self.at_punct(","):
            self.next()
            vals.append(self.value())
        self.expect_punct(")")
        return vals

    def value(self):
        t = self.tok
        if t.kind in ("string", "number", "date", "datetime"):
            self.next()
            return (t.kind, t.value, t)
        if t.is_kw("TRUE", "FALSE"):
            self.next()
            return ("boolean", t.upper == "TRUE", t)
        if t.is_kw("NULL"):
            self.next()
            return ("null", None, t)
        if t.kind == "ident" and t.upper not in KEYWORDS:
            raise self.unsupported("The date literal %s" % t.text)
        raise self.unexpected()


# ---------------------------------------------------------------------------
# Checking against the schema and compiling to Python closures

class Query:
    """A checked query, ready to run against a Store."""

    def __init__(self, text, schema):
        self.text = text
        self.schema = schema
        ast = Parser(text).parse()
        obj_tok = ast["obj"]
        self.sobj = schema.get(obj_tok.text)
        if self.sobj is None:
            raise SoqlError("INVALID_TYPE", positioned(text, obj_tok.row, obj_tok.col,
                                                       MSG_NO_TYPE % obj_tok.text))
        self.count_only = False
        self.count_field = None     # (getter, alias) for COUNT(field)
        self.shape = []             # render tree, see _add_to_shape
        # Flat (header, field, getter) in SELECT order: Bulk CSV columns.
        self.columns = []
        self.long_text_custom = 0
        counts = [it for it in ast["items"] if it[0] == "count"]
        if counts:
            if len(ast["items"]) > 1:
                raise SoqlError("MALFORMED_QUERY", positioned(
                    text, counts[0][3].row, counts[0][3].col,
                    "Aggregate queries mixing COUNT with fields are not supported by the "
                    "Sluice Salesforce emulator"))
            _kind, arg, alias, _tok = counts[0]
            if arg is None:
                self.count_only = True
            else:
                _hops, field = self.resolve(arg)
                self.count_field = (self.getter(arg), alias.text if alias else "expr0")
        else:
            seen = set()
            for _kind, p, _alias, _tok in ast["items"]:
                hops, field = self.resolve(p)
                key = tuple(h.relationship_name.lower() for h in hops) + (field.name.lower(),)
                if key in seen:
                    last = p[-1]
                    raise SoqlError("MALFORMED_QUERY", positioned(
                        text, last.row, last.col, "duplicate field selected: %s" %
                        ".".join([h.relationship_name for h in hops] + [field.name])))
                seen.add(key)
                if not hops and field.custom and field.long_text:
                    self.long_text_custom += 1
                self._add_to_shape(hops, field)
                self.columns.append((".".join([h.relationship_name for h in hops] + [field.name]),
                                     field, self.getter(p)))
        self.where = self.compile_cond(ast["where"]) if ast["where"] else None
        self.order = []
        for p, desc, nulls_first in ast["order"]:
            _hops, field = self.resolve(p)
            if not field.sortable:
                last = p[-1]
                raise SoqlError("INVALID_FIELD", positioned(
                    text, last.row, last.col,
                    "field '%s' can not be sorted in a query call" % field.name))
            self.order.append((self.getter(p), field, desc,
                               (not desc) if nulls_first is None else nulls_first))
        self.limit = ast["limit"]
        self.offset = ast["offset"] or 0
        self.has_offset = ast["offset"] is not None   # Bulk refuses OFFSET, even OFFSET 0

    # -- paths ----------------------------------------------------------------
    def resolve(self, path):
        """([reference Field per hop], final Field) for a list of name tokens."""
        obj = self.sobj
        hops = []
        parts = list(path)
        if len(parts) > 1 and parts[0].text.lower() == obj.name.lower() and \
                parts[0].text.lower() not in obj.relationships:
            parts = parts[1:]   # 'Account.Name FROM Account' qualifies with the object name
        for tok in parts[:-1]:
            ref = obj.relationships.get(tok.text.lower())
            if ref is None:
                raise SoqlError("INVALID_FIELD", positioned(self.text, tok.row, tok.col,
                                                            MSG_NO_RELATION % tok.text))
            hops.append(ref)
            obj = self.schema.get(ref.reference_to)
        last = parts[-1]
        field = obj.field(last.text)
        if field is None:
            raise SoqlError("INVALID_FIELD", positioned(self.text, last.row, last.col,
                                                        MSG_NO_COLUMN % (last.text, obj.name)))
        return hops, field

    def getter(self, path):
        hops, field = self.resolve(path)

        def get(rec, store):
            for ref in hops:
                pid = rec.get(ref.name)
                if pid is None:
                    return None
                rec = store.tables[ref.reference_to].recs.get(pid)
                if rec is None:
                    return None
            return store.value(rec, field)
        get.field = field
        return get

    def _add_to_shape(self, hops, field):
        node = self.shape
        for ref in hops:
            for entry in node:
                if entry[0] == "rel" and entry[1] is ref:
                    node = entry[2]
                    break
            else:
                child = []
                node.append(("rel", ref, child))
                node = child
        node.append(("field", field))

    # -- WHERE ----------------------------------------------------------------
    def compile_cond(self, c):
        kind = c[0]
        if kind in ("and", "or"):
            parts = [self.compile_cond(x) for x in c[1]]
            if kind == "and":
                return lambda rec, store: all(p(rec, store) for p in parts)
            return lambda rec, store: any(p(rec, store) for p in parts)
        if kind == "not":
            inner = self.compile_cond(c[1])
            return lambda rec, store: not inner(rec, store)
        path = c[1]
        get = self.getter(path)
        field = get.field
        last = path[-1]
        if not field.filterable:
            raise SoqlError("INVALID_FIELD", positioned(
                self.text, last.row, last.col,
                "field '%s' can not be filtered in query call" % field.name))
        norm = _normalizer(field)
        if kind == "cmp":
            op, lit = c[2], c[3]
            v = self.literal(field, lit)
            return _compare(get, norm, op, None if v is None else norm(v))
        if kind == "in":
            negate = c[2]
            values = [self.literal(field, lit) for lit in c[3]]
            wanted = {None if v is None else norm(v) for v in values}

            def pred_in(rec, store):
                v = get(rec, store)
                hit = (None if v is None else norm(v)) in wanted
                return hit != negate
            return pred_in
        if kind == "like":
            lit = c[2]
            if field.type not in STRINGISH and field.type not in ("id", "reference"):
                raise SoqlError("INVALID_FIELD", positioned(
                    self.text, last.row, last.col,
                    "invalid operator on field '%s': LIKE is only valid on string fields"
                    % field.name))
            if lit[0] != "string":
                raise self.type_error(field, lit)
            rx = _like_regex(lit[1])

            def pred_like(rec, store):
                v = get(rec, store)
                return v is not None and rx.match(str(v)) is not None
            return pred_like
        raise AssertionError(kind)

    def type_error(self, field, lit):
        tok = lit[2]
        t = field.type
        if t in STRINGISH or t in ("id", "reference"):
            text = ("value of filter criterion for field '%s' must be of type string and "
                    "should be enclosed in quotes" % field.name)
        else:
            text = ("value of filter criterion for field '%s' must be of type %s and should "
                    "not be enclosed in quotes" % (field.name, TYPE_WORD.get(t, t)))
        return SoqlError("INVALID_FIELD", positioned(self.text, tok.row, tok.col, text))

    def literal(self, field, lit):
        """The internal value of a literal compared with field, or an error."""
        kind, value, tok = lit
        if kind == "null":
            return None
        t = field.type
        if t in ("id", "reference"):
            if kind != "string":
                raise self.type_error(field, lit)
            if value == "":
                return None
            cid = wire.canonical_id(value)
            if cid is None:
                raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", positioned(
                    self.text, tok.row, tok.col, "invalid ID field: %s" % value))
            return cid
        if t in STRINGISH:
            if kind != "string":
                raise self.type_error(field, lit)
            value = value.replace(LIKE_PERCENT, "\\%").replace(LIKE_UNDERSCORE, "\\_")
            return value if value != "" else None   # '' is null on the platform
        if t == "boolean":
            if kind != "boolean":
                raise self.type_error(field, lit)
            return value
        if t in ("int", "double", "currency", "percent"):
            if kind != "number":
                raise self.type_error(field, lit)
            return value
        if t == "date":
            if kind != "date":
                raise self.type_error(field, lit)
            return value
        if t == "datetime":
            if kind != "datetime":
                raise self.type_error(field, lit)
            return value
        raise self.type_error(field, lit)

    # -- running --------------------------------------------------------------
    def run(self, store, include_deleted):
        """Matching record versions, ordered, offset and limit applied."""
        table = store.tables[self.sobj.name]
        where = self.where
        if where is None:
            rows = list(table.scan(include_deleted))
        else:
            rows = [r for r in table.scan(include_deleted) if where(r, store)]
        for get, field, desc, nulls_first in reversed(self.order):
            norm = _normalizer(field)

            def key(rec, get=get, norm=norm, nulls_first=nulls_first, desc=desc):
                v = get(rec, store)
                if v is None:
                    return (0 if nulls_first != desc else 1, 0)
                return (1 if nulls_first != desc else 0, norm(v))
            rows.sort(key=key, reverse=desc)
        if self.offset:
            rows = rows[self.offset:]
        if self.limit is not None:
            rows = rows[:self.limit]
        return rows


def _normalizer(field):
    """Comparison form: strings case-insensitive (SOQL compares text that
    way), Ids by their case-sensitive 15-character body."""
    t = field.type
    if t in ("id", "reference"):
        return lambda v: v[:15]
    if t == "multipicklist":
        return lambda v: ";".join(sorted(x.strip().casefold() for x in v.split(";")))
    if t in STRINGISH:
        return lambda v: v.casefold()
    if t == "boolean":
        return lambda v: bool(v)
    return lambda v: v


def _compare(get, norm, op, want):
    if op == "=":
        return lambda rec, store: _eq(get(rec, store), norm, want)
    if op == "!=":
        # SOQL treats null as a value: 'Industry != 'x'' includes nulls.
        return lambda rec, store: not _eq(get(rec, store), norm, want)
    if want is None:
        return lambda rec, store: False
    if op == "<":
        return lambda rec, store: _ord(get(rec, store), norm, want, lambda a, b: a < b)
    if op == "<=":
        return lambda rec, store: _ord(get(rec, store), norm, want, lambda a, b: a <= b)
    if op == ">":
        return lambda rec, store: _ord(get(rec, store), norm, want, lambda a, b: a > b)
    if op == ">=":
        return lambda rec, store: _ord(get(rec, store), norm, want, lambda a, b: a >= b)
    raise AssertionError(op)


def _eq(v, norm, want):
    if v is None:
        return want is None
    return want is not None and norm(v) == want


def _ord(v, norm, want, cmp):
    return v is not None and cmp(norm(v), want)


def _like_regex(pattern):
    out = []
    for ch in pattern:
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        elif ch == LIKE_PERCENT:
            out.append("%")
        elif ch == LIKE_UNDERSCORE:
            out.append("_")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.I | re.S)
