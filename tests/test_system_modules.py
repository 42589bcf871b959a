"""System modules of issue 17 (cron, sysctl) through a real sandbox, with `crontab` and
`sysctl` as fake executables first on PATH (they change the machine otherwise) and real files
for what the modules write themselves."""

from __future__ import annotations

import importlib
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from sloth_engine.lua.sandbox import Sandbox, TaskScope
from sloth_engine.modules import ModuleEnv

pytestmark = pytest.mark.timeout(30)

FAKES = {
    "crontab": """
echo "crontab $*" >> "$FAKE_LOG"
user=root
if [ "$1" = -u ]; then user=$2; shift 2; fi
if [ "$1" = -l ]; then
  if [ -f "$FAKE_STATE/crontab.$user" ]; then cat "$FAKE_STATE/crontab.$user"; exit 0; fi
  echo "no crontab for $user" >&2; exit 1
fi
cp "$1" "$FAKE_STATE/crontab.$user"
""",
    "sysctl": """
echo "sysctl $*" >> "$FAKE_LOG"
case "$1" in
  -n) if [ -f "$FAKE_STATE/sysctl.$2" ]; then cat "$FAKE_STATE/sysctl.$2"; exit 0; fi
      echo "sysctl: cannot stat /proc/sys/$2: No such file or directory" >&2; exit 255 ;;
  -w) name=${2%%=*}; printf '%s\\n' "${2#*=}" > "$FAKE_STATE/sysctl.$name"; echo "$2" | sed 's/=/ = /' ;;
  -a) for f in "$FAKE_STATE"/sysctl.*; do n=${f##*/sysctl.}; echo "$n = $(cat "$f")"; done | grep -- "${2:-.}" ;;
  -p) echo "applied ${2:-/etc/sysctl.conf}" ;;
  --system) echo "* Applying /etc/sysctl.d/99-sloth-runner.conf ..." ;;
esac
""",
}


class Lua:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.sandbox = Sandbox()
        self.sandbox.scope = TaskScope(task_name="t", workdir=str(root))
        self.env = ModuleEnv(base_dir=root)
        for name in ("cron", "sysctl", "time", "data"):
            importlib.import_module(f"sloth_engine.modules.{name}_mod").install(self.sandbox, self.env)

    def run(self, body: str) -> Any:
        fn = self.sandbox.run_lua("return function() " + body + "\nend", "test.sloth")
        result = self.sandbox.call(fn, deadline=time.monotonic() + 20)
        if isinstance(result, tuple):
            return tuple(self.sandbox.to_py(v, keep_functions=False) for v in result)
        return self.sandbox.to_py(result, keep_functions=False)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir, folder = tmp_path / "fakebin", tmp_path / "state"
    bin_dir.mkdir()
    folder.mkdir()
    for name, body in FAKES.items():
        script = bin_dir / name
        script.write_text("#!/bin/sh\n" + body)
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setenv("FAKE_STATE", str(folder))
    return folder


@pytest.fixture
def lua(tmp_path: Path, state: Path) -> Lua:
    work = tmp_path / "work"
    work.mkdir()
    return Lua(work)


