import pytest

from lirdrec_pyg.models import MODELS, create_model


def test_registry_rejects_unknown_hyperparameter(tiny_data):
    assert {'popularity', 'bpr', 'lightgcn'} <= set(MODELS)
    with pytest.raises(ValueError, match=r"unknown hyper-parameter\(s\) "
                       r"\['num_layerz'\] for model 'lightgcn'"):
        create_model('lightgcn', tiny_data, num_layerz=3)
    with pytest.raises(ValueError, match="unknown model 'lgcn'"):
        create_model('lgcn', tiny_data)
