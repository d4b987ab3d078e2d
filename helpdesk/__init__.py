"""The helpdesk project. Its Celery app (`helpdesk.celery.app`, also `celery_app` here, where
`celery -A helpdesk` finds it) is loaded on first use, not with the package: a process that queues
no task, such as `manage.py sync_calendars`, does not pay for importing Celery and its broker
client. Modules that queue tasks import them from a tasks module, which loads the app first."""


def __getattr__(name: str):
    if name == "celery_app":
        from helpdesk.celery import app

        return app
    raise AttributeError(f"module 'helpdesk' has no attribute {name!r}")
