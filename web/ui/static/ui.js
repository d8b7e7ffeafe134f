/* tongban UI: small helpers, no framework, no build step. Everything works without them too;
   they make the counter faster: live check digits, the checklist on item choice, upload progress,
   and per-file errors that keep the rest of the form. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var textEl = document.getElementById("ui-text");
  var T = textEl ? JSON.parse(textEl.textContent) : {};
  function t(key, params) {
    var s = T[key] || key;
    Object.keys(params || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(params[k])); });
    return s;
  }
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  /* --- "back" on error pages (no javascript: URL: the CSP allows no inline script) --- */
  document.querySelectorAll("a[data-history-back]").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      if (window.history.length > 1) { ev.preventDefault(); window.history.back(); }
    });
  });

  /* --- check digits: ports of states/identifiers.py (the server checks again) --- */
  var USCC = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  var USCC_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  function checkUscc(v) {
    if (!v) return t("id.empty");
    if (v.length !== 18) return t("id.uscc_len", {n: v.length});
    var sum = 0;
    for (var i = 0; i < 18; i++) {
      if (USCC.indexOf(v[i]) < 0) return t("id.uscc_char", {pos: i + 1, ch: v[i]});
      if (i < 17) sum += USCC.indexOf(v[i]) * USCC_W[i];
    }
    var exp = USCC[(31 - sum % 31) % 31];
    return v[17] === exp ? "" : t("id.uscc_check", {exp: exp, got: v[17]});
  }
  var RID_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  function checkResidentId(v) {
    if (!v) return t("id.empty");
    if (v.length !== 18) return t("id.rid_len", {n: v.length});
    if (!/^\d{17}[\dX]$/.test(v)) return t("id.rid_shape");
    var y = +v.slice(6, 10), m = +v.slice(10, 12), d = +v.slice(12, 14);
    var born = new Date(Date.UTC(y, m - 1, d));
    if (born.getUTCFullYear() !== y || born.getUTCMonth() !== m - 1 || born.getUTCDate() !== d ||
        y < 1850 || born > new Date()) return t("id.rid_date");
    var sum = 0;
    for (var i = 0; i < 17; i++) sum += +v[i] * RID_W[i];
    var exp = "10X98765432"[sum % 11];
    return v[17] === exp ? "" : t("id.rid_check", {exp: exp, got: v[17]});
  }
  var idInput = document.querySelector("[data-idcheck]");
  if (idInput) {
    var out = document.getElementById("idcheck");
    var validate = function () {
      var kind = (document.querySelector('input[name="applicant_kind"]:checked') || {}).value;
      var v = idInput.value.trim().toUpperCase();
      if (!v) { out.textContent = ""; idInput.classList.remove("invalid", "valid"); return; }
      var problem = kind === "person" ? checkResidentId(v) : checkUscc(v);
      out.textContent = problem || "✓ " + t("receive.id_ok");
      out.className = "idcheck " + (problem ? "bad" : "ok");
      idInput.classList.toggle("invalid", !!problem);
      idInput.classList.toggle("valid", !problem);
      idInput.setCustomValidity(problem);
    };
    idInput.addEventListener("input", validate);
    document.querySelectorAll('input[name="applicant_kind"]').forEach(function (r) {
      r.addEventListener("change", validate);
    });
    if (idInput.value) validate();
  }

  /* --- files chosen per checklist line, with room for a per-file error --- */
  function listFiles(input) {
    var ul = document.querySelector('[data-files-for="' + input.name + '"]');
    var err = document.querySelector('[data-error-for="' + input.name + '"]');
    if (err) err.textContent = "";
    if (!ul) return;
    ul.innerHTML = "";
    Array.prototype.forEach.call(input.files, function (f) {
      var li = document.createElement("li");
      li.dataset.name = f.name;
      li.textContent = f.name + " · " + (f.size < 1048576 ? (f.size / 1024).toFixed(1) + " KB" : (f.size / 1048576).toFixed(1) + " MB");
      ul.appendChild(li);
    });
  }
  function wireFiles(root) {
    root.querySelectorAll('input[type="file"]').forEach(function (input) {
      input.addEventListener("change", function () { listFiles(input); });
    });
  }
  wireFiles(document);

  /* --- the item picker: a code in any case ("qy-001"), a piece of the name, or a list option; Enter or
     Tab picks it, the checklist appears and the cursor goes to its first line --- */
  var itemInput = document.getElementById("item");
  if (itemInput) {
    var hidden = document.getElementById("item_id");
    var itemError = document.querySelector('[data-error-for="item"]');
    var loading = null;
    var chosenFiles = function () {
      var n = 0;
      document.querySelectorAll('#checklist input[type="file"]').forEach(function (i) { n += i.files.length; });
      return n;
    };
    var load = function (id, focusAfter) {
      if (hidden.value === String(id) && document.querySelector('#checklist [data-item-id="' + id + '"]')) {
        if (focusAfter) focusChecklist();
        return Promise.resolve();
      }
      var dropped = chosenFiles();
      hidden.value = id;
      return fetch("/ui/items/" + id + "/materials", {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var box = document.getElementById("checklist");
          box.innerHTML = html;
          wireFiles(box);
          if (itemError) itemError.textContent = "";
          itemInput.classList.remove("invalid");
          var slot = document.querySelector('[data-error-for="checklist"]');
          if (slot) slot.textContent = dropped ? t("receive.files_dropped", {n: dropped}) : "";
          if (focusAfter) focusChecklist();
        });
    };
    var focusChecklist = function () {
      var a = document.activeElement;
      // only when the clerk just left the picker (Tab/Enter), never away from a field they went on to type in
      if (a === itemInput || a === document.body || (a && a.name === "applicant_kind")) {
        var first = document.querySelector("#checklist input");
        if (first) first.focus();
      }
    };
    var pick = function (focusAfter) {
      var text = itemInput.value.trim();
      if (!text) return;
      var opt = Array.prototype.find.call(document.querySelectorAll("#item-options option"),
        function (o) { return o.value === itemInput.value; });
      if (opt) { loading = load(opt.dataset.id, focusAfter); return; }
      loading = fetch("/ui/items/match?q=" + encodeURIComponent(text), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (body) {
          if (body.id) {
            itemInput.value = body.label;
            return load(body.id, focusAfter);
          }
          hidden.value = "";
          if (itemError) itemError.textContent = body.message || "";
          itemInput.classList.add("invalid");
        });
    };
    itemInput.addEventListener("input", function () {
      var opt = Array.prototype.find.call(document.querySelectorAll("#item-options option"),
        function (o) { return o.value === itemInput.value; });
      if (opt) load(opt.dataset.id, false);  // chosen from the list with the mouse
    });
    itemInput.addEventListener("change", function () { pick(true); });
    itemInput.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); pick(true); }
    });
  }

  /* --- Enter in a field of the receive form never submits (it would reload the page and drop the chosen
     scans): it moves on to the next field, like Tab. Only the submit button (Enter or Space on it) sends. --- */
  var receiveForm = document.getElementById("receive-form");
  if (receiveForm) {
    receiveForm.addEventListener("keydown", function (ev) {
      var el = ev.target;
      if (ev.key !== "Enter" || !el || el.id === "item" || el.tagName === "TEXTAREA" || el.tagName === "BUTTON" || el.type === "file") return;
      if (el.tagName !== "INPUT" && el.tagName !== "SELECT") return;
      ev.preventDefault();
      var fields = Array.prototype.filter.call(receiveForm.querySelectorAll("input, select, textarea, button"),
        function (f) { return f.type !== "hidden" && !f.disabled && f.offsetParent !== null; });
      var next = fields[fields.indexOf(el) + 1];
      if (next) next.focus();
    });
    var loadButton = receiveForm.querySelector('button[name="action"][value="load"]');
    if (loadButton) loadButton.remove();  // the no-script way to load the checklist; the picker does it here
  }

  /* --- the transfer packet inline, on request: packets run to many MB, and every case page would
     otherwise download one; a click shows it where the reviewer reads the bookmarks --- */
  var packetShow = document.getElementById("packet-show");
  if (packetShow) {
    packetShow.addEventListener("click", function () {
      var box = document.getElementById("packet-embed");
      var obj = document.createElement("object");
      obj.id = "packet-pdf";
      obj.type = "application/pdf";
      obj.data = box.dataset.src;
      obj.setAttribute("aria-label", box.dataset.label);
      box.innerHTML = "";
      box.appendChild(obj);
      document.querySelectorAll("#packet-bookmarks a").forEach(function (a) {
        a.addEventListener("click", function (ev) {
          ev.preventDefault();
          var fresh = obj.cloneNode();
          fresh.data = a.getAttribute("href");
          obj.replaceWith(fresh);
          obj = fresh;
        });
      });
    });
  }

  /* --- submit with progress; on refusal show the error where it belongs, keep the form --- */
  document.querySelectorAll("form[data-xhr]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      var submitter = ev.submitter;
      if (submitter && submitter.name === "action") { ev.preventDefault(); return; }  // never reload: files would go
      ev.preventDefault();
      var data = new FormData(form);
      var bar = document.getElementById("upload-progress");
      var status = document.getElementById("upload-status");
      var button = form.querySelector('button[type="submit"].primary');
      form.querySelectorAll(".field-error").forEach(function (e) { e.textContent = ""; });
      form.querySelectorAll(".files li.bad").forEach(function (li) {
        li.classList.remove("bad");
        var em = li.querySelector("em"); if (em) em.remove();
      });
      var banner = form.querySelector('[data-error-for="_form"]');
      if (banner) banner.hidden = true;
      if (bar) { bar.hidden = false; bar.value = 0; }
      if (status) status.textContent = t("receive.uploading");
      if (button) button.disabled = true;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("action"));  // not form.action: a field may be named "action"
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable && bar) {
          bar.value = Math.round(100 * e.loaded / e.total);
          if (status) status.textContent = t("receive.uploading") + " " + bar.value + "%";
        }
      };
      xhr.onloadend = function () {
        if (button) button.disabled = false;
        if (bar) bar.hidden = true;
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
        if (!body.message) body.message = (typeof body.detail === "string" && body.detail) || xhr.statusText || t("error.title");
        if (xhr.status >= 200 && xhr.status < 300 && body.redirect) { window.location = body.redirect; return; }
        if (status) status.textContent = "";
        showErrors(form, body);
      };
      xhr.send(data);
    });
  });

  function showErrors(form, body) {
    var errors = body.errors || {};
    if (body.field && !errors[body.field]) errors[body.field] = body.message;
    var shown = false;
    if (body.file) {
      form.querySelectorAll(".files li").forEach(function (li) {
        if (li.dataset.name === body.file) {
          li.classList.add("bad");
          var em = document.createElement("em");
          em.textContent = " — " + body.message;
          li.appendChild(em);
          shown = true;
        }
      });
    }
    Object.keys(errors).forEach(function (field) {
      if (body.file && field === body.field && shown) return;
      var slot = form.querySelector('[data-error-for="' + field + '"]');
      if (slot) { slot.textContent = errors[field]; shown = true; }
      var input = form.querySelector('[name="' + field + '"]');
      if (input) input.classList.add("invalid");
    });
    var banner = form.querySelector('[data-error-for="_form"]');
    if (banner && (!shown || body.error === "csrf")) {
      banner.textContent = body.message || t("error.title");
      banner.hidden = false;
    }
    var first = form.querySelector(".files li.bad, .field-error:not(:empty)");
    if (first) first.scrollIntoView({block: "center"});
  }
})();
