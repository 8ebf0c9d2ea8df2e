"""GitHub's GraphQL API for the sandbox: the pruned schema (`schema.graphql`, cut by `prune.py`),
GitHub's point costs and limits (`cost.py`), the objects over the state (`resolvers.py`) and the
request handling (`execute.py`)."""