def test_cron_jobs_added_changed_disabled_and_removed_idempotently(lua: Lua, state: Path) -> None:
    (state / "crontab.app").write_text("MAILTO=ops\n15 * * * * /usr/bin/other\n")
    job = '{ name = "backup", schedule = "0 3 * * *", command = "/opt/backup.sh", user = "app" }'
    assert lua.run(f"return cron.add({job})") == (True, "Cron job 'backup' added")
    assert lua.run(f"return cron.add({job})")[1].endswith("(idempotent)")
    assert (state / "crontab.app").read_text() == (
        "MAILTO=ops\n15 * * * * /usr/bin/other\n# SLOTH_NAME:backup\n0 3 * * * /opt/backup.sh\n"
    )
    changed = job.replace("0 3 * * *", "30 4 * * *")
    assert lua.run(f"return cron.add({changed})") == (True, "Cron job 'backup' updated")
    assert lua.run('return cron.disable({ name = "backup", user = "app" })') == (
        True,
        "Cron job 'backup' disabled",
    )
    assert "# 30 4 * * * /opt/backup.sh" in (state / "crontab.app").read_text()
    jobs, err = lua.run('return cron.list({ user = "app" })')
    assert err is None and jobs == [
        {
            "name": "backup",
            "schedule": "30 4 * * *",
            "command": "/opt/backup.sh",
            "user": "app",
            "enabled": False,
        }
    ]
    assert lua.run('return cron.enable({ name = "backup", user = "app" })')[0] is True
    assert lua.run(
        'return cron.exists({ name = "backup", user = "app" }), cron.exists({ name = "x", user = "app" })'
    ) == (
        True,
        False,
    )
    assert lua.run('return cron.enable({ name = "nope", user = "app" })') == (
        False,
        "Cron job 'nope' not found",
    )
    assert lua.run('return cron.remove({ name = "backup", user = "app" })') == (
        True,
        "Cron job 'backup' removed",
    )
    assert (state / "crontab.app").read_text() == "MAILTO=ops\n15 * * * * /usr/bin/other\n"
    assert lua.run('return cron.remove({ name = "backup", user = "app" })')[1].endswith("(idempotent)")
    # a user without a crontab yet, and bad input
    assert lua.run('return cron.add({ name = "r", schedule = "@daily", command = "true" })') == (
        True,
        "Cron job 'r' added",
    )
    assert lua.run('return cron.add({ name = "bad", schedule = "61 * * * *", command = "x" })')[0] is False
    assert lua.run('return cron.validate_schedule("*/5 * * * *")') == (True, "Valid cron schedule")
    ok, message = lua.run('return cron.validate_schedule("* * *")')
    assert ok is False and "expected 5 fields" in message


def test_cron_check_mode_writes_nothing(lua: Lua, state: Path) -> None:
    assert lua.run('return cron.add({ name = "c", schedule = "@hourly", command = "x", check = true })') == (
        True,
        "would change: Cron job 'c' added",
    )
    assert not (state / "crontab.root").exists()


def test_sysctl_get_set_persist_list_reload(lua: Lua, state: Path, tmp_path: Path) -> None:
    (state / "sysctl.net.ipv4.ip_forward").write_text("0\n")
    assert lua.run('return sysctl.get("net.ipv4.ip_forward")') == ("0", None)
    value, message = lua.run('return sysctl.get("no.such.key")')
    assert value is None and "cannot stat" in message
    assert lua.run('return sysctl.set("net.ipv4.ip_forward", true)') == (
        True,
        "Parameter net.ipv4.ip_forward set to 1",
    )
    assert lua.run('return sysctl.set("net.ipv4.ip_forward", 1)')[1].endswith("(idempotent)")
    conf = tmp_path / "sysctl.d" / "99-test.conf"
    assert lua.run(f'return sysctl.set_persistent("vm.swappiness", 10, "{conf}")') == (
        True,
        f"Parameter vm.swappiness added in {conf} and applied",
    )
    assert lua.run(f'return sysctl.set_persistent("vm.swappiness", 20, "{conf}")')[1].startswith(
        "Parameter vm.swappiness updated"
    )
    assert lua.run(f'return sysctl.set_persistent("vm.swappiness", 20, "{conf}")')[1].endswith("(idempotent)")
    assert conf.read_text() == "vm.swappiness = 20\n"
    assert lua.run('return sysctl.get("vm.swappiness")') == ("20", None)
    params, err = lua.run('return sysctl.list("vm")')
    assert err is None and params == [{"name": "vm.swappiness", "value": "20"}]
    assert lua.run('return sysctl.exists("vm.swappiness"), sysctl.exists("no.such")') == (True, False)
    assert lua.run(f'return sysctl.reload("{conf}")') == (True, f"applied {conf}")
    assert lua.run("return sysctl.apply()")[0] is True


# ---- reliability -----------------------------------------------------------------------------


@pytest.fixture
def rel(tmp_path: Path) -> Lua:
    harness = Lua(tmp_path)
    importlib.import_module("sloth_engine.modules.reliability_mod").install(harness.sandbox, harness.env)
    return harness


