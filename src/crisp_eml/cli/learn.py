"""``eml train``, ``eml test`` and ``eml runs ...``: thin commands over the Model Development use cases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crisp_eml.cli.common import BACKGROUND, console, err_console, open_project, print_json, print_table, progress

runs_app = typer.Typer(help="Training runs: list, show, compare, report.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("test")(test)
    app.add_typer(runs_app, name="runs")


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * float(v):.2f}%"


def _anomaly_line(m: dict[str, Any]) -> str:
    auc = m.get("roc_auc")
    fpr = m.get("false_positive_rate")
    return (f"ROC-AUC {'-' if auc is None else f'{auc:.4f}'}  at threshold {float(m.get('threshold', 0.0)):.4g}: "
            f"accuracy {_pct(m.get('accuracy'))}  balanced {_pct(m.get('balanced_accuracy'))}  "
            f"recall {_pct(m.get('recall'))}  false positives {_pct(fpr)}")


def train(
    epochs: Annotated[int | None, typer.Option(
        help="Epoch budget (default: the learning block's; with k-fold validation the folds choose how many "
             "of them the final model trains).")] = None,
    patience: Annotated[int | None, typer.Option(
        help="Early-stopping patience in epochs, 0 = off (default: the learning block's, else from the data).")] = None,
    learning_rate: Annotated[float | None, typer.Option(
        "--learning-rate", help="Learning rate (default: the learning block's).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size (default: the learning block's).")] = None,
    lr: Annotated[float | None, typer.Option("--lr", hidden=True, help="Alias of --learning-rate.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed + data -> same metrics).")] = 0,
    learning: Annotated[str | None, typer.Option(
        help="Learning block type: nn-classifier, nn-regressor, anomaly-kmeans, anomaly-gmm, expert.")] = None,
    background: BACKGROUND = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Train the impulse's learning block; stores the run (Keras, float32 and int8 .tflite, report)."""
    from crisp_eml.core.errors import InputError
    from crisp_eml.workspace.train import train as train_uc

    if lr is not None and learning_rate is not None and lr != learning_rate:
        raise InputError(f"--lr {lr} and --learning-rate {learning_rate} disagree (--lr is an alias)",
                         field="--learning-rate")
    learning_rate = learning_rate if learning_rate is not None else lr
    if background:
        from crisp_eml.cli.jobs import run_in_background

        return run_in_background("train", {"epochs": epochs, "learning_rate": learning_rate, "batch_size": batch_size,
                                           "patience": patience, "seed": seed, "learning": learning}, json_out)
    project = open_project()
    with progress(disable=json_out) as bar:
        task = bar.add_task("preparing", total=None)

        def on_stage(text: str) -> None:
            bar.update(task, description=text)

        def on_epoch(epoch: int, total: int, logs: dict[str, float]) -> None:
            shown = " ".join(f"{k}={v:.3f}" for k, v in logs.items() if k in ("loss", "accuracy", "val_loss",
                                                                                "val_accuracy", "mae", "val_mae"))
            fold = f"fold {int(logs['fold'])}/{int(logs['folds'])} " if "fold" in logs and "folds" in logs else ""
            bar.update(task, completed=epoch, total=total, description=f"{fold}epoch {epoch}/{total} {shown}")

        run = train_uc(project, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size,
                       patience=patience, seed=seed, learning=learning, on_epoch=on_epoch, on_stage=on_stage)
    m = run["metrics"]
    if json_out:
        print_json(run)
        return
    test = m.get("test", {})
    console.print(f"Run [bold]{run['id']}[/] ({run['learning_type']}), dataset version {run['dataset_version']}")
    if "int8" in test:
        sizes = m.get("model", {})
        rows = [[v, _pct(test[v].get("accuracy")) if "accuracy" in test[v] else f"MAE {test[v].get('mae'):.4f}",
                 sizes.get(v, {}).get("bytes"), sizes.get(v, {}).get("arena_bytes")] for v in ("float32", "int8")]
        print_table("Testing set (TFLite Micro)", ["variant", "accuracy", "model bytes", "arena bytes"], rows)
    elif "model" in test:
        console.print(_anomaly_line(test["model"]))
    if m.get("overfit_warning"):
        err_console.print(f"[yellow]warning:[/] {m['overfit_warning']}", highlight=False, soft_wrap=True)
    if m.get("int8_warning"):
        err_console.print(f"[yellow]warning:[/] {m['int8_warning']}", highlight=False, soft_wrap=True)


