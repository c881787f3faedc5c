"""Units' comparison keys made again with the rule that leaves out what cannot be seen
(zero-width and bidirectional characters, controls): a unit stored before the rule, whose
name held one, would otherwise not be found as the look-alike of a new unit.

Two stored units whose keys now coincide are look-alikes already: the later keeps its old
key, so the upgrade never fails on them, and each pair is printed for the registry's
administrator to settle (retire one, or rename it).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from services.registry.names import name_key

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    units = connection.execute(sa.text(
        "SELECT code, name, name_key FROM units ORDER BY created_at, code")).all()
    taken: dict[str, str] = {}  # new key -> the unit that has it
    changes: list[dict[str, str]] = []
    for code, name, old in units:
        key = name_key(name)
        if key in taken:
            print(f"registry 0003: units {taken[key]} and {code} have names that display "
                  f"the same ({name!r}); {code} keeps its old key: retire or rename one")
            taken[old] = code
            continue
        taken[key] = code
        if key != old:
            changes.append({"code": code, "key": key})
    if changes:  # in two steps: a key moving to another unit's old key cannot clash midway
        connection.execute(sa.text("UPDATE units SET name_key = '~' || code WHERE code = :code"),
                           changes)
        connection.execute(sa.text("UPDATE units SET name_key = :key WHERE code = :code"),
                           changes)


def downgrade() -> None:
    """Keys stay as they are: the earlier rule is not kept to make them again."""
