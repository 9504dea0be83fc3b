"""Named stages and storage integrations (methods-as-functions of
sqlengine.Engine, wired in from ddl.py).

  CREATE [OR REPLACE] [TEMPORARY] STAGE [IF NOT EXISTS] [db.][schema.]name
      [URL = 's3://bucket/prefix/']
      [STORAGE_INTEGRATION = name]
      [CREDENTIALS = (AWS_KEY_ID = '..' AWS_SECRET_KEY = '..' [AWS_TOKEN = '..'])]
      [FILE_FORMAT = (TYPE = CSV ...)] [COPY_OPTIONS = (...)] [ENCRYPTION = (...)]
      [COMMENT = '..']
  DROP STAGE [IF EXISTS] name
  CREATE [OR REPLACE] STORAGE INTEGRATION [IF NOT EXISTS] name TYPE = EXTERNAL_STAGE ...
      (remembered; a stage naming an integration is trusted by the S3 store)

A stage without URL is an internal stage: always empty (PUT is refused by the
SQL API, contract 4.1), so COPY from it processes 0 files, as from @~.
Stages live in engine.stages {(db, schema, NAME): Stage}; the emulator
re-creates the ones given by --stage after a reset.
"""
import re
import time

import errors
from catalog import display

OPTION_WORDS = ("URL", "STORAGE_INTEGRATION", "CREDENTIALS", "FILE_FORMAT", "COPY_OPTIONS",
                "ENCRYPTION", "COMMENT", "DIRECTORY", "TAG")


class Stage:
    def __init__(self, key, url=None, integration=None, credentials=None, file_format=None,
                 copy_options=None, temporary=False, session=None):
        self.key = key
        self.url = url
        self.integration = integration
        self.credentials = credentials          # {"AWS_KEY_ID", "AWS_SECRET_KEY", "AWS_TOKEN"}
        self.file_format = file_format or {}
        self.copy_options = copy_options or {}
        self.temporary, self.session = temporary, session
        self.created_ms = int(time.time() * 1000)
        self.bucket, self.prefix = split_url(url) if url else (None, None)

    def describe(self):
        return {"name": ".".join(self.key), "url": self.url, "bucket": self.bucket,
                "prefix": self.prefix, "storage_integration": self.integration,
                "has_credentials": bool(self.credentials), "file_format": self.file_format,
                "temporary": self.temporary}


def split_url(url):
    m = re.fullmatch(r"s3://([^/]+)(/.*)?", url)
    if not m:
        raise errors.unsupported("A stage URL other than s3://bucket/path (%s)" % url)
    return m.group(1), (m.group(2) or "/")[1:]


def stages(engine):
    if getattr(engine, "stages", None) is None:
        engine.stages = {}
    return engine.stages


def integrations(engine):
    if getattr(engine, "integrations", None) is None:
        engine.integrations = {}
    return engine.integrations


# ---------------------------------------------------------------------------
# option lists: NAME = value | NAME = (k = v ...) | NAME = ('a', 'b')

def parse_value(toks, i):
    """(python value, next i).  Strings -> str, numbers -> str, words ->
    upper-case str, ( ... ) -> dict of options or list of strings."""
    t = toks[i]
    if t.text == "(":
        from sqltranslate import match_paren
        end = match_paren(toks, i)
        inner = toks[i + 1:end]
        if not inner:
            return [], end + 1
        if inner[0].kind == "str" or (len(inner) > 1 and inner[1].text == ","):
            return [x.value for x in inner if x.text != ","], end + 1
        return parse_options(inner, 0, len(inner))[0], end + 1
    if t.kind == "str":
        return t.value, i + 1
    if t.kind == "num":
        return t.text, i + 1
    if t.text == "-" and i + 1 < len(toks) and toks[i + 1].kind == "num":
        return "-" + toks[i + 1].text, i + 2
    if t.kind in ("id", "qid"):
        return t.value, i + 1
    raise errors.syntax(t.text, t.line, t.col)


