from django.apps import AppConfig


class SafetyConfig(AppConfig):
    name = "safety"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the tasks other apps name)
