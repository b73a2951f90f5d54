"""DDS on loopback only: the environment a ROS process gets (rl_f1_driver.dds, no ROS)."""
import pytest

from rl_f1_driver.dds import (CONFLICTING, confine_process, loopback_env, loopback_environ,
                              profile_paths)


def test_both_middlewares_get_their_loopback_file():
    env = loopback_env(7, environ={})
    paths = profile_paths()
    assert env['FASTDDS_DEFAULT_PROFILES_FILE'] == str(paths['fastdds'])
    assert env['CYCLONEDDS_URI'] == paths['cyclonedds'].as_uri()
    assert env['ROS_DOMAIN_ID'] == '7'
    assert all(p.is_file() for p in paths.values())
    assert '127.0.0.1' in paths['fastdds'].read_text()


@pytest.mark.parametrize('distro, old_name', [('humble', True), ('jazzy', True),
                                              ('kilted', False), ('', False)])
def test_fast_dds_2_also_gets_the_old_variable_name(distro, old_name):
    env = loopback_env(environ={'ROS_DISTRO': distro})
    assert ('FASTRTPS_DEFAULT_PROFILES_FILE' in env) == old_name


def test_a_domain_outside_0_to_232_is_refused():
    with pytest.raises(ValueError, match='ROS_DOMAIN_ID 233: expected 0 to 232'):
        loopback_env(233, environ={})


def test_variables_that_would_add_transports_are_left_out():
    outer = {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'ROS_LOCALHOST_ONLY': '1',
             'ROS_STATIC_PEERS': 'a', 'PATH': '/bin', 'ROS_DOMAIN_ID': '3'}
    env = loopback_environ(9, outer)
    assert not set(CONFLICTING) & set(env)
    assert env['PATH'] == '/bin' and env['ROS_DOMAIN_ID'] == '9'
    confine_process(11, outer)
    assert not set(CONFLICTING) & set(outer)
    assert outer['ROS_DOMAIN_ID'] == '11' and 'FASTDDS_DEFAULT_PROFILES_FILE' in outer


def test_the_socket_check_sees_a_socket_bound_beyond_loopback():
    import os
    import socket

    from ros_support import loopback_violations
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as wide, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as local, \
            socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as local6:
        wide.bind(('0.0.0.0', 0))
        local.bind(('127.0.0.1', 0))
        local6.bind(('::1', 0))
        found = loopback_violations(os.getpid())
        assert f'udp 0.0.0.0:{wide.getsockname()[1]}' in found
        assert not any(f':{s.getsockname()[1]}' in f for s in (local, local6) for f in found)


def test_the_socket_check_takes_ipv4_mapped_loopback_for_loopback():
    """gRPC (Ray) listens on IPv6 sockets bound to ::ffff:127.0.0.1: loopback; :: is not."""
    import os
    import socket

    from ros_support import loopback_violations
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as mapped, \
            socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as wide:
        mapped.bind(('::ffff:127.0.0.1', 0))
        wide.bind(('::', 0))
        mapped.listen()
        wide.listen()
        found = loopback_violations(os.getpid())
        assert f'tcp6 :::{wide.getsockname()[1]}' in found, found
        assert not any(f':{mapped.getsockname()[1]}' in f for f in found), found
