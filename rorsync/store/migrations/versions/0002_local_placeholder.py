"""LOCAL PLACEHOLDER - NOT COMMITTED: stands in for the policy branch's 0002 so the chain resolves."""

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
