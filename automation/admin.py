"""Ops views of runs, tickers, publications and provisioning jobs, with actions that go through
the same services as the pages and the Socket.IO handlers. Controlling a run needs the change
permission on runs, provisioning needs the add permission on provisioning jobs: view-only staff
can look, not act."""

from __future__ import annotations

from django.contrib import admin, messages

from automation import provisioning, services
from automation.models import AutomationRun, ProvisioningJob, Publication, PublishingProfile, TickerState


class TickerStateInline(admin.TabularInline):
    model = TickerState
    extra = 0
    can_delete = False
    fields = ("position", "ticker", "status", "published_id", "published_at", "attempts", "error")
    readonly_fields = fields


def _each(modeladmin, request, queryset, action, verb: str) -> None:
    done, refused = 0, []
    for run in queryset:
        try:
            action(run=run, by=request.user)
            done += 1
        except services.AutomationError as exc:
            refused.append(f"#{run.pk}: {exc}")
    if done:
        modeladmin.message_user(request, f"{verb}: {done} run(s)", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.WARNING)


@admin.action(description="Pause selected runs", permissions=["change"])
def pause_runs(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, services.request_pause, "Pause requested")


@admin.action(description="Resume selected runs", permissions=["change"])
def resume_runs(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, services.resume, "Resumed")


@admin.action(description="Cancel selected runs", permissions=["change"])
def cancel_runs(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, services.cancel, "Cancel requested")


@admin.action(description="Retry failed tickers of selected runs", permissions=["change"])
def retry_runs(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, services.retry_failed, "Retrying")


@admin.action(description="Resend the final state to the owner", permissions=["change"])
def resend_final_state(modeladmin, request, queryset):
    sent = sum(services.resend_final_state(run=run) for run in queryset)
    modeladmin.message_user(request, f"Final state sent for {sent} finished run(s)", messages.SUCCESS)


@admin.register(AutomationRun)
class AutomationRunAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "status", "requested", "stage", "percent", "message", "created_at", "finished_at")
    list_filter = ("status", "stage")
    search_fields = ("id", "owner__username", "message", "error", "ticker_states__ticker")
    readonly_fields = [f.name for f in AutomationRun._meta.fields]
    inlines = [TickerStateInline]
    actions = [pause_runs, resume_runs, cancel_runs, retry_runs, resend_final_state]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(TickerState)
class TickerStateAdmin(admin.ModelAdmin):
    list_display = ("ticker", "run", "status", "published_id", "published_at", "attempts", "error")
    list_filter = ("status",)
    search_fields = ("ticker", "run__id", "published_id", "error")
    readonly_fields = [f.name for f in TickerState._meta.fields]


@admin.register(Publication)
class PublicationAdmin(admin.ModelAdmin):
    list_display = ("id", "ticker", "title", "profile", "run", "created_at")
    search_fields = ("ticker", "title", "key")
    readonly_fields = [f.name for f in Publication._meta.fields]


@admin.register(PublishingProfile)
class PublishingProfileAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "owner", "kind", "accepting", "created_at")
    search_fields = ("name", "owner__username")


@admin.action(description="Provision the selected jobs' tenants again", permissions=["add"])
def provision_again(modeladmin, request, queryset):
    for job in queryset:
        try:
            provisioning.start(by=request.user, tenant_id=job.tenant_id)
        except services.AutomationError as exc:
            modeladmin.message_user(request, f"tenant {job.tenant_id}: {exc}", messages.WARNING)


@admin.register(ProvisioningJob)
class ProvisioningJobAdmin(admin.ModelAdmin):
    list_display = ("id", "tenant", "status", "step", "progress", "message", "erpnext_url", "created_at")
    list_filter = ("status",)
    search_fields = ("tenant__name", "tenant__slug", "message", "error")
    fields = ("tenant", "status", "step", "progress", "message", "erpnext_url", "error", "requested_by")
    actions = [provision_again]

    def get_readonly_fields(self, request, obj=None):
        return [f for f in self.fields if f != "tenant" or obj is not None]

    def save_model(self, request, obj, form, change) -> None:
        """Adding a provisioning job starts it (the service creates the row and enqueues the job)."""
        if change:
            return
        try:
            job = provisioning.start(by=request.user, tenant_id=obj.tenant_id)
        except services.AutomationError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            job = ProvisioningJob.objects.filter(tenant_id=obj.tenant_id).first()
        obj.pk = job.pk if job else None
        if job:
            obj.refresh_from_db()
