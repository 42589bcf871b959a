"""One master started with --auth, and the CLI run two ways against it: locally on its store
(SLOTH_DB) and remotely (--master / $SLOTH_MASTER) from an empty SLOTH_HOME with no store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from distributed_cluster import Cluster

from sloth_engine.store.tokens import TokenStore

ROLES = ("viewer", "operator", "admin")
PASSPHRASE = "gateway test passphrase"


class GatewayCluster(Cluster):
    def env(self) -> dict[str, str]:
        env = super().env()
        env["SLOTH_SECRETS_PASSPHRASE"] = PASSPHRASE  # the master's key (and the local CLI's)
        return env


class Both:
    """`local(...)` on the master's store, `remote(...)` through the master as ROLE."""

    def __init__(self, cluster: GatewayCluster) -> None:
        self.cluster = cluster
        store = cluster.store()
        tokens = TokenStore(store.backend)
        self.token = {role: tokens.create(f"gw-{role}", role) for role in (*ROLES, "agent")}
        store.close()
        cluster.start_master("127.0.0.1:0", "--auth")
        self.empty = cluster.root / "empty-home"
        self.empty.mkdir()
        self.work = cluster.root / "client"
        self.work.mkdir()

    def local(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return self._run(self.cluster.env(), args, stdin)

    def remote(
        self, *args: str, role: str = "admin", stdin: str | None = None, flag: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """With `flag`: --master and --token on the command line (before the subcommand);
        else from $SLOTH_MASTER / $SLOTH_TOKEN."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLOTH_")}
        env.update(SLOTH_HOME=str(self.empty), PYTHONUNBUFFERED="1")
        if flag:
            args = ("--master", self.cluster.address, "--token", self.token[role], *args)
        else:
            env.update(SLOTH_MASTER=self.cluster.address, SLOTH_TOKEN=self.token[role])
        return self._run(env, args, stdin)

    def _run(
        self, env: dict[str, str], args: tuple[str, ...], stdin: str | None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sloth_daemon.cli.main", *args],
            env=env,
            cwd=self.work,
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            timeout=90,
        )

    def same(
        self, *args: str, role: str = "viewer", mask: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ARGS both ways: equal stdout, stderr and exit code; the remote result. `mask`: a
        pattern for figures that move between the two calls (free disk space), blanked first."""
        here, there = self.local(*args), self.remote(*args, role=role)

        def blank(text: str) -> str:
            return re.sub(mask, "<masked>", text) if mask else text

        assert (there.returncode, blank(there.stdout), blank(there.stderr)) == (
            here.returncode,
            blank(here.stdout),
            blank(here.stderr),
        ), (
            args,
            here,
            there,
        )
        return there

    def refused(self, *args: str, role: str = "viewer", stdin: str | None = None) -> None:
        done = self.remote(*args, role=role, stdin=stdin)
        assert done.returncode == 1, done
        assert "may not call" in done.stderr and f"(role {role})" in done.stderr, done.stderr

    def start_agent(self, name: str) -> None:
        ready = self.cluster.root / f"{name}.ready"
        args = ["agent", "--master", self.cluster.address, "--name", name, "--heartbeat", "0.3s"]
        args += ["--ready-file", str(ready), "--join-token", self.token["agent"]]
        proc = self.cluster._spawn(args, f"{name}.log")
        self.cluster._ready(ready, proc, f"agent {name}")

    def no_store_written(self) -> None:
        assert not any(self.empty.iterdir()), list(self.empty.iterdir())

    def write(self, name: str, text: str) -> Path:
        path = self.work / name
        path.write_text(text, encoding="utf-8")
        return path
