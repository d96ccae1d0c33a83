"""ops has no tables. `LiveOps` is an unmanaged, table-less model so the live ops page sits in
the Django admin's index and URL scheme (/admin/ops/liveops/) like any other admin page."""

from django.db import models


class LiveOps(models.Model):
    class Meta:
        managed = False
        verbose_name = "live ops"
        verbose_name_plural = "live ops"
        default_permissions = ()
