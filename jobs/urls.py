from django.urls import path

from jobs import views

urlpatterns = [
    path("api/projects/<str:project_id>/jobs", views.project_jobs, name="project-jobs"),
    path("api/projects/<str:project_id>/jobs/demo", views.start_demo_job, name="project-demo-job"),
]
