/* runtree viewer: the request tree, loaded a page of children at a time. */
"use strict";

(function () {
  var el = RT.el;
  var PAGE = 200;

  function Tree(container, runId, options) {
    this.container = container;
    this.runId = runId;
    this.onSelect = options.onSelect;
    this.nodes = new Map(); // request id -> {li, row, item, list, loaded, shown, total, more}
    this.root = { list: el("ul", { class: "tree", role: "tree" }), loaded: false, shown: 0, total: 0, more: null };
    this.selected = null;
    container.appendChild(this.root.list);
  }

  Tree.prototype.load = function () {
    return this.loadPage(null, this.root, 0);
  };

  Tree.prototype.loadPage = function (parentId, holder, offset) {
    var self = this;
    holder.loading = true;
    return RT.api(RT.runPath(this.runId) + "/children", { parent: parentId || "", offset: offset, limit: PAGE })
      .then(function (page) {
        holder.loading = false;
        holder.loaded = true;
        holder.total = page.total;
        page.items.forEach(function (item) {
          if (!self.nodes.has(item.request_id)) holder.list.appendChild(self.makeNode(item));
        });
        holder.shown = offset + page.items.length;
        self.updateMore(parentId, holder);
        if (parentId === null && !page.total) {
          holder.list.appendChild(el("li", { class: "tree-empty muted", text: "No requests yet." }));
        }
      });
  };

  Tree.prototype.updateMore = function (parentId, holder) {
    var self = this;
    if (holder.more) holder.more.remove();
    holder.more = null;
    var left = holder.total - holder.shown;
    if (left <= 0) return;
    holder.more = el("li", { class: "more" }, el("button", {
      type: "button", class: "link",
      onclick: function () { self.loadPage(parentId, holder, holder.shown); },
    }, "show " + Math.min(PAGE, left) + " more of " + RT.fmt.num(left)));
    holder.list.appendChild(holder.more);
  };

  Tree.prototype.makeNode = function (item) {
    var self = this;
    var node = { item: item, loaded: false, shown: 0, total: item.children || 0, list: null, more: null };
    node.row = el("div", {
      class: "row", role: "treeitem", "data-id": item.request_id, tabindex: "-1",
      onclick: function (event) {
        if (event.target.closest(".caret")) return;
        self.onSelect(item.request_id);
      },
    });
    node.li = el("li", { class: "node" }, node.row);
    this.nodes.set(item.request_id, node);
    this.paint(node);
    return node.li;
  };

  Tree.prototype.paint = function (node) {
    var self = this;
    var item = node.item;
    var attrs = item.attributes || {};
    RT.clear(node.row);
    node.row.className = "row st-" + item.status + (this.selected === item.request_id ? " selected" : "");
    var caret = node.total
      ? el("button", {
        type: "button", class: "caret" + (node.open ? " open" : ""), title: "show its calls",
        "aria-label": "expand", onclick: function () { self.toggle(item.request_id); },
      }, "▸")
      : el("span", { class: "caret none" });
    var tokens = attrs["gen_ai.usage.input_tokens"] !== undefined || attrs["gen_ai.usage.output_tokens"] !== undefined
      ? el("span", { class: "badge tokens", title: "tokens in / out" },
        RT.fmt.num(attrs["gen_ai.usage.input_tokens"] || 0) + " / " + RT.fmt.num(attrs["gen_ai.usage.output_tokens"] || 0) + " tok")
      : null;
    RT.append(node.row, [
      caret,
      el("span", { class: "dot s-" + item.status, title: item.status }),
      el("span", { class: "name", text: item.node_name }),
      attrs["runtree.kind"] ? el("span", { class: "badge kind", text: attrs["runtree.kind"] }) : null,
      item.mode && item.mode !== "async" ? el("span", { class: "mode m-" + item.mode, text: item.mode }) : null,
      item.replayed ? el("span", { class: "badge replayed", title: "answered from the journal on resume", text: "replayed" }) : null,
      attrs["runtree.attempt"] > 1 ? el("span", { class: "badge attempt", text: "attempt " + attrs["runtree.attempt"] }) : null,
      attrs["runtree.cache"] === "hit" ? el("span", { class: "badge", text: "cache hit" }) : null,
      tokens,
      node.total ? el("span", { class: "count", title: "calls made", text: RT.fmt.num(node.total) }) : null,
      el("span", { class: "grow" }),
      item.status === "failed" && item.error_type
        ? el("span", { class: "err", title: item.error_message || "" }, item.error_type + (item.error_message ? ": " + item.error_message : ""))
        : item.preview ? el("span", { class: "preview", text: item.preview }) : null,
      el("span", { class: "dur", text: item.status === "running" ? "running" : RT.fmt.duration(item.duration) }),
    ]);
  };

  Tree.prototype.toggle = function (id, open) {
    var node = this.nodes.get(id);
    if (!node || !node.total) return Promise.resolve();
    var want = open === undefined ? !node.open : open;
    node.open = want;
    if (!node.list) {
      node.list = el("ul", { class: "tree", role: "group" });
      node.li.appendChild(node.list);
    }
    node.list.hidden = !want;
    this.paint(node);
    if (want && !node.loaded && !node.loading) return this.loadPage(id, node, 0);
    return Promise.resolve();
  };

  Tree.prototype.select = function (id) {
    var previous = this.selected && this.nodes.get(this.selected);
    this.selected = id;
    if (previous) this.paint(previous);
    var node = id && this.nodes.get(id);
    if (node) {
      this.paint(node);
      node.row.scrollIntoView({ block: "nearest" });
    }
  };

  /* Open the ancestors of a request (``path`` from the detail API) and select it. */
  Tree.prototype.reveal = function (path, id) {
    var self = this;
    var chain = Promise.resolve();
    path.forEach(function (step) {
      chain = chain.then(function () {
        var node = self.nodes.get(step.request_id);
        return node ? self.toggle(step.request_id, true) : null;
      });
    });
    return chain.then(function () { self.select(id); });
  };

  /* Live: a request was created or changed. */
  Tree.prototype.update = function (item) {
    var node = this.nodes.get(item.request_id);
    if (node) {
      node.item = Object.assign({}, node.item, item, { children: node.total });
      this.paint(node);
      return;
    }
    var holder = item.parent_id === null ? this.root : this.nodes.get(item.parent_id);
    if (!holder) return;
    var empty = holder.list && holder.list.querySelector(".tree-empty");
    if (empty) empty.remove();
    holder.total += 1;
    if (holder !== this.root && !holder.loaded) {
      this.paint(holder);
      return;
    }
    if (holder.loaded && holder.shown === holder.total - 1) {
      var li = this.makeNode(item);
      if (holder.more) holder.list.insertBefore(li, holder.more);
      else holder.list.appendChild(li);
      holder.shown += 1;
    }
    this.updateMore(holder === this.root ? null : holder.item.request_id, holder);
    if (holder !== this.root) this.paint(holder);
  };

  RT.Tree = Tree;

  /* A flat list of search results, paged. */
  RT.renderResults = function (container, runId, query, onSelect) {
    RT.clear(container);
    var list = el("ul", { class: "tree results" });
    var head = el("div", { class: "results-head muted", text: "searching…" });
    container.appendChild(head);
    container.appendChild(list);
    function page(offset) {
      return RT.api(RT.runPath(runId) + "/search", { q: query.text, status: query.status, offset: offset, limit: PAGE })
        .then(function (result) {
          head.textContent = RT.fmt.num(result.total) + " matching request" + (result.total === 1 ? "" : "s");
          var more = list.querySelector(".more");
          if (more) more.remove();
          var tree = { nodes: new Map(), selected: null, paint: Tree.prototype.paint, onSelect: onSelect, toggle: function () {} };
          result.items.forEach(function (item) {
            item.children = 0;
            var node = { item: item, total: 0 };
            node.row = el("div", { class: "row", "data-id": item.request_id, onclick: function () { onSelect(item.request_id); } });
            tree.paint(node);
            list.appendChild(el("li", { class: "node" }, node.row));
          });
          var shown = offset + result.items.length;
          if (shown < result.total) {
            list.appendChild(el("li", { class: "more" }, el("button", {
              type: "button", class: "link", onclick: function () { page(shown); },
            }, "show more (" + RT.fmt.num(result.total - shown) + " left)")));
          }
        }, function (error) { head.replaceWith(RT.errorNotice(error)); });
    }
    return page(0);
  };
})();
