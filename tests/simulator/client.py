"""A minimal ROR client for the simulator tests: token, headers, paging through ``next`` links."""

from __future__ import annotations

from typing import Any

import aiohttp

from rorsync.simulator.server import Simulator

Json = dict[str, Any]


class SimClient:
    def __init__(self, sim: Simulator, session: aiohttp.ClientSession, profile: int) -> None:
        self.sim = sim
        self.session = session
        self.credentials = sim.credentials(profile)
        self.token: str | None = None

    async def fetch_token(self) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.credentials.client_id,
            "client_secret": self.credentials.client_secret,
        }
        async with self.session.post(self.sim.token_url, data=form) as response:
            assert response.status == 200, await response.text()
            self.token = (await response.json())["access_token"]
        return self.token

    async def headers(self) -> dict[str, str]:
        token = self.token or await self.fetch_token()
        return {"Authorization": f"Bearer {token}", **self.credentials.headers}

    async def get(self, url: str, params: Any = None) -> tuple[int, Json]:
        if not url.startswith("http"):
            url = f"{self.sim.fhir_base_url}/{url}"
        async with self.session.get(url, params=params, headers=await self.headers()) as response:
            return response.status, await response.json(content_type=None)

    async def search_all(self, resource_type: str, params: Any = None) -> tuple[list[Json], list[Json]]:
        """Every page of a search: (bundles, entries)."""
        status, bundle = await self.get(resource_type, params)
        assert status == 200, bundle
        bundles = [bundle]
        while (url := next_link(bundle)) is not None:
            status, bundle = await self.get(url)
            assert status == 200, bundle
            bundles.append(bundle)
        return bundles, [entry for page in bundles for entry in page.get("entry", ())]

    async def ids(self, resource_type: str, params: Any = None, mode: str = "match") -> list[str]:
        _, entries = await self.search_all(resource_type, params)
        return [entry["resource"]["id"] for entry in entries if entry["search"]["mode"] == mode]


def next_link(bundle: Json) -> str | None:
    return next((link["url"] for link in bundle.get("link", ()) if link["relation"] == "next"), None)
