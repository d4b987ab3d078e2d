"""Rules that change technicians: the private subscription link of their calendar (S3.12), and
the team-feed link of a coordinator without a technician profile (CoordinatorFeed).

Only a hash of the link's token is stored (agents.models.hash_feed_token): the token itself is
returned once, by renew_feed_token, to be shown to its owner, and cannot be read back. The same
rules hold for both holders of a token, an Agent and a CoordinatorFeed.
"""

import secrets

from django.db import transaction

from agents.models import NEVER_MADE_MARK, Agent, CoordinatorFeed, hash_feed_token

# A revoked feed keeps a random token (the column is unique) that no URL can carry: feed links
# only match URL-safe characters, so the old link and any guess answer 404 until a renewal.
REVOKED_MARK = "!"

# Whatever carries a feed token: a technician, or a coordinator without a technician profile.
FeedHolder = Agent | CoordinatorFeed

COORDINATE = "agents.coordinate"


def feed_enabled(agent: FeedHolder) -> bool:
    return not agent.feed_token.startswith(REVOKED_MARK)


def feed_link_made(agent: FeedHolder) -> bool:
    """Whether a link was ever made for this technician (renewed at least once, maybe revoked since)."""
    return not agent.feed_token.startswith(NEVER_MADE_MARK)


@transaction.atomic
def renew_feed_token(agent: FeedHolder) -> str:
    """A fresh subscription link; the old one stops working at once. Returns the new token, the
    only time it is known: show it to the technician now."""
    token = secrets.token_urlsafe(32)
    agent.feed_token = hash_feed_token(token)
    agent.save(update_fields=["feed_token"])
    return token


def agent_for_feed_token(token: str) -> Agent | None:
    """The active technician whose link carries this token, or None."""
    return Agent.objects.select_related("user").filter(feed_token=hash_feed_token(token), user__is_active=True).first()


@transaction.atomic
def revoke_feed_token(agent: FeedHolder) -> FeedHolder:
    """Switch the subscription off: the old link answers 404 and there is no new one until the
    technician (or an admin) renews it."""
    agent.feed_token = REVOKED_MARK + secrets.token_urlsafe(32)
    agent.save(update_fields=["feed_token"])
    return agent


def coordinator_feed_of(user) -> CoordinatorFeed | None:
    """The team-feed token holder of a coordinator without a technician profile, made on first
    use; None for a user who has a profile (their Agent holds the token) or may not coordinate."""
    if Agent.objects.filter(user=user).exists() or not user.has_perm(COORDINATE):
        return None
    holder, _made = CoordinatorFeed.objects.get_or_create(user=user)
    return holder


def coordinator_for_feed_token(token: str) -> FeedHolder | None:
    """Whose team feeds this token opens: an active user who may coordinate, through their own
    technician link or their CoordinatorFeed, while the link is on; else None (the feed answers 404)."""
    digest = hash_feed_token(token)
    holder = agent_for_feed_token(token) or (
        CoordinatorFeed.objects.select_related("user").filter(feed_token=digest, user__is_active=True).first()
    )
    if holder is None or not feed_enabled(holder) or not holder.user.has_perm(COORDINATE):
        return None
    return holder
