"""The Studio's shell in a real browser: sign-in by one-time link, the navigation, every page rendering the demo's
data with no error (screenshots of each at 1280x800 and 390 px), keyboard navigation, sign-out."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from studio_helpers import Studio

UNLABELLED = """[...document.querySelectorAll('#page input, #page select, #page textarea, #page button')]
  .filter((el) => el.type !== 'hidden' && el.offsetParent !== null)
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby') && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map((el) => el.outerHTML.slice(0, 120))"""

PAGES = {"/": "Home", "/business": "Business & evaluation", "/data": "Data acquisition",
         "/review": "Field data review", "/impulse": "Impulse design", "/training": "Training",
         "/testing": "Model testing", "/development": "Development & testing",
         "/deployment": "Deployment", "/audit": "Audit & members"}


def test_sign_in_by_link_shows_the_phases_board(studio: Studio) -> None:
    studio.sign_in("demo")
    page = studio.page
    assert page.inner_text("#me").startswith("demo · data-scientist")
    expect(page.locator(".phase")).to_have_count(6)
    assert [a.inner_text() for a in page.locator("#nav a").all()] == list(PAGES.values())
    assert "pass" in page.locator("section", has_text="latest gate results").inner_text()


def test_a_used_link_does_not_sign_in_again(studio: Studio) -> None:
    url = studio.login_url("bea")
    studio.page.goto(url)
    studio.page.wait_for_selector("#me:not(:empty)")
    studio.page.context.clear_cookies()
    studio.allow(401)
    studio.page.goto(url)
    assert "already used" in studio.page.inner_text("main")
    assert studio.page.get_by_label("Member API token").is_visible()


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_renders_the_demo_without_errors(studio: Studio, width: int) -> None:
    studio.page.set_viewport_size({"width": width, "height": 800})
    studio.sign_in("demo")
    for path, title in PAGES.items():
        if width < 700:  # the navigation folds behind the Menu button on a narrow screen
            studio.page.get_by_role("button", name="Menu").click()
        studio.page.locator("#nav").get_by_role("link", name=title, exact=True).click()
        studio.page.wait_for_url(studio.url + path)
        studio.page.wait_for_selector("#page .page[data-page]:not(:has(> .loading))")
        studio.page.wait_for_load_state("networkidle")
        expect(studio.page.locator("#page .loading")).to_have_count(0)  # every card filled in
        assert studio.page.locator("#nav a[aria-current=page]").inner_text() == title
        assert studio.page.locator("#page h1").count() >= 1, path
        assert studio.page.locator("#page .error").count() == 0, studio.page.inner_text("#page")
        assert studio.page.evaluate(UNLABELLED) == [], path  # every control has a label
        # nothing wider than the screen (no sideways scrolling of the page itself)
        assert studio.page.evaluate("document.documentElement.scrollWidth") <= width + 1, path
        studio.shot(f"{width}-{path.strip('/') or 'home'}")
        studio.check()


def test_every_page_of_an_empty_project_says_what_to_do_next(empty_studio: Studio) -> None:
    """A new project: every page renders without an error and shows at least one empty state."""
    empty_studio.allow_not_yet()
    empty_studio.sign_in("demo")
    for path in PAGES:
        empty_studio.goto(path)
        page = empty_studio.page
        page.wait_for_load_state("networkidle")
        expect(page.locator("#page .loading")).to_have_count(0)
        assert page.locator("#page .error").count() == 0, (path, page.inner_text("#page"))
        if path != "/audit":  # the audit trail is never empty: creating the project is its first entry
            assert page.locator("#page .empty").count() >= 1, (path, page.inner_text("#page")[:500])
        empty_studio.shot(f"empty-{path.strip('/') or 'home'}")
        empty_studio.check()


def test_keyboard_reaches_the_navigation_and_sign_out(studio: Studio) -> None:
    studio.sign_in("eli")
    page = studio.page
    page.keyboard.press("Tab")  # the skip link first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    seen = []
    for _ in range(20):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.textContent.trim()"))
        if seen[-1] == "Data acquisition":
            break
    assert "Sign out" in seen and seen[-1] == "Data acquisition", seen
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # visible focus
    page.keyboard.press("Enter")
    page.wait_for_url(studio.url + "/data")
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{studio.url}/login")
    studio.allow(401)
    page.goto(studio.url + "/data")  # the session is gone: back to the sign-in form
    page.wait_for_url(f"{studio.url}/login?next=/data")
