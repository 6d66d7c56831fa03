"""URL map: the event stream at /events/ (?channel=C), and the test's /send/ and /kick/."""
import django_eventstream
from django.urls import include, path

from . import views

urlpatterns = [
    path("events/", include(django_eventstream.urls)),
    path("send/", views.send),
    path("kick/", views.kick),
]
