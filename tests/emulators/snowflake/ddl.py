"""DDL, SHOW/DESCRIBE, COPY and session statements of the engine (methods of
sqlengine.Engine, kept here so each module stays readable).  The grammar
they accept is listed at the top of sqlengine.py."""
import copy
import fnmatch
import time

import errors
import sftypes as T
import stage
from catalog import Column, Table, display, quote
from errors import SqlError
from sftypes import Col
from sqltranslate import Translator, match_paren, split_top, top_level

TABLE_OPTIONS = ("COMMENT", "CLUSTER", "DATA_RETENTION_TIME_IN_DAYS", "CHANGE_TRACKING",
                 "MAX_DATA_EXTENSION_TIME_IN_DAYS", "COPY", "DEFAULT_DDL_COLLATION",
                 "ENABLE_SCHEMA_EVOLUTION")
COLUMN_STOP = ("NOT", "PRIMARY", "UNIQUE", "COMMENT", "COLLATE", "REFERENCES", "CONSTRAINT")
OK = "Statement executed successfully."


def _status(text):
    from sqlengine import status_result
    return status_result(text)


def _name(toks, i):
    parts = []
    while True:
        if i >= len(toks) or toks[i].kind not in ("id", "qid"):
            t = toks[min(i, len(toks) - 1)]
            raise errors.syntax(t.text if i < len(toks) else "<EOF>", t.line, t.col)
        parts.append(toks[i].value)
        i += 1
        if i < len(toks) and toks[i].text == ".":
            i += 1
            continue
        return parts, i


def _expect_end(toks, i):
    if i < len(toks):
        raise errors.syntax(toks[i].text, toks[i].line, toks[i].col)


def _if(toks, i, *words):
    """Skip IF [NOT] EXISTS; returns (present, i)."""
    n = len(words)
    if i + n <= len(toks) and all(toks[i + k].is_kw(w) for k, w in enumerate(words)):
        return True, i + n
    return False, i


# ---------------------------------------------------------------------------
# CREATE

def do_create(self, toks, types, rows):
    i = 1
    replace = False
    if toks[i].is_kw("OR") and toks[i + 1].is_kw("REPLACE"):
        replace, i = True, i + 2
    kind = "TABLE"
    while toks[i].is_kw("LOCAL", "GLOBAL", "TEMP", "TEMPORARY", "VOLATILE", "TRANSIENT"):
        if toks[i].value in ("TEMP", "TEMPORARY", "VOLATILE"):
            kind = "TEMPORARY"
        elif toks[i].value == "TRANSIENT":
            kind = "TRANSIENT"
        i += 1
    what = toks[i].value
    if what in ("SCHEMA", "DATABASE"):
        return _create_container(self, toks, i + 1, what, replace)
    if what == "STAGE":
        return stage.create_stage(self, toks, i + 1, replace, kind == "TEMPORARY")
    if what == "STORAGE":
        return stage.create_integration(self, toks, i + 1, replace)
    if what != "TABLE":
        raise errors.unsupported("CREATE %s" % what)
    self._ddl()
    if_not, i = _if(toks, i + 1, "IF", "NOT", "EXISTS")
    if if_not and replace:
        raise errors.compilation("OR REPLACE and IF NOT EXISTS are incompatible.")
    parts, i = _name(toks, i)
    db, schema, name = self.qualify(parts, "CREATE")
    sid = self.session.id
    existing = (self.catalog.temps.get(sid, {}).get((db, schema, name)) if kind == "TEMPORARY"
                else self.catalog.tables.get((db, schema, name)))
    if existing is not None and not replace:
        if if_not:
            return _status("%s already exists, statement succeeded." % display(name))
        raise errors.already_exists(display(name))
    tr = Translator(self, types)
    columns, query = None, None
    if i < len(toks) and toks[i].is_kw("LIKE"):
        src_parts, i = _name(toks, i + 1)
        src = self.resolve_table(src_parts, verb="CREATE", kind="table")
        columns = copy.deepcopy(src.columns)
    elif i < len(toks) and toks[i].text == "(":
        end = match_paren(toks, i)
        columns = _column_defs(self, toks[i + 1:end], tr)
        i = end + 1
    while i < len(toks):
        t = toks[i]
        if t.is_kw("AS"):
            query = toks[i + 1:]
            break
        if not t.is_kw(*TABLE_OPTIONS):
            raise errors.unsupported("The table option %s" % t.text)
        i += 1
        if t.value == "CLUSTER":
            i = match_paren(toks, i + 1) + 1
        elif t.value == "COPY":
            i += 1
        else:
            if i < len(toks) and toks[i].text == "=":
                i += 1
            i += 1
    data = None
    if query is not None:
        self._require_warehouse()
        sql, outs = tr.query(query, False)
        data = self.sql(sql, self._params(tr, rows[0])).fetchall()
        cols, _ = self._render(outs, data)
        typed = [Column(c.name, c.sftype, True) for c in cols]
        if columns is not None:
            if len(columns) != len(typed):
                raise errors.compilation("Invalid column definition list")
            for c, t in zip(columns, typed):
                if c.sftype is None:
                    c.sftype = t.sftype
        else:
            columns = typed
    if columns is None:
        t = toks[i - 1]
        raise errors.syntax(t.text, t.line, t.col)
    if existing is not None:
        self.catalog.drop_physical(self.conn, existing)
        self.catalog.unregister(existing)
    table = Table(db, schema, name, columns, kind, sid if kind == "TEMPORARY" else None)
    self.catalog.create_physical(self.conn, table)
    self.catalog.register(table)
    if data:
        self.conn.executemany("INSERT INTO %s VALUES (%s)" % (
            quote(table.physical), ", ".join("?" * len(columns))), data)
    return _status("Table %s successfully created." % display(name))


