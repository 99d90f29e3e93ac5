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

  /* Context drawn for orientation only (admin lines, place names, accuracy bands): it never
     catches a click, so a click on it reaches the map. Labels show from spec.labelMinZoom. */
  window.sitingStaticLayer = function (map, spec) {
    var group = L.featureGroup();
    if (spec.geojson) {
      group.addLayer(L.geoJSON(spec.geojson, {style: spec.style, interactive: false}));
    }
    var labels = L.featureGroup();
    (spec.labels || []).forEach(function (label) {
      var icon = L.divIcon({className: "siting-label-anchor", iconSize: [0, 0],
        html: "<span class='" + label.cls + "'>" + label.html + "</span>"});
      labels.addLayer(L.marker([label.lat, label.lon], {icon: icon, interactive: false, keyboard: false}));
    });
    function toggle() {
      var show = map.getZoom() >= (spec.labelMinZoom || 0);
      if (show && !group.hasLayer(labels)) { group.addLayer(labels); }
      if (!show && group.hasLayer(labels)) { group.removeLayer(labels); }
    }
    map.on("zoomend", toggle);
    toggle();
    return group;
  };

  /* Zones by key, so the findings list can open a zone's popup. */
  var zones = {};
  window.sitingZone = function (key, layer) { zones[key] = layer; return layer; };
  window.sitingOpenZone = function (key) {
    var layer = zones[key];
    if (!layer) { return false; }
    var popupLayer = layer.getPopup() ? layer : null;
    layer.eachLayer && layer.eachLayer(function (child) { if (!popupLayer && child.getPopup && child.getPopup()) { popupLayer = child; } });
    (popupLayer || layer).openPopup();
    return true;
  };

  /* A row of the findings list (data-zone) opens its zone's popup. */
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("[data-zone]");
    if (row) { sitingOpenZone(row.getAttribute("data-zone")); }
  });

  function withModifier(event) {
    return Boolean(event && (event.shiftKey || event.ctrlKey || event.altKey || event.metaKey));
  }

  /* In the reviewer page a click checks the point; a popup opens only with a modifier key
     (Shift, Ctrl, Alt or ⌘) or from the findings list. Call before any popup is bound. */
  window.sitingPopupsOnModifier = function () {
    var open = L.Layer.prototype._openPopup;
    L.Layer.include({
      _openPopup: function (e) {
        if (e && e.type === "click" && !withModifier(e.originalEvent)) { return; }  // let the click reach the map
        return open.call(this, e);
      }
    });
  };

  /* The page and the map frame talk by postMessage, same origin only: the map posts clicks and
     drawn sites; the page asks the map to go to a place or open a zone's popup. */
  window.sitingPageBridge = function (map, options) {
    var origin = window.location.origin;
    var embedded = window.parent !== window;
    function post(message) { if (embedded) { window.parent.postMessage(message, origin); } }
    var quietUntil = 0;  // the click that finishes a drawing is not also a click to check
    function drawing() {
      return Date.now() < quietUntil || Boolean(map.pm && (map.pm.globalDrawModeEnabled() || map.pm.globalEditModeEnabled()));
    }
    map.on("click", function (e) {
      if (withModifier(e.originalEvent) || drawing()) { return; }
      post({type: "siting:click", lon: e.latlng.lng, lat: e.latlng.lat});
    });
    var placeMarker = null;
    window.addEventListener("message", function (event) {
      if (event.origin !== origin || event.source !== window.parent || !event.data) { return; }
      var data = event.data;
      if (data.type === "siting:goto") {
        if (data.bounds) {
          map.fitBounds([[data.bounds[1], data.bounds[0]], [data.bounds[3], data.bounds[2]]], {maxZoom: 13});
        } else {
          map.setView([data.lat, data.lon], Math.max(map.getZoom(), 12));
        }
        if (placeMarker) { map.removeLayer(placeMarker); }
        placeMarker = L.marker([data.lat, data.lon], {interactive: false, keyboard: false, icon: L.divIcon({
          className: "siting-label-anchor", iconSize: [0, 0],
          html: "<span class='siting-found-place'></span><span class='siting-place-label siting-found-label'></span>"})}).addTo(map);
        placeMarker.getElement().querySelector(".siting-found-label").textContent = data.name || "";
      } else if (data.type === "siting:open-zone") {
        sitingOpenZone(data.key);
      }
    });
    if (options && options.draw && map.pm) {
      map.pm.setLang("zh");
      map.pm.addControls({
        position: "topleft", drawMarker: true, drawPolyline: true, drawPolygon: true, drawRectangle: true,
        drawCircle: false, drawCircleMarker: false, drawText: false, editMode: false, dragMode: false,
        cutPolygon: false, removalMode: false, rotateMode: false
      });
      map.on("pm:drawend", function () { quietUntil = Date.now() + 400; });
      map.on("pm:create", function (e) {
        quietUntil = Date.now() + 400;
        var geometry = e.layer.toGeoJSON().geometry;
        post({type: "siting:draw", geometry: geometry});
      });
    }
    document.body.dataset.bridge = "ready";
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
