#!/usr/bin/env python3
"""jsonschema_check.py SCHEMA FILE...: checks JSON files against the
subset of JSON Schema (2020-12) that doc/sluice.schema.json uses: type,
properties, required, additionalProperties, $ref (local), enum, const,
pattern, items, minItems, minLength, minimum, maximum, oneOf.  A keyword
it does not know fails the check (so the schema cannot drift out of what
is verified).  Standard library only; prints one line per problem with
its JSON path; exits 1 when any file has one."""
import json
import re
import sys

KNOWN = {"$schema", "$id", "$defs", "$ref", "title", "description", "examples",
         "type", "properties", "required", "additionalProperties", "enum",
         "const", "pattern", "items", "minItems", "minLength", "minimum",
         "maximum", "oneOf"}
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool,
         "null": type(None)}


def is_type(v, t):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, TYPES[t])


def check(root, schema, v, path, errs):
    unknown = set(schema) - KNOWN
    if unknown:
        errs.append("%s: the schema uses %s, which this checker does not know"
                    % (path or "$", ", ".join(sorted(unknown))))
    if "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        check(root, node, v, path, errs)
    if "type" in schema:
        ts = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(is_type(v, t) for t in ts):
            errs.append("%s: expected %s" % (path or "$", " or ".join(ts)))
            return
    if "const" in schema and v != schema["const"]:
        errs.append("%s: expected %r" % (path, schema["const"]))
    if "enum" in schema and v not in schema["enum"]:
        errs.append("%s: %r is not one of %s" % (path, v, schema["enum"]))
    if isinstance(v, str):
        if "pattern" in schema and not re.search(schema["pattern"], v):
            errs.append("%s: %r does not match %s" % (path, v, schema["pattern"]))
        if len(v) < schema.get("minLength", 0):
            errs.append("%s: too short" % path)
    if is_type(v, "number"):
        if "minimum" in schema and v < schema["minimum"]:
            errs.append("%s: below %s" % (path, schema["minimum"]))
        if "maximum" in schema and v > schema["maximum"]:
            errs.append("%s: above %s" % (path, schema["maximum"]))
    if isinstance(v, list):
        if len(v) < schema.get("minItems", 0):
            errs.append("%s: fewer than %d items" % (path, schema["minItems"]))
        if "items" in schema:
            for i, x in enumerate(v):
                check(root, schema["items"], x, "%s[%d]" % (path, i), errs)
    if isinstance(v, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in v:
                errs.append("%s: missing %s" % (path or "$", k))
        for k, x in v.items():
            sub = "%s.%s" % (path, k) if path else k
            if k in props:
                check(root, props[k], x, sub, errs)
            else:
                extra = schema.get("additionalProperties", True)
                if extra is False:
                    errs.append("%s: not allowed" % sub)
                elif isinstance(extra, dict):
                    check(root, extra, x, sub, errs)
    if "oneOf" in schema:
        ok = 0
        for alt in schema["oneOf"]:
            e = []
            check(root, alt, v, path, e)
            ok += not e
        if ok != 1:
            errs.append("%s: matches %d of the oneOf alternatives, not 1" % (path, ok))


def main():
    schema = json.load(open(sys.argv[1]))
    bad = 0
    for f in sys.argv[2:]:
        errs = []
        check(schema, schema, json.load(open(f)), "", errs)
        for e in errs:
            print("%s: %s" % (f, e))
        bad += bool(errs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
