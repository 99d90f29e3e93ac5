"""Login failures rate-limited per account and per address, so passwords cannot be guessed at speed.

``account_limit`` failures of one account within ``window_s`` lock that account, and ``address_limit``
failures from one address lock that address, until the oldest counted failure leaves the window. A locked
login is refused before the password is looked at, and the refusal is not counted (a lock ends on time).
The counts live in the account database, so every worker and every app server sees the same ones.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone

from siting.accounts.store import AccountStore

__all__ = ["ACCOUNT_LIMIT", "ADDRESS_LIMIT", "WINDOW_S", "LockedOut", "Lockout"]

ACCOUNT_LIMIT = 20
ADDRESS_LIMIT = 100
WINDOW_S = 15 * 60
_CST = timezone(timedelta(hours=8), "CST")


class LockedOut(Exception):
    """A login refused because of earlier failures: says whose, and when to try again."""

    def __init__(self, subject: str, value: str, until: float, limit: int) -> None:
        super().__init__(subject, value, until)
        self.subject = subject  # "account" or "address"
        self.value = value
        self.until = until
        self.limit = limit

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.until - time.time()))

    def messages(self) -> tuple[str, str]:
        when = datetime.fromtimestamp(self.until, _CST).strftime("%H:%M:%S")
        minutes = max(1, math.ceil(self.retry_after_s / 60))
        whom_zh = f"账户 {self.value}" if self.subject == "account" else f"地址 {self.value}"
        whom_en = f"account {self.value}" if self.subject == "account" else f"address {self.value}"
        return (f"{whom_zh} 在 {WINDOW_S // 60} 分钟内登录失败 {self.limit} 次，已暂时锁定；请于北京时间 {when}（约 {minutes} 分钟后）再试，"
                "或请管理员用 siting users passwd 重设密码。",
                f"{whom_en} failed to log in {self.limit} times within {WINDOW_S // 60} minutes and is locked for now; "
                f"try again after {when} Beijing time (in about {minutes} minutes), or ask an administrator to reset the password "
                "with siting users passwd.")


class Lockout:
    """The failure counts of one account store."""

    def __init__(self, store: AccountStore, account_limit: int = ACCOUNT_LIMIT, address_limit: int = ADDRESS_LIMIT,
                 window_s: float = WINDOW_S) -> None:
        self.store = store
        self.account_limit = account_limit
        self.address_limit = address_limit
        self.window_s = window_s

    def _keys(self, name: str, address: str) -> list[tuple[str, str, str, int]]:
        return [("account", name, f"account:{name}", self.account_limit), ("address", address, f"address:{address}", self.address_limit)]

    def check(self, name: str, address: str) -> None:
        """Raise LockedOut when the account or the address has failed too often lately."""
        now = time.time()
        for subject, value, key, limit in self._keys(name, address):
            recent = self.store.failures(key, now - self.window_s)
            if len(recent) >= limit:
                raise LockedOut(subject, value, recent[-limit] + self.window_s, limit)

    def failed(self, name: str, address: str) -> None:
        self.store.add_failure([key for _, _, key, _ in self._keys(name, address)], self.window_s)

    def succeeded(self, name: str) -> None:
        """A correct password clears the account's count (the address keeps its own)."""
        self.store.clear_failures(f"account:{name}")
