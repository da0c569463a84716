"""The ``toolkit`` command line: thin adapters over the library functions.

Each command parses its options, calls one library function and formats the result.
Errors from the library (``ToolkitError``) become a one-line message and a hint on stderr
and a non-zero exit; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .version import __version__
from . import journal
from .errors import ToolkitError, redact
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
studio_app = typer.Typer(help="The embedded Label Studio server of this workspace (local, 127.0.0.1).",
                         no_args_is_help=True, rich_markup_mode=None)
app.add_typer(studio_app, name="studio")
annotators_app = typer.Typer(help="The people who label: accounts on the server, and who has done what.",
                             no_args_is_help=True, rich_markup_mode=None)
app.add_typer(annotators_app, name="annotators")

# Text from outside (file names, JSON values, server answers) reaches the terminal in messages.
# Control characters in it could draw colours, move the cursor or start a fake "error:" line, so
# the consoles show every control character but newline and tab escaped, and `safe_line` escapes
# newlines too in what is one line by design.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_OR_NEWLINE = re.compile("[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]


def safe_line(text: object) -> str:
    """One line of output: every control character escaped, newlines included."""
    return _CONTROL_OR_NEWLINE.sub(_escape, str(text))


class _SafeConsole(Console):
    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().print(*(_CONTROL.sub(_escape, o) if isinstance(o, str) else o for o in objects), **kwargs)


out = _SafeConsole(highlight=False, soft_wrap=True)
err = _SafeConsole(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


class State:
    def __init__(self, workspace: Path | None, debug: bool) -> None:
        self.workspace_dir = workspace
        self.debug = debug

    def workspace(self) -> Workspace:
        ws = Workspace.find(self.workspace_dir)
        # A command killed in the middle of replacing files that belong together is finished
        # (or undone) before anything reads them.
        journal.recover(ws.annotations_dir)
        return ws


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
            # Only the first line of a message starts at the margin: a file name with a newline in
            # it cannot print a line of its own that looks like the toolkit's.
            first, *rest = redact(exc.message).split("\n")
            err.print(f"error: {first}" + "".join(f"\n  {line.lstrip()}" for line in rest), markup=False)
            if exc.hint:
                err.print(f"hint: {safe_line(redact(exc.hint))}", markup=False)
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
    from .atomicio import strict_json

    out.print(strict_json(data, where="the output", non_finite="string", default=str), markup=False)


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
    scheme: str = typer.Option("news-events", help="Built-in scheme (news-events: events with arguments; "
                               "news-events-v1: one event type and counts per article) or a scheme.json path."),
) -> None:
    """Create a new workspace: toolkit.toml, schemas/, raw/, annotations/, releases/.

    Example: toolkit init my-dataset --title "Protest events"
    """
    from .scaffold import init_workspace

    ws = init_workspace(directory, title=title, scheme=scheme)
    out.print(f"Created workspace {ws.root}", markup=False)
    out.print("Next: put articles in raw/, then run `toolkit ingest` and `toolkit tasks` there.", markup=False)


# ingest -------------------------------------------------------------------------------------

@app.command("ingest")
@handle_errors
def ingest_cli(
    paths: Optional[list[Path]] = typer.Argument(None, help="Files or folders to read (default: raw/)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    strict: bool = typer.Option(False, "--strict", help="Exit with status 1 when any input was rejected."),
    follow_symlinks: bool = typer.Option(False, "--follow-symlinks",
                                         help="Also read symbolic links that lead outside the input folders."),
    jobs: Optional[int] = typer.Option(None, "--jobs", min=1,
                                       help="Worker processes for reading and cleaning (default: every CPU); "
                                            "the output is the same whatever the number."),
    cluster: Optional[str] = typer.Option(
        None, "--cluster", metavar="ADDRESS", envvar="TOOLKIT_CLUSTER", show_envvar=True,
        help="Read and clean on the Ray cluster at ADDRESS (HOST:PORT from `ray start --head`, or "
             "ray://HOST:10001) instead of local worker processes; its nodes must see the raw files at "
             "the same paths and have the toolkit installed (pip install 'toolkit[cluster]'). "
             "The output is the same."),
) -> None:
    """Read raw articles (.txt, .html, .jsonl) into the articles table (annotations/articles/).

    Cleans and de-duplicates them; rejected files are listed with their reason, never lost.

    Example: toolkit ingest raw/ scraped/2024-11.jsonl
    """
    from .ingest import ingest

    ws = _state().workspace()
    report = ingest(ws, paths or None, follow_symlinks=follow_symlinks, progress=RichProgress(), jobs=jobs,
                    address=cluster or None)
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
            out.print(f"  [{rejection.reason}] {safe_line(rejection.message)}", markup=False)
        if len(report.rejected) > 20:
            out.print(f"  ... and {len(report.rejected) - 20} more", markup=False)
    if report.warnings:
        out.print(f"Warnings: {len(report.warnings)} (first: {safe_line(report.warnings[0]['source'])}: "
                  f"{safe_line(report.warnings[0]['warning'])})", markup=False)
    if report.leftovers_removed:
        out.print(f"Removed {len(report.leftovers_removed)} leftover file(s) of an interrupted ingest", markup=False)
    out.print(f"Full report: {ws.relative(ws.ingest_report_path)}", markup=False)


# tasks --------------------------------------------------------------------------------------

@app.command("tasks")
@handle_errors
def tasks_cli(as_json: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """Add a Label Studio task to annotations/tasks.jsonl for every article not tasked yet.

    Existing lines are never rewritten.

    Example: toolkit tasks
    """
    from .labelstudio import build_tasks

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


# studio -------------------------------------------------------------------------------------

@studio_app.command("setup")
@handle_errors
def studio_setup_cli() -> None:
    """Create the Label Studio server's own virtual environment (once per machine; safe to repeat).

    The server cannot share the toolkit's environment (its pins clash with trafilatura's).
    Set TOOLKIT_STUDIO_ENV to choose where it goes.

    Example: toolkit studio setup
    """
    from .labelstudio import LABEL_STUDIO_VERSION, setup_server_env

    path = setup_server_env(log=lambda line: err.print(f"  {line}", markup=False))
    out.print(f"label-studio {LABEL_STUDIO_VERSION} ready in {path}", markup=False)


@studio_app.command("start")
@handle_errors
def studio_start_cli(
    port: Optional[int] = typer.Option(None, help="Port on 127.0.0.1 (default: [labelstudio] port, "
                                                  "or a free one if that is taken)."),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Start this workspace's Label Studio in the background (data in .labelstudio/); safe to repeat.

    Prints the URL and the login for annotators. The API token is kept in
    .labelstudio/credentials.json (mode 0600) and never printed; see `toolkit studio token`.

    Example: toolkit studio start --port 8080
    """
    from .labelstudio import EmbeddedStudio

    studio = EmbeddedStudio(_state().workspace())
    was_running = studio.status().running
    if not was_running:
        err.print("starting Label Studio (about 30-60 s) ...", markup=False)
    status = studio.start(port=port)
    if as_json:
        print_json(status.to_dict())
        return
    creds = studio.credentials()
    out.print(f"Label Studio {'is already running' if was_running else 'started'} at {status.url}", markup=False)
    out.print(f"  login: {creds.email} / {creds.password}", markup=False)
    out.print(f"  data:  {status.data_dir}   log: {status.log}", markup=False)
    out.print("Stop it with `toolkit studio stop`.", markup=False)


