"""The control API's /__control/cdc and /__control/cometd resources (see
tests/emulators/README, "Streaming API").

Tests use them to pick the objects enabled for Change Data Capture, to see
the event bus, to make gap and overflow events, to purge events (a replay
id that falls out of retention), to shorten the long-poll hold, and to make
the next /meta/connect fail the ways the real service fails.
"""
import cdc
import cometd


def handle_cdc(emu, method, parts, query, doc, error):
    """/__control/cdc/<parts> -> JSON answer; error(status, text) is raised."""
    bus = emu.cdc
    try:
        if not parts:
            if method == "POST":
                for name in doc.get("enable") or []:
                    bus.enable(name, True)
                for name in doc.get("disable") or []:
                    bus.enable(name, False)
                if doc.get("retention_hours") is not None:
                    bus.retention_ms = int(float(doc["retention_hours"]) * 3600 * 1000)
            return describe(bus)
        if parts == ["events"]:
            after = int((query.get("after") or ["0"])[0])
            return {"events": [{"data": bus.data(ev),
                                "channel": "/data/" + cdc.channel_name(ev.entity)}
                               for ev in bus.after(after)]}
        _post(method, error)
        if parts == ["gap"]:
            kind = doc.get("change_type", "GAP_UPDATE")
            if kind not in cdc.GAP_KINDS:
                raise error(400, "change_type must be one of " + ", ".join(cdc.GAP_KINDS))
            ids = doc.get("ids")
            if not isinstance(ids, list) or not ids:
                raise error(400, "ids: a list of record ids")
            return {"replay_ids": bus.gap(kind, ids)}
        if parts == ["overflow"]:
            return {"replay_id": bus.overflow(doc.get("object") or "")}
        if parts == ["purge"]:
            if doc.get("through_replay_id") is not None:
                n = bus.purge(through_replay_id=int(doc["through_replay_id"]))
            elif doc.get("older_than_seconds") is not None:
                n = bus.purge(older_than_ms=int(float(doc["older_than_seconds"]) * 1000))
            else:
                n = bus.purge()
            return dict(describe(bus), purged=n)
    except ValueError as e:
        raise error(400, str(e))
    raise error(404, "no such control resource: /__control/cdc/" + "/".join(parts))


def describe(bus):
    bus.prune()
    return {"enabled": sorted(bus.enabled),
            "channels": ["/data/ChangeEvents"] + sorted("/data/" + cdc.channel_name(n)
                                                        for n in bus.enabled),
            "retention_hours": bus.retention_ms / 3600000, "events": len(bus.events),
            "first_replay_id": bus.ids[0] if bus.ids else None,
            "last_replay_id": bus.ids[-1] if bus.ids else None}


def handle_cometd(emu, method, parts, query, doc, error):
    """/__control/cometd/<parts>."""
    st = emu.cometd
    try:
        if not parts:
            if method == "POST":
                s = st.settings
                if doc.get("hold_ms") is not None:
                    s.hold_ms = int(doc["hold_ms"])
                if doc.get("client_timeout_seconds") is not None:
                    s.client_timeout_ms = int(float(doc["client_timeout_seconds"]) * 1000)
                if doc.get("max_events_per_connect") is not None:
                    s.max_events = max(1, int(doc["max_events_per_connect"]))
                if doc.get("view_all_data") is not None:
                    s.view_all_data = bool(doc["view_all_data"])
                st.wake()
            return {"settings": st.settings.describe(), "failures": list(st.failures),
                    "clients": cometd.describe_clients(st)}
        if parts == ["fail"]:
            if method == "DELETE":
                st.failures = []
            else:
                _post(method, error)
                st.add_failure(doc.get("kind", ""), doc.get("count", 1), doc.get("after_ms", 200))
            return {"failures": list(st.failures)}
        if parts == ["forget-clients"]:
            _post(method, error)
            return {"forgotten": st.forget_clients()}
    except ValueError as e:
        raise error(400, str(e))
    raise error(404, "no such control resource: /__control/cometd/" + "/".join(parts))


def _post(method, error):
    if method != "POST":
        raise error(405, "use POST")
