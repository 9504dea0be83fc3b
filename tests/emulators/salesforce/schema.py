"""The emulated org's objects and fields, and their describe JSON.

Field describe objects carry every key of the real shape quoted in
contracts/salesforce.md section 2.2 (nulls included); the values follow the
rules of the field types (section 7): soapType per type, compound address
fields with their components, formula fields with calculated=true, External
ID fields, picklists with their values.
"""

ADDRESS_KEYS = ("city", "country", "geocodeAccuracy", "latitude", "longitude",
                "postalCode", "state", "street")

SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean",
    "string": "xsd:string", "textarea": "xsd:string", "picklist": "xsd:string",
    "multipicklist": "xsd:string", "email": "xsd:string", "phone": "xsd:string",
    "url": "xsd:string", "combobox": "xsd:string",
    "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double",
    "int": "xsd:int", "date": "xsd:date", "datetime": "xsd:dateTime",
    "address": "urn:address", "location": "urn:location",
}
STRING_TYPES = {"string", "textarea", "picklist", "multipicklist", "email", "phone",
                "url", "combobox"}
NUMBER_TYPES = {"double", "currency", "percent", "int"}


class Field:
    """One field.  Only what differs from the type's defaults is given."""

    def __init__(self, name, ftype, label, length=0, precision=0, scale=0, digits=0,
                 nillable=True, createable=True, updateable=True, external_id=False,
                 unique=False, id_lookup=False, formula=None, picklist=None,
                 restricted=False, reference_to=None, relationship_name=None,
                 compound=None, defaulted=False, name_field=False, auto_number=False,
                 default=None, case_sensitive=False, extra_type=None, html=False,
                 cascade_delete=False):
        self.name = name
        self.type = ftype
        self.label = label
        self.length = length
        self.precision = precision
        self.scale = scale
        self.digits = digits
        self.nillable = nillable
        self.createable = createable and formula is None and not auto_number
        self.updateable = updateable and formula is None and not auto_number
        self.external_id = external_id
        self.unique = unique
        self.id_lookup = id_lookup or external_id or ftype == "id"
        self.formula = formula          # calculatedFormula text
        self.calculated = formula is not None
        self.picklist = list(picklist or [])
        self.restricted = restricted
        self.reference_to = reference_to
        self.relationship_name = relationship_name
        self.compound = compound        # compoundFieldName of a component
        self.defaulted = defaulted
        self.name_field = name_field
        self.auto_number = auto_number
        self.default = default
        self.case_sensitive = case_sensitive
        self.extra_type = extra_type
        self.html = html
        self.cascade_delete = cascade_delete
        self.custom = name.endswith("__c")
        self.components = []            # for address fields: component names
        self.obj = None                 # set by SObject
        # address value key -> component field, e.g. ("postalCode", "BillingPostalCode")
        prefix = name[:-len("Address")]
        self.address_parts = [(k, prefix + k[0].upper() + k[1:]) for k in ADDRESS_KEYS] \
            if ftype == "address" else []

    # Long text areas cannot be filtered, sorted or grouped.
    @property
    def long_text(self):
        return self.type == "textarea" and self.length > 255

    @property
    def filterable(self):
        return not (self.long_text or self.type in ("address", "location"))

    @property
    def sortable(self):
        return not (self.long_text or self.type in ("address", "location", "multipicklist"))

    @property
    def groupable(self):
        return self.sortable and self.type not in ("double", "currency", "percent", "datetime")

    def describe(self):
        t = self.type
        text_like = t in STRING_TYPES or t in ("id", "reference")
        byte_length = 18 if t in ("id", "reference") else (self.length * 3 if text_like else 0)
        return {
            "aggregatable": self.groupable or t in NUMBER_TYPES or t == "datetime",
            "autoNumber": self.auto_number,
            "byteLength": byte_length,
            "calculated": self.calculated,
            "calculatedFormula": self.formula,
            "cascadeDelete": self.cascade_delete,
            "caseSensitive": self.case_sensitive,
            "compoundFieldName": self.compound,
            "controllerName": None,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default,
            "defaultValueFormula": None,
            "defaultedOnCreate": self.defaulted,
            "dependentPicklist": False,
            "deprecatedAndHidden": False,
            "digits": self.digits,
            "displayLocationInDecimal": False,
            "encrypted": False,
            "externalId": self.external_id,
            "extraTypeInfo": self.extra_type,
            "filterable": self.filterable,
            "filteredLookupInfo": None,
            "groupable": self.groupable,
            "highScaleNumber": False,
            "htmlFormatted": self.html,
            "idLookup": self.id_lookup,
            "inlineHelpText": None,
            "label": self.label,
            "length": self.length if text_like and t not in ("id", "reference") else (18 if t in ("id", "reference") else 0),
            "mask": None,
            "maskType": None,
            "name": self.name,
            "nameField": self.name_field,
            "namePointing": False,
            "nillable": self.nillable,
            "permissionable": self.nillable and not self.name_field and self.custom,
            "picklistValues": [{"active": True, "defaultValue": False, "label": v,
                                "validFor": None, "value": v} for v in self.picklist],
            "precision": self.precision,
            "queryByDistance": False,
            "referenceTargetField": None,
            "referenceTo": [self.reference_to] if self.reference_to else [],
            "relationshipName": self.relationship_name,
            "relationshipOrder": None,
            "restrictedDelete": False,
            "restrictedPicklist": self.restricted,
            "scale": self.scale,
            "soapType": SOAP_TYPES[t],
            "sortable": self.sortable,
            "type": t,
            "unique": self.unique,
            "updateable": self.updateable,
            "writeRequiresMasterRead": False,
        }


