"""genai-lens exporter: OTLP/HTTP metrics in, Prometheus series out."""
