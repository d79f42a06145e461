"""docent's document and index library: loaders, chunking, embeddings, the index and the pipeline.

Nothing here imports ``api``; nothing is built at import time.
"""
