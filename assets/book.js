/* The book's own script, on every page (copied to _static/ by tools/vendor_assets.py).

   Blocks that may be wider than the content column (tables, display equations, code) scroll
   sideways inside their own box.  When one of them actually is wider than the column, this
   script
   - adds a visible cue above it ("scroll sideways ...") and a shadow at its right edge, and
   - makes it reachable and scrollable from the keyboard (tabindex 0) with a name for
     screen readers (role "region", aria-label),
   and undoes both when the window grows so that it fits.  It runs once the page has loaded,
   again after MathJax has typeset the page, after every resize and when a dropdown opens. */
(function () {
  "use strict";

  // Inline math wider than its line (a long formula on a phone) scrolls in its own box;
  // narrower inline math is never clipped (assets/book.css).
  function markWideInlineMath() {
    document.querySelectorAll(".bd-article span.math").forEach(function (el) {
      var block = el.closest("p, li, td, th, dd, dt, div");
      if (!block || block.matches("td, th") || block.closest("td, th")) return;
      el.classList.remove("is-wide");
      if (el.scrollWidth > block.clientWidth) el.classList.add("is-wide");
    });
  }

  var KINDS = [
    { selector: ".bd-article .pst-scrollable-table-container, .bd-article div.cell_output table",
      label: "Table", cue: "The table is wider than the page: scroll sideways to see all of it." },
    { selector: ".bd-article mjx-container[display='true']",
      label: "Equation", cue: "The equation is wider than the page: scroll sideways to see all of it." },
    { selector: ".bd-article span.math.is-wide",
      label: "Formula", cue: null },
    { selector: ".bd-article div.cell_input pre, .bd-article div.highlight pre",
      label: "Code", cue: null }
  ];

  function scroller(el) {
    // an output table scrolls in the output area that holds it
    if (el.tagName === "TABLE") {
      var box = el.parentElement;
      box.style.overflowX = "auto";
      return box;
    }
    return el;
  }

  function mark(el, kind) {
    var wide = el.scrollWidth > el.clientWidth + 1;
    var marked = el.classList.contains("is-overflowing");
    if (wide === marked) return;
    el.classList.toggle("is-overflowing", wide);
    if (wide) {
      el.setAttribute("tabindex", "0");
      el.setAttribute("role", "region");
      el.setAttribute("aria-label", kind.label + ", scrolls sideways");
      if (kind.cue) {
        var cue = document.createElement("p");
        cue.className = "scroll-cue";
        cue.setAttribute("aria-hidden", "true");
        cue.textContent = kind.cue;
        el.parentNode.insertBefore(cue, el);
      }
    } else {
      ["tabindex", "role", "aria-label"].forEach(function (a) { el.removeAttribute(a); });
      el.classList.remove("is-overflowing");
      var prev = el.previousElementSibling;
      if (prev && prev.classList.contains("scroll-cue")) prev.remove();
    }
  }

  function update() {
    markWideInlineMath();
    KINDS.forEach(function (kind) {
      document.querySelectorAll(kind.selector).forEach(function (el) {
        mark(scroller(el), kind);
      });
    });
    document.documentElement.dataset.scrollCues = "ready";
  }

  var timer = null;
  function later() {
    clearTimeout(timer);
    timer = setTimeout(update, 150);
  }

  window.addEventListener("load", function () {
    update();
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) mj.startup.promise.then(update);
  });
  window.addEventListener("resize", later);
  // a dropdown (solution, hidden code) that opens shows blocks not measured before
  document.addEventListener("click", later);
  document.addEventListener("toggle", later, true);
})();
