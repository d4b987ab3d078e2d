import socket

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.django_db
def test_a_busy_demo_caldav_port_is_one_line_naming_the_port_and_the_setting(settings):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))  # a free port, now held by us
        busy.listen()
        port = busy.getsockname()[1]
        settings.DEMO_CALDAV_PORT = port

        with pytest.raises(CommandError) as raised:
            call_command("demo_radicale")

    message = str(raised.value)
    assert f"port {port}" in message
    assert "DEMO_CALDAV_PORT" in message
    assert "\n" not in message