class SObject:
    def __init__(self, name, label, plural, prefix, fields, mergeable=False,
                 has_is_deleted=True, createable=True):
        self.name = name
        self.label = label
        self.plural = plural
        self.prefix = prefix
        self.custom = name.endswith("__c")
        self.fields = fields
        self.mergeable = mergeable
        self.has_is_deleted = has_is_deleted
        self.createable = createable
        self.by_lower = {}
        self.relationships = {}     # lower relationship name -> reference Field
        self.children = []          # (child SObject name, Field) filled by Schema
        for f in fields:
            f.obj = self
            self.by_lower[f.name.lower()] = f
            if f.relationship_name:
                self.relationships[f.relationship_name.lower()] = f
        for f in fields:
            if f.compound:
                self.by_lower[f.compound.lower()].components.append(f.name)

    def field(self, name):
        return self.by_lower.get(name.lower())

    def urls(self, version):
        base = "/services/data/v%s/sobjects/%s" % (version, self.name)
        return {"compactLayouts": base + "/describe/compactLayouts",
                "rowTemplate": base + "/{ID}", "approvalLayouts": base + "/describe/approvalLayouts",
                "defaultValues": base + "/defaultValues?recordTypeId&fields",
                "describe": base + "/describe", "quickActions": base + "/quickActions",
                "layouts": base + "/describe/layouts", "sobject": base}

    def global_entry(self, version):
        return {
            "activateable": False, "associateEntityType": None, "associateParentEntity": None,
            "createable": self.createable, "custom": self.custom, "customSetting": False,
            "deepCloneable": False, "deletable": self.createable,
            "deprecatedAndHidden": False, "feedEnabled": not self.custom,
            "hasSubtypes": False, "isInterface": False, "isSubtype": False,
            "keyPrefix": self.prefix, "label": self.label, "labelPlural": self.plural,
            "layoutable": True, "mergeable": self.mergeable, "mruEnabled": True,
            "name": self.name, "queryable": True, "replicateable": True,
            "retrieveable": True, "searchable": True, "triggerable": True,
            "undeletable": self.createable, "updateable": self.createable,
            "urls": {k: v for k, v in self.urls(version).items()
                     if k in ("rowTemplate", "describe", "sobject")},
        }

    def describe(self, version):
        out = self.global_entry(version)
        out.update({
            "actionOverrides": [],
            "childRelationships": [
                {"cascadeDelete": f.cascade_delete, "childSObject": child, "deprecatedAndHidden": False,
                 "field": f.name, "junctionIdListNames": [], "junctionReferenceTo": [],
                 "relationshipName": rel, "restrictedDelete": False}
                for child, f, rel in self.children],
            "compactLayoutable": True,
            "fields": [f.describe() for f in self.fields],
            "listviewable": None, "lookupLayoutable": None, "namedLayoutInfos": [],
            "networkScopeFieldName": None,
            "recordTypeInfos": [],
            "searchLayoutable": True, "supportedScopes": [{"label": "All " + self.plural, "name": "everything"}],
            "urls": self.urls(version),
        })
        return dict(sorted(out.items()))


# ---------------------------------------------------------------------------
# Field sets shared by several objects

def _system_fields(obj_label, with_owner=True, with_is_deleted=True):
    out = [Field("Id", "id", "%s ID" % obj_label, nillable=False, createable=False,
                 updateable=False, defaulted=True)]
    if with_is_deleted:
        out.append(Field("IsDeleted", "boolean", "Deleted", nillable=False, createable=False,
                         updateable=False, defaulted=True, default=False))
    return out


