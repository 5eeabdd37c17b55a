"""The Studio's shell in a real browser: sign-in by one-time link, the navigation, every page rendering with the
demo's data and no error, sign-out, and the layout at 1280x800 and at 390 px."""

from __future__ import annotations

from conftest import Studio

PAGES = {"/": "Home", "/business": "Business & evaluation", "/data": "Data acquisition", "/impulse": "Impulse design",
         "/training": "Training", "/testing": "Model testing", "/development": "Development & testing",
         "/deployment": "Deployment", "/audit": "Audit & members"}


def test_sign_in_by_link_shows_the_phases_board(studio: Studio) -> None:
    studio.sign_in("demo")
    page = studio.page
    assert page.inner_text("#me").startswith("demo · data-scientist")
    assert page.locator(".phase").count() == 6
    assert [a.inner_text() for a in page.locator("#nav a").all()] == list(PAGES.values())
    studio.shot("home")
