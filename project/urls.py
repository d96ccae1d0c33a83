from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import views as account_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/auth/token", account_views.token, name="api-token"),
    path("", include("realtime.urls")),  # healthz, the AsyncAPI document and page, test-event
    path("", include("jobs.urls")),
    path("", include("automation.urls")),
    path("", include("billing.urls")),
    path("", include("notifications.urls")),
    path("", include("ops.urls")),
]

handler400 = "project.errors.bad_request"
handler403 = "project.errors.permission_denied"
handler404 = "project.errors.not_found"
handler500 = "project.errors.server_error"