def test_retry_backs_off_and_gives_the_last_error(rel: Lua) -> None:
    started = time.monotonic()
    got = rel.run(
        """
        local calls, delays = 0, {}
        local v = reliability.retry_with_config(
          { max_attempts = 4, initial_delay = 0.05, multiplier = 2, jitter = false,
            strategy = reliability.strategy.EXPONENTIAL_BACKOFF,
            on_retry = function(n, d, err) delays[#delays + 1] = d end },
          function() calls = calls + 1; if calls < 3 then return nil, "not yet" end; return "ok" end)
        local none, err = reliability.retry(2, 0.01, function() error("boom") end)
        return v, calls, delays[1], delays[2], none, err
        """
    )
    assert got[:4] == ("ok", 3, 0.05, 0.1)
    assert got[4] is None and got[5].startswith("retry exhausted after 2 attempts") and "boom" in got[5]
    assert time.monotonic() - started >= 0.15  # it really waited between attempts


def test_circuit_breaker_opens_refuses_then_half_opens(rel: Lua) -> None:
    got = rel.run(
        """
        local changes = {}
        local cfg = { max_failures = 2, timeout = 0.2, success_threshold = 1,
                      on_state_change = function(from, to) changes[#changes + 1] = from .. ">" .. to end }
        local failing = function() return nil, "down" end
        reliability.circuit_breaker("api", cfg, failing)
        reliability.circuit_breaker("api", cfg, failing)
        local _, refused = reliability.circuit_breaker("api", cfg, function() return "never called" end)
        local open = reliability.get_circuit_stats("api")
        time.sleep(0.25)
        local value = reliability.circuit_breaker("api", cfg, function() return "back" end)
        local closed = reliability.get_circuit_stats("api")
        return refused, open.state, open.total_failures, value, closed.state, table.concat(changes, ","),
               table.concat(reliability.list_circuits(), ","), reliability.reset_circuit("api"),
               reliability.get_circuit_stats("nope")
        """
    )
    assert got == (
        "circuit breaker is open",
        "open",
        2,
        "back",
        "closed",
        "closed>open,open>half-open,half-open>closed",
        "api",
        True,
        None,
        "circuit breaker not found: nope",
    )


