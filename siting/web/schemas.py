"""The API's request bodies, and how a body becomes a site; every refusal is an InputError naming the field."""

from __future__ import annotations

import json
from typing import Any, Literal

import shapely
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from shapely.geometry.base import BaseGeometry

from siting.text_fields import clean_text
from spatial.coordinates import lonlat_problems, lonlat_refusal, parse_point, point_from_lonlat
from spatial.errors import FieldKey, InputError

# The API's words for the engine's field keys: the JSON field an error names (a key not listed is its own
# name: lon, lat, at, crs, industry …), and how a fix text mentions a field (the page turns these into its labels).
API_FIELDS = {FieldKey.SITE_FILE: "file", FieldKey.LAYER_FILE: "file", FieldKey.FIELD_MAP: "field"}
API_MENTIONS = {
    FieldKey.AT: "坐标文本（at）", FieldKey.LON: "经度（lon）", FieldKey.LAT: "纬度（lat）", FieldKey.CRS: "坐标系（crs）",
    FieldKey.SITE_FILE: "场址文件（file）", FieldKey.INDUSTRY: "行业（industry）", FieldKey.STAGE: "阶段（stage）",
    FieldKey.PROJECT: "项目名称（project）", FieldKey.LAYER_FILE: "图层文件（file）", FieldKey.KIND: "图层类型（kind）",
    FieldKey.FIELD_MAP: "字段映射（field）", FieldKey.ACCESS_LIST: "准入清单（access_list）", FieldKey.COVERAGE: "覆盖范围（coverage）",
}
_REQUEST_FIELDS = "lon、lat、at、crs、industry、stage、project"
# pydantic error type → (fix_zh, fix_en)
_FIXES = {
    "missing": ("缺少该字段。", "this field is required."),
    "float_parsing": ("应为十进制度数（数字），例如 111.25。", "must be a number in decimal degrees, e.g. 111.25."),
    "float_type": ("应为十进制度数（数字），例如 111.25。", "must be a number in decimal degrees, e.g. 111.25."),
    "finite_number": ("应为有限的数字。", "must be a finite number."),
    "string_type": ("应为文本。", "must be a string."),
    "extra_forbidden": (f"不认识该字段；可用字段：{_REQUEST_FIELDS}。", f"unknown field; known fields: {_REQUEST_FIELDS}."),
    "json_invalid": ("请求体不是有效的 JSON。", "the request body is not valid JSON."),
    "model_type": ("应为 JSON 对象。", "must be a JSON object."),
    "model_attributes_type": ("应为 JSON 对象。", "must be a JSON object."),
    "dict_type": ("应为 JSON 对象。", "must be a JSON object."),
    "list_type": ("应为数组。", "must be an array."),
    "too_long": ("条目过多（每批至多 100 行；更大的名录请用 siting batch）。",
                 "too many items (at most 100 rows per request; use siting batch for registries)."),
    "string_too_short": ("不能为空。", "must not be empty."),
    "string_unicode": ("含有孤立的代理码位（如 \\ud800，不是有效字符）；请删除或重新输入。",
                       "holds a lone surrogate (such as \\ud800, not a valid character); remove or retype it."),
}


def api_error(error: InputError) -> InputError:
    """An engine or reader error in the API's words: its field key as the JSON field (``lon``, ``file``), and the
    fields its fix mentions as 「坐标系（crs）」; a web user is never told to add a command-line option."""
    return error.rendered(API_FIELDS, API_MENTIONS)


