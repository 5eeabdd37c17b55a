"""Data acquisition capability: formats, sample repository, splits, versions, quality, export, synth."""
