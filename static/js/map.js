/* The map page: draws the markers listed in #map-data with Leaflet (vendored in
   static/vendor/leaflet/). The server already rendered the same places as a list,
   so without JavaScript, or if Leaflet fails to load, nothing is lost. */
(function () {
  "use strict";

  var dataElement = document.getElementById("map-data");
  var container = document.getElementById("map");
  if (!dataElement || !container || typeof window.L === "undefined") {
    return;
  }
  var L = window.L;
  var data = JSON.parse(dataElement.textContent);
  var text = data.text || {};

  // Leaflet's default icon images live next to the vendored script.
  L.Icon.Default.imagePath = data.icon_path;

  var centre = [data.centre.lat, data.centre.lon];
  var map = L.map(container, { scrollWheelZoom: false });
  // Open on the whole search circle (its diameter is twice the radius).
  map.fitBounds(L.latLng(centre).toBounds(data.centre.radius_km * 2000), { padding: [8, 8] });

  if (data.tiles && data.tiles.url) {
    // An unreachable tile server only leaves grey squares; markers stay.
    L.tileLayer(data.tiles.url, {
      attribution: data.tiles.attribution || "",
      maxZoom: 19
    }).addTo(map);
  }

  L.circle(centre, {
    radius: data.centre.radius_km * 1000,
    color: "#198754",
    weight: 2,
    fillOpacity: 0.05,
    interactive: false
  }).addTo(map);
  L.circleMarker(centre, {
    radius: 6,
    color: "#0f5132",
    fillColor: "#198754",
    fillOpacity: 1
  }).bindTooltip(data.centre.label || text.you_are_here || "").addTo(map);

  var pickupIcon = new L.Icon.Default({ className: "marker-pickup" });

  function popupContent(item) {
    // Built from DOM nodes: names come from users and are never parsed as HTML.
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.className = "map-popup-name";
    title.textContent = item.name;
    box.appendChild(title);
    var kind = document.createElement("div");
    kind.className = "map-popup-kind";
    kind.textContent = item.kind_label + (item.place ? " · " + item.place : "");
    box.appendChild(kind);
    var distance = document.createElement("div");
    distance.textContent = item.distance_label;
    box.appendChild(distance);
    if (item.url) {
      var link = document.createElement("a");
      link.className = "map-popup-link";
      link.href = item.url;
      link.textContent = text.see_farm || item.name;
      box.appendChild(link);
    }
    return box;
  }

  (data.markers || []).forEach(function (item) {
    var options = { title: item.name, alt: item.name, keyboard: true };
    if (item.kind === "pickup_point") {
      options.icon = pickupIcon;
    }
    L.marker([item.lat, item.lon], options).bindPopup(popupContent(item)).addTo(map);
  });
})();
