"""`ai`: the original's task intelligence, answered by an OpenAI-compatible endpoint.

    ai.configure{url = "https://api.openai.com/v1", api_key = secrets.openai, model = "gpt-4o-mini",
                 timeout = "60s", enabled, learning_mode, optimization_level, failure_prediction,
                 auto_optimize} -> true
    ai.get_config() -> true, {enabled, learning_mode, optimization_level, failure_prediction,
                              auto_optimize, url, model, has_api_key}
    ai.record_execution{task_name, command, success, execution_time = "1.5s", error_message,
                        parameters} -> true
    ai.get_task_history(command) -> true, {{task_name, command, success, execution_time,
                                             timestamp, error_message}, ...}
    ai.get_task_stats(task_name) -> true, {task_name, total_runs, success_count, failure_count,
                                           success_rate, total_time, avg_time}
    ai.find_similar_tasks(command[, limit = 10]) -> true, {...}  (recorded commands most alike)
    ai.analyze_performance(command) -> true, {command, total_executions, avg/min/max_execution_time,
                                              success_rate, performance_trend, insights}
    ai.optimize_command(command[, options]) -> true, {original_command, optimized_command,
        confidence_score, expected_speedup, rationale, optimizations, resource_savings}
    ai.predict_failure(task_name, command) -> true, {task_name, command, failure_probability,
        confidence, risk_factors = {{factor, impact, description}}, recommendations}
    ai.generate_insights([options]) -> true, {text, ...}

optimize_command, predict_failure and generate_insights (and the insights of
analyze_performance) ask the model at `url`/chat/completions with the task's recorded history
(its failures and their messages: the model analyses why it fails) and read a JSON answer; they
return nil, message when no endpoint is configured, when it fails (its status and message) or
when the answer is not the JSON asked for. The endpoint comes from ai.configure or from
$SLOTH_AI_URL, $SLOTH_AI_KEY (or $OPENAI_API_KEY) and $SLOTH_AI_MODEL. The key is sent only as
the Authorization header and never shown. Executions are kept in the run's store (namespace
`ai`, the last 200 per command), so later runs learn from earlier ones.
"""

from __future__ import annotations

import datetime
import difflib
import hashlib
import json
import os
import re
from collections.abc import Callable
from typing import Any

from sloth_engine.durations import parse_duration
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.http_client import Request, send
from sloth_engine.modules.options import flag, table_or_empty
from sloth_engine.modules.records import Records

KEEP = 200
DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "learning_mode": "adaptive",
    "optimization_level": 5,
    "failure_prediction": True,
    "auto_optimize": False,
}
SYSTEM = (
    "You assist Sloth Runner, a task automation tool, with shell commands and task failures. "
    "Answer with one JSON object only, exactly in the shape asked for."
)
ASK = {
    "optimize": (
        'optimize: Suggest a faster, equivalent shell command. JSON: {"optimized_command": str, '
        '"confidence_score": 0..1, "expected_speedup": number, "rationale": str, "optimizations": '
        '[{"type": str, "description": str, "impact": 0..1}], "resource_savings": {name: number}}'
    ),
    "predict": (
        "predict: Estimate how likely this task fails next, from its recorded runs and errors. JSON: "
        '{"failure_probability": 0..1, "confidence": 0..1, "risk_factors": [{"factor": str, "impact": 0..1, '
        '"description": str}], "recommendations": [str]}'
    ),
    "insights": 'insights: Give advice on these task statistics. JSON: {"insights": [str]}',
    "analyze": 'analyze: Give advice on this command\'s performance. JSON: {"insights": [str]}',
}


