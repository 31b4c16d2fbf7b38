"""SPARQL over the built graph, one step per module, in data-flow order.

* :mod:`kgraph.sparql.named` -- the named questions shipped as ``kgraph/queries/*.rq``;
* :mod:`kgraph.sparql.prepare` -- parse a query and check, on its algebra, that it only
  reads the local graph;
* :mod:`kgraph.sparql.execute` -- run it over a graph in a killable worker process (one
  per query, or a pool of them for the server) within a time limit;
* :mod:`kgraph.sparql.results` -- the answer, serialised in a format of
  :mod:`kgraph.formats` or as short display rows.

Nothing is imported here, so that ``kgraph query`` loads only the steps it uses.
"""