def _column_defs(self, toks, tr):
    columns = []
    for part in split_top(toks):
        if not part:
            raise errors.syntax(")", 1, 0)
        if part[0].is_kw("CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN"):
            continue                      # accepted, not enforced (as on Snowflake)
        if part[0].is_kw("CHECK"):
            raise errors.unsupported("CHECK constraints")
        columns.append(_column_def(self, part, tr))
    names = [c.name for c in columns]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise SqlError("002025", "42S21", "SQL compilation error:\nduplicate column name '%s'"
                       % dup)
    return columns


def _column_def(self, part, tr):
    if part[0].kind not in ("id", "qid"):
        raise errors.syntax(part[0].text, part[0].line, part[0].col)
    name = part[0].value
    if len(part) == 1:                    # CREATE TABLE t (a, b) AS SELECT: types from the query
        return Column(name, None)
    j = 2
    if j < len(part) and part[1].is_kw("DOUBLE") and part[j].is_kw("PRECISION"):
        j += 1
    if j < len(part) and part[j].text == "(":
        j = match_paren(part, j) + 1
    sftype = tr.type_tokens(part[1:j])
    col = Column(name, sftype)
    while j < len(part):
        t = part[j]
        if t.is_kw("NOT") and j + 1 < len(part) and part[j + 1].is_kw("NULL"):
            col.nullable, j = False, j + 2
        elif t.is_kw("NULL"):
            j += 1
        elif t.is_kw("DEFAULT"):
            k = j + 2
            while k < len(part) and not part[k].is_kw(*COLUMN_STOP):
                k += 1
            expr = part[j + 1:k]
            col.default_sql = tr.expr(expr, [])
            col.default_text = " ".join(x.text for x in expr)
            j = k
        elif t.is_kw("PRIMARY") or t.is_kw("UNIQUE"):
            j += 2 if t.value == "PRIMARY" else 1
        elif t.is_kw("CONSTRAINT"):
            j += 2
        elif t.is_kw("REFERENCES"):
            j += 1
            _, j = _name(part, j)
            if j < len(part) and part[j].text == "(":
                j = match_paren(part, j) + 1
        elif t.is_kw("COLLATE", "COMMENT"):
            if j + 1 >= len(part) or part[j + 1].kind != "str":
                raise errors.syntax(t.text, t.line, t.col)
            if t.value == "COMMENT":
                col.comment = part[j + 1].value
            j += 2
        else:
            if t.is_kw("AUTOINCREMENT", "IDENTITY", "WITH", "MASKING", "AS"):
                raise errors.unsupported("The column property %s" % t.value)
            raise errors.syntax(t.text, t.line, t.col)
    return col


