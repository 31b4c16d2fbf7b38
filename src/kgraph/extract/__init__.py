"""Propose candidate claims from a new document, learning from the curated data.

The contract the ``kgraph extract`` command codes against::

    extractor = Extractor.train(dataset, vocab, texts)   # texts: source id -> full text
    result = extractor.extract(text, source_id="src-005")
    result.title, result.publisher, result.entities, result.claims

Each claim is a dict in the ``data/claims`` format plus offsets (``start``, ``end``:
``text[start:end] == quote``), ``confidence``, ``by`` and ``status: "candidate"``; it has
no ``id`` (the caller numbers accepted claims). ``entities`` lists new-entity candidates
(not in the curated data): ``{id, type, label, synonyms, mentions: [[start, end], ...]}``.

Training takes seconds and keeps nothing on disk: the model is rebuilt from the curated
data on every run, so more curated claims make the next run better.
"""

from __future__ import annotations

from kgraph.extract.extractor import Extraction, Extractor

__all__ = ["Extraction", "Extractor"]
