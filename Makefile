# Two commands do all set-up on a fresh machine:
#   make train   create .venv with the pinned stack if missing, then train on the embedded simulator
#   make test    create .venv if missing, then run the whole test suite (test/run.sh). Without
#                a sourced ROS 2 it first installs ROS 2 from PyPI's wheels into .venv, once
#                (make ros-wheels: requirements-ros.txt, ros_wheels/), and the node tests run
#                on them; with ROS 2 Humble sourced it builds the package with colcon and runs
#                the launch tests too (docs/tests-and-ci.md)
# With a ROS 2 install sourced (ROS_DISTRO set) the venv also sees the system site-packages:
# ROS's own Python dependencies (lark, netifaces, colcon) live there on Ubuntu. The venv's
# pinned packages still come first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ROS_STAMP := $(VENV)/.ros-wheels-stamp
# A sourced ROS 2 (ROS_DISTRO set) is used as it is: no wheels then.
ROS_WHEELS := $(if $(ROS_DISTRO),,$(ROS_STAMP))
CONFIG ?= config/train.yaml
RUN ?=
ARGS ?=

.PHONY: venv ros-wheels train test lint bench clean-venv

$(STAMP): requirements.txt requirements-test.txt setup.py
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; \
	  sys.exit(0 if (3, 10) <= v <= (3, 11) else \
	  f"rl_f1_driver needs Python 3.10 or 3.11 (TensorFlow 2.15); {sys.executable} is {v[0]}.{v[1]}. Set PYTHON=python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(if $(ROS_DISTRO),--system-site-packages) $(VENV)
	$(PY) -m pip install -r requirements.txt -r requirements-test.txt
	$(PY) -m pip install --no-deps --no-build-isolation --use-pep517 -e .
	touch $(STAMP)

venv: $(STAMP)

# ROS 2 (Kilted) from PyPI's wheels into the venv, and the interface packages they lack
# (tf2_msgs, gazebo_msgs) built into it: ros_wheels/install.sh.
$(ROS_STAMP): $(STAMP) requirements-ros.txt $(shell find ros_wheels -type f)
	bash ros_wheels/install.sh $(VENV)
	touch $(ROS_STAMP)

ros-wheels: $(ROS_STAMP)

train: $(STAMP)
	$(VENV)/bin/rl-f1 train --config $(CONFIG) $(if $(RUN),--out $(RUN)) $(ARGS)

# With ROS 2 sourced, test/run.sh first builds the package with colcon (docs/tests-and-ci.md).
test: $(STAMP) $(ROS_WHEELS)
	PY=$(PY) bash test/run.sh $(ARGS)

lint: $(STAMP)
	$(PY) -m flake8 rl_f1_driver test bench launch setup.py

bench: $(STAMP)
	$(PY) bench/bench_env.py

clean-venv:
	rm -rf $(VENV)
