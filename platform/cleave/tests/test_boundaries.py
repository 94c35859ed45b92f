"""The boundary rules fire on deliberate violations, and the real tree is clean."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.db import models
from django.test import override_settings
from django.test.utils import isolate_apps
from waffle.models import AbstractUserFlag

from cleave.boundaries import ERROR_ID, cross_context_relations
from cleave.databases import ContextRouter, context_labels, database_for
from cleave.tests.example.orders.models import Order
from cleave.tests.example.shipping.models import Shipment

CONTEXTS = {"alpha", "beta"}.__contains__


@isolate_apps("cleave")
def test_a_foreign_key_into_another_context_is_an_error() -> None:
    class Thing(models.Model):
        class Meta:
            app_label = "alpha"

    class Holder(models.Model):
        thing = models.ForeignKey(Thing, on_delete=models.CASCADE)
        things = models.ManyToManyField(Thing, related_name="+")

        class Meta:
            app_label = "beta"

    errors = cross_context_relations([Thing, Holder], CONTEXTS)
    assert [error.id for error in errors] == [ERROR_ID, ERROR_ID]
    assert "beta.Holder.thing relates to alpha's model alpha.Thing" in errors[0].msg


@isolate_apps("cleave")
def test_relations_inside_a_context_or_to_the_platform_are_allowed() -> None:
    class Thing(models.Model):
        class Meta:
            app_label = "alpha"

    class Part(models.Model):
        thing = models.ForeignKey(Thing, on_delete=models.CASCADE)
        owner = models.ForeignKey("auth.Group", on_delete=models.CASCADE)

        class Meta:
            app_label = "alpha"

    assert cross_context_relations([Thing, Part], CONTEXTS) == []


@isolate_apps("cleave")
def test_a_kernel_model_may_not_relate_to_any_context() -> None:
    class Receipt(models.Model):
        order = models.ForeignKey(Order, on_delete=models.CASCADE)
        shipments = models.ManyToManyField("shipping.Shipment", related_name="+")
        group = models.ForeignKey("auth.Group", on_delete=models.CASCADE)  # not a context

        class Meta:
            app_label = "cleave"

    errors = cross_context_relations([Receipt], context_labels().__contains__)
    assert [error.id for error in errors] == [ERROR_ID, ERROR_ID]
    assert "cleave.Receipt.order relates to orders's model orders.Order" in errors[0].msg
    assert "cleave.Receipt.shipments relates to shipping's model" in errors[1].msg
    assert errors[0].hint is not None
    assert "The kernel never holds" in errors[0].hint


@isolate_apps("cleave")
def test_waffles_per_user_flag_in_the_kernel_is_caught() -> None:
    """The relation the kernel's flag had until migration 0004: into the user model's context."""

    class UserFlag(AbstractUserFlag):
        class Meta(AbstractUserFlag.Meta):
            app_label = "cleave"

    errors = cross_context_relations([UserFlag], context_labels().__contains__)
    user_context = settings.AUTH_USER_MODEL.split(".")[0]
    assert [error.msg.split(" relates to ")[1] for error in errors] == [
        f"{user_context}'s model {settings.AUTH_USER_MODEL}."
    ]


def test_the_real_tree_passes_the_boundary_check() -> None:
    assert [e for e in checks.run_checks() if e.id == ERROR_ID] == []


def test_the_router_refuses_relations_across_contexts() -> None:
    router = ContextRouter()
    assert router.allow_relation(Order(), Shipment()) is False
    assert router.allow_relation(Order(), Order()) is None


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")  # only read, never connected
def test_each_context_uses_its_own_alias_when_it_has_one() -> None:
    router = ContextRouter()
    assert database_for("orders") == "default"
    assert router.db_for_write(Order) == "default"
    shipping_db = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    with override_settings(DATABASES={"default": {}, "shipping": shipping_db}):
        assert database_for("shipping") == "shipping"
        assert router.db_for_write(Shipment) == "shipping"
        assert router.db_for_read(Order) == "default"
        # Migrations only in the context's own alias; the kernel's bus tables everywhere.
        assert router.allow_migrate("shipping", "shipping") is True
        assert router.allow_migrate("default", "shipping") is False
        assert router.allow_migrate("shipping", "orders") is False
        assert router.allow_migrate("shipping", "cleave") is True
        assert router.allow_migrate("shipping", "auth") is False


def test_non_context_apps_are_not_routed() -> None:
    assert ContextRouter().db_for_read(apps.get_model("auth", "Group")) is None
