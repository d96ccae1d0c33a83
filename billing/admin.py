"""Admin pages for ops: accounts, payments, balance sheets and liabilities, in-game jobs, plans,
subscriptions and tenant payments. Money rows are read-only here (they are moved only by the
services, with their locks and idempotency keys), and so are money fields once a row exists (an
account's balance and currency, a liability's outstanding amount and balance sheet);
subscription edits and recorded tenant payments go through the services so tenants get their
events."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin

from billing import subscriptions
from billing.models import (
    BalanceSheet,
    BankAccount,
    Employment,
    ExpiryWarning,
    JobApplication,
    JobOpening,
    Liability,
    LiabilityOffset,
    Payment,
    Plan,
    Subscription,
    TenantPayment,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BankAccount)
class BankAccountAdmin(admin.ModelAdmin):
    list_display = ("user", "balance", "currency", "updated_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)

    def get_readonly_fields(self, request, obj=None):
        # A new account may be opened with a balance; after that money moves only through payments.
        return ("balance", "currency", "updated_at") if obj else ("updated_at",)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "amount", "payee", "status", "balance_after", "created_at")
    list_filter = ("status",)
    search_fields = ("account__user__username", "payee", "idempotency_key")
    list_select_related = ("account__user",)


class LiabilityForm(forms.ModelForm):
    """A liability is created with what is owed; after that only offsets (with their locks and
    idempotency keys) change it, so its amount and its balance sheet are fixed here. Disabled
    fields keep their stored value whatever a POST says."""

    FIXED_AFTER_CREATION = ("balance_sheet", "outstanding")

    class Meta:
        model = Liability
        fields = "__all__"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            for name in self.FIXED_AFTER_CREATION:
                if name in self.fields:
                    self.fields[name].disabled = True


class LiabilityInline(admin.TabularInline):
    model = Liability
    form = LiabilityForm
    extra = 0


@admin.register(BalanceSheet)
class BalanceSheetAdmin(admin.ModelAdmin):
    list_display = ("user", "created_at")
    search_fields = ("user__username",)
    inlines = [LiabilityInline]


@admin.register(Liability)
class LiabilityAdmin(admin.ModelAdmin):
    form = LiabilityForm
    list_display = ("name", "balance_sheet", "outstanding", "updated_at")
    search_fields = ("name", "balance_sheet__user__username")


@admin.register(LiabilityOffset)
class LiabilityOffsetAdmin(ReadOnlyAdmin):
    list_display = ("id", "liability", "amount", "outstanding_after", "balance_after", "created_at")
    search_fields = ("liability__name", "account__user__username", "idempotency_key")


@admin.register(JobOpening)
class JobOpeningAdmin(admin.ModelAdmin):
    list_display = ("title", "employer", "salary", "min_experience_years", "headcount", "is_open")
    list_filter = ("is_open",)
    search_fields = ("title", "employer")


@admin.register(JobApplication)
class JobApplicationAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "opening", "status", "decision", "created_at", "decided_at")
    list_filter = ("status",)
    search_fields = ("user__username", "opening__title")


@admin.register(Employment)
class EmploymentAdmin(ReadOnlyAdmin):
    list_display = ("user", "opening", "salary", "started_at")
    search_fields = ("user__username", "opening__title")


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "price", "currency", "period_days")


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("tenant", "plan", "status", "expires_on", "updated_at")
    list_filter = ("status", "plan")
    search_fields = ("tenant__name",)
    list_select_related = ("tenant", "plan")

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        subscriptions.announce(obj)  # sent after the admin's transaction commits


@admin.register(TenantPayment)
class TenantPaymentAdmin(admin.ModelAdmin):
    list_display = ("tenant", "amount", "currency", "reference", "received_at")
    search_fields = ("tenant__name", "reference", "idempotency_key")
    readonly_fields = ("received_at",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_changeform_initial_data(self, request) -> dict:
        return {"idempotency_key": f"admin:{uuid.uuid4().hex}", "currency": "USD"}

    def save_model(self, request, obj, form, change) -> None:
        payment, _ = subscriptions.record_payment(
            tenant_id=obj.tenant_id,
            amount=obj.amount,
            currency=obj.currency,
            idempotency_key=obj.idempotency_key,
            reference=obj.reference,
        )
        obj.pk = payment.pk
        obj.received_at = payment.received_at


@admin.register(ExpiryWarning)
class ExpiryWarningAdmin(ReadOnlyAdmin):
    list_display = ("subscription", "threshold_days", "days_left", "expires_on", "sent_at")
