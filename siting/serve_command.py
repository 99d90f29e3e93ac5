"""`siting serve`: the reviewer web app and JSON API on uvicorn, loopback unless told otherwise."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from spatial.errors import InputError


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
    if not _is_loopback(args.host):
        print(f"注意：监听 {args.host}，本机以外的计算机也能访问本服务。", file=sys.stderr)
    print(f"审查网页：http://{args.host}:{args.port}/    API 说明（OpenAPI）：http://{args.host}:{args.port}/openapi.json", file=sys.stderr)
    # On loopback only loopback Host names are served (no DNS rebinding from a web page).
    allowed_hosts = None if _is_loopback(args.host) else ["*"]
    uvicorn.run(create_app(limits, allowed_hosts=allowed_hosts), host=args.host, port=args.port, log_level="info", timeout_keep_alive=5,
                timeout_graceful_shutdown=10)
    return 0
