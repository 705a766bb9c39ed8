// The page is complete without this script: it only sorts tables by a
// clicked column, folds and unfolds the host groups, and unfolds them
// all for printing.
(function () {
  "use strict";
  function key(td) {
    var v = td.getAttribute("data-v");
    return v === null ? td.textContent : v;
  }
  function sortBy(th) {
    var table = th.closest("table"), body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var asc = th.getAttribute("data-dir") !== "asc";
    var num = th.classList.contains("n");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      var c = num ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    th.setAttribute("data-dir", asc ? "asc" : "desc");
  }
  document.addEventListener("click", function (e) {
    var t = e.target;
    if (t.matches && t.matches("th.sort")) { sortBy(t); }
    if (t.matches && t.matches("button[data-fold]")) {
      var open = t.getAttribute("data-fold") === "open";
      document.querySelectorAll("details.grp").forEach(function (d) { d.open = open; });
    }
  });
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.grp").forEach(function (d) { d.open = true; });
  });
  document.documentElement.setAttribute("data-script", "ran");
})();