@studio_app.command("stop")
@handle_errors
def studio_stop_cli() -> None:
    """Stop this workspace's Label Studio; safe to repeat.

    Example: toolkit studio stop
    """
    from .labelstudio import EmbeddedStudio

    stopped = EmbeddedStudio(_state().workspace()).stop()
    out.print("Label Studio stopped" if stopped else "Label Studio was not running", markup=False)


@studio_app.command("status")
@handle_errors
def studio_status_cli(as_json: bool = typer.Option(False, "--json", help="Print the status as JSON.")) -> None:
    """Say whether this workspace's Label Studio is running, and where (exit 1 if it is not).

    Example: toolkit studio status
    """
    from .labelstudio import EmbeddedStudio

    status = EmbeddedStudio(_state().workspace()).status()
    if as_json:
        print_json(status.to_dict())
    elif status.running:
        out.print(f"running at {status.url} (pid {status.pid}); login {status.email}", markup=False)
    else:
        out.print("not running; start it with `toolkit studio start`", markup=False)
    if not status.running:
        raise typer.Exit(1)


@studio_app.command("token")
@handle_errors
def studio_token_cli() -> None:
    """Print the embedded server's API token (only on this explicit request).

    Example: export LABEL_STUDIO_API_KEY=$(toolkit studio token)
    """
    from .errors import StudioError
    from .labelstudio import EmbeddedStudio

    creds = EmbeddedStudio(_state().workspace()).credentials()
    if creds is None:
        raise StudioError("the embedded Label Studio has no token yet", hint="run `toolkit studio start` first")
    print(creds.token)


# push ---------------------------------------------------------------------------------------

