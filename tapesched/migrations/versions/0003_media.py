"""Tape media: pools, libraries, volumes and the pieces of each backup.

- pools: each pool's retention (a volume's backups expire `retention_days`
  after the volume was last written). The pool `scratch` is not a row: a volume
  in the scratch pool has pool NULL.
- libraries: each tape library (a virtual one or a changer driven by mtx), its
  kind, its configuration (JSON) and the host whose devices it is.
- volumes: each labelled cartridge: its pool, state, what was written on it,
  until when it is retained, and where it is (library and slot, a drive, or the
  shelf when neither).
- pieces: each backup's data stream cut at the ends of media, in order: the
  volume, the tape file number, the bytes and their SHA-256.
- meta.schema_version becomes 3.

Byte counts are BIGINT: a cartridge holds terabytes.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pools",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "libraries",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("host", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "volumes",
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("barcode", sa.String(length=32), nullable=True),
        sa.Column("pool", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=True),
        sa.Column("bytes_written", sa.BigInteger(), nullable=False),
        sa.Column("files_written", sa.Integer(), nullable=False),
        sa.Column("first_written", sa.DateTime(), nullable=True),
        sa.Column("last_written", sa.DateTime(), nullable=True),
        sa.Column("retained_until", sa.DateTime(), nullable=True),
        sa.Column("labelled_at", sa.DateTime(), nullable=True),
        sa.Column("library", sa.String(length=32), nullable=True),
        sa.Column("slot", sa.Integer(), nullable=True),
        sa.Column("drive", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("label"),
    )
    op.create_index("ix_volumes_pool_state", "volumes", ["pool", "state"])
    op.create_table(
        "pieces",
        sa.Column("execution_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("volume", sa.String(length=32), nullable=False),
        sa.Column("file_number", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["execution_id"], ["executions.execution_id"]),
        sa.PrimaryKeyConstraint("execution_id", "seq"),
    )
    op.create_index("ix_pieces_volume", "pieces", ["volume"])
    op.get_bind().execute(sa.text("UPDATE meta SET value = '3' WHERE key = 'schema_version'"))


def downgrade() -> None:
    raise NotImplementedError(
        "tapesched does not downgrade a catalog: restore the copy taken before the upgrade"
    )
