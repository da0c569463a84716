"""The ``toolkit`` command line: thin adapters over the library functions.

Each command parses its options, calls one library function and formats the result.
Errors from the library (``ToolkitError``) become a one-line message and a hint on stderr
and a non-zero exit; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .errors import ToolkitError
from .workspace import Workspace

app = typer.Typer(
    name="toolkit",
    help="Turn raw news articles into Label Studio tasks, pull the labels back, validate them "
         "and publish versioned datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
scheme_app = typer.Typer(help="Check and build the files derived from schemas/scheme.json.",
                         no_args_is_help=True, rich_markup_mode=None)
app.add_typer(scheme_app, name="scheme")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


class State:
    def __init__(self, workspace: Path | None, debug: bool) -> None:
        self.workspace_dir = workspace
        self.debug = debug

    def workspace(self) -> Workspace:
        return Workspace.find(self.workspace_dir)


# Set by the top-level callback on every invocation. (Typer >= 0.29 vendors its own click, so
# click.get_current_context() cannot be relied on across versions.)
_current = State(None, False)


def _state() -> State:
    return _current


def handle_errors(func: F) -> F:
    """Turn a ToolkitError into `error: ...` + `hint: ...` on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ToolkitError as exc:
            if _state().debug:
                raise
            err.print(f"error: {exc.message}", markup=False)
            if exc.hint:
                err.print(f"hint: {exc.hint}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted; nothing was left half-written", markup=False)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


class RichProgress:
    """The library's Progress, drawn as a bar on a terminal; silent in pipes and CI."""

    def __init__(self) -> None:
        self.enabled = err.is_terminal and not os.environ.get("CI")
        self._bar: Progress | None = None
        self._task: Any = None

    def start(self, total: int | None, description: str) -> None:
        if not self.enabled:
            return
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeRemainingColumn(), console=err, transient=True)
        self._bar.start()
        self._task = self._bar.add_task(description, total=total)

    def advance(self, amount: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, amount)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def print_json(data: Any) -> None:
    out.print(json.dumps(data, indent=2, ensure_ascii=False), markup=False)


def _version(value: bool) -> None:
    if value:
        out.print(f"toolkit {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    workspace: Optional[Path] = typer.Option(
        None, "--workspace", "-w", help="Workspace folder (default: the one containing the current folder).",
        file_okay=False),
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """Dataset toolkit. Run `toolkit COMMAND --help` for each command."""
    global _current
    _current = State(workspace, debug)


# init ---------------------------------------------------------------------------------------

@app.command("init")
@handle_errors
def init_cli(
    directory: Path = typer.Argument(..., help="Folder to create the workspace in (created if missing)."),
    title: Optional[str] = typer.Option(None, help="Human title of the dataset."),
) -> None:
    """Create a new workspace: toolkit.toml, schemas/, raw/, annotations/, releases/.

    Example: toolkit init my-dataset --title "Protest events"
    """
    from .workspace import init_workspace

    ws = init_workspace(directory, title=title)
    out.print(f"Created workspace {ws.root}", markup=False)
    out.print("Next: put articles in raw/, then run `toolkit ingest` and `toolkit tasks` there.", markup=False)


# ingest -------------------------------------------------------------------------------------

@app.command("ingest")
@handle_errors
def ingest_cli(
    paths: Optional[list[Path]] = typer.Argument(None, help="Files or folders to read (default: raw/)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    strict: bool = typer.Option(False, "--strict", help="Exit with status 1 when any input was rejected."),
) -> None:
    """Read raw articles (.txt, .html, .jsonl) into annotations/articles.parquet.

    Cleans and de-duplicates them; rejected files are listed with their reason, never lost.

    Example: toolkit ingest raw/ scraped/2024-11.jsonl
    """
    from .ingest import ingest

    ws = _state().workspace()
    report = ingest(ws, paths or None, progress=RichProgress())
    if as_json:
        print_json(report.to_dict())
    else:
        _print_ingest_summary(report, ws)
    if strict and report.rejected:
        raise typer.Exit(1)


def _print_ingest_summary(report: Any, ws: Workspace) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("files read", report.files_read),
        ("articles read", report.documents_read),
        ("new articles kept", report.new_articles),
        ("already ingested", report.already_ingested),
        ("exact duplicates (sources merged)", report.exact_duplicates),
        ("rejected", len(report.rejected)),
        ("near-duplicate clusters", f"{report.near_duplicate_clusters} ({report.articles_in_clusters} articles)"),
        ("articles in the table", report.total_articles),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    out.print(f"Ingest -> {report.output}", markup=False)
    out.print(table)
    if report.rejected:
        out.print("Rejected:", markup=False)
        for rejection in report.rejected[:20]:
            out.print(f"  [{rejection.reason}] {rejection.message}", markup=False)
        if len(report.rejected) > 20:
            out.print(f"  ... and {len(report.rejected) - 20} more", markup=False)
    if report.warnings:
        out.print(f"Warnings: {len(report.warnings)} (first: {report.warnings[0]['source']}: "
                  f"{report.warnings[0]['warning']})", markup=False)
    out.print(f"Full report: {ws.relative(ws.ingest_report_path)}", markup=False)


# tasks --------------------------------------------------------------------------------------

@app.command("tasks")
@handle_errors
def tasks_cli(as_json: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """Add a Label Studio task to annotations/tasks.jsonl for every article not tasked yet.

    Existing lines are never rewritten.

    Example: toolkit tasks
    """
    from .tasks import build_tasks

    report = build_tasks(_state().workspace(), progress=RichProgress())
    if as_json:
        print_json(report.to_dict())
        return
    line = f"Tasks -> {report.output}: {report.added} added, {report.already_tasked} already there"
    if report.skipped_near_duplicates:
        line += f", {report.skipped_near_duplicates} near-duplicates skipped"
    out.print(f"{line}; {report.total} in all", markup=False)


# scheme -------------------------------------------------------------------------------------

@scheme_app.command("build")
@handle_errors
def scheme_build_cli() -> None:
    """Validate schemas/scheme.json and regenerate the files derived from it.

    Writes labeling_config.xml, annotation.schema.json, task.schema.json, features.json and
    a copy of the scheme's meta-schema, all into schemas/.

    Example: toolkit scheme build
    """
    from .scheme import build_scheme_files

    ws = _state().workspace()
    for path in build_scheme_files(ws.schemas_dir):
        out.print(f"wrote {ws.relative(path)}", markup=False)


@scheme_app.command("check")
@handle_errors
def scheme_check_cli() -> None:
    """Validate schemas/scheme.json and check the generated files are up to date (exit 1 if not).

    Example: toolkit scheme check
    """
    from .scheme import ensure_scheme_files_current

    ws = _state().workspace()
    ensure_scheme_files_current(ws.schemas_dir)
    out.print("scheme valid; generated files up to date", markup=False)


def main() -> None:
    app(prog_name="toolkit")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
