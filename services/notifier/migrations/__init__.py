"""The notifier database's alembic migrations."""

from pathlib import Path

MIGRATIONS = Path(__file__).parent
