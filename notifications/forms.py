from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from accounts.models import Tenant
from notifications.models import Notification
from notifications.services import tenant_user_ids


class SendNotificationForm(forms.Form):
    """Staff send a notification to chosen users, to every user of a tenant, or both."""

    users = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"), required=False
    )
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.order_by("name"), required=False)
    title = forms.CharField(max_length=200)
    message = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))
    type = forms.ChoiceField(choices=Notification.Type.choices, initial=Notification.Type.INFO)

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("users") and not data.get("tenant"):
            raise forms.ValidationError("Choose users, a tenant, or both.")
        return data

    def recipient_ids(self) -> list[int]:
        ids = {u.pk for u in self.cleaned_data.get("users") or []}
        tenant = self.cleaned_data.get("tenant")
        if tenant is not None:
            ids |= set(tenant_user_ids(tenant.pk))
        return sorted(ids)
