/* The case page: while the system forwards the case (转递中…) poll its status and show the new state
   without a manual reload; after 确认收件并打印回执 open the receipt's print dialog in the same step. */
(function () {
  "use strict";
  var transit = document.getElementById("in-transit");
  if (transit) {
    var url = transit.dataset.statusUrl, version = transit.dataset.version, started = Date.now();
    var poll = function () {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (body && String(body.version) !== version) { window.location.replace(window.location.pathname); return; }
          var s = Math.round((Date.now() - started) / 1000);
          if (s >= 10 && transit.dataset.slow) {
            var note = transit.querySelector(".slow") || transit.appendChild(document.createElement("span"));
            note.className = "slow";
            note.textContent = " " + transit.dataset.slow.split("{s}").join(String(s));
          }
          setTimeout(poll, s < 30 ? 1000 : 3000);
        })
        .catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 1000);
  }

  var printBox = document.getElementById("print-receipt");
  if (printBox) {
    // one step: the receipt loads in a frame of this page and its print dialog opens; the clerk stays on the case
    var frame = document.createElement("iframe");
    frame.id = "receipt-frame";
    frame.title = "收件回执";
    frame.style.cssText = "position:fixed;right:0;bottom:0;width:0;height:0;border:0";
    frame.addEventListener("load", function () {
      try { frame.contentWindow.focus(); frame.contentWindow.print(); } catch (e) { window.open(printBox.dataset.src); }
    });
    frame.src = printBox.dataset.src;
    document.body.appendChild(frame);
    if (window.history.replaceState) window.history.replaceState(null, "", window.location.pathname);  // a reload does not print again
  }
})();
