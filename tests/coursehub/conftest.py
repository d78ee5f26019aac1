"""One ``chalice package`` of the dev stage for the packaging and deploy tests (a few seconds each time)."""
import pytest

from coursehub import packaging


@pytest.fixture(scope="session")
def packaged(tmp_path_factory):
    """The package folder of stage dev: sam.json, deployment.zip and the layer zip (not yet linted)."""
    return packaging.package("dev", tmp_path_factory.mktemp("build"))
