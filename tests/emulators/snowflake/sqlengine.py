"""The SQL engine: Snowflake statements executed on one SQLite database.

Scope (honest; everything else is an SQL compilation error 001003 whose
message says "... is not supported by the Sluice Snowflake emulator"):
  SELECT / WITH ... (see sqltranslate.py), SELECT SYSTEM$WAIT(n)
  SELECT ... FROM [db.]INFORMATION_SCHEMA.COLUMNS | TABLES | SCHEMATA
  INSERT [OVERWRITE] INTO t [(cols)] VALUES (...), ... | query
  UPDATE t [AS a] SET c = e, ... [FROM ...] [WHERE ...]
  DELETE FROM t [AS a] [USING ...] [WHERE ...]; TRUNCATE [TABLE] [IF EXISTS] t
  MERGE INTO t [AS a] USING (query) | table [AS s] ON cond
        WHEN MATCHED [AND cond] THEN UPDATE SET ... | DELETE
        WHEN NOT MATCHED [AND cond] THEN INSERT [(cols)] VALUES (...)
        (a target row joined by two source rows: 100090, as with
        ERROR_ON_NONDETERMINISTIC_MERGE = TRUE, the default)
  CREATE [OR REPLACE] [TEMP[ORARY]|TRANSIENT] TABLE [IF NOT EXISTS] t
        (col type [NOT NULL] [DEFAULT e] [PRIMARY KEY|UNIQUE] [COMMENT '..'], ...,
         [CONSTRAINT n] PRIMARY KEY|UNIQUE|FOREIGN KEY (...))  -- keys not enforced
        | LIKE other | [ (cols) ] AS query;  table options COMMENT, CLUSTER BY,
        DATA_RETENTION_TIME_IN_DAYS, CHANGE_TRACKING, COPY GRANTS are accepted
  ALTER TABLE [IF EXISTS] t ADD [COLUMN] [IF NOT EXISTS] def, ... | DROP [COLUMN]
        [IF EXISTS] c, ... | RENAME TO n | SWAP WITH o | RENAME COLUMN a TO b |
        ALTER|MODIFY [COLUMN] c DROP NOT NULL | SET NOT NULL | [SET DATA] TYPE t
        | DROP DEFAULT
  DROP TABLE [IF EXISTS] t; CREATE|DROP SCHEMA|DATABASE [IF [NOT] EXISTS] n
  SHOW TABLES|SCHEMAS|DATABASES|WAREHOUSES [LIKE '..'] [IN ...]; DESC[RIBE] TABLE t
  COPY INTO t FROM @stage/path | 's3://..' (S3 stages, copyinto.py; @~ and internal
        stages are always empty: "0 files processed"); CREATE/DROP STAGE (stage.py)
  BEGIN, START TRANSACTION, COMMIT, ROLLBACK, USE, ALTER SESSION (the API
        refuses them alone; inside a multi-statement request they work)
A request is one session: temporary tables and an open transaction end with
it.  DDL commits an open transaction first, as on Snowflake.
"""
import fnmatch
import sqlite3
import threading

import errors
import sftypes as T
import sqlfuncs
from catalog import Catalog, Column, Table, display, quote
from errors import SqlError
from sftypes import Col
from sqltranslate import OutCol, Source, Translator, match_paren, split_top, is_ident

STATUS_COL = ("status", T.TEXT, True, 16777216, 16777216)
API_REFUSED = {"BEGIN": "TRANSACTION_BEGIN", "START": "TRANSACTION_BEGIN",
               "COMMIT": "TRANSACTION_COMMIT", "ROLLBACK": "TRANSACTION_ROLLBACK", "USE": "USE"}
VERSION = "10.36.101"
MAX_VALUES_ROWS = 16384
INFO_VIEWS = ("COLUMNS", "TABLES", "SCHEMATA")


class Session:
    """One request's session (contract section 2.7)."""

    def __init__(self, sid, database, schema, warehouse, role, user, account, warehouse_ok):
        self.id, self.database, self.schema = sid, database, schema
        self.warehouse, self.role, self.user, self.account = warehouse, role, user, account
        self.warehouse_ok = warehouse_ok          # callable(name) -> bool (and resumes it)
        self.in_txn = False


class Result:
    def __init__(self, cols, rows, stats=None, dml_counts=False):
        self.cols, self.rows, self.stats = cols, rows, stats
        self.dml_counts = dml_counts              # the +11 quirk of uncompressedSize


def status_result(text):
    name, t, nullable, bl, ln = STATUS_COL
    return Result([Col(name, t, nullable, byte_length=bl, length=ln)], [[text]])


