"""Keyset paging and the ServiceRequest builder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from connector.errors import QualysResponseError
from connector.qualys.decode import decode
from connector.qualys.paging import KeysetPager
from connector.qualys.requests import Criterion, service_request

TYPE = Criterion("type", "IN", ("VULNERABILITY", "SENSITIVE_CONTENT"))


def test_pages_follow_last_id_until_no_more_records() -> None:
    """Each next page asks for id GREATER the previous lastId; hasMoreRecords false ends it."""
    pager = KeysetPager([TYPE])
    assert pager.criteria() == [TYPE]
    pager.advance(has_more=True, last_id=100)
    assert pager.criteria() == [TYPE, Criterion("id", "GREATER", 100)]
    pager.advance(has_more=True, last_id=250)
    assert pager.criteria()[-1] == Criterion("id", "GREATER", 250)
    pager.advance(has_more=False, last_id=None)
    assert pager.done
    assert pager.pages == 3


@pytest.mark.parametrize("second", [100, 99])
def test_repeating_or_decreasing_last_id_is_a_loop(second: int) -> None:
    """A lastId that repeats or goes backwards raises 'loop detected in pagination'."""
    pager = KeysetPager()
    pager.advance(has_more=True, last_id=100)
    with pytest.raises(QualysResponseError, match="loop detected in pagination"):
        pager.advance(has_more=True, last_id=second)


def test_more_records_without_last_id_is_an_error() -> None:
    """hasMoreRecords true with no lastId cannot be paged on and says so."""
    with pytest.raises(QualysResponseError, match="no lastId"):
        KeysetPager().advance(has_more=True, last_id=None)


def test_a_resume_point_in_the_criteria_becomes_the_start() -> None:
    """A given `id GREATER n` is not sent twice and later pages must pass it."""
    pager = KeysetPager([TYPE, Criterion("id", "GREATER", 500)])
    assert pager.criteria() == [TYPE, Criterion("id", "GREATER", 500)]
    with pytest.raises(QualysResponseError, match="loop detected"):
        pager.advance(has_more=True, last_id=400)


def test_service_request_renders_preferences_and_criteria() -> None:
    """The body carries verbose, limitResults and every criterion with field and operator."""
    since = datetime(2024, 3, 5, 23, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    body = service_request(
        [
            TYPE,
            Criterion("lastDetectedDate", "GREATER", since),
            Criterion("name", "CONTAINS", "a&<b"),
        ],
        verbose=True,
        limit_results=1000,
    )
    doc = decode(body)["ServiceRequest"]
    assert doc["preferences"] == {"verbose": "true", "limitResults": "1000"}
    criteria = doc["filters"]["Criteria"]
    assert criteria[0] == {
        "@field": "type",
        "@operator": "IN",
        "#text": "VULNERABILITY,SENSITIVE_CONTENT",
    }
    assert criteria[1]["#text"] == "2024-03-05T22:00:30Z"
    assert criteria[2]["#text"] == "a&<b"


def test_service_request_without_filters_is_minimal() -> None:
    """No criteria and no preferences produce an empty ServiceRequest."""
    assert decode(service_request()) == {"ServiceRequest": None}


def test_naive_datetimes_are_taken_as_utc() -> None:
    """A naive datetime is rendered as UTC, not as local time."""
    assert Criterion("updatedDate", "GREATER", datetime(2024, 1, 2, 3, 4, 5)).text == (
        "2024-01-02T03:04:05Z"
    )
    assert Criterion("x", "EQUALS", datetime(2024, 1, 2, tzinfo=UTC)).text == "2024-01-02T00:00:00Z"


def test_bad_operator_and_page_size_are_refused() -> None:
    """Unknown operators and limitResults outside 1..1000 are programming errors."""
    with pytest.raises(ValueError, match="operator"):
        Criterion("id", "BIGGER", 1)
    with pytest.raises(ValueError, match="limitResults"):
        service_request(limit_results=1001)


def test_an_upper_bound_adds_id_lesser_to_every_page() -> None:
    """A bounded pager asks for `id LESSER upper` beside the keyset criterion."""
    pager = KeysetPager([TYPE], after=10, upper=500)
    assert pager.criteria() == [
        TYPE,
        Criterion("id", "GREATER", 10),
        Criterion("id", "LESSER", 500),
    ]
    pager.advance(has_more=True, last_id=100)
    assert pager.criteria()[1:] == [Criterion("id", "GREATER", 100), Criterion("id", "LESSER", 500)]


def test_narrowing_lowers_the_bound_and_can_end_the_paging() -> None:
    """narrow() only ever lowers the bound; a bound just above the last id received ends paging."""
    pager = KeysetPager([TYPE], upper=500)
    pager.advance(has_more=True, last_id=100)
    pager.narrow(800)
    assert pager.upper == 500
    pager.narrow(300)
    assert pager.criteria()[-1] == Criterion("id", "LESSER", 300)
    assert not pager.done
    pager.narrow(101)
    assert pager.done
