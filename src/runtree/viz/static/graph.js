/* runtree viewer: a graph run's steps drawn on a picture of the graph (layered layout). */
"use strict";

(function () {
  var svg = RT.svg;
  var W = 168;
  var H = 48;
  var GAP_X = 36;
  var GAP_Y = 64;

  /* Layers by longest path over the edges that are not back edges (found by DFS). */
  function layout(view) {
    var names = view.nodes.map(function (n) { return n.name; });
    var out = new Map(names.map(function (n) { return [n, []]; }));
    view.edges.forEach(function (e) {
      if (!out.has(e.from)) out.set(e.from, []);
      if (!out.has(e.to)) out.set(e.to, []);
      out.get(e.from).push(e);
    });
    var start = view.start || (view.path.length ? view.path[0].node : names[0]);
    var order = [];
    var state = new Map();
    var back = new Set();
    function visit(name) {
      state.set(name, 1);
      order.push(name);
      out.get(name).forEach(function (e) {
        var s = state.get(e.to);
        if (s === 1) back.add(e);
        else if (!s) visit(e.to);
      });
      state.set(name, 2);
    }
    if (start !== undefined) visit(start);
    out.forEach(function (_, name) { if (!state.get(name)) visit(name); });
    var layer = new Map(order.map(function (n) { return [n, 0]; }));
    for (var pass = 0; pass < order.length; pass++) {
      var changed = false;
      view.edges.forEach(function (e) {
        if (back.has(e) || e.from === e.to) return;
        var want = layer.get(e.from) + 1;
        if (layer.get(e.to) < want) { layer.set(e.to, want); changed = true; }
      });
      if (!changed) break;
    }
    var layers = [];
    order.forEach(function (name) {
      var l = layer.get(name);
      (layers[l] = layers[l] || []).push(name);
    });
    var index = new Map();
    layers.forEach(function (names, l) {
      if (l > 0) {
        var score = function (n) {
          var parents = view.edges.filter(function (e) { return e.to === n && !back.has(e) && index.has(e.from); });
          if (!parents.length) return 1e9;
          return parents.reduce(function (s, e) { return s + index.get(e.from); }, 0) / parents.length;
        };
        names.sort(function (a, b) { return score(a) - score(b); });
      }
      names.forEach(function (n, i) { index.set(n, i); });
    });
    var widest = Math.max.apply(null, layers.map(function (l) { return l.length; }));
    var width = widest * W + (widest - 1) * GAP_X + 160;
    var pos = new Map();
    layers.forEach(function (names, l) {
      var rowWidth = names.length * W + (names.length - 1) * GAP_X;
      var x0 = (width - 160 - rowWidth) / 2 + 20;
      names.forEach(function (n, i) { pos.set(n, { x: x0 + i * (W + GAP_X), y: 20 + l * (H + GAP_Y) }); });
    });
    return { pos: pos, back: back, width: width, height: layers.length * (H + GAP_Y) - GAP_Y + 40 };
  }

  function label(edge) {
    var parts = [];
    if (edge.action && edge.action !== "default") parts.push(edge.action);
    if (edge.count > 1) parts.push("×" + edge.count);
    return parts.join(" ");
  }

  RT.drawGraph = function (view, onNode) {
    var shape = layout(view);
    var pos = shape.pos;
    var root = svg("svg", { class: "graph", width: shape.width, height: shape.height, viewBox: "0 0 " + shape.width + " " + shape.height });
    root.appendChild(svg("defs", {},
      svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" })),
      svg("marker", { id: "arrow-taken", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head taken" }))));
    var loops = 0;
    view.edges.forEach(function (e) {
      var a = pos.get(e.from);
      var b = pos.get(e.to);
      if (!a || !b) return;
      var d;
      var lx;
      var ly;
      if (e.from === e.to) {
        d = "M " + (a.x + W) + " " + (a.y + 14) + " C " + (a.x + W + 46) + " " + (a.y - 6) + ", " +
          (a.x + W + 46) + " " + (a.y + H + 6) + ", " + (a.x + W) + " " + (a.y + H - 14);
        lx = a.x + W + 40; ly = a.y + H / 2;
      } else if (shape.back.has(e) || b.y <= a.y) {
        loops += 1;
        var left = a.x + W / 2 < shape.width / 2 - 80;
        var side = left ? 0 : W;
        var out = left ? Math.min(a.x, b.x) - 24 - loops * 14 : Math.max(a.x, b.x) + W + 24 + loops * 14;
        d = "M " + (a.x + side) + " " + (a.y + H / 2) + " C " + out + " " + (a.y + H / 2) + ", " +
          out + " " + (b.y + H / 2) + ", " + (b.x + side) + " " + (b.y + H / 2);
        lx = out + (left ? 6 : -6); ly = (a.y + b.y) / 2 + H / 2;
      } else {
        var x1 = a.x + W / 2;
        var y1 = a.y + H;
        var x2 = b.x + W / 2;
        var y2 = b.y;
        var mid = (y1 + y2) / 2;
        d = "M " + x1 + " " + y1 + " C " + x1 + " " + mid + ", " + x2 + " " + mid + ", " + x2 + " " + y2;
        lx = (x1 + x2) / 2; ly = mid;
      }
      var taken = e.count > 0;
      var cls = "edge" + (taken ? " taken" : "") + (e.kind === "branch" ? " branch" : "");
      root.appendChild(svg("path", { d: d, class: cls, "marker-end": taken ? "url(#arrow-taken)" : "url(#arrow)" }));
      var text = label(e);
      if (text) {
        var t = svg("text", { x: lx, y: ly + 4, class: "edge-label" + (taken ? " taken" : ""), "text-anchor": "middle", text: text });
        root.appendChild(t);
      }
    });
    view.nodes.forEach(function (n) {
      var p = pos.get(n.name);
      if (!p) return;
      var status = n.failed ? "failed" : n.running ? "running" : n.visits ? "visited" : "unvisited";
      var group = svg("g", {
        class: "gnode " + status + (n.shape ? " shape-" + n.shape : ""), "data-node": n.name,
        transform: "translate(" + p.x + "," + p.y + ")",
        onclick: function () { if (onNode) onNode(n.name); },
      });
      group.appendChild(svg("title", { text: n.name + ": " + n.visits + " step" + (n.visits === 1 ? "" : "s") + (n.failed ? ", " + n.failed + " failed" : "") }));
      group.appendChild(svg("rect", { width: W, height: H, rx: n.shape === "parallel" ? 2 : 10 }));
      group.appendChild(svg("text", { x: W / 2, y: 21, "text-anchor": "middle", class: "gname", text: n.name.length > 22 ? n.name.slice(0, 21) + "…" : n.name }));
      group.appendChild(svg("text", {
        x: W / 2, y: 37, "text-anchor": "middle", class: "gvisits",
        text: n.visits ? n.visits + " step" + (n.visits === 1 ? "" : "s") + (n.failed ? " · " + n.failed + " failed" : "") : "not run",
      }));
      root.appendChild(group);
    });
    return root;
  };
})();
