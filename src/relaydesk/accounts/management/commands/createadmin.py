"""``relaydesk createadmin``: the first provider admin, who can also open the back office."""

from __future__ import annotations

import getpass
import os
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from relaydesk.accounts.actions import do_create_user
from relaydesk.accounts.models import User
from relaydesk.core.roles import Role
from relaydesk.errors import ActionRefused


class Command(BaseCommand):
    help = (
        "Create a provider admin. The password comes from RELAYDESK_ADMIN_PASSWORD "
        "or is asked for; it is never taken on the command line."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--email", required=True, help="The admin's e-mail address.")
        parser.add_argument("--name", required=True, help="The admin's full name.")
        parser.add_argument("--time-zone", default="UTC", help="IANA zone for displayed times.")

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("RELAYDESK_ADMIN_PASSWORD") or self._ask_password()
        # Compared with the admin's own details too, as the sign-in pages' forms do.
        candidate = User(email=options["email"].strip().lower(), full_name=options["name"])
        try:
            validate_password(password, candidate)
        except ValidationError as problems:
            raise CommandError(" ".join(problems.messages)) from problems
        try:
            user = do_create_user(
                None,
                email=options["email"],
                full_name=options["name"],
                role=Role.PROVIDER_ADMIN,
                password=password,
                time_zone=options["time_zone"],
                is_staff=True,
            )
        except ActionRefused as refusal:
            raise CommandError(refusal.message) from refusal
        self.stdout.write(f"Provider admin {user.email} created; sign in at /accounts/login/.")

    def _ask_password(self) -> str:
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The passwords do not match.")
        return first