def _audit_fields(with_owner=True):
    out = []
    if with_owner:
        out.append(Field("OwnerId", "reference", "Owner ID", nillable=False, defaulted=True,
                         reference_to="User", relationship_name="Owner"))
    for name, label, ftype in (("CreatedDate", "Created Date", "datetime"),
                               ("CreatedById", "Created By ID", "reference"),
                               ("LastModifiedDate", "Last Modified Date", "datetime"),
                               ("LastModifiedById", "Last Modified By ID", "reference"),
                               ("SystemModstamp", "System Modstamp", "datetime")):
        rel = name[:-2] if ftype == "reference" else None
        out.append(Field(name, ftype, label, nillable=False, createable=False, updateable=False,
                         defaulted=True, reference_to="User" if rel else None,
                         relationship_name=rel))
    return out


GEO_ACCURACY = ["Address", "NearAddress", "Block", "Street", "ExtendedZip", "Zip",
                "Neighborhood", "City", "County", "State", "Unknown"]


def _address(prefix, label):
    compound = prefix + "Address"
    return [
        Field(prefix + "Street", "textarea", label + " Street", length=255, compound=compound),
        Field(prefix + "City", "string", label + " City", length=40, compound=compound),
        Field(prefix + "State", "string", label + " State/Province", length=80, compound=compound),
        Field(prefix + "PostalCode", "string", label + " Zip/Postal Code", length=20, compound=compound),
        Field(prefix + "Country", "string", label + " Country", length=80, compound=compound),
        Field(prefix + "Latitude", "double", label + " Latitude", precision=18, scale=15, compound=compound),
        Field(prefix + "Longitude", "double", label + " Longitude", precision=18, scale=15, compound=compound),
        Field(prefix + "GeocodeAccuracy", "picklist", label + " Geocode Accuracy", length=40,
              picklist=GEO_ACCURACY, restricted=True, compound=compound),
        Field(compound, "address", label + " Address", createable=False, updateable=False),
    ]


INDUSTRIES = ["Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications",
              "Construction", "Consulting", "Education", "Electronics", "Energy", "Engineering",
              "Entertainment", "Environmental", "Finance", "Food & Beverage", "Government",
              "Healthcare", "Hospitality", "Insurance", "Machinery", "Manufacturing", "Media",
              "Not For Profit", "Recreation", "Retail", "Shipping", "Technology",
              "Telecommunications", "Transportation", "Utilities", "Other"]
ACCOUNT_TYPES = ["Prospect", "Customer - Direct", "Customer - Channel",
                 "Channel Partner / Reseller", "Installation Partner", "Technology Partner", "Other"]
