#!/usr/bin/env bash
# Generate the protobuf and gRPC Python code of protos/sloth/v1/*.proto into sloth_daemon/gen/.
#
# Usage: scripts/gen_protos.sh [OUT_DIR]   (default: sloth_daemon/gen; tests pass a temp dir)
# Imports between generated modules are made package-qualified
# (`from sloth_daemon.gen.sloth.v1 import agent_pb2`), so the code works as a subpackage.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/sloth_daemon/gen}"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python=python3

cd "$root"
mkdir -p "$out/sloth/v1"
"$python" -m grpc_tools.protoc -I protos \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  protos/sloth/v1/*.proto
for f in "$out"/sloth/v1/*.py "$out"/sloth/v1/*.pyi; do
  sed -i -E 's/^from sloth\.v1 import /from sloth_daemon.gen.sloth.v1 import /' "$f"
done
for d in "$out" "$out/sloth" "$out/sloth/v1"; do
  [ -f "$d/__init__.py" ] || echo '"""Generated code: never edit by hand (scripts/gen_protos.sh)."""' > "$d/__init__.py"
done
