"""`siting users …`: the accounts of a shared server (add, list, disable, enable, passwd, token, revoke-token).

A password is read from the terminal without echo (getpass) or from standard input (``--password-stdin``,
for provisioning scripts), never from an option, which would land in the shell history and ``ps``.
An API token is printed once; only its hash is stored.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import datetime, timedelta, timezone

from siting.accounts import AccountStore, hash_password, open_store, password_problem
from siting.accounts.roles import ACCOUNT_ROLES, ROLE_NAMES, Role
from spatial.errors import InputError

_CST = timezone(timedelta(hours=8), "CST")
_MAX_NAME_CHARS = 64
_MAX_UNIT_CHARS = 100


def register(commands: argparse._SubParsersAction) -> None:
    users = commands.add_parser("users", help="账户与角色（多人共用的服务器）：添加、列出、停用、启用、改密码、API 令牌")
    actions = users.add_subparsers(dest="action", required=True, parser_class=type(users))
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument("--database", metavar="URL",
                          help="账户数据库：默认数据目录下的 accounts.sqlite；也可为 SQLite 文件路径或 postgresql://… 地址")
    password = argparse.ArgumentParser(add_help=False)
    password.add_argument("--password-stdin", action="store_true", help="从标准输入读取密码（一行），供部署脚本使用")
    add = actions.add_parser("add", parents=[database, password], help="添加账户（密码从终端输入，不回显）")
    add.add_argument("name", help="账户名（登录名）")
    add.add_argument("--role", required=True, choices=[role.value for role in ACCOUNT_ROLES],
                     help="reviewer 审查人员；data-admin 数据管理员（导入、替换、移除图层）；auditor 审计员（查阅全部记录、校验哈希链）")
    add.add_argument("--unit", default="", help="所在科室或单位（与 siting serve --share-unit 同用时，同单位的审查人员可查看彼此的审查）")
    listing = actions.add_parser("list", parents=[database], help="列出账户及其 API 令牌")
    listing.add_argument("--format", choices=["text", "json"], default="text")
    for name, text in (("disable", "停用账户（立即结束其全部会话，令牌失效）"), ("enable", "重新启用账户")):
        actions.add_parser(name, parents=[database], help=text).add_argument("name")
    actions.add_parser("passwd", parents=[database, password], help="重设密码（结束该账户的全部会话）").add_argument("name")
    token = actions.add_parser("token", parents=[database], help="为账户签发 API 令牌（只显示这一次；供脚本以 Authorization: Bearer 使用）")
    token.add_argument("name")
    token.add_argument("--label", default="", help="令牌用途说明，如“批量核查脚本”")
    actions.add_parser("revoke-token", parents=[database], help="吊销 API 令牌（按 users list 中的令牌编号）").add_argument("id")


def run(args: argparse.Namespace) -> int:
    store = open_store(args.database)
    try:
        actions = {"add": _add, "list": _list, "disable": _disable, "enable": _enable, "passwd": _passwd, "token": _token,
                   "revoke-token": _revoke}
        return actions[args.action](store, args)
    finally:
        store.close()


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = getpass.getpass("密码 Password: ")
            again = getpass.getpass("再次输入 Again: ")
        except EOFError:
            raise InputError("password", None, "没有终端可输入密码；脚本请用 --password-stdin 从标准输入给出。",
                             "no terminal to read the password from; scripts give it on standard input with --password-stdin.") from None
        if password != again:
            raise InputError("password", None, "两次输入的密码不一致，未作改动。", "the two passwords differ; nothing was changed.")
    problem = password_problem(password)
    if problem is not None:
        raise InputError("password", "（不显示）", *problem)
    return password


def _known(store: AccountStore, name: str) -> None:
    if store.user(name) is None:
        raise InputError("name", name, "没有该账户；用 siting users list 查看。", "no such account; see siting users list.")


def _add(store: AccountStore, args: argparse.Namespace) -> int:
    name, unit = args.name.strip(), args.unit.strip()
    if not name or len(name) > _MAX_NAME_CHARS or any(not c.isprintable() or c.isspace() for c in name):
        raise InputError("name", args.name, f"账户名应为 1–{_MAX_NAME_CHARS} 个可见字符，不含空格。",
                         f"an account name has 1..{_MAX_NAME_CHARS} visible characters and no spaces.")
    if len(unit) > _MAX_UNIT_CHARS or not unit.isprintable():
        raise InputError("--unit", args.unit, f"单位名称至多 {_MAX_UNIT_CHARS} 个可见字符。", f"a unit name has at most {_MAX_UNIT_CHARS} visible characters.")
    if store.user(name) is not None:
        raise InputError("name", name, "该账户已存在；改密码用 siting users passwd。", "the account exists; change its password with siting users passwd.")
    if not store.add_user(name, args.role, unit, hash_password(_read_password(args))):
        raise InputError("name", name, "该账户已存在。", "the account exists.")
    print(f"已添加账户 {name}（{ROLE_NAMES[Role(args.role)]} {args.role}{'，' + unit if unit else ''}），账户库 {store.describe()}")
    return 0


def _shown(moment: float | None) -> str:
    return datetime.fromtimestamp(moment, _CST).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _list(store: AccountStore, args: argparse.Namespace) -> int:
    users = store.users()
    tokens = store.tokens()
    if args.format == "json":
        print(json.dumps({"database": store.describe(), "users": [u.to_dict() for u in users],
                          "tokens": [{"id": t.id, "user": t.user, "label": t.label, "revoked": t.revoked,
                                      "created_at": _shown(t.created_at), "last_used": _shown(t.last_used)} for t in tokens]},
                         ensure_ascii=False, indent=2))
        return 0
    if not users:
        print(f"账户库 {store.describe()} 中还没有账户：用 siting users add NAME --role reviewer 添加。")
    for user in users:
        state = "启用" if user.enabled else "已停用"
        print(f"{user.name:<20} {user.role:<11} {ROLE_NAMES[Role(user.role)]:<6} {state:<4} {user.unit}")
        for token in (t for t in tokens if t.user == user.name):
            status = "已吊销" if token.revoked else f"最近使用 {_shown(token.last_used)}"
            print(f"    令牌 {token.id}  {token.label or '（无说明）'}  签发于 {_shown(token.created_at)}  {status}")
    return 0


def _disable(store: AccountStore, args: argparse.Namespace) -> int:
    _known(store, args.name)
    store.set_enabled(args.name, False)
    print(f"已停用账户 {args.name}：其会话已结束，API 令牌不再有效。")
    return 0


def _enable(store: AccountStore, args: argparse.Namespace) -> int:
    _known(store, args.name)
    store.set_enabled(args.name, True)
    print(f"已启用账户 {args.name}。")
    return 0


def _passwd(store: AccountStore, args: argparse.Namespace) -> int:
    _known(store, args.name)
    store.set_password(args.name, hash_password(_read_password(args)))
    print(f"已重设账户 {args.name} 的密码；其全部会话已结束。")
    return 0


def _token(store: AccountStore, args: argparse.Namespace) -> int:
    _known(store, args.name)
    token_id, token = store.add_token(args.name, args.label.strip())
    print(f"已为 {args.name} 签发 API 令牌 {token_id}（只显示这一次，请妥善保存；吊销：siting users revoke-token {token_id}）：",
          file=sys.stderr)
    print(token)
    return 0


def _revoke(store: AccountStore, args: argparse.Namespace) -> int:
    if not store.revoke_token(args.id):
        raise InputError("id", args.id, "没有该令牌，或已吊销；用 siting users list 查看。", "no such live token; see siting users list.")
    print(f"已吊销 API 令牌 {args.id}。")
    return 0
