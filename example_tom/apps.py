from django.apps import AppConfig


class ExampleTomConfig(AppConfig):
    name = "example_tom"
