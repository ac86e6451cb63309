"""An independent SOAP client (zeep) against the legacy services of the middleware.

For each ASL it loads the WSDL of every service from `?wsdl`, calls every operation, and
checks the fault paths. Every call carries what a real caller adds: the SAML identity
assertion (signed beforehand, read from <headers dir>/<name>.xml) and the operator's
WS-Security smart-card signature over a fresh Timestamp and the Body, made for each message
by zeep's own signer (`zeep.wsse.BinarySignature`, python-xmlsec) with the card named in
<headers dir>/<name>.card (key file, certificate file). Usage:
    zeep_client.py <base url> <ca.pem> <client.pem> <client.key> <document uniqueId>
                   <headers dir> <operator CF> <signed PDF> <asl>...
Exit status 0 when every call behaved as expected.
"""
import datetime
import os
import sys

import requests
from lxml import etree
from zeep import Client, Plugin, Settings
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsse.signature import BinarySignature

PATIENT = "RSSMRA75C03F839K"
HEADERS = "."
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"


class SignedHeader(Plugin):
    """Adds the signed assertion and a `wsse:Security` with a new Timestamp to the envelope
    zeep has serialised (before zeep's WS-Security signer runs). The assertion cannot go
    through `_soapheaders`: zeep then drops namespace declarations it thinks unused, among
    them `xs`, which the assertion's signature covers (xsi:type="xs:string")."""

    blocks = []

    def egress(self, envelope, http_headers, operation, binding_options):
        soap_header = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Header")
        if soap_header is None:
            soap_header = etree.Element("{http://schemas.xmlsoap.org/soap/envelope/}Header")
            envelope.insert(0, soap_header)
        soap_header.extend(etree.fromstring(etree.tostring(b)) for b in self.blocks)
        now = datetime.datetime.now(datetime.timezone.utc)
        stamp = lambda t: t.isoformat(timespec="microseconds").replace("+00:00", "Z")
        security = etree.SubElement(soap_header, f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
        timestamp = etree.SubElement(security, f"{{{WSU}}}Timestamp")
        timestamp.set(f"{{{WSU}}}Id", "TS-1")
        etree.SubElement(timestamp, f"{{{WSU}}}Created").text = stamp(now)
        etree.SubElement(timestamp, f"{{{WSU}}}Expires").text = stamp(now + datetime.timedelta(minutes=5))
        return envelope, http_headers


class OperatorCard:
    """zeep's BinarySignature with the smart card of the current call; answers are not
    signed, so nothing is verified on the way back."""

    card = None

    def apply(self, envelope, headers):
        return BinarySignature(*self.card).apply(envelope, headers)

    def verify(self, envelope):
        return envelope


SIGNED = SignedHeader()
CARD = OperatorCard()


def header(name):
    """Selects the assertion and the smart card `name` for the call it is an argument of;
    returns the (empty) list of headers zeep itself adds."""
    with open(os.path.join(HEADERS, name + ".xml"), encoding="utf-8") as f:
        SIGNED.blocks = list(etree.fromstring("<blocks>" + f.read() + "</blocks>"))
    with open(os.path.join(HEADERS, name + ".card"), encoding="utf-8") as f:
        CARD.card = f.read().split()
    return []


def metadati(unique_id, *events):
    return {
        "identificativoDoc": unique_id,
        "tipologiaStruttura": "Ospedale",
        "tipoDocumentoLivAlto": "REF",
        "assettoOrganizzativo": "AD_PSC001",
        "tipoAttivitaClinica": "CON",
        "attiCliniciRegoleAccesso": list(events),
        "administrativeRequest": ["SSN"],
    }


def client(base, asl, service, session):
    settings = Settings(strict=True, xml_huge_tree=False)
    return Client(
        f"{base}/{asl}/{service}?wsdl",
        transport=Transport(session=session),
        settings=settings,
        plugins=[SIGNED],
        wsse=CARD,
    )


def expect_fault(call, code):
    try:
        call()
    except Fault as f:
        assert f.code == code, f"fault {f.code!r}, expected {code!r}: {f.message}"
        return
    raise AssertionError(f"no fault, expected {code}")


def main():
    global HEADERS
    base, ca, cert, key, unique_id, HEADERS, operator_cf, pdf_path, *asls = sys.argv[1:]
    operator = {"codiceFiscale": operator_cf, "ruolo": "AAS"}
    with open(pdf_path, "rb") as f:
        pdf = f.read()
    session = requests.Session()
    # REQUESTS_CA_BUNDLE in the environment would override the CA given here.
    session.trust_env = False
    session.verify = ca
    session.cert = (cert, key)
    calls = 0
    for asl in asls:
        consent = client(base, asl, "IGestoreConsensoService", session).service
        answer = consent.registraConsensi(
            codiceFiscalePaziente=PATIENT,
            operatore=operator,
            consenso=[{"codice": "C1", "valore": True}, {"codice": "C2", "valore": True}],
            _soapheaders=header("consent"),
        )
        assert answer.esito == "OK" and answer.consultazioneConsentita is True, answer
        state = consent.statoConsensi(codiceFiscalePaziente=PATIENT, _soapheaders=header("consent"))
        assert {c.codice for c in state.consenso} >= {"C1", "C2"}, state
        history = consent.storicoConsensi(codiceFiscalePaziente=PATIENT, _soapheaders=header("consent"))
        assert len(history.consenso) >= 2, history
        calls += 3

        documents = client(base, asl, "IDocumentService", session).service
        found = documents.findDocuments(codiceFiscalePaziente=PATIENT, _soapheaders=header("treatment"))
        assert unique_id in [d.uniqueId for d in found.documento], found
        got = documents.getDocument(uniqueId=unique_id, _soapheaders=header("treatment"))
        assert got.documento[:4] == b"%PDF", got.mimeType
        calls += 2

        notebook = client(base, asl, "ITaccuinoService", session).service
        added = notebook.setVoce(
            codiceFiscalePaziente=PATIENT, tipo="nota", testo=f"nota {asl}", _soapheaders=header("personal")
        )
        entry = added.idVoce
        doc = notebook.setDocumento(
            codiceFiscalePaziente=PATIENT,
            titolo="referto",
            mimeType="application/pdf",
            documento=b"%PDF-1.4 x",
            _soapheaders=header("personal"),
        )
        listed = notebook.getVoci(codiceFiscalePaziente=PATIENT, _soapheaders=header("personal"))
        assert entry in [v.idVoce for v in listed.voce], listed
        read = notebook.getVoce(codiceFiscalePaziente=PATIENT, idVoce=doc.idVoce, _soapheaders=header("personal"))
        assert read.documento == b"%PDF-1.4 x", read
        notebook.cancellaVoce(codiceFiscalePaziente=PATIENT, idVoce=entry, _soapheaders=header("personal"))
        calls += 5

        # Revoking consultation closes the documents at once.
        revoked = consent.revocaConsenso(
            codiceFiscalePaziente=PATIENT, operatore=operator, codice="C2", _soapheaders=header("consent")
        )
        assert revoked.consultazioneConsentita is False, revoked
        expect_fault(
            lambda: documents.findDocuments(codiceFiscalePaziente=PATIENT, _soapheaders=header("treatment")),
            "env:E000240",
        )
        expect_fault(
            lambda: notebook.getVoce(codiceFiscalePaziente=PATIENT, idVoce=999999, _soapheaders=header("personal")),
            "env:E000107",
        )
        expect_fault(
            lambda: consent.statoConsensi(codiceFiscalePaziente="NOTACF", _soapheaders=header("consent")),
            "env:E000103",
        )
        calls += 4

        # Publication: the signed PDF stored, published, replaced, obscured, deleted.
        first = f"2.16.840.1.113883.2.9.2.160.4.4^ZEEP-{asl}-1"
        second = f"2.16.840.1.113883.2.9.2.160.4.4^ZEEP-{asl}-2"
        document = {"document": pdf, "documentName": "Referto", "status": "Approved"}
        added = documents.addDocument(document=document, metadati=metadati(first), _soapheaders=header("publish"))
        assert added.stato == "PUBBLICATO" and added.uniqueId == first, added
        replaced = documents.replaceDocument(
            identificativoDocDaSostituire=first,
            document=document,
            metadati=metadati(second),
            _soapheaders=header("update"),
        )
        assert replaced.stato == "PUBBLICATO", replaced
        updated = documents.updateMetadata(
            uniqueId=second, metadati=metadati(second, "P99"), _soapheaders=header("update")
        )
        assert updated.stato == "ESEGUITO", updated
        deleted = documents.deleteDocument(uniqueId=second, _soapheaders=header("update"))
        assert deleted.stato == "ESEGUITO", deleted
        calls += 4

        # Security and publication faults.
        expect_fault(
            lambda: consent.statoConsensi(codiceFiscalePaziente=PATIENT, _soapheaders=header("wrong-card")),
            "env:E000231",
        )
        expect_fault(
            lambda: consent.statoConsensi(codiceFiscalePaziente=PATIENT, _soapheaders=header("expired")),
            "env:E000230",
        )
        expect_fault(
            lambda: documents.addDocument(
                document={"document": b"<html/>"}, metadati=metadati(first), _soapheaders=header("publish")
            ),
            "env:E000252",
        )
        calls += 3
    print(f"zeep: {calls} calls on {len(asls)} ASLs behaved as expected")


if __name__ == "__main__":
    main()
