"""The environment the sandbox's components run with (canary.sandbox.components.environment)."""

from __future__ import annotations

from canary.sandbox import components


def test_the_control_planes_go_processes_collect_less_often() -> None:
    inherited = {"PATH": "/usr/bin", "HOME": "/root"}
    for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"):
        env = components.environment(name, inherited)
        assert env == {**inherited, "GOGC": components.GO_GC_PERCENT}, name
    assert components.GO_GC_PERCENT == "400"


def test_other_components_get_the_inherited_environment_unchanged() -> None:
    inherited = {"PATH": "/usr/bin"}
    for name in ("meshsim", "prometheus"):
        assert components.environment(name, inherited) == inherited, name


def test_a_gogc_the_user_set_is_kept() -> None:
    env = components.environment("kube-apiserver", {"GOGC": "150"})
    assert env["GOGC"] == "150"
