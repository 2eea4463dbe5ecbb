"""evidence belongs to a submission round (frozen once submitted); the same file may come
again in a later round

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('evidence') as batch_op:
        batch_op.add_column(sa.Column('submission_round', sa.Integer(), nullable=False,
                                      server_default='1'))
        batch_op.drop_constraint('uq_evidence_problem_id_sha256', type_='unique')
        batch_op.create_unique_constraint(
            'uq_evidence_problem_id_sha256_submission_round',
            ['problem_id', 'sha256', 'submission_round'])
    # A file's round: one more than the problem's submissions before its upload (a file sent
    # with a submission has that submission's time, so it belongs to the round it froze).
    op.execute(
        "UPDATE evidence SET submission_round = 1 + (SELECT count(*) FROM audit_event a "
        "WHERE a.problem_id = evidence.problem_id AND a.action = 'submit' "
        "AND a.at < evidence.uploaded_at)")


def downgrade() -> None:
    # Keep each file's first round only: the old key allowed one row per problem and file.
    op.execute(
        "DELETE FROM evidence WHERE EXISTS (SELECT 1 FROM evidence e "
        "WHERE e.problem_id = evidence.problem_id AND e.sha256 = evidence.sha256 "
        "AND e.submission_round < evidence.submission_round)")
    with op.batch_alter_table('evidence') as batch_op:
        batch_op.drop_constraint('uq_evidence_problem_id_sha256_submission_round',
                                 type_='unique')
        batch_op.create_unique_constraint('uq_evidence_problem_id_sha256',
                                          ['problem_id', 'sha256'])
        batch_op.drop_column('submission_round')
