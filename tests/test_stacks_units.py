"""The pure pieces of the stacks package: comparisons, probes' answers, drift findings, versions,
and the rollback order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sloth_engine.executor.results import RunResult, TaskResult
from sloth_engine.spec import RunStatus, TaskStatus
from sloth_engine.stacks.compare import compare, has_changes, render
from sloth_engine.stacks.drift import finding, same
from sloth_engine.stacks.probes import Reading, answer_reading, normalize_mode, read_file
from sloth_engine.stacks.rollback import completion_order
from sloth_engine.store.stack_records import ResourceRecord, Snapshot, SnapshotInfo, checksum, parse_version


def record(name: str, properties: dict[str, Any], type_: str = "vm", state: str = "active") -> ResourceRecord:
    return ResourceRecord(
        "s",
        type_,
        name,
        properties,
        checksum(properties),
        [],
        None,
        None,
        "",
        state,
        None,
        "t",
        "w",
        "",
        None,
        0,
        0,
    )


def snapshot(version: int, resources: list[ResourceRecord], outputs: dict[str, Any]) -> Snapshot:
    return Snapshot(SnapshotInfo("s", version, "", "", 0.0, None, len(resources)), resources, outputs)


def test_compare_field_by_field() -> None:
    old = snapshot(1, [record("a", {"cpu": 1, "net": {"port": 80}}), record("b", {})], {"k": 1, "gone": True})
    new = snapshot(
        2, [record("a", {"cpu": 2, "net": {"port": 443}}), record("c", {"x": 1})], {"k": 2, "new": "y"}
    )
    doc = compare(old, new)
    assert [r["resource"] for r in doc["resources"]["added"]] == ["vm.c"]
    assert [r["resource"] for r in doc["resources"]["removed"]] == ["vm.b"]
    assert doc["resources"]["changed"] == [
        {
            "resource": "vm.a",
            "changes": [
                {"field": "properties.cpu", "from": 1, "to": 2},
                {"field": "properties.net.port", "from": 80, "to": 443},
            ],
        }
    ]
    assert doc["outputs"] == {
        "added": {"new": "y"},
        "removed": {"gone": True},
        "changed": [{"key": "k", "from": 1, "to": 2}],
    }
    text = render(doc)
    assert "  ~ vm.a\n      properties.cpu: 1 -> 2\n      properties.net.port: 80 -> 443" in text
    assert has_changes(doc) and not has_changes(compare(old, old))


def test_versions() -> None:
    assert parse_version("v3") == parse_version("V3") == parse_version("3") == 3
    for bad in ("v0", "x", "", "v-1", "3.5"):
        with pytest.raises(ValueError):
            parse_version(bad)


def test_file_probe_and_modes(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    target.write_text("hello")
    target.chmod(0o640)
    reading = read_file(
        {"path": str(target), "content": "hello", "mode": 640, "owner": str(target.stat().st_uid)}
    )
    assert reading.status == "ok" and reading.expected == reading.actual
    assert read_file({"path": str(tmp_path / "none")}).status == "missing"
    assert read_file({}).status == "error"
    assert normalize_mode("0644") == normalize_mode(644) == normalize_mode("0o644") == "0644"


def test_answers_and_findings() -> None:
    props = {"port": 8080, "name": "api"}
    assert answer_reading(props, None).status == "missing"
    assert answer_reading({"value": "x"}, "x") == Reading("ok", {"value": "x"}, {"value": "x"})
    assert answer_reading({"port": 1}, 1).expected == {"port": 1}
    assert answer_reading(props, "scalar").status == "error"
    found = finding(record("api", props), answer_reading(props, {"port": "8080", "name": "web"}))
    assert found is not None and found.kind == "configuration"
    assert found.fields == [{"field": "name", "expected": "api", "actual": "web"}]
    orphan = finding(record("old", {}, state="orphaned"), Reading("ok", {}, {}))
    assert orphan is not None and orphan.kind == "extra"
    assert finding(record("old", {}, state="orphaned"), Reading("missing")) is None
    assert same(8080, "8080") and same(1, 1.0) and not same(True, 1) and not same("a", "b")


def test_rollback_order_is_reverse_completion() -> None:
    def task(name: str, started: float, took: float, status: TaskStatus = TaskStatus.SUCCESS) -> TaskResult:
        return TaskResult(name, status, started_at=started, duration_s=took)

    tasks = [task("a", 0, 1), task("b", 1, 3), task("c", 1, 1), task("d", 4.5, 1, TaskStatus.FAILED)]
    result = RunResult("r", "w", RunStatus.FAILED, 5.0, tasks)
    assert [t.name for t in completion_order(result)] == ["b", "c", "a"]
