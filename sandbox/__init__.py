"""A stateful GitHub REST sandbox on loopback: PyGithub talks to it exactly as to api.github.com."""

from sandbox.server import SandboxServer, run_forever
from sandbox.state import DEFAULT_TOKEN, Faults, SandboxError, SandboxState

__all__ = ["DEFAULT_TOKEN", "Faults", "SandboxError", "SandboxServer", "SandboxState", "run_forever"]
