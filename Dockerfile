# syntax=docker/dockerfile:1
# The genai-lens exporter image.
#   docker build -t genai-lens/exporter:0.1.0 .
#   docker run --rm -p 4318:4318 genai-lens/exporter:0.1.0
# Stage 1 builds wheels for genai-lens and all its dependencies; stage 2 installs them into a
# clean slim Python with no compiler, no build tools and no wheel cache, and runs as uid 10001.

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sdk_instrumentation ./sdk_instrumentation
COPY exporter ./exporter
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ARG GENAI_LENS_VERSION=0.1.0
LABEL org.opencontainers.image.title="genai-lens exporter" \
      org.opencontainers.image.description="OTLP/HTTP metrics in, LLM cost and usage Prometheus series out" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${GENAI_LENS_VERSION}"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# Install from the builder's wheels only (no index), without copying them into a layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels "genai-lens==${GENAI_LENS_VERSION}" \
 && groupadd --system --gid 10001 genai-lens \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin genai-lens \
 && mkdir -p /var/lib/genai-lens \
 && chown 10001:10001 /var/lib/genai-lens
# Directory for the state snapshot: mount a volume here and set
# GENAI_LENS_STATE_FILE=/var/lib/genai-lens/state.json (deploy/docker-compose.yaml does).
WORKDIR /var/lib/genai-lens
USER 10001:10001
EXPOSE 4318
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4318/healthz', timeout=2)"]
# SIGTERM makes the exporter stop gracefully and write its state snapshot.
STOPSIGNAL SIGTERM
ENTRYPOINT ["genai-lens"]
CMD ["serve", "--host", "0.0.0.0", "--port", "4318"]
