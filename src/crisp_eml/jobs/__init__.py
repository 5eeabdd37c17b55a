"""Background jobs: long work (features, training, testing, compile+verify, profile, report) run out of process.

One job system for the server and for ``eml ... --background``. A job is a row in the project's metadata
store (:mod:`crisp_eml.store.tables.server`), so every server process, the CLI and the worker see the same
state, and a restarted server never shows a job "running" forever.

- :mod:`~crisp_eml.jobs.kinds`: what a job may do (kind -> permission, parameter model, runner function that
  calls the same ``workspace/`` use case as the CLI command).
- :mod:`~crisp_eml.jobs.store`: submit, read, list, claim, record events and final states, cancel, recover.
- :mod:`~crisp_eml.jobs.worker`: ``python -m crisp_eml.jobs.worker ROOT JOB_ID`` runs one job (the only place
  heavy libraries such as TensorFlow are imported).
- :mod:`~crisp_eml.jobs.launch`: start a worker process detached, signal one.
- :mod:`~crisp_eml.jobs.runner`: the server's :class:`~crisp_eml.jobs.runner.JobRunner` (at most N workers).
"""
