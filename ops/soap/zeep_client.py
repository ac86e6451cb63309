"""An independent SOAP client (zeep) against the legacy services of the middleware.

For each ASL it loads the WSDL of every service from `?wsdl`, calls every operation, and
checks one fault path per service. Usage:
    zeep_client.py <base url> <ca.pem> <client.pem> <client.key> <document uniqueId> <asl>...
Exit status 0 when every call behaved as expected.
"""
import base64
import sys

import requests
from zeep import Client, Settings
from zeep.exceptions import Fault
from zeep.transports import Transport

PATIENT = "RSSMRA75C03F839K"
OPERATOR = {"codiceFiscale": "PROVAX00X00X000Y", "ruolo": "AAS"}


def client(base, asl, service, session):
    settings = Settings(strict=True, xml_huge_tree=False)
    return Client(f"{base}/{asl}/{service}?wsdl", transport=Transport(session=session), settings=settings)


def expect_fault(call, code):
    try:
        call()
    except Fault as f:
        assert f.code == code, f"fault {f.code!r}, expected {code!r}: {f.message}"
        return
    raise AssertionError(f"no fault, expected {code}")


def main():
    base, ca, cert, key, unique_id, *asls = sys.argv[1:]
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
            operatore=OPERATOR,
            consenso=[{"codice": "C1", "valore": True}, {"codice": "C2", "valore": True}],
        )
        assert answer.esito == "OK" and answer.consultazioneConsentita is True, answer
        state = consent.statoConsensi(codiceFiscalePaziente=PATIENT)
        assert {c.codice for c in state.consenso} >= {"C1", "C2"}, state
        history = consent.storicoConsensi(codiceFiscalePaziente=PATIENT)
        assert len(history.consenso) >= 2, history
        calls += 3

        documents = client(base, asl, "IDocumentService", session).service
        found = documents.findDocuments(codiceFiscalePaziente=PATIENT)
        assert unique_id in [d.uniqueId for d in found.documento], found
        got = documents.getDocument(uniqueId=unique_id)
        assert got.documento[:4] == b"%PDF", got.mimeType
        calls += 2

        notebook = client(base, asl, "ITaccuinoService", session).service
        added = notebook.setVoce(codiceFiscalePaziente=PATIENT, tipo="nota", testo=f"nota {asl}")
        entry = added.idVoce
        doc = notebook.setDocumento(
            codiceFiscalePaziente=PATIENT, titolo="referto", mimeType="application/pdf", documento=b"%PDF-1.4 x"
        )
        listed = notebook.getVoci(codiceFiscalePaziente=PATIENT)
        assert entry in [v.idVoce for v in listed.voce], listed
        read = notebook.getVoce(codiceFiscalePaziente=PATIENT, idVoce=doc.idVoce)
        assert read.documento == b"%PDF-1.4 x", read
        notebook.cancellaVoce(codiceFiscalePaziente=PATIENT, idVoce=entry)
        calls += 5

        # Revoking consultation closes the documents at once.
        revoked = consent.revocaConsenso(codiceFiscalePaziente=PATIENT, operatore=OPERATOR, codice="C2")
        assert revoked.consultazioneConsentita is False, revoked
        expect_fault(lambda: documents.findDocuments(codiceFiscalePaziente=PATIENT), "env:E000240")
        expect_fault(lambda: notebook.getVoce(codiceFiscalePaziente=PATIENT, idVoce=999999), "env:E000107")
        expect_fault(lambda: consent.statoConsensi(codiceFiscalePaziente="NOTACF"), "env:E000103")
        calls += 4
    print(f"zeep: {calls} calls on {len(asls)} ASLs behaved as expected")


if __name__ == "__main__":
    main()
