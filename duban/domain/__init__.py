"""The pure domain core: imports only the standard library."""
