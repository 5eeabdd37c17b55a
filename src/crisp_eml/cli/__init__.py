"""Thin command-line layer: parse options, call a use case in ``workspace``, render the result."""
