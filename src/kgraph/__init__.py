"""kgraph: a knowledge graph of the evidence around ketamine therapy.

The data flow, one module per step::

    data/ + ontology/ -> load -> validate -> build (rdflib) -> network (networkx)
                      -> export | stats | query | viz | serve

The CLI (:mod:`kgraph.cli`) is a thin layer over these functions.
"""

__version__ = "0.1.0"
