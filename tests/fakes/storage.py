"""Fake LVM programs and mdadm: one script (dispatching on its own name) over a JSON state
file under $FAKE_STATE, so what one call creates the next one finds."""

LVM = r"""
import json
path = os.path.join(STATE, "lvm.json")
st = json.load(open(path)) if os.path.exists(path) else {"pvs": {}, "vgs": {}, "lvs": {}}
prog, args = os.path.basename(sys.argv[0]), sys.argv[1:]
def save():
    json.dump(st, open(path, "w"))
def size(text, now=0):
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    sign, text = (1, text[1:]) if text[0] == "+" else (0, text)
    value = int(float(text[:-1]) * units[text[-1].lower()])
    return now + value if sign else value
def opt(flag):
    return args[args.index(flag) + 1] if flag in args else None
plain = [a for a in args if not a.startswith("-")]
if prog in ("pvs", "vgs", "lvs") and "--noheadings" in args:
    cols = opt("-o").split(",")
    if prog == "pvs":
        for dev, vg in st["pvs"].items():
            row = {"pv_name": dev, "vg_name": vg or "-", "pv_size": "10.00g", "pv_free": "10.00g"}
            print("  " + " ".join(row[c] for c in cols))
    elif prog == "vgs":
        for name, devs in st["vgs"].items():
            n = sum(1 for k in st["lvs"] if k.startswith(name + "/"))
            print(f"  {name} {len(devs)} {n} {10 * len(devs)}.00g 5.00g")
    elif cols == ["lv_size"]:
        print(f"  {st['lvs'][args[-1]]['size']}")
    else:
        for full, lv in st["lvs"].items():
            vg, name = full.split("/")
            print(f"  {name} {vg} {lv['size'] / 2**30:.2f}g {lv['attr']} {lv.get('pool', '')}".rstrip())
elif prog in ("pvs", "vgs", "lvs"):
    table = {"pvs": st["pvs"], "vgs": st["vgs"], "lvs": st["lvs"]}[prog]
    if plain and plain[0].removeprefix("/dev/") not in table and plain[0] not in table:
        sys.exit(f"  Failed to find {prog[:-1]} {plain[0]}")
elif prog == "pvcreate":
    st["pvs"][plain[0]] = ""; save(); print(f'  Physical volume "{plain[0]}" successfully created.')
elif prog == "pvremove":
    del st["pvs"][plain[0]]; save()
elif prog in ("vgcreate", "vgextend"):
    st["vgs"].setdefault(plain[0], []).extend(plain[1:])
    for d in plain[1:]:
        st["pvs"][d] = plain[0]
    save()
elif prog == "vgreduce":
    for d in plain[1:]:
        st["vgs"][plain[0]].remove(d); st["pvs"][d] = ""
    save()
elif prog == "vgremove":
    for d in st["vgs"].pop(plain[0]):
        st["pvs"][d] = ""
    save()
elif prog == "lvcreate":
    if "-s" in args:
        src = plain[-1]; full = src.split("/")[0] + "/" + opt("-n"); attr = "swi-a-s---"
    elif "-V" in args:
        full = opt("-T").split("/")[0] + "/" + opt("-n"); attr = "Vwi-a-tz--"
    elif "-T" in args:
        full = plain[-1] + "/" + opt("-n"); attr = "twi-a-tz--"
    else:
        full = plain[-1] + "/" + opt("-n"); attr = "-wi-a-----"
    st["lvs"][full] = {"size": size(opt("-V") or opt("-L")), "attr": attr}; save()
elif prog in ("lvextend", "lvreduce", "lvresize"):
    lv = st["lvs"][plain[-1]]; lv["size"] = size(opt("-L"), lv["size"]); save()
elif prog == "lvremove":
    del st["lvs"][plain[0]]; save()
elif prog == "lvconvert":
    del st["lvs"][plain[0]]; save(); print(f"  Merging of volume {plain[0]} started.")
elif prog == "pvscan":
    print("  Total: %d [0   ] / in use: 0 [0   ] / in no VG: 0 [0   ]" % len(st["pvs"]))
elif prog.endswith("display"):
    print(f"  --- {prog[:2].upper()} ---\n  Name {plain[0]}")
"""

MDADM = r"""
import json
path = os.path.join(STATE, "md.json")
st = json.load(open(path)) if os.path.exists(path) else {}
args = sys.argv[1:]
def save():
    json.dump(st, open(path, "w"))
def detail(name):
    a = st[name]
    print(f"{name}:\n        Version : 1.2\n     Raid Level : raid{a['level']}\n   Raid Devices : {a['n']}")
    print(f"          State : {a['state']}\n\n    Number   Major   Minor   RaidDevice State")
    for i, (dev, state) in enumerate(a["devices"].items()):
        print(f"       {i}       8       {16 * i}        {i}      {state}   {dev}")
if args[:2] == ["--detail", "--scan"]:
    for name in st:
        print(f"ARRAY {name} metadata=1.2 name=host:{name[-1]} UUID=0000{name[-1]}")
elif args[0] == "--detail":
    if args[1] not in st:
        sys.exit(f"mdadm: cannot open {args[1]}: No such file or directory")
    detail(args[1])
elif args[0] == "--create":
    level = [a for a in args if a.startswith("--level=")][0].split("=")[1]
    n = int([a for a in args if a.startswith("--raid-devices=")][0].split("=")[1])
    devs = [a for a in args[2:] if not a.startswith("-")]
    st[args[1]] = {"level": level, "n": n, "state": "clean",
                   "devices": {d: ("active sync" if i < n else "spare") for i, d in enumerate(devs)}}
    save(); print(f"mdadm: array {args[1]} started.")
elif args[0] == "--stop":
    del st[args[1]]; save(); print(f"mdadm: stopped {args[1]}")
elif args[0] == "--assemble":
    st[args[1]] = {"level": "1", "n": 2, "state": "clean", "devices": {}}; save()
elif args[0] == "--zero-superblock":
    pass
elif args[0] == "--grow":
    a = st[args[1]]
    for w in args[2:]:
        k, v = w.lstrip("-").split("=")
        if k == "raid-devices":
            a["n"] = int(v)
        if k == "level":
            a["level"] = v
    save()
else:
    array, flag, dev = args
    a = st[array]
    if flag == "--add":
        a["devices"][dev] = "active sync"
    elif flag == "--add-spare":
        a["devices"][dev] = "spare"
    elif flag == "--fail":
        a["devices"][dev] = "faulty"
    elif flag == "--remove":
        del a["devices"][dev]
    save(); print(f"mdadm: {flag[2:]} {dev}")
"""