def _create_container(self, toks, i, what, replace):
    self._ddl()
    if_not, i = _if(toks, i, "IF", "NOT", "EXISTS")
    parts, i = _name(toks, i)
    while i < len(toks) and toks[i].is_kw("COMMENT", "DATA_RETENTION_TIME_IN_DAYS"):
        i += 3 if i + 1 < len(toks) and toks[i + 1].text == "=" else 2
    _expect_end(toks, i)
    dbs = self.catalog.databases
    if what == "DATABASE":
        if len(parts) != 1:
            raise errors.compilation("invalid database name")
        exists = parts[0] in dbs
        if exists and replace:
            _drop_database(self, parts[0])
            exists = False
        if exists:
            if if_not:
                return _status("%s already exists, statement succeeded." % display(parts[0]))
            raise errors.already_exists(display(parts[0]))
        self.catalog.add_database(parts[0])
        return _status("Database %s successfully created." % display(parts[0]))
    db = parts[0] if len(parts) == 2 else self.session.database
    name = parts[-1]
    if not db:
        raise errors.no_current("database", "CREATE")
    if db not in dbs:
        raise errors.no_database(display(db))
    if name in dbs[db] and not replace:
        if if_not:
            return _status("%s already exists, statement succeeded." % display(name))
        raise errors.already_exists(display(name))
    if name in dbs[db]:
        _drop_schema(self, db, name)
    dbs[db][name] = int(time.time() * 1000)
    return _status("Schema %s successfully created." % display(name))


# ---------------------------------------------------------------------------
# DROP

def _drop_schema(self, db, schema):
    for t in [t for t in self.catalog.visible(self.session.id) if t.db == db and
              t.schema == schema]:
        self.catalog.drop_physical(self.conn, t)
        self.catalog.unregister(t)
    self.catalog.databases[db].pop(schema, None)


def _drop_database(self, db):
    for schema in list(self.catalog.databases.get(db, {})):
        _drop_schema(self, db, schema)
    self.catalog.databases.pop(db, None)


def do_drop(self, toks, types, rows):
    what = toks[1].value
    if what == "STAGE":
        return stage.drop_stage(self, toks, 2)
    if what not in ("TABLE", "SCHEMA", "DATABASE"):
        raise errors.unsupported("DROP %s" % what)
    self._ddl()
    if_exists, i = _if(toks, 2, "IF", "EXISTS")
    parts, i = _name(toks, i)
    if i < len(toks) and toks[i].is_kw("CASCADE", "RESTRICT"):
        i += 1
    _expect_end(toks, i)
    shown = display(parts[-1])
    if what == "TABLE":
        try:
            table = self.resolve_table(parts, verb="DROP", kind="table")
        except SqlError as e:
            if if_exists and e.code == "002003":
                return _status("Drop statement executed successfully (%s already dropped)." % shown)
            raise
        if table.schema == "INFORMATION_SCHEMA":
            raise errors.compilation("Cannot drop INFORMATION_SCHEMA views.")
        self.catalog.drop_physical(self.conn, table)
        self.catalog.unregister(table)
        return _status("%s successfully dropped." % shown)
    dbs = self.catalog.databases
    if what == "DATABASE":
        if parts[0] not in dbs:
            if if_exists:
                return _status("Drop statement executed successfully (%s already dropped)."
                               % shown)
            raise errors.no_database(shown)
        _drop_database(self, parts[0])
        return _status("%s successfully dropped." % shown)
    db = parts[0] if len(parts) == 2 else self.session.database
    if db not in dbs or parts[-1] not in dbs[db]:
        if if_exists:
            return _status("Drop statement executed successfully (%s already dropped)." % shown)
        raise errors.no_schema(shown)
    _drop_schema(self, db, parts[-1])
    return _status("%s successfully dropped." % shown)


# ---------------------------------------------------------------------------
# ALTER TABLE

