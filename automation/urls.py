from django.urls import path

from automation import views

urlpatterns = [
    path("runs/", views.run_list, name="run-list"),
    path("runs/<int:run_id>/", views.run_page, name="run-page"),
    path("start-automation", views.start_automation, name="start-automation"),
    path("api/automation/<int:run_id>", views.run_state, name="automation-state"),
    path("api/automation/<int:run_id>/<str:action>", views.run_action, name="automation-action"),
    path("api/provisioning", views.start_provisioning, name="provisioning-start"),
    path("api/provisioning/<int:job_id>", views.provisioning_state, name="provisioning-state"),
]
