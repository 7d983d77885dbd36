/* runtree report: the viewer's API answered from the data embedded in this file (offline). */
"use strict";

(function () {
  var data = JSON.parse(document.getElementById("runtree-data").textContent);
  var run = data.run;
  var byId = new Map();
  var children = new Map();
  data.requests.forEach(function (r) {
    byId.set(r.request_id, r);
    if (r.preview === undefined) {
      r.preview = r.status === "succeeded" ? JSON.stringify(r.output === undefined ? null : r.output).slice(0, 120) : null;
    }
    if (r.error && typeof r.error === "object") {
      r.error_type = r.error.type;
      r.error_message = (r.error.message || "").slice(0, 200);
    }
    var parent = r.parent_id !== null && byId.has(r.parent_id) ? r.parent_id : r.parent_id;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(r);
  });
  var graphs = new Map(data.graphs.map(function (g) { return [g.request_id, g]; }));
  RT.config.start = RT.runPath(run.run_id);

  function fail(status, message) {
    return Promise.reject(new RT.ApiError(status, message, status === 404 ? "not_found" : "bad_request"));
  }

  function page(items, params, extra) {
    var offset = Number(params.offset || 0);
    var limit = Number(params.limit || 200);
    return Object.assign({ items: items.slice(offset, offset + limit), total: items.length, offset: offset }, extra || {});
  }

  function pathOf(r) {
    var path = [];
    var parent = r.parent_id;
    while (parent !== null && byId.has(parent) && path.length < 200) {
      var p = byId.get(parent);
      path.unshift({ request_id: p.request_id, node_name: p.node_name, status: p.status });
      parent = p.parent_id;
    }
    return path;
  }

  function timeline(params) {
    var items = data.requests;
    if (!items.length) return { items: [], total: 0, truncated: false, histogram: [], start: null };
    var lo = Infinity;
    var hi = -Infinity;
    items.forEach(function (r) {
      lo = Math.min(lo, r.start_time);
      hi = Math.max(hi, r.end_time !== null ? r.end_time : r.start_time);
    });
    hi = Math.max(hi, lo + 1e-6);
    var start = params.start !== undefined ? Number(params.start) : lo;
    var end = params.end !== undefined ? Number(params.end) : hi;
    var inside = items.filter(function (r) {
      return r.start_time <= end && (r.end_time !== null ? r.end_time : hi) >= start;
    });
    var buckets = 120;
    var width = (hi - lo) / buckets;
    var histogram = [];
    for (var i = 0; i < buckets; i++) histogram.push([0, 0]);
    items.forEach(function (r) {
      var b = Math.min(buckets - 1, Math.floor((r.start_time - lo) / width));
      histogram[b][0] += 1;
      if (r.status === "failed") histogram[b][1] += 1;
    });
    var limit = Number(params.limit || 400);
    return {
      items: inside.slice(0, limit), total: inside.length, truncated: inside.length > limit,
      run_start: lo, run_end: hi, start: start, end: end, histogram: histogram,
    };
  }

  RT.localApi = function (path, params) {
    var parts = path.split("/").slice(1).map(decodeURIComponent);
    if (parts[0] !== "runs") return fail(404, "no such data in this report");
    if (parts.length === 1) return Promise.resolve({ runs: [run], total: 1, offset: 0 });
    if (parts[1] !== run.run_id && run.run_id.indexOf(parts[1]) !== 0) {
      return fail(404, "this report holds run " + run.run_id.slice(0, 12) + " only");
    }
    var what = parts[2];
    if (what === undefined) return Promise.resolve(run);
    if (what === "children") {
      var list = children.get(params.parent ? params.parent : null) || [];
      return Promise.resolve(page(list, params, { parent: params.parent || null }));
    }
    if (what === "search") {
      var text = (params.q || "").toLowerCase();
      var found = data.requests.filter(function (r) {
        return (!text || r.node_name.toLowerCase().indexOf(text) >= 0 || r.request_id === params.q) &&
          (!params.status || r.status === params.status);
      });
      return Promise.resolve(page(found, params));
    }
    if (what === "requests") {
      var r = byId.get(parts[3]);
      if (!r) return fail(404, "no request " + parts[3] + " in this run");
      var events = data.events.filter(function (e) { return e.request_id === r.request_id; }).length;
      return Promise.resolve(Object.assign({}, r, { path: pathOf(r), events: events }));
    }
    if (what === "timeline") return Promise.resolve(timeline(params));
    if (what === "events") {
      var after = Number(params.after || 0);
      var items = data.events.filter(function (e) { return e.seq > after; });
      return Promise.resolve({ items: items.slice(0, Number(params.limit || 200)), total: data.events.length, after: after });
    }
    if (what === "graphs" && parts[3] === undefined) return Promise.resolve({ items: data.graph_runs });
    if (what === "graphs") {
      var g = graphs.get(parts[3]);
      return g ? Promise.resolve(g) : fail(404, "no graph run " + parts[3]);
    }
    return fail(404, "no such data in this report");
  };
})();
