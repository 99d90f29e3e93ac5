"""Mixed geometry types: a site KML with a marker beside its parcel keeps the parcel and names what
it ignored; an agency polygon layer holding lines is refused with the count of each."""

from __future__ import annotations

import geopandas as gpd
import shapely

from layers.io.site_files import read_site
from tests.hostile import assert_refused, catalog_state, siting_bounded, square_kml

MARKER = ("<Placemark><name>大门</name><Point><coordinates>111.52,35.52</coordinates></Point></Placemark>"
          "<Placemark><name>进场道路</name><LineString><coordinates>111.52,35.52 111.53,35.53</coordinates></LineString></Placemark>")


def test_a_site_with_a_marker_and_a_road_keeps_the_parcel_and_says_so(tmp_path):
    path = tmp_path / "奥维.kml"
    path.write_text(square_kml(extra=MARKER), encoding="utf-8")
    site = read_site(path)
    assert site.geometry.geom_type == "Polygon" and site.features == 3
    assert site.geometry.equals(shapely.box(111.50, 35.50, 111.51, 35.51))
    assert any("混有不同几何类型" in n and "1 个点、1 个线" in n for n in site.notes), site.notes


def test_a_line_route_with_station_points_is_a_line(tmp_path):
    path = tmp_path / "线路.geojson"
    gpd.GeoDataFrame(geometry=[shapely.LineString([(111.5, 35.5), (111.6, 35.6)]), shapely.Point(111.5, 35.5)], crs=4326).to_file(path)
    site = read_site(path)
    assert site.geometry.geom_type == "LineString" and any("1 个点" in n for n in site.notes)


def test_an_imported_polygon_layer_with_lines_and_points_is_refused(tmp_path, user_dir):
    path = tmp_path / "redline.gpkg"
    frame = gpd.GeoDataFrame({"名称": ["面", "线", "点"]}, geometry=[
        shapely.box(111.5, 35.5, 111.51, 35.51), shapely.LineString([(111.5, 35.5), (111.6, 35.6)]), shapely.Point(111.5, 35.5)],
        crs=4490)
    frame.to_file(path)
    before = catalog_state(user_dir)
    result = siting_bounded("layers", "import", str(path), "--kind", "redline")
    assert_refused(result, "FILE", "redline.gpkg", "该图层类型应为面", "2 个点、线要素")
    assert catalog_state(user_dir) == before
