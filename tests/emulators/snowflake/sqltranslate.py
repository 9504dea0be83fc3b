"""Translation of Snowflake queries and expressions into SQLite text, with
the Snowflake type of every output column.

Scope (honest): SELECT [DISTINCT] items FROM tables/subqueries/CTEs with
[LEFT|RIGHT|FULL|INNER|CROSS] JOIN ... ON/USING and ',' joins, WHERE, GROUP
BY, HAVING, QUALIFY, ORDER BY (NULLS FIRST/LAST), LIMIT/OFFSET/FETCH,
UNION [ALL]/EXCEPT/MINUS/INTERSECT, WITH; subqueries in expressions; window
functions (ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...) and the other
SQLite ones); CASE; CAST/TRY_CAST/'::'; bindings ? :1 :name; the functions
in FUNCTIONS below.  Identifiers: unquoted upper-cased, quoted exact; names
of tables resolve against the session's database and schema.  '/' is
Snowflake's division (real, error on zero).  Everything else (LATERAL,
FLATTEN, TABLE(...), PIVOT, semi-structured paths a:b, ILIKE, unknown
functions) is refused with an SQL compilation error saying so.
"""
import errors
import sftypes as T
from catalog import quote
from errors import SqlError

KEYWORDS = set("""AND OR NOT IS NULL IN LIKE BETWEEN CASE WHEN THEN ELSE END AS DISTINCT OVER
PARTITION BY ORDER ASC DESC NULLS FIRST LAST ROWS RANGE UNBOUNDED PRECEDING FOLLOWING CURRENT ROW
EXISTS ESCAPE ALL ANY SOME SELECT FROM WHERE GROUP HAVING QUALIFY JOIN ON USING LEFT RIGHT INNER
OUTER FULL CROSS NATURAL UNION EXCEPT INTERSECT MINUS LIMIT OFFSET WITH TRUE FALSE FETCH NEXT ONLY
INTERVAL""".split())
CLAUSES = ("FROM", "WHERE", "GROUP", "HAVING", "QUALIFY", "ORDER", "LIMIT", "OFFSET", "FETCH")
SETOPS = ("UNION", "EXCEPT", "MINUS", "INTERSECT")
COMPARE = {"=", "<", ">", "<=", ">=", "<>", "!="}
PREDICATE_WORDS = {"AND", "OR", "NOT", "IS", "IN", "LIKE", "BETWEEN", "EXISTS"}

