"""The style and script of the `html` export, inlined into every page.

Kept as text here (not files beside the package) so an installed modelkit always has
them. The script reads the JSON the page embeds (`#mk-data`), draws parts of a graph
from the `#mk-gGpP` blocks, and makes no request of any kind: the page works from
disk with no server and no network.
"""

PAGE_STYLE = r"""
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { display: flex; flex-direction: column; font: 14px system-ui, sans-serif; color: #1b2733;
  background: #f6f7f9; }
header { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: center; padding: 6px 10px;
  background: #fff; border-bottom: 1px solid #d5dae1; }
header h1 { font-size: 15px; margin: 0 8px 0 0; white-space: nowrap; }
header input { font: inherit; padding: 3px 6px; width: 18em; }
header button, header select { font: inherit; padding: 2px 8px; }
#mk-part { white-space: nowrap; color: #4a5563; }
#mk-notes { padding: 2px 10px; font-size: 13px; background: #fffbe6;
  border-bottom: 1px solid #eadfa8; }
#mk-notes:empty { display: none; }
#mk-notes div { margin: 2px 0; }
main { flex: 1; display: flex; min-height: 0; }
#mk-view { flex: 1; position: relative; overflow: hidden; background: #fff; cursor: grab;
  outline: none; }
#mk-view.drag { cursor: grabbing; }
#mk-view > svg { position: absolute; left: 0; top: 0; transform-origin: 0 0; }
aside { width: 28em; max-width: 45%; overflow: auto; border-left: 1px solid #d5dae1;
  background: #fff; padding: 8px 12px; font-size: 13px; }
aside h2 { font-size: 15px; margin: 4px 0; word-break: break-all; }
aside h3 { font-size: 13px; margin: 12px 0 4px; color: #4a5563; text-transform: uppercase;
  letter-spacing: .04em; }
aside table { border-collapse: collapse; width: 100%; }
aside td { vertical-align: top; padding: 2px 4px; border-top: 1px solid #eef0f3;
  word-break: break-word; }
aside td:first-child { color: #4a5563; white-space: nowrap; width: 1%; }
.mono { font-family: ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace;
  font-size: 12px; }
button.link { background: none; border: none; padding: 0; color: #1d5fa8; cursor: pointer;
  font: inherit; text-align: left; text-decoration: underline; word-break: break-all; }
#mk-results { max-height: 40vh; overflow: auto; }
#mk-results div { padding: 1px 0; }
.legend span.sym { display: inline-block; width: 1.4em; text-align: center; font-weight: bold; }
.mk-graph .box.sel > rect { stroke: #0b57d0 !important; stroke-width: 3.2 !important; }
.mk-graph .box.sel > .folded-sel { }
.mk-graph .e.lit { stroke: #0b57d0; stroke-width: 2.4; }
.mk-graph .box.hit > rect { fill: #fff4c2; }
.mk-graph .box { cursor: pointer; }
.muted { color: #6b7685; }
.markline { margin: 2px 0; }
kbd { font: 11px ui-monospace, monospace; border: 1px solid #c4cad3; border-radius: 3px;
  padding: 0 3px; background: #f6f7f9; }
"""

