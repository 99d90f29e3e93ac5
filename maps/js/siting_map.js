/* Map helpers shared by the check and region pages (inlined into each page). */
(function () {
  "use strict";
  var demoLayers = [];

  /* Google encoded polyline (1e-5 degree) → [[lat, lng], …]. */
  window.sitingDecode = function (text) {
    var points = [], index = 0, lat = 0, lng = 0;
    function next() {
      var result = 0, shift = 0, byte;
      do {
        byte = text.charCodeAt(index++) - 63;
        result |= (byte & 31) << shift;
        shift += 5;
      } while (byte >= 32);
      return (result & 1) ? ~(result >> 1) : (result >> 1);
    }
    while (index < text.length) {
      lat += next();
      lng += next();
      points.push([lat / 1e5, lng / 1e5]);
    }
    return points;
  };

  /* A feature group that shows, at each zoom, the geometry simplified for that zoom. */
  window.sitingLodLayer = function (map, spec) {
    var group = L.featureGroup();
    var built = {};
    var shown = null;
    function levelFor(zoom) {
      for (var i = 0; i < spec.lods.length; i++) {
        if (zoom <= spec.lods[i].maxZoom) { return i; }
      }
      return spec.lods.length - 1;
    }
    function build(i) {
      var group = L.featureGroup();
      spec.lods[i].geoms.forEach(function (parts, k) {
        if (!parts) { return; }
        var layer = spec.lines
          ? L.polyline(parts.map(function (part) { return sitingDecode(part[0]); }), spec.style)
          : L.polygon(parts.map(function (part) { return part.map(sitingDecode); }), spec.style);
        var props = spec.props[k] || {};
        if (props.popup) { layer.bindPopup(props.popup, {maxWidth: 420}); }
        if (props.tooltip) { layer.bindTooltip(props.tooltip, {sticky: true}); }
        group.addLayer(layer);
      });
      return group;
    }
    function show() {
      var i = levelFor(map.getZoom());
      if (i === shown) { return; }
      if (!built[i]) { built[i] = build(i); }
      group.clearLayers();
      group.addLayer(built[i]);
      shown = i;
    }
    map.on("zoomend", show);
    show();
    if (spec.demonstration) { demoLayers.push(group); }
    return group;
  };

  /* Mark a layer as demonstration data: the banner shows while any such layer is on the map. */
  window.sitingDemoLayer = function (layer) { demoLayers.push(layer); return layer; };

  window.sitingDemoBanner = function (map, bannerId) {
    function update() {
      var banner = document.getElementById(bannerId);
      if (!banner) { return; }
      var visible = demoLayers.some(function (layer) { return map.hasLayer(layer); });
      banner.style.display = visible ? "block" : "none";
    }
    map.on("overlayadd overlayremove layeradd layerremove", update);
    update();
  };
})();