# Snowflake function -> (SQLite function, result type or a rule).  Rules:
# "arg0" = type of the first argument, "arg1" = second, None = from the values.
TS_LTZ = T.SfType("TIMESTAMP_LTZ", 0, 9)
TS_NTZ = T.SfType("TIMESTAMP_NTZ", 0, 9)
TS_TZ = T.SfType("TIMESTAMP_TZ", 0, 9)
N18 = T.number(18, 0)
FUNCTIONS = {
    "COUNT": ("COUNT", N18), "COUNT_IF": ("sfk_count_if", N18), "SUM": ("SUM", "sum"),
    "MIN": ("MIN", "arg0"), "MAX": ("MAX", "arg0"), "AVG": ("AVG", None),
    "ANY_VALUE": ("MIN", "arg0"),
    "ROW_NUMBER": ("ROW_NUMBER", N18), "RANK": ("RANK", N18), "DENSE_RANK": ("DENSE_RANK", N18),
    "LAG": ("LAG", "arg0"), "LEAD": ("LEAD", "arg0"), "FIRST_VALUE": ("FIRST_VALUE", "arg0"),
    "LAST_VALUE": ("LAST_VALUE", "arg0"), "NTILE": ("NTILE", N18),
    "COALESCE": ("COALESCE", "arg0"), "NVL": ("IFNULL", "arg0"), "IFNULL": ("IFNULL", "arg0"),
    "NULLIF": ("NULLIF", "arg0"), "IFF": ("IIF", "arg1"), "ZEROIFNULL": ("sfk_zeroifnull", "arg0"),
    "GREATEST": ("MAX", "arg0"), "LEAST": ("MIN", "arg0"),
    "ABS": ("ABS", "arg0"), "ROUND": ("ROUND", None), "FLOOR": ("sfk_floor", None),
    "CEIL": ("sfk_ceil", None), "MOD": ("sfk_mod", None),
    "UPPER": ("UPPER", T.TEXT), "LOWER": ("LOWER", T.TEXT), "TRIM": ("TRIM", T.TEXT),
    "LTRIM": ("LTRIM", T.TEXT), "RTRIM": ("RTRIM", T.TEXT), "REPLACE": ("REPLACE", T.TEXT),
    "SUBSTR": ("SUBSTR", T.TEXT), "SUBSTRING": ("SUBSTR", T.TEXT), "CONCAT": ("sfk_concat", T.TEXT),
    "LENGTH": ("LENGTH", N18), "LEN": ("LENGTH", N18),
    "CURRENT_TIMESTAMP": ("sfk_now", TS_LTZ), "SYSDATE": ("sfk_now", TS_NTZ),
    "GETDATE": ("sfk_now", TS_LTZ), "LOCALTIMESTAMP": ("sfk_now", TS_LTZ),
    "CURRENT_DATE": ("sfk_today", T.DATE),
    "CURRENT_DATABASE": ("sfk_ctx_database", T.TEXT), "CURRENT_SCHEMA": ("sfk_ctx_schema", T.TEXT),
    "CURRENT_WAREHOUSE": ("sfk_ctx_warehouse", T.TEXT), "CURRENT_ROLE": ("sfk_ctx_role", T.TEXT),
    "CURRENT_USER": ("sfk_ctx_user", T.TEXT), "CURRENT_ACCOUNT": ("sfk_ctx_account", T.TEXT),
    "CURRENT_VERSION": ("sfk_ctx_version", T.TEXT),
    "PARSE_JSON": ("sfk_parse_json", T.VARIANT), "TRY_PARSE_JSON": ("sfk_try_parse_json", T.VARIANT),
    "TO_VARIANT": ("sfk_to_variant", T.VARIANT),
    "OBJECT_CONSTRUCT": ("sfk_object_construct", T.SfType("OBJECT")),
    "ARRAY_CONSTRUCT": ("sfk_array_construct", T.SfType("ARRAY")),
    "TO_VARCHAR": ("sfk_to_varchar", T.TEXT), "TO_CHAR": ("sfk_to_varchar", T.TEXT),
    "TO_NUMBER": ("sfk_to_number", T.number(38, 0)), "TO_DECIMAL": ("sfk_to_number", T.number(38, 0)),
    "TO_DOUBLE": ("sfk_to_double", T.FLOAT), "TO_BOOLEAN": ("sfk_to_boolean", T.BOOLEAN),
    "TO_DATE": ("sfk_to_date", T.DATE), "TO_TIMESTAMP": ("sfk_to_ts_ntz", TS_NTZ),
    "TO_TIMESTAMP_NTZ": ("sfk_to_ts_ntz", TS_NTZ), "TO_TIMESTAMP_LTZ": ("sfk_to_ts_ltz", TS_LTZ),
    "TO_TIMESTAMP_TZ": ("sfk_to_ts_tz", TS_TZ),
    "UUID_STRING": ("sfk_uuid", T.varchar(36)), "MD5": ("sfk_md5", T.varchar(32)),
    "HASH": ("sfk_hash", T.number(19, 0)),
}
NO_PAREN_FUNCTIONS = {"CURRENT_TIMESTAMP", "CURRENT_DATE", "SYSDATE", "LOCALTIMESTAMP",
                      "CURRENT_USER", "CURRENT_ROLE"}


def sqlite_str(s):
    return "'" + s.replace("'", "''") + "'"


