"""HTTP routes, one module per resource; they parse, call a service and serialise, nothing more."""

#: Headers of every SSE response: no caching or transforming proxies, no buffering by nginx.
SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}
