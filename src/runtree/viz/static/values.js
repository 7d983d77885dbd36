/* runtree viewer: JSON values, model-call messages, and the request detail panel. */
"use strict";

(function () {
  var el = RT.el;

  function marker(value) {
    return value && typeof value === "object" && !Array.isArray(value) ? value.__runtree__ : undefined;
  }

  /* A collapsible view of a JSON value; runtree's markers read as what they stand for. */
  function valueView(value, depth) {
    depth = depth || 0;
    var kind = marker(value);
    if (kind === "truncated") {
      return el("span", { class: "v-marker" },
        el("span", { class: "tag", text: "cut" }),
        " first " + RT.fmt.num((value.head || "").length) + " of " + RT.fmt.num(value.length) + " characters: ",
        el("span", { class: "v-str", text: value.head }));
    }
    if (kind === "unserialisable") {
      return el("span", { class: "v-marker" },
        el("span", { class: "tag", text: value.type }), " ", el("span", { class: "v-repr", text: value.repr }));
    }
    if (kind === "dataclass") {
      return collapsible(value.fields || {}, depth, value.type.split(".").pop());
    }
    if (value === null) return el("span", { class: "v-null", text: "null" });
    if (typeof value === "string") {
      return el("span", { class: "v-str" + (value.indexOf("\n") >= 0 ? " multiline" : "") }, value);
    }
    if (typeof value === "number") return el("span", { class: "v-num", text: String(value) });
    if (typeof value === "boolean") return el("span", { class: "v-bool", text: String(value) });
    return collapsible(value, depth, null);
  }

  function collapsible(value, depth, label) {
    var isArray = Array.isArray(value);
    var keys = isArray ? value.map(function (_, i) { return i; }) : Object.keys(value);
    var open = isArray ? "[" : "{";
    var close = isArray ? "]" : "}";
    if (!keys.length) return el("span", { class: "v-punct", text: (label ? label + " " : "") + open + close });
    var body = el("div", { class: "v-body" });
    var filled = false;
    function fill() {
      if (filled) return;
      filled = true;
      keys.slice(0, 500).forEach(function (key) {
        body.appendChild(el("div", { class: "v-row" },
          isArray ? null : el("span", { class: "v-key", text: key + ": " }),
          valueView(value[key], depth + 1)));
      });
      if (keys.length > 500) body.appendChild(el("div", { class: "v-more", text: "… " + (keys.length - 500) + " more" }));
    }
    var node = el("span", { class: "v-node" });
    var toggle = el("button", {
      class: "v-toggle", type: "button",
      onclick: function () {
        var collapsed = node.classList.toggle("collapsed");
        if (!collapsed) fill();
      },
    }, (label ? label + " " : "") + open);
    var summary = el("span", { class: "v-summary", text: " " + keys.length + (isArray ? " items " : " keys ") + close });
    node.appendChild(toggle);
    node.appendChild(summary);
    node.appendChild(body);
    node.appendChild(el("span", { class: "v-close", text: close }));
    if (depth >= 2 || keys.length > 50) node.classList.add("collapsed");
    else fill();
    return node;
  }

  RT.valueView = function (value) { return el("div", { class: "value" }, valueView(value, 0)); };

  function content(value) {
    if (typeof value === "string") return el("div", { class: "msg-text", text: value });
    if (Array.isArray(value)) {
      return el("div", {}, value.map(function (part) {
        if (part && part.type === "text" && typeof part.text === "string") return el("div", { class: "msg-text", text: part.text });
        return RT.valueView(part);
      }));
    }
    return value === null || value === undefined ? null : RT.valueView(value);
  }

  function message(msg) {
    var role = msg.role || "?";
    var extra = [];
    var calls = msg.tool_calls || [];
    calls.forEach(function (call) {
      var fn = call.function || call;
      extra.push(el("div", { class: "tool-call" },
        el("span", { class: "tag", text: "tool call" }), " ", el("b", { text: fn.name || "?" }),
        call.id ? el("span", { class: "muted", text: " " + call.id }) : null,
        RT.valueView(typeof fn.arguments === "string" ? tryParse(fn.arguments) : fn.arguments)));
    });
    return el("div", { class: "msg role-" + role },
      el("div", { class: "msg-role" }, role, msg.name ? el("span", { class: "muted", text: " " + msg.name }) : null,
        msg.tool_call_id ? el("span", { class: "muted", text: " → " + msg.tool_call_id }) : null),
      content(msg.content), extra);
  }

  function tryParse(text) {
    try { return JSON.parse(text); } catch (e) { return text; }
  }

  function section(title, body, cls) {
    return el("section", { class: "d-section " + (cls || "") }, el("h3", { text: title }), body);
  }

  function fact(label, value) {
    return [el("dt", { text: label }), el("dd", {}, value === null || value === undefined || value === "" ? "–" : value)];
  }

  /* The detail panel of one request. */
  RT.renderDetail = function (panel, runId, d, actions) {
    RT.clear(panel);
    var attrs = d.attributes || {};
    var crumbs = (d.path || []).map(function (p) {
      return [actions.link(p.request_id, p.node_name), el("span", { class: "sep", text: "›" })];
    });
    panel.appendChild(el("div", { class: "d-head" },
      el("div", { class: "crumbs" }, crumbs, el("b", { text: d.node_name })),
      el("h2", {}, el("span", { class: "d-title", text: d.node_name }), " ", RT.pill(d.status),
        d.replayed ? el("span", { class: "badge replayed", title: "answered from the journal on resume", text: "replayed" }) : null),
      el("button", { class: "close", type: "button", title: "close", onclick: actions.close }, "×")));
    var facts = el("dl", { class: "facts" },
      fact("request", el("code", { text: d.request_id })),
      fact("latency", RT.fmt.duration(d.duration)),
      fact("mode", d.mode ? el("span", { class: "mode m-" + d.mode, text: d.mode }) : null),
      fact("started", RT.fmt.time(d.start_time)),
      fact("sequence", String(d.seq)),
      fact("children", d.children ? actions.expand(d.request_id, RT.fmt.num(d.children) + " calls") : "0"),
      attrs["runtree.attempt"] !== undefined ? fact("attempt", String(attrs["runtree.attempt"])) : null,
      attrs["runtree.cache"] ? fact("cache", attrs["runtree.cache"]) : null,
      d.events ? fact("events", String(d.events)) : null);
    panel.appendChild(facts);
    if (d.error) {
      var err = typeof d.error === "object" ? d.error : { message: String(d.error) };
      panel.appendChild(section("Error", el("div", {},
        el("div", { class: "error-line" }, el("b", { text: (err.type || "Error") + ": " }), err.message || ""),
        err.traceback ? el("pre", { class: "traceback", text: err.traceback }) : null), "error"));
    }
    if (d.llm) {
      var usage = d.llm.usage || {};
      var chips = el("div", { class: "chips" },
        usage.model ? el("span", { class: "chip", text: usage.model }) : null,
        usage.input_tokens !== undefined ? el("span", { class: "chip", text: "in " + RT.fmt.num(usage.input_tokens) + " tokens" }) : null,
        usage.output_tokens !== undefined ? el("span", { class: "chip", text: "out " + RT.fmt.num(usage.output_tokens) + " tokens" }) : null,
        usage.cost !== undefined ? el("span", { class: "chip cost", text: RT.fmt.cost(usage.cost) }) : null,
        usage.finish_reasons ? el("span", { class: "chip", text: "finish: " + [].concat(usage.finish_reasons).join(", ") }) : null);
      panel.appendChild(section("Model call", el("div", {}, chips.childNodes.length ? chips : null,
        el("div", { class: "messages" }, (d.llm.messages || []).map(message)),
        d.llm.response !== null && d.llm.response !== undefined
          ? el("div", { class: "response" }, el("h4", { text: "Response" }),
            d.llm.response && d.llm.response.role ? message(d.llm.response) : RT.valueView(d.llm.response))
          : null), "llm"));
    }
    var inputs = d.inputs || {};
    var args = inputs.args || [];
    var kwargs = inputs.kwargs || {};
    var inputBody = el("div", {});
    if (!args.length && !Object.keys(kwargs).length) inputBody.appendChild(el("span", { class: "muted", text: "no arguments" }));
    args.forEach(function (value, i) {
      inputBody.appendChild(el("div", { class: "arg" }, el("span", { class: "v-key", text: "#" + i + " " }), RT.valueView(value)));
    });
    Object.keys(kwargs).forEach(function (key) {
      inputBody.appendChild(el("div", { class: "arg" }, el("span", { class: "v-key", text: key + "= " }), RT.valueView(kwargs[key])));
    });
    panel.appendChild(section("Inputs", inputBody, "inputs"));
    if (d.status === "succeeded") panel.appendChild(section("Output", RT.valueView(d.output), "output"));
    else if (d.status === "running") panel.appendChild(section("Output", el("span", { class: "muted", text: "still running…" }), "output"));
    var names = Object.keys(attrs).sort();
    if (names.length) {
      panel.appendChild(section("Attributes", el("table", { class: "attrs" }, names.map(function (name) {
        var v = attrs[name];
        return el("tr", {}, el("th", { text: name }), el("td", {}, typeof v === "object" ? RT.valueView(v) : String(v)));
      })), "attributes"));
    }
  };
})();
