"""Accounts of a shared server: users and their roles, password hashes, sessions, API tokens, login failures.

Owns the ``users``, ``sessions``, ``api_tokens`` and ``login_failures`` tables (SQLite by default,
``data_dir()/accounts.sqlite``; PostgreSQL for a ``postgresql://`` URL) and the rules about them:
what each role may do (:mod:`.roles`), how a password is hashed (:mod:`.passwords`), how long a session
lives and when repeated login failures lock an account or an address (:mod:`.store`, :mod:`.lockout`).
It may import only the standard library, argon2-cffi, psycopg and ``layers.build.data_dir``: the web
app and the command line use it, never the other way round.
"""

from siting.accounts.lockout import LockedOut, Lockout
from siting.accounts.passwords import hash_password, password_problem, verify_password
from siting.accounts.roles import Permission, Role, permits, roles_for
from siting.accounts.store import AccountStore, Session, Token, User, open_store

__all__ = [
    "AccountStore", "LockedOut", "Lockout", "Permission", "Role", "Session", "Token", "User", "hash_password", "open_store",
    "password_problem", "permits", "roles_for", "verify_password",
]
