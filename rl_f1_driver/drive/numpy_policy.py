"""The greedy Q-network of an exported policy, evaluated with numpy alone (no TensorFlow).

`rl-f1 train` writes `policy/q_network.npz` beside the SavedModel: the weights of the
Q-network as float32 arrays (`layer<i>.kernel`, `layer<i>.bias`) and its description as
JSON in the array `architecture`:

    {"format": 1,
     "observation": {"shape": [32, 64, 4], "dtype": "uint8"},
     "num_actions": 5,
     "layers": [{"kind": "scale", "divisor": 255.0, "offset": 0.0},
                {"kind": "conv2d", "strides": [2, 2], "padding": "valid",
                 "dilation": [1, 1], "activation": "relu"},
                {"kind": "flatten"},
                {"kind": "dense", "activation": "relu"}, ...],
     "export_files": {"saved_model.pb": "<sha256>", "variables/variables.index": ...}}

The layers run in order on one observation (or a batch); the last one's outputs are the
Q-values, one per action, and the greedy action is their argmax (first one on a tie, as
tf.argmax). Inputs are cast to float32 before the first layer that is not `scale`.
`export_files` binds the file to the SavedModel exported with it (check_export_files): a
folder whose SavedModel was replaced or damaged since is refused rather than driven with
other weights.

Importing this module imports numpy only: a driver that uses it starts in a fraction of a
second and holds tens of MB instead of TensorFlow's hundreds.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import UserError

NPZ_NAME = 'q_network.npz'
FORMAT = 1
RUNTIMES = ('auto', 'numpy', 'tensorflow')
ARCHITECTURE = 'architecture'
KINDS = ('scale', 'conv2d', 'flatten', 'dense')
ACTIVATIONS = ('linear', 'relu', 'tanh', 'sigmoid')
PADDINGS = ('valid', 'same')
DTYPES = ('float32', 'uint8')


def policy_runtime(policy_dir: Union[str, Path, None], runtime: str = 'auto') -> str:
    """'numpy' or 'tensorflow': auto takes numpy when the policy folder has q_network.npz.

    Only looks for the file (no error for a missing folder: loading the policy reports it).
    """
    if runtime not in RUNTIMES:
        raise UserError(f'unknown policy runtime {runtime!r}: expected one of '
                        f'{", ".join(RUNTIMES)}')
    if runtime != 'auto':
        return runtime
    if policy_dir and (Path(policy_dir) / NPZ_NAME).is_file():
        return 'numpy'
    return 'tensorflow'


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def export_digests(policy_dir: Union[str, Path]) -> Dict[str, str]:
    """sha256 of the SavedModel's files (graph and variables), by path in the folder."""
    policy_dir = Path(policy_dir)
    files = [policy_dir / 'saved_model.pb'] + sorted((policy_dir / 'variables').glob('*'))
    return {f.relative_to(policy_dir).as_posix(): _sha256(f) for f in files}


def check_export_files(policy_dir: Union[str, Path], net: 'NumpyQNetwork') -> None:
    """The SavedModel beside q_network.npz is the one exported with it (when it says)."""
    policy_dir = Path(policy_dir)
    for rel, digest in net.export_files.items():
        path = policy_dir / rel
        problem = None
        if not path.is_file():
            problem = 'is missing'
        else:
            try:
                if _sha256(path) != digest:
                    problem = f'is not the file exported with {NPZ_NAME}'
            except OSError as exc:
                problem = f'cannot be read ({exc.strerror})'
        if problem:
            raise UserError(f'{policy_dir}: cannot load the SavedModel with numpy: {rel} '
                            f'{problem} (corrupt, or the folder mixes files of different '
                            'policies)')


def weight_names(index: int) -> Tuple[str, str]:
    return f'layer{index}.kernel', f'layer{index}.bias'


def _activate(x: np.ndarray, activation: str) -> np.ndarray:
    if activation == 'relu':
        return np.maximum(x, 0.0, out=x)
    if activation == 'tanh':
        return np.tanh(x, out=x)
    if activation == 'sigmoid':
        return (1.0 / (1.0 + np.exp(-x))).astype(np.float32, copy=False)
    return x


