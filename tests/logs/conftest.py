"""The journeys of the log-privacy tests use the fixtures of each plugin's tests."""

from tests.ceemis.conftest import ceemis  # noqa: F401
from tests.webform.conftest import inbox, webform_app  # noqa: F401
from tests.whatsapp.conftest import graph, whatsapp_client  # noqa: F401
