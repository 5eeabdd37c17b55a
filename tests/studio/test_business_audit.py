"""The Business & evaluation and Audit & members pages in a real browser: the business leader's journey (set
requirements the current model must fail, see the gate fail row by row, relax them, see it pass, and the home page
show the pass), comparing targets and profiling on one, and the audit trail, chain verification, members and
API tokens (shown once, revoked) as a member who manages members and as one who does not."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect
from studio_helpers import Studio


def _save_kpi(studio: Studio, kpi: str, value: str, message: str, version: int) -> None:
    page = studio.page
    page.get_by_label(kpi, exact=True).fill(value)
    page.get_by_label("Change message").fill(message)
    page.get_by_role("button", name=f"Save {kpi}").click()
    expect(page.get_by_text(f"Saved as requirements v{version}.")).to_be_visible()


def _target_row(studio: Studio, target: str):  # type: ignore[no-untyped-def]
    page = studio.page
    card = page.locator("section.card", has=page.get_by_role("heading", name="Target devices"))
    return card.locator("tbody tr", has=page.get_by_text(target, exact=True))


def _gate_row(studio: Studio, kpi: str):  # type: ignore[no-untyped-def]
    return studio.page.locator(".gate-result tbody tr", has=studio.page.get_by_role("cell", name=kpi, exact=True))


def test_business_leader_sets_requirements_and_sees_the_gate_fail_then_pass(studio: Studio) -> None:
    """The embedded developer profiled the production model on the requirements' target before (a real cross
    build + QEMU run, saved as the profile use case saves it): the gate's RAM and latency evidence."""
    from crisp_eml.store.project import Project
    from crisp_eml.workspace.profile import profile

    measured = profile("models:/motion@production", "cortex-m4f-80mhz",
                       project=Project.open(studio.root).acting_as("eli"))
    studio.sign_in("bea", "/business")
    page = studio.page
    m4 = _target_row(studio, "cortex-m4f-80mhz")
    expect(m4).to_contain_text(f"{measured['ram_bytes'] / 1024:.1f} KiB")
    expect(m4.locator(".badge", has_text="required")).to_be_visible()
    expect(page.locator(".plot .main-svg").first).to_be_visible()  # RAM/flash per target against the limits
    facts = page.get_by_test_id("requirements-facts")
    expect(facts).to_contain_text("v1")
    expect(facts).to_contain_text("cortex-m4f-80mhz")
    expect(page.get_by_role("button", name="Run gate")).to_be_visible()  # bea may approve gates
    expect(page.get_by_role("button", name=re.compile("^Profile on"))).to_have_count(0)  # but not compile
    studio.shot("business")

    # validation in the page: nothing is sent, the field says why
    page.get_by_label("max_ram_bytes", exact=True).fill("lots")
    page.get_by_role("button", name="Save max_ram_bytes").click()
    expect(page.get_by_text("max_ram_bytes: a size")).to_be_visible()
    expect(page.get_by_label("max_ram_bytes", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(facts).to_contain_text("v1")

    _save_kpi(studio, "max_ram_bytes", "100", "tiny wearable: 100 bytes of RAM", 2)
    expect(page.get_by_test_id("requirements-facts")).to_contain_text("tiny wearable")
    page.get_by_role("button", name="Run gate").click()
    verdict = page.get_by_test_id("gate-verdict")
    expect(verdict).to_contain_text("FAILED (max_ram_bytes)")
    expect(verdict).to_contain_text("requirements v2")
    ram = _gate_row(studio, "max_ram_bytes")
    expect(ram).to_have_class(re.compile("gate-fail"))
    expect(ram.locator(".badge")).to_have_text("fail")
    expect(_gate_row(studio, "min_accuracy").locator(".badge")).to_have_text("pass")
    studio.shot("business-gate-failed")

    _save_kpi(studio, "max_ram_bytes", "64k", "RAM budget of the real device", 3)
    page.get_by_role("button", name="Run gate").click()
    expect(page.get_by_test_id("gate-verdict")).to_contain_text("PASSED")
    expect(page.get_by_test_id("gate-verdict")).to_contain_text("requirements v3")
    expect(_gate_row(studio, "max_ram_bytes").locator(".badge")).to_have_text("pass")
    expect(page.locator(".gate-result tr.gate-fail")).to_have_count(0)

    # versions: v1 -> v3 changed max_ram_bytes only
    page.get_by_label("From version").select_option("1")
    page.get_by_label("To version").select_option("3")
    changed = page.locator(".req-diff tr.changed")
    expect(changed).to_have_count(1)
    expect(changed).to_contain_text("max_ram_bytes")
    expect(changed).to_contain_text("64.0 KiB")
    studio.shot("business-gate-passed")

    studio.goto("/")
    home = page.locator("section.card", has=page.get_by_role("heading", name="Requirements and latest gate results"))
    row = home.locator("tbody tr", has=page.get_by_role("cell", name="max_ram_bytes", exact=True))
    expect(row.locator(".badge")).to_have_text("pass")
    expect(home).to_contain_text("requirements v3")
    studio.shot("home-after-gate")

    studio.goto("/business")  # pick another target device from the catalog: a new requirements version
    page.get_by_role("button", name="Use cortex-m7-216mhz as the target").click()
    facts = page.get_by_test_id("requirements-facts")
    expect(facts).to_contain_text("v4")
    expect(facts).to_contain_text("cortex-m7-216mhz")
    expect(_target_row(studio, "cortex-m7-216mhz").locator(".badge", has_text="required")).to_be_visible()


def test_embedded_developer_profiles_the_model_on_a_target(studio: Studio) -> None:
    studio.sign_in("eli", "/business")
    page = studio.page
    row = _target_row(studio, "cortex-m7-216mhz")
    expect(row).to_contain_text("not profiled")
    expect(page.get_by_role("button", name="Run gate")).to_be_visible()
    expect(page.get_by_role("button", name="Use cortex-m7-216mhz as the target")).to_have_count(0)  # no set-req.
    page.get_by_role("button", name="Profile on cortex-m7-216mhz").click()
    expect(page.locator(".job-progress")).to_contain_text("succeeded", timeout=120_000)
    row = _target_row(studio, "cortex-m7-216mhz")
    expect(row).to_contain_text("KiB")
    expect(row).to_contain_text(" ms")
    expect(row.locator(".badge.ok").first).to_have_text("fits")
    expect(page.locator(".plot .main-svg").first).to_be_visible()  # the RAM/flash chart against the limits
    other = _target_row(studio, "rp2040-133mhz")
    expect(other).to_contain_text("not profiled")
    studio.shot("business-profiled")


def test_audit_filter_verify_and_tokens_shown_once_then_revoked(studio: Studio) -> None:
    studio.sign_in("demo", "/audit")
    page = studio.page
    log = page.locator(".audit-list")
    expect(log.locator("caption")).to_contain_text("newest first")
    page.get_by_label("Action").fill("requirements")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(log.locator("caption")).to_contain_text("of 1,")
    actions = log.locator("code.audit-action")
    expect(actions).to_have_count(1)
    expect(actions).to_have_text("requirements.set")
    first = log.locator("details").first
    first.locator("summary").click()
    expect(first.locator("pre")).to_contain_text("max_ram_bytes")
    page.get_by_label("By member").select_option("dev")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(log).to_contain_text("No entries match these filters.")
    page.get_by_role("button", name="Clear filters").click()
    expect(actions.first).to_be_visible()
    assert actions.count() > 1

    page.get_by_role("button", name="Verify chain").click()
    expect(page.get_by_test_id("verify-result")).to_contain_text("Chain intact")

    members = page.locator("section.card", has=page.get_by_role("heading", name="Members", exact=True))
    expect(members).to_contain_text("business-leader")
    expect(page.get_by_role("button", name="Add member")).to_be_visible()

    page.get_by_label("Token note").fill("ci pipeline")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_text("Copy it now: it is shown only once.")).to_be_visible()
    secret = page.get_by_label("New token (shown once)").input_value()
    assert secret.startswith("eml_t_")
    token_id = secret.split("_")[2]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{studio.url}/api/v1/whoami", headers=bearer).json()["name"] == "demo"
    studio.shot("audit")
    page.get_by_role("button", name=f"Revoke token {token_id}").click()
    expect(page.get_by_text(f"Revoked token {token_id} of demo.")).to_be_visible()
    expect(page.get_by_role("button", name=f"Revoke token {token_id}")).to_have_count(0)
    assert httpx.get(f"{studio.url}/api/v1/whoami", headers=bearer).status_code == 401
    studio.goto("/audit")  # shown once: a new visit lists the token without its secret
    expect(page.locator("section.card", has=page.get_by_role("heading", name="API tokens"))).to_contain_text(token_id)
    assert secret not in page.content()

    studio.sign_in("bea", "/audit")
    expect(page.locator("#me")).to_contain_text("bea")
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    expect(page.get_by_text("business-leader").first).to_be_visible()
    expect(page.get_by_role("button", name="Add member")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Remove "))).to_have_count(0)
    expect(page.get_by_label("Show every member's tokens")).to_have_count(0)
    studio.allow(403)  # forcing the request anyway: the server refuses it
    status = page.evaluate("""async () => {
        const csrf = document.cookie.split('; ').find((c) => c.startsWith('eml_csrf=')).split('=')[1];
        const r = await fetch('/api/v1/members', {method: 'POST', headers: {'Content-Type': 'application/json',
            'X-CSRF-Token': decodeURIComponent(csrf)}, body: JSON.stringify({name: 'mallory', persona: 'end-user'})});
        return r.status;
    }""")
    assert status == 403
    studio.shot("audit-as-business-leader")