# ---- notifications ----------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Any:
    """A local HTTP server that records each request; /fail answers 500."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append({"path": self.path, "headers": dict(self.headers), "body": body.decode()})
            self.send_response(500 if self.path.startswith("/fail") else 200)
            self.end_headers()
            self.wfile.write(b"ok")

        do_PUT = do_POST

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_notifications_slack_ntfy_and_webhook(tmp_path: Path, receiver: Any) -> None:
    import json

    url, seen = receiver
    harness = Lua(tmp_path)
    importlib.import_module("sloth_engine.modules.notifications_mod").install(harness.sandbox, harness.env)
    got = harness.run(
        f"""
        return notifications.slack.send({{ webhook_url = "{url}/slack", message = "deploy failed",
                                          pipeline = "deploy", error_details = "exit 1" }}),
               notifications.ntfy.send({{ server = "{url}/", topic = "ops", message = "done", title = "deploy",
                                         priority = "high" }}),
               notifications.webhook.send({{ url = "{url}/hook", body = {{ status = "ok" }}, method = "put" }})
        """
    )
    assert got == (True, True, True)
    slack, ntfy, hook = seen
    assert slack["path"] == "/slack" and json.loads(slack["body"]) == {
        "text": "deploy failed",
        "attachments": [
            {"color": "danger", "text": "Pipeline: *deploy*\n```exit 1```", "mrkdwn_in": ["text"]}
        ],
    }
    assert ntfy["path"] == "/ops" and ntfy["body"] == "done"
    assert ntfy["headers"]["Title"] == "deploy" and ntfy["headers"]["Priority"] == "high"
    assert hook["path"] == "/hook" and json.loads(hook["body"]) == {"status": "ok"}
    ok, message = harness.run(f'return notifications.slack.send({{ webhook_url = "{url}/fail" }})')
    assert ok is False and "answered 500" in message
    ok, message = harness.run('return notifications.ntfy.send({ topic = "x" })')
    assert (ok, message) == (False, "ntfy server and topic are required")
    ok, message = harness.run('return notifications.webhook.send({ url = "http://127.0.0.1:1/x" })')
    assert ok is False and message.startswith("webhook:")


# ---- db ---------------------------------------------------------------------------------------

DB_WORKFLOW = """
local ok, name = db.connect(DRIVER, DSN, "main")
assert(ok, name)
db.exec("DROP TABLE IF EXISTS users", "main")
db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, note TEXT)", "main")
local res = db.exec("INSERT INTO users (id, name) VALUES (?, ?)", "main", 1, "ana")
db.exec("INSERT INTO users (id, name, note) VALUES ($1, $2, $3)", "main", 2, "O'Brien", "100%")
local q_ok, rows = db.query("SELECT id, name, note FROM users WHERE id >= ? ORDER BY id", "main", 1)
local t_ok = db.transaction(function(tx) tx:exec("INSERT INTO users (id, name) VALUES (3, 'cy')") return true end, "main")
local r_ok, r_err = db.transaction(function(tx) tx:exec("INSERT INTO users (id, name) VALUES (4, 'dd')") return false end, "main")
local e_ok, e_err = db.transaction(function(tx) error("boom") end, "main")
local tx = db.begin("main")
tx:exec("INSERT INTO users (id, name) VALUES (5, 'ee')")
db.rollback(tx)
local stmt = db.prepare("SELECT name FROM users WHERE id = ?", "main")
local _, one = stmt:query(3)
local _, count = db.query("SELECT COUNT(*) AS n FROM users", "main")
local bad, why = db.query("SELECT * FROM nowhere", "main")
local none, missing = db.query("SELECT 1", "other")
return db.rows_affected(res), q_ok, rows[2].name, rows[2].note, rows[1].note, t_ok, r_ok, r_err, e_ok,
       e_err:match("boom") ~= nil, one[1].name, count[1].n, bad, why ~= nil, none, missing,
       db.ping("main"), db.escape("O'Brien"), db.close("main")
"""


DB_EXPECTED = (
    1,
    True,
    "O'Brien",
    "100%",
    None,
    True,
    False,
    "transaction rolled back by user function",
    False,
    True,
    "cy",
    3,
    None,
    True,
    None,
    "connection not found: other",
    True,
    "O''Brien",
    True,
)


def _db_harness(tmp_path: Path) -> Lua:
    harness = Lua(tmp_path)
    importlib.import_module("sloth_engine.modules.db_mod").install(harness.sandbox, harness.env)
    return harness


def test_db_on_a_sqlite_file(tmp_path: Path) -> None:
    source = DB_WORKFLOW.replace("DRIVER", '"sqlite3"').replace("DSN", '"app.db"')
    assert _db_harness(tmp_path).run(source) == DB_EXPECTED
    assert (tmp_path / "app.db").exists()  # relative to the task's workdir


@pytest.mark.postgres
def test_db_on_the_postgresql_server(tmp_path: Path) -> None:
    import uuid

    from conftest import STORE_PG_URL, _store_pg_admin

    schema = f"sloth_dbmod_{uuid.uuid4().hex[:10]}"
    admin = _store_pg_admin()
    with admin.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{schema}"')
    try:
        source = DB_WORKFLOW.replace("DRIVER", '"postgres"').replace("DSN", f'"{STORE_PG_URL}"')
        assert _db_harness(tmp_path).run(source.replace("users", f"{schema}.users")) == DB_EXPECTED
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


# ---- terraform and pulumi (fake CLIs that record their calls) -------------------------------

FAKE_TERRAFORM = """#!/bin/sh
echo "terraform $*" >> "$FAKE_LOG"
case "$1" in
  init) echo "Terraform has been successfully initialized!" ;;
  plan) for w in "$@"; do case "$w" in -out=*) echo plan > "${w#-out=}" ;; esac; done; echo "Plan: 2 to add" ;;
  show) echo '{"resource_changes":[{"address":"aws_instance.web","change":{"actions":["create"]}},
        {"address":"aws_s3_bucket.b","change":{"actions":["delete","create"]}},
        {"address":"aws_iam_role.r","change":{"actions":["update"]}},
        {"address":"data.x.y","change":{"actions":["read"]}}]}' ;;
  apply|destroy) echo "$1 complete" ;;
  output) if [ -n "$3" ]; then echo '"10.0.0.1"'; else echo '{"ip":{"value":"10.0.0.1","type":"string"}}'; fi ;;
  validate) echo '{"valid":false,"error_count":1,"diagnostics":[{"summary":"Missing required argument"}]}'; exit 1 ;;
  fmt) echo "main.tf" ;;
