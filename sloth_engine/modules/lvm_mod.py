"""`lvm`: physical volumes, volume groups and logical volumes through the LVM programs.

    lvm.pv_create(device[, force])   pv_remove(device[, force])   pv_list()   pv_exists(device)
    lvm.vg_create(name, {devices})   vg_remove(name[, force])     vg_extend(name, {devices})
    lvm.vg_reduce(name, {devices})   vg_list()   vg_exists(name)
    lvm.lv_create(vg, name, size)    lv_remove("vg/lv"[, force])  lv_extend("vg/lv", "+10G")
    lvm.lv_reduce("vg/lv", size[, force])   lv_resize("vg/lv", size[, resize_fs])   lv_list()
    lvm.lv_exists("vg/lv")   snapshot_create("vg/lv", name, size)   snapshot_merge("vg/snap")
    lvm.thin_pool_create(vg, pool, size)   thin_lv_create("vg/pool", name, virtual_size)
    lvm.scan()   lvm.info("/dev/sdb" | "vg" | "vg/lv") -> the pvdisplay/vgdisplay/lvdisplay text

Changes return `true, message` (`... already exists (idempotent)` when there is nothing to do)
or `false, message`; lists return `{ {name, vg, size, free | attr, pool}, ... }, nil`; the
`_exists` functions return booleans. Creating, removing, extending and reducing check first:
a volume group is extended only by devices not in it yet, and a logical volume is resized
only when an absolute size (`20G`) differs from its size. As the original, `sudo` is put in
front when not root (`sudo = false` in a trailing options table turns that off).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.host_tool import Tool, required, split, string_list

UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([bkmgtp])?$", re.I)


def size_bytes(text: str) -> int | None:
    """`10G`, `512m`, `1.5t` in bytes; None for what is not an absolute size (`+5G`, `50%FREE`)."""
    match = _SIZE.match(text.strip())
    if match is None:
        return None
    return int(float(match.group(1)) * UNITS[(match.group(2) or "m").lower()])


def columns(text: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= len(names) - (names[-1] == "pool"):
            rows.append(dict(zip(names, fields, strict=False)))
    return rows


class Lvm:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.tool = Tool(sandbox, env, "lvm", auto_sudo=True)

    def exists(self, kind: str, name: str, opts: dict[str, Any] | None = None) -> bool:
        return self.tool.ok([kind, name], opts)

    def made(
        self, opts: dict[str, Any], what: str, done: str, failed: str, words: list[str]
    ) -> tuple[bool, str]:
        ok, out = self.tool.change(opts, what, words)
        if not ok:
            return False, f"Failed to {failed}: {out}"
        return True, out if out.startswith("would ") else done

    def listing(self, words: list[str], names: tuple[str, ...], what: str, opts: dict[str, Any]) -> Any:
        ok, out = self.tool.output(words, opts)
        if not ok:
            return None, f"Failed to list {what}: {out}"
        return columns(out, names), None

    def lv_size(self, path: str, opts: dict[str, Any]) -> int | None:
        ok, out = self.tool.output(
            ["lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_size", path], opts
        )
        return int(float(out.split()[0])) if ok and out.split() else None

    def resize(self, program: str, args: tuple[Any, ...], switch: str) -> tuple[bool, str]:
        (path, size, extra), opts = split(args, 3)
        path, size = required(f"lvm.{program}", path, "volume"), required(f"lvm.{program}", size, "size")
        wanted = size_bytes(size)
        if wanted is not None and self.lv_size(path, opts) == wanted:
            return True, f"Logical volume {path} is already {size} (idempotent)"
        words = [program, "-L", size, *([switch] if extra else []), path]
        verb = program.removeprefix("lv")
        done = f"Logical volume {path} {verb.removesuffix('e')}ed successfully"
        return self.made(opts, f"{program} {path} {size}", done, f"{verb} LV", words)


def _functions(lv: Lvm) -> dict[str, Callable[..., Any]]:
    def pv(remove: bool) -> Callable[..., Any]:
        def call(*args: Any) -> tuple[bool, str]:
            (device, force), opts = split(args, 2)
            device = required("lvm.pv_remove" if remove else "lvm.pv_create", device, "device")
            if lv.exists("pvs", device, opts) != remove:
                state = "does not exist" if remove else "already exists"
                return True, f"Physical volume {device} {state} (idempotent)"
            words = ["pvremove" if remove else "pvcreate", *(["-f"] if force else []), device]
            verb = "removed" if remove else "created"
            return lv.made(
                opts,
                f"{words[0]} {device}",
                f"Physical volume {device} {verb} successfully",
                f"{'remove' if remove else 'create'} PV",
                words,
            )

        return call

    def vg_create(*args: Any) -> tuple[bool, str]:
        (name, devices), opts = split(args, 2)
        name = required("lvm.vg_create", name, "name")
        if lv.exists("vgs", name, opts):
            return True, f"Volume group {name} already exists (idempotent)"
        found = string_list("lvm.vg_create", devices, "devices")
        return lv.made(
            opts,
            f"vgcreate {name}",
            f"Volume group {name} created successfully",
            "create VG",
            ["vgcreate", name, *found],
        )

    def vg_members(name: str, opts: dict[str, Any]) -> set[str]:
        ok, out = lv.tool.output(["pvs", "--noheadings", "-o", "pv_name,vg_name"], opts)
        return {f[0] for f in (line.split() for line in out.splitlines()) if len(f) > 1 and f[1] == name}

    def vg_change(program: str) -> Callable[..., Any]:
        def call(*args: Any) -> tuple[bool, str]:
            (name, devices), opts = split(args, 2)
            name = required(f"lvm.{program}", name, "name")
            members = vg_members(name, opts)
            wanted = string_list(f"lvm.{program}", devices, "devices")
            todo = [d for d in wanted if (d in members) == (program == "vgreduce")]
            verb = program.removeprefix("vg")
            done = verb.removesuffix("e") + "ed"
            if not todo:
                return True, f"Volume group {name} already {done} (idempotent)"
            what = f"{program} {name} {' '.join(todo)}"
            return lv.made(
                opts, what, f"Volume group {name} {done} successfully", f"{verb} VG", [program, name, *todo]
            )

        return call

    def removing(lister: str, program: str, label: str, short: str) -> Callable[..., Any]:
        def call(*args: Any) -> tuple[bool, str]:
            (name, force), opts = split(args, 2)
            name = required(f"lvm.{short.lower()}_remove", name, "name")
            if not lv.exists(lister, name, opts):
                return True, f"{label} {name} does not exist (idempotent)"
            done = f"{label} {name} removed successfully"
            words = [program, *(["-f"] if force else []), name]
            return lv.made(opts, f"{program} {name}", done, f"remove {short}", words)

        return call

    def creating(label: str, build: Callable[[str, str, str], tuple[str, list[str]]]) -> Callable[..., Any]:
        def call(*args: Any) -> tuple[bool, str]:
            (a, b, size), opts = split(args, 3)
            a, b = required("lvm", a, "first argument"), required("lvm", b, "name")
            full, words = build(a, b, required("lvm", size, "size"))
            if lv.exists("lvs", full, opts):
                return True, f"{label} {full} already exists (idempotent)"
            return lv.made(
                opts,
                f"lvcreate {full}",
                f"{label} {b} created successfully",
                f"create {label.lower()}",
                words,
            )

        return call

    def vg_of(path: str) -> str:
        return path.removeprefix("/dev/").split("/")[0]

    def snapshot_merge(*args: Any) -> tuple[bool, str]:
        (path,), opts = split(args, 1)
        path = required("lvm.snapshot_merge", path, "snapshot")
        if not lv.exists("lvs", path, opts):
            return True, f"Snapshot {path} does not exist (already merged?)"
        return lv.made(
            opts,
            f"lvconvert --merge {path}",
            f"Snapshot {path} merged successfully",
            "merge snapshot",
            ["lvconvert", "--merge", path],
        )

    def scan(opts: Any = None) -> tuple[bool, str]:
        ok, out = lv.tool.output(["pvscan"], opts if isinstance(opts, dict) else {})
        return (True, out) if ok else (False, f"Failed to scan: {out}")

    def info(*args: Any) -> tuple[Any, Any]:
        (path,), opts = split(args, 1)
        path = required("lvm.info", path, "volume")
        program = (
            "pvdisplay"
            if re.match(r"^/dev/[^/]+$", path)
            else "vgdisplay"
            if "/" not in path
            else "lvdisplay"
        )
        ok, out = lv.tool.output([program, path], opts)
        return (out, None) if ok else (None, f"Failed to get info: {out}")

    def exists(kind: str) -> Callable[..., bool]:
        return lambda name=None, opts=None: lv.exists(kind, required("lvm", name, "name"), opts or {})

    listed = "--noheadings", "-o"
    return {
        "pv_create": pv(False),
        "pv_remove": pv(True),
        "pv_list": lambda o=None: lv.listing(
            ["pvs", *listed, "pv_name,vg_name,pv_size,pv_free"],
            ("name", "vg", "size", "free"),
            "PVs",
            o or {},
        ),
        "pv_exists": exists("pvs"),
        "vg_create": vg_create,
        "vg_remove": removing("vgs", "vgremove", "Volume group", "VG"),
        "vg_extend": vg_change("vgextend"),
        "vg_reduce": vg_change("vgreduce"),
        "vg_list": lambda o=None: lv.listing(
            ["vgs", *listed, "vg_name,pv_count,lv_count,vg_size,vg_free"],
            ("name", "pv_count", "lv_count", "size", "free"),
            "VGs",
            o or {},
        ),
        "vg_exists": exists("vgs"),
        "lv_create": creating(
            "Logical volume", lambda vg, n, s: (f"{vg}/{n}", ["lvcreate", "-n", n, "-L", s, vg])
        ),
        "lv_remove": removing("lvs", "lvremove", "Logical volume", "LV"),
        "lv_extend": lambda *a: lv.resize("lvextend", a, ""),
        "lv_reduce": lambda *a: lv.resize("lvreduce", a, "-f"),
        "lv_resize": lambda *a: lv.resize("lvresize", a, "-r"),
        "lv_list": lambda o=None: lv.listing(
            ["lvs", *listed, "lv_name,vg_name,lv_size,lv_attr,pool_lv"],
            ("name", "vg", "size", "attr", "pool"),
            "LVs",
            o or {},
        ),
        "lv_exists": exists("lvs"),
        "snapshot_create": creating(
            "Snapshot", lambda src, n, s: (f"{vg_of(src)}/{n}", ["lvcreate", "-s", "-n", n, "-L", s, src])
        ),
        "snapshot_merge": snapshot_merge,
        "thin_pool_create": creating(
            "Thin pool", lambda vg, n, s: (f"{vg}/{n}", ["lvcreate", "-T", "-L", s, "-n", n, vg])
        ),
        "thin_lv_create": creating(
            "Thin logical volume",
            lambda pool, n, s: (f"{vg_of(pool)}/{n}", ["lvcreate", "-V", s, "-T", pool, "-n", n]),
        ),
        "scan": scan,
        "info": info,
    }


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    functions = _functions(Lvm(sandbox, env))
    sandbox.set_module("lvm", functions, blocking=frozenset(functions))
