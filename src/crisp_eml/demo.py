"""``make demo`` (``python -m crisp_eml.demo``): the whole CRISP-EML lifecycle on built-in data.

In ``./demo-project``: a team with personas, requirements for a Cortex-M4F target, synthetic motion data
ingested, quality-checked and snapshotted, an impulse designed, a model trained (float32 + int8), tested,
registered, compiled to C, verified bit-exact on the host and on an emulated Cortex-M4, gated, promoted to
``production`` and described in an HTML/PDF report; then how to open it in the Studio (``eml serve``, a sign-in
link and token) and a summary table with the paths. Steps that need
a missing toolchain are skipped with a note. Each step takes the shared :class:`DemoState`.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from crisp_eml.core.errors import EmlError
from crisp_eml.store.project import Project

console = Console()


@dataclass
class DemoState:
    root: Path
    project: Project | None = None
    data_dir: Path | None = None
    summary: list[tuple[str, str]] = field(default_factory=list)  # (what, value) rows for the final table
    extra: dict[str, Any] = field(default_factory=dict)  # for later steps

    @property
    def proj(self) -> Project:
        if self.project is None:
            raise RuntimeError("the project step has not run")
        return self.project


def step_create_project(st: DemoState) -> None:
    if st.root.exists():
        shutil.rmtree(st.root)
    # the demo pins itself with EML_PROJECT, so it may live inside another project's folder
    st.project = Project.init(st.root, "demo", member="demo", persona="data-scientist", nested=True)
    st.summary.append(("project", str(st.root)))
    console.print(f"created project in {st.root}")


def step_synthesize(st: DemoState) -> None:
    from crisp_eml.workspace.synth import synthesize

    st.data_dir = st.root / "synthetic-motion"
    files = synthesize(st.data_dir, kind="motion", seed=0)
    st.summary.append(("synthetic files", f"{len(files)} Edge Impulse JSON files in {st.data_dir.name}/"))
    console.print(f"synthesized {len(files)} motion recordings (idle, wave, circle, updown; 5 subjects)")


def step_ingest(st: DemoState) -> None:
    from crisp_eml.data.samples import list_samples
    from crisp_eml.workspace.ingest import ingest_paths

    assert st.data_dir is not None
    from crisp_eml.workspace.rebalance import rebalance

    report = ingest_paths(st.proj, [st.data_dir])
    if report.failures:
        raise EmlError(f"demo ingest failed: {report.failures[0].reason}")
    # Hold out whole subjects, stratified by label: the test set measures generalisation to a new person.
    rebalance(st.proj, test_fraction=0.2, stratify=True, keep_together="subject")
    samples = list_samples(st.proj)
    labels = Counter(s.label for s in samples)
    cats = Counter(s.category for s in samples)
    st.summary += [
        ("samples", str(len(samples))),
        ("labels", ", ".join(f"{k} {v}" for k, v in sorted(labels.items()))),
        ("split", ", ".join(f"{k} {v}" for k, v in sorted(cats.items()))),
        ("axes / rate", f"{', '.join(samples[0].axes)} @ {samples[0].frequency_hz:g} Hz"),
    ]
    console.print(f"ingested {len(report.samples)} samples")


# -- the rest of the lifecycle (requirements, quality, snapshot, impulse, train, compile, verify, gate...) --
MODEL = "motion"
TARGET = "cortex-m4f-80mhz"
TEAM = (("bea", "business-leader"), ("eli", "embedded-developer"), ("dev", "devops-mlops"))


@contextmanager
def acting(member: str) -> Iterator[None]:
    """Run a step as another project member (the CLI does this with $EML_MEMBER)."""
    old = os.environ.get("EML_MEMBER")
    os.environ["EML_MEMBER"] = member
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("EML_MEMBER", None)
        else:
            os.environ["EML_MEMBER"] = old


def cross_tools() -> bool:
    return all(shutil.which(t) for t in ("arm-none-eabi-gcc", "qemu-system-arm"))


def compiler_has(op: str) -> bool:
    """Whether the C compiler has a kernel for TFLite operator ``op``."""
    try:
        from crisp_eml.compiler.c.lower import LOWERABLE
    except ImportError:
        return False
    return op in LOWERABLE


def step_team(st: DemoState) -> None:
    from crisp_eml.workspace.members import add_member

    os.environ["EML_PROJECT"] = str(st.root)  # use cases that open the project themselves find this one
    for name, persona in TEAM:
        add_member(st.proj, name, persona)
    st.summary.append(("team", ", ".join(f"{n} ({p})" for n, p in TEAM)))
    console.print("members: " + ", ".join(f"{n} ({p})" for n, p in TEAM))


def step_requirements(st: DemoState) -> None:
    from crisp_eml.workspace.requirements import set_requirements

    items = [f"target={TARGET}", "min_accuracy=0.8", "min_f1=0.75", "max_ram=32k", "max_flash=128k",
             "min_quality=50", "min_samples_per_class=10"]
    if cross_tools():
        items.append("max_latency_ms=50")  # measured by the gate's profile (cross build + QEMU)
    with acting("bea"):
        r = set_requirements(st.proj, items, "demo: motion classifier on a Cortex-M4F wearable")
    st.summary.append(("requirements", f"v{r.version} for {r.target}: {len(r.kpis)} KPIs (set by bea)"))
    console.print(f"requirements v{r.version}: " + ", ".join(f"{k}={v}" for k, v in r.kpis.items()))


def step_check(st: DemoState) -> None:
    from crisp_eml.workspace.check import check_dataset

    report = check_dataset(st.proj)
    st.extra["quality"] = report.score
    st.summary.append(("data quality", f"{report.score:.0f}/100"))
    console.print(f"dataset quality score {report.score:.1f}/100")


def step_snapshot(st: DemoState) -> None:
    from crisp_eml.workspace.snapshot import snapshot

    v = snapshot(st.proj, "demo: synthetic motion")
    st.summary.append(("dataset version", str(v.id)))
    console.print(f"dataset version {v.id}")


def step_impulse(st: DemoState) -> None:
    from crisp_eml.workspace.impulse import create_impulse, set_impulse_values

    v = create_impulse(st.proj, message="demo")
    if not compiler_has("SUB"):  # the learning block's input normalisation is a SUB op
        v = set_impulse_values(st.proj, ["learning.params.normalize=false"],
                               "demo: the C compiler has no SUB kernel yet")
        console.print("[yellow]input normalisation off: the C compiler has no SUB kernel yet[/]")
    spec = v.spec.to_dict()
    blocks = ", ".join(b.get("type", "?") for b in spec.get("blocks", []))
    learning = (spec.get("learning") or {}).get("type", "classifier")
    st.summary.append(("impulse", f"v{v.version}: {blocks} -> {learning}"))
    console.print(f"impulse v{v.version}: {blocks}")


def step_train(st: DemoState) -> None:
    from crisp_eml.workspace.train import train

    run = train(st.proj, epochs=30, seed=0, on_stage=lambda s: console.print(f"  {s}"))
    test = (run.get("metrics") or {}).get("test") or {}
    st.extra["run"] = run["id"]
    acc_f = (test.get("float32") or {}).get("accuracy")
    acc_q = (test.get("int8") or {}).get("accuracy")
    st.summary.append(("test accuracy", f"float32 {acc_f:.1%}, int8 {acc_q:.1%}" if acc_f is not None
                       and acc_q is not None else "-"))
    console.print(f"run {run['id']}: float32 {acc_f}, int8 {acc_q}")


def step_test(st: DemoState) -> None:
    from crisp_eml.workspace.evaluate import test_run

    m = test_run(st.proj, run_id=st.extra["run"], variant="int8")
    console.print(f"int8 model in TFLite Micro on {m.get('windows')} test windows: "
                  f"accuracy {m.get('accuracy', 0):.1%}, macro F1 {m.get('f1', 0):.1%}")


def step_register(st: DemoState) -> None:
    from crisp_eml.workspace.registry import register_model

    info = register_model(st.proj, st.extra["run"], MODEL, "demo model")
    st.extra["uri"] = info.uri
    st.extra["int8_sha"] = info.artifacts.get("model_int8.tflite")
    st.summary.append(("model", info.uri))
    console.print(f"registered {info.uri}")


def step_compile(st: DemoState) -> None:
    from crisp_eml.workspace.compile import compile_model

    lib = st.root / "build" / MODEL
    r = compile_model(st.extra["uri"], lib, name=MODEL, project=st.proj, force=True)
    st.extra["lib"] = lib
    st.summary.append(("C library", f"{lib} (arena {r.arena_bytes} B, weights {r.weights_bytes} B)"))
    console.print(f"C library in {lib}: arena {r.arena_bytes} B, RAM {r.ram_bytes} B, weights {r.weights_bytes} B")


def step_verify(st: DemoState) -> None:
    from crisp_eml.workspace.verify import verify_library

    if not shutil.which("gcc"):
        st.summary.append(("bit-exact", "not checked: gcc is not installed"))
        console.print("[yellow]gcc not installed: skipping verification (make system-deps installs it)[/]")
        return
    target = "cortex-m4" if cross_tools() else None
    if target is None:
        console.print("[yellow]arm-none-eabi-gcc/qemu-system-arm not installed: verifying on the host only[/]")
    report = verify_library(st.extra["lib"], host=True, target=target)
    checks = ", ".join(f"{c.name} {'ok' if c.identical else 'DIFFERENT'}" for c in report.checks)
    st.summary.append(("bit-exact", ("yes" if report.ok else "NO") + f" ({len(report.checks)} checks"
                       + ("" if target else ", no Cortex-M4 toolchain") + ")"))
    console.print(checks)
    if not report.ok:
        raise EmlError("the C library differs from TFLite Micro")


def step_gate(st: DemoState) -> None:
    from crisp_eml.workspace.gate import run_gate

    with acting("eli"):
        g = run_gate(st.proj, st.extra["uri"], library=st.extra["lib"], profile=cross_tools())
    for r in g.rows:
        console.print(f"  {'PASS' if r['passed'] else 'FAIL'} {r['requirement']}: {r['measured']} "
                      f"(threshold {r['threshold']}; {r['note'] or r['source']})", highlight=False)
    st.extra["gate_passed"] = g.passed
    st.summary.append(("gate", f"#{g.id} {'PASSED' if g.passed else 'FAILED: ' + ', '.join(g.failed)}"
                       f" ({len(g.rows)} requirements, approved by eli)"))


def step_promote(st: DemoState) -> None:
    from crisp_eml.workspace.registry import set_alias

    if not st.extra.get("gate_passed"):
        st.summary.append(("production", "not promoted: the gate failed"))
        console.print("[yellow]gate failed: production alias not moved[/]")
        return
    with acting("dev"):
        set_alias(st.proj, MODEL, "production", int(st.extra["uri"].rsplit("/", 1)[1]), note="demo release")
    st.summary.append(("production", f"models:/{MODEL}@production -> {st.extra['uri']} (by dev)"))
    console.print(f"models:/{MODEL}@production -> {st.extra['uri']}")


def step_eim(st: DemoState) -> None:
    """The production model as an Edge Impulse ``.eim`` runner (ungated development build of the same library)."""
    from crisp_eml.workspace.formats import compile_format

    if not shutil.which("gcc"):
        st.summary.append(("Linux runner", "not built: gcc is not installed"))
        console.print("[yellow]gcc not installed: no .eim (make system-deps installs it)[/]")
        return
    out = st.root / "build" / f"{MODEL}.eim"
    uri = f"models:/{MODEL}@production" if st.extra.get("gate_passed") else st.extra["uri"]
    compile_format(uri, "eim", out, project=st.proj, force=True)
    size = out.stat().st_size
    st.summary.append(("Linux runner", f"{out} ({size // 1024} KiB, static; Edge Impulse's ImpulseRunner runs it)"))
    console.print(f"{out}: {size} bytes; try 'eml run {uri} --input <recording.csv> --continuous' for a stream")


def step_report(st: DemoState) -> None:
    from crisp_eml.core.errors import ToolMissingError
    from crisp_eml.workspace.report import write_report

    try:
        r = write_report(st.proj, st.root / "report", model=st.extra.get("uri"))
    except ToolMissingError as exc:
        console.print(f"[yellow]{exc}: writing the HTML report only[/]")
        r = write_report(st.proj, st.root / "report", model=st.extra.get("uri"), pdf=False)
    st.extra["report"] = r
    st.summary.append(("report", r["html"] + (f", {r['pdf']}" if r.get("pdf") else "")))
    console.print(f"report: {r['html']}")


def step_status(st: DemoState) -> None:
    from crisp_eml.workspace.audit import verify as verify_audit
    from crisp_eml.workspace.status import status

    board = status(st.proj)
    for p in board.phases:
        console.print(f"  {p.title:<34} {p.state:<12} {p.why}", highlight=False)
    audit = verify_audit(st.proj)
    st.summary.append(("phases", ", ".join(f"{p.title.split(',')[0].split(' ')[0]} {p.state}" for p in board.phases)))
    last = f", signed up to entry {audit.last_good.seq}" if audit.last_good is not None else ""
    st.summary.append(("audit trail", f"{audit.entries} entries, {'intact' if audit.ok else 'BROKEN'}{last}"))


def step_studio(st: DemoState) -> None:
    """How to open this project in the Studio: ``eml serve`` and a sign-in link or token for the demo member
    (printed after the summary table, whole: the table would cut them)."""
    from crisp_eml.workspace.credentials import create_token
    from crisp_eml.workspace.studio_sessions import create_login_link

    url = "http://127.0.0.1:4800"
    link = create_login_link(st.proj, st.proj.actor.name, ttl_s=24 * 3600)
    token = create_token(st.proj, st.proj.actor.name, expires_days=7, note="make demo: Studio sign-in")
    st.extra["studio"] = {"url": url, "login_url": f"{url}/login?token={link['token']}", "token": token["token"]}
    st.summary.append(("studio", f"cd {st.root.name} && eml serve (sign-in link and token below)"))
    console.print(f"sign-in link (once, 24 h) and member token (7 days) for {st.proj.actor.name}: below the summary")


def print_studio(st: DemoState) -> None:
    studio = st.extra.get("studio")
    if not studio:
        return
    console.rule("[bold]the Studio")
    console.print(f"serve it:          cd {st.root.name} && ../.venv/bin/eml serve", highlight=False)
    console.print(f"sign in once at:   {studio['login_url']}", highlight=False, soft_wrap=True)
    console.print(f"or with the token: {studio['token']}  (at {studio['url']}/login)", highlight=False,
                  soft_wrap=True)


STEPS: list[tuple[str, Callable[[DemoState], None]]] = [
    ("create project", step_create_project),
    ("team and personas", step_team),
    ("requirements (Business Understanding)", step_requirements),
    ("synthesize data", step_synthesize),
    ("ingest", step_ingest),
    ("check data quality", step_check),
    ("snapshot the dataset", step_snapshot),
    ("design the impulse", step_impulse),
    ("train (float32 + int8)", step_train),
    ("test the int8 model", step_test),
    ("register the model", step_register),
    ("compile to C", step_compile),
    ("verify bit-exactness (host, Cortex-M4 on QEMU)", step_verify),
    ("acceptance gate", step_gate),
    ("promote to production", step_promote),
    ("build the .eim runner (Edge Impulse Linux protocol)", step_eim),
    ("project report / model card", step_report),
    ("phases board and audit trail", step_status),
    ("the Studio (eml serve)", step_studio),
]


def run(root: Path = Path("demo-project")) -> DemoState:
    st = DemoState(root=root.resolve())
    for i, (title, fn) in enumerate(STEPS, 1):
        console.rule(f"[bold]{i}. {title}")
        fn(st)
    table = Table(title="crisp-eml demo")
    table.add_column("what")
    table.add_column("value")
    for what, value in st.summary:
        table.add_row(what, value)
    console.print(table)
    print_studio(st)
    return st


def main() -> int:
    try:
        run()
    except EmlError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
