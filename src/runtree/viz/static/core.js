/* runtree viewer: shared helpers, the data source (server API or embedded report), routing. */
"use strict";

var RT = (window.RT = window.RT || {});

RT.config = JSON.parse(document.getElementById("runtree-config").textContent);
RT.report = RT.config.mode === "report";

/* -- DOM ------------------------------------------------------------------------------------ */

RT.el = function (tag, attrs) {
  var node = document.createElement(tag);
  var key;
  for (key in attrs || {}) {
    var value = attrs[key];
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (var i = 2; i < arguments.length; i++) RT.append(node, arguments[i]);
  return node;
};

RT.append = function (node, child) {
  if (child === null || child === undefined || child === false) return node;
  if (Array.isArray(child)) child.forEach(function (c) { RT.append(node, c); });
  else node.appendChild(typeof child === "string" || typeof child === "number"
    ? document.createTextNode(String(child)) : child);
  return node;
};

RT.clear = function (node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
};

RT.svg = function (tag, attrs) {
  var node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (var key in attrs || {}) {
    if (attrs[key] === null || attrs[key] === undefined) continue;
    if (key === "text") node.textContent = attrs[key];
    else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), attrs[key]);
    else node.setAttribute(key, attrs[key]);
  }
  for (var i = 2; i < arguments.length; i++) if (arguments[i]) node.appendChild(arguments[i]);
  return node;
};

/* -- formatting ----------------------------------------------------------------------------- */

RT.fmt = {
  duration: function (seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 0.001) return (seconds * 1e6).toFixed(0) + " µs";
    if (seconds < 1) return (seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1) + " ms";
    if (seconds < 120) return seconds.toFixed(2) + " s";
    if (seconds < 7200) return (seconds / 60).toFixed(1) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  },
  time: function (epoch) {
    if (!epoch) return "–";
    var d = new Date(epoch * 1000);
    var pad = function (n) { return String(n).padStart(2, "0"); };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  },
  ago: function (epoch) {
    if (!epoch) return "";
    var s = Date.now() / 1000 - epoch;
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  },
  num: function (n) {
    if (n === null || n === undefined) return "–";
    return Number(n).toLocaleString("en-US");
  },
  cost: function (usd) {
    if (usd === null || usd === undefined) return null;
    return "$" + (usd < 0.01 ? usd.toFixed(4) : usd.toFixed(2));
  },
  short: function (id) { return id ? String(id).slice(0, 12) : ""; },
};

RT.pill = function (status) {
  return RT.el("span", { class: "pill s-" + (status || "unknown"), text: status || "?" });
};

RT.usageChips = function (usage) {
  if (!usage) return null;
  var chips = [];
  if (usage.input_tokens !== null && usage.input_tokens !== undefined)
    chips.push(RT.el("span", { class: "chip", title: "input tokens" }, "in " + RT.fmt.num(usage.input_tokens)));
  if (usage.output_tokens !== null && usage.output_tokens !== undefined)
    chips.push(RT.el("span", { class: "chip", title: "output tokens" }, "out " + RT.fmt.num(usage.output_tokens)));
  if (usage.cost !== null && usage.cost !== undefined)
    chips.push(RT.el("span", { class: "chip cost", title: "cost (USD)" }, RT.fmt.cost(usage.cost)));
  return chips.length ? RT.el("span", { class: "chips" }, chips) : null;
};

/* -- data ----------------------------------------------------------------------------------- */

RT.ApiError = function (status, message, kind) {
  this.status = status;
  this.message = message;
  this.kind = kind;
};

RT.api = function (path, params) {
  if (RT.report) return RT.localApi(path, params || {});
  var query = [];
  for (var key in params || {}) {
    if (params[key] !== null && params[key] !== undefined && params[key] !== "")
      query.push(encodeURIComponent(key) + "=" + encodeURIComponent(params[key]));
  }
  var url = "/api" + path + (query.length ? "?" + query.join("&") : "");
  return fetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
    return response.json().catch(function () { return {}; }).then(function (body) {
      if (!response.ok) throw new RT.ApiError(response.status, body.error || response.statusText, body.kind);
      return body;
    });
  }, function (error) {
    throw new RT.ApiError(0, "the viewer is not reachable (" + error.message + ")", "offline");
  });
};

