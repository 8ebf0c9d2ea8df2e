"""Repos, labels and git refs of the sandbox: one mixin of SandboxState."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime

from sandbox.models import DEFAULT_LABELS, DEFAULT_LOGIN, Commit, Label, Repo, SandboxError


class RepoMixin:
    """Repos and their labels, commits and branches (part of SandboxState; every public method takes the lock)."""

    lock: threading.RLock
    repos: dict[int, Repo]
    orgs: dict
    clock: Callable[[], datetime]

    # ------------------------------------------------------------------ repos
    def add_repo(
        self,
        owner: str,
        name: str,
        default_branch: str = "main",
        private: bool = False,
        archived: bool = False,
        description: str | None = None,
        language: str | None = None,
        created_at: datetime | None = None,
        default_labels: bool = True,
    ) -> Repo:
        """Create a repo with one initial commit on its default branch."""
        with self.lock:
            if self.find_repo(f"{owner}/{name}"):
                raise ValueError(f"repo {owner}/{name} exists")
            if owner.lower() not in self.orgs:
                self.user(owner)
            when = created_at or self.clock()
            repo = Repo(
                self.next_id(),
                owner,
                name,
                default_branch,
                private,
                archived,
                description,
                language,
                created_at=when,
                updated_at=when,
                pushed_at=when,
            )
            self.repos[repo.id] = repo
            sha = self._new_sha(repo.full_name)
            repo.commits[sha] = Commit(sha, (), "Initial commit", DEFAULT_LOGIN, when)
            repo.branches[default_branch] = sha
            if default_labels:
                for label_name, color, desc in DEFAULT_LABELS:
                    repo.labels[label_name] = Label(self.next_id(), label_name, color, desc, default=True)
            return repo

    def find_repo(self, full_name: str) -> Repo | None:
        """The repo by current name (case-insensitive, like GitHub)."""
        key = full_name.lower()
        for repo in self.repos.values():
            if repo.full_name.lower() == key:
                return repo
        return None

    def renamed_repo(self, full_name: str) -> Repo | None:
        """The repo that used to be called full_name, if it was renamed or transferred."""
        key = full_name.lower()
        for repo in self.repos.values():
            if key in (n.lower() for n in repo.old_names):
                return repo
        return None

    def repo(self, full_name: str) -> Repo:
        """The repo or SandboxError 404."""
        repo = self.find_repo(full_name)
        if repo is None:
            raise SandboxError(404, "Not Found")
        return repo

    def rename_repo(self, full_name: str, new_name: str) -> Repo:
        """Rename a repo; the old name then answers 301 to /repositories/{id}."""
        with self.lock:
            repo = self.repo(full_name)
            repo.old_names.append(repo.full_name)
            if "/" in new_name:
                repo.owner, repo.name = new_name.split("/", 1)
            else:
                repo.name = new_name
            repo.updated_at = self.clock()
            return repo

    def add_label(self, full_name: str, name: str, color: str = "ededed", description: str | None = None) -> Label:
        """Create a label in a repo (or return the existing one)."""
        with self.lock:
            repo = self.repo(full_name)
            existing = repo.labels.get(name.lower())
            if existing:
                return existing
            label = Label(self.next_id(), name, color.lstrip("#").lower(), description)
            repo.labels[name.lower()] = label
            return label

    # ------------------------------------------------------------------ git
    def add_branch(self, full_name: str, branch: str) -> str:
        """Cut a branch from the tip of the default one (no push: pushed_at stays); returns its sha."""
        with self.lock:
            repo = self.repo(full_name)
            repo.branches[branch] = repo.branches[repo.default_branch]
            return repo.branches[branch]

    def add_commit(
        self,
        full_name: str,
        branch: str,
        message: str = "Update",
        author: str = DEFAULT_LOGIN,
        when: datetime | None = None,
        parents: tuple[str, ...] | None = None,
    ) -> str:
        """Add a commit on top of a branch (creating the branch from the default one if needed)."""
        with self.lock:
            repo = self.repo(full_name)
            if branch not in repo.branches:
                repo.branches[branch] = repo.branches[repo.default_branch]
            when = when or self.clock()
            sha = self._new_sha(f"{repo.full_name}:{branch}:{message}")
            repo.commits[sha] = Commit(sha, parents or (repo.branches[branch],), message, author, when)
            repo.branches[branch] = sha
            repo.pushed_at = max(repo.pushed_at, when)
            return sha

    def resolve_ref(self, repo: Repo, ref: str) -> str | None:
        """A sha for a branch name, 'heads/x', 'refs/heads/x', a sha or a sha prefix."""
        for prefix in ("refs/heads/", "heads/"):
            if ref.startswith(prefix) and ref[len(prefix) :] in repo.branches:
                return repo.branches[ref[len(prefix) :]]
        if ref in repo.branches:
            return repo.branches[ref]
        if ref in repo.commits:
            return ref
        if len(ref) >= 7 and re.fullmatch(r"[0-9a-f]+", ref):
            hits = [sha for sha in repo.commits if sha.startswith(ref)]
            if len(hits) == 1:
                return hits[0]
        return None

    def ancestors(self, repo: Repo, sha: str) -> set[str]:
        """All commits reachable from sha, itself included."""
        seen: set[str] = set()
        stack = [sha]
        while stack:
            current = stack.pop()
            if current in seen or current not in repo.commits:
                continue
            seen.add(current)
            stack.extend(repo.commits[current].parents)
        return seen

    def compare(self, repo: Repo, base_sha: str, head_sha: str) -> tuple[int, int, list[Commit]]:
        """(ahead_by, behind_by, commits in head not in base, oldest first)."""
        base_set = self.ancestors(repo, base_sha)
        head_set = self.ancestors(repo, head_sha)
        ahead = sorted((repo.commits[s] for s in head_set - base_set), key=lambda c: (c.date, c.sha))
        return len(ahead), len(base_set - head_set), ahead

    def create_ref(self, full_name: str, ref: str, sha: str) -> str:
        """POST /git/refs: create refs/heads/<name> at sha."""
        with self.lock:
            repo = self.repo(full_name)
            if not ref.startswith("refs/") or ref.count("/") < 2:
                raise SandboxError(422, "Reference name must start with 'refs/' and have at least two slashes.")
            if sha not in repo.commits:
                raise SandboxError(422, "Object does not exist")
            name = ref.removeprefix("refs/heads/")
            if not ref.startswith("refs/heads/"):
                raise SandboxError(422, "Only branch refs (refs/heads/...) are supported by the sandbox")
            if name in repo.branches:
                raise SandboxError(422, "Reference already exists")
            repo.branches[name] = sha
            repo.pushed_at = self.clock()
            return name

    def delete_ref(self, full_name: str, branch: str) -> None:
        """Delete a branch (422 if it does not exist, like GitHub)."""
        with self.lock:
            repo = self.repo(full_name)
            if branch not in repo.branches:
                raise SandboxError(422, "Reference does not exist")
            del repo.branches[branch]

    def merge_branches(
        self, full_name: str, base: str, head: str, message: str | None = None, actor: str = DEFAULT_LOGIN
    ) -> str | None:
        """POST /merges: merge head into base; None when there is nothing to merge."""
        with self.lock:
            repo = self.repo(full_name)
            if base not in repo.branches:
                raise SandboxError(404, "Base does not exist")
            head_sha = self.resolve_ref(repo, head)
            if head_sha is None:
                raise SandboxError(404, "Head does not exist")
            base_sha = repo.branches[base]
            if head_sha in self.ancestors(repo, base_sha):
                return None
            for issue in self._repo_issues(repo):
                if (
                    issue.pull
                    and issue.state == "open"
                    and issue.pull.base_ref == base
                    and issue.pull.head_ref == head
                    and issue.pull.mergeable is False
                ):
                    raise SandboxError(409, "Merge conflict")
            return self.add_commit(
                repo.full_name, base, message or f"Merge {head} into {base}", actor, parents=(base_sha, head_sha)
            )
