"""Settings, all read from the environment (twelve-factor) with embedded defaults.

With no environment at all the product runs on SQLite and a filesystem message broker,
so `make run` needs no server. Production sets DATABASE_URL, CELERY_BROKER_URL or
REDIS_URL, SECRET_KEY, DEBUG=off and ALLOWED_HOSTS; with DEBUG off the secure defaults below
(HTTPS redirect, HSTS, secure cookies) are on, and `manage.py check --deploy` is clean
(tests/test_deploy_check.py). See README, "Run in production".
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="insecure-development-key-change-me")
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "helpdesk.apps.AdminConfig",  # django.contrib.admin, its modules read with the URLs
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "csp",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "recurrence",
    "agents",
    "tickets",
    "calendars",
    "integrations",
]

MIDDLEWARE = [
    # First: it sees every layer's answer and turns Django's HTML error pages under /api/ into JSON.
    "helpdesk.middleware.ApiErrorsAsJson",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "helpdesk.middleware.AgentTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it answers a locked-out login.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out user is refused before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Failed logins (django-axes): after AXES_FAILURE_LIMIT failures for one user name from one
# address, that pair is locked out for AXES_COOLOFF_HOURS; a good login resets the count.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Axes prints a banner on every process start (every manage.py command, every worker).
AXES_VERBOSE = False
# Behind a reverse proxy the client's address is in X-Forwarded-For: say how many proxies.
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

# Content-Security-Policy (django-csp): scripts and everything else only from this site. Styles
# also allow inline style attributes: the technicians' colours (style="--chip: ...") and the
# calendar widget set them; no inline script runs (page behaviours are in static/helpdesk.js).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "helpdesk.urls"

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
                "integrations.context_processors.sync_badge",
            ],
        },
    },
]

WSGI_APPLICATION = "helpdesk.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("init_command", "PRAGMA journal_mode=WAL;")
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    # No statement cache (sqlite3's default keeps the last 128 statements prepared): the bulk
    # writes of an import are multi-row INSERTs of a new shape per batch, thousands of
    # placeholders each, and the cache kept up to 17 MiB of them prepared to the end of the
    # process, unused (issue 14: a 5,000-entry import's peak). Preparing a
    # statement again costs SQLite microseconds; the import's and the poll's CPU time did not
    # change. PostgreSQL has no such option and is unaffected.
    DATABASES["default"]["OPTIONS"].setdefault("cached_statements", 0)
else:
    # Kept open between tasks and requests (a new PostgreSQL connection is a server process started
    # and its caches filled: ~10 ms of a 100 ms pull), checked before each task or request reuses
    # it. DATABASE_URL's ?conn_max_age= wins; 0 opens one per task and request again.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=300))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _redis_database_for_worker(url: str, worker: str) -> str:
    """`url` with its database number moved to 10 + the pytest-xdist worker's number ("gw1" -> 11),
    counted from the URL's own (Redis has databases 0-15): clear of the 0-9 a developer's runs use."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base + 10 + int(worker.removeprefix('gw'))) % 16}"))


REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL and env("PYTEST_XDIST_WORKER", default=""):
    # `make test` runs the suite in parallel (pytest-xdist): each worker (gw0, gw1 ...) takes a
    # Redis database of its own, as it has a test database of its own, so one worker's cache,
    # locks and Celery queue never meet the other's.
    REDIS_URL = _redis_database_for_worker(REDIS_URL, env("PYTEST_XDIST_WORKER"))
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # The feed keeps one fragment per entry (calendars.feeds): room for large calendars.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 100_000}}
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
# Django's en_GB formats with the 24-hour clock (helpdesk/formats/en_GB/formats.py)
FORMAT_MODULE_PATH = ["helpdesk.formats"]
TIME_ZONE = env("TIME_ZONE", default="Europe/Amsterdam")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # The calendar widget, served straight from the npm package (`npm ci`), never copied in.
    ("event-calendar", BASE_DIR / "node_modules" / "@event-calendar" / "build" / "dist"),
]

# Dates accepted from people and integrators (helpdesk/limits.py): far enough from datetime's
# ends (years 1 and 9999) that adding an estimate, a time zone or a year of occurrences never overflows.
SUPPORTED_FIRST_YEAR = env.int("SUPPORTED_FIRST_YEAR", default=1900)
SUPPORTED_LAST_YEAR = env.int("SUPPORTED_LAST_YEAR", default=2199)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# E-mail: the console by default; SMTP with EMAIL_URL=smtp+tls://user:password@host:587
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="helpdesk@localhost")

