import pytest
from chemprop.featurizers import SimpleMoleculeMolGraphFeaturizer


@pytest.fixture(scope="module")
def featurizer():
    """Chemprop's default molecule featuriser, as every encoder test builds graphs with."""
    return SimpleMoleculeMolGraphFeaturizer()