def parse_options(toks, i, end=None):
    """{NAME: value} of 'NAME = value' items (commas optional) up to end."""
    end = len(toks) if end is None else end
    out = {}
    while i < end:
        if toks[i].text == ",":
            i += 1
            continue
        t = toks[i]
        if t.kind != "id":
            raise errors.syntax(t.text, t.line, t.col)
        if i + 1 >= end or toks[i + 1].text != "=":
            nxt = toks[min(i + 1, end - 1)]
            raise errors.syntax(nxt.text if i + 1 < end else "<EOF>", nxt.line, nxt.col)
        out[t.value], i = parse_value(toks, i + 2)
    return out, i


# ---------------------------------------------------------------------------
# DDL

def create_stage(self, toks, i, replace, temporary):
    from ddl import _if, _name, _status
    self._ddl()
    if_not, i = _if(toks, i, "IF", "NOT", "EXISTS")
    parts, i = _name(toks, i)
    key = self.qualify(parts, "CREATE")
    reg = stages(self)
    if key in reg and not replace:
        if if_not:
            return _status("%s already exists, statement succeeded." % display(key[2]))
        raise errors.already_exists(display(key[2]))
    opts, i = parse_options(toks, i)
    for name in opts:
        if name not in OPTION_WORDS:
            raise errors.unsupported("The stage option %s" % name)
    creds = opts.get("CREDENTIALS")
    if creds is not None:
        if not isinstance(creds, dict) or not {"AWS_KEY_ID", "AWS_SECRET_KEY"} <= set(creds):
            raise errors.compilation("invalid value for parameter 'CREDENTIALS': give "
                                     "AWS_KEY_ID and AWS_SECRET_KEY")
        extra = set(creds) - {"AWS_KEY_ID", "AWS_SECRET_KEY", "AWS_TOKEN"}
        if extra:
            raise errors.unsupported("CREDENTIALS %s" % ", ".join(sorted(extra)))
    url = opts.get("URL")
    if (creds or opts.get("STORAGE_INTEGRATION")) and not url:
        raise errors.compilation("URL is required for an external stage.")
    if creds and opts.get("STORAGE_INTEGRATION"):
        raise errors.compilation("Cannot specify both STORAGE_INTEGRATION and CREDENTIALS.")
    ff = opts.get("FILE_FORMAT") or {}
    if not isinstance(ff, dict):
        raise errors.unsupported("FILE_FORMAT = <name> (give the options in parentheses)")
    from copyinto import check_format
    check_format(ff)
    reg[key] = Stage(key, url, opts.get("STORAGE_INTEGRATION"), creds, ff,
                     opts.get("COPY_OPTIONS") or {}, temporary,
                     self.session.id if temporary else None)
    return _status("Stage area %s successfully created." % display(key[2]))


def drop_stage(self, toks, i):
    from ddl import _if, _name, _status, _expect_end
    if_exists, i = _if(toks, i, "IF", "EXISTS")
    parts, i = _name(toks, i)
    _expect_end(toks, i)
    key = self.qualify(parts, "DROP")
    if stages(self).pop(key, None) is None:
        if if_exists:
            return _status("Drop statement executed successfully (%s already dropped)."
                           % display(key[2]))
        raise no_stage(key)
    return _status("%s successfully dropped." % display(key[2]))


def create_integration(self, toks, i, replace):
    from ddl import _if, _name, _status
    if not toks[i].is_kw("INTEGRATION"):
        raise errors.unsupported("CREATE STORAGE %s" % toks[i].text)
    if_not, i = _if(toks, i + 1, "IF", "NOT", "EXISTS")
    parts, i = _name(toks, i)
    name = parts[-1]
    opts, i = parse_options(toks, i)
    reg = integrations(self)
    if name in reg and not replace:
        if if_not:
            return _status("%s already exists, statement succeeded." % display(name))
        raise errors.already_exists(display(name))
    reg[name] = opts
    return _status("Integration %s successfully created." % display(name))


def no_stage(key):
    shown = ".".join(display(p) for p in key)
    return errors.SqlError("002003", "02000", "SQL compilation error:\nStage '%s' does not "
                           "exist or not authorized." % shown)


def lookup(self, parts):
    key = self.qualify(parts, "COPY")
    st = stages(self).get(key)
    if st is None or (st.temporary and st.session != self.session.id):
        raise no_stage(key)
    return st