# Celery: a filesystem broker needs no server; Redis (or RabbitMQ) when configured.
# A host in the filesystem URL (kombu ignores it) spares the worker kombu's "No hostname was supplied".
# A `filesystem://` URL is served by helpdesk/broker.py (scheme `helpdesk-filesystem://`): kombu's
# own transport lets a worker read a message file before it is written and stop (trial F2).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost//")
if CELERY_BROKER_URL in ("filesystem://", "filesystem:///"):
    CELERY_BROKER_URL = "filesystem://localhost//"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_URL = "helpdesk-filesystem://" + CELERY_BROKER_URL.removeprefix("filesystem://")
if CELERY_BROKER_URL.startswith("helpdesk-filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # kombu's exchange table; by default a "control" folder in whatever directory a process starts in.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # Message files that are not messages: kept here and logged, not fatal (helpdesk/broker.py).
        "unreadable_folder": str(_broker_dir / "unreadable"),
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection around every task unless this is set; with
# it, a connection serves up to this many tasks, within CONN_MAX_AGE and checked before each task
# (helpdesk/celery.py). With CONN_MAX_AGE 0, every task still gets its own.
CELERY_DB_REUSE_MAX = 1000
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Loaded into django-celery-beat's tables on start; admins change the intervals there.
CELERY_BEAT_SCHEDULE = {
    # The sync log's retention is a calendar setting (days, in admin).
    "prune-sync-log": {
        "task": "integrations.tasks.prune_sync_log",
        "schedule": 24 * 60 * 60,
    },
    "extend-recurring-appointments": {
        "task": "calendars.tasks.extend_recurring_appointments",
        "schedule": 6 * 60 * 60,
    },
    # Pull every connected external calendar; admins change the interval in Periodic tasks.
    # Create missing Microsoft 365 change-notification subscriptions, renew those that expire soon.
    "renew-graph-subscriptions": {
        "task": "integrations.tasks.renew_graph_subscriptions",
        "schedule": 60 * 60,
    },
    "sync-calendars": {
        "task": "integrations.tasks.sync_all_calendars",
        "schedule": env.int("SYNC_PULL_SECONDS", default=5 * 60),
    },
    # Google push channels last about a week: renew them a day before they end (off without PUBLIC_SITE_URL).
    "renew-google-channels": {
        "task": "integrations.tasks.renew_google_channels",
        "schedule": 60 * 60,
    },
}

# Calendar sync. Secrets at rest are encrypted with CREDENTIALS_KEY (a Fernet key); when unset, a
# key is derived from SECRET_KEY (fine for development; set your own in production).
CREDENTIALS_KEY = env("CREDENTIALS_KEY", default="")
SYNC_LOCK_SECONDS = env.int("SYNC_LOCK_SECONDS", default=600)
SYNC_RETRY_ATTEMPTS = env.int("SYNC_RETRY_ATTEMPTS", default=4)
SYNC_RETRY_BASE_DELAY = env.float("SYNC_RETRY_BASE_DELAY", default=0.5)
SYNC_RETRY_MAX_DELAY = env.float("SYNC_RETRY_MAX_DELAY", default=30.0)
# A server's back-off (Retry-After, ErrorServerBusy) up to this many seconds is waited out in the
# worker; a longer one reschedules the entry or the calendar instead of holding the worker.
SYNC_MAX_INLINE_WAIT = env.float("SYNC_MAX_INLINE_WAIT", default=5.0)
SYNC_FULL_RESYNC_HOURS = env.float("SYNC_FULL_RESYNC_HOURS", default=24)
# A calendar whose pull failed is not pulled again before BASE x 2^(failures - 1) seconds, at most
# MAX; the next good pull resets it (integrations/sync/schedule.py).
SYNC_BACKOFF_BASE_SECONDS = env.float("SYNC_BACKOFF_BASE_SECONDS", default=5 * 60)
SYNC_BACKOFF_MAX_SECONDS = env.float("SYNC_BACKOFF_MAX_SECONDS", default=60 * 60)
# The Prometheus scrape of /metrics sends "Authorization: Bearer <METRICS_TOKEN>"; empty: staff only.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# What one external entry may cost (integrations/sync/limits.py): a series finer than daily or with
# a runaway COUNT is kept as its first N occurrences; one sync makes at most so many occurrences
# (the rest come at the next pull); longer descriptions are cut with a note; larger objects are
# not imported. The external calendar always keeps its entries whole.
SYNC_MAX_OCCURRENCES_PER_SERIES = env.int("SYNC_MAX_OCCURRENCES_PER_SERIES", default=1000)
SYNC_MAX_OCCURRENCES_PER_SYNC = env.int("SYNC_MAX_OCCURRENCES_PER_SYNC", default=20_000)
SYNC_MAX_BODY_CHARS = env.int("SYNC_MAX_BODY_CHARS", default=20_000)
SYNC_MAX_OBJECT_BYTES = env.int("SYNC_MAX_OBJECT_BYTES", default=10 * 1024 * 1024)
# Other tools' extended properties on Microsoft 365 and Exchange entries (a booking tool's, a CRM's)
# that the new half of a "this and following" split keeps, as Outlook's own split does. Neither
# Graph nor EWS lists an entry's extended properties: each is read only when asked for by its id,
# so they are named here, comma-separated, in Graph's id form (a made-up CRM's
# "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name CrmCaseId", "StringArray {guid} Name Tags",
# "Integer {guid} Id 0x1234"; EWS reads the same property). Only another tool's own properties, in
# its own property set: ones the helpdesk or Exchange owns (subject, body, the appointment, meeting
# and common property sets, our own link id) are refused, as are types Graph and EWS do not share.
SYNC_KEPT_EXTENDED_PROPERTIES = env.list("SYNC_KEPT_EXTENDED_PROPERTIES", default=[])
# The site's public https address (https://helpdesk.example.com). With it, Microsoft 365 calendars get
# change notifications at <PUBLIC_SITE_URL>/integrations/graph/notify/ and Google calendars push
# channels at <PUBLIC_SITE_URL>/integrations/google/notify/ (hints to pull early; polling stays the
# safety net). Empty: no notifications.
PUBLIC_SITE_URL = env("PUBLIC_SITE_URL", default="")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # django-rest-knox: only a hash of each token is stored; "Authorization: Token <token>".
        # The same, answering in the signed-in technician's zone (see helpdesk.api_auth).
        "helpdesk.api_auth.AgentZoneTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "helpdesk.api_schema.HelpdeskAutoSchema",
    # DRF's, plus a body over DATA_UPLOAD_MAX_MEMORY_SIZE as a JSON 400 (not Django's HTML page).
    "EXCEPTION_HANDLER": "helpdesk.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "DESCRIPTION": "Requests, actions, technicians and their appointments.",
    "VERSION": "1.0.0",
    # Swagger UI served from the installed package, so /api/docs/ works without a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # A name that says what the values are, rather than a generic "StateEnum".
    "ENUM_NAME_OVERRIDES": {"ExternalCalendarStateEnum": "integrations.selectors.ExternalCalendarState"},
}

