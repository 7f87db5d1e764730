"""The page's own style sheet and script, inlined so that a report needs no network.

The script is a small hand-written one (about 150 lines, no library): pan by dragging,
zoom with the buttons, ``+``/``-`` keys or ctrl+wheel (a trackpad pinch), fit to the
view, find a node or module, click a site row to highlight its node and witness paths,
click a node to read its facts. A library such as svg-pan-zoom would do the first three
in 30 KB but not the rest, and is not on PyPI to inline from a package; this one is
short enough to read and needs nothing else.

Styles are scoped under ``.analyzer-report`` so that a notebook's own styles and the
report's do not collide; colours come from variables with a dark variant (the page
follows ``prefers-color-scheme``; JupyterLab's dark theme is matched on its
``data-jp-theme-light`` attribute). Class chips keep their light fill and dark text in
both themes, like the graph, which stays on white.
"""

from __future__ import annotations

STYLE = """
.analyzer-report { --an-fg: #1d1d1f; --an-muted: #5f6368; --an-line: #d5d5d5;
  --an-head: #f2f2f2; --an-panel: #fafafa; --an-site: #d62728; --an-link: #1a5fb4;
  color: var(--an-fg); font-family: system-ui, -apple-system, "Segoe UI", sans-serif;
  font-size: 14px; line-height: 1.4; }
@media (prefers-color-scheme: dark) { body.analyzer-page .analyzer-report,
  body.analyzer-page { --an-fg: #e8e8e8; --an-muted: #a8adb3; --an-line: #4a4a4a;
  --an-head: #2b2b2b; --an-panel: #242424; --an-link: #8cb4ff; background: #1b1b1b; } }
[data-jp-theme-light="false"] .analyzer-report, .jp-mod-dark .analyzer-report,
body.vscode-dark .analyzer-report { --an-fg: var(--jp-content-font-color1, #e8e8e8);
  --an-muted: #a8adb3; --an-line: #555; --an-head: rgba(255,255,255,.07);
  --an-panel: rgba(255,255,255,.04); --an-link: #8cb4ff; }
body.analyzer-page { margin: 1.2rem 1.5rem; }
.analyzer-report h1 { font-size: 1.35rem; margin: 0 0 .15rem; }
.analyzer-report h1 .overrides { font-size: .85rem; font-weight: 400; color: var(--an-muted); }
.analyzer-report h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
.analyzer-report .meta { color: var(--an-muted); font-size: .85rem; }
.analyzer-report .verdict { display: flex; gap: 1.4rem; flex-wrap: wrap; align-items: flex-start;
  padding: .6rem .9rem; margin-top: .5rem; border: 1px solid var(--an-line); border-radius: 8px;
  background: var(--an-panel); }
.analyzer-report .verdict .big { font-size: 1.15rem; font-weight: 600; }
.analyzer-report .verdict .note { display: block; font-size: .75rem; color: var(--an-muted);
  max-width: 15rem; }
.analyzer-report .chip { display: inline-block; padding: .05rem .5rem; border-radius: 1rem;
  margin: .08rem .1rem; font-size: .8rem; border: 1px solid #8a8a8a; color: #111;
  white-space: nowrap; }
.analyzer-report table { border-collapse: collapse; font-size: .82rem; margin: .3rem 0;
  table-layout: fixed; width: 100%; }
.analyzer-report th, .analyzer-report td { border: 1px solid var(--an-line); padding: .22rem .45rem;
  text-align: left; vertical-align: top; overflow-wrap: normal; word-break: normal; }
.analyzer-report th { background: var(--an-head); font-weight: 600; }
.analyzer-report code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: .78rem; }
.analyzer-report code.snippet { overflow-wrap: break-word; color: var(--an-muted); }
.analyzer-report td .chip { white-space: normal; }
.analyzer-report td.num, .analyzer-report th.num { text-align: right; }
.analyzer-report tr.site td.first { border-left: 4px solid var(--an-site); }
.analyzer-report tr[data-site] { cursor: pointer; }
.analyzer-report tr[data-site]:hover td,
.analyzer-report tr.active td { background: rgba(214,39,40,.08); }
.analyzer-report .path { display: block; color: var(--an-muted); font-size: .76rem; }
.analyzer-report .path .more { font-style: italic; }
.analyzer-report details.fold { margin: .25rem 0; border: 1px solid var(--an-line);
  border-radius: 6px; padding: .15rem .5rem; }
.analyzer-report details.fold > summary { cursor: pointer; padding: .15rem 0; }
.analyzer-report details.fold > summary .count { color: var(--an-muted); }
.analyzer-report .explore { margin-top: .8rem; }
.analyzer-report .toolbar { display: flex; gap: .4rem; align-items: center; flex-wrap: wrap;
  margin-bottom: .35rem; font-size: .85rem; }
.analyzer-report .toolbar input { padding: .2rem .4rem; min-width: 16rem; font: inherit; }
.analyzer-report .toolbar button { font: inherit; padding: .1rem .55rem; cursor: pointer; }
.analyzer-report .toolbar .hint, .analyzer-report .toolbar .found-count { color: var(--an-muted); }
.analyzer-report .stage { display: flex; gap: .8rem; align-items: flex-start; flex-wrap: wrap; }
.analyzer-report .graph-box { flex: 1 1 600px; min-width: 320px; height: 72vh; overflow: hidden;
  border: 1px solid var(--an-line); border-radius: 8px; background: #fff; position: relative;
  touch-action: none; cursor: grab; }
.analyzer-report .graph-box.dragging { cursor: grabbing; }
.analyzer-report .graph-box.static { overflow: auto; max-height: 640px; height: auto;
  cursor: auto; }
.graph-box svg { display: block; }
.graph-box svg g.node { cursor: pointer; }
.graph-box svg.dim g.node:not(.hl), .graph-box svg.dim g.edge:not(.hl),
.graph-box svg.dim g.cluster { opacity: .28; }
.graph-box svg g.node.hl path, .graph-box svg g.node.hl polygon,
.graph-box svg g.node.hl ellipse { stroke: #d62728; stroke-width: 4px; }
.graph-box svg g.edge.hl path { stroke: #d62728; stroke-width: 3px; }
.graph-box svg g.node.found path, .graph-box svg g.node.found polygon,
.graph-box svg g.node.found ellipse { stroke: #1f77b4; stroke-width: 6px; }
.graph-box svg g.node.picked path, .graph-box svg g.node.picked polygon,
.graph-box svg g.node.picked ellipse { stroke: #111; stroke-width: 3px; stroke-dasharray: 4 2; }
.analyzer-report .side { flex: 0 1 290px; min-width: 240px; font-size: .8rem; }
.analyzer-report .side h3 { font-size: .85rem; margin: .1rem 0 .3rem; }
.analyzer-report .legend, .analyzer-report .facts { border: 1px solid var(--an-line);
  border-radius: 8px; padding: .45rem .6rem; background: var(--an-panel); margin-bottom: .6rem; }
.analyzer-report .legend ul { list-style: none; margin: 0; padding: 0; }
.analyzer-report .legend li { display: flex; gap: .45rem; align-items: center; margin: .12rem 0; }
.analyzer-report .legend .swatch { flex: 0 0 1.6rem; height: .95rem; border-radius: 4px;
  border: 1px solid #777; }
.analyzer-report .legend svg { flex: 0 0 1.6rem; }
.analyzer-report .facts dl { display: grid; grid-template-columns: auto 1fr; gap: .1rem .5rem;
  margin: 0; }
.analyzer-report .facts dt { color: var(--an-muted); }
.analyzer-report .facts dd { margin: 0; overflow-wrap: anywhere; }
.analyzer-report .inline-list { margin: .2rem 0; }
.analyzer-report .warn { color: #b35c00; }
.analyzer-report a { color: var(--an-link); }
"""

