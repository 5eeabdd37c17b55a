"""``eml ingest`` and ``eml data ...``: thin commands over the data use cases in ``workspace``.

Ingestion, listing, export, synthetic data, removal and blob gc live here; dataset versions, quality
checks, cleaning and rebalancing join ``data_app`` through their modules' ``register``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crisp_eml.cli.common import err_console, open_project, print_json, print_table, progress

data_app = typer.Typer(help="Samples, dataset versions, quality and export.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach ``eml ingest`` and ``eml data``; idempotent, since ``main()`` may run many times in-process."""
    if not any(c.callback is ingest for c in app.registered_commands):
        app.command("ingest")(ingest)
    if not any(g.typer_instance is data_app for g in app.registered_groups):
        app.add_typer(data_app, name="data")


def _parse_metadata(items: list[str] | None) -> dict[str, str]:
    from crisp_eml.core.errors import InputError

    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"expected KEY=VALUE, got {item!r}", field="metadata")
        out[key.strip()] = value
    return out


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (walked recursively).")],
    label: Annotated[str | None, typer.Option(help="Label for every file (default: from file/folder name).")] = None,
    category: Annotated[str | None, typer.Option(
        help="training, testing or split (by content hash, 80/20). Default: from a training/testing folder, "
             "else split.")] = None,
    frequency: Annotated[float | None, typer.Option(help="Sampling rate (Hz) for CSVs without timestamps.")] = None,
    hmac_key: Annotated[str | None, typer.Option(help="Verify Edge Impulse signatures with this HMAC key.")] = None,
    allow_duplicates: Annotated[bool, typer.Option(help="Keep samples whose content already exists.")] = False,
    skip_duplicates: Annotated[bool, typer.Option(
        help="Skip files whose content already exists instead of failing (resume an interrupted batch).")] = False,
    metadata: Annotated[list[str] | None, typer.Option(
        "--metadata", "-m", help="KEY=VALUE stored on every sample (repeatable).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Ingest CSV, WAV, JPEG/PNG and Edge Impulse JSON/CBOR files; exits non-zero if any file failed.

    A folder with an Edge Impulse info.labels (an exported dataset) is ingested as its export: the files it
    lists, with its labels, categories and metadata (--label/--category are refused there)."""
    from crisp_eml.core.errors import InputError
    from crisp_eml.workspace.ingest import ingest_paths

    project = open_project()
    meta = _parse_metadata(metadata)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:  # a mistyped path: refuse before ingesting anything, rather than ingest the rest
        if len(missing) == 1:
            raise InputError("no such file or folder; nothing was ingested", source=missing[0])
        raise InputError(f"no such files or folders: {', '.join(missing)}; nothing was ingested")
    if label is not None:
        _warn_label_case(project, label)
    with progress(disable=json_out) as bar:
        task = bar.add_task("ingesting", total=None)

        def tick(done: int, total: int, _path: str) -> None:
            bar.update(task, completed=done, total=total)

        report = ingest_paths(project, paths, label=label, category=category, frequency_hz=frequency,
                              hmac_key=hmac_key, allow_duplicates=allow_duplicates, metadata=meta, on_progress=tick,
                              skip_duplicates=skip_duplicates)
    if json_out:
        print_json(report.to_dict())
    else:
        for n in report.notes:
            err_console.print(f"[yellow]note:[/] {n.path}: {n.note}", highlight=False, soft_wrap=True)
        for f in report.failures:
            err_console.print(f"[red]failed:[/] {f.reason}", highlight=False, soft_wrap=True)
        skipped = f"; {len(report.skipped)} duplicate(s) skipped" if report.skipped else ""
        typer.echo(f"Ingested {len(report.samples)} sample(s); {len(report.failures)} failed{skipped}.")
    if not (report.samples or report.failures or report.skipped):
        raise InputError("no ingestible files found (.csv .wav .png .jpg .jpeg .json .cbor)",
                         source=", ".join(map(str, paths)))
    if report.failures:
        done = (f"the other {len(report.samples)} were ingested" if report.samples else "nothing was ingested")
        raise InputError(f"{len(report.failures)} of {len(report.failures) + len(report.samples)} file(s) failed "
                         f"to ingest (see above); {done}")


def _warn_label_case(project: Any, label: str) -> None:
    """Warn when ``--label`` differs only in case from a label the project already has ("Walking" vs
    "walking" would become a second class)."""
    from crisp_eml.data.samples import known_labels

    same = [x for x in known_labels(project) if x != label and x.casefold() == label.casefold()]
    if same:
        err_console.print(f"[yellow]warning:[/] label '{label}' differs only in case from the existing "
                          f"{' and '.join(repr(x) for x in same)}: labels are case-sensitive, so this makes a new "
                          "class", highlight=False, soft_wrap=True)


def _summary(s: Any) -> dict[str, Any]:
    d: dict[str, Any] = s.to_dict()
    return {k: d[k] for k in ("id", "name", "label", "category", "kind", "sensors", "frequency_hz", "length",
                              "shape", "hash", "source")}


@data_app.command("ls")
def ls(
    category: Annotated[str | None, typer.Option(help="Only training or testing.")] = None,
    label: Annotated[str | None, typer.Option(help="Only this label.")] = None,
    layer: Annotated[str, typer.Option(help="raw or clean.")] = "raw",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List samples."""
    from crisp_eml.core.humanize import duration_ms, plain_number
    from crisp_eml.data.samples import list_samples

    project = open_project()
    samples = list_samples(project, category=category, label=label, layer=layer)
    if label is not None and not samples:
        from crisp_eml.data.samples import check_label_known

        check_label_known(project, label, layer=layer)
    if json_out:
        print_json([_summary(s) for s in samples])
        return
    print_table(f"{len(samples)} sample(s)",
                ["id", "name", "label", "category", "kind", "axes", "Hz", "length", "duration"],
                [(s.id, s.name, s.label, s.category, s.kind, ",".join(s.axes),
                  plain_number(s.frequency_hz) if s.frequency_hz else "", s.length,
                  duration_ms(s.length * 1000.0 / s.frequency_hz) if s.frequency_hz and s.kind != "image" else "")
                 for s in samples])


@data_app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="Sample id, unique name, or CATEGORY/NAME (testing/idle.01).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one sample's metadata."""
    from crisp_eml.data.samples import get_sample

    s = get_sample(open_project(), ref)
    d = s.to_dict()
    d["source_hash"] = s.source_hash
    if json_out:
        print_json(d)
        return
    rows = [(k, v) for k, v in d.items()]
    if s.frequency_hz and s.kind != "image":
        from crisp_eml.core.humanize import duration_with_ms

        rows.append(("duration", duration_with_ms(s.length * 1000.0 / s.frequency_hz)))
    print_table(f"sample {s.id}", ["field", "value"], rows)


@data_app.command("rm")
def rm(
    ref: Annotated[str, typer.Argument(help="Sample id, unique name, or CATEGORY/NAME (testing/idle.01).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Remove a sample (audited). Its blob is freed by 'eml data gc' when nothing else uses it."""
    from crisp_eml.workspace.remove_sample import remove_sample

    s = remove_sample(open_project(), ref)
    if json_out:
        print_json({"removed": s.id, "name": s.name, "hash": s.hash})
    else:
        typer.echo(f"Removed sample {s.id} ({s.name})")


@data_app.command("label")
def label(
    refs: Annotated[list[str], typer.Argument(
        help="Sample id(s), unique name(s) or CATEGORY/NAME(s), then the new LABEL.")],
    category: Annotated[str | None, typer.Option("--category", help="Also move to training or testing.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Relabel samples: 'eml data label ID [ID...] LABEL' (audited, one transaction). With --category only,
    every argument is a sample."""
    from crisp_eml.core.errors import InputError
    from crisp_eml.workspace.label import label_samples

    if category is None and len(refs) < 2:
        raise InputError("give SAMPLE [SAMPLE...] LABEL (or --category training|testing)", field="label")
    samples, new_label = (refs[:-1], refs[-1]) if len(refs) >= 2 or category is None else (refs, None)
    if category is not None and len(refs) >= 2:
        # with --category the last argument is a label only when it is not a sample
        from crisp_eml.core.errors import NotFoundError
        from crisp_eml.data.samples import get_sample

        project = open_project()
        try:
            get_sample(project, refs[-1])
            samples, new_label = refs, None
        except NotFoundError:
            pass
    r = label_samples(open_project(), samples, new_label, category=category)
    if json_out:
        print_json(r.to_dict())
        return
    for c in r.changes:
        parts = [f"{k} {c[k]['old']} -> {c[k]['new']}" for k in ("label", "category") if k in c]
        typer.echo(f"{c['sample']} ({c['name']}): {', '.join(parts)}")
    typer.echo(f"Changed {len(r.changes)} sample(s); {len(r.unchanged)} already as requested.")


@data_app.command("gc")
def gc(
    min_age: Annotated[float, typer.Option(help="Grace period: keep unreferenced blobs younger than this (seconds; "
                                                "default one hour). Safe while ingest/train/... run.")] = 3600.0,
    dry_run: Annotated[bool, typer.Option(help="Only report what would be removed.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delete blobs no table references and older than --min-age (safe while other commands write)."""
    from crisp_eml.workspace.gc_blobs import gc_blobs

    r = gc_blobs(open_project(), min_age_s=min_age, dry_run=dry_run)
    if json_out:
        print_json(r.to_dict())
    else:
        verb = "Would remove" if dry_run else "Removed"
        typer.echo(f"{verb} {len(r.removed)} orphan blob(s); {r.referenced} referenced; "
                   f"{r.kept_young} unreferenced kept (younger than {r.grace_s:g} s).")


@data_app.command("export")
def export(
    out: Annotated[Path, typer.Argument(help="Output folder (training/ and testing/ are created).")],
    fmt: Annotated[str, typer.Option("--format", help="ei-json, ei-cbor, csv, wav or png.")] = "ei-json",
    version: Annotated[int | None, typer.Option(help="Export this dataset version instead of the current "
                                                     "samples.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Export samples as files that 'eml ingest' reads back to the same samples."""
    from crisp_eml.workspace.export import export_dataset

    project = open_project()
    with progress(disable=json_out) as bar:
        task = bar.add_task("exporting", total=None)
        r = export_dataset(project, out, fmt, version=version,
                           on_progress=lambda d, t, _i: bar.update(task, completed=d, total=t))
    if json_out:
        print_json(r.to_dict())
        return
    typer.echo(f"Wrote {len(r.written)} file(s) to {out}; skipped {len(r.skipped)}.")
    for s in r.skipped[:20]:
        err_console.print(f"skipped {s['id']}: {s['reason']}", highlight=False)


@data_app.command("synth")
def synth(
    out: Annotated[Path, typer.Argument(help="Output folder.")],
    kind: Annotated[str, typer.Option(help="motion, keywords (needs espeak-ng) or shapes (32x32 PNGs).")] = "motion",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="motion only: json (Edge Impulse) or csv.")] = "json",
    size: Annotated[int | None, typer.Option(help="motion: recordings per subject and label (6); keywords: "
                                                  "clips per class (8); shapes: images per class (30).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Write a deterministic synthetic dataset (no project needed); then 'eml ingest OUT'."""
    from crisp_eml.workspace.synth import synthesize

    with progress(disable=json_out) as bar:
        task = bar.add_task(f"synthesizing {kind}", total=None)
        files = synthesize(out, kind=kind, seed=seed, fmt=fmt, size=size,
                           on_progress=lambda d, t, _n: bar.update(task, completed=d, total=t))
    if json_out:
        print_json({"out": str(out), "kind": kind, "files": [f.relative for f in files]})
    else:
        labels = sorted({f.label for f in files})
        typer.echo(f"Wrote {len(files)} {kind} file(s) to {out} (labels: {', '.join(labels)})")


from crisp_eml.cli import data_quality, data_review, data_versions  # noqa: E402 - after this module's own commands

data_quality.register(data_app)
data_versions.register(data_app)
data_review.register(data_app)
