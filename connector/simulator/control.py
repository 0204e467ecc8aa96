"""The simulator's own endpoints under `/_simulator/` (not Qualys API), for a benchmark that runs
the simulator in another process (`connector simulate`). Same Basic login as the API; JSON out.

| call                                | does                                                      |
|-------------------------------------|-----------------------------------------------------------|
| `GET /_simulator/stats`             | `SimulatorStats.as_dict()`: calls, bytes and records      |
|                                     | served per endpoint, server seconds charged               |
| `POST /_simulator/stats/reset`      | the same, then counts from zero                           |
| `POST /_simulator/day`              | `Dataset.simulate_day`; form or query parameters `seed`   |
|                                     | (required), `share` (0.05), `when` (UTC                   |
|                                     | YYYY-MM-DDTHH:MM:SSZ; default now, or a day after the     |
|                                     | data set's clock when that is later), `rescans` (1),      |
|                                     | `removed_webapps` (0); answers `DayChanges.as_dict()`     |
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connector.simulator.reply import Reply

if TYPE_CHECKING:
    from connector.simulator.app import Simulator

CONTROL_PREFIX = "/_simulator/"


def answer_control(sim: Simulator, method: str, path: str, params: dict[str, str]) -> Reply:
    route = path[len(CONTROL_PREFIX) :].strip("/")
    if route == "stats" and method == "GET":
        return _json(200, sim.stats_snapshot())
    if route == "stats/reset" and method == "POST":
        before = sim.stats_snapshot()
        sim.reset_stats()
        return _json(200, before)
    if route == "day" and method == "POST":
        return _day(sim, params)
    return _json(404, {"error": f"no simulator control {method} {path}"})


def _day(sim: Simulator, params: dict[str, str]) -> Reply:
    try:
        seed = int(params["seed"])
        share = float(params.get("share", "0.05"))
        rescans = int(params.get("rescans", "1"))
        removed = int(params.get("removed_webapps", "0"))
        when = _when(sim, params.get("when"))
        changes = sim.dataset.simulate_day(
            seed, when, share, rescans=rescans, removed_webapps=removed
        )
    except KeyError:
        return _json(400, {"error": "give the day a seed: seed=<int>"})
    except ValueError as exc:
        return _json(400, {"error": str(exc)})
    return _json(200, changes.as_dict())


def _when(sim: Simulator, text: str | None) -> datetime:
    if text:
        return datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    now = sim.now().replace(microsecond=0)
    return now if now > sim.dataset.now else sim.dataset.now + timedelta(days=1)


def _json(status: int, payload: dict[str, Any]) -> Reply:
    return Reply(status, json.dumps(payload).encode(), content_type="application/json")
