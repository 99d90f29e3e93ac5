"""The API's request bodies, and how a body becomes a site; every refusal is an InputError naming the field."""

from __future__ import annotations

import math
from typing import Any, Literal

import shapely
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from shapely.geometry.base import BaseGeometry

from spatial.coordinates import parse_point, point_from_lonlat
from spatial.errors import InputError

_API_FIELDS = {"--at": "at", "--crs": "crs", "--lon": "lon", "--lat": "lat", "--site": "file"}
_REQUEST_FIELDS = "lon、lat、at、crs、industry、stage、project"
# pydantic error type → (fix_zh, fix_en)
_FIXES = {
    "missing": ("缺少该字段。", "this field is required."),
    "float_parsing": ("应为十进制度数（数字），例如 111.25。", "must be a number in decimal degrees, e.g. 111.25."),
    "float_type": ("应为十进制度数（数字），例如 111.25。", "must be a number in decimal degrees, e.g. 111.25."),
    "finite_number": ("应为有限的数字。", "must be a finite number."),
    "string_type": ("应为文本。", "must be a string."),
    "string_too_long": ("文本过长。", "the text is too long."),
    "extra_forbidden": (f"不认识该字段；可用字段：{_REQUEST_FIELDS}。", f"unknown field; known fields: {_REQUEST_FIELDS}."),
    "json_invalid": ("请求体不是有效的 JSON。", "the request body is not valid JSON."),
    "model_type": ("应为 JSON 对象。", "must be a JSON object."),
    "model_attributes_type": ("应为 JSON 对象。", "must be a JSON object."),
    "dict_type": ("应为 JSON 对象。", "must be a JSON object."),
    "list_type": ("应为数组。", "must be an array."),
    "too_long": ("条目过多。", "too many items."),
}


def api_error(error: InputError) -> InputError:
    """An engine or parser error with the CLI's option names turned into the API's field names."""
    field = _API_FIELDS.get(error.field, error.field)
    return error if field == error.field else InputError(field, error.value, error.fix_zh, error.fix_en)


def validation_errors(errors: list[dict], prefix: tuple = ()) -> list[InputError]:
    """pydantic's errors as bilingual InputErrors naming the JSON field (e.g. ``lon`` or ``rows.3.lat``)."""
    translated = []
    for error in errors:
        # A JSON syntax error's location is a character offset, not a field.
        where = () if error["type"] == "json_invalid" else error.get("loc", ())
        location = [str(part) for part in (*prefix, *where) if part != "body"]
        fix_zh, fix_en = _FIXES.get(error["type"], (f"格式不正确：{error.get('msg', '')}。", f"invalid: {error.get('msg', '')}."))
        value = error.get("input")
        translated.append(InputError(".".join(location) or "body", value if not isinstance(value, dict | list) else "…", fix_zh, fix_en))
    return translated


def _degrees(field: str, value: float, limit: float) -> None:
    if math.isfinite(value) and abs(value) <= limit:
        return
    if field == "lat" and math.isfinite(value) and abs(value) <= 180:
        raise InputError("lat", value, "纬度应在 -90 到 90 之间（山西约 34.5–40.8）；该值像经度：lon 与 lat 可能写反。",
                         "latitude must lie in -90..90 (Shanxi is about 34.5–40.8); it looks like a longitude: lon and lat may be swapped.")
    if field == "lat":
        raise InputError("lat", value, "纬度应在 -90 到 90 之间（山西约 34.5–40.8）。", "latitude must lie in -90..90 (Shanxi is about 34.5–40.8).")
    raise InputError("lon", value, "经度应在 -180 到 180 之间（山西约 110–115）。", "longitude must lie in -180..180 (Shanxi is about 110–115).")


class CheckRequest(BaseModel):
    """One site (``at`` text, or ``lon`` and ``lat``), the industry and the stage."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"lon": 111.2, "lat": 35.6, "industry": "造纸", "stage": "new"},
                     {"at": "X=3938552 Y=37514297", "crs": "EPSG:4525", "industry": "焦化", "stage": "扩建"}]})

    lon: float | None = Field(None, description="经度（十进制度）")
    lat: float | None = Field(None, description="纬度（十进制度）")
    at: str | None = Field(None, max_length=500, description="任意写法的坐标文本，如 东经111°15′ 北纬35°36′")
    crs: str | None = Field(None, max_length=100, description="输入坐标系：EPSG:NNNN，或 wgs84、cgcs2000、gcj02、bd09")
    industry: str = Field(..., max_length=200, description="行业名称或国民经济行业代码，如 造纸、2221")
    stage: str = Field("new", max_length=20, description="new|rebuild|expand|existing 或 新建|改建|扩建|现有")
    project: str = Field("", max_length=200, description="项目名称（写入审查意见与审计日志）")

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
                for field, value in (("lon", self.lon), ("lat", self.lat)):
                    if value is None:
                        raise InputError(field, None, "经纬度须同时给出 lon 与 lat。", "give both lon and lat.")
                _degrees("lon", self.lon, 180)
                _degrees("lat", self.lat, 90)
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
    rows: list[Any] = Field(..., description="每行一个检查请求，字段同 /api/check")


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
