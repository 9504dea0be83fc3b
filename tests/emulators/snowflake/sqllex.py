"""Snowflake SQL tokens and statement splitting.

Token kinds: id (unquoted identifier or keyword; .value upper-cased),
qid (quoted identifier; .value exact), str (string literal; .value
unescaped: '' and backslash escapes, or $$...$$), num, param (? :1 :name;
.value the binding key, '' for ?), op (punctuation), ';'.
Comments (-- // /* */) and white space are dropped.
"""
import re

from errors import SqlError, syntax

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0",
            "'": "'", '"': '"', "\\": "\\"}
_OPS = ("::", "<=", ">=", "<>", "!=", "||", "=>", "->")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_NUM = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class Token:
    __slots__ = ("kind", "text", "value", "pos", "line", "col")

    def __init__(self, kind, text, value, pos, line, col):
        self.kind, self.text, self.value = kind, text, value
        self.pos, self.line, self.col = pos, line, col

    def is_kw(self, *words):
        return self.kind == "id" and self.value in words

    def __repr__(self):
        return "%s:%s" % (self.kind, self.text)


def tokenize(sql):
    out = []
    i, n = 0, len(sql)
    line, line_start = 1, 0
    while i < n:
        c = sql[i]
        if c == "\n":
            line, line_start = line + 1, i + 1
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if sql.startswith("--", i) or sql.startswith("//", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
            continue
        if sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            if j < 0:
                raise syntax("/*", line, i - line_start)
            line += sql.count("\n", i, j)
            i = j + 2
            continue
        start, col = i, i - line_start
        if c == "'":
            buf, i = [], i + 1
            while True:
                if i >= n:
                    raise SqlError("001003", "42000", "SQL compilation error:\nparse error line "
                                   "%d at position %d near '<EOF>'." % (line, col))
                ch = sql[i]
                if ch == "\\" and i + 1 < n:
                    buf.append(_ESCAPES.get(sql[i + 1], sql[i + 1]))
                    i += 2
                elif ch == "'":
                    if sql.startswith("''", i):
                        buf.append("'")
                        i += 2
                    else:
                        i += 1
                        break
                else:
                    buf.append(ch)
                    i += 1
            out.append(Token("str", sql[start:i], "".join(buf), start, line, col))
            continue
        if sql.startswith("$$", i):
            j = sql.find("$$", i + 2)
            if j < 0:
                raise syntax("$$", line, col)
            out.append(Token("str", sql[i:j + 2], sql[i + 2:j], start, line, col))
            i = j + 2
            continue
        if c == '"':
            buf, i = [], i + 1
            while True:
                if i >= n:
                    raise syntax('"', line, col)
                if sql[i] == '"':
                    if sql.startswith('""', i):
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(sql[i])
                i += 1
            if not buf:
                raise SqlError("001003", "42000", "SQL compilation error:\nsyntax error line %d "
                               "at position %d unexpected '\"\"'." % (line, col))
            out.append(Token("qid", sql[start:i], "".join(buf), start, line, col))
            continue
        m = _IDENT.match(sql, i)
        if m:
            i = m.end()
            out.append(Token("id", m.group(), m.group().upper(), start, line, col))
            continue
        if c.isdigit() or (c == "." and i + 1 < n and sql[i + 1].isdigit()):
            m = _NUM.match(sql, i)
            i = m.end()
            out.append(Token("num", m.group(), m.group(), start, line, col))
            continue
        if c == "?":
            out.append(Token("param", "?", "", start, line, col))
            i += 1
            continue
        if c == ":" and i + 1 < n and (sql[i + 1].isalnum() or sql[i + 1] == "_") and \
                not sql.startswith("::", i):
            m = re.compile(r"[A-Za-z0-9_]+").match(sql, i + 1)
            i = m.end()
            out.append(Token("param", sql[start:i], m.group().upper()
                             if not m.group().isdigit() else m.group(), start, line, col))
            continue
        if c == "$" and i + 1 < n and sql[i + 1].isdigit():
            raise SqlError("001003", "42000", "SQL compilation error:\n$N column references "
                           "(staged files) are not supported by the Sluice Snowflake emulator.")
        op = next((o for o in _OPS if sql.startswith(o, i)), None) or c
        if op not in _OPS and op not in "(),.;*=<>+-/%[]{}:@~&|^!":
            raise syntax(op, line, col)
        out.append(Token(";" if op == ";" else "op", op, op, start, line, col))
        i += len(op)
    return out


def split_statements(sql):
    """[(text, tokens)] of each non-empty statement between top-level ';'."""
    tokens = tokenize(sql)
    stmts, cur = [], []
    for t in tokens:
        if t.kind == ";":
            if cur:
                stmts.append(cur)
            cur = []
        else:
            cur.append(t)
    if cur:
        stmts.append(cur)
    out = []
    for toks in stmts:
        end_tok = toks[-1]
        out.append((sql[toks[0].pos:end_tok.pos + len(end_tok.text)], toks))
    return out
