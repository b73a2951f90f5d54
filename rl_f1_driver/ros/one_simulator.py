"""One simulator per ROS graph: find a second source of camera, odometry or /clock. No rclpy.

Two simulators on one ROS domain (a gzserver left over from an earlier launch, a sim_node of
another run) publish the same topics: the car's pose then alternates between two cars, so
every odometry message looks like a teleport (an episode of "0% of a lap, 0 m" several times
a second), /clock runs backwards about once per message (rviz resets itself and clears its
displays), and the commands drive both cars. Nothing in the messages themselves tells this
apart from resets, so the nodes look at the graph: how many nodes publish each topic.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence

CLOCK_TOPIC = '/clock'


def node_names(infos: Iterable[Any]) -> list:
    """Fully qualified node names of rclpy TopicEndpointInfo objects (publishers of a topic),
    sorted, one entry per publisher (a node that publishes twice shows twice)."""
    out = []
    for info in infos:
        ns = (getattr(info, 'node_namespace', '') or '/').rstrip('/')
        out.append(f'{ns}/{info.node_name}')
    return sorted(out)


def publishers_by_topic(publishers_info: Callable[[str], Iterable[Any]],
                        topics: Sequence[str]) -> Dict[str, list]:
    """topic -> publishing node names, from a node's get_publishers_info_by_topic."""
    return {topic: node_names(publishers_info(topic)) for topic in topics}


def second_simulator(publishers: Mapping[str, Sequence[str]],
                     domain_id: Optional[str] = None) -> Optional[str]:
    """None while every topic has at most one publisher; else a one-line explanation naming
    each topic with several publishers and who they are, and what to do about it."""
    crowded = {t: list(names) for t, names in publishers.items() if len(names) > 1}
    if not crowded:
        return None
    if domain_id is None:
        domain_id = os.environ.get('ROS_DOMAIN_ID', '0') or '0'
    parts = [f'{len(names)} publishers on {topic} ({", ".join(names)})'
             for topic, names in sorted(crowded.items())]
    return ('; '.join(parts) + f': two simulators are running on ROS_DOMAIN_ID {domain_id} '
            '(a gzserver or sim_node left over from another launch? `pgrep -af '
            '"gzserver|sim_node"` lists them). Stop the other one, or give each run its own '
            'ROS_DOMAIN_ID')


def second_simulator_on(node: Any, topics: Sequence[str]) -> Optional[str]:
    """second_simulator() for the publishers of `topics` and /clock on the graph `node` sees
    (any object with rclpy's get_publishers_info_by_topic)."""
    return second_simulator(publishers_by_topic(node.get_publishers_info_by_topic,
                                                (*topics, CLOCK_TOPIC)))
