"""The mesh simulator reads the Ingresses of nginx and of Skipper alike in what they share: the
user's Ingress alone sends everything to its Service, and an Ingress of the other class is not
followed. (What differs is in test_meshsim_nginx.py and test_meshsim_skipper.py.)"""

from __future__ import annotations

import pytest

from tests.unit.meshsim_ingress import INGRESS_PROVIDERS, IngressProvider, main_ingress, rates_of

NS = "test"


@pytest.mark.parametrize("provider", INGRESS_PROVIDERS, ids=lambda p: p.name)
def test_the_users_ingress_alone_sends_everything_to_its_service(
    provider: IngressProvider,
) -> None:
    splits = provider.splits_of([main_ingress(provider.example, NS)])
    assert rates_of(splits, NS) == {"podinfo-primary": 40.0}


@pytest.mark.parametrize("provider", INGRESS_PROVIDERS, ids=lambda p: p.name)
def test_an_ingress_of_the_other_class_is_not_followed(provider: IngressProvider) -> None:
    [other] = [p.ingress_class for p in INGRESS_PROVIDERS if p is not provider]
    ingress = main_ingress(provider.example, NS)
    ingress["spec"]["ingressClassName"] = other
    assert provider.splits_of([ingress]) == []
