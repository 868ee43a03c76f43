from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "exchange"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers exchange.archive_build, named by others)
