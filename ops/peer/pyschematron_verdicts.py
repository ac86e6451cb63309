"""Record pyschematron's verdicts on CDA documents as golden files.

pyschematron evaluates the rules with a full XPath 3.1 engine (elementpath), an
implementation independent of the product's. PDFs are opened with pypdf, also
independent of the product: the CDA is taken as the gateway does when no mode is
given (the XFA `datasets` first, then the embedded file `cda.xml`). Usage:
    pyschematron_verdicts.py <shared dir> <output dir> <document path relative to testdata>...
"""
import json
import pathlib
import sys
import time

from lxml import etree
from pyschematron import validate_document
from pyschematron.direct_mode.xml_validation import validators

# pyschematron decides whether a node matches a rule context by evaluating the context
# query from every ancestor of the node, for every node: the same (rule, ancestor) query
# runs once per descendant, which makes a 60 KB document take more than 15 minutes.
# Remember each (rule, ancestor) result for the document being validated. Only repeated
# work is skipped: every query is still evaluated by pyschematron's own XPath engine
# (elementpath), with the same context and variables, so the verdicts do not change.
_MATCHES = {}


def _node_matches_context(self, xml_node, evaluation_context):
    current = xml_node
    while current is not None:
        parent = current.parent
        key = (id(self), id(parent))
        entry = _MATCHES.get(key)
        if entry is None:
            found = self._context_query.evaluate(evaluation_context.with_context_item(parent))
            ids = {id(n) for n in found} if isinstance(found, list) else ({id(found)} if found else set())
            entry = (parent, found, ids)
            _MATCHES[key] = entry
        if id(xml_node) in entry[2]:
            return True
        current = parent
    return False


validators._RuleValidator._node_matches_context = _node_matches_context

HL7 = "{urn:hl7-org:v3}"
SVRL = "{http://purl.oclc.org/dsdl/svrl}"


def code(text):
    text = " ".join((text or "").split())
    return text.split("|")[0].strip()


def cda_tree(path):
    """The CDA of an XML file, or of a PDF in either injection mode (None if absent)."""
    if path.suffix.lower() != ".pdf":
        return etree.parse(str(path))
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    names = reader.trailer["/Root"].get("/Names")
    names = names.get_object() if names is not None else {}
    xfa = names.get("/XFAResources")
    if xfa is not None:
        pairs = xfa.get_object().get("/Names", [])
        for key, value in zip(pairs[0::2], pairs[1::2]):
            if str(key) == "datasets":
                datasets = etree.fromstring(value.get_object().get_data())
                for doc in datasets.iter(HL7 + "ClinicalDocument"):
                    return etree.ElementTree(doc)
    for content in reader.attachments.get("cda.xml", []):
        return etree.ElementTree(etree.fromstring(content))
    return None


def main():
    shared, out, docs = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
    testdata = shared / "testdata"
    registry = json.loads((testdata / "schemas/registry.json").read_text())
    files = {e["template_id_root"]: e["file"] for e in registry["schematron"]}
    out.mkdir(parents=True, exist_ok=True)
    for rel in docs:
        tree = cda_tree(testdata / rel)
        if tree is None:
            continue
        tid = tree.getroot().find(HL7 + "templateId")
        schematron = files.get(tid.get("root") if tid is not None else None)
        if schematron is None:
            continue
        _MATCHES.clear()
        started = time.time()
        svrl = validate_document(tree, testdata / "schemas/schematron" / schematron).get_svrl()
        seconds = time.time() - started
        failed = sorted({code(fa.findtext(SVRL + "text")) for fa in svrl.iter(SVRL + "failed-assert")})
        reports = sorted({code(sr.findtext(SVRL + "text")) for sr in svrl.iter(SVRL + "successful-report")})
        record = {
            "document": rel,
            "schematron": schematron,
            "engine": "pyschematron 1.2.5",
            "seconds": round(seconds, 1),
            "failed": failed,
            "reports": reports,
        }
        target = out / (rel.replace("/", "__") + ".json")
        target.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        print(f"{rel}: {len(failed)} failed, {len(reports)} reports, {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
