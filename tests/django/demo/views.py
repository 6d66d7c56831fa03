"""Views the tests call on Django directly (not through ringpin) to publish and to kick, and the
page a browser loads through ringpin (tests/e2e/browser.rs)."""
import json
from pathlib import Path

from django.http import HttpResponse
from django_eventstream import send_event
from django_eventstream.eventstream import channel_permission_changed
from django_eventstream.utils import get_storage

from .channels import DENIED


def send(request):
    """GET /send/?channel=C&text=T: one stored event of type "message", published at once."""
    channel = request.GET["channel"]
    send_event(channel, "message", {"text": request.GET["text"]}, async_publish=False)
    return HttpResponse("sent\n", content_type="text/plain")


def store(request):
    """GET /store/?channel=C&text=T: an event stored as /send/ stores it, but not published, as if
    its publish had been lost: a client gets it only by resuming with Last-Event-ID."""
    channel = request.GET["channel"]
    get_storage().append_event(channel, "message", json.dumps({"text": request.GET["text"]}))
    return HttpResponse("stored\n", content_type="text/plain")


def kick(request):
    """GET /kick/?channel=C: revoke read access to C, which kicks every anonymous stream on it."""
    channel = request.GET["channel"]
    DENIED.add(channel)
    channel_permission_changed(None, channel)
    return HttpResponse("kicked\n", content_type="text/plain")


def eventsource_page(request):
    """GET /eventsource/: an HTML page whose EventSource follows channel "test"."""
    page = Path(__file__).with_name("eventsource.html").read_text(encoding="utf-8")
    return HttpResponse(page, content_type="text/html; charset=utf-8")
