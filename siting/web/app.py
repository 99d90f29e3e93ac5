"""The reviewer web app and JSON API (FastAPI): a thin adapter over the engine and the audit log.

Every check, from the page or the API, goes through :func:`siting.audited_check.run_check`
and is recorded before it is answered. Checks run in worker processes (``siting.web.workers``),
``Limits.check_threads`` of them, killed and replaced when a check overruns the deadline (504)
or its memory cap (413); bad input is always a 422 naming the field in Chinese and English,
a request from another site a 403, never a 500.
"""

from __future__ import annotations

import functools
import logging
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import anyio
from fastapi import Body, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from layers import catalog, user_catalog
from layers.build import data_dir, load_layers
from siting.audit import TIME_NOTE, AuditError, AuditLog
from siting.audited_check import record_decision, replay
from siting.report import REPORT_FORMATS, write_report
from siting.web.audit_schemas import CheckListing, CheckRecordAnswer, DecisionAnswer, DecisionRequest
from siting.web.limits import CSRF_HEADER, BodySizeLimit, Limits, RequestTimeout, SameOrigin, error_body
from siting.web.map_page import check_map_page, overview_map_page
from siting.web.schemas import (
    BatchRequest,
    CheckAnswer,
    CheckRequest,
    ErrorAnswer,
    StageName,
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
_PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
             "frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'")
# Map pages carry their scripts inline and leaflet-measure compiles its templates at run time;
# they still may load nothing from outside this server.
_MAP_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'")


