// The query page of `kgraph serve`: an editor, the named questions as examples, results
// as a table, CONSTRUCT/DESCRIBE results drawn as a graph, downloads in every format.
// Every string from the server is inserted with textContent, never as markup.
(function () {
  "use strict";

  // Data from the server, in the page as a JSON data block: the prefix map of
  // kgraph.prefixes (longest namespace first) and the download formats of kgraph.formats.
  var DATA = JSON.parse(document.getElementById("kgraph-data").textContent);
  var PREFIXES = DATA.prefixes;
  var KGR = PREFIXES.filter(function (p) { return p[0] === "kgr"; })[0][1];
  var KG = PREFIXES.filter(function (p) { return p[0] === "kg"; })[0][1];
  var DOWNLOADS = DATA.downloads;
  var LABELS = DATA.labels || {};
  var PREDECLARED = DATA.predeclared || [];

  var editor = document.getElementById("sparql");
  var examples = document.getElementById("examples");
  var description = document.getElementById("example-description");
  var statusBox = document.getElementById("status");
  var results = document.getElementById("results");
  var downloads = document.getElementById("downloads");
  var networkBox = document.getElementById("network");
  var highlight = document.getElementById("highlight");
  var completions = document.getElementById("completions");
  var share = document.getElementById("share");
  var named = [];
  var network = null;

  function el(tag, text) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function shorten(iri) {
    for (var i = 0; i < PREFIXES.length; i++) {
      if (iri.indexOf(PREFIXES[i][1]) === 0) return PREFIXES[i][0] + ":" + iri.slice(PREFIXES[i][1].length);
    }
    return iri;
  }

  function termNode(term) {
    if (!term) return el("span", "");
    if (term.type === "uri") {
      // entity IRIs resolve on this server; http(s) IRIs are links out; any other
      // scheme (javascript:, data:, file:) is shown as text only
      if (term.value.indexOf(KGR) === 0) {
        var id = term.value.slice(KGR.length);
        var local = el("a", shorten(term.value));
        local.href = "/id/" + id;
        if (!Object.prototype.hasOwnProperty.call(LABELS, id)) return local;
        // the id links to the entity; its label beside it says what it is (issue 13)
        var both = el("span");
        both.appendChild(local);
        both.appendChild(el("span", LABELS[id])).className = "label";
        return both;
      }
      // ontology terms link to their entry in this server's documentation
      if (term.value.indexOf(KG) === 0) {
        var onto = el("a", shorten(term.value));
        onto.href = "/ontology#" + encodeURIComponent(term.value.slice(KG.length));
        return onto;
      }
      if (!/^https?:\/\//i.test(term.value)) return el("span", shorten(term.value));
      var a = el("a", shorten(term.value));
      a.href = term.value;
      a.rel = "noopener noreferrer";
      return a;
    }
    var text = term.value;
    if (term["xml:lang"]) text += " @" + term["xml:lang"];
    return el("span", text);
  }

  function setStatus(text, isError) {
    statusBox.textContent = text;
    statusBox.className = isError ? "error" : "";
  }

  function clearResults() {
    results.textContent = "";
    downloads.textContent = "";
    downloads.hidden = true;
    networkBox.hidden = true;
    if (network) { network.destroy(); network = null; }
  }

  function showDownloads(kind, query) {
    downloads.appendChild(el("span", "Download: "));
    DOWNLOADS[kind].forEach(function (f) {
      var a = el("a", f.label);
      a.href = "/sparql?query=" + encodeURIComponent(query) + "&format=" + encodeURIComponent(f.name);
      a.setAttribute("download", "result." + f.extension);
      downloads.appendChild(a);
    });
    downloads.hidden = false;
  }

  function showTable(data) {
    if (typeof data.boolean === "boolean") {
      results.appendChild(el("p", "ASK: " + (data.boolean ? "true" : "false")));
      return 1;
    }
    var vars = data.head.vars || [];
    var rows = data.results.bindings || [];
    if (!rows.length) {
      results.appendChild(el("p", "No results: the query matched nothing."));
      return 0;
    }
    var table = el("table");
    var head = el("tr");
    vars.forEach(function (v) { head.appendChild(el("th", v)); });
    table.appendChild(head);
    rows.forEach(function (b) {
      var tr = el("tr");
      vars.forEach(function (v) {
        var td = el("td");
        td.appendChild(termNode(b[v]));
        tr.appendChild(td);
      });
      table.appendChild(tr);
    });
    results.appendChild(table);
    return rows.length;
  }

  // N-Triples, as kgraph writes it: one triple a line.
  var NT = /^(<[^>]*>|_:\S+)\s+<([^>]*)>\s+(<[^>]*>|_:\S+|"(?:[^"\\]|\\.)*"(?:@[\w-]+|\^\^<[^>]*>)?)\s*\.\s*$/;

  function unescapeLiteral(s) {
    // N-Triples escapes as JSON does, but for \U and raw control characters (tabs...)
    var json = s.replace(/\\U([0-9A-Fa-f]{8})/g, function (_, h) {
      var cp = parseInt(h, 16);
      return cp > 0xFFFF ? String.fromCodePoint(cp) : "\\u" + h.slice(4);
    }).replace(/[\u0000-\u001f]/g, function (c) {
      return "\\u" + ("000" + c.charCodeAt(0).toString(16)).slice(-4);
    });
    try {
      return JSON.parse(json);
    } catch (e) {
      return s.slice(1, -1);
    }
  }

  function parseTerm(t) {
    if (t.charAt(0) === "<") return {type: "uri", value: t.slice(1, -1)};
    if (t.charAt(0) === "_") return {type: "bnode", value: t};
    var end = t.lastIndexOf('"');
    return {type: "literal", value: unescapeLiteral(t.slice(0, end + 1))};
  }

  function showGraph(text) {
    var triples = [];
    text.split("\n").forEach(function (line) {
      var m = NT.exec(line);
      if (m) triples.push([parseTerm(m[1]), {type: "uri", value: m[2]}, parseTerm(m[3])]);
    });
    if (!triples.length) {
      results.appendChild(el("p", "No results: the query built no triples."));
      return 0;
    }
    var labels = {};
    triples.forEach(function (t) {
      if (t[1].value === "http://www.w3.org/2000/01/rdf-schema#label" && t[2].type === "literal") {
        labels[t[0].value] = t[2].value;
      }
    });
    var table = el("table");
    var head = el("tr");
    ["subject", "predicate", "object"].forEach(function (v) { head.appendChild(el("th", v)); });
    table.appendChild(head);
    var nodes = {}, edges = [];
    triples.forEach(function (t, i) {
      var tr = el("tr");
      t.forEach(function (term) { var td = el("td"); td.appendChild(termNode(term)); tr.appendChild(td); });
      table.appendChild(tr);
      if (t[2].type !== "literal") {
        [t[0], t[2]].forEach(function (n) {
          nodes[n.value] = {id: n.value, label: labels[n.value] || shorten(n.value), shape: "dot", size: 10};
        });
        edges.push({id: i, from: t[0].value, to: t[2].value, label: shorten(t[1].value), arrows: "to",
                    font: {size: 10, align: "middle"}});
      }
    });
    results.appendChild(table);
    var nodeList = Object.keys(nodes).map(function (k) { return nodes[k]; });
    if (nodeList.length && window.vis) {
      networkBox.hidden = false;
      network = new vis.Network(networkBox, {nodes: new vis.DataSet(nodeList), edges: new vis.DataSet(edges)},
        {physics: {stabilization: {iterations: 200}}, interaction: {hover: true}});
      network.once("stabilizationIterationsDone", function () { network.setOptions({physics: false}); });
    }
    return triples.length;
  }

  // ---------------------------------------------------------------- highlighting
  // One pass of a tokenizer over the text; every token becomes a span whose text is set
  // with textContent, so a query can never become markup.
  var KEYWORD_SET = {};
  ("SELECT CONSTRUCT DESCRIBE ASK WHERE PREFIX BASE DISTINCT REDUCED FROM NAMED OPTIONAL UNION " +
   "MINUS FILTER BIND VALUES GRAPH SERVICE SILENT GROUP BY HAVING ORDER ASC DESC LIMIT OFFSET AS NOT IN EXISTS " +
   "COUNT SUM MIN MAX AVG SAMPLE GROUP_CONCAT SEPARATOR STR LANG LANGMATCHES DATATYPE BOUND IRI URI BNODE " +
   "REGEX CONTAINS STRSTARTS STRENDS LCASE UCASE STRLEN SUBSTR REPLACE CONCAT COALESCE IF ISIRI ISURI " +
   "ISBLANK ISLITERAL ISNUMERIC SAMETERM TRUE FALSE A").split(" ").forEach(function (k) { KEYWORD_SET[k] = true; });
  // 1 comment, 2 string, 3 IRI, 4 variable, 5-6 prefixed name, 7 word, 8 number
  var TOKEN = /(#[^\n]*)|("""[\s\S]*?"""|'''[\s\S]*?'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|(<[^<>"{}|^`\\\s]*>)|([?$][A-Za-z_]\w*)|([A-Za-z][\w.-]*)?:([\w%-]*(?:\.[\w%-]+)*)|([A-Za-z_]\w*)|([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)/g;

  function span(cls, text) {
    var node = el("span", text);
    node.className = cls;
    return node;
  }

  function declared(text, prefix) {
    return new RegExp("PREFIX\\s+" + prefix.replace(/[.-]/g, "\\$&") + ":", "i").test(text);
  }

  function renderHighlight() {
    var text = editor.value;
    var out = document.createDocumentFragment();
    var last = 0;
    var m;
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(text)) !== null) {
      if (m[0] === "") { TOKEN.lastIndex++; continue; }
      if (m.index > last) out.appendChild(document.createTextNode(text.slice(last, m.index)));
      var cls = null;
      if (m[1]) cls = "tok-comment";
      else if (m[2]) cls = "tok-str";
      else if (m[3]) cls = "tok-iri";
      else if (m[4]) cls = "tok-var";
      else if (m[6] !== undefined) {
        var prefix = m[5] || "";
        // a prefix neither predeclared nor declared in the query is underlined
        cls = "tok-pname" + (PREDECLARED.indexOf(prefix) >= 0 || declared(text, prefix) ? "" : " tok-bad");
      }
      else if (m[7]) cls = KEYWORD_SET[m[7].toUpperCase()] ? "tok-kw" : null;
      else if (m[8]) cls = "tok-num";
      out.appendChild(cls ? span(cls, m[0]) : document.createTextNode(m[0]));
      last = m.index + m[0].length;
    }
    out.appendChild(document.createTextNode(text.slice(last) + "\n"));  // keeps a last empty line's height
    highlight.textContent = "";
    highlight.appendChild(out);
    highlight.scrollTop = editor.scrollTop;
  }

  // ---------------------------------------------------------------- prefix completion
  // Typing the start of a prefix name offers the prefixes of the server's one table
  // (predeclared first); Tab or Enter takes the highlighted one.
  var COMPLETABLE = PREDECLARED.concat(PREFIXES.map(function (p) { return p[0]; }).filter(function (p) {
    return /^[A-Za-z][\w-]*$/.test(p) && PREDECLARED.indexOf(p) < 0;
  }));
  var choices = [];
  var chosen = 0;

  function wordBeforeCaret() {
    var before = editor.value.slice(0, editor.selectionStart);
    var m = /(^|[^\w:?$<"'.-])([A-Za-z][\w-]*)$/.exec(before);
    return m ? m[2] : null;
  }

  function hideCompletions() {
    completions.hidden = true;
    completions.textContent = "";
    choices = [];
  }

  function showCompletions() {
    var word = wordBeforeCaret();
    hideCompletions();
    if (!word || editor.selectionStart !== editor.selectionEnd) return;
    var lower = word.toLowerCase();
    choices = COMPLETABLE.filter(function (p) { return p.toLowerCase().indexOf(lower) === 0 && p !== word; });
    if (!choices.length) return;
    chosen = 0;
    choices.forEach(function (p, i) {
      var li = el("li", p + ":");
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === chosen ? "true" : "false");
      var ns = PREFIXES.filter(function (q) { return q[0] === p; })[0];
      if (ns) li.appendChild(span("ns", ns[1]));
      li.addEventListener("mousedown", function (e) { e.preventDefault(); complete(p); });
      completions.appendChild(li);
    });
    completions.hidden = false;
  }

  function complete(prefix) {
    var word = wordBeforeCaret() || "";
    var at = editor.selectionStart;
    var text = editor.value;
    editor.value = text.slice(0, at - word.length) + prefix + ":" + text.slice(at);
    var caret = at - word.length + prefix.length + 1;
    editor.setSelectionRange(caret, caret);
    hideCompletions();
    renderHighlight();
  }

  function moveChoice(by) {
    chosen = (chosen + by + choices.length) % choices.length;
    Array.prototype.forEach.call(completions.children, function (li, i) {
      li.setAttribute("aria-selected", i === chosen ? "true" : "false");
    });
  }

  // ---------------------------------------------------------------- shareable URLs
  // #query=<text> (or ?query=<text>) fills the editor and runs it: a link carries a query.
  function queryFromUrl() {
    var fromHash = new URLSearchParams(location.hash.replace(/^#/, "")).get("query");
    return fromHash || new URLSearchParams(location.search).get("query");
  }

  function rememberInUrl(query) {
    var link = "#" + new URLSearchParams({query: query}).toString();
    history.replaceState(null, "", link);
    share.href = link;
    share.hidden = false;
  }

  function run() {
    var query = editor.value;
    rememberInUrl(query);
    hideCompletions();
    clearResults();
    setStatus("Running…", false);
    var started = performance.now();
    fetch("/sparql", {
      method: "POST",
      headers: {"Content-Type": "application/sparql-query",
                "Accept": "application/sparql-results+json, application/n-triples;q=0.9"},
      body: query
    }).then(function (response) {
      return response.text().then(function (body) {
        var seconds = ((performance.now() - started) / 1000).toFixed(2);
        if (!response.ok) {
          setStatus("Error " + response.status + ": " + body, true);
          return;
        }
        var type = response.headers.get("Content-Type") || "";
        var count;
        if (type.indexOf("application/sparql-results+json") === 0) {
          count = showTable(JSON.parse(body));
          showDownloads("results", query);
        } else {
          count = showGraph(body);
          showDownloads("graph", query);
        }
        setStatus(count + " result" + (count === 1 ? "" : "s") + " in " + seconds + " s", false);
      });
    }).catch(function (err) {
      setStatus("The server did not answer: " + err, true);
    });
  }

  fetch("/queries.json").then(function (r) { return r.json(); }).then(function (list) {
    named = list;
    list.forEach(function (q, i) {
      var option = el("option", q.name + " — " + q.description);
      option.value = String(i);
      examples.appendChild(option);
    });
  });
  examples.addEventListener("change", function () {
    var q = named[Number(examples.value)];
    if (!q) { description.textContent = ""; return; }
    editor.value = q.text;
    description.textContent = q.description;
    renderHighlight();
  });
  document.getElementById("run").addEventListener("click", run);
  editor.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); return; }
    if (!choices.length) return;
    if (e.key === "Tab" || e.key === "Enter") { e.preventDefault(); complete(choices[chosen]); }
    else if (e.key === "ArrowDown") { e.preventDefault(); moveChoice(1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); moveChoice(-1); }
    else if (e.key === "Escape") { hideCompletions(); }
  });
  editor.addEventListener("input", function () { renderHighlight(); showCompletions(); });
  editor.addEventListener("scroll", function () { highlight.scrollTop = editor.scrollTop; });
  editor.addEventListener("blur", hideCompletions);
  window.addEventListener("hashchange", function () {
    var q = queryFromUrl();
    if (q && q !== editor.value) { editor.value = q; renderHighlight(); run(); }
  });
  var shared = queryFromUrl();
  if (shared) editor.value = shared;
  renderHighlight();
  if (shared) run();
}());
