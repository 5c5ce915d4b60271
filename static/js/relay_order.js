// The relay's order form: typing in "Find" hides the lines that do not match (every
// word begins a word of the item, its variant or its farm), and Enter there jumps to
// the first quantity shown, so that a paper order is keyed in as "name, Enter,
// quantity". The hidden lines keep their quantities; without JavaScript the whole
// table is there.
(function () {
  var find = document.querySelector("[data-relay-find]");
  if (!find) { return; }
  var rows = Array.prototype.slice.call(document.querySelectorAll(".relay-line"));
  function fold(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  var names = rows.map(function (row) { return fold(row.dataset.search).split(/\s+/); });
  function shown() { return rows.filter(function (row) { return !row.hidden; }); }
  find.addEventListener("input", function () {
    var words = fold(find.value).split(/\s+/).filter(Boolean);
    rows.forEach(function (row, i) {
      row.hidden = !words.every(function (word) {
        return names[i].some(function (name) { return name.indexOf(word) === 0; });
      });
    });
  });
  find.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") { return; }
    event.preventDefault();
    var first = shown()[0];
    if (first) { first.querySelector("input").focus(); }
  });
  rows.forEach(function (row) {
    row.querySelector("input").addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || !find.value) { return; }
      // Back to "Find" for the next item of the paper form.
      event.preventDefault();
      find.value = "";
      find.dispatchEvent(new Event("input"));
      find.focus();
    });
  });
})();
