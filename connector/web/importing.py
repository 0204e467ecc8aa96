"""The console's one call into the importer: the same `import_file` the CLI's import command
runs (one transaction, nothing written on a bad file). Returns the imported scan's id."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from connector.importer.importer import ImportOptions, import_file
from connector.web.state import Console


def import_upload(
    console: Console,
    path: Path,
    *,
    mapping: str | None,
    close_absent: bool = True,
    skip_bad_rows: bool = False,
    asset_name: str | None = None,
    asset_url: str | None = None,
) -> int:
    """Import the uploaded file; raises ImportFileError (nothing written) on bad input."""
    options = ImportOptions(
        mapping_name=mapping,
        close_absent=close_absent,
        skip_bad_rows=skip_bad_rows,
        asset_name=asset_name,
        asset_url=asset_url,
    )
    summary = import_file(
        console.engine,
        console.config,
        path,
        options,
        now=console.clock(),
        host=socket.gethostname(),
        pid=os.getpid(),
    )
    return summary.scan_id
