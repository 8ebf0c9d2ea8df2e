"""CLI commands with more than a few lines each, one module per command group."""
