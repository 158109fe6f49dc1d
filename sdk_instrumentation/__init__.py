"""genai-lens SDK instrumentation (public API filled in as modules land)."""
