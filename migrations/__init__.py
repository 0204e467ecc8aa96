"""The connector's Alembic migration scripts; shipped as a package so installs can locate them."""

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent
