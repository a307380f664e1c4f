"""Site rules by state, bookings at risk, and the patient index of the double-booking rule.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-30

- ``site_rule``: which registrations a site needs to take infusions, per state; seeded with a
  DEA registration for every state and territory and a state CSR for Indiana and Illinois.
- ``appointment_risk``: the reasons a future booking would be refused today, as last judged,
  with when each was e-mailed to the region's operations managers.
- ``ix_appointment_patient_ref_starts_at``: ``patient_double_booked`` reads a patient's
  appointments around the slot.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0008'
branch_labels = None
depends_on = None

# Frozen here as data (a migration must not change when the code does).
_STATES = (
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP"
).split()
_CSR_STATES = ("IN", "IL")
_REASONS = (
    'location_closed', 'room_closed', 'room_inactive', 'over_capacity', 'staff_not_eligible',
    'site_not_licensed', 'staff_double_booked',
)


def upgrade():
    op.create_table('site_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=2), nullable=False),
    sa.Column('registration_kind', sa.Enum('dea_registration', 'state_csr', name='site_rule_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_rule')),
    sa.UniqueConstraint('state', 'registration_kind', name=op.f('uq_site_rule_state_registration_kind'))
    )
    op.create_table('appointment_risk',
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Enum(*_REASONS, name='appointment_risk_reason', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], name=op.f('fk_appointment_risk_appointment_id_appointment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('appointment_id', 'reason', name=op.f('pk_appointment_risk'))
    )
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_patient_ref_starts_at'), ['patient_ref', 'starts_at'], unique=False)

    rule = sa.table('site_rule', sa.column('state', sa.String), sa.column('registration_kind', sa.String))
    op.bulk_insert(
        rule,
        [{'state': state, 'registration_kind': 'dea_registration'} for state in sorted(_STATES)]
        + [{'state': state, 'registration_kind': 'state_csr'} for state in _CSR_STATES],
    )


def downgrade():
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_patient_ref_starts_at'))
    op.drop_table('appointment_risk')
    op.drop_table('site_rule')
