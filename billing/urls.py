from django.urls import path

from billing import views

urlpatterns = [
    path("api/jobs/apply", views.apply_for_job, name="jobs-apply"),
    path("api/jobs/openings", views.job_openings, name="job-openings"),
    path("api/bank/<str:username>", views.bank_account, name="bank-account"),
    path("api/bank/<str:username>/make_payment", views.make_payment, name="bank-make-payment"),
    path("api/balancesheet/<str:username>/liability/update", views.update_liability, name="liability-update"),
    path("api/billing/subscription", views.subscription, name="billing-subscription"),
]