def do_alter(self, toks, types, rows):
    if toks[1].is_kw("SESSION"):
        return _status(OK)
    if not toks[1].is_kw("TABLE"):
        raise errors.unsupported("ALTER %s" % toks[1].text)
    self._ddl()
    if_exists, i = _if(toks, 2, "IF", "EXISTS")
    parts, i = _name(toks, i)
    try:
        table = self.resolve_table(parts, verb="ALTER", kind="table")
    except SqlError as e:
        if if_exists and e.code == "002003":
            return _status(OK)
        raise
    if i >= len(toks):
        raise errors.syntax("<EOF>", toks[-1].line, toks[-1].col)
    t = toks[i]
    tr = Translator(self, types)
    if t.is_kw("ADD"):
        return _add_columns(self, table, toks[i + 1:], tr)
    if t.is_kw("DROP"):
        return _drop_columns(self, table, toks[i + 1:])
    if t.is_kw("RENAME") and toks[i + 1].is_kw("TO"):
        new_parts, j = _name(toks, i + 2)
        _expect_end(toks, j)
        db, schema, name = self.qualify(new_parts, "ALTER")
        if self.catalog.lookup((db, schema, name), self.session.id) is not None:
            raise errors.already_exists(display(name))
        self.catalog.unregister(table)
        table.db, table.schema, table.name = db, schema, name
        self.catalog.register(table)
        return _status(OK)
    if t.is_kw("RENAME") and toks[i + 1].is_kw("COLUMN"):
        old, new = toks[i + 2].value, toks[i + 4].value
        if not toks[i + 3].is_kw("TO"):
            raise errors.syntax(toks[i + 3].text, toks[i + 3].line, toks[i + 3].col)
        col = _col(table, toks[i + 2])
        if table.column(new) is not None:
            raise SqlError("001430", "42601", "SQL compilation error:\ncolumn '%s' already exists"
                           % new)
        cols = copy.deepcopy(table.columns)
        carry = [(c.name if c.name != old else new, quote(c.name)) for c in table.columns]
        for c in cols:
            if c.name == col.name:
                c.name = new
        self.catalog.rebuild(self.conn, table, cols, carry)
        return _status(OK)
    if t.is_kw("SWAP") and toks[i + 1].is_kw("WITH"):
        other_parts, j = _name(toks, i + 2)
        _expect_end(toks, j)
        other = self.resolve_table(other_parts, verb="ALTER", kind="table")
        for attr in ("physical", "columns", "created_ms"):
            a, b = getattr(table, attr), getattr(other, attr)
            setattr(table, attr, b)
            setattr(other, attr, a)
        return _status(OK)
    if t.is_kw("ALTER", "MODIFY"):
        return _alter_column(self, table, toks[i + 1:], tr)
    raise errors.unsupported("ALTER TABLE ... %s" % t.text)


def _col(table, tok):
    c = table.column(tok.value)
    if c is None:
        raise errors.invalid_identifier(tok.value, tok.line, tok.col)
    return c


def _add_columns(self, table, toks, tr):
    if toks and toks[0].is_kw("COLUMN"):
        toks = toks[1:]
    if_not, k = _if(toks, 0, "IF", "NOT", "EXISTS")
    toks = toks[k:]
    cols = copy.deepcopy(table.columns)
    for part in split_top(toks):
        if part and part[0].is_kw("COLUMN"):
            part = part[1:]
        col = _column_def(self, part, tr)
        if table.column(col.name) is not None or any(c.name == col.name for c in cols[
                len(table.columns):]):
            if if_not:
                continue
            raise SqlError("001430", "42601", "SQL compilation error:\ncolumn '%s' already exists"
                           % col.name)
        cols.append(col)
    carry = [(c.name, quote(c.name)) for c in table.columns]
    self.catalog.rebuild(self.conn, table, cols, carry)
    return _status(OK)


def _drop_columns(self, table, toks):
    if toks and toks[0].is_kw("COLUMN"):
        toks = toks[1:]
    if_exists, k = _if(toks, 0, "IF", "EXISTS")
    names = []
    for part in split_top(toks[k:]):
        if len(part) != 1:
            raise errors.syntax(part[0].text if part else ",", 1, 0)
        if table.column(part[0].value) is None:
            if if_exists:
                continue
            raise errors.invalid_identifier(part[0].value, part[0].line, part[0].col)
        names.append(part[0].value)
    keep = [c for c in table.columns if c.name not in names]
    if not keep:
        raise SqlError("002028", "42601", "SQL compilation error:\nCannot drop all the columns "
                       "of table %s." % display(table.name))   # wording invented
    self.catalog.rebuild(self.conn, table, copy.deepcopy(keep),
                         [(c.name, quote(c.name)) for c in keep])
    return _status(OK)


