"""People who sign in to Relaydesk, and their personal API tokens."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone

from relaydesk.core.roles import CLIENT_ROLES, Role

ROLE_CHOICES = [(role.value, role.label) for role in Role]


class UserManager(BaseUserManager["User"]):
    """Creates users keyed by e-mail address."""

    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        """Create a user; ``role`` defaults to client member only when a client is given."""
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        """Create a provider admin who may also use the back office."""
        fields.setdefault("role", Role.PROVIDER_ADMIN.value)
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: one of the provider's staff, or a user of exactly one client.

    Client roles (client admin, client member) must name their client; provider
    roles must not. ``time_zone`` is where the person reads local times.
    """

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150)
    role = models.CharField(max_length=32, choices=ROLE_CHOICES)
    client = models.ForeignKey(
        "clients.Client",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text="Required for client admins and members; empty for provider staff.",
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="May sign in to the back office (Django admin)."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["full_name"]

    class Meta:
        ordering = ["full_name", "email"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(role__in=sorted(r.value for r in CLIENT_ROLES), client__isnull=False)
                    | (~Q(role__in=sorted(r.value for r in CLIENT_ROLES)) & Q(client__isnull=True))
                ),
                name="user_client_matches_role",
                violation_error_message=(
                    "Client admins and members belong to exactly one client; "
                    "provider staff belong to none."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email

    @property
    def role_enum(self) -> Role:
        """The role as the core enum."""
        return Role(self.role)

    @property
    def is_client_user(self) -> bool:
        """True for a client's own staff."""
        return self.role_enum in CLIENT_ROLES

    @property
    def is_provider_staff(self) -> bool:
        """True for the provider's people."""
        return not self.is_client_user

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name or self.email).split(" ")[0]


class ApiToken(models.Model):
    """A personal API token for programs (``Authorization: Bearer …``).

    Only a SHA-256 digest of the token is stored; the token itself is shown
    once, when it is created. A token acts with its owner's permissions.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=16, help_text="The token's first characters, to tell it apart."
    )
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        """True while the token is neither revoked nor expired."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class SignInEvent(models.Model):
    """One sign-in, failed attempt, lockout or timeout, as the person sees it in their history.

    Written by the receivers in ``accounts.receivers``; never holds a password or a code.
    The audit trail keeps its own records of the same moments for the provider.
    """

    class Kind(models.TextChoices):
        SIGNED_IN = "signed_in", "Signed in"
        FAILED = "failed", "Failed attempt"
        LOCKED_OUT = "locked_out", "Locked out"
        TIMED_OUT = "timed_out", "Signed out (timeout)"

    class Method(models.TextChoices):
        PASSWORD = "password", "Password"
        MFA = "mfa", "Password and authenticator"
        SSO = "sso", "Single sign-on"
        UNKNOWN = "", "—"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sign_in_events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    method = models.CharField(max_length=16, choices=Method.choices, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["user", "-at"], name="sign_in_event_user_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.user} · {self.at:%Y-%m-%d %H:%M}"


class ClientSSO(models.Model):
    """A client's single sign-on: its OpenID Connect app and the e-mail domains it vouches for.

    Signing in through ``app`` only ever reaches users of ``client`` whose address
    is in ``domains``; new users are created (as client members) only when
    ``allow_signup`` is on.
    """

    client = models.OneToOneField("clients.Client", on_delete=models.CASCADE, related_name="sso")
    app = models.OneToOneField(
        "socialaccount.SocialApp",
        on_delete=models.CASCADE,
        related_name="client_sso",
        help_text="An OpenID Connect app set up under Social applications.",
    )
    domains = models.JSONField(
        default=list, help_text='E-mail domains of the client\'s users, e.g. ["alpha-law.com"].'
    )
    allow_signup = models.BooleanField(
        default=False,
        help_text="Create an account (client member) for a new address from these domains.",
    )

    class Meta:
        verbose_name = "client single sign-on"

    def __str__(self) -> str:
        return f"{self.client} via {self.app}"

    def clean(self) -> None:
        """Refuse an app that is not OpenID Connect, and a domain another client claims."""
        from django.core.exceptions import ValidationError

        if self.app_id and self.app.provider != "openid_connect":
            raise ValidationError({"app": "Choose an OpenID Connect app."})
        if not isinstance(self.domains, list) or not all(
            isinstance(d, str) and "." in d for d in self.domains
        ):
            raise ValidationError({"domains": 'List domains, such as ["alpha-law.com"].'})
        self.domains = sorted({d.strip().lower() for d in self.domains})
        for other in ClientSSO.objects.exclude(pk=self.pk):
            taken = set(self.domains) & {d.lower() for d in other.domains}
            if taken:
                raise ValidationError(
                    {"domains": f"{', '.join(sorted(taken))} already belongs to {other.client}."}
                )

    def covers(self, email: str) -> bool:
        """True when ``email`` is at one of the client's domains."""
        domain = email.rpartition("@")[2].strip().lower()
        return bool(domain) and domain in {d.strip().lower() for d in self.domains}
