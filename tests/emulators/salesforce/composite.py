"""sObject Collections: create, update, upsert by external id, delete
(contract section 3).

A well-formed request answers 200 with one result per record, in request
order; failed records have success=false and errors with statusCode (not
errorCode).  A malformed request (bad JSON, unknown type or field, a value
that cannot be read as the field's type, more than 200 records) fails whole
with a 400 REST error array, as the platform's JSON deserializer does.
"""
import json
import re

import data
import schema as sch
import wire

MAX_RECORDS = 200
MSG_ROLLED_BACK = ("Record rolled back because not all records were valid and the request was "
                   "using AllOrNone header")
MSG_NO_TYPE = ("sObject type '%s' is not supported. If you are attempting to use a custom "
               "object, be sure to append the '__c' after the entity name. Please reference "
               "your WSDL or the describe call for the appropriate names.")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RequestError(Exception):
    """The whole request fails: HTTP status + REST error array."""

    def __init__(self, status, error_code, message):
        super().__init__(message)
        self.status = status
        self.body = wire.rest_error(error_code, message)


class RecordError(Exception):
    """One record fails: a Collections per-record error."""

    def __init__(self, status_code, message, fields=()):
        super().__init__(message)
        self.error = wire.record_error(status_code, message, fields)


def _parse_error(type_word, value):
    return RequestError(400, "JSON_PARSER_ERROR",
                        "Cannot deserialize instance of %s from VALUE_%s value %s or request may "
                        "be missing a required field" % (
                            type_word, "STRING" if isinstance(value, str) else "TOKEN",
                            json.dumps(value, ensure_ascii=False)))