esac
"""

FAKE_PULUMI = """#!/bin/sh
echo "pulumi $*" >> "$FAKE_LOG"
case "$1" in
  login) echo "Logged in to $2" ;;
  stack) case "$2" in select) [ -f "$FAKE_STATE/stack.$3" ] || { echo "no stack named $3" >&2; exit 255; } ;;
                      init) touch "$FAKE_STATE/stack.$3"; echo "Created stack $3" ;;
                      output) echo '{"url":"http://x","count":3}' ;; esac ;;
  preview) echo '{"steps":[],"changeSummary":{"create":2,"update":1,"same":4}}' ;;
  up|destroy|refresh) echo "$1 done" ;;
esac
"""


def test_terraform_client_and_pulumi_stack(tmp_path: Path, state: Path) -> None:
    bin_dir = Path(os.environ["PATH"].split(os.pathsep)[0])
    for name, body in (("terraform", FAKE_TERRAFORM), ("pulumi", FAKE_PULUMI)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "work" / "infra").mkdir(parents=True)
    harness = Lua(tmp_path / "work")
    importlib.import_module("sloth_engine.modules.terraform_mod").install(harness.sandbox, harness.env)
    got = harness.run(
        """
        local tf = terraform.init("infra")
        local plan = tf:plan({ vars = { region = "eu", count = 2 } })
        local applied = tf:apply({ auto_approve = true })
        local out, one = tf:output(), tf:output({ name = "ip" })
        local valid = tf:validate()
        tf:create_tfvars({ region = "eu", zones = { "a", "b" }, public = true })
        local logged, how = pulumi.login("file:///srv/state")
        local st = pulumi.stack("dev", { workdir = "infra" })
        local preview = st:preview()
        local up = st:up()
        return plan.success, plan.changes.add, plan.changes.change, plan.changes.destroy, #plan.changes.resources,
               applied.success, out.outputs.ip, one.value, valid.success, valid.valid, valid.diagnostics[1].summary,
               logged, preview.changes.add, preview.changes.same, up.success, st:outputs().outputs.count
        """
    )
    assert got == (
        True,
        2,
        1,
        1,
        3,
        True,
        "10.0.0.1",
        "10.0.0.1",
        False,
        False,
        "Missing required argument",
        True,
        2,
        4,
        True,
        3,
    )
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls[0] == "terraform init -input=false -no-color"
    assert calls[1].startswith("terraform plan -input=false -no-color -out=") and calls[1].endswith(
        "-var=count=2 -var=region=eu"
    )
    assert "terraform apply -input=false -no-color -auto-approve" in calls
    assert "pulumi stack init dev --non-interactive" in calls  # select failed: created
    assert (tmp_path / "work" / "infra" / "terraform.tfvars").read_text() == (
        'public = true\nregion = "eu"\nzones = ["a", "b"]\n'
    )
    assert not list((tmp_path / "work" / "infra").glob("*.tfplan"))  # the temporary plan is removed


# ---- kubernetes (a fake kubectl that records its calls) ----------------------------------------

FAKE_KUBECTL = """#!/bin/sh
echo "kubectl $*" >> "$FAKE_LOG"
case "$1" in
  apply) case "$*" in *"-f -"*) echo "stdin: $(cat | head -1)" ;; esac; echo "deployment.apps/web configured" ;;
  get) echo '{"kind":"List","items":[{"metadata":{"name":"web-1"}}]}' ;;
  describe) echo "Name: $3" ;;
  logs) echo "log line" ;;
  delete) [ "$3" = missing ] && { echo 'Error from server (NotFound): deployments "missing" not found' >&2; exit 1; }
          echo "$2 \\"$3\\" deleted" ;;
  *) echo "ok $1" ;;
