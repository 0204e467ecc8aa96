"""The sync: Qualys WAS web apps, findings and KB entries into the store, then fixed and retention.

run.py        one run, phase by phase, under the sync lock; the report
mode.py       full or incremental, and why
webapps.py    phase 1: web apps -> assets
listing.py    phase 2: the finding listing in keyset streams, proven complete
changes.py    phase 2, incremental: a brief listing compared with the store
details.py    phase 3: verbose records -> findings (and details fetched by id)
knowledge.py  phase 4: KB lookups during the listing, severity re-derived
closing.py    phase 5: absent findings Fixed, retention, the run's end, one transaction
state.py      what every phase is handed; tally.py the counts they return
"""

from connector.sync.run import SyncReport, run_sync, utc_now
from connector.sync.seen import SeenKeys
from connector.sync.state import SyncProgress
from connector.sync.tally import SyncCounts

__all__ = ["SeenKeys", "SyncCounts", "SyncProgress", "SyncReport", "run_sync", "utc_now"]
