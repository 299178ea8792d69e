r"""Typed checks of configuration values, before any data is loaded.

Every value of a configuration (a YAML file or ``--set``) is checked against
the annotation of the parameter it feeds: a model constructor argument, a
:class:`~lirdrec_pyg.train.TrainConfig` field or a dataset loader argument.
A mistake gives one :class:`ConfigError` line naming the key, what was
expected and what was given, e.g.
``model.num_layers must be an integer (got 'abc')``.
"""
import collections.abc as abc
import inspect
import math
import typing
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple

__all__ = ['ConfigError', 'check_value', 'check_kwargs', 'check_range']


class ConfigError(ValueError):
    r"""A configuration value of the wrong type or out of range; the message
    names the key."""


_NONE = type(None)


def _describe(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any or annotation is inspect.Parameter.empty:
        return 'any value'
    if origin is typing.Union:
        inner = [a for a in args if a is not _NONE]
        text = ' or '.join(_describe(a) for a in inner)
        return f'{text} or null' if _NONE in args else text
    if origin is not None and _is_sequence_origin(origin):
        return f'a list of {_describe(args[0])}' if args else 'a list'
    if origin is not None and _is_mapping_origin(origin):
        if len(args) == 2:
            return f'a mapping of {_describe(args[0])} to {_describe(args[1])}'
        return 'a mapping'
    return {int: 'an integer', float: 'a number', str: 'a string',
            bool: 'true or false'}.get(annotation, getattr(
                annotation, '__name__', str(annotation)))


def _is_sequence_origin(origin: Any) -> bool:
    return origin in (list, tuple, abc.Sequence, abc.Iterable)


def _is_mapping_origin(origin: Any) -> bool:
    return origin in (dict, abc.Mapping)


def check_value(key: str, value: Any, annotation: Any) -> Any:
    r"""Returns :obj:`value` (an integer given for a float becomes a float)
    if it fits :obj:`annotation`, else raises :class:`ConfigError` naming
    :obj:`key`.

    Understood annotations: :obj:`int`, :obj:`float`, :obj:`str`,
    :obj:`bool`, :obj:`Optional[...]`, :obj:`Union[...]`, sequences
    (:obj:`List`, :obj:`Tuple`, :obj:`Sequence`) and mappings (:obj:`Dict`,
    :obj:`Mapping`) of those; anything else is accepted as is.
    """
    def fail() -> None:
        shown = f"'{value}'" if isinstance(value, str) else repr(value)
        raise ConfigError(f'{key} must be {_describe(annotation)} '
                          f'(got {shown})')

    if annotation is Any or annotation is inspect.Parameter.empty:
        return value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union:
        if value is None:
            if _NONE in args:
                return None
            fail()
        options = [a for a in args if a is not _NONE]
        if len(options) == 1:  # Optional[X]: X's own, more precise message
            return check_value(key, value, options[0])
        for option in options:
            try:
                return check_value(key, value, option)
            except ConfigError:
                continue
        fail()
    if annotation is bool:
        if not isinstance(value, bool):
            fail()
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail()
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail()
        if not math.isfinite(value):
            raise ConfigError(f'{key} must be a finite number (got {value})')
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            fail()
        return value
    if origin is not None and _is_sequence_origin(origin):
        if isinstance(value, (str, bytes)) or not isinstance(value,
                                                              (list, tuple)):
            fail()
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                fail()
            return [check_value(f'{key}[{i}]', v, a)
                    for i, (v, a) in enumerate(zip(value, args))]
        item_type = args[0] if args else Any
        return [check_value(f'{key}[{i}]', v, item_type)
                for i, v in enumerate(value)]
    if origin is not None and _is_mapping_origin(origin):
        if not isinstance(value, dict):
            fail()
        key_type, value_type = args if len(args) == 2 else (Any, Any)
        return {check_value(f'{key} key', k, key_type):
                check_value(f'{key}.{k}', v, value_type)
                for k, v in value.items()}
    return value


def check_kwargs(section: str, values: Mapping[str, Any],
                 function: Callable[..., Any], skip: Iterable[str] = ('self',
                                                                     'data'),
                 what: str = '') -> Dict[str, Any]:
    r"""Checks :obj:`values` against the keyword parameters of
    :obj:`function`: unknown keys and wrong types are :class:`ConfigError`\ s
    naming :obj:`section.key`. Returns the checked values."""
    signature = inspect.signature(function)
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # unresolvable forward references: check names only
        hints = {}
    params = {name: p for name, p in signature.parameters.items()
              if name not in set(skip) and p.kind in (
                  p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    unknown = sorted(set(values) - set(params))
    if unknown:
        raise ConfigError(f"unknown {section} key(s) {unknown}"
                          f"{' for ' + what if what else ''}; accepted: "
                          f"{sorted(params)}")
    out = {}
    for name, value in values.items():
        annotation = hints.get(name, inspect.Parameter.empty)
        out[name] = check_value(f'{section}.{name}', value, annotation)
        check_range(f'{section}.{name}', out[name])
    return out


# Range rules by parameter name, shared by every model (constructors check
# again, after the data is loaded; these catch the mistake before).
_POSITIVE = ('embedding_dim', 'hidden_dim', 'feat_embed_dim', 'knn_k',
             'num_heads', 'num_users', 'num_items', 'num_factors',
             'num_clusters', 'interactions_per_user', 'batch_size')
_NON_NEGATIVE_SUFFIXES = ('_weight', '_reg', 'reg_weight', 'num_layers',
                          '_layers', 'temperature', 'weight_decay')
_FRACTION_WORDS = ('dropout', 'drop_rate', 'mask_ratio')


def _rule(name: str) -> Optional[Tuple[str, Callable[[float], bool]]]:
    if name in _POSITIVE or name.endswith('_dim'):
        return 'positive', lambda v: v > 0
    if any(w in name for w in _FRACTION_WORDS):
        return 'in [0, 1)', lambda v: 0 <= v < 1
    if name.endswith(_NON_NEGATIVE_SUFFIXES):
        return '>= 0', lambda v: v >= 0
    return None


def check_range(key: str, value: Any) -> None:
    r"""Applies the range rule of :obj:`key`'s last component (e.g.
    :obj:`*_dim` positive, :obj:`*dropout*` in :math:`[0, 1)`,
    :obj:`*_weight` non-negative) to numeric values."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    rule = _rule(key.rsplit('.', 1)[-1])
    if rule is not None and not rule[1](value):
        raise ConfigError(f'{key} must be {rule[0]} (got {value})')
