from django.apps import AppConfig


class ShippingConfig(AppConfig):
    name = "cleave.tests.example.shipping"
    label = "shipping"
