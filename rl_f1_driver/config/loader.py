"""Load config/defaults.yaml, overlay user files and overrides, and build typed settings.

Every leaf value remembers which file (or override) it came from, so an error can say
"config/train.yaml: reward.speed_weight: expected a number >= 0, got -1".
"""
from __future__ import annotations

import copy
import dataclasses
import math
import re
import typing
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import yaml

from ..errors import ConfigError
from ..paths import config_dir
from .schema import Config

PathLike = Union[str, Path]
_Origins = Dict[str, str]


def read_yaml(path: PathLike, what: str = 'config') -> Any:
    """Parse a YAML file, turning I/O and syntax errors into a ConfigError naming the file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f'{p}: {what} file not found')
    try:
        with p.open('r', encoding='utf-8') as f:
            return yaml.safe_load(f)
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = f' (line {mark.line + 1})' if mark is not None else ''
        raise ConfigError(f'{p}{where}: not valid YAML: {getattr(exc, "problem", exc)}') from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f'{p}: cannot read {what} file: {exc}') from None


def _overlay(base: dict, top: Mapping, source: str, origins: _Origins, prefix: str = '') -> None:
    """Overlay `top` onto `base` in place; keys must already exist in `base` (the defaults)."""
    if not isinstance(top, Mapping):
        raise ConfigError(f'{source}: {prefix.rstrip(".") or "top level"}: expected a mapping, '
                          f'got {type(top).__name__}')
    for key, value in top.items():
        path = f'{prefix}{key}'
        if key not in base:
            known = ', '.join(sorted(str(k) for k in base))
            raise ConfigError(f'{source}: unknown key {path!r} (known here: {known})')
        if isinstance(base[key], dict):
            if value is None:  # an empty section in YAML: nothing to override
                continue
            if not isinstance(value, Mapping):
                raise ConfigError(f'{source}: {path}: expected a mapping of settings, '
                                  f'got {value!r}')
            _overlay(base[key], value, source, origins, path + '.')
        else:
            base[key] = copy.deepcopy(value)
            origins[path] = source


def _expand_dotted(overrides: Mapping[str, Any]) -> dict:
    nested: dict = {}
    for key, value in overrides.items():
        parts = str(key).split('.')
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


def load_raw(files: Sequence[PathLike] = (), overrides: Optional[Mapping[str, Any]] = None
             ) -> tuple[dict, _Origins]:
    defaults_path = config_dir() / 'defaults.yaml'
    raw = read_yaml(defaults_path)
    origins: _Origins = {}
    for f in files:
        data = read_yaml(f)
        if data is None:
            continue
        _overlay(raw, data, str(f), origins)
    if overrides:
        _overlay(raw, _expand_dotted(overrides), 'override', origins)
    return raw, origins


def load_config(*files: PathLike, overrides: Optional[Mapping[str, Any]] = None) -> Config:
    """Defaults, then each file in order, then `overrides` (nested or dotted keys)."""
    raw, origins = load_raw(files, overrides)
    return build(raw, origins)


def with_overrides(cfg: Config, overrides: Mapping[str, Any], source: str = 'override'
                   ) -> Config:
    """A copy of `cfg` with dotted or nested overrides applied and validated again."""
    raw = to_dict(cfg)
    origins: _Origins = {}
    _overlay(raw, _expand_dotted(overrides), source, origins)
    return build(raw, origins)


def build(raw: Mapping[str, Any], origins: Optional[_Origins] = None) -> Config:
    origins = origins or {}
    cfg = _build_dataclass(Config, raw, '', origins)
    _check_cross_field(cfg, origins)
    return cfg


def to_dict(cfg: Any) -> Any:
    """Plain YAML-friendly data (tuples become lists)."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    return cfg


def save_config(cfg: Config, path: PathLike) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False), encoding='utf-8')


# --- type checking ---------------------------------------------------------------------------

def _fail(origins: _Origins, path: str, expected: str, value: Any,
          related: tuple = ()) -> ConfigError:
    """Blame the file that set `path` (a list item counts as its list), else the file that
    set a `related` key the rule compares it with, else the defaults."""
    source = None
    for key in (path, *related):
        base = re.sub(r'\[\d+\]', '', key)
        source = origins.get(key) or origins.get(base) or next(
            (src for k, src in origins.items() if k.startswith(base + '.')), None)
        if source:
            break
    return ConfigError(f'{source or "defaults.yaml"}: {path}: expected {expected}, '
                       f'got {value!r}')


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _range_text(meta: Mapping[str, Any]) -> str:
    lo, hi = meta.get('lo'), meta.get('hi')
    if lo is not None and hi is not None:
        return f' in {"(" if meta.get("lo_open") else "["}{lo}, {hi}]'
    if lo is not None:
        return f' {">" if meta.get("lo_open") else ">="} {lo}'
    return ''


def _check_range(v: float, meta: Mapping[str, Any]) -> bool:
    lo, hi = meta.get('lo'), meta.get('hi')
    if lo is not None and (v < lo or (meta.get('lo_open') and v == lo)):
        return False
    return hi is None or v <= hi


