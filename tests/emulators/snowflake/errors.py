"""SQL errors as the SQL API reports them: zero-padded code, sqlState, text
(contracts/snowflake.md section 2.4).  Where the contract gives no text the
wording imitates Snowflake's and is marked invented in the README."""


class SqlError(Exception):
    def __init__(self, code, sql_state, message, status=422):
        super().__init__(message)
        self.code, self.sql_state, self.message, self.status = code, sql_state, message, status


def compilation(detail):
    return SqlError("001003", "42000", "SQL compilation error:\n" + detail)


def syntax(token, line=1, pos=0):
    return compilation("syntax error line %d at position %d unexpected '%s'." % (line, pos, token))


def unsupported(what):
    """Something real Snowflake may accept but this emulator does not."""
    return compilation("%s is not supported by the Sluice Snowflake emulator." % what)


def no_object(name, role, kind="TABLE"):
    return SqlError("002003", "42S02",
                    "SQL compilation error:\nObject '%s' does not exist or not authorized. "
                    "Your primary role %s or one of your secondary roles must have at least one "
                    "privilege granted on %s %s." % (name, role, kind, name))


def no_table(name):
    return SqlError("002003", "42S02",
                    "SQL compilation error:\nTable '%s' does not exist or not authorized." % name)


def no_schema(name):
    return SqlError("002003", "02000",
                    "SQL compilation error:\nSchema '%s' does not exist or not authorized." % name)


def no_database(name):
    return SqlError("002003", "02000",
                    "SQL compilation error:\nDatabase '%s' does not exist or not authorized." % name)


def no_current(kind, verb):
    code = "090105" if kind == "database" else "090106"
    what = "DATABASE" if kind == "database" else "SCHEMA"
    return SqlError(code, "22000",
                    "Cannot perform %s. This session does not have a current %s. Call 'USE %s', "
                    "or use a qualified name." % (verb, kind, what))


def already_exists(name, kind="Object"):
    return SqlError("002002", "42710",
                    "SQL compilation error:\n%s '%s' already exists." % (kind, name))


def invalid_identifier(name, line=1, pos=0):
    return SqlError("000904", "42000", "SQL compilation error: error line %d at position %d\n"
                    "invalid identifier '%s'" % (line, pos, name))


def not_supported_by_api(kind):
    return SqlError("391911", "0A000", "Command not supported by SQL API: %s" % kind)


NO_WAREHOUSE = ("000606", "57P03", "No active warehouse selected in the current session.  "
                "Select an active warehouse with the 'use warehouse' command.")


def no_warehouse():
    return SqlError(*NO_WAREHOUSE)


def division_by_zero():
    return SqlError("100051", "22012", "Division by zero")


def duplicate_merge_row(values):
    return SqlError("100090", "42P18", "Duplicate row detected during DML action\nRow Values: [%s]"
                    % ", ".join(values))
