"""The test kit for plugin authors: a pytest plugin (``core.testkit.pytest_plugin``, loaded through
the ``pytest11`` entry point) and the helpers its fixtures are made of.

Import helpers from ``core.testing`` (which re-exports these); docs/plugins.md shows a test module.
"""
