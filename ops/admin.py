"""The live ops page in the Django admin, for every active staff user: connections per namespace
and process, rooms and their sizes, presence per tenant, queues and workers, recent errors and
events per second, updated live over the `staff` room (polling GET /api/stats as a fallback)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts import revocation
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

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(require_POST(self.disconnect_view))
        return [path("disconnect/", view, name="ops_liveops_disconnect"), *super().get_urls()]

    def disconnect_view(self, request: HttpRequest) -> HttpResponseRedirect:
        """The page's "Disconnect a user": every live connection of the user, on every server."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        username = request.POST.get("username", "").strip()[:150]
        user = get_user_model().objects.filter(username=username).first() if username else None
        if user is None:
            self.message_user(request, f"No user named {username!r}.", messages.ERROR)
        else:
            revocation.disconnect_user(user, actor=request.user)
            self.message_user(request, f"Disconnected every socket of {username}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:ops_liveops_changelist"))

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Live ops",
            "opts": self.model._meta,
            "stats": stats.collect(),
        }
        return TemplateResponse(request, "ops/live.html", context)
