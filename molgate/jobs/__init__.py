"""Workflows from files to a model folder, and the README's end-to-end job.

``train`` and ``add_task`` read the data, split it, train and write a folder atomically; the API
and the CLI call them (:mod:`molgate.api`), and so does the benchmark. ``main_job`` is the
README's demonstration, run as a script on top of the API.
"""
