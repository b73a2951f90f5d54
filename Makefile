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
#
# One stack for Python 3.10, 3.11 and 3.12: constraints.txt pins every version, requirements*.txt
# name what to install. A venv per Python: VENV names it, PYTHON the interpreter that makes it:
#   make test PYTHON=python3.12 VENV=.venv-3.12
# numpy: 1.26.4 by default (ROS 2 Humble's and Jazzy's compiled messages need numpy 1.x);
# NUMPY=2.2.6 makes a venv with numpy 2 instead (its own VENV: a venv keeps the numpy it was
# made with, written into VENV/constraints.txt, which ros_wheels/install.sh installs with too):
#   make test PYTHON=python3.12 VENV=.venv-3.12-np2 NUMPY=2.2.6
PYTHON ?= python3
VENV ?= .venv
NUMPY ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ROS_STAMP := $(VENV)/.ros-wheels-stamp
VENV_CONSTRAINTS := $(VENV)/constraints.txt
# A sourced ROS 2 (ROS_DISTRO set) is used as it is: no wheels then.
ROS_WHEELS := $(if $(ROS_DISTRO),,$(ROS_STAMP))
CONFIG ?= config/train.yaml
RUN ?=
ARGS ?=

# The numpy of this venv: NUMPY, else the one the venv was made with, else constraints.txt's.
DEFAULT_NUMPY := $(shell sed -n 's/^numpy==//p' constraints.txt)
VENV_NUMPY := $(shell sed -n 's/^numpy==//p' $(VENV_CONSTRAINTS) 2>/dev/null)
NUMPY_PIN := $(or $(NUMPY),$(VENV_NUMPY),$(DEFAULT_NUMPY))
ifneq ($(NUMPY),)
ifeq ($(shell echo '$(NUMPY)' | grep -Ex '[0-9]+\.[0-9]+\.[0-9]+'),)
$(error NUMPY=$(NUMPY) is not a numpy version such as 2.2.6)
endif
ifneq ($(VENV_NUMPY),)
ifneq ($(VENV_NUMPY),$(NUMPY))
$(error $(VENV) was made with numpy $(VENV_NUMPY), not $(NUMPY): name another venv (VENV=.venv-np2) or make clean-venv VENV=$(VENV) first)
endif
endif
endif
# PYTHON given for a venv that exists: it must be that venv's Python.
ifneq ($(filter command line environment,$(origin PYTHON)),)
ifneq ($(wildcard $(PY)),)
VENV_PYV := $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
WANT_PYV := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifneq ($(VENV_PYV),$(WANT_PYV))
$(error $(VENV) is Python $(VENV_PYV), PYTHON=$(PYTHON) is $(or $(WANT_PYV),not a Python): name a venv per Python (VENV=.venv-$(or $(WANT_PYV),3.x)) or make clean-venv VENV=$(VENV) first)
endif
endif
endif

# Python 3.10-3.12; 3.13 has no wheels of numpy 1.26.4 and matplotlib 3.8.4 (numpy 1.x will get
# none), so it is refused in one line.
define PYTHON_CHECK
import sys
v = sys.version_info[:2]
name = f'{sys.executable} is Python {v[0]}.{v[1]}'
if v == (3, 13):
    sys.exit(f'rl_f1_driver supports Python 3.10, 3.11 and 3.12, not 3.13 ({name}): numpy 1.26.4 and matplotlib 3.8.4 of the pinned stack have no Python 3.13 wheels. Set PYTHON=python3.12')
if not (3, 10) <= v <= (3, 12):
    sys.exit(f'rl_f1_driver supports Python 3.10, 3.11 and 3.12 (TensorFlow 2.21 stack); {name}. Set PYTHON=python3.12')
endef
export PYTHON_CHECK

.PHONY: venv ros-wheels train test lint bench clean-venv

# The stack, then tf-keras and tf-agents with --no-deps (requirements-nodeps.txt says why), then
# the package itself (editable), all under the venv's copy of constraints.txt.
$(STAMP): constraints.txt requirements.txt requirements-nodeps.txt requirements-test.txt setup.py
	@test -x $(PY) || $(PYTHON) -c "$$PYTHON_CHECK"
	test -x $(PY) || $(PYTHON) -m venv $(if $(ROS_DISTRO),--system-site-packages) $(VENV)
	sed 's/^numpy==.*/numpy==$(NUMPY_PIN)/' constraints.txt > $(VENV_CONSTRAINTS)
	$(PY) -m pip install -c $(VENV_CONSTRAINTS) -r requirements.txt -r requirements-test.txt
	$(PY) -m pip install --no-deps -c $(VENV_CONSTRAINTS) -r requirements-nodeps.txt
	$(PY) -m pip install --no-deps --no-build-isolation --use-pep517 -e .
	touch $(STAMP)

venv: $(STAMP)

# ROS 2 (Kilted) from PyPI's wheels into the venv, and the interface packages they lack
# (tf2_msgs, gazebo_msgs) built into it: ros_wheels/install.sh.
# Under the venv's constraints: the wheels ask for an unpinned numpy; the venv's stays.
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
