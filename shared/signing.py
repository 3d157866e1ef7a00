"""The identity provider's signing keys: Ed25519 private keys as PEM files in one directory.

The newest file signs; every file's public key is published in the JWKS, so a rotation
(`tongxin keys rotate`: a new key, the oldest beyond two removed) keeps tokens signed by
the previous key verifiable during the overlap. In the dev profile a first key is made on
first use (under var/), shared by the identity service and `tongxin token`; outside dev nothing is
made, and without the directory nothing can be signed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.settings import Settings

ALGORITHM = "EdDSA"
KEEP_KEYS = 2


class NoSigningKey(RuntimeError):
    """No private key to sign with (outside dev the key directory must be provided)."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """The RFC 7638 thumbprint of the public key (so a kid names exactly one key)."""
    canonical = f'{{"crv":"Ed25519","kty":"OKP","x":"{_b64(public_raw(key))}"}}'
    return _b64(hashlib.sha256(canonical.encode()).digest())[:22]


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64(public_raw(key)),
        "kid": key_id(key),
        "alg": ALGORITHM,
        "use": "sig",
    }


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey


def write_new_key(directory: Path) -> Path:
    """A new key file, named so that names sort by age; written whole or not at all."""
    directory.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    final = directory / f"key-{stamp}-{key_id(key.public_key())}.pem"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".new-")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    return final


def key_files(settings: Settings) -> list[Path]:
    if settings.jwt_keys_dir is None:
        raise NoSigningKey("TONGXIN_JWT_KEYS_DIR is not set / 未配置签名密钥")
    directory = Path(settings.jwt_keys_dir)
    files = sorted(directory.glob("key-*.pem")) if directory.is_dir() else []
    if not files and settings.profile == "dev":
        # Processes starting at once may each make one: all are published, the newest signs.
        write_new_key(directory)
        files = sorted(directory.glob("key-*.pem"))
    if not files:
        raise NoSigningKey(f"no signing key in {directory} / 没有签名密钥")
    return files


_loaded: dict[Path, tuple[float, SigningKey]] = {}


def _load(path: Path) -> SigningKey:
    mtime = path.stat().st_mtime
    cached = _loaded.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise NoSigningKey(f"{path} is not an Ed25519 private key / 密钥类型错误")
    key = SigningKey(key_id(private.public_key()), private)
    _loaded[path] = (mtime, key)
    return key


def signing_keys(settings: Settings) -> list[SigningKey]:
    """Oldest first; the last one signs."""
    return [_load(p) for p in key_files(settings)]


def current_key(settings: Settings) -> SigningKey:
    return signing_keys(settings)[-1]


def jwks(settings: Settings) -> dict[str, Any]:
    return {"keys": [public_jwk(k.private.public_key()) for k in signing_keys(settings)]}


def rotate(settings: Settings, keep: int = KEEP_KEYS) -> list[Path]:
    """A new signing key; the oldest beyond `keep` are removed. Returns the files kept."""
    if settings.jwt_keys_dir is None:
        raise NoSigningKey("TONGXIN_JWT_KEYS_DIR is not set / 未配置签名密钥")
    directory = Path(settings.jwt_keys_dir)
    write_new_key(directory)
    files = sorted(directory.glob("key-*.pem"))
    for old in files[:-keep]:
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
    return files[-keep:]
