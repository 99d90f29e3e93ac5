"""A deterministic register of random Shanxi sites for the batch tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

INDUSTRIES = ("造纸", "焦化", "2521", "软件开发", "钢铁", "水泥", "电镀", "农副食品加工")
STAGES = ("新建", "现有", "扩建", "改建", "new", "existing")
# Malformed rows, one in a hundred: (column, bad value)
DEFECTS = (("经度", "abc"), ("纬度", ""), ("行业", "造只厂"), ("阶段", "later"), ("经度", "10.5"), ("经度", "东经112°30′"))


def register_csv(path: Path, rows: int, seed: int = 20261206, defects: bool = True) -> Path:
    """Write ``rows`` sites (名称, 经度, 纬度, 行业, 阶段) as UTF-8 CSV; names include commas, quotes and
    line breaks so the CSV quoting is exercised."""
    rng = np.random.default_rng(seed)
    lon = np.char.mod("%.6f", rng.uniform(110.2, 114.6, rows)).astype(object)
    lat = np.char.mod("%.6f", rng.uniform(34.6, 40.7, rows)).astype(object)
    industry = np.array(INDUSTRIES, dtype=object)[rng.integers(0, len(INDUSTRIES), rows)]
    stage = np.array(STAGES, dtype=object)[rng.integers(0, len(STAGES), rows)]
    name = np.array([f"企业{i + 1}" for i in range(rows)], dtype=object)
    name[7::97] = [f'山西"{i}"号, 有限公司' for i in range(len(name[7::97]))]
    name[11::1013] = [f"第{i}厂\n二车间" for i in range(len(name[11::1013]))]
    columns = {"名称": name, "经度": lon, "纬度": lat, "行业": industry, "阶段": stage}
    if defects:
        bad = np.sort(rng.choice(rows, rows // 100, replace=False))
        for k, row in enumerate(bad):
            column, value = DEFECTS[k % len(DEFECTS)]
            columns[column][row] = value
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(columns) + "\n")
        for values in zip(*columns.values(), strict=True):
            handle.write(",".join(_quoted(v) for v in values) + "\n")
    return path


def _quoted(value: str) -> str:
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value
