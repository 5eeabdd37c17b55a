"""The CRISP-EML backbone capabilities: evidence collection for gates and the project report."""