def validation_errors(errors: list[dict], prefix: tuple = ()) -> list[InputError]:
    """pydantic's errors as bilingual InputErrors naming the JSON field (e.g. ``lon`` or ``rows.3.lat``)."""
    translated = []
    for error in errors:
        # A JSON syntax error's location is a character offset, not a field.
        where = () if error["type"] == "json_invalid" else error.get("loc", ())
        location = [str(part) for part in (*prefix, *where) if part != "body"]
        fix_zh, fix_en = _FIXES.get(error["type"], (f"格式不正确：{error.get('msg', '')}。", f"invalid: {error.get('msg', '')}."))
        value = error.get("input")
        cause = error.get("ctx", {}).get("error")
        if error["type"] == "value_error" and isinstance(cause, InputError):  # a clean_text refusal
            fix_zh, fix_en, value = cause.fix_zh, cause.fix_en, cause.value
        if error["type"] == "string_too_long":
            limit = error.get("ctx", {}).get("max_length", "")
            fix_zh, fix_en = f"文本过长：至多 {limit} 个字符，请删减。", f"the text is too long: at most {limit} characters; shorten it."
        if error["type"] == "literal_error":
            expected = error.get("ctx", {}).get("expected", "")
            fix_zh, fix_en = f"应为以下之一：{expected}。", f"must be one of {expected}."
        if error["type"] in _BOUND_ERRORS and where and where[-1] in (FieldKey.LON, FieldKey.LAT) and isinstance(value, int | float):
            axis = where[-1]
            problem = int(lonlat_problems(value if axis == FieldKey.LON else None, value if axis == FieldKey.LAT else None))
            if problem:
                bounds = lonlat_refusal(problem, value)
                fix_zh, fix_en = bounds.fix_zh, bounds.fix_en
        translated.append(InputError(".".join(location) or "body", value if not isinstance(value, dict | list) else "…", fix_zh, fix_en))
    return translated


_BOUND_ERRORS = {"greater_than_equal", "less_than_equal", "finite_number"}
STAGES = ("new", "rebuild", "expand", "existing", "新建", "改建", "扩建", "现有")
StageName = Literal["new", "rebuild", "expand", "existing", "新建", "改建", "扩建", "现有"]
MAX_BATCH_ROWS = 100


# Exactly one way to give the site: ``at`` text, or ``lon`` with ``lat`` (enforced by CheckRequest.site).
_ONE_SITE = [
    {"title": "坐标文本 at", "required": ["at"], "not": {"anyOf": [{"required": ["lon"]}, {"required": ["lat"]}]}},
    {"title": "经纬度 lon/lat", "required": ["lon", "lat"], "not": {"required": ["at"]}},
]


def _one_site(schema: dict) -> None:
    schema["oneOf"] = _ONE_SITE
    for name in ("lon", "lat", "at"):
        schema["properties"][name].pop("default", None)  # absent means "not this way", never null


