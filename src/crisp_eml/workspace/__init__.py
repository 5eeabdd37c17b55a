"""Use cases, one verb per module: each opens a Project, checks permission, works in a session, audits."""
