"""The reviewer web app and JSON API (FastAPI): a thin adapter over the engine and the audit log.

Every check, from the page or the API, goes through :func:`siting.audit.audited_check.prepare`
and is recorded before it is answered. Checks run in worker processes (``siting.web.workers``),
``Limits.check_threads`` of them, killed and replaced when a check overruns the deadline (504)
or its memory cap (413); bad input is always a 422 naming the field in Chinese and English,
a request from another site a 403, never a 500.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from html import escape
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import anyio
from fastapi import Body, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi import Path as Path_
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from layers import catalog, user_catalog
from layers.build import data_dir, load_layers
from layers.imports import (
    coverage_codes,
    field_options,
    file_hashes,
    kind_of,
    read_access_list,
    read_layer_file,
    with_access_list,
)
from siting.accounts import Permission, permits
from siting.audit.audited_check import record_decision, replay
from siting.audit.log import TIME_NOTE, Actor, AuditError, AuditLog, CheckRecord
from siting.audit.verify import verify_log
from siting.report import REPORT_FORMATS, write_report
from siting.web.audit_schemas import CheckListing, CheckRecordAnswer, DecisionAnswer, DecisionRequest
from siting.web.auth import AccountGate, AuthSettings, Forbidden, add_account_routes, caller, forbidden_body, identity_of, permitted
from siting.web.headers import MAP_CSP, SecurityHeaders
from siting.web.limits import CSRF_HEADER, BodySizeLimit, Limits, RequestTimeout, SameOrigin, error_body
from siting.web.map_page import check_map_page, overview_map_page
from siting.web.schemas import (
    BatchRequest,
    CheckAnswer,
    CheckRequest,
    ErrorAnswer,
    StageName,
    api_error,
    unparseable,
    validation_errors,
)
from siting.web.service import (
    Conflict,
    NotFound,
    Service,
    batch_job,
    file_job,
    layers_fingerprint,
    point_job,
    worker_service,
)
from siting.web.siting_maps import (
    DOWNLOADS,
    IndustryParam,
    RegionParam,
    SitingMap,
    SitingMapCache,
    StageParam,
    siting_map_job,
)
from siting.web.uploads import ACCEPTED_SUFFIXES
from siting.web.workers import RefusedError, WorkerPool
from spatial.errors import InputError
from spatial.layer import LayerSet
from spatial.rules import Stage

_LOG = logging.getLogger(__name__)
STATIC = Path(str(resources.files("siting.web") / "static"))
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]
LAYER_SUFFIXES = (".zip", ".gpkg", ".geojson", ".json", ".kml", ".kmz")
ACCESS_LIST_SUFFIXES = (".xlsx", ".csv")


_ERRORS = {
    401: "需要登录（配置了账户时）：会话 Cookie 或请求头 Authorization: Bearer 令牌（siting users token）",
    404: "没有该编号的审查记录（error.field = check_id）",
    403: "拒绝：来自其他网站的提交（Origin/Referer 不是本服务），或表单与上传缺少令牌（请求头 X-CSRF-Token，见 GET /api/csrf-token），"
         "或当前账户的角色不能做此事（error.field = role，说明须由哪种角色进行）；未检查、未记录",
    409: "该记录签发时所用的图层或规则已不在本机（默认图层已重建或规则已更新），无法按签发时的版本重绘审查意见或地图",
    413: "请求体（JSON 2 MB）或上传文件超过大小上限，或场址的计算超出单个检查的内存上限（siting serve --check-memory-mb）",
    422: "输入错误：error.field 指明字段，error.message_zh / message_en 说明改正方法",
    500: "服务器内部错误（已记录日志）",
    503: "审计日志无法写入，或检查进程意外退出：本次检查未记录，结果不予返回",
    504: "处理超过时限（siting serve --timeout），检查已中止",
}
# A schema-valid check can still be refused: the industry is not in the taxonomy, the coordinate text
# cannot be read, the site lies outside China's Gauss-Krüger zones, the file is not a readable site.
_SEMANTIC_422 = ("输入错误。符合本模式的请求仍可能因内容被拒绝：行业不在行业目录中、坐标文本无法识别、场址不在中国的高斯-克吕格带内、"
                 "上传文件不是可读的场址文件等；error.field 指明字段，error.message_zh / message_en 说明改正方法")
POINT_EXAMPLES = {
    "经纬度": {"summary": "经纬度（十进制度）", "value": {"lon": 111.2, "lat": 35.6, "industry": "造纸", "stage": "new"}},
    "坐标文本": {"summary": "高斯-克吕格坐标文本", "value": {"at": "X=3938552 Y=37514297", "crs": "EPSG:4525", "industry": "焦化", "stage": "扩建"}},
}


# The caller of a route, as a dependency: the local user in the desktop mode, else the account if its role may.
Caller = Annotated[Actor, Depends(caller)]
Reader = Annotated[Actor, Depends(permitted(Permission.READ_REFERENCE))]
Checker = Annotated[Actor, Depends(permitted(Permission.CHECK, "检查场址、记录审查决定", "checking sites and recording decisions"))]
ChainAuditor = Annotated[Actor, Depends(permitted(Permission.VERIFY_CHAIN, "校验审计日志", "verifying the audit log"))]
LayerAdmin = Annotated[Actor, Depends(permitted(Permission.MANAGE_LAYERS, "导入、替换、移除图层", "importing, replacing and removing layers"))]


def errors(*codes: int, by_ref: bool = False, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for these error statuses, all with the one error body (ErrorAnswer) as JSON.

    ``by_ref`` for routes whose success is HTML (FastAPI would give a ``model`` the route's media type)
    and for app-wide statuses; JSON routes name the model, which puts ErrorAnswer in the components.
    """
    if by_ref:
        body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorAnswer"}}}}
    else:
        body = {"model": ErrorAnswer}
    return {code: body | {"description": descriptions.get(f"e{code}", _ERRORS[code])} for code in codes}


