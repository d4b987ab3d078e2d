from django.apps import AppConfig


class CalendarsConfig(AppConfig):
    name = "calendars"
    verbose_name = "Calendars"

    def ready(self) -> None:
        from calendars import notifications
        from calendars.signals import appointment_changed

        appointment_changed.connect(notifications.on_appointment_changed, dispatch_uid="calendars.email_technicians")
