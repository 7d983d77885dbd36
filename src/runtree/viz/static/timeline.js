/* runtree viewer: the timeline (who ran when, in parallel, how long, in which mode). */
"use strict";

(function () {
  var el = RT.el;
  var svg = RT.svg;
  var LANE = 22;
  var AXIS = 26;

  function niceStep(span, target) {
    var raw = span / target;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (raw <= steps[i] * power) return steps[i] * power;
    return 10 * power;
  }

  function Timeline(container, runId, options) {
    this.container = container;
    this.runId = runId;
    this.onSelect = options.onSelect;
    this.window = null;
    this.selected = null;
  }

  Timeline.prototype.load = function (start, end) {
    var self = this;
    this.window = start !== undefined ? { start: start, end: end } : this.window;
    var params = this.window ? { start: this.window.start, end: this.window.end } : {};
    params.limit = 400;
    return RT.api(RT.runPath(this.runId) + "/timeline", params).then(function (data) {
      self.data = data;
      self.draw();
    }, function (error) {
      RT.clear(self.container).appendChild(RT.errorNotice(error));
    });
  };

  Timeline.prototype.draw = function () {
    var self = this;
    var data = this.data;
    var box = RT.clear(this.container);
    if (!data.items.length) {
      box.appendChild(el("div", { class: "muted pad", text: "No requests yet." }));
      return;
    }
    var width = Math.max(480, box.clientWidth - 26);
    var now = data.run_end;
    var view = { start: data.start, end: data.end };
    if (data.truncated) {  // show the time the drawn requests cover, not the whole window
      view.start = Math.max(data.start, Math.min.apply(null, data.items.map(function (r) { return r.start_time; })));
      var ends = data.items.map(function (r) { return r.end_time !== null ? r.end_time : now; })
        .sort(function (a, b) { return a - b; });
      // most of them: a few long parents (the run's root) would squeeze the rest into a line
      view.end = Math.min(data.end, ends[Math.floor(ends.length * 0.9)]);
    }
    box.appendChild(this.overview(data, view, width));
    var span = Math.max(view.end - view.start, 1e-6);
    var x = function (t) { return ((t - view.start) / span) * (width - 2) + 1; };
    var items = data.items.slice().sort(function (a, b) { return a.start_time - b.start_time; });
    var lanes = [];
    var placed = items.map(function (item) {
      var end = item.end_time !== null ? item.end_time : now;
      var lane = 0;
      while (lane < lanes.length && lanes[lane] > item.start_time + span * 0.002) lane++;
      lanes[lane] = end;
      return { item: item, lane: lane, end: end };
    });
    var height = AXIS + lanes.length * LANE + 6;
    var chart = svg("svg", { class: "timeline", width: width, height: height, role: "img" });
    var step = niceStep(span, Math.max(2, Math.floor(width / 110)));
    var first = Math.ceil((view.start - data.run_start) / step) * step;
    for (var t = first; data.run_start + t <= view.end; t += step) {
      var px = x(data.run_start + t);
      chart.appendChild(svg("line", { x1: px, x2: px, y1: AXIS - 6, y2: height, class: "grid" }));
      chart.appendChild(svg("text", { x: px + 3, y: AXIS - 10, class: "tick", text: RT.fmt.duration(t) }));
    }
    placed.forEach(function (p) {
      var item = p.item;
      var x0 = x(Math.max(item.start_time, view.start));
      var x1 = x(Math.min(p.end, view.end));
      var w = Math.max(2, x1 - x0);
      var y = AXIS + p.lane * LANE;
      var group = svg("g", {
        class: "bar m-" + (item.mode || "async") + " st-" + item.status + (self.selected === item.request_id ? " selected" : ""),
        "data-id": item.request_id,
        onclick: function () { self.onSelect(item.request_id); },
      });
      group.appendChild(svg("title", {
        text: item.node_name + " · " + item.status + " · " + (item.mode || "") + " · " +
          (item.status === "running" ? "running" : RT.fmt.duration(item.duration)),
      }));
      group.appendChild(svg("rect", { x: x0, y: y + 2, width: w, height: LANE - 5, rx: 3 }));
      if (w > 48) {
        group.appendChild(svg("text", {
          x: x0 + 5, y: y + LANE / 2 + 3, class: "bar-label",
          text: fit(item.node_name + " " + RT.fmt.duration(item.duration), w - 8),
        }));
      }
      chart.appendChild(group);
    });
    box.appendChild(el("div", { class: "timeline-scroll" }, chart));
    var note = RT.fmt.num(data.items.length) + " of " + RT.fmt.num(data.total) + " requests in this window";
    box.appendChild(el("div", { class: "timeline-foot" },
      el("span", { class: "muted", text: data.truncated ? note + " (the first by call order) — drag across the activity strip to zoom" : note }),
      el("span", { class: "legend" }, ["async", "thread", "process", "ray"].map(function (mode) {
        return el("span", { class: "key m-" + mode }, el("i"), mode);
      }), el("span", { class: "key st-failed" }, el("i"), "failed"), el("span", { class: "key st-running" }, el("i"), "running")),
      this.window ? el("button", { type: "button", class: "link", onclick: function () { self.window = null; self.load(); } }, "reset zoom") : null));
  };

  function fit(text, pixels) {
    var chars = Math.floor(pixels / 6.5);
    return text.length <= chars ? text : text.slice(0, Math.max(1, chars - 1)) + "…";
  }

  /* The whole run's activity (requests started per interval); drag to zoom into a window. */
  Timeline.prototype.overview = function (data, view, width) {
    var self = this;
    var bins = data.histogram;
    var peak = Math.max.apply(null, bins.map(function (b) { return b[0]; }).concat([1]));
    var h = 44;
    var bw = width / bins.length;
    var strip = svg("svg", { class: "overview", width: width, height: h });
    bins.forEach(function (bin, i) {
      if (!bin[0]) return;
      var bh = Math.max(2, (bin[0] / peak) * (h - 6));
      strip.appendChild(svg("rect", { x: i * bw, y: h - bh, width: Math.max(1, bw - 1), height: bh, class: "hist" }));
      if (bin[1]) {
        var fh = Math.max(2, (bin[1] / bin[0]) * bh);
        strip.appendChild(svg("rect", { x: i * bw, y: h - bh, width: Math.max(1, bw - 1), height: fh, class: "hist failed" }));
      }
    });
    var total = data.run_end - data.run_start;
    var toTime = function (px) { return data.run_start + (px / width) * total; };
    var wx0 = ((view.start - data.run_start) / total) * width;
    var wx1 = ((view.end - data.run_start) / total) * width;
    strip.appendChild(svg("rect", { x: wx0, y: 0, width: Math.max(2, wx1 - wx0), height: h, class: "window" }));
    var brush = svg("rect", { x: 0, y: 0, width: 0, height: h, class: "brush" });
    strip.appendChild(brush);
    var from = null;
    strip.addEventListener("mousedown", function (e) { from = e.offsetX; brush.setAttribute("x", from); brush.setAttribute("width", 0); });
    strip.addEventListener("mousemove", function (e) {
      if (from === null) return;
      brush.setAttribute("x", Math.min(from, e.offsetX));
      brush.setAttribute("width", Math.abs(e.offsetX - from));
    });
    strip.addEventListener("mouseup", function (e) {
      if (from === null) return;
      var a = Math.min(from, e.offsetX);
      var b = Math.max(from, e.offsetX);
      from = null;
      if (b - a < 4) { a = Math.max(0, a - width / 20); b = Math.min(width, b + width / 20); }
      self.load(toTime(a), toTime(b));
    });
    return el("div", { class: "overview-box", title: "activity over the whole run: drag to zoom" }, strip);
  };

  Timeline.prototype.select = function (id) {
    this.selected = id;
    this.container.querySelectorAll(".bar.selected").forEach(function (n) { n.classList.remove("selected"); });
    var bar = id && this.container.querySelector('.bar[data-id="' + CSS.escape(id) + '"]');
    if (bar) bar.classList.add("selected");
  };

  RT.Timeline = Timeline;
})();
