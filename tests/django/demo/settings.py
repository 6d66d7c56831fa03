"""Settings of the smallest Django project that streams django-eventstream events through ringpin.

Environment (set by tests/e2e/django_eventstream.rs):
  RINGPIN_PUBLISH_URI  ringpin's publish endpoint, e.g. http://127.0.0.1:5561
  RINGPIN_DJANGO_DB    path of the sqlite database (default: db.sqlite3 beside manage.py)
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "ringpin-test-project-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_eventstream",
]

# GripMiddleware checks Grip-Sig and turns the view's instructions into Grip-* headers.
MIDDLEWARE = ["django_grip.GripMiddleware"]

ROOT_URLCONF = "demo.urls"
WSGI_APPLICATION = "demo.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("RINGPIN_DJANGO_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True

# ringpin: publish to its endpoint; requests signed with ringpin's default key count as proxied.
GRIP_PROXIES = [
    {
        "control_uri": os.environ.get("RINGPIN_PUBLISH_URI", "http://127.0.0.1:5561"),
        "key": "changeme",
    }
]

# Events are stored, so a client that reconnects with Last-Event-ID gets what it missed.
EVENTSTREAM_STORAGE_CLASS = "django_eventstream.storage.DjangoModelStorage"
EVENTSTREAM_CHANNELMANAGER_CLASS = "demo.channels.ChannelManager"

LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
