"""The Studio: the web UI of ``eml serve``, one page per CRISP-EML phase, over the same REST API.

Everything a page loads is served from this package (hand-written JavaScript modules and CSS under
``static/``) or from an installed Python package (``plotly.min.js`` from ``plotly``): no Node build step, no
CDN, works offline. Pages call ``/api/v1`` with the browser's session cookie, so every permission check and
audit entry is the same as for a script with a token.
"""

PAGES: dict[str, str] = {  # path -> navigation title, in phase order
    "/": "Home",
    "/business": "Business & evaluation",
    "/data": "Data acquisition",
    "/review": "Field data review",
    "/impulse": "Impulse design",
    "/training": "Training",
    "/testing": "Model testing",
    "/development": "Development & testing",
    "/deployment": "Deployment",
    "/audit": "Audit & members",
}
