"""The sync's compact record of the finding keys Qualys listed."""

from __future__ import annotations

from connector.sync import SeenKeys


def test_seen_keys_answers_membership_for_numeric_keys() -> None:
    """Added keys are found, others are not, duplicates count once, non-numeric keys never match."""
    seen = SeenKeys()
    for key in ("30", "10", "20", "10"):
        seen.add(key)
    assert len(seen) == 3
    assert "10" in seen
    assert "30" in seen
    assert "15" not in seen
    assert "url:x|qid:1" not in seen
    assert 10 not in seen  # keys are strings, as the store holds them
    assert len(seen) == 3
    assert list(seen) == ["10", "20", "30"]


def test_seen_keys_keeps_working_after_more_adds() -> None:
    """Adding after a lookup re-sorts before the next lookup."""
    seen = SeenKeys()
    seen.add("5")
    assert "5" in seen
    seen.add("1")
    assert "1" in seen
    assert "5" in seen
