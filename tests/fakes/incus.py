"""A fake incus CLI over a JSON state file: instances, images, networks, profiles, storage
pools with volumes, snapshots and devices, enough for the module's looks and changes."""

INCUS = r"""
import json
path = os.path.join(STATE, "incus.json")
st = json.load(open(path)) if os.path.exists(path) else {
    "instances": {}, "images": [], "networks": {}, "profiles": {"default": {}}, "storage": {}}
a = sys.argv[1:]
def save():
    json.dump(st, open(path, "w"))
def fail(msg):
    sys.exit("Error: " + msg)
def opts(flag):
    return [a[i + 1] for i, w in enumerate(a) if w == flag]
inst = st["instances"]
if a[0] == "list":
    fmt = [w for w in a if w.startswith("--format=")][0].split("=")[1]
    names = [w for w in a[1:] if not w.startswith("-")]
    rows = [dict(name=n, **{k: v for k, v in i.items() if k in ("status", "profiles")})
            for n, i in inst.items() if not names or n.startswith(names[0])]
    print(json.dumps(rows) if fmt == "json" else "\n".join(r["name"] for r in rows))
elif a[0] in ("create", "launch"):
    image, name = a[1], a[2]
    inst[name] = {"status": "Running" if a[0] == "launch" else "Stopped", "profiles": opts("-p") or ["default"],
                  "config": opts("-c"), "devices": {}, "snapshots": [], "ephemeral": "--ephemeral" in a,
                  "disk": opts("-d")}
    save(); print(f"{a[0].capitalize()[:-1] if a[0] == 'create' else 'Launch'}ing instance {name}")
elif a[0] in ("start", "stop", "restart", "pause"):
    inst[a[1]]["status"] = {"start": "Running", "stop": "Stopped", "restart": "Running", "pause": "Frozen"}[a[0]]; save()
elif a[0] in ("copy", "move"):
    inst[a[2]] = json.loads(json.dumps(inst[a[1]]))
    if a[0] == "move":
        del inst[a[1]]
    save()
elif a[0] == "delete":
    if a[1] not in inst:
        fail("Instance not found")
    del inst[a[1]]; save()
elif a[0] == "info":
    if a[1] not in inst:
        fail("Instance not found")
    print(f"Name: {a[1]}\nStatus: {inst[a[1]]['status'].upper()}")
elif a[0] == "exec":
    print("ran in " + a[1] + ": " + a[-1] + (" as " + opts("--user")[0] if opts("--user") else ""))
elif a[:3] == ["config", "device", "show"]:
    for dev, conf in inst[a[3]]["devices"].items():
        print(f"{dev}:"); [print(f"  {k}: {v}") for k, v in conf.items()]
elif a[:3] == ["config", "device", "add"]:
    inst[a[3]]["devices"][a[4]] = dict(w.split("=", 1) for w in a[6:]) | {"type": a[5]}; save()
elif a[0] == "image":
    if a[1] == "info":
        a[2] in st["images"] or fail("Image not found")
        print(f"Fingerprint: 1234\nAliases: {a[2]}")
    elif a[1] == "copy":
        st["images"].append([w for w in a if w.startswith("--alias=")][0].split("=")[1]); save()
    elif a[1] == "export":
        open(a[3] + ".tar.gz", "w").write("image"); print("Image exported successfully!")
    elif a[1] == "refresh":
        print("Image already up to date.")
    elif a[1] == "delete":
        st["images"].remove(a[2]); save()
    elif a[1] == "list":
        print(json.dumps([{"aliases": [{"name": n}]} for n in st["images"]]))
elif a[0] in ("network", "profile", "storage") and a[1] in ("show", "list", "delete", "create"):
    table = st[{"network": "networks", "profile": "profiles", "storage": "storage"}[a[0]]]
    if a[1] == "list":
        print(json.dumps(sorted(table)))
    elif a[1] == "show":
        a[2] in table or fail(f"{a[0].capitalize()} not found")
        print(f"name: {a[2]}\nconfig: {json.dumps(table[a[2]])}")
    elif a[1] == "delete":
        del table[a[2]]; save()
    else:
        table[a[2]] = {"args": a[3:]}; save(); print(f"{a[0].capitalize()} {a[2]} created")
elif a[0] == "network":
    inst[a[3]]["devices"][a[4]] = {"network": a[2]} if a[1] == "attach" else None
    if a[1] == "detach":
        del inst[a[3]]["devices"][a[4]]
    save()
elif a[0] == "profile":
    if a[1] == "set":
        st["profiles"][a[2]].setdefault("set", []).append(" ".join(a[3:]))
    elif a[1] == "device":
        st["profiles"][a[3]].setdefault("devices", []).append(" ".join(a[4:]))
    elif a[1] == "add":
        inst[a[2]]["profiles"].append(a[3])
    elif a[1] == "copy":
        st["profiles"][a[3]] = dict(st["profiles"][a[2]])
    save()
elif a[:2] == ["storage", "volume"]:
    pool = st["storage"][a[3]]
    if a[2] == "show":
        a[4] in pool.setdefault("volumes", []) or fail("Storage volume not found")
    else:
        pool.setdefault("volumes", []).append(a[4]); save()
elif a[0] == "snapshot":
    snaps = inst[a[2]]["snapshots"]
    if a[1] == "list":
        print("\n".join(snaps))
    elif a[1] == "create":
        snaps.append(a[3])
    elif a[1] == "delete":
        snaps.remove(a[3])
    save()
else:
    fail("unknown command " + " ".join(a))
"""
