"""The distributed deployment's tests run only against a running `make run-distributed`.

``make test-distributed`` starts it and sets ``DISTRIBUTED_URL`` (nginx's public URL); plain
``pytest`` skips the end-to-end tests here, since the deployment takes minutes and GBs to start.
"""

from __future__ import annotations

import os

import pytest

from launcher.distributed import Layout


@pytest.fixture(scope="session")
def dist_url() -> str:
    url = os.environ.get("DISTRIBUTED_URL", "").rstrip("/")
    if not url:
        pytest.skip("the distributed deployment is not running (make test-distributed sets DISTRIBUTED_URL)")
    return url


@pytest.fixture(scope="session")
def layout(dist_url: str) -> Layout:
    return Layout()