class Collections:
    def __init__(self, store):
        self.store = store
        self.schema = store.schema

    # -- request parsing ------------------------------------------------------
    @staticmethod
    def parse_body(body):
        try:
            doc = json.loads(body.decode("utf-8") if body else "")
        except UnicodeDecodeError:
            raise RequestError(400, "JSON_PARSER_ERROR", "Invalid UTF-8 in request body")
        except json.JSONDecodeError as e:
            raise RequestError(400, "JSON_PARSER_ERROR", "%s at [line:%d, column:%d]" % (
                e.msg, e.lineno, e.colno))
        if not isinstance(doc, dict):
            raise RequestError(400, "JSON_PARSER_ERROR",
                               "Cannot deserialize instance of SObjectCollection out of "
                               "START_ARRAY token")
        records = doc.get("records")
        all_or_none = doc.get("allOrNone", False)
        if not isinstance(all_or_none, bool):
            raise _parse_error("boolean", all_or_none)
        if not isinstance(records, list):
            raise RequestError(400, "JSON_PARSER_ERROR",
                               "Cannot deserialize instance of records: a JSON array is required")
        if len(records) > MAX_RECORDS:
            raise RequestError(400, "EXCEEDED_ID_LIMIT",
                               "record limit reached. cannot submit more than 200 records into "
                               "this call")
        return records, all_or_none

    def _typed(self, rec):
        """(SObject, {canonical field: raw value}, raw id or None) of one record."""
        if not isinstance(rec, dict):
            raise RequestError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object")
        attrs = rec.get("attributes")
        tname = attrs.get("type") if isinstance(attrs, dict) else None
        if not isinstance(tname, str) or not tname:
            raise RequestError(400, "INVALID_TYPE", "Must send a concrete entity type.")
        sobj = self.schema.get(tname)
        if sobj is None:
            raise RequestError(400, "INVALID_TYPE", MSG_NO_TYPE % tname)
        values, rid = {}, None
        for key, value in rec.items():
            if key == "attributes":
                continue
            if key.lower() == "id":
                rid = value
                continue
            field = sobj.field(key)
            if field is None:
                rel = sobj.relationships.get(key.lower())
                if rel is not None and isinstance(value, dict):
                    values[rel.name] = ("__by_ext_id", rel, value)
                    continue
                raise RequestError(400, "INVALID_FIELD",
                                   "No such column '%s' on sobject of type %s" % (key, sobj.name))
            values[field.name] = self._deserialize(field, value)
        return sobj, values, rid

    @staticmethod
    def _deserialize(field, value):
        """JSON value -> raw typed value, or the deserializer's 400."""
        if value is None:
            return None
        t = field.type
        if isinstance(value, (dict, list)):
            raise _parse_error(t, value)
        if t in ("int",):
            if isinstance(value, bool):
                raise _parse_error("int", value)
            if isinstance(value, str):
                if not re.fullmatch(r"-?\d+", value.strip()):
                    raise _parse_error("int", value)
                return int(value)
            if isinstance(value, float) and value != int(value):
                raise _parse_error("int", value)
            return int(value)
        if t in ("double", "currency", "percent"):
            if isinstance(value, bool):
                raise _parse_error("double", value)
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    raise _parse_error("double", value)
            return float(value)
        if t == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise _parse_error("boolean", value)
        if t == "date":
            d = wire.parse_date_input(value) if isinstance(value, str) else None
            if d is None:
                raise _parse_error("date", value)
            return d
        if t == "datetime":
            ms = wire.parse_datetime_input(value) if isinstance(value, str) else None
            if ms is None:
                raise _parse_error("datetime", value)
            return ms
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return wire.java_double(value) if isinstance(value, float) else str(value)
        return value

    # -- per-record validation ----------------------------------------------------
    def _check_values(self, sobj, values, creating):
        """Validate and convert values for a create or update; returns internal
        values or raises RecordError."""
        readonly = [name for name in values
                    if not (sobj.field(name).createable if creating else sobj.field(name).updateable)]
        if readonly:
            raise RecordError("INVALID_FIELD_FOR_INSERT_UPDATE",
                              "Unable to create/update fields: %s. Please check the security "
                              "settings of this field and verify that it is read/write for your "
                              "profile or permission set." % ", ".join(readonly), readonly)
        out = {}
        for name, value in values.items():
            field = sobj.field(name)
            if isinstance(value, tuple) and value and value[0] == "__by_ext_id":
                out[field.name] = self._resolve_ext_ref(value[1], value[2])
                continue
            out[name] = self._check_value(field, value)
        missing = [f.name for f in sobj.fields
                   if not f.nillable and f.createable and not f.defaulted and f.type != "boolean"
                   and (out.get(f.name) is None if (creating or f.name in out) else False)]
        if missing:
            raise RecordError("REQUIRED_FIELD_MISSING",
                              "Required fields are missing: [%s]" % ", ".join(missing), missing)
        return out

    def _check_value(self, field, value):
        t = field.type
        if value is None:
            return False if t == "boolean" else None
        if t in sch.STRING_TYPES:
            if value == "":
                return None          # the platform stores empty text as null
            if t == "multipicklist":
                value = ";".join(v for v in value.split(";") if v != "")
            if len(value) > field.length:
                raise RecordError("STRING_TOO_LONG", "%s: data value too large: %s (max length=%d)"
                                  % (field.label, value, field.length), [field.name])
            if t == "email" and not _EMAIL.match(value):
                raise RecordError("INVALID_EMAIL_ADDRESS", "%s: invalid email address: %s"
                                  % (field.label, value), [field.name])
            if t == "picklist" and field.restricted and value not in field.picklist:
                raise RecordError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                  "%s: bad value for restricted picklist field: %s"
                                  % (field.label, value), [field.name])
            return value
        if t in ("double", "currency", "percent"):
            limit = 10 ** (field.precision - field.scale)
            rounded = round(value, field.scale)
            if abs(rounded) >= limit:
                raise RecordError("NUMBER_OUTSIDE_VALID_RANGE",
                                  "%s: value outside of valid range on numeric field: %s"
                                  % (field.label, wire.java_double(value)), [field.name])
            return float(rounded)
        if t == "int":
            if field.digits and abs(value) >= 10 ** field.digits:
                raise RecordError("NUMBER_OUTSIDE_VALID_RANGE",
                                  "%s: value outside of valid range on numeric field: %d"
                                  % (field.label, value), [field.name])
            return value
        if t == "reference":
            if value == "":
                return None
            cid = wire.canonical_id(value) if isinstance(value, str) else None
            target = self.schema.get(field.reference_to)
            if cid is None or cid[:3] != target.prefix:
                raise RecordError("MALFORMED_ID", "%s: id value of incorrect type: %s"
                                  % (field.label, value), [field.name])
            ref = self.store.tables[target.name].recs.get(cid)
            if ref is None:
                raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
            if ref.get("IsDeleted"):
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [field.name])
            return cid
        return value

    def _resolve_ext_ref(self, rel, ref):
        """A lookup given as {"Ext_Id__c": "X"} under the relationship name."""
        target = self.schema.get(rel.reference_to)
        keys = [k for k in ref if k != "attributes"]
        if len(keys) != 1 or target.field(keys[0]) is None or not target.field(keys[0]).external_id:
            raise RequestError(400, "INVALID_FIELD", "No such column '%s' on sobject of type %s"
                               % (rel.relationship_name, rel.obj.name))
        ext = target.field(keys[0])
        ids = self.store.tables[target.name].lookup(ext, ref[keys[0]])
        if not ids:
            raise RecordError("INVALID_FIELD", "Foreign key external ID: %s not found for field %s "
                              "in entity %s" % (ref[keys[0]], ext.name, target.name))
        if len(ids) > 1:
            raise RecordError("DUPLICATE_EXTERNAL_ID", "%s: more than one record found for "
                              "external id field: %s" % (ext.name, ids), [ext.name])
        return ids[0]

    def _check_unique(self, sobj, values, own_id):
        table = self.store.tables[sobj.name]
        for f in table.index_fields:
            if f.unique and values.get(f.name) is not None:
                clash = [i for i in table.lookup(f, values[f.name]) if i != own_id]
                if clash:
                    raise RecordError("DUPLICATE_VALUE",
                                      "duplicate value found: %s duplicates value on record with "
                                      "id: %s" % (f.name, clash[0]))

    def _check_object(self, sobj, verb):
        if not sobj.createable:
            raise RecordError("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
                              "entity type %s does not support %s" % (sobj.name, verb))

    def _target(self, sobj, raw_id):
        """The live record an update/delete names, or RecordError."""
        cid = wire.canonical_id(raw_id) if isinstance(raw_id, str) else None
        if cid is None or cid[:3] != sobj.prefix:
            raise RecordError("MALFORMED_ID", "%s ID: id value of incorrect type: %s"
                              % (sobj.label, raw_id), ["Id"])
        rec = self.store.tables[sobj.name].recs.get(cid)
        if rec is None:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if rec.get("IsDeleted"):
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
        return cid

    # -- operations -------------------------------------------------------------
    def _run(self, items, all_or_none, work, echo_id=True):
        """Apply work(item, txn) -> result dict for each item, honouring allOrNone.
        work raises RecordError for a failed item.  Rolled-back items keep
        their id when it names an existing record (echo_id), not a new one."""
        txn = data.Txn(self.store)
        results, failed = [], False
        for item in items:
            try:
                results.append(work(item, txn))
            except RecordError as e:
                results.append({"success": False, "errors": [e.error]})
                failed = True
        if not (failed and all_or_none):
            txn.commit()
        else:
            txn.rollback()
            rolled = wire.record_error("ALL_OR_NONE_OPERATION_ROLLED_BACK", MSG_ROLLED_BACK)
            out = []
            for r in results:
                if r["success"]:
                    keep = echo_id and not r.get("created")
                    r = {"id": r["id"]} if keep else {}
                    r.update({"success": False, "errors": [dict(rolled)]})
                out.append(r)
            results = out
        return results

    def create(self, body, user_id):
        records, all_or_none = self.parse_body(body)
        typed = [self._typed(r) for r in records]

        def work(t, txn):
            sobj, values, rid = t
            self._check_object(sobj, "insert")
            if rid is not None:
                raise RecordError("INVALID_FIELD_FOR_INSERT_UPDATE",
                                  "cannot specify Id in an insert call", ["Id"])
            vals = self._check_values(sobj, values, creating=True)
            self._check_unique(sobj, vals, None)
            new_id = self.store.insert(sobj.name, vals, user_id, txn)
            return {"id": new_id, "success": True, "errors": []}
        return self._run(typed, all_or_none, work, echo_id=False)

    def update(self, body, user_id):
        records, all_or_none = self.parse_body(body)
        typed = [self._typed(r) for r in records]
        seen = {}
        for _s, _v, rid in typed:
            cid = wire.canonical_id(rid) if isinstance(rid, str) else None
            if cid:
                seen[cid] = seen.get(cid, 0) + 1

        def work(t, txn):
            sobj, values, rid = t
            self._check_object(sobj, "update")
            if rid is None:
                raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call")
            cid = self._target(sobj, rid)
            if seen.get(cid, 0) > 1:
                raise RecordError("DUPLICATE_VALUE", "Duplicate id in list: %s" % cid)
            vals = self._check_values(sobj, values, creating=False)
            self._check_unique(sobj, vals, cid)
            self.store.update(sobj.name, cid, vals, user_id, txn)
            return {"id": cid, "success": True, "errors": []}
        return self._run(typed, all_or_none, work)

    def upsert(self, obj_name, ext_name, body, user_id):
        sobj = self.schema.get(obj_name)
        if sobj is None:
            raise RequestError(404, "NOT_FOUND", "The requested resource does not exist")
        ext = sobj.field(ext_name)
        if ext is None:
            raise RequestError(404, "NOT_FOUND", "Provided external ID field does not exist or is "
                               "not accessible: %s" % ext_name)
        if not ext.external_id:
            raise RequestError(400, "INVALID_FIELD", "Field name provided, %s is not an External ID "
                               "or indexed field for %s" % (ext.name, sobj.name))
        records, all_or_none = self.parse_body(body)
        typed = [self._typed(r) for r in records]
        for rsobj, _v, _i in typed:
            if rsobj is not sobj:
                raise RequestError(400, "INVALID_TYPE", "Record type %s does not match the upsert "
                                   "type %s" % (rsobj.name, sobj.name))
        table = self.store.tables[sobj.name]
        keys = {}
        for _s, values, _i in typed:
            v = values.get(ext.name)
            if isinstance(v, str) and v:
                k = table.index_key(ext, v)
                keys[k] = keys.get(k, 0) + 1

        def work(t, txn):
            _s, values, rid = t
            self._check_object(sobj, "upsert")
            if rid is not None:
                raise RecordError("INVALID_FIELD", "Id field cannot be specified in an upsert "
                                  "call; use the external id field %s" % ext.name, ["Id"])
            key = values.get(ext.name)
            if key is None or key == "":
                raise RecordError("MISSING_ARGUMENT", "%s not specified" % ext.name)
            if keys.get(table.index_key(ext, key), 0) > 1:
                raise RecordError("DUPLICATE_VALUE", "Duplicate external id specified: %s" % key,
                                  [ext.name])
            matches = table.lookup(ext, key)
            if len(matches) > 1:
                raise RecordError("DUPLICATE_EXTERNAL_ID", "%s: more than one record found for "
                                  "external id field: [%s]" % (ext.name, ", ".join(matches)),
                                  [ext.name])
            if matches:
                vals = self._check_values(sobj, values, creating=False)
                self._check_unique(sobj, vals, matches[0])
                self.store.update(sobj.name, matches[0], vals, user_id, txn)
                return {"id": matches[0], "success": True, "errors": [], "created": False}
            vals = self._check_values(sobj, values, creating=True)
            self._check_unique(sobj, vals, None)
            new_id = self.store.insert(sobj.name, vals, user_id, txn)
            return {"id": new_id, "success": True, "errors": [], "created": True}
        return self._run(typed, all_or_none, work)

    def delete(self, ids_param, all_or_none_param, user_id):
        if not ids_param:
            raise RequestError(400, "MISSING_ARGUMENT", "ids parameter is required")
        ids = [i for i in ids_param.split(",")]
        if len(ids) > MAX_RECORDS:
            raise RequestError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more "
                               "than 200 records into this call")
        if all_or_none_param not in (None, "true", "false"):
            raise RequestError(400, "INVALID_FIELD", "allOrNone must be true or false")
        all_or_none = all_or_none_param == "true"

        def work(raw, txn):
            cid = wire.canonical_id(raw)
            if cid is None:
                raise RecordError("MALFORMED_ID", "malformed id %s" % raw)
            table, rec = self.store.find(cid)
            if rec is None:
                raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
            if rec.get("IsDeleted"):
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
            self._check_object(table.sobj, "delete")
            self.store.soft_delete(table.sobj.name, cid, user_id, txn)
            return {"id": cid, "success": True, "errors": []}
        return self._run(ids, all_or_none, work)