RATINGS = ["Hot", "Warm", "Cold"]
LEAD_SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]
SALUTATIONS = ["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]
# StageName -> (default probability, IsClosed, IsWon)
STAGES = {"Prospecting": (10, False, False), "Qualification": (10, False, False),
          "Needs Analysis": (20, False, False), "Value Proposition": (50, False, False),
          "Id. Decision Makers": (60, False, False), "Perception Analysis": (70, False, False),
          "Proposal/Price Quote": (75, False, False), "Negotiation/Review": (90, False, False),
          "Closed Won": (100, True, True), "Closed Lost": (0, True, False)}
OPP_TYPES = ["Existing Customer - Upgrade", "Existing Customer - Replacement",
             "Existing Customer - Downgrade", "New Customer"]
GRADES = ["A", "B", "C", "D", "F"]
TAGS = ["alpha", "beta", "gamma", "delta"]


def build_objects():
    account = SObject("Account", "Account", "Accounts", "001", mergeable=True, fields=(
        _system_fields("Account") + [
            Field("Name", "string", "Account Name", length=255, nillable=False, name_field=True),
            Field("Type", "picklist", "Account Type", length=255, picklist=ACCOUNT_TYPES),
            Field("ParentId", "reference", "Parent Account ID", reference_to="Account",
                  relationship_name="Parent"),
        ] + _address("Billing", "Billing") + [
            Field("Phone", "phone", "Account Phone", length=40),
            Field("Fax", "phone", "Account Fax", length=40),
            Field("AccountNumber", "string", "Account Number", length=40),
            Field("Website", "url", "Website", length=255),
            Field("Industry", "picklist", "Industry", length=255, picklist=INDUSTRIES),
            Field("AnnualRevenue", "currency", "Annual Revenue", precision=18, scale=0),
            Field("NumberOfEmployees", "int", "Employees", digits=8),
            Field("Description", "textarea", "Account Description", length=32000,
                  extra_type="plaintextarea"),
            Field("Rating", "picklist", "Account Rating", length=255, picklist=RATINGS),
        ] + _audit_fields() + [
            Field("LastActivityDate", "date", "Last Activity", createable=False, updateable=False),
            Field("Ext_Id__c", "string", "External Id", length=64, external_id=True),
            Field("Customer_Since__c", "date", "Customer Since"),
            Field("Is_Partner__c", "boolean", "Is Partner", nillable=False, defaulted=True,
                  default=False),
            Field("Revenue_Per_Employee__c", "currency", "Revenue per Employee", precision=18,
                  scale=2, formula="AnnualRevenue / NumberOfEmployees"),
        ]))

    contact = SObject("Contact", "Contact", "Contacts", "003", mergeable=True, fields=(
        _system_fields("Contact") + [
            Field("AccountId", "reference", "Account ID", reference_to="Account",
                  relationship_name="Account", cascade_delete=True),
            Field("LastName", "string", "Last Name", length=80, nillable=False, compound="Name"),
            Field("FirstName", "string", "First Name", length=40, compound="Name"),
            Field("Salutation", "picklist", "Salutation", length=40, picklist=SALUTATIONS,
                  compound="Name"),
            Field("Name", "string", "Full Name", length=121, nillable=False, createable=False,
                  updateable=False, name_field=True, extra_type="personname"),
        ] + _address("Mailing", "Mailing") + [
            Field("Phone", "phone", "Business Phone", length=40),
            Field("MobilePhone", "phone", "Mobile Phone", length=40),
            Field("Email", "email", "Email", length=80, id_lookup=True),
            Field("Title", "string", "Title", length=128),
            Field("Department", "string", "Department", length=80),
            Field("Birthdate", "date", "Birthdate"),
            Field("LeadSource", "picklist", "Lead Source", length=255, picklist=LEAD_SOURCES),
            Field("HasOptedOutOfEmail", "boolean", "Email Opt Out", nillable=False, defaulted=True,
                  default=False),
            Field("DoNotCall", "boolean", "Do Not Call", nillable=False, defaulted=True,
                  default=False),
            Field("Description", "textarea", "Contact Description", length=32000,
                  extra_type="plaintextarea"),
        ] + _audit_fields() + [
            Field("Ext_Id__c", "string", "External Id", length=64, external_id=True, unique=True),
        ]))
    # Contact.Name is the compound name; its components point at it, but it
    # is a plain string in describe, not an address.
    contact.field("Name").components = []

    opportunity = SObject("Opportunity", "Opportunity", "Opportunities", "006", fields=(
        _system_fields("Opportunity") + [
            Field("AccountId", "reference", "Account ID", reference_to="Account",
                  relationship_name="Account", cascade_delete=True),
            Field("Name", "string", "Name", length=120, nillable=False, name_field=True),
            Field("Description", "textarea", "Description", length=32000,
                  extra_type="plaintextarea"),
            Field("StageName", "picklist", "Stage", length=255, nillable=False,
                  picklist=list(STAGES)),
            Field("Amount", "currency", "Amount", precision=18, scale=2),
            Field("Probability", "percent", "Probability (%)", precision=3, scale=0, defaulted=True),
            Field("ExpectedRevenue", "currency", "Expected Amount", precision=18, scale=2,
                  createable=False, updateable=False),
            Field("CloseDate", "date", "Close Date", nillable=False),
            Field("Type", "picklist", "Opportunity Type", length=255, picklist=OPP_TYPES),
            Field("NextStep", "string", "Next Step", length=255),
            Field("LeadSource", "picklist", "Lead Source", length=255, picklist=LEAD_SOURCES),
            Field("IsClosed", "boolean", "Closed", nillable=False, createable=False,
                  updateable=False, defaulted=True),
            Field("IsWon", "boolean", "Won", nillable=False, createable=False, updateable=False,
                  defaulted=True),
        ] + _audit_fields()))

    score = SObject("Sluice_Score__c", "Sluice Score", "Sluice Scores", "a0B", fields=(
        _system_fields("Record") + [
            Field("Name", "string", "Score Number", length=80, nillable=False, name_field=True,
                  auto_number=True, defaulted=True),
            Field("Ext_Id__c", "string", "External Id", length=64, external_id=True, unique=True),
            Field("Account__c", "reference", "Account", reference_to="Account",
                  relationship_name="Account__r"),
            Field("Score__c", "double", "Score", precision=18, scale=2),
            Field("Weight__c", "percent", "Weight", precision=5, scale=2),
            Field("Rank__c", "double", "Rank", precision=6, scale=0),
            Field("Amount__c", "currency", "Amount", precision=16, scale=2),
            Field("Grade__c", "picklist", "Grade", length=255, picklist=GRADES, restricted=True),
            Field("Tags__c", "multipicklist", "Tags", length=4099, picklist=TAGS),
            Field("Active__c", "boolean", "Active", nillable=False, defaulted=True, default=False),
            Field("Scored_At__c", "datetime", "Scored At"),
            Field("Scored_On__c", "date", "Scored On"),
            Field("Contact_Email__c", "email", "Contact Email", length=80),
            Field("Website__c", "url", "Website", length=255),
            Field("Phone__c", "phone", "Phone", length=40),
            Field("Notes__c", "textarea", "Notes", length=32768, extra_type="plaintextarea"),
            Field("Details__c", "textarea", "Details", length=32768, extra_type="richtextarea",
                  html=True),
        ] + _audit_fields()))

    user = SObject("User", "User", "Users", "005", has_is_deleted=False, createable=False,
                   fields=(_system_fields("User", with_is_deleted=False) + [
                       Field("Username", "string", "Username", length=80, nillable=False,
                             unique=True, id_lookup=True),
                       Field("LastName", "string", "Last Name", length=80, nillable=False),
                       Field("FirstName", "string", "First Name", length=40),
                       Field("Name", "string", "Full Name", length=121, nillable=False,
                             createable=False, updateable=False, name_field=True),
                       Field("Email", "email", "Email", length=128, nillable=False),
                       Field("IsActive", "boolean", "Active", nillable=False, defaulted=True),
                   ] + _audit_fields(with_owner=False)))
    return [account, contact, opportunity, score, user]


# Sluice_Wide__c: so many fields that "SELECT <all> FROM Sluice_Wide__c" does
# not fit in the 16,384-byte URI limit (section 2.1: clients must split the
# SELECT list).  Types cycle through WIDE_TYPES, so every chunk mixes them.
WIDE_TYPES = ("string", "double", "currency", "boolean", "date", "datetime", "picklist")
WIDE_LEVELS = ["Low", "Medium", "High", "Critical"]


def wide_field_name(i):
    return "Measurement_Value_%04d__c" % i


def build_wide(n):
    fields = []
    for i in range(1, n + 1):
        t = WIDE_TYPES[(i - 1) % len(WIDE_TYPES)]
        name, label = wide_field_name(i), "Measurement Value %04d" % i
        if t == "string":
            fields.append(Field(name, t, label, length=255))
        elif t == "double":
            fields.append(Field(name, t, label, precision=18, scale=4))
        elif t == "currency":
            fields.append(Field(name, t, label, precision=16, scale=2))
        elif t == "boolean":
            fields.append(Field(name, t, label, nillable=False, defaulted=True, default=False))
        elif t == "picklist":
            fields.append(Field(name, t, label, length=255, picklist=WIDE_LEVELS))
        else:
            fields.append(Field(name, t, label))
    return SObject("Sluice_Wide__c", "Sluice Wide", "Sluice Wides", "a0W", fields=(
        _system_fields("Record") +
        [Field("Name", "string", "Wide Name", length=80, nillable=False, name_field=True)] +
        fields + _audit_fields()))


class Schema:
    def __init__(self, wide_fields=700):
        self.objects = build_objects()
        if wide_fields > 0:
            self.objects.append(build_wide(wide_fields))
        self.by_lower = {o.name.lower(): o for o in self.objects}
        self.by_prefix = {o.prefix: o for o in self.objects}
        child_names = {("Account", "ParentId"): "ChildAccounts", ("Contact", "AccountId"): "Contacts",
                       ("Opportunity", "AccountId"): "Opportunities",
                       ("Sluice_Score__c", "Account__c"): "Sluice_Scores__r"}
        for o in self.objects:
            for f in o.fields:
                if f.type == "reference" and f.reference_to and (o.name, f.name) in child_names:
                    self.by_lower[f.reference_to.lower()].children.append(
                        (o.name, f, child_names[(o.name, f.name)]))

    def get(self, name):
        return self.by_lower.get(name.lower()) if isinstance(name, str) else None

    def for_id(self, id18):
        return self.by_prefix.get(id18[:3])

    def describe_global(self, version):
        return {"encoding": "UTF-8", "maxBatchSize": 200,
                "sobjects": [o.global_entry(version) for o in self.objects]}
