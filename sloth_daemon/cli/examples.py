"""The `examples:` section of each command's `--help` (its epilog), kept beside each other here.

`add_examples(parser)` walks the parser tree and gives every command its examples; a command
without any is an error the help test (tests/test_cli_grammar.py) finds.
"""

from __future__ import annotations

import argparse
import textwrap

WIDTH = 88

EXAMPLES: dict[str, tuple[str, ...]] = {
    "version": ("sloth-daemon version", "sloth-daemon --version"),
    "completion": (
        "source <(sloth-daemon completion bash)",
        "sloth-daemon completion fish > ~/.config/fish/completions/sloth-daemon.fish",
    ),
    "run": (
        "sloth-daemon run deploy.sloth",
        "sloth-daemon run deploy.sloth -w build -p env=prod -o json > report.json",
        "sloth-daemon run deploy.sloth --check --diff",
        "sloth-daemon run deploy.sloth --master 10.0.0.5:50053 --detach",
    ),
    "workflow": ("sloth-daemon workflow validate deploy.sloth", "sloth-daemon workflow list ./flows"),
    "workflow validate": (
        "sloth-daemon workflow validate deploy.sloth",
        "sloth-daemon workflow validate deploy.sloth -o json",
    ),
    "workflow show": (
        "sloth-daemon workflow show deploy.sloth",
        "sloth-daemon workflow show deploy.sloth -w build -o json",
    ),
    "workflow list": (
        "sloth-daemon workflow list ./flows",
        "sloth-daemon workflow list --master 10.0.0.5:50053 -o json",
    ),
    "state": ("sloth-daemon state set release '\"v2\"'", "sloth-daemon state list --prefix app."),
    "state get": ("sloth-daemon state get release", "sloth-daemon state get release -o text"),
    "state set": (
        "sloth-daemon state set release v2",
        "sloth-daemon state set flags '{\"beta\": true}' --ttl 1h",
    ),
    "state delete": ("sloth-daemon state delete release", "sloth-daemon state delete release -n web"),
    "state list": ("sloth-daemon state list", "sloth-daemon state list --prefix app. -o json"),
    "state lock": (
        "sloth-daemon state lock deploy --ttl 5m",
        "sloth-daemon state lock deploy --ttl 5m --wait 30s -o json",
    ),
    "state unlock": ("sloth-daemon state unlock deploy", "sloth-daemon state unlock deploy --force"),
    "state locks": ("sloth-daemon state locks", "sloth-daemon state locks -o json"),
    "runs": ("sloth-daemon runs list", "sloth-daemon runs show last", "sloth-daemon runs logs 3fa2 --follow"),
    "runs list": (
        "sloth-daemon runs list",
        "sloth-daemon runs list --status failed --limit 5",
        "sloth-daemon runs list -w deploy -o json --master 10.0.0.5:50053",
    ),
    "runs show": ("sloth-daemon runs show last", "sloth-daemon runs show 3fa2 -o json"),
    "runs logs": (
        "sloth-daemon runs logs last",
        "sloth-daemon runs logs 3fa2 build",
        "sloth-daemon runs logs last --follow --master 10.0.0.5:50053",
    ),
    "runs cancel": (
        "sloth-daemon runs cancel last --master 10.0.0.5:50053",
        "sloth-daemon runs cancel 3fa2 --force   # end a run whose process is gone",
    ),
    "master": (
        "sloth-daemon master --listen 0.0.0.0:50053 --auth --tls-cert master.crt --tls-key master.key",
        "sloth-daemon master --ha --db postgresql://db/sloth --advertise 10.0.0.5:50053",
        "sloth-daemon master status --master 10.0.0.5:50053,10.0.0.6:50053 -o json",
    ),
    "agent": (
        "sloth-daemon agent --master 10.0.0.5:50053 --name web1 --tags role=web",
        "sloth-daemon agent list --master 10.0.0.5:50053",
        "sloth-daemon agent run deploy.sloth   # standalone mode",
    ),
    "agent list": ("sloth-daemon agent list", "sloth-daemon agent list -o json --master 10.0.0.5:50053"),
    "agent show": ("sloth-daemon agent show web1", "sloth-daemon agent show web1 -o json"),
    "agent metrics": ("sloth-daemon agent metrics web1", "sloth-daemon agent metrics web1 --watch -o json"),
    "agent modules": ("sloth-daemon agent modules web1", "sloth-daemon agent modules web1 -o json"),
    "agent exec": (
        "sloth-daemon agent exec web1 -- uptime",
        "sloth-daemon agent exec web1 --timeout 30s -- df -h",
    ),
    "agent stop": ("sloth-daemon agent stop web1 --master 10.0.0.5:50053",),
    "agent install": (
        "sloth-daemon agent install web1.example.com --ssh-user admin --master 10.0.0.5:50053",
        "sloth-daemon agent install 10.0.0.7 --ssh-user admin --name db1 --tags role=db --check",
    ),
    "agent update": ("sloth-daemon agent update web1 --master 10.0.0.5:50053",),
    "agent run": ("sloth-daemon agent run deploy.sloth", "sloth-daemon agent run deploy.sloth -o json"),
    "hook": (
        "sloth-daemon hook add notify -f notify.lua -e task.failed",
        "sloth-daemon hook logs --only-failed",
    ),
    "hook add": (
        "sloth-daemon hook add notify -f notify.lua -e task.failed",
        "sloth-daemon hook add audit -f audit.lua -e 'run.*' --stack prod --replace",
    ),
    "hook list": ("sloth-daemon hook list", "sloth-daemon hook list -o json"),
    "hook show": ("sloth-daemon hook show notify", "sloth-daemon hook show notify -o json"),
    "hook delete": ("sloth-daemon hook delete notify",),
    "hook enable": ("sloth-daemon hook enable notify",),
    "hook disable": ("sloth-daemon hook disable notify",),
    "hook test": (
        "sloth-daemon hook test notify",
        'sloth-daemon hook test notify --data \'{"task": "build"}\' -o json',
    ),
    "hook logs": ("sloth-daemon hook logs", "sloth-daemon hook logs notify --only-failed -o json"),
    "events": ("sloth-daemon events list --since 10m", "sloth-daemon events watch -t task."),
    "events list": (
        "sloth-daemon events list --since 10m",
        "sloth-daemon events list -t task.failed -o json",
    ),
    "events show": ("sloth-daemon events show 42", "sloth-daemon events show 42 -o text"),
    "events clear": ("sloth-daemon events clear --older-than 30d",),
    "events watch": ("sloth-daemon events watch", "sloth-daemon events watch -t 'task.*' -o json"),
    "secrets": ('printf %s "$PW" | sloth-daemon secrets set db_password', "sloth-daemon secrets list"),
    "secrets set": (
        'printf %s "$PW" | sloth-daemon secrets set db_password --stack prod',
        "sloth-daemon secrets set --from-yaml secrets.yaml",
    ),
    "secrets get": (
        "sloth-daemon secrets get db_password --stack prod",
        "sloth-daemon secrets get db_password -o json",
    ),
    "secrets list": ("sloth-daemon secrets list --stack prod", "sloth-daemon secrets list -o json"),
    "secrets delete": ("sloth-daemon secrets delete db_password --stack prod",),
    "scheduler": (
        "sloth-daemon scheduler add nightly --cron '0 2 * * *' -f backup.sloth",
        "sloth-daemon scheduler list",
    ),
    "scheduler add": (
        "sloth-daemon scheduler add nightly --cron '0 2 * * *' -f backup.sloth",
        "sloth-daemon scheduler add sync --cron '*/5 * * * *' -f sync.sloth --overlap queue",
    ),
    "scheduler list": ("sloth-daemon scheduler list", "sloth-daemon scheduler list -o json"),
    "scheduler delete": ("sloth-daemon scheduler delete nightly",),
    "scheduler enable": ("sloth-daemon scheduler enable nightly",),
    "scheduler disable": ("sloth-daemon scheduler disable nightly",),
    "scheduler run": (
        "sloth-daemon scheduler run nightly",
        "sloth-daemon scheduler run nightly --master 10.0.0.5:50053 -o json",
    ),
    "stack": (
        "sloth-daemon stack list",
        "sloth-daemon stack show web",
        "sloth-daemon stack drift detect web",
    ),
    "stack list": ("sloth-daemon stack list", "sloth-daemon stack list -o json"),
    "stack show": ("sloth-daemon stack show web", "sloth-daemon stack show web --all -o json"),
    "stack new": (
        "sloth-daemon stack new web -d 'the web tier' -f web.sloth",
        "sloth-daemon stack new app --depends-on web",
    ),
    "stack delete": (
        "sloth-daemon stack delete web",
        "sloth-daemon stack delete web --yes   # even if locked or in use",
    ),
    "stack history": ("sloth-daemon stack history web", "sloth-daemon stack history web --events -o json"),
    "stack export": ("sloth-daemon stack export web", "sloth-daemon stack export web -o yaml --out web.yaml"),
    "stack output": ("sloth-daemon stack output web", "sloth-daemon stack output web url -o json"),
    "stack validate": ("sloth-daemon stack validate web", "sloth-daemon stack validate all -o json"),
    "stack lock": (
        "sloth-daemon stack lock acquire web --reason 'maintenance'",
        "sloth-daemon stack lock status web",
    ),
    "stack lock acquire": (
        "sloth-daemon stack lock acquire web --reason maintenance --ttl 1h",
        "sloth-daemon stack lock acquire web -o json",
    ),
    "stack lock status": ("sloth-daemon stack lock status web", "sloth-daemon stack lock status web -o json"),
    "stack lock release": ("sloth-daemon stack lock release web",),
    "stack lock force-release": ("sloth-daemon stack lock force-release web --reason 'holder is gone'",),
    "stack snapshot": (
        "sloth-daemon stack snapshot create web",
        "sloth-daemon stack snapshot compare web v1 current",
    ),
    "stack snapshot create": ("sloth-daemon stack snapshot create web -d 'before the upgrade'",),
    "stack snapshot list": (
        "sloth-daemon stack snapshot list web",
        "sloth-daemon stack snapshot list web -o json",
    ),
    "stack snapshot show": (
        "sloth-daemon stack snapshot show web v2",
        "sloth-daemon stack snapshot show web 2 -o json",
    ),
    "stack snapshot restore": (
        "sloth-daemon stack snapshot restore web v1",
        "sloth-daemon stack snapshot restore web v1 --yes",
    ),
    "stack snapshot compare": (
        "sloth-daemon stack snapshot compare web v1 v2",
        "sloth-daemon stack snapshot compare web v1 current -o json",
    ),
    "stack snapshot delete": ("sloth-daemon stack snapshot delete web v1",),
    "stack drift": (
        "sloth-daemon stack drift detect web --exit-code",
        "sloth-daemon stack drift fix web --yes",
    ),
    "stack drift detect": (
        "sloth-daemon stack drift detect web",
        "sloth-daemon stack drift detect web --exit-code -o json",
    ),
    "stack drift show": (
        "sloth-daemon stack drift show web",
        "sloth-daemon stack drift show web --refresh -o json",
    ),
    "stack drift fix": (
        "sloth-daemon stack drift fix web --dry-run",
        "sloth-daemon stack drift fix web --yes",
    ),
    "stack deps": ("sloth-daemon stack deps add app web", "sloth-daemon stack deps order app web db"),
    "stack deps show": ("sloth-daemon stack deps show app", "sloth-daemon stack deps show app -o json"),
    "stack deps graph": (
        "sloth-daemon stack deps graph app",
        "sloth-daemon stack deps graph app -o dot | dot -Tsvg > deps.svg",
    ),
    "stack deps check": ("sloth-daemon stack deps check app",),
    "stack deps order": (
        "sloth-daemon stack deps order app web db",
        "sloth-daemon stack deps order app web -o json",
    ),
    "stack deps add": ("sloth-daemon stack deps add app web db",),
    "stack deps remove": ("sloth-daemon stack deps remove app db",),
    "sysadmin": ("sloth-daemon sysadmin health", "sloth-daemon sysadmin backup --out sloth.bak"),
    "sysadmin health": (
        "sloth-daemon sysadmin health",
        "sloth-daemon sysadmin health --master 10.0.0.5:50053 -o json",
    ),
    "sysadmin backup": (
        "sloth-daemon sysadmin backup --out sloth.bak",
        "sloth-daemon sysadmin backup --out sloth.bak -o json",
    ),
    "sysadmin restore": (
        "sloth-daemon sysadmin restore sloth.bak",
        "sloth-daemon sysadmin restore sloth.bak --yes",
    ),
    "sysadmin init-store": ("sloth-daemon sysadmin init-store --db postgresql://db/sloth",),
    "sysadmin logs": (
        "sloth-daemon sysadmin logs -n 100",
        "sloth-daemon sysadmin logs --follow --only output -o json",
    ),
    "token": ("sloth-daemon token create ci --role operator --expires 30d", "sloth-daemon token list"),
    "token create": (
        "sloth-daemon token create ci --role operator --expires 30d",
        "sloth-daemon token create web1 --role agent -o json",
    ),
    "token list": ("sloth-daemon token list", "sloth-daemon token list -o json"),
    "token revoke": ("sloth-daemon token revoke ci",),
    "token delete": ("sloth-daemon token delete agent/web1",),
    "certs": ("sloth-daemon certs init ./pki --host master.example.com",),
    "certs init": (
        "sloth-daemon certs init ./pki --host master.example.com --agent web1",
        "sloth-daemon certs init ./pki --yes   # replace",
    ),
}


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command under `parser` (groups too) with its space-joined name, depth first."""
    found: list[tuple[str, argparse.ArgumentParser]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                here = (*path, name)
                found.append((" ".join(here), child))
                found.extend(commands(child, here))
    return found


def add_examples(parser: argparse.ArgumentParser) -> None:
    for name, command in commands(parser):
        lines = EXAMPLES.get(name)
        if not lines:
            continue
        text = "examples:\n" + "\n".join(f"  {line}" for line in lines)
        command.epilog = f"{command.epilog}\n\n{text}" if command.epilog else text
        if command.description:  # the raw formatter keeps lines as they are: wrap it here
            command.description = textwrap.fill(" ".join(command.description.split()), WIDTH)
        command.formatter_class = argparse.RawDescriptionHelpFormatter
