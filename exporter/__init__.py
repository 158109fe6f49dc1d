"""genai-lens exporter: OTLP/HTTP metrics in, Prometheus series out.

::

    from exporter import Settings, create_app
    app = create_app(Settings(series_limit=500))

``genai-lens serve`` runs it; see docs/exporter.md.
"""

from .app import create_app
from .settings import Settings
from .store import IngestResult, Store

__all__ = ["create_app", "Settings", "Store", "IngestResult"]
