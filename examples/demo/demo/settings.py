"""Settings of the demo project: two apps, on SQLite by default.

When DATABASE_URL is set (postgresql://user:password@host:port/dbname, a unix socket as
host=/path in the query or %2F-escaped), the project uses PostgreSQL through psycopg instead;
platform-migrate's prod environment hands it that variable from a secret.
"""
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "demo-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = []
INSTALLED_APPS = ["users", "orders"]
MIDDLEWARE = []
ROOT_URLCONF = "demo.urls"


def postgres(url):
    """Django's DATABASES entry for a postgresql:// URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL scheme {parts.scheme!r} is not postgresql://")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    # urlsplit cannot read an empty host with a port, so take the netloc apart by hand.
    hostport = parts.netloc.rpartition("@")[2]
    host, _, port = hostport.partition(":") if not hostport.startswith("[") else (hostport, "", "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": query.get("host", unquote(host)),
        "PORT": query.get("port", port),
    }


if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": postgres(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
