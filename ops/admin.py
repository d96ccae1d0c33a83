"""The live ops page in the Django admin, for every active staff user: connections per namespace
and process, rooms and their sizes, presence per tenant, queues and workers, recent errors and
events per second, updated live over the `staff` room (polling GET /api/stats as a fallback)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from ops import stats
from ops.models import LiveOps


def _staff(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_staff


@admin.register(LiveOps)
class LiveOpsAdmin(admin.ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return _staff(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return _staff(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Live ops",
            "opts": self.model._meta,
            "stats": stats.collect(),
        }
        return TemplateResponse(request, "ops/live.html", context)
