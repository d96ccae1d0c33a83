"""Notifications in the admin: the list, and a "Send notification" page for staff (to users or
to a whole tenant), which stores them and sends `notification:new` after commit."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from notifications import services
from notifications.forms import SendNotificationForm
from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("title", "user", "type", "created_at", "read_at")
    list_filter = ("type", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "user__username")
    list_select_related = ("user",)
    readonly_fields = ("created_at", "read_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # new ones are sent with the form below, so they are announced

    def has_send_permission(self, request: HttpRequest) -> bool:
        """Sending creates notifications: staff with the add permission (not view-only staff)."""
        opts = self.model._meta
        return (
            request.user.is_active
            and request.user.is_staff
            and request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}")
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra = {"can_send": self.has_send_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def get_urls(self) -> list:
        send = path("send/", self.admin_site.admin_view(self.send_view), name="notifications_notification_send")
        return [send, *super().get_urls()]

    def send_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_send_permission(request):
            return HttpResponse(status=403)
        form = SendNotificationForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            count = services.notify_many(
                user_ids=form.recipient_ids(),
                title=form.cleaned_data["title"],
                message=form.cleaned_data["message"],
                kind=form.cleaned_data["type"],
            )
            self.message_user(request, f"Sent to {count} user(s).", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:notifications_notification_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": "Send notification",
        }
        return TemplateResponse(request, "admin/notifications/notification/send.html", context)