_ERRORS = {
    404: "没有该编号的审查记录（error.field = check_id）",
    403: "拒绝来自其他网站的提交：Origin/Referer 不是本服务，或表单与上传缺少令牌（请求头 X-CSRF-Token，见 GET /api/csrf-token）；未检查、未记录",
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
            if method == "post":  # every state-changing request passes the same-origin guard (limits.SameOrigin)
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


def create_app(limits: Limits | None = None, audit: AuditLog | None = None,
               layers_loader: Callable[[], LayerSet] = load_layers, allowed_hosts: list[str] | None = None) -> FastAPI:
    """The app; ``allowed_hosts`` (default: loopback names) guards a loopback server against DNS rebinding."""
    limits = limits or Limits()
    service = Service(limits, audit, layers_loader)
    pool = WorkerPool(limits, functools.partial(worker_service, audit.path if audit else None))
    csrf_token = secrets.token_urlsafe(32)  # one per server run; another site's page can never read it

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(service.start)
        await pool.start()
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(title="山西省环评选址空间管控审查 API", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  responses=errors(500, 504, by_ref=True),
                  description="选址审查：POST /api/check 与命令行 `siting check --format json` 返回同一结构。所有检查均记入审计日志。"
                              "所有错误的响应体均为 {error: {field, value, message_zh, message_en, message}}。")
    app.state.service = service
    app.openapi = lambda: app.openapi_schema or _with_one_error_body(app, FastAPI.openapi(app))

    async def in_worker(function: Callable, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(function, *args, limiter=service.limiter)

    @app.exception_handler(InputError)
    async def input_error(_: Request, error: InputError) -> JSONResponse:
        return JSONResponse(error_body(error), status_code=error.status if isinstance(error, RefusedError) else 422)

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

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        _LOG.exception("unexpected error")
        return JSONResponse({"error": {"field": None, "message_zh": "服务器内部错误，已记录日志。",
                                       "message_en": "internal server error; it has been logged."}}, status_code=500)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", _PAGE_CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response

    app.add_middleware(RequestTimeout, seconds=limits.request_timeout_s + 1)  # checks stop at the limit in the pool
    app.add_middleware(BodySizeLimit, limits=limits)
    app.add_middleware(SameOrigin, token=csrf_token)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or LOOPBACK_HOSTS)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        html = (STATIC / "index.html").read_text(encoding="utf-8")
        return HTMLResponse(html.replace("</head>", f'<meta name="csrf-token" content="{csrf_token}">\n</head>', 1))

    @app.get("/api/csrf-token", summary="表单与文件上传所需的令牌（请求头 X-CSRF-Token）")
    async def csrf() -> dict:
        """Readable only by this server's own pages and by non-browser clients (no CORS is ever granted)."""
        return {"header": CSRF_HEADER, "token": csrf_token}

    @app.get("/api/health", summary="服务状态")
    async def health() -> dict:
        """Never waits behind a check: checks run in worker processes, this count in its own thread."""
        return {"status": "ok", "layers": len(service.layers.layers), "check_workers": pool.size,
                "audit_records": await anyio.to_thread.run_sync(service.audit.count),
                "catalog_damage": user_catalog.damage(data_dir())}

    answer_doc = {200: {"model": CheckAnswer, "description": "与 `siting check --format json` 相同的结构，另含 audit"}} | errors(
        413, 422, 503, e422=_SEMANTIC_422)

    @app.post("/api/check", summary="检查一个场址（点）", responses=answer_doc)
    async def check_point(request: Annotated[CheckRequest, Body(openapi_examples=POINT_EXAMPLES)], http: Request) -> dict:
        return await pool.run(point_job, request, path="/api/check", started=arrived(http))

    @app.post("/api/check/file", summary="上传用地红线或线路文件并检查", responses=answer_doc,
              description=f"须带请求头 {CSRF_HEADER}：本服务页面的令牌（页面自动发送；脚本先 GET /api/csrf-token）。")
    async def check_file(
        http: Request,
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
        return await pool.run(file_job, file.filename, data, request, heavy=True, path="/api/check/file", started=arrived(http))

    @app.post("/api/batch", summary="小批量检查（每行同 /api/check；坏行标明原因，其余照常检查）", responses=errors(413, 422, 503))
    async def batch(body: BatchRequest, http: Request) -> dict:
        if len(body.rows) > limits.max_batch_rows:
            raise InputError("rows", f"{len(body.rows)} 行", f"每批最多 {limits.max_batch_rows} 行；更大的名录请用 siting batch。",
                             f"at most {limits.max_batch_rows} rows per request; use siting batch for registries.")
        return await pool.run(batch_job, body.rows, path="/api/batch", started=arrived(http))

    @app.get("/api/rules", summary="规划条款目录", responses=errors(422))
    async def rules(plan: Annotated[str | None, Query(max_length=50)] = None) -> dict:
        selected = [r for r in catalog.rules() if plan in (None, r.plan.id, r.plan.jurisdiction)]
        return {"count": len(selected), "rules": [r.to_dict() for r in selected]}

    @app.get("/api/layers", summary="图层及其来源")
    async def layers() -> dict:
        loaded = service.layers
        rows = [layer.to_dict() | {"status": "built"} for layer in loaded.layers.values()]
        rows += [{"id": m.id, "name": m.name, "status": "missing", "reason": m.reason} for m in loaded.missing.values()]
        return {"layers": rows, "catalog_damage": user_catalog.damage(data_dir())}

    @app.get("/api/industries", summary="行业检索（自动补全）", responses=errors(422))
    async def industries(q: Annotated[str, Query(max_length=100)] = "", limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict:
        taxonomy = catalog.taxonomy()
        if q.strip():
            rows = taxonomy.search(q, limit=limit)
        else:
            rows = [(t.name, tuple(sorted(t.codes)), t.note) for t in list(taxonomy.terms.values())[:limit]]
        return {"query": q, "industries": [{"name": name, "codes": list(codes), "note": note} for name, codes, note in rows]}

    @app.get("/api/places", summary="地名检索（县、市、县城驻地、湖泊、规划区；离线，取自已加载图层）", responses=errors(422))
    async def find_places(q: Annotated[str, Query(max_length=50)] = "", limit: Annotated[int, Query(ge=1, le=50)] = 10) -> dict:
        from maps.places import search_places

        return {"query": q, "places": [place.to_dict() for place in search_places(service.layers, q, limit)]}

    @app.get("/api/checks", summary="审计日志：最近的检查（各附最近一次审查决定）", response_model=CheckListing,
             responses=errors(422))
    async def checks(limit: Annotated[int, Query(ge=1, le=500)] = 20) -> dict:
        def run() -> dict:
            records = service.audit.recent(limit)
            latest = service.audit.latest_decisions([r.id for r in records])
            return {"checks": [r.summary() | {"latest_decision": latest[r.id].to_dict() if r.id in latest else None}
                               for r in records], "time_zone": TIME_NOTE}

        return await in_worker(run)

    @app.get("/api/checks/{check_id}", summary="审计日志：一条检查的完整记录及其审查决定", response_model=CheckRecordAnswer,
             responses=errors(404))
    async def check_record(check_id: str) -> dict:
        return (await in_worker(service.record, check_id)).to_dict()

    @app.post("/api/checks/{check_id}/decisions", status_code=201, response_model=DecisionAnswer,
              summary="记录审查决定（采纳、不采纳、需补充材料）：追加到审计日志，不修改原记录", responses=errors(404, 413, 422, 503))
    async def decide(check_id: str, body: DecisionRequest) -> dict:
        def run() -> dict:
            return record_decision(service.audit, service.record(check_id), body.decision, body.note, body.rule_id).to_dict()

        return await in_worker(run)

    @app.post("/api/checks/{check_id}/replay", summary="以记录的日期、当前的规则和图层复现一条检查", responses=errors(404))
    async def check_replay(check_id: str) -> dict:
        def run() -> dict:
            return replay(service.record(check_id), service.layers).to_dict()

        return await in_worker(run)

    report_doc = {200: media("审查意见文件（Content-Disposition: attachment），格式由 format 决定", *REPORT_FORMATS.values())} | errors(404, 409, 422)

    @app.get("/api/checks/{check_id}/report", summary="下载审查意见（docx、pdf 或 html）", response_class=Response, responses=report_doc)
    async def report(check_id: str, kind: Annotated[Literal["docx", "pdf", "html"], Query(alias="format")] = "docx") -> Response:
        def run() -> bytes:
            record = service.record(check_id)
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
    async def check_map(check_id: str) -> HTMLResponse:
        def run() -> str:
            return check_map_page(*service.issued(service.record(check_id)))

        return HTMLResponse(await in_worker(run), headers={"Content-Security-Policy": _MAP_CSP})

    @app.get("/api/overview-map", response_class=HTMLResponse, summary="山西省概览地图（点击即检查）",
             responses={200: media("离线 HTML 地图页", "text/html")})
    async def overview_map() -> HTMLResponse:
        return HTMLResponse(await in_worker(overview_map_page, service.layers), headers={"Content-Security-Policy": _MAP_CSP})

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
    async def siting_map_page(http: Request, region: RegionParam, industry: IndustryParam,
                              stage: StageParam = "new") -> HTMLResponse:
        found = await siting_map(http, region, industry, stage)
        return HTMLResponse(found.html, headers={"Content-Security-Policy": _MAP_CSP})

    @app.get("/api/siting-map/table", summary="行业选址分类图的面积表：各类别、各县的面积与占比，最大未发现限制连片区域，未评价图层",
             responses=siting_422)
    async def siting_map_table(http: Request, region: RegionParam, industry: IndustryParam,
                               stage: StageParam = "new") -> dict:
        return (await siting_map(http, region, industry, stage)).table

    @app.get("/api/siting-map/download", response_class=Response, summary="下载行业选址分类图（GeoPackage、50 米 GeoTIFF 或分县面积 CSV）",
             responses={200: media("分类数据文件（Content-Disposition: attachment），格式由 format 决定",
                                   *(kind for _, kind in DOWNLOADS.values()))} | siting_422)
    async def siting_map_download(http: Request, region: RegionParam, industry: IndustryParam,
                                  stage: StageParam = "new",
                                  kind: Annotated[Literal["gpkg", "tif", "csv"], Query(alias="format")] = "gpkg") -> Response:
        found = await siting_map(http, region, industry, stage)
        suffix, media_type = DOWNLOADS[kind]
        disposition = f"attachment; filename=\"siting-classes{suffix}\"; filename*=UTF-8''{quote(found.name + suffix)}"
        return Response(found.files[kind], media_type=media_type, headers={"Content-Disposition": disposition})

    return app
