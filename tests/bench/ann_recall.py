"""HNSW recall against exact search, on an existing docent index, at the depths retrieval uses.

`DOCENT_DATA_DIR=DIR python -m tests.bench.ann_recall [COLLECTION] [--queries N] [--questions FILE]`:
loads every vector of the collection's index and compares Chroma's top-k with the exact cosine
top-k for k = 10 and k = ``api.retrieval.CANDIDATES`` (the dense candidates hybrid retrieval
fuses). Queries are N stored vectors (seeded) or, with ``--questions`` (FinanceBench-style JSONL
with a ``question`` field), those questions embedded as the API embeds them. Prints the mean
recall at each k.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sqlalchemy import select

from api.retrieval import CANDIDATES
from ingest.db import build_catalog
from ingest.embeddings import build_embedder
from ingest.index import VectorIndex
from ingest.models import Collection
from ingest.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collection", nargs="?", default="default")
    parser.add_argument("--queries", type=int, default=200, help="stored vectors used as queries")
    parser.add_argument("--questions", type=Path, help="JSONL of questions to embed and use as queries instead")
    args = parser.parse_args()
    settings = Settings()
    _, factory = build_catalog(settings)
    with factory() as session:
        collection_id = session.scalars(select(Collection.id).where(Collection.name == args.collection)).one()
    embedder = build_embedder(settings)
    index = VectorIndex.from_settings(settings, embedder_name=embedder.name, dimension=embedder.dimension)
    chroma = index._collection(collection_id)
    ids: list[str] = []
    blocks = []
    offset = 0
    while batch := chroma.get(include=["embeddings"], limit=5000, offset=offset):
        if not batch["ids"]:
            break
        ids += batch["ids"]
        blocks.append(np.asarray(batch["embeddings"], dtype=np.float32))
        offset += len(batch["ids"])
    matrix = np.vstack(blocks)
    if args.questions:
        lines = args.questions.read_text(encoding="utf-8").splitlines()
        queries = np.asarray([embedder.embed_query(json.loads(line)["question"]) for line in lines if line.strip()])
    else:
        rng = np.random.default_rng(0)
        queries = matrix[rng.choice(len(ids), size=min(args.queries, len(ids)), replace=False)]
    depths = (10, CANDIDATES)
    recalls: dict[int, list[float]] = {k: [] for k in depths}
    for query in queries:
        exact = np.argsort(-(matrix @ query))
        approx = [hit.chunk_id for hit in index.query(query, max(depths), collection_id=collection_id)]
        for k in depths:
            recalls[k].append(len({ids[i] for i in exact[:k]} & set(approx[:k])) / k)
    found = "  ".join(f"ANN recall@{k} {np.mean(r):.4f}" for k, r in recalls.items())
    sys.stdout.write(f"vectors {len(ids)}  queries {len(queries)}  ef_search {index.ef_search}  {found}\n")


if __name__ == "__main__":
    main()
