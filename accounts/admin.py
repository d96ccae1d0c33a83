from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import revocation
from accounts.models import ApiToken, JwtCutoff, Profile, Project, Tenant


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant")
    search_fields = ("user__username", "tenant__name")
    list_select_related = ("user", "tenant")


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "client_key", "tenant", "created_at")
    search_fields = ("name", "key", "tenant__name")
    filter_horizontal = ("members",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "revoked_at")
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = ("prefix", "key_hash", "created_at")


# --- users: revocation by hand (accounts/revocation.py) ---------------------------------------------

User = get_user_model()


@admin.action(description="Disconnect all sockets (every server process)")
def disconnect_sockets(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    for user in queryset:
        revocation.disconnect_user(user, actor=request.user)
    modeladmin.message_user(request, f"Disconnected the sockets of {len(queryset)} user(s).", messages.SUCCESS)


@admin.action(description="Revoke JWTs (issued until now)")
def revoke_jwts(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    for user in queryset:
        revocation.revoke_jwts(user, actor=request.user)
    modeladmin.message_user(request, f"Revoked the JWTs of {len(queryset)} user(s).", messages.SUCCESS)


if admin.site.is_registered(User):
    user_admin_class = type(admin.site._registry[User])
    admin.site.unregister(User)
else:
    user_admin_class = DjangoUserAdmin


@admin.register(User)
class UserAdmin(user_admin_class):
    actions = [*(user_admin_class.actions or []), disconnect_sockets, revoke_jwts]


@admin.register(JwtCutoff)
class JwtCutoffAdmin(admin.ModelAdmin):
    list_display = ("user", "valid_after")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
