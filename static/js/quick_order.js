/* The quick-order grid as quantities are typed: line totals, the totals without VAT,
   VAT and with VAT, each farm's progress towards its minimum, and the filter as one
   types. The server prices the same way on "Recalculate" and when the order is
   placed (it never takes these numbers from the page); this only shows them sooner. */
(function () {
  "use strict";
  var form = document.getElementById("quick-form");
  if (!form) { return; }
  var MAX_QUANTITY = 999;
  var money = new Intl.NumberFormat(document.documentElement.lang.replace("_", "-") || "fr",
                                    { style: "currency", currency: "EUR" });
  var rows = Array.prototype.slice.call(form.querySelectorAll("tr.quick-line"));

  function format(cents) { return money.format(cents / 100); }

  // A line's unit price excl. VAT as its invoice prints it (InvoiceLine.unit_price_excl):
  // the line's total over its quantity, with two more decimals than the quantity has
  // digits, so that quantity x unit price gives the total back (7 x 1,3271 = 9,29).
  var unitText = form.dataset.unitText || "{price}";
  function unitPriceText(totalCents, value) {
    var decimals = 2 + String(value).length;
    var scale = Math.pow(10, decimals - 2);
    var units = Math.floor((2 * totalCents * scale + value) / (2 * value));  // half up
    var formatter = new Intl.NumberFormat(money.resolvedOptions().locale, {
      style: "currency", currency: "EUR",
      minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    return unitText.replace("{price}", formatter.format(units / (100 * scale)));
  }
  function number(text) { return parseInt(text, 10) || 0; }

  // The VAT inside a VAT-included amount, rounded half up to the cent (as the cart).
  function vatIncluded(total, rateBp) {
    var divisor = 10000 + rateBp;
    return Math.floor((2 * total * rateBp + divisor) / (2 * divisor));
  }

  // The quantity the server would accept on this line, else 0 (not counted).
  function quantity(row) {
    var text = row.querySelector("input").value.trim();
    if (!/^[0-9]+$/.test(text)) { return 0; }
    var value = number(text);
    if (value < 1 || value > MAX_QUANTITY || value > number(row.dataset.stock)) { return 0; }
    return value % (number(row.dataset.case) || 1) === 0 ? value : 0;
  }

  // The tier with the largest minimum at most the quantity, else the listed price.
  function unitPrice(row, value) {
    var price = number(row.dataset.price);
    if (row.dataset.wholesale !== "1") { return price; }
    var best = 0;
    row.dataset.tiers.split(" ").forEach(function (pair) {
      var parts = pair.split(":");
      var min = number(parts[0]);
      if (min && min <= value && min > best) { best = min; price = number(parts[1]); }
    });
    return price;
  }

  function recompute() {
    var total = 0, vat = 0, farms = {};
    rows.forEach(function (row) {
      var value = quantity(row);
      var cell = row.querySelector(".quick-line-total");
      var unitCell = row.querySelector(".quick-line-unit");
      if (!value) { cell.textContent = ""; unitCell.textContent = ""; return; }
      var line = unitPrice(row, value) * value;
      var lineVat = vatIncluded(line, number(row.dataset.vat));
      total += line;
      vat += lineVat;
      cell.textContent = format(line - lineVat);
      unitCell.textContent = unitPriceText(line - lineVat, value);
      var farm = farms[row.dataset.farm] || (farms[row.dataset.farm] = { total: 0, wholesale: false });
      farm.total += line;
      farm.wholesale = farm.wholesale || row.dataset.wholesale === "1";
    });
    form.querySelector("[data-total=ht]").textContent = format(total - vat);
    form.querySelector("[data-total=vat]").textContent = format(vat);
    form.querySelector("[data-total=ttc]").textContent = format(total);
    form.querySelectorAll("[data-farm-progress]").forEach(function (item) {
      var farm = farms[item.dataset.farmProgress];
      var minimum = number(item.dataset.minimum);
      item.hidden = !(farm && farm.wholesale);
      if (item.hidden) { return; }
      item.querySelector("[data-subtotal]").textContent = format(farm.total);
      item.querySelector("progress").value = Math.min(farm.total, minimum);
      item.classList.toggle("quick-met", farm.total >= minimum);
    });
  }

  // Lower case without accents; each word typed begins a word of the line (as the server).
  function folded(text) {
    return text.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
  }

  function filter(words) {
    var wanted = folded(words).split(/\s+/).filter(Boolean);
    rows.forEach(function (row) {
      var names = folded(row.dataset.search).split(/\s+/);
      row.hidden = !row.classList.contains("table-danger") && !wanted.every(function (word) {
        return names.some(function (name) { return name.indexOf(word) === 0; });
      });
    });
    form.querySelectorAll(".quick-category").forEach(function (category) {
      category.hidden = !category.querySelector("tr.quick-line:not([hidden])");
      if (wanted.length && !category.hidden) { category.open = true; }
    });
    form.querySelectorAll(".quick-farm").forEach(function (farm) {
      farm.hidden = !farm.querySelector(".quick-category:not([hidden])");
    });
    form.querySelector("input[name=filter]").value = words;
  }

  form.addEventListener("input", recompute);
  var box = document.getElementById("quick-filter");
  if (box) {
    box.addEventListener("input", function () { filter(box.value); });
    // Filtering happens as one types: sending the filter form would lose what was typed.
    box.form.addEventListener("submit", function (event) {
      event.preventDefault();
      filter(box.value);
    });
  }
})();