class CheckRequest(BaseModel):
    """One site (``at`` text, or ``lon`` and ``lat``), the industry and the stage."""

    # strict: a number is a JSON number (not "111.2" or true), as the schema says.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_one_site)

    # Not nullable: an absent field is None, an explicit null is refused (the schema's oneOf counts a null as given).
    lon: float = Field(None, ge=-180, le=180, description="经度（十进制度，CGCS2000/WGS84；须在中国的高斯-克吕格带内）")
    lat: float = Field(None, ge=-90, le=90, description="纬度（十进制度）")
    at: str = Field(None, min_length=1, max_length=500, description="任意写法的坐标文本，如 东经111°15′ 北纬35°36′")
    crs: str | None = Field(None, max_length=100, description="输入坐标系：EPSG:NNNN，或 wgs84、cgcs2000、gcj02、bd09")
    industry: str = Field(..., min_length=1, max_length=200, description="行业名称或国民经济行业代码，如 造纸、2221")
    stage: StageName = Field("new", description="项目阶段：new|rebuild|expand|existing 或 新建|改建|扩建|现有")
    project: str = Field("", max_length=200, description="项目名称（写入审查意见与审计日志）；不得含控制字符")

    @field_validator("at", "crs", "industry", "project")
    @classmethod
    def _one_line(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Free text is NFC-normalised and stripped; control characters and lone surrogates are refused."""
        limit = cls.model_fields[info.field_name].metadata
        max_len = next((rule.max_length for rule in limit if getattr(rule, "max_length", None)), 500)
        return None if value is None else clean_text(value, info.field_name, max_len=max_len)

    def site(self) -> tuple[BaseGeometry, dict]:
        """The WGS84 point and its echo, from exactly one of ``at`` or ``lon``/``lat``."""
        has_degrees = self.lon is not None or self.lat is not None
        if (self.at is None) == (not has_degrees):
            raise InputError("at", self.at, "请给出且只给出一种场址：at 坐标文本，或 lon 与 lat。",
                             "give exactly one site: at (text), or lon and lat.")
        try:
            if self.at is not None:
                point = parse_point(self.at, self.crs)
            else:
                for field, value in ((FieldKey.LON, self.lon), (FieldKey.LAT, self.lat)):
                    if value is None:
                        raise InputError(field, None, "经纬度须同时给出 lon 与 lat。", "give both lon and lat.")
                point = point_from_lonlat(self.lon, self.lat, self.crs)
        except InputError as error:
            raise api_error(error) from None
        return shapely.Point(point.lon, point.lat), point.to_dict()


def parse_row(raw: object) -> CheckRequest:
    """One batch row, or the InputError saying why it is not a valid request."""
    try:
        return CheckRequest.model_validate(raw)
    except ValidationError as error:
        raise validation_errors(error.errors())[0] from None


class BatchRequest(BaseModel):
    """Rows are validated one by one, so a bad row is reported and the others still checked."""

    model_config = ConfigDict(extra="forbid")
    rows: list[Any] = Field(..., max_length=MAX_BATCH_ROWS,
                            description=f"每行一个检查请求，字段同 /api/check（至多 {MAX_BATCH_ROWS} 行；坏行逐行报告，不使整批失败）")


class ErrorDetail(BaseModel):
    """The one error shape of the API (``limits.error_body``): the field, the value and the fix in Chinese and English."""

    field: str | None = Field(..., description="出错的字段（JSON 路径，如 lon、rows.3.lat、file、check_id）；服务器内部错误时为 null")
    value: Any = Field(None, description="收到的值（回显）")
    message_zh: str = Field(..., description="中文说明及改正方法")
    message_en: str = Field(..., description="English explanation and fix")
    message: str | None = Field(None, description="message_zh 与 message_en，换行分隔")


class ErrorAnswer(BaseModel):
    error: ErrorDetail
    errors: list[ErrorDetail] | None = Field(None, description="请求校验失败时的全部错误（error 为其中第一条）")


class AuditEcho(BaseModel):
    check_id: str = Field(..., description="审查编号：凭此在审计日志中复现（siting history --id）")
    checked_on: str = Field(..., description="审查日期（期限按此日期判断）")
    catalog_version: str = Field(..., description="规则目录版本（sha256）")


class CheckAnswer(BaseModel):
    """For the OpenAPI schema only: the answer is ``CheckResult.to_dict()`` as the CLI prints it, plus ``audit``."""

    model_config = ConfigDict(extra="allow")
    overall: Literal["prohibited", "exit", "restricted", "review", "compliant", "not_applicable"]
    headline: str
    headline_en: str
    overall_label: str
    site: dict = Field(..., description="场址：WGS84/CGCS2000 坐标、量测用高斯-克吕格带、行政区、输入回显")
    industry: dict
    stage: str
    plans: list[dict]
    findings: list[dict] = Field(..., description="每条适用条款：rule、plan、section、quote、action、verdict、inside、distance_m、margin_m…")
    not_evaluated: list[dict]
    conditions: list[dict]
    layers: list[dict] = Field(..., description="所用图层及来源、sha256、坐标系、精度、是否权威、是否示意数据")
    warnings: list[str]
    audit: AuditEcho


def unparseable(body: bytes) -> InputError:
    """Why a body the framework could not parse was refused: not UTF-8, a number too long, nesting too deep, or not JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return InputError("body", f"第 {error.start} 字节", f"请求体不是 UTF-8 编码（第 {error.start} 字节起无效）；请以 UTF-8 发送 JSON。",
                          f"the request body is not UTF-8 (invalid from byte {error.start}); send JSON in UTF-8.")
    try:
        json.loads(text)
    except RecursionError:
        return InputError("body", f"{len(body)} bytes", "JSON 嵌套层数过深；请求体应为一层的 JSON 对象。",
                          "the JSON is nested too deeply; the body is a flat JSON object.")
    except ValueError as error:
        if "digits" in str(error):
            return InputError("body", f"{len(body)} bytes", "JSON 中有位数过多的整数（超过 4300 位）；坐标应为十进制度数，如 111.25。",
                              "the JSON holds an integer with too many digits (over 4300); coordinates are decimal degrees, e.g. 111.25.")
        return InputError("body", f"{len(body)} bytes", f"请求体不是有效的 JSON（{error}）。", f"the request body is not valid JSON ({error}).")
    return InputError("body", f"{len(body)} bytes", "请求体无法解析（不是有效的 JSON 或表单）。",
                      "the request body cannot be parsed (not valid JSON or form data).")
