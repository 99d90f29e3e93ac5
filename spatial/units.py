"""三线一单 environmental control units: classes, codes and access-list dimensions.

A unit code reads ZH + the 6-digit county code + the class digit (1 优先保护,
2 重点管控, 3 一般管控) + a 4-digit serial, e.g. ZH14082610001.
"""

from __future__ import annotations

import re

from spatial.enums import IdentityEnum
from spatial.errors import InputError

ACCESS_DIMENSIONS = {
    "spatial_layout": "空间布局约束",
    "pollutant_discharge": "污染物排放管控",
    "risk_control": "环境风险防控",
    "resource_efficiency": "资源利用效率",
}
_CODE = re.compile(r"^ZH(?P<county>\d{6})(?P<digit>[123])(?P<serial>\d{4})$")


class UnitClass(IdentityEnum):
    PRIORITY = "优先保护"
    KEY = "重点管控"
    GENERAL = "一般管控"

    @property
    def digit(self) -> str:
        return str(list(UnitClass).index(self) + 1)

    @property
    def layer(self) -> str:
        """The layer id the rules use for units of this class."""
        return {"优先保护": "units_priority", "重点管控": "units_key", "一般管控": "units_general"}[self.value]

    @classmethod
    def parse(cls, text: object, field: str = "class") -> UnitClass:
        """A class from the forms agencies write: 优先保护单元, 优先保护类, 1, priority …"""
        key = str(text).strip().lower()
        for unit_class in cls:
            if key in (unit_class.digit, unit_class.name.lower()) or (key and unit_class.value in key):
                return unit_class
        raise InputError(
            field, str(text),
            "管控类别应为 优先保护/重点管控/一般管控（或 1/2/3）。",
            "the unit class must be 优先保护/重点管控/一般管控 (priority/key/general, or 1/2/3).",
        )


def unit_code(county: str, unit_class: UnitClass, serial: int) -> str:
    return f"ZH{county}{unit_class.digit}{serial:04d}"


def class_of_code(code: str, field: str = "code") -> UnitClass:
    """The class a unit code states in its class digit."""
    match = _CODE.match(str(code).strip())
    if not match:
        raise InputError(
            field, str(code),
            "单元编码应为 ZH + 6位县级行政区代码 + 类别码(1/2/3) + 4位序号，例如 ZH14082610001。",
            "a unit code reads ZH + 6-digit county code + class digit (1/2/3) + 4-digit serial, e.g. ZH14082610001.",
        )
    return list(UnitClass)[int(match["digit"]) - 1]
