"""Prefect flows. Importing them ties this process's Prefect servers (and, in a flow run that
`orchestrator serve` started, the run itself) to the life of its parent: see common/lifetime.py."""

from common.lifetime import bind_prefect_servers, bind_to_serve

bind_prefect_servers()
bind_to_serve()
