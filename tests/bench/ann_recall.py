"""HNSW recall@10 against exact search, on an existing docent index.

`DOCENT_DATA_DIR=DIR python -m tests.bench.ann_recall [COLLECTION] [N_QUERIES]`: loads every vector
of the collection's index, takes N stored vectors as queries (seeded), and compares Chroma's
top-10 with exact cosine top-10. Prints the mean recall@10.
"""

from __future__ import annotations

import sys

import numpy as np
from sqlalchemy import select

from ingest.db import build_catalog
from ingest.embeddings import build_embedder
from ingest.index import VectorIndex
from ingest.models import Collection
from ingest.settings import Settings


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "default"
    n_queries = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    settings = Settings()
    _, factory = build_catalog(settings)
    with factory() as session:
        collection_id = session.scalars(select(Collection.id).where(Collection.name == name)).one()
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
    rng = np.random.default_rng(0)
    recalls = []
    for row in rng.choice(len(ids), size=min(n_queries, len(ids)), replace=False):
        exact = {ids[i] for i in np.argsort(-(matrix @ matrix[row]))[:10]}
        approx = {hit.chunk_id for hit in index.query(matrix[row], 10, collection_id=collection_id)}
        recalls.append(len(exact & approx) / 10)
    sys.stdout.write(f"vectors {len(ids)}  queries {len(recalls)}  ANN recall@10 {np.mean(recalls):.4f}\n")


if __name__ == "__main__":
    main()
