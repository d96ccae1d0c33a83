"""The package's HTTP paths (a host includes them: `path("", include("realtime.urls"))`)."""

from django.urls import path

from realtime import diagnostics, views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("api/realtime/asyncapi.json", views.asyncapi_view, name="realtime-asyncapi"),
    path("docs/events/", views.events_docs, name="realtime-events-docs"),
    path("api/realtime/test-event", diagnostics.test_event_view, name="realtime-test-event"),
]