def media(description: str, *types: str) -> dict[str, Any]:
    """An OpenAPI 200 response that is a file or page, not JSON."""
    return {"description": description, "content": {kind.split(";")[0]: {"schema": {"type": "string", "format": "binary"}} for kind in types}}


def _with_one_error_body(app: FastAPI, schema: dict) -> dict:
    """FastAPI documents its own 422 body (HTTPValidationError) for every route with parameters;
    this app answers every validation failure with ErrorAnswer (see ``invalid_request``), so say that."""
    ours = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorAnswer"}}}
    for item in schema["paths"].values():
        for method, operation in item.items():
            if method in ("post", "delete"):  # every state-changing request passes the same-origin guard (limits.SameOrigin)
                operation.setdefault("responses", {}).setdefault("403", {"description": _ERRORS[403], "content": ours})
            invalid = operation.get("responses", {}).get("422")
            if invalid and "HTTPValidationError" in str(invalid.get("content")):
                invalid.update(content=ours, description=_ERRORS[422])
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    app.openapi_schema = schema
    return schema


def arrived(http: Request) -> float | None:
    """When the request arrived (``limits.BodySizeLimit``): a check's deadline counts from then."""
    return http.scope.get("state", {}).get("started")


def _upload_name(name: str | None, field: str, suffixes: tuple[str, ...]) -> str:
    """An uploaded file's name, safe to create in a private directory: its last part, odd characters replaced."""
    clean = re.sub(r"[^\w.\-]", "_", Path(name or "").name).lstrip(".") or "upload"
    if not clean.lower().endswith(suffixes):
        raise InputError(field, name, f"应为 {'、'.join(suffixes)} 文件（Shapefile 与 FileGDB 请压缩为 zip）。",
                         f"upload a {', '.join(suffixes)} file (zip a Shapefile or a FileGDB).")
    return clean


