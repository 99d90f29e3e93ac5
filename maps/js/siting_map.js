/* Map helpers shared by the check and region pages (inlined into each page). */
(function () {
  "use strict";
  var demoLayers = [];

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
      var features = [];
      spec.lods[i].geoms.forEach(function (geometry, k) {
        if (geometry) {
          features.push({type: "Feature", geometry: geometry, properties: {k: k}});
        }
      });
      return L.geoJSON({type: "FeatureCollection", features: features}, {
        style: function () { return spec.style; },
        onEachFeature: function (feature, layer) {
          var props = spec.props[feature.properties.k] || {};
          if (props.popup) { layer.bindPopup(props.popup, {maxWidth: 420}); }
          if (props.tooltip) { layer.bindTooltip(props.tooltip, {sticky: true}); }
        }
      });
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
