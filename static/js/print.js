// A "Print" button for the pick, packing and distribution lists: the browser's own
// print command works as well, so the button only shows when JavaScript runs.
document.querySelectorAll(".js-print").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