def key_of(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def json_answer(text: str) -> dict[str, Any]:
    """The JSON object in a model's answer (fenced or not)."""
    match = re.search(r"\{.*\}", text, re.S)
    if match is None:
        raise ModuleError(f"ai: the model did not answer with JSON: {text[:200]}")
    try:
        found = json.loads(match.group(0))
    except ValueError as exc:
        raise ModuleError(f"ai: the model's JSON does not parse ({exc}): {text[:200]}") from None
    if not isinstance(found, dict):
        raise ModuleError("ai: the model's JSON is not an object")
    return found


def go_duration(seconds: float) -> str:
    """As Go prints a time.Duration, the original's format: 2s, 1.5s, 2m0s, 1h2m3s, 250ms."""
    if 0 < seconds < 1:
        return f"{seconds * 1000:.6f}".rstrip("0").rstrip(".") + "ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.9f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    return f"{int(minutes)}m{text}" if minutes else text


def seconds(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return parse_duration(value) if value else 0.0
    except ValueError:
        return 0.0


class Ai:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox = sandbox
        self.records = Records(env, "ai")
        self.config: dict[str, Any] = {
            **DEFAULTS,
            "url": os.environ.get("SLOTH_AI_URL", ""),
            "api_key": os.environ.get("SLOTH_AI_KEY") or os.environ.get("OPENAI_API_KEY", ""),
            "model": os.environ.get("SLOTH_AI_MODEL", "gpt-4o-mini"),
            "timeout": 60.0,
        }

    # ---- configuration ------------------------------------------------------------------

    def configure(self, spec: Any) -> bool:
        opts = table_or_empty(spec)
        for key in ("url", "api_key", "model", "learning_mode"):
            if opts.get(key):
                self.config[key] = str(opts[key])
        for key in ("enabled", "failure_prediction", "auto_optimize"):
            if key in opts:
                self.config[key] = flag(opts, key)
        if opts.get("optimization_level"):
            self.config["optimization_level"] = int(opts["optimization_level"])
        if opts.get("timeout"):
            self.config["timeout"] = seconds(opts["timeout"])
        return True

    def get_config(self) -> tuple[bool, dict[str, Any]]:
        shown = {k: v for k, v in self.config.items() if k not in ("api_key", "timeout")}
        return True, {**shown, "has_api_key": bool(self.config["api_key"])}

    def ask(self, task: str, facts: dict[str, Any]) -> dict[str, Any]:
        if not self.config["enabled"]:
            raise ModuleError("AI intelligence not available (ai.configure{enabled = false})")
        url = str(self.config["url"]).rstrip("/")
        if not url:
            raise ModuleError(
                "ai: no endpoint configured (ai.configure{url = ..., api_key = ...} or $SLOTH_AI_URL)"
            )
        body = {
            "model": self.config["model"],
            "temperature": 0.2,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": ASK[task] + "\n\n" + json.dumps(facts, default=str)},
            ],
        }
        headers = {"Content-Type": "application/json"}
        if self.config["api_key"]:
            headers["Authorization"] = f"Bearer {self.config['api_key']}"
        request = Request(
            f"{url}/chat/completions",
            "POST",
            json.dumps(body).encode(),
            headers,
            timeout=float(self.config["timeout"]),
        )
        answer = send(self.sandbox, request)
        data = answer.json()
        if not 200 <= answer.status_code < 300:
            said = (data or {}).get("error", {}) if isinstance(data, dict) else {}
            detail = said.get("message") if isinstance(said, dict) else None
            raise ModuleError(f"ai: HTTP {answer.status_code} from {url}: {detail or answer.body[:200]}")
        try:
            return json_answer(str(data["choices"][0]["message"]["content"]))
        except (KeyError, IndexError, TypeError):
            raise ModuleError(f"ai: not a chat completion answer from {url}: {answer.body[:200]}") from None

    # ---- recorded executions ------------------------------------------------------------

    def record_execution(self, spec: Any) -> Any:
        opts = table_or_empty(spec)
        if not opts.get("command") and not opts.get("task_name"):
            return False, "ai.record_execution: task_name or command is required"
        task, command = str(opts.get("task_name") or ""), str(opts.get("command") or "")
        run = {
            "task_name": task,
            "command": command,
            "success": flag(opts, "success"),
            "seconds": seconds(opts.get("execution_time")),
            "timestamp": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "error_message": str(opts.get("error_message") or ""),
            "parameters": table_or_empty(opts.get("parameters")),
        }
        for key in (f"command/{key_of(command)}", f"task/{key_of(task)}"):
            self.records.put(key, [*(self.records.get(key) or []), run][-KEEP:])
        return True

    @staticmethod
    def shown(run: dict[str, Any]) -> dict[str, Any]:
        out = {k: run[k] for k in ("task_name", "command", "success", "timestamp")}
        out["execution_time"] = go_duration(run["seconds"])
        if run.get("error_message"):
            out["error_message"] = run["error_message"]
        return out

    def history(self, command: str) -> list[dict[str, Any]]:
        return list(self.records.get(f"command/{key_of(command)}") or [])

    def get_task_history(self, command: Any = None) -> tuple[bool, list[dict[str, Any]]]:
        return True, [self.shown(r) for r in self.history(str(command or ""))]

    def get_task_stats(self, task_name: Any = None) -> Any:
        runs = list(self.records.get(f"task/{key_of(str(task_name or ''))}") or [])
        if not runs:
            return None, f"no executions recorded for task {task_name}"
        ok = sum(1 for r in runs if r["success"])
        total = sum(r["seconds"] for r in runs)
        return True, {
            "task_name": task_name,
            "total_runs": len(runs),
            "success_count": ok,
            "failure_count": len(runs) - ok,
            "success_rate": ok / len(runs),
            "total_time": go_duration(total),
            "avg_time": go_duration(total / len(runs)),
        }

    def find_similar_tasks(self, command: Any = None, limit: Any = 10) -> tuple[bool, list[dict[str, Any]]]:
        wanted = str(command or "")
        latest = {}
        for key in self.records.keys("command/"):
            runs = self.records.get(key) or []
            if runs and runs[-1]["command"] != wanted:
                latest[runs[-1]["command"]] = runs[-1]
        ranked = sorted(
            ((difflib.SequenceMatcher(None, wanted, c).ratio(), run) for c, run in latest.items()),
            key=lambda pair: -pair[0],
        )
        count = int(limit) if isinstance(limit, (int, float)) else 10
        return True, [
            self.shown(run) | {"similarity": round(score, 3)} for score, run in ranked[:count] if score >= 0.5
        ]

    def analyze_performance(self, command: Any = None) -> Any:
        runs = self.history(str(command or ""))
        if not runs:
            return {}
        times = [r["seconds"] for r in runs]
        average, rate = sum(times) / len(times), sum(1 for r in runs if r["success"]) / len(runs)
        trend = "stable"
        if len(runs) >= 4:
            older = sum(times[: len(times) // 2]) / (len(times) // 2)
            newer = sum(times[len(times) // 2 :]) / (len(times) - len(times) // 2)
            trend = "improving" if newer < older * 0.9 else "degrading" if newer > older * 1.1 else "stable"
        insights = []
        if rate < 0.8:
            insights.append("Consider adding error handling and retry logic")
        if max(times) > average * 3:
            insights.append("Execution time varies significantly - investigate outliers")
        if trend != "stable":
            insights.append(f"Performance is {trend} over time")
        if self.config["url"] and self.config["enabled"]:
            facts = {"command": command, "runs": [self.shown(r) for r in runs[-20:]]}
            try:
                insights += [str(i) for i in self.ask("analyze", facts).get("insights") or []]
            except ModuleError as exc:
                return None, str(exc)
        return True, {
            "command": command,
            "total_executions": len(runs),
            "avg_execution_time": go_duration(average),
            "min_execution_time": go_duration(min(times)),
            "max_execution_time": go_duration(max(times)),
            "success_rate": rate,
            "performance_trend": trend,
            "insights": insights,
        }

    # ---- asked of the model ---------------------------------------------------------------

    def optimize_command(self, command: Any = None, options: Any = None) -> Any:
        text = str(command or "")
        try:
            answer = self.ask(
                "optimize",
                {
                    "command": text,
                    "options": table_or_empty(options),
                    "optimization_level": self.config["optimization_level"],
                },
            )
        except ModuleError as exc:
            return None, str(exc)
        return True, {
            "original_command": text,
            "optimized_command": str(answer.get("optimized_command") or text),
            "confidence_score": float(answer.get("confidence_score") or 0),
            "expected_speedup": float(answer.get("expected_speedup") or 1),
            "rationale": str(answer.get("rationale") or ""),
            "optimizations": list(answer.get("optimizations") or []),
            "resource_savings": dict(answer.get("resource_savings") or {}),
        }

    def predict_failure(self, task_name: Any = None, command: Any = None) -> Any:
        runs = self.history(str(command or ""))[-30:]
        failures = [self.shown(r) for r in runs if not r["success"]]
        facts = {
            "task_name": task_name,
            "command": command,
            "recorded_runs": len(runs),
            "failed_runs": failures,
            "succeeded_runs": len(runs) - len(failures),
        }
        try:
            answer = self.ask("predict", facts)
        except ModuleError as exc:
            return None, str(exc)
        return True, {
            "task_name": task_name,
            "command": command,
            "failure_probability": float(answer.get("failure_probability") or 0),
            "confidence": float(answer.get("confidence") or 0),
            "risk_factors": list(answer.get("risk_factors") or []),
            "recommendations": [str(r) for r in answer.get("recommendations") or []],
        }

    def generate_insights(self, options: Any = None) -> Any:
        stats = []
        for key in self.records.keys("task/"):
            runs = self.records.get(key) or []
            if runs:
                ok = sum(1 for r in runs if r["success"])
                stats.append(
                    {
                        "task_name": runs[-1]["task_name"],
                        "runs": len(runs),
                        "succeeded": ok,
                        "last_error": next(
                            (r["error_message"] for r in reversed(runs) if r["error_message"]), ""
                        ),
                    }
                )
        try:
            answer = self.ask("insights", {"tasks": stats, "options": table_or_empty(options)})
        except ModuleError as exc:
            return None, str(exc)
        return True, [str(i) for i in answer.get("insights") or []]


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    ai = Ai(sandbox, env)
    functions: dict[str, Callable[..., Any]] = {
        name: getattr(ai, name)
        for name in (
            "optimize_command predict_failure find_similar_tasks get_task_history record_execution "
            "get_task_stats configure get_config analyze_performance generate_insights"
        ).split()
    }
    sandbox.set_module("ai", functions, blocking=frozenset(functions) - {"configure", "get_config"})
