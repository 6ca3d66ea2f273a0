"""`botwarden model …`: the typer group over the plain functions in `ml/cli.py`.

Registered lazily by `botwarden.cli` (it imports nothing heavy until a command runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from botwarden.ml import cli

model_app = typer.Typer(
    help="Machine-learning models: train, evaluate, promote, pin, roll back.",
    no_args_is_help=True,
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory holding models/ (default: $BOTWARDEN_DATA_DIR or ./data).",
    ),
]
NoProgress = Annotated[bool, typer.Option("--no-progress", help="Do not draw progress bars.")]


def _done(code: int) -> None:
    if code:
        raise typer.Exit(code)


@model_app.command("train")
def train(
    data: Annotated[list[Path], typer.Argument(help="Labelled event files.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the trained model.")],
    rounds: Annotated[int | None, typer.Option(help="Boosting rounds.", min=1)] = None,
    threads: Annotated[int | None, typer.Option(help="LightGBM threads.", min=1)] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    register: Annotated[
        bool, typer.Option("--register", help="Add it to the registry as a candidate.")
    ] = False,
    parent: Annotated[str | None, typer.Option(help="Parent version to record.")] = None,
    description: Annotated[str, typer.Option(help="What this version is.")] = "",
    data_dir: DataDir = None,
    no_progress: NoProgress = False,
) -> None:
    """Train a model from labelled events."""
    _done(
        cli.train_command(
            data=data,
            out=out,
            rounds=rounds,
            threads=threads,
            seed=seed,
            register=register,
            parent=parent,
            description=description,
            data_dir=data_dir,
            progress=not no_progress,
        )
    )


@model_app.command("retrain")
def retrain(
    base: Annotated[list[Path], typer.Option("--base", help="Base corpus (labelled events).")],
    holdout: Annotated[list[Path], typer.Option("--holdout", help="Hold-out (labelled events).")],
    analytics: Annotated[str, typer.Option(help="Analytics backend URL (the reports' traffic).")],
    database: Annotated[
        str, typer.Option(envvar="BOTWARDEN_DATABASE_URL", help="Store URL (the reports).")
    ] = "sqlite:///data/botwarden.db",
    promote: Annotated[str, typer.Option(help="none, auto (if every gate passes) or shadow.")] = (
        "none"
    ),
    rounds: Annotated[int | None, typer.Option(help="Boosting rounds.", min=1)] = None,
    data_dir: DataDir = None,
) -> None:
    """Retrain on accepted feedback, gate the candidate, optionally promote it."""
    _done(
        cli.retrain_command(
            base=base,
            holdout=holdout,
            analytics=analytics,
            database=database,
            promote=promote,
            rounds=rounds,
            data_dir=data_dir,
        )
    )


@model_app.command("eval")
def evaluate(
    version: Annotated[str, typer.Argument(help="Version, `base`, or a model directory.")],
    data: Annotated[list[Path], typer.Argument(help="Labelled event files (the hold-out).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Directory for eval.json, eval.md, plots.")
    ] = None,
    data_dir: DataDir = None,
    no_progress: NoProgress = False,
) -> None:
    """Evaluate a version on labelled events: FP rate, recall by level, plots."""
    _done(
        cli.eval_command(version, data=data, out=out, data_dir=data_dir, progress=not no_progress)
    )


@model_app.command("list")
def list_versions(data_dir: DataDir = None) -> None:
    """Versions with state, training rows and validation figures."""
    _done(cli.list_command(data_dir=data_dir))


@model_app.command("show")
def show(version: Annotated[str, typer.Argument()], data_dir: DataDir = None) -> None:
    """One version's metadata as JSON."""
    _done(cli.show_command(version, data_dir=data_dir))


@model_app.command("promote")
def promote(version: Annotated[str, typer.Argument()], data_dir: DataDir = None) -> None:
    """Make VERSION the active model."""
    _done(cli.promote_command(version, data_dir=data_dir))


@model_app.command("rollback")
def rollback(data_dir: DataDir = None) -> None:
    """Reactivate the previously active version."""
    _done(cli.rollback_command(data_dir=data_dir))


@model_app.command("pin")
def pin(
    zone: Annotated[str, typer.Argument(help="Zone id or name.")],
    version: Annotated[str | None, typer.Argument(help="Version; omit to unpin.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Pin a zone to a version (omit the version to follow the active model)."""
    _done(cli.pin_command(zone, version, data_dir=data_dir))


@model_app.command("auto-update")
def auto_update(
    zone: Annotated[str, typer.Argument(help="Zone id or name.")],
    on: Annotated[bool, typer.Option("--on/--off", help="Follow new active versions.")] = True,
    data_dir: DataDir = None,
) -> None:
    """Cloudflare's auto_update_model for a zone."""
    _done(cli.auto_update_command(zone, on, data_dir=data_dir))


@model_app.command("shadow")
def shadow(
    version: Annotated[str | None, typer.Argument(help="Version; omit to stop.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Score VERSION beside the active model on live traffic (omit to stop)."""
    _done(cli.shadow_command(version, data_dir=data_dir))


@model_app.command("build-base")
def build_base(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Model directory.")] = None,
    workdir: Annotated[Path | None, typer.Option(help="Where the corpus is generated.")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write the hold-out evaluation report here.")
    ] = None,
    no_progress: NoProgress = False,
) -> None:
    """Rebuild the packaged base model from the fixed simulator seeds (`make model`)."""
    _done(cli.build_base_command(out=out, workdir=workdir, report=report, progress=not no_progress))


__all__ = ["model_app"]
