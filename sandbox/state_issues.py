"""Issues, their labels, assignees, events and comments: one mixin of SandboxState."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from sandbox.models import DEFAULT_LOGIN, Comment, Event, Issue, Label, Pull, Repo, SandboxError, User


class IssueMixin:
    """Issues (PRs included), labels on them, assignees and comments (part of SandboxState)."""

    lock: threading.RLock
    issues: dict[tuple[int, int], Issue]
    comments: list[Comment]
    events: list[Event]
    users: dict[str, User]
    clock: Callable[[], datetime]

    # ------------------------------------------------------------------ issues
    def _repo_issues(self, repo: Repo) -> list[Issue]:
        return [i for (rid, _), i in self.issues.items() if rid == repo.id]

    def repo_issues(self, full_name: str) -> list[Issue]:
        """The repo's issues and PRs, in the order they were created."""
        with self.lock:
            return self._repo_issues(self.repo(full_name))

    def find_issue(self, full_name: str, number: int) -> Issue | None:
        """The issue or PR by number, None if the repo has no such number."""
        return self.issues.get((self.repo(full_name).id, number))

    def issue(self, full_name: str, number: int) -> Issue:
        """The issue or PR by number (SandboxError 404 if absent)."""
        found = self.find_issue(full_name, number)
        if found is None:
            raise SandboxError(404, "Not Found")
        return found

    def _event(
        self, issue: Issue, event: str, actor: str, when: datetime, commit_id: str | None = None, **extra: object
    ) -> Event:
        ev = Event(self.next_id(), issue.repo_id, issue.number, event, actor, when, commit_id, dict(extra))
        self.events.append(ev)
        return ev

    def _label_obj(self, repo: Repo, name: str) -> Label:
        """The repo's label, created (grey) if missing, as adding a label to an issue does on GitHub."""
        label = repo.labels.get(name.lower())
        if label is None:
            label = Label(self.next_id(), name)
            repo.labels[name.lower()] = label
        return label

    def add_issue(
        self,
        repo_full_name: str,
        title: str,
        body: str | None = None,
        labels: Iterable[str] = (),
        state: str = "open",
        created_at: datetime | None = None,
        closed_at: datetime | None = None,
        user: str = DEFAULT_LOGIN,
        assignees: Iterable[str] = (),
        state_reason: str | None = None,
        closed_by: str | None = None,
        labeled_by: str | None = None,
        labeled_at: datetime | None = None,
        number: int | None = None,
        _pull: Pull | None = None,
    ) -> Issue:
        """Create an issue directly (with its labeled/assigned/closed events); returns it."""
        with self.lock:
            repo = self.repo(repo_full_name)
            when = created_at or self.clock()
            if number is None:
                number = repo.next_number
            if (repo.id, number) in self.issues:
                raise ValueError(f"{repo.full_name}#{number} exists")
            repo.next_number = max(repo.next_number, number + 1)
            self.user(user)
            issue = Issue(self.next_id(), repo.id, number, title, body, user, when, when, pull=_pull)
            self.issues[(repo.id, number)] = issue
            label_time = labeled_at or when
            for name in labels:
                label = self._label_obj(repo, name)
                issue.labels.append(label.name)
                self._event(
                    issue, "labeled", labeled_by or user, label_time, label={"name": label.name, "color": label.color}
                )
            issue.updated_at = max(issue.updated_at, label_time if issue.labels else when)
            for login in assignees:
                self.user(login)
                issue.assignees.append(login)
                self._event(issue, "assigned", login, when, assignee=login, assigner=user)
            if state == "closed":
                closed = closed_at or when
                issue.state = "closed"
                issue.state_reason = None if _pull else (state_reason or "completed")
                issue.closed_at = closed
                issue.closed_by = closed_by or user
                if not (_pull and _pull.merged):
                    self._event(issue, "closed", issue.closed_by, closed, state_reason=issue.state_reason)
                issue.updated_at = max(issue.updated_at, closed)
            repo.updated_at = max(repo.updated_at, issue.updated_at)
            return issue

    def create_issue(
        self,
        full_name: str,
        actor: str,
        title: str,
        body: str | None = None,
        labels: Iterable[str] = (),
        assignees: Iterable[str] = (),
    ) -> Issue:
        """POST /issues: a new open issue by actor."""
        with self.lock:
            return self.add_issue(
                full_name, title, body, labels=labels, user=actor, assignees=assignees, created_at=self.clock()
            )

    def delete_issue(self, full_name: str, number: int) -> None:
        """Delete an issue: it then answers 410 Gone."""
        with self.lock:
            self.issue(full_name, number).deleted = True

    def transfer_issue(self, full_name: str, number: int, new_full_name: str) -> Issue:
        """Move an issue to another repo: the old URL then answers 301 to the new one."""
        with self.lock:
            old = self.issue(full_name, number)
            target = self.repo(new_full_name)
            new = self.add_issue(
                target.full_name,
                old.title,
                old.body,
                labels=old.labels,
                user=old.user,
                created_at=old.created_at,
                assignees=old.assignees,
            )
            new.updated_at = self.clock()
            old.moved_to = (target.id, new.number)
            return new

    def update_issue(self, full_name: str, number: int, actor: str, **changes: object) -> Issue:
        """PATCH an issue: title, body, state, state_reason, labels, assignees (events recorded)."""
        with self.lock:
            repo = self.repo(full_name)
            issue = self.issue(full_name, number)
            now = self.clock()
            touched = False
            if "title" in changes and changes["title"] is not None and changes["title"] != issue.title:
                self._event(issue, "renamed", actor, now, rename={"from": issue.title, "to": changes["title"]})
                issue.title = str(changes["title"])
                touched = True
            if "body" in changes and changes["body"] != issue.body:
                issue.body = changes["body"]  # type: ignore[assignment]
                touched = True
            if changes.get("labels") is not None:
                self._set_labels(repo, issue, list(changes["labels"]), actor, now)  # type: ignore[arg-type]
                touched = True
            if changes.get("assignees") is not None:
                self._set_assignees(issue, list(changes["assignees"]), actor, now)  # type: ignore[arg-type]
                touched = True
            state = changes.get("state")
            reason = changes.get("state_reason")
            if state == "closed" and issue.state == "open":
                self._close(issue, actor, now, str(reason or "completed"))
                touched = True
            elif state == "open" and issue.state == "closed":
                if issue.pull and issue.pull.merged:
                    raise SandboxError(
                        422,
                        "Validation Failed",
                        [
                            {
                                "resource": "PullRequest",
                                "code": "custom",
                                "message": "state cannot be changed. The pull request is merged.",
                            }
                        ],
                    )
                issue.state, issue.closed_at, issue.closed_by = "open", None, None
                issue.state_reason = None if issue.pull else "reopened"
                self._event(issue, "reopened", actor, now)
                touched = True
            elif reason and issue.state == "closed" and not issue.pull:
                issue.state_reason = str(reason)
                touched = True
            if touched:
                self._touch(repo, issue, now)
            return issue

    def _touch(self, repo: Repo, issue: Issue, now: datetime) -> None:
        issue.updated_at = now
        repo.updated_at = now

    def _close(self, issue: Issue, actor: str, now: datetime, reason: str | None) -> None:
        issue.state = "closed"
        issue.closed_at = now
        issue.closed_by = actor
        issue.state_reason = None if issue.pull else reason
        if issue.pull:
            issue.pull.head_sha = self._pull_head_sha(issue)
        self._event(issue, "closed", actor, now, state_reason=issue.state_reason)

    def _set_labels(self, repo: Repo, issue: Issue, names: list[str], actor: str, now: datetime) -> None:
        wanted = [self._label_obj(repo, n).name for n in names]
        for name in list(issue.labels):
            if name.lower() not in {w.lower() for w in wanted}:
                self._remove_label(repo, issue, name, actor, now)
        self._add_labels(repo, issue, wanted, actor, now)

    def _add_labels(self, repo: Repo, issue: Issue, names: list[str], actor: str, now: datetime) -> bool:
        changed = False
        for name in names:
            label = self._label_obj(repo, name)
            if label.name.lower() in (n.lower() for n in issue.labels):
                continue
            issue.labels.append(label.name)
            self._event(issue, "labeled", actor, now, label={"name": label.name, "color": label.color})
            changed = True
        return changed

    def _remove_label(self, repo: Repo, issue: Issue, name: str, actor: str, now: datetime) -> None:
        for existing in list(issue.labels):
            if existing.lower() == name.lower():
                issue.labels.remove(existing)
                color = repo.labels[existing.lower()].color if existing.lower() in repo.labels else "ededed"
                self._event(issue, "unlabeled", actor, now, label={"name": existing, "color": color})
                return
        raise SandboxError(404, "Label does not exist")

    def _set_assignees(self, issue: Issue, logins: list[str], actor: str, now: datetime) -> None:
        for login in list(issue.assignees):
            if login.lower() not in {x.lower() for x in logins}:
                issue.assignees.remove(login)
                self._event(issue, "unassigned", actor, now, assignee=login, assigner=actor)
        self._add_assignees(issue, logins, actor, now)

    def _add_assignees(self, issue: Issue, logins: list[str], actor: str, now: datetime) -> bool:
        changed = False
        for login in logins:
            if login.lower() not in self.users:
                continue  # GitHub silently drops people who cannot be assigned
            canonical = self.users[login.lower()].login
            if canonical.lower() in (a.lower() for a in issue.assignees):
                continue
            issue.assignees.append(canonical)
            self._event(issue, "assigned", actor, now, assignee=canonical, assigner=actor)
            changed = True
        return changed

    def add_labels(self, full_name: str, number: int, names: Iterable[str], actor: str = DEFAULT_LOGIN) -> Issue:
        """POST /issues/{n}/labels."""
        with self.lock:
            repo, issue, now = self.repo(full_name), self.issue(full_name, number), self.clock()
            if self._add_labels(repo, issue, list(names), actor, now):
                self._touch(repo, issue, now)
            return issue

    def set_labels(self, full_name: str, number: int, names: Iterable[str], actor: str = DEFAULT_LOGIN) -> Issue:
        """PUT /issues/{n}/labels."""
        return self.update_issue(full_name, number, actor, labels=list(names))

    def remove_label(self, full_name: str, number: int, name: str, actor: str = DEFAULT_LOGIN) -> Issue:
        """DELETE /issues/{n}/labels/{name}."""
        with self.lock:
            repo, issue, now = self.repo(full_name), self.issue(full_name, number), self.clock()
            self._remove_label(repo, issue, name, actor, now)
            self._touch(repo, issue, now)
            return issue

    def add_assignees(self, full_name: str, number: int, logins: Iterable[str], actor: str = DEFAULT_LOGIN) -> Issue:
        """POST /issues/{n}/assignees."""
        with self.lock:
            repo, issue, now = self.repo(full_name), self.issue(full_name, number), self.clock()
            if self._add_assignees(issue, list(logins), actor, now):
                self._touch(repo, issue, now)
            return issue

    def remove_assignees(self, full_name: str, number: int, logins: Iterable[str], actor: str = DEFAULT_LOGIN) -> Issue:
        """DELETE /issues/{n}/assignees."""
        with self.lock:
            repo, issue, now = self.repo(full_name), self.issue(full_name, number), self.clock()
            gone = {x.lower() for x in logins}
            keep = [a for a in issue.assignees if a.lower() not in gone]
            if keep != issue.assignees:
                self._set_assignees(issue, keep, actor, now)
                self._touch(repo, issue, now)
            return issue

    # ------------------------------------------------------------------ comments
    def add_comment(
        self, repo_full_name: str, number: int, body: str, user: str = DEFAULT_LOGIN, created_at: datetime | None = None
    ) -> Comment:
        """Comment on an issue or PR; bumps the issue's updated_at like GitHub."""
        with self.lock:
            repo = self.repo(repo_full_name)
            issue = self.issue(repo_full_name, number)
            when = created_at or self.clock()
            self.user(user)
            comment = Comment(self.next_id(), repo.id, number, user, body, when, when)
            self.comments.append(comment)
            issue.updated_at = max(issue.updated_at, when)
            repo.updated_at = max(repo.updated_at, when)
            return comment

    def find_comment(self, full_name: str, comment_id: int) -> Comment:
        """A comment of the repo by id (404 otherwise)."""
        repo = self.repo(full_name)
        for comment in self.comments:
            if comment.id == comment_id and comment.repo_id == repo.id:
                return comment
        raise SandboxError(404, "Not Found")

    def edit_comment(self, full_name: str, comment_id: int, body: str) -> Comment:
        """PATCH /issues/comments/{id}."""
        with self.lock:
            comment = self.find_comment(full_name, comment_id)
            comment.body = body
            comment.updated_at = self.clock()
            return comment

    def delete_comment(self, full_name: str, comment_id: int) -> None:
        """DELETE /issues/comments/{id}."""
        with self.lock:
            self.comments.remove(self.find_comment(full_name, comment_id))

    def comment_count(self, issue: Issue) -> int:
        """Number of issue comments on this issue or PR."""
        return sum(1 for c in self.comments if c.repo_id == issue.repo_id and c.issue_number == issue.number)
