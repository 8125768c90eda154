"""The CSD MEV2.4 protocol layer: pure pieces the CSD client, the sync loop and the simulator build on.

* ``wsdl`` — the shipped WSDL/XSD, loaded offline once per process (zeep client, lxml validator).
* ``messages`` — SOAP 1.2 requests for TR-Notif and both TR-Lecture transactions, as bytes + headers;
  ``vihf`` — the optional unsigned SAML header.
* ``xmlsafe`` — the only place XML is parsed: DOCTYPEs refused, no entities, no network, size caps.
* ``responses`` — SOAP Fault / in-band ``error`` → ``CsdServiceError``; the TR-Notif answer.
* ``parse`` — TR-Lecture answers and extraction parts → ``rorsync.model.Record`` (streaming), through
  ``organizations`` / ``facilities`` / ``providers`` (element → draft) and ``resolver`` (drafts →
  records, entityID references, the key convention of ``identifiers``).
* ``extraction`` — TR-Extraction / weekly public ZIP: SHA-256 sidecars checked before any parsing.

Nothing here opens a socket: sending requests and fetching ZIPs belong to the client.
"""
