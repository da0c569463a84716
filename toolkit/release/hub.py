"""Publishing a verified release to the Hugging Face Hub as one tagged commit.

The token comes from the caller or ``HF_TOKEN``; it is never logged, stored or put into an
error message.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Any

from ..errors import HubError
from .build import MANIFEST
from .verify import release_dir, require_verified

__all__ = ["HubPlan", "push_to_hub"]


@dataclass
class HubPlan:
    repo_id: str
    repo_type: str
    revision_tag: str
    commit_message: str
    files: list[dict[str, Any]]
    bytes: int
    dry_run: bool
    commit_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def push_to_hub(path: str | os.PathLike[str], repo_id: str, *, dry_run: bool = False,
                token: str | None = None) -> HubPlan:
    """Upload a (verified) release to the Hub as one commit, tagged ``vX.Y.Z``.

    The token comes from ``token`` or else ``HF_TOKEN``; it is never logged, stored or put
    into an error message. ``dry_run`` returns the plan without any network call.
    """
    folder = release_dir(path)
    manifest = require_verified(folder)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id):
        raise HubError(f"{repo_id!r} is not a Hub repository id", hint="write it as ORG/NAME")
    version = manifest["version"]
    files = [{"path": rel, "bytes": entry["bytes"]} for rel, entry in manifest["files"].items()]
    files.append({"path": MANIFEST, "bytes": (folder / MANIFEST).stat().st_size})
    files.sort(key=lambda f: f["path"])
    plan = HubPlan(repo_id=repo_id, repo_type="dataset", revision_tag=f"v{version}",
                   commit_message=f"Release v{version}", files=files, bytes=sum(f["bytes"] for f in files),
                   dry_run=dry_run)
    if dry_run:
        return plan
    token = token or os.environ.get("HF_TOKEN")
    if not token:
        raise HubError("HF_TOKEN is not set", hint="export HF_TOKEN=<a write token>; it is read from the "
                                                   "environment only")
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(token=token)
    operations = [CommitOperationAdd(path_in_repo=f["path"], path_or_fileobj=str(folder / f["path"]))
                  for f in files]
    try:
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
        commit = api.create_commit(repo_id, operations=operations, commit_message=plan.commit_message,
                                   commit_description=f"{len(files)} files, {plan.bytes} bytes, made by "
                                                      f"toolkit {manifest.get('toolkit_version')}",
                                   repo_type="dataset")
        api.create_tag(repo_id, tag=plan.revision_tag, revision=commit.oid, repo_type="dataset",
                       tag_message=plan.commit_message)
    except Exception as exc:  # network, auth, refusal: all become one error without the token
        message = str(exc).replace(token, "***")
        raise HubError(f"uploading {folder.name} to {repo_id} failed: {type(exc).__name__}: {message}",
                       hint="check HF_TOKEN has write access to the organisation and the network") from None
    plan.commit_url = getattr(commit, "commit_url", None)
    return plan
