import pytest
from click.testing import CliRunner

from kzcarrier.cli.main import cli


@pytest.fixture
def run(app):
    """`kzcarrier ARGS...` against the test server; never a traceback."""
    runner = CliRunner()

    def invoke(*args, input=None):
        result = runner.invoke(cli, ["--couch-url", app.settings.couch_url, *args],
                               input=input)
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            result.output
        return result
    return invoke
