"""`gitops`: a repository's folder kept applied to a target, with a diff first.

    local repo = gitops.register_repository{id = "infra", url = "https://...", branch = "main"}
    local id = gitops.create_workflow{id = "web", repository = repo, target_path = "k8s/web",
                                      namespace = "prod", context, auto_sync, rollback_on_failure}
        -- a Kubernetes target (kubectl); `destination = "/etc/app"` makes it a folder instead
    local ok, wf = gitops.workflow{repo = url, branch, path, destination | namespace, ...}
        -> true, {workflow_id, repository_id, status = "created", auto_sync, diff_preview, ...}
    local ok, diff = gitops.generate_diff(id)   -- also preview_changes(id)
        -> true, {workflow_id, generated_at, summary = {total_changes, created_resources,
           updated_resources, deleted_resources, conflict_count}, changes = {{type, resource,
           diff, impact}}, warnings}
    gitops.sync_workflow(id) -> true | false, message      gitops.rollback_workflow(id[, reason])
    gitops.get_workflow_status(id) -> true, {id, name, status, auto_sync, repository,
                                             last_sync_result = {id, status, start_time,
                                             commit_hash, message, metrics}}
    gitops.list_workflows() -> true, {{id, name, status, repository}}
    gitops.start_auto_sync({interval = "30s"}) / stop_auto_sync() -> true

The repository is cloned and fetched with git into `cache_dir`
(default ~/.cache/sloth-runner/gitops/<id>). Manifests are the folder's .yaml, .yml and .json
files: `kubectl diff` says what would change and `kubectl apply` applies (the `kubernetes`
module's kubectl); a folder target gets the files copied, with their diff, and files no longer
in the repository removed when `prune = true`. A sync applies only what differs; the commit it
applied is kept, so `rollback_workflow` applies the one before, and `rollback_on_failure`
does it when applying fails. In check mode a sync reports what would change and applies
nothing. Repositories and workflows are records of the run's store (namespace `gitops`).
Auto sync is a goroutine of the task: it checks the remote branch at each interval and syncs
the workflows with `auto_sync = true` whose commit moved, until stop_auto_sync() or the task ends.
"""

from __future__ import annotations

import datetime
import difflib
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import yaml

from sloth_engine.durations import parse_duration
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.atomic_write import read_bytes
from sloth_engine.modules.host_tool import Tool
from sloth_engine.modules.kubernetes_mod import Kubectl
from sloth_engine.modules.options import flag, table_or_empty
from sloth_engine.modules.records import Records

MANIFESTS = (".yaml", ".yml", ".json")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:8]}"


def resources(path: str) -> list[str]:
    """kind/name of each document of a manifest file (the file's name when it has none)."""
    try:
        with open(path) as handle:
            docs = [d for d in yaml.safe_load_all(handle) if isinstance(d, dict)]
    except (OSError, yaml.YAMLError):
        return [os.path.basename(path)]
    names = [f"{d.get('kind', '?')}/{(d.get('metadata') or {}).get('name', '?')}" for d in docs]
    return names or [os.path.basename(path)]


