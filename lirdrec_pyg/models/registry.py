"""Models by name, with hyper-parameters checked against the constructor."""
import inspect
from typing import Any, Callable, Dict, List, Type

from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import Recommender

MODELS: Dict[str, Type[Recommender]] = {}


def register_model(name: str) -> Callable[[Type[Recommender]],
                                          Type[Recommender]]:
    r"""Class decorator adding a model to :data:`MODELS` under :obj:`name`."""
    def wrap(cls: Type[Recommender]) -> Type[Recommender]:
        if name in MODELS and MODELS[name] is not cls:
            raise ValueError(f"a model named '{name}' is registered already")
        MODELS[name] = cls
        cls.registry_name = name
        return cls
    return wrap


def model_hyperparameters(name: str) -> List[str]:
    r"""The keyword arguments model :obj:`name` accepts (besides data)."""
    cls = get_model_class(name)
    params = inspect.signature(cls.__init__).parameters
    return [p for p in params if p not in ('self', 'data')]


def get_model_class(name: str) -> Type[Recommender]:
    if name not in MODELS:
        raise ValueError(f"unknown model '{name}'; known models: "
                         f"{', '.join(sorted(MODELS))}")
    return MODELS[name]


def create_model(name: str, data: HeteroData, **kwargs: Any) -> Recommender:
    r"""Builds model :obj:`name` from :obj:`data`; an unknown keyword is an
    error naming it and the accepted ones."""
    cls = get_model_class(name)
    accepted = model_hyperparameters(name)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"unknown hyper-parameter(s) {unknown} for model "
                         f"'{name}'; accepted: {accepted}")
    return cls(data, **kwargs)
