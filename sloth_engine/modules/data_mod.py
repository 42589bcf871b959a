"""`data`, `json`, `yaml`: encode Lua values as JSON/YAML and decode them back.

Tables whose keys are exactly 1..n encode as arrays, other tables (including the empty
table) as objects with string keys, sorted as Go does. Functions, NaN and infinity cannot be
encoded. JSON `null` decodes to nil (the key is absent in Lua).

Errors: `json_decode`/`json.decode`/`yaml_decode`/`yaml.decode` and all encoders raise a Lua
error naming the problem and its position. The original's `data.parse_json`/`parse_yaml`
keep its convention of returning `nil, "message"` instead. `data.to_json` is indented, as
the original's was.
"""

from __future__ import annotations

from sloth_engine.lua.sandbox import Sandbox
from sloth_engine.modules import ModuleEnv, data_more
from sloth_engine.modules.data_codecs import json_decode, json_encode, json_pretty, yaml_decode, yaml_encode
from sloth_engine.modules.options import lenient


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    table = sandbox.set_module(
        "data",
        {
            "json_encode": json_encode,
            "json_decode": json_decode,
            "json_pretty": json_pretty,
            "yaml_encode": yaml_encode,
            "yaml_decode": yaml_decode,
            "to_json": json_pretty,
            "to_yaml": yaml_encode,
            "parse_json": lenient(json_decode),
            "parse_yaml": lenient(yaml_decode),
        },
    )
    data_more.install(sandbox, table)
    sandbox.set_module("json", {"encode": json_encode, "decode": json_decode, "pretty": json_pretty})
    sandbox.set_module("yaml", {"encode": yaml_encode, "decode": yaml_decode})
