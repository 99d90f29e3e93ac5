"""The one error type a user ever sees: it names the field, the value and the fix.

The engine and the file readers name the field with a neutral :class:`FieldKey`, never with
a channel's word for it: the command line renders the key as its option (``--lon``), the JSON
API as its field (``lon``), the page as its form label (「经纬度」). A channel raising about
one of its own options (the CLI's ``--timeout``, the API's ``body``) names it in its own words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum


class FieldKey(StrEnum):
    """The input fields an engine or reader error can name; each channel owns how it labels them."""

    AT = "at"  # a point written as free text
    LON = "lon"
    LAT = "lat"
    CRS = "crs"  # the coordinate system the input is written in
    SITE_FILE = "site_file"  # a land-parcel or line file (用地红线)
    INDUSTRY = "industry"
    STAGE = "stage"
    PROJECT = "project"  # the project name, which binds enterprise-specific measures
    LAYER_FILE = "layer_file"  # an agency's layer file being imported
    KIND = "kind"  # the layer kind of an import
    FIELD_MAP = "field_map"  # catalog field = file column, for an import
    ACCESS_LIST = "access_list"  # the 准入清单 table of an import
    COVERAGE = "coverage"  # the admin codes an import covers
    RIVER = "river"  # a river name in an OSM extract


_MENTION = re.compile(r"⟦([a-z_]+)⟧")


def mention(key: FieldKey) -> str:
    """Another field named inside a fix text ("name it with ⟦crs⟧"), rendered in each channel's words."""
    return f"⟦{key}⟧"


def _by_key(text: str) -> str:
    return _MENTION.sub(r"\1", text)


class InputError(ValueError):
    """Bad user input, explained in Chinese and English."""

    def __init__(self, field: str, value: object, fix_zh: str, fix_en: str) -> None:
        self.field = str(field)
        self.value = value
        self.fix_zh = fix_zh
        self.fix_en = fix_en
        super().__init__(self.message)

    def __reduce__(self) -> tuple[type[InputError], tuple[str, object, str, str]]:
        """Pickled as its parts (a batch worker process sends it to its parent)."""
        return type(self), (self.field, self.value, self.fix_zh, self.fix_en)

    @property
    def message(self) -> str:
        return (
            f"输入错误：{self.field} = {self.value!r}。{_by_key(self.fix_zh)}\n"
            f"Input error: {self.field} = {self.value!r}. {_by_key(self.fix_en)}"
        )

    def rendered(self, fields: Mapping[str, str], mentions: Mapping[str, str] | None = None) -> InputError:
        """The error in a channel's words: its field as ``fields`` names it (``--lon`` on the command line,
        ``lon`` in JSON), and every field its fix mentions as ``mentions`` does (default: ``fields``)."""
        words = fields if mentions is None else mentions

        def word(match: re.Match) -> str:
            return words.get(match[1], match[1])

        return InputError(fields.get(self.field, self.field), self.value, _MENTION.sub(word, self.fix_zh),
                          _MENTION.sub(word, self.fix_en))