# Port of the demo CalDAV server (`make run`, `manage.py demo_radicale`, Procfile's radicale), on 127.0.0.1.
DEMO_CALDAV_PORT = env.int("DEMO_CALDAV_PORT", default=5232)

# API tokens (django-rest-knox) for integrators: no expiry unless API_TOKEN_TTL_DAYS is set.
_token_days = env.int("API_TOKEN_TTL_DAYS", default=0)
REST_KNOX = {"TOKEN_TTL": timedelta(days=_token_days) if _token_days else None, "AUTO_REFRESH": False}

# --- production: HTTPS and cookies. On by default whenever DEBUG is off. ------------------------
# Behind a reverse proxy that terminates TLS, set SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO
# (the proxy must set that header and strip it from clients), so links built here are https://.
_proxy_header = env("SECURE_PROXY_SSL_HEADER", default="")
SECURE_PROXY_SSL_HEADER = (_proxy_header, "https") if _proxy_header else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Health checks from the proxy or orchestrator may come over plain HTTP.
SECURE_REDIRECT_EXEMPT = env.list("SECURE_REDIRECT_EXEMPT", default=[])
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every line in UTC with the zone shown (helpdesk/logs.py); Celery uses this too.
    "formatters": {"utc": {"()": "helpdesk.logs.UTCFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "utc"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # runserver's request lines, in the same format and clock instead of Django's own.
    "loggers": {"django.server": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
