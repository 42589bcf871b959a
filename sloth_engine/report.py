"""Reports of finished runs: the JSON document and JUnit XML for CI systems."""

from __future__ import annotations

import json
from typing import Any

from sloth_engine.executor.results import RunResult
from sloth_engine.spec import RunStatus, TaskStatus


def json_document(results: list[RunResult]) -> dict[str, Any]:
    """One document: the run itself when one workflow ran, else every run under "runs"."""
    if len(results) == 1:
        return results[0].to_dict()
    statuses = [r.status for r in results]
    overall = RunStatus.SUCCESS
    if RunStatus.CANCELLED in statuses:
        overall = RunStatus.CANCELLED
    elif RunStatus.FAILED in statuses:
        overall = RunStatus.FAILED
    return {
        "status": overall,
        "duration_s": round(sum(r.duration_s for r in results), 6),
        "runs": [r.to_dict() for r in results],
    }


def json_text(results: list[RunResult]) -> str:
    return json.dumps(json_document(results), indent=2, default=str)


def junit_xml(results: list[RunResult]) -> str:
    """One testsuite per workflow run, one testcase per task."""
    import xml.etree.ElementTree as ET  # only when a report is asked for

    suites = ET.Element("testsuites")
    for run in results:
        failures = sum(t.status in (TaskStatus.FAILED, TaskStatus.TIMED_OUT) for t in run.tasks)
        skipped = sum(t.status in (TaskStatus.SKIPPED, TaskStatus.CANCELLED) for t in run.tasks)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=run.workflow,
            tests=str(len(run.tasks)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
            time=f"{run.duration_s:.3f}",
            id=run.run_id,
        )
        for task in run.tasks:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=run.workflow,
                name=task.name,
                time=f"{task.duration_s:.3f}",
            )
            if task.status in (TaskStatus.FAILED, TaskStatus.TIMED_OUT):
                node = ET.SubElement(
                    case, "failure", message=task.error or task.message, type=task.status.value
                )
                node.text = task.error or task.message
            elif task.status in (TaskStatus.SKIPPED, TaskStatus.CANCELLED):
                ET.SubElement(case, "skipped", message=task.message or task.status.value)
            if task.message:
                ET.SubElement(case, "system-out").text = task.message
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
