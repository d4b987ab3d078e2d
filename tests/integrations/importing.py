"""The step every connector's import tests start from."""

from integrations.models import AgentCalendar


def start_importing(agent_calendar: AgentCalendar) -> AgentCalendar:
    """Turn on the technician's import from their external calendar and pull once, so the first
    sync token (sync state, delta link) is taken. Returns the agent calendar, read again."""
    from integrations.sync import engine

    agent = agent_calendar.agent
    agent.import_external = True
    agent.save()
    engine.sync_agent_calendar(agent_calendar, pull=True)
    agent_calendar.refresh_from_db()
    return agent_calendar
