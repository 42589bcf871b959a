"""gitops against a real git repository made by the test (a folder target with real files, and
a Kubernetes target through a fake kubectl first on PATH), and ai against an OpenAI-compatible
HTTP server started by the test."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from module_harness import Fakes, Lua

pytestmark = pytest.mark.timeout(240)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    """A bare repository (its file URL) and a working clone to push from."""
    bare, work = tmp_path / "origin.git", tmp_path / "src"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(tmp_path, "clone", "-q", str(bare), str(work))
    (work / "conf").mkdir()
    (work / "conf/app.conf").write_text("port = 80\n")
    (work / "conf/extra.txt").write_text("extra\n")
    (work / "k8s").mkdir()
    (work / "k8s/web.yaml").write_text(
        "kind: Deployment\nmetadata:\n  name: web\n---\nkind: Service\nmetadata:\n  name: web\n"
    )
    (work / "k8s/README.md").write_text("not a manifest\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "one")
    git(work, "push", "-q", "origin", "HEAD:main")
    return work, f"file://{bare}"


def push(work: Path, message: str, **files: str | None) -> str:
    for rel, text in files.items():
        path = work / rel.replace("__", "/")
        if text is None:
            path.unlink()
        else:
            path.write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)
    git(work, "push", "-q", "origin", "HEAD:main")
    return git(work, "rev-parse", "HEAD")


def test_gitops_folder_target_diff_sync_rollback(tmp_path: Path, repo: tuple[Path, str]) -> None:
    work, url = repo
    first = git(work, "rev-parse", "HEAD")
    dest = tmp_path / "etc-app"
    lua = Lua(tmp_path, ("goroutine", "gitops"))
    setup = (
        f'repo = "{url}", path = "conf", destination = "{dest}", prune = true, cache_dir = "{tmp_path}/cache"'
    )
    got = lua.run(
        f"""
        local ok, wf = gitops.workflow{{ {setup}, rollback_on_failure = true }}
        local _, diff = gitops.preview_changes(wf.workflow_id)
        local synced = gitops.sync_workflow(wf.workflow_id)
        local _, status = gitops.get_workflow_status(wf.workflow_id)
        local _, again = gitops.generate_diff(wf.workflow_id)
        workflow_id = wf.workflow_id
        return ok, wf.status, diff.summary.total_changes, diff.summary.created_resources, diff.changes[1].resource,
               diff.changes[1].diff:match("%+port = 80") ~= nil, synced, status.status,
               status.last_sync_result.commit_hash, status.last_sync_result.metrics.resources_applied,
               again.summary.total_changes
        """
    )
    assert got == (True, "created", 2, 2, "File/app.conf", True, True, "synced", first, 2, 0)
    assert (dest / "app.conf").read_text() == "port = 80\n" and (dest / "extra.txt").read_text() == "extra\n"
    second = push(work, "two", **{"conf__app.conf": "port = 8080\n", "conf__extra.txt": None})
    got = lua.run(
        """
        local _, diff = gitops.generate_diff(workflow_id)
        local kinds = {}
        for _, c in ipairs(diff.changes) do kinds[#kinds + 1] = c.type .. " " .. c.resource end
        local synced = gitops.sync_workflow(workflow_id)
        local _, s2 = gitops.get_workflow_status(workflow_id)
        local rolled = gitops.rollback_workflow(workflow_id, "bad port")
        local _, s3 = gitops.get_workflow_status(workflow_id)
        local _, list = gitops.list_workflows()
        local none, why = gitops.sync_workflow("nope")
        return table.concat(kinds, ","), diff.summary.deleted_resources, synced, s2.last_sync_result.commit_hash,
               rolled, s3.last_sync_result.commit_hash, s3.last_sync_result.message, #list, list[1].status, none, why
        """
    )
    assert got == (
        "update File/app.conf,delete File/extra.txt",
        1,
        True,
        second,
        True,
        first,
        f"rollback to {first[:12]}: bad port",
        1,
        "synced",
        False,
        "workflow nope not found",
    )
    assert (dest / "app.conf").read_text() == "port = 80\n" and (dest / "extra.txt").exists()


def test_gitops_check_mode_applies_nothing(tmp_path: Path, repo: tuple[Path, str]) -> None:
    _work, url = repo
    dest = tmp_path / "etc-app"
    lua = Lua(tmp_path, ("goroutine", "gitops"), check=True)
    got = lua.run(
        f"""
        local id = gitops.create_workflow{{ repository = gitops.register_repository{{ url = "{url}",
            cache_dir = "{tmp_path}/cache" }}, target_path = "conf", destination = "{dest}" }}
        return gitops.sync_workflow(id)
        """
    )
    assert got is True
    assert not dest.exists()
    assert lua.changes() == [
        f"would change: gitops {dest}/app.conf",
        f"would change: gitops {dest}/extra.txt",
    ]


FAKE_KUBECTL = """
name=$(basename "$3")
case "$1" in
  diff) [ -f "$FAKE_STATE/applied.$name" ] && cmp -s "$3" "$FAKE_STATE/applied.$name" && exit 0
        echo "+++ $3"; echo "+  replicas: 2"; exit 1 ;;
  get) [ -f "$FAKE_STATE/kind.$2.$3" ] && { echo "$2/$3"; exit 0; }
       echo "Error from server (NotFound): $2 \\"$3\\" not found" >&2; exit 1 ;;
  apply) cp "$3" "$FAKE_STATE/applied.$name"; touch "$FAKE_STATE/kind.Deployment.web"; echo "deployment.apps/web configured" ;;
