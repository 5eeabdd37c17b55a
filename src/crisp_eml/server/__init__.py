"""The team server (``eml serve``): a thin FastAPI layer over the ``workspace`` use cases.

Route handlers parse the request, authenticate the member, call the same use-case function the CLI calls and
turn its result (or its :class:`~crisp_eml.core.errors.EmlError`) into JSON. No business rule lives here.
"""