RT.runPath = function (runId) { return "/runs/" + encodeURIComponent(runId); };

/* -- routing: paths on the server, the #fragment in a report --------------------------------- */

RT.currentPath = function () {
  if (RT.report) return location.hash.slice(1) || RT.config.start || "/";
  return location.pathname;
};

RT.href = function (path) { return RT.report ? "#" + path : path; };

RT.go = function (path, replace) {
  if (path === RT.currentPath()) return;
  if (RT.report) {
    if (replace) history.replaceState(null, "", "#" + path);
    else location.hash = path;
  } else if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  if (!RT.report || replace) RT.render();
};

RT.link = function (path, content, cls) {
  return RT.el("a", {
    href: RT.href(path),
    class: cls,
    onclick: function (event) {
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      RT.go(path);
    },
  }, content);
};

RT.pages = {};
RT.cleanups = [];

RT.onLeave = function (cleanup) { RT.cleanups.push(cleanup); };

RT.render = function () {
  var path = RT.currentPath();
  var match = path.match(/^\/runs\/([^/]+)(?:\/requests\/([^/]+))?\/?$/);
  var target = { name: "runs", params: {} };
  if (match) {
    target = {
      name: "run",
      params: { runId: decodeURIComponent(match[1]), requestId: match[2] ? decodeURIComponent(match[2]) : null },
    };
  } else if (path !== "/" && path !== "") {
    target = { name: "missing", params: { path: path } };
  }
  var app = document.getElementById("app");
  var same = RT.shown && RT.shown.name === "run" && target.name === "run" &&
    RT.shown.params.runId === target.params.runId && RT.shown.update;
  if (same) {
    RT.shown.update(target.params);
    return;
  }
  RT.cleanups.splice(0).forEach(function (cleanup) { cleanup(); });
  RT.clear(app);
  RT.shown = target;
  if (RT.config.problem && RT.config.problem.kind !== "missing" && RT.config.problem.kind !== "empty") {
    RT.problemPage(app, RT.config.problem.error);
    return;
  }
  if (RT.config.not_found && !RT.rendered) {
    RT.rendered = true;
    RT.notFoundPage(app, RT.config.not_found);
    return;
  }
  RT.rendered = true;
  if (target.name === "missing") RT.notFoundPage(app, "Nothing at " + target.params.path + ".");
  else target.update = RT.pages[target.name](app, target.params) || null;
};

RT.notFoundPage = function (app, message) {
  document.title = "not found · runtree";
  RT.append(app, RT.el("section", { class: "card empty-state", id: "not-found" },
    RT.el("div", { class: "big", text: "404" }),
    RT.el("h1", { text: "Not found" }),
    RT.el("p", { text: message }),
    RT.link("/", "Back to all runs", "button")));
};

RT.problemPage = function (app, message) {
  RT.append(app, RT.el("section", { class: "card empty-state problem", id: "problem" },
    RT.el("h1", { text: "This journal cannot be shown" }),
    RT.el("p", { class: "error-text", text: message })));
};

RT.errorNotice = function (error) {
  var message = error && error.message ? error.message : String(error);
  return RT.el("div", { class: "notice error" }, message);
};

RT.start = function () {
  var where = document.getElementById("where");
  if (where) where.textContent = RT.report ? "report · " + (RT.config.generated || "") : RT.config.journal || "";
  var brand = document.querySelector(".brand");
  if (brand) {
    brand.setAttribute("href", RT.href("/"));
    brand.addEventListener("click", function (event) { event.preventDefault(); RT.go("/"); });
  }
  window.addEventListener(RT.report ? "hashchange" : "popstate", function () { RT.render(); });
  RT.render();
};

document.addEventListener("DOMContentLoaded", function () { RT.start(); });
