from django.urls import path

from ops import views

urlpatterns = [
    path("api/stats", views.stats_view, name="ops-stats"),
    path("metrics", views.metrics_view, name="ops-metrics"),
]
