// "Use my position": fills the hidden latitude/longitude fields from the browser's
// geolocation and sends the form. Without JavaScript the button stays hidden and the
// commune field does the job.
(function () {
  "use strict";
  var button = document.getElementById("use-position");
  var form = document.getElementById("location-form");
  var status = document.getElementById("position-status");
  if (!button || !form || !("geolocation" in navigator)) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = button.dataset.waiting || "…";
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        form.elements.latitude.value = pos.coords.latitude.toFixed(5);
        form.elements.longitude.value = pos.coords.longitude.toFixed(5);
        form.submit();
      },
      function () {
        status.textContent = button.dataset.failed || "";
      },
      { enableHighAccuracy: false, timeout: 10000, maximumAge: 600000 }
    );
  });
})();