esac
"""


def test_kubernetes_through_kubectl(tmp_path: Path, state: Path) -> None:
    bin_dir = Path(os.environ["PATH"].split(os.pathsep)[0])
    (bin_dir / "kubectl").write_text(FAKE_KUBECTL)
    (bin_dir / "kubectl").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    (work / "web.yaml").write_text("kind: Deployment\n")
    harness = Lua(work)
    importlib.import_module("sloth_engine.modules.kubernetes_mod").install(harness.sandbox, harness.env)
    got = harness.run(
        """
        local a_ok, a_out = kubernetes.apply("web.yaml", { namespace = "prod" })
        local s_ok, s_out = kubernetes.apply("kind: ConfigMap\\nmetadata: {}\\n", { dry_run = true })
        local pods = kubernetes.get_pods({ selector = "app=web", namespace = "prod" })
        local d_ok, d_err = kubernetes.delete("deployment", "missing")
        local sc_ok = kubernetes.scale("deployment", "web", 3, { context = "kind" })
        local lb_ok = kubernetes.label("pod", "web-1", "tier=front env=prod", { overwrite = true })
        local w_ok = kubernetes.wait_for_ready("pod", "web-1", { timeout = "30s" })
        local desc = kubernetes.describe("pod", "web-1")
        local history = kubernetes.rollout("undo", "deployment", "web", { revision = 2 })
        return a_ok, a_out:match("configured") ~= nil, s_ok, s_out:match("stdin: kind: ConfigMap") ~= nil,
               data.json_decode(pods).items[1].metadata.name, d_ok, d_err:match("NotFound") ~= nil, sc_ok, lb_ok,
               w_ok, desc, history
        """
    )
    assert got == (
        True,
        True,
        True,
        True,
        "web-1",
        False,
        True,
        True,
        True,
        True,
        "Name: web-1\n",
        "ok rollout\n",
    )
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls == [
        f"kubectl apply -f {work}/web.yaml -n prod",
        "kubectl apply --dry-run=client -f -",
        "kubectl get pods -o json -l app=web -n prod",
        "kubectl delete deployment missing",
        "kubectl scale deployment web --replicas=3 --context kind",
        "kubectl label pod web-1 tier=front env=prod --overwrite",
        "kubectl wait --for=condition=ready pod/web-1 --timeout=30s",
        "kubectl describe pod web-1",
        "kubectl rollout undo deployment/web --to-revision 2",
    ]


FAKE_HELM = """#!/bin/sh
echo "helm $*" >> "$FAKE_LOG"
case "$1" in
  repo) [ "$2" = add ] && case "$*" in *--password-stdin*) echo "password=$(cat)" >> "$FAKE_LOG" ;; esac; echo "repo $2 ok" ;;
  list) echo '[{"name":"web","status":"deployed","revision":"2"}]' ;;
  status) [ "$2" = ghost ] && { echo "Error: release: not found" >&2; exit 1; }; echo "STATUS: deployed" ;;
  create) mkdir -p "$2"; echo "Creating $2" ;;
  version) echo "v3.16.0" ;;
  *) echo "ok $1" ;;
