/* Loaded before the ipywidgets HTML manager on pages with widgets. */

/* 1. The ipywidgets HTML manager typesets widget labels with the MathJax 2 API
   (MathJax.Hub.Queue); the book loads MathJax 3, which has no Hub, so every
   widget label raised a TypeError. Give MathJax 3 a Hub.Queue that forwards
   to its typesetPromise. Deferred MathJax has replaced its configuration
   object by the real MathJax 3 object by DOMContentLoaded, and this listener
   is registered before the widget manager's. */
(function () {
  function install() {
    var mj = window.MathJax;
    if (!mj || mj.Hub || !mj.startup) return;
    mj.Hub = {
      Queue: function (job) {
        var element = job && job[2];
        mj.startup.promise
          .then(function () { return mj.typesetPromise(element ? [element] : undefined); })
          .catch(function (err) { console.warn("MathJax could not typeset a widget label", err); });
      }
    };
  }
  document.addEventListener("DOMContentLoaded", install);
})();

/* 2. The widget bundle asks for its icon fonts (the play/pause symbols) relative to where
   RequireJS says each of its modules lives: by default next to the page, under two
   folders (@jupyter-widgets/ and @jupyter-widgets/html-manager/dist/), so every font was
   fetched twice.  Place all its modules beside this file: tools/vendor_assets.py puts the
   fonts there, and each is fetched once, from _static/widgets/.  (The bundle's own setting
   for this, window.__jupyter_widgets_assets_path__, is read after its style sheets.) */
(function () {
  var here = document.currentScript && document.currentScript.src;
  if (!here || !window.requirejs) return;
  var dir = here.replace(/[?#].*$/, "").replace(/[^/]*$/, "");
  var paths = {};
  ["base", "base7", "controls", "controls7", "html-manager",
   "html-manager/dist/libembed-amd"].forEach(function (name) {
    paths["@jupyter-widgets/" + name] = dir + name.split("/").pop();
  });
  window.requirejs.config({ paths: paths });
})();

/* 3. The Play widget's buttons show only an icon and have no accessible name (screen
   readers announce "button"), nor has a slider's handle. Name each button after its icon
   and each handle after its slider's label, once the widgets render. */
(function () {
  var NAMES = { "fa-play": "Play", "fa-pause": "Pause", "fa-stop": "Stop",
                "fa-retweet": "Repeat", "fa-repeat": "Repeat" };
  function name(root) {
    root.querySelectorAll(".widget-play button:not([aria-label])").forEach(function (b) {
      var icon = b.querySelector("i");
      var cls = icon ? Array.prototype.find.call(icon.classList, function (c) { return NAMES[c]; }) : null;
      if (cls) b.setAttribute("aria-label", NAMES[cls]);
    });
    root.querySelectorAll(".widget-slider .noUi-handle:not([aria-label])").forEach(function (h) {
      var slider = h.closest(".widget-slider");
      var label = slider && slider.querySelector(".widget-label");
      var text = label && label.textContent.trim();
      h.setAttribute("aria-label", text || "value");
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    name(document);
    new MutationObserver(function () { name(document); })
      .observe(document.body, { childList: true, subtree: true });
  });
})();
