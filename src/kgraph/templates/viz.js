/* kgraph: the interactive page around vis-network (issue 4).
 *
 * The data comes from the JSON block #kgraph-data. Every string from it is written with
 * textContent, a Text node or an attribute value, never as markup, so a label or quote
 * holding a script tag shows literally and runs nothing. Links are made for http(s) IRIs only.
 *
 * window.kgraph exposes the network, its data sets and a few functions, for the browser
 * tests and for anyone poking at the graph from the console.
 */
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("kgraph-data").textContent);
  const entities = data.entities;
  const relations = data.relations;
  const claims = data.claims;
  const typeOf = (id) => entities[id].type;
  const state = {interactive: null, stabilised: null, selected: null, hiddenTypes: new Set()};

  // -- small DOM helpers (text only) ------------------------------------------------
  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  const SVG = "http://www.w3.org/2000/svg";
  const SHAPES = {
    diamond: "7,1 13,7 7,13 1,7",
    triangle: "7,1.5 13,12.5 1,12.5",
    triangleDown: "1,1.5 13,1.5 7,12.5",
    star: "7,1 8.6,5.2 13,5.3 9.5,8 10.8,12.6 7,10 3.2,12.6 4.5,8 1,5.3 5.4,5.2",
    hexagon: "4,1.5 10,1.5 13,7 10,12.5 4,12.5 1,7",
  };

  function svg(tag, attrs, children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    for (const child of children || []) node.append(child);
    return node;
  }

  function swatch(shape, color) {
    let mark;
    if (shape === "square") mark = svg("rect", {x: 1.5, y: 1.5, width: 11, height: 11, fill: color});
    else if (SHAPES[shape]) mark = svg("polygon", {points: SHAPES[shape], fill: color});
    else mark = svg("circle", {cx: 7, cy: 7, r: 5.5, fill: color});
    return svg("svg", {class: "swatch", width: 14, height: 14, viewBox: "0 0 14 14", "aria-hidden": "true"}, [mark]);
  }

  function lineSwatch(width, color) {
    return svg("svg", {class: "swatch", width: 28, height: 10, "aria-hidden": "true"},
      [svg("line", {x1: 1, y1: 5, x2: 27, y2: 5, stroke: color, "stroke-width": width})]);
  }

  const plural = (n, one, many = `${one}s`) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
  const normalize = (text) => String(text).toLowerCase().replace(/[\s_-]+/g, " ").trim();
  const entityName = (id) => (entities[id] ? entities[id].label : (data.names[id] || id));

  // -- header and notice ------------------------------------------------------------
  const summary = data.summary;
  const summaryText = [
    `${plural(summary.entities, "entity", "entities")}, ${plural(summary.relations, "relation")},`
      + ` ${plural(summary.claims, "claim")} from ${plural(summary.documents, "document")}`,
  ];
  if (data.filters.length) {
    summaryText.push(`(of ${summary.total_entities.toLocaleString("en")} entities; ${data.filters.join("; ")})`);
    document.title = `kgraph: ${data.filters.join("; ")}`;
  }
  document.getElementById("summary").textContent = summaryText.join(" ");

  if (data.crowded) {
    const notice = document.getElementById("notice");
    notice.append(`This view shows ${plural(summary.entities, "entity", "entities")}, too many`
      + " to read at once. Search for one above, or draw a focused view: ");
    notice.append(el("code", {text: "kgraph viz --focus ENTITY --depth 2"}));
    if (data.layout === "precomputed") notice.append(" (Positions were computed in advance; physics is off.)");
    notice.hidden = false;
  }

  // -- the network -------------------------------------------------------------------
  const nodes = new vis.DataSet(data.vis.nodes);
  const edges = new vis.DataSet(data.vis.edges);
  const baseColor = new Map(data.vis.nodes.map((n) => [n.id, n.color]));
  const baseEdgeColor = new Map(data.vis.edges.map((e) => [e.id, e.color]));
  const network = new vis.Network(document.getElementById("graph"), {nodes, edges}, data.vis.options);

  function markStabilised() {
    if (state.stabilised !== null) return;
    state.stabilised = performance.now();
    placeLabels();
    const fromUrl = nodeFromUrl();
    if (fromUrl) selectEntity(fromUrl, {zoom: true});
    else if (data.focus) selectEntity(data.focus, {zoom: false});
    document.documentElement.dataset.stabilised = "true";
  }

  // -- labels: readable at any zoom, never on top of each other (issue 13) ---------------
  // vis-network draws a label at its font size times the zoom, and not at all under 5 px:
  // zoomed out to fit, no label was readable; at zoom 1.0 they overlapped. After each zoom,
  // every shown label is drawn at LABEL_PX on screen, the best connected first, and a label
  // whose box would cover one already placed is left out until one zooms in.
  const LABEL_PX = 13;
  const MAX_LABELS = 150;
  const baseLabel = new Map(data.vis.nodes.map((n) => [n.id, n.label]));
  const labelOrder = data.vis.nodes.map((n) => n.id).sort((a, b) =>
    (entities[b] ? entities[b].degree : 0) - (entities[a] ? entities[a].degree : 0)
    || (baseLabel.get(a) < baseLabel.get(b) ? -1 : baseLabel.get(a) > baseLabel.get(b) ? 1 : 0));
  // id -> font size (canvas units), 0 when left out; -1: as drawn from the data (cleared first)
  const labelState = new Map(data.vis.nodes.map((n) => [n.id, -1]));
  let labelsQueued = null;

  function placeLabels() {
    const scale = network.getScale();
    const size = LABEL_PX / scale;
    const width = {maximum: 180 / scale};  // vis-network wraps at this width, in canvas units
    const positions = network.getPositions();
    const view = document.getElementById("graph");
    const margin = 40;
    const onScreen = (p) => p.x > -margin && p.y > -margin && p.x < view.clientWidth + margin
      && p.y < view.clientHeight + margin;
    const shown = new Set(nodes.getIds({filter: (n) => !n.hidden}));
    // at most MAX_LABELS are tried (a screen holds fewer without overlap): restyling a node
    // costs ~0.1 ms in vis-network, too much for thousands on every zoom
    const candidates = labelOrder.filter((id) => shown.has(id) && positions[id]
      && onScreen(network.canvasToDOM(positions[id]))).slice(0, MAX_LABELS);
    // 1: every candidate label at the size for this zoom, so vis-network measures it
    const first = [];
    for (const id of candidates) {
      if (labelState.get(id) === size) continue;
      labelState.set(id, size);
      first.push({id, label: baseLabel.get(id), font: {size}, widthConstraint: width});
    }
    const candidateSet = new Set(candidates);
    for (const [id, was] of labelState) {
      if (was && !candidateSet.has(id)) { labelState.set(id, 0); first.push({id, label: ""}); }
    }
    if (first.length) nodes.update(first);
    network.redraw();
    // 2: the best connected first; a label that would cover a placed one is left out
    const placed = [];
    const second = [];
    for (const id of candidates) {
      const box = network.body.nodes[id] && network.body.nodes[id].labelModule.size;
      const free = box && box.width > 0 && !placed.some((b) => b.left < box.left + box.width
        && box.left < b.left + b.width && b.top < box.top + box.height && box.top < b.top + b.height);
      if (free) { placed.push({left: box.left, top: box.top, width: box.width, height: box.height}); continue; }
      labelState.set(id, 0);
      second.push({id, label: ""});
    }
    if (second.length) nodes.update(second);
    document.documentElement.dataset.labels = String(placed.length);
  }

  function queueLabels() {
    clearTimeout(labelsQueued);
    labelsQueued = setTimeout(placeLabels, 120);
  }

  network.on("zoom", queueLabels);
  network.on("dragEnd", queueLabels);
  network.on("animationFinished", placeLabels);

  // -- fit: the shown nodes fill the canvas --------------------------------------------------
  function fitShown() {
    const shown = nodes.getIds({filter: (n) => !n.hidden});
    if (!shown.length) return;
    network.fit({nodes: shown, animation: false});
    placeLabels();
  }

  // a hidden edge's tooltip would stay on screen: vis-network only hides it on mouse move
  function hideTooltip() {
    const handler = network.interactionHandler;
    if (handler && handler.popup !== undefined) {
      handler.popup.hide();
      handler.popupObj = undefined;
    }
  }

  // -- the selected node lives in the URL (#node=<id>), so a link opens on it ------------------
  function nodeFromUrl() {
    const id = new URLSearchParams(location.hash.replace(/^#/, "")).get("node");
    return id && entities[id] ? id : null;
  }

  function rememberNode(id) {
    const hash = id ? "#" + new URLSearchParams({node: id}).toString() : " ";
    try {
      history.replaceState(null, "", hash === " " ? location.pathname + location.search : hash);
    } catch (e) {
      // some file:// pages refuse replaceState: the URL then just does not follow
    }
  }

  window.addEventListener("hashchange", () => {
    const id = nodeFromUrl();
    if (id && !(state.selected && state.selected.id === id)) selectEntity(id, {zoom: true});
  });

  network.once("afterDrawing", () => {
    state.interactive = performance.now();
    document.documentElement.dataset.interactive = "true";
    if (data.layout === "precomputed" || data.vis.nodes.length === 0) markStabilised();
  });
  network.once("stabilizationIterationsDone", () => {
    // Physics stabilises once, then stops: the layout stays put while one reads it.
    network.setOptions({physics: {enabled: false}});
    markStabilised();
  });

  network.on("click", (params) => {
    if (params.nodes.length) selectEntity(params.nodes[0], {zoom: false});
    else if (params.edges.length) selectRelation(params.edges[0]);
    else clearSelection();
  });

  // -- neighbourhood highlight ----------------------------------------------------------
  // In small views (data.fade_others) everything but the neighbourhood fades. That restyles
  // every node and edge, about 0.1 ms each in vis-network, a second for thousands: large
  // views give the neighbourhood a dark border instead.
  const FADED_NODE = {background: "#e8eaed", border: "#ffffff", highlight: {background: "#e8eaed", border: "#9aa0a6"},
    hover: {background: "#e8eaed", border: "#9aa0a6"}};
  const NODE_LOOKS = {
    plain: (id) => ({color: baseColor.get(id), borderWidth: 1.5, font: {color: "#202124"}}),
    near: (id) => ({color: {...baseColor.get(id), border: "#202124"}, borderWidth: 2.5, font: {color: "#202124"}}),
    faded: () => ({color: FADED_NODE, borderWidth: 1.5, font: {color: "#bdc1c6"}}),
  };
  const nodeLook = new Map();
  const fadedEdges = new Set();

  function lookOf(id, nodeIds) {
    if (nodeIds === null) return "plain";
    if (data.fade_others) return nodeIds.has(id) ? "plain" : "faded";
    return nodeIds.has(id) ? "near" : "plain";
  }

  function highlight(nodeIds, edgeIds) {
    const candidates = data.fade_others ? nodes.getIds() : new Set([...nodeLook.keys(), ...(nodeIds || [])]);
    const nodeUpdates = [];
    for (const id of candidates) {
      const look = lookOf(id, nodeIds);
      if ((nodeLook.get(id) || "plain") === look) continue;
      if (look === "plain") nodeLook.delete(id); else nodeLook.set(id, look);
      nodeUpdates.push({id, ...NODE_LOOKS[look](id)});
    }
    nodes.update(nodeUpdates);
    if (!data.fade_others) return;
    const edgeUpdates = [];
    for (const id of edges.getIds()) {
      const fade = edgeIds !== null && !edgeIds.has(id);
      if (fade === fadedEdges.has(id)) continue;
      if (fade) fadedEdges.add(id); else fadedEdges.delete(id);
      edgeUpdates.push({id, color: fade ? {color: "#eceef0"} : baseEdgeColor.get(id),
        font: {color: fade ? "rgba(0,0,0,0)" : "#4d5156"}});
    }
    edges.update(edgeUpdates);
  }

  function selectEntity(id, {zoom}) {
    if (!entities[id]) return;
    if (state.hiddenTypes.has(typeOf(id))) setTypeVisible(typeOf(id), true);
    state.selected = {kind: "entity", id};
    rememberNode(id);
    network.selectNodes([id]);
    const around = new Set([id, ...network.getConnectedNodes(id)]);
    highlight(around, new Set(network.getConnectedEdges(id)));
    showEntity(id);
    if (zoom) {
      network.focus(id, {scale: Math.max(network.getScale(), 1.0),
        animation: {duration: 300, easingFunction: "easeInOutQuad"}});
    }
  }

  function selectRelation(id) {
    const relation = relations[id];
    if (!relation) return;
    state.selected = {kind: "relation", id};
    network.selectEdges([id]);
    highlight(new Set([relation.from, relation.to]), new Set([id]));
    showRelation(id);
  }

  function clearSelection() {
    state.selected = null;
    rememberNode(null);
    network.unselectAll();
    highlight(null, null);
    const details = document.getElementById("details");
    details.replaceChildren(el("p", {className: "placeholder",
      text: "Click a node or an edge to read the evidence behind it."}));
  }

  // -- details panel -------------------------------------------------------------------
  function entityRef(id) {
    if (!entities[id]) return el("span", {text: entityName(id)});
    const button = el("a", {href: "#", className: "entity-ref", text: entities[id].label});
    button.addEventListener("click", (event) => {
      event.preventDefault();
      selectEntity(id, {zoom: true});
    });
    return button;
  }

  function safeLink(iri, text) {
    if (!/^https?:\/\//i.test(iri)) return el("span", {text});
    return el("a", {href: iri, target: "_blank", rel: "noopener noreferrer", text});
  }

  function groupOf(type) {
    for (const group of data.groups) {
      if (group.types.some((t) => t.name === type)) return group;
    }
    return null;
  }

  function showEntity(id) {
    const entity = entities[id];
    const group = groupOf(entity.type);
    const parts = [
      el("h2", {text: entity.label}),
      el("p", {className: "kind"}, [group ? swatch(group.shape, group.color) : null, entity.type_label,
        " \u00b7 ", el("span", {className: "id", text: id})]),
    ];
    if (entity.description) parts.push(el("p", {className: "description", text: entity.description}));
    const facts = el("dl");
    if (entity.synonyms.length) {
      facts.append(el("dt", {text: "Also called"}), el("dd", {text: entity.synonyms.join(", ")}));
    }
    if (entity.xrefs.length) {
      facts.append(el("dt", {text: "External identifiers"}),
        el("dd", {}, entity.xrefs.map((x) => safeLink(x.iri, x.name))));
    }
    if (entity.sources.length) {
      facts.append(el("dt", {text: "Mentioned in"}),
        el("dd", {}, entity.sources.map((s) => el("div", {className: "document", text: documentName(s)}))));
    }
    const shown = network.getConnectedEdges(id).length;
    facts.append(el("dt", {text: "Relations"}),
      el("dd", {text: `${entity.degree} in the whole graph` + (shown !== entity.degree ? `, ${shown} shown` : "")}));
    parts.push(facts);
    showDetails(parts, [id], entity.claims, "entity", id);
  }

  function showRelation(id) {
    const relation = relations[id];
    const best = relation.claims.filter((c) => claims[c])
      .sort((a, b) => claims[b].strength - claims[a].strength)[0];
    const parts = [
      el("h2", {}, [entityRef(relation.from), ` ${relation.label} `, entityRef(relation.to)]),
      el("p", {className: "kind", text: (relation.belief === null || relation.belief === undefined ? ""
        : `Belief ${beliefText(relation.belief)} (${relation.level}) \u00b7 `)
        + `backed by ${plural(relation.claims.length, "claim")}`
        + (best ? `; strongest evidence: ${claims[best].evidence_label}` : "")}),
    ];
    if (relation.explanation) parts.push(el("p", {className: "description", text: relation.explanation}));
    showDetails(parts, [relation.from, relation.to], relation.claims, "relation", id);
  }

  // The panel shows one entity or one relation: its header parts, the links to the reports
  // on the entities named, then the claims; data-entity / data-relation says which it is.
  function showDetails(parts, reported, claimIds, kind, id) {
    const details = document.getElementById("details");
    for (const end of reported) {
      const link = reportLink(end);
      if (link) parts.push(link);
    }
    parts.push(...claimList(claimIds));
    details.replaceChildren(...parts);
    delete details.dataset.entity;
    delete details.dataset.relation;
    details.dataset[kind] = id;
    details.scrollTop = 0;
  }

  function beliefText(belief) {
    // two decimals rounded down, as the reports print it: 0.996 is 0.99, never a certain 1.00
    return (Math.floor(belief * 100 + 1e-9) / 100).toFixed(2);
  }

  function documentName(sid) {
    const doc = data.documents[sid];
    if (!doc) return sid;
    return (doc.publisher ? `${doc.publisher}, ` : "") + `\u201c${doc.title}\u201d (${sid})`;
  }

  function reportLink(id) {
    // only the server has reports (/report/<id>); a page opened from a file has none
    if (!data.report_base || !entities[id] || !data.reportable || !data.reportable.includes(id)) return null;
    // the graph is shown in a frame of the app: the report opens in the whole window
    return el("p", {className: "report-link"}, [el("a", {href: data.report_base + encodeURIComponent(id), target: "_top",
      text: `Evidence report: ${entities[id].label}`})]);
  }

  // Claims grouped by the relation they state, best-backed relation first (issue 12).
  function claimList(ids) {
    const sorted = ids.filter((c) => claims[c]).sort((a, b) => claims[b].strength - claims[a].strength
      || (a < b ? -1 : a > b ? 1 : 0));
    const groups = new Map();
    for (const cid of sorted) {
      const key = claims[cid].relation || cid;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(cid);
    }
    const beliefOf = (key) => (data.assessments && data.assessments[key] ? data.assessments[key].belief : -1);
    const keys = [...groups.keys()].sort((a, b) => beliefOf(b) - beliefOf(a) || (a < b ? -1 : a > b ? 1 : 0));
    const out = [el("h3", {text: `Claims (${sorted.length})`})];
    for (const key of keys) {
      const assessed = data.assessments ? data.assessments[key] : null;
      const group = el("section", {className: "relation-group", "data-relation": key});
      if (assessed) {
        group.append(el("p", {className: "belief", text: `Belief ${beliefText(assessed.belief)} (${assessed.level})`
          + ` \u00b7 ${plural(groups.get(key).length, "claim")}`}));
      }
      group.append(...groups.get(key).map(claimCard));
      out.push(group);
    }
    return out;
  }

  function claimCard(cid) {
    const claim = claims[cid];
    const statement = el("p", {className: "statement"}, [
      claim.subject ? entityRef(claim.subject) : "", ` ${claim.predicate_label} `,
      claim.object ? entityRef(claim.object)
        : `${claim.value === null ? "" : claim.value}${claim.unit ? " " + claim.unit : ""}`,
    ]);
    if (claim.modality && claim.modality !== "asserted") {
      statement.append(el("span", {className: "modality", text: claim.modality}));
    }
    const card = el("div", {className: "claim", "data-claim": cid}, [
      statement,
      el("blockquote", {className: "quote", text: claim.quote}),
      el("p", {className: "meta", text: `Source: ${documentName(claim.source)} \u00b7 `
        + `Evidence: ${claim.evidence_label}`}),
    ]);
    const qualifiers = Object.entries(claim.qualifiers || {});
    if (qualifiers.length) {
      card.append(el("p", {className: "meta",
        text: qualifiers.map(([k, v]) => `${k}: ${entities[v] || data.names[v] ? entityName(v) : v}`).join("; ")}));
    }
    if (claim.cites && claim.cites.length) {
      card.append(el("p", {className: "meta"}, ["Cites: ", ...joinRefs(claim.cites)]));
    }
    if (claim.attributed_to && claim.attributed_to.length) {
      card.append(el("p", {className: "meta"}, ["Attributed to: ", ...joinRefs(claim.attributed_to)]));
    }
    if (claim.flag) card.append(el("p", {className: "flag", text: `Flagged: ${claim.flag}`}));
    if (claim.note) card.append(el("p", {className: "note", text: `Curator's note: ${claim.note}`}));
    return card;
  }

  function joinRefs(ids) {
    const out = [];
    ids.forEach((id, i) => {
      if (i) out.push(", ");
      out.push(entityRef(id));
    });
    return out;
  }

  // -- legend and type filters -----------------------------------------------------------
  const legend = document.getElementById("legend");
  const typeBoxes = new Map();
  const groupBoxes = [];

  function checkbox(props) {
    const box = el("input", {type: "checkbox", ...props});
    box.checked = true;
    return box;
  }

  function setTypeVisible(type, visible) {
    if (visible) state.hiddenTypes.delete(type); else state.hiddenTypes.add(type);
    const box = typeBoxes.get(type);
    if (box) box.checked = visible;
    applyTypeFilter();
  }

  function applyTypeFilter() {
    const updates = [];
    for (const node of nodes.get({fields: ["id", "hidden"]})) {
      const hidden = state.hiddenTypes.has(typeOf(node.id));
      if (Boolean(node.hidden) !== hidden) updates.push({id: node.id, hidden});
    }
    nodes.update(updates);
    for (const [box, group] of groupBoxes) {
      const shown = group.types.filter((t) => !state.hiddenTypes.has(t.name)).length;
      box.checked = shown === group.types.length;
      box.indeterminate = shown > 0 && shown < group.types.length;
    }
    if (state.selected && state.selected.kind === "entity" && state.hiddenTypes.has(typeOf(state.selected.id))) {
      clearSelection();
    }
    hideTooltip();
    fitShown();
  }

  legend.append(el("h2", {text: "Entity types"}));
  const buttons = el("div", {className: "buttons"});
  const showAll = el("button", {type: "button", text: "Show all"});
  const hideAll = el("button", {type: "button", text: "Hide all"});
  showAll.addEventListener("click", () => {
    state.hiddenTypes.clear();
    typeBoxes.forEach((box) => { box.checked = true; });
    applyTypeFilter();
  });
  hideAll.addEventListener("click", () => {
    typeBoxes.forEach((box, type) => { state.hiddenTypes.add(type); box.checked = false; });
    applyTypeFilter();
  });
  const fit = el("button", {type: "button", id: "fit", text: "Fit", title: "Zoom so that every shown node fits"});
  fit.addEventListener("click", fitShown);
  buttons.append(showAll, hideAll, fit);
  legend.append(buttons);

  for (const group of data.groups) {
    const block = el("div", {className: "group"});
    const single = group.types.length === 1 && group.types[0].name === group.name;
    if (single) {
      const box = checkbox({"data-type": group.name});
      typeBoxes.set(group.name, box);
      box.addEventListener("change", () => setTypeVisible(group.name, box.checked));
      block.append(el("label", {}, [box, swatch(group.shape, group.color), group.label,
        el("span", {className: "count", text: String(group.count)})]));
    } else {
      const box = checkbox({"data-group": group.name});
      groupBoxes.push([box, group]);
      box.addEventListener("change", () => {
        for (const t of group.types) {
          if (box.checked) state.hiddenTypes.delete(t.name); else state.hiddenTypes.add(t.name);
          typeBoxes.get(t.name).checked = box.checked;
        }
        applyTypeFilter();
      });
      block.append(el("label", {}, [box, swatch(group.shape, group.color), el("strong", {text: group.label}),
        el("span", {className: "count", text: String(group.count)})]));
      const subtypes = el("div", {className: "subtypes"});
      for (const t of group.types) {
        const sub = checkbox({"data-type": t.name});
        typeBoxes.set(t.name, sub);
        sub.addEventListener("change", () => setTypeVisible(t.name, sub.checked));
        // the group's own type under its own name read "condition > condition" (issue 13)
        const name = t.name === group.name ? "other" : t.label;
        subtypes.append(el("label", {}, [sub, name, el("span", {className: "count", text: String(t.count)})]));
      }
      block.append(subtypes);
    }
    legend.append(block);
  }

  legend.append(el("h3", {text: "Relations"}));
  legend.append(el("p", {className: "note",
    text: "Arrows point from subject to object and carry the predicate. Width: the belief in the relation,"
      + " from its claims; darkness: the strongest evidence behind it."}));
  for (const kind of data.evidence) {
    legend.append(el("div", {className: "edge-key"}, [lineSwatch(kind.width, kind.color), kind.label]));
  }
  legend.append(el("h3", {text: "Nodes"}));
  legend.append(el("p", {className: "note", text: "Size: number of relations in the whole graph."
    + " Click a node or an edge to read its claims; click the background to clear."}));

  // -- search ----------------------------------------------------------------------------
  // Labels, ids and synonyms of entities; claim ids and quotes too (issue 13), a claim
  // found opening its relation (or its subject). A word may be mistyped: one edit in a
  // word of up to 5 letters, two in a longer one (Damerau-Levenshtein, bounded).
  const searchIndex = [];
  const relationOfClaim = new Map();
  for (const [rid, relation] of Object.entries(relations)) {
    for (const cid of relation.claims) relationOfClaim.set(cid, rid);
  }
  const words = (text) => normalize(text).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  for (const [id, entity] of Object.entries(entities)) {
    searchIndex.push({id, kind: "label", name: entity.label, key: normalize(entity.label), words: words(entity.label)});
    searchIndex.push({id, kind: "id", name: id, key: normalize(id), words: words(id)});
    for (const synonym of entity.synonyms) {
      searchIndex.push({id, kind: "synonym", name: synonym, key: normalize(synonym), words: words(synonym)});
    }
  }
  for (const [cid, claim] of Object.entries(claims)) {
    const target = claim.subject && entities[claim.subject] ? claim.subject : null;
    if (!target && !relationOfClaim.has(cid)) continue;
    const entry = {id: target, claim: cid, relation: relationOfClaim.get(cid) || null};
    searchIndex.push({...entry, kind: "claim", name: cid, key: normalize(cid), words: [normalize(cid)]});
    if (claim.quote) {
      searchIndex.push({...entry, kind: "quote", name: claim.quote, key: normalize(claim.quote),
        words: words(claim.quote)});
    }
  }

  function editDistance(a, b, limit) {
    // Damerau-Levenshtein (optimal string alignment), giving up past ``limit``
    if (Math.abs(a.length - b.length) > limit) return limit + 1;
    let before = null;
    let previous = Array.from({length: b.length + 1}, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const row = [i];
      let best = i;
      for (let j = 1; j <= b.length; j++) {
        const cost = a[i - 1] === b[j - 1] ? 0 : 1;
        let d = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost);
        if (before && i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2] + 1);
        row.push(d);
        best = Math.min(best, d);
      }
      if (best > limit) return limit + 1;
      before = previous;
      previous = row;
    }
    return previous[b.length];
  }

  const allowed = (word) => (word.length <= 2 ? 0 : word.length <= 5 ? 1 : 2);

  // How well ``wanted`` (its words ``asked``) matches an entry: lower is better, null is none.
  function matchScore(entry, wanted, asked) {
    const at = entry.key.indexOf(wanted);
    if (at >= 0) return entry.key === wanted ? 0 : at === 0 ? 1 : entry.key[at - 1] === " " ? 2 : 3;
    // every asked word close to some word of the entry (the last may be a prefix being typed)
    let typos = 0;
    for (let i = 0; i < asked.length; i++) {
      const word = asked[i];
      const limit = allowed(word);
      let best = limit + 1;
      for (const candidate of entry.words) {
        if (i === asked.length - 1 && word.length >= 3 && candidate.startsWith(word)) { best = 0; break; }
        const cut = i === asked.length - 1 && candidate.length > word.length + limit
          ? candidate.slice(0, word.length) : candidate;
        best = Math.min(best, editDistance(word, cut, limit));
        if (best === 0) break;
      }
      if (best > limit) return null;
      typos += best;
    }
    return 4 + typos;
  }
  const input = document.getElementById("search-input");
  const results = document.getElementById("search-results");
  let matches = [];
  let active = 0;

  const KIND_RANK = {label: 0, id: 1, synonym: 1, claim: 2, quote: 3};

  function search(query) {
    const wanted = normalize(query);
    if (!wanted) return [];
    const asked = words(query);
    if (!asked.length) return [];
    const best = new Map();
    for (const entry of searchIndex) {
      const rank = matchScore(entry, wanted, asked);
      if (rank === null) continue;
      const score = rank * 4 + KIND_RANK[entry.kind];
      // one result per entity, and one per claim found by its id or quote
      const key = entry.claim ? `claim:${entry.claim}` : `entity:${entry.id}`;
      const previous = best.get(key);
      if (!previous || score < previous.score) best.set(key, {id: entry.id, entry, score});
    }
    const nameOf = (m) => (m.entry.claim ? m.entry.name : entities[m.id].label);
    return [...best.values()].sort((a, b) => a.score - b.score
      || nameOf(a).length - nameOf(b).length
      || (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0)).slice(0, 12);
  }

  function snippet(text, query) {
    const at = normalize(text).indexOf(normalize(query));
    const start = Math.max(0, (at >= 0 ? at : 0) - 30);
    return (start > 0 ? "\u2026" : "") + text.slice(start, start + 90) + (start + 90 < text.length ? "\u2026" : "");
  }

  function showMatches() {
    results.replaceChildren(...matches.map((match, i) => {
      const entry = match.entry;
      let item;
      if (entry.claim) {
        const claim = claims[entry.claim];
        item = el("li", {role: "option", "aria-selected": String(i === active), "data-claim": entry.claim}, [
          el("span", {text: `${entityName(claim.subject)} ${claim.predicate_label} `
            + (claim.object ? entityName(claim.object) : String(claim.value === null ? "" : claim.value))}),
          el("span", {className: "match", text: entry.kind === "quote"
            ? ` \u2014 \u201c${snippet(entry.name, input.value)}\u201d` : ` \u2014 claim ${entry.claim}`}),
        ]);
      } else {
        const entity = entities[match.id];
        item = el("li", {role: "option", "aria-selected": String(i === active), "data-entity": match.id}, [
          entity.label,
          entry.kind !== "label" && entry.name !== entity.label
            ? el("span", {className: "match", text: ` \u2014 ${entry.name}`}) : null,
          el("span", {className: "match", text: ` (${entity.type_label})`}),
        ]);
      }
      item.addEventListener("mousedown", (event) => {
        event.preventDefault();
        choose(match);
      });
      return item;
    }));
    results.hidden = matches.length === 0;
  }

  function choose(match) {
    results.hidden = true;
    const entry = match.entry;
    if (!entry.claim) {
      input.value = entities[match.id].label;
      selectEntity(match.id, {zoom: true});
      return;
    }
    // a claim: its relation when drawn, else its subject; then its card comes into view
    if (entry.relation && edges.get(entry.relation)) {
      const relation = relations[entry.relation];
      for (const end of [relation.from, relation.to]) {
        if (state.hiddenTypes.has(typeOf(end))) setTypeVisible(typeOf(end), true);
      }
      selectRelation(entry.relation);
      network.focus(relation.from, {scale: Math.max(network.getScale(), 1.0), animation: false});
      placeLabels();
    } else if (entry.id) {
      selectEntity(entry.id, {zoom: true});
    }
    const card = document.querySelector(`#details [data-claim="${CSS.escape(entry.claim)}"]`);
    if (card) {
      card.classList.add("found");
      card.scrollIntoView({block: "nearest"});
    }
  }

  input.addEventListener("input", () => {
    matches = search(input.value);
    active = 0;
    showMatches();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!matches.length) return;
      active = (active + (event.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
      showMatches();
      event.preventDefault();
    } else if (event.key === "Enter") {
      matches = matches.length ? matches : search(input.value);
      if (matches.length) choose(matches[active] || matches[0]);
      event.preventDefault();
    } else if (event.key === "Escape") {
      results.hidden = true;
    }
  });
  input.addEventListener("blur", () => { results.hidden = true; });

  window.kgraph = {
    network, nodes, edges, data, state,
    selectEntity: (id) => selectEntity(id, {zoom: true}),
    selectRelation,
    clearSelection,
    setTypeVisible,
    search,
    fitShown,
    placeLabels,
  };
})();