LEGIBLE_PX = 9
"""The height in pixels (a label's box, about its font size) at which a graph label reads
without zooming: the page opens with labels at least this tall."""

SCRIPT = r"""
(function () {
  var root = document.currentScript.closest('.analyzer-report');
  var data = JSON.parse(root.querySelector('script.analyzer-data').textContent);
  var box = root.querySelector('.graph-box');
  var svg = box && box.querySelector('svg');
  if (!svg) return;
  var base = svg.viewBox.baseVal;
  var full = {x: base.x, y: base.y, w: base.width, h: base.height};
  var view = {x: full.x, y: full.y, w: full.w, h: full.h};
  svg.removeAttribute('width'); svg.removeAttribute('height');
  svg.setAttribute('preserveAspectRatio', 'xMidYMin meet');
  svg.style.width = '100%'; svg.style.height = '100%';

  function apply() { svg.setAttribute('viewBox', [view.x, view.y, view.w, view.h].join(' ')); }
  function rect() { return box.getBoundingClientRect(); }
  function scale() { return view.w / rect().width; }  /* graph units per pixel */
  function show(cx, cy, s) {  /* centre (cx, cy) at s graph units per pixel */
    var r = rect(); view.w = r.width * s; view.h = r.height * s;
    view.x = cx - view.w / 2; view.y = cy - view.h / 2; apply();
  }
  var LEGIBLE_PX = %LEGIBLE_PX%;  /* a label this tall (pixels) reads without zooming */
  var natural = 0.75;  /* graphviz draws in points: 0.75 pt per pixel is its own size */
  function fit() {
    var r = rect(), s = Math.max(full.w / r.width, full.h / r.height, natural);
    show(full.x + full.w / 2, full.y + full.h / 2, s);
  }
  function start() {
    /* the whole graph when it fits at 70% of its size or more; else its top, as wide
       as the box allows; never magnified */
    var r = rect(), s = Math.max(full.w / r.width, natural);
    if (full.h / s < r.height) {
      box.style.height = Math.max(full.h / s + 8, 160) + 'px'; r = rect();
    }
    var whole = Math.max(full.w / r.width, full.h / r.height, natural);
    if (whole <= natural / 0.7) { fit(); return; }
    view.w = r.width * s; view.h = r.height * s;
    view.x = full.x + (full.w - view.w) / 2; view.y = full.y; apply();
    /* too wide to read whole: open where the labels are legible (LEGIBLE_PX tall), at the
       top, centred on the first node drawn (the input); fit shows the whole */
    var tall = labelHeight();
    if (tall > 0 && tall < LEGIBLE_PX) {
      s = Math.max(s * tall / LEGIBLE_PX, natural);
      var first = svg.querySelector('g.node'), cx = full.x + full.w / 2;
      if (first) { var b = bbox(first); cx = b.x + b.w / 2; }
      view.w = r.width * s; view.h = r.height * s;
      view.x = Math.min(Math.max(cx - view.w / 2, full.x), full.x + full.w - view.w);
      view.y = full.y; apply();
    }
  }
  function labelHeight() {  /* the median height, in pixels, of the labels as drawn now */
    var hs = [], texts = svg.querySelectorAll('g.node text');
    for (var i = 0; i < texts.length && hs.length < 200; i++) {
      var h = texts[i].getBoundingClientRect().height; if (h > 0) hs.push(h);
    }
    hs.sort(function (a, b) { return a - b; });
    return hs.length ? hs[Math.floor(hs.length / 2)] : 0;
  }
  function zoom(f, px, py) {
    var r = rect(); if (px === undefined) { px = r.left + r.width / 2; py = r.top + r.height / 2; }
    var gx = view.x + (px - r.left) * scale(), gy = view.y + (py - r.top) * scale();
    var s = Math.min(Math.max(scale() * f, 0.02), Math.max(full.w, full.h) / 50);
    view.w = r.width * s; view.h = r.height * s;
    view.x = gx - (px - r.left) * s; view.y = gy - (py - r.top) * s; apply();
  }
  function bbox(el) {  /* an element's box in viewBox units */
    var b = el.getBoundingClientRect(), r = rect(), s = scale();
    return {x: view.x + (b.left - r.left) * s, y: view.y + (b.top - r.top) * s,
            w: b.width * s, h: b.height * s};
  }
  function focus(el) {
    var b = bbox(el); show(b.x + b.w / 2, b.y + b.h / 2, Math.min(scale(), 1.2));
  }

  var drag = null;
  box.addEventListener('pointerdown', function (e) {
    drag = {x: e.clientX, y: e.clientY, vx: view.x, vy: view.y, moved: false};
    box.setPointerCapture(e.pointerId);
  });
  box.addEventListener('pointermove', function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; box.classList.add('dragging'); }
    if (drag.moved) { view.x = drag.vx - dx * scale(); view.y = drag.vy - dy * scale(); apply(); }
  });
  box.addEventListener('pointerup', function (e) {
    var clicked = drag && !drag.moved; drag = null; box.classList.remove('dragging');
    if (!clicked) return;
    var hit = document.elementFromPoint(e.clientX, e.clientY);
    var node = hit && hit.closest ? hit.closest('g.node') : null;
    if (node && data.nodes[node.id]) pick(node.id);
  });
  box.addEventListener('wheel', function (e) {
    if (!e.ctrlKey && !e.metaKey) return;  /* plain wheel scrolls the page */
    e.preventDefault(); zoom(Math.exp(e.deltaY * 0.002), e.clientX, e.clientY);
  }, {passive: false});
  box.addEventListener('dblclick', function (e) { zoom(0.6, e.clientX, e.clientY); });
  box.tabIndex = 0;
  box.addEventListener('keydown', function (e) {
    if (e.key === '+' || e.key === '=') zoom(0.8);
    else if (e.key === '-') zoom(1.25);
    else if (e.key === '0' || e.key === 'f') fit();
  });
  root.querySelector('[data-act=fit]').onclick = fit;
  root.querySelector('[data-act=in]').onclick = function () { zoom(0.8); };
  root.querySelector('[data-act=out]').onclick = function () { zoom(1.25); };

  var facts = root.querySelector('.facts');
  var labels = data.labels;
  function pick(id) {
    svg.querySelectorAll('g.node.picked').forEach(function (g) { g.classList.remove('picked'); });
    var g = svg.getElementById(id); if (g) g.classList.add('picked');
    var info = data.nodes[id]; facts.textContent = '';
    var h = document.createElement('h3'); h.textContent = info.title; facts.appendChild(h);
    var dl = document.createElement('dl');
    labels.forEach(function (pair) {
      var key = pair[0];
      if (info[key] === undefined) return;
      var dt = document.createElement('dt'), dd = document.createElement('dd');
      dt.textContent = pair[1]; dd.textContent = String(info[key]);
      if (key === 'source') dd.style.fontFamily = 'monospace';
      dl.appendChild(dt); dl.appendChild(dd);
    });
    facts.appendChild(dl);
  }

  function clear() {
    svg.classList.remove('dim');
    svg.querySelectorAll('.hl').forEach(function (g) { g.classList.remove('hl'); });
    root.querySelectorAll('tr.active').forEach(function (t) { t.classList.remove('active'); });
  }
  function light(id) { var g = svg.getElementById(id); if (g) g.classList.add('hl'); return g; }
  function highlight(index, row) {
    clear();
    var site = data.sites[index]; if (!site) return;
    svg.classList.add('dim'); if (row) row.classList.add('active');
    site.ids.forEach(light);
    site.edges.forEach(light);
    var g = light(site.node);
    if (g) { pick(site.node); box.scrollIntoView({block: 'nearest'}); focus(g); }
  }
  root.querySelectorAll('tr[data-site]').forEach(function (row) {
    row.addEventListener('click', function () { highlight(+row.dataset.site, row); });
  });
  root.querySelector('[data-act=clear]').onclick = clear;

  var input = root.querySelector('input[type=search]');
  var count = root.querySelector('.found-count');
  var found = [], at = -1;
  function pattern(text) {  /* layers.*.mlp matches layers.7.mlp */
    var parts = text.split('*').map(function (p) {
      return p.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    });
    return new RegExp(parts.join('\\d+'), 'i');
  }
  function search() {
    svg.querySelectorAll('g.node.found').forEach(function (g) { g.classList.remove('found'); });
    var q = input.value.trim().toLowerCase(); found = []; at = -1;
    if (q) Object.keys(data.nodes).forEach(function (id) {
      var n = data.nodes[id], text = [n.title, n.module || '', n.op || '', n.names || ''].join(' ');
      var hit = text.toLowerCase().indexOf(q) >= 0 || (n.module && pattern(n.module).test(q));
      if (hit) found.push(id);
    });
    found.forEach(function (id) {
      var g = svg.getElementById(id); if (g) g.classList.add('found');
    });
    count.textContent = q ? found.length + (found.length === 1 ? ' match' : ' matches') : '';
  }
  function next() {
    if (!found.length) return;
    at = (at + 1) % found.length;
    var g = svg.getElementById(found[at]); if (g) { focus(g); pick(found[at]); }
    count.textContent = (at + 1) + ' of ' + found.length;
  }
  input.addEventListener('input', search);
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter') { e.preventDefault(); next(); }
  });
  start();
})();
"""
SCRIPT = SCRIPT.replace("%LEGIBLE_PX%", str(LEGIBLE_PX))
