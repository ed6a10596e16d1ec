// redisflags console: confirmations, JSON checks, live updates and the
// evaluate panel. Plain DOM, no libraries; every page works without it.
(function () {
  "use strict";
  var dirty = false;

  // Confirm destructive forms; block a form whose JSON does not parse.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var bad = checkAll(form);
    if (bad) { ev.preventDefault(); bad.focus(); return; }
    var msg = form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); return; }
    if (form.id === "evaluate-form") { ev.preventDefault(); evaluate(form); return; }
    dirty = false;
  });

  document.addEventListener("input", function (ev) {
    var el = ev.target;
    if (el.form && el.form.method === "post") { dirty = true; }
    if (el.hasAttribute && el.hasAttribute("data-json")) { check(el); }
  });

  function errorOf(el) {
    var id = el.getAttribute("aria-describedby");
    var out = id && document.getElementById(id);
    if (!out) {
      out = el.parentNode.querySelector(".field-error");
    }
    return out;
  }

  // check shows whether a JSON field parses; it returns false when not.
  function check(el) {
    var text = el.value.trim();
    var out = errorOf(el);
    var problem = "";
    if (text !== "") {
      try { JSON.parse(text); } catch (e) { problem = "is not valid JSON: " + e.message; }
    }
    el.setAttribute("aria-invalid", problem ? "true" : "false");
    if (out) { out.textContent = problem; out.hidden = problem === ""; }
    return problem === "";
  }

  function checkAll(form) {
    var fields = form.querySelectorAll("[data-json]");
    for (var i = 0; i < fields.length; i++) {
      if (!check(fields[i])) { return fields[i]; }
    }
    return null;
  }

  // Live updates: the server tells every change (after its provider has
  // it); the page reloads its content in place unless the person is typing.
  var live = document.getElementById("live");
  function say(text) { if (live) { live.textContent = text; live.hidden = false; } }

  function refresh(flags) {
    var mark = document.querySelector("[data-live]");
    if (!mark) { return; }
    var mine = mark.getAttribute("data-flag");
    if (mine && flags.length && flags.indexOf(mine) < 0) { return; }
    var who = flags.length ? flags.join(", ") : "flags";
    if (dirty) {
      say(who + " changed meanwhile. Saving will show what changed; reload to start over.");
      return;
    }
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var next = doc.getElementById("main");
        var main = document.getElementById("main");
        if (!next || !main || dirty) { return; }
        var open = [];
        main.querySelectorAll("details[open]").forEach(function (d, i) { open.push(i); });
        main.innerHTML = next.innerHTML;
        main.querySelectorAll("details").forEach(function (d, i) { if (open.indexOf(i) >= 0) { d.open = true; } });
        flags.forEach(function (k) {
          var row = document.getElementById("flag-" + k);
          if (row) { row.classList.add("changed"); }
        });
        say("Updated just now: " + who + " changed.");
        document.body.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { say(who + " changed: reload to see it."); });
  }

  if (window.EventSource && document.querySelector("[data-live]")) {
    var es = new EventSource("/events");
    es.addEventListener("change", function (ev) {
      var flags = [];
      try { flags = JSON.parse(ev.data).flags || []; } catch (e) { /* keep [] */ }
      refresh(flags);
    });
    document.body.setAttribute("data-live-ready", "1");
    es.onopen = function () { document.body.setAttribute("data-live-open", "1"); };
  }

  // The evaluate panel asks /evaluate.json and shows the answer in place.
  function evaluate(form) {
    var params = new URLSearchParams(new FormData(form));
    var box = document.getElementById("answer");
    fetch("/evaluate.json?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        history.replaceState(null, "", "/evaluate?" + params.toString());
        box.hidden = false;
        box.innerHTML = "";
        var h = document.createElement("h2");
        h.textContent = "Answer";
        box.appendChild(h);
        if (!res.ok) {
          var p = document.createElement("p");
          p.className = "error";
          p.id = "a-problem";
          p.textContent = res.body.error || "The question does not parse.";
          box.appendChild(p);
        } else {
          var a = res.body;
          var dl = document.createElement("dl");
          dl.className = "answer";
          var rows = [["Value", "a-value", JSON.stringify(a.value)], ["Variant", "a-variant", a.variant],
            ["Reason", "a-reason", a.reason], ["Deciding step", "a-step", a.step || ""],
            ["Bucket", "a-bucket", a.bucket >= 0 ? a.bucket + " (" + a.scheme + ")" : "none"]];
          if (a.errorCode) { rows.push(["Error", "a-error", a.errorCode + " " + (a.errorMessage || "")]); }
          if (a.payload !== undefined) { rows.push(["Payload", "a-payload", JSON.stringify(a.payload)]); }
          rows.forEach(function (row) {
            var dt = document.createElement("dt"); dt.textContent = row[0];
            var dd = document.createElement("dd"); dd.id = row[1]; dd.textContent = row[2];
            dl.appendChild(dt); dl.appendChild(dd);
          });
          box.appendChild(dl);
          var pre = document.createElement("pre");
          pre.id = "a-json";
          pre.textContent = JSON.stringify(a, null, 2);
          var det = document.createElement("details");
          var sum = document.createElement("summary");
          sum.textContent = "As JSON";
          det.appendChild(sum); det.appendChild(pre);
          box.appendChild(det);
        }
        box.setAttribute("data-seq", String(Number(box.getAttribute("data-seq") || "0") + 1));
      })
      .catch(function () { say("The server did not answer."); });
  }
})();
