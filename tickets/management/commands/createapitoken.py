"""Make an API token for a user and print it: the only time it can be read (only its hash is kept)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.models import AuthToken


class Command(BaseCommand):
    help = (
        "Make a REST API token for USERNAME and print it once (the database keeps only its hash). "
        "Send it as 'Authorization: Token <token>'."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--renew", action="store_true", help="Revoke the user's other tokens first.")

    def handle(self, *args, username: str, renew: bool, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f'There is no user "{username}".')
        if renew:
            AuthToken.objects.filter(user=user).delete()
        _, token = AuthToken.objects.create(user=user)
        self.stdout.write(token)
