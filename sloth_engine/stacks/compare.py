"""Compare two snapshots: added, removed and changed resources and outputs, field by field."""

from __future__ import annotations

import json
from typing import Any

from sloth_engine.store.stack_records import ResourceRecord, Snapshot

COMPARED_FIELDS = ("depends_on", "state", "probe", "task", "module")
"""Resource columns compared besides the properties (times and run ids always differ)."""

Change = dict[str, Any]


def compare(old: Snapshot, new: Snapshot) -> dict[str, Any]:
    """A JSON-ready document of the differences from `old` to `new`."""
    before = {r.key: r for r in old.resources}
    after = {r.key: r for r in new.resources}
    resources: dict[str, Any] = {
        "added": [_resource_doc(after[k]) for k in sorted(after.keys() - before.keys())],
        "removed": [_resource_doc(before[k]) for k in sorted(before.keys() - after.keys())],
        "changed": [],
    }
    for key in sorted(before.keys() & after.keys()):
        changes = resource_changes(before[key], after[key])
        if changes:
            resources["changed"].append({"resource": key, "changes": changes})
    return {
        "stack": new.info.stack,
        "from": _label(old),
        "to": _label(new),
        "resources": resources,
        "outputs": dict_changes(old.outputs, new.outputs),
    }


def resource_changes(old: ResourceRecord, new: ResourceRecord) -> list[Change]:
    changes = [
        {"field": f"properties.{c['field']}", "from": c["from"], "to": c["to"]}
        for c in field_changes(old.properties, new.properties)
    ]
    for name in COMPARED_FIELDS:
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            changes.append({"field": name, "from": a, "to": b})
    return changes


def field_changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[Change]:
    """Changed, added (from None) and removed (to None) keys; nested tables by dotted path."""
    changes: list[Change] = []
    for key in sorted(old.keys() | new.keys(), key=str):
        a, b = old.get(key), new.get(key)
        path = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            changes.extend(field_changes(a, b, path + "."))
        elif a != b or (key in old) != (key in new):
            changes.append({"field": path, "from": a, "to": b})
    return changes


def dict_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {
        "added": {k: new[k] for k in sorted(new.keys() - old.keys())},
        "removed": {k: old[k] for k in sorted(old.keys() - new.keys())},
        "changed": [
            {"key": k, "from": old[k], "to": new[k]}
            for k in sorted(old.keys() & new.keys())
            if old[k] != new[k]
        ],
    }


def has_changes(doc: dict[str, Any]) -> bool:
    parts = (doc["resources"], doc["outputs"])
    return any(part[kind] for part in parts for kind in ("added", "removed", "changed"))


def render(doc: dict[str, Any]) -> str:
    """The comparison as a readable diff: + added, - removed, ~ changed with from -> to."""
    lines = [f"Comparing stack '{doc['stack']}': {doc['from']} -> {doc['to']}", "", "Resources:"]
    res = doc["resources"]
    for item in res["added"]:
        lines.append(f"  + {item['resource']}  (added)")
        lines.extend(f"      {k} = {_show(v)}" for k, v in sorted(item["properties"].items()))
    for item in res["removed"]:
        lines.append(f"  - {item['resource']}  (removed)")
    for item in res["changed"]:
        lines.append(f"  ~ {item['resource']}")
        lines.extend(f"      {c['field']}: {_show(c['from'])} -> {_show(c['to'])}" for c in item["changes"])
    if not any(res.values()):
        lines.append("  (no changes)")
    lines += ["", "Outputs:"]
    out = doc["outputs"]
    lines.extend(f"  + {k} = {_show(v)}" for k, v in out["added"].items())
    lines.extend(f"  - {k} = {_show(v)}" for k, v in out["removed"].items())
    lines.extend(f"  ~ {c['key']}: {_show(c['from'])} -> {_show(c['to'])}" for c in out["changed"])
    if not any(out.values()):
        lines.append("  (no changes)")
    counts = (
        f"{len(res['added'])} added, {len(res['removed'])} removed, {len(res['changed'])} changed resources; "
        f"{len(out['added'])} added, {len(out['removed'])} removed, {len(out['changed'])} changed outputs"
    )
    lines += ["", f"Summary: {counts}"]
    return "\n".join(lines)


def _resource_doc(record: ResourceRecord) -> dict[str, Any]:
    return {"resource": record.key, "type": record.type, "name": record.name, "properties": record.properties}


def _label(snapshot: Snapshot) -> str:
    return snapshot.info.label if snapshot.info.version else "current"


def _show(value: Any, limit: int = 80) -> str:
    if value is None:
        return "(none)"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
