"""The ``relaydesk`` command: serve, worker, route, migrate, demo, createadmin, token, import-work.

Each subcommand wraps a Django management command, so ``relaydesk X`` and
``python -m django X`` behave the same.
"""

from __future__ import annotations

import os
import sys

SUBCOMMANDS = {
    "serve": "Serve the product (default 127.0.0.1:8000; HOST and PORT override).",
    "worker": "Run queued background tasks (the django-tasks-db worker).",
    "route": "Push queued work to agents and climb escalation ladders: [--every SECONDS].",
    "migrate": "Create or upgrade the database schema.",
    "demo": "Load the demo provider with 30 days of history.",
    "demo-code": "Print the one-time code the demo's provider logins accept now.",
    "createadmin": "Create a provider admin who can also use the back office.",
    "token": "Manage personal API tokens: relaydesk token create --user EMAIL --name NAME.",
    "import-work": "Import work items from a CSV file: relaydesk import-work FILE --client SLUG.",
    "ingest-mail": "Take in e-mail: relaydesk ingest-mail --maildir PATH | --imap URL.",
    "keys": (
        "Document keys: relaydesk keys status | rotate --new-key-file PATH | new --out PATH"
        " | encrypt-legacy [--dry-run]."
    ),
    "purge": (
        "Delete documents past their retention now (the worker does it daily):"
        " relaydesk purge [--dry-run]."
    ),
    "export-client": "Export a client's data: relaydesk export-client SLUG --out FILE.zip.",
    "grant-app-role": "PostgreSQL: give the app's own role its rights (run as the owner).",
    "rebuild-measures": "Replay every item's dashboard measures from its timeline (repair).",
    "send-digests": "Send the notification digests that are due (run often: one a day each).",
    "send-reports": "Build and e-mail the scheduled engagement reports that are due.",
}

_DJANGO_NAMES = {
    "worker": "db_worker",
    "import-work": "import_work",
    "ingest-mail": "ingest_mail",
    "demo-code": "demo_code",
    "export-client": "export_client",
    "grant-app-role": "grant_app_role",
    "rebuild-measures": "rebuild_measures",
    "send-digests": "send_digests",
    "send-reports": "send_reports",
}


def _usage() -> str:
    lines = ["usage: relaydesk COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<14} {text}" for name, text in SUBCOMMANDS.items()]
    lines += ["", "Any other Django management command works too (relaydesk check, ...)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``relaydesk`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relaydesk.config.settings")
    from django.core.management import execute_from_command_line

    command, rest = args[0], args[1:]
    if command not in {"serve", "runserver"}:
        # The operator and the worker act for the provider; web requests carry their own scope.
        from relaydesk.tenancy.rowsecurity import trust_this_process

        trust_this_process()
    if command == "serve":
        host = os.environ.get("HOST", "127.0.0.1")
        port = os.environ.get("PORT", "8000")
        addr = next((a for a in rest if not a.startswith("-")), f"{host}:{port}")
        flags = [a for a in rest if a.startswith("-")]
        execute_from_command_line(["relaydesk", "runserver", addr, "--noreload", *flags])
        return
    if command == "worker":
        rest = ["--queue-name", "*", *rest] if "--queue-name" not in rest else rest
    execute_from_command_line(["relaydesk", _DJANGO_NAMES.get(command, command), *rest])


if __name__ == "__main__":
    main()
