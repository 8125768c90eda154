"""The MEV2.4 WSDL and XSD, shipped in the package and loaded without any network access.

``schemas/`` holds the ANS contract (``ROR-v2.4.wsdl``, ``IHE_ProfilCSD-ExtensionROR_fr-v2.4.xsd``,
published on esante.gouv.fr, copied from the PLATINES conformance project, see csd-mev24 §2) and the
four W3C schemas the XSD imports. The WSDL and the XSD import each other by remote URL; both loaders
below (zeep's transport and lxml's resolver) map those URLs to the local files and refuse anything
else, so building a request never opens a socket.

Loading the WSDL with zeep takes tens of milliseconds and builds a large object graph: it happens at
most once per process (:func:`load_client` is cached), and the client is only used to *build*
request envelopes, never to send them or to parse answers (zeep mis-maps the ROR extensions and is
about 60× slower than lxml on large answers, csd-mev24 §15).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Final

from lxml import etree
from zeep import Client, Settings, Transport

WSDL_FILE: Final = "ROR-v2.4.wsdl"
XSD_FILE: Final = "IHE_ProfilCSD-ExtensionROR_fr-v2.4.xsd"

_ANS_DOCUMENTS: Final = "https://esante.gouv.fr/sites/default/files/media_entity/documents/"

REMOTE_SCHEMAS: Final[dict[str, str]] = {
    f"{_ANS_DOCUMENTS}{XSD_FILE}": XSD_FILE,
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "http://www.w3.org/MarkUp/Forms/2002/XForms-Schema.xsd": "XForms-Schema.xsd",
    "http://www.w3.org/MarkUp/SCHEMA/xml-events-attribs-1.xsd": "xml-events-attribs-1.xsd",
    "http://www.w3.org/2001/XMLSchema.xsd": "XMLSchema.xsd",
    # The XSD imports the XML Schema namespace without a location; zeep asks for the namespace URI.
    "http://www.w3.org/2001/XMLSchema": "XMLSchema.xsd",
}
"""Remote locations the contract imports → the shipped file that answers for them."""

_LOCAL_SCHEME: Final = "file:///rorsync-csd/"
"""Pseudo-URL of the shipped files (zeep keeps ``file:`` URLs as they are; nothing is read from disk by it)."""


def schema_file(name: str) -> Traversable:
    return resources.files(__package__).joinpath("schemas", name)


def local_file_for(url: str) -> str | None:
    """The shipped file answering for ``url`` (a mapped remote URL or one of our pseudo-URLs)."""
    if url in REMOTE_SCHEMAS:
        return REMOTE_SCHEMAS[url]
    name = url.removeprefix(_LOCAL_SCHEME)
    if name != url and schema_file(name).is_file():
        return name
    return None


class OfflineSchemaError(LookupError):
    """The contract asked for a document that is not shipped (it would have meant a network fetch)."""


class OfflineTransport(Transport):
    """A zeep transport that serves the shipped schema files and refuses every other URL."""

    def load(self, url: str) -> bytes:
        name = local_file_for(url)
        if name is None:
            raise OfflineSchemaError(f"the CSD contract imports {url!r}, which is not shipped with rorsync")
        return schema_file(name).read_bytes()


@cache
def load_client() -> Any:
    """The zeep client of the v2.4 WSDL, built once per process (see the module docstring)."""
    transport = OfflineTransport()  # type: ignore[no-untyped-call]  # zeep has no annotations
    settings = Settings(strict=False, forbid_dtd=True)
    return Client(f"{_LOCAL_SCHEME}{WSDL_FILE}", transport=transport, settings=settings)  # type: ignore[no-untyped-call]


class _SchemaResolver(etree.Resolver):
    def resolve(self, system_url: str | None, public_id: str | None, context: object) -> Any:
        name = local_file_for(system_url or "")
        if name is None:
            raise OfflineSchemaError(f"the CSD contract imports {system_url!r}, which is not shipped with rorsync")
        return self.resolve_string(schema_file(name).read_bytes(), context, base_url=f"{_LOCAL_SCHEME}{name}")


@cache
def load_xml_schema() -> etree.XMLSchema:
    """An lxml validator for every element of the contract (``ror:`` Notif messages and ``csd:``).

    Compiled from the WSDL's inline schema, which imports the ROR XSD. Meant for tests and the
    simulator: the production client never validates answers (real ones fail on empty ``otherID``).
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.resolvers.add(_SchemaResolver())
    wsdl = etree.fromstring(schema_file(WSDL_FILE).read_bytes(), parser)
    inline = wsdl.find("{http://schemas.xmlsoap.org/wsdl/}types/{http://www.w3.org/2001/XMLSchema}schema")
    if inline is None:
        raise OfflineSchemaError(f"{WSDL_FILE} has no inline xs:schema")
    document = etree.fromstring(etree.tostring(inline), parser, base_url=f"{_LOCAL_SCHEME}{WSDL_FILE}")
    return etree.XMLSchema(document)