def create_app(limits: Limits | None = None, audit: AuditLog | None = None,
               layers_loader: Callable[[], LayerSet] = load_layers, allowed_hosts: list[str] | None = None,
               accounts: AuthSettings | None = None, database: str | None = None) -> FastAPI:
    """The app; ``allowed_hosts`` (default: loopback names) guards a loopback server against DNS rebinding.

    ``accounts`` None is the desktop mode (one local user, loopback only); otherwise every caller is
    known (``siting.web.auth``) and may do what its role allows. ``database`` holds the audit log
    (None: the default SQLite file; a path; a ``postgresql://`` URL).
    """
    limits = limits or Limits()
    service = Service(limits, audit, layers_loader, database)
    pool = WorkerPool(limits, functools.partial(worker_service, service.database))
    csrf_token = secrets.token_urlsafe(32)  # desktop mode: one per server run; another site's page can never read it

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(service.start)
        await pool.start()
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(title="山西省环评选址空间管控审查 API", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  responses=errors(401, 500, 504, by_ref=True) if accounts else errors(500, 504, by_ref=True),
                  description="选址审查：POST /api/check 与命令行 `siting check --format json` 返回同一结构。所有检查均记入审计日志。"
                              "所有错误的响应体均为 {error: {field, value, message_zh, message_en, message}}。")
    app.state.service = service
    app.state.accounts = accounts
    app.openapi = lambda: app.openapi_schema or _with_one_error_body(app, FastAPI.openapi(app))

    async def in_worker(function: Callable, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(function, *args, limiter=service.limiter)

    @app.exception_handler(InputError)
    async def input_error(_: Request, error: InputError) -> JSONResponse:
        return JSONResponse(error_body(api_error(error)), status_code=error.status if isinstance(error, RefusedError) else 422)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = validation_errors(list(error.errors()))
        return JSONResponse(error_body(errors[0]) | {"errors": [error_body(e)["error"] for e in errors]}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        """The framework's own refusals (unknown path, method not allowed, unparseable body) in the API's error shape."""
        if error.status_code == 400:  # a body that cannot be parsed at all is bad input like any other: 422
            return JSONResponse(error_body(unparseable(request.scope.get("state", {}).get("body", b""))), status_code=422)
        field = "method" if error.status_code == 405 else "path"
        return JSONResponse({"error": {"field": field, "value": None, "message_zh": f"请求被拒绝：{error.detail}。",
                                       "message_en": f"refused: {error.detail}.", "message": None}},
                            status_code=error.status_code, headers=error.headers)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, error: NotFound) -> JSONResponse:
        return JSONResponse(error_body(InputError("check_id", error.check_id, "没有该编号的审查记录。", "no check with this id.")),
                            status_code=404)

    @app.exception_handler(Conflict)
    async def conflict(_: Request, error: Conflict) -> JSONResponse:
        return JSONResponse(error_body(InputError(
            "check_id", error.check_id,
            f"该记录签发时所用的图层或规则已不在本机（{'、'.join(error.differences)}），无法按签发时的版本重绘；请用复现比较当前结论。",
            f"the layers or rules this check was issued on are no longer here ({', '.join(error.differences)}); "
            "it cannot be drawn as issued. Replay it to compare with today's answer.",
        )), status_code=409)

    @app.exception_handler(AuditError)
    async def audit_failed(_: Request, error: AuditError) -> JSONResponse:
        _LOG.error("audit log failure: %s", error)
        return JSONResponse({"error": {"field": "audit", "message_zh": "审计日志无法写入，本次检查未记录，结果不予返回。",
                                       "message_en": "the audit log cannot be written; the check was not recorded and is not returned."}},
                            status_code=503)

    @app.exception_handler(Forbidden)
    async def forbidden(_: Request, error: Forbidden) -> JSONResponse:
        return JSONResponse(forbidden_body(error), status_code=403)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        _LOG.exception("unexpected error")
        return JSONResponse({"error": {"field": None, "message_zh": "服务器内部错误，已记录日志。",
                                       "message_en": "internal server error; it has been logged."}}, status_code=500)

    # Added innermost first: a request meets the headers, the host check, the caller, the body limit, the timeout.
    app.add_middleware(RequestTimeout, seconds=limits.request_timeout_s + 1)  # checks stop at the limit in the pool
    app.add_middleware(BodySizeLimit, limits=limits)
    if accounts is None:
        app.add_middleware(SameOrigin, token=csrf_token)
    else:
        app.add_middleware(AccountGate, settings=accounts)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or LOOPBACK_HOSTS)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    add_account_routes(app, accounts, STATIC)

    def page_token(http: Request) -> str:
        return identity_of(http).csrf or csrf_token

    def readable(actor: Actor, record: CheckRecord) -> CheckRecord:
        """The record if the caller may read it: an auditor any, a reviewer their own (and their unit's with --share-unit)."""
        if permits(actor.role, Permission.READ_ALL_HISTORY):
            return record
        if not permits(actor.role, Permission.CHECK):
            raise Forbidden(actor, Permission.READ_ALL_HISTORY, "查看审查记录", "reading checks")
        if record.user == actor.user or (accounts is not None and accounts.share_unit and actor.unit and record.unit == actor.unit):
            return record
        raise Forbidden(actor, Permission.READ_ALL_HISTORY, "查看其他人员的审查记录", "reading another user's check")

    def own_record(actor: Actor, check_id: str) -> CheckRecord:
        return readable(actor, service.record(check_id))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page(http: Request) -> HTMLResponse:
        html = (STATIC / "index.html").read_text(encoding="utf-8")
        html = html.replace("<body>", f'<body data-role="{escape(identity_of(http).actor.role)}">', 1)  # what the page shows before any script
        return HTMLResponse(html.replace("</head>", f'<meta name="csrf-token" content="{page_token(http)}">\n</head>', 1))

    @app.get("/api/csrf-token", summary="表单与文件上传所需的令牌（请求头 X-CSRF-Token）")
    async def csrf(http: Request) -> dict:
        """Readable only by this server's own pages and by non-browser clients (no CORS is ever granted).

        With accounts, the token is the caller's: the session's, or the API token's."""
        return {"header": CSRF_HEADER, "token": page_token(http)}

    @app.get("/api/health", summary="服务状态")
    async def health() -> dict:
        """Never waits behind a check: checks run in worker processes, this count in its own thread."""
        return {"status": "ok", "layers": len(service.layers.layers), "check_workers": pool.size,
                "audit_records": await anyio.to_thread.run_sync(service.audit.count),
                "catalog_damage": user_catalog.damage(data_dir())}

    answer_doc = {200: {"model": CheckAnswer, "description": "与 `siting check --format json` 相同的结构，另含 audit"}} | errors(
        413, 422, 503, e422=_SEMANTIC_422)

    @app.post("/api/check", summary="检查一个场址（点）", responses=answer_doc)
    async def check_point(request: Annotated[CheckRequest, Body(openapi_examples=POINT_EXAMPLES)], http: Request, actor: Checker) -> dict:
        return await pool.run(point_job, request, actor, path="/api/check", started=arrived(http))

    @app.post("/api/check/file", summary="上传用地红线或线路文件并检查", responses=answer_doc,
              description=f"须带请求头 {CSRF_HEADER}：本服务页面的令牌（页面自动发送；脚本先 GET /api/csrf-token）。")
    async def check_file(
        http: Request,
        actor: Checker,
        file: Annotated[UploadFile, File(description=f"场址文件：{'、'.join(ACCEPTED_SUFFIXES)}")],
        industry: Annotated[str, Form(min_length=1, max_length=200, description="行业名称或国民经济行业代码，如 造纸、2221")],
        stage: Annotated[StageName, Form(description="项目阶段")] = "new",
        crs: Annotated[str | None, Form(max_length=100)] = None,
        project: Annotated[str, Form(max_length=200)] = "",
    ) -> dict:
        data = await file.read(limits.max_upload_bytes + 1)
        if len(data) > limits.max_upload_bytes:
            raise InputError("file", file.filename, "上传文件超过大小上限。", "the upload exceeds the size limit.")
        try:
            request = CheckRequest(industry=industry, stage=stage, crs=crs or None, project=project)
        except ValidationError as error:
            raise validation_errors(error.errors())[0] from None
        return await pool.run(file_job, file.filename, data, request, actor, heavy=True, path="/api/check/file", started=arrived(http))

    @app.post("/api/batch", summary="小批量检查（每行同 /api/check；坏行标明原因，其余照常检查）", responses=errors(413, 422, 503))
    async def batch(body: BatchRequest, http: Request, actor: Checker) -> dict:
        if len(body.rows) > limits.max_batch_rows:
            raise InputError("rows", f"{len(body.rows)} 行", f"每批最多 {limits.max_batch_rows} 行；更大的名录请用 siting batch。",
                             f"at most {limits.max_batch_rows} rows per request; use siting batch for registries.")
        return await pool.run(batch_job, body.rows, actor, path="/api/batch", started=arrived(http))

    @app.get("/api/rules", summary="规划条款目录", responses=errors(422))
    async def rules(_: Reader, plan: Annotated[str | None, Query(max_length=50)] = None) -> dict:
        selected = [r for r in catalog.rules() if plan in (None, r.plan.id, r.plan.jurisdiction)]
        return {"count": len(selected), "rules": [r.to_dict() for r in selected]}

    @app.get("/api/layers", summary="图层及其来源")
    async def layers(_: Reader) -> dict:
        loaded = service.layers
        rows = [layer.to_dict() | {"status": "built"} for layer in loaded.layers.values()]
        rows += [{"id": m.id, "name": m.name, "status": "missing", "reason": m.reason} for m in loaded.missing.values()]
        return {"layers": rows, "catalog_damage": user_catalog.damage(data_dir())}

    @app.get("/api/industries", summary="行业检索（自动补全）", responses=errors(422))
    async def industries(_: Reader, q: Annotated[str, Query(max_length=100)] = "", limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict:
        taxonomy = catalog.taxonomy()
        if q.strip():
            rows = taxonomy.search(q, limit=limit)
        else:
            rows = [(t.name, tuple(sorted(t.codes)), t.note) for t in list(taxonomy.terms.values())[:limit]]
        return {"query": q, "industries": [{"name": name, "codes": list(codes), "note": note} for name, codes, note in rows]}

    @app.get("/api/places", summary="地名检索（县、市、县城驻地、湖泊、规划区；离线，取自已加载图层）", responses=errors(422))
    async def find_places(_: Reader, q: Annotated[str, Query(max_length=50)] = "", limit: Annotated[int, Query(ge=1, le=50)] = 10) -> dict:
        from maps.places import search_places

        return {"query": q, "places": [place.to_dict() for place in search_places(service.layers, q, limit)]}

    @app.get("/api/checks", summary="审计日志：最近的检查（各附最近一次审查决定）", response_model=CheckListing,
             responses=errors(422))
    async def checks(actor: Caller, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> dict:
        if permits(actor.role, Permission.READ_ALL_HISTORY):
            whose: dict[str, str | None] = {"user": None, "unit": None}
        elif permits(actor.role, Permission.CHECK):
            shared = accounts is not None and accounts.share_unit and actor.unit
            whose = {"user": actor.user, "unit": actor.unit if shared else None}
        else:
            raise Forbidden(actor, Permission.READ_ALL_HISTORY, "查看审查记录", "reading checks")

        def run() -> dict:
            records = service.audit.recent(limit, **whose)
            latest = service.audit.latest_decisions([r.id for r in records])
            return {"checks": [r.summary() | {"latest_decision": latest[r.id].to_dict() if r.id in latest else None}
                               for r in records], "time_zone": TIME_NOTE}

        return await in_worker(run)

    @app.get("/api/checks/{check_id}", summary="审计日志：一条检查的完整记录及其审查决定", response_model=CheckRecordAnswer,
             responses=errors(404))
    async def check_record(check_id: str, actor: Caller) -> dict:
        return (await in_worker(own_record, actor, check_id)).to_dict()

    @app.post("/api/checks/{check_id}/decisions", status_code=201, response_model=DecisionAnswer,
              summary="记录审查决定（采纳、不采纳、需补充材料）：追加到审计日志，不修改原记录", responses=errors(404, 413, 422, 503))
    async def decide(check_id: str, body: DecisionRequest, actor: Checker) -> dict:
        def run() -> dict:
            return record_decision(service.audit, own_record(actor, check_id), body.decision, body.note, body.rule_id, actor=actor).to_dict()

        return await in_worker(run)

    @app.post("/api/checks/{check_id}/replay", summary="以记录的日期、当前的规则和图层复现一条检查", responses=errors(404))
    async def check_replay(check_id: str, actor: Caller) -> dict:
        def run() -> dict:
            return replay(own_record(actor, check_id), service.layers).to_dict()

        return await in_worker(run)

    report_doc = {200: media("审查意见文件（Content-Disposition: attachment），格式由 format 决定", *REPORT_FORMATS.values())} | errors(404, 409, 422)

    @app.get("/api/checks/{check_id}/report", summary="下载审查意见（docx、pdf 或 html）", response_class=Response, responses=report_doc)
    async def report(check_id: str, actor: Caller,
                     kind: Annotated[Literal["docx", "pdf", "html"], Query(alias="format")] = "docx") -> Response:
        def run() -> bytes:
            record = own_record(actor, check_id)
            result, layers = service.issued(record)
            with tempfile.TemporaryDirectory(prefix="siting-report-") as work:
                out = Path(work) / f"report.{kind}"
                write_report(out, record, result, layers)
                return out.read_bytes()

        body = await in_worker(run)
        name = f"审查意见-{check_id}.{kind}"
        disposition = f"attachment; filename=\"report-{check_id}.{kind}\"; filename*=UTF-8''{quote(name)}"
        return Response(body, media_type=REPORT_FORMATS[f".{kind}"], headers={"Content-Disposition": disposition})

    @app.get("/api/checks/{check_id}/map", response_class=HTMLResponse, summary="检查结果的交互式地图（离线可用）",
             responses={200: media("离线 HTML 地图页", "text/html")} | errors(404, 409, by_ref=True))
    async def check_map(check_id: str, actor: Caller) -> HTMLResponse:
        def run() -> str:
            return check_map_page(*service.issued(own_record(actor, check_id)))

        return HTMLResponse(await in_worker(run), headers={"Content-Security-Policy": MAP_CSP})

    @app.get("/api/overview-map", response_class=HTMLResponse, summary="山西省概览地图（点击即检查）",
             responses={200: media("离线 HTML 地图页", "text/html")})
    async def overview_map(_: Reader) -> HTMLResponse:
        return HTMLResponse(await in_worker(overview_map_page, service.layers), headers={"Content-Security-Policy": MAP_CSP})

    siting_maps = SitingMapCache()
    siting_map_lock = anyio.Lock()  # one classification at a time; the next request for it finds it cached
    siting_422 = errors(413, 422, e422="输入错误：region（行政区）、industry（行业）或 stage（阶段）无法识别；error.field 指明字段", by_ref=True)

    async def siting_map(http: Request, region: str, industry: str, stage: str) -> SitingMap:
        """The region classified for the industry and stage: cached, or computed in a check worker under the deadline."""
        key = (region.strip(), industry.strip(), Stage.parse(stage).value, layers_fingerprint())
        async with siting_map_lock:
            found = siting_maps.get(key)
            if found is None:
                found = await pool.run(siting_map_job, *key[:3], heavy=True, path=http.url.path, started=arrived(http))
                siting_maps.put(key, found)
        return found

    @app.get("/api/siting-map", response_class=HTMLResponse, summary="行业选址分类图：某市、县全域按该行业和阶段的审查结论分类（离线 HTML 地图）",
             responses={200: media("离线 HTML 地图页", "text/html")} | siting_422)
    async def siting_map_page(http: Request, _: Reader, region: RegionParam, industry: IndustryParam,
                              stage: StageParam = "new") -> HTMLResponse:
        found = await siting_map(http, region, industry, stage)
        return HTMLResponse(found.html, headers={"Content-Security-Policy": MAP_CSP})

    @app.get("/api/siting-map/table", summary="行业选址分类图的面积表：各类别、各县的面积与占比，最大未发现限制连片区域，未评价图层",
             responses=siting_422)
    async def siting_map_table(http: Request, _: Reader, region: RegionParam, industry: IndustryParam,
                               stage: StageParam = "new") -> dict:
        return (await siting_map(http, region, industry, stage)).table

    @app.get("/api/siting-map/download", response_class=Response, summary="下载行业选址分类图（GeoPackage、50 米 GeoTIFF 或分县面积 CSV）",
             responses={200: media("分类数据文件（Content-Disposition: attachment），格式由 format 决定",
                                   *(kind for _, kind in DOWNLOADS.values()))} | siting_422)
    async def siting_map_download(http: Request, _: Reader, region: RegionParam, industry: IndustryParam,
                                  stage: StageParam = "new",
                                  kind: Annotated[Literal["gpkg", "tif", "csv"], Query(alias="format")] = "gpkg") -> Response:
        found = await siting_map(http, region, industry, stage)
        suffix, media_type = DOWNLOADS[kind]
        disposition = f"attachment; filename=\"siting-classes{suffix}\"; filename*=UTF-8''{quote(found.name + suffix)}"
        return Response(found.files[kind], media_type=media_type, headers={"Content-Disposition": disposition})

    @app.get("/api/audit/verify", summary="校验审计日志：哈希链、签名与检查点（审计员）")
    async def verify(_: ChainAuditor) -> dict:
        def run() -> dict:
            log = service.audit
            return verify_log(log.database, log.checkpoints_path, log.key.public).to_dict()

        return await in_worker(run)

    @app.get("/api/layer-changes", summary="审计日志：图层的导入、替换与移除（审计员、数据管理员）")
    async def layer_changes(actor: Caller, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict:
        if not (permits(actor.role, Permission.READ_ALL_HISTORY) or permits(actor.role, Permission.MANAGE_LAYERS)):
            raise Forbidden(actor, Permission.READ_ALL_HISTORY, "查看图层变更记录", "reading the layer changes")
        return {"changes": [change.to_dict() for change in await in_worker(service.audit.layer_changes, limit)], "time_zone": TIME_NOTE}

    @app.post("/api/layers/import", status_code=201, summary="导入主管部门的图层文件，替换默认、示意或先前导入的图层（数据管理员）",
              description="与 `siting layers import` 相同的字段与校验；导入记入审计日志，下一次检查即使用新图层。"
                          f"须带请求头 {CSRF_HEADER}。", responses=errors(413, 422, 503), tags=["图层管理"])
    async def import_layer(
        actor: LayerAdmin,
        file: Annotated[UploadFile, File(description=f"图层文件：{'、'.join(LAYER_SUFFIXES)}（Shapefile、FileGDB 请压缩为 zip）")],
        kind: Annotated[str, Form(min_length=1, max_length=100, description="图层类型：units、redline、water_source … 或任一图层 id")],
        crs: Annotated[str | None, Form(max_length=100, description="文件没有 .prj 时的坐标系，如 EPSG:4525")] = None,
        field: Annotated[list[str] | None, Form(description="字段映射 目录字段=文件列名，可多个，如 code=HJGKDYBM")] = None,
        layer: Annotated[str | None, Form(max_length=200, description="文件含多个图层时要读的那一个")] = None,
        access_list: Annotated[UploadFile | None, File(description="准入清单（.xlsx/.csv，仅用于 units）")] = None,
        accuracy: Annotated[float | None, Form(gt=0, le=100_000, description="位置精度（米）")] = None,
        coverage: Annotated[str | None, Form(max_length=2000, description="覆盖的行政区代码，逗号分隔；默认取要素所涉及的县")] = None,
        source: Annotated[str | None, Form(max_length=500, description="来源说明")] = None,
        version: Annotated[str | None, Form(max_length=100, description="数据版本或发布日期")] = None,
        authoritative: Annotated[bool, Form(description="主管部门正式发布的权威数据")] = False,
    ) -> dict:
        data = await file.read(limits.max_upload_bytes + 1)
        extra = await access_list.read(limits.max_upload_bytes + 1) if access_list is not None and access_list.filename else None
        if len(data) > limits.max_upload_bytes or (extra is not None and len(extra) > limits.max_upload_bytes):
            raise InputError("file", file.filename, "上传文件超过大小上限。", "the upload exceeds the size limit.")
        if extra is not None and kind != "units":
            raise InputError("access_list", access_list.filename if access_list else None, "准入清单只用于 kind=units。",
                             "an access list goes only with kind=units.")

        def run() -> dict:
            defaults = kind_of(kind)
            current = service.layers
            with tempfile.TemporaryDirectory(prefix="siting-layer-") as work:
                path = Path(work) / _upload_name(file.filename, "file", LAYER_SUFFIXES)
                path.write_bytes(data)
                imported = read_layer_file(path, kind, crs or None, field_options(field or []), layer or None)
                access_files: list[dict] = []
                if extra is not None and access_list is not None:
                    sheet = Path(work) / _upload_name(access_list.filename, "access_list", ACCESS_LIST_SUFFIXES)
                    sheet.write_bytes(extra)
                    imported = with_access_list(imported, read_access_list(sheet))
                    access_files = file_hashes(sheet)
                before = set(user_catalog.read_index(data_dir())["layers"])
                record = user_catalog.add_import(data_dir(), imported, accuracy, defaults,
                                                 coverage=coverage_codes(coverage, current.admin.frame, imported.frames),
                                       source=source or None, version=version or None, authoritative=authoritative,
                                       access_list=access_files)
            detail = {key: record[key] for key in ("id", "kind", "files", "access_list", "crs", "features", "coverage", "accuracy_m")}
            changes = [service.audit.record_layer_change(actor, "replace" if layer_id in before else "import", layer_id,
                                                         detail | {"source": source, "version": version, "authoritative": authoritative})
                       for layer_id in record["layers"]]
            return {"import": record, "audit": [change.to_dict() for change in changes]}

        return await in_worker(run)

    @app.delete("/api/layers/{target}", summary="移除一次导入（按导入 id 或图层 id），恢复默认图层（数据管理员）",
                responses=errors(404, 422, 503, e404="没有该导入或导入的图层（error.field = id）"), tags=["图层管理"])
    async def remove_layer(target: Annotated[str, Path_(max_length=100, pattern=r"^[\w.\-]+$")], actor: LayerAdmin) -> Response:
        def run() -> list[dict]:
            removed = user_catalog.remove(data_dir(), target)
            return [service.audit.record_layer_change(actor, "remove", layer_id, {"target": target}).to_dict() for layer_id in removed]

        changes = await in_worker(run)
        if not changes:
            return JSONResponse(error_body(InputError("id", target, "没有该导入或导入的图层；请在图层列表中查看导入编号。",
                                                      "no such import or imported layer; see the layer list.")), status_code=404)
        return JSONResponse({"removed": [change["layer_id"] for change in changes], "audit": changes})

    return app


