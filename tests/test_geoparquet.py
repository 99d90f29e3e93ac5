"""The fast GeoParquet reader gives what geopandas gives, CRS included."""

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pyproj import CRS

from layers.io.geoparquet import read_frame


def _same(ours: gpd.GeoDataFrame, theirs: gpd.GeoDataFrame) -> None:
    assert list(ours.columns) == list(theirs.columns)
    assert ours.geometry.name == theirs.geometry.name
    assert ours.crs == theirs.crs
    pd.testing.assert_frame_equal(pd.DataFrame(ours.drop(columns=ours.geometry.name)),
                                  pd.DataFrame(theirs.drop(columns=theirs.geometry.name)))
    assert shapely.equals_exact(ours.geometry.values, theirs.geometry.values, tolerance=0).all()


def test_every_cached_default_layer_reads_as_geopandas_reads_it(data_dir, layers):
    files = sorted((data_dir / "layers").glob("*.parquet"))
    assert {f.stem for f in files} == set(layers.layers) - {layer_id for layer_id, layer in layers.layers.items()
                                                             if layer.provenance.imported}
    for path in files:
        _same(read_frame(path), gpd.read_parquet(path))


@pytest.mark.parametrize("crs", [
    "EPSG:4545",  # an authority code: read from the code
    "+proj=tmerc +lat_0=0 +lon_0=111 +k=1 +x_0=37500000 +y_0=0 +ellps=GRS80 +units=m +no_defs",  # no code: full PROJJSON
    None,
])
def test_index_columns_and_crs_survive(tmp_path, crs):
    frame = gpd.GeoDataFrame(
        {"代码": ["140802", "140826"], "area_km2": [1.5, 2.0]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.Polygon()],
        index=pd.Index([7, 3], name="fid"),
        crs=crs,
    ).rename_geometry("geom")
    path = tmp_path / "layer.parquet"
    frame.to_parquet(path)
    ours = read_frame(path)
    _same(ours, gpd.read_parquet(path))
    assert ours.index.tolist() == [7, 3] and ours.index.name == "fid"
    assert ours.crs == (CRS.from_user_input(crs) if crs else None)


def test_parquet_without_geo_metadata_is_refused_by_name(tmp_path):
    path = tmp_path / "plain.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    with pytest.raises(ValueError, match=r"plain\.parquet"):
        read_frame(path)
