"""End-to-end jobs run from the README (not part of the library API)."""
