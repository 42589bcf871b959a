"""`stack drift detect|show|fix`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from sloth_engine.executor.results import RunResult
from sloth_engine.spec import RunStatus

from ..grammar import add_yes
from ..store_access import fail, when
from .common import Command, add_json, as_json, confirm, emit_json, show

EXIT_DRIFT = 3
"""`drift detect --exit-code` when drift is found (for CI)."""

KIND_TITLES = {
    "configuration": "Configuration drift",
    "missing": "Missing resources",
    "extra": "Extra resources (no longer declared)",
    "error": "Unreadable resources",
}


def register(command: Command) -> None:
    detect = command(
        "detect", "read each resource's actual state and compare it with the stack's", cmd_detect
    )
    detect.add_argument("name")
    detect.add_argument("--exit-code", action="store_true", help=f"exit {EXIT_DRIFT} when drift is found")
    add_json(detect)
    shw = command("show", "the last drift report, field by field, by kind of drift", cmd_show)
    shw.add_argument("name")
    shw.add_argument("--refresh", action="store_true", help="detect again first")
    add_json(shw)
    fix = command("fix", "run again the tasks that own the drifted resources", cmd_fix)
    fix.add_argument("name")
    add_yes(fix, "run the plan without asking")
    fix.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")


def cmd_detect(args: argparse.Namespace, stacks: Any) -> int:
    report = stacks.drift.detect(args.name)
    if as_json(args):
        emit_json(report.to_dict())
    else:
        print(summary(report))
    if report.drifted and args.exit_code:
        return EXIT_DRIFT
    return 1 if report.errors else 0


def summary(report: Any) -> str:
    drifted, errors = report.drifted, report.errors
    lines = [
        f"Drift of stack '{report.stack}' at {when(report.detected_at)}: {len(drifted)} drifted, "
        f"{len(errors)} unreadable, {report.checked} checked"
    ]
    for item in drifted:
        if item.kind == "configuration":
            for f in item.fields:
                lines.append(f"  ~ {item.resource}: {f['field']} (expected {show(f['expected'], 40)}, "
                             f"actual {show(f['actual'], 40)})")  # fmt: skip
        else:
            lines.append(f"  {'-' if item.kind == 'missing' else '+'} {item.resource}: {item.kind}")
    lines.extend(f"  ! {item.resource}: {item.error}" for item in errors)
    if not drifted and not errors:
        lines.append("  no drift")
    return "\n".join(lines)


def cmd_show(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    report = None if args.refresh else stacks.drift.latest(args.name)
    if report is None:
        report = stacks.drift.detect(args.name)
    if as_json(args):
        return emit_json(report.to_dict())
    print(detailed(report))
    return 0


def detailed(report: Any) -> str:
    fixed = f", fixed at {when(report.fixed_at)}" if report.fixed_at else ""
    lines = [f"Drift report of stack '{report.stack}' ({when(report.detected_at)}{fixed})"]
    counts = f"{len(report.drifted)} drifted, {len(report.errors)} unreadable"
    lines.append(f"  {report.checked} resources checked, {counts}")
    for kind, title in KIND_TITLES.items():
        items = [f for f in report.findings if f.kind == kind]
        if not items:
            continue
        lines += ["", f"{title} ({len(items)}):"]
        for item in items:
            owner = f" (task {item.task} of {item.workflow})" if item.task else ""
            lines.append(f"  {item.resource}{owner}")
            if item.error:
                lines.append(f"    error: {item.error}")
            for f in item.fields:
                lines.append(f"    {f['field']}:")
                lines.append(f"      expected: {show(f['expected'], 100)}")
                lines.append(f"      actual:   {show(f['actual'], 100)}")
    if not report.findings:
        lines.append("  no drift")
    return "\n".join(lines)


def cmd_fix(args: argparse.Namespace, stacks: Any) -> int:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.stacks.drift_fix import plan_fix

    plan = plan_fix(stacks, args.name)
    if not plan.groups:
        for item, why in plan.unfixable:
            print(f"cannot fix {item.resource}: {why}", file=sys.stderr)
        if not plan.unfixable:
            print(f"stack '{args.name}': no drift to fix")
        return 1 if plan.unfixable else 0
    print(plan_text(plan))
    if args.dry_run:
        return 0
    if not confirm("Run these tasks again?", args.yes):
        return fail(
            "not fixed: confirm on a terminal or pass --yes (or --auto-approve)",
            2 if not sys.stdin.isatty() else 1,
        )
    if stacks.remote:  # the master runs the owning tasks, from the workflow files it has
        return _apply_on_master(args.name, stacks, plan)
    return _apply(args.name, stacks, plan)


def plan_text(plan: Any) -> str:
    lines = [f"Drift fix plan for stack '{plan.report.stack}':"]
    for group in plan.groups:
        lines.append(f"  run {', '.join(group.tasks)} of workflow '{group.workflow}' ({group.file})")
        lines.extend(f"    fixes {f.resource} ({f.kind})" for f in group.findings)
    lines.extend(f"  cannot fix {item.resource}: {why}" for item, why in plan.unfixable)
    return "\n".join(lines)


def _apply_on_master(name: str, stacks: Any, plan: Any) -> int:
    """FixDrift on the master (it plans again, runs the groups and records the fix); follow
    each run here as a local fix shows it, then say what is fixed."""
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.stacks.drift_fix import fixed_after

    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from ..progress import PlainProgress

    started = stacks.client.fix_drift(name)
    failed = False
    for run_id in started.get("run_ids", []):
        progress = PlainProgress()
        result = None
        for item in stacks.client.follow_run(run_id):  # a fix run has a feed like any run
            if isinstance(item, RunResult):
                result = item
            else:
                progress(item)
        if result is None:
            print(f"fix run {run_id}: the master's feed ended without its report", file=sys.stderr)
            failed = True
            continue
        progress.finish(result)
        failed = failed or result.status is not RunStatus.SUCCESS
    _after, fixed, still = fixed_after(stacks, name, plan)
    if fixed:
        print("fixed: " + ", ".join(fixed))
    if still:
        print("still drifted: " + ", ".join(still), file=sys.stderr)
    return 1 if (still or failed or plan.unfixable) else 0


def _apply(name: str, stacks: Any, plan: Any) -> int:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.stacks.drift_fix import fixed_after, run_fix

    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from ..progress import PlainProgress

    run_ids, failed = [], False
    for group in plan.groups:
        progress = PlainProgress()
        result = asyncio.run(run_fix(stacks, name, group, [progress], progress.start))
        progress.finish(result)
        run_ids.append(result.run_id)
        failed = failed or result.status is not RunStatus.SUCCESS
    _after, fixed, still = fixed_after(stacks, name, plan)
    if fixed:
        stacks.drift.mark_fixed(plan.report, fixed, run_ids, complete=not still)
        print("fixed: " + ", ".join(fixed))
    if still:
        print("still drifted: " + ", ".join(still), file=sys.stderr)
    return 1 if (still or failed or plan.unfixable) else 0
