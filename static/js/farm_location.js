/* The farm profile's map: a pin on the farm that the farmer drags (or places with a
   click) to fill the latitude and longitude fields; typing in those fields moves the
   pin. Leaflet is vendored in static/vendor/leaflet/. Without JavaScript, or if
   Leaflet fails to load, the fields stay open to be corrected by hand. */
(function () {
  "use strict";

  var dataElement = document.getElementById("farm-map-data");
  var container = document.getElementById("farm-map");
  var latitude = document.getElementById("latitude");
  var longitude = document.getElementById("longitude");
  if (!dataElement || !container || !latitude || !longitude || typeof window.L === "undefined") {
    return;
  }
  var L = window.L;
  var data = JSON.parse(dataElement.textContent);
  var words = document.getElementById("farm-place");
  var manual = document.getElementById("farm-coordinates");

  L.Icon.Default.imagePath = data.icon_path;
  container.hidden = false;
  if (manual && manual.hasAttribute("data-close-with-map")) {
    manual.open = false;  // the pin does it; the fields stay one click away
  }

  // On a phone one finger scrolls the page, not the map: the pin is dragged, and the
  // map follows it, so the zoom buttons zoom around the farm.
  var map = L.map(container, { scrollWheelZoom: false, dragging: !L.Browser.mobile });
  if (data.tiles && data.tiles.url) {
    // An unreachable tile server only leaves grey squares; the pin stays.
    L.tileLayer(data.tiles.url, {
      attribution: data.tiles.attribution || "",
      maxZoom: 19
    }).addTo(map);
  }

  function decimal(input) {
    var value = parseFloat(String(input.value).trim().replace(",", "."));
    return isFinite(value) ? value : null;
  }

  function fromFields() {
    var lat = decimal(latitude);
    var lon = decimal(longitude);
    if (lat === null || lon === null || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
      return null;
    }
    return L.latLng(lat, lon);
  }

  function describe(point) {
    if (words) {
      var parts = [point.lat.toFixed(2), point.lng.toFixed(2)];
      if (data.label) {
        parts.unshift(data.label);
      }
      words.textContent = parts.join(", ");
    }
  }

  function toFields(point) {
    latitude.value = point.lat.toFixed(6);
    longitude.value = point.lng.toFixed(6);
    describe(point);
  }

  var pin = null;
  function placePin(point) {
    if (pin) {
      pin.setLatLng(point);
      return;
    }
    var name = (data.text && data.text.pin) || "";
    pin = L.marker(point, { draggable: true, keyboard: true, title: name, alt: name });
    pin.on("dragend", function () {
      toFields(pin.getLatLng());
      map.panTo(pin.getLatLng());
    });
    pin.addTo(map);
  }

  var start = fromFields() || (data.point && L.latLng(data.point.lat, data.point.lon));
  if (start) {
    map.setView(start, 13);
    placePin(start);
  } else {
    map.setView([46.6, 2.4], 5);  // all of France, until the farm is placed
  }

  map.on("click", function (event) {
    placePin(event.latlng);
    toFields(event.latlng);
  });

  [latitude, longitude].forEach(function (input) {
    input.addEventListener("change", function () {
      var point = fromFields();
      if (point) {
        placePin(point);
        map.panTo(point);
        describe(point);
      }
    });
  });
})();
