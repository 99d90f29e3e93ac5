"""`siting serve`: the reviewer web app and JSON API on uvicorn, loopback unless told otherwise."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from spatial.errors import InputError

if TYPE_CHECKING:
    from siting.web.auth import AuthSettings


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="启动审查网页与 JSON API（默认只监听本机 127.0.0.1）")
    serve.add_argument("--host", default="127.0.0.1", help="监听地址（默认 127.0.0.1；对外开放须明确给出，如 0.0.0.0）")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--max-upload-mb", type=float, default=20.0, help="上传文件大小上限（MB，默认 20）")
    serve.add_argument("--timeout", type=float, default=60.0, help="单个请求的处理时限（秒，默认 60）；超时的检查进程被中止，答 504")
    serve.add_argument("--check-threads", type=int, default=4,
                       help="检查进程数（默认 4，其余排队；文件检查至多占用其中 n-1 个，点位检查总有一个可用）")
    serve.add_argument("--check-memory-mb", type=float, default=2048.0,
                       help="单个检查在已载入图层之外可用的内存（MB，默认 2048）；超出则中止该检查，答 413")
    serve.add_argument("--database", metavar="URL",
                       help="账户与审计日志所在的数据库：默认数据目录下的 SQLite 文件；postgresql://… 供多台应用服务器共用")
    serve.add_argument("--allowed-hosts", metavar="NAMES", default="",
                       help="接受的 Host 名称（逗号分隔），如 siting.sxhb.gov.cn；默认只接受监听地址本身（本机监听时为 localhost 等）")
    serve.add_argument("--sso-header", metavar="HEADER", help="单点登录反向代理给出用户名的请求头，如 X-Remote-User（须同时给出 --trusted-proxy）")
    serve.add_argument("--trusted-proxy", metavar="ADDRESSES", default="",
                       help="可信反向代理的地址或网段（逗号分隔），如 10.0.0.5,10.0.1.0/24：只信任它们给出的 X-Forwarded-For/-Proto 与单点登录请求头")
    serve.add_argument("--share-unit", action="store_true", help="同一单位（siting users add --unit）的审查人员可查看、下载彼此的审查记录")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from siting.web.app import create_app
    from siting.web.limits import Limits

    if not 0 < args.port < 65536:
        raise InputError("--port", args.port, "端口应在 1–65535 之间。", "the port must lie in 1..65535.")
    for option, value, low, high in (("--timeout", args.timeout, 0.1, 86_400), ("--check-threads", args.check_threads, 1, 64),
                                     ("--check-memory-mb", args.check_memory_mb, 64, 1_048_576)):
        if not low <= value <= high:
            raise InputError(option, value, f"应在 {low:g}–{high:g} 之间。", f"must lie in {low:g}..{high:g}.")
    limits = Limits(max_upload_bytes=int(args.max_upload_mb * 1024 * 1024), request_timeout_s=args.timeout,
                    check_threads=args.check_threads, check_memory_bytes=int(args.check_memory_mb * 1024 * 1024))
    accounts = _accounts(args)
    if not _is_loopback(args.host):
        print(f"注意：监听 {args.host}，本机以外的计算机也能访问本服务（须登录）。", file=sys.stderr)
    print(f"审查网页：http://{args.host}:{args.port}/    API 说明（OpenAPI）：http://{args.host}:{args.port}/openapi.json", file=sys.stderr)
    allowed_hosts = _allowed_hosts(args.host, args.allowed_hosts)
    # Forwarded headers are read by siting.web.auth, from --trusted-proxy addresses only; uvicorn reads none.
    os.environ["FORWARDED_ALLOW_IPS"] = ""
    # httptools and uvloop: uvicorn's C HTTP parser and event loop, a fraction of the pure-Python h11's CPU per request.
    uvicorn.run(create_app(limits, allowed_hosts=allowed_hosts, accounts=accounts, database=args.database),
                host=args.host, port=args.port, log_level="info", timeout_keep_alive=5,
                timeout_graceful_shutdown=10, http="httptools", loop="uvloop")
    return 0


def _allowed_hosts(host: str, given: str) -> list[str]:
    """The Host names served: loopback names on loopback (no DNS rebinding from a web page), else the bind
    address itself; plus ``--allowed-hosts``. Never any name at all."""
    from siting.web.app import LOOPBACK_HOSTS

    names = [name.strip().lower() for name in given.split(",") if name.strip()]
    for name in names:
        if name == "*" or "/" in name or ":" in name:
            raise InputError("--allowed-hosts", name, "应为主机名或 IP 地址（逗号分隔，不含端口），如 siting.sxhb.gov.cn,10.0.0.7；不接受 *。",
                             "give host names or IP addresses (comma-separated, no port), e.g. siting.sxhb.gov.cn,10.0.0.7; * is not accepted.")
    own = list(LOOPBACK_HOSTS) if _is_loopback(host) else [f"[{host}]" if ":" in host else host]
    return own + [name for name in names if name not in own]


def _networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError("--trusted-proxy", text, "应为逗号分隔的 IP 地址或网段，如 10.0.0.5,10.0.1.0/24。",
                         "give comma-separated IP addresses or networks, e.g. 10.0.0.5,10.0.1.0/24.") from None


def _accounts(args: argparse.Namespace) -> AuthSettings | None:
    """The account settings, or None for the desktop mode (loopback, no enabled account, no single sign-on).

    Serving a non-loopback address without accounts is refused: anyone who can reach the port could read
    every recorded check and act in the agency's name.
    """
    from siting.accounts import open_store
    from siting.accounts.store import default_path
    from siting.web.auth import AuthSettings

    proxies = _networks(args.trusted_proxy)
    if args.sso_header and not proxies:
        raise InputError("--sso-header", args.sso_header, "单点登录请求头只能信任来自反向代理的请求：请同时给出 --trusted-proxy 代理地址。",
                         "a single-sign-on header is believed only from the reverse proxy: give its address with --trusted-proxy.")
    database = args.database or default_path()
    exists = str(database).startswith(("postgresql://", "postgres://")) or Path(database).exists()
    store = open_store(database) if exists or args.sso_header else None  # the desktop mode creates no account database
    if store is not None and (args.sso_header or store.configured()):
        return AuthSettings(store, args.sso_header, proxies, args.share_unit)
    if store is not None:
        store.close()
    if not _is_loopback(args.host):
        where = f" --database {args.database}" if args.database else ""
        raise InputError("--host", args.host,
                         f"在非本机地址上提供服务须先配置账户，否则能连到本端口的任何人都能查看全部审查记录、以本机关名义检查。"
                         f"请先添加账户：siting users add 姓名 --role reviewer{where}（数据管理员 --role data-admin，审计员 --role auditor），"
                         "再启动；或只在本机使用：--host 127.0.0.1。",
                         f"serving a non-loopback address needs accounts: otherwise anyone who reaches the port reads every recorded check "
                         f"and checks in the agency's name. Add one first: siting users add NAME --role reviewer{where} "
                         "(or --role data-admin, --role auditor), then start again; or serve this machine only: --host 127.0.0.1.")
    return None
