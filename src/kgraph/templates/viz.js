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
    document.documentElement.dataset.stabilised = "true";
    if (data.focus) selectEntity(data.focus, {zoom: false});
  }

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
    const details = document.getElementById("details");
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
    const link = reportLink(id);
    if (link) parts.push(link);
    parts.push(...claimList(entity.claims));
    details.replaceChildren(...parts);
    details.dataset.entity = id;
    delete details.dataset.relation;
    details.scrollTop = 0;
  }

  function showRelation(id) {
    const relation = relations[id];
    const details = document.getElementById("details");
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
    for (const end of [relation.from, relation.to]) {
      const link = reportLink(end);
      if (link) parts.push(link);
    }
    parts.push(...claimList(relation.claims));
    details.replaceChildren(...parts);
    details.dataset.relation = id;
    delete details.dataset.entity;
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
  buttons.append(showAll, hideAll);
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
        subtypes.append(el("label", {}, [sub, t.label, el("span", {className: "count", text: String(t.count)})]));
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
  const searchIndex = [];
  for (const [id, entity] of Object.entries(entities)) {
    searchIndex.push({id, name: entity.label, key: normalize(entity.label), synonym: false});
    searchIndex.push({id, name: id, key: normalize(id), synonym: true});
    for (const synonym of entity.synonyms) {
      searchIndex.push({id, name: synonym, key: normalize(synonym), synonym: true});
    }
  }
  const input = document.getElementById("search-input");
  const results = document.getElementById("search-results");
  let matches = [];
  let active = 0;

  function search(query) {
    const wanted = normalize(query);
    if (!wanted) return [];
    const best = new Map();
    for (const entry of searchIndex) {
      const at = entry.key.indexOf(wanted);
      if (at < 0) continue;
      const rank = entry.key === wanted ? 0 : at === 0 ? 1 : entry.key[at - 1] === " " ? 2 : 3;
      const score = rank * 2 + (entry.synonym ? 1 : 0);
      const previous = best.get(entry.id);
      if (!previous || score < previous.score) best.set(entry.id, {id: entry.id, entry, score});
    }
    return [...best.values()].sort((a, b) => a.score - b.score
      || entities[a.id].label.length - entities[b.id].label.length
      || (entities[a.id].label < entities[b.id].label ? -1 : 1)).slice(0, 12);
  }

  function showMatches() {
    results.replaceChildren(...matches.map((match, i) => {
      const entity = entities[match.id];
      const item = el("li", {role: "option", "aria-selected": String(i === active), "data-entity": match.id}, [
        entity.label,
        match.entry.synonym && match.entry.name !== entity.label
          ? el("span", {className: "match", text: ` \u2014 ${match.entry.name}`}) : null,
        el("span", {className: "match", text: ` (${entity.type_label})`}),
      ]);
      item.addEventListener("mousedown", (event) => {
        event.preventDefault();
        choose(match.id);
      });
      return item;
    }));
    results.hidden = matches.length === 0;
  }

  function choose(id) {
    results.hidden = true;
    input.value = entities[id].label;
    selectEntity(id, {zoom: true});
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
      if (matches.length) choose(matches[active] ? matches[active].id : matches[0].id);
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
  };
})();
