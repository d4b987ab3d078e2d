from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Calendar integrations"

    def ready(self) -> None:
        from calendars.signals import appointment_changed
        from integrations import services

        appointment_changed.connect(services.note_appointment_change, dispatch_uid="integrations.sync")
