/* 自助机: the inactivity wipe, the application's steps, the ID-card reader and the signature pad.
   No data is kept by the page: on timeout or 完成 the screen is cleared and the server told to forget. */
(function () {
  "use strict";
  var body = document.body;

  /* A page restored from the back/forward cache could show a previous applicant: fetch it anew. */
  window.addEventListener("pageshow", function (e) { if (e.persisted) { window.location.reload(); } });

  // --- the inactivity timeout ---------------------------------------------------------------------
  var idle = parseInt(body.getAttribute("data-idle-seconds") || "90", 10);
  var leftEl = document.getElementById("idle-left");
  var bar = document.getElementById("idle");
  var finishForm = document.getElementById("finish-form");
  var left = idle, wiped = false;

  function wipe() {
    if (wiped) { return; }
    if (body.hasAttribute("data-home")) {  // the start screen holds no applicant: just start it afresh
      if (window.location.search) { wiped = true; window.location.replace("/ui/kiosk"); } else { touch(); }
      return;
    }
    wiped = true;
    document.querySelectorAll("form").forEach(function (f) { if (f !== finishForm) { f.reset(); } });
    var pad = document.getElementById("sign-pad");
    if (pad) { pad.getContext("2d").clearRect(0, 0, pad.width, pad.height); }
    var main = document.getElementById("kmain");
    if (main) { main.textContent = ""; }
    if (finishForm) {
      document.getElementById("finish-reason").value = "timeout";
      finishForm.submit();  // the server forgets the visit and sends the start screen
    }
  }

  function touch() {
    left = idle;
    if (leftEl) { leftEl.textContent = String(left); }
    if (bar) { bar.classList.remove("warn"); }
  }

  if (finishForm && leftEl) {
    ["pointerdown", "keydown", "input", "touchstart", "change"].forEach(function (ev) {
      document.addEventListener(ev, touch, true);
    });
    window.setInterval(function () {
      left -= 1;
      if (left <= 0) { leftEl.textContent = "0"; wipe(); return; }
      leftEl.textContent = String(left);
      if (left <= 15 && bar) { bar.classList.add("warn"); }
    }, 1000);
    finishForm.addEventListener("submit", function () {
      var main = document.getElementById("kmain");
      if (main) { main.textContent = ""; }  // nothing readable while the start screen loads
    });
  }

  // --- the receipt -----------------------------------------------------------------------------------
  var printBtn = document.getElementById("print");
  if (printBtn) { printBtn.addEventListener("click", function () { window.print(); }); }

  // --- the application's steps ---------------------------------------------------------------------
  var form = document.getElementById("apply");
  if (!form) { return; }
  var steps = form.querySelectorAll(".kstep");
  var marks = document.querySelectorAll(".ksteps li");

  function field(name) { return form.elements.namedItem(name); }

  function show(n) {
    steps.forEach(function (s) { s.hidden = s.getAttribute("data-step") !== String(n); });
    marks.forEach(function (m) { m.classList.toggle("on", m.getAttribute("data-for") === String(n)); });
    if (String(n) === "4") { summary(); }
    window.scrollTo(0, 0);
  }

  function missingMaterials() {
    var missing = [];
    form.querySelectorAll("input[type=file][data-required=yes]").forEach(function (i) {
      if (!i.files || i.files.length === 0) { missing.push(i.getAttribute("aria-label")); }
    });
    return missing;
  }

  function canLeave(current, next) {
    if (Number(next) < Number(current)) { return true; }
    if (current === "1") {
      var ok = true;
      ["applicant_name", "applicant_id_number", "applicant_phone"].forEach(function (n) {
        var el = field(n);
        var bad = !el.value.trim();
        el.classList.toggle("bad", bad);
        if (bad) { ok = false; }
      });
      return ok;
    }
    if (current === "2") {
      var missing = missingMaterials();
      var note = document.getElementById("materials-missing");
      note.hidden = missing.length === 0;
      if (missing.length) { note.textContent = "请先扫描或上传必需材料：" + missing.join("、"); }
      return missing.length === 0;
    }
    if (current === "3") {
      var signed = inked > 20;
      document.getElementById("signature-missing").hidden = signed;
      return signed;
    }
    return true;
  }

  form.querySelectorAll("[data-next]").forEach(function (b) {
    b.addEventListener("click", function () {
      var current = b.closest(".kstep").getAttribute("data-step");
      var next = b.getAttribute("data-next");
      if (canLeave(current, next)) { show(next); }
    });
  });

  form.querySelectorAll("input[type=file]").forEach(function (input) {
    input.addEventListener("change", function () {
      var names = Array.prototype.map.call(input.files, function (f) { return f.name; });
      var out = input.closest(".kmat").querySelector(".kfiles");
      out.textContent = names.length ? "已选择 " + names.length + " 个文件：" + names.join("、") : "未选择";
      input.closest(".kmat").classList.toggle("done", names.length > 0);
    });
  });

  function summary() {
    var dl = document.getElementById("summary");
    dl.textContent = "";
    function row(k, v) {
      var dt = document.createElement("dt"); dt.textContent = k;
      var dd = document.createElement("dd"); dd.textContent = v;
      dl.appendChild(dt); dl.appendChild(dd);
    }
    row("申请人", field("applicant_name").value);
    row("身份证号", field("applicant_id_number").value.replace(/^(.{6}).*(.{4})$/, "$1********$2"));
    row("手机号码", field("applicant_phone").value);
    var files = 0;
    form.querySelectorAll("input[type=file]").forEach(function (i) { files += i.files ? i.files.length : 0; });
    row("材料", files + " 个文件");
    row("签名", inked > 20 ? "已签名" : "未签名");
  }

  // --- the ID-card reader: the terminal's own local interface, polled ------------------------------
  var reader = body.getAttribute("data-reader");
  var readBtn = document.getElementById("read-card");
  var status = document.getElementById("reader-status");
  var polling = null;

  function stopPolling() { if (polling) { window.clearInterval(polling); polling = null; } readBtn.disabled = false; }

  function poll(tries) {
    fetch(reader, { cache: "no-store", mode: "cors" }).then(function (r) {
      if (!r.ok) { throw new Error("reader " + r.status); }
      return r.json();
    }).then(function (card) {
      if (card && card.present) {
        stopPolling();
        field("applicant_name").value = card.name || "";
        field("applicant_id_number").value = card.id_number || "";
        field("applicant_address").value = card.address || "";
        status.textContent = "已读取身份证：" + (card.name || "").replace(/^(.).*$/, "$1**") + "。请取回身份证。";
      } else if (tries.n <= 0) {
        stopPolling();
        status.textContent = "未读到身份证，请重新放置后再试，或直接输入。";
      } else {
        status.textContent = "正在读取，请将身份证放在读卡区…";
      }
    }).catch(function () {
      stopPolling();
      status.textContent = "读卡器未连接，请直接输入身份证号，或联系工作人员。";
    });
  }

  if (readBtn && reader) {
    readBtn.addEventListener("click", function () {
      var tries = { n: 30 };
      readBtn.disabled = true;
      status.textContent = "正在读取，请将身份证放在读卡区…";
      poll(tries);
      polling = window.setInterval(function () { tries.n -= 1; poll(tries); }, 1000);
    });
  }

  // --- the signature pad --------------------------------------------------------------------------
  var pad = document.getElementById("sign-pad");
  var ctx = pad.getContext("2d");
  var drawing = false, inked = 0, last = null;
  ctx.lineWidth = 5; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";

  function at(e) {
    var r = pad.getBoundingClientRect();
    return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height };
  }
  pad.addEventListener("pointerdown", function (e) {
    drawing = true; last = at(e); pad.setPointerCapture(e.pointerId); e.preventDefault();
  });
  pad.addEventListener("pointermove", function (e) {
    if (!drawing) { return; }
    var p = at(e);
    ctx.beginPath(); ctx.moveTo(last.x, last.y); ctx.lineTo(p.x, p.y); ctx.stroke();
    inked += Math.abs(p.x - last.x) + Math.abs(p.y - last.y);
    last = p;
  });
  ["pointerup", "pointercancel", "pointerleave"].forEach(function (ev) {
    pad.addEventListener(ev, function () { drawing = false; });
  });
  document.getElementById("sign-clear").addEventListener("click", function () {
    ctx.clearRect(0, 0, pad.width, pad.height); inked = 0;
  });

  form.addEventListener("submit", function (e) {
    var missing = missingMaterials();
    if (missing.length || inked <= 20) {
      e.preventDefault();
      show(missing.length ? 2 : 3);
      return;
    }
    document.getElementById("signature").value = pad.toDataURL("image/png");
    document.getElementById("submit").disabled = true;
  });
})();
