"""Generated code: never edit by hand (scripts/gen_protos.sh)."""
