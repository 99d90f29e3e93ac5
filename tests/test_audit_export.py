"""The audit log exported as a GIS layer: every check a feature, with its site, verdict and who made it."""

from __future__ import annotations

import subprocess
import sys

import pyogrio
import pytest
import shapely

from siting.audit.audited_check import record_decision, run_check
from siting.audit.export import export_checks
from siting.audit.log import open_audit_log
from spatial.errors import InputError
from tests.audit_backends import audit_database  # noqa: F401  (the fixture: SQLite and PostgreSQL)


@pytest.fixture()
def checked(layers, mill_site, audit_database):  # noqa: F811
    """A log with a point check and a land-polygon check of real sites."""
    audit = open_audit_log(audit_database)
    land = shapely.Point(111.05, 35.2).buffer(0.002)
    records = [run_check(mill_site, {}, "造纸", "新建", layers, audit, "cli", project="某纸业")[1],
               run_check(land, {}, "软件开发", "新建", layers, audit, "api-file", project="园区用地")[1]]
    return audit, records


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".fgb"])
def test_every_check_is_a_feature_with_its_site_and_verdict(checked, tmp_path, suffix):
    audit, records = checked
    out = tmp_path / f"checks{suffix}"
    assert export_checks(audit.records(batch=1), out) == 2  # one record a batch: the paging is exercised
    frame = pyogrio.read_dataframe(out)
    assert frame.crs.to_epsg() == 4326
    assert list(frame["check_id"]) == [r.id for r in records]
    assert list(frame["overall"]) == [r.overall for r in records]
    assert list(frame["project"]) == ["某纸业", "园区用地"]
    for geometry, record in zip(frame.geometry, records, strict=True):
        assert geometry.equals_exact(shapely.from_wkb(record.site_wkb), 1e-9)
    assert not list(tmp_path.glob(".partial-*"))


def test_a_suffix_it_cannot_write_is_refused_naming_the_field(checked, tmp_path):
    audit, _ = checked
    with pytest.raises(InputError) as refused:
        export_checks(audit.recent(10), tmp_path / "checks.xls")
    assert refused.value.field == "--export" and ".gpkg" in refused.value.fix_zh


def test_the_command_exports_every_check_with_its_latest_decision(checked, audit_database, tmp_path):  # noqa: F811
    audit, records = checked
    record_decision(audit, records[0], "需补充材料", "补充汾河距离测量", None)
    record_decision(audit, records[0], "不采纳", "距汾河 2 公里内", None)
    out = tmp_path / "checks.gpkg"
    done = subprocess.run([sys.executable, "-m", "siting", "history", "--database", audit_database, "--export", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "已导出 2 条" in done.stderr
    frame = pyogrio.read_dataframe(out, layer="checks")
    assert list(frame["decision"]) == ["不采纳", ""]