def _alter_column(self, table, toks, tr):
    if toks and toks[0].is_kw("COLUMN"):
        toks = toks[1:]
    col = _col(table, toks[0])
    rest = toks[1:]
    cols = copy.deepcopy(table.columns)
    new = next(c for c in cols if c.name == col.name)
    words = [t.value for t in rest[:3]]
    if words[:3] == ["DROP", "NOT", "NULL"]:
        new.nullable = True
    elif words[:3] == ["SET", "NOT", "NULL"]:
        new.nullable = False
    elif words[:2] == ["DROP", "DEFAULT"]:
        new.default_sql = new.default_text = None
    elif words[:1] == ["TYPE"] or words[:3] == ["SET", "DATA", "TYPE"]:
        type_toks = rest[1:] if words[0] == "TYPE" else rest[3:]
        sftype = tr.type_tokens(type_toks)
        old = col.sftype
        ok = (old.kind == sftype.kind == "VARCHAR" and sftype.length >= old.length) or (
            old.kind == sftype.kind == "NUMBER" and sftype.scale == old.scale
            and sftype.precision >= old.precision) or old == sftype
        if not ok:
            raise SqlError("002108", "22000", "SQL compilation error: cannot change column %s "
                           "from type %s to %s" % (col.name, old.sql(), sftype.sql()))
        new.sftype = sftype
    else:
        raise errors.unsupported("ALTER COLUMN ... %s" % " ".join(words))
    self.catalog.rebuild(self.conn, table, cols, [(c.name, quote(c.name)) for c in cols])
    return _status(OK)


# ---------------------------------------------------------------------------
# SHOW, DESCRIBE, COPY

def _like(toks, i):
    if i < len(toks) and toks[i].is_kw("LIKE"):
        pat = toks[i + 1].value
        rx = fnmatch.translate(pat.replace("%", "*").replace("_", "?").lower())
        import re
        return re.compile(rx).match, i + 2
    return (lambda s: True), i


def _text_cols(names):
    return [Col(n, T.TEXT, True) for n in names]


def do_show(self, toks, types, rows):
    from sqlengine import Result
    what = toks[1].value
    match, i = _like(toks, 2)
    scope_db = scope_schema = None
    if i < len(toks) and toks[i].is_kw("IN"):
        i += 1
        if toks[i].is_kw("ACCOUNT"):
            i += 1
        elif toks[i].is_kw("DATABASE"):
            i += 1
            scope_db = toks[i].value if i < len(toks) else self.session.database
            i += 1 if i < len(toks) else 0
        else:
            if toks[i].is_kw("SCHEMA"):
                i += 1
            parts, i = _name(toks, i) if i < len(toks) else ([self.session.schema], i)
            scope_db = parts[0] if len(parts) == 2 else self.session.database
            scope_schema = parts[-1]
    elif what in ("TABLES", "SCHEMAS"):
        scope_db = self.session.database
        scope_schema = self.session.schema if what == "TABLES" else None
    _expect_end(toks, i)
    if what == "TABLES":
        cols = [Col("created_on", T.SfType("TIMESTAMP_LTZ", 0, 3), True)] + _text_cols(
            ["name", "database_name", "schema_name", "kind", "comment", "cluster_by"]) + [
            Col("rows", T.number(38, 0), True), Col("bytes", T.number(38, 0), True)] + \
            _text_cols(["owner", "retention_time"])
        out = []
        for t in sorted(self.catalog.visible(self.session.id), key=lambda t: t.key):
            if (scope_db and t.db != scope_db) or (scope_schema and t.schema != scope_schema):
                continue
            if not match(t.name.lower()):
                continue
            n = self.conn.execute("SELECT COUNT(*) FROM %s" % quote(t.physical)).fetchone()[0]
            out.append([T.render(cols[0].sftype, T.format_ts(t.created_ms * 1000000)), t.name,
                        t.db, t.schema, t.kind, "", "", str(n), str(n * 64),
                        self.session.role, "1"])
        return Result(cols, out)
    if what == "SCHEMAS":
        cols = [Col("created_on", T.SfType("TIMESTAMP_LTZ", 0, 3), True)] + _text_cols(
            ["name", "is_default", "is_current", "database_name", "owner", "comment",
             "options", "retention_time"])
        out = []
        for db, schemas in sorted(self.catalog.databases.items()):
            if scope_db and db != scope_db:
                continue
            for s, created in sorted(schemas.items()):
                if match(s.lower()):
                    out.append([T.render(cols[0].sftype, T.format_ts(created * 1000000)), s, "N",
                                "Y" if (db, s) == (self.session.database, self.session.schema)
                                else "N", db, self.session.role, "", "", "1"])
        return Result(cols, out)
    if what == "DATABASES":
        cols = _text_cols(["name", "is_default", "is_current", "origin", "owner", "comment",
                           "options", "retention_time"])
        out = [[db, "N", "Y" if db == self.session.database else "N", "", self.session.role,
                "", "", "1"] for db in sorted(self.catalog.databases) if match(db.lower())]
        return Result(cols, out)
    if what == "WAREHOUSES":
        cols = _text_cols(["name", "state", "type", "size", "running", "queued", "is_default",
                           "is_current", "auto_suspend", "auto_resume", "owner", "comment"])
        out = []
        for w in self.warehouses():
            if match(w["name"].lower()):
                out.append([w["name"], w["state"], "STANDARD", "X-Small", "0", "0",
                            "Y" if w["default"] else "N",
                            "Y" if w["name"] == self.session.warehouse else "N", "600",
                            "true" if w["auto_resume"] else "false", self.session.role, ""])
        return Result(cols, out)
    raise errors.unsupported("SHOW %s" % what)