def test(
    variant: Annotated[str, typer.Option(help="float32 or int8.")] = "int8",
    run: Annotated[str | None, typer.Option("--run", help="Run id (default: the latest).")] = None,
    uncertain_below: Annotated[float, typer.Option(help="Confidence below which a result is 'uncertain'.")] = 0.6,
    per_sample: Annotated[bool, typer.Option(help="Print every sample's result.")] = False,
    background: BACKGROUND = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print metrics as JSON.")] = False,
) -> None:
    """Test a run's model on the testing samples in TFLite Micro."""
    from crisp_eml.workspace.evaluate import test_run

    if background:
        from crisp_eml.cli.jobs import run_in_background

        return run_in_background("test", {"variant": variant, "run": run, "uncertain_below": uncertain_below},
                                 json_out)
    project = open_project()
    res = test_run(project, run_id=run, variant=variant, uncertain_below=uncertain_below)
    if json_out:
        print_json(res)
        return
    console.print(f"Run [bold]{res['run']}[/] variant {res['variant']}: {res['windows']} testing windows")
    if res.get("task") == "classification":
        console.print(f"accuracy {_pct(res['accuracy'])}  balanced {_pct(res['balanced_accuracy'])}  "
                      f"macro F1 {res['f1']:.4f}  uncertain {res['uncertain']['windows']} window(s)")
        labels = res["labels"]
        print_table("Confusion matrix (rows: true)", ["", *labels],
                    [[lab, *row] for lab, row in zip(labels, res["confusion_matrix"], strict=True)])
        print_table("Per class", ["class", "precision", "recall", "F1", "support"],
                    [[k, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", c["support"]]
                     for k, c in res["per_class"].items()])
    elif res.get("task") == "regression":
        console.print(f"MAE {res['mae']:.4f}  RMSE {res['rmse']:.4f}  R2 {res['r2']:.4f}")
    else:
        console.print(_anomaly_line(res))
    if per_sample:
        keys = [k for k in ("name", "sample_id", "label", "predicted", "confidence", "uncertain", "score",
                            "anomaly", "expected_anomaly")
                if res["per_sample"] and k in res["per_sample"][0]]
        print_table("Per sample", keys, [[s.get(k) for k in keys] for s in res["per_sample"]])
    if res.get("overfit_warning"):
        err_console.print(f"[yellow]warning:[/] {res['overfit_warning']}", highlight=False, soft_wrap=True)


@runs_app.command("ls")
def runs_ls(
    limit: Annotated[int | None, typer.Option(help="Show at most this many runs.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List training runs, newest first."""
    from crisp_eml.workspace.runs import list_runs

    rows = list_runs(open_project(), limit=limit)
    if json_out:
        print_json(rows)
        return
    print_table("Runs", ["id", "created", "type", "status", "dataset", "float32", "int8"],
                [[r["id"], (r["created_at"] or "")[:19], r["learning_type"], r["status"], r["dataset_version"],
                  _pct(r["accuracy_float32"]), _pct(r["accuracy_int8"])] for r in rows])


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str | None, typer.Argument(help="Run id or prefix (default: the latest).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Parameters, metrics and artifacts of one run."""
    from crisp_eml.workspace.runs import show_run

    run = show_run(open_project(), run_id)
    if json_out:
        print_json(run)
        return
    m = run["metrics"] or {}
    print_table(f"Run {run['id']}", ["field", "value"], [
        ["learning type", run["learning_type"]], ["status", run["status"]], ["author", run["author"]],
        ["created", run["created_at"]], ["seed", run["seed"]], ["dataset version", run["dataset_version"]],
        ["impulse", run["impulse_hash"]], *_settings_rows(run.get("params") or {}, m),
        ["epochs run", m.get("epochs_run")],
        ["weights kept from epoch", m.get("restored_epoch") or "-"],
        ["overfit warning", m.get("overfit_warning") or "none"],
        *[[f"test {v} accuracy", _pct((m.get("test", {}).get(v) or {}).get("accuracy"))] for v in ("float32", "int8")],
        *([["anomaly test", _anomaly_line(m["test"]["model"])]] if "model" in m.get("test", {}) else []),
        *[[f"{v} bytes / arena", f"{s.get('bytes')} / {s.get('arena_bytes')}"]
          for v, s in (m.get("model") or {}).items()],
        *[[f"artifact {k}", v] for k, v in (run["artifacts"] or {}).items()],
    ])


def _settings_rows(p: dict[str, Any], m: dict[str, Any]) -> list[list[Any]]:
    """The training settings a run used (NN runs only) and how its epochs were chosen."""
    if "epochs" not in p:
        return []
    rows: list[list[Any]] = [["epochs (budget)", p.get("epochs")], ["learning rate", p.get("learning_rate")],
                             ["batch size", p.get("batch_size")],
                             ["early-stopping patience", p.get("early_stopping_patience")]]
    if p.get("validation"):
        folds = f" ({p['folds']} folds)" if p.get("validation") == "kfold" and p.get("folds") else ""
        rows.append(["validation", f"{p['validation']}{folds}"])
    if "augment" in p:
        rows.append(["augment", p["augment"]])
    sel = m.get("model_selection") or {}
    if sel.get("mode") == "kfold" and "cv_accuracy_mean" in sel:
        rows.append(["epochs chosen by k-fold", f"{sel.get('chosen_epochs')} of {sel.get('epoch_budget')}, CV accuracy "
                     f"{_pct(sel['cv_accuracy_mean'])} +- {100 * float(sel.get('cv_accuracy_std', 0.0)):.2f}"])
    return rows


@runs_app.command("compare")
def runs_compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare parameters and metrics of runs side by side (differences marked *)."""
    from crisp_eml.workspace.runs import compare_runs

    res = compare_runs(open_project(), run_ids)
    if json_out:
        print_json(res)
        return
    print_table("Run comparison", ["", *res["runs"]],
                [[("* " if k in res["differs"] else "  ") + k, *vals] for k, vals in res["rows"].items()])


@runs_app.command("report")
def runs_report(
    run_id: Annotated[str | None, typer.Argument(help="Run id or prefix (default: the latest).")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the HTML report.")] = Path(
        "report.html"),
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Write a run's self-contained HTML training report."""
    from crisp_eml.workspace.runs import write_run_report

    size = write_run_report(open_project(), output, run_id)
    if json_out:
        print_json({"path": str(output), "bytes": size})
    else:
        typer.echo(f"Wrote {output} ({size} bytes)")
