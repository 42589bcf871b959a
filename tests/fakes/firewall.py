"""Fake firewall programs (ufw, iptables, nft, firewall-cmd): each keeps its rules in a file
under $FAKE_STATE, so a rule added is found by the next check, as on a real host."""

UFW = r"""
args = sys.argv[1:]
path, on = os.path.join(STATE, "ufw.rules"), os.path.join(STATE, "ufw.on")
rules = open(path).read().splitlines() if os.path.exists(path) else []
def save():
    open(path, "w").write("".join(r + "\n" for r in rules))
if args[:2] == ["show", "added"]:
    print("Added user rules (see 'ufw status' for running firewall):")
    print("\n".join(rules) if rules else "(None)")
elif args[0] == "status":
    print("Status: active" if os.path.exists(on) else "Status: inactive")
    if args[1:] == ["numbered"]:
        print("\n".join(f"[{i}] {r}" for i, r in enumerate(rules, 1)))
elif args == ["--force", "enable"]:
    open(on, "w").close(); print("Firewall is active and enabled on system startup")
elif args == ["disable"]:
    os.remove(on); print("Firewall stopped and disabled on system startup")
elif args == ["--force", "reset"]:
    rules.clear(); save(); print("Resetting all rules to installed defaults.")
elif args[0] == "delete":
    target = "ufw " + " ".join(args[1:])
    rules = [r for r in rules if r.split(" comment ")[0] != target]; save(); print("Rule deleted")
elif args[0] in ("allow", "deny"):
    if "comment" in args:
        i = args.index("comment")
        line = "ufw " + " ".join(args[:i]) + f" comment '{args[i + 1]}'"
    else:
        line = "ufw " + " ".join(args)
    rules.append(line); save(); print("Rule added")
elif args == ["reload"]:
    print("Firewall reloaded")
else:
    sys.exit("ufw: unknown " + " ".join(args))
"""

IPTABLES = r"""
name = os.path.basename(sys.argv[0])
path = os.path.join(STATE, "iptables.rules")
rules = open(path).read().splitlines() if os.path.exists(path) else []
def save():
    open(path, "w").write("".join(r + "\n" for r in rules))
if name == "iptables-save":
    print("*filter"); print("\n".join("-A " + r for r in rules)); print("COMMIT"); sys.exit()
if name == "iptables-restore":
    rules = [l[3:] for l in sys.stdin.read().splitlines() if l.startswith("-A ")]; save(); sys.exit()
args = sys.argv[1:]
op, rule = args[0], " ".join(args[1:])
if op == "-C":
    sys.exit(0 if rule in rules else "iptables: Bad rule (does a matching rule exist in that chain?).")
elif op == "-A":
    rules.append(rule); save()
elif op == "-D":
    if rule not in rules:
        sys.exit("iptables: Bad rule (does a matching rule exist in that chain?).")
    rules.remove(rule); save()
elif op == "-F":
    rules.clear(); save()
elif op == "-L":
    print("Chain INPUT (policy ACCEPT)"); print("\n".join(rules))
"""

NFT = r"""
args = sys.argv[1:]
path = os.path.join(STATE, "nft.rules")
rules = [l.split(" ", 1) for l in open(path).read().splitlines()] if os.path.exists(path) else []
def save():
    open(path, "w").write("".join(f"{h} {r}\n" for h, r in rules))
def listing(handles):
    print("table inet filter {"); print("\tchain input {")
    print("\t\ttype filter hook input priority filter; policy accept;")
    for h, r in rules:
        print(f"\t\t{r}" + (f" # handle {h}" if handles else ""))
    print("\t}"); print("}")
words = " ".join(args).split()
if words[:5] == ["-a", "list", "chain", "inet", "filter"]:
    listing(True)
elif words[:2] == ["list", "ruleset"]:
    listing(False)
elif words[:3] in (["add", "table", "inet"], ["add", "chain", "inet"]):
    pass
elif words[:5] == ["add", "rule", "inet", "filter", "input"]:
    text = " ".join(args)[len("add rule inet filter input "):]
    rules.append((str(len(rules) + 4), text)); save()
elif words[:5] == ["delete", "rule", "inet", "filter", "input"] and words[5] == "handle":
    before = len(rules)
    rules = [(h, r) for h, r in rules if h != words[6]]
    if len(rules) == before:
        sys.exit("Error: Could not process rule: No such file or directory")
    save()
elif words == ["flush", "ruleset"]:
    rules.clear(); save()
elif words[0] == "-f":
    text = open(words[1]).read()
    rules = [(str(i + 4), l.strip()) for i, l in enumerate(text.splitlines()) if "accept" in l or "drop" in l]
    save()
else:
    sys.exit("nft: unknown " + " ".join(args))
"""

FIREWALL_CMD = r"""
args = sys.argv[1:]
path = os.path.join(STATE, "firewalld.json")
import json
data = json.load(open(path)) if os.path.exists(path) else {"ports": [], "rich": [], "running": False}
def save():
    json.dump(data, open(path, "w"))
def value(prefix):
    return next((a.split("=", 1)[1] for a in args if a.startswith(prefix)), None)
if args == ["--state"]:
    print("running" if data["running"] else "not running"); sys.exit(0 if data["running"] else 252)
if value("--query-port") is not None:
    sys.exit(0 if value("--query-port") in data["ports"] else 1)
if value("--query-rich-rule") is not None:
    sys.exit(0 if value("--query-rich-rule") in data["rich"] else 1)
for flag, key, add in (("--add-port", "ports", True), ("--remove-port", "ports", False),
                       ("--add-rich-rule", "rich", True), ("--remove-rich-rule", "rich", False)):
    if value(flag) is not None:
        (data[key].append if add else data[key].remove)(value(flag)); save(); print("success"); sys.exit()
if args in (["--reload"], ["--runtime-to-permanent"]):
    print("success")
elif args == ["--list-all"]:
    print("public (active)"); print("  ports: " + " ".join(data["ports"]))
    print("  rich rules:"); print("\n".join("\t" + r for r in data["rich"]))
else:
    sys.exit("firewall-cmd: unknown " + " ".join(args))
"""

SYSTEMCTL_FIREWALLD = r"""
import json
path = os.path.join(STATE, "firewalld.json")
data = json.load(open(path)) if os.path.exists(path) else {"ports": [], "rich": [], "running": False}
data["running"] = sys.argv[1] == "enable"
json.dump(data, open(path, "w"))
"""