PAGE_SCRIPT = r"""
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("mk-data").textContent);
  var view = document.getElementById("mk-view");
  var side = document.getElementById("mk-side");
  var search = document.getElementById("mk-search");
  var S = {g: -1, p: -1, sel: null, box: null, k: 1, x: 0, y: 0, hits: []};
  var CONSUMERS = {};

  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }
  function fmt(x) {
    if (typeof x !== "number") return String(x);
    if (Number.isInteger(x) && Math.abs(x) < 1e15) return x.toLocaleString("en-US");
    return Number(x.toPrecision(6)).toString();
  }
  function G() { return DATA.graphs[S.g]; }
  function svgEl() { return view.querySelector("svg"); }

  function apply() {
    var s = svgEl();
    if (s) s.style.transform = "translate(" + S.x + "px," + S.y + "px) scale(" + S.k + ")";
  }

  var CACHE = {};
  function showPart(g, p) {
    if (g === S.g && p === S.p) return;
    var gr = DATA.graphs[g], size = gr.sizes[p], key = g + "," + p;
    var s = svgEl();
    if (!(S.g === -1 && s && view.dataset.first === key)) {
      // NOTE: the part on screen is kept as text before it is replaced; the first one
      // is inline in the page and has no block of its own.
      if (s && S.g !== -1 && CACHE[S.g + "," + S.p] === undefined) {
        CACHE[S.g + "," + S.p] = s.innerHTML;
      }
      if (CACHE[key] === undefined) {
        CACHE[key] = document.getElementById("mk-g" + g + "p" + p).textContent;
      }
      view.innerHTML = '<svg width="' + size[0] + '" height="' + size[1] + '">' +
        CACHE[key] + "</svg>";
    }
    var changed = g !== S.g;
    S.g = g; S.p = p; S.box = null;
    if (changed) { buildGraphInfo(); }
    document.getElementById("mk-part").textContent = gr.parts > 1 ?
      "part " + (p + 1) + " of " + gr.parts : "";
    document.getElementById("mk-prev").hidden = gr.parts <= 1;
    document.getElementById("mk-next").hidden = gr.parts <= 1;
    markHits();
  }

  function fit() {
    var s = svgEl(); if (!s) return;
    var w = +s.getAttribute("width"), h = +s.getAttribute("height");
    var vw = view.clientWidth, vh = view.clientHeight;
    var k = Math.min(vw / w, vh / h, 1.5);
    if (k < 0.35) { k = Math.min(1, vw / w); S.x = (vw - w * k) / 2; S.y = 10; }
    else { S.x = (vw - w * k) / 2; S.y = (vh - h * k) / 2; }
    S.k = k; apply();
  }
  function zoom(f, cx, cy) {
    if (cx === undefined) { cx = view.clientWidth / 2; cy = view.clientHeight / 2; }
    var k = Math.max(0.02, Math.min(8, S.k * f));
    S.x = cx - (cx - S.x) * (k / S.k); S.y = cy - (cy - S.y) * (k / S.k); S.k = k; apply();
  }
  function boxEl(vid) { return view.querySelector('[data-box="' + vid + '"]'); }
  function boxRect(el) {
    var m = /translate\(([-\d.]+),([-\d.]+)\)/.exec(el.getAttribute("transform"));
    var r = el.querySelector("rect");
    return [+m[1] + (+r.getAttribute("x")), +m[2] + (+r.getAttribute("y")),
            +r.getAttribute("width"), +r.getAttribute("height")];
  }
  function centre(el) {
    var b = boxRect(el);
    if (S.k < 0.5) S.k = 1;
    S.x = view.clientWidth / 2 - (b[0] + b[2] / 2) * S.k;
    S.y = view.clientHeight / 2 - (b[1] + b[3] / 2) * S.k;
    apply();
  }

  function consumers(tid) {
    var key = S.g;
    if (!CONSUMERS[key]) {
      var c = {}, nodes = G().nodes;
      for (var i = 0; i < nodes.length; i++) {
        var ins = nodes[i].i;
        for (var j = 0; j < ins.length; j++) {
          if (ins[j] >= 0) (c[ins[j]] = c[ins[j]] || []).push(i);
        }
      }
      CONSUMERS[key] = c;
    }
    return CONSUMERS[key][tid] || [];
  }
  function link(ni) {
    var n = G().nodes[ni];
    return '<button class="link" data-go="' + ni + '">' + esc(n.n || n.op) + "</button>";
  }
  function statsHTML(s) {
    if (!s) return "";
    var t = "min " + fmt(s.min) + ", max " + fmt(s.max) + ", mean " + fmt(s.mean) +
      ", std " + fmt(s.std) + " (" + fmt(s.count) + " values)";
    if (s.real) {
      t += "<br>real: min " + fmt(s.real.min) + ", max " + fmt(s.real.max) + ", mean " +
        fmt(s.real.mean) + ", std " + fmt(s.real.std);
    }
    return '<div class="stats">' + t + "</div>";
  }
  function tensorHTML(tid, label, withConsumers) {
    var t = G().tensors[tid];
    var h = '<tr class="tensor"><td>' + esc(label) + '</td><td><div class="mono">' + esc(t.n) +
      "</div>" +
      '<div class="mono">' + esc(t.t) + (t.c ? " (constant)" : "") + "</div>";
    if (t.q) h += '<div class="mono quant">' + t.q.map(esc).join("<br>") + "</div>";
    h += statsHTML(t.s);
    if (t.p >= 0 && !withConsumers) h += '<div class="muted">from ' + link(t.p) + "</div>";
    if (withConsumers) {
      var cs = consumers(tid);
      if (cs.length) h += '<div class="muted">to ' + cs.slice(0, 50).map(link).join(", ") +
        (cs.length > 50 ? " and " + (cs.length - 50) + " more" : "") + "</div>";
    }
    return h + "</td></tr>";
  }
  function marksHTML(marks) {
    if (!marks || !marks.length) return "";
    var h = "<h3>Marks</h3>";
    marks.forEach(function (m) {
      h += '<div class="markline"><b class="' + m["class"] + '">' + esc(m.text) + "</b></div>";
      h += "<table>" + m.lines.map(function (l) {
        return "<tr><td>" + esc(l[0]) + "</td><td>" + esc(l[1]) + "</td></tr>";
      }).join("") + "</table>";
    });
    return h;
  }
  function details(ni) {
    var g = G(), n = g.nodes[ni];
    var h = "<h2>" + esc(n.op) + '</h2><div class="mono">' + esc(n.n) + "</div>";
    h += '<div class="muted">node ' + ni + (n.x !== undefined ? ", operator index " + n.x : "") +
      ", " + esc(n.d) + (n.v ? ", version " + n.v : "") + "</div>";
    if (n.b < 0) h += '<div class="muted">not drawn: no drawn op reads it</div>';
    else if (g.boxes[n.b] !== ni) {
      var owner = g.boxes[n.b];
      h += '<div class="muted">drawn in the box of ' +
        (owner >= 0 ? link(owner) : "a graph input or output") + "</div>";
    }
    h += marksHTML(n.m);
    if (n.a.length) {
      h += "<h3>Attributes</h3><table>" + n.a.map(function (a) {
        return "<tr><td>" + esc(a[0]) + '</td><td class="mono">' + esc(a[1]) + "</td></tr>";
      }).join("") + "</table>";
    }
    if (n.i.length) {
      h += "<h3>Inputs</h3><table>";
      n.i.forEach(function (tid, k) {
        h += tid < 0 ? "<tr><td>" + k + '</td><td class="muted">(none)</td></tr>' :
          tensorHTML(tid, String(k), false);
      });
      h += "</table>";
    }
    if (n.o.length) {
      h += "<h3>Outputs</h3><table>";
      n.o.forEach(function (tid, k) { h += tensorHTML(tid, String(k), true); });
      h += "</table>";
    }
    side.innerHTML = h;
    side.scrollTop = 0;
  }
  function ioDetails(vid) {
    var g = G(), tid = g.bio[vid];
    var kind = g.inputs.indexOf(tid) >= 0 ? "graph input" : "graph output";
    side.innerHTML = "<h2>" + kind + "</h2><table>" + tensorHTML(tid, "tensor", true) +
      "</table>";
  }

  function highlight(vid) {
    view.querySelectorAll(".sel, .lit").forEach(function (e) {
      e.classList.remove("sel"); e.classList.remove("lit");
    });
    if (vid === null || vid < 0) return null;
    var el = boxEl(vid);
    if (!el) return null;
    el.classList.add("sel");
    view.querySelectorAll('[data-from="' + vid + '"], [data-to="' + vid + '"]').forEach(
      function (e) { e.classList.add("lit"); });
    return el;
  }
  function select(ni, keepView) {
    var g = G(), n = g.nodes[ni];
    S.sel = ni;
    details(ni);
    if (n.b >= 0) {
      showPart(S.g, g.bpart[n.b]);
      var el = highlight(n.b);
      S.box = n.b;
      if (el && !keepView) centre(el);
    } else {
      highlight(null);
    }
    document.body.dataset.selected = String(ni);
  }
  function selectBox(vid) {
    var g = G();
    if (g.boxes[vid] >= 0) { select(g.boxes[vid], true); return; }
    S.sel = null; S.box = vid; highlight(vid); ioDetails(vid);
    document.body.dataset.selected = "";
  }

  function runSearch() {
    var q = search.value.trim().toLowerCase();
    var out = document.getElementById("mk-results");
    S.hits = [];
    if (q) {
      var g = G();
      for (var i = 0; i < g.nodes.length; i++) {
        var n = g.nodes[i];
        var hay = (n.n + "\u0001" + n.op + "\u0001" + n.o.map(function (t) {
          return g.tensors[t].t; }).join("\u0001")).toLowerCase();
        if (hay.indexOf(q) >= 0) S.hits.push(i);
      }
    }
    markHits();
    if (!q) { out.innerHTML = ""; return; }
    var shown = S.hits.slice(0, 200);
    out.innerHTML = "<div class='muted'>" + fmt(S.hits.length) + " match" +
      (S.hits.length === 1 ? "" : "es") + (S.hits.length > 200 ? " (first 200)" : "") +
      "</div>" + shown.map(function (i) {
        var n = G().nodes[i];
        return "<div>" + link(i) + ' <span class="muted">' + esc(n.op) + "</span></div>";
      }).join("");
  }
  function markHits() {
    view.querySelectorAll(".hit").forEach(function (e) { e.classList.remove("hit"); });
    var g = G();
    S.hits.forEach(function (i) {
      var b = g.nodes[i].b;
      if (b >= 0 && g.bpart[b] === S.p) { var el = boxEl(b); if (el) el.classList.add("hit"); }
    });
  }

  function buildGraphInfo() {
    var sel = document.getElementById("mk-graph");
    if (sel) sel.value = String(S.g);
    CONSUMERS = {};
    var g = G();
    var h = "<h2>" + esc(DATA.title) + '</h2><div class="muted">' + esc(g.label) + ", " +
      fmt(g.nodes.length) + " nodes" + (g.parts > 1 ? ", drawn in " + g.parts + " parts of " +
      "at most " + DATA.part_size + " boxes (edges to other parts end in +N in / +N out)" : "") +
      "</div>";
    if (DATA.legend.length) {
      h += '<h3>Legend</h3><div class="legend">' + DATA.legend.map(function (l) {
        return '<div><span class="sym ' + l[1] + '">' + esc(l[0]) + "</span> " + esc(l[2]) +
          "</div>";
      }).join("") + "</div>";
    }
    var marked = [];
    g.nodes.forEach(function (n, i) { if (n.m && n.m.length) marked.push(i); });
    if (marked.length) {
      h += "<h3>Marked nodes (" + fmt(marked.length) + ")</h3>" +
        marked.slice(0, 500).map(function (i) {
          return "<div>" + G().nodes[i].m.map(function (m) {
            return '<span class="' + m["class"] + '">' + esc(m.symbol) + "</span>";
          }).join("") + " " + link(i) + "</div>";
        }).join("");
    }
    h += '<h3>Keys</h3><div class="muted">drag or arrows: pan; wheel, + and -: zoom; ' +
      "<kbd>0</kbd> fit; <kbd>/</kbd> search; <kbd>[</kbd> <kbd>]</kbd> previous/next node; " +
      "<kbd>PageUp</kbd> <kbd>PageDown</kbd> previous/next part; <kbd>Esc</kbd> clear</div>";
    side.innerHTML = h;
  }

  var drag = null, dragged = false;
  view.addEventListener("mousedown", function (ev) {
    if (ev.button !== 0) return;
    drag = {x: ev.clientX, y: ev.clientY, sx: S.x, sy: S.y, moved: false};
    dragged = false;
    view.focus();
    ev.preventDefault();
  });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) return;
    var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; view.classList.add("drag"); }
    if (drag.moved) { S.x = drag.sx + dx; S.y = drag.sy + dy; apply(); }
  });
  window.addEventListener("mouseup", function () {
    // NOTE: the click that ends a drag selects nothing.
    if (drag && drag.moved) { dragged = true; view.classList.remove("drag"); }
    drag = null;
  });
  view.addEventListener("click", function (ev) {
    if (dragged) { dragged = false; return; }
    var el = ev.target.closest("[data-box]");
    if (el) selectBox(+el.getAttribute("data-box"));
  });
  view.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var r = view.getBoundingClientRect();
    zoom(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
  }, {passive: false});
  document.addEventListener("click", function (ev) {
    var go = ev.target.closest("[data-go]");
    if (go) { ev.preventDefault(); select(+go.getAttribute("data-go")); }
  });
  function step(d) {
    var n = G().nodes.length;
    if (!n) return;
    var i = S.sel === null ? (d > 0 ? -1 : n) : S.sel;
    i += d;
    if (i >= 0 && i < n) select(i);
  }
  function part(d) {
    var p = S.p + d;
    if (p >= 0 && p < G().parts) { showPart(S.g, p); initialView(); }
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.target === search) {
      if (ev.key === "Escape") { search.blur(); }
      if (ev.key === "Enter" && S.hits.length) { select(S.hits[0]); }
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var k = ev.key, used = true;
    if (k === "ArrowLeft") { S.x += 80; apply(); }
    else if (k === "ArrowRight") { S.x -= 80; apply(); }
    else if (k === "ArrowUp") { S.y += 80; apply(); }
    else if (k === "ArrowDown") { S.y -= 80; apply(); }
    else if (k === "+" || k === "=") zoom(1.25);
    else if (k === "-" || k === "_") zoom(0.8);
    else if (k === "0") fit();
    else if (k === "/") { search.focus(); search.select(); }
    else if (k === "]") step(1);
    else if (k === "[") step(-1);
    else if (k === "PageDown") part(1);
    else if (k === "PageUp") part(-1);
    else if (k === "Escape") { S.sel = null; highlight(null); buildGraphInfo(); }
    else used = false;
    if (used) ev.preventDefault();
  });
  var timer = null;
  search.addEventListener("input", function () {
    clearTimeout(timer); timer = setTimeout(runSearch, 120);
  });
  document.getElementById("mk-fit").addEventListener("click", fit);
  document.getElementById("mk-in").addEventListener("click", function () { zoom(1.25); });
  document.getElementById("mk-out").addEventListener("click", function () { zoom(0.8); });
  document.getElementById("mk-prev").addEventListener("click", function () { part(-1); });
  document.getElementById("mk-next").addEventListener("click", function () { part(1); });
  var gsel = document.getElementById("mk-graph");
  if (gsel) gsel.addEventListener("change", function () {
    showPart(+gsel.value, 0); initialView(); runSearch();
  });

  function initialView() {
    // NOTE: a drawing that fits at a readable scale is shown whole; a larger one at
    // full size from its top.
    fit();
    if (S.k < 0.75) {
      var s = svgEl(), w = s ? +s.getAttribute("width") : 0;
      S.k = 1; S.x = Math.max(10, (view.clientWidth - w) / 2); S.y = 10; apply();
    }
  }
  showPart(DATA.first[0], DATA.first[1]);
  initialView();
  window.modelkitExport = {select: select, selectBox: selectBox, showPart: showPart,
                           state: S};
  document.body.dataset.ready = "1";
})();
"""
