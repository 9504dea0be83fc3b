"""The catalog: databases, schemas and tables with their declared Snowflake
types, mapped onto SQLite tables named "T<n>".

Each SQLite table gets AFTER INSERT / AFTER UPDATE triggers that pass every
column through sfk_norm(<type>, value): whatever path wrote the row (VALUES,
bindings, INSERT ... SELECT, UPDATE, MERGE), the stored value is converted
and checked as Snowflake would (VARCHAR length, NUMBER range, bad dates...).
Names are kept exactly (unquoted ones arrive upper-cased).  SQLite compares
column names case-insensitively, so two columns differing only in case are
refused at CREATE.
"""
import itertools
import time


def quote(name):
    # Backticks, not double quotes: SQLite reads an unknown "X" as a string
    # literal, which would turn a misspelt column into a constant.
    return "`" + name.replace("`", "``") + "`"


def display(name):
    """A name part as Snowflake prints it in messages."""
    import re
    return name if re.fullmatch(r"[A-Z_][A-Z0-9_$]*", name) else '"%s"' % name


class Column:
    def __init__(self, name, sftype, nullable=True, default_sql=None, default_text=None,
                 comment=None):
        self.name, self.sftype, self.nullable = name, sftype, nullable
        self.default_sql, self.default_text, self.comment = default_sql, default_text, comment


class Table:
    def __init__(self, db, schema, name, columns, kind="TABLE", session=None):
        self.db, self.schema, self.name = db, schema, name
        self.columns = columns
        self.kind = kind                  # TABLE | TRANSIENT | TEMPORARY
        self.session = session            # the request that owns a TEMPORARY table
        self.physical = None
        self.created_ms = int(time.time() * 1000)

    @property
    def key(self):
        return (self.db, self.schema, self.name)

    def column(self, name):
        return next((c for c in self.columns if c.name == name), None)

    def full_name(self):
        return ".".join(display(p) for p in self.key)


class Catalog:
    def __init__(self):
        self.databases = {}               # db -> {schema: created_ms}
        self.tables = {}                  # (db, schema, name) -> Table (permanent, transient)
        self.temps = {}                   # session -> {(db, schema, name): Table}
        self._ids = itertools.count(1)

    def add_database(self, db):
        now = int(time.time() * 1000)
        self.databases.setdefault(db, {"PUBLIC": now, "INFORMATION_SCHEMA": now})

    def lookup(self, key, session):
        t = self.temps.get(session, {}).get(key)
        return t if t is not None else self.tables.get(key)

    def visible(self, session):
        """Every table a session sees (its temporary tables shadow others)."""
        out = dict(self.tables)
        out.update(self.temps.get(session, {}))
        return list(out.values())

    def register(self, table):
        if table.kind == "TEMPORARY":
            self.temps.setdefault(table.session, {})[table.key] = table
        else:
            self.tables[table.key] = table

    def unregister(self, table):
        if table.kind == "TEMPORARY":
            self.temps.get(table.session, {}).pop(table.key, None)
        else:
            self.tables.pop(table.key, None)

    # -- SQLite side ------------------------------------------------------------
    def create_physical(self, conn, table):
        names = [c.name.lower() for c in table.columns]
        if len(set(names)) != len(names):
            from errors import unsupported
            raise unsupported("Two columns whose names differ only in case")
        table.physical = "T%d" % next(self._ids)
        defs = []
        for c in table.columns:
            d = "%s %s" % (quote(c.name), c.sftype.affinity())
            if not c.nullable:
                d += " NOT NULL"
            if c.default_sql:
                d += " DEFAULT (%s)" % c.default_sql
            defs.append(d)
        conn.execute("CREATE TABLE %s (%s)" % (quote(table.physical), ", ".join(defs)))
        self._triggers(conn, table)

    @staticmethod
    def _triggers(conn, table):
        p = quote(table.physical)
        sets = ", ".join("%s = sfk_norm('%s', NEW.%s)" % (quote(c.name), c.sftype.sql(),
                                                          quote(c.name)) for c in table.columns)
        for event in ("INSERT", "UPDATE"):
            conn.execute("CREATE TRIGGER %s AFTER %s ON %s BEGIN UPDATE %s SET %s WHERE rowid = "
                         "NEW.rowid; END" % (quote(table.physical + "_" + event), event, p, p, sets))

    def drop_physical(self, conn, table):
        conn.execute("DROP TABLE IF EXISTS %s" % quote(table.physical))

    def rebuild(self, conn, table, new_columns, carry):
        """Give table new columns: a new SQLite table filled from the old one
        with carry = [(new column name, SQL over the old table)]; columns not
        carried get their DEFAULT (ADD, DROP, RENAME or ALTER COLUMN)."""
        old = table.physical
        table.columns = new_columns
        self.create_physical(conn, table)
        if carry:
            conn.execute("INSERT INTO %s (%s) SELECT %s FROM %s" % (
                quote(table.physical), ", ".join(quote(n) for n, _ in carry),
                ", ".join(e for _, e in carry), quote(old)))
        conn.execute("DROP TABLE %s" % quote(old))
