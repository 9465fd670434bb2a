/* The top bar's menus are <details> elements and work without this file; it only
   closes an open menu on a click elsewhere or on Escape, as people expect. */
(function () {
  "use strict";
  function closeMenus(except) {
    document.querySelectorAll("details.nav-menu[open]").forEach(function (menu) {
      if (menu !== except) { menu.removeAttribute("open"); }
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest ? event.target.closest("details.nav-menu") : null);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var open = document.querySelector("details.nav-menu[open]");
      closeMenus(null);
      if (open) { open.querySelector("summary").focus(); }
    }
  });
})();
