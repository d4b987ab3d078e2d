"""Print the API token of a user, making one if they have none."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Print the REST API token for USERNAME (made on first use). Send it as 'Authorization: Token <key>'."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--renew", action="store_true", help="Replace the user's token with a new one.")

    def handle(self, *args, username: str, renew: bool, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f'There is no user "{username}".')
        if renew:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
