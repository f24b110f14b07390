"""Reaching the Temporal server: one clear error naming the address when it cannot be."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from ...config import TemporalSettings
from ...errors import InputError

if TYPE_CHECKING:
    from temporalio.client import Client

CONNECT_SECONDS = 10.0


async def connect(settings: TemporalSettings) -> Client:
    """A client of the server `settings` name, speaking our records (pydantic); InputError
    saying the address when the server does not answer."""
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.service import RPCError

    where = f"the Temporal server at {settings.address} (namespace {settings.namespace})"
    try:
        with anyio.fail_after(CONNECT_SECONDS):
            client = await Client.connect(
                settings.address,
                namespace=settings.namespace,
                data_converter=pydantic_data_converter,
            )
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=settings.namespace)
            )
            return client
    except RPCError as exc:
        raise InputError(f"{where}: {exc.message}") from None
    except TimeoutError:
        raise InputError(f"cannot reach {where}: no answer in {CONNECT_SECONDS:g} s") from None
    except RuntimeError as exc:
        why = "connection refused" if "refused" in str(exc).lower() else str(exc)
        raise InputError(
            f"cannot reach {where}: {why} (is `temporal server start-dev` running?)"
        ) from None
