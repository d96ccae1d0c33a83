from django.contrib import admin

from jobs.models import JobRecord


@admin.register(JobRecord)
class JobRecordAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "progress", "project", "user", "attempts", "created_at", "finished_at")
    list_filter = ("status", "kind")
    search_fields = ("id", "kind", "message", "error", "user__username", "project__name")
    readonly_fields = [f.name for f in JobRecord._meta.fields]
