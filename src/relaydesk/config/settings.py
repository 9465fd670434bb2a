"""Relaydesk settings, read from the environment (django-environ).

``DATABASE_URL`` picks the database (SQLite in ``var/`` by default),
``SECRET_KEY`` signs sessions (generated into ``var/`` on first run), and
``RELAYDESK_ENV=production`` turns on the production settings.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from pathlib import Path

import environ
from django.utils.csp import CSP

env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.str("RELAYDESK_VAR_DIR", default=str(Path.cwd() / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

RELAYDESK_ENV = env.str("RELAYDESK_ENV", default="development")
PRODUCTION = RELAYDESK_ENV == "production"
DEBUG = env.bool("DEBUG", default=not PRODUCTION)


def _secret_key() -> str:
    """The SECRET_KEY from the environment, else one generated once into var/."""
    if env.str("SECRET_KEY", default=""):
        return env.str("SECRET_KEY")
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # serves the API docs' Swagger UI from our own static files, not a CDN
    "django_tasks_db",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "axes",
    "relaydesk.audit",
    "relaydesk.accounts",
    "relaydesk.catalog",
    "relaydesk.clients",
    "relaydesk.workforce",
    "relaydesk.work",
    "relaydesk.routing",
    "relaydesk.sla",
    "relaydesk.quality",
    "relaydesk.notifications",
    "relaydesk.insights",
    "relaydesk.vault",
    "relaydesk.retention",
    "relaydesk.mailintake",
    "relaydesk.webhooks",
    "relaydesk.tenancy",
    "relaydesk.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "relaydesk.web.RequestAddressMiddleware",
    "relaydesk.web.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # One transaction per request on PostgreSQL, under the person's row-security scope.
    "relaydesk.tenancy.middleware.RowSecurityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "relaydesk.accounts.middleware.SessionTimeoutMiddleware",
    "relaydesk.accounts.middleware.MfaRequiredMiddleware",
    "axes.middleware.AxesMiddleware",
    "relaydesk.accounts.middleware.UserTimeZoneMiddleware",
]

ROOT_URLCONF = "relaydesk.config.urls"
WSGI_APPLICATION = "relaydesk.config.wsgi.application"
ASGI_APPLICATION = "relaydesk.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "relaydesk.accounts.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'relaydesk.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at
    # the start of a transaction so two writers queue instead of failing midway.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
    }
    # Tests use a file (the live server's thread needs its own connection to it), one per
    # test process so parallel runs never share one.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"relaydesk-test-{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    # First: refuses every attempt while an e-mail + address pair is locked out (django-axes).
    "relaydesk.accounts.backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "relaydesk.accounts.adapters.InvitationOnlyAccountAdapter"
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_GET = False
# Lockout is django-axes' job (below); allauth's own per-address limit stays as a looser
# second wall, and its limit on wrong authenticator codes uses the same setting.
ACCOUNT_RATE_LIMITS = {"login_failed": "20/m/ip,10/15m/key"}

# Two-factor sign-in (allauth.mfa): an authenticator app (TOTP) and recovery codes.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Relaydesk"
MFA_ADAPTER = "relaydesk.accounts.adapters.RelaydeskMFAAdapter"
# Accounts are created by admins (sign-up is closed), so no address awaits verification.
MFA_ALLOW_UNVERIFIED_EMAIL = True
# Provider staff must use two-factor sign-in; clients choose for their own users.
RELAYDESK_REQUIRE_MFA_FOR_PROVIDER = env.bool("RELAYDESK_REQUIRE_MFA_FOR_PROVIDER", default=True)

# Single sign-on per client through OpenID Connect; apps are set up in the back office.
SOCIALACCOUNT_ADAPTER = "relaydesk.accounts.adapters.ClientSSOAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False

# Sessions end after RELAYDESK_SESSION_IDLE_MINUTES without a request, and
# RELAYDESK_SESSION_MAX_HOURS after sign-in whatever happens.
RELAYDESK_SESSION_IDLE_MINUTES = env.int("RELAYDESK_SESSION_IDLE_MINUTES", default=30)
RELAYDESK_SESSION_MAX_HOURS = env.int("RELAYDESK_SESSION_MAX_HOURS", default=12)
SESSION_COOKIE_AGE = RELAYDESK_SESSION_MAX_HOURS * 60 * 60

# Lockout after repeated wrong passwords (django-axes): 5 failures for one e-mail address
# from one address lock that pair out for 15 minutes, even for the right password.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "login"  # allauth's sign-in field
AXES_USERNAME_CALLABLE = "relaydesk.accounts.backends.attempted_username"
AXES_CLIENT_IP_CALLABLE = "relaydesk.web.client_ip"
AXES_LOCKOUT_CALLABLE = "relaydesk.accounts.views.locked_out"
AXES_RESET_ON_SUCCESS = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve straight from the apps' static folders, so no collectstatic step is needed to run.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Plain names served by WhiteNoise from the apps' folders: nothing to collect first.
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# The API's rate counters (relaydesk.throttling) live here. One process: memory is
# enough. Several processes or machines need a shared cache, or each counts alone:
# RELAYDESK_CACHE_URL=dbcache://relaydesk_cache, then `relaydesk createcachetable`
# (see docs/security.md).
CACHES = {"default": env.cache_url("RELAYDESK_CACHE_URL", default="locmemcache://relaydesk")}
# Per personal token, else per signed-in user; and per address for failed sign-ins.
RELAYDESK_API_RATE = env.str("RELAYDESK_API_RATE", default="600/m")
RELAYDESK_API_ANON_RATE = env.str("RELAYDESK_API_ANON_RATE", default="60/m")

TASKS = {
    "default": {
        "BACKEND": env.str("RELAYDESK_TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# Push on arrival: an item entering the queue goes at once to a ready agent, and an
# agent who becomes available (or free) gets the next items; off, work waits for
# "Get next" or the next `relaydesk route` run (see docs/operations.md).
RELAYDESK_PUSH_ON_ARRIVAL = env.bool("RELAYDESK_PUSH_ON_ARRIVAL", default=False)

# Minutes the next shift's agent has, after they can start, to acknowledge a handoff
# before the item goes back to the front of the queue and the lead is alerted.
RELAYDESK_HANDOFF_ACK_MINUTES = env.int("RELAYDESK_HANDOFF_ACK_MINUTES", default=30)


def _mailer(url: str, mail_dir: Path, production: bool) -> dict[str, object]:
    """The default mailer from an e-mail URL (django-environ's syntax), or the fallback."""
    if not url:
        if production:
            return {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "localhost", "port": 25, "timeout": 10},
            }
        return {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(mail_dir)},
        }
    parsed = environ.Env.email_url_config(url)
    backend = parsed["EMAIL_BACKEND"]
    if not backend.endswith("smtp.EmailBackend"):
        return {"BACKEND": backend}
    return {
        "BACKEND": backend,
        "OPTIONS": {
            "host": parsed["EMAIL_HOST"] or "localhost",
            "port": parsed["EMAIL_PORT"] or 25,
            "username": parsed["EMAIL_HOST_USER"] or "",
            "password": parsed["EMAIL_HOST_PASSWORD"] or "",
            "use_tls": bool(parsed.get("EMAIL_USE_TLS")),
            "use_ssl": bool(parsed.get("EMAIL_USE_SSL")),
            "timeout": 10,  # a slow mail server never holds a request for long
        },
    }


