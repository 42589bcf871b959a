"""`crypto`: hashes (hex), HMAC, base64/hex, UUIDs and random strings.

`md5 sha1 sha256 sha512 hash(alg, s)`, `hmac_sha256(key, msg)` / `hmac(alg, key, msg)`,
`base64_encode base64_decode hex_encode hex_decode`, `uuid`/`uuid_v4`, `random_string(n[,
charset])`, `generate_password(n[, special = true])`, `random_bytes(n)` (base64 text).
Decoding to bytes that are not UTF-8 still yields the exact bytes as a Lua string. Inputs are
Lua strings that are valid UTF-8 (the sandbox's boundary refuses other strings).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac as _hmac
import secrets
import string
import uuid
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv

ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
ALNUM = string.ascii_letters + string.digits
SPECIAL = "!@#$%^&*()_+-=[]{}|;:,.<>?"

# Bytes that are not UTF-8 cannot cross the boundary as text: they cross as hex and become a
# Lua string here.
_BYTES_LUA = """
local decode = ...
local char, tonumber_ = string.char, tonumber
return function(text)
  local value, hex, err = decode(text)
  if err ~= nil then error(err, 2) end
  if hex == nil then return value end
  return (hex:gsub("%x%x", function(h) return char(tonumber_(h, 16)) end))
end
"""


def _data(value: Any, what: str = "input") -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value).encode()
    raise ModuleError(f"crypto: {what} must be a string")


def _algorithm(name: Any) -> str:
    alg = str(name).lower().replace("-", "")
    if alg not in ALGORITHMS:
        raise ModuleError(f"crypto: unsupported hash algorithm {name!r}")
    return alg


def digest(alg: Any, value: Any) -> str:
    return hashlib.new(_algorithm(alg), _data(value)).hexdigest()


def hmac_hex(alg: Any, key: Any, message: Any) -> str:
    return _hmac.new(_data(key, "key"), _data(message, "message"), _algorithm(alg)).hexdigest()


Decoded = tuple[str | None, str | None, str | None]
"""(text, None, None) for UTF-8, (None, hex, None) for other bytes, (None, None, error)."""


def _as_text(raw: bytes) -> Decoded:
    try:
        return raw.decode("utf-8"), None, None
    except UnicodeDecodeError:
        return None, raw.hex(), None


def _b64decode(text: Any) -> Decoded:
    try:
        data = _data(text).strip()
        return _as_text(base64.b64decode(data + b"=" * (-len(data) % 4)))
    except (binascii.Error, ModuleError) as exc:
        return None, None, f"crypto.base64_decode: {exc}"


def _hexdecode(text: Any) -> Decoded:
    try:
        return _as_text(bytes.fromhex(_data(text).decode()))
    except (ValueError, ModuleError) as exc:
        return None, None, f"crypto.hex_decode: {exc}"


def _count(n: Any) -> int:
    count = int(n)
    if not 0 <= count <= 1_000_000:
        raise ModuleError(f"crypto: length {count} out of range")
    return count


def random_string(n: Any = 16, charset: Any = None) -> str:
    chars = str(charset) if charset else ALNUM
    return "".join(secrets.choice(chars) for _ in range(_count(n)))


def generate_password(n: Any = 16, special: Any = True) -> str:
    return random_string(n, ALNUM + SPECIAL if special is not False else ALNUM)


def _aes_key(key: Any) -> bytes:
    """A 32-byte key as is; any other key through SHA-256 (the original's derivation)."""
    raw = _data(key, "key")
    return raw if len(raw) == 32 else hashlib.sha256(raw).digest()


def aes_encrypt(key: Any, plaintext: Any) -> str:
    """AES-256-GCM: base64 of nonce (12 bytes) + ciphertext + tag. Authenticated, unlike the
    original's unauthenticated CFB, so texts encrypted by the original do not decrypt here."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_aes_key(key)).encrypt(nonce, _data(plaintext, "plaintext"), None)
    return base64.b64encode(nonce + sealed).decode()


def _aes_decrypt(key: Any, text: Any) -> Decoded:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.b64decode(_data(text, "ciphertext"), validate=True)
    except (binascii.Error, ValueError):
        return None, None, "crypto.aes_decrypt: the ciphertext is not base64"
    if len(raw) < 12 + 16:
        return None, None, "crypto.aes_decrypt: the ciphertext is too short"
    try:
        return _as_text(AESGCM(_aes_key(key)).decrypt(raw[:12], raw[12:], None))
    except InvalidTag:
        return None, None, "crypto.aes_decrypt: wrong key or the ciphertext was altered"


LENIENT_BYTES_LUA = """
local decode = ...
local char, tonumber_ = string.char, tonumber
return function(...)
  local value, hex, err = decode(...)
  if err ~= nil then return nil, err end
  if hex == nil then return value end
  return (hex:gsub("%x%x", function(h) return char(tonumber_(h, 16)) end))
end
"""


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    functions: dict[str, Any] = {
        name: (lambda alg: lambda value: digest(alg, value))(name) for name in ALGORITHMS
    }
    functions.update(
        {
            "hash": digest,
            "hmac": hmac_hex,
            "hmac_sha256": lambda key, msg: hmac_hex("sha256", key, msg),
            "hmac_sha1": lambda key, msg: hmac_hex("sha1", key, msg),
            "hmac_sha512": lambda key, msg: hmac_hex("sha512", key, msg),
            "base64_encode": lambda value: base64.b64encode(_data(value)).decode(),
            "hex_encode": lambda value: _data(value).hex(),
            "uuid": lambda: str(uuid.uuid4()),
            "uuid_v4": lambda: str(uuid.uuid4()),
            "random_string": random_string,
            "generate_password": generate_password,
            "aes_encrypt": aes_encrypt,
            "random_bytes": lambda n=16: base64.b64encode(secrets.token_bytes(_count(n))).decode(),
        }
    )
    module = sandbox.set_module("crypto", functions)
    for name, decode in (("base64_decode", _b64decode), ("hex_decode", _hexdecode)):
        module[name] = sandbox.run_lua(_BYTES_LUA, "crypto", sandbox.function(decode))
    module["aes_decrypt"] = sandbox.run_lua(LENIENT_BYTES_LUA, "crypto", sandbox.function(_aes_decrypt))
