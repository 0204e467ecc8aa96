"""A Qualys WAS v3.0 + Knowledge Base API simulator: a seeded data set served over WSGI.

It is a fake server, not a client: it never imports connector.qualys or connector.store.

    dataset = Dataset.generate(webapps=20, findings=2000, seed=1)
    sim = Simulator(dataset, username="sim", password="sim", page_delay=0.0)
    httpx.Client(transport=httpx.WSGITransport(app=sim), base_url="http://qualys.test")
    with serve_in_thread(sim) as running: ...  # running.base_url

Modules: `dataset` (the tenant and its mutations), `events` (what each real event changes),
`day` (a realistic day of events), `columns` and `select` (compact finding storage, filters),
`webapps`, `generate`, `derive` and `vocabulary` (the seeded tenant and one finding's record),
`app` (the WSGI server: auth, faults, cost model, counters), `faults` and `listing` (injected
faults), `query` (request parsing, Qualys' errors), `render`, `kb`, `portal`, `xmlout` (the XML),
`stats`, `control` (the /_simulator/ endpoints) and `server` (sockets).
"""

from connector.simulator.app import Simulator
from connector.simulator.dataset import Dataset
from connector.simulator.day import DayChanges
from connector.simulator.events import Rescan
from connector.simulator.faults import LISTING_FAULTS, Fault, FaultKind
from connector.simulator.records import (
    NOW,
    Criterion,
    FindingRecord,
    HistoryScan,
    KbEntry,
    LastScan,
    QidProfile,
    Tag,
    WebAppRecord,
)
from connector.simulator.server import RunningServer, serve_in_thread
from connector.simulator.stats import SimulatorStats

__all__ = [
    "LISTING_FAULTS",
    "NOW",
    "Criterion",
    "Dataset",
    "DayChanges",
    "Fault",
    "FaultKind",
    "FindingRecord",
    "HistoryScan",
    "KbEntry",
    "LastScan",
    "QidProfile",
    "Rescan",
    "RunningServer",
    "Simulator",
    "SimulatorStats",
    "Tag",
    "WebAppRecord",
    "serve_in_thread",
]