esac
"""


def test_gitops_kubernetes_target_and_auto_sync(
    tmp_path: Path, repo: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    work, url = repo
    fakes = Fakes(tmp_path, monkeypatch)
    fakes.add("kubectl", FAKE_KUBECTL)
    lua = Lua(tmp_path, ("goroutine", "gitops"))
    got = lua.run(
        f"""
        local repo = gitops.register_repository{{ id = "infra", url = "{url}", cache_dir = "{tmp_path}/cache" }}
        local id = gitops.create_workflow{{ id = "web", name = "web app", repository = repo, target_path = "k8s",
                                          namespace = "prod", auto_sync = true }}
        local _, diff = gitops.generate_diff(id)
        local synced = gitops.sync_workflow(id)
        local _, again = gitops.generate_diff(id)
        return id, diff.summary.created_resources, diff.changes[1].resource, diff.changes[2].resource, synced,
               again.summary.total_changes
        """
    )
    assert got == ("web", 2, "Deployment/web", "Service/web", True, 0)
    cache = tmp_path / "cache"
    assert fakes.calls("kubectl apply") == [f"kubectl apply -f {cache}/k8s/web.yaml -n prod"]
    newest = push(
        work, "scale", **{"k8s__web.yaml": "kind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n"}
    )
    got = lua.run(
        """
        gitops.start_auto_sync({ interval = "50ms" })
        local seen
        for _ = 1, 400 do
          goroutine.sleep(50)
          local _, s = gitops.get_workflow_status("web")
          seen = s.last_sync_result.commit_hash
          if seen ~= nil and seen == expected then break end
        end
        gitops.stop_auto_sync()
        return seen
        """.replace("expected", f'"{newest}"')
    )
    assert got == newest
    assert len(fakes.calls("kubectl apply")) == 2


# ---- ai -----------------------------------------------------------------------------------------


@pytest.fixture
def llm() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An OpenAI-compatible chat completions endpoint answering from the prompt's first word."""
    seen: list[dict[str, Any]] = []
    answers = {
        "optimize": {
            "optimized_command": "make -j4",
            "confidence_score": 0.8,
            "expected_speedup": 3.5,
            "rationale": "parallel build",
            "optimizations": [{"type": "parallel", "description": "-j4", "impact": 0.7}],
            "resource_savings": {"cpu_time": 12},
        },
        "predict": {
            "failure_probability": 0.6,
            "confidence": 0.7,
            "risk_factors": [{"factor": "flaky network", "impact": 0.5, "description": "2 of 3 failed"}],
            "recommendations": ["add retries"],
        },
        "insights": {"insights": ["deploy fails on Mondays", "build is slow"]},
        "analyze": {"insights": ["cache the dependencies"]},
    }

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            if self.headers.get("Authorization") != "Bearer k-123":
                self.send_response(401)
                self.end_headers()
                self.wfile.write(b'{"error": {"message": "Incorrect API key provided"}}')
                return
            task = body["messages"][-1]["content"].split(":", 1)[0].split()[-1].lower()
            reply = {
                "choices": [
                    {
                        "message": {
                            "role": "assistant",
                            "content": "```json\n" + json.dumps(answers[task]) + "\n```",
                        }
                    }
                ]
            }
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()
    server.server_close()


