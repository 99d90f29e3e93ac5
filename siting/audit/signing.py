"""The audit log's signing key and its signed checkpoints (Certificate Transparency's signed tree heads).

A hash chain alone proves nothing against someone who can rewrite the whole file: they
re-hash it. So every record is also signed with an Ed25519 key kept outside the database
(``$SITING_AUDIT_KEY``, else ``audit-key.pem`` beside it, mode 0600), and after every record
a signed checkpoint (the chain heads and sizes) is appended to a separate file. Cutting rows
off the end, deleting or rewriting rows, or re-hashing the chain then disagrees with a
checkpoint or a signature. The public half is printed in every report, so a copy of the
checkpoints and a report are enough to check the log elsewhere.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_ENV = "SITING_AUDIT_KEY"
KEY_NAME = "audit-key.pem"
_TAIL_BYTES = 65_536


class AuditError(RuntimeError):
    """The audit log cannot be read or written; a check must not be reported unrecorded."""


def key_path(directory: Path) -> Path:
    """Where the signing key lives: ``$SITING_AUDIT_KEY``, else beside the audit database."""
    return Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else directory / KEY_NAME


def fingerprint(public_raw: bytes) -> str:
    """``SHA256:`` and the unpadded base64 of the public key's sha256, as ssh prints key fingerprints."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(public_raw).digest()).decode().rstrip("=")


def canonical(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class PublicKey:
    """The verifying half: what a report prints and what ``history --verify`` checks against."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._key = Ed25519PublicKey.from_public_bytes(raw)

    @classmethod
    def from_base64(cls, text: str) -> PublicKey:
        try:
            return cls(base64.b64decode(text.strip(), validate=True))
        except ValueError as error:
            raise AuditError(f"not an Ed25519 public key in base64: {text!r} ({error})") from error

    @property
    def base64(self) -> str:
        return base64.b64encode(self.raw).decode()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw)

    def verify(self, signature: str, data: bytes) -> bool:
        try:
            self._key.verify(base64.b64decode(signature, validate=True), data)
        except (InvalidSignature, ValueError):
            return False
        return True


class SigningKey:
    """The private key, read from (or created in) its file."""

    def __init__(self, private: Ed25519PrivateKey, path: Path) -> None:
        self._private = private
        self.path = path
        self.public = PublicKey(private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self._private.sign(data)).decode()

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        """Read the key; on first run create it (0600, never overwriting one another process made)."""
        if not path.exists():
            _create(path)
        try:
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as error:
            raise AuditError(f"cannot read the audit signing key {path}: {error}") from error
        if not isinstance(private, Ed25519PrivateKey):
            raise AuditError(f"the audit signing key {path} is not an Ed25519 key")
        return cls(private, path)


def _create(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    staging = path.with_name(f".{path.name}-{uuid.uuid4().hex}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(staging, path)  # fails if another process created the key first: keep theirs
        except FileExistsError:
            pass
    except OSError as error:
        raise AuditError(f"cannot create the audit signing key {path}: {error}") from error
    finally:
        staging.unlink(missing_ok=True)


def checkpoints_path(database: Path) -> Path:
    return database.with_name(database.stem + "-checkpoints.jsonl")


def signed_checkpoint(key: SigningKey, heads: dict, number: int) -> dict:
    """A checkpoint: its number, the UTC time, each chain's size (last seq) and head digest, signed."""
    body = {"n": number, "time": datetime.now(UTC).isoformat(timespec="seconds"), "key": key.public.fingerprint,
            **heads}
    return body | {"signature": key.sign(canonical(body))}


def checkpoint_signed_by(checkpoint: dict, public: PublicKey) -> bool:
    body = {k: v for k, v in checkpoint.items() if k != "signature"}
    return isinstance(checkpoint.get("signature"), str) and public.verify(checkpoint["signature"], canonical(body))


def _last_line(handle) -> dict | None:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - _TAIL_BYTES))
    lines = [line for line in handle.read().splitlines() if line.strip()]
    for line in reversed(lines):
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            return parsed
    return None


def append_checkpoint(path: Path, key: SigningKey, heads: Callable[[], dict]) -> None:
    """Append a checkpoint of the current heads unless the last one already covers them.

    Taken under an exclusive lock on the file and read after the caller's commit, so checkpoints
    only ever grow even when several processes write records at once.
    """
    try:
        with path.open("a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            last = _last_line(handle)
            now = heads()
            if last is not None and all(_size(last, chain) >= now[chain]["size"] for chain in now):
                return
            number = int(last.get("n", 0)) + 1 if last and isinstance(last.get("n"), int) else 1
            line = canonical(signed_checkpoint(key, now, number)) + b"\n"
            if os.write(handle.fileno(), line) != len(line):  # one write on an O_APPEND file: a kill cannot tear it
                raise OSError(f"short write of a checkpoint to {path}")
            os.fsync(handle.fileno())
    except OSError as error:
        raise AuditError(f"cannot write the audit checkpoints {path}: {error}") from error


def _size(checkpoint: dict, chain: str) -> int:
    entry = checkpoint.get(chain)
    return entry["size"] if isinstance(entry, dict) and isinstance(entry.get("size"), int) else -1
