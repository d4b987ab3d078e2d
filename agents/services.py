"""Rules that change technicians: the private subscription link of their calendar (S3.12)."""

import secrets

from django.db import transaction

from agents.models import Agent, new_feed_token

# A revoked feed keeps a random token (the column is unique) that no URL can carry: feed links
# only match URL-safe characters, so the old link and any guess answer 404 until a renewal.
REVOKED_MARK = "!"


def feed_enabled(agent: Agent) -> bool:
    return not agent.feed_token.startswith(REVOKED_MARK)


@transaction.atomic
def renew_feed_token(agent: Agent) -> Agent:
    """A fresh subscription link; the old one stops working at once."""
    agent.feed_token = new_feed_token()
    agent.save(update_fields=["feed_token"])
    return agent


@transaction.atomic
def revoke_feed_token(agent: Agent) -> Agent:
    """Switch the subscription off: the old link answers 404 and there is no new one until the
    technician (or an admin) renews it."""
    agent.feed_token = REVOKED_MARK + secrets.token_urlsafe(32)
    agent.save(update_fields=["feed_token"])
    return agent
