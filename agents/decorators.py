"""View decorators for the pages about a signed-in user's own calendar."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def technician_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Sign-in required, and a technician profile: without one (a coordinator or an admin who is
    no technician) the answer is a page that says why there is nothing here and who can change
    that, 200 for a page asked for, 403 for a form posted all the same; the view does not run."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if getattr(request.user, "agent", None) is None:
            status = 200 if request.method in ("GET", "HEAD") else 403
            return render(request, "agents/no_profile.html", status=status)
        return view(request, *args, **kwargs)

    return login_required(wrapped)