class GitOps:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox, self.env = sandbox, env
        self.kubectl = Kubectl(sandbox, env)
        self.tool = Tool(sandbox, env, "gitops")
        self.records = Records(env, "gitops")

    # ---- records ----------------------------------------------------------------------

    def register_repository(self, spec: Any) -> Any:
        opts = table_or_empty(spec)
        if not opts.get("url"):
            return None, "repository URL is required"
        repo_id = str(opts.get("id") or new_id("repo"))
        cache = opts.get("cache_dir") or os.path.join(
            os.path.expanduser("~/.cache/sloth-runner/gitops"), repo_id
        )
        self.records.put(
            f"repo/{repo_id}",
            {
                "id": repo_id,
                "url": str(opts["url"]),
                "branch": str(opts.get("branch") or "main"),
                "path": str(cache),
            },
        )
        return repo_id

    def create_workflow(self, spec: Any) -> Any:
        opts = table_or_empty(spec)
        repo_id = str(opts.get("repository") or "")
        if self.records.get(f"repo/{repo_id}") is None:
            return None, f"repository {repo_id!r} is not registered (gitops.register_repository)"
        wf_id = str(opts.get("id") or new_id("workflow"))
        keys = ("name", "namespace", "context", "destination")
        record: dict[str, Any] = {k: str(opts[k]) for k in keys if opts.get(k)}
        record |= {
            "id": wf_id,
            "repository": repo_id,
            "target_path": str(opts.get("target_path") or "."),
            "status": "active",
            "commits": [],
        }
        record |= {k: flag(opts, k) for k in ("auto_sync", "diff_preview", "rollback_on_failure", "prune")}
        record.setdefault("name", wf_id)
        self.records.put(f"workflow/{wf_id}", record)
        return wf_id

    def workflow(self, spec: Any) -> Any:
        opts = table_or_empty(spec)
        repo_id = self.register_repository({**opts, "url": opts.get("repo"), "id": opts.get("repository_id")})
        if isinstance(repo_id, tuple):
            return repo_id
        wf_id = self.create_workflow(
            {
                **opts,
                "repository": repo_id,
                "target_path": opts.get("path"),
                "name": opts.get("name") or "lua-generated-workflow",
            }
        )
        if isinstance(wf_id, tuple):
            return wf_id
        flags = {k: flag(opts, k) for k in ("auto_sync", "diff_preview", "rollback_on_failure")}
        return True, {"workflow_id": wf_id, "repository_id": repo_id, "status": "created", **flags}

    def load(self, wf_id: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        record = self.records.get(f"workflow/{wf_id}")
        if record is None:
            raise LookupError(f"workflow {wf_id} not found")
        return record, self.records.get(f"repo/{record['repository']}")

    # ---- the checkout and its manifests -------------------------------------------------

    def git(self, *words: str) -> str:
        done = self.tool.run(["git", *words])
        if done.exit_code != 0:
            raise ModuleError(
                f"gitops: `git {' '.join(words)}` failed: {(done.stderr or done.stdout).strip()}"
            )
        return done.stdout.strip()

    def checkout(self, repo: dict[str, Any], commit: str | None = None) -> str:
        """The repository's folder at the branch's head (or `commit`); its commit."""
        path, branch = repo["path"], repo["branch"]
        if not os.path.isdir(os.path.join(path, ".git")):
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            self.git("clone", "-q", "--branch", branch, repo["url"], path)
            ref = commit or "HEAD"
        else:
            self.git("-C", path, "fetch", "-q", "origin", branch)
            ref = commit or "FETCH_HEAD"
        self.git("-C", path, "checkout", "-q", "--detach", ref)
        return self.git("-C", path, "rev-parse", "HEAD")

    def files(self, wf: dict[str, Any], repo: dict[str, Any]) -> tuple[str, list[str]]:
        root = os.path.normpath(os.path.join(repo["path"], wf["target_path"]))
        if not os.path.isdir(root):
            raise LookupError(f"{wf['target_path']} is not a folder of {repo['url']}")
        found = []
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            found += [os.path.relpath(os.path.join(folder, n), root) for n in sorted(names)]
        if "destination" not in wf:
            found = [f for f in found if f.endswith(MANIFESTS)]
        return root, found

    def kube(self, wf: dict[str, Any]) -> dict[str, Any]:
        return {k: wf[k] for k in ("namespace", "context") if k in wf} | {"check": False}

    def changes(self, wf: dict[str, Any], repo: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        """What applying the checkout would change: [{type, resource, diff, impact, file}], warnings."""
        root, files = self.files(wf, repo)
        out: list[dict[str, Any]] = []
        warnings: list[str] = []
        if "destination" in wf:
            dest = wf["destination"]
            for rel in files:
                new, old = read_bytes(os.path.join(root, rel)) or b"", read_bytes(os.path.join(dest, rel))
                if new != old:
                    out.append(self.change("create" if old is None else "update", rel, old, new, rel))
            if wf.get("prune") and os.path.isdir(dest):
                for folder, _dirs, names in os.walk(dest):
                    for name in names:
                        rel = os.path.relpath(os.path.join(folder, name), dest)
                        if rel not in files:
                            out.append(
                                self.change("delete", rel, read_bytes(os.path.join(dest, rel)), b"", rel)
                            )
            return out, warnings
        for rel in files:
            path = os.path.join(root, rel)
            done = self.tool.run(["kubectl", "diff", "-f", path, *self.kube_words(wf)])
            if done.exit_code == 0:
                continue
            if done.exit_code != 1:
                warnings.append(f"{rel}: {(done.stderr or done.stdout).strip()}")
                continue
            for name in resources(path):
                kind, _, res = name.partition("/")
                there, _ = self.kubectl.run(["get", kind, res, "-o", "name"], self.kube(wf))
                out.append(
                    {
                        "type": "update" if there else "create",
                        "resource": name,
                        "diff": done.stdout,
                        "impact": "medium" if there else "low",
                        "file": rel,
                    }
                )
        return out, warnings

    @staticmethod
    def kube_words(wf: dict[str, Any]) -> list[str]:
        words = ["-n", wf["namespace"]] if wf.get("namespace") else []
        return words + (["--context", wf["context"]] if wf.get("context") else [])

    @staticmethod
    def change(kind: str, rel: str, old: bytes | None, new: bytes, file: str) -> dict[str, Any]:
        lines = difflib.unified_diff(
            (old or b"").decode("utf-8", "replace").splitlines(),
            new.decode("utf-8", "replace").splitlines(),
            f"{rel} (live)",
            f"{rel} (git)",
            lineterm="",
        )
        impact = {"create": "low", "update": "medium", "delete": "high"}[kind]
        return {
            "type": kind,
            "resource": f"File/{rel}",
            "diff": "\n".join(lines),
            "impact": impact,
            "file": file,
        }

    def apply(self, wf: dict[str, Any], repo: dict[str, Any], changes: list[dict[str, Any]]) -> int:
        root, _ = self.files(wf, repo)
        applied = 0
        for rel in dict.fromkeys(c["file"] for c in changes):
            kinds = {c["type"] for c in changes if c["file"] == rel}
            if "destination" in wf:
                target = os.path.join(wf["destination"], rel)
                if kinds == {"delete"}:
                    self.tool.noted(wf, f"remove {target}")
                    if not self.tool.check(wf):
                        os.unlink(target)
                else:
                    self.tool.write(wf, target, (read_bytes(os.path.join(root, rel)) or b"").decode())
            else:
                ok, out = self.tool.change(
                    wf,
                    f"apply {rel}",
                    ["kubectl", "apply", "-f", os.path.join(root, rel), *self.kube_words(wf)],
                )
                if not ok:
                    raise RuntimeError(out)
            applied += 1
        return applied

    # ---- sync, diff, rollback -------------------------------------------------------------

    def generate_diff(self, wf_id: Any) -> Any:
        try:
            wf, repo = self.load(wf_id)
            self.checkout(repo)
            changes, warnings = self.changes(wf, repo)
        except (LookupError, ModuleError) as exc:
            return None, str(exc)
        count = {
            kind: sum(1 for c in changes if c["type"] == kind) for kind in ("create", "update", "delete")
        }
        summary = {
            "total_changes": len(changes),
            "created_resources": count["create"],
            "updated_resources": count["update"],
            "deleted_resources": count["delete"],
            "conflict_count": 0,
        }
        listed = [{k: c[k] for k in ("type", "resource", "diff", "impact")} for c in changes]
        return True, {
            "workflow_id": wf["id"],
            "generated_at": now(),
            "summary": summary,
            "changes": listed,
            "warnings": warnings,
        }

    def sync_workflow(self, wf_id: Any, commit: str | None = None, reason: str = "") -> Any:
        try:
            wf, repo = self.load(wf_id)
        except LookupError as exc:
            return False, str(exc)
        started, start_time = time.monotonic(), now()
        result: dict[str, Any] = {
            "id": new_id("sync"),
            "start_time": start_time,
            "status": "failed",
            "commit_hash": "",
        }
        applied = total = 0
        try:
            head = self.checkout(repo, commit)
            result["commit_hash"] = head
            changes, warnings = self.changes(wf, repo)
            total = len(changes)
            applied = self.apply(wf, repo, changes)
            result.update(status="succeeded", message=reason or f"{applied} of {total} changes applied")
            if warnings:
                result["message"] += "; " + "; ".join(warnings)
            if not self.tool.check(wf) and (not wf["commits"] or wf["commits"][-1] != head):
                wf["commits"] = [*wf["commits"], head][-20:]
            wf["status"] = "synced"
        except (LookupError, ModuleError, RuntimeError) as exc:
            result["message"] = str(exc)
            wf["status"] = "failed"
            if wf.get("rollback_on_failure") and wf["commits"] and commit is None:
                back = wf["commits"][-1]
                self.checkout(repo, back)
                self.apply(wf, repo, self.changes(wf, repo)[0])
                result["message"] += f"; rolled back to {back[:12]}"
        result["metrics"] = {
            "duration": f"{time.monotonic() - started:.3f}s",
            "resources_processed": total,
            "resources_applied": applied,
        }
        wf["last_sync_result"] = result
        if not self.tool.check(wf):
            self.records.put(f"workflow/{wf['id']}", wf)
        return True if result["status"] == "succeeded" else (False, result["message"])

    def rollback_workflow(self, wf_id: Any, reason: Any = None) -> Any:
        try:
            wf, _repo = self.load(wf_id)
        except LookupError as exc:
            return False, str(exc)
        if len(wf["commits"]) < 2:
            return False, f"workflow {wf_id} has no earlier synced commit to roll back to"
        previous = wf["commits"][-2]
        wf["commits"] = wf["commits"][:-1]
        self.records.put(f"workflow/{wf['id']}", wf)
        return self.sync_workflow(
            wf_id, previous, f"rollback to {previous[:12]}: {reason or 'Manual rollback'}"
        )

    def get_workflow_status(self, wf_id: Any) -> Any:
        try:
            wf, _repo = self.load(wf_id)
        except LookupError as exc:
            return None, str(exc)
        keys = ("id", "name", "status", "auto_sync", "repository", "last_sync_result")
        return True, {k: wf[k] for k in keys if k in wf}

    def list_workflows(self) -> Any:
        rows = [self.records.get(k) for k in self.records.keys("workflow/")]
        return True, [{k: r[k] for k in ("id", "name", "status", "repository")} for r in rows if r]

    def auto_sync_once(self) -> list[str]:
        """Sync each auto_sync workflow whose branch moved; the ids synced."""
        synced = []
        for key in self.records.keys("workflow/"):
            wf = self.records.get(key)
            if not wf or not wf.get("auto_sync"):
                continue
            repo = self.records.get(f"repo/{wf['repository']}")
            done = self.tool.run(["git", "ls-remote", repo["url"], f"refs/heads/{repo['branch']}"])
            remote = done.stdout.split()[0] if done.exit_code == 0 and done.stdout.split() else ""
            if remote and (not wf["commits"] or wf["commits"][-1] != remote):
                self.sync_workflow(wf["id"])
                synced.append(wf["id"])
        return synced


_GLUE = r"""
local py, spawn, sleep = ...
local running = false
local M = {}
for name, fn in pairs(py) do if name ~= "auto_sync_once" and name ~= "interval" then M[name] = fn end end
function M.start_auto_sync(opts)
  if running then return true end
  running = true
  local every = py.interval(opts)
  spawn(function()
    while running do
      py.auto_sync_once()
      sleep(every * 1000)
    end
  end)
  return true
end
function M.stop_auto_sync() running = false return true end
return M
"""


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    g = GitOps(sandbox, env)

    def interval(opts: Any = None) -> float:
        return max(parse_duration(table_or_empty(opts).get("interval") or "30s"), 0.05)

    calls: dict[str, Callable[..., Any]] = {
        "workflow": g.workflow,
        "create_workflow": g.create_workflow,
        "sync_workflow": lambda wf_id=None: g.sync_workflow(wf_id),
        "get_workflow_status": g.get_workflow_status,
        "list_workflows": g.list_workflows,
        "register_repository": g.register_repository,
        "generate_diff": g.generate_diff,
        "preview_changes": g.generate_diff,
        "rollback_workflow": g.rollback_workflow,
        "auto_sync_once": g.auto_sync_once,
        "interval": interval,
    }
    py = sandbox.lua.table_from({k: sandbox.function(v, blocking=k != "interval") for k, v in calls.items()})
    goroutine = sandbox.globals()["goroutine"]
    sandbox.globals()["gitops"] = sandbox.run_lua(_GLUE, "gitops", py, goroutine["spawn"], goroutine["sleep"])
