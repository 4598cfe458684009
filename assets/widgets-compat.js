/* Loaded before the ipywidgets HTML manager on pages with widgets.

   1. The ipywidgets HTML manager typesets widget labels with the MathJax 2 API
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

/* 2. The theme's FontAwesome script replaces every <i class="fa ..."> by an <svg>.
   The widgets' Play button keeps a handle on its <i> icon and throws when it has
   been replaced, which also breaks the links between widgets. "nest" puts the
   svg inside the <i> instead. Set before the deferred fontawesome.js runs. */
window.FontAwesomeConfig = Object.assign(window.FontAwesomeConfig || {}, { autoReplaceSvg: "nest" });
