"""ASGI entry point for Relaydesk."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relaydesk.config.settings")
application = get_asgi_application()
