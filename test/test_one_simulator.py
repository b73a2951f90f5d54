"""A second simulator on the ROS graph is found from the publishers of our inputs (no ROS)."""
from types import SimpleNamespace

from rl_f1_driver.ros.one_simulator import (CLOCK_TOPIC, node_names, publishers_by_topic,
                                            second_simulator, second_simulator_on)


def _info(name, namespace='/'):
    """What rclpy's get_publishers_info_by_topic returns, as far as we read it."""
    return SimpleNamespace(node_name=name, node_namespace=namespace)


def test_one_publisher_per_topic_is_fine():
    pubs = {'/f1/camera/image_raw': ['/sim_node'], '/f1/odom': ['/sim_node'],
            CLOCK_TOPIC: ['/sim_node']}
    assert second_simulator(pubs, '7') is None
    assert second_simulator({'/f1/odom': []}, '7') is None    # nothing yet is not two


def test_two_simulators_are_named_with_their_topics_and_the_domain():
    pubs = {'/f1/camera/image_raw': ['/f1/f1_camera', '/sim_node'],
            '/f1/odom': ['/f1/f1_drive', '/sim_node'],
            CLOCK_TOPIC: ['/gazebo', '/sim_node']}
    msg = second_simulator(pubs, '42')
    assert msg is not None
    for topic, names in pubs.items():
        assert f'2 publishers on {topic} ({", ".join(names)})' in msg
    assert 'ROS_DOMAIN_ID 42' in msg and 'gzserver' in msg


def test_only_the_crowded_topic_is_reported():
    msg = second_simulator({'/f1/odom': ['/a'], CLOCK_TOPIC: ['/gazebo', '/gazebo']}, '0')
    assert msg.startswith(f'2 publishers on {CLOCK_TOPIC} (/gazebo, /gazebo)')
    assert '/f1/odom' not in msg


def test_the_domain_comes_from_the_environment_by_default(monkeypatch):
    monkeypatch.setenv('ROS_DOMAIN_ID', '13')
    assert 'ROS_DOMAIN_ID 13' in second_simulator({CLOCK_TOPIC: ['/a', '/b']})
    monkeypatch.delenv('ROS_DOMAIN_ID')
    assert 'ROS_DOMAIN_ID 0' in second_simulator({CLOCK_TOPIC: ['/a', '/b']})


def test_node_names_are_fully_qualified_and_sorted():
    infos = [_info('sim_node'), _info('f1_drive', '/f1'), _info('cam', '/f1/')]
    assert node_names(infos) == ['/f1/cam', '/f1/f1_drive', '/sim_node']


def test_publishers_by_topic_asks_for_each_topic():
    graph = {'/f1/odom': [_info('sim_node')],
             CLOCK_TOPIC: [_info('gazebo'), _info('sim_node')]}
    asked = []

    def info(topic):
        asked.append(topic)
        return graph.get(topic, [])

    pubs = publishers_by_topic(info, ['/f1/odom', CLOCK_TOPIC, '/f1/camera/image_raw'])
    assert asked == ['/f1/odom', CLOCK_TOPIC, '/f1/camera/image_raw']
    assert pubs == {'/f1/odom': ['/sim_node'], CLOCK_TOPIC: ['/gazebo', '/sim_node'],
                    '/f1/camera/image_raw': []}
    assert second_simulator(pubs, '0').startswith(f'2 publishers on {CLOCK_TOPIC}')


def test_second_simulator_on_a_node_looks_at_the_topics_and_the_clock():
    graph = {'/f1/odom': [_info('sim_node'), _info('f1_drive', '/f1')],
             CLOCK_TOPIC: [_info('sim_node')]}
    node = SimpleNamespace(get_publishers_info_by_topic=lambda t: graph.get(t, []))
    msg = second_simulator_on(node, ('/f1/camera/image_raw', '/f1/odom'))
    assert msg.startswith('2 publishers on /f1/odom (/f1/f1_drive, /sim_node)')
    graph[CLOCK_TOPIC].append(_info('gazebo'))
    assert f'2 publishers on {CLOCK_TOPIC}' in second_simulator_on(node, ('/f1/odom',))
    graph['/f1/odom'].pop()
    graph[CLOCK_TOPIC].pop()
    assert second_simulator_on(node, ('/f1/camera/image_raw', '/f1/odom')) is None
