from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "visits"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the tasks other apps name)
