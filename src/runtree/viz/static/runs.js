/* runtree viewer: the list of runs. */
"use strict";

(function () {
  var el = RT.el;

  RT.pages.runs = function (app) {
    document.title = "runs · runtree";
    var state = { text: "", status: "", offset: 0 };
    var search = el("input", { type: "search", placeholder: "Filter by name or id", class: "search", id: "run-filter" });
    var status = el("select", { class: "status-filter", id: "run-status" },
      ["", "running", "succeeded", "failed", "crashed", "timed_out"].map(function (s) {
        return el("option", { value: s, text: s || "any status" });
      }));
    var body = el("div", { class: "runs-body" });
    app.appendChild(el("section", { class: "card" },
      el("div", { class: "card-head" }, el("h1", { text: "Runs" }), el("span", { class: "grow" }), search, status),
      body));
    var timer = null;
    var debounce = null;

    function load() {
      return RT.api("/runs", { q: state.text, status: state.status, offset: state.offset, limit: 50 })
        .then(draw, function (error) {
          RT.clear(body);
          if (error.kind === "missing" || error.kind === "empty") body.appendChild(emptyState(error.message));
          else body.appendChild(RT.errorNotice(error));
          schedule(3000);
        });
    }

    function schedule(ms) {
      clearTimeout(timer);
      if (!RT.report) timer = setTimeout(load, ms);
    }

    function emptyState(message) {
      return el("div", { class: "empty-state" },
        el("h2", { text: "No runs yet" }),
        el("p", { text: message }),
        el("p", {}, "Every ", el("code", { text: "rt.Session()" }), " writes its run to the journal; this page shows it as soon as it starts."));
    }

    function draw(page) {
      RT.clear(body);
      if (!page.runs.length) {
        body.appendChild(state.text || state.status
          ? el("div", { class: "muted pad", text: "No run matches." })
          : emptyState("The journal has no runs yet."));
        schedule(3000);
        return;
      }
      var table = el("table", { class: "runs", id: "runs" },
        el("thead", {}, el("tr", {}, ["status", "name", "run", "started", "duration", "requests", "errors", "tokens / cost"]
          .map(function (h) { return el("th", { text: h }); }))));
      var tbody = el("tbody");
      page.runs.forEach(function (run) {
        var usage = RT.usageChips(run.usage);
        var path = RT.runPath(run.run_id);
        tbody.appendChild(el("tr", { class: "run-row st-" + run.status, "data-run": run.run_id, onclick: function (e) {
          if (e.target.closest("a")) return;
          RT.go(path);
        } },
          el("td", {}, RT.pill(run.status)),
          el("td", { class: "name" }, RT.link(path, run.name || "(unnamed)")),
          el("td", {}, el("code", { text: RT.fmt.short(run.run_id) })),
          el("td", { title: RT.fmt.time(run.start_time) }, RT.fmt.time(run.start_time), el("div", { class: "muted small", text: RT.fmt.ago(run.start_time) })),
          el("td", { class: "num" }, run.status === "running" ? el("span", { class: "muted", text: "running" }) : RT.fmt.duration(run.duration)),
          el("td", { class: "num" }, RT.fmt.num(run.requests)),
          el("td", { class: "num" + (run.failed ? " bad" : "") }, run.failed ? RT.fmt.num(run.failed) : "–"),
          el("td", {}, usage || el("span", { class: "muted", text: "–" }))));
      });
      table.appendChild(tbody);
      body.appendChild(table);
      var pager = el("div", { class: "pager" });
      if (state.offset > 0) pager.appendChild(el("button", { type: "button", class: "link", onclick: function () { state.offset = Math.max(0, state.offset - 50); load(); } }, "← newer"));
      pager.appendChild(el("span", { class: "muted", text: (state.offset + 1) + "–" + (state.offset + page.runs.length) + " of " + RT.fmt.num(page.total) }));
      if (state.offset + page.runs.length < page.total) pager.appendChild(el("button", { type: "button", class: "link", onclick: function () { state.offset += 50; load(); } }, "older →"));
      body.appendChild(pager);
      var live = page.runs.some(function (r) { return r.status === "running"; });
      schedule(live ? 2000 : 10000);
    }

    search.addEventListener("input", function () {
      clearTimeout(debounce);
      debounce = setTimeout(function () { state.text = search.value.trim(); state.offset = 0; load(); }, 200);
    });
    status.addEventListener("change", function () { state.status = status.value; state.offset = 0; load(); });
    RT.onLeave(function () { clearTimeout(timer); clearTimeout(debounce); });
    load();
  };
})();
