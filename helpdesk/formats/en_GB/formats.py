"""British English formats with the 24-hour clock the pages, the phone feed and the widget use:
Django's own en_GB formats write times as "7:21 p.m." (format "P"), which admin showed beside
pages that say "19:21"."""

from django.conf.locale.en_GB.formats import *  # noqa: F403

TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
