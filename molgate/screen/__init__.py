"""Screening at scale: a synthetic library to benchmark screening on, since none can be downloaded here."""

from molgate.screen.library import combination_count, enumerate_molecules, generate_library, max_library_size

__all__ = ["combination_count", "enumerate_molecules", "generate_library", "max_library_size"]
