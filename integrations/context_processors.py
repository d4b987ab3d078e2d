from integrations.selectors import approval_count


def sync_badge(request) -> dict:
    """The number in the header's "to approve" badge (lazy: counted only when a page shows it)."""
    user = getattr(request, "user", None)
    return {"sync_approval_count": lambda: approval_count(user)}
