"""A Qualys WAS v3.0 + Knowledge Base API simulator: a seeded data set served over WSGI.

It is a fake server, not a client: it never imports connector.qualys or connector.store.

    dataset = Dataset.generate(webapps=20, findings=2000, seed=1)
    sim = Simulator(dataset, username="sim", password="sim", page_delay=0.0)
    httpx.Client(transport=httpx.WSGITransport(app=sim), base_url="http://qualys.test")
    with serve_in_thread(sim) as running: ...  # running.base_url
"""

from connector.simulator.app import Simulator, SimulatorStats
from connector.simulator.dataset import (
    NOW,
    Dataset,
    FindingRecord,
    KbEntry,
    LastScan,
    QidProfile,
    Tag,
    WebAppRecord,
)
from connector.simulator.faults import Fault, FaultKind
from connector.simulator.server import RunningServer, serve_in_thread

__all__ = [
    "NOW",
    "Dataset",
    "Fault",
    "FaultKind",
    "FindingRecord",
    "KbEntry",
    "LastScan",
    "QidProfile",
    "RunningServer",
    "Simulator",
    "SimulatorStats",
    "Tag",
    "WebAppRecord",
    "serve_in_thread",
]
