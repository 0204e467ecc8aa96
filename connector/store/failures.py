"""SQLAlchemy exceptions translated, at the store's edge, into the connector's StoreError tree."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError

from connector.errors import StoreError, StoreWriteError
from connector.store.database import db_reason


@contextmanager
def reading(what: str) -> Iterator[None]:
    """A failed read becomes StoreError("<what>: <the driver's reason>")."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreError(f"{what}: {db_reason(exc)}") from exc


@contextmanager
def writing(what: str) -> Iterator[None]:
    """A failed write becomes StoreWriteError("<what>: <the driver's reason>")."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreWriteError(f"{what}: {db_reason(exc)}") from exc