# Outgoing e-mail (notifications, docs/notifications.md): EMAIL_URL such as
# smtp+tls://user:password@mail.example.com:587 (smtp://, smtps://, smtp+ssl://). Without it,
# development writes each message as a file into var/mail/ and production hands it to the
# SMTP server on localhost:25.
MAILERS = {"default": _mailer(env.str("EMAIL_URL", default=""), VAR_DIR / "mail", PRODUCTION)}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Relaydesk <relaydesk@localhost>")

# Largest attachment accepted, in bytes.
RELAYDESK_MAX_UPLOAD_BYTES = env.int("RELAYDESK_MAX_UPLOAD_BYTES", default=25 * 1024 * 1024)
# Webhooks (docs/webhooks.md): the address work-item links in events start with, and whether
# endpoints on this server itself (http://127.0.0.1, localhost) are accepted, for testing.
RELAYDESK_BASE_URL = env.str("RELAYDESK_BASE_URL", default="http://127.0.0.1:8000")
RELAYDESK_WEBHOOK_ALLOW_LOOPBACK = env.bool(
    "RELAYDESK_WEBHOOK_ALLOW_LOOPBACK", default=not PRODUCTION
)
# E-mail intake (relaydesk ingest-mail, docs/mail-intake.md): the domain of every intake
# address, the largest message taken in, and the authserv-id of the provider's own mail
# server in Authentication-Results (empty: senders' addresses are not verified).
RELAYDESK_INTAKE_DOMAIN = env.str("RELAYDESK_INTAKE_DOMAIN", default="intake.relaydesk.test")
RELAYDESK_MAX_MAIL_BYTES = env.int("RELAYDESK_MAX_MAIL_BYTES", default=40 * 1024 * 1024)
RELAYDESK_INTAKE_AUTHSERV_ID = env.str("RELAYDESK_INTAKE_AUTHSERV_ID", default="")
# The master key that wraps every client's document key: RELAYDESK_MASTER_KEY (base64, read
# by relaydesk.vault.keys, never kept in settings) or this file, generated on first use.
RELAYDESK_MASTER_KEY_FILE = env.str(
    "RELAYDESK_MASTER_KEY_FILE", default=str(VAR_DIR / "master.key")
)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Scripts and styles only from our own origin or carrying this response's nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Every handler carries "redact" (relaydesk.logging): no secret reaches a log.
    "filters": {"redact": {"()": "relaydesk.logging.RedactSecrets"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Replaces Django's own handlers (unfiltered) for django.request, django.server, ...
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # django-axes logs every sign-in at INFO; lockouts are WARNING.
        "axes": {"level": "WARNING"},
    },
}
