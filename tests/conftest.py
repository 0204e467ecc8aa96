"""Shared fixtures. The real Qualys samples are read from ../shared at test time, never copied."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "qualys" / "samples"


@pytest.fixture
def samples() -> Path:
    """The directory of real recorded Qualys responses; skips the test where ../shared is absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"real Qualys samples not found at {SAMPLES} (../shared is not checked out)")
    return SAMPLES


def read_sample(samples: Path, name: str) -> bytes:
    return (samples / name).read_bytes()
