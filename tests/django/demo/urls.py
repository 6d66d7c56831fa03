"""URL map: the event stream at /events/ (?channel=C), the tests' /send/, /store/ and /kick/,
and the browser's page at /eventsource/."""
import django_eventstream
from django.urls import include, path

from . import views

urlpatterns = [
    path("events/", include(django_eventstream.urls)),
    path("send/", views.send),
    path("store/", views.store),
    path("kick/", views.kick),
    path("eventsource/", views.eventsource_page),
]