def do_describe(self, toks, types, rows):
    from sqlengine import Result
    i = 1
    if i < len(toks) and toks[i].is_kw("TABLE"):
        i += 1
    elif i < len(toks) and toks[i].is_kw("VIEW", "SCHEMA", "DATABASE", "USER", "STAGE"):
        raise errors.unsupported("DESCRIBE %s" % toks[i].value)
    parts, i = _name(toks, i)
    _expect_end(toks, i)
    table = self.resolve_table(parts, verb="DESCRIBE", kind="table")
    cols = _text_cols(["name", "type", "kind", "null?", "default", "primary key", "unique key",
                       "check", "expression", "comment", "policy name", "privacy domain"])
    out = [[c.name, c.sftype.sql(), "COLUMN", "Y" if c.nullable else "N", c.default_text, "N",
            "N", None, None, c.comment, None, None] for c in table.columns]
    return Result(cols, out)


def do_copy(self, toks, types, rows):
    import copyinto            # COPY INTO from stages: copyinto.py
    return copyinto.do_copy(self, toks, types, rows)


# ---------------------------------------------------------------------------
# Transactions and USE (inside multi-statement requests)

def do_txn(self, toks):
    s = self.session
    word = toks[0].value
    if word in ("BEGIN", "START"):
        if not s.in_txn:
            self.conn.execute("BEGIN")
            s.in_txn = True
    elif s.in_txn:
        self.conn.execute("COMMIT" if word == "COMMIT" else "ROLLBACK")
        s.in_txn = False
    return _status(OK)


def do_use(self, toks):
    s = self.session
    i = 1
    what = None
    if toks[i].is_kw("DATABASE", "SCHEMA", "WAREHOUSE", "ROLE"):
        what, i = toks[i].value, i + 1
    parts, i = _name(toks, i)
    _expect_end(toks, i)
    dbs = self.catalog.databases
    missing = SqlError("002043", "02000", "SQL compilation error:\nObject does not exist, or "
                       "operation cannot be performed.")
    if what == "WAREHOUSE":
        s.warehouse = parts[0]
    elif what == "ROLE":
        s.role = parts[0]
    elif what == "SCHEMA" or (what is None and len(parts) == 2):
        db = parts[0] if len(parts) == 2 else s.database
        if db not in dbs or parts[-1] not in dbs[db]:
            raise missing
        s.database, s.schema = db, parts[-1]
    else:
        if parts[0] not in dbs:
            raise missing
        s.database, s.schema = parts[0], "PUBLIC"
    return _status(OK)


del top_level