@app.command("push")
@handle_errors
def push_cli(
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and change nothing."),
    force: bool = typer.Option(False, "--force", help="Update the labeling config even if it removes "
                                                      "labels that annotations use."),
    chunk_size: int = typer.Option(500, min=1, help="Tasks per import request."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Create or update the Label Studio project from the scheme and import tasks not there yet.

    Idempotent: article ids already in the project (asked of the server) are skipped, so a
    push interrupted half-way can simply be run again.

    Example: toolkit push --dry-run
    """
    from .labelstudio import push

    report = push(_state().workspace(), dry_run=dry_run, force=force, chunk_size=chunk_size,
                  progress=RichProgress())
    if as_json:
        print_json(report.to_dict())
        return
    where = (f"{len(report.queues)} annotator queue(s)" if report.mode == "assigned" else
             f"project {report.project_id}" if report.project_id else f"new project {report.project_title!r}")
    if report.dry_run:
        out.print(f"Plan for {report.server}, {where}:", markup=False)
        out.print(f"  create project:   {'yes' if report.created_project else 'no'}", markup=False)
        out.print(f"  update config:    {'yes' if report.config_changed else 'no'}", markup=False)
        out.print(f"  tasks to create:  {report.to_import}", markup=False)
        out.print(f"  already there:    {report.already_there}", markup=False)
        out.print(f"  team settings:    {', '.join(report.settings_changed) or 'as they are'}", markup=False)
        for key, count in report.removed_values_in_use.items():
            out.print(f"  would remove {key} (used by {count} annotation(s)): needs --force", markup=False)
        out.print("Nothing was changed (--dry-run).", markup=False)
        return
    done = []
    if report.created_project:
        done.append("created the project")
    if report.config_changed:
        done.append("updated the labeling config")
    if report.settings_changed:
        done.append("set " + ", ".join(report.settings_changed))
    if report.duplicates_removed:
        done.append(f"removed {report.duplicates_removed} duplicate task(s) a lost answer had made")
    done.append(f"imported {report.imported} task(s)" + (f" with {report.predictions} prediction(s)"
                                                         if report.predictions else ""))
    out.print(f"Push -> {report.server}, {where}: {', '.join(done)}; {report.already_there} already there",
              markup=False)
    if report.duplicate_articles:
        err.print(f"warning: {len(report.duplicate_articles)} article(s) are still in more than one task, each "
                  "copy holding annotations or drafts (nothing was deleted): "
                  + "; ".join(f"{a}: tasks {', '.join(map(str, ids))}" for a, ids in report.duplicate_articles.items()),
                  markup=False)
    for who, queue in report.queues.items():
        out.print(f"  {who}: project {queue['project_id']} ({queue['title']}), {queue['assigned']} article(s) "
                  f"assigned, {queue['imported']} imported now", markup=False)
    per_task = len(report.queues) and _state().workspace().config.annotators_per_task
    out.print(f"Each task goes to {per_task or report.settings['maximum_annotations']} annotator(s)"
              + (" by assignment, each in a queue of their own" if report.queues else "") + "; guidelines "
              f"{'shown before labelling' if report.settings['show_instruction'] else 'in the project, not shown first'}.",
              markup=False)
    if report.suggestions:
        s = report.suggestions
        out.print(f"Suggestions: {s['imported']} attached, {s['already_there']} already there"
                  + (f", {s['not_on_server']} for articles with no task here" if s["not_on_server"] else "")
                  + (f", {s['blind']} held back ([preannotate] blind_fraction)" if s["blind"] else "")
                  + (f"; annotators see {report.shown_version}" if report.shown_version else "")
                  + ("; queue ordered by uncertainty (lowest suggestion score first)"
                     if report.settings.get("sampling") == "Uncertainty sampling" else ""),
                  markup=False)
    if report.project_id:
        out.print(f"Open {report.server}/projects/{report.project_id}/data to label.", markup=False)
    if report.suggestion_problems:
        for problem in report.suggestion_problems:
            err.print(f"error: {safe_line(problem)}", markup=False)
        err.print("hint: fix or remove those lines in annotations/predictions/ and push again (the rest was "
                  "attached)", markup=False)
        raise typer.Exit(1)


# annotators ---------------------------------------------------------------------------------

@annotators_app.command("add")
@handle_errors
def annotators_add_cli(
    emails: list[str] = typer.Argument(..., metavar="EMAIL...", help="E-mail addresses of the new annotators."),
    create: Optional[bool] = typer.Option(None, "--create/--invite",
                                          help="Make the accounts (default on the embedded server), or print the "
                                               "invite link for people to sign up themselves (default elsewhere)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (without passwords)."),
) -> None:
    """Give annotators an account in the server's organisation.

    On the embedded server each new account gets a one-time password, printed here once and
    stored nowhere; on your own server (LABEL_STUDIO_URL) you get the invite link to send.

    Example: toolkit annotators add ann@example.org ben@example.org
    """
    from .labelstudio.team import add_annotators

    report = add_annotators(_state().workspace(), emails, create=create)
    if as_json:
        print_json(report.to_dict())
        return
    if report.invite_url:
        out.print(f"Send this invite link to {', '.join(a.email for a in report.annotators)}:", markup=False)
        out.print(f"  {report.invite_url}", markup=False)
        out.print("Each person signs up with their own e-mail and password, then opens the project and "
                  "presses 'Label All Tasks'.", markup=False)
        return
    for person in report.annotators:
        if person.created:
            out.print(f"added {person.email} (user {person.user_id}): one-time password {person.password}",
                      markup=False)
        else:
            out.print(f"{person.email} already has an account (user {person.user_id})", markup=False)
    if any(p.created for p in report.annotators):
        out.print(f"Give each person their password privately; they log in at {report.server}/user/login/ "
                  "and can change it under Account & Settings. It is not shown again.", markup=False)


@annotators_app.command("list")
@handle_errors
def annotators_list_cli(
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """List the accounts on the server and what each has done (as of the last pull).

    Example: toolkit annotators list
    """
    from .labelstudio.team import list_annotators

    rows = list_annotators(_state().workspace())
    if as_json:
        print_json(rows)
        return
    table = Table("user", "e-mail", "submitted", "skipped", "edited by others", box=None)
    for row in rows:
        table.add_row(str(row["user_id"]), row["email"] or "", str(row["submitted"]), str(row["skipped"]),
                      str(row["edited_by_others"]))
    out.print(table)


# status ---------------------------------------------------------------------------------------

@app.command("status")
@handle_errors
def status_cli(
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Where the annotation round stands: the server's settings checked against the gold
    policy, per annotator what is done, skipped and quarantined, lead time and agreement so
    far, the articles still short of answers and what is left. Exit 1 when a check fails.

    Reads the server's settings live and the annotations as of the last `toolkit pull`.

    Example: toolkit pull && toolkit agree && toolkit status
    """
    from .labelstudio.team import round_status

    status = round_status(_state().workspace())
    if as_json:
        print_json(status.to_dict())
    else:
        where = (f"project {status.project_id}" if status.project_id else
                 "assigned queues" if _state().workspace().config.campaign.mode == "assigned" else "no project yet")
        out.print(f"Round on {status.server}, {where}: {status.tasks} task(s), "
                  f"{status.needed_per_task} independent answer(s) needed per article", markup=False)
        for check in status.checks:
            out.print(f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}", markup=False)
        if status.pulled_at:
            out.print(f"As of the last pull ({status.pulled_at}):", markup=False)
        table = Table("annotator", "submitted", "skipped", "quarantined", "edited by others", "median lead time",
                      "agreement", box=None)
        for person in status.annotators:
            figures = ", ".join(f"{field} {entry.get('value'):.2f}" for field, entry in person["agreement"].items()
                                if isinstance(entry, dict) and isinstance(entry.get("value"), (int, float)))
            lead = person["median_lead_time"]
            table.add_row(str(person["annotator"]), str(person["submitted"]), str(person["skipped"]),
                          str(person["quarantined"]), str(person["edited_by_others"]),
                          f"{lead:.0f} s" if lead is not None else "-", figures or "-")
        if status.annotators:
            out.print(table)
        out.print(f"{len(status.short_articles)} article(s) with fewer independent answers than the policy needs; "
                  f"{status.annotations_left} answer(s) left"
                  + (f" at {status.rate_per_day} a day so far" if status.rate_per_day else ""), markup=False)
        for edit in status.edits:
            out.print(f"  edited: task {edit['task_id']}, annotation {edit['annotation_id']} by {edit['annotator']}, "
                      f"changed by {edit['editor']} (left out of agreement and gold)", markup=False)
    if not status.ok:
        raise typer.Exit(1)


# pull ---------------------------------------------------------------------------------------

@app.command("pull")
@handle_errors
def pull_cli(
    from_export: Optional[Path] = typer.Option(None, "--from-export", exists=False,
                                               help="Read a Label Studio export file (JSON or JSON_MIN, "
                                                    "optionally .gz) instead of the server."),
    chunk_size: Optional[int] = typer.Option(None, min=1, max=900,
                                             help="Task ids per request (default [labelstudio] page_size)."),
    allow_deletions: bool = typer.Option(False, "--allow-deletions",
                                         help="Let the pull remove more than half of the annotations the "
                                              "workspace holds (they stay in the earlier snapshots)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Read every task and annotation back, snapshot it, normalise and validate it.

    Writes annotations/exports/<timestamp>.jsonl.gz (raw, immutable), annotations.parquet,
    drafts.parquet, predictions.parquet, quarantine.jsonl and pull-report.json. An interrupted
    pull resumes where it stopped.

    Example: toolkit pull    or    toolkit pull --from-export project-1-at-2024-11-25.json
    """
    from .labelstudio import pull

    report = pull(_state().workspace(), from_export=from_export, chunk_size=chunk_size, progress=RichProgress(),
                  allow_deletions=allow_deletions)
    if as_json:
        print_json(report.to_dict())
        return
    source = report.source
    projects = (f" project {source['project_id']}" if "project_id" in source else
                f" queues {', '.join(f'{who} ({pid})' for who, pid in source.get('queues', {}).items())}")
    where = source.get("url", "") + projects if source["kind"] == "server" \
        else source["file"]
    resumed = (f" (resumed: {report.resumed_chunks} chunk(s) read before and unchanged on the server"
               + (f", {report.stale_chunks_reread} changed since and read again" if report.stale_chunks_reread else "")
               + ")") if report.resumed_chunks or report.stale_chunks_reread else ""
    out.print(f"Pull <- {where}{resumed}", markup=False)
    if report.resumed_chunks:
        err.print(f"note: the drafts of the {report.resumed_chunks} chunk(s) kept from the interrupted pull are as they "
                  f"were at {report.resumed_read_at} (Label Studio does not mark a task changed when a draft is "
                  "saved); the next pull reads them afresh", markup=False)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in [
        ("tasks", report.tasks), ("annotations", report.annotations),
        ("  valid (annotations.parquet)", report.valid), ("  of which cancelled", report.cancelled),
        ("  of which ground truth", report.ground_truth), ("drafts", report.drafts),
        ("predictions", report.predictions), ("quarantined entries", report.quarantined),
    ]:
        table.add_row(name, str(value))
    out.print(table)
    o = report.offsets
    if o.get("checked"):
        out.print(f"span offsets: {o['checked']} checked, {o['converted']} converted from UTF-16, "
                  f"{o['repaired']} repaired, {o['quarantined']} quarantined", markup=False)
    if report.quarantined_by_type:
        out.print("quarantine reasons: " + ", ".join(f"{k} {v}" for k, v in report.quarantined_by_type.items()),
                  markup=False)
    c = report.changes
    out.print(f"since the last pull: {len(c.added)} added" + (f" ({len(c.added_quarantined)} of them quarantined)" if c.added_quarantined else "") + f", {len(c.changed)} changed, {len(c.deleted)} deleted "
              f"annotation(s); {len(c.tasks_deleted)} task(s) deleted", markup=False)
    if c.deleted or c.tasks_deleted:
        out.print("  (deleted ones stay in the earlier snapshots in annotations/exports/)", markup=False)
    if report.duplicate_articles:
        err.print(f"warning: {len(report.duplicate_articles)} article(s) are in more than one task: "
                  + "; ".join(f"{a} in tasks {', '.join(map(str, ids))}"
                              for a, ids in list(report.duplicate_articles.items())[:5])
                  + " (delete the extra tasks in Label Studio; `toolkit push` removes extra copies it made)",
                  markup=False)
    for problem in report.adjudication_problems:
        err.print(f"warning: the adjudication of task {problem['task_id']} (annotation {problem['annotation_id']}, "
                  f"by {problem['adjudicator']}) is not gold: {'; '.join(problem['reasons'])}", markup=False)
        if problem["link"]:
            err.print(f"  fix it at {problem['link']}, then pull again", markup=False)
    if report.edits:
        err.print(f"warning: {len(report.edits)} annotation(s) were last changed by someone other than their "
                  "annotator; `toolkit agree` leaves them out of agreement and gold:", markup=False)
        for edit in report.edits:
            err.print(f"  task {edit['task_id']}, annotation {edit['annotation_id']}: by {edit['annotator']}, "
                      f"edited by {edit['editor']}", markup=False)
    out.print(f"snapshot: {report.snapshot}", markup=False)


# validate -----------------------------------------------------------------------------------

@app.command("validate")
@handle_errors
def validate_cli(
    file: Optional[Path] = typer.Argument(None, help="A Label Studio export (JSON / JSON_MIN / JSONL, .gz ok), "
                                                     "a tasks.jsonl, a records .jsonl or a .parquet; default: the "
                                                     "workspace's annotations (and quarantine)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    workers: Optional[int] = typer.Option(None, min=1, help="Processes for validating an export file "
                                                            "(default: the cores, at most 4)."),
) -> None:
    """Validate annotations against the scheme's JSON Schema and the semantic checks.

    Without FILE, re-validates the workspace: invalid records go to annotations/quarantine.jsonl,
    and quarantined records that pass now move back to annotations.parquet. Exit status 1 when
    anything is invalid.

    Example: toolkit validate    or    toolkit validate --json export.json.gz
    """
    from .validation import validate_file, validate_workspace

    if file is None:
        report = validate_workspace(_state().workspace())
    else:
        try:
            ws = _state().workspace()
        except ToolkitError:
            ws = None  # a file can be checked against the default scheme outside a workspace
        report = validate_file(ws, file, workers=workers)
    if as_json:
        print_json(report.to_dict())
    else:
        _print_validation(report)
    if not report.valid:
        raise typer.Exit(1)


def _print_validation(report: Any) -> None:
    line = (f"Validated {report.source}: {report.records} records = {report.valid_records} valid + "
            f"{report.quarantined} quarantined")
    if report.moved_back or report.newly_quarantined:
        line += f" ({report.moved_back} moved back, {report.newly_quarantined} newly quarantined)"
    out.print(line, markup=False)
    for kind, examples in report.examples().items():
        out.print(f"{kind} ({report.errors_by_type[kind]})", markup=False)
        for error in examples:
            out.print(f"  {error.message}", markup=False)
    if report.valid:
        out.print("all valid", markup=False)


# agree / review -----------------------------------------------------------------------------

@app.command("agree")
@handle_errors
def agree_cli(as_json: bool = typer.Option(False, "--json", help="Print all figures as JSON.")) -> None:
    """Compute inter-annotator agreement and the gold labels from the validated annotations.

    Writes annotations/agreement.json, agreement.md, agreement-*.png and gold.parquet. Gold
    follows the [gold] policy in toolkit.toml; ties and articles with too few annotations are
    listed as unresolved (send them to `toolkit review`).

    Example: toolkit agree
    """
    from .agreement import agree, headline_rows, suggestions_summary

    report = agree(_state().workspace())
    if as_json:
        print_json(report.to_dict())
        return
    a = report.agreement
    out.print(f"Agreement: {a['annotations']} annotations by {a['annotators']} annotator(s) on {a['articles']} "
              f"article(s) ({a['articles_multi']} with two or more); {a['cancelled_excluded']} cancelled left out",
              markup=False)
    table = Table("field", "metric", "value", "95% CI / note", box=None, pad_edge=False)
    for row in headline_rows(a):
        table.add_row(*row)
    out.print(table)
    out.print(f"Gold: {report.resolved} resolved ({report.by_ground_truth} by ground truth), "
              f"{len(report.unresolved)} unresolved", markup=False)
    for item in report.unresolved[:10]:
        out.print(f"  {item['article_id']}: {item['reason']}", markup=False)
    if len(report.unresolved) > 10:
        out.print(f"  ... and {len(report.unresolved) - 10} more (annotations/agreement.md)", markup=False)
    line = suggestions_summary(a.get("suggestions"))
    if line:
        out.print(line, markup=False)
    if report.edited_by_other:
        err.print(f"warning: {report.edited_by_other} annotation(s) were last changed by someone other than their "
                  "annotator and are left out of agreement and gold (listed in annotations/agreement.md)",
                  markup=False)
    for warning in report.warnings:
        err.print(f"warning: {warning}", markup=False)
    out.print("Wrote " + ", ".join(report.outputs), markup=False)


@app.command("preannotate")
@handle_errors
def preannotate_cli(
    rules: bool = typer.Option(True, "--rules/--no-rules", help="Patterns (schemas/patterns.jsonl), every occurrence "
                               "of strings the gold labels, dates and casualty counts."),
    model: str = typer.Option("latest", "--model", help="A model under models/ (model-0003), 'latest', or 'none'."),
    spacy: Optional[list[str]] = typer.Option(None, "--spacy", help="An installed spaCy pipeline, by package name "
                                              "or path (repeatable)."),
    function: Optional[list[str]] = typer.Option(None, "--function", help="A Python function module:function "
                                                 "(repeatable): one text in, a dict of suggestions out."),
    label_map: Optional[Path] = typer.Option(None, "--label-map", help="JSON or TOML table: outside label = "
                                             "scheme label (or null), for --spacy and --function."),
    jobs: int = typer.Option(1, "--jobs", min=1, max=64, help="Worker processes (one per core)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N articles (to try a source)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Make one suggestion (a Label Studio prediction) per article, for annotators to correct.

    Writes annotations/predictions/<model_version>.jsonl, the version naming every source
    (rules-1a2b3c4d5e+model-0003). `toolkit push` attaches it to the tasks; [preannotate]
    blind_fraction keeps a share of articles without, to measure anchoring.

    Example: toolkit preannotate --jobs 2
    """
    from .preannotate.run import PreannotateOptions, preannotate

    options = PreannotateOptions(rules=rules, model=None if model == "none" else model, spacy=tuple(spacy or ()),
                                 functions=tuple(function or ()), label_map=label_map, jobs=jobs, limit=limit)
    report = preannotate(_state().workspace(), options, progress=RichProgress())
    if as_json:
        print_json(report.to_dict())
    else:
        values = ", ".join(f"{name} {n}" for name, n in report.values.items()) or "none"
        out.print(f"Suggestions for {report.predicted} of {report.articles} article(s) ({report.empty} with none): "
                  f"{report.spans} span(s)"
                  + (f", {report.events} event(s) with {report.arguments} argument(s)" if report.events else "")
                  + f"; values: {values}", markup=False)
        out.print(f"Sources: {', '.join(report.sources)}", markup=False)
        if report.unmapped_labels:
            shown = ", ".join(f"{k} ({v})" for k, v in sorted(report.unmapped_labels.items()))
            err.print(f"warning: labels the label map does not map onto the scheme were left out: {safe_line(shown)}",
                      markup=False)
        if report.unscored_spans:
            err.print(f"note: {report.unscored_spans} span(s) from outside pipelines came without a score (scored 1.0)",
                      markup=False)
        out.print(f"Wrote {report.path}; `toolkit push` attaches it to the tasks.", markup=False)
    if report.problems:
        for problem in report.problems[:20]:
            err.print(f"error: {safe_line(problem)}", markup=False)
        if len(report.problems) > 20:
            err.print(f"error: ... and {len(report.problems) - 20} more", markup=False)
        err.print("hint: those articles have no suggestion; fix the source and run again", markup=False)
        raise typer.Exit(1)


@app.command("train")
@handle_errors
def train_cli(
    spans: str = typer.Option("spancat", "--spans", help="How entity spans are learnt: spancat (spans of 1 to 4 "
                              "tokens, scored) or ner (any length, scored by a beam search)."),
    epochs: int = typer.Option(20, "--epochs", min=1, max=1000, help="Passes over the training articles."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same data and seed: same model)."),
    curve: bool = typer.Option(False, "--curve", help="Train on 25/50/75/100 % of the train split and report "
                               "each one's validation figures (nothing is kept)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train a spaCy pipeline (blank language, CPU) on the gold articles of the train split.

    Entities (spancat or ner) and one text classifier per choice field. Figures come from the
    validation split; the model is saved as models/model-NNNN/ with its data's hash, and
    `toolkit preannotate` uses the latest.

    Example: toolkit train            toolkit train --curve
    """
    from .preannotate.curve import headline, write_curve
    from .preannotate.training import TrainOptions, learning_curve, train

    ws = _state().workspace()
    options = TrainOptions(spans=spans, epochs=epochs, seed=seed)
    if curve:
        result = learning_curve(ws, options)
        outputs = write_curve(ws, result)
        if as_json:
            print_json(result)
            return
        table = Table("train articles", "entities F1 (overlap)", "entities F1 (exact)", "event type accuracy",
                      box=None, pad_edge=False)
        for point in result["points"]:
            table.add_row(str(point["n_train"]), *headline(point["figures"]))
        out.print(table)
        out.print("Wrote " + ", ".join(outputs), markup=False)
        return
    report = train(ws, options, on_epoch=None)
    if as_json:
        print_json(report.to_dict())
        return
    out.print(f"Trained {report.version} on {report.n_train} article(s) in {report.seconds:.0f} s "
              f"({report.dropped_spans} gold span(s) off token boundaries not learnt)", markup=False)
    if report.figures is None:
        out.print("No article in the validation split: no figures (label more, or evaluate on all).", markup=False)
    else:
        cells = headline(report.figures)
        out.print(f"Validation ({report.n_validation} articles): entities F1 overlap {cells[0]}, exact {cells[1]}; "
                  f"event type accuracy {cells[2]}", markup=False)
    out.print(f"Saved {report.path}/; `toolkit preannotate` uses it.", markup=False)


@app.command("evaluate")
@handle_errors
def evaluate_cli(
    model_version: Optional[str] = typer.Argument(None, help="A file under annotations/predictions/ (without "
                                                  ".jsonl); default: the one written last."),
    split: str = typer.Option("heldout", "--split", help="Gold articles to judge on: train, validation, test, "
                              "heldout (validation and test) or all."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Score suggestions against gold: per label P/R/F1 (exact and overlap), choice accuracy and
    confusion, numbers, with bootstrap 95 % intervals.

    Writes annotations/evaluation/<model_version>.md, .json and .png.

    Example: toolkit evaluate --split heldout
    """
    from .preannotate.evaluate import run_evaluate, to_markdown

    report = run_evaluate(_state().workspace(), model_version, split=split)
    if as_json:
        print_json(report)
        return
    out.print(to_markdown(report), markup=False)


@app.command("review")
@handle_errors
def review_cli(
    article: Optional[list[str]] = typer.Option(None, "--article", help="Review this article id (repeatable) "
                                                                       "instead of the unresolved ones."),
    lowest: int = typer.Option(0, min=0, help="Also send the N articles with the lowest agreement."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be sent; change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Send unresolved (or low-agreement) articles to a review project for adjudication.

    Each annotator's version is attached as a prediction named after the annotator. The
    reviewer's submission comes back with `toolkit pull` as ground truth and resolves the
    article on the next `toolkit agree`.

    Example: toolkit review --lowest 20
    """
    from .labelstudio import review

    report = review(_state().workspace(), articles=article or None, lowest=lowest, dry_run=dry_run)
    if as_json:
        print_json(report.to_dict())
        return
    verb = "would send" if dry_run else "sent"
    where = (f"the review queues of {len(report.queues)} adjudicator(s)" if report.queues
             else f"project {report.project_id or '(new)'}")
    out.print(f"Review -> {report.server}, {where}: {verb} {report.sent} article(s) "
              f"with {report.predictions} annotator version(s); {report.already_there} already there", markup=False)
    for person, count in report.queues.items():
        out.print(f"  {person}: {count} article(s)", markup=False)
    if report.no_adjudicator:
        err.print(f"warning: {len(report.no_adjudicator)} article(s) not sent: every adjudicator in [campaign] "
                  f"adjudicators annotated them ({', '.join(report.no_adjudicator[:5])}); add an adjudicator",
                  markup=False)
    if report.project_id and not report.queues and not dry_run:
        out.print(f"Open {report.server}/projects/{report.project_id}/data to adjudicate.", markup=False)


# release / verify ---------------------------------------------------------------------------

@app.command("release")
@handle_errors
def release_cli(
    version: Optional[str] = typer.Argument(None, help="Semantic version X.Y.Z (default: proposed from the "
                                                       "changes since the last release)."),
    push_to_hub: Optional[str] = typer.Option(None, "--push-to-hub", metavar="ORG/NAME",
                                              help="Upload the release to the Hugging Face Hub as one commit "
                                                   "tagged vX.Y.Z (HF_TOKEN from the environment)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be released or uploaded."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Cut an immutable, versioned release in releases/vX.Y.Z (Hugging Face layout).

    Without VERSION the next version is proposed: major when the scheme removed or renamed a
    label or field, minor when articles or labels were added, patch otherwise. An existing
    version is never overwritten; with --push-to-hub an existing release is uploaded as it is.

    Example: toolkit release 0.2.0    or    toolkit release 0.2.0 --push-to-hub my-org/news-events --dry-run
    """
    from .release import list_releases, propose_version, push_to_hub as hub, release

    ws = _state().workspace()
    if version is None:
        version, why = propose_version(ws)
        err.print(f"proposed version {version}: {why}", markup=False)
    version = version.removeprefix("v")
    existing = version in list_releases(ws)
    result: dict[str, Any] = {}
    if not existing:
        if dry_run and not push_to_hub:
            out.print(f"would release v{version} (--dry-run: nothing written)", markup=False)
            return
        report = release(ws, version, progress=RichProgress())
        result["release"] = report.to_dict()
        if not as_json:
            a = report.articles
            out.print(f"Released {report.path}: " + ", ".join(f"{k} {v}" for k, v in a.items()) +
                      f"; {report.unresolved_held_back} unresolved article(s) held back; {report.files} files, "
                      f"{report.bytes / 1e6:.1f} MB", markup=False)
            out.print(f"Load it: datasets.load_dataset({report.path!r}, 'documents')", markup=False)
    elif not push_to_hub:
        from .errors import ReleaseExists

        raise ReleaseExists(f"releases/v{version} exists already; a release is never overwritten",
                            hint="choose the next version (or omit it to get one proposed)")
    if push_to_hub:
        plan = hub(ws.releases_dir / f"v{version}", push_to_hub, dry_run=dry_run)
        result["hub"] = plan.to_dict() if hasattr(plan, "to_dict") else plan.__dict__
        if not as_json:
            verb = "would upload" if dry_run else "uploaded"
            out.print(f"Hub: {verb} {len(plan.files)} files ({plan.bytes / 1e6:.1f} MB) to {push_to_hub} as one "
                      f"commit {plan.commit_message!r}, tagged {plan.revision_tag}", markup=False)
            if dry_run:
                for item in plan.files:
                    out.print(f"  {item['path']}  {item['bytes']} bytes", markup=False)
    if as_json:
        print_json(result)


@app.command("verify")
@handle_errors
def verify_cli(
    release_dir: Optional[Path] = typer.Argument(None, metavar="RELEASE",
                                                 help="A release folder (default: the latest in releases/)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Recompute every checksum of a release; report changed, missing and extra files (exit 1 if any).

    Example: toolkit verify releases/v0.1.0
    """
    from .errors import ReleaseNotFound
    from .release import list_releases, verify_release

    if release_dir is None:
        ws = _state().workspace()
        versions = list_releases(ws)
        if not versions:
            raise ReleaseNotFound("no release in releases/ yet", hint="cut one with `toolkit release`")
        release_dir = ws.releases_dir / f"v{versions[-1]}"
    report = verify_release(release_dir)
    if as_json:
        print_json(report.to_dict())
    elif report.ok:
        out.print(f"{report.path}: all {report.checked} files match the manifest", markup=False)
    else:
        for kind, name in report.problems():
            out.print(f"{kind}: {safe_line(name)}", markup=False)
        out.print(f"{report.path}: does NOT match its manifest", markup=False)
    if not report.ok:
        raise typer.Exit(1)


def main() -> None:
    app(prog_name="toolkit")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
