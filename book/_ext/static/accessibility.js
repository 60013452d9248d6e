// Accessibility repairs of "Saliency under the Microscope" for what the book's HTML gets from its libraries.
// ipywidgets' static HTML manager renders the explorers after the page loads (each frame an <img> that
// carries its alt already), and each slider handle is a role="slider" element with no accessible name.
// This script names every slider handle by its widget's label, on every render (a MutationObserver).
(function () {
  "use strict";

  function repair(root) {
    root.querySelectorAll(".widget-slider [role='slider']").forEach(function (handle) {
      if (handle.getAttribute("aria-label")) {
        return;
      }
      const widget = handle.closest(".widget-slider");
      const label = widget && widget.querySelector(".widget-label");
      const text = label ? label.textContent.trim() : "";
      handle.setAttribute("aria-label", text || "value");
    });
  }

  function start() {
    repair(document);
    new MutationObserver(function () { repair(document); })
      .observe(document.body, {childList: true, subtree: true});
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