def _convert(tp: Any, value: Any, path: str, meta: Mapping[str, Any], origins: _Origins) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise _fail(origins, path, 'a mapping of settings', value)
        return _build_dataclass(tp, value, path + '.', origins)
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(origins, path, 'true or false', value)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int) or not _check_range(value, meta):
            raise _fail(origins, path, f'an integer{_range_text(meta)}', value)
        return value
    if tp is float:
        if not _is_number(value) or not _check_range(float(value), meta):
            raise _fail(origins, path, f'a number{_range_text(meta)}', value)
        return float(value)
    if tp is str:
        choices = meta.get('choices')
        if not isinstance(value, str) or (choices and value not in choices):
            expected = f'one of {", ".join(choices)}' if choices else 'a string'
            raise _fail(origins, path, expected, value)
        return value
    if origin is Union:  # only env.start: a word or a number, checked across fields
        if not (isinstance(value, str) or _is_number(value)):
            raise _fail(origins, path, 'a string or a number', value)
        return float(value) if _is_number(value) else value
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise _fail(origins, path, 'a list', value)
        min_len = meta.get('min_len')
        if min_len and len(value) < min_len:
            raise _fail(origins, path, f'a list of at least {min_len} items', value)
        if len(args) == 2 and args[1] is Ellipsis:
            inner_meta = {k: v for k, v in meta.items() if k != 'min_len'}
            return tuple(_convert(args[0], v, f'{path}[{i}]', inner_meta, origins)
                         for i, v in enumerate(value))
        if len(value) != len(args):
            raise _fail(origins, path, f'a list of {len(args)} items', value)
        return tuple(_convert(a, v, f'{path}[{i}]', {}, origins)
                     for i, (a, v) in enumerate(zip(args, value)))
    raise TypeError(f'unsupported config type {tp!r} at {path}')  # a bug in schema.py


def _build_dataclass(cls: type, data: Mapping[str, Any], prefix: str, origins: _Origins) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise ConfigError(f'{origins.get(prefix + str(key), "config")}: unknown key '
                              f'{prefix + str(key)!r}')
    kwargs = {}
    for f in dataclasses.fields(cls):
        path = prefix + f.name
        if f.name not in data:
            raise ConfigError(f'config: missing key {path!r}')
        kwargs[f.name] = _convert(hints[f.name], data[f.name], path, f.metadata, origins)
    return cls(**kwargs)


def _check_cross_field(cfg: Config, origins: _Origins) -> None:
    p = cfg.perception
    if p.hue_low_max >= p.hue_high_min:
        raise _fail(origins, 'perception.hue_high_min',
                    f'a hue above perception.hue_low_max ({p.hue_low_max})', p.hue_high_min,
                    related=('perception.hue_low_max',))
    if list(p.rows) != sorted(set(p.rows)):
        raise _fail(origins, 'perception.rows', 'distinct fractions in increasing order', p.rows)
    horizon = cfg.camera.horizon_fraction
    if p.rows[0] <= horizon:
        raise _fail(origins, 'perception.rows',
                    f'fractions below the horizon (> {horizon:.3f} for this camera)', p.rows,
                    related=('camera.pitch',))
    if p.mask_top < horizon - 1e-9:
        raise _fail(origins, 'perception.mask_top',
                    f'a fraction at or below the horizon (>= {horizon:.3f})', p.mask_top,
                    related=('camera.pitch',))
    c = cfg.camera
    if c.clip_near >= c.clip_far:
        raise _fail(origins, 'camera.clip_far', f'more than clip_near ({c.clip_near})', c.clip_far,
                    related=('camera.clip_near',))
    start = cfg.env.start
    if isinstance(start, str) and start != 'random':
        raise _fail(origins, 'env.start', "'random' or a lap fraction in [0, 1)", start)
    if isinstance(start, float) and not 0.0 <= start < 1.0:
        raise _fail(origins, 'env.start', "'random' or a lap fraction in [0, 1)", start)
    for i, (v, w) in enumerate(cfg.actions):
        if not 0.0 <= v <= cfg.car.max_linear_speed or abs(w) > cfg.car.max_angular_speed:
            raise _fail(origins, f'actions[{i}]',
                        f'[v, w] with 0 <= v <= car.max_linear_speed ({cfg.car.max_linear_speed})'
                        f' and |w| <= car.max_angular_speed ({cfg.car.max_angular_speed})',
                        [v, w], related=('car.max_linear_speed', 'car.max_angular_speed'))
    if len(set(cfg.actions)) != len(cfg.actions):
        raise _fail(origins, 'actions', 'distinct [v, w] pairs', [list(a) for a in cfg.actions])
    if max(v for v, _ in cfg.actions) <= 0.0:
        raise _fail(origins, 'actions', 'at least one action with v > 0',
                    [list(a) for a in cfg.actions])
    if len(cfg.pid.row_weights) != len(p.rows) or sum(cfg.pid.row_weights) <= 0:
        raise _fail(origins, 'pid.row_weights',
                    f'{len(p.rows)} non-negative weights (one per perception row), not all 0',
                    list(cfg.pid.row_weights), related=('perception.rows',))
    if cfg.pid.min_speed > cfg.pid.max_speed:
        raise _fail(origins, 'pid.min_speed', f'<= pid.max_speed ({cfg.pid.max_speed})',
                    cfg.pid.min_speed, related=('pid.max_speed',))
    t = cfg.train
    if t.epsilon_end > t.epsilon_start:
        raise _fail(origins, 'train.epsilon_end', f'<= train.epsilon_start ({t.epsilon_start})',
                    t.epsilon_end, related=('train.epsilon_start',))
    for i, layer in enumerate(t.conv_layers):
        if len(layer) != 3 or min(layer) < 1:
            raise _fail(origins, f'train.conv_layers[{i}]',
                        '[filters, kernel, stride], positive integers', list(layer))