esac
"""


def test_helm_through_its_cli(tmp_path: Path, state: Path) -> None:
    bin_dir = Path(os.environ["PATH"].split(os.pathsep)[0])
    (bin_dir / "helm").write_text(FAKE_HELM)
    (bin_dir / "helm").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    harness = Lua(work)
    importlib.import_module("sloth_engine.modules.helm_mod").install(harness.sandbox, harness.env)
    got = harness.run(
        """
        local r_ok = helm.repo_add("bitnami", "https://charts.example", { username = "u", password = "s3cret" })
        local i_ok, i_out = helm.install("web", "bitnami/nginx", { namespace = "prod", create_namespace = true,
                                         values = "replicas=2", wait = true, timeout = "5m" })
        local u_ok = helm.upgrade("web", "bitnami/nginx", { install = true, reuse_values = true, namespace = "prod" })
        local list = helm.list({ namespace = "prod", output = "json" })
        local none, why = helm.status("ghost")
        local c_ok = helm.create("mychart")
        local l_out = helm.lint("mychart", { strict = true })
        local v = helm.version({ short = true })
        local rb_ok = helm.rollback("web", 1, { wait = true })
        return r_ok, i_ok, i_out, u_ok, data.json_decode(list)[1].status, none, why, c_ok, l_out, v, rb_ok
        """
    )
    assert got == (
        True,
        True,
        "ok install\n",
        True,
        "deployed",
        None,
        "Error: release: not found",
        True,
        "ok lint\n",
        "v3.16.0\n",
        True,
    )
    assert (work / "mychart").is_dir()
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls[:2] == [
        "helm repo add bitnami https://charts.example --username u --password-stdin",
        "password=s3cret",
    ]
    assert (
        "helm install web bitnami/nginx --create-namespace --set replicas=2 --wait --timeout 5m --namespace prod"
        in calls
    )
    assert "helm upgrade web bitnami/nginx --install --reuse-values --namespace prod" in calls
    assert f"helm lint {work}/mychart --strict" in calls
    assert not any(
        "s3cret" in line for line in calls if line.startswith("helm ")
    )  # never on the command line


# ---- user (fake account tools over passwd/group files in the test's folder) --------------------

FAKE_ACCOUNTS = r'''#!/usr/bin/env python3
"""useradd, usermod, userdel, groupadd, groupdel, gpasswd, chpasswd, passwd, chage, id, getent,
runuser, lastlog and faillog, over $FAKE_STATE/passwd, group and shadow: one script, many names."""
import os, sys
state, tool, args = os.environ["FAKE_STATE"], os.path.basename(sys.argv[0]), sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join([tool, *args]) + "\n")
def rows(name):
    path = os.path.join(state, name)
    return [l.rstrip("\n").split(":") for l in open(path)] if os.path.exists(path) else []
def save(name, items):
    with open(os.path.join(state, name), "w") as f:
        f.writelines(":".join(r) + "\n" for r in items)
SWITCHES = {"-r", "-m", "-M", "-a", "-Gn"} | ({"-l", "-u", "-S"} if tool == "passwd" else set())
def opts(words):
    found, rest, i = {}, [], 0
    while i < len(words):
        if words[i].startswith("-") and words[i] not in SWITCHES:
            found[words[i]] = words[i + 1]; i += 2
        elif words[i].startswith("-"):
            found[words[i]] = True; i += 1
        else:
            rest.append(words[i]); i += 1
    return found, rest
users, groups = rows("passwd"), rows("group")
if tool == "getent":
    table = users if args[0] == "passwd" else groups
    hits = [r for r in table if len(args) == 1 or r[0] == args[1]]
    print("\n".join(":".join(r) for r in hits)); sys.exit(0 if hits else 2)
o, rest = opts(args)
name = rest[-1] if rest else ""
if tool == "useradd":
    uid = o.get("-u", str(1000 + len(users)))
    users.append([name, "x", uid, o.get("-g", uid), o.get("-c", ""), o.get("-d", "/home/" + name), o.get("-s", "/bin/sh")])
    for g in (o.get("-G") or "").split(","):
        for r in groups:
            if r[0] == g: r[3] = ",".join([m for m in r[3].split(",") if m] + [name])
    save("passwd", users); save("group", groups)
elif tool == "usermod":
    for r in users:
        if r[0] == name:
            for flag, field in (("-s", 6), ("-d", 5), ("-c", 4), ("-g", 3)):
                if flag in o: r[field] = o[flag]
    save("passwd", users)
elif tool == "userdel":
    save("passwd", [r for r in users if r[0] != name])
elif tool == "groupadd":
    groups.append([name, "x", o.get("-g", str(2000 + len(groups))), ""]); save("group", groups)
elif tool == "groupdel":
    save("group", [r for r in groups if r[0] != name])
elif tool == "gpasswd":
    user, group = rest[0], rest[1]
    for r in groups:
        if r[0] == group:
            members = [m for m in r[3].split(",") if m and m != user]
            r[3] = ",".join(members + ([user] if "-a" in o else []))
    save("group", groups)
elif tool == "chpasswd":
    line = sys.stdin.read().strip(); open(os.path.join(state, "shadow"), "a").write(line + "\n")
elif tool == "passwd":
    locked = os.path.join(state, "locked." + name)
    if "-l" in o: open(locked, "w").close()
    elif "-u" in o and os.path.exists(locked): os.unlink(locked)
    elif "-S" in o: print(name, "L" if os.path.exists(locked) else "P", "2026-12-04")
elif tool == "id":
    user = next(r for r in users if r[0] == name)
    print(" ".join([next((g[0] for g in groups if g[2] == user[3]), user[0])] + [g[0] for g in groups if name in g[3].split(",")]))
elif tool == "runuser":
    import subprocess; sys.exit(subprocess.call(args[args.index("--") + 1:]))
elif tool in ("lastlog", "faillog"):
    print("Username Port From Latest"); print(name + " **Never logged in**")
'''


def test_users_and_groups(tmp_path: Path, state: Path) -> None:
    bin_dir = Path(os.environ["PATH"].split(os.pathsep)[0])
    fake = bin_dir / "accounts-fake"
    fake.write_text(FAKE_ACCOUNTS)
    fake.chmod(0o755)
    tools = (
        "useradd",
        "usermod",
        "userdel",
        "groupadd",
        "groupdel",
        "gpasswd",
        "chpasswd",
        "passwd",
        "chage",
    )
    for tool in (*tools, "id", "getent", "runuser", "lastlog", "faillog"):
        (bin_dir / tool).symlink_to(fake)
    (state / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (state / "group").write_text("root:x:0:\ndocker:x:999:\n")
    harness = Lua(tmp_path)
    importlib.import_module("sloth_engine.modules.user_mod").install(harness.sandbox, harness.env)
    got = harness.run(
        """
        local c1 = user.create("app", { shell = "/bin/bash", comment = "App", groups = { "docker" } })
        local c2 = { user.create({ username = "app" }) }
        local info = user.get_info("app")
        local g_ok = user.group_create("deploy", { gid = 3000 })
        local a1 = user.add_to_group("app", "deploy")
        local a2 = { user.add_to_group("app", "deploy") }
        local groups = user.get_groups("app")
        local l1 = user.lock("app")
        local locked = user.is_locked("app")
        local s1 = user.set_shell("app", "/bin/zsh")
        local s2 = { user.set_shell("app", "/bin/zsh") }
        local pw = user.set_password("app", "s3cret")
        local members = user.group_members("deploy")
        local ran, out = user.run_as("app", "echo hi")
        local bad_ok, bad = user.validate_username("9lives")
        local d1 = user.delete("app")
        return c1, c2[2], info.shell, info.comment, g_ok, a1, a2[2], table.concat(groups, ","), l1, locked,
               s1, s2[2], pw, table.concat(members, ","), ran, out, bad_ok, bad, d1, user.exists("app"),
               user.exists("root"), user.get_uid("root"), user.is_system_user("root"), user.group_exists("deploy"),
               user.group_get_gid("deploy"), user.is_root()
        """
    )
    assert got == (
        True,
        "User app already exists (unchanged)",
        "/bin/bash",
        "App",
        True,
        True,
        "User app already in deploy (unchanged)",
        "app,docker,deploy",
        True,
        True,
        True,
        "Shell of app already /bin/zsh (unchanged)",
        True,
        "app",
        True,
        "hi",
        False,
        "Username must start with a letter or underscore",
        True,
        False,
        True,
        "0",
        True,
        True,
        "3000",
        os.geteuid() == 0,
    )
    assert "app:s3cret" in (state / "shadow").read_text()
    calls = (tmp_path / "calls.log").read_text()
    assert "s3cret" not in calls  # the password went on stdin
    assert "useradd -s /bin/bash -c App -G docker app" in calls
