"""Infrastructure adapters: third-party libraries and I/O behind plain functions."""
