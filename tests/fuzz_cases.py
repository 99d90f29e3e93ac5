"""Generated inputs and the one oracle shared by the fuzz tests and scripts/fuzz.py.

The oracle: a reader either answers, or refuses with an InputError naming its field (or,
for the rule loader, a ValueError naming the file and field). Any other exception, a
message without the field, or a leaked traceback is a crash.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import strategies as st

from layers import catalog
from layers.io.site_files import read_site
from spatial.coordinates import parse_point
from spatial.errors import InputError

_MARKS = ["", "E", "N", "东经", "北纬", "经度", "纬度", "X=", "Y=", "x:", "y="]
_UNITS = ["", "°", "度", "′", "'", "分", "″", '"', "秒", "-", "e"]
_SEPARATORS = [" ", ",", "，", ";", "；", "/", "、", "\t", "  ", ""]
_CRS = [None, "wgs84", "cgcs2000", "gcj02", "bd09", "EPSG:4546", "EPSG:4525", "EPSG:4490", "EPSG:999999", "garbage", "+proj=longlat"]

plausible = st.one_of(st.floats(73, 136), st.floats(3, 54), st.floats(3.5e6, 4.6e6), st.floats(37.3e6, 38.7e6),
                      st.floats(3e5, 7e5))
plausible = st.tuples(plausible, st.integers(0, 8)).map(lambda vd: f"{vd[0]:.{vd[1]}f}")
numbers = st.one_of(
    plausible, plausible,
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**12, 10**12).map(str),
    st.sampled_from(["111.25", "35.6", "3938552", "37514297", "514297", "1e308", "-0", "0.0000001", "180", "90.000001"]),
)
_part = st.tuples(st.sampled_from(_MARKS), numbers, st.sampled_from(_UNITS))
coordinate_texts = st.one_of(
    st.text(max_size=60),
    st.tuples(_part, st.sampled_from(_SEPARATORS), _part).map(lambda p: "".join(p[0]) + p[1] + "".join(p[2])),
    st.lists(st.tuples(st.sampled_from(_MARKS), numbers, st.sampled_from(_UNITS), st.sampled_from(_SEPARATORS)),
             max_size=5).map(lambda parts: "".join(m + n + u + s for m, n, u, s in parts)),
)
crs_names = st.sampled_from(_CRS)

_KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>{name}</name>
<{geometry}>{body}</{geometry}></Placemark></Document></kml>"""
_BODIES = {
    "Polygon": "<outerBoundaryIs><LinearRing><coordinates>{coordinates}</coordinates></LinearRing></outerBoundaryIs>",
    "LineString": "<coordinates>{coordinates}</coordinates>",
    "Point": "<coordinates>{coordinates}</coordinates>",
}
_xml_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="<&\x00"), max_size=30)
_vertex = st.tuples(numbers, numbers).map(lambda xy: f"{xy[0]},{xy[1]}")
kml_documents = st.one_of(
    st.builds(
        lambda name, geometry, vertices, sep: _KML.format(
            name=name, geometry=geometry, body=_BODIES[geometry].format(coordinates=sep.join(vertices))),
        _xml_text, st.sampled_from(sorted(_BODIES)), st.lists(_vertex, max_size=8), st.sampled_from([" ", "\n", ",", ""]),
    ),
    st.builds(
        lambda name, lon, lat, size, jitter: _KML.format(
            name=name, geometry="Polygon", body=_BODIES["Polygon"].format(coordinates=" ".join(
                f"{lon + dx * size + j},{lat + dy * size}" for (dx, dy), j in
                zip([(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)], [0, jitter, 0, -jitter, 0], strict=True)))),
        _xml_text, st.floats(110, 115), st.floats(34.5, 40.7), st.floats(0, 0.05), st.floats(-0.05, 0.05),
    ),
    st.text(max_size=200),
)
_gk_rows = st.lists(st.tuples(st.text(max_size=5), st.floats(3.9e6, 3.95e6).map(str), st.floats(37.5e6, 37.55e6).map(str)),
                   min_size=3, max_size=8)
boundary_tables = st.one_of(_gk_rows, st.lists(st.tuples(st.text(max_size=5), numbers, numbers), max_size=8)).map(
    lambda rows: "点号,X,Y\n" + "\n".join(",".join(r) for r in rows))

_RULE_FILE = catalog.rule_files()[0]
_RULES = yaml.safe_load(_RULE_FILE.read_text(encoding="utf-8"))
_FIELDS = ["id", "section", "quote", "zone", "action", "industries", "stages", "except", "note", "deadline", "general"]
_VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=10), st.lists(st.text(max_size=5), max_size=3),
                    st.dictionaries(st.sampled_from(["kind", "layer", "distance_m", "x"]), st.text(max_size=8), max_size=3),
                    st.sampled_from(["禁止", "鼓励", "buffer", "within", "新建", "造纸", "eco_redline"]))
rule_edits = st.lists(st.tuples(st.sampled_from(_FIELDS), st.one_of(st.just("<drop>"), _VALUES)), min_size=1, max_size=4)


def rule_file_text(edits: list[tuple[str, object]]) -> str:
    """The first real rule file with its first rule's fields dropped or replaced."""
    raw = {"plan": _RULES["plan"], "rules": [dict(_RULES["rules"][0])]}
    for name, value in edits:
        if value == "<drop>":
            raw["rules"][0].pop(name, None)
        else:
            raw["rules"][0][name] = value
    return yaml.safe_dump(raw, allow_unicode=True)


def outcome(call, *args) -> str:
    """"ok", "refused", or a crash description: the oracle every fuzz target answers to."""
    try:
        call(*args)
    except InputError as error:
        if not error.field or error.field not in error.message or "Traceback" in error.message:
            return f"crash: InputError without its field: {error.message!r}"
        return "refused"
    except ValueError as error:
        if call is not catalog.read_rule_file or ":" not in str(error):
            return f"crash: ValueError {error!r}"
        return "refused"
    except Exception as error:  # anything else is the crash being looked for
        return f"crash: {type(error).__name__}: {error}"
    return "ok"


def parse_case(text: str, crs: str | None) -> str:
    return outcome(parse_point, text, crs)


def _file_case(call, suffix: str, content: str) -> str:
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / f"input{suffix}"
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
        return outcome(call, path)


def kml_case(document: str) -> str:
    return _file_case(read_site, ".kml", document)


def table_case(table: str) -> str:
    return _file_case(read_site, ".csv", table)


def rule_case(edits: list[tuple[str, object]]) -> str:
    return _file_case(catalog.read_rule_file, ".yaml", rule_file_text(edits))
