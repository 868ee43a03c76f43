from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the tasks other apps name)