def count_result(pairs, stats):
    cols = [Col(name, T.number(19, 0), False) for name, _ in pairs]
    return Result(cols, [[str(n) for _, n in pairs]], stats, dml_counts=True)


def api_refusal(toks):
    """The 391911 kind of a statement the SQL API refuses when alone."""
    t0 = toks[0]
    if t0.is_kw("PUT", "GET"):
        return t0.value
    if t0.value in API_REFUSED and t0.kind == "id":
        return API_REFUSED[t0.value]
    if t0.is_kw("ALTER") and len(toks) > 1 and toks[1].is_kw("SESSION"):
        return "ALTER_SESSION"
    return None


def wait_seconds(toks):
    """n of a statement SELECT SYSTEM$WAIT(n [, 'SECONDS'|'MINUTES'...]), else None."""
    if len(toks) >= 5 and toks[0].is_kw("SELECT") and toks[1].value == "SYSTEM$WAIT" and \
            toks[2].text == "(" and toks[3].kind == "num" and toks[-1].text == ")":
        unit = toks[5].value.upper() if len(toks) == 7 and toks[5].kind == "str" else "SECONDS"
        mult = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600, "MILLISECONDS": 0.001}.get(unit)
        if mult is not None and len(toks) in (5, 7):
            return float(toks[3].text) * mult, toks[3].text
    return None


