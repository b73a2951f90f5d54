"""PNG figures people would rather look at than numbers."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..track import Circuit


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')  # files only: works on servers and in CI
    import matplotlib.pyplot as plt
    return plt


def plot_learning_curve(history: Sequence[dict], train_returns: Sequence[tuple],
                        path: Path, title: str = '') -> None:
    """Evaluation lap completion and return, and training episode return, vs env steps."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    if history:
        steps = [h['env_steps'] for h in history]
        ax1.plot(steps, [100.0 * (h['completion'] or 0.0) for h in history], 'o-',
                 color='tab:green', label='greedy evaluation')
        ax2.plot(steps, [h['return'] for h in history], 'o-', color='tab:green',
                 label='evaluation return')
    ax1.set_ylabel('lap completed (%)')
    ax1.set_ylim(-5, 105)
    ax1.grid(alpha=0.3)
    ax1.legend(loc='lower right')
    if train_returns:
        s, r = zip(*train_returns)
        ax2.plot(s, r, color='tab:blue', alpha=0.7, label='training episodes (mean of last 20)')
    ax2.set_xlabel('environment steps')
    ax2.set_ylabel('return')
    ax2.grid(alpha=0.3)
    ax2.legend(loc='lower right')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_trajectory(circuit: Circuit, path_xyv: Optional[Sequence[tuple]], out: Path,
                    title: str = '') -> None:
    """The driven path over the circuit: road, red line, path coloured by speed."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 6))
    p, t = circuit.points, circuit.tangents
    normal = np.stack([-t[:, 1], t[:, 0]], axis=1)
    half = circuit.road_width / 2.0
    for side in (1.0, -1.0):
        edge = np.vstack([p + side * half * normal, p[:1] + side * half * normal[:1]])
        ax.plot(edge[:, 0], edge[:, 1], color='0.55', lw=1)
    closed = np.vstack([p, p[:1]])
    ax.plot(closed[:, 0], closed[:, 1], color='tab:red', lw=1.2, label='red line')
    ax.plot(p[0, 0], p[0, 1], 'k|', ms=18, mew=2)
    if path_xyv:
        xyv = np.asarray(path_xyv, dtype=float)
        sc = ax.scatter(xyv[:, 0], xyv[:, 1], c=xyv[:, 2], s=4, cmap='viridis', zorder=3)
        fig.colorbar(sc, ax=ax, label='speed (m/s)')
        ax.plot(xyv[0, 0], xyv[0, 1], 'go', ms=7, label='start')
        ax.plot(xyv[-1, 0], xyv[-1, 1], 'bs', ms=6, label='end')
    ax.set_aspect('equal')
    ax.set_xlabel('x (m)')
    ax.set_ylabel('y (m)')
    ax.legend(loc='upper right', fontsize=8)
    ax.set_title(title or circuit.name)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