def match_paren(toks, i):
    """Index of the ')' closing the '(' at toks[i]."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j]
        if t.kind == "op" and t.text == "(":
            depth += 1
        elif t.kind == "op" and t.text == ")":
            depth -= 1
            if depth == 0:
                return j
    raise errors.syntax("<EOF>", toks[-1].line, toks[-1].col)


def split_top(toks, sep=","):
    """toks split at top-level separators (',' by default)."""
    parts, cur, depth = [], [], 0
    for t in toks:
        if t.kind == "op" and t.text == "(":
            depth += 1
        elif t.kind == "op" and t.text == ")":
            depth -= 1
        if depth == 0 and t.kind == "op" and t.text == sep:
            parts.append(cur)
            cur = []
        else:
            cur.append(t)
    parts.append(cur)
    return parts


def top_level(toks):
    """(index, token) of tokens outside parentheses."""
    depth = 0
    for i, t in enumerate(toks):
        if t.kind == "op" and t.text == "(":
            depth += 1
        elif t.kind == "op" and t.text == ")":
            depth -= 1
        elif depth == 0:
            yield i, t


def strip_parens(toks):
    while len(toks) >= 2 and toks[0].text == "(" and toks[0].kind == "op" and \
            match_paren(toks, 0) == len(toks) - 1 and not (len(toks) > 1 and toks[1].is_kw(
                "SELECT", "WITH")):
        toks = toks[1:-1]
    return toks


def is_ident(t):
    return t.kind == "qid" or (t.kind == "id" and t.value not in KEYWORDS)


def _tok(kind, text, like):
    from sqllex import Token
    return Token(kind, text, text.upper() if kind == "id" else text, like.pos, like.line, like.col)


def _left_operand(toks, k):
    """Start index of the primary expression that ends at toks[k-1]."""
    j = k - 1
    if j < 0:
        raise errors.syntax(toks[k].text, toks[k].line, toks[k].col)
    t = toks[j]
    if t.kind == "op" and t.text == ")":
        depth = 0
        for m in range(j, -1, -1):
            if toks[m].kind == "op" and toks[m].text == ")":
                depth += 1
            elif toks[m].kind == "op" and toks[m].text == "(":
                depth -= 1
                if depth == 0:
                    j = m
                    break
        if j > 0 and toks[j - 1].kind in ("id", "qid") and toks[j - 1].value not in KEYWORDS:
            j -= 1
        return j
    if t.kind in ("id", "qid"):
        while j >= 2 and toks[j - 1].kind == "op" and toks[j - 1].text == "." and \
                toks[j - 2].kind in ("id", "qid"):
            j -= 2
        return j
    if t.kind in ("str", "num", "param"):
        return j
    raise errors.syntax(toks[k].text, toks[k].line, toks[k].col)


def _right_operand(toks, k):
    """End index (exclusive) of the primary expression starting at toks[k+1]."""
    j = k + 1
    if j >= len(toks):
        raise errors.syntax("<EOF>", toks[k].line, toks[k].col)
    if toks[j].kind == "op" and toks[j].text in "-+":
        j += 1
    t = toks[j]
    if t.kind == "op" and t.text == "(":
        return match_paren(toks, j) + 1
    if t.kind in ("id", "qid"):
        while j + 2 < len(toks) and toks[j + 1].kind == "op" and toks[j + 1].text == "." and \
                toks[j + 2].kind in ("id", "qid"):
            j += 2
        if j + 1 < len(toks) and toks[j + 1].kind == "op" and toks[j + 1].text == "(":
            return match_paren(toks, j + 1) + 1
        return j + 1
    return j + 1


def rewrite_casts_and_division(toks):
    """x::T -> CAST(x AS T); a / b -> sfk_div(a, b) (Snowflake divides exactly
    and fails on zero, SQLite truncates integers and returns NULL)."""
    toks = list(toks)
    while True:
        k = next((i for i, t in enumerate(toks) if t.kind == "op" and t.text == "::"), None)
        if k is None:
            break
        s = _left_operand(toks, k)
        e = k + 2
        if e < len(toks) and toks[e].kind == "op" and toks[e].text == "(":
            e = match_paren(toks, e) + 1
        ref = toks[k]
        toks[s:e] = ([_tok("id", "CAST", ref), _tok("op", "(", ref)] + toks[s:k]
                     + [_tok("id", "AS", ref)] + toks[k + 1:e] + [_tok("op", ")", ref)])
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.kind == "op" and t.text == "/":
            s = _left_operand(toks, i)
            e = _right_operand(toks, i)
            toks[s:e] = ([_tok("id", "SFK_DIV", t), _tok("op", "(", t)] + toks[s:i]
                         + [_tok("op", ",", t)] + toks[i + 1:e] + [_tok("op", ")", t)])
            i = s
        i += 1
    return toks


class Source:
    """A FROM item as expressions see it."""

    def __init__(self, alias, cols, table=None):
        self.alias, self.cols, self.table = alias, cols, table


class OutCol:
    def __init__(self, name, sftype, nullable=True, origin=None, byte_length=None, length=None):
        self.name, self.sftype, self.nullable, self.origin = name, sftype, nullable, origin
        self.byte_length, self.length = byte_length, length


class Translator:
    """One statement's translation.  engine supplies resolve_table(parts,
    verb) -> catalog Table (or raises); binding_types maps binding keys to
    (SfType, is_null)."""

    def __init__(self, engine, binding_types):
        self.engine = engine
        self.binding_types = binding_types
        self.params = []                  # binding keys in order of use
        self.qmarks = 0
        self.ctes = {}
        self.compute = False              # reads table data (needs a warehouse)

    # -- queries ------------------------------------------------------------------
    def query(self, toks, outer=False):
        """(sqlite text, [OutCol]) of a full query (WITH, set operations)."""
        toks = strip_parens(toks) if toks and toks[0].text == "(" else toks
        if toks and toks[0].kind == "op" and toks[0].text == "(" and \
                match_paren(toks, 0) == len(toks) - 1:
            return self.query(toks[1:-1], outer)
        prefix = ""
        if toks and toks[0].is_kw("WITH"):
            prefix, toks = self._with(toks)
        # split at top-level set operators
        tops = [(i, t) for i, t in top_level(toks) if t.is_kw(*SETOPS)]
        bounds = []
        for i, t in tops:
            op = "EXCEPT" if t.value == "MINUS" else t.value
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if nxt is not None and nxt.is_kw("ALL", "DISTINCT"):
                op += " ALL" if nxt.value == "ALL" else ""
                bounds.append((i, i + 2, op))
            else:
                bounds.append((i, i + 1, op))
        pieces, last = [], 0
        for s, e, op in bounds:
            pieces.append((toks[last:s], op))
            last = e
        pieces.append((toks[last:], None))
        sql, cols = self.select(pieces[0][0], outer)
        out = sql
        for (arm, _), (_, op) in zip(pieces[1:], pieces[:-1]):
            arm_sql, arm_cols = self.select(arm, False)
            if len(arm_cols) != len(cols):
                raise errors.compilation("invalid number of result columns for set operator "
                                         "input branches, expected %d, got %d in branch 2"
                                         % (len(cols), len(arm_cols)))
            out += " %s %s" % (op, arm_sql)
            cols = [OutCol(c.name, c.sftype if c.sftype == a.sftype else None,
                           c.nullable or a.nullable) for c, a in zip(cols, arm_cols)]
        return prefix + out, cols

    def _with(self, toks):
        i = 1
        if i < len(toks) and toks[i].is_kw("RECURSIVE"):
            raise errors.unsupported("WITH RECURSIVE")
        parts = []
        while True:
            name = toks[i]
            if not is_ident(name):
                raise errors.syntax(name.text, name.line, name.col)
            i += 1
            if not toks[i].is_kw("AS"):
                raise errors.syntax(toks[i].text, toks[i].line, toks[i].col)
            i += 1
            end = match_paren(toks, i)
            sql, cols = self.query(toks[i + 1:end], False)
            self.ctes[name.value] = cols
            parts.append("%s AS (%s)" % (quote(name.value), sql))
            i = end + 1
            if i < len(toks) and toks[i].kind == "op" and toks[i].text == ",":
                i += 1
                continue
            break
        return "WITH " + ", ".join(parts) + " ", toks[i:]

    def select(self, toks, outer):
        if toks and toks[0].kind == "op" and toks[0].text == "(":
            end = match_paren(toks, 0)
            if end == len(toks) - 1:
                sql, cols = self.query(toks[1:-1], outer)
                return "SELECT * FROM (%s)" % sql, cols
        if not toks or not toks[0].is_kw("SELECT"):
            t = toks[0] if toks else None
            raise errors.syntax(t.text if t else "<EOF>", t.line if t else 1, t.col if t else 0)
        i = 1
        distinct = ""
        if i < len(toks) and toks[i].is_kw("DISTINCT", "ALL"):
            distinct = "DISTINCT " if toks[i].value == "DISTINCT" else ""
            i += 1
        if i < len(toks) and toks[i].is_kw("TOP"):
            raise errors.unsupported("SELECT TOP")
        clauses = {}
        order = []
        cur_name, cur = "SELECT", []
        body = toks[i:]
        idx = {j for j, t in top_level(body) if t.is_kw(*CLAUSES)}
        for j, t in enumerate(body):
            if j in idx:
                if t.value in clauses or t.value == cur_name:
                    raise errors.syntax(t.text, t.line, t.col)
                clauses[cur_name] = cur
                order.append(cur_name)
                cur_name, cur = t.value, []
                continue
            cur.append(t)
        clauses[cur_name] = cur
        for name in ("GROUP", "ORDER"):
            if name in clauses:
                c = clauses[name]
                if not c or not c[0].is_kw("BY"):
                    t = c[0] if c else body[-1]
                    raise errors.syntax(t.text, t.line, t.col)
                clauses[name] = c[1:]
        sources, from_sql = [], ""
        if "FROM" in clauses:
            from_sql, sources = self.from_clause(clauses["FROM"])
        items = split_top(clauses["SELECT"])
        outs, exprs, alias_expr = [], [], {}
        for item in items:
            if not item:
                raise errors.syntax(",", toks[0].line, toks[0].col)
            star = self._star(item, sources)
            if star is not None:
                for src, col in star:
                    exprs.append("%s.%s" % (quote(src.alias), quote(col.name)))
                    outs.append(OutCol(col.name, col.sftype, col.nullable, col.origin,
                                       col.byte_length, col.length))
                continue
            expr_toks, alias = self._split_alias(item)
            sql = self.expr(expr_toks, sources)
            col = self.type_of(expr_toks, sources)
            name = alias if alias is not None else col.name
            col.name = name
            exprs.append(sql)
            outs.append(col)
            if alias is not None:
                alias_expr[alias] = sql
        names = ["__c%d" % k if outer else o.name for k, o in enumerate(outs)]
        select_list = ", ".join("%s AS %s" % (e, quote(n)) for e, n in zip(exprs, names))
        sql = "SELECT " + distinct + select_list
        if from_sql:
            sql += " FROM " + from_sql
        colnames = {c.name for s in sources for c in s.cols}
        amap = {a: "(%s)" % e for a, e in alias_expr.items() if a not in colnames}
        if "WHERE" in clauses:
            sql += " WHERE " + self.expr(clauses["WHERE"], sources)
        if "GROUP" in clauses:
            sql += " GROUP BY " + self.expr(clauses["GROUP"], sources, amap)
        if "HAVING" in clauses:
            sql += " HAVING " + self.expr(clauses["HAVING"], sources, amap)
        qualify = None
        if "QUALIFY" in clauses:
            qualify = self.expr(clauses["QUALIFY"], sources, amap)
        order_sql = ""
        if "ORDER" in clauses:
            omap = {o.name: quote(n) for o, n in zip(outs, names)
                    if o.name not in colnames} if outer else amap
            order_sql = " ORDER BY " + self.expr(clauses["ORDER"], sources, omap)
        limit_sql = self._limit(clauses)
        if qualify is not None:
            inner = sql.replace("SELECT " + distinct + select_list, "SELECT " + select_list
                                + ", (%s) AS \"__Q\"" % qualify, 1)
            sql = "SELECT %s%s FROM (%s%s) WHERE \"__Q\"%s" % (
                distinct, ", ".join(quote(n) for n in names), inner, order_sql, limit_sql)
        else:
            sql += order_sql + limit_sql
        return sql, outs

    def _limit(self, clauses):
        out = ""
        if "LIMIT" in clauses:
            out += " LIMIT " + self.expr(clauses["LIMIT"], [])
        if "FETCH" in clauses:
            c = [t for t in clauses["FETCH"] if not t.is_kw("FIRST", "NEXT", "ROW", "ROWS",
                                                             "ONLY")]
            out += " LIMIT " + self.expr(c, [])
        if "OFFSET" in clauses:
            c = [t for t in clauses["OFFSET"] if not t.is_kw("ROW", "ROWS")]
            if "LIMIT" not in clauses and "FETCH" not in clauses:
                out += " LIMIT -1"
            out += " OFFSET " + self.expr(c, [])
        return out

    @staticmethod
    def _star(item, sources):
        if len(item) == 1 and item[0].kind == "op" and item[0].text == "*":
            if not sources:
                raise errors.compilation("SELECT with no columns")
            return [(s, c) for s in sources for c in s.cols]
        if len(item) == 3 and item[2].text == "*" and item[1].text == "." and is_ident(item[0]):
            src = next((s for s in sources if s.alias == item[0].value), None)
            if src is None:
                raise errors.invalid_identifier(item[0].value, item[0].line, item[0].col)
            return [(src, c) for c in src.cols]
        return None

    @staticmethod
    def _split_alias(item):
        if len(item) >= 3 and item[-2].is_kw("AS") and item[-1].kind in ("id", "qid"):
            return item[:-2], item[-1].value
        if len(item) >= 2 and is_ident(item[-1]):
            prev = item[-2]
            if not (prev.kind == "op" and prev.text in (".", "::")) and not prev.is_kw(
                    "AS") and not (prev.kind == "op" and prev.text not in (")",)):
                return item[:-1], item[-1].value
        return item, None

    # -- FROM ---------------------------------------------------------------------
    def from_clause(self, toks):
        if not toks:
            raise errors.syntax("<EOF>", 1, 0)
        sources, out, i = [], [], 0
        while i < len(toks):
            t = toks[i]
            if t.kind == "op" and t.text == ",":
                out.append(", ")
                i += 1
                continue
            if t.is_kw("LEFT", "RIGHT", "FULL", "INNER", "CROSS", "NATURAL", "JOIN", "OUTER"):
                words = []
                while i < len(toks) and toks[i].is_kw("LEFT", "RIGHT", "FULL", "INNER", "CROSS",
                                                      "NATURAL", "OUTER", "JOIN"):
                    words.append(toks[i].value)
                    i += 1
                    if words[-1] == "JOIN":
                        break
                if words[-1] != "JOIN":
                    raise errors.syntax(toks[i - 1].text, toks[i - 1].line, toks[i - 1].col)
                out.append(" %s " % " ".join(words))
                continue
            if t.is_kw("ON"):
                j = i + 1
                depth = 0
                while j < len(toks):
                    u = toks[j]
                    if u.kind == "op" and u.text == "(":
                        depth += 1
                    elif u.kind == "op" and u.text == ")":
                        depth -= 1
                    elif depth == 0 and (u.kind == "op" and u.text == "," or u.is_kw(
                            "LEFT", "RIGHT", "FULL", "INNER", "CROSS", "NATURAL", "JOIN")):
                        break
                    j += 1
                out.append(" ON " + self.expr(toks[i + 1:j], sources))
                i = j
                continue
            if t.is_kw("USING"):
                end = match_paren(toks, i + 1)
                cols = [quote(c[0].value) for c in split_top(toks[i + 2:end])]
                out.append(" USING (%s)" % ", ".join(cols))
                i = end + 1
                continue
            i, sql, src = self._factor(toks, i)
            out.append(sql)
            sources.append(src)
        return "".join(out), sources

    def _factor(self, toks, i):
        t = toks[i]
        if t.is_kw("LATERAL", "TABLE") or (t.kind == "id" and i + 1 < len(toks)
                                             and toks[i + 1].text == "(" and t.value != "VALUES"):
            raise errors.unsupported("%s(...) in FROM" % t.value)
        if t.kind == "op" and t.text == "(":
            end = match_paren(toks, i)
            inner = toks[i + 1:end]
            if not inner or not inner[0].is_kw("SELECT", "WITH"):
                raise errors.unsupported("Parenthesised joins in FROM")
            sql, cols = self.query(inner, False)
            i = end + 1
            alias, i = self._alias(toks, i)
            alias = alias or "__SUB%d" % i
            return i, "(%s) AS %s" % (sql, quote(alias)), Source(alias, cols)
        if t.is_kw("VALUES"):
            raise errors.unsupported("VALUES in FROM")
        parts = []
        while True:
            if not (toks[i].kind in ("id", "qid")):
                raise errors.syntax(toks[i].text, toks[i].line, toks[i].col)
            parts.append(toks[i].value)
            i += 1
            if i < len(toks) and toks[i].kind == "op" and toks[i].text == ".":
                i += 1
                continue
            break
        alias, i = self._alias(toks, i)
        if len(parts) == 1 and parts[0] in self.ctes:
            cols = self.ctes[parts[0]]
            alias = alias or parts[0]
            return i, "%s AS %s" % (quote(parts[0]), quote(alias)), Source(alias, cols)
        table = self.engine.resolve_table(parts, t)
        self.compute = True
        alias = alias or table.name
        origin = (table.db, table.schema, table.name)
        cols = [OutCol(c.name, c.sftype, c.nullable, origin) for c in table.columns]
        return i, "%s AS %s" % (quote(table.physical), quote(alias)), Source(alias, cols, table)

    @staticmethod
    def _alias(toks, i):
        if i < len(toks) and toks[i].is_kw("AS"):
            i += 1
            return toks[i].value, i + 1
        if i < len(toks) and is_ident(toks[i]) and not toks[i].is_kw(
                "LATERAL", "SAMPLE", "TABLESAMPLE", "AT", "BEFORE", "CHANGES", "MATCH_RECOGNIZE",
                "PIVOT", "UNPIVOT", "VALUES"):
            return toks[i].value, i + 1
        return None, i

    # -- expressions ----------------------------------------------------------------
    def expr(self, toks, sources, alias_map=None):
        toks = rewrite_casts_and_division(toks)
        out, i = [], 0
        while i < len(toks):
            t = toks[i]
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            is_call = nxt is not None and nxt.kind == "op" and nxt.text == "("
            if t.kind == "str":
                out.append(sqlite_str(t.value))
            elif t.kind == "num":
                # SQLite would read integers beyond 64 bits as doubles, even
                # from a text: pass them marked (sftypes.BIG_MARK).
                big = t.text.isdigit() and int(t.text) >= 1 << 63
                out.append("(char(0) || 'N%s')" % t.text if big else t.text)   # T.BIG_MARK
            elif t.kind == "param":
                out.append(self.param(t))
            elif t.kind == "op" and t.text == "(" and nxt is not None and nxt.is_kw("SELECT",
                                                                                     "WITH"):
                end = match_paren(toks, i)
                out.append("(%s)" % self.query(toks[i + 1:end], False)[0])
                i = end
            elif t.kind == "op":
                if t.text in ("[", "]", ":", "{", "}", "->", "=>", "@", "~"):
                    raise errors.unsupported("The operator '%s'" % t.text)
                out.append(t.text)
            elif t.is_kw("TRUE", "FALSE"):
                out.append("1" if t.value == "TRUE" else "0")
            elif t.kind == "id" and t.value in ("CAST", "TRY_CAST") and is_call:
                end = match_paren(toks, i + 1)
                inner = toks[i + 2:end]
                k = max((j for j, u in top_level(inner) if u.is_kw("AS")), default=None)
                if k is None:
                    raise errors.syntax(t.text, t.line, t.col)
                sftype = self.type_tokens(inner[k + 1:])
                fn = "sfk_cast" if t.value == "CAST" else "sfk_try_cast"
                out.append("%s(%s, '%s')" % (fn, self.expr(inner[:k], sources, alias_map),
                                             sftype.sql()))
                i = end
            elif t.kind == "id" and (is_call or t.value in NO_PAREN_FUNCTIONS) and \
                    t.value not in KEYWORDS - {"LEFT", "RIGHT"}:
                if t.value == "SFK_DIV":
                    out.append("sfk_div")
                elif t.value.startswith("SYSTEM$"):
                    raise errors.unsupported("Function %s here" % t.value)
                elif t.value in FUNCTIONS:
                    out.append(FUNCTIONS[t.value][0])
                    if not is_call:
                        out.append("()")
                    elif t.value in ("CURRENT_TIMESTAMP", "SYSDATE", "GETDATE",
                                     "LOCALTIMESTAMP") and toks[i + 2].text != ")":
                        end = match_paren(toks, i + 1)   # precision argument: ignored
                        out.append("()")
                        i = end
                else:
                    raise errors.unsupported("Function %s" % t.value)
            elif t.kind == "id" and t.value in ("ILIKE", "RLIKE", "REGEXP"):
                raise errors.unsupported("Operator %s" % t.value)
            elif is_ident(t):
                parts = [t.value]
                while i + 2 < len(toks) and toks[i + 1].kind == "op" and toks[i + 1].text == "." \
                        and toks[i + 2].kind in ("id", "qid"):
                    i += 2
                    parts.append(toks[i].value)
                if len(parts) == 1 and alias_map and parts[0] in alias_map:
                    out.append(alias_map[parts[0]])
                else:
                    out.append(".".join(quote(p) for p in parts[-2:]))
            else:
                out.append(t.value)
            i += 1
        return " ".join(out)

    def param(self, t):
        if t.value == "":
            self.qmarks += 1
            key = str(self.qmarks)
        else:
            key = t.value
        if key not in self.binding_types:
            raise SqlError("002049", "22000", "SQL compilation error: error line %d at position "
                           "%d\nBind variable %s not set." % (t.line, t.col, t.text))
        self.params.append(key)
        return ":p_" + key

    def type_tokens(self, toks):
        if not toks or toks[0].kind != "id":
            raise errors.syntax(toks[0].text if toks else "<EOF>", 1, 0)
        name = toks[0].value
        rest = toks[1:]
        if name == "DOUBLE" and rest and rest[0].is_kw("PRECISION"):
            rest = rest[1:]
        args = []
        if rest and rest[0].text == "(":
            end = match_paren(rest, 0)
            for part in split_top(rest[1:end]):
                if len(part) != 1 or part[0].kind != "num":
                    raise errors.syntax(part[0].text if part else ")", 1, 0)
                args.append(int(part[0].text))
            rest = rest[end + 1:]
        if rest:
            raise errors.syntax(rest[0].text, rest[0].line, rest[0].col)
        sftype = T.make_type(name, args)
        if sftype is None:
            raise errors.unsupported("The data type %s" % name)
        return sftype

    # -- result types ------------------------------------------------------------------
    def type_of(self, toks, sources):
        """OutCol of one select item (name = Snowflake's name of an
        unaliased expression: the text upper-cased)."""
        text = " ".join(t.text if t.kind == "qid" else t.text.upper() for t in toks)
        text = text.replace(" ( ", "(").replace(" (", "(").replace("( ", "(").replace(
            " )", ")").replace(" , ", ", ").replace(" . ", ".").replace(" :: ", "::")
        toks = strip_parens(toks)
        t0 = toks[0]
        if all(is_ident(t) or (t.kind == "op" and t.text == ".") for t in toks) and \
                toks[-1].kind in ("id", "qid"):
            parts = [t.value for t in toks if t.kind in ("id", "qid")]
            col = self._lookup(parts, sources)
            if col is not None:
                return OutCol(col.name, col.sftype, col.nullable, col.origin, col.byte_length,
                              col.length)
            if not (len(parts) == 1 and parts[0] in NO_PAREN_FUNCTIONS):
                return OutCol(parts[-1], None)
        if len(toks) == 1:
            if t0.kind == "str":
                return OutCol(text, T.varchar(max(1, len(t0.value))), False)
            if t0.kind == "num":
                digits = t0.text.replace(".", "").lstrip("0") or "0"
                scale = len(t0.text.split(".")[1]) if "." in t0.text else 0
                if "e" in t0.text.lower():
                    return OutCol(text, T.FLOAT, False)
                return OutCol(text, T.number(max(len(digits), scale, 1), scale), False)
            if t0.is_kw("NULL"):
                return OutCol(text, T.TEXT, True)
            if t0.is_kw("TRUE", "FALSE"):
                return OutCol(text, T.BOOLEAN, False)
            if t0.kind == "param":
                key = t0.value or str(self.qmarks_seen_for_typing())
                sftype, is_null = self.binding_types.get(key, (T.TEXT, True))
                if sftype.kind == "VARCHAR":
                    return OutCol("?", sftype, is_null, byte_length=134217728, length=134217728)
                return OutCol(t0.text, sftype, is_null)
        cast_toks = rewrite_casts_and_division(toks)
        c0 = cast_toks[0]
        if c0.kind == "id" and c0.value in ("CAST", "TRY_CAST") and len(cast_toks) > 1 and \
                match_paren(cast_toks, 1) == len(cast_toks) - 1:
            inner = cast_toks[2:-1]
            k = max(j for j, u in top_level(inner) if u.is_kw("AS"))
            sub = self.type_of(inner[:k], sources)
            return OutCol(text, self.type_tokens(inner[k + 1:]),
                          sub.nullable or c0.value == "TRY_CAST")
        if any(u.kind == "op" and u.text in COMPARE or u.is_kw(*PREDICATE_WORDS)
               for _, u in top_level(toks)):
            return OutCol(text, T.BOOLEAN, True)
        if c0.kind == "id" and (len(cast_toks) == 1 or cast_toks[1].text == "(") and \
                c0.value in FUNCTIONS:
            end = match_paren(cast_toks, 1) if len(cast_toks) > 1 else 0
            if end == len(cast_toks) - 1 or (len(cast_toks) > end + 1
                                              and cast_toks[end + 1].is_kw("OVER")):
                rule = FUNCTIONS[c0.value][1]
                args = split_top(cast_toks[2:end]) if end else []
                if isinstance(rule, T.SfType):
                    nullable = c0.value not in ("COUNT", "COUNT_IF", "ROW_NUMBER", "RANK",
                                                "DENSE_RANK", "CURRENT_TIMESTAMP", "SYSDATE",
                                                "CURRENT_DATE", "UUID_STRING", "GETDATE")
                    return OutCol(text, rule, nullable)
                if rule in ("arg0", "arg1", "sum") and args and args[0]:
                    idx = 1 if rule == "arg1" and len(args) > 1 else 0
                    if args[idx] and not (len(args[idx]) == 1 and args[idx][0].text == "*"):
                        sub = self.type_of(args[idx], sources)
                        st = sub.sftype
                        if rule == "sum" and st is not None:
                            st = T.number(38, st.scale) if st.kind == "NUMBER" else T.FLOAT
                        return OutCol(text, st, True)
        return OutCol(text, None)

    def qmarks_seen_for_typing(self):
        return self.qmarks

    @staticmethod
    def _lookup(parts, sources):
        name = parts[-1]
        if len(parts) >= 2:
            src = next((s for s in sources if s.alias == parts[-2]), None)
            cands = [src] if src else []
        else:
            cands = sources
        for s in cands:
            for c in s.cols:
                if c.name == name:
                    return c
        return None
