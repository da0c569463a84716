"""The Label Studio stage: tasks to the server, annotations back, and the server itself.

Takes in: ``annotations/articles/``, ``annotations/tasks.jsonl``, the scheme, a Label
Studio server (the embedded one, or ``LABEL_STUDIO_URL`` + ``LABEL_STUDIO_API_KEY``).
Writes: ``annotations/tasks.jsonl`` (``toolkit tasks``); the project on the server
(``toolkit push``, ``toolkit review``); ``annotations/exports/`` snapshots and, through the
validation stage, ``annotations.parquet``, ``drafts.parquet``, ``predictions.parquet`` and
``quarantine.jsonl`` (``toolkit pull``); ``.labelstudio/`` (the embedded server and state).

- ``tasks``: articles -> Label Studio tasks (import format), append-only;
- ``client``: which server, and an HTTP client that fails clearly and retries what is transient;
- ``studio``: the embedded server: its own virtual environment, start, stop, token;
- ``project``: which project a workspace uses on a server (state shared by push, pull, review);
- ``push``: create or update the project from the scheme, import only the new tasks;
- ``pull``: every task and annotation back, resumable, snapshotted, validated;
- ``review``: the adjudication project for unresolved or low-agreement articles;
- ``guidelines``: the guidelines annotators read first (the scheme + ``schemas/guidelines.md``);
- ``predictions``: suggestions from ``annotations/predictions/*.jsonl`` attached by push, once each;
- ``team``: annotator accounts (``toolkit annotators``), who has done what, ``toolkit status``;
- ``assignment``: ``[campaign] mode = "assigned"``: each article to named annotators, each
  annotator in a queue project of their own.
"""

from .client import Connection, LabelStudioClient, client_for, connect
from .project import (REVIEW_KEY, load_state, resolve_project, save_project_id, save_review_project_id,
                      server_article_ids, stored_project_id, stored_review_project_id)
from .pull import PullReport, iter_snapshot, pull
from .push import PushReport, push
from .review import ReviewReport, review
from .studio import LABEL_STUDIO_VERSION, EmbeddedStudio, server_env_dir, setup_server_env
from .tasks import TASK_COLUMNS, TasksReport, build_tasks, iter_tasks, task_for
from .team import AnnotatorsReport, RoundStatus, add_annotators, list_annotators, round_status

__all__ = [
    "Connection", "LabelStudioClient", "client_for", "connect",
    "REVIEW_KEY", "load_state", "resolve_project", "save_project_id", "save_review_project_id", "server_article_ids",
    "stored_project_id", "stored_review_project_id",
    "PullReport", "iter_snapshot", "pull", "PushReport", "push", "ReviewReport", "review",
    "LABEL_STUDIO_VERSION", "EmbeddedStudio", "server_env_dir", "setup_server_env",
    "TASK_COLUMNS", "TasksReport", "build_tasks", "iter_tasks", "task_for",
    "AnnotatorsReport", "RoundStatus", "add_annotators", "list_annotators", "round_status",
]
