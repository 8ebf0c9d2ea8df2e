"""Pull requests, reviews and CI (check runs, commit statuses): one mixin of SandboxState."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sandbox.models import CLOSING_RE, DEFAULT_LOGIN, CheckRun, Issue, Pull, Repo, Review, SandboxError, Status


class PullMixin:
    """Pull requests with their reviews, check runs and statuses (part of SandboxState)."""

    lock: threading.RLock
    issues: dict[tuple[int, int], Issue]
    reviews: list[Review]
    check_runs: list[CheckRun]
    statuses: list[Status]
    clock: Callable[[], datetime]

    # ------------------------------------------------------------------ pulls
    def add_pull(
        self,
        repo_full_name: str,
        title: str,
        head: str,
        base: str | None = None,
        body: str | None = None,
        user: str = DEFAULT_LOGIN,
        state: str = "open",
        draft: bool = False,
        merged: bool = False,
        mergeable: bool | None = True,
        mergeable_state: str | None = None,
        behind: bool = False,
        ci: str | None = "success",
        status: str | None = None,
        reviews: Iterable[tuple[str, str]] = (),
        labels: Iterable[str] = (),
        assignees: Iterable[str] = (),
        requested_reviewers: Iterable[str] = (),
        created_at: datetime | None = None,
        closed_at: datetime | None = None,
        merged_by: str | None = None,
        commits: int = 1,
        additions: int = 10,
        deletions: int = 2,
        changed_files: int = 1,
    ) -> Issue:
        """Create a PR with its head branch and commits, CI (check run `ci` / status), reviews and merge."""
        with self.lock:
            repo = self.repo(repo_full_name)
            base = base or repo.default_branch
            when = created_at or self.clock()
            self._cut_head_branch(repo, head, base, title, user, when, commits, behind)
            pull = Pull(
                self.next_id(), head, base, repo.branches[head], repo.branches[base], draft=draft, mergeable=mergeable
            )
            pull.requested_reviewers = list(requested_reviewers)
            pull.additions, pull.deletions, pull.changed_files = additions, deletions, changed_files
            closed = state == "closed" or merged
            issue = self.add_issue(
                repo.full_name,
                title,
                body,
                labels=labels,
                user=user,
                created_at=when,
                assignees=assignees,
                _pull=pull,
                state="closed" if closed else "open",
                closed_at=closed_at,
                closed_by=merged_by if merged else None,
            )
            self._add_reviews_and_ci(repo, issue, pull.head_sha, reviews, ci, status, when)
            if merged:
                self._record_merge(repo, issue, pull.head_sha, closed_at or when, merged_by or DEFAULT_LOGIN)
            self._settle_mergeable(issue, closed, mergeable_state, behind, ci, status)
            return issue

    def _settle_mergeable(
        self, issue: Issue, closed: bool, given: str | None, behind: bool, ci: str | None, status: str | None
    ) -> None:
        """A closed PR's mergeability is unknown; an open one's is `given` or follows from its situation."""
        pull = issue.pull
        assert pull is not None
        if closed:
            pull.mergeable, pull.mergeable_state = None, "unknown"
        else:
            pull.mergeable_state = given or self._derive_mergeable_state(issue, behind, ci, status)

    def _cut_head_branch(
        self, repo: Repo, head: str, base: str, title: str, user: str, when: datetime, commits: int, behind: bool
    ) -> None:
        """The PR's branches: base (from the default one), head cut from base with `commits` commits."""
        if base not in repo.branches:
            repo.branches[base] = repo.branches[repo.default_branch]
        if head not in repo.branches:
            repo.branches[head] = repo.branches[base]
            for i in range(commits):
                self.add_commit(repo.full_name, head, f"{title} ({i + 1})", user, when)
        if behind:  # base moves on after the branch was cut
            self.add_commit(repo.full_name, base, f"Unrelated change on {base}", DEFAULT_LOGIN, when)

    def _add_reviews_and_ci(
        self,
        repo: Repo,
        issue: Issue,
        head_sha: str,
        reviews: Iterable[tuple[str, str]],
        ci: str | None,
        status: str | None,
        when: datetime,
    ) -> None:
        """The reviews, the `ci` check run and the `ci/jenkins` status of a new PR, all at `when`."""
        for reviewer, review_state in reviews:
            self.add_review(repo.full_name, issue.number, reviewer, review_state, when=when)
        if ci:
            self.add_check_run(repo.full_name, head_sha, "ci", ci, when=when)
        if status:
            self.add_status(repo.full_name, head_sha, status, "ci/jenkins", when=when)

    def _record_merge(self, repo: Repo, issue: Issue, head_sha: str, done: datetime, merged_by: str) -> None:
        """A created-merged PR: its merge commit on the base branch and its merged/closed events."""
        pull = issue.pull
        assert pull is not None
        merge_sha = self.add_commit(
            repo.full_name,
            pull.base_ref,
            f"Merge pull request #{issue.number}",
            merged_by,
            done,
            parents=(repo.branches[pull.base_ref], head_sha),
        )
        pull.merged, pull.merged_at, pull.merged_by = True, done, merged_by
        pull.merge_commit_sha = merge_sha
        self._event(issue, "merged", pull.merged_by, done, commit_id=merge_sha)
        self._event(issue, "closed", pull.merged_by, done, commit_id=merge_sha)

    def _derive_mergeable_state(self, issue: Issue, behind: bool, ci: str | None, status: str | None) -> str:
        """GitHub's mergeable_state from the PR's situation."""
        pull = issue.pull
        assert pull is not None
        if pull.draft:
            return "draft"
        if pull.mergeable is False:
            return "dirty"
        if behind:
            return "behind"
        if self.review_decision(issue) == "CHANGES_REQUESTED":
            return "blocked"
        if ci in ("failure", "timed_out", "cancelled", "pending") or status in ("failure", "error", "pending"):
            return "unstable"  # failing or unfinished checks that are not required
        return "clean"

    def review_decision(self, issue: Issue) -> str | None:
        """APPROVED / CHANGES_REQUESTED from each reviewer's latest review."""
        latest: dict[str, str] = {}
        for review in self.reviews:
            if review.repo_id == issue.repo_id and review.number == issue.number and review.state != "COMMENTED":
                latest[review.user.lower()] = review.state
        if "CHANGES_REQUESTED" in latest.values():
            return "CHANGES_REQUESTED"
        if "APPROVED" in latest.values():
            return "APPROVED"
        return None

    def _pull_head_sha(self, issue: Issue) -> str:
        """The PR's head sha: the branch tip while open, frozen once closed."""
        assert issue.pull is not None
        repo = self.repos[issue.repo_id]
        if issue.state == "open" and issue.pull.head_ref in repo.branches:
            return repo.branches[issue.pull.head_ref]
        return issue.pull.head_sha

    def pull_shas(self, issue: Issue) -> tuple[str, str]:
        """(head sha, base sha) as the PR answers them now."""
        assert issue.pull is not None
        repo = self.repos[issue.repo_id]
        base = (
            repo.branches.get(issue.pull.base_ref, issue.pull.base_sha)
            if issue.state == "open"
            else issue.pull.base_sha
        )
        return self._pull_head_sha(issue), base

    def create_pull(
        self, full_name: str, actor: str, title: str, head: str, base: str, body: str | None = None, draft: bool = False
    ) -> Issue:
        """POST /pulls with GitHub's validation (422 for missing branches, duplicates, no commits)."""
        with self.lock:
            repo = self.repo(full_name)
            head_branch = head.split(":", 1)[1] if ":" in head else head
            ahead = self._check_new_pull(repo, head_branch, base)
            now = self.clock()
            pull = Pull(
                self.next_id(),
                head_branch,
                base,
                repo.branches[head_branch],
                repo.branches[base],
                draft=draft,
                mergeable=True,
                mergeable_known=False,
                changed_files=ahead,
            )
            issue = self.add_issue(repo.full_name, title, body, user=actor, created_at=now, _pull=pull)
            pull.mergeable_state = "draft" if draft else "clean"
            return issue

    def _check_new_pull(self, repo: Repo, head_branch: str, base: str) -> int:
        """How many commits head is ahead of base; 422 as GitHub answers for a PR it would not open."""
        errors = [
            {"resource": "PullRequest", "field": side, "code": "invalid"}
            for side, branch in (("base", base), ("head", head_branch))
            if branch not in repo.branches
        ]
        if errors:
            raise SandboxError(
                422,
                "Validation Failed",
                errors,
                documentation_url="https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
            )
        for other in self._repo_issues(repo):
            pull = other.pull
            if pull and other.state == "open" and pull.head_ref == head_branch and pull.base_ref == base:
                raise _pull_invalid(f"A pull request already exists for {repo.owner}:{head_branch}.")
        ahead, _, _ = self.compare(repo, repo.branches[base], repo.branches[head_branch])
        if ahead == 0:
            raise _pull_invalid(f"No commits between {base} and {head_branch}")
        return ahead

    def update_pull(self, full_name: str, number: int, actor: str, **changes: object) -> Issue:
        """PATCH /pulls/{n}: title, body, state, base, draft-less fields."""
        with self.lock:
            issue = self._pull(full_name, number)
            assert issue.pull is not None
            if changes.get("base") and changes["base"] != issue.pull.base_ref:
                repo = self.repo(full_name)
                if changes["base"] not in repo.branches:
                    raise SandboxError(
                        422, "Validation Failed", [{"resource": "PullRequest", "field": "base", "code": "invalid"}]
                    )
                self._event(issue, "base_ref_changed", actor, self.clock())
                issue.pull.base_ref = str(changes["base"])
                self._touch(repo, issue, self.clock())
            if "maintainer_can_modify" in changes and changes["maintainer_can_modify"] is not None:
                issue.pull.maintainer_can_modify = bool(changes["maintainer_can_modify"])
            fields = {k: changes[k] for k in ("title", "body", "state") if k in changes}
            return self.update_issue(full_name, number, actor, **fields)

    def _pull(self, full_name: str, number: int) -> Issue:
        issue = self.issue(full_name, number)
        if not issue.is_pull:
            raise SandboxError(404, "Not Found")
        return issue

    def merge_pull(
        self, full_name: str, number: int, actor: str, sha: str | None = None, commit_title: str | None = None
    ) -> str:
        """PUT /pulls/{n}/merge: merge, close, and close the issues its body says it fixes."""
        with self.lock:
            repo = self.repo(full_name)
            issue = self._pull(full_name, number)
            pull = issue.pull
            assert pull is not None
            if issue.state != "open" or pull.merged:
                raise SandboxError(405, "Pull Request is not mergeable")
            if pull.draft or pull.mergeable is False:
                raise SandboxError(405, "Pull Request is not mergeable")
            head_sha, _ = self.pull_shas(issue)
            if sha and sha != head_sha:
                raise SandboxError(409, "Head branch was modified. Review and try the merge again.")
            now = self.clock()
            merge_sha = self.add_commit(
                repo.full_name,
                pull.base_ref,
                commit_title or f"Merge pull request #{number} from {pull.head_ref}",
                actor,
                now,
                parents=(repo.branches[pull.base_ref], head_sha),
            )
            pull.head_sha, pull.base_sha = head_sha, repo.branches[pull.base_ref]
            pull.merged, pull.merged_at, pull.merged_by, pull.merge_commit_sha = True, now, actor, merge_sha
            self._event(issue, "merged", actor, now, commit_id=merge_sha)
            issue.state, issue.closed_at, issue.closed_by = "closed", now, actor
            self._event(issue, "closed", actor, now, commit_id=merge_sha)
            pull.mergeable, pull.mergeable_state = None, "unknown"
            self._touch(repo, issue, now)
            if pull.base_ref == repo.default_branch:
                for ref in CLOSING_RE.findall(f"{issue.title}\n{issue.body or ''}"):
                    target = self.issues.get((repo.id, int(ref)))
                    if target and not target.is_pull and target.state == "open":
                        target.state, target.closed_at, target.closed_by = "closed", now, actor
                        target.state_reason = "completed"
                        self._event(target, "closed", actor, now, commit_id=merge_sha, state_reason="completed")
                        self._touch(repo, target, now)
            return merge_sha

    def update_pull_branch(self, full_name: str, number: int, actor: str) -> None:
        """PUT /pulls/{n}/update-branch: merge the base into the head branch."""
        with self.lock:
            repo = self.repo(full_name)
            issue = self._pull(full_name, number)
            pull = issue.pull
            assert pull is not None
            if pull.mergeable is False:
                raise SandboxError(422, "merge conflict between base and head")
            head_sha, base_sha = self.pull_shas(issue)
            if base_sha in self.ancestors(repo, head_sha):
                raise SandboxError(422, "There are no new commits on the base branch.")
            self.add_commit(
                repo.full_name,
                pull.head_ref,
                f"Merge branch '{pull.base_ref}' into {pull.head_ref}",
                actor,
                parents=(head_sha, base_sha),
            )
            if pull.mergeable_state == "behind":
                pull.mergeable_state = "clean"
            self._touch(repo, issue, self.clock())

    def add_review(
        self, full_name: str, number: int, user: str, state: str, body: str = "", when: datetime | None = None
    ) -> Review:
        """A review on a PR (state APPROVED, CHANGES_REQUESTED or COMMENTED)."""
        with self.lock:
            repo = self.repo(full_name)
            issue = self._pull(full_name, number)
            self.user(user)
            head_sha, _ = self.pull_shas(issue)
            review = Review(
                self.next_id(),
                repo.id,
                number,
                user,
                state.upper(),
                body or ("Please fix the failing cases." if state.upper() == "CHANGES_REQUESTED" else ""),
                when or self.clock(),
                head_sha,
            )
            self.reviews.append(review)
            return review

    # ------------------------------------------------------------------ CI
    def add_check_run(
        self, full_name: str, sha: str, name: str, conclusion: str | None, when: datetime | None = None
    ) -> CheckRun:
        """A check run on a commit; conclusion None or 'pending' means still in progress."""
        with self.lock:
            repo = self.repo(full_name)
            when = when or self.clock()
            done = conclusion not in (None, "pending", "in_progress", "queued")
            run = CheckRun(
                self.next_id(),
                repo.id,
                sha,
                name,
                "completed" if done else "in_progress",
                conclusion if done else None,
                when,
                when + timedelta(minutes=4) if done else None,
            )
            self.check_runs.append(run)
            return run

    def add_status(
        self,
        full_name: str,
        sha: str,
        state: str,
        context: str = "default",
        description: str | None = None,
        target_url: str | None = None,
        creator: str = DEFAULT_LOGIN,
        when: datetime | None = None,
    ) -> Status:
        """A commit status (error, failure, pending, success)."""
        with self.lock:
            repo = self.repo(full_name)
            if state not in ("error", "failure", "pending", "success"):
                raise SandboxError(
                    422,
                    "Validation Failed",
                    [
                        {
                            "resource": "Status",
                            "field": "state",
                            "code": "custom",
                            "message": "state is not included in the list",
                        }
                    ],
                )
            when = when or self.clock()
            self.user(creator)
            status = Status(
                self.next_id(),
                repo.id,
                sha,
                state,
                context,
                description or f"The build {'passed' if state == 'success' else state}",
                target_url,
                creator,
                when,
                when,
            )
            self.statuses.append(status)
            return status


def _pull_invalid(message: str) -> SandboxError:
    """GitHub's 422 for a pull request it refuses, with its custom message."""
    return SandboxError(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom", "message": message}])
