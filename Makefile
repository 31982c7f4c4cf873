# EZShop. The two commands that matter: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTEST_ARGS ?=
BENCH_ARGS ?=
LAUNCH ?= smoke.launch.xml
LAUNCH_ARGS ?=

.PHONY: help setup build test lint shell launch demo bench chaos clean

help:
	@echo "make setup   create .venv, install pinned dependencies, colcon build (idempotent)"
	@echo "make demo   set up if needed, run the simulated store end to end, show the receipts"
	@echo "             (SCENARIO=<name> for another shipped scenario; LANES=mqtt: lanes over MQTT)"
	@echo "make test    set up if needed, then run every test (ruff, unit, node, system)"
	@echo "make bench   the receipt-accuracy benchmark: scenario suite + random scenarios"
	@echo "make chaos   receipts while every store node is killed in turn and bad input comes"
	@echo "make shell   a shell in the built environment (venv + ROS + workspace, LOCALHOST DDS)"
	@echo "make launch LAUNCH=<file>.launch.xml LAUNCH_ARGS='name:=value ...'  (ros2 launch ezshop_bringup <file>)"
	@echo "make clean   remove build/ install/ log/ (keeps .venv)"

setup:
	@bash scripts/setup.sh

build: setup

demo: setup
	@scripts/demo

bench: setup
	@scripts/run python bench/receipts.py $(BENCH_ARGS)

chaos: setup
	@scripts/run python bench/chaos.py $(BENCH_ARGS)

test: setup
	@scripts/run pytest $(PYTEST_ARGS)

lint: setup
	@scripts/run ruff check src tests

shell: setup
	@scripts/run

# `ros2 launch ezshop_bringup $(LAUNCH)` (or a launch file path) in the built environment.
launch: setup
	@scripts/launch $(LAUNCH) $(LAUNCH_ARGS)

clean:
	rm -rf build install log
