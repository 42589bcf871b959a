"""`raid`: Linux software RAID through mdadm, with the original module's 17 functions.

    raid.create{name = "/dev/md0", level = 1, devices = {...}, spares = {...}, metadata, chunk, force}
    raid.assemble(name[, scan])   raid.stop(name)   raid.remove(name)  (stop, then zero the members)
    raid.add(array, device)   raid.fail(array, device)   raid.remove_device(array, device)
    raid.add_spare(array, device)   raid.grow(array, {level, devices, chunk, layout})
    raid.check(array)   raid.repair(array)   (start a scrub: md/sync_action in sysfs)
    raid.save_config([{file}])   (the ARRAY lines of `mdadm --detail --scan`, other lines kept)
    raid.detail(name) / raid.status() / raid.scan() -> text, nil
    raid.list() -> { {name, level, devices, state}, ... }, nil     raid.exists(name) -> bool

Changes return `true, message` (`... (idempotent)` when nothing was needed: an array that
exists, a device already a member, already faulty, already gone) or `false, message`.
`mdstat` (default /proc/mdstat) and `sysfs` (default /sys) options name other places to read
and write. As the original, `sudo` is put in front when not root (`sudo = false` turns it off).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.atomic_write import read_bytes, write_atomic
from sloth_engine.modules.host_tool import Tool, required, split, string_list
from sloth_engine.modules.options import table_or_empty

DETAIL_FIELDS = {"level": "Raid Level", "devices": "Raid Devices", "state": "State"}
CONFIG_FILES = ("/etc/mdadm.conf", "/etc/mdadm/mdadm.conf")


def parse_detail(text: str) -> dict[str, str]:
    info = {}
    for key, label in DETAIL_FIELDS.items():
        match = re.search(rf"^\s*{label}\s*:\s*(.+)$", text, re.M)
        if match:
            info[key] = match.group(1).strip()
    return info


def member_state(detail: str, device: str) -> str | None:
    """The state words of `device` in the array's device table (None: not a member)."""
    for line in detail.splitlines():
        fields = line.split()
        if fields and fields[-1] == device:
            return " ".join(f for f in fields[:-1] if not f.isdigit() and f != "-")
    return None


