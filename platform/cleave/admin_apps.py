"""`django.contrib.admin`, with Cleave's site as the default one (`cleave.admin_site`).

Kept apart from the site: INSTALLED_APPS imports this before any model can be."""

from django.contrib.admin.apps import AdminConfig


class CleaveAdminConfig(AdminConfig):
    default_site = "cleave.admin_site.CleaveAdminSite"
