"""Renderers: measured results made into text, files and pages (pure, no pytest)."""
