/* The receipt's print view: a Print button, and ?print=1 opens the print dialog at once. */
(function () {
  "use strict";
  var button = document.getElementById("print-now");
  if (button) button.addEventListener("click", function () { window.print(); });
  if (document.body.hasAttribute("data-autoprint") && window === window.top) {
    window.addEventListener("load", function () { window.print(); });
  }
})();
