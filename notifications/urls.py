from django.urls import path

from notifications import views

urlpatterns = [
    path("api/notifications", views.notification_list, name="notification-list"),
    path("api/notifications/<int:notification_id>/read", views.notification_read, name="notification-read"),
]
