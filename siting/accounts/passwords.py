"""Password hashing with argon2id (argon2-cffi's PasswordHasher, its RFC 9106 low-memory profile).

Only the encoded hash is ever stored; a password is never logged or written anywhere. Verifying an
unknown account still spends one hash computation, so the answer time does not say which names exist.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["MIN_PASSWORD_CHARS", "hash_password", "needs_rehash", "password_problem", "verify_password"]

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024
_HASHER = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4 (argon2-cffi's default profile)


@cache
def _unknown_account() -> str:
    """A hash no password matches, made on first use: hashing costs 64 MiB and every CLI start-up imports this."""
    return _HASHER.hash("no account has this password")


def password_problem(password: str) -> tuple[str, str] | None:
    """Why a new password is refused, in Chinese and English; None when it is acceptable."""
    if len(password) < MIN_PASSWORD_CHARS:
        return (f"密码至少 {MIN_PASSWORD_CHARS} 个字符。", f"a password needs at least {MIN_PASSWORD_CHARS} characters.")
    if len(password) > MAX_PASSWORD_CHARS:
        return (f"密码至多 {MAX_PASSWORD_CHARS} 个字符。", f"a password has at most {MAX_PASSWORD_CHARS} characters.")
    if password.strip() != password:
        return ("密码首尾不能是空白字符（多半是复制时带上的）。", "a password cannot begin or end with white space (usually a copying slip).")
    return None


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(encoded: str | None, password: str) -> bool:
    """Whether ``password`` matches ``encoded``; ``None`` (no such account) costs the same time and is False."""
    try:
        return _HASHER.verify(encoded or _unknown_account(), password) and encoded is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    """True when the hash was made with weaker parameters than today's: rehash at the next login."""
    return _HASHER.check_needs_rehash(encoded)
