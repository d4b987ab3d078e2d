"""The technician's own page: the phone subscription link of their calendar (S3.12)."""

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from agents import services
from agents.models import Agent, CoordinatorFeed, Team
from calendars.models import CalendarSettings
from calendars.selectors import sync_policy_explained


def _own_agent(request: HttpRequest) -> Agent | None:
    return Agent.objects.filter(user=request.user).select_related("user").first()


def _qr_svg(text: str) -> str:
    """An inline SVG QR code, drawn here: the link is private and must not go to a QR service."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return image.to_string(encoding="unicode")


# Where the renewal leaves the new token for the one page that shows it (then it is gone).
NEW_FEED_TOKEN = "new_feed_token"


def _links(request: HttpRequest, path: str) -> dict[str, str]:
    """The link as the browser reached us (https in production, behind the proxy) and the same
    link as webcal://, which makes phones subscribe instead of importing once."""
    web = request.build_absolute_uri(path)
    return {"https": web, "webcal": "webcal://" + web.split("://", 1)[1]}


def _coordinates(request: HttpRequest) -> bool:
    return request.user.has_perm(services.COORDINATE)


@login_required
def me(request: HttpRequest) -> HttpResponse:
    """The technician's phone link and, for a coordinator, the team feed links; a coordinator
    without a technician profile gets team feed links of their own (CoordinatorFeed)."""
    agent = _own_agent(request)
    coordinates = _coordinates(request)
    holder = agent
    if agent is None and coordinates:
        holder = CoordinatorFeed.objects.filter(user=request.user).first()
    context: dict[str, object] = {
        "agent": agent,
        "coordinates": coordinates,
        "calendar_settings": CalendarSettings.load(),
    }
    if agent is not None:
        context["sync_policy"] = sync_policy_explained(agent, context["calendar_settings"])
    # The token is stored hashed: its link is shown once, on the page the renewal leads to.
    token = request.session.pop(NEW_FEED_TOKEN, None)
    if holder is not None and services.feed_enabled(holder) and token:
        if agent is not None:
            own = _links(request, reverse("feeds:agent", args=[token]))
            with_external = {kind: link + "?external=1" for kind, link in own.items()}
            context.update(feed=own, feed_with_external=with_external, qr_svg=_qr_svg(own["webcal"]))
        if coordinates:
            context["team_feeds"] = [
                (team, _links(request, reverse("feeds:team", args=[team.pk, token]))) for team in Team.objects.all()
            ]
    context["feed_enabled"] = holder is not None and services.feed_enabled(holder)
    context["feed_made"] = holder is not None and services.feed_link_made(holder)
    return render(request, "agents/me.html", context)


@login_required
@require_POST
def renew_feed(request: HttpRequest) -> HttpResponse:
    agent = _own_agent(request)
    holder = agent or services.coordinator_feed_of(request.user)
    if holder is None:
        messages.error(request, "You have no technician profile, so there is no calendar link to renew.")
        return redirect("agents:me")
    # Only a link that was working is replaced: a first link has no "old one" to speak of.
    replaced = services.feed_link_made(holder) and services.feed_enabled(holder)
    request.session[NEW_FEED_TOKEN] = services.renew_feed_token(holder)
    what = "calendar link" if agent is not None else "team calendar link"
    shown = "shown below this once: copy it or subscribe now."
    if replaced:
        messages.success(request, f"You have a new {what}, {shown} The old one no longer works.")
    else:
        messages.success(request, f"Your {what} is made, {shown}")
    return redirect("agents:me")


@login_required
@require_POST
def revoke_feed(request: HttpRequest) -> HttpResponse:
    agent = _own_agent(request)
    holder = agent
    if agent is None and _coordinates(request):
        holder = CoordinatorFeed.objects.filter(user=request.user).first()
    if holder is None:
        messages.error(request, "You have no technician profile, so there is no calendar link to revoke.")
        return redirect("agents:me")
    services.revoke_feed_token(holder)
    messages.success(request, "Your calendar link is switched off. Phones subscribed to it get nothing more.")
    return redirect("agents:me")
