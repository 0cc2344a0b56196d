(function () {
  "use strict";
  // Filters the grant table; reads only the table's own data-* attributes (never HTML).
  var form = document.getElementById("grant-filter");
  var table = document.getElementById("grants");
  if (!form || !table) return;
  var count = document.getElementById("grant-count");
  var groups = Array.prototype.slice.call(table.tBodies);
  var total = 0;
  groups.forEach(function (body) {
    total += body.querySelectorAll("tr[data-principal]").length;
  });

  function text(name) {
    return form.elements[name].value.trim().toLowerCase();
  }

  // "key=value" among the space-separated terms (a product's LF-tags, a tag expression's)
  function hasTag(terms, wanted) {
    return (" " + (terms || "").replace(/;/g, " ") + " ").indexOf(" " + wanted + " ") !== -1;
  }

  function apply() {
    var domain = form.elements.domain.value;
    var product = text("product");
    var principal = text("principal");
    var pii = form.elements.pii.value;
    var approver = text("approver");
    var lftag = text("lftag");
    var daysText = form.elements.days.value.trim();
    var days = daysText === "" ? null : Number(daysText);
    var shown = 0;
    groups.forEach(function (body) {
      var inGroup = 0;
      var rows = body.querySelectorAll("tr[data-principal]");
      for (var i = 0; i < rows.length; i++) {
        var d = rows[i].dataset;
        var ok =
          (!domain || d.domain === domain) &&
          (!product || d.product.indexOf(product) !== -1) &&
          (!principal || d.principal.indexOf(principal) !== -1) &&
          (!pii || d.pii === pii) &&
          (days === null || (d.days !== "" && Number(d.days) <= days)) &&
          (!approver || d.approver.toLowerCase().indexOf(approver) !== -1) &&
          (!lftag || hasTag(d.lftags, lftag) || hasTag(d.viatags, lftag));
        rows[i].hidden = !ok;
        if (ok) inGroup++;
      }
      body.hidden = inGroup === 0;
      shown += inGroup;
    });
    count.value = "showing " + shown + " of " + total + " grants";
    table.dataset.shown = String(shown);
  }

  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    apply();
  });
  form.addEventListener("reset", function () {
    window.setTimeout(apply, 0);
  });
  // "show these grants" links of the per-domain sections set the domain filter
  Array.prototype.forEach.call(document.querySelectorAll("a[data-filter-domain]"), function (a) {
    a.addEventListener("click", function () {
      form.reset();
      form.elements.domain.value = a.getAttribute("data-filter-domain");
      apply();
    });
  });
  form.hidden = false;
  apply();
})();