class Raid:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.tool = Tool(sandbox, env, "raid", auto_sudo=True)

    def detail(self, name: str, opts: dict[str, Any]) -> str | None:
        ok, out = self.tool.output(["mdadm", "--detail", name], opts)
        return out if ok else None

    def change(
        self, opts: dict[str, Any], what: str, done: str, failed: str, *commands: list[str]
    ) -> tuple[bool, str]:
        ok, out = self.tool.change(opts, what, *commands)
        if not ok:
            return False, f"Failed to {failed}: {out}"
        return True, out if out.startswith("would ") else done

    def create(self, spec: Any) -> tuple[bool, str]:
        opts = table_or_empty(spec)
        name, level = opts.get("name"), opts.get("level")
        if not name or level in (None, ""):
            return False, "name and level are required"
        if self.detail(str(name), opts) is not None:
            return True, f"RAID array {name} already exists (idempotent)"
        devices = string_list("raid.create", opts.get("devices"), "devices")
        spares = string_list("raid.create", opts["spares"], "spares") if opts.get("spares") else []
        words = ["mdadm", "--create", str(name), f"--level={level}", f"--raid-devices={len(devices)}"]
        words += [f"--metadata={opts['metadata']}"] if opts.get("metadata") else []
        words += [f"--spare-devices={len(spares)}"] if spares else []
        words += [f"--chunk={opts['chunk']}"] if opts.get("chunk") else []
        words += ["--force"] if opts.get("force") else []
        words += ["--run", *devices, *spares]
        return self.change(
            opts, f"create {name}", f"RAID array {name} created successfully", "create RAID array", words
        )

    def member(self, verb: str, args: tuple[Any, ...]) -> tuple[bool, str]:
        (array, device), opts = split(args, 2)
        array, device = required(f"raid.{verb}", array, "array"), required(f"raid.{verb}", device, "device")
        detail = self.detail(array, opts)
        if detail is None:
            return False, f"RAID array {array} does not exist"
        state = member_state(detail, device)
        if verb in ("add", "add_spare") and state is not None:
            return True, f"Device {device} already in {array} (idempotent)"
        if verb == "fail" and state is not None and "faulty" in state:
            return True, f"Device {device} already failed in {array} (idempotent)"
        if verb in ("fail", "remove_device") and state is None:
            return True, f"Device {device} not in {array} (idempotent)"
        flags = {
            "add": ["--add"],
            "add_spare": ["--add-spare"],
            "fail": ["--fail"],
            "remove_device": ["--remove"],
        }
        words = ["mdadm", array, *flags[verb], device]
        done = {
            "add": f"Device {device} added to {array} successfully",
            "add_spare": f"Spare device {device} added to {array} successfully",
            "fail": f"Device {device} marked as failed in {array}",
            "remove_device": f"Device {device} removed from {array} successfully",
        }[verb]
        failed = {"add": "add device", "add_spare": "add spare device", "fail": "mark device as failed"}
        return self.change(opts, f"{verb} {device} {array}", done, failed.get(verb, "remove device"), words)

    def stop(self, args: tuple[Any, ...], remove: bool) -> tuple[bool, str]:
        (name,), opts = split(args, 1)
        name = required("raid.remove" if remove else "raid.stop", name, "name")
        detail = self.detail(name, opts)
        if detail is None:
            return True, f"RAID array {name} does not exist (idempotent)"
        commands = [["mdadm", "--stop", name]]
        if remove:
            members = [line.split()[-1] for line in detail.splitlines() if re.search(r"\s/dev/\S+$", line)]
            commands += [["mdadm", "--zero-superblock", m] for m in members]
        verb = "removed" if remove else "stopped"
        return self.change(
            opts,
            f"{verb[:-1]} {name}",
            f"RAID array {name} {verb} successfully",
            f"{verb[:-1]} RAID array",
            *commands,
        )

    def assemble(self, args: tuple[Any, ...]) -> tuple[bool, str]:
        (name, scan), opts = split(args, 2)
        name = required("raid.assemble", name, "name")
        if self.detail(name, opts) is not None:
            return True, f"RAID array {name} already assembled (idempotent)"
        words = ["mdadm", "--assemble", name, *(["--scan"] if scan else [])]
        return self.change(
            opts,
            f"assemble {name}",
            f"RAID array {name} assembled successfully",
            "assemble RAID array",
            words,
        )

    def grow(self, args: tuple[Any, ...]) -> tuple[bool, str]:
        (array, spec), opts = split(args, 2)
        array, wanted = required("raid.grow", array, "array"), {**table_or_empty(spec), **opts}
        detail = self.detail(array, wanted)
        if detail is None:
            return False, f"RAID array {array} does not exist"
        now = parse_detail(detail)
        words = ["mdadm", "--grow", array]
        if wanted.get("level") is not None and now.get("level") not in (
            f"raid{wanted['level']}",
            str(wanted["level"]),
        ):
            words.append(f"--level={wanted['level']}")
        if wanted.get("devices") is not None and now.get("devices") != str(wanted["devices"]):
            words.append(f"--raid-devices={wanted['devices']}")
        words += [f"--{k}={wanted[k]}" for k in ("chunk", "layout") if wanted.get(k)]
        if len(words) == 3:
            return True, f"Array {array} already has that shape (idempotent)"
        return self.change(
            wanted, f"grow {array}", f"Array {array} reshaped successfully", "grow array", words
        )

    def sync_action(self, action: str, args: tuple[Any, ...]) -> tuple[bool, str]:
        (array,), opts = split(args, 1)
        short = required(f"raid.{action}", array, "array").removeprefix("/dev/")
        path = os.path.join(str(opts.get("sysfs") or "/sys"), "block", short, "md", "sync_action")
        label = "Consistency check" if action == "check" else "Repair operation"
        if (read_bytes(path) or b"").strip() == action.encode():
            return True, f"{label} already running on {array} (idempotent)"
        self.tool.noted(opts, f"{action} {array}")
        if self.tool.check(opts):
            return True, f"would write {action} to {path}"
        try:
            with open(path, "w") as handle:
                handle.write(action + "\n")
        except OSError as exc:
            return False, f"Failed to start {action}: {exc.strerror}: {path}"
        return True, f"{label} started on {array}"

    def save_config(self, opts: Any) -> tuple[bool, str]:
        options = table_or_empty(opts)
        path = str(
            options.get("file") or next((f for f in CONFIG_FILES if os.path.exists(f)), CONFIG_FILES[1])
        )
        ok, scan = self.tool.output(["mdadm", "--detail", "--scan"], options)
        if not ok:
            return False, f"Failed to save config: {scan}"
        old = (read_bytes(path) or b"").decode()
        kept = [line for line in old.splitlines() if not line.startswith("ARRAY ")]
        new = "\n".join([*kept, *scan.splitlines()]) + "\n"
        if new == old:
            return True, f"Configuration already saved in {path} (idempotent)"
        self.tool.noted(options, f"save {path}")
        if self.tool.check(options):
            return True, f"would write the arrays to {path}"
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        write_atomic(path, new.encode(), 0o644)
        if options.get("update_initramfs", True) and self.tool.ok(
            ["sh", "-c", "command -v update-initramfs"]
        ):
            self.tool.run(["update-initramfs", "-u"], options)
        return True, f"Configuration saved to {path}"

    def mdstat(self, opts: Any) -> str:
        path = str(table_or_empty(opts).get("mdstat") or "/proc/mdstat")
        data = read_bytes(path)
        if data is None:
            raise ModuleError(f"raid: {path} does not exist (is the md driver loaded?)")
        return data.decode()

    def listing(self, opts: Any) -> tuple[Any, Any]:
        arrays = []
        for name in re.findall(r"^(md\d+)\s*:", self.mdstat(opts), re.M):
            detail = self.detail(f"/dev/{name}", table_or_empty(opts))
            if detail is not None:
                arrays.append({**parse_detail(detail), "name": f"/dev/{name}"})
        return arrays, None


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    r = Raid(sandbox, env)

    def text(words: list[str], failed: str) -> Callable[..., Any]:
        def call(*args: Any) -> tuple[Any, Any]:
            count = len([w for w in words if w == "{}"])
            values, opts = split(args, count)
            argv = [str(values.pop(0)) if w == "{}" else w for w in words]
            ok, out = r.tool.output(argv, opts)
            return (out, None) if ok else (None, f"Failed to {failed}: {out}")

        return call

    def exists(name: Any = None, opts: Any = None) -> bool:
        return r.detail(required("raid.exists", name, "name"), table_or_empty(opts)) is not None

    functions: dict[str, Callable[..., Any]] = {
        "create": r.create,
        "assemble": lambda *a: r.assemble(a),
        "stop": lambda *a: r.stop(a, False),
        "remove": lambda *a: r.stop(a, True),
        "add": lambda *a: r.member("add", a),
        "fail": lambda *a: r.member("fail", a),
        "remove_device": lambda *a: r.member("remove_device", a),
        "add_spare": lambda *a: r.member("add_spare", a),
        "detail": text(["mdadm", "--detail", "{}"], "get detail"),
        "status": lambda opts=None: (r.mdstat(opts), None),
        "list": r.listing,
        "exists": exists,
        "grow": lambda *a: r.grow(a),
        "check": lambda *a: r.sync_action("check", a),
        "repair": lambda *a: r.sync_action("repair", a),
        "save_config": r.save_config,
        "scan": text(["mdadm", "--detail", "--scan"], "scan"),
    }
    sandbox.set_module("raid", functions, blocking=frozenset(functions))
