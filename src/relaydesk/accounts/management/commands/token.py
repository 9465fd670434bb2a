"""``relaydesk token create --user EMAIL --name NAME``: make a personal API token."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from relaydesk.accounts.actions import do_create_api_token
from relaydesk.accounts.models import User
from relaydesk.errors import ActionRefused


class Command(BaseCommand):
    help = "Create a personal API token for a user; the token is printed once."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("verb", choices=["create"], help="What to do (create).")
        parser.add_argument("--user", required=True, help="The token owner's e-mail address.")
        parser.add_argument("--name", required=True, help="What the token is for.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email=options["user"].strip().lower(), is_active=True).first()
        if user is None:
            raise CommandError(f"No active user with the e-mail address {options['user']}.")
        try:
            token, secret = do_create_api_token(user, name=options["name"])
        except ActionRefused as refusal:
            raise CommandError(refusal.message) from refusal
        self.stderr.write(f"Token '{token.name}' for {user.email} (shown once, keep it safe):")
        self.stdout.write(secret)
