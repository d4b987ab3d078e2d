"""The plain feed token of a technician in tests: only its hash is stored (agents.models)."""

from agents.services import renew_feed_token


def feed_token_of(agent) -> str:
    """The agent's feed token: only its hash is stored, so the first ask makes a new link and
    keeps its token on this agent object for the rest of the test."""
    if not hasattr(agent, "_plain_feed_token"):
        agent._plain_feed_token = renew_feed_token(agent)
    return agent._plain_feed_token
