"""Record pyschematron's verdicts on CDA documents as golden files.

pyschematron evaluates the rules with a full XPath 3.1 engine (elementpath), an
implementation independent of the product's. Usage:
    pyschematron_verdicts.py <shared dir> <output dir> <document path relative to testdata>...
"""
import json
import pathlib
import sys
import time

from lxml import etree
from pyschematron import validate_document

HL7 = "{urn:hl7-org:v3}"
SVRL = "{http://purl.oclc.org/dsdl/svrl}"


def code(text):
    text = " ".join((text or "").split())
    return text.split("|")[0].strip()


def main():
    shared, out, docs = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
    testdata = shared / "testdata"
    registry = json.loads((testdata / "schemas/registry.json").read_text())
    files = {e["template_id_root"]: e["file"] for e in registry["schematron"]}
    out.mkdir(parents=True, exist_ok=True)
    for rel in docs:
        tree = etree.parse(str(testdata / rel))
        tid = tree.getroot().find(HL7 + "templateId")
        schematron = files.get(tid.get("root") if tid is not None else None)
        if schematron is None:
            continue
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