def same_padding(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    """TensorFlow's 'SAME' padding along one axis: out = ceil(size / stride); the odd pixel
    of an uneven total goes after (bottom / right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d(x: np.ndarray, kernel: np.ndarray, bias: Optional[np.ndarray],
           strides: Sequence[int] = (1, 1), padding: str = 'valid',
           dilation: Sequence[int] = (1, 1)) -> np.ndarray:
    """2-D cross-correlation as TensorFlow's conv2d (NHWC, kernel HWIO), by im2col + matmul.

    x: (batch, height, width, in_channels) float32; returns (batch, out_h, out_w, out).
    """
    kh, kw, cin, cout = kernel.shape
    sh, sw = strides
    dh, dw = dilation
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1   # the dilated kernel's extent
    if padding == 'same':
        (top, bottom), (left, right) = (same_padding(x.shape[1], eh, sh),
                                        same_padding(x.shape[2], ew, sw))
        if top or bottom or left or right:
            x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    elif padding != 'valid':
        raise ValueError(f'padding {padding!r}')
    # (batch, out_h, out_w, cin, eh, ew) windows, strided over positions and dilations.
    windows = np.lib.stride_tricks.sliding_window_view(x, (eh, ew), axis=(1, 2))
    windows = windows[:, ::sh, ::sw, :, ::dh, ::dw]
    b, oh, ow = windows.shape[:3]
    # Kernel HWIO -> rows in the windows' (cin, kh, kw) order.
    cols = windows.reshape(b * oh * ow, cin * kh * kw)
    out = cols @ kernel.transpose(2, 0, 1, 3).reshape(cin * kh * kw, cout)
    if bias is not None:
        out += bias
    return out.reshape(b, oh, ow, cout)


def conv_output_size(size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    if padding == 'same':
        return -(-size // stride)
    return (size - ((kernel - 1) * dilation + 1)) // stride + 1


class NumpyQNetwork:
    """A Q-network described and weighted by q_network.npz; `load` validates the file."""

    def __init__(self, architecture: Dict[str, Any], weights: Dict[str, np.ndarray],
                 source: str = NPZ_NAME):
        self.source = source
        self.architecture = architecture
        self.weights = weights
        try:
            obs = architecture['observation']
            self.observation_shape: Tuple[int, ...] = tuple(obs['shape'])
            self.observation_dtype = np.dtype(obs['dtype'])
            self.num_actions = int(architecture['num_actions'])
            self.layers: List[Dict[str, Any]] = [dict(la) for la in architecture['layers']]
            self.export_files: Dict[str, str] = dict(architecture.get('export_files', {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f'{source}: corrupt numpy policy file ({ARCHITECTURE} lacks or '
                            f'misstates {exc})') from None
        _check_network(self)

    @classmethod
    def load(cls, path: Union[str, Path]) -> 'NumpyQNetwork':
        path = Path(path)
        if not path.is_file():
            raise UserError(f'{path}: numpy policy file not found')
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise UserError(f'{path}: corrupt numpy policy file, cannot read it '
                            f'({type(exc).__name__}: {str(exc)[:120]})') from None
        try:
            raw = arrays.pop(ARCHITECTURE)
            if raw.shape != () or raw.dtype.kind != 'U':
                raise ValueError('not a JSON string')
            architecture = json.loads(str(raw))
        except KeyError:
            raise UserError(f'{path}: corrupt numpy policy file (no {ARCHITECTURE!r} '
                            'entry)') from None
        except ValueError as exc:
            raise UserError(f'{path}: corrupt numpy policy file ({ARCHITECTURE}: {exc})'
                            ) from None
        return cls(architecture, arrays, str(path))

    def q_values(self, observation: np.ndarray) -> np.ndarray:
        """Q-values (num_actions,) for one observation, or (batch, num_actions)."""
        x = np.asarray(observation)
        single = x.shape == self.observation_shape
        if single:
            x = x[None]
        elif x.shape[1:] != self.observation_shape:
            raise ValueError(f'observation of shape {x.shape}: the network takes '
                             f'{self.observation_shape} (or a batch of them)')
        for i, layer in enumerate(self.layers):
            kind = layer['kind']
            if kind == 'scale':
                x = x.astype(np.float32) / np.float32(layer['divisor'])
                if layer.get('offset', 0.0):
                    x += np.float32(layer['offset'])
                continue
            if x.dtype != np.float32:
                x = x.astype(np.float32)
            if kind == 'flatten':
                x = x.reshape(len(x), -1)
                continue
            kernel, bias = (self.weights.get(n) for n in weight_names(i))
            if kind == 'conv2d':
                x = conv2d(x, kernel, bias, layer['strides'], layer['padding'],
                           layer['dilation'])
            else:
                x = x @ kernel
                if bias is not None:
                    x += bias
            x = _activate(x, layer['activation'])
        return x[0] if single else x

    def action(self, observation: np.ndarray) -> int:
        """The greedy action index for one observation."""
        return int(np.argmax(self.q_values(observation)))


def load_numpy_network(path: Union[str, Path]) -> NumpyQNetwork:
    return NumpyQNetwork.load(path)


def _check_network(net: NumpyQNetwork) -> None:
    """Every field and weight of the description, and the shapes through the layers."""
    def bad(what: str) -> UserError:
        return UserError(f'{net.source}: corrupt numpy policy file ({what})')

    a = net.architecture
    shape = tuple(net.observation_shape)
    if a.get('format') != FORMAT:
        raise bad(f'format {a.get("format")!r}, this version reads format {FORMAT}')
    if not shape or not all(isinstance(n, int) and n > 0 for n in shape):
        raise bad(f'observation shape {list(shape)}')
    if str(net.observation_dtype) not in DTYPES:
        raise bad(f'observation dtype {net.observation_dtype}')
    for rel, digest in net.export_files.items():
        if (not isinstance(rel, str) or not isinstance(digest, str) or len(digest) != 64
                or rel.startswith('/') or '..' in rel.split('/')):
            raise bad(f'export_files entry {rel!r}: {digest!r}')
    if net.num_actions < 1 or not net.layers:
        raise bad('no actions or no layers')
    for i, layer in enumerate(net.layers):
        kind = layer.get('kind')
        where = f'layer {i} ({kind})'
        if kind not in KINDS:
            raise bad(f'layer {i}: unknown kind {kind!r}, expected one of {", ".join(KINDS)}')
        if kind in ('conv2d', 'dense') and layer.get('activation') not in ACTIVATIONS:
            raise bad(f'{where}: activation {layer.get("activation")!r}')
        knames = weight_names(i)
        if kind in ('scale', 'flatten'):
            if any(n in net.weights for n in knames):
                raise bad(f'{where} has weights')
        else:
            if knames[0] not in net.weights:
                raise bad(f'{where}: no {knames[0]} array')
            for n in knames:
                w = net.weights.get(n)
                if w is not None and (w.dtype != np.float32 or not np.isfinite(w).all()):
                    raise bad(f'{n}: {w.dtype} array with {int((~np.isfinite(w)).sum())} '
                              'non-finite values (expected finite float32)')
        if kind == 'scale':
            if i != 0:
                raise bad(f'{where}: input scaling must come first')
            divisor = layer.get('divisor')
            if not isinstance(divisor, (int, float)) or not np.isfinite(divisor) or not divisor:
                raise bad(f'{where}: divisor {divisor!r}')
            if not isinstance(layer.get('offset', 0.0), (int, float)):
                raise bad(f'{where}: offset {layer.get("offset")!r}')
        elif kind == 'flatten':
            shape = (int(np.prod(shape)),)
        elif kind == 'conv2d':
            kernel, bias = (net.weights.get(n) for n in knames)
            params = [layer.get(k) for k in ('strides', 'dilation')]
            if not all(isinstance(p, list) and len(p) == 2
                       and all(isinstance(v, int) and v > 0 for v in p) for p in params):
                raise bad(f'{where}: strides {params[0]!r}, dilation {params[1]!r}')
            if layer.get('padding') not in PADDINGS:
                raise bad(f'{where}: padding {layer.get("padding")!r}')
            if len(shape) != 3 or kernel.ndim != 4 or kernel.shape[2] != shape[2]:
                raise bad(f'{where}: kernel {kernel.shape} for inputs {shape}')
            if bias is not None and bias.shape != (kernel.shape[3],):
                raise bad(f'{where}: bias {bias.shape} for kernel {kernel.shape}')
            out = tuple(conv_output_size(shape[j], kernel.shape[j], params[0][j],
                                         params[1][j], layer['padding']) for j in (0, 1))
            if min(out) < 1:
                raise bad(f'{where}: kernel {kernel.shape[:2]} larger than its inputs {shape}')
            shape = out + (int(kernel.shape[3]),)
        else:  # dense
            kernel, bias = (net.weights.get(n) for n in knames)
            if len(shape) != 1 or kernel.ndim != 2 or kernel.shape[0] != shape[0]:
                raise bad(f'{where}: kernel {kernel.shape} for inputs {shape}')
            if bias is not None and bias.shape != (kernel.shape[1],):
                raise bad(f'{where}: bias {bias.shape} for kernel {kernel.shape}')
            shape = (int(kernel.shape[1]),)
    if shape != (net.num_actions,):
        raise bad(f'the last layer gives {shape} values for {net.num_actions} actions')


def save_numpy_network(path: Union[str, Path], architecture: Dict[str, Any],
                       weights: Dict[str, np.ndarray]) -> NumpyQNetwork:
    """Check (by building the runtime network) and write q_network.npz."""
    weights = {k: np.ascontiguousarray(v, np.float32) for k, v in weights.items()}
    net = NumpyQNetwork(architecture, weights, str(path))
    with open(path, 'wb') as f:
        np.savez(f, **{ARCHITECTURE: np.array(json.dumps(architecture))}, **weights)
    return net