def test_ai_records_history_and_asks_the_endpoint(
    tmp_path: Path, llm: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = llm
    for name in ("SLOTH_AI_URL", "SLOTH_AI_KEY", "OPENAI_API_KEY", "SLOTH_AI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    lua = Lua(tmp_path, ("ai",))
    got = lua.run(
        f"""
        local none, why = ai.optimize_command("make")
        ai.configure({{ url = "{url}", api_key = "k-123", model = "local-model", optimization_level = 7 }})
        local _, cfg = ai.get_config()
        for i, t in ipairs({{ "2s", "3s", "2s", "9s" }}) do
          ai.record_execution({{ task_name = "build", command = "make all", success = i ~= 4,
                                 execution_time = t, error_message = i == 4 and "disk full" or nil }})
        end
        ai.record_execution({{ task_name = "lint", command = "make lint", success = true, execution_time = "1s" }})
        local _, hist = ai.get_task_history("make all")
        local _, stats = ai.get_task_stats("build")
        local _, similar = ai.find_similar_tasks("make al", 5)
        local _, perf = ai.analyze_performance("make all")
        local _, opt = ai.optimize_command("make all", {{ cpus = 4 }})
        local _, pred = ai.predict_failure("build", "make all")
        local _, insights = ai.generate_insights()
        local nostats, nowhy = ai.get_task_stats("ghost")
        return none, why, cfg.model, cfg.has_api_key, cfg.api_key, cfg.optimization_level, #hist, hist[4].error_message,
               hist[1].execution_time, stats.total_runs, stats.failure_count, stats.success_rate, stats.avg_time,
               similar[1].command, perf.performance_trend, perf.insights[#perf.insights], perf.max_execution_time,
               opt.optimized_command, opt.expected_speedup, opt.optimizations[1].type, opt.resource_savings.cpu_time,
               pred.failure_probability, pred.risk_factors[1].factor, pred.recommendations[1], insights[2],
               nostats, nowhy
        """
    )
    assert got == (
        None,
        "ai: no endpoint configured (ai.configure{url = ..., api_key = ...} or $SLOTH_AI_URL)",
        "local-model",
        True,
        None,
        7,
        4,
        "disk full",
        "2s",
        4,
        1,
        0.75,
        "4s",
        "make all",
        "degrading",
        "cache the dependencies",
        "9s",
        "make -j4",
        3.5,
        "parallel",
        12,
        0.6,
        "flaky network",
        "add retries",
        "build is slow",
        None,
        "no executions recorded for task ghost",
    )
    asked = [s for s in seen if s["path"] == "/v1/chat/completions"]
    assert len(asked) == 4 and all(s["auth"] == "Bearer k-123" for s in asked)
    prompt = next(s for s in asked if s["body"]["messages"][-1]["content"].startswith("predict:"))
    assert (
        prompt["body"]["model"] == "local-model" and "disk full" in prompt["body"]["messages"][-1]["content"]
    )
    lua.run(f'ai.configure({{ url = "{url}", api_key = "wrong" }})')
    assert lua.run('return ai.optimize_command("ls")') == (
        None,
        f"ai: HTTP 401 from {url}: Incorrect API key provided",
    )
