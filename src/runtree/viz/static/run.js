/* runtree viewer: one run (header, tree, timeline, graph, events, request detail, live). */
"use strict";

(function () {
  var el = RT.el;

  function header(run) {
    var usage = RT.usageChips(run.usage);
    var stats = [
      ["requests", RT.fmt.num(run.requests)],
      ["failed", RT.fmt.num(run.failed), run.failed ? "bad" : ""],
      ["running", RT.fmt.num(run.running)],
      ["replayed", RT.fmt.num(run.replayed)],
      ["events", RT.fmt.num(run.events)],
      ["duration", run.status === "running" ? "running" : RT.fmt.duration(run.duration)],
    ];
    return el("div", { class: "run-head", id: "run-head" },
      el("div", { class: "title-line" },
        el("h1", { text: run.name || "(unnamed run)" }), RT.pill(run.status),
        el("code", { class: "muted", title: "run id", text: run.run_id }),
        usage),
      el("div", { class: "meta" },
        el("span", { text: "started " + RT.fmt.time(run.start_time) }),
        run.host ? el("span", { text: "pid " + run.pid + " on " + run.host }) : null,
        run.durability ? el("span", { text: "durability " + run.durability }) : null,
        run.resumed_from ? el("span", {}, "resumed from ", RT.link(RT.runPath(run.resumed_from), RT.fmt.short(run.resumed_from))) : null),
      el("div", { class: "stats" }, stats.map(function (s) {
        return el("div", { class: "stat " + (s[2] || "") }, el("b", { text: s[1] }), el("span", { text: s[0] }));
      })),
      run.error ? el("div", { class: "notice error run-error", text: run.error }) : null,
      run.status === "crashed" ? el("div", { class: "notice", text: "The process that ran it (pid " + run.pid + ") is gone: resume it with `runtree resume " + RT.fmt.short(run.run_id) + "`." }) : null);
  }

  RT.pages.run = function (app, params) {
    var ref = params.runId;
    var page = { runId: null, run: null, tab: "tree", selected: params.requestId, live: null };
    var headBox = el("section", { class: "card head-card" }, el("div", { class: "muted", text: "loading…" }));
    var tabs = el("nav", { class: "tabs", role: "tablist" });
    var searchBox = el("input", { type: "search", class: "search", id: "request-filter", placeholder: "Search node name or request id" });
    var statusBox = el("select", { class: "status-filter", id: "request-status" },
      ["", "running", "succeeded", "failed", "cancelled"].map(function (s) { return el("option", { value: s, text: s || "any status" }); }));
    var toolbar = el("div", { class: "toolbar" }, searchBox, statusBox, el("span", { class: "live-dot", id: "live", hidden: true, title: "live: updates as the run goes" }, "live"));
    var treeBox = el("div", { class: "tree-box", id: "tree" });
    var resultsBox = el("div", { class: "tree-box", id: "results", hidden: true });
    var panes = {
      tree: el("div", { class: "pane" }, toolbar, treeBox, resultsBox),
      timeline: el("div", { class: "pane", hidden: true }, el("div", { class: "timeline-box", id: "timeline" })),
      graph: el("div", { class: "pane", hidden: true, id: "graph" }),
      events: el("div", { class: "pane", hidden: true, id: "events" }),
    };
    var detail = el("aside", { class: "detail", id: "detail" },
      el("div", { class: "muted pad", text: "Select a request to see its inputs, output and error." }));
    var split = el("div", { class: "split" }, el("section", { class: "card main-pane" }, tabs, panes.tree, panes.timeline, panes.graph, panes.events), detail);
    app.appendChild(headBox);
    app.appendChild(split);
    var tree = null;
    var timeline = null;
    var eventsShown = 0;
    var lastEvent = 0;
    var eventRows = null;

    function path(requestId) {
      return RT.runPath(page.runId) + (requestId ? "/requests/" + encodeURIComponent(requestId) : "");
    }

    function select(requestId, reveal) {
      page.selected = requestId;
      RT.go(path(requestId), true);
      if (tree) tree.select(requestId);
      if (timeline) timeline.select(requestId);
      if (!requestId) {
        RT.clear(detail).appendChild(el("div", { class: "muted pad", text: "Select a request to see its inputs, output and error." }));
        return;
      }
      detail.classList.add("loading");
      RT.api(path(requestId)).then(function (d) {
        detail.classList.remove("loading");
        if (page.selected !== requestId) return;
        RT.renderDetail(detail, page.runId, d, {
          link: function (id, text) { return el("a", { href: RT.href(path(id)), onclick: function (e) { e.preventDefault(); select(id, true); } }, text); },
          expand: function (id, text) {
            return el("a", { href: "#", onclick: function (e) { e.preventDefault(); showTab("tree"); tree.reveal(d.path || [], id).then(function () { tree.toggle(id, true); }); } }, text);
          },
          close: function () { select(null); },
        });
        if (reveal && tree) tree.reveal(d.path || [], requestId);
      }, function (error) {
        detail.classList.remove("loading");
        RT.clear(detail).appendChild(RT.errorNotice(error));
      });
    }

    function showTab(name) {
      page.tab = name;
      Object.keys(panes).forEach(function (key) { panes[key].hidden = key !== name; });
      tabs.querySelectorAll("button").forEach(function (b) { b.classList.toggle("active", b.dataset.tab === name); });
      if (name === "timeline" && !timeline) {
        timeline = new RT.Timeline(panes.timeline.firstChild, page.runId, { onSelect: select });
        timeline.selected = page.selected;
        timeline.load();
      }
      if (name === "graph") loadGraphs();
      if (name === "events" && !eventRows) loadEvents();
    }

    function drawTabs(run, graphs) {
      RT.clear(tabs);
      var items = [["tree", "Tree"], ["timeline", "Timeline"]];
      if (graphs) items.push(["graph", "Graph"]);
      items.push(["events", "Events (" + RT.fmt.num(run.events) + ")"]);
      items.forEach(function (item) {
        tabs.appendChild(el("button", { type: "button", role: "tab", "data-tab": item[0], class: page.tab === item[0] ? "active" : "",
          onclick: function () { showTab(item[0]); } }, item[1]));
      });
    }

    function loadGraphs() {
      RT.api(RT.runPath(page.runId) + "/graphs").then(function (result) {
        RT.clear(panes.graph);
        if (!result.items.length) { panes.graph.appendChild(el("div", { class: "muted pad", text: "This run has no graph runs." })); return; }
        var picker = el("select", { class: "graph-picker" }, result.items.map(function (g) {
          return el("option", { value: g.request_id, text: g.node_name + " · " + g.status + " · " + RT.fmt.short(g.request_id) });
        }));
        var canvas = el("div", { class: "graph-box" });
        function draw() {
          RT.api(RT.runPath(page.runId) + "/graphs/" + encodeURIComponent(picker.value)).then(function (view) {
            RT.clear(canvas).appendChild(RT.drawGraph(view, function (name) {
              searchBox.value = name;
              showTab("tree");
              runSearch();
            }));
            canvas.appendChild(el("div", { class: "muted small pad", text: view.declared
              ? "The graph as declared; bold arrows were taken (× how often). Click a node to list its steps."
              : "The steps this run took and the actions between them. Click a node to list its steps." }));
          });
        }
        picker.addEventListener("change", draw);
        panes.graph.appendChild(el("div", { class: "toolbar" }, result.items.length > 1 ? picker : el("b", { text: result.items[0].node_name })));
        panes.graph.appendChild(canvas);
        draw();
      });
    }

    function eventRow(item) {
      var payload = item.payload;
      return el("tr", {},
        el("td", { class: "num", text: String(item.seq) }),
        el("td", { class: "num muted", text: page.run ? "+" + RT.fmt.duration(item.time - page.run.start_time) : "" }),
        el("td", {}, el("span", { class: "badge " + (item.kind === "fatal" ? "bad" : ""), text: item.kind })),
        el("td", {}, item.request_id ? el("a", { href: RT.href(path(item.request_id)), onclick: function (e) { e.preventDefault(); select(item.request_id, true); } }, RT.fmt.short(item.request_id)) : "–"),
        el("td", {}, typeof payload === "string" ? payload : RT.valueView(payload)));
    }

    function loadEvents(after) {
      if (!eventRows) {
        eventRows = el("tbody");
        RT.clear(panes.events).appendChild(el("table", { class: "events" },
          el("thead", {}, el("tr", {}, ["#", "at", "kind", "request", "item"].map(function (h) { return el("th", { text: h }); }))), eventRows));
      }
      return RT.api(RT.runPath(page.runId) + "/events", { after: after || lastEvent, limit: 500 }).then(function (result) {
        result.items.forEach(function (item) { eventRows.appendChild(eventRow(item)); lastEvent = item.seq; });
        eventsShown += result.items.length;
        if (!eventsShown) eventRows.appendChild(el("tr", { class: "none" }, el("td", { colspan: 5, class: "muted", text: "No broadcast items or failures." })));
        if (result.items.length === 500) loadEvents(lastEvent);
      });
    }

    var searchTimer = null;
    function runSearch() {
      var text = searchBox.value.trim();
      var status = statusBox.value;
      var active = !!(text || status);
      treeBox.hidden = active;
      resultsBox.hidden = !active;
      if (active) RT.renderResults(resultsBox, page.runId, { text: text, status: status }, function (id) { select(id); });
    }
    searchBox.addEventListener("input", function () { clearTimeout(searchTimer); searchTimer = setTimeout(runSearch, 200); });
    statusBox.addEventListener("change", runSearch);

    function startLive(run) {
      if (RT.report || run.status !== "running" || page.live) return;
      var dot = toolbar.querySelector("#live");
      var source = new EventSource("/api" + RT.runPath(page.runId) + "/live?seq=" + run.last_seq + "&event=" + run.last_event);
      page.live = source;
      dot.hidden = false;
      source.addEventListener("update", function (message) {
        var change = JSON.parse(message.data);
        change.requests.forEach(function (item) { tree.update(item); });
        if (change.totals) { page.run = change.totals; RT.clear(headBox).appendChild(header(change.totals)); }
        if (change.events.length) {
          var tab = tabs.querySelector('[data-tab="events"]');
          if (tab && change.totals) tab.textContent = "Events (" + RT.fmt.num(change.totals.events) + ")";
          if (eventRows) {
            var none = eventRows.querySelector(".none");
            if (none) none.remove();
            change.events.forEach(function (item) { eventRows.appendChild(eventRow(item)); lastEvent = item.seq; });
          }
        }
        if (timeline && page.tab === "timeline" && !timeline.pending) {
          timeline.pending = true;
          setTimeout(function () { timeline.pending = false; timeline.load(); }, 1000);
        }
        if (page.selected && change.requests.some(function (r) { return r.request_id === page.selected; })) select(page.selected);
      });
      source.addEventListener("end", function () {
        source.close();
        page.live = null;
        dot.hidden = true;
        RT.api(RT.runPath(page.runId)).then(function (fresh) { page.run = fresh; RT.clear(headBox).appendChild(header(fresh)); });
        if (timeline) timeline.load();
      });
      source.addEventListener("problem", function (message) {
        source.close();
        dot.hidden = true;
        headBox.appendChild(RT.errorNotice(JSON.parse(message.data).error));
      });
    }

    RT.onLeave(function () { if (page.live) page.live.close(); clearTimeout(searchTimer); });

    // the tree, the graphs and the run's totals load side by side (the API takes id prefixes)
    page.runId = ref;
    tree = new RT.Tree(treeBox, ref, { onSelect: function (id) { select(id); } });
    tree.selected = page.selected;
    var treeLoaded = tree.load();
    var graphs = treeLoaded.then(function () {
      return RT.api(RT.runPath(ref) + "/graphs");
    }).catch(function () { return { items: [] }; });
    RT.api(RT.runPath(ref)).then(function (run) {
      page.runId = tree.runId = run.run_id;
      page.run = run;
      document.title = (run.name || RT.fmt.short(run.run_id)) + " · runtree";
      RT.clear(headBox).appendChild(header(run));
      drawTabs(run, false);
      graphs.then(function (found) { if (found.items.length) drawTabs(run, true); });
      return treeLoaded.then(function () {
        if (page.selected) select(page.selected, true);
        startLive(run);
      });
    }, function (error) {
      RT.clear(app);
      if (error.status === 404) RT.notFoundPage(app, error.message);
      else app.appendChild(el("section", { class: "card" }, RT.errorNotice(error)));
    });

    return function update(next) {
      if (next.requestId !== page.selected) select(next.requestId, true);
    };
  };
})();
