"""`dmp serve`: the HTTP server (API and pages)."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from dmp.cli.common import console, settings
from dmp.main import create_app


def serve_cmd(
    host: Annotated[str | None, typer.Option(help="adresse d'écoute (défaut DMP_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (défaut DMP_PORT)")] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="processus serveurs (un par cœur)")
    ] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            help="une ligne par requête sur la sortie standard (la trace d'audit, elle, "
            "enregistre toujours chaque accès)"
        ),
    ] = True,
) -> None:
    """Serve the API and the pages."""
    s = settings()
    host = host or s.host
    port = port or s.port
    console.print(f"dmp sur http://{host}:{port}/  (API : /api, documentation : /docs)")
    if workers > 1:
        # Each worker process builds its own app from the same DMP_* environment.
        uvicorn.run(
            "dmp.main:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=access_log,
            proxy_headers=False,
        )
        return
    uvicorn.run(
        create_app(s),
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
        proxy_headers=False,
    )