class Engine:
    def __init__(self, path=":memory:"):
        self.lock = threading.Lock()              # held for a whole request by its executor
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA case_sensitive_like = ON")   # Snowflake's LIKE is
        self.funcs = sqlfuncs.FuncState()
        sqlfuncs.register(self.conn, self.funcs)
        self.catalog = Catalog()
        self.session = None
        self._scratch = []                        # temp tables of the running statement
        self.warehouses = lambda: []              # SHOW WAREHOUSES (set by the emulator)

    # -- plumbing -------------------------------------------------------------------
    def sql(self, text, params=()):
        self.funcs.error = None
        try:
            return self.conn.execute(text, params)
        except sqlite3.Error as e:
            raise self._map_error(e, text)

    def _map_error(self, e, text):
        if self.funcs.error is not None:
            err, self.funcs.error = self.funcs.error, None
            return err
        msg = str(e)
        if msg.startswith("no such column: "):
            name = msg[len("no such column: "):].replace('"', "")
            return errors.invalid_identifier(name)
        if msg.startswith("NOT NULL constraint failed"):
            return SqlError("100072", "22000", "NULL result in a non-nullable column")
        if "syntax error" in msg:
            near = msg.split('"')[1] if '"' in msg else msg
            return errors.syntax(near)
        if msg.startswith("ambiguous column name"):
            return errors.compilation("ambiguous column name '%s'" % msg.split(": ", 1)[-1])
        if "too many terms in compound SELECT" in msg or "too many SQL variables" in msg:
            return SqlError("001795", "42601", "SQL compilation error:\nmaximum number of "
                            "expressions in a list exceeded")
        if isinstance(e, sqlite3.IntegrityError):
            return SqlError("100072", "22000", msg)
        return errors.compilation("%s (from the emulator's SQLite store)" % msg)

    def begin_statement(self, session, now_ns):
        self.session = session
        self.funcs.now = now_ns
        self.funcs.ctx = {"DATABASE": session.database, "SCHEMA": session.schema,
                          "WAREHOUSE": session.warehouse, "ROLE": session.role,
                          "USER": session.user, "ACCOUNT": session.account, "VERSION": VERSION}

    def end_session(self, session):
        """Roll back what is still open, drop the session's temporary tables."""
        if session.in_txn:
            self.conn.execute("ROLLBACK")
            session.in_txn = False
        for table in list(self.catalog.temps.pop(session.id, {}).values()):
            self.catalog.drop_physical(self.conn, table)

    def reset(self):
        for t in list(self.catalog.tables.values()) + [
                t for d in self.catalog.temps.values() for t in d.values()]:
            self.catalog.drop_physical(self.conn, t)
        self.catalog = Catalog()

    # -- names ----------------------------------------------------------------------
    def qualify(self, parts, verb="SELECT"):
        s = self.session
        if len(parts) > 3:
            raise errors.compilation("invalid name '%s'" % ".".join(parts))
        if len(parts) == 3:
            db, schema, name = parts
        elif len(parts) == 2:
            db, (schema, name) = s.database, parts
            if not db:
                raise errors.no_current("database", verb)
        else:
            db, schema, name = s.database, s.schema, parts[0]
            if not db:
                raise errors.no_current("database", verb)
            if not schema:
                raise errors.no_current("schema", verb)
        if db not in self.catalog.databases:
            raise errors.no_database(display(db))
        if schema not in self.catalog.databases[db]:
            raise errors.no_schema("%s.%s" % (display(db), display(schema)))
        return db, schema, name

    def resolve_table(self, parts, tok=None, verb="SELECT", kind="object"):
        db, schema, name = self.qualify(parts, verb)
        if schema == "INFORMATION_SCHEMA":
            return self.info_schema(db, name, parts)
        table = self.catalog.lookup((db, schema, name), self.session.id)
        if table is None:
            shown = ".".join(display(p) for p in parts)
            if kind == "table":
                raise errors.no_table(shown)
            raise errors.no_object(shown, self.session.role or "PUBLIC")
        return table

    def _require_warehouse(self):
        s = self.session
        if not s.warehouse or not s.warehouse_ok(s.warehouse):
            raise errors.no_warehouse()

    # -- dispatch -------------------------------------------------------------------
    def run(self, toks, bindings):
        """Execute one statement (its own savepoint); returns a Result."""
        t0 = toks[0]
        kw = t0.value if t0.kind == "id" else t0.text
        handler = {
            "SELECT": self.do_query, "WITH": self.do_query, "(": self.do_query,
            "INSERT": self.do_insert, "UPDATE": self.do_update, "DELETE": self.do_delete,
            "MERGE": self.do_merge, "TRUNCATE": self.do_truncate, "CREATE": self.do_create,
            "DROP": self.do_drop, "ALTER": self.do_alter, "SHOW": self.do_show,
            "DESC": self.do_describe, "DESCRIBE": self.do_describe, "COPY": self.do_copy,
            "BEGIN": self.do_txn, "START": self.do_txn, "COMMIT": self.do_txn,
            "ROLLBACK": self.do_txn, "USE": self.do_use,
        }.get(kw)
        if handler is None:
            if kw in ("PUT", "GET"):
                raise errors.not_supported_by_api(kw)
            if kw in ("GRANT", "REVOKE", "CALL", "EXECUTE", "UNDROP", "LIST", "REMOVE",
                      "COMMENT", "EXPLAIN", "SET", "UNSET"):
                raise errors.unsupported("The command %s" % kw)
            raise errors.syntax(t0.text, t0.line, t0.col)
        types, rows = self._bindings(bindings)
        if handler in (self.do_txn, self.do_use):
            return handler(toks)
        self.sql("SAVEPOINT stmt")
        try:
            result = handler(toks, types, rows)
        except BaseException:
            self.conn.execute("ROLLBACK TO stmt")
            self.conn.execute("RELEASE stmt")
            raise
        finally:
            self._drop_scratch()
        self.conn.execute("RELEASE stmt")
        return result

    def _ddl(self):
        """DDL commits the open transaction first (Snowflake's implicit commit)."""
        if self.session.in_txn:
            self.conn.execute("RELEASE stmt")
            self.conn.execute("COMMIT")
            self.session.in_txn = False
            self.conn.execute("SAVEPOINT stmt")

    @staticmethod
    def _bindings(bindings):
        """({key: (SfType, first value is null)}, [{p_key: value}] one per row)."""
        if not bindings:
            return {}, [{}]
        types, columns, size, prev_key = {}, {}, None, None
        for n, (key, b) in enumerate(bindings.items(), 1):
            if not isinstance(b, dict):
                raise SqlError("002049", "22000", "SQL compilation error:\nbad binding %s" % key)
            btype = str(b.get("type", "TEXT")).upper()
            value = b.get("value")
            values = value if isinstance(value, list) else None
            if values is not None:
                if size is not None and len(values) != size:
                    raise SqlError("002099", "42601", "SQL compilation error: Batch size of %d "
                                   "for bind variable %d not the same as previous size of %d."
                                   % (len(values), n, size))
                size = len(values)
                decoded = [T.decode_binding(btype, v) for v in values]
            else:
                decoded = T.decode_binding(btype, value)
            sftype = T.BINDING_TYPES.get(btype)
            if sftype is None:
                raise SqlError("002040", "22000", "SQL compilation error:\nUnsupported data type "
                               "'%s'." % btype)
            first = decoded[0] if values is not None and values else decoded
            types[str(key).upper() if not str(key).isdigit() else str(key)] = (
                sftype, first is None)
            columns[key] = decoded
            prev_key = key
        del prev_key
        nrows = size if size is not None else 1
        rows = []
        for r in range(nrows):
            row = {}
            for key, v in columns.items():
                k = str(key).upper() if not str(key).isdigit() else str(key)
                row["p_" + k] = v[r] if isinstance(v, list) else v
            rows.append(row)
        return types, rows

    def _params(self, tr, row):
        return {"p_" + k: row["p_" + k] for k in set(tr.params)}

    # -- queries ------------------------------------------------------------------------
    def do_query(self, toks, types, rows):
        w = wait_seconds(toks)
        if w is not None:
            return Result([Col("SYSTEM$WAIT(%s)" % w[1], T.TEXT, False, byte_length=134217728,
                               length=134217728)], [["waited %s seconds" % w[1]]])
        if len(rows) > 1:
            raise errors.unsupported("Array bindings in a query")
        tr = Translator(self, types)
        sql, outs = tr.query(toks, outer=True)
        if tr.compute and not self._metadata_count(toks):
            self._require_warehouse()
        cur = self.sql(sql, self._params(tr, rows[0]))
        data = cur.fetchall()
        return Result(*self._render(outs, data))

    @staticmethod
    def _metadata_count(toks):
        """SELECT COUNT(*) FROM t is answered from metadata (rec#082)."""
        texts = [t.value for t in toks]
        return texts[:6] == ["SELECT", "COUNT", "(", "*", ")", "FROM"] and all(
            is_ident(t) or t.text == "." for t in toks[6:])

    def _render(self, outs, data):
        cols, types = [], []
        for k, o in enumerate(outs):
            t = o.sftype
            nullable = o.nullable
            if t is None:
                values = [r[k] for r in data]
                t = T.guess_type(values)
                nullable = any(v is None for v in values) or not data
            types.append(t)
            c = Col(o.name, t, nullable, o.origin, o.byte_length, o.length)
            cols.append(c)
        rows = [[T.render(t, v) for t, v in zip(types, r)] for r in data]
        return cols, rows

    # -- INFORMATION_SCHEMA -----------------------------------------------------------------
    def info_schema(self, db, view, parts):
        if view not in INFO_VIEWS:
            raise errors.unsupported("INFORMATION_SCHEMA.%s" % view)
        v = T.varchar(16777216)
        n9 = T.number(9, 0)
        if view == "COLUMNS":
            spec = [("TABLE_CATALOG", v), ("TABLE_SCHEMA", v), ("TABLE_NAME", v),
                    ("COLUMN_NAME", v), ("ORDINAL_POSITION", n9), ("COLUMN_DEFAULT", v),
                    ("IS_NULLABLE", T.varchar(3)), ("DATA_TYPE", v),
                    ("CHARACTER_MAXIMUM_LENGTH", n9), ("CHARACTER_OCTET_LENGTH", n9),
                    ("NUMERIC_PRECISION", n9), ("NUMERIC_PRECISION_RADIX", n9),
                    ("NUMERIC_SCALE", n9), ("DATETIME_PRECISION", n9), ("COMMENT", v)]
            data = []
            for t in self._tables_in(db):
                for pos, c in enumerate(t.columns, 1):
                    st = c.sftype
                    is_num = st.kind == "NUMBER"
                    is_char = st.kind in ("VARCHAR", "BINARY")
                    data.append([t.db, t.schema, t.name, c.name, pos, c.default_text,
                                 "YES" if c.nullable else "NO", st.data_type(),
                                 st.length if is_char else None,
                                 (4 * st.length if st.kind == "VARCHAR" else st.length)
                                 if is_char else None,
                                 st.precision if is_num else None, 10 if is_num else None,
                                 st.scale if is_num else None,
                                 st.scale if st.kind == "TIME" or st.kind.startswith("TIMESTAMP")
                                 else None, c.comment])
        elif view == "TABLES":
            spec = [("TABLE_CATALOG", v), ("TABLE_SCHEMA", v), ("TABLE_NAME", v),
                    ("TABLE_OWNER", v), ("TABLE_TYPE", v), ("IS_TRANSIENT", T.varchar(3)),
                    ("ROW_COUNT", T.number(38, 0)), ("COMMENT", v)]
            data = []
            for t in self._tables_in(db):
                count = self.conn.execute("SELECT COUNT(*) FROM %s" % quote(t.physical)).fetchone()
                data.append([t.db, t.schema, t.name, self.session.role,
                             "LOCAL TEMPORARY" if t.kind == "TEMPORARY" else "BASE TABLE",
                             "YES" if t.kind == "TRANSIENT" else "NO", count[0], None])
        else:
            spec = [("CATALOG_NAME", v), ("SCHEMA_NAME", v), ("SCHEMA_OWNER", v),
                    ("IS_TRANSIENT", T.varchar(3)), ("COMMENT", v)]
            data = [[db, s, self.session.role, "NO", None]
                    for s in sorted(self.catalog.databases[db])]
        table = Table(db, "INFORMATION_SCHEMA", view, [Column(n, t) for n, t in spec])
        table.physical = "IS_%s_%d" % (view, len(self._scratch))
        self.conn.execute("CREATE TEMP TABLE %s (%s)" % (
            quote(table.physical), ", ".join("%s %s" % (quote(n), t.affinity()) for n, t in spec)))
        self._scratch.append(table.physical)
        if data:
            self.conn.executemany("INSERT INTO %s VALUES (%s)" % (
                quote(table.physical), ", ".join("?" * len(spec))), data)
        return table

    def _drop_scratch(self):
        for name in self._scratch:
            self.conn.execute("DROP TABLE IF EXISTS temp.%s" % quote(name))
        self._scratch = []

    def _tables_in(self, db):
        return sorted((t for t in self.catalog.visible(self.session.id) if t.db == db),
                      key=lambda t: t.key)

    # -- DML ------------------------------------------------------------------------------
    def _target(self, toks, i, verb):
        parts = []
        while True:
            if toks[i].kind not in ("id", "qid"):
                raise errors.syntax(toks[i].text, toks[i].line, toks[i].col)
            parts.append(toks[i].value)
            i += 1
            if i < len(toks) and toks[i].text == ".":
                i += 1
                continue
            return self.resolve_table(parts, verb=verb, kind="table"), i

    def _columns(self, table, toks):
        cols = []
        for part in split_top(toks):
            if len(part) != 1 or part[0].kind not in ("id", "qid"):
                raise errors.syntax(part[0].text if part else ")", 1, 0)
            c = table.column(part[0].value)
            if c is None:
                raise errors.invalid_identifier(part[0].value, part[0].line, part[0].col)
            cols.append(c)
        return cols

    def do_insert(self, toks, types, rows):
        i = 1
        overwrite = False
        if toks[i].is_kw("OVERWRITE"):
            overwrite, i = True, i + 1
        if toks[i].is_kw("ALL", "FIRST"):
            raise errors.unsupported("Multi-table INSERT")
        if not toks[i].is_kw("INTO"):
            raise errors.syntax(toks[i].text, toks[i].line, toks[i].col)
        table, i = self._target(toks, i + 1, "INSERT")
        self._require_warehouse()
        cols = table.columns
        if i < len(toks) and toks[i].text == "(" and not toks[i + 1].is_kw("SELECT", "WITH"):
            end = match_paren(toks, i)
            cols = self._columns(table, toks[i + 1:end])
            i = end + 1
        tr = Translator(self, types)
        rest = toks[i:]
        if rest and rest[0].is_kw("VALUES"):
            tuples = split_top(rest[1:])
            if len(tuples) > MAX_VALUES_ROWS:
                raise SqlError("001795", "42601", "SQL compilation error: error line 1 at "
                               "position 0\nmaximum number of expressions in a list exceeded, "
                               "expected at most 16,384, got %d" % len(tuples))
            values = []
            for tup in tuples:
                if not tup or tup[0].text != "(" or match_paren(tup, 0) != len(tup) - 1:
                    t = tup[0] if tup else rest[0]
                    raise errors.syntax(t.text, t.line, t.col)
                exprs = split_top(tup[1:-1])
                if len(exprs) != len(cols):
                    raise SqlError("002020", "21S01", "SQL compilation error:\nInsert value list "
                                   "does not match column list expecting %d but got %d"
                                   % (len(cols), len(exprs)))
                values.append("(%s)" % ", ".join(tr.expr(e, []) for e in exprs))
            body = "VALUES " + ", ".join(values)
        elif rest and (rest[0].is_kw("SELECT", "WITH") or rest[0].text == "("):
            body, outs = tr.query(rest, False)
            if len(outs) != len(cols):
                raise SqlError("002020", "21S01", "SQL compilation error:\nInsert value list "
                               "does not match column list expecting %d but got %d"
                               % (len(cols), len(outs)))
        else:
            t = rest[0] if rest else toks[-1]
            raise errors.syntax(t.text, t.line, t.col)
        if overwrite:
            self.sql("DELETE FROM %s" % quote(table.physical))
        sql = "INSERT INTO %s (%s) %s" % (quote(table.physical),
                                           ", ".join(quote(c.name) for c in cols), body)
        n = 0
        for row in rows:
            n += self.sql(sql, self._params(tr, row)).rowcount
        return count_result([("number of rows inserted", n)], {"inserted": n})

    def _alias_after(self, toks, i, stop=()):
        if i < len(toks) and toks[i].is_kw("AS"):
            return toks[i + 1].value, i + 2
        if i < len(toks) and is_ident(toks[i]) and not toks[i].is_kw(*stop):
            return toks[i].value, i + 1
        return None, i

    def do_update(self, toks, types, rows):
        table, i = self._target(toks, 1, "UPDATE")
        self._require_warehouse()
        alias, i = self._alias_after(toks, i, ("SET",))
        alias = alias or table.name
        if not toks[i].is_kw("SET"):
            raise errors.syntax(toks[i].text, toks[i].line, toks[i].col)
        body = toks[i + 1:]
        cut = {j: t.value for j, t in _top(body) if t.is_kw("FROM", "WHERE")}
        marks = sorted(cut) + [len(body)]
        set_toks = body[:marks[0]]
        tr = Translator(self, types)
        target = Source(alias, [OutCol(c.name, c.sftype) for c in table.columns], table)
        sources = [target]
        from_sql = where_sql = ""
        for a, b in zip(marks, marks[1:]):
            part = body[a + 1:b]
            if cut[a] == "FROM":
                from_sql, extra = tr.from_clause(part)
                sources = sources + extra
                from_sql = " FROM " + from_sql
            else:
                where_sql = " WHERE " + tr.expr(part, sources)
        sets = []
        for assign in split_top(set_toks):
            eq = next((j for j, t in enumerate(assign) if t.text == "="), None)
            if eq is None or eq == 0:
                raise errors.syntax(assign[0].text if assign else "SET", 1, 0)
            col = table.column(assign[eq - 1].value)
            if col is None:
                raise errors.invalid_identifier(assign[eq - 1].value)
            sets.append("%s = %s" % (quote(col.name), tr.expr(assign[eq + 1:], sources)))
        sql = "UPDATE %s AS %s SET %s%s%s" % (quote(table.physical), quote(alias),
                                              ", ".join(sets), from_sql, where_sql)
        n = sum(self.sql(sql, self._params(tr, row)).rowcount for row in rows)
        return count_result([("number of rows updated", n),
                             ("number of multi-joined rows updated", 0)], {"updated": n})

    def do_delete(self, toks, types, rows):
        if not toks[1].is_kw("FROM"):
            raise errors.syntax(toks[1].text, toks[1].line, toks[1].col)
        table, i = self._target(toks, 2, "DELETE")
        self._require_warehouse()
        alias, i = self._alias_after(toks, i, ("USING", "WHERE"))
        alias = alias or table.name
        tr = Translator(self, types)
        sources = [Source(alias, [OutCol(c.name, c.sftype) for c in table.columns], table)]
        using_sql = where_sql = ""
        body = toks[i:]
        cut = {j: t.value for j, t in _top(body) if t.is_kw("USING", "WHERE")}
        marks = sorted(cut) + [len(body)]
        if body and 0 not in cut:
            raise errors.syntax(body[0].text, body[0].line, body[0].col)
        for a, b in zip(marks, marks[1:]):
            part = body[a + 1:b]
            if cut[a] == "USING":
                using_sql, extra = tr.from_clause(part)
                sources = sources + extra
            else:
                where_sql = tr.expr(part, sources)
        if using_sql:
            cond = "EXISTS (SELECT 1 FROM %s%s)" % (using_sql, " WHERE " + where_sql
                                                     if where_sql else "")
        else:
            cond = where_sql or "1"
        sql = "DELETE FROM %s AS %s WHERE %s" % (quote(table.physical), quote(alias), cond)
        n = sum(self.sql(sql, self._params(tr, row)).rowcount for row in rows)
        return count_result([("number of rows deleted", n)], {"deleted": n})

    def do_truncate(self, toks, types, rows):
        i = 1
        if i < len(toks) and toks[i].is_kw("TABLE"):
            i += 1
        if i < len(toks) and toks[i].is_kw("IF"):
            i += 2
            try:
                table, _ = self._target(toks, i, "TRUNCATE")
            except SqlError:
                return status_result("Statement executed successfully.")
        else:
            table, _ = self._target(toks, i, "TRUNCATE")
        self.sql("DELETE FROM %s" % quote(table.physical))
        import copyinto
        copyinto.forget_loads(self, table)          # TRUNCATE forgets COPY load metadata
        return status_result("Statement executed successfully.")

    # -- MERGE ------------------------------------------------------------------------------
    def do_merge(self, toks, types, rows):
        if len(rows) > 1:
            raise errors.unsupported("Array bindings in MERGE")
        if not toks[1].is_kw("INTO"):
            raise errors.syntax(toks[1].text, toks[1].line, toks[1].col)
        table, i = self._target(toks, 2, "MERGE")
        self._require_warehouse()
        t_alias, i = self._alias_after(toks, i, ("USING",))
        t_alias = t_alias or table.name
        if not toks[i].is_kw("USING"):
            raise errors.syntax(toks[i].text, toks[i].line, toks[i].col)
        tr = Translator(self, types)
        i += 1
        if toks[i].text == "(":
            end = match_paren(toks, i)
            src_sql, src_cols = tr.query(toks[i + 1:end], False)
            i = end + 1
            s_alias, i = self._alias_after(toks, i, ("ON",))
            s_alias = s_alias or "__SRC"
        else:
            src_table, i = self._target(toks, i, "MERGE")
            s_alias, i = self._alias_after(toks, i, ("ON",))
            s_alias = s_alias or src_table.name
            src_cols = [OutCol(c.name, c.sftype) for c in src_table.columns]
            src_sql = "SELECT * FROM %s" % quote(src_table.physical)
        if not toks[i].is_kw("ON"):
            raise errors.syntax(toks[i].text, toks[i].line, toks[i].col)
        whens = [j for j, t in _top(toks) if t.is_kw("WHEN") and j > i]
        if not whens:
            raise errors.syntax(toks[-1].text, toks[-1].line, toks[-1].col)
        target = Source(t_alias, [OutCol(c.name, c.sftype) for c in table.columns], table)
        source = Source(s_alias, src_cols)
        both = [target, source]
        on_sql = tr.expr(toks[i + 1:whens[0]], both)
        clauses = []
        for a, b in zip(whens, whens[1:] + [len(toks)]):
            clauses.append(self._merge_clause(toks[a + 1:b], table, tr, both, [source]))
        params = self._params(tr, rows[0])
        src, asg = "temp.\"__MSRC\"", "temp.\"__MASG\""
        self.sql("CREATE TEMP TABLE \"__MSRC\" AS SELECT * FROM (%s)" % src_sql, params)
        self._scratch.append("__MSRC")
        self.sql("CREATE TEMP TABLE \"__MASG\" (trow INTEGER, srow INTEGER, clause INTEGER)")
        self._scratch.append("__MASG")
        join = "FROM %s AS %s JOIN %s AS %s ON (%s)" % (quote(table.physical), quote(t_alias),
                                                       src, quote(s_alias), on_sql)
        pairs = self.sql("SELECT %s.rowid, %s.rowid %s" % (quote(t_alias), quote(s_alias), join),
                         params).fetchall()
        matched_clauses = [c for c in clauses if c[0] == "MATCHED"]
        if matched_clauses:
            seen = {}
            for trow, srow in pairs:
                if trow in seen:
                    vals = self.sql("SELECT * FROM %s WHERE rowid = ?" % quote(table.physical),
                                    (trow,)).fetchone()
                    raise errors.duplicate_merge_row(
                        ['"%s"' % v if isinstance(v, str) else "NULL" if v is None else str(v)
                         for v in vals])
                seen[trow] = srow
        assigned, counts = set(), {"inserted": 0, "updated": 0, "deleted": 0}
        matched_src = {s for _, s in pairs}
        done_src = set()
        for n, (kind, action, cond_sql, _) in enumerate(clauses):
            if kind == "MATCHED":
                sel = "SELECT %s.rowid, %s.rowid %s%s" % (
                    quote(t_alias), quote(s_alias), join, " WHERE (%s)" % cond_sql
                    if cond_sql else "")
                hits = [p for p in self.sql(sel, params).fetchall() if p[0] not in assigned]
                assigned.update(p[0] for p in hits)
                self.conn.executemany("INSERT INTO %s VALUES (?, ?, %d)" % (asg, n), hits)
            else:
                sel = "SELECT %s.rowid FROM %s AS %s%s" % (
                    quote(s_alias), src, quote(s_alias), " WHERE (%s)" % cond_sql
                    if cond_sql else "")
                hits = [r[0] for r in self.sql(sel, params).fetchall()
                        if r[0] not in matched_src and r[0] not in done_src]
                done_src.update(hits)
                self.conn.executemany("INSERT INTO %s VALUES (NULL, ?, %d)" % (asg, n),
                                      [(h,) for h in hits])
        for n, (kind, action, cond_sql, spec) in enumerate(clauses):
            if action == "UPDATE":
                # UPDATE ... FROM cannot see a FROM table's rowid: join it in a subquery.
                sql = "UPDATE %s AS %s SET %s FROM (SELECT \"__S\".*, \"__A\".trow AS " \
                      "\"__TROW\" FROM %s AS \"__S\" JOIN %s AS \"__A\" ON \"__A\".srow = " \
                      "\"__S\".rowid AND \"__A\".clause = %d) AS %s WHERE %s.rowid = %s.\"__TROW\"" % (
                          quote(table.physical), quote(t_alias), spec, src, asg, n,
                          quote(s_alias), quote(t_alias), quote(s_alias))
                counts["updated"] += self.sql(sql, params).rowcount
            elif action == "DELETE":
                counts["deleted"] += self.sql(
                    "DELETE FROM %s WHERE rowid IN (SELECT trow FROM %s WHERE clause = %d)"
                    % (quote(table.physical), asg, n)).rowcount
            else:
                cols, exprs = spec
                counts["inserted"] += self.sql(
                    "INSERT INTO %s (%s) SELECT %s FROM %s AS %s WHERE %s.rowid IN (SELECT srow "
                    "FROM %s WHERE clause = %d)" % (
                        quote(table.physical), ", ".join(quote(c.name) for c in cols), exprs,
                        src, quote(s_alias), quote(s_alias), asg, n), params).rowcount
        kinds = {c[1] for c in clauses}
        pairs_out = [("number of rows %s" % w, counts[w]) for w, a in (
            ("inserted", "INSERT"), ("updated", "UPDATE"), ("deleted", "DELETE")) if a in kinds]
        return count_result(pairs_out, counts)

    def _merge_clause(self, toks, table, tr, both, source_only):
        """(MATCHED|NOT_MATCHED, action, condition sql, action spec)."""
        i = 0
        kind = "MATCHED"
        if toks[i].is_kw("NOT"):
            kind, i = "NOT_MATCHED", i + 1
        if not toks[i].is_kw("MATCHED"):
            raise errors.syntax(toks[i].text, toks[i].line, toks[i].col)
        i += 1
        if i < len(toks) and toks[i].is_kw("BY"):
            raise errors.unsupported("WHEN NOT MATCHED BY SOURCE")
        then = next((j for j, t in _top(toks) if t.is_kw("THEN")), None)
        if then is None:
            raise errors.syntax(toks[-1].text, toks[-1].line, toks[-1].col)
        cond_sql = None
        if toks[i].is_kw("AND"):
            cond_sql = tr.expr(toks[i + 1:then], both if kind == "MATCHED" else source_only)
        action_toks = toks[then + 1:]
        action = action_toks[0].value if action_toks else ""
        if kind == "MATCHED" and action == "UPDATE" and action_toks[1].is_kw("SET"):
            sets = []
            for assign in split_top(action_toks[2:]):
                eq = next((j for j, t in enumerate(assign) if t.text == "="), None)
                if eq is None or eq == 0:
                    raise errors.syntax(assign[0].text, assign[0].line, assign[0].col)
                col = table.column(assign[eq - 1].value)
                if col is None:
                    raise errors.invalid_identifier(assign[eq - 1].value)
                sets.append("%s = %s" % (quote(col.name), tr.expr(assign[eq + 1:], both)))
            return kind, "UPDATE", cond_sql, ", ".join(sets)
        if kind == "MATCHED" and action == "DELETE" and len(action_toks) == 1:
            return kind, "DELETE", cond_sql, None
        if kind == "NOT_MATCHED" and action == "INSERT":
            j = 1
            cols = table.columns
            if j < len(action_toks) and action_toks[j].text == "(":
                end = match_paren(action_toks, j)
                cols = self._columns(table, action_toks[j + 1:end])
                j = end + 1
            if j >= len(action_toks) or not action_toks[j].is_kw("VALUES"):
                raise errors.syntax(action_toks[min(j, len(action_toks) - 1)].text, 1, 0)
            end = match_paren(action_toks, j + 1)
            exprs = split_top(action_toks[j + 2:end])
            if len(exprs) != len(cols):
                raise SqlError("002020", "21S01", "SQL compilation error:\nInsert value list does "
                               "not match column list expecting %d but got %d"
                               % (len(cols), len(exprs)))
            return kind, "INSERT", cond_sql, (cols, ", ".join(tr.expr(e, source_only)
                                                              for e in exprs))
        t = action_toks[0] if action_toks else toks[-1]
        raise errors.syntax(t.text, t.line, t.col)

    # -- DDL ----------------------------------------------------------------------------------
    from ddl import do_create, do_drop, do_alter, do_show, do_describe, do_copy, do_txn, \
        do_use  # noqa: E402  (the DDL half lives in ddl.py)


def _top(toks):
    from sqltranslate import top_level
    return top_level(toks)
