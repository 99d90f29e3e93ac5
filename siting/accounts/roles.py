"""The three roles of a shared server and what each may do.

A reviewer checks sites and decides on the checks they made (and, with ``siting serve --share-unit``,
their unit's); a data administrator imports, replaces and removes layers; an auditor reads all history
and verifies the hash chain. ``local`` is the single user of the desktop mode (no accounts, loopback
only), who may do everything, as before accounts existed.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ROLE_NAMES", "Permission", "Role", "parse_role", "permits", "roles_for"]


class Role(StrEnum):
    REVIEWER = "reviewer"
    DATA_ADMIN = "data-admin"
    AUDITOR = "auditor"
    LOCAL = "local"

    @property
    def label(self) -> str:
        return ROLE_NAMES[self]


ROLE_NAMES = {Role.REVIEWER: "审查人员", Role.DATA_ADMIN: "数据管理员", Role.AUDITOR: "审计员", Role.LOCAL: "本机用户"}
ACCOUNT_ROLES = (Role.REVIEWER, Role.DATA_ADMIN, Role.AUDITOR)


class Permission(StrEnum):
    READ_REFERENCE = "read-reference"  # rules, layers, industries, places, maps: what every role looks at
    CHECK = "check"  # run checks, record decisions, read and download one's own checks
    READ_ALL_HISTORY = "read-all-history"  # every check of every user
    VERIFY_CHAIN = "verify-chain"
    MANAGE_LAYERS = "manage-layers"


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.REVIEWER: frozenset({Permission.READ_REFERENCE, Permission.CHECK}),
    Role.DATA_ADMIN: frozenset({Permission.READ_REFERENCE, Permission.MANAGE_LAYERS}),
    Role.AUDITOR: frozenset({Permission.READ_REFERENCE, Permission.READ_ALL_HISTORY, Permission.VERIFY_CHAIN}),
    Role.LOCAL: frozenset(Permission),
}


def permits(role: str, permission: Permission) -> bool:
    """Whether ``role`` (a Role value) may do ``permission``; an unknown role may do nothing."""
    try:
        return permission in _GRANTS[Role(role)]
    except ValueError:
        return False


def roles_for(permission: Permission) -> list[Role]:
    """The account roles that may do ``permission`` (named in a 403 so the user knows whom to ask)."""
    return [role for role in ACCOUNT_ROLES if permission in _GRANTS[role]]


def parse_role(text: str) -> Role:
    """An account role from its name; ``local`` is not one (it is the desktop mode's, never stored)."""
    role = Role(text)
    if role not in ACCOUNT_ROLES:
        raise ValueError(text)
    return role
