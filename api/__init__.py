"""docent's application: HTTP routes, retrieval orchestration, grounded chat, providers and the CLI."""
