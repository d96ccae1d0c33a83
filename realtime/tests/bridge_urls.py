"""The project's URLs plus a test-only view; used only by tests, through
`override_settings(ROOT_URLCONF="realtime.tests.bridge_urls")`."""

from django.urls import path

from project.urls import urlpatterns as project_urlpatterns
from realtime.tests.test_bridge_support import send_in_a_transaction

urlpatterns = [
    path("test-only/bridge/send-in-a-transaction", send_in_a_transaction),
    *project_urlpatterns,
]
